//! First start and every start after: create the schema's tables and Plinth's own
//! (`_plinth_meta`, `_plinth_refresh_tokens`, `_plinth_idempotency`) in an empty database, or
//! check that the database holds this very schema (a fingerprint = SHA-256 of the DDL). A
//! database made from another schema is refused, naming the difference; `plinth serve` never
//! alters or drops data (that is `plinth migrate`'s job).
//!
//! Before that, [`prepare_migrations`] looks at the migrations folder (`plinth migrate`'s
//! format): migrations not yet applied make the start fail with the exact `plinth migrate up`
//! command, or, with `--migrate`, are applied when none of them is destructive. The fingerprint
//! is `plinth_migrate::schema_fingerprint`, the one rule serve and migrate share.

use crate::auth::{placeholder, random_bytes, sha256_hex};
use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue};
use crate::store::{Executor, Store};
use plinth_migrate::database::Database as MigrationDatabase;
use plinth_migrate::fingerprint::FINGERPRINT_KEY;
use plinth_migrate::folder::Migration;
use plinth_migrate::{folder, history, runner, schema_fingerprint, MigrateError};
use plinth_model::{RelationKind, Schema};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const META_TABLE: &str = "_plinth_meta";
const JWT_SECRET_KEY: &str = "jwt_secret";

fn plinth_tables_ddl(dialect: Dialect) -> String {
    let flag = "INTEGER NOT NULL DEFAULT 0";
    let _ = dialect;
    format!(
        "CREATE TABLE IF NOT EXISTS \"_plinth_meta\" (\n  key TEXT PRIMARY KEY,\n  value TEXT NOT NULL\n);\n\
         CREATE TABLE IF NOT EXISTS \"_plinth_refresh_tokens\" (\n  token_hash TEXT PRIMARY KEY,\n  user_id TEXT NOT NULL,\n  family_id TEXT NOT NULL,\n  expires_at BIGINT NOT NULL,\n  used {flag},\n  revoked {flag},\n  created_at BIGINT NOT NULL\n);\n\
         CREATE INDEX IF NOT EXISTS \"_plinth_refresh_tokens_family\" ON \"_plinth_refresh_tokens\" (family_id);\n\
         CREATE TABLE IF NOT EXISTS \"_plinth_revoked_sessions\" (\n  session_id TEXT PRIMARY KEY,\n  expires_at BIGINT NOT NULL\n);\n\
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
    commands: &MigrationCommands,
) -> Result<Result<Initialized, String>, ApiError> {
    let dialect = store.dialect();
    let ddl = plinth_sql::create_schema(schema, dialect);
    let fingerprint = schema_fingerprint(schema, dialect);
    let commands = commands.clone();
    let expected = expected_tables(schema);
    let database = store.describe();
    let event_schema = schema.clone();
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
            // `plinth migrate down` past the first migration leaves `_plinth_meta` without a
            // fingerprint: such a database is judged by its tables, like one without metadata.
            let stored = if existing.contains(META_TABLE) {
                read_meta(executor, FINGERPRINT_KEY)?
            } else {
                None
            };
            if let Some(stored) = stored {
                if stored != fingerprint {
                    return Ok(Err(mismatch(&database, &expected, &user_tables, &commands)));
                }
            } else if user_tables.is_empty() {
                executor.batch(&ddl)?;
                created = true;
            } else if !expected.is_subset(&user_tables) {
                return Ok(Err(mismatch(&database, &expected, &user_tables, &commands)));
            } else {
                tracing::warn!(
                    "the database already has this schema's tables but no Plinth metadata; adopting them as they are"
                );
            }
            executor.batch(&plinth_tables_ddl(dialect))?;
            // The realtime outbox and its capture triggers, on every start: a migration that
            // rebuilt a table (SQLite) dropped its triggers.
            crate::events::install(executor, &event_schema)?;
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

fn mismatch(
    database: &str,
    expected: &BTreeSet<String>,
    existing: &BTreeSet<String>,
    commands: &MigrationCommands,
) -> String {
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
        "the database {database} was created from a different schema ({}); `plinth serve` never alters or drops existing data — evolve the database with `plinth migrate`:\n  {}\n  {}{}",
        difference.join("; "),
        commands.diff(),
        commands.up(),
        commands.password_note()
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

/// The `plinth migrate` commands a refusal names, spelled with the arguments this server was
/// started with (the database password masked).
#[derive(Clone, Debug)]
pub struct MigrationCommands {
    schema: String,
    database: String,
    directory: String,
    password_masked: bool,
}

impl MigrationCommands {
    /// `schema` as the user named it, the database URL in use and the migrations folder.
    pub fn new(schema: &str, database_url: &str, directory: &Path) -> MigrationCommands {
        let (database, password_masked) = mask_password(database_url.trim());
        MigrationCommands {
            schema: shell_word(schema),
            database: shell_word(&database),
            directory: shell_word(&directory.display().to_string()),
            password_masked,
        }
    }

    pub fn up(&self) -> String {
        format!(
            "plinth migrate up {} --db {} --dir {}",
            self.schema, self.database, self.directory
        )
    }

    pub fn diff(&self) -> String {
        format!(
            "plinth migrate diff {} --dir {}",
            self.schema, self.directory
        )
    }

    fn password_note(&self) -> &'static str {
        if self.password_masked {
            "\n(put the database password in place of `****`)"
        } else {
            ""
        }
    }
}

/// `scheme://user:password@host/…` with the password replaced by `****`, and whether it was.
fn mask_password(url: &str) -> (String, bool) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), false);
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), false);
    };
    let Some(colon) = authority[..at].find(':') else {
        return (url.to_string(), false);
    };
    let masked = format!(
        "{}{}:****{}",
        &url[..authority_start],
        &authority[..colon],
        &url[authority_start + at..]
    );
    (masked, true)
}

