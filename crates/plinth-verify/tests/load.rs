//! The load generator against a tiny in-test axum server that counts what it receives: closed
//! loop sends exactly what it reports, open loop sends at the intended times, and a server stall
//! shows in open-loop percentiles (coordinated omission corrected) while closed loop hides it.
//! Timing assertions compare quantities with wide margins, never exact durations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use plinth_verify::load::{self, LoadError, LoadPlan, PlannedRequest};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the test server saw, and how it misbehaves.
#[derive(Default)]
struct ServerState {
    requests: AtomicU64,
    by_path: Mutex<HashMap<String, u64>>,
    arrivals: Mutex<Vec<Instant>>,
    /// The whole server stops answering for this long, starting this long after its first
    /// request (like a garbage-collection or fsync pause).
    stall: Option<(Duration, Duration)>,
}

async fn item(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
) -> (StatusCode, String) {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let now = Instant::now();
    let first = {
        let mut arrivals = state.arrivals.lock().expect("lock");
        arrivals.push(now);
        arrivals[0]
    };
    *state
        .by_path
        .lock()
        .expect("lock")
        .entry(id.clone())
        .or_insert(0) += 1;
    if let Some((after, length)) = state.stall {
        let (stall_start, stall_end) = (first + after, first + after + length);
        if now >= stall_start && now < stall_end {
            tokio::time::sleep_until(stall_end.into()).await;
        }
    }
    match id.as_str() {
        "missing" => (StatusCode::NOT_FOUND, "{}".into()),
        "broken" => (StatusCode::INTERNAL_SERVER_ERROR, "{}".into()),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (StatusCode::OK, "{}".into())
        }
        _ => (
            StatusCode::OK,
            format!(r#"{{"id":"{id}","title":"a task"}}"#),
        ),
    }
}

async fn serve(state: ServerState) -> (String, Arc<ServerState>) {
    let state = Arc::new(state);
    let app = Router::new()
        .route("/items/{id}", get(item))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}"), state)
}

