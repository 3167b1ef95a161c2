//! The yardstick for `plinth serve`'s throughput: a minimal, hand-written axum server that answers
//! examples/todo's `GET /api/v1/tasks/{id}` and the filtered task list the way a careful engineer
//! would write them by hand — HS256 bearer token, the same policy (the caller owns the task or is
//! an `ADMIN`) in one SQL query, a few read-only SQLite connections in WAL mode, serde_json.
//!
//! It reads a database that `plinth serve` created for examples/todo (same tables, same storage:
//! booleans as 0/1, date-times as ISO-8601 text), so both servers answer from identical data.
//! Settings, all from the environment: `PLINTH_JWT_SECRET` (required, the secret Plinth signed
//! the tokens with), `BASELINE_DB` (required, the SQLite file), `BASELINE_LISTEN`
//! (default `127.0.0.1:8081`), `BASELINE_SQLITE_READERS` (default 4, as Plinth's default).

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Plinth's issuer claim; tokens without it are rejected, as Plinth rejects them.
const ISSUER: &str = "plinth";
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 100;

/// Columns of a task, in the model's field order (the order of the JSON object too).
const TASK_COLUMNS: &str =
    r#""id", "title", "notes", "done", "dueAt", "ownerId", "categoryId", "createdAt", "updatedAt""#;
/// The read policy: the caller owns the task, or the caller's current role is `ADMIN`.
/// `?1` is the caller's id. The role is read fresh on every request, never trusted from a token.
const READ_POLICY: &str =
    r#"("ownerId" = ?1 OR (SELECT "role" FROM "User" WHERE "id" = ?1) = 'ADMIN')"#;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    id: String,
    title: String,
    notes: Option<String>,
    done: bool,
    due_at: Option<String>,
    owner_id: String,
    category_id: Option<String>,
    created_at: String,
    updated_at: String,
}

impl Task {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
        Ok(Task {
            id: row.get(0)?,
            title: row.get(1)?,
            notes: row.get(2)?,
            done: row.get(3)?,
            due_at: row.get(4)?,
            owner_id: row.get(5)?,
            category_id: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
        })
    }
}

#[derive(Serialize)]
struct Page {
    data: Vec<Task>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct ListParams {
    done: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Read-only connections handed out one per query. The semaphore makes a request wait
/// asynchronously for a free connection, so no blocking thread ever sits idle holding a lock.
struct ReaderPool {
    permits: Semaphore,
    connections: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    fn open(path: &str, size: usize) -> rusqlite::Result<ReaderPool> {
        // WAL lets these readers run alongside a writer; Plinth created the file in WAL mode,
        // and setting it again here keeps the baseline correct on a file that was not.
        Connection::open(path)?.pragma_update(None, "journal_mode", "WAL")?;
        let mut connections = Vec::with_capacity(size);
        for _ in 0..size {
            let connection = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            connections.push(connection);
        }
        Ok(ReaderPool {
            permits: Semaphore::new(size),
            connections: Mutex::new(connections),
        })
    }

    /// Runs `query` on a free connection on tokio's blocking pool.
    async fn read<T, F>(self: &Arc<Self>, query: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::Internal)?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            // A permit guarantees a connection is in the vector.
            let connection = pool
                .connections
                .lock()
                .map_err(|_| ApiError::Internal)?
                .pop()
                .ok_or(ApiError::Internal)?;
            let result = query(&connection).map_err(|_| ApiError::Internal);
            if let Ok(mut connections) = pool.connections.lock() {
                connections.push(connection);
            }
            result
        })
        .await
        .map_err(|_| ApiError::Internal)?
    }
}

struct AppState {
    decoding_key: DecodingKey,
    validation: Validation,
    readers: Arc<ReaderPool>,
}

