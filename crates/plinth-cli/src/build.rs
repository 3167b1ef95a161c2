//! `plinth build`: write the deliverables of a schema that checks without errors.

use crate::arguments::BuildOptions;
use crate::input::{print_diagnostics, read_schema, Counts};
use crate::Outcome;
use anyhow::Context;
use plinth_diagnostics::has_errors;
use plinth_sql::Dialect;
use std::path::Path;

pub fn run(options: &BuildOptions) -> anyhow::Result<Outcome> {
    let file = read_schema(&options.file)?;
    let (schema, diagnostics) = plinth_model::compile(&file.text);
    print_diagnostics(&file, &diagnostics);
    if has_errors(&diagnostics) {
        eprintln!(
            "not built {}: {}",
            file.name,
            Counts::of(&diagnostics).describe()
        );
        return Ok(Outcome::Findings);
    }

    // The same text `plinth serve` answers at /openapi.json.
    let openapi = plinth_server::openapi_text(&schema);
    // Generate everything before writing anything, so a failure leaves no half-written build.
    let outputs = [
        (
            "sqlite/0001_init.sql",
            plinth_sql::create_schema(&schema, Dialect::Sqlite),
        ),
        (
            "postgres/0001_init.sql",
            plinth_sql::create_schema(&schema, Dialect::Postgres),
        ),
        ("openapi.json", openapi),
        ("erd.mmd", plinth_docs::erd(&schema)),
        ("API.md", plinth_docs::api_reference(&schema)),
    ];
    for (relative, contents) in &outputs {
        let path = options.out.join(relative);
        write_file(&path, contents)?;
        println!("wrote {}", path.display());
    }
    Ok(Outcome::Clean)
}

fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("cannot write `{}`", path.display()))
}
