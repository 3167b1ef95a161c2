//! Schema migrations for Plinth: `plinth migrate diff | up | down | status` as a library.
//!
//! # On-disk format
//!
//! A migrations folder holds one folder per migration, `<version>_<name>/`, where `version` is a
//! zero-padded sequence (`0001`, `0002`, …) so that folders sort in the order they apply:
//!
//! ```text
//! migrations/
//!   0001_init/
//!     migration.json   version, name, the dialects it was written for
//!     schema.plinth    the full schema source this migration leads to (the snapshot)
//!     up.sql           for one dialect, or sqlite/up.sql + postgres/up.sql with --dialect all
//!     down.sql
//! ```
//!
//! The first migration is the schema's full `create_schema`; later ones come from the planner
//! (`plan`), which compares the previous snapshot with the new schema.
//!
//! # Transactions
//!
//! Each migration runs in one transaction, together with its row in the history table
//! `_plinth_migrations` (version, name, checksum = SHA-256 of the up.sql as applied, applied_at,
//! duration_ms). A statement that a database refuses to run inside a transaction (PostgreSQL's
//! `CREATE INDEX CONCURRENTLY`) is preceded by a line comment [`NO_TRANSACTION_MARKER`]
//! (`-- plinth:no-transaction`); the marker covers exactly the one statement after it (up to the
//! first line ending in `;`), which then runs on its own, outside any transaction, and the
//! statements around it run in transactions of their own. See [`script`].
//!
//! # Agreement with `plinth serve`
//!
//! After `up` or `down`, `_plinth_meta.schema_fingerprint` holds [`schema_fingerprint`] of the
//! schema the database now has (the latest applied snapshot), which is the value `plinth serve`
//! computes for that schema, so serve starts on a migrated database.

pub mod author;
pub mod catalogue;
pub mod database;
pub mod diff;
pub mod error;
pub mod fingerprint;
pub mod folder;
pub mod history;
pub mod plan;
pub mod runner;
pub mod script;

pub use error::MigrateError;
pub use fingerprint::schema_fingerprint;
pub use script::NO_TRANSACTION_MARKER;
