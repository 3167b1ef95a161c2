//! `Idempotency-Key` on creates: the first response to (key, caller, route) is stored in
//! `_plinth_idempotency` in the same transaction as the row, and a retry with the same body gets
//! that response again instead of a second row. The same key with another body is a 422
//! (`idempotency_key_reused`): the client has a bug, and guessing which body it meant would
//! be worse.

use crate::auth::{placeholder, unix_now};
use crate::error::ApiError;
use crate::sql::{Decode, SqlValue};
use crate::store::Executor;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

/// A stored first response.
#[derive(Clone, Debug)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: String,
}

/// The key from the request, checked: 1 to 255 visible ASCII characters (`!` to `~`).
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    if !plinth_api::is_valid_idempotency_key(text) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!(
                "`Idempotency-Key` must be 1 to {} visible ASCII characters (no spaces)",
                plinth_api::IDEMPOTENCY_KEY_MAX_LENGTH
            ),
        ));
    }
    Ok(Some(text.to_string()))
}

pub fn lookup(
    executor: &mut dyn Executor,
    key: &str,
    caller: &str,
    route: &str,
) -> Result<Option<StoredResponse>, ApiError> {
    let dialect = executor.dialect();
    let sql = format!(
        "SELECT request_hash, status, location, etag, body FROM \"_plinth_idempotency\" WHERE idempotency_key = {} AND caller = {} AND route = {}",
        placeholder(dialect, 1),
        placeholder(dialect, 2),
        placeholder(dialect, 3)
    );
    let rows = executor.query(
        &sql,
        &[
            SqlValue::Text(key.to_string()),
            SqlValue::Text(caller.to_string()),
            SqlValue::Text(route.to_string()),
        ],
        &[
            Decode::Text,
            Decode::Int,
            Decode::Text,
            Decode::Text,
            Decode::Text,
        ],
    )?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let text = |value: Option<&SqlValue>| match value {
        Some(SqlValue::Text(text)) => Some(text.clone()),
        _ => None,
    };
    Ok(Some(StoredResponse {
        request_hash: text(row.first()).unwrap_or_default(),
        status: match row.get(1) {
            Some(SqlValue::Int(status)) => u16::try_from(*status).unwrap_or(201),
            _ => 201,
        },
        location: text(row.get(2)),
        etag: text(row.get(3)),
        body: text(row.get(4)).unwrap_or_default(),
    }))
}

pub fn store(
    executor: &mut dyn Executor,
    key: &str,
    caller: &str,
    route: &str,
    response: &StoredResponse,
) -> Result<(), ApiError> {
    let dialect = executor.dialect();
    let sql = format!(
        "INSERT INTO \"_plinth_idempotency\" (idempotency_key, caller, route, request_hash, status, location, etag, body, created_at) VALUES ({})",
        (1..=9)
            .map(|position| placeholder(dialect, position))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let optional = |value: &Option<String>| match value {
        Some(text) => SqlValue::Text(text.clone()),
        None => SqlValue::Null,
    };
    executor
        .execute(
            &sql,
            &[
                SqlValue::Text(key.to_string()),
                SqlValue::Text(caller.to_string()),
                SqlValue::Text(route.to_string()),
                SqlValue::Text(response.request_hash.clone()),
                SqlValue::Int(i64::from(response.status)),
                optional(&response.location),
                optional(&response.etag),
                SqlValue::Text(response.body.clone()),
                SqlValue::Int(unix_now() as i64),
            ],
        )
        .map_err(|error| match error {
            crate::store::StoreError::Unique(_) => ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ),
            other => other.into(),
        })?;
    Ok(())
}

/// A stored response for a retry: the same body hash replays it, another body is a 422.
pub fn replay(stored: StoredResponse, request_hash: &str) -> Result<Response, ApiError> {
    if stored.request_hash != request_hash {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request body",
        ));
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = crate::rows::json_response(status, stored.body.into_bytes());
    let headers = response.headers_mut();
    if let Some(location) = stored
        .location
        .and_then(|text| HeaderValue::from_str(&text).ok())
    {
        headers.insert(header::LOCATION, location);
    }
    if let Some(etag) = stored
        .etag
        .and_then(|text| HeaderValue::from_str(&text).ok())
    {
        headers.insert(header::ETAG, etag);
    }
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}
