//! Operations endpoints and cross-cutting headers: `/healthz`, `/readyz`, `/metrics`,
//! `/openapi.json` (identical to what `plinth build` writes), `/docs`; request ids and security
//! headers on every answer; rate limits answered 429 with `Retry-After`.

use crate::harness::{ReplyExt, TestServer};
use plinth_server::config::{RateLimit, ServeConfig};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

crate::scenarios!("todo" =>
    health_and_readiness,
    metrics_count_requests,
    openapi_is_the_built_document,
    docs_is_html,
    every_answer_has_request_id_and_security_headers,
);

crate::scenarios!("blog" =>
    openapi_is_the_built_document_for_blog,
);

crate::scenarios!("todo", super::strict_auth_limit => auth_is_rate_limited);

/// Three auth requests per minute per address.
fn strict_auth_limit(config: &mut ServeConfig) {
    config.rate_limit_auth_per_ip = Some(RateLimit {
        requests: 3,
        period: Duration::from_secs(60),
    });
}

async fn health_and_readiness(server: &TestServer) {
    for path in ["/healthz", "/readyz"] {
        let reply = server.get(path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        // Not behind auth, and no token needed; a bad token does not break them either.
        let with_bad_token = server.get(path, Some("garbage")).await;
        assert_eq!(
            with_bad_token.status, 200,
            "{path} with a bad token: {}",
            with_bad_token.text
        );
    }
}

async fn metrics_count_requests(server: &TestServer) {
    for _ in 0..3 {
        server.get("/api/v1/nope", None).await;
        server.get("/healthz", None).await;
    }
    let reply = server.get("/metrics", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.content_type().starts_with("text/plain"),
        "Prometheus text format: {}",
        reply.content_type()
    );
    let counters: Vec<&str> = reply
        .text
        .lines()
        .filter(|line| line.starts_with("# TYPE") && line.ends_with(" counter"))
        .collect();
    assert!(
        counters
            .iter()
            .any(|line| line.to_ascii_lowercase().contains("request")),
        "a request counter is exported: {}",
        reply.text
    );
    // The counter has samples with a positive value.
    let sample_total: f64 = reply
        .text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.to_ascii_lowercase().contains("request") && line.contains("_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        sample_total >= 6.0,
        "the requests above were counted: {}",
        reply.text
    );
}

async fn assert_openapi_matches(server: &TestServer) {
    let reply = server.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.content_type().starts_with("application/json"),
        "{}",
        reply.content_type()
    );
    let (schema, diagnostics) = plinth_model::compile(&server.schema_source);
    assert!(
        !plinth_diagnostics::has_errors(&diagnostics),
        "the example compiles"
    );
    let expected = plinth_openapi::document(&schema);
    assert_eq!(
        reply.json(),
        &expected,
        "/openapi.json is what `plinth build` writes"
    );
    assert_eq!(
        reply.json()["openapi"].as_str().map(|v| &v[..3]),
        Some("3.1")
    );
}

async fn openapi_is_the_built_document(server: &TestServer) {
    assert_openapi_matches(server).await;
}

async fn openapi_is_the_built_document_for_blog(server: &TestServer) {
    assert_openapi_matches(server).await;
}

async fn docs_is_html(server: &TestServer) {
    let reply = server.get("/docs", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.content_type().starts_with("text/html"),
        "{}",
        reply.content_type()
    );
    let lower = reply.text.to_ascii_lowercase();
    assert!(
        lower.contains("<html") || lower.contains("<!doctype html"),
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );
    assert!(
        reply.text.contains("/api/v1/tasks"),
        "the reference lists the resources"
    );
}

async fn every_answer_has_request_id_and_security_headers(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let replies = vec![
        ("healthz", server.get("/healthz", None).await),
        ("openapi", server.get("/openapi.json", None).await),
        ("docs", server.get("/docs", None).await),
        ("metrics", server.get("/metrics", None).await),
        ("list", server.get("/api/v1/tasks", ada.token()).await),
        (
            "create",
            server
                .post("/api/v1/tasks", ada.token(), &json!({ "title": "t" }))
                .await,
        ),
        ("401", server.get("/api/v1/tasks", None).await),
        ("404", server.get("/api/v1/nope", None).await),
        (
            "422",
            server.post("/api/v1/tasks", ada.token(), &json!({})).await,
        ),
        (
            "400",
            server.get("/api/v1/tasks?limit=0", ada.token()).await,
        ),
        (
            "415",
            server
                .request(Method::POST, "/api/v1/tasks")
                .bearer_auth(&ada.access_token)
                .header("content-type", "text/plain")
                .body("x")
                .reply()
                .await,
        ),
    ];
    let mut request_ids = std::collections::HashSet::new();
    for (name, reply) in &replies {
        let request_id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{name}: no x-request-id: {:?}", reply.headers));
        assert!(!request_id.is_empty());
        request_ids.insert(request_id.to_string());
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{name}: x-content-type-options: {:?}",
            reply.headers
        );
    }
    assert_eq!(request_ids.len(), replies.len(), "request ids are unique");
    // A caller's own request id is kept (or at least a valid one is answered).
    let own = server
        .request(Method::GET, "/healthz")
        .header("x-request-id", "my-trace-123")
        .reply()
        .await;
    assert!(own.header("x-request-id").is_some());
    // Responses with user data are not cached by shared caches.
    let list = server.get("/api/v1/tasks", ada.token()).await;
    if let Some(cache_control) = list.header("cache-control") {
        let cache_control = cache_control.to_ascii_lowercase();
        assert!(
            !cache_control.contains("public"),
            "private data marked public: {cache_control}"
        );
    }
}

async fn auth_is_rate_limited(server: &TestServer) {
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let reply = server
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "email": "nobody@example.com", "password": "guess" }),
            )
            .await;
        statuses.push(reply.status);
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.unwrap_or_else(|| panic!("no 429 after 6 logins at 3/min: {statuses:?}"));
    assert!(
        statuses[..3].iter().all(|&status| status == 401),
        "{statuses:?}"
    );
    limited.problem(429);
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("429 has a numeric Retry-After: {:?}", limited.headers));
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // Health checks are not caught by the auth limit.
    assert_eq!(server.get("/healthz", None).await.status, 200);
}
