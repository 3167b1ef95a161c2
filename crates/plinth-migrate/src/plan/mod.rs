//! The migration planner: from an old and a new schema to the SQL that takes a database from one
//! to the other, up and down, for SQLite or PostgreSQL.
//!
//! Both schemas go through `plinth_sql::create_schema` and are read back as objects, so every
//! table, column type, constraint and index name a migration writes is the one a fresh
//! `0001_init.sql` of the new schema would have. Which old object is which new one comes from
//! [`crate::diff`]: names, `@map`/`@@map` changes, and explicit rename hints, never guesses.
//!
//! SQLite cannot alter columns or constraints, so a changed table is rebuilt by the documented
//! procedure (new table, copy, drop, rename, indexes, with foreign keys off and checked after).
//! PostgreSQL changes are written to keep locks short: indexes built `CONCURRENTLY` outside the
//! transaction, constraints added `NOT VALID` then validated, `NOT NULL` proven by a validated
//! CHECK before it is set.
//!
//! `down` is the plan from the new schema back to the old one, with the renames reversed.

mod objects;
mod postgres;
mod sqlite;

use std::collections::BTreeMap;
use std::fmt;

use plinth_model::{FieldType, RelationKind, Schema};
use plinth_sql::Dialect;

use crate::diff::{self, Matching};
use objects::{quote, Objects};

/// What the planner may do.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `("Model", "NewModel")` or `("Model.field", "Model.newField")`: old = new.
    pub renames: Vec<(String, String)>,
    /// Plan changes that lose data instead of refusing with [`PlanError::Destructive`].
    pub allow_destructive: bool,
}

/// A migration: its steps in order, what it would lose, and whether only access rules changed.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// What applying `up` would lose, one sentence each; empty for a safe migration.
    pub destructive: Vec<DataLoss>,
    /// No SQL to run: only policies (or other API-only attributes) changed.
    pub policy_only: bool,
}

impl Plan {
    /// Nothing changed at all.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && !self.policy_only
    }
}

/// One change, with the SQL that makes it and the SQL that undoes it.
///
/// The down SQL of a whole plan is planned in one piece (new schema → old schema), because a
/// SQLite table rebuild undoes several up steps at once: it is carried by the plan's first step,
/// and [`render_down`] writes every step's `down` from the last step to the first.
#[derive(Clone, Debug, Default)]
pub struct Step {
    pub description: String,
    pub up: Vec<SqlBlock>,
    pub down: Vec<SqlBlock>,
    /// Why `down` cannot bring back what `up` removed (dropped rows, narrowed values).
    pub irreversible: Option<String>,
}

/// One SQL statement and why it is there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlBlock {
    pub sql: String,
    /// Written above the statement as `-- ` lines.
    pub comment: String,
    /// False for statements a transaction may not hold (`CREATE INDEX CONCURRENTLY`,
    /// `ALTER TYPE ... ADD VALUE`, SQLite's `PRAGMA foreign_keys`): run them on their own.
    pub transactional: bool,
}

impl SqlBlock {
    fn new(sql: impl Into<String>, comment: impl Into<String>) -> SqlBlock {
        SqlBlock {
            sql: sql.into(),
            comment: comment.into(),
            transactional: true,
        }
    }

    fn outside_transaction(sql: impl Into<String>, comment: impl Into<String>) -> SqlBlock {
        SqlBlock {
            sql: sql.into(),
            comment: comment.into(),
            transactional: false,
        }
    }
}

/// Something a migration would lose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLoss {
    pub sentence: String,
}

impl fmt::Display for DataLoss {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.sentence)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("field `{model}.{field}` is required but has no default, so existing rows would have no value: add `@default(...)` to it, or make it optional (`?`) first and fill it in")]
    RequiredWithoutDefault { model: String, field: String },
    #[error("this migration would lose data (run with --allow-destructive to accept):\n{}", list(.0))]
    Destructive(Vec<DataLoss>),
    #[error("rename `{old}={new}` names a model or field that is not in the schemas")]
    UnknownRename { old: String, new: String },
    #[error("{0}")]
    Unsupported(String),
}

