//! Applying and rolling back migrations against a live database, and reporting its status
//! (applied, pending, drift).

use crate::catalogue;
use crate::database::Database;
use crate::error::MigrateError;
use crate::fingerprint::schema_fingerprint;
use crate::folder::{Direction, Migration};
use crate::history::{self, AppliedMigration};
use crate::script::{has_code, segments};
use std::time::Instant;

/// Something about the database that the migrations folder does not explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Drift {
    /// An applied migration's up.sql was edited after it was applied.
    ChecksumChanged { migration: String },
    /// The history names a migration that is not in the folder.
    MissingFromFolder { migration: String },
    /// A pending migration sorts before the last applied one (a branch merged late).
    OutOfOrder { migration: String },
    /// The live catalogue differs from what the applied migrations produce.
    Catalogue { differences: Vec<String> },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::ChecksumChanged { migration } => write!(
                formatter,
                "{migration}: up.sql was edited after it was applied (checksum differs)"
            ),
            Drift::MissingFromFolder { migration } => write!(
                formatter,
                "{migration}: applied to the database but missing from the migrations folder"
            ),
            Drift::OutOfOrder { migration } => write!(
                formatter,
                "{migration}: pending, but older than the last applied migration"
            ),
            Drift::Catalogue { differences } => {
                write!(
                    formatter,
                    "the database was changed outside the migrations:"
                )?;
                for difference in differences {
                    write!(formatter, "\n    {difference}")?;
                }
                Ok(())
            }
        }
    }
}

/// What `status` found.
#[derive(Clone, Debug)]
pub struct Status {
    pub applied: Vec<AppliedMigration>,
    pub pending: Vec<Migration>,
    pub drift: Vec<Drift>,
}

/// Applied, pending and drifted migrations, comparing the live catalogue with the one the last
/// applied snapshot produces.
pub fn status(database: &mut Database, migrations: &[Migration]) -> Result<Status, MigrateError> {
    let dialect = database.dialect();
    let applied = history::applied(database)?;
    let mut drift = Vec::new();
    for row in &applied {
        match migrations.iter().find(|m| m.version == row.version) {
            None => drift.push(Drift::MissingFromFolder {
                migration: row.id(),
            }),
            Some(migration) => {
                if migration.checksum(dialect)? != row.checksum {
                    drift.push(Drift::ChecksumChanged {
                        migration: migration.id(),
                    });
                }
            }
        }
    }
    let pending: Vec<Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|row| row.version == m.version))
        .cloned()
        .collect();
    if let Some(last) = applied.last() {
        let last_number: u128 = last.version.parse().unwrap_or(0);
        for migration in &pending {
            if migration.version.parse::<u128>().unwrap_or(u128::MAX) < last_number {
                drift.push(Drift::OutOfOrder {
                    migration: migration.id(),
                });
            }
        }
    }
    let expected_schema = match applied
        .last()
        .and_then(|row| migrations.iter().find(|m| m.version == row.version))
    {
        Some(migration) => Some(migration.snapshot_schema()?),
        None if applied.is_empty() => Some(plinth_model::Schema::default()),
        None => None,
    };
    if let Some(schema) = expected_schema {
        let expected = catalogue::expected(database, &schema)?;
        let live = catalogue::introspect(database)?;
        let differences = live.differences_from(&expected);
        if !differences.is_empty() {
            drift.push(Drift::Catalogue { differences });
        }
    }
    Ok(Status {
        applied,
        pending,
        drift,
    })
}

/// One migration applied or rolled back.
#[derive(Clone, Debug)]
pub struct Step {
    pub migration: String,
    pub duration_ms: i64,
    /// Recorded as applied without running: the database already had its schema (created by
    /// `plinth serve`).
    pub adopted: bool,
}

