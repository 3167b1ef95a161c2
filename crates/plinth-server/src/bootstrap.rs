//! First start and every start after: create the schema's tables and Plinth's own
//! (`_plinth_meta`, `_plinth_refresh_tokens`, `_plinth_idempotency`) in an empty database, or
//! check that the database holds this very schema (a fingerprint = SHA-256 of the DDL). A
//! database made from another schema is refused, naming the difference; `plinth serve` never
//! alters or drops data (that is `plinth migrate`'s job).

use crate::auth::{placeholder, random_bytes, sha256_hex};
use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue};
use crate::store::{Executor, Store};
use plinth_model::{RelationKind, Schema};
use std::collections::BTreeSet;

const META_TABLE: &str = "_plinth_meta";
const FINGERPRINT_KEY: &str = "schema_fingerprint";
const JWT_SECRET_KEY: &str = "jwt_secret";

fn plinth_tables_ddl(dialect: Dialect) -> String {
    let flag = "INTEGER NOT NULL DEFAULT 0";
    let _ = dialect;
    format!(
        "CREATE TABLE IF NOT EXISTS \"_plinth_meta\" (\n  key TEXT PRIMARY KEY,\n  value TEXT NOT NULL\n);\n\
         CREATE TABLE IF NOT EXISTS \"_plinth_refresh_tokens\" (\n  token_hash TEXT PRIMARY KEY,\n  user_id TEXT NOT NULL,\n  family_id TEXT NOT NULL,\n  expires_at BIGINT NOT NULL,\n  used {flag},\n  revoked {flag},\n  created_at BIGINT NOT NULL\n);\n\
         CREATE INDEX IF NOT EXISTS \"_plinth_refresh_tokens_family\" ON \"_plinth_refresh_tokens\" (family_id);\n\
         CREATE TABLE IF NOT EXISTS \"_plinth_idempotency\" (\n  idempotency_key TEXT NOT NULL,\n  caller TEXT NOT NULL,\n  route TEXT NOT NULL,\n  request_hash TEXT NOT NULL,\n  status INTEGER NOT NULL,\n  location TEXT,\n  etag TEXT,\n  body TEXT NOT NULL,\n  created_at BIGINT NOT NULL,\n  PRIMARY KEY (idempotency_key, caller, route)\n);\n"
    )
}

/// The tables the schema's DDL creates (models and implicit many-to-many join tables).
pub fn expected_tables(schema: &Schema) -> BTreeSet<String> {
    let mut tables: BTreeSet<String> = schema
        .models
        .iter()
        .map(|model| model.db_name.clone())
        .collect();
    for relation in &schema.relations {
        if let RelationKind::ManyToMany { join_table } = &relation.kind {
            tables.insert(join_table.clone());
        }
    }
    tables
}

fn existing_tables(executor: &mut dyn Executor) -> Result<BTreeSet<String>, ApiError> {
    let sql = match executor.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        }
    };
    let rows = executor.query(sql, &[], &[Decode::Text])?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(SqlValue::Text(name)) => Some(name),
            _ => None,
        })
        .collect())
}

fn read_meta(executor: &mut dyn Executor, key: &str) -> Result<Option<String>, ApiError> {
    let sql = format!(
        "SELECT value FROM \"{META_TABLE}\" WHERE key = {}",
        placeholder(executor.dialect(), 1)
    );
    let rows = executor.query(&sql, &[SqlValue::Text(key.to_string())], &[Decode::Text])?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|row| match row.into_iter().next() {
            Some(SqlValue::Text(value)) => Some(value),
            _ => None,
        }))
}

fn write_meta(executor: &mut dyn Executor, key: &str, value: &str) -> Result<(), ApiError> {
    let dialect = executor.dialect();
    let sql = format!(
        "INSERT INTO \"{META_TABLE}\" (key, value) VALUES ({}, {}) ON CONFLICT (key) DO NOTHING",
        placeholder(dialect, 1),
        placeholder(dialect, 2)
    );
    executor.execute(
        &sql,
        &[
            SqlValue::Text(key.to_string()),
            SqlValue::Text(value.to_string()),
        ],
    )?;
    Ok(())
}