fn list(losses: &[DataLoss]) -> String {
    losses
        .iter()
        .map(|loss| format!("  - {loss}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plans the migration from `old` to `new`. An empty `old` (`Schema::default()`) yields exactly
/// the objects of `plinth_sql::create_schema(new)`.
pub fn plan(
    old: &Schema,
    new: &Schema,
    dialect: Dialect,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let up = plan_one_way(old, new, dialect, &options.renames, true)?;
    if !up.destructive.is_empty() && !options.allow_destructive {
        return Err(PlanError::Destructive(up.destructive));
    }
    let reversed: Vec<(String, String)> = options
        .renames
        .iter()
        .map(|(old_name, new_name)| reverse_hint(old_name, new_name))
        .collect();
    let down = plan_one_way(new, old, dialect, &reversed, false)?;
    let mut plan = up;
    let down_blocks: Vec<SqlBlock> = down.steps.into_iter().flat_map(|s| s.up).collect();
    if let Some(first) = plan.steps.first_mut() {
        first.down = down_blocks;
    }
    Ok(plan)
}

/// `Model.old=Model.new` reversed is `Model.new=Model.old` (model named by either side).
fn reverse_hint(old_name: &str, new_name: &str) -> (String, String) {
    match old_name.split_once('.') {
        Some((model, old_field)) => {
            let new_field = new_name.rsplit('.').next().unwrap_or(new_name);
            (format!("{model}.{new_field}"), old_field.to_string())
        }
        None => (new_name.to_string(), old_name.to_string()),
    }
}

fn plan_one_way(
    old: &Schema,
    new: &Schema,
    dialect: Dialect,
    renames: &[(String, String)],
    strict: bool,
) -> Result<Plan, PlanError> {
    let matching =
        diff::match_schemas(old, new, renames).map_err(|unknown| PlanError::UnknownRename {
            old: unknown.old,
            new: unknown.new,
        })?;
    let mut context = Context::new(old, new, dialect, &matching);
    context.strict = strict;
    let mut plan = match dialect {
        Dialect::Sqlite => sqlite::plan(&context)?,
        Dialect::Postgres => postgres::plan(&context)?,
    };
    if dialect == Dialect::Sqlite {
        sqlite_enum_value_removals(old, new, &mut plan);
    }
    if plan.steps.is_empty()
        && (diff::policies_differ(old, new) || diff::api_attributes_differ(old, new))
    {
        plan.policy_only = true;
    }
    Ok(plan)
}

/// SQLite keeps enum values in a `CHECK (column IN (...))`: the table rebuild's copy fails on a
/// row holding a removed value, so nothing is lost silently, but the change is as destructive as
/// PostgreSQL's type swap and must be refused the same way (and its down said irreversible).
fn sqlite_enum_value_removals(old: &Schema, new: &Schema, plan: &mut Plan) {
    for old_enum in &old.enums {
        let Some(new_enum) = new.enum_by_name(&old_enum.name) else {
            continue;
        };
        let removed: Vec<String> = old_enum
            .values
            .iter()
            .filter(|value| !new_enum.values.iter().any(|v| v.db_name == value.db_name))
            .map(|value| format!("`{}`", value.db_name))
            .collect();
        if removed.is_empty() {
            continue;
        }
        let sentence = format!(
            "enum `{}` loses {}: rows holding them make the migration fail until they are changed",
            new_enum.name,
            removed.join(", ")
        );
        plan.destructive.push(DataLoss {
            sentence: sentence.clone(),
        });
        let tables: Vec<String> = new
            .models
            .iter()
            .filter(|model| {
                model
                    .fields
                    .iter()
                    .any(|field| matches!(field.ty, FieldType::Enum(id) if id == new_enum.id))
            })
            .map(|model| format!("rebuild table {}", quote(&model.db_name)))
            .collect();
        for step in plan
            .steps
            .iter_mut()
            .filter(|step| tables.contains(&step.description))
        {
            step.irreversible = Some(match step.irreversible.take() {
                Some(existing) => format!("{existing}; {sentence}"),
                None => sentence.clone(),
            });
        }
    }
}

/// The two schemas as objects, and which old table and column is which new one.
pub(crate) struct Context<'a> {
    /// Ties the context to the schemas it was built from.
    _schemas: std::marker::PhantomData<&'a Schema>,
    /// Refuse required fields without a default (up); a down migration instead writes SQL that
    /// fails on rows it cannot fill, and says so.
    pub strict: bool,
    pub old: Objects,
    pub new: Objects,
    /// Old qualified table → new qualified table.
    pub tables: BTreeMap<String, String>,
    /// Old qualified table → (old column → new column), for matched tables.
    pub columns: BTreeMap<String, BTreeMap<String, String>>,
    /// (qualified table, column) → `Model.field`, for messages (both schemas).
    pub labels: BTreeMap<(String, String), (String, String)>,
    /// Old enum type name → new enum type name (PostgreSQL), for enums matched by name.
    pub enums: BTreeMap<String, String>,
}

impl<'a> Context<'a> {
    fn new(
        old_schema: &'a Schema,
        new_schema: &'a Schema,
        dialect: Dialect,
        matching: &Matching,
    ) -> Context<'a> {
        let qualified = |schema: &Schema, model_index: usize, table: &str| -> String {
            let db_schema = schema
                .models
                .get(model_index)
                .and_then(|m| m.db_schema.as_deref());
            match (dialect, db_schema) {
                (Dialect::Postgres, Some(db_schema)) => {
                    format!("{}.{}", quote(db_schema), quote(table))
                }
                _ => quote(table),
            }
        };
        let mut tables = BTreeMap::new();
        let mut columns: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (&old_index, &new_index) in &matching.models {
            let (old_model, new_model) =
                (&old_schema.models[old_index], &new_schema.models[new_index]);
            let old_table = qualified(old_schema, old_index, &old_model.db_name);
            let new_table = qualified(new_schema, new_index, &new_model.db_name);
            let mut column_map = BTreeMap::new();
            for (&(model, old_field), &new_field) in &matching.fields {
                if model != old_index {
                    continue;
                }
                let (Some(old_f), Some(new_f)) = (
                    old_model.fields.get(old_field),
                    new_model.fields.get(new_field),
                ) else {
                    continue;
                };
                if old_f.is_column() && new_f.is_column() {
                    column_map.insert(old_f.db_name.clone(), new_f.db_name.clone());
                }
            }
            tables.insert(old_table.clone(), new_table);
            columns.insert(old_table, column_map);
        }
        // Implicit many-to-many join tables: the same relation when its field is matched and
        // the model behind column `A` stays the same.
        for relation in &old_schema.relations {
            let RelationKind::ManyToMany { join_table } = &relation.kind else {
                continue;
            };
            let old_field = (relation.referencing.model.0, relation.referencing.index);
            let Some(&new_field) = matching.fields.get(&old_field) else {
                continue;
            };
            let Some(new_model) = matching.new_model(old_field.0) else {
                continue;
            };
            let Some(FieldType::Relation(relation_field)) = new_schema
                .models
                .get(new_model)
                .and_then(|m| m.fields.get(new_field))
                .map(|f| f.ty.clone())
            else {
                continue;
            };
            let Some(new_relation) = new_schema.relations.get(relation_field.relation.0) else {
                continue;
            };
            let RelationKind::ManyToMany {
                join_table: new_join_table,
            } = &new_relation.kind
            else {
                continue;
            };
            let same_a = matching.new_model(relation.referencing.model.0)
                == Some(new_relation.referencing.model.0)
                && matching.new_model(relation.referenced.model.0)
                    == Some(new_relation.referenced.model.0);
            if !same_a {
                continue;
            }
            let old_table = qualified(old_schema, relation.referencing.model.0, join_table);
            let new_table = qualified(new_schema, new_relation.referencing.model.0, new_join_table);
            tables.insert(old_table.clone(), new_table);
            columns.insert(
                old_table,
                [("A", "A"), ("B", "B")]
                    .into_iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            );
        }
        let mut labels = BTreeMap::new();
        for schema in [old_schema, new_schema] {
            for (index, model) in schema.models.iter().enumerate() {
                let table = qualified(schema, index, &model.db_name);
                for (_, field) in model.columns() {
                    labels.insert(
                        (table.clone(), field.db_name.clone()),
                        (model.name.clone(), field.name.clone()),
                    );
                }
            }
        }
        let mut enums = BTreeMap::new();
        for old_enum in &old_schema.enums {
            if let Some(new_enum) = new_schema.enum_by_name(&old_enum.name) {
                enums.insert(old_enum.db_name.clone(), new_enum.db_name.clone());
            }
        }
        Context {
            _schemas: std::marker::PhantomData,
            strict: true,
            old: objects::parse(&plinth_sql::create_schema(old_schema, dialect)),
            new: objects::parse(&plinth_sql::create_schema(new_schema, dialect)),
            tables,
            columns,
            labels,
            enums,
        }
    }

    /// `Model.field` for a column, or `table.column` when it is not a model field.
    pub fn label(&self, table: &str, column: &str) -> (String, String) {
        self.labels
            .get(&(table.to_string(), column.to_string()))
            .cloned()
            .unwrap_or_else(|| (table.trim_matches('"').to_string(), column.to_string()))
    }

    /// The old column that becomes `new_column` of matched table `old_table`.
    pub fn old_column(&self, old_table: &str, new_column: &str) -> Option<String> {
        self.columns
            .get(old_table)?
            .iter()
            .find(|(_, new)| new.as_str() == new_column)
            .map(|(old, _)| old.clone())
    }
}

/// How a column type change affects data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TypeChange {
    Same,
    Widening,
    Narrowing,
}