/// Applies the first `count` pending migrations (all when `None`), in order, each in its own
/// transaction with its history row; then stores the new schema fingerprint for serve.
pub fn up(
    database: &mut Database,
    migrations: &[Migration],
    count: Option<usize>,
) -> Result<Vec<Step>, MigrateError> {
    let dialect = database.dialect();
    history::ensure_table(database)?;
    let applied = history::applied(database)?;
    let mut steps = adopt_served_database(database, migrations, &applied)?;
    let applied = history::applied(database)?;
    let pending: Vec<&Migration> = migrations
        .iter()
        .filter(|m| !applied.iter().any(|row| row.version == m.version))
        .take(count.unwrap_or(usize::MAX))
        .collect();
    for migration in pending {
        let sql = migration.sql(dialect, Direction::Up)?;
        // Read everything that can fail before touching the database.
        let fingerprint = schema_fingerprint(&migration.snapshot_schema()?, dialect);
        let started = Instant::now();
        let mut row = AppliedMigration {
            version: migration.version.clone(),
            name: migration.name.clone(),
            checksum: crate::fingerprint::sha256_hex(sql.as_bytes()),
            applied_at: history::now(),
            duration_ms: 0,
        };
        let record = |duration_ms: i64| {
            let row = AppliedMigration {
                duration_ms,
                ..row.clone()
            };
            format!(
                "{}{}",
                history::insert_sql(&row),
                history::fingerprint_sql(Some(&fingerprint))
            )
        };
        execute_with_record(
            database,
            &migration.id(),
            &sql,
            || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            record,
        )?;
        row.duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        steps.push(Step {
            migration: migration.id(),
            duration_ms: row.duration_ms,
            adopted: false,
        });
    }
    Ok(steps)
}

/// Rolls back the last `count` applied migrations, newest first, each in its own transaction.
pub fn down(
    database: &mut Database,
    migrations: &[Migration],
    count: usize,
) -> Result<Vec<Step>, MigrateError> {
    let dialect = database.dialect();
    let applied = history::applied(database)?;
    let mut steps = Vec::new();
    for (position, row) in applied.iter().enumerate().rev().take(count) {
        let migration = migrations
            .iter()
            .find(|m| m.version == row.version)
            .ok_or_else(|| MigrateError::Apply {
                migration: row.id(),
                detail: "its folder is missing, so its down.sql cannot be run".to_string(),
            })?;
        let sql = migration.sql(dialect, Direction::Down)?;
        let previous = match position.checked_sub(1).and_then(|p| applied.get(p)) {
            Some(previous_row) => {
                let previous_migration = migrations
                    .iter()
                    .find(|m| m.version == previous_row.version)
                    .ok_or_else(|| MigrateError::Apply {
                        migration: previous_row.id(),
                        detail: "its folder is missing".to_string(),
                    })?;
                Some(schema_fingerprint(
                    &previous_migration.snapshot_schema()?,
                    dialect,
                ))
            }
            None => None,
        };
        let started = Instant::now();
        let record = |_| {
            format!(
                "{}{}",
                history::delete_sql(&row.version),
                history::fingerprint_sql(previous.as_deref())
            )
        };
        execute_with_record(database, &migration.id(), &sql, || 0, record)?;
        steps.push(Step {
            migration: migration.id(),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            adopted: false,
        });
    }
    Ok(steps)
}

