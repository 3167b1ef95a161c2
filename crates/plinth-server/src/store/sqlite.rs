//! SQLite storage: one writer connection behind a mutex (SQLite allows one writer at a time
//! anyway, and a single queue avoids `SQLITE_BUSY` storms) and a small pool of read-only
//! connections, which WAL mode lets read while the writer writes. All work runs on tokio's
//! blocking threads.
//!
//! Durability: `journal_mode=WAL` + `synchronous=FULL` by default, so a write is on disk before
//! its response is sent and survives `kill -9` and power loss.

use super::codec::normalize;
use super::{Executor, Row, StoreError};
use crate::config::SqliteSynchronous;
use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    reader_available: Condvar,
    reader_count: usize,
    path: Option<PathBuf>,
    /// Signalled after every committed write, so the event dispatcher reads the outbox at once
    /// (PostgreSQL has NOTIFY for this; one SQLite process is the only writer).
    committed: Arc<tokio::sync::Notify>,
}

const STATEMENT_CACHE_CAPACITY: usize = 512;

fn configure(connection: &Connection, synchronous: SqliteSynchronous) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.pragma_update(None, "synchronous", synchronous.pragma_value())?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path`, or an in-memory one for `None`.
    pub fn open(
        path: Option<PathBuf>,
        synchronous: SqliteSynchronous,
        reader_count: usize,
    ) -> Result<SqliteStore, StoreError> {
        let writer = match &path {
            Some(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|error| {
                        StoreError::Unavailable(format!(
                            "cannot create `{}`: {error}",
                            parent.display()
                        ))
                    })?;
                }
                Connection::open(path)
            }
            None => Connection::open_in_memory(),
        }
        .map_err(classify)?;
        if path.is_some() {
            let mode: String = writer
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
                .map_err(classify)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(%mode, "SQLite did not switch to WAL mode");
            }
        }
        configure(&writer, synchronous).map_err(classify)?;

        // An in-memory database exists only in its one connection: reads share the writer.
        let mut readers = Vec::new();
        if let Some(path) = &path {
            for _ in 0..reader_count {
                let reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(classify)?;
                configure(&reader, synchronous).map_err(classify)?;
                readers.push(reader);
            }
        }
        let reader_count = readers.len();
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers: Mutex::new(readers),
                reader_available: Condvar::new(),
                reader_count,
                path,
                committed: Arc::new(tokio::sync::Notify::new()),
            }),
        })
    }

    /// Signalled after each committed write transaction.
    pub fn commits(&self) -> Arc<tokio::sync::Notify> {
        self.inner.committed.clone()
    }

    pub fn path(&self) -> Option<&std::path::Path> {
        self.inner.path.as_deref()
    }

    pub fn describe(&self) -> String {
        match &self.inner.path {
            Some(path) => format!("sqlite://{}", path.display()),
            None => "sqlite::memory:".to_string(),
        }
    }

    pub fn pool_usage(&self) -> (usize, usize) {
        let idle = self
            .inner
            .readers
            .lock()
            .map(|readers| readers.len())
            .unwrap_or(0);
        (
            self.inner.reader_count - idle.min(self.inner.reader_count),
            self.inner.reader_count + 1,
        )
    }

    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Executor) -> Result<T, ApiError> + Send + 'static,
    {
        // Fast path: a point read on an idle reader takes microseconds, less than handing it to
        // a blocking thread and back (measured: ~1.6x the throughput of GET by id on 2 cores).
        // Only when every reader is busy does the work wait on a blocking thread.
        if let Some(connection) = self.inner.try_take_reader() {
            let result = work(&mut SqliteExecutor(&connection));
            self.inner.return_reader(connection);
            return result;
        }
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            if inner.reader_count == 0 {
                let connection = inner.writer.lock().map_err(poisoned)?;
                return work(&mut SqliteExecutor(&connection));
            }
            let connection = inner.take_reader()?;
            let result = work(&mut SqliteExecutor(&connection));
            inner.return_reader(connection);
            result
        })
        .await
    }

    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Executor) -> Result<T, ApiError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let mut connection = inner.writer.lock().map_err(poisoned)?;
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|error| ApiError::from(classify(error)))?;
            let result = work(&mut SqliteExecutor(&transaction));
            match result {
                Ok(value) => {
                    transaction
                        .commit()
                        .map_err(|error| ApiError::from(classify(error)))?;
                    inner.committed.notify_one();
                    Ok(value)
                }
                Err(error) => {
                    // Dropping the transaction rolls it back.
                    drop(transaction);
                    Err(error)
                }
            }
        })
        .await
    }
}

impl Inner {
    fn try_take_reader(&self) -> Option<Connection> {
        self.readers.try_lock().ok()?.pop()
    }

    fn take_reader(&self) -> Result<Connection, ApiError> {
        let mut readers = self.readers.lock().map_err(poisoned)?;
        loop {
            if let Some(connection) = readers.pop() {
                return Ok(connection);
            }
            readers = self.reader_available.wait(readers).map_err(poisoned)?;
        }
    }

    fn return_reader(&self, connection: Connection) {
        if let Ok(mut readers) = self.readers.lock() {
            readers.push(connection);
            self.reader_available.notify_one();
        }
    }
}

fn poisoned<T>(_: T) -> ApiError {
    ApiError::internal("a SQLite connection lock was poisoned")
}

pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    // Carry the request's span so logs from the blocking thread keep its request id.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(ApiError::internal)?
}

pub struct SqliteExecutor<'a>(pub &'a Connection);

struct Param<'a>(&'a SqlValue);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            SqlValue::Null => ToSqlOutput::Owned(Value::Null),
            SqlValue::Bool(value) => ToSqlOutput::Owned(Value::Integer(i64::from(*value))),
            SqlValue::Int(value) => ToSqlOutput::Owned(Value::Integer(*value)),
            SqlValue::Float(value) => ToSqlOutput::Owned(Value::Real(*value)),
            SqlValue::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            SqlValue::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            SqlValue::Json(json) => ToSqlOutput::Owned(Value::Text(json.to_string())),
        })
    }
}

impl Executor for SqliteExecutor<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[SqlValue],
        decode: &[Decode],
    ) -> Result<Vec<Row>, StoreError> {
        metrics::counter!("plinth_db_queries_total").increment(1);
        let mut statement = self.0.prepare_cached(sql).map_err(classify)?;
        let column_count = statement.column_count();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params.iter().map(Param)))
            .map_err(classify)?;
        let mut result = Vec::new();
        while let Some(row) = rows.next().map_err(classify)? {
            let mut values = Vec::with_capacity(column_count);
            for index in 0..column_count {
                let raw = row.get_ref(index).map_err(classify)?;
                let value = match raw {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(number) => SqlValue::Int(number),
                    ValueRef::Real(number) => SqlValue::Float(number),
                    ValueRef::Text(text) => {
                        SqlValue::Text(String::from_utf8_lossy(text).into_owned())
                    }
                    ValueRef::Blob(bytes) => SqlValue::Bytes(bytes.to_vec()),
                };
                values.push(normalize(value, decode.get(index).unwrap_or(&Decode::Text)));
            }
            result.push(values);
        }
        Ok(result)
    }

    fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        metrics::counter!("plinth_db_queries_total").increment(1);
        let mut statement = self.0.prepare_cached(sql).map_err(classify)?;
        let changed = statement
            .execute(rusqlite::params_from_iter(params.iter().map(Param)))
            .map_err(classify)?;
        Ok(changed as u64)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql).map_err(classify)
    }
}

fn classify(error: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &error {
        let detail = message.clone().unwrap_or_else(|| error.to_string());
        return match failure.code {
            ErrorCode::ConstraintViolation => match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => StoreError::Unique(detail),
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::ForeignKey(detail),
                rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL => StoreError::NotNull(detail),
                _ => StoreError::Check(detail),
            },
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen => {
                StoreError::Unavailable(detail)
            }
            ErrorCode::TooBig => StoreError::InvalidValue(detail),
            _ => StoreError::Other(detail),
        };
    }
    StoreError::Other(error.to_string())
}
