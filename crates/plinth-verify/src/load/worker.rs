//! One connection's loop: pick the next request of the mix, send it (when due, in open loop),
//! and record how long it took and how it ended. Each worker records into its own histograms and
//! sample list — nothing shared but two counters — and the report merges them at the end.

use super::connection::{Connection, Outcome};
use super::progress::LiveCounters;
use super::{LoadMode, Mix};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest latency the histograms hold exactly, in microseconds (one hour); longer ones are
/// recorded as one hour.
pub(crate) const HIGHEST_TRACKABLE_MICROSECONDS: u64 = 3_600_000_000;

/// A request sent more than this after its intended time counts as late (open loop). Timers
/// wake up to a millisecond or so late on a busy machine; this keeps "late" for real waiting.
pub(crate) const LATE_THRESHOLD: Duration = Duration::from_millis(5);

/// At most this many (time, latency) samples in all are kept for the latency-over-time series;
/// past it the series stops (the histograms still count everything).
const SAMPLE_BUDGET: usize = 8_000_000;

/// Pause after a failed connect, so an unreachable server is not hammered in a tight loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);

/// What every worker reads.
pub(crate) struct Shared {
    pub(crate) mix: Mix,
    pub(crate) target: super::connection::Target,
    pub(crate) mode: LoadMode,
    pub(crate) start: Instant,
    pub(crate) measure_start: Instant,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) connections: usize,
    /// Open loop: the next request number to claim; request `i` is due at `start + i / rate`.
    pub(crate) next_index: AtomicU64,
    pub(crate) live: LiveCounters,
}

/// One measured request, for the latency-over-time series.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    /// When it was sent (closed loop) or due (open loop), in ms after the measured window opened.
    pub(crate) offset_milliseconds: u32,
    pub(crate) latency_microseconds: u32,
    /// The answer's status, 0 when there was none (connect error, timeout, broken connection).
    pub(crate) status: u16,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct ErrorTally {
    pub(crate) connect: u64,
    pub(crate) timeout: u64,
    pub(crate) broken: u64,
    /// 4xx and 5xx answers by status.
    pub(crate) by_status: BTreeMap<u16, u64>,
}

/// Everything one worker measured.
pub(crate) struct Recorder {
    pub(crate) latency: Histogram<u64>,
    /// Open loop: how long after its intended time each request was actually sent.
    pub(crate) lateness: Histogram<u64>,
    pub(crate) samples: Vec<Sample>,
    sample_limit: usize,
    pub(crate) samples_dropped: u64,
    /// Requests attempted in the measured window (answered or not).
    pub(crate) sent: u64,
    pub(crate) warmup_sent: u64,
    /// Answers of any status in the measured window.
    pub(crate) responses: u64,
    pub(crate) late: u64,
    pub(crate) errors: ErrorTally,
    pub(crate) per_request: Vec<u64>,
    /// 5xx answers and transport errors by request of the mix.
    pub(crate) per_request_failures: Vec<u64>,
    /// Connections replaced after the server closed one or a request failed.
    pub(crate) reconnects: u64,
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_MICROSECONDS, 3)
        .expect("constant histogram bounds are valid")
}

impl Recorder {
    fn new(requests: usize, connections: usize) -> Recorder {
        Recorder {
            latency: new_histogram(),
            lateness: new_histogram(),
            samples: Vec::new(),
            sample_limit: (SAMPLE_BUDGET / connections.max(1)).max(10_000),
            samples_dropped: 0,
            sent: 0,
            warmup_sent: 0,
            responses: 0,
            late: 0,
            errors: ErrorTally::default(),
            per_request: vec![0; requests],
            per_request_failures: vec![0; requests],
            reconnects: 0,
        }
    }
}

fn microseconds(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, HIGHEST_TRACKABLE_MICROSECONDS)
}

/// Runs one connection until the deadline and returns what it measured.
pub(crate) async fn run(
    shared: Arc<Shared>,
    worker_number: usize,
    connection: Option<Connection>,
) -> Recorder {
    let mut worker = Worker {
        recorder: Recorder::new(shared.mix.requests.len(), shared.connections),
        connection,
        shared,
    };
    match worker.shared.mode {
        LoadMode::Closed => worker.closed_loop(worker_number).await,
        LoadMode::Open { rate_per_second } => worker.open_loop(rate_per_second).await,
    }
    worker.recorder
}

struct Worker {
    shared: Arc<Shared>,
    connection: Option<Connection>,
    recorder: Recorder,
}