/// What [`initialize`] found.
#[derive(Debug)]
pub struct Initialized {
    /// The tables were created now.
    pub created: bool,
    /// On PostgreSQL without a configured secret: the shared generated one.
    pub stored_jwt_secret: Option<String>,
}

/// Creates or checks the database. `Err(message)` when it holds another schema.
pub async fn initialize(
    store: &Store,
    schema: &Schema,
    want_stored_secret: bool,
) -> Result<Result<Initialized, String>, ApiError> {
    let dialect = store.dialect();
    let ddl = plinth_sql::create_schema(schema, dialect);
    let fingerprint = sha256_hex(ddl.as_bytes());
    let expected = expected_tables(schema);
    let database = store.describe();
    store
        .write(move |executor| {
            if dialect == Dialect::Postgres {
                // Several nodes starting at once: one initializes, the others then see its work.
                executor.execute("SELECT pg_advisory_xact_lock(7240563170)", &[])?;
            }
            let existing = existing_tables(executor)?;
            let user_tables: BTreeSet<String> = existing
                .iter()
                .filter(|name| !name.starts_with("_plinth_"))
                .cloned()
                .collect();
            let mut created = false;
            if existing.contains(META_TABLE) {
                if let Some(stored) = read_meta(executor, FINGERPRINT_KEY)? {
                    if stored != fingerprint {
                        return Ok(Err(mismatch(&database, &expected, &user_tables)));
                    }
                }
            } else if user_tables.is_empty() {
                executor.batch(&ddl)?;
                created = true;
            } else if !expected.is_subset(&user_tables) {
                return Ok(Err(mismatch(&database, &expected, &user_tables)));
            } else {
                tracing::warn!(
                    "the database already has this schema's tables but no Plinth metadata; adopting them as they are"
                );
            }
            executor.batch(&plinth_tables_ddl(dialect))?;
            write_meta(executor, FINGERPRINT_KEY, &fingerprint)?;
            let stored_jwt_secret = if want_stored_secret {
                let generated = sha256_hex(&random_bytes());
                write_meta(executor, JWT_SECRET_KEY, &generated)?;
                read_meta(executor, JWT_SECRET_KEY)?
            } else {
                None
            };
            Ok(Ok(Initialized {
                created,
                stored_jwt_secret,
            }))
        })
        .await
}

fn mismatch(database: &str, expected: &BTreeSet<String>, existing: &BTreeSet<String>) -> String {
    let missing: Vec<&str> = expected.difference(existing).map(String::as_str).collect();
    let extra: Vec<&str> = existing.difference(expected).map(String::as_str).collect();
    let mut difference = Vec::new();
    if !missing.is_empty() {
        difference.push(format!(
            "tables missing from the database: {}",
            missing.join(", ")
        ));
    }
    if !extra.is_empty() {
        difference.push(format!("tables not in the schema: {}", extra.join(", ")));
    }
    if difference.is_empty() {
        difference.push(
            "schema changed: the same tables, but their columns, types or constraints differ"
                .into(),
        );
    }
    format!(
        "the database {database} was created from a different schema ({}); run `plinth migrate` to evolve it — `plinth serve` never alters or drops existing data",
        difference.join("; ")
    )
}

/// The signing secret for SQLite: `<database>.jwt-secret` beside the file (created once, mode
/// 0600), or a fresh one per run for an in-memory database.
pub fn sqlite_jwt_secret(database: Option<&std::path::Path>) -> std::io::Result<Vec<u8>> {
    let Some(database) = database else {
        tracing::warn!(
            "PLINTH_JWT_SECRET is not set: using a random secret for this in-memory run"
        );
        return Ok(sha256_hex(&random_bytes()).into_bytes());
    };
    let mut name = database.as_os_str().to_os_string();
    name.push(".jwt-secret");
    let path = std::path::PathBuf::from(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let trimmed = existing.trim();
        if !trimmed.is_empty() {
            return Ok(trimmed.as_bytes().to_vec());
        }
    }
    let secret = sha256_hex(&random_bytes());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(&path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        "PLINTH_JWT_SECRET is not set: generated a signing secret and stored it beside the database; set PLINTH_JWT_SECRET in production"
    );
    Ok(secret.into_bytes())
}
