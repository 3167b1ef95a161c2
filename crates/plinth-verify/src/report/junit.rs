//! JUnit XML for CI: one test suite per rule, one test case per (rule, operation) checked, a
//! `<failure>` per finding (findings with no matching check get a test case of their own).

use super::Report;
use crate::findings::Finding;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    // rule → operation → findings.
    let mut cases: BTreeMap<String, BTreeMap<String, Vec<&Finding>>> = BTreeMap::new();
    for check in &report.checks {
        cases
            .entry(check.rule.clone())
            .or_default()
            .entry(check.operation.clone())
            .or_default();
    }
    for finding in &report.findings {
        let operation = finding
            .operation
            .clone()
            .unwrap_or_else(|| "(whole API)".into());
        cases
            .entry(finding.rule.to_string())
            .or_default()
            .entry(operation)
            .or_default()
            .push(finding);
    }
    let total: usize = cases.values().map(BTreeMap::len).sum();
    let failed: usize = cases
        .values()
        .flat_map(BTreeMap::values)
        .filter(|findings| !findings.is_empty())
        .count();
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"plinth verify {}\" tests=\"{total}\" failures=\"{failed}\" errors=\"0\" time=\"{:.3}\">",
        escape(&report.target),
        report.duration.as_secs_f64()
    );
    for (rule, operations) in &cases {
        let suite_failures = operations
            .values()
            .filter(|findings| !findings.is_empty())
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{suite_failures}\" errors=\"0\" skipped=\"0\">",
            escape(rule),
            operations.len()
        );
        for (operation, findings) in operations {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                escape(rule),
                escape(operation)
            );
            if findings.is_empty() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            for finding in findings {
                let mut body = format!("{}\n\nfix: {}", finding.detail, finding.fix);
                if let Some(request) = &finding.request {
                    body.push_str("\n\n");
                    body.push_str(&request.curl());
                }
                let _ = writeln!(
                    out,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    finding.severity.as_str(),
                    escape(&finding.title),
                    escape(&body)
                );
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text safe inside XML attributes and elements; characters XML 1.0 forbids are dropped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(character),
            character if (character as u32) < 0x20 => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            character => out.push(character),
        }
    }
    out
}