/// A word the shell reads back as is: plain when it holds only safe characters, else quoted.
fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&byte));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What the start needs to know about migrations.
#[derive(Clone, Debug)]
pub struct MigrationSetup {
    /// The folder, when it is in use (given, or the default one that exists).
    pub directory: Option<PathBuf>,
    /// Apply pending non-destructive migrations (`--migrate`).
    pub apply: bool,
    pub database_url: String,
    pub commands: MigrationCommands,
}

impl MigrationSetup {
    /// `schema_path`: the schema file, when served from one (its folder holds the default
    /// `migrations/`); `schema_name`: how to name the schema in commands.
    pub fn new(
        configured: Option<&Path>,
        apply: bool,
        schema_path: Option<&Path>,
        schema_name: &str,
        database_url: &str,
    ) -> Result<MigrationSetup, String> {
        let default = schema_path
            .and_then(Path::parent)
            .map(|parent| parent.join("migrations"))
            .unwrap_or_else(|| PathBuf::from("migrations"));
        let directory = match configured {
            Some(given) if given.is_dir() => Some(given.to_path_buf()),
            Some(given) => {
                return Err(format!(
                    "the migrations folder `{}` does not exist",
                    given.display()
                ))
            }
            None if schema_path.is_some() && default.is_dir() => Some(default.clone()),
            None => None,
        };
        let shown = directory
            .clone()
            .or_else(|| configured.map(Path::to_path_buf))
            .unwrap_or(default);
        Ok(MigrationSetup {
            directory,
            apply,
            database_url: database_url.to_string(),
            commands: MigrationCommands::new(schema_name, database_url, &shown),
        })
    }
}

/// Why the start stops at the migrations.
#[derive(Debug)]
pub enum MigrationStop {
    /// Pending migrations (or destructive ones under `--migrate`): the user must act (exit 1).
    Refused(String),
    /// The folder or the database could not be read or migrated.
    Failed(String),
}

/// Checks the migrations folder against the database's history and applies pending
/// migrations when asked; answers the ids applied now. Nothing to do without a folder, or for
/// an in-memory SQLite database (another connection would see another, empty database).
pub async fn prepare_migrations(setup: &MigrationSetup) -> Result<Vec<String>, MigrationStop> {
    let Some(directory) = setup.directory.clone() else {
        return Ok(Vec::new());
    };
    if is_in_memory_sqlite(&setup.database_url) {
        tracing::warn!(
            directory = %directory.display(),
            "the database is in memory: the migrations folder is not used"
        );
        return Ok(Vec::new());
    }
    let setup = setup.clone();
    tokio::task::spawn_blocking(move || migrate_blocking(&setup, &directory))
        .await
        .map_err(|error| MigrationStop::Failed(error.to_string()))?
}

