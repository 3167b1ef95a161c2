//! The load generator: many HTTP/1.1 keep-alive connections sending a weighted mix of requests,
//! either as fast as the server answers (closed loop) or at a constant arrival rate with latency
//! measured from each request's intended send time (open loop), so the queueing a stalled server
//! causes shows in the percentiles instead of being hidden by the generator waiting politely.
//!
//! - [`LoadPlan`] says what to send, how, and for how long; [`run`] sends it and returns a
//!   [`LoadReport`] (throughput, HDR-histogram percentiles, errors by kind, latency over time,
//!   the percentile curve, and in open loop how late requests were sent).
//! - [`svg_percentiles`], [`svg_timeline`]: self-contained SVG plots for the HTML report;
//!   [`summary`]: a few lines of text; [`findings`]: what a load run reports as findings.
//!
//! The generator uses hyper's client connection API directly, one task per connection, so it
//! costs about as much per request as wrk does and its throughput can be compared with wrk's.

mod connection;
mod plot;
mod progress;
mod report;
mod worker;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use plot::{svg_percentiles, svg_timeline};
pub use report::{
    findings, summary, CurvePoint, ErrorCounts, LatencySummary, LoadReport, OpenLoopStats,
    RequestStats, TimelinePoint, LOAD_SERVER_ERRORS, LOAD_TRANSPORT_ERRORS,
};

/// One request of the mix. `path` is relative to the plan's base URL and may carry a query
/// string (`/api/v1/tasks/abc`, `/api/v1/tasks?limit=5`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRequest {
    pub method: String,
    pub path: String,
    /// Extra headers (`authorization`, `content-type`, ...). `host` is always set by the generator.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Relative share of the mix: a request of weight 3 is sent three times as often as one of
    /// weight 1. Zero leaves it out.
    pub weight: u32,
}

impl PlannedRequest {
    /// A `GET path` of weight 1 with no extra header.
    pub fn get(path: impl Into<String>) -> PlannedRequest {
        PlannedRequest {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: None,
            weight: 1,
        }
    }

    /// The same request with `authorization: Bearer token`.
    pub fn bearer(mut self, token: &str) -> PlannedRequest {
        self.headers
            .push(("authorization".into(), format!("Bearer {token}")));
        self
    }

    /// The same request with another weight.
    pub fn weight(mut self, weight: u32) -> PlannedRequest {
        self.weight = weight;
        self
    }
}

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadMode {
    /// Every connection sends its next request as soon as the previous one is answered: measures
    /// capacity (the throughput wrk reports). Latency is measured from the actual send, so it
    /// hides the time requests would have waited behind a stall.
    Closed,
    /// Requests are due at `start + i / rate_per_second`, whatever the server does; latency is
    /// measured from that intended time. When every connection is busy, due requests wait for the
    /// next free connection and the wait counts in their latency (and as lateness).
    Open { rate_per_second: f64 },
}

/// What to send, how and for how long.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// `http://host:port`, optionally with a path prefix; `https` is not supported.
    pub base_url: String,
    pub requests: Vec<PlannedRequest>,
    /// Keep-alive connections (one task each).
    pub connections: usize,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// Sent like the measured window but not recorded: fills caches and connection pools.
    pub warmup: Duration,
    pub mode: LoadMode,
    /// One request's limit (connecting, waiting for a connection slot not included); a request
    /// that takes longer is counted as a timeout and its connection is replaced.
    pub timeout: Duration,
    /// Show one live line on stderr, updated every second — only when stderr is a terminal.
    pub progress: bool,
}

impl LoadPlan {
    /// A closed-loop plan of `requests` over `connections` connections for `duration`, with no
    /// warm-up, a 10 s request timeout and live progress on a terminal.
    pub fn new(
        base_url: impl Into<String>,
        requests: Vec<PlannedRequest>,
        connections: usize,
        duration: Duration,
    ) -> LoadPlan {
        LoadPlan {
            base_url: base_url.into(),
            requests,
            connections,
            duration,
            warmup: Duration::ZERO,
            mode: LoadMode::Closed,
            timeout: Duration::from_secs(10),
            progress: true,
        }
    }

    /// The same plan at a constant arrival rate.
    pub fn open_loop(mut self, rate_per_second: f64) -> LoadPlan {
        self.mode = LoadMode::Open { rate_per_second };
        self
    }

