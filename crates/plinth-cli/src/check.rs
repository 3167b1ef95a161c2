//! `plinth check`: compile a schema and report every diagnostic.

use crate::arguments::{CheckOptions, OutputFormat};
use crate::input::{print_diagnostics, read_schema, Counts};
use crate::Outcome;
use plinth_diagnostics::{has_errors, render_json};

pub fn run(options: &CheckOptions) -> anyhow::Result<Outcome> {
    let file = read_schema(&options.file)?;
    let (_schema, diagnostics) = plinth_model::compile(&file.text);
    let counts = Counts::of(&diagnostics);
    match options.format {
        OutputFormat::Text => {
            print_diagnostics(&file, &diagnostics);
            println!("checked {}: {}", file.name, counts.describe());
        }
        OutputFormat::Json => {
            let document = serde_json::json!({
                "file": file.name,
                "diagnostics": render_json(&file, &diagnostics),
                "errors": counts.errors,
                "warnings": counts.warnings,
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
        }
    }
    Ok(if has_errors(&diagnostics) {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
