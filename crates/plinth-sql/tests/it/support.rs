//! Shared helpers: compiling schemas that must be clean, fresh SQLite and PostgreSQL databases.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use plinth_diagnostics::{render_text, SourceFile};
use plinth_model::Schema;
use plinth_sql::{create_schema, Dialect};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn test_data(name: &str) -> PathBuf {
    crate_dir().join("test_data").join(name)
}

/// Compiles a schema and returns the problems as rendered text when it has errors.
pub fn compile(path: &Path) -> Result<Schema, String> {
    let source = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let (schema, diagnostics) = plinth_model::compile(&source);
    if plinth_diagnostics::has_errors(&diagnostics) {
        let errors: Vec<_> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .cloned()
            .collect();
        let file = SourceFile::new(path.display().to_string(), source);
        return Err(render_text(&file, &errors));
    }
    Ok(schema)
}

/// Compiles a schema that must have no errors.
pub fn compile_clean(path: &Path) -> Schema {
    match compile(path) {
        Ok(schema) => schema,
        Err(errors) => panic!("{} has errors:\n{errors}", path.display()),
    }
}

/// A fresh in-memory SQLite with foreign keys enforced and `ddl` applied.
pub fn sqlite_with(ddl: &str) -> Result<rusqlite::Connection, String> {
    let connection = rusqlite::Connection::open_in_memory().map_err(|error| error.to_string())?;
    connection
        .execute_batch("PRAGMA foreign_keys = ON;")
        .map_err(|error| error.to_string())?;
    connection
        .execute_batch(ddl)
        .map_err(|error| format!("SQLite rejected the DDL: {error}"))?;
    Ok(connection)
}

pub fn sqlite_for(schema: &Schema) -> rusqlite::Connection {
    let ddl = create_schema(schema, Dialect::Sqlite);
    match sqlite_with(&ddl) {
        Ok(connection) => connection,
        Err(error) => panic!("{error}\n--- DDL ---\n{ddl}"),
    }
}

/// The PostgreSQL server for tests, or `None` (after printing why) when tests should skip it.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("PLINTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{test}: PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_POSTGRES_URL is not set");
            }
            eprintln!("{test}: skipped the PostgreSQL part: PLINTH_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A database created for one test and dropped (even when the test fails) afterwards.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    client: Option<postgres::Client>,
}

static DATABASE_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl TestDatabase {
    pub fn create(admin_url: &str) -> TestDatabase {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "plinth_test_{}_{}_{nanos}",
            std::process::id(),
            DATABASE_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = postgres::Client::connect(admin_url, postgres::NoTls)
            .unwrap_or_else(|error| panic!("cannot connect to {admin_url}: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        let mut config: postgres::Config = admin_url
            .parse()
            .unwrap_or_else(|error| panic!("bad PostgreSQL URL: {error}"));
        config.dbname(&name);
        let client = config
            .connect(postgres::NoTls)
            .unwrap_or_else(|error| panic!("cannot connect to database {name}: {error}"));
        TestDatabase {
            admin_url: admin_url.to_string(),
            name,
            client: Some(client),
        }
    }

    pub fn client(&mut self) -> &mut postgres::Client {
        match self.client.as_mut() {
            Some(client) => client,
            None => panic!("the database connection is closed"),
        }
    }

    /// Applies DDL, with the DDL in the error when PostgreSQL rejects it.
    pub fn apply(&mut self, ddl: &str) -> Result<(), String> {
        self.client()
            .batch_execute(ddl)
            .map_err(|error| format!("PostgreSQL rejected the DDL: {}", describe(&error)))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        drop(self.client.take());
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A PostgreSQL error with the server's message, code and constraint, which `Display` hides.
pub fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => format!(
            "{} ({}){}",
            db_error.message(),
            db_error.code().code(),
            db_error
                .constraint()
                .map(|constraint| format!(" constraint {constraint}"))
                .unwrap_or_default()
        ),
        None => error.to_string(),
    }
}

/// The SQLSTATE and constraint name of a failed statement, to assert on the exact failure.
pub fn postgres_failure(result: Result<u64, postgres::Error>) -> (String, Option<String>) {
    match result {
        Ok(rows) => panic!("expected the statement to fail, it changed {rows} row(s)"),
        Err(error) => match error.as_db_error() {
            Some(db_error) => (
                db_error.code().code().to_string(),
                db_error.constraint().map(str::to_string),
            ),
            None => panic!("expected a database error, got {error}"),
        },
    }
}

/// The message of a failed SQLite statement (SQLite names the CHECK constraint in it).
pub fn sqlite_failure(result: rusqlite::Result<usize>) -> String {
    match result {
        Ok(rows) => panic!("expected the statement to fail, it changed {rows} row(s)"),
        Err(error) => error.to_string(),
    }
}
