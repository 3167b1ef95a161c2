//! Realtime events: `GET /api/v1/<resource>/events`, a Server-Sent Events stream of `created`,
//! `updated` and `deleted` events for rows the subscriber may read.
//!
//! The pipeline, from write to subscriber:
//! 1. **Outbox.** Database triggers on every exposed table (`plinth_sql::events`) write each
//!    changed row, as JSON, into `_plinth_events` in the writing transaction: an event exists
//!    exactly when its write committed, cascaded deletes included, whichever node wrote it.
//! 2. **Sequence.** PostgreSQL ids are handed out before commit, so they do not give commit
//!    order. A node woken by `NOTIFY plinth_outbox` numbers the committed, unnumbered events
//!    under an advisory lock (`seq` = the highest so far + 1, 2, …, so there are no gaps) and sends
//!    `NOTIFY plinth_events`. On SQLite (one writer, commit order = id order) `seq` is the id.
//! 3. **Fan-out.** Every node reads `seq > last` and broadcasts to its subscribers through a
//!    bounded `tokio::sync::broadcast` channel: sending never waits, so a slow subscriber cannot
//!    stall the others; one that falls behind reads what it missed from the outbox instead.
//! 4. **Policy.** Each subscriber's copy is its read policy and field rules, compiled to SQL and
//!    evaluated against the event's row snapshot (`plinth_sql::query::select_snapshot`): one
//!    indexed query per event per subscriber, and deleted rows are judged as they were.
//!
//! `Last-Event-ID` resumes after that `seq` (from the outbox, then live, with no gap or
//! duplicate). Events older than `events_retention` are purged; a client resuming from before
//! the oldest kept event gets an `event: resync` telling it to reload instead.

use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue, Statement};
use crate::state::{AppState, CallerInfo};
use crate::store::{Executor, Store};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use plinth_model::ModelId;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, Notify};

/// NOTIFY channels: an outbox row was written; events were numbered.
pub const OUTBOX_CHANNEL: &str = "plinth_outbox";
pub const SEQUENCED_CHANNEL: &str = "plinth_events";

/// Events read from the outbox per query.
const BATCH: i64 = 1000;
/// Events queued for one subscriber's connection.
const SUBSCRIBER_QUEUE: usize = 64;
/// The advisory lock that serializes numbering across nodes (an arbitrary constant).
const SEQUENCER_LOCK: i64 = 7_240_563_171;

/// One committed change.
#[derive(Debug)]
pub struct Event {
    pub seq: i64,
    pub model: ModelId,
    pub op: Op,
    /// The row as the database holds it, keyed by column name (the outbox's `row_data`).
    pub row: String,
    /// The row as each subscribed caller (by [`CallerInfo::key`]) may see it, rendered once by
    /// the dispatcher for everyone subscribed when the event arrived; `None` = may not read it.
    /// A caller missing here (it subscribed later, or is catching up) is checked on its own.
    pub views: HashMap<String, Option<Arc<[u8]>>>,
}

/// The callers subscribed to one model on a node: caller key → (caller, open streams).
type Audience = HashMap<String, (CallerInfo, usize)>;

/// Callers batched into one policy query per event.
const CALLERS_PER_QUERY: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Created,
    Updated,
    Deleted,
}

