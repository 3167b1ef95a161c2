//! One synchronous connection to the database being migrated: SQLite through rusqlite,
//! PostgreSQL through the `postgres` crate. Only what migrations need: run a script, run a
//! query whose columns are read as text, begin/commit/roll back.

use crate::error::MigrateError;
use plinth_sql::Dialect;

pub enum Database {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// A result row, every column as text (`None` for NULL).
pub type TextRow = Vec<Option<String>>;

impl Database {
    /// Opens `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`, a plain path (SQLite), or
    /// `postgres://…` / `postgresql://…` — the URLs `plinth serve --db` takes.
    pub fn open(url: &str) -> Result<Database, MigrateError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let client = postgres::Client::connect(url, postgres::NoTls)
                .map_err(|error| MigrateError::Connect(error.to_string()))?;
            let mut database = Database::Postgres(Box::new(client));
            // Keep the server's notices (`relation already exists, skipping`) off the terminal.
            database.batch("SET client_min_messages = WARNING")?;
            return Ok(database);
        }
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let connection = if rest == ":memory:" || rest.is_empty() {
            rusqlite::Connection::open_in_memory()
        } else {
            rusqlite::Connection::open(rest)
        }
        .map_err(|error| MigrateError::Connect(format!("`{rest}`: {error}")))?;
        Database::from_sqlite(connection)
    }

    /// Wraps an open SQLite connection, with the settings serve uses (foreign keys enforced).
    pub fn from_sqlite(connection: rusqlite::Connection) -> Result<Database, MigrateError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Database::Sqlite(connection))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
            Database::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs a script of zero or more statements.
    pub fn batch(&mut self, sql: &str) -> Result<(), MigrateError> {
        match self {
            Database::Sqlite(connection) => connection.execute_batch(sql)?,
            Database::Postgres(client) => client.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Starts a transaction (SQLite: `BEGIN IMMEDIATE`, taking the write lock at once).
    pub fn begin(&mut self) -> Result<(), MigrateError> {
        match self.dialect() {
            Dialect::Sqlite => self.batch("BEGIN IMMEDIATE"),
            Dialect::Postgres => self.batch("BEGIN"),
        }
    }

    pub fn commit(&mut self) -> Result<(), MigrateError> {
        self.batch("COMMIT")
    }

    /// Rolls back, ignoring a failure (the transaction may already be gone).
    pub fn rollback(&mut self) {
        let _ = self.batch("ROLLBACK");
    }

    /// Runs a query with text parameters (`?1` on SQLite, `$1` on PostgreSQL); PostgreSQL
    /// queries must cast every column to text.
    pub fn query(&mut self, sql: &str, parameters: &[&str]) -> Result<Vec<TextRow>, MigrateError> {
        match self {
            Database::Sqlite(connection) => {
                let mut statement = connection.prepare(sql)?;
                let width = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(parameters.iter()))?;
                let mut result = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(width);
                    for index in 0..width {
                        values.push(sqlite_text(row.get_ref(index)?));
                    }
                    result.push(values);
                }
                Ok(result)
            }
            Database::Postgres(client) => {
                let parameters: Vec<&(dyn postgres::types::ToSql + Sync)> = parameters
                    .iter()
                    .map(|parameter| parameter as &(dyn postgres::types::ToSql + Sync))
                    .collect();
                let rows = client.query(sql, &parameters)?;
                let mut result = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut values = Vec::with_capacity(row.len());
                    for index in 0..row.len() {
                        values.push(row.try_get::<_, Option<String>>(index)?);
                    }
                    result.push(values);
                }
                Ok(result)
            }
        }
    }

    /// The user tables of the database (not `_plinth_*`, not SQLite's own), sorted.
    pub fn user_tables(&mut self) -> Result<Vec<String>, MigrateError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
            }
            Dialect::Postgres => {
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1"
            }
        };
        Ok(self
            .query(sql, &[])?
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .filter(|name| !name.starts_with("_plinth_"))
            .collect())
    }

    /// Whether a table (of any name) exists in the current schema.
    pub fn has_table(&mut self, name: &str) -> Result<bool, MigrateError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
            Dialect::Postgres => {
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1"
            }
        };
        Ok(!self.query(sql, &[name])?.is_empty())
    }
}

fn sqlite_text(value: rusqlite::types::ValueRef<'_>) -> Option<String> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(number) => Some(number.to_string()),
        ValueRef::Real(number) => Some(number.to_string()),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}
