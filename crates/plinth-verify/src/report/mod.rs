//! What a run found, and its four renderings: terminal text ([`text`]), JSON ([`json`]), JUnit
//! XML for CI ([`junit`]) and one self-contained HTML page ([`html`]).

pub mod html;
pub mod json;
pub mod junit;
pub mod text;

use crate::contract::Check;
use crate::findings::{Finding, Severity};
use std::collections::BTreeMap;

/// Everything a run produced.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The API's base URL.
    pub target: String,
    /// Where the OpenAPI document came from.
    pub openapi: String,
    /// When the run started, RFC 3339 (UTC).
    pub started: String,
    pub duration: std::time::Duration,
    pub findings: Vec<Finding>,
    /// Every (rule, operation) pair checked, found or not (JUnit test cases).
    pub checks: Vec<Check>,
    pub operations_tested: usize,
    pub requests_sent: usize,
    /// Operations not exercised, and why.
    pub skipped: Vec<(String, String)>,
    /// The load test's results as JSON (the load module's report), when one ran.
    pub load: Option<serde_json::Value>,
    /// The load test's few lines of text for the terminal.
    pub load_text: Option<String>,
    /// Latency plots for the HTML page: (title, a self-contained `<svg>` element).
    pub plots: Vec<(String, String)>,
}

impl Report {
    /// Findings sorted most severe first, then by rule and operation (stable output).
    pub fn sorted_findings(&self) -> Vec<&Finding> {
        let mut findings: Vec<&Finding> = self.findings.iter().collect();
        findings.sort_by(|left, right| {
            right
                .severity
                .cmp(&left.severity)
                .then_with(|| left.rule.cmp(right.rule))
                .then_with(|| left.operation.cmp(&right.operation))
                .then_with(|| left.title.cmp(&right.title))
        });
        findings
    }

    /// How many findings of each severity (every severity present, zeros included).
    pub fn counts(&self) -> BTreeMap<Severity, usize> {
        let mut counts: BTreeMap<Severity, usize> = [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
        .into_iter()
        .map(|severity| (severity, 0))
        .collect();
        for finding in &self.findings {
            *counts.entry(finding.severity).or_insert(0) += 1;
        }
        counts
    }

    /// Whether any finding is at or above `threshold` (the exit code's rule).
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings
            .iter()
            .any(|finding| finding.severity >= threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::RecordedRequest;

    fn sample() -> Report {
        let finding = |rule: &'static str, severity, operation: &str| Finding {
            rule,
            severity,
            title: "a <bad> \"thing\" & more".into(),
            detail: "status 500: \u{1}</failure>]]>".into(),
            operation: Some(operation.into()),
            request: Some(RecordedRequest {
                method: "POST".into(),
                url: "http://127.0.0.1:1/api/v1/tasks".into(),
                headers: vec![("content-type".into(), "application/json".into())],
                body: Some(r#"{"title":"it's <b>"}"#.into()),
            }),
            fix: "validate".into(),
        };
        Report {
            target: "http://127.0.0.1:1".into(),
            openapi: "http://127.0.0.1:1/openapi.json".into(),
            started: "2026-01-01T00:00:00Z".into(),
            duration: std::time::Duration::from_millis(1500),
            findings: vec![
                finding("contract-undocumented-status", Severity::Medium, "GET /a"),
                finding(
                    "contract-server-error",
                    Severity::High,
                    "POST /api/v1/tasks",
                ),
            ],
            checks: vec![
                Check {
                    rule: "contract-server-error".into(),
                    operation: "POST /api/v1/tasks".into(),
                },
                Check {
                    rule: "contract-server-error".into(),
                    operation: "GET /a".into(),
                },
            ],
            operations_tested: 2,
            requests_sent: 9,
            skipped: vec![("GET /events".into(), "an event stream".into())],
            load: None,
            load_text: None,
            plots: vec![(
                "Latency".into(),
                "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into(),
            )],
        }
    }

    #[test]
    fn fail_on_compares_severities() {
        let report = sample();
        assert!(report.fails(Severity::High));
        assert!(report.fails(Severity::Medium));
        assert!(!report.fails(Severity::Critical));
        assert_eq!(report.counts()[&Severity::High], 1);
        assert_eq!(report.sorted_findings()[0].severity, Severity::High);
    }

    #[test]
    fn json_has_the_documented_shape() {
        let value = json::render_value(&sample());
        assert_eq!(value["format"], "plinth-verify/1");
        assert_eq!(value["summary"]["findings"], 2);
        assert_eq!(value["summary"]["by_severity"]["high"], 1);
        assert_eq!(value["findings"][0]["rule"], "contract-server-error");
        assert_eq!(value["findings"][0]["severity"], "high");
        assert!(value["findings"][0]["curl"]
            .as_str()
            .is_some_and(|curl| curl.starts_with("curl ")));
        assert_eq!(
            value["findings"][0]["request"]["headers"][0][0],
            "content-type"
        );
        assert_eq!(value["skipped"][0]["operation"], "GET /events");
        assert!(value["load"].is_null());
        assert!(serde_json::from_str::<serde_json::Value>(&json::render(&sample())).is_ok());
    }

    #[test]
    fn junit_has_a_case_per_check_and_escapes_everything() {
        let text = junit::render(&sample());
        assert!(text.contains("tests=\"3\" failures=\"2\""), "{text}");
        assert!(text.contains("<testcase classname=\"contract-server-error\" name=\"GET /a\"/>"));
        assert!(text.contains("message=\"a &lt;bad&gt; &quot;thing&quot; &amp; more\""));
        assert!(
            text.contains("status 500: &lt;/failure&gt;]]&gt;"),
            "control characters dropped, tags escaped"
        );
        assert!(!text.contains('\u{1}'));
        assert_eq!(text.matches("<testcase").count(), 3);
        assert_eq!(text.matches("</testcase>").count(), 2);
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let text = html::render(&sample());
        assert!(text.starts_with("<!DOCTYPE html>"));
        assert!(
            !text.contains("<script") && !text.contains("http-equiv") && !text.contains("<link")
        );
        assert!(text.contains("a &lt;bad&gt; &quot;thing&quot; &amp; more"));
        assert!(!text.contains("<b>\"}"), "request bodies are escaped");
        assert!(text.contains("<svg xmlns") && !text.contains("<?xml"));
        // The plot draws its own title: no caption repeats it.
        assert!(!text.contains("<figcaption") && text.contains("aria-label=\"Latency\""));
        assert!(text.contains("GET /events"));
    }

    #[test]
    fn text_groups_by_severity_and_colours_only_when_asked() {
        let plain = text::render(&sample(), false);
        let high = plain.find("HIGH (1)").expect("a high heading");
        let medium = plain.find("MEDIUM (1)").expect("a medium heading");
        assert!(high < medium);
        assert!(plain.contains("curl -g -i -X POST"));
        assert!(!plain.contains('\x1b'));
        assert!(text::render(&sample(), true).contains('\x1b'));
        assert!(plain.contains("summary: 2 finding(s)"));
    }
}
