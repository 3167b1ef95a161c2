//! Benchmark: compile (parse + check) a generated 500-model schema, against merely parsing it.
//!
//! Run with `cargo bench -p plinth-cli --bench check_500_models` (or `scripts/bench/check-500-models.sh`).
//! It prints figures and asserts nothing: timing belongs in a benchmark, not in a test.

#[path = "support/generated_schema.rs"]
mod generated_schema;

use std::hint::black_box;
use std::time::{Duration, Instant};

const MODELS: usize = 500;
const RUNS: usize = 15;

/// Times `work` over `RUNS` runs after one warm-up; returns the sorted durations.
fn time_runs(mut work: impl FnMut()) -> Vec<Duration> {
    work();
    let mut durations: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    durations.sort();
    durations
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let source = generated_schema::generated_schema(MODELS);
    let (schema, diagnostics) = plinth_model::compile(&source);
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    println!(
        "schema: {MODELS} generated models + User, {} lines, {} KiB; compiled to {} models, {} relations, {} diagnostics ({errors} errors)",
        source.lines().count(),
        source.len() / 1024,
        schema.models.len(),
        schema.relations.len(),
        diagnostics.len()
    );

    let parse = time_runs(|| {
        black_box(plinth_syntax::parse(black_box(&source)));
    });
    let compile = time_runs(|| {
        black_box(plinth_model::compile(black_box(&source)));
    });

    let median = |durations: &[Duration]| durations[durations.len() / 2];
    println!("runs: {RUNS} each, after one warm-up");
    println!(
        "parse (the baseline):  min {:8.2} ms  median {:8.2} ms",
        milliseconds(parse[0]),
        milliseconds(median(&parse))
    );
    println!(
        "compile (parse+check): min {:8.2} ms  median {:8.2} ms",
        milliseconds(compile[0]),
        milliseconds(median(&compile))
    );
    let ratio = median(&compile).as_secs_f64() / median(&parse).as_secs_f64().max(1e-9);
    println!("compile / parse (medians): {ratio:.1}x");
    let verdict = if median(&compile) < Duration::from_secs(1) {
        "under"
    } else {
        "OVER"
    };
    println!("target: compile a 500-model schema well under a second -> median is {verdict} 1 s");
}