impl Op {
    fn parse(text: &str) -> Option<Op> {
        match text {
            "created" => Some(Op::Created),
            "updated" => Some(Op::Updated),
            "deleted" => Some(Op::Deleted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Created => "created",
            Op::Updated => "updated",
            Op::Deleted => "deleted",
        }
    }
}

/// A node's event hub: what it has delivered and who listens.
pub struct Events {
    hub: broadcast::Sender<Arc<Event>>,
    /// Wakes the dispatcher: an outbox write, numbered events, or a reconnect.
    pub wake: Arc<Notify>,
    /// Wakes the sequencer (PostgreSQL).
    pub sequence: Arc<Notify>,
    /// The highest `seq` broadcast by this node.
    delivered: AtomicI64,
    subscribers: AtomicUsize,
    /// Set when the server shuts down: streams end, so graceful shutdown is not held open by
    /// connections that never finish by themselves.
    closing: tokio::sync::watch::Sender<bool>,
    /// Plinth model name → model, for outbox rows.
    models: HashMap<String, ModelId>,
    /// Who is subscribed to each model on this node: caller key → (caller, streams).
    audience: std::sync::Mutex<HashMap<ModelId, Audience>>,
}

impl Events {
    pub fn new(schema: &plinth_model::Schema, buffer: usize) -> Events {
        Events {
            hub: broadcast::channel(buffer.max(1)).0,
            wake: Arc::new(Notify::new()),
            sequence: Arc::new(Notify::new()),
            delivered: AtomicI64::new(-1),
            subscribers: AtomicUsize::new(0),
            closing: tokio::sync::watch::channel(false).0,
            models: schema
                .models
                .iter()
                .map(|model| (model.name.clone(), model.id))
                .collect(),
            audience: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn join(&self, model: ModelId, caller: &CallerInfo) {
        if let Ok(mut audience) = self.audience.lock() {
            let entry = audience
                .entry(model)
                .or_default()
                .entry(caller.key().to_string())
                .or_insert_with(|| (caller.clone(), 0));
            entry.1 += 1;
        }
    }

    fn leave(&self, model: ModelId, caller_key: &str) {
        if let Ok(mut audience) = self.audience.lock() {
            if let Some(callers) = audience.get_mut(&model) {
                if let Some(entry) = callers.get_mut(caller_key) {
                    entry.1 = entry.1.saturating_sub(1);
                    if entry.1 == 0 {
                        callers.remove(caller_key);
                    }
                }
            }
        }
    }

    /// The distinct callers subscribed to `model` now.
    fn callers_of(&self, model: ModelId) -> Vec<(String, CallerInfo)> {
        self.audience
            .lock()
            .ok()
            .and_then(|audience| {
                audience.get(&model).map(|callers| {
                    callers
                        .iter()
                        .map(|(key, (caller, _))| (key.clone(), caller.clone()))
                        .collect()
                })
            })
            .unwrap_or_default()
    }

    /// Ends every stream (graceful shutdown).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers.load(Ordering::Relaxed)
    }
}

/// The models whose tables get capture triggers: every exposed model and the auth model (whose
/// deletions also clear the "user exists" cache on every node).
pub fn captured_models(state_schema: &plinth_model::Schema) -> Vec<ModelId> {
    let api = plinth_api::api(state_schema);
    let mut models: Vec<ModelId> = api
        .resources
        .iter()
        .map(|resource| resource.model)
        .collect();
    if let Some(auth) = state_schema.auth_model {
        models.push(auth);
    }
    models.sort_by_key(|model| model.0);
    models.dedup();
    models
}

/// The outbox table and the capture triggers, idempotently (called by bootstrap, under its lock).
pub fn install(executor: &mut dyn Executor, schema: &plinth_model::Schema) -> Result<(), ApiError> {
    let dialect = executor.dialect();
    executor.batch(&plinth_sql::events::outbox_ddl(dialect))?;
    for statement in plinth_sql::events::capture_triggers(schema, &captured_models(schema), dialect)
    {
        executor.batch(&statement)?;
    }
    Ok(())
}

fn seq_column(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "id",
        Dialect::Postgres => "seq",
    }
}

/// Numbers committed events (PostgreSQL). Returns how many it numbered.
fn sequence(executor: &mut dyn Executor) -> Result<u64, ApiError> {
    executor.query(
        &format!("SELECT pg_advisory_xact_lock({SEQUENCER_LOCK})"),
        &[],
        &[Decode::Text],
    )?;
    let numbered = executor.execute(
        "UPDATE \"_plinth_events\" AS e SET seq = o.n + (SELECT COALESCE(MAX(seq), 0) FROM \"_plinth_events\") \
         FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM \"_plinth_events\" WHERE seq IS NULL ORDER BY id LIMIT 10000) AS o \
         WHERE e.id = o.id",
        &[],
    )?;
    if numbered > 0 {
        executor.query(
            "SELECT pg_notify($1, '')",
            &[SqlValue::Text(SEQUENCED_CHANNEL.to_string())],
            &[Decode::Text],
        )?;
    }
    Ok(numbered)
}

/// Events after `after` (all models, or one), oldest first.
fn read_after(
    executor: &mut dyn Executor,
    after: i64,
    model: Option<&str>,
) -> Result<Vec<(i64, String, String, String)>, ApiError> {
    let dialect = executor.dialect();
    let seq = seq_column(dialect);
    let p = |n| crate::auth::placeholder(dialect, n);
    let (sql, params) = match model {
        Some(model) => (
            format!(
                "SELECT {seq}, model, op, row_data FROM \"_plinth_events\" WHERE {seq} > {} AND model = {} ORDER BY {seq} LIMIT {BATCH}",
                p(1),
                p(2)
            ),
            vec![SqlValue::Int(after), SqlValue::Text(model.to_string())],
        ),
        None => (
            format!(
                "SELECT {seq}, model, op, row_data FROM \"_plinth_events\" WHERE {seq} > {} ORDER BY {seq} LIMIT {BATCH}",
                p(1)
            ),
            vec![SqlValue::Int(after)],
        ),
    };
    let rows = executor.query(
        &sql,
        &params,
        &[Decode::Int, Decode::Text, Decode::Text, Decode::Text],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [SqlValue::Int(seq), SqlValue::Text(model), SqlValue::Text(op), SqlValue::Text(data)] => {
                Some((*seq, model.clone(), op.clone(), data.clone()))
            }
            _ => None,
        })
        .collect())
}

