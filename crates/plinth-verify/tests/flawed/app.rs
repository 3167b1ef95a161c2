//! A small notes API with deliberately planted flaws, one switch each, and its OpenAPI 3.1
//! document describing the correct contract. With every switch off it keeps that contract and
//! its security promises; each switch breaks exactly one of them.

// Helpers return the error answer itself (`Result<_, Response>`): plain for a test server, and
// its size does not matter here.
#![allow(clippy::result_large_err)]

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One switch per planted flaw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flaws {
    /// `GET /notes/{id}` returns anyone's note.
    pub object_read_unchecked: bool,
    /// `DELETE /notes/{id}` without a token deletes.
    pub write_without_auth: bool,
    /// `PATCH /users/{id}` stores `role`.
    pub mass_assignment_role: bool,
    /// The `title` filter is concatenated into SQL.
    pub sql_injection: bool,
    /// A body of the wrong shape is a 500.
    pub server_error_on_malformed_body: bool,
    /// Notes are answered with `title` as a number.
    pub schema_drift: bool,
    /// Tokens with `alg: none` are believed.
    pub alg_none_accepted: bool,
    /// The login never refuses with 429.
    pub no_login_rate_limit: bool,
    /// Broken JSON is answered with a stack trace.
    pub stack_trace_in_errors: bool,
    /// CORS echoes any origin with credentials.
    pub cors_reflects_origin: bool,
    /// `X-Powered-By` and a versioned `Server`.
    pub server_banner: bool,
    /// The document lists `role` in the user update body, as an API whose admins may change
    /// roles does, and `PATCH /users/{id}` stores it for anyone.
    pub role_writable_by_anyone: bool,
    /// Profiles are public, and `GET /users/{id}` shows every user's email too, not only the
    /// caller's own.
    pub email_shown_to_others: bool,
    /// The comments under a note are listed, read and added without checking the note's owner.
    pub nested_unchecked: bool,
    /// `GET /notes?ownerId=…` lists that user's notes, whoever asks.
    pub owner_filter_unchecked: bool,
    /// An `Idempotency-Key` the document forbids is a 500 instead of a 400.
    pub server_error_on_bad_header: bool,
    /// The document marks a token optional on `DELETE /notes/{id}` (security `[{bearer}, {}]`).
    pub delete_security_optional: bool,
}

const SECRET: &[u8] = b"flawed-test-server-secret-0123456789abcdef";
/// Failed logins allowed before 429 (when the rate-limit flaw is off).
const LOGIN_FAILURES_ALLOWED: usize = 30;

struct App {
    flaws: Flaws,
    database: Mutex<rusqlite::Connection>,
    failed_logins: Mutex<usize>,
}

type Shared = Arc<App>;

