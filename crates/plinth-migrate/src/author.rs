//! `plinth migrate diff`: compare a schema with the last migration's snapshot and write the next
//! migration folder. The first migration is the schema's full `create_schema`; later ones come
//! from the planner ([`crate::plan`]).

use crate::error::MigrateError;
use crate::folder::{self, DialectSql, Metadata};
use crate::plan::{plan, render_down, render_up, PlanError, PlanOptions};
use plinth_model::{RelationKind, Schema};
use plinth_sql::{quote_ident, Dialect};
use std::path::{Path, PathBuf};

/// What to write.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// The migration's name (sanitized); default `init` for the first, `change` after.
    pub name: Option<String>,
    /// `--rename old=new`: model or field renames the planner must not guess.
    pub renames: Vec<(String, String)>,
    /// Write a migration that loses data.
    pub allow_destructive: bool,
    /// The dialects to write; empty means the schema's datasource dialect.
    pub dialects: Vec<Dialect>,
}

/// What `diff` did.
#[derive(Clone, Debug)]
pub enum DiffOutcome {
    /// The schema matches the last snapshot: nothing written.
    NothingToDo,
    /// A new migration folder and its files (relative to it).
    Written { folder: PathBuf, files: Vec<String> },
    /// The change loses data and `allow_destructive` was not given: nothing written.
    Destructive { losses: Vec<String> },
    /// The planner cannot write this change safely (a required field without a default, an
    /// unknown `--rename`): nothing written.
    Refused { reason: String },
}

/// The dialect a schema's datasource names; SQLite (serve's default) when it names neither.
pub fn schema_dialect(schema: &Schema) -> Dialect {
    match schema.datasource.as_ref().map(|d| &d.provider) {
        Some(plinth_model::Provider::Postgresql) => Dialect::Postgres,
        _ => Dialect::Sqlite,
    }
}

/// Writes the next migration for `schema` (compiled from `schema_text`, without errors) into
/// `directory`.
pub fn diff(
    directory: &Path,
    schema_text: &str,
    schema: &Schema,
    options: &DiffOptions,
) -> Result<DiffOutcome, MigrateError> {
    let migrations = folder::list(directory)?;
    let mut dialects = if options.dialects.is_empty() {
        vec![schema_dialect(schema)]
    } else {
        options.dialects.clone()
    };
    dialects.sort();
    dialects.dedup();
    let (sql, destructive) = match migrations.last() {
        None => {
            if schema.models.is_empty() && schema.enums.is_empty() {
                return Ok(DiffOutcome::NothingToDo);
            }
            let sql = dialects
                .iter()
                .map(|&dialect| DialectSql {
                    dialect,
                    up: plinth_sql::create_schema(schema, dialect),
                    down: drop_schema(schema, dialect),
                })
                .collect::<Vec<_>>();
            (sql, false)
        }
        Some(last) => {
            let previous_text = last.snapshot()?;
            let previous = folder::compile_snapshot(&last.id(), &previous_text)?;
            match planned(&previous, schema, &dialects, options)? {
                Planned::Nothing => return Ok(DiffOutcome::NothingToDo),
                Planned::Destructive(losses) => return Ok(DiffOutcome::Destructive { losses }),
                Planned::Refused(reason) => return Ok(DiffOutcome::Refused { reason }),
                Planned::Sql { sql, destructive } => (sql, destructive),
            }
        }
    };
    let version = folder::next_version(&migrations);
    let default_name = if migrations.is_empty() {
        "init"
    } else {
        "change"
    };
    let name = folder::sanitize_name(options.name.as_deref().unwrap_or(default_name));
    let metadata = Metadata {
        version,
        name,
        dialects: dialects
            .iter()
            .map(|dialect| dialect.directory_name().to_string())
            .collect(),
        destructive,
    };
    let (folder, files) = folder::write(directory, &metadata, schema_text, &sql)?;
    Ok(DiffOutcome::Written { folder, files })
}

enum Planned {
    Nothing,
    Destructive(Vec<String>),
    Refused(String),
    Sql {
        sql: Vec<DialectSql>,
        destructive: bool,
    },
}

/// The planner's answer for a later migration, for every dialect asked for.
fn planned(
    previous: &Schema,
    schema: &Schema,
    dialects: &[Dialect],
    options: &DiffOptions,
) -> Result<Planned, MigrateError> {
    let plan_options = PlanOptions {
        renames: options.renames.clone(),
        allow_destructive: options.allow_destructive,
    };
    let mut sql = Vec::new();
    let mut destructive = false;
    let mut empty = true;
    for &dialect in dialects {
        let plan = match plan(previous, schema, dialect, &plan_options) {
            Ok(plan) => plan,
            Err(PlanError::Destructive(losses)) => {
                return Ok(Planned::Destructive(
                    losses.iter().map(ToString::to_string).collect(),
                ))
            }
            Err(other) => return Ok(Planned::Refused(other.to_string())),
        };
        empty &= plan.is_empty();
        destructive |= !plan.destructive.is_empty();
        sql.push(DialectSql {
            dialect,
            up: render_up(&plan, dialect),
            down: render_down(&plan, dialect),
        });
    }
    if empty {
        return Ok(Planned::Nothing);
    }
    Ok(Planned::Sql { sql, destructive })
}

/// The down.sql of a first migration: drop every table (join tables first, then models newest
/// first) and, on PostgreSQL, the enum types.
pub fn drop_schema(schema: &Schema, dialect: Dialect) -> String {
    let mut sql = format!(
        "-- Generated by plinth: undoes the initial migration for {}.\n-- Every table of the schema is dropped with its data; this cannot be restored.\n\n",
        dialect.display_name()
    );
    if dialect == Dialect::Sqlite {
        // Dropping a referenced table first would fail the foreign key check at once; deferred,
        // the check runs at commit, when every table is gone.
        sql.push_str("PRAGMA defer_foreign_keys = ON;\n");
    }
    let mut tables: Vec<&str> = schema
        .relations
        .iter()
        .filter_map(|relation| match &relation.kind {
            RelationKind::ManyToMany { join_table } => Some(join_table.as_str()),
            _ => None,
        })
        .collect();
    tables.extend(
        schema
            .models
            .iter()
            .rev()
            .map(|model| model.db_name.as_str()),
    );
    for table in tables {
        let cascade = if dialect == Dialect::Postgres {
            " CASCADE"
        } else {
            ""
        };
        sql.push_str(&format!(
            "DROP TABLE IF EXISTS {}{cascade};\n",
            quote_ident(dialect, table)
        ));
    }
    if dialect == Dialect::Postgres {
        for enumeration in &schema.enums {
            sql.push_str(&format!(
                "DROP TYPE IF EXISTS {};\n",
                quote_ident(dialect, &enumeration.db_name)
            ));
        }
    }
    sql
}
