//! SQL for a Plinth model: the initial migration (DDL) for SQLite and PostgreSQL.
//!
//! [`events`] holds the outbox table and capture triggers behind realtime events.
//!
//! [`create_schema`] writes `0001_init.sql` for a dialect; [`quote_ident`] and [`column_type`]
//! are the pieces the server reuses so that its queries agree with the tables.
//!
//! Type mapping in brief (details in [`types`]): PostgreSQL follows Prisma's defaults and native
//! types; SQLite uses `DATETIME` columns holding ISO-8601 text, `DECIMAL` with numeric affinity,
//! JSON and scalar lists as checked `TEXT`, enums and booleans guarded by CHECKs.

mod checks;
mod ddl;
pub mod events;
mod literals;
mod names;
pub mod query;
pub mod types;

pub use ddl::create_schema;
pub use literals::{is_numeric_literal, string_literal};
pub use names::{constraint_name, quote_ident, POSTGRES_MAX_IDENTIFIER_BYTES};
pub use types::column_type;

/// The SQL databases Plinth generates DDL for. Both are always generated, whatever the
/// datasource's provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    /// For messages and comments: `SQLite`, `PostgreSQL`.
    pub fn display_name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }

    /// The folder `plinth build` writes this dialect's migrations to: `sqlite`, `postgres`.
    pub fn directory_name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}
