//! The terminal summary: findings grouped by severity, most severe first, each with its rule,
//! operation, what was seen, what to do and the curl command that shows it. Colour only when
//! asked (the CLI asks when stdout is a terminal).

use super::Report;
use crate::findings::Severity;
use std::fmt::Write;

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";

fn colour_of(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "\x1b[1;35m",
        Severity::High => "\x1b[1;31m",
        Severity::Medium => "\x1b[1;33m",
        Severity::Low => "\x1b[1;36m",
        Severity::Info => "\x1b[1;34m",
    }
}

/// The summary as text; ANSI colours when `colour`.
pub fn render(report: &Report, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}: {} operations, {} requests in {:.1}s",
        paint(BOLD, "plinth verify"),
        report.target,
        report.operations_tested,
        report.requests_sent,
        report.duration.as_secs_f64()
    );
    let findings = report.sorted_findings();
    let mut current: Option<Severity> = None;
    for finding in findings {
        if current != Some(finding.severity) {
            current = Some(finding.severity);
            let count = report
                .findings
                .iter()
                .filter(|other| other.severity == finding.severity)
                .count();
            let heading = format!(
                "{} ({count})",
                finding.severity.as_str().to_ascii_uppercase()
            );
            let _ = writeln!(out, "\n{}", paint(colour_of(finding.severity), &heading));
        }
        let operation = finding.operation.as_deref().unwrap_or("");
        let _ = writeln!(out, "  {}  {}", paint(BOLD, finding.rule), operation);
        let _ = writeln!(out, "    {}", finding.title);
        if !finding.detail.is_empty() {
            let _ = writeln!(out, "    {}", paint(DIM, &one_line(&finding.detail, 400)));
        }
        let _ = writeln!(out, "    fix: {}", finding.fix);
        if let Some(request) = &finding.request {
            let _ = writeln!(out, "    {}", paint(DIM, &one_line(&request.curl(), 600)));
        }
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(out, "\nskipped {} operation(s):", report.skipped.len());
        for (operation, reason) in report.skipped.iter().take(20) {
            let _ = writeln!(out, "  {operation}: {reason}");
        }
    }
    if let Some(load) = &report.load_text {
        let _ = writeln!(out, "\n{}", paint(BOLD, "load"));
        for line in load.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let counts = report.counts();
    let parts: Vec<String> = counts
        .iter()
        .rev()
        .map(|(severity, count)| format!("{count} {}", severity.as_str()))
        .collect();
    let _ = writeln!(
        out,
        "\n{}: {} finding(s) ({})",
        paint(BOLD, "summary"),
        report.findings.len(),
        parts.join(", ")
    );
    out
}

/// `text` on one line (newlines as spaces), cut at `limit` characters.
fn one_line(text: &str, limit: usize) -> String {
    let flat: String = text
        .chars()
        .map(|character| {
            if character == '\n' || character == '\r' {
                ' '
            } else {
                character
            }
        })
        .collect();
    crate::contract::truncate(&flat, limit)
}
