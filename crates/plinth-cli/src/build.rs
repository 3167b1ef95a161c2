//! `plinth build`: write the deliverables of a schema that checks without errors.

use crate::arguments::BuildOptions;
use crate::input::{print_diagnostics, read_schema, Counts};
use crate::Outcome;
use anyhow::Context;
use plinth_diagnostics::has_errors;
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

    // The same OpenAPI text `plinth serve` answers at /openapi.json.
    let outputs = plinth_server::build_outputs(&schema);
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
