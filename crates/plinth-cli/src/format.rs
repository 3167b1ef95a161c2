//! `plinth fmt`: rewrite schemas in canonical form, or (`--check`) list those that are not.

use crate::arguments::FormatOptions;
use crate::input::{print_diagnostics, read_schema};
use crate::Outcome;
use anyhow::Context;
use std::path::Path;

pub fn run(options: &FormatOptions) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::Clean;
    for path in &options.files {
        if format_one(path, options)? == Outcome::Findings {
            outcome = Outcome::Findings;
        }
    }
    Ok(outcome)
}

fn format_one(path: &Path, options: &FormatOptions) -> anyhow::Result<Outcome> {
    let file = read_schema(path)?;
    let formatted = match plinth_syntax::format(&file.text) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            // A file that does not parse is left untouched: formatting it could lose text.
            print_diagnostics(&file, &diagnostics);
            eprintln!("not formatted {}: it has syntax errors", file.name);
            return Ok(Outcome::Findings);
        }
    };
    if options.check {
        if formatted == file.text {
            return Ok(Outcome::Clean);
        }
        println!("would reformat {}", file.name);
        return Ok(Outcome::Findings);
    }
    if options.stdout || path.as_os_str() == "-" {
        print!("{formatted}");
        return Ok(Outcome::Clean);
    }
    if formatted == file.text {
        return Ok(Outcome::Clean);
    }
    std::fs::write(path, formatted).with_context(|| format!("cannot write `{}`", file.name))?;
    println!("formatted {}", file.name);
    Ok(Outcome::Clean)
}