/// `(oldest kept, newest)` positions; `None` when the outbox is empty.
fn bounds(executor: &mut dyn Executor) -> Result<Option<(i64, i64)>, ApiError> {
    let seq = seq_column(executor.dialect());
    let rows = executor.query(
        &format!("SELECT MIN({seq}), MAX({seq}) FROM \"_plinth_events\" WHERE {seq} IS NOT NULL"),
        &[],
        &[Decode::Int, Decode::Int],
    )?;
    Ok(match rows.first().map(Vec::as_slice) {
        Some([SqlValue::Int(low), SqlValue::Int(high)]) => Some((*low, *high)),
        _ => None,
    })
}

/// Deletes events older than the retention, always keeping the newest (positions continue
/// from it).
fn purge(executor: &mut dyn Executor, retention: Duration) -> Result<u64, ApiError> {
    let dialect = executor.dialect();
    let seq = seq_column(dialect);
    let cutoff = crate::auth::unix_now().saturating_sub(retention.as_secs()) as i64;
    Ok(executor.execute(
        &format!(
            "DELETE FROM \"_plinth_events\" WHERE created_at < {} AND {seq} IS NOT NULL AND {seq} < (SELECT MAX({seq}) FROM \"_plinth_events\")",
            crate::auth::placeholder(dialect, 1)
        ),
        &[SqlValue::Int(cutoff)],
    )?)
}

fn to_event(
    events: &Events,
    (seq, model, op, row): (i64, String, String, String),
) -> Option<Event> {
    Some(Event {
        seq,
        model: *events.models.get(&model)?,
        op: Op::parse(&op)?,
        row,
        views: HashMap::new(),
    })
}

/// Renders `event` for every caller subscribed to its model on this node: one query per
/// [`CALLERS_PER_QUERY`] distinct callers, whatever the number of streams. On failure the
/// views stay empty and each stream checks on its own (and reports the failure).
async fn render_views(state: &Arc<AppState>, event: &mut Event) {
    let callers = state.events.callers_of(event.model);
    for chunk in callers.chunks(CALLERS_PER_QUERY) {
        let plain: Vec<crate::sql::Caller> = chunk
            .iter()
            .map(|(_, caller)| caller.caller.clone())
            .collect();
        let Ok((statement, projection)) = plinth_sql::query::select_snapshot_for_callers(
            &state.schema,
            event.model,
            event.row.clone(),
            &plain,
            state.dialect,
        ) else {
            return;
        };
        let decode = crate::store::decoders(&projection);
        let Ok(rows) = state.store.query(statement, decode).await else {
            return;
        };
        let mut views: HashMap<String, Option<Arc<[u8]>>> =
            chunk.iter().map(|(key, _)| (key.clone(), None)).collect();
        for row in rows {
            let Some(SqlValue::Int(index)) = row.first() else {
                continue;
            };
            let Some((key, _)) = usize::try_from(*index)
                .ok()
                .and_then(|index| chunk.get(index))
            else {
                continue;
            };
            let data = crate::rows::render_plain(state, event.model, &row, &projection);
            views.insert(key.clone(), Some(Arc::from(data)));
        }
        event.views.extend(views);
    }
}

