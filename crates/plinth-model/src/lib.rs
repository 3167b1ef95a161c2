//! Plinth's schema checker: syntax tree → validated [`Schema`].
//!
//! Checking does no IO and cannot fail: [`check`] always returns a best-effort schema and every
//! problem it found, so one run reports everything.

pub mod schema;

pub use schema::*;
