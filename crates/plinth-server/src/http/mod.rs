//! The HTTP surface: [`router`] registers exactly the routes of `plinth_api::api(&schema)` (plus
//! the operations endpoints), and one middleware gives every request its id, rate limit,
//! timeout, security headers, metrics and access log line.

pub mod body;
mod client_ip;
pub mod limits;
pub mod query;

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;
use crate::{auth, crud, ops};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

type Shared = Arc<AppState>;

/// Every route of the API and the operations endpoints, with the middleware.
pub fn router(state: Shared) -> Router {
    let mut router: Router<Shared> = Router::new()
        .route(plinth_api::HEALTH_PATH, get(ops::healthz))
        .route(plinth_api::READY_PATH, get(ops::readyz))
        .route(plinth_api::METRICS_PATH, get(ops::metrics))
        .route(plinth_api::OPENAPI_PATH, get(ops::openapi))
        .route(plinth_api::DOCS_PATH, get(ops::docs));

    if state.auth.is_some() {
        router = router
            .route(
                plinth_api::AUTH_REGISTER_PATH,
                post(|State(state): State<Shared>, request: Request| {
                    auth::register(state, request)
                }),
            )
            .route(
                plinth_api::AUTH_LOGIN_PATH,
                post(|State(state): State<Shared>, request: Request| auth::login(state, request)),
            )
            .route(
                plinth_api::AUTH_REFRESH_PATH,
                post(|State(state): State<Shared>, request: Request| auth::refresh(state, request)),
            )
            .route(
                plinth_api::AUTH_LOGOUT_PATH,
                post(|State(state): State<Shared>, request: Request| auth::logout(state, request)),
            )
            .route(
                plinth_api::AUTH_ME_PATH,
                get(|State(state): State<Shared>, request: Request| auth::me(state, request)),
            );
    }

    for (index, plan) in state.plans.iter().enumerate() {
        let resource = &plan.resource;
        let endpoints = resource.endpoints;
        let mut collection: MethodRouter<Shared> = MethodRouter::new();
        if endpoints.list {
            collection = collection.get(move |State(state): State<Shared>, request: Request| {
                crud::list(state, index, request)
            });
        }
        if endpoints.create {
            collection = collection.post(move |State(state): State<Shared>, request: Request| {
                crud::create(state, index, request)
            });
        }
        if endpoints.list || endpoints.create {
            router = router.route(&resource.path, collection);
        }
        if let Some(events_path) = &resource.events_path {
            router = router.route(
                events_path,
                get(move |State(state): State<Shared>, request: Request| {
                    crud::event_stream(state, index, request)
                }),
            );
        }
        if let Some(item_path) = &resource.item_path {
            let mut item: MethodRouter<Shared> = MethodRouter::new();
            if endpoints.get {
                item = item.get(move |State(state): State<Shared>, request: Request| {
                    crud::get_item(state, index, request)
                });
            }
            if endpoints.update {
                item = item.patch(move |State(state): State<Shared>, request: Request| {
                    crud::update_item(state, index, request)
                });
            }
            if endpoints.delete {
                item = item.delete(move |State(state): State<Shared>, request: Request| {
                    crud::delete_item(state, index, request)
                });
            }
            if endpoints.get || endpoints.update || endpoints.delete {
                router = router.route(item_path, item);
            }
        }
    }

    let mut router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a handler panicked").into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            around_request,
        ));
    if let Some(cors) = cors_layer(&state.config.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!("there is no route `{}`", request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "`{}` is not allowed on `{}`",
            request.method(),
            request.uri().path()
        ),
    )
}

fn cors_layer(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                REQUEST_ID_HEADER,
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::RETRY_AFTER,
                REQUEST_ID_HEADER,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// A client-sent request id is kept when it is short and plain; otherwise a new one is made.
fn request_id_of(request: &Request) -> Arc<str> {
    if let Some(value) = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
    {
        let plain = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
        if plain {
            return Arc::from(value);
        }
    }
    new_request_id()
}

/// A process-unique id: a random per-process prefix and a counter. Cheaper than a random UUID
/// per request (no system call), and still unique across restarts in practice.
fn new_request_id() -> Arc<str> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
    let sequence = COUNTER.fetch_add(1, Ordering::Relaxed);
    Arc::from(format!("{prefix}-{sequence:010}"))
}

const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const DOCS_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                        base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async fn around_request(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_of(&request);
    let route: Arc<str> = match request.extensions().get::<MatchedPath>() {
        Some(matched) => Arc::from(matched.as_str()),
        None => Arc::from("unmatched"),
    };
    let method = request.method().clone();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let client_ip = client_ip::client_ip(peer, request.headers(), &state.config.trusted_proxies);
    let is_docs = request.uri().path() == plinth_api::DOCS_PATH;
    let is_auth_route = request.uri().path().starts_with("/api/v1/auth/");
    let span = tracing::info_span!("request", id = %request_id, method = %method, route = %route);

    let work = {
        let state = Arc::clone(&state);
        async move {
            if let Err(refused) = state.limiters.check_ip(client_ip, is_auth_route).await {
                return refused.into_response();
            }
            match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    let mut error = ApiError::service_unavailable(
                        "the request took longer than the server's timeout",
                    );
                    error.code = "request_timeout";
                    error.into_response()
                }
            }
        }
    };
    let mut response = REQUEST_ID
        .scope(Arc::clone(&request_id), work)
        .instrument(span.clone())
        .await;

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if is_docs { DOCS_CSP } else { DEFAULT_CSP }),
    );
    headers.remove(header::SERVER);

    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if state.metrics.is_some() {
        let labels = [
            ("route", route.to_string()),
            ("method", method.to_string()),
            ("status", status.to_string()),
        ];
        metrics::counter!("plinth_http_requests_total", &labels).increment(1);
        metrics::histogram!("plinth_http_request_duration_seconds", &labels[..2])
            .record(elapsed.as_secs_f64());
    }
    // Access lines are DEBUG (`PLINTH_LOG=debug` shows them): at tens of thousands of requests
    // a second, one INFO line each made stdout the bottleneck (p99 at 256 connections went
    // from ~20 ms to ~160 ms). Server errors are always logged.
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request failed");
        } else {
            tracing::debug!(status, latency_ms, "request");
        }
    });
    response
}
