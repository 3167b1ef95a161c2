//! The live progress line: once a second, on stderr, only when stderr is a terminal (a CI log or
//! a redirected file gets nothing), rewritten in place with `\r`.

use super::worker::Shared;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters every worker bumps once per request (relaxed: they are only read for display).
#[derive(Default)]
pub(crate) struct LiveCounters {
    completed: AtomicU64,
    failed: AtomicU64,
}

impl LiveCounters {
    pub(crate) fn count(&self, failed: bool) {
        self.completed.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts the progress task when asked for and stderr is a terminal.
pub(crate) fn spawn_if_terminal(
    wanted: bool,
    shared: Arc<Shared>,
) -> Option<tokio::task::JoinHandle<()>> {
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        let mut previous = 0u64;
        loop {
            ticker.tick().await;
            let completed = shared.live.completed.load(Ordering::Relaxed);
            let failed = shared.live.failed.load(Ordering::Relaxed);
            let line = progress_line(&shared, Instant::now(), completed, failed, previous);
            previous = completed;
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K{line}");
            let _ = stderr.flush();
        }
    }))
}

fn progress_line(
    shared: &Shared,
    now: Instant,
    completed: u64,
    failed: u64,
    previous: u64,
) -> String {
    let phase = if now < shared.measure_start {
        "warm-up"
    } else {
        "load"
    };
    let elapsed = now.saturating_duration_since(shared.start).as_secs();
    let total = shared
        .deadline
        .saturating_duration_since(shared.start)
        .as_secs();
    format!(
        "{phase} {elapsed}/{total} s  {completed} requests  {} req/s  {failed} errors",
        completed.saturating_sub(previous)
    )
}

/// Erases the progress line before the report is printed.
pub(crate) fn clear_line() {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[2K");
    let _ = stderr.flush();
}
