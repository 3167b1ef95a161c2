//! The Plinth schema language's front end: source text → syntax tree, and back (the formatter).
//!
//! The language is Prisma's schema language with ZenStack-style access policies. Parsing never
//! fails and never panics: [`parse`] always returns a tree and every problem it met, recovering at
//! the next line or block so one typo does not hide the rest of the file.

pub mod ast;
mod diagnostics;
mod format;
mod lexer;
mod parser;

pub use ast::*;

use plinth_diagnostics::Diagnostic;

/// Parses a schema. Always returns a tree (parts that failed to parse are left out) and every
/// syntax problem found, in source order of discovery. Never panics, whatever the input.
pub fn parse(source: &str) -> (SchemaFile, Vec<Diagnostic>) {
    parser::parse(source)
}

/// Formats a schema canonically (see the `format` module for the layout), keeping every comment.
/// Fails with the parse diagnostics when the schema has syntax errors: a broken file is never
/// rewritten.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse(source);
    if plinth_diagnostics::has_errors(&diagnostics) {
        return Err(diagnostics);
    }
    Ok(format::format_file(source, &file))
}