fn plan(
    base_url: &str,
    requests: Vec<PlannedRequest>,
    connections: usize,
    seconds: f64,
) -> LoadPlan {
    LoadPlan::new(
        base_url,
        requests,
        connections,
        Duration::from_secs_f64(seconds),
    )
    .progress(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_sends_exactly_what_it_reports_in_the_mix_proportions() {
    let (base_url, state) = serve(ServerState::default()).await;
    let requests = vec![
        PlannedRequest::get("/items/a").weight(3),
        PlannedRequest::get("/items/b").bearer("token"),
    ];
    let report = load::run(&plan(&base_url, requests, 4, 1.0).warmup(Duration::from_millis(300)))
        .await
        .expect("run");

    let received = state.requests.load(Ordering::SeqCst);
    assert_eq!(received, report.sent + report.warmup_sent, "{report:#?}");
    assert!(report.warmup_sent > 0 && report.sent > 100, "{report:#?}");
    assert_eq!(report.responses, report.sent);
    assert_eq!(report.errors.total, 0);
    assert_eq!(report.latency.count, report.responses);
    assert!(report.throughput > 100.0);
    let by_path = state.by_path.lock().expect("lock").clone();
    let (a, b) = (by_path["a"] as f64, by_path["b"] as f64);
    // The mix cycles through the weights, so the only slack is a partial cycle per connection
    // (4 connections, cycles of 4) and the requests in flight when the clock stops; a ratio
    // bound alone would be flaky when a busy machine sends few requests.
    assert!(
        (a - 3.0 * b).abs() <= 16.0_f64.max(0.02 * (a + b)),
        "a {a}, b {b}"
    );
    let measured: u64 = report.requests.iter().map(|request| request.sent).sum();
    assert_eq!(measured, report.sent);
    // The timeline covers the measured window and accounts for every request.
    assert_eq!(report.timeline.len(), 10);
    assert_eq!(
        report.timeline.iter().map(|point| point.count).sum::<u64>(),
        report.sent
    );
    assert!(report
        .percentiles
        .last()
        .is_some_and(|point| point.latency == report.latency.max));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_sends_at_the_requested_rate_and_times() {
    let (base_url, state) = serve(ServerState::default()).await;
    let report =
        load::run(&plan(&base_url, vec![PlannedRequest::get("/items/x")], 8, 2.0).open_loop(500.0))
            .await
            .expect("run");
    let open = report.open_loop.clone().expect("open-loop stats");

    assert_eq!(open.intended, 1000);
    assert_eq!(state.requests.load(Ordering::SeqCst), report.sent);
    assert_eq!(report.sent + open.unsent, 1000, "{report:#?}");
    assert!(report.sent >= 950, "{report:#?}");
    assert!((450.0..=505.0).contains(&open.achieved_rate), "{open:#?}");
    // Sent when due, not in bursts: the arrivals span the two seconds and half of them arrive
    // in each second.
    let arrivals = state.arrivals.lock().expect("lock").clone();
    let span = arrivals
        .last()
        .expect("arrivals")
        .duration_since(arrivals[0]);
    assert!(
        span > Duration::from_millis(1800) && span < Duration::from_millis(2300),
        "{span:?}"
    );
    let first_second = arrivals
        .iter()
        .filter(|arrival| arrival.duration_since(arrivals[0]) < Duration::from_secs(1))
        .count();
    assert!(
        (430..=570).contains(&first_second),
        "{first_second} in the first second"
    );
    assert!(open.lateness.p50 < 20_000, "{open:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_shows_the_stall_that_closed_loop_hides() {
    let stall = Duration::from_millis(300);
    let stalling = || ServerState {
        stall: Some((Duration::from_millis(1000), stall)),
        ..ServerState::default()
    };
    let requests = vec![PlannedRequest::get("/items/x")];

    let (closed_url, _) = serve(stalling()).await;
    let closed = load::run(&plan(&closed_url, requests.clone(), 4, 2.5))
        .await
        .expect("closed run");
    let (open_url, _) = serve(stalling()).await;
    let open = load::run(&plan(&open_url, requests, 4, 2.5).open_loop(500.0))
        .await
        .expect("open run");

    let stall_microseconds = stall.as_micros() as u64;
    // Closed loop: only the 4 requests in flight during the stall saw it, far beyond p99.
    assert!(
        closed.latency.max >= stall_microseconds * 8 / 10,
        "{closed:#?}"
    );
    assert!(closed.latency.p99 < stall_microseconds / 3, "{closed:#?}");
    // Open loop: every request due during the stall waited for it (about 150 of 1250).
    assert!(open.latency.p99 >= stall_microseconds * 2 / 3, "{open:#?}");
    assert!(open.latency.p99 > closed.latency.p99 * 3);
    let stats = open.open_loop.as_ref().expect("open-loop stats");
    assert!(stats.late > 50, "{stats:#?}");
    // The timeline shows the stall where it happened, around one second in.
    let worst = open
        .timeline
        .iter()
        .max_by_key(|point| point.max)
        .expect("timeline");
    assert!((0.8..=1.5).contains(&worst.start_seconds), "{worst:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_kind_and_reported_as_findings() {
    let (base_url, _) = serve(ServerState::default()).await;
    let requests = vec![
        PlannedRequest::get("/items/ok"),
        PlannedRequest::get("/items/missing"),
        PlannedRequest::get("/items/broken"),
    ];
    let report = load::run(&plan(&base_url, requests, 2, 0.5))
        .await
        .expect("run");
    let by_status = &report.errors.by_status;
    assert!(by_status[&404] > 0 && by_status[&500] > 0, "{report:#?}");
    assert_eq!(report.errors.status_4xx, by_status[&404]);
    assert_eq!(report.errors.status_5xx, by_status[&500]);
    assert_eq!(report.errors.total, by_status[&404] + by_status[&500]);
    let findings = load::findings(&report);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, load::LOAD_SERVER_ERRORS);
    assert!(findings[0]
        .request
        .as_ref()
        .is_some_and(|request| request.url.ends_with("/items/broken")));
    assert!(load::summary(&report).contains("500×"));

    // Answers slower than the timeout count as timeouts, and the connection is replaced.
    let slow = plan(&base_url, vec![PlannedRequest::get("/items/slow")], 2, 0.6)
        .timeout(Duration::from_millis(200));
    let report = load::run(&slow).await.expect("run");
    assert!(report.errors.timeout >= 2, "{report:#?}");
    assert_eq!(report.responses, 0);
    assert!(report.reconnects >= 2);
    assert!(load::findings(&report)
        .iter()
        .any(|finding| finding.rule == load::LOAD_TRANSPORT_ERRORS));
    assert!(load::svg_percentiles(&report).contains("no answers were measured"));
}

#[tokio::test]
async fn an_unreachable_target_or_a_bad_plan_is_an_error_not_a_report() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let unreachable = plan(
        &format!("http://{address}"),
        vec![PlannedRequest::get("/")],
        2,
        0.2,
    );
    assert!(matches!(
        load::run(&unreachable).await,
        Err(LoadError::Connect { .. })
    ));
    let https = plan(
        "https://example.invalid",
        vec![PlannedRequest::get("/")],
        1,
        0.2,
    );
    assert!(matches!(
        load::run(&https).await,
        Err(LoadError::InvalidUrl(_))
    ));
    let bad_header = PlannedRequest {
        headers: vec![("bad header".into(), "x".into())],
        ..PlannedRequest::get("/")
    };
    let (base_url, _) = serve(ServerState::default()).await;
    assert!(matches!(
        load::run(&plan(&base_url, vec![bad_header], 1, 0.2)).await,
        Err(LoadError::InvalidPlan(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plots_are_self_contained_svg() {
    let (base_url, _) = serve(ServerState::default()).await;
    let report =
        load::run(&plan(&base_url, vec![PlannedRequest::get("/items/a")], 2, 0.5).open_loop(200.0))
            .await
            .expect("run");
    for svg in [load::svg_percentiles(&report), load::svg_timeline(&report)] {
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("href"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
    let percentiles = load::svg_percentiles(&report);
    assert!(
        percentiles.contains(">90%<") && percentiles.contains(">99%<"),
        "{percentiles}"
    );
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["mode"], "open");
    assert!(json["latency"]["p99"].as_u64().is_some());
}
