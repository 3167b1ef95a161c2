//! Renderers: rustc-style text for terminals and snapshots, and a stable JSON shape for tools.
//!
//! We render text ourselves rather than through ariadne or miette: the output must be byte-stable
//! for snapshot tests and identical with or without a terminal, and the layout we need (one
//! primary span, a few secondary labels, a help line) is a few dozen lines of code.

use crate::{Diagnostic, SourceFile, Span};
use serde::Serialize;
use std::fmt::Write;

/// Renders diagnostics like rustc:
///
/// ```text
/// error[E0101]: unknown type `Strin`
///  --> schema.plinth:3:8
///   |
/// 3 |   name Strin
///   |        ^^^^^ not a known type
///   |
///   = help: did you mean `String`?
/// ```
pub fn render_text(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        render_one(&mut out, file, diagnostic);
        out.push('\n');
    }
    out
}

fn render_one(out: &mut String, file: &SourceFile, diagnostic: &Diagnostic) {
    let start = file.line_col(diagnostic.span.start);
    let mut lines: Vec<usize> = vec![start.line];
    for label in &diagnostic.labels {
        lines.push(file.line_col(label.span.start).line);
    }
    lines.sort_unstable();
    lines.dedup();
    let gutter = lines.last().copied().unwrap_or(1).to_string().len();
    let pad = " ".repeat(gutter);

    let _ = writeln!(
        out,
        "{}[{}]: {}",
        diagnostic.severity.as_str(),
        diagnostic.code,
        diagnostic.message
    );
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        file.name, start.line, start.column
    );
    let _ = writeln!(out, "{pad} |");
    for line in lines {
        let text = file.line_text(line);
        let _ = writeln!(out, "{line:>gutter$} | {}", text.replace('\t', " "));
        if file.line_col(diagnostic.span.start).line == line {
            underline(
                out,
                &pad,
                file,
                diagnostic.span,
                '^',
                diagnostic.span_label.as_deref(),
            );
        }
        for label in &diagnostic.labels {
            if file.line_col(label.span.start).line == line {
                underline(out, &pad, file, label.span, '-', Some(&label.message));
            }
        }
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{pad} = help: {help}");
    }
}

/// Underlines `span` on its first line; a span running past the line end is cut there.
fn underline(
    out: &mut String,
    pad: &str,
    file: &SourceFile,
    span: Span,
    mark: char,
    label: Option<&str>,
) {
    let start = file.line_col(span.start);
    let line_len = file.line_text(start.line).chars().count();
    let end = file.line_col(span.end);
    let end_column = if end.line == start.line {
        end.column
    } else {
        line_len + 1
    };
    let width = end_column.saturating_sub(start.column).max(1);
    let marks: String = std::iter::repeat_n(mark, width).collect();
    let _ = write!(out, "{pad} | {}{marks}", " ".repeat(start.column - 1));
    if let Some(label) = label {
        let _ = write!(out, " {label}");
    }
    out.push('\n');
}

/// The JSON shape of one diagnostic (`plinth check --format json`): positions are 1-based.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub help: Option<String>,
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Converts diagnostics to their JSON shape.
pub fn render_json(file: &SourceFile, diagnostics: &[Diagnostic]) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| {
            let start = file.line_col(d.span.start);
            let end = file.line_col(d.span.end);
            JsonDiagnostic {
                code: d.code,
                severity: d.severity.as_str(),
                message: d.message.clone(),
                file: file.name.clone(),
                line: start.line,
                column: start.column,
                end_line: end.line,
                end_column: end.column,
                help: d.help.clone(),
                labels: d
                    .labels
                    .iter()
                    .map(|l| {
                        let at = file.line_col(l.span.start);
                        JsonLabel {
                            message: l.message.clone(),
                            line: at.line,
                            column: at.column,
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_primary_and_secondary_labels() {
        let source = "model User {\n  id Int @id\n  id String\n}\n";
        let file = SourceFile::new("schema.plinth", source);
        let diagnostic =
            Diagnostic::error("E0103", Span::new(28, 30), "field `id` is defined twice")
                .with_span_label("second definition")
                .with_label(Span::new(15, 17), "first defined here")
                .with_help("rename or remove one of them");
        insta::assert_snapshot!(render_text(&file, &[diagnostic]), @r"
        error[E0103]: field `id` is defined twice
         --> schema.plinth:3:3
          |
        2 |   id Int @id
          |   -- first defined here
        3 |   id String
          |   ^^ second definition
          |
          = help: rename or remove one of them
        ");
    }
}
