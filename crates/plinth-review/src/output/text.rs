//! Compiler-style text: each finding with its source line, then a summary line.

use crate::Report;
use plinth_diagnostics::{Diagnostic, Label};
use std::fmt::Write;

/// Renders every finding like rustc (`warning[rule-id]: message`, the source line underlined,
/// `= help:`), related places in other files as `= note:` lines, then a one-line summary.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let files = &report.workspace.files;
    for finding in &report.findings {
        let file = &files[finding.file];
        let mut diagnostic = Diagnostic::new(
            finding.severity,
            finding.rule,
            finding.span,
            finding.message.clone(),
        );
        let mut notes = Vec::new();
        for related in &finding.related {
            if related.file == finding.file {
                diagnostic.labels.push(Label {
                    span: related.span,
                    message: related.message.clone(),
                });
            } else {
                let other = &files[related.file];
                let at = other.line_col(related.span.start);
                notes.push(format!(
                    "{}: {}:{}:{}",
                    related.message, other.name, at.line, at.column
                ));
            }
        }
        let rendered = plinth_diagnostics::render_text(file, &[diagnostic]);
        out.push_str(rendered.trim_end_matches('\n'));
        out.push('\n');
        let pad = " ".repeat(gutter(&rendered));
        for note in notes {
            let _ = writeln!(out, "{pad} = note: {note}");
        }
        if !finding.help.is_empty() {
            let _ = writeln!(out, "{pad} = help: {}", finding.help);
        }
        let _ = writeln!(
            out,
            "{pad} = docs: {}",
            crate::registry::doc_path(finding.rule)
        );
        out.push('\n');
    }
    for skipped in &report.workspace.skipped {
        let _ = writeln!(out, "skipped {}: {}", skipped.path, skipped.reason);
    }
    let _ = writeln!(out, "{}", summary(report));
    out
}

/// `reviewed 3 files: 2 errors, 5 warnings, 1 note (1 suppressed)`
pub fn summary(report: &Report) -> String {
    use plinth_diagnostics::Severity;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let mut line = format!(
        "reviewed {}: {}, {}, {}",
        plural(report.workspace.files.len(), "file"),
        plural(report.count(Severity::Error), "error"),
        plural(report.count(Severity::Warning), "warning"),
        plural(report.count(Severity::Note), "note"),
    );
    if report.suppressed > 0 {
        let _ = write!(line, " ({} suppressed)", report.suppressed);
    }
    line
}

/// Width of the line-number gutter in a rendered diagnostic (the spaces before ` |`).
fn gutter(rendered: &str) -> usize {
    rendered
        .lines()
        .nth(1)
        .and_then(|line| line.find("-->"))
        .unwrap_or(1)
}
