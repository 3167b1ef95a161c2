//! The cluster bus: on PostgreSQL every node keeps one connection outside its pool that
//! `LISTEN`s on three channels. NOTIFY is transactional (delivered when the sending transaction
//! commits, never for one that rolls back), which is exactly what each message needs:
//! - `plinth_outbox`: an event was written (the capture trigger sends it) → number events;
//! - `plinth_events`: events were numbered → read and fan them out to local subscribers;
//! - `plinth_bus`: `revoke <session> <until>` → stop accepting that session's access tokens.
//!
//! When the connection drops, the node reconnects with backoff and then resynchronizes what
//! notifications it may have missed: the revoked sessions (reloaded from their table), the
//! user-exists cache (cleared), and events (read from the outbox by position, so none is lost).
//! Nothing here needs Redis; SQLite (one process) needs no bus at all.

use crate::state::AppState;
use crate::store::Store;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_postgres::AsyncMessage;

#[derive(Default)]
pub struct Cluster {
    connected: AtomicBool,
}

impl Cluster {
    /// Whether this node currently hears the other nodes (always false on SQLite).
    pub fn bus_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
}

/// Starts the bus listener when the store is PostgreSQL.
pub fn spawn(state: &Arc<AppState>) {
    if let Store::Postgres(postgres) = &state.store {
        let config = postgres.connection_config();
        tokio::spawn(listen(Arc::downgrade(state), config));
    }
}

async fn listen(weak: Weak<AppState>, config: Arc<tokio_postgres::Config>) {
    let mut backoff = Duration::from_millis(200);
    let mut reported = false;
    loop {
        if weak.strong_count() == 0 {
            return;
        }
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut connection)) => {
                let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut messages = futures_util::stream::poll_fn(move |context| {
                        connection.poll_message(context)
                    });
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(notification)) => {
                                if sender.send(notification).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
                let listening = client
                    .batch_execute(&format!(
                        "LISTEN {}; LISTEN {}; LISTEN {}",
                        crate::events::OUTBOX_CHANNEL,
                        crate::events::SEQUENCED_CHANNEL,
                        crate::sessions::BUS_CHANNEL
                    ))
                    .await;
                if listening.is_ok() && resynchronize(&weak).await {
                    backoff = Duration::from_millis(200);
                    if reported {
                        tracing::info!("cluster bus reconnected");
                        reported = false;
                    }
                    if !serve(&weak, &mut notifications).await {
                        driver.abort();
                        return;
                    }
                }
                driver.abort();
                if let Some(state) = weak.upgrade() {
                    state.cluster.connected.store(false, Ordering::Release);
                }
            }
            Err(error) => {
                if !reported {
                    tracing::warn!(%error, "cluster bus: cannot connect to PostgreSQL; retrying");
                }
            }
        }
        if !reported {
            tracing::warn!(
                "cluster bus disconnected: session revocations and events from other nodes wait until it is back"
            );
            reported = true;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// After (re)connecting: reload what notifications may have been missed. False when the
/// database could not be read (the caller reconnects).
async fn resynchronize(weak: &Weak<AppState>) -> bool {
    let Some(state) = weak.upgrade() else {
        return false;
    };
    match state.store.read(crate::sessions::load).await {
        Ok(sessions) => state.sessions.replace(sessions),
        Err(_) => return false,
    }
    if let Some(auth) = &state.auth {
        auth.known_users.clear();
    }
    state.cluster.connected.store(true, Ordering::Release);
    state.events.sequence.notify_one();
    state.events.wake.notify_one();
    true
}

/// Handles notifications until the connection ends (true) or the server is gone (false).
async fn serve(
    weak: &Weak<AppState>,
    notifications: &mut tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) -> bool {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), notifications.recv()).await;
        let Some(state) = weak.upgrade() else {
            return false;
        };
        let notification = match next {
            Ok(Some(notification)) => notification,
            Ok(None) => return true,
            // Idle: loop to notice a stopped server.
            Err(_) => continue,
        };
        match notification.channel() {
            crate::events::OUTBOX_CHANNEL => state.events.sequence.notify_one(),
            crate::events::SEQUENCED_CHANNEL => state.events.wake.notify_one(),
            crate::sessions::BUS_CHANNEL => {
                if let Some((session, until)) =
                    crate::sessions::parse_revocation(notification.payload())
                {
                    state.sessions.revoke_from_bus(&session, until);
                }
            }
            _ => {}
        }
    }
}