    pub fn warmup(mut self, warmup: Duration) -> LoadPlan {
        self.warmup = warmup;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> LoadPlan {
        self.timeout = timeout;
        self
    }

    pub fn progress(mut self, progress: bool) -> LoadPlan {
        self.progress = progress;
        self
    }
}

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the load plan is invalid: {0}")]
    InvalidPlan(String),
    #[error("`{0}` is not a usable http:// URL for the load generator")]
    InvalidUrl(String),
    #[error("cannot connect to {address}: {message}")]
    Connect { address: String, message: String },
}

/// The most connections a plan may ask for: each is a task and a socket.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Sends `plan` and measures it. Fails only when the plan is unusable or the target cannot be
/// reached at all; errors during the run are counted in the report.
pub async fn run(plan: &LoadPlan) -> Result<LoadReport, LoadError> {
    validate(plan)?;
    let target = connection::Target::resolve(&plan.base_url).await?;
    let mix = Mix::new(&plan.requests, &target)?;

    // Connect every connection before the clock starts, so the first requests do not pay for
    // the handshakes; a target that accepts none is unreachable.
    let mut handshakes = tokio::task::JoinSet::new();
    for _ in 0..plan.connections {
        let target = target.clone();
        handshakes.spawn(async move { connection::Connection::open(&target).await });
    }
    let mut connections = Vec::with_capacity(plan.connections);
    let mut first_failure = None;
    while let Some(joined) = handshakes.join_next().await {
        match joined {
            Ok(Ok(open)) => connections.push(Some(open)),
            Ok(Err(message)) => {
                first_failure.get_or_insert(message);
                connections.push(None);
            }
            Err(join_error) => {
                first_failure.get_or_insert(join_error.to_string());
                connections.push(None);
            }
        }
    }
    if connections.iter().all(Option::is_none) {
        return Err(LoadError::Connect {
            address: target.address.to_string(),
            message: first_failure.unwrap_or_else(|| "no connection".into()),
        });
    }

    let start = Instant::now();
    let shared = Arc::new(worker::Shared {
        mix,
        target,
        mode: plan.mode,
        start,
        measure_start: start + plan.warmup,
        deadline: start + plan.warmup + plan.duration,
        timeout: plan.timeout,
        connections: plan.connections,
        next_index: AtomicU64::new(0),
        live: progress::LiveCounters::default(),
    });
    let progress_task = progress::spawn_if_terminal(plan.progress, Arc::clone(&shared));
    let mut workers = tokio::task::JoinSet::new();
    for (worker_number, connection) in connections.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        workers.spawn(worker::run(shared, worker_number, connection));
    }
    let mut recorders = Vec::with_capacity(plan.connections);
    while let Some(joined) = workers.join_next().await {
        // A worker cannot panic by design; if one did, its share is lost, not the whole run.
        if let Ok(recorder) = joined {
            recorders.push(recorder);
        }
    }
    if let Some(task) = progress_task {
        task.abort();
        progress::clear_line();
    }
    Ok(report::build(plan, &shared, recorders))
}

fn validate(plan: &LoadPlan) -> Result<(), LoadError> {
    if plan.requests.iter().all(|request| request.weight == 0) {
        return Err(LoadError::InvalidPlan(
            "no request to send (the mix is empty or every weight is 0)".into(),
        ));
    }
    if plan.connections == 0 || plan.connections > MAX_CONNECTIONS {
        return Err(LoadError::InvalidPlan(format!(
            "connections must be between 1 and {MAX_CONNECTIONS}, not {}",
            plan.connections
        )));
    }
    if plan.duration.is_zero() || plan.duration > Duration::from_secs(24 * 3600) {
        return Err(LoadError::InvalidPlan(
            "the duration must be more than 0 and at most 24 hours".into(),
        ));
    }
    if plan.warmup > Duration::from_secs(3600) {
        return Err(LoadError::InvalidPlan(
            "the warm-up must be at most 1 hour".into(),
        ));
    }
    if plan.timeout.is_zero() {
        return Err(LoadError::InvalidPlan(
            "the timeout must be more than 0".into(),
        ));
    }
    if let LoadMode::Open { rate_per_second } = plan.mode {
        if !rate_per_second.is_finite() || rate_per_second <= 0.0 || rate_per_second > 10_000_000.0
        {
            return Err(LoadError::InvalidPlan(format!(
                "the rate must be more than 0 and at most 10,000,000 requests per second, not {rate_per_second}"
            )));
        }
    }
    Ok(())
}

