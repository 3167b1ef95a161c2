//! The history table `_plinth_migrations` (one row per applied migration) and the schema
//! fingerprint in `_plinth_meta` that `plinth serve` checks at start.

use crate::database::Database;
use crate::error::MigrateError;
use crate::fingerprint::FINGERPRINT_KEY;
use plinth_sql::string_literal;

pub const HISTORY_TABLE: &str = "_plinth_migrations";

/// The same definition `plinth serve` creates (`CREATE TABLE IF NOT EXISTS`, so either may be
/// first).
const META_TABLE_DDL: &str =
    "CREATE TABLE IF NOT EXISTS \"_plinth_meta\" (\n  key TEXT PRIMARY KEY,\n  value TEXT NOT NULL\n);\n";

const HISTORY_TABLE_DDL: &str = "CREATE TABLE IF NOT EXISTS \"_plinth_migrations\" (\n  version TEXT PRIMARY KEY,\n  name TEXT NOT NULL,\n  checksum TEXT NOT NULL,\n  applied_at TEXT NOT NULL,\n  duration_ms BIGINT NOT NULL\n);\n";

/// One row of the history table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: String,
    pub name: String,
    pub checksum: String,
    pub applied_at: String,
    pub duration_ms: i64,
}

impl AppliedMigration {
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// Creates the history table when missing.
pub fn ensure_table(database: &mut Database) -> Result<(), MigrateError> {
    database.batch(HISTORY_TABLE_DDL)
}

/// The applied migrations, in version order; none when the table does not exist.
pub fn applied(database: &mut Database) -> Result<Vec<AppliedMigration>, MigrateError> {
    if !database.has_table(HISTORY_TABLE)? {
        return Ok(Vec::new());
    }
    let rows = database.query(
        "SELECT version, name, checksum, applied_at, CAST(duration_ms AS TEXT) FROM \"_plinth_migrations\" ORDER BY version",
        &[],
    )?;
    let mut applied: Vec<AppliedMigration> = rows
        .into_iter()
        .map(|row| {
            let mut columns = row.into_iter().map(Option::unwrap_or_default);
            let mut next = || columns.next().unwrap_or_default();
            AppliedMigration {
                version: next(),
                name: next(),
                checksum: next(),
                applied_at: next(),
                duration_ms: next().parse().unwrap_or(0),
            }
        })
        .collect();
    // Text order equals numeric order for zero-padded versions; sort numerically in case a
    // folder outgrew its padding.
    applied.sort_by_key(|row| (row.version.parse::<u128>().unwrap_or(u128::MAX), row.id()));
    Ok(applied)
}

/// The SQL that records `row` (run in the migration's own transaction).
pub fn insert_sql(row: &AppliedMigration) -> String {
    format!(
        "INSERT INTO \"_plinth_migrations\" (version, name, checksum, applied_at, duration_ms) VALUES ({}, {}, {}, {}, {});\n",
        string_literal(&row.version),
        string_literal(&row.name),
        string_literal(&row.checksum),
        string_literal(&row.applied_at),
        row.duration_ms
    )
}

/// The SQL that forgets `version` (run in the down migration's own transaction).
pub fn delete_sql(version: &str) -> String {
    format!(
        "DELETE FROM \"_plinth_migrations\" WHERE version = {};\n",
        string_literal(version)
    )
}

/// The SQL that stores `fingerprint` in `_plinth_meta` (or removes it for `None`: no schema).
pub fn fingerprint_sql(fingerprint: Option<&str>) -> String {
    let mut sql = META_TABLE_DDL.to_string();
    sql.push_str(&format!(
        "DELETE FROM \"_plinth_meta\" WHERE key = {};\n",
        string_literal(FINGERPRINT_KEY)
    ));
    if let Some(fingerprint) = fingerprint {
        sql.push_str(&format!(
            "INSERT INTO \"_plinth_meta\" (key, value) VALUES ({}, {});\n",
            string_literal(FINGERPRINT_KEY),
            string_literal(fingerprint)
        ));
    }
    sql
}

/// The fingerprint stored by serve or by an earlier migrate run.
pub fn stored_fingerprint(database: &mut Database) -> Result<Option<String>, MigrateError> {
    if !database.has_table("_plinth_meta")? {
        return Ok(None);
    }
    let sql = match database.dialect() {
        plinth_sql::Dialect::Sqlite => "SELECT value FROM \"_plinth_meta\" WHERE key = ?1",
        plinth_sql::Dialect::Postgres => "SELECT value FROM \"_plinth_meta\" WHERE key = $1",
    };
    Ok(database
        .query(sql, &[FINGERPRINT_KEY])?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten()))
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