/// Starts the node's dispatcher: numbering (PostgreSQL), reading and broadcasting, purging.
pub fn spawn_dispatcher(state: &Arc<AppState>) {
    let weak = Arc::downgrade(state);
    let store = state.store.clone();
    if let Store::Sqlite(sqlite) = &store {
        // One process writes SQLite: a commit wakes the dispatcher directly.
        let commits = sqlite.commits();
        let weak = weak.clone();
        tokio::spawn(async move {
            loop {
                commits.notified().await;
                let Some(state) = weak.upgrade() else { return };
                state.events.wake.notify_one();
            }
        });
    }
    if store.dialect() == Dialect::Postgres {
        tokio::spawn(sequencer(weak.clone()));
    }
    tokio::spawn(dispatcher(weak));
}

async fn sequencer(weak: Weak<AppState>) {
    loop {
        let Some(state) = weak.upgrade() else { return };
        let woken =
            drop_and_wait(state.events.sequence.clone(), state, Duration::from_secs(1)).await;
        let Some(state) = weak.upgrade() else { return };
        // With the bus up every outbox write wakes this; without it, poll every second.
        if !woken && state.cluster.bus_connected() {
            continue;
        }
        match state.store.write(sequence).await {
            Ok(numbered) if numbered > 0 => {
                // This node's own NOTIFY will wake its reader too; waking it now saves a trip.
                state.events.wake.notify_one();
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(detail = %error.detail, "numbering events failed"),
        }
    }
}

/// Waits for `notify` or the timeout without keeping the state alive meanwhile (the timeout
/// bounds how long a task outlives a stopped server).
async fn drop_and_wait(notify: Arc<Notify>, state: Arc<AppState>, timeout: Duration) -> bool {
    drop(state);
    tokio::time::timeout(timeout, notify.notified())
        .await
        .is_ok()
}

async fn dispatcher(weak: Weak<AppState>) {
    let mut since_purge = tokio::time::Instant::now();
    loop {
        let Some(state) = weak.upgrade() else { return };
        if state.events.delivered.load(Ordering::Acquire) < 0 {
            // Start from the newest event: live subscribers want what happens from now on;
            // history is for `Last-Event-ID`.
            match state.store.read(bounds).await {
                Ok(found) => state
                    .events
                    .delivered
                    .store(found.map(|(_, high)| high).unwrap_or(0), Ordering::Release),
                Err(_) => {
                    drop(state);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
        }
        deliver_new(&state).await;
        if since_purge.elapsed() > Duration::from_secs(60) {
            since_purge = tokio::time::Instant::now();
            let retention = state.config.events_retention;
            let _ = state
                .store
                .write(move |executor| {
                    purge(executor, retention)?;
                    crate::sessions::purge(executor)?;
                    Ok(())
                })
                .await;
        }
        drop_and_wait(state.events.wake.clone(), state, Duration::from_secs(1)).await;
    }
}

/// Reads every event after the last delivered one and broadcasts it.
async fn deliver_new(state: &Arc<AppState>) {
    loop {
        let after = state.events.delivered.load(Ordering::Acquire);
        let rows = match state
            .store
            .read(move |executor| read_after(executor, after, None))
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                tracing::debug!(detail = %error.detail, "reading the event outbox failed");
                return;
            }
        };
        let full = rows.len() as i64 >= BATCH;
        for row in rows {
            let seq = row.0;
            if let Some(mut event) = to_event(&state.events, row) {
                forget_deleted_user(state, &event);
                render_views(state, &mut event).await;
                // No receivers is fine: nobody is subscribed on this node.
                let _ = state.events.hub.send(Arc::new(event));
            }
            state.events.delivered.store(seq, Ordering::Release);
        }
        if !full {
            return;
        }
    }
}

/// A deleted user's tokens stop working on every node, not only where the delete happened.
fn forget_deleted_user(state: &AppState, event: &Event) {
    let (Some(auth), true) = (&state.auth, event.op == Op::Deleted) else {
        return;
    };
    if Some(event.model) != state.schema.auth_model {
        return;
    }
    let model = state.schema.model(event.model);
    let Some(&key) = model.primary_key.fields.first() else {
        return;
    };
    let column = &model.fields[key].db_name;
    if let Ok(serde_json::Value::Object(row)) = serde_json::from_str(&event.row) {
        let subject = match row.get(column) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(serde_json::Value::Number(number)) => number.to_string(),
            _ => return,
        };
        auth.known_users.forget(&subject);
    }
}

