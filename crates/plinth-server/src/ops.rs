//! Operations endpoints at the server root: `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json` and `/docs` (a self-contained HTML page: no CDN, no script).

use crate::error::ApiError;
use crate::http::limits::RedisStatus;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

fn with_content_type(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    with_content_type(r#"{"status":"ok"}"#, "application/json")
}

/// Readiness: the database answers (else a 503 problem). With Redis configured but not
/// answering the node is `degraded` yet still ready (200): it enforces local rate limits, and
/// taking every node out of the load balancer over a Redis outage would be an outage.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    if !state.store.ping().await {
        let mut error = ApiError::service_unavailable("the database does not answer");
        error.code = "not_ready";
        return Err(error);
    }
    let redis = state.limiters.redis_status();
    let status = match redis {
        RedisStatus::Unavailable => "degraded",
        RedisStatus::Healthy | RedisStatus::Disabled => "ready",
    };
    let body = serde_json::json!({
        "status": status,
        "checks": { "database": "ok", "redis": redis.as_str() },
    });
    Ok(with_content_type(body.to_string(), "application/json"))
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(handle) = &state.metrics else {
        return with_content_type("", "text/plain; version=0.0.4");
    };
    let (in_use, total) = state.store.pool_usage();
    metrics::gauge!("plinth_db_connections_in_use").set(in_use as f64);
    metrics::gauge!("plinth_db_connections_total").set(total as f64);
    metrics::gauge!("plinth_event_subscribers").set(state.events.subscriber_count() as f64);
    with_content_type(handle.render(), "text/plain; version=0.0.4")
}

pub async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    with_content_type(state.openapi_json.clone(), "application/json")
}

pub async fn docs(State(state): State<Arc<AppState>>) -> Response {
    with_content_type(state.docs_html.clone(), "text/html; charset=utf-8")
}

/// `plinth_docs::api_reference` as one HTML page. Raw HTML in the Markdown (from `///` doc
/// comments in the schema) is shown as text, never interpreted — except a bare `<br>`, which
/// the reference uses to put several rules in one table cell (Markdown has no other way) and
/// which becomes a line break.
pub fn docs_page(schema: &plinth_model::Schema) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let markdown = plinth_docs::api_reference(schema);
    let parser = Parser::new_ext(&markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::InlineHtml(text) if is_line_break_tag(&text) => Event::HardBreak,
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    });
    let mut content = String::with_capacity(markdown.len() * 2);
    pulldown_cmark::html::push_html(&mut content, parser);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>API reference</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <p class=\"links\"><a href=\"/openapi.json\">OpenAPI document</a></p>\n{content}</body>\n</html>\n"
    )
}

/// `<br>`, `<br/>` or `<br />`, in any case: a fixed tag with no attributes, safe to honour.
fn is_line_break_tag(html: &str) -> bool {
    let tag = html.trim().to_ascii_lowercase();
    matches!(tag.as_str(), "<br>" | "<br/>" | "<br />")
}

const STYLE: &str = "body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }\n\
code, pre { font-family: ui-monospace, monospace; background: #f4f4f4; border-radius: 4px; }\n\
code { padding: 0 .2em; } pre { padding: .8em; overflow-x: auto; }\n\
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; }\n\
h1, h2, h3 { line-height: 1.2; } h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 2em; }\n\
.links { float: right; }\n";
