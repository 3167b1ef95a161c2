//! Reading a schema file and reporting its diagnostics: shared by every command.
//!
//! Output convention for all commands: diagnostics in text form and errors of the tool itself go
//! to stderr (as rustc does); what the command was asked to produce — a summary line, a JSON
//! document, formatted text, the list of files written — goes to stdout.

use anyhow::Context;
use plinth_diagnostics::{render_text, Diagnostic, Severity, SourceFile};
use std::io::Read;
use std::path::Path;

/// Reads a schema: a path, or `-` for standard input. Any extension is accepted; `.plinth` and
/// `.prisma` are the expected ones. Failing to read is an error of the tool (exit 2).
pub fn read_schema(path: &Path) -> anyhow::Result<SourceFile> {
    let name = path.display().to_string();
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read standard input")?;
        text
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{name}`"))?;
        String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("cannot read `{name}`: the file is not valid UTF-8"))?
    };
    Ok(SourceFile::new(name, text))
}

/// Counts of diagnostics by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
}

impl Counts {
    pub fn of(diagnostics: &[Diagnostic]) -> Counts {
        let count = |severity| {
            diagnostics
                .iter()
                .filter(|d| d.severity == severity)
                .count()
        };
        Counts {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
        }
    }

    /// "1 error, 2 warnings".
    pub fn describe(self) -> String {
        format!(
            "{} {}, {} {}",
            self.errors,
            if self.errors == 1 { "error" } else { "errors" },
            self.warnings,
            if self.warnings == 1 {
                "warning"
            } else {
                "warnings"
            }
        )
    }
}

/// Prints diagnostics in compiler style on stderr.
pub fn print_diagnostics(file: &SourceFile, diagnostics: &[Diagnostic]) {
    if !diagnostics.is_empty() {
        eprint!("{}", render_text(file, diagnostics));
    }
}