/// The subscriber's copy of an event's row, or `None` when it may not read it.
async fn visible_row(
    state: &Arc<AppState>,
    event: &Event,
    caller: &CallerInfo,
) -> Result<Option<Vec<u8>>, ApiError> {
    let (statement, projection): (Statement, _) = plinth_sql::query::select_snapshot(
        &state.schema,
        event.model,
        event.row.clone(),
        &caller.caller,
        state.dialect,
    )
    .map_err(crate::sql::query_error)?;
    let decode = crate::store::decoders(&projection);
    let rows = state.store.query(statement, decode).await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|row| crate::rows::render_plain(state, event.model, &row, &projection)))
}

fn sse_event(event: &Event, data: Vec<u8>) -> SseEvent {
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.op.as_str())
        .data(String::from_utf8_lossy(&data))
}

/// `Last-Event-ID`: a position, or a 400 for anything else.
fn last_event_id(request: &Request) -> Result<Option<i64>, ApiError> {
    let Some(value) = request.headers().get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>()
        .ok()
        .filter(|position| *position >= 0)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_last_event_id",
                "`Last-Event-ID` must be the `id` of an event this stream sent",
            )
        })
}

/// Decrements the subscriber count when a subscription ends, however it ends.
struct Subscription {
    state: Arc<AppState>,
    /// Set once the stream joined its model's audience.
    joined: Option<(ModelId, String)>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some((model, key)) = &self.joined {
            self.state.events.leave(*model, key);
        }
        self.state.events.subscribers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `GET /api/v1/<resource>/events`.
pub async fn stream(
    state: Arc<AppState>,
    index: usize,
    request: Request,
    caller: CallerInfo,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let model = plan.model;
    let mut resume = last_event_id(&request)?;
    let limit = state.config.events_max_subscribers;
    if state.events.subscribers.fetch_add(1, Ordering::AcqRel) >= limit {
        state.events.subscribers.fetch_sub(1, Ordering::AcqRel);
        return Err(ApiError::service_unavailable(
            "this node has as many event subscribers as it accepts; retry on another node or later",
        ));
    }
    let mut subscription = Subscription {
        state: Arc::clone(&state),
        joined: None,
    };
    // Joining before subscribing: every event broadcast from here on was rendered for this
    // caller (or is checked on its own if the dispatcher was mid-way).
    state.events.join(model, &caller);
    subscription.joined = Some((model, caller.key().to_string()));
    // Every event the hub sends from here on is after `live_from`; history (with
    // `Last-Event-ID`) is read after subscribing, so nothing falls between the two.
    let receiver = state.events.hub.subscribe();
    // On PostgreSQL this node's hub may lag commits by a few milliseconds (numbering, then
    // NOTIFY, then reading); a write acknowledged before this request must not arrive as
    // "live". Number what has committed and start after the newest event.
    let mut live_from = state.events.delivered.load(Ordering::Acquire);
    if state.dialect == Dialect::Postgres {
        state.store.write(sequence).await?;
    }
    if let Some((_, high)) = state.store.read(bounds).await? {
        live_from = live_from.max(high);
    }
    let mut resync = false;
    if let Some(position) = resume {
        let found = state.store.read(bounds).await?;
        match found {
            // Positions are contiguous: an oldest kept event past `position + 1` means the
            // ones in between were purged.
            Some((low, high)) if position < high && low > position + 1 => {
                resync = true;
                resume = None;
            }
            Some((_, high)) if position > high => resume = None,
            None if position > 0 => resume = None,
            _ => {}
        }
    }
    let (sender, outgoing) = mpsc::channel::<SseEvent>(SUBSCRIBER_QUEUE);
    if resync {
        let _ = sender
            .send(
                SseEvent::default()
                    .event("resync")
                    .data(r#"{"reason":"history_expired"}"#),
            )
            .await;
    }
    tokio::spawn(async move {
        let _subscription = subscription;
        let state = Arc::clone(&_subscription.state);
        forward(state, model, caller, resume, live_from, receiver, sender).await;
    });
    let stream = {
        use futures_util::StreamExt;
        tokio_stream::wrappers::ReceiverStream::new(outgoing).map(Ok::<SseEvent, Infallible>)
    };
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // nginx would otherwise buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// One subscriber: history after `resume` (if any), then live events, each filtered by the
/// subscriber's policies. Ends when the client goes away or the server stops.
async fn forward(
    state: Arc<AppState>,
    model: ModelId,
    caller: CallerInfo,
    resume: Option<i64>,
    live_from: i64,
    mut receiver: broadcast::Receiver<Arc<Event>>,
    sender: mpsc::Sender<SseEvent>,
) {
    let model_name = state.schema.model(model).name.clone();
    let mut sent = resume.unwrap_or(live_from);
    let mut closing = state.events.closing.subscribe();
    if *closing.borrow_and_update() {
        return;
    }
    // The stream lives only as long as the token that opened it: it ends at the token's
    // expiry and as soon as its session is logged out, on whichever node.
    let mut revocations = state.sessions.watch();
    let session_ended = |state: &AppState| {
        caller
            .session
            .as_deref()
            .is_some_and(|session| state.sessions.is_revoked(session))
    };
    let expiry = caller.expires_at.map(|at| {
        let left = at.saturating_sub(crate::auth::unix_now());
        tokio::time::Instant::now() + Duration::from_secs(left)
    });
    let expired = async move {
        match expiry {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    if resume.is_some() {
        match catch_up(&state, model, &model_name, &caller, sent, &sender).await {
            Some(position) => sent = position,
            None => return,
        }
    }
    loop {
        let event = tokio::select! {
            received = receiver.recv() => received,
            _ = sender.closed() => return,
            _ = closing.changed() => return,
            _ = &mut expired => return,
            changed = revocations.changed() => {
                if changed.is_err() || session_ended(&state) {
                    return;
                }
                continue;
            }
        };
        match event {
            Ok(event) => {
                if event.model != model || event.seq <= sent {
                    continue;
                }
                sent = event.seq;
                let view = match event.views.get(caller.key()) {
                    Some(view) => Ok(view.as_ref().map(|data| data.to_vec())),
                    None => visible_row(&state, &event, &caller).await,
                };
                match view {
                    Ok(Some(data)) => {
                        if sender.send(sse_event(&event, data)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(detail = %error.detail, "an event could not be checked against the subscriber's policy; closing the stream");
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "a slow event subscriber catches up from the outbox");
                match catch_up(&state, model, &model_name, &caller, sent, &sender).await {
                    Some(position) => sent = position,
                    None => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Sends this model's events after `after` from the outbox; the last position sent, or `None`
/// when the client went away or the database failed (the client reconnects and resumes).
async fn catch_up(
    state: &Arc<AppState>,
    model: ModelId,
    model_name: &str,
    caller: &CallerInfo,
    mut after: i64,
    sender: &mpsc::Sender<SseEvent>,
) -> Option<i64> {
    loop {
        let name = model_name.to_string();
        let rows = state
            .store
            .read(move |executor| read_after(executor, after, Some(&name)))
            .await
            .ok()?;
        let full = rows.len() as i64 >= BATCH;
        for row in rows {
            let seq = row.0;
            after = seq;
            let Some(event) = to_event(&state.events, row) else {
                continue;
            };
            if event.model != model {
                continue;
            }
            match visible_row(state, &event, caller).await {
                Ok(Some(data)) => sender.send(sse_event(&event, data)).await.ok()?,
                Ok(None) => {}
                Err(_) => return None,
            }
        }
        if !full {
            return Some(after);
        }
    }
}