enum ApiError {
    Unauthorized,
    NotFound,
    BadRequest,
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Not Found"),
            ApiError::BadRequest => (StatusCode::BAD_REQUEST, "Bad Request"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        };
        let body =
            serde_json::json!({ "type": "about:blank", "title": title, "status": status.as_u16() });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// The signed-in user's id, from a valid `Authorization: Bearer` token.
struct Caller(String);

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &state.decoding_key, &state.validation)
            .map_err(|_| ApiError::Unauthorized)?;
        Ok(Caller(claims.claims.sub))
    }
}

async fn get_task(
    State(state): State<Arc<AppState>>,
    Caller(user_id): Caller,
    Path(task_id): Path<String>,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .readers
        .read(move |connection| {
            let sql =
                format!(r#"SELECT {TASK_COLUMNS} FROM "Task" WHERE "id" = ?2 AND {READ_POLICY}"#);
            connection
                .prepare_cached(&sql)?
                .query_row((&user_id, &task_id), Task::from_row)
                .optional()
        })
        .await?;
    task.map(Json).ok_or(ApiError::NotFound)
}

async fn list_tasks(
    State(state): State<Arc<AppState>>,
    Caller(user_id): Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<Page>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(ApiError::BadRequest);
    }
    // The cursor is the id of the last row of the previous page (keyset pagination by id).
    let after = match params.cursor {
        Some(cursor) => {
            let bytes = URL_SAFE_NO_PAD
                .decode(cursor)
                .map_err(|_| ApiError::BadRequest)?;
            Some(String::from_utf8(bytes).map_err(|_| ApiError::BadRequest)?)
        }
        None => None,
    };
    let done = params.done;
    let page = state
        .readers
        .read(move |connection| {
            let mut sql = format!(r#"SELECT {TASK_COLUMNS} FROM "Task" WHERE {READ_POLICY}"#);
            if done.is_some() {
                sql.push_str(r#" AND "done" = ?2"#);
            }
            if after.is_some() {
                sql.push_str(r#" AND "id" > ?3"#);
            }
            sql.push_str(r#" ORDER BY "id" LIMIT ?4"#);
            let mut statement = connection.prepare_cached(&sql)?;
            // Unused numbered parameters are fine in SQLite; one bind list serves every variant.
            // One row more than asked says whether there is a next page.
            let rows = statement.query_map(
                (&user_id, done, &after, i64::from(limit) + 1),
                Task::from_row,
            )?;
            let mut data = rows.collect::<rusqlite::Result<Vec<Task>>>()?;
            let next_cursor = if data.len() > limit as usize {
                data.truncate(limit as usize);
                data.last()
                    .map(|task| URL_SAFE_NO_PAD.encode(task.id.as_bytes()))
            } else {
                None
            };
            Ok(Page { data, next_cursor })
        })
        .await?;
    Ok(Json(page))
}

fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("{name} must be set"))
}

async fn run() -> Result<(), String> {
    let secret = required_env("PLINTH_JWT_SECRET")?;
    let database = required_env("BASELINE_DB")?;
    let listen = std::env::var("BASELINE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let reader_count = match std::env::var("BASELINE_SQLITE_READERS") {
        Ok(text) => text
            .parse::<usize>()
            .ok()
            .filter(|count| *count > 0)
            .ok_or("BASELINE_SQLITE_READERS must be a positive number")?,
        Err(_) => 4,
    };

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "sub", "iss"]);
    let readers = ReaderPool::open(&database, reader_count)
        .map_err(|error| format!("cannot open {database}: {error}"))?;
    let state = Arc::new(AppState {
        decoding_key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        readers: Arc::new(readers),
    });

    let app = Router::new()
        .route("/api/v1/tasks", get(list_tasks))
        .route("/api/v1/tasks/{id}", get(get_task))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|error| format!("cannot listen on {listen}: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    println!("baseline listening on http://{address} (database {database})");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // Ctrl-C or SIGTERM (what the benchmark script sends) stops accepting and drains.
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate => {}
            }
        })
        .await
        .map_err(|error| format!("server error: {error}"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("plinth-bench-baseline: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
