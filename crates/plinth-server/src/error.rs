//! The one error type at the HTTP edge, [`ApiError`], rendered as RFC 9457
//! `application/problem+json`. Internal causes are logged here and never sent: a client sees a
//! status, a stable `code`, a plain sentence and the `trace_id` to quote when asking for help.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::Arc;

tokio::task_local! {
    /// The request id of the request being handled (set by the request middleware), so every
    /// problem body carries it as `trace_id` without threading it through each handler.
    pub static REQUEST_ID: Arc<str>;
}

/// The current request's id, or "" outside a request.
pub fn current_request_id() -> Arc<str> {
    REQUEST_ID
        .try_with(Arc::clone)
        .unwrap_or_else(|_| Arc::from(""))
}

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
const PROBLEM_TYPE_BASE: &str = "https://plinth.dev/problems/";

/// One invalid field or parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

/// An error answer. Build it with the named constructors.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// `WWW-Authenticate` for 401s.
    pub www_authenticate: Option<&'static str>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            www_authenticate: None,
            retry_after: None,
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// A query parameter or path segment that is not understood (400 with per-parameter errors).
    pub fn invalid_parameters(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [single] => format!("query parameter `{}`: {}", single.field, single.message),
            _ => format!("{} query parameters are invalid", errors.len()),
        };
        ApiError::bad_request("invalid_parameter", detail).with_errors(errors)
    }

    /// A body that fails validation (422 with per-field errors).
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [single] => format!("`{}`: {}", single.field, single.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(errors)
    }

    /// 401: no token where one is needed.
    pub fn authentication_required() -> Self {
        let mut error = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_required",
            "this request needs a bearer token: sign in at /api/v1/auth/login",
        );
        error.www_authenticate = Some("Bearer");
        error
    }

    /// 401: a token that is malformed, forged, expired or for a user that no longer exists.
    pub fn invalid_token() -> Self {
        let mut error = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token is invalid or expired",
        );
        error.www_authenticate = Some("Bearer error=\"invalid_token\"");
        error
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn precondition_failed() -> Self {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the row changed since it was read: `If-Match` does not match its current ETag",
        )
    }

    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; retry after the number of seconds in `Retry-After`",
        );
        error.retry_after = Some(retry_after_seconds.max(1));
        error
    }

    /// 500. The cause is logged with the request id and never sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request; quote the trace_id when reporting it",
        )
    }

    pub fn service_unavailable(detail: impl Into<String>) -> Self {
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail);
        error.retry_after = Some(1);
        error
    }

    /// The JSON body (also used by tests and by idempotent replays).
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Problem<'a> {
            #[serde(rename = "type")]
            kind: String,
            title: &'a str,
            status: u16,
            detail: &'a str,
            code: &'a str,
            trace_id: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            errors: &'a [FieldError],
        }
        let trace_id = current_request_id();
        let problem = Problem {
            kind: format!("{PROBLEM_TYPE_BASE}{}", self.code.replace('_', "-")),
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            trace_id: &trace_id,
            errors: &self.errors,
        };
        serde_json::to_vec(&problem).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.detail
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn problem_body_has_every_member() {
        let error = ApiError::validation(vec![FieldError::new("title", "required", "is required")]);
        let body = REQUEST_ID
            .scope(Arc::from("abc"), async move { error.body() })
            .await;
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value["type"],
            "https://plinth.dev/problems/validation-failed"
        );
        assert_eq!(value["title"], "Unprocessable Entity");
        assert_eq!(value["status"], 422);
        assert_eq!(value["code"], "validation_failed");
        assert_eq!(value["trace_id"], "abc");
        assert_eq!(value["errors"][0]["field"], "title");
    }
}
