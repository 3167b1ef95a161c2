//! Drives the load generator by hand, for benchmarks before `plinth verify --load` existed:
//! `cargo run --release -p plinth-verify --example load -- URL PATHS_FILE TOKEN CONNECTIONS SECONDS [RATE]`
//! sends `GET URL/PATH` for every line of PATHS_FILE (equal weights) and prints the report as
//! JSON on stdout and the summary on stderr.

use plinth_verify::load::{self, LoadPlan, PlannedRequest};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.len() < 5 {
        eprintln!("usage: load URL PATHS_FILE TOKEN CONNECTIONS SECONDS [RATE]");
        std::process::exit(2);
    }
    let paths = std::fs::read_to_string(&arguments[1]).unwrap_or_default();
    let requests: Vec<PlannedRequest> = paths
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|path| PlannedRequest::get(path.trim()).bearer(&arguments[2]))
        .collect();
    let connections = arguments[3].parse().unwrap_or(64);
    let seconds: f64 = arguments[4].parse().unwrap_or(10.0);
    let mut plan = LoadPlan::new(
        arguments[0].clone(),
        requests,
        connections,
        Duration::from_secs_f64(seconds),
    )
    .warmup(Duration::from_secs(1));
    if let Some(rate) = arguments.get(5).and_then(|rate| rate.parse().ok()) {
        plan = plan.open_loop(rate);
    }
    match load::run(&plan).await {
        Ok(report) => {
            eprint!("{}", load::summary(&report));
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(2);
        }
    }
}