/// A database created by `plinth serve` (tables and a fingerprint, no history): the newest
/// migration whose snapshot has that fingerprint, and every one before it, are recorded as
/// applied without running them.
fn adopt_served_database(
    database: &mut Database,
    migrations: &[Migration],
    applied: &[AppliedMigration],
) -> Result<Vec<Step>, MigrateError> {
    if !applied.is_empty() {
        return Ok(Vec::new());
    }
    let Some(stored) = history::stored_fingerprint(database)? else {
        return Ok(Vec::new());
    };
    let dialect = database.dialect();
    let mut matching = None;
    for (index, migration) in migrations.iter().enumerate() {
        if schema_fingerprint(&migration.snapshot_schema()?, dialect) == stored {
            matching = Some(index);
        }
    }
    let Some(last) = matching else {
        return Ok(Vec::new());
    };
    let mut steps = Vec::new();
    let mut record = String::new();
    for migration in &migrations[..=last] {
        let row = AppliedMigration {
            version: migration.version.clone(),
            name: migration.name.clone(),
            checksum: migration.checksum(dialect)?,
            applied_at: history::now(),
            duration_ms: 0,
        };
        record.push_str(&history::insert_sql(&row));
        steps.push(Step {
            migration: migration.id(),
            duration_ms: 0,
            adopted: true,
        });
    }
    run_in_transaction(database, "adopting the existing schema", &record)?;
    Ok(steps)
}

fn run_in_transaction(
    database: &mut Database,
    migration: &str,
    sql: &str,
) -> Result<(), MigrateError> {
    if !has_code(sql) {
        return Ok(());
    }
    database.begin()?;
    let result = database
        .batch(sql)
        .and_then(|()| foreign_keys_hold(database, sql));
    match result {
        Ok(()) => database.commit(),
        Err(error) => {
            database.rollback();
            Err(MigrateError::Apply {
                migration: migration.to_string(),
                detail: format!("{error}; its transaction was rolled back"),
            })
        }
    }
}

/// Runs a migration script and its bookkeeping `record`: the record joins the script's last
/// transaction, so a migration without `-- plinth:no-transaction` statements is applied and
/// recorded atomically; marked statements run alone, outside any transaction.
fn execute_with_record(
    database: &mut Database,
    migration: &str,
    sql: &str,
    elapsed_ms: impl Fn() -> i64,
    record: impl Fn(i64) -> String,
) -> Result<(), MigrateError> {
    let mut parts = segments(sql);
    let total = parts.len();
    let last_is_transactional = parts.last().is_none_or(|part| part.transactional);
    if !last_is_transactional || parts.is_empty() {
        parts.push(crate::script::Segment {
            sql: String::new(),
            transactional: true,
        });
    }
    let last_index = parts.len() - 1;
    for (index, part) in parts.iter().enumerate() {
        if part.transactional {
            let mut text = part.sql.clone();
            if index == last_index {
                text.push_str(&record(elapsed_ms()));
            }
            run_in_transaction(database, migration, &text)?;
        } else {
            database
                .batch(&part.sql)
                .map_err(|error| apply_error(migration, index, total, error))?;
        }
    }
    Ok(())
}

/// SQLite: a script that runs `PRAGMA foreign_key_check` (the planner's table rebuilds) fails
/// when the check lists any row — a batch would otherwise discard those rows unread.
fn foreign_keys_hold(database: &mut Database, sql: &str) -> Result<(), MigrateError> {
    if database.dialect() != plinth_sql::Dialect::Sqlite
        || !sql.to_ascii_lowercase().contains("foreign_key_check")
    {
        return Ok(());
    }
    let rows = database.query(
        "SELECT \"table\", rowid, parent FROM pragma_foreign_key_check",
        &[],
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = rows
        .iter()
        .take(5)
        .map(|row| {
            let cell = |index: usize| row.get(index).cloned().flatten().unwrap_or_default();
            format!(
                "row {} of `{}` points to a missing `{}`",
                cell(1),
                cell(0),
                cell(2)
            )
        })
        .collect();
    Err(MigrateError::Planner(format!(
        "{} foreign key violation(s): {}",
        rows.len(),
        listed.join("; ")
    )))
}

fn apply_error(migration: &str, index: usize, total: usize, error: MigrateError) -> MigrateError {
    MigrateError::Apply {
        migration: migration.to_string(),
        detail: format!(
            "{error} (in a statement marked `-- plinth:no-transaction`, part {} of {total}; the parts before it stay applied)",
            index + 1
        ),
    }
}
