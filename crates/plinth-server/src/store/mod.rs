//! Storage: one [`Store`] over SQLite or PostgreSQL that executes the query builder's
//! statements and returns rows as typed [`SqlValue`]s, the same for both databases.
//!
//! Multi-statement work (a create with its policy check, an update with its `If-Match` check, a
//! refresh-token rotation) is written once, as synchronous code over the [`Executor`] trait, and
//! run on tokio's blocking threads: SQLite is synchronous anyway, and for PostgreSQL the executor
//! drives the async client with `Handle::block_on`, which a blocking thread may do. Single
//! reads on PostgreSQL take an async fast path.

pub mod codec;
mod postgres;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::error::ApiError;
use crate::sql::{Decode, Dialect, Projection, SqlValue, Statement};

/// A decoded row: one value per projected column, in projection order.
pub type Row = Vec<SqlValue>;

/// Runs statements on one connection (inside a transaction for writes).
pub trait Executor {
    fn dialect(&self) -> Dialect;
    /// Runs a query and decodes each column with `decode` (missing entries decode as text).
    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: &[Decode],
    ) -> Result<Vec<Row>, StoreError>;
    /// Runs a statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Runs several `;`-separated statements without parameters (DDL).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
}

/// Convenience on top of [`Executor`].
pub trait ExecutorExt: Executor {
    fn query_statement(
        &mut self,
        statement: &Statement,
        projection: &Projection,
    ) -> Result<Vec<Row>, StoreError> {
        let decode = decoders(projection);
        self.query(&statement.sql, &statement.params, &decode)
    }

    fn execute_statement(&mut self, statement: &Statement) -> Result<u64, StoreError> {
        self.execute(&statement.sql, &statement.params)
    }

    /// Whether a statement returns at least one row.
    fn exists(&mut self, statement: &Statement) -> Result<bool, StoreError> {
        Ok(!self
            .query(&statement.sql, &statement.params, &[Decode::Int])?
            .is_empty())
    }
}

impl<T: Executor + ?Sized> ExecutorExt for T {}

/// The decode kind of every result column, parent key first when there is one.
pub fn decoders(projection: &Projection) -> Vec<Decode> {
    projection
        .parent_key
        .iter()
        .cloned()
        .chain(
            projection
                .columns
                .iter()
                .map(|column| column.decode.clone()),
        )
        .collect()
}

/// Why a statement failed, by the kind that decides the HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated: {0}")]
    Unique(String),
    #[error("foreign key constraint violated: {0}")]
    ForeignKey(String),
    #[error("not-null constraint violated: {0}")]
    NotNull(String),
    #[error("check constraint violated: {0}")]
    Check(String),
    /// A value the database refused (out of range, malformed for the column type).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// The database cannot be reached or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    /// The answer for a failed write; `deleting` turns a foreign key violation into a conflict
    /// (other rows still point at this one).
    pub fn into_api_error(self, deleting: bool) -> ApiError {
        use crate::error::FieldError;
        match self {
            StoreError::Unique(detail) => {
                tracing::debug!(%detail, "unique violation");
                ApiError::conflict(
                    "unique_violation",
                    "a row with the same unique value already exists",
                )
            }
            StoreError::ForeignKey(detail) if deleting => {
                tracing::debug!(%detail, "foreign key violation on delete");
                ApiError::conflict(
                    "still_referenced",
                    "other rows still refer to this row; delete or change them first",
                )
            }
            StoreError::ForeignKey(detail) => {
                tracing::debug!(%detail, "foreign key violation");
                ApiError::validation(vec![FieldError::new(
                    "",
                    "invalid_reference",
                    "a referenced row does not exist",
                )])
            }
            StoreError::NotNull(detail) => {
                tracing::debug!(%detail, "not-null violation");
                ApiError::validation(vec![FieldError::new(
                    column_of(&detail),
                    "required",
                    "a value is required",
                )])
            }
            StoreError::Check(detail) => {
                tracing::debug!(%detail, "check violation");
                ApiError::validation(vec![FieldError::new(
                    "",
                    "constraint_violated",
                    "a value breaks a constraint of the schema",
                )])
            }
            StoreError::InvalidValue(detail) => {
                tracing::debug!(%detail, "invalid value");
                ApiError::validation(vec![FieldError::new(
                    "",
                    "invalid_value",
                    "a value does not fit its column",
                )])
            }
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                ApiError::service_unavailable("the database is unavailable; retry shortly")
            }
            StoreError::Other(detail) => ApiError::internal(detail),
        }
    }
}

