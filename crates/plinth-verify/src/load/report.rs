//! What a load run measured ([`LoadReport`], serialisable for `--json` and the HTML page), built
//! by merging the workers' histograms and samples; a short text summary; and the findings a
//! load run can raise (server errors and broken connections under load).

use super::worker::{new_histogram, Recorder, Sample, Shared, LATE_THRESHOLD};
use super::{LoadMode, LoadPlan};
use crate::findings::{Finding, RecordedRequest, Severity};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;

/// Answers with a 5xx status while under load: the server fails when busy.
pub const LOAD_SERVER_ERRORS: &str = "load-server-errors";
/// Connections refused, reset or timed out while under load.
pub const LOAD_TRANSPORT_ERRORS: &str = "load-transport-errors";

/// Everything a load run measured. Latencies are in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct LoadReport {
    /// `closed` or `open`.
    pub mode: &'static str,
    pub base_url: String,
    pub connections: usize,
    /// The measured window (the warm-up excluded).
    pub duration_seconds: f64,
    pub warmup_seconds: f64,
    /// Requests sent (closed loop) or due (open loop) in the measured window, answered or not.
    pub sent: u64,
    /// Answers of any status among them.
    pub responses: u64,
    /// Answers per second over the measured window.
    pub throughput: f64,
    pub warmup_sent: u64,
    /// Latency of every answer (4xx and 5xx included): from the send in closed loop, from the
    /// intended send time in open loop.
    pub latency: LatencySummary,
    pub errors: ErrorCounts,
    /// Open loop only: the requested rate and how well it was held.
    pub open_loop: Option<OpenLoopStats>,
    /// Width of one point of `timeline`.
    pub timeline_bucket_milliseconds: u64,
    pub timeline: Vec<TimelinePoint>,
    /// False when the run was too long to keep every sample and the timeline stops early.
    pub timeline_complete: bool,
    /// Latency at increasing percentiles, up to the maximum (the last point, 100).
    pub percentiles: Vec<CurvePoint>,
    pub requests: Vec<RequestStats>,
    /// Connections opened during the run (after the server closed one or a request failed).
    pub reconnects: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ErrorCounts {
    /// Transport errors plus 4xx and 5xx answers.
    pub total: u64,
    pub connect: u64,
    pub timeout: u64,
    /// The connection broke or the answer was not HTTP.
    pub broken: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// 4xx and 5xx answers by status.
    pub by_status: BTreeMap<u16, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpenLoopStats {
    pub requested_rate: f64,
    /// Requests sent per second over the measured window.
    pub achieved_rate: f64,
    /// Requests due in the measured window.
    pub intended: u64,
    /// Due but never sent before the run ended: every connection was still busy.
    pub unsent: u64,
    /// Sent more than `late_threshold_milliseconds` after their intended time, because every
    /// connection was busy.
    pub late: u64,
    pub late_threshold_milliseconds: u64,
    /// How long after their intended time requests were sent.
    pub lateness: LatencySummary,
}

/// One slice of the run, by the time requests were sent (closed loop) or due (open loop).
#[derive(Clone, Debug, Serialize)]
pub struct TimelinePoint {
    /// Start of the slice, in seconds from the start of the measured window.
    pub start_seconds: f64,
    pub count: u64,
    pub errors: u64,
    /// Over the answers of the slice (0 when there were none).
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CurvePoint {
    /// 0 to 100.
    pub percentile: f64,
    /// `-log10(1 - percentile / 100)`: 1 at p90, 2 at p99, 3 at p99.9 (the x axis of the plot).
    pub nines: f64,
    pub latency: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct RequestStats {
    pub method: String,
    pub path: String,
    pub weight: u32,
    /// Sent in the measured window.
    pub sent: u64,
    /// 5xx answers and transport errors among them.
    pub failures: u64,
}

pub(crate) fn build(plan: &LoadPlan, shared: &Shared, recorders: Vec<Recorder>) -> LoadReport {
    let mut latency = new_histogram();
    let mut lateness = new_histogram();
    let mut errors = ErrorCounts::default();
    let mut samples: Vec<Sample> = Vec::new();
    let mut timeline_complete = true;
    let mut per_request = vec![0u64; shared.mix.requests.len()];
    let mut per_request_failures = vec![0u64; shared.mix.requests.len()];
    let (mut sent, mut responses, mut warmup_sent, mut late, mut reconnects) = (0, 0, 0, 0, 0);
    for recorder in recorders {
        // Same bounds everywhere, so adding cannot fail; a failure would only lose one worker.
        let _ = latency.add(&recorder.latency);
        let _ = lateness.add(&recorder.lateness);
        errors.connect += recorder.errors.connect;
        errors.timeout += recorder.errors.timeout;
        errors.broken += recorder.errors.broken;
        for (status, count) in recorder.errors.by_status {
            *errors.by_status.entry(status).or_insert(0) += count;
        }
        timeline_complete &= recorder.samples_dropped == 0;
        samples.extend(recorder.samples);
        for (total, count) in per_request.iter_mut().zip(&recorder.per_request) {
            *total += count;
        }
        for (total, count) in per_request_failures
            .iter_mut()
            .zip(&recorder.per_request_failures)
        {
            *total += count;
        }
        sent += recorder.sent;
        responses += recorder.responses;
        warmup_sent += recorder.warmup_sent;
        late += recorder.late;
        reconnects += recorder.reconnects;
    }
    errors.status_4xx = count_statuses(&errors.by_status, 400..500);
    errors.status_5xx = count_statuses(&errors.by_status, 500..600);
    errors.total =
        errors.connect + errors.timeout + errors.broken + errors.status_4xx + errors.status_5xx;

    let duration_seconds = plan.duration.as_secs_f64();
    let open_loop = match plan.mode {
        LoadMode::Closed => None,
        LoadMode::Open { rate_per_second } => {
            let due_before = |seconds: f64| (seconds * rate_per_second).ceil().max(0.0) as u64;
            let warmup_seconds = plan.warmup.as_secs_f64();
            let intended = due_before(warmup_seconds + duration_seconds)
                .saturating_sub(due_before(warmup_seconds));
            Some(OpenLoopStats {
                requested_rate: rate_per_second,
                achieved_rate: sent as f64 / duration_seconds,
                intended,
                unsent: intended.saturating_sub(sent),
                late,
                late_threshold_milliseconds: LATE_THRESHOLD.as_millis() as u64,
                lateness: summarise(&lateness),
            })
        }
    };
    let bucket_milliseconds = bucket_width(duration_seconds);
    LoadReport {
        mode: match plan.mode {
            LoadMode::Closed => "closed",
            LoadMode::Open { .. } => "open",
        },
        base_url: plan.base_url.trim_end_matches('/').to_string(),
        connections: plan.connections,
        duration_seconds,
        warmup_seconds: plan.warmup.as_secs_f64(),
        sent,
        responses,
        throughput: responses as f64 / duration_seconds,
        warmup_sent,
        latency: summarise(&latency),
        errors,
        open_loop,
        timeline_bucket_milliseconds: bucket_milliseconds,
        timeline: timeline(
            samples,
            bucket_milliseconds,
            plan.duration.as_millis() as u64,
        ),
        timeline_complete,
        percentiles: percentile_curve(&latency),
        requests: shared
            .mix
            .planned
            .iter()
            .zip(per_request.iter().zip(&per_request_failures))
            .map(|(planned, (sent, failures))| RequestStats {
                method: planned.method.clone(),
                path: planned.path.clone(),
                weight: planned.weight,
                sent: *sent,
                failures: *failures,
            })
            .collect(),
        reconnects,
    }
}

fn count_statuses(by_status: &BTreeMap<u16, u64>, range: std::ops::Range<u16>) -> u64 {
    by_status.range(range).map(|(_, count)| count).sum()
}

fn summarise(histogram: &Histogram<u64>) -> LatencySummary {
    if histogram.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: histogram.len(),
        min: histogram.min(),
        mean: histogram.mean(),
        stdev: histogram.stdev(),
        p50: histogram.value_at_quantile(0.50),
        p90: histogram.value_at_quantile(0.90),
        p99: histogram.value_at_quantile(0.99),
        p999: histogram.value_at_quantile(0.999),
        max: histogram.max(),
    }
}

/// 100 ms slices for runs up to 30 s, 1 s up to 5 min, then 10 s: a few hundred points at most.
fn bucket_width(duration_seconds: f64) -> u64 {
    if duration_seconds <= 30.0 {
        100
    } else if duration_seconds <= 300.0 {
        1_000
    } else {
        10_000
    }
}

fn timeline(
    samples: Vec<Sample>,
    bucket_milliseconds: u64,
    window_milliseconds: u64,
) -> Vec<TimelinePoint> {
    let buckets = window_milliseconds.div_ceil(bucket_milliseconds).max(1) as usize;
    let mut latencies: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    let mut counts = vec![0u64; buckets];
    let mut errors = vec![0u64; buckets];
    for sample in samples {
        let bucket = (u64::from(sample.offset_milliseconds) / bucket_milliseconds) as usize;
        let bucket = bucket.min(buckets - 1);
        counts[bucket] += 1;
        if sample.status == 0 || sample.status >= 400 {
            errors[bucket] += 1;
        }
        if sample.status != 0 {
            latencies[bucket].push(sample.latency_microseconds);
        }
    }
    latencies
        .into_iter()
        .enumerate()
        .map(|(bucket, mut values)| {
            values.sort_unstable();
            let at = |quantile: f64| -> u64 {
                if values.is_empty() {
                    return 0;
                }
                let rank =
                    ((quantile * values.len() as f64).ceil() as usize).clamp(1, values.len());
                u64::from(values[rank - 1])
            };
            TimelinePoint {
                start_seconds: (bucket as u64 * bucket_milliseconds) as f64 / 1000.0,
                count: counts[bucket],
                errors: errors[bucket],
                p50: at(0.50),
                p99: at(0.99),
                max: values.last().map_or(0, |value| u64::from(*value)),
            }
        })
        .collect()
}

/// Points every tenth of a nine, up to the resolution the sample count supports (six nines at
/// most), then the maximum.
fn percentile_curve(histogram: &Histogram<u64>) -> Vec<CurvePoint> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let highest_nines = (histogram.len() as f64).log10().clamp(1.0, 6.0);
    let mut points = Vec::new();
    let mut step = 0u32;
    loop {
        let nines = f64::from(step) / 10.0;
        if nines > highest_nines + 1e-9 {
            break;
        }
        let quantile = 1.0 - 10f64.powf(-nines);
        points.push(CurvePoint {
            percentile: quantile * 100.0,
            nines,
            latency: histogram.value_at_quantile(quantile),
        });
        step += 1;
    }
    points.push(CurvePoint {
        percentile: 100.0,
        nines: highest_nines,
        latency: histogram.max(),
    });
    points
}

/// Microseconds as milliseconds with two decimals (`1.23 ms`).
pub(crate) fn milliseconds(microseconds: u64) -> String {
    format!("{:.2} ms", microseconds as f64 / 1000.0)
}

/// A few lines for the terminal.
pub fn summary(report: &LoadReport) -> String {
    let mut text = String::new();
    let pacing = match &report.open_loop {
        Some(open) => format!("open loop at {:.0} req/s", open.requested_rate),
        None => "closed loop".to_string(),
    };
    text.push_str(&format!(
        "load: {pacing}, {} connections, {:.1} s",
        report.connections, report.duration_seconds
    ));
    if report.warmup_seconds > 0.0 {
        text.push_str(&format!(
            " (after {:.1} s of warm-up)",
            report.warmup_seconds
        ));
    }
    text.push('\n');
    text.push_str(&format!(
        "  {} requests, {} answers, {:.1} req/s\n",
        report.sent, report.responses, report.throughput
    ));
    let latency = &report.latency;
    text.push_str(&format!(
        "  latency p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
        milliseconds(latency.p50),
        milliseconds(latency.p90),
        milliseconds(latency.p99),
        milliseconds(latency.p999),
        milliseconds(latency.max)
    ));
    if let Some(open) = &report.open_loop {
        text.push_str(&format!(
            "  rate: requested {:.1} req/s, achieved {:.1} req/s; {} of {} sent late (> {} ms, p99 {}), {} unsent\n",
            open.requested_rate,
            open.achieved_rate,
            open.late,
            open.intended,
            open.late_threshold_milliseconds,
            milliseconds(open.lateness.p99),
            open.unsent
        ));
    }
    let errors = &report.errors;
    if errors.total == 0 {
        text.push_str("  errors: none\n");
    } else {
        let statuses: Vec<String> = errors
            .by_status
            .iter()
            .map(|(status, count)| format!("{status}×{count}"))
            .collect();
        text.push_str(&format!(
            "  errors: {} (connect {}, timeout {}, broken {}, 4xx {}, 5xx {}{}{})\n",
            errors.total,
            errors.connect,
            errors.timeout,
            errors.broken,
            errors.status_4xx,
            errors.status_5xx,
            if statuses.is_empty() { "" } else { ": " },
            statuses.join(", ")
        ));
    }
    text
}

/// What a load run reports as findings: 5xx answers and transport errors under load (4xx are
/// the API's business, e.g. rate limits doing their job).
pub fn findings(report: &LoadReport) -> Vec<Finding> {
    let mut found = Vec::new();
    let worst_request = |report: &LoadReport| {
        report
            .requests
            .iter()
            .filter(|request| request.failures > 0)
            .max_by_key(|request| request.failures)
            .map(|request| RecordedRequest {
                method: request.method.clone(),
                url: format!("{}{}", report.base_url, request.path),
                headers: Vec::new(),
                body: None,
            })
    };
    let errors = &report.errors;
    if errors.status_5xx > 0 {
        found.push(Finding {
            rule: LOAD_SERVER_ERRORS,
            severity: Severity::High,
            title: format!(
                "{} of {} requests failed with a 5xx status under load",
                errors.status_5xx, report.sent
            ),
            detail: format!(
                "{} connections, {}: statuses {:?}",
                report.connections,
                report.mode,
                errors.by_status.range(500..600).collect::<Vec<_>>()
            ),
            operation: None,
            request: worst_request(report),
            fix: "Find what fails when the server is busy (pool exhaustion, lock timeouts, \
                  resource limits) in its logs; answer 503 with Retry-After when overloaded."
                .into(),
        });
    }
    let transport = errors.connect + errors.timeout + errors.broken;
    if transport > 0 {
        found.push(Finding {
            rule: LOAD_TRANSPORT_ERRORS,
            severity: Severity::Medium,
            title: format!(
                "{transport} of {} requests got no answer under load",
                report.sent
            ),
            detail: format!(
                "connect errors {}, timeouts {}, broken connections {} ({} connections, {})",
                errors.connect, errors.timeout, errors.broken, report.connections, report.mode
            ),
            operation: None,
            request: worst_request(report),
            fix: "Check the server's connection limits, accept backlog and request timeouts; \
                  a server should queue or refuse with 503, not drop connections."
                .into(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_curve_rises_and_ends_at_the_maximum() {
        let mut histogram = new_histogram();
        for value in 1..=10_000u64 {
            histogram.saturating_record(value);
        }
        let curve = percentile_curve(&histogram);
        assert_eq!(curve.first().map(|point| point.nines), Some(0.0));
        let last = curve.last().copied().expect("points");
        // HDR histograms report a bucket's highest equivalent value (3 significant digits).
        assert_eq!(last.percentile, 100.0);
        assert!((10_000..=10_010).contains(&last.latency), "{last:?}");
        assert!(curve
            .windows(2)
            .all(|pair| pair[0].latency <= pair[1].latency));
        let p99 = curve.iter().find(|point| (point.nines - 2.0).abs() < 1e-9);
        assert!(p99.is_some_and(|point| (9_850..=9_950).contains(&point.latency)));
    }

    #[test]
    fn the_timeline_puts_each_sample_in_its_slice() {
        let sample = |offset, latency, status| Sample {
            offset_milliseconds: offset,
            latency_microseconds: latency,
            status,
        };
        let points = timeline(
            vec![
                sample(5, 100, 200),
                sample(50, 300, 200),
                sample(150, 9_000, 500),
                sample(160, 0, 0),
                sample(999_999, 7, 200),
            ],
            100,
            300,
        );
        assert_eq!(points.len(), 3);
        assert_eq!(
            (points[0].count, points[0].p50, points[0].max),
            (2, 100, 300)
        );
        assert_eq!(
            (points[1].count, points[1].errors, points[1].max),
            (2, 2, 9_000)
        );
        // Late completions past the window land in the last slice rather than vanishing.
        assert_eq!((points[2].count, points[2].max), (1, 7));
    }
}