/// Starts the app on a loopback port; returns its base URL.
pub async fn start(flaws: Flaws) -> String {
    let database = rusqlite::Connection::open_in_memory().expect("an in-memory database opens");
    database
        .execute_batch(
            "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT UNIQUE NOT NULL, password TEXT NOT NULL, \
               name TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'USER');
             CREATE TABLE notes (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT, owner_id TEXT NOT NULL);
             CREATE TABLE comments (id TEXT PRIMARY KEY, note_id TEXT NOT NULL, body TEXT NOT NULL, author_id TEXT NOT NULL);",
        )
        .expect("the tables are created");
    let app = Arc::new(App {
        flaws,
        database: Mutex::new(database),
        failed_logins: Mutex::new(0),
    });
    let router = Router::new()
        .route(
            "/openapi.json",
            get(move || async move { Json(document(flaws)) }),
        )
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/users/{id}", get(get_user).patch(update_user))
        .route("/api/v1/notes", get(list_notes).post(create_note))
        .route(
            "/api/v1/notes/{id}",
            patch(update_note).get(get_note).delete(delete_note),
        )
        .route(
            "/api/v1/notes/{id}/comments",
            get(list_comments).post(create_comment),
        )
        .route("/api/v1/notes/{id}/comments/{comment_id}", get(get_comment))
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such route") })
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&app),
            headers_layer,
        ))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let address: SocketAddr = listener.local_addr().expect("the listener has an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

async fn headers_layer(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let origin = request.headers().get("origin").cloned();
    let mut response = if app.flaws.cors_reflects_origin && request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if app.flaws.server_banner {
        headers.insert("x-powered-by", HeaderValue::from_static("Express"));
        headers.insert("server", HeaderValue::from_static("Express/4.17.1"));
    }
    if let (true, Some(origin)) = (app.flaws.cors_reflects_origin, origin) {
        headers.insert("access-control-allow-origin", origin);
        headers.insert(
            "access-control-allow-credentials",
            HeaderValue::from_static("true"),
        );
    }
    response
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({"title": status.canonical_reason().unwrap_or("Error"), "status": status.as_u16(), "detail": detail});
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// Parses a JSON object body: 400 for broken JSON, 422 for the wrong shape — or the planted
/// flaws (a 500, a stack trace).
fn parse_object(app: &App, body: &Bytes) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid(app, "the body must be a JSON object")),
        Err(error) => {
            if app.flaws.server_error_on_malformed_body {
                return Err(problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
            }
            if app.flaws.stack_trace_in_errors {
                let detail = format!(
                    "SyntaxError: {error}\n    at JSON.parse (<anonymous>)\n    at parseBody (/srv/app/src/body.js:14:23)\n    at handler (/srv/app/src/notes.js:42:17)"
                );
                return Err(problem(StatusCode::BAD_REQUEST, &detail));
            }
            Err(problem(
                StatusCode::BAD_REQUEST,
                "the body is not valid JSON",
            ))
        }
    }
}