/// `NOT NULL constraint failed: Task.title` → `title` (SQLite's message); "" otherwise.
fn column_of(detail: &str) -> String {
    detail
        .rsplit_once('.')
        .map(|(_, column)| column.trim().trim_matches('"').to_string())
        .filter(|column| !column.contains(' '))
        .unwrap_or_default()
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        error.into_api_error(false)
    }
}

/// The database behind the server.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    pub fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `work` on a read connection (no transaction).
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Executor) -> Result<T, ApiError> + Send + 'static,
    {
        match self {
            Store::Sqlite(store) => store.read(work).await,
            Store::Postgres(store) => store.run(false, work).await,
        }
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Executor) -> Result<T, ApiError> + Send + 'static,
    {
        match self {
            Store::Sqlite(store) => store.write(work).await,
            Store::Postgres(store) => store.run(true, work).await,
        }
    }

    /// One query, the fast path for reads.
    pub async fn query(
        &self,
        statement: Statement,
        decode: Vec<Decode>,
    ) -> Result<Vec<Row>, ApiError> {
        match self {
            Store::Sqlite(store) => {
                store
                    .read(move |executor| {
                        executor
                            .query(&statement.sql, &statement.params, &decode)
                            .map_err(ApiError::from)
                    })
                    .await
            }
            Store::Postgres(store) => store
                .query(&statement.sql, &statement.params, &decode)
                .await
                .map_err(ApiError::from),
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        self.query(
            Statement {
                sql: "SELECT 1".into(),
                params: Vec::new(),
            },
            vec![Decode::Int],
        )
        .await
        .is_ok()
    }

    /// For `/metrics`: (connections in use, connections in total).
    pub fn pool_usage(&self) -> (usize, usize) {
        match self {
            Store::Sqlite(store) => store.pool_usage(),
            Store::Postgres(store) => store.pool_usage(),
        }
    }

    /// A short description for the startup banner (no password).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(store) => store.describe(),
            Store::Postgres(store) => store.describe(),
        }
    }
}

/// Opens the database named by `url`: `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`,
/// `postgres://…` / `postgresql://…`, or a plain file path (SQLite).
pub async fn open(url: &str, config: &crate::ServeConfig) -> Result<Store, StoreError> {
    let trimmed = url.trim();
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return Ok(Store::Postgres(
            PostgresStore::connect(
                trimmed,
                config.postgres_pool_size,
                config.postgres_statement_timeout,
            )
            .await?,
        ));
    }
    let location = sqlite_location(trimmed);
    let synchronous = config.sqlite_synchronous;
    let readers = config.sqlite_readers;
    let store =
        tokio::task::spawn_blocking(move || SqliteStore::open(location, synchronous, readers))
            .await
            .map_err(|error| StoreError::Other(error.to_string()))??;
    Ok(Store::Sqlite(store))
}

/// Where a SQLite URL points: `None` for an in-memory database.
pub fn sqlite_location(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if rest == ":memory:" || rest.is_empty() {
        None
    } else {
        Some(std::path::PathBuf::from(rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_location("sqlite::memory:"), None);
        assert_eq!(
            sqlite_location("sqlite://data/app.db"),
            Some("data/app.db".into())
        );
        assert_eq!(
            sqlite_location("sqlite:///tmp/app.db"),
            Some("/tmp/app.db".into())
        );
        assert_eq!(sqlite_location("app.db"), Some("app.db".into()));
    }

    #[test]
    fn not_null_names_the_column() {
        assert_eq!(column_of("NOT NULL constraint failed: Task.title"), "title");
    }
}
