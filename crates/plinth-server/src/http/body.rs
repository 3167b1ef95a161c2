//! Request bodies: content type, size limit, UTF-8 and JSON checks, each failure a 4xx problem.

use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, HeaderMap, StatusCode};

pub type JsonObject = serde_json::Map<String, serde_json::Value>;

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub fn payload_too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {limit} bytes"),
    )
}

/// The raw body, after checking that it is declared as JSON and fits the limit.
pub async fn read_json_bytes(state: &AppState, request: Request) -> Result<Bytes, ApiError> {
    let limit = state.config.body_limit;
    if !is_json_content_type(request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(payload_too_large(limit));
    }
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| payload_too_large(limit))
}

/// Parses bytes as a JSON object, with 400s that say what is wrong.
pub fn parse_json_object(bytes: &[u8]) -> Result<JsonObject, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::bad_request(
            "invalid_utf8",
            "the request body is not valid UTF-8",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the request body is empty; send a JSON object",
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::bad_request(
            "invalid_body",
            "the request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::bad_request(
            "malformed_json",
            format!(
                "the request body is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        )),
    }
}

pub async fn read_json_object(state: &AppState, request: Request) -> Result<JsonObject, ApiError> {
    let bytes = read_json_bytes(state, request).await?;
    parse_json_object(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_are_named() {
        assert_eq!(parse_json_object(b"{").unwrap_err().code, "malformed_json");
        assert_eq!(parse_json_object(b"[1]").unwrap_err().code, "invalid_body");
        assert_eq!(
            parse_json_object(b"\"\xff\"").unwrap_err().code,
            "invalid_utf8"
        );
        assert_eq!(parse_json_object(b"  ").unwrap_err().code, "malformed_json");
        assert!(parse_json_object(b"{\"a\": 1}").is_ok());
    }
}