/// Whether changing a column from `old` to `new` (SQL type names of one dialect) keeps every value.
pub(crate) fn type_change(old: &str, new: &str) -> TypeChange {
    let normal = |ty: &str| -> String {
        match ty {
            "SERIAL" => "INTEGER".to_string(),
            "BIGSERIAL" => "BIGINT".to_string(),
            "SMALLSERIAL" => "SMALLINT".to_string(),
            other => other.to_string(),
        }
    };
    let (old, new) = (normal(old), normal(new));
    if old == new {
        return TypeChange::Same;
    }
    let base = |ty: &str| ty.split('(').next().unwrap_or(ty).trim().to_string();
    let length = |ty: &str| -> Option<u64> {
        ty.split_once('(').and_then(|(_, rest)| {
            rest.trim_end_matches(')')
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
    };
    let widening = match (base(&old).as_str(), base(&new).as_str()) {
        (_, "TEXT") => !old.ends_with("[]"),
        ("VARCHAR", "VARCHAR") | ("CHAR", "VARCHAR") => match (length(&old), length(&new)) {
            (Some(before), Some(after)) => after >= before,
            (_, None) => true,
            _ => false,
        },
        ("SMALLINT", "INTEGER" | "BIGINT" | "DECIMAL" | "REAL" | "DOUBLE PRECISION") => true,
        ("INTEGER", "BIGINT" | "DECIMAL" | "DOUBLE PRECISION") => true,
        ("BIGINT", "DECIMAL") => true,
        ("BOOLEAN", "INTEGER" | "BIGINT" | "SMALLINT") => true,
        ("REAL", "DOUBLE PRECISION") => true,
        ("JSON", "JSONB") | ("JSONB", "JSON") => true,
        _ => false,
    };
    if widening {
        TypeChange::Widening
    } else {
        TypeChange::Narrowing
    }
}

/// The up SQL of a plan as a script, each statement under its comment.
pub fn render_up(plan: &Plan, dialect: Dialect) -> String {
    let mut out = header(dialect, "up");
    if plan.policy_only {
        out.push_str("\n-- Only access policies changed: no SQL to run.\n");
    }
    if !plan.destructive.is_empty() {
        out.push_str("\n-- WARNING: this migration loses data:\n");
        for loss in &plan.destructive {
            out.push_str(&format!("--   {}\n", one_line(&loss.sentence)));
        }
    }
    for step in &plan.steps {
        render_step(&mut out, &step.description, &step.up);
    }
    out
}

/// The down SQL of a plan as a script; what it cannot restore is said at the top.
pub fn render_down(plan: &Plan, dialect: Dialect) -> String {
    let mut out = header(dialect, "down");
    let irreversible: Vec<&String> = plan
        .steps
        .iter()
        .filter_map(|s| s.irreversible.as_ref())
        .collect();
    if !irreversible.is_empty() {
        out.push_str(
            "\n-- IRREVERSIBLE: this down migration restores the structure, not the data:\n",
        );
        for note in irreversible {
            out.push_str(&format!("--   {}\n", one_line(note)));
        }
    }
    if plan.policy_only {
        out.push_str("\n-- Only access policies changed: no SQL to run.\n");
    }
    let blocks: Vec<&SqlBlock> = plan.steps.iter().rev().flat_map(|s| &s.down).collect();
    for block in blocks {
        render_block(&mut out, block);
    }
    out
}

fn header(dialect: Dialect, direction: &str) -> String {
    format!(
        "-- Generated by plinth migrate: {direction} migration for {}.\n",
        dialect.display_name()
    )
}

fn render_step(out: &mut String, description: &str, blocks: &[SqlBlock]) {
    out.push_str(&format!("\n-- Step: {}\n", one_line(description)));
    for block in blocks {
        render_block(out, block);
    }
}

fn render_block(out: &mut String, block: &SqlBlock) {
    out.push('\n');
    for line in block.comment.lines() {
        out.push_str(&format!("-- {line}\n"));
    }
    if !block.transactional {
        out.push_str(crate::script::NO_TRANSACTION_MARKER);
        out.push('\n');
    }
    out.push_str(&block.sql);
    if !block.sql.trim_end().ends_with(';') {
        out.push(';');
    }
    out.push('\n');
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}
