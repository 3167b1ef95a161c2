//! The Plinth schema language's front end: source text → syntax tree, and back (the formatter).
//!
//! The language is Prisma's schema language with ZenStack-style access policies. Parsing never
//! fails and never panics: [`parse`] always returns a tree and every problem it met, recovering at
//! the next line or block so one typo does not hide the rest of the file.

pub mod ast;

pub use ast::*;