/// The prepared requests and a deterministic weighted order over them: the `n`-th request sent
/// is `pick(n)`, so every run of a plan sends the same mix in the same proportions.
pub(crate) struct Mix {
    pub(crate) requests: Vec<connection::PreparedRequest>,
    pub(crate) planned: Vec<PlannedRequest>,
    /// Running totals of the weights, for a binary search.
    cumulative: Vec<u64>,
    total_weight: u64,
    /// Multiplier coprime with `total_weight`: spreads consecutive ordinals over the mix instead
    /// of sending all of one request, then all of the next.
    stride: u64,
}

impl Mix {
    fn new(requests: &[PlannedRequest], target: &connection::Target) -> Result<Mix, LoadError> {
        let mut prepared = Vec::new();
        let mut planned = Vec::new();
        let mut cumulative = Vec::new();
        let mut total_weight = 0u64;
        for request in requests.iter().filter(|request| request.weight > 0) {
            prepared.push(connection::PreparedRequest::new(request, target)?);
            planned.push(request.clone());
            total_weight += u64::from(request.weight);
            cumulative.push(total_weight);
        }
        let stride = [2_654_435_761u64, 40_503, 7_919, 1]
            .into_iter()
            .find(|candidate| greatest_common_divisor(*candidate, total_weight) == 1)
            .unwrap_or(1);
        Ok(Mix {
            requests: prepared,
            planned,
            cumulative,
            total_weight,
            stride,
        })
    }

    /// The index of the request sent `ordinal`-th.
    pub(crate) fn pick(&self, ordinal: u64) -> usize {
        if self.requests.len() <= 1 || self.total_weight == 0 {
            return 0;
        }
        let slot = ((u128::from(ordinal) * u128::from(self.stride)) % u128::from(self.total_weight))
            as u64;
        // The first request whose running total exceeds the slot.
        self.cumulative
            .partition_point(|running_total| *running_total <= slot)
            .min(self.requests.len() - 1)
    }
}

fn greatest_common_divisor(mut left: u64, mut right: u64) -> u64 {
    while right != 0 {
        (left, right) = (right, left % right);
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix_of(weights: &[u32]) -> Mix {
        let target = connection::Target::for_tests();
        let requests: Vec<PlannedRequest> = weights
            .iter()
            .enumerate()
            .map(|(index, weight)| PlannedRequest::get(format!("/r{index}")).weight(*weight))
            .collect();
        Mix::new(&requests, &target).expect("valid mix")
    }

    #[test]
    fn the_mix_follows_the_weights_exactly_over_a_cycle() {
        let mix = mix_of(&[3, 0, 1, 6]);
        let mut counts = [0usize; 3];
        for ordinal in 0..1000 {
            counts[mix.pick(ordinal)] += 1;
        }
        assert_eq!(counts, [300, 100, 600]);
        // Spread, not in runs: the first ten picks are not all the same request.
        let first: Vec<usize> = (0..10).map(|ordinal| mix.pick(ordinal)).collect();
        assert!(first.iter().any(|index| *index != first[0]), "{first:?}");
    }

    #[test]
    fn plans_that_cannot_run_are_refused() {
        let plan = LoadPlan::new("http://127.0.0.1:9", vec![], 4, Duration::from_secs(1));
        assert!(matches!(validate(&plan), Err(LoadError::InvalidPlan(_))));
        let plan = LoadPlan::new(
            "http://127.0.0.1:9",
            vec![PlannedRequest::get("/")],
            0,
            Duration::from_secs(1),
        );
        assert!(matches!(validate(&plan), Err(LoadError::InvalidPlan(_))));
        let plan = LoadPlan::new(
            "http://127.0.0.1:9",
            vec![PlannedRequest::get("/")],
            1,
            Duration::from_secs(1),
        )
        .open_loop(f64::NAN);
        assert!(matches!(validate(&plan), Err(LoadError::InvalidPlan(_))));
    }
}