impl Worker {
    async fn closed_loop(&mut self, _worker_number: usize) {
        // The workers claim ordinals from one shared counter, so together they walk the mix in
        // order whatever their speeds. (A fixed stride per worker would pin a worker to the same
        // few requests whenever the connection count shares a factor with the mix's cycle, and
        // the proportions would then follow how fast each request is answered.)
        loop {
            let sent_at = Instant::now();
            if sent_at >= self.shared.deadline {
                break;
            }
            let ordinal = self.shared.next_index.fetch_add(1, Ordering::Relaxed);
            let index = self.shared.mix.pick(ordinal);
            let outcome = self.attempt(index).await;
            self.record(index, sent_at, sent_at, Instant::now(), outcome);
            if outcome == Outcome::Connect {
                tokio::time::sleep(RECONNECT_PAUSE).await;
            }
        }
    }

    async fn open_loop(&mut self, rate_per_second: f64) {
        loop {
            let number = self.shared.next_index.fetch_add(1, Ordering::Relaxed);
            let due = self.shared.start + Duration::from_secs_f64(number as f64 / rate_per_second);
            if due >= self.shared.deadline {
                break;
            }
            if due > Instant::now() {
                tokio::time::sleep_until(due.into()).await;
            }
            let sent_at = Instant::now();
            if sent_at >= self.shared.deadline {
                // Due within the run but no connection was free before it ended: counted as
                // unsent in the report (intended minus sent), never silently forgotten.
                break;
            }
            let index = self.shared.mix.pick(number);
            let outcome = self.attempt(index).await;
            self.record(index, due, sent_at, Instant::now(), outcome);
        }
    }

    /// Sends request `index` on this worker's connection, opening one first when needed.
    async fn attempt(&mut self, index: usize) -> Outcome {
        if self
            .connection
            .as_ref()
            .is_some_and(|connection| connection.is_closed())
        {
            self.connection = None;
        }
        if self.connection.is_none() {
            match Connection::open(&self.shared.target).await {
                Ok(connection) => {
                    self.recorder.reconnects += 1;
                    self.connection = Some(connection);
                }
                Err(_) => return Outcome::Connect,
            }
        }
        let Some(connection) = self.connection.as_mut() else {
            return Outcome::Connect;
        };
        match connection
            .send(&self.shared.mix.requests[index], self.shared.timeout)
            .await
        {
            Ok((status, closes)) => {
                if closes {
                    self.connection = None;
                }
                Outcome::Status(status)
            }
            Err(outcome) => {
                self.connection = None;
                outcome
            }
        }
    }

    /// Records one request: `reference` is when its latency starts (the send in closed loop,
    /// the intended time in open loop).
    fn record(
        &mut self,
        index: usize,
        reference: Instant,
        sent_at: Instant,
        finished: Instant,
        outcome: Outcome,
    ) {
        let failed = !matches!(outcome, Outcome::Status(status) if status < 400);
        self.shared.live.count(failed);
        let recorder = &mut self.recorder;
        if reference < self.shared.measure_start {
            recorder.warmup_sent += 1;
            return;
        }
        recorder.sent += 1;
        recorder.per_request[index] += 1;
        if !matches!(outcome, Outcome::Status(status) if status < 500) {
            recorder.per_request_failures[index] += 1;
        }
        if matches!(self.shared.mode, LoadMode::Open { .. }) {
            let lateness = sent_at.saturating_duration_since(reference);
            recorder.lateness.saturating_record(microseconds(lateness));
            if lateness > LATE_THRESHOLD {
                recorder.late += 1;
            }
        }
        let latency = microseconds(finished.saturating_duration_since(reference));
        match outcome {
            Outcome::Status(status) => {
                recorder.responses += 1;
                recorder.latency.saturating_record(latency);
                if status >= 400 {
                    *recorder.errors.by_status.entry(status).or_insert(0) += 1;
                }
            }
            Outcome::Connect => recorder.errors.connect += 1,
            Outcome::Timeout => recorder.errors.timeout += 1,
            Outcome::Broken => recorder.errors.broken += 1,
        }
        if recorder.samples.len() < recorder.sample_limit {
            let offset = reference.saturating_duration_since(self.shared.measure_start);
            recorder.samples.push(Sample {
                offset_milliseconds: u32::try_from(offset.as_millis()).unwrap_or(u32::MAX),
                latency_microseconds: u32::try_from(latency).unwrap_or(u32::MAX),
                status: match outcome {
                    Outcome::Status(status) => status,
                    _ => 0,
                },
            });
        } else {
            recorder.samples_dropped += 1;
        }
    }
}