/// 422, or the planted 500.
fn invalid(app: &App, detail: &str) -> Response {
    if app.flaws.server_error_on_malformed_body {
        problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    } else {
        problem(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }
}

/// Only `allowed` keys (name, min and max characters, nullable); each a string within bounds.
fn check_fields(
    app: &App,
    object: &Map<String, Value>,
    allowed: &[(&str, usize, usize, bool)],
    required: &[&str],
) -> Result<(), Response> {
    for name in required {
        if !object.contains_key(*name) {
            return Err(invalid(app, &format!("`{name}` is required")));
        }
    }
    for (name, value) in object {
        let Some((_, min, max, nullable)) =
            allowed.iter().find(|(allowed, _, _, _)| allowed == name)
        else {
            return Err(invalid(app, &format!("unknown field `{name}`")));
        };
        let fits = |text: &str| (*min..=*max).contains(&text.chars().count());
        match value {
            Value::Null if *nullable => {}
            Value::String(text) if fits(text) => {}
            _ => {
                let detail = format!("`{name}` must be a string of {min} to {max} characters");
                return Err(invalid(app, &detail));
            }
        }
    }
    Ok(())
}

fn token_for(user_id: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": user_id, "iat": now, "exp": now + 900}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .expect("HS256 signing works")
}

/// The caller: `Ok(None)` without a token, 401 with a bad one.
fn caller(app: &App, headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(value) = headers.get("authorization") else {
        return Ok(None);
    };
    let unauthorized = || problem(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    let token = value
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let subject = if app.flaws.alg_none_accepted
        && algorithm_of(token).is_some_and(|alg| alg.eq_ignore_ascii_case("none"))
    {
        claims_of(token).and_then(|claims| {
            claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    } else {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(SECRET),
            &validation,
        )
        .ok()
        .and_then(|data| {
            data.claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    };
    let subject = subject.ok_or_else(unauthorized)?;
    let exists = app
        .database
        .lock()
        .map(|database| {
            database
                .query_row("SELECT 1 FROM users WHERE id = ?1", [&subject], |_| Ok(()))
                .is_ok()
        })
        .unwrap_or(false);
    if exists {
        Ok(Some(subject))
    } else {
        Err(unauthorized())
    }
}

fn required_caller(app: &App, headers: &HeaderMap) -> Result<String, Response> {
    caller(app, headers)?
        .ok_or_else(|| problem(StatusCode::UNAUTHORIZED, "a bearer token is required"))
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn algorithm_of(token: &str) -> Option<String> {
    decode_part(token.split('.').next()?)?
        .get("alg")?
        .as_str()
        .map(str::to_string)
}

fn claims_of(token: &str) -> Option<Value> {
    decode_part(token.split('.').nth(1)?)
}

fn user_json(database: &rusqlite::Connection, id: &str) -> Option<Value> {
    database
        .query_row(
            "SELECT id, email, name, role FROM users WHERE id = ?1",
            [id],
            |row| {
                Ok(json!({
                    "id": row.get::<_, String>(0)?,
                    "email": row.get::<_, String>(1)?,
                    "name": row.get::<_, String>(2)?,
                    "role": row.get::<_, String>(3)?,
                }))
            },
        )
        .ok()
}

fn token_response(status: StatusCode, user: Value, id: &str) -> Response {
    let body = json!({"access_token": token_for(id), "token_type": "Bearer", "expires_in": 900, "user": user});
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

fn internal(error: impl std::fmt::Display) -> Response {
    let _ = error.to_string();
    problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn register(State(app): State<Shared>, body: Bytes) -> Response {
    let object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    if let Err(response) = check_fields(
        &app,
        &object,
        &[
            ("email", 1, 200, false),
            ("password", 8, 200, false),
            ("name", 1, 100, false),
        ],
        &["email", "password", "name"],
    ) {
        return response;
    }
    let text = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (email, password, name) = (text("email"), text("password"), text("name"));
    if !email.contains('@') {
        return invalid(&app, "`email` must be an email address");
    }
    let id = uuid::Uuid::new_v4().to_string();
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    match database.execute(
        "INSERT INTO users (id, email, password, name) VALUES (?1, ?2, ?3, ?4)",
        [&id, &email, &password, &name],
    ) {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(failure, _))
            if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            return problem(StatusCode::CONFLICT, "that email is taken");
        }
        Err(error) => return internal(error),
    }
    let user = user_json(&database, &id).unwrap_or(Value::Null);
    token_response(StatusCode::CREATED, user, &id)
}

async fn login(State(app): State<Shared>, body: Bytes) -> Response {
    if !app.flaws.no_login_rate_limit {
        let failures = app.failed_logins.lock().map(|count| *count).unwrap_or(0);
        if failures >= LOGIN_FAILURES_ALLOWED {
            let mut response = problem(StatusCode::TOO_MANY_REQUESTS, "too many failed logins");
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            return response;
        }
    }
    let fail = |app: &App, response: Response| {
        if let Ok(mut count) = app.failed_logins.lock() {
            *count += 1;
        }
        response
    };
    let object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return fail(&app, response),
    };
    if let Err(response) = check_fields(
        &app,
        &object,
        &[("email", 1, 200, false), ("password", 1, 200, false)],
        &["email", "password"],
    ) {
        return fail(&app, response);
    }
    let text = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    let found: Option<String> = database
        .query_row(
            "SELECT id FROM users WHERE email = ?1 AND password = ?2",
            [text("email"), text("password")],
            |row| row.get(0),
        )
        .ok();
    match found {
        Some(id) => {
            let user = user_json(&database, &id).unwrap_or(Value::Null);
            token_response(StatusCode::OK, user, &id)
        }
        None => {
            drop(database);
            fail(
                &app,
                problem(StatusCode::UNAUTHORIZED, "wrong email or password"),
            )
        }
    }
}

async fn me(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    match user_json(&database, &caller) {
        Some(user) => Json(user).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such user"),
    }
}

async fn get_user(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    // With the email flaw, profiles are public — and so is everyone's email.
    match user_json(&database, &id).filter(|_| id == caller || app.flaws.email_shown_to_others) {
        Some(user) => Json(user).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such user"),
    }
}

async fn update_user(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let mut object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    // The planted flaw: the handler binds the whole row, `role` included.
    let role = if app.flaws.mass_assignment_role || app.flaws.role_writable_by_anyone {
        object
            .remove("role")
            .and_then(|role| role.as_str().map(str::to_string))
    } else {
        None
    };
    if let Err(response) = check_fields(&app, &object, &[("name", 1, 100, false)], &[]) {
        return response;
    }
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    if id != caller || user_json(&database, &id).is_none() {
        return problem(StatusCode::NOT_FOUND, "no such user");
    }
    if let Some(name) = object.get("name").and_then(Value::as_str) {
        if let Err(error) =
            database.execute("UPDATE users SET name = ?1 WHERE id = ?2", [name, &id])
        {
            return internal(error);
        }
    }
    if let Some(role) = role {
        if let Err(error) =
            database.execute("UPDATE users SET role = ?1 WHERE id = ?2", [&role, &id])
        {
            return internal(error);
        }
    }
    Json(user_json(&database, &id).unwrap_or(Value::Null)).into_response()
}

fn note_json(app: &App, row: (String, String, Option<String>, String)) -> Value {
    let (id, title, body, owner) = row;
    let title = if app.flaws.schema_drift {
        json!(title.chars().count())
    } else {
        json!(title)
    };
    json!({"id": id, "title": title, "body": body, "ownerId": owner})
}

fn read_note(
    database: &rusqlite::Connection,
    id: &str,
) -> Option<(String, String, Option<String>, String)> {
    database
        .query_row(
            "SELECT id, title, body, owner_id FROM notes WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .ok()
}

async fn list_notes(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    if let Some(unknown) = query
        .keys()
        .find(|name| !matches!(name.as_str(), "title" | "ownerId"))
    {
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("unknown query parameter `{unknown}`"),
        );
    }
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    let columns = "SELECT id, title, body, owner_id FROM notes";
    // `ownerId` narrows the caller's own notes; the planted flaw lists that user's instead.
    let owner_filter = query.get("ownerId").cloned();
    let caller = match &owner_filter {
        Some(owner) if app.flaws.owner_filter_unchecked => owner.clone(),
        _ => caller,
    };
    let rows: Result<Vec<_>, rusqlite::Error> = match query.get("title") {
        Some(title) if app.flaws.sql_injection => {
            // The planted flaw: the filter is concatenated into the statement.
            let sql = format!("{columns} WHERE owner_id = '{caller}' AND title = '{title}'");
            match database.prepare(&sql) {
                Ok(mut statement) => statement
                    .query_map([], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .and_then(|rows| rows.collect()),
                Err(error) => {
                    return problem(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string());
                }
            }
        }
        Some(title) => database
            .prepare(&format!("{columns} WHERE owner_id = ?1 AND title = ?2"))
            .and_then(|mut statement| {
                statement
                    .query_map([&caller, title], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .and_then(|rows| rows.collect())
            }),
        None => database
            .prepare(&format!("{columns} WHERE owner_id = ?1"))
            .and_then(|mut statement| {
                statement
                    .query_map([&caller], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .and_then(|rows| rows.collect())
            }),
    };
    match rows {
        Ok(rows) => {
            let data: Vec<Value> = rows
                .into_iter()
                .filter(|row: &(String, String, Option<String>, String)| {
                    owner_filter.as_ref().is_none_or(|owner| row.3 == *owner)
                })
                .map(|row| note_json(&app, row))
                .collect();
            Json(json!({"data": data})).into_response()
        }
        Err(error) if app.flaws.sql_injection => {
            problem(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string())
        }
        Err(error) => internal(error),
    }
}

async fn create_note(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    // Idempotency is not implemented, but the key's documented shape is enforced.
    if let Some(key) = headers.get("idempotency-key") {
        let valid = key.to_str().is_ok_and(|key| {
            (1..=255).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
        });
        if !valid {
            if app.flaws.server_error_on_bad_header {
                return problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            return problem(StatusCode::BAD_REQUEST, "invalid Idempotency-Key");
        }
    }
    let object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    if let Err(response) = check_fields(
        &app,
        &object,
        &[("title", 1, 200, false), ("body", 0, 2000, true)],
        &["title"],
    ) {
        return response;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let title = object.get("title").and_then(Value::as_str).unwrap_or("");
    let text = object.get("body").and_then(Value::as_str);
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    if let Err(error) = database.execute(
        "INSERT INTO notes (id, title, body, owner_id) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![id, title, text, caller],
    ) {
        return internal(error);
    }
    match read_note(&database, &id) {
        Some(row) => {
            let mut response = (StatusCode::CREATED, Json(note_json(&app, row))).into_response();
            if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/notes/{id}")) {
                response.headers_mut().insert("location", location);
            }
            response
        }
        None => internal("the note vanished"),
    }
}

async fn get_note(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    match read_note(&database, &id) {
        Some(row) if row.3 == caller || app.flaws.object_read_unchecked => {
            Json(note_json(&app, row)).into_response()
        }
        _ => problem(StatusCode::NOT_FOUND, "no such note"),
    }
}

async fn update_note(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    // No ETags are handed out, so only `*` can match; a malformed value is a 400.
    if let Some(if_match) = headers.get("if-match") {
        let text = if_match.to_str().unwrap_or("");
        let bytes = text.as_bytes();
        let well_formed = (1..=1024).contains(&bytes.len())
            && bytes.first().is_some_and(u8::is_ascii_graphic)
            && bytes.last().is_some_and(u8::is_ascii_graphic)
            && bytes
                .iter()
                .all(|byte| byte.is_ascii_graphic() || *byte == b' ');
        if !well_formed {
            return problem(StatusCode::BAD_REQUEST, "invalid If-Match");
        }
        if text != "*" {
            return problem(StatusCode::PRECONDITION_FAILED, "the note changed");
        }
    }
    let object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    if let Err(response) = check_fields(
        &app,
        &object,
        &[("title", 1, 200, false), ("body", 0, 2000, true)],
        &[],
    ) {
        return response;
    }
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    match read_note(&database, &id) {
        Some(row) if row.3 == caller => {}
        _ => return problem(StatusCode::NOT_FOUND, "no such note"),
    }
    for (name, column) in [("title", "title"), ("body", "body")] {
        if let Some(value) = object.get(name) {
            let sql = format!("UPDATE notes SET {column} = ?1 WHERE id = ?2");
            if let Err(error) = database.execute(&sql, rusqlite::params![value.as_str(), id]) {
                return internal(error);
            }
        }
    }
    match read_note(&database, &id) {
        Some(row) => Json(note_json(&app, row)).into_response(),
        None => problem(StatusCode::NOT_FOUND, "no such note"),
    }
}

async fn delete_note(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    // The planted flaw: without a token the ownership check is skipped entirely.
    let caller = match caller(&app, &headers) {
        Ok(Some(caller)) => Some(caller),
        Ok(None) if app.flaws.write_without_auth => None,
        Ok(None) => return problem(StatusCode::UNAUTHORIZED, "a bearer token is required"),
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    match read_note(&database, &id) {
        Some(row) if caller.is_none() || caller.as_deref() == Some(row.3.as_str()) => {}
        _ => return problem(StatusCode::NOT_FOUND, "no such note"),
    }
    match database.execute("DELETE FROM notes WHERE id = ?1", [&id]) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => internal(error),
    }
}

/// The note `id` when the caller may reach its comments: theirs, or anyone's with the flaw.
fn note_for_comments(app: &App, database: &rusqlite::Connection, caller: &str, id: &str) -> bool {
    read_note(database, id).is_some_and(|note| note.3 == caller || app.flaws.nested_unchecked)
}

fn comment_json(row: (String, String, String, String)) -> Value {
    let (id, note_id, body, author) = row;
    json!({"id": id, "noteId": note_id, "body": body, "authorId": author})
}

fn read_comments(
    database: &rusqlite::Connection,
    note_id: &str,
    comment_id: Option<&str>,
) -> Result<Vec<(String, String, String, String)>, rusqlite::Error> {
    let mut statement = database.prepare(
        "SELECT id, note_id, body, author_id FROM comments \
         WHERE note_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY rowid",
    )?;
    let rows = statement.query_map(rusqlite::params![note_id, comment_id], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    })?;
    rows.collect()
}

async fn list_comments(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    if !note_for_comments(&app, &database, &caller, &id) {
        return problem(StatusCode::NOT_FOUND, "no such note");
    }
    match read_comments(&database, &id, None) {
        Ok(rows) => {
            let data: Vec<Value> = rows.into_iter().map(comment_json).collect();
            Json(json!({"data": data})).into_response()
        }
        Err(error) => internal(error),
    }
}

async fn create_comment(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let object = match parse_object(&app, &body) {
        Ok(object) => object,
        Err(response) => return response,
    };
    if let Err(response) = check_fields(&app, &object, &[("body", 1, 500, false)], &["body"]) {
        return response;
    }
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    if !note_for_comments(&app, &database, &caller, &id) {
        return problem(StatusCode::NOT_FOUND, "no such note");
    }
    let comment_id = uuid::Uuid::new_v4().to_string();
    let text = object.get("body").and_then(Value::as_str).unwrap_or("");
    if let Err(error) = database.execute(
        "INSERT INTO comments (id, note_id, body, author_id) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![comment_id, id, text, caller],
    ) {
        return internal(error);
    }
    match read_comments(&database, &id, Some(&comment_id)) {
        Ok(mut rows) if !rows.is_empty() => {
            (StatusCode::CREATED, Json(comment_json(rows.remove(0)))).into_response()
        }
        Ok(_) => internal("the comment vanished"),
        Err(error) => internal(error),
    }
}

async fn get_comment(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path((id, comment_id)): Path<(String, String)>,
) -> Response {
    let caller = match required_caller(&app, &headers) {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let Ok(database) = app.database.lock() else {
        return internal("poisoned");
    };
    if !note_for_comments(&app, &database, &caller, &id) {
        return problem(StatusCode::NOT_FOUND, "no such note");
    }
    match read_comments(&database, &id, Some(&comment_id)) {
        Ok(mut rows) if !rows.is_empty() => Json(comment_json(rows.remove(0))).into_response(),
        Ok(_) => problem(StatusCode::NOT_FOUND, "no such comment"),
        Err(error) => internal(error),
    }
}

/// The correct contract, as OpenAPI 3.1 (with the document flaws switched on, the flawed one).
pub fn document(flaws: Flaws) -> Value {
    let problem = |description: &str| json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    let bearer = json!([{"bearer": []}]);
    let id_parameter =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let json_body = |reference: &str| json!({"required": true, "content": {"application/json": {"schema": {"$ref": reference}}}});
    let json_answer = |description: &str, reference: &str| json!({"description": description, "content": {"application/json": {"schema": {"$ref": reference}}}});
    let delete_security = if flaws.delete_security_optional {
        json!([{"bearer": []}, {}])
    } else {
        bearer.clone()
    };
    let mut user_update = json!({"type": "object", "additionalProperties": false, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100}
    }});
    if flaws.role_writable_by_anyone {
        user_update["properties"]["role"] = json!({"type": "string", "enum": ["USER", "ADMIN"]});
    }
    let comment_id_parameter =
        json!({"name": "commentId", "in": "path", "required": true, "schema": {"type": "string"}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Flawed notes", "version": "1"},
        "paths": {
            "/api/v1/auth/register": {"post": {
                "operationId": "register",
                "security": [],
                "requestBody": json_body("#/components/schemas/RegisterRequest"),
                "responses": {
                    "201": json_answer("Registered", "#/components/schemas/TokenResponse"),
                    "400": problem("Broken JSON"), "409": problem("Email taken"),
                    "422": problem("Invalid body"), "500": problem("Server error")
                }
            }},
            "/api/v1/auth/login": {"post": {
                "operationId": "login",
                "security": [],
                "requestBody": json_body("#/components/schemas/LoginRequest"),
                "responses": {
                    "200": json_answer("Signed in", "#/components/schemas/TokenResponse"),
                    "400": problem("Broken JSON"), "401": problem("Wrong credentials"),
                    "422": problem("Invalid body"), "429": problem("Too many failures"),
                    "500": problem("Server error")
                }
            }},
            "/api/v1/auth/me": {"get": {
                "operationId": "me",
                "security": bearer,
                "responses": {
                    "200": json_answer("The caller", "#/components/schemas/User"),
                    "401": problem("No token"), "404": problem("Gone"), "500": problem("Server error")
                }
            }},
            "/api/v1/users/{id}": {
                "get": {
                    "operationId": "getUser",
                    "security": bearer,
                    "parameters": [id_parameter],
                    "responses": {
                        "200": json_answer("The user", "#/components/schemas/User"),
                        "401": problem("No token"), "404": problem("Not yours or absent"),
                        "500": problem("Server error")
                    }
                },
                "patch": {
                    "operationId": "updateUser",
                    "security": bearer,
                    "parameters": [id_parameter],
                    "requestBody": json_body("#/components/schemas/UserUpdate"),
                    "responses": {
                        "200": json_answer("The user", "#/components/schemas/User"),
                        "400": problem("Broken JSON"), "401": problem("No token"),
                        "404": problem("Not yours or absent"), "422": problem("Invalid body"),
                        "500": problem("Server error")
                    }
                }
            },
            "/api/v1/notes": {
                "get": {
                    "operationId": "listNotes",
                    "security": bearer,
                    "parameters": [
                        {"name": "title", "in": "query", "required": false, "schema": {"type": "string"}},
                        {"name": "ownerId", "in": "query", "required": false, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": json_answer("The caller's notes", "#/components/schemas/NoteList"),
                        "400": problem("Bad query"), "401": problem("No token"),
                        "500": problem("Server error")
                    }
                },
                "post": {
                    "operationId": "createNote",
                    "security": bearer,
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {
                        "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"
                    }}],
                    "requestBody": json_body("#/components/schemas/NoteCreate"),
                    "responses": {
                        "201": json_answer("Created", "#/components/schemas/Note"),
                        "400": problem("Broken JSON"), "401": problem("No token"),
                        "422": problem("Invalid body"), "500": problem("Server error")
                    }
                }
            },
            "/api/v1/notes/{id}": {
                "get": {
                    "operationId": "getNote",
                    "security": bearer,
                    "parameters": [id_parameter],
                    "responses": {
                        "200": json_answer("The note", "#/components/schemas/Note"),
                        "401": problem("No token"), "404": problem("Not yours or absent"),
                        "500": problem("Server error")
                    }
                },
                "patch": {
                    "operationId": "updateNote",
                    "security": bearer,
                    "parameters": [id_parameter, {"name": "If-Match", "in": "header", "required": false, "schema": {
                        "type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[!-~](?:[ -~]*[!-~])?$"
                    }}],
                    "requestBody": json_body("#/components/schemas/NoteUpdate"),
                    "responses": {
                        "200": json_answer("The note", "#/components/schemas/Note"),
                        "400": problem("Broken JSON or a malformed If-Match"), "401": problem("No token"),
                        "404": problem("Not yours or absent"), "412": problem("If-Match names another version"),
                        "422": problem("Invalid body"), "500": problem("Server error")
                    }
                },
                "delete": {
                    "operationId": "deleteNote",
                    "security": delete_security,
                    "parameters": [id_parameter],
                    "responses": {
                        "204": {"description": "Deleted"},
                        "401": problem("No token"), "404": problem("Not yours or absent"),
                        "500": problem("Server error")
                    }
                }
            },
            "/api/v1/notes/{id}/comments": {
                "get": {
                    "operationId": "listComments",
                    "security": bearer,
                    "parameters": [id_parameter],
                    "responses": {
                        "200": json_answer("The note's comments", "#/components/schemas/CommentList"),
                        "401": problem("No token"), "404": problem("Not your note or absent"),
                        "500": problem("Server error")
                    }
                },
                "post": {
                    "operationId": "createComment",
                    "security": bearer,
                    "parameters": [id_parameter],
                    "requestBody": json_body("#/components/schemas/CommentCreate"),
                    "responses": {
                        "201": json_answer("Created", "#/components/schemas/Comment"),
                        "400": problem("Broken JSON"), "401": problem("No token"),
                        "404": problem("Not your note or absent"), "422": problem("Invalid body"),
                        "500": problem("Server error")
                    }
                }
            },
            "/api/v1/notes/{id}/comments/{commentId}": {
                "get": {
                    "operationId": "getComment",
                    "security": bearer,
                    "parameters": [id_parameter, comment_id_parameter],
                    "responses": {
                        "200": json_answer("The comment", "#/components/schemas/Comment"),
                        "401": problem("No token"), "404": problem("Not your note or absent"),
                        "500": problem("Server error")
                    }
                }
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Problem": {"type": "object", "required": ["title", "status"], "properties": {
                    "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}
                }},
                "RegisterRequest": {"type": "object", "required": ["email", "password", "name"], "additionalProperties": false, "properties": {
                    "email": {"type": "string", "format": "email", "maxLength": 200},
                    "password": {"type": "string", "minLength": 8, "maxLength": 200},
                    "name": {"type": "string", "minLength": 1, "maxLength": 100}
                }},
                "LoginRequest": {"type": "object", "required": ["email", "password"], "additionalProperties": false, "properties": {
                    "email": {"type": "string", "maxLength": 200},
                    "password": {"type": "string", "minLength": 1, "maxLength": 200}
                }},
                "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in", "user"], "properties": {
                    "access_token": {"type": "string"}, "token_type": {"type": "string"},
                    "expires_in": {"type": "integer"}, "user": {"$ref": "#/components/schemas/User"}
                }},
                "User": {"type": "object", "required": ["id", "email", "name", "role"], "additionalProperties": false, "properties": {
                    "id": {"type": "string"}, "email": {"type": "string"},
                    "name": {"type": "string"}, "role": {"type": "string", "enum": ["USER", "ADMIN"]}
                }},
                "UserUpdate": user_update,
                "Comment": {"type": "object", "required": ["id", "noteId", "body", "authorId"], "additionalProperties": false, "properties": {
                    "id": {"type": "string"}, "noteId": {"type": "string"},
                    "body": {"type": "string"}, "authorId": {"type": "string"}
                }},
                "CommentCreate": {"type": "object", "required": ["body"], "additionalProperties": false, "properties": {
                    "body": {"type": "string", "minLength": 1, "maxLength": 500}
                }},
                "CommentList": {"type": "object", "required": ["data"], "properties": {
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}}
                }},
                "Note": {"type": "object", "required": ["id", "title", "ownerId"], "additionalProperties": false, "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"},
                    "body": {"type": ["string", "null"]}, "ownerId": {"type": "string"}
                }},
                "NoteList": {"type": "object", "required": ["data"], "properties": {
                    "data": {"type": "array", "items": {"$ref": "#/components/schemas/Note"}}
                }},
                "NoteCreate": {"type": "object", "required": ["title"], "additionalProperties": false, "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "body": {"type": ["string", "null"], "maxLength": 2000}
                }},
                "NoteUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "body": {"type": ["string", "null"], "maxLength": 2000}
                }}
            }
        }
    })
}
