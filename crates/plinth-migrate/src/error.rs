//! Why a migration command could not do its work (as opposed to findings such as drift).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot read or write `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the migrations folder is malformed: {0}")]
    Folder(String),
    #[error("the schema snapshot of migration {migration} has errors:\n{diagnostics}")]
    Snapshot {
        migration: String,
        diagnostics: String,
    },
    #[error("migration {migration} has no SQL for {dialect}: {detail}")]
    MissingDialect {
        migration: String,
        dialect: &'static str,
        detail: String,
    },
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("migration {migration} failed: {detail}")]
    Apply { migration: String, detail: String },
    #[error("{0}")]
    Planner(String),
}

impl MigrateError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> MigrateError {
        MigrateError::Io {
            path: path.into(),
            source,
        }
    }
}