fn is_in_memory_sqlite(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return false;
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    rest.is_empty() || rest == ":memory:"
}

fn failed(error: MigrateError) -> MigrationStop {
    MigrationStop::Failed(error.to_string())
}

fn migrate_blocking(
    setup: &MigrationSetup,
    directory: &Path,
) -> Result<Vec<String>, MigrationStop> {
    let migrations = folder::list(directory).map_err(failed)?;
    if migrations.is_empty() {
        return Ok(Vec::new());
    }
    let mut database = MigrationDatabase::open(&setup.database_url).map_err(failed)?;
    let pending = pending_migrations(&mut database, &migrations).map_err(failed)?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = pending.iter().map(Migration::id).collect();
    if !setup.apply {
        return Err(MigrationStop::Refused(format!(
            "the database has {} migration(s) not applied yet ({}); apply them first:\n  {}{}\n(or start with `--migrate` to apply non-destructive ones at start, for development)",
            names.len(),
            names.join(", "),
            setup.commands.up(),
            setup.commands.password_note()
        )));
    }
    let mut destructive = Vec::new();
    for migration in &pending {
        if migration
            .metadata()
            .map_err(failed)?
            .is_some_and(|metadata| metadata.destructive)
        {
            destructive.push(migration.id());
        }
    }
    if !destructive.is_empty() {
        return Err(MigrationStop::Refused(format!(
            "`--migrate` applies only non-destructive migrations, and {} lose(s) data; nothing was applied — review it and run `plinth migrate up` yourself:\n  {}{}",
            destructive.join(", "),
            setup.commands.up(),
            setup.commands.password_note()
        )));
    }
    let steps = runner::up(&mut database, &migrations, None).map_err(failed)?;
    for step in &steps {
        tracing::info!(
            migration = %step.migration,
            adopted = step.adopted,
            duration_ms = step.duration_ms,
            "applied a pending migration at start (--migrate)"
        );
    }
    Ok(steps
        .into_iter()
        .filter(|step| !step.adopted)
        .map(|step| step.migration)
        .collect())
}

/// The migrations `plinth migrate up` would run: those missing from the history, except that a
/// database made by `plinth serve` (a fingerprint, no history) already has every migration up
/// to the one whose snapshot has that fingerprint (`up` records those without running them).
fn pending_migrations(
    database: &mut MigrationDatabase,
    migrations: &[Migration],
) -> Result<Vec<Migration>, MigrateError> {
    let applied = history::applied(database)?;
    let mut first_pending = 0;
    if applied.is_empty() {
        if let Some(stored) = history::stored_fingerprint(database)? {
            let dialect = database.dialect();
            for (index, migration) in migrations.iter().enumerate() {
                if schema_fingerprint(&migration.snapshot_schema()?, dialect) == stored {
                    first_pending = index + 1;
                }
            }
        }
    }
    Ok(migrations
        .iter()
        .skip(first_pending)
        .filter(|migration| !applied.iter().any(|row| row.version == migration.version))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_commands() {
        let commands = MigrationCommands::new(
            "app/schema.plinth",
            "postgres://app:s3cret@db.example:5432/app?sslmode=disable",
            Path::new("app/migrations"),
        );
        assert_eq!(
            commands.up(),
            "plinth migrate up app/schema.plinth --db 'postgres://app:****@db.example:5432/app?sslmode=disable' --dir app/migrations"
        );
        let commands = MigrationCommands::new(
            "my schema.plinth",
            "sqlite://app.db",
            Path::new("migrations"),
        );
        assert_eq!(
            commands.up(),
            "plinth migrate up 'my schema.plinth' --db sqlite://app.db --dir migrations"
        );
        assert_eq!(commands.password_note(), "");
    }

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory_sqlite("sqlite::memory:"));
        assert!(is_in_memory_sqlite("sqlite://:memory:"));
        assert!(!is_in_memory_sqlite("sqlite://app.db"));
        assert!(!is_in_memory_sqlite("postgres://localhost/app"));
    }
}
