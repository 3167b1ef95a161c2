//! The JSON report: one stable document, `"format": "plinth-verify/1"`.
//!
//! ```text
//! { "format": "plinth-verify/1", "target", "openapi", "started", "duration_seconds",
//!   "summary": { "findings", "by_severity": { "critical", "high", "medium", "low", "info" },
//!                "operations_tested", "requests_sent", "checks" },
//!   "findings": [ { "rule", "severity", "title", "detail", "operation", "fix",
//!                   "request": { "method", "url", "headers": [[name, value]], "body" } | null,
//!                   "curl": string | null } ],
//!   "checks": [ { "rule", "operation" } ],
//!   "skipped": [ { "operation", "reason" } ],
//!   "load": { … the load report … } | null }
//! ```
//!
//! Findings are sorted most severe first, then by rule and operation.

use super::Report;
use serde_json::{json, Value};

/// The report as a JSON value.
pub fn render_value(report: &Report) -> Value {
    let by_severity: serde_json::Map<String, Value> = report
        .counts()
        .into_iter()
        .rev()
        .map(|(severity, count)| (severity.as_str().to_string(), json!(count)))
        .collect();
    let findings: Vec<Value> = report
        .sorted_findings()
        .into_iter()
        .map(|finding| {
            json!({
                "rule": finding.rule,
                "severity": finding.severity.as_str(),
                "title": finding.title,
                "detail": finding.detail,
                "operation": finding.operation,
                "fix": finding.fix,
                "request": finding.request.as_ref().map(|request| json!({
                    "method": request.method,
                    "url": request.url,
                    "headers": request.headers.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
                    "body": request.body,
                })),
                "curl": finding.request.as_ref().map(|request| request.curl()),
            })
        })
        .collect();
    json!({
        "format": "plinth-verify/1",
        "target": report.target,
        "openapi": report.openapi,
        "started": report.started,
        "duration_seconds": (report.duration.as_secs_f64() * 1000.0).round() / 1000.0,
        "summary": {
            "findings": report.findings.len(),
            "by_severity": by_severity,
            "operations_tested": report.operations_tested,
            "requests_sent": report.requests_sent,
            "checks": report.checks.len(),
        },
        "findings": findings,
        "checks": report.checks.iter().map(|check| json!({"rule": check.rule, "operation": check.operation})).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(operation, reason)| json!({"operation": operation, "reason": reason})).collect::<Vec<_>>(),
        "load": report.load,
    })
}

/// The report as pretty-printed JSON text, with a final newline.
pub fn render(report: &Report) -> String {
    let mut text =
        serde_json::to_string_pretty(&render_value(report)).unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
