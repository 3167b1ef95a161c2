//! The HTML report: one self-contained page (inline CSS, no scripts, nothing fetched) with the
//! summary, every finding (rule, severity, operation, what was seen, the fix, the curl command)
//! and the load test's latency plots.

use super::Report;
use crate::findings::Severity;
use std::fmt::Write;

const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1d232a; --muted: #5b6671; --line: #dde2e7; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; background: #fff; }
header { padding: 24px 32px; border-bottom: 1px solid var(--line); background: var(--bg); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: var(--muted); }
main { padding: 16px 32px 48px; max-width: 1200px; }
.counts { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.count { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 110px; }
.count b { display: block; font-size: 22px; }
.severity { display: inline-block; border-radius: 4px; padding: 1px 8px; color: #fff; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.critical { background: #8e24aa; } .high { background: #c62828; } .medium { background: #ef6c00; }
.low { background: #00838f; } .info { background: #1565c0; }
.finding { border: 1px solid var(--line); border-radius: 8px; margin: 12px 0; padding: 12px 16px; }
.finding h3 { margin: 6px 0; font-size: 16px; }
.rule { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; color: var(--muted); margin-left: 8px; }
.operation { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; font-size: 12.5px; }
.fix { margin: 6px 0; }
.none { color: #2e7d32; font-weight: 600; }
.plot { margin: 16px 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.plot svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border-bottom: 1px solid var(--line); padding: 4px 12px 4px 0; text-align: left; font-size: 14px; }
"#;

/// The page.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>plinth verify — {}</title>",
        escape(&report.target)
    );
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(
        out,
        "<header><h1>plinth verify</h1><p>{} · OpenAPI {} · started {} · {:.1}s · {} operations · {} requests</p></header>",
        escape(&report.target),
        escape(&report.openapi),
        escape(&report.started),
        report.duration.as_secs_f64(),
        report.operations_tested,
        report.requests_sent
    );
    out.push_str("<main>\n<section id=\"summary\">\n<div class=\"counts\">\n");
    for (severity, count) in report.counts().into_iter().rev() {
        let _ = writeln!(
            out,
            "<div class=\"count\"><span class=\"severity {0}\">{0}</span><b>{count}</b></div>",
            severity.as_str()
        );
    }
    out.push_str("</div>\n</section>\n<section id=\"findings\">\n<h2>Findings</h2>\n");
    let findings = report.sorted_findings();
    if findings.is_empty() {
        out.push_str("<p class=\"none\">No findings: every check passed.</p>\n");
    }
    for finding in findings {
        out.push_str("<article class=\"finding\">\n");
        let _ = writeln!(
            out,
            "<div><span class=\"severity {0}\">{0}</span><span class=\"rule\">{1}</span> <span class=\"operation\">{2}</span></div>",
            severity_class(finding.severity),
            escape(finding.rule),
            escape(finding.operation.as_deref().unwrap_or(""))
        );
        let _ = writeln!(out, "<h3>{}</h3>", escape(&finding.title));
        if !finding.detail.is_empty() {
            let _ = writeln!(out, "<pre>{}</pre>", escape(&finding.detail));
        }
        let _ = writeln!(
            out,
            "<p class=\"fix\"><b>Fix:</b> {}</p>",
            escape(&finding.fix)
        );
        if let Some(request) = &finding.request {
            let _ = writeln!(out, "<pre class=\"curl\">{}</pre>", escape(&request.curl()));
        }
        out.push_str("</article>\n");
    }
    out.push_str("</section>\n");
    if report.load.is_some() || !report.plots.is_empty() || report.load_text.is_some() {
        out.push_str("<section id=\"load\">\n<h2>Load</h2>\n");
        if let Some(text) = &report.load_text {
            let _ = writeln!(out, "<pre>{}</pre>", escape(text));
        }
        for (title, svg) in &report.plots {
            // The plots are SVG this crate drew: inserted as markup, not text. Each draws its
            // own heading, so the figure only names it for assistive technology.
            let _ = writeln!(
                out,
                "<figure class=\"plot\" aria-label=\"{}\">\n{}\n</figure>",
                escape(title),
                strip_xml_declaration(svg)
            );
        }
        out.push_str("</section>\n");
    }
    if !report.skipped.is_empty() {
        out.push_str("<section id=\"skipped\">\n<h2>Not exercised</h2>\n<table>\n<tr><th>Operation</th><th>Why</th></tr>\n");
        for (operation, reason) in &report.skipped {
            let _ = writeln!(
                out,
                "<tr><td class=\"operation\">{}</td><td>{}</td></tr>",
                escape(operation),
                escape(reason)
            );
        }
        out.push_str("</table>\n</section>\n");
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn severity_class(severity: Severity) -> &'static str {
    severity.as_str()
}

/// An inline `<svg>` must not carry an `<?xml …?>` declaration.
fn strip_xml_declaration(svg: &str) -> &str {
    let trimmed = svg.trim_start();
    if trimmed.starts_with("<?xml") {
        if let Some(end) = trimmed.find("?>") {
            return trimmed[end + 2..].trim_start();
        }
    }
    trimmed
}

/// Text safe in HTML elements and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            character => out.push(character),
        }
    }
    out
}
