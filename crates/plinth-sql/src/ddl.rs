//! The initial migration (`0001_init.sql`): enums, tables, keys, CHECKs, indexes, foreign keys
//! and implicit many-to-many join tables, in Prisma's naming conventions.
//!
//! Generation happens in two steps: a plan per table (every name chosen, every line decided),
//! then rendering. Names are chosen in a fixed order (tables and user-given names first, then
//! defaults model by model), so the output is deterministic.
//!
//! PostgreSQL adds foreign keys with `ALTER TABLE` after every table exists, so table order does
//! not matter; SQLite cannot add constraints later, so its foreign keys are written inside
//! `CREATE TABLE` (SQLite resolves the referenced table only when rows are written, so order does
//! not matter there either).

use std::collections::BTreeSet;

use plinth_model::{
    DefaultValue, Field, FieldType, Model, ReferentialAction, RelationKind, ScalarType, Schema,
    SortOrder,
};

use crate::checks::column_checks;
use crate::literals::{default_clause, string_literal, DefaultClause};
use crate::names::{quote_ident, NameRegistry};
use crate::types::{column_type, ddl_column_type, uses_citext};
use crate::Dialect;

/// The whole initial migration for `schema` in `dialect`. The schema should be free of errors;
/// for one that is not, the output is best effort (never a panic).
pub fn create_schema(schema: &Schema, dialect: Dialect) -> String {
    let mut builder = Builder {
        schema,
        dialect,
        names: NameRegistry::default(),
        tables: Vec::new(),
    };
    builder.reserve_names();
    for model in &schema.models {
        builder.plan_model(model);
    }
    builder.plan_relations();
    builder.render()
}

/// One line inside `CREATE TABLE ( ... )` with an optional trailing comment.
struct Line {
    sql: String,
    comment: Option<String>,
}

struct IndexPlan {
    name: String,
    unique: bool,
    /// Rendered column list entries: `"title" DESC`.
    columns: Vec<String>,
    /// PostgreSQL index method (`USING hash`).
    method: Option<String>,
    /// A comment written above the statement.
    note: Option<String>,
}

struct ForeignKeyPlan {
    name: String,
    columns: Vec<String>,
    referenced_table: String,
    referenced_columns: Vec<String>,
    on_delete: ReferentialAction,
    on_update: ReferentialAction,
}

struct TablePlan {
    /// `"schema"."table"` on PostgreSQL with `@@schema`, else `"table"`.
    qualified_name: String,
    /// Comment lines written above `CREATE TABLE`.
    notes: Vec<String>,
    columns: Vec<Line>,
    /// Primary key, CHECKs and (SQLite) foreign keys.
    constraints: Vec<Line>,
    indexes: Vec<IndexPlan>,
    /// PostgreSQL only: added after every table exists.
    foreign_keys: Vec<ForeignKeyPlan>,
    /// Field-index lists whose leading columns an index already covers (primary key, unique
    /// constraints, indexes): a foreign key led by these needs no index of its own.
    covered_prefixes: Vec<Vec<usize>>,
}

struct Builder<'schema> {
    schema: &'schema Schema,
    dialect: Dialect,
    names: NameRegistry,
    /// One per model (same order as `schema.models`), then the join tables.
    tables: Vec<TablePlan>,
}

impl<'schema> Builder<'schema> {
    fn quote(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }

    /// Tables and indexes share one namespace per PostgreSQL schema (one in all of SQLite).
    fn relation_namespace(&self, model: &Model) -> String {
        match (self.dialect, &model.db_schema) {
            (Dialect::Postgres, Some(db_schema)) => format!("relations:{db_schema}"),
            _ => "relations:".to_string(),
        }
    }

    /// Constraint names (`_fkey`, `_check`) only need to be unique within their table.
    fn constraint_namespace(&self, relation_namespace: &str, table: &str) -> String {
        format!("constraints:{relation_namespace}:{table}")
    }

    fn qualified_table(&self, db_schema: Option<&str>, table: &str) -> String {
        match (self.dialect, db_schema) {
            (Dialect::Postgres, Some(db_schema)) => {
                format!("{}.{}", self.quote(db_schema), self.quote(table))
            }
            _ => self.quote(table),
        }
    }

    fn reserve_names(&mut self) {
        for model in &self.schema.models {
            let namespace = self.relation_namespace(model);
            self.names.reserve(&namespace, &model.db_name);
            let user_names = model
                .primary_key
                .db_name
                .iter()
                .chain(
                    model
                        .unique_constraints
                        .iter()
                        .filter_map(|u| u.db_name.as_ref()),
                )
                .chain(model.indexes.iter().filter_map(|i| i.db_name.as_ref()));
            for name in user_names {
                self.names.reserve(&namespace, name);
            }
        }
        for relation in &self.schema.relations {
            if let RelationKind::ManyToMany { join_table } = &relation.kind {
                if let Some(model) = self.schema.models.get(relation.referencing.model.0) {
                    let namespace = self.relation_namespace(model);
                    self.names.reserve(&namespace, join_table);
                }
            }
        }
    }

    fn column_name(model: &Model, field_index: usize) -> &str {
        model
            .fields
            .get(field_index)
            .map_or("?", |field| field.db_name.as_str())
    }

    fn plan_model(&mut self, model: &Model) {
        let dialect = self.dialect;
        let relation_namespace = self.relation_namespace(model);
        let constraint_namespace = self.constraint_namespace(&relation_namespace, &model.db_name);
        let table = model.db_name.as_str();
        let mut plan = TablePlan {
            qualified_name: self.qualified_table(model.db_schema.as_deref(), table),
            notes: Vec::new(),
            columns: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            covered_prefixes: Vec::new(),
        };
        let primary_key = &model.primary_key.fields;
        let single_primary_key = match primary_key.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        let mut check_lines = Vec::new();
        for (field_index, field) in model.columns() {
            let is_single_primary_key = single_primary_key == Some(field_index);
            plan.columns
                .push(self.column_line(field, is_single_primary_key));
            let checks = column_checks(self.schema, field, dialect);
            if !checks.conditions.is_empty() {
                let name = self.names.allocate(
                    &constraint_namespace,
                    &format!("{table}_{}", field.db_name),
                    "check",
                );
                check_lines.push(Line {
                    sql: format!(
                        "CONSTRAINT {} CHECK ({})",
                        self.quote(&name),
                        checks.conditions.join(" AND ")
                    ),
                    comment: None,
                });
            }
            if !checks.left_to_server.is_empty() {
                let note = format!("{} checked by the server", checks.left_to_server.join(", "));
                if let Some(line) = plan.columns.last_mut() {
                    line.comment = Some(match line.comment.take() {
                        Some(existing) => format!("{existing}; {note}"),
                        None => note,
                    });
                }
            }
        }

        if !primary_key.is_empty() {
            let name = match &model.primary_key.db_name {
                Some(name) => name.clone(),
                None => self.names.allocate(&relation_namespace, table, "pkey"),
            };
            let inline_in_sqlite = single_primary_key.is_some();
            if dialect == Dialect::Postgres || !inline_in_sqlite {
                let columns =
                    self.column_list(model, primary_key.iter().map(|&index| (index, None)));
                plan.constraints.push(Line {
                    sql: format!("CONSTRAINT {} PRIMARY KEY ({columns})", self.quote(&name)),
                    comment: None,
                });
            }
            plan.covered_prefixes.push(primary_key.clone());
        }
        plan.constraints.extend(check_lines);

        for unique in &model.unique_constraints {
            let field_indexes: Vec<usize> = unique.fields.iter().map(|f| f.field).collect();
            let name = match &unique.db_name {
                Some(name) => name.clone(),
                None => self.names.allocate(
                    &relation_namespace,
                    &self.default_prefix(model, &field_indexes),
                    "key",
                ),
            };
            plan.indexes.push(IndexPlan {
                name,
                unique: true,
                columns: self.index_columns(model, unique.fields.iter().map(|f| (f.field, f.sort))),
                method: None,
                note: None,
            });
            plan.covered_prefixes.push(field_indexes);
        }
        for index in &model.indexes {
            let field_indexes: Vec<usize> = index.fields.iter().map(|f| f.field).collect();
            let (method, note) = match (dialect, index.method.as_deref()) {
                (Dialect::Postgres, Some(written)) => {
                    self.index_method(model, &field_indexes, written)
                }
                _ => (None, None),
            };
            let name = match &index.db_name {
                Some(name) => name.clone(),
                None => self.names.allocate(
                    &relation_namespace,
                    &self.default_prefix(model, &field_indexes),
                    "idx",
                ),
            };
            plan.indexes.push(IndexPlan {
                name,
                unique: false,
                columns: self.index_columns(model, index.fields.iter().map(|f| (f.field, f.sort))),
                method,
                note,
            });
            plan.covered_prefixes.push(field_indexes);
        }
        if plan.columns.is_empty() {
            plan.notes
                .push(format!("model {} has no columns, so no table", model.name));
        }
        self.tables.push(plan);
    }

    /// The `USING` method for `@@index(type: ...)`, or none and a note when PostgreSQL could not
    /// build it: the model does not keep operator classes (`ops:`), and without one GIN, GiST
    /// and SP-GiST have no default for most column types; hash and SP-GiST take one column.
    fn index_method(
        &self,
        model: &Model,
        field_indexes: &[usize],
        written: &str,
    ) -> (Option<String>, Option<String>) {
        let Some(method) = postgres_index_method(written) else {
            return (
                None,
                Some(format!(
                    "index type {written} is unknown to PostgreSQL: a B-tree index instead"
                )),
            );
        };
        let fields: Vec<&Field> = field_indexes
            .iter()
            .filter_map(|&index| model.fields.get(index))
            .collect();
        let is_unsupported = |field: &&Field| matches!(field.ty, FieldType::Unsupported(_));
        let buildable = match method.as_str() {
            "gin" => fields.iter().all(|field| {
                field.is_list()
                    || is_unsupported(field)
                    || column_type(self.schema, field, Dialect::Postgres) == "JSONB"
            }),
            "gist" => fields.iter().all(is_unsupported),
            "spgist" => {
                fields.len() == 1
                    && fields.iter().all(|field| {
                        is_unsupported(field)
                            || (field.ty == FieldType::Scalar(ScalarType::String)
                                && !field.is_list())
                    })
            }
            "hash" => fields.len() == 1,
            _ => true,
        };
        if buildable {
            (Some(method), None)
        } else {
            (
                None,
                Some(format!(
                    "type: {written} needs an operator class for these columns, which is not kept: a B-tree index instead"
                )),
            )
        }
    }

    /// `Table_col1_col2`: the part of a default name before `_key` / `_idx` / `_fkey`.
    fn default_prefix(&self, model: &Model, field_indexes: &[usize]) -> String {
        let mut prefix = model.db_name.clone();
        for &index in field_indexes {
            prefix.push('_');
            prefix.push_str(Self::column_name(model, index));
        }
        prefix
    }

    fn column_list(
        &self,
        model: &Model,
        fields: impl Iterator<Item = (usize, Option<SortOrder>)>,
    ) -> String {
        self.index_columns(model, fields).join(", ")
    }

    fn index_columns(
        &self,
        model: &Model,
        fields: impl Iterator<Item = (usize, Option<SortOrder>)>,
    ) -> Vec<String> {
        fields
            .map(|(index, sort)| {
                let column = self.quote(Self::column_name(model, index));
                match sort {
                    Some(SortOrder::Asc) => format!("{column} ASC"),
                    Some(SortOrder::Desc) => format!("{column} DESC"),
                    None => column,
                }
            })
            .collect()
    }

    fn column_line(&self, field: &Field, is_single_primary_key: bool) -> Line {
        let dialect = self.dialect;
        let mut sql = format!(
            "{} {}",
            self.quote(&field.db_name),
            ddl_column_type(self.schema, field, dialect)
        );
        let mut notes = Vec::new();
        // Prisma leaves scalar lists nullable.
        if field.arity == plinth_model::Arity::Required {
            sql.push_str(" NOT NULL");
        }
        let is_autoincrement = field.default == Some(DefaultValue::Autoincrement);
        if dialect == Dialect::Sqlite && is_single_primary_key {
            // Only `INTEGER PRIMARY KEY` aliases the rowid, which AUTOINCREMENT needs.
            let is_integer = matches!(
                field.ty,
                FieldType::Scalar(ScalarType::Int | ScalarType::BigInt)
            ) && !field.is_list();
            if is_autoincrement && is_integer {
                sql = format!(
                    "{} INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT",
                    self.quote(&field.db_name)
                );
            } else {
                sql.push_str(" PRIMARY KEY");
            }
        }
        if is_autoincrement && dialect == Dialect::Sqlite && !is_single_primary_key {
            notes.push(
                "autoincrement() needs a single-column INTEGER primary key in SQLite: no default here"
                    .to_string(),
            );
        }
        if let (Dialect::Sqlite, FieldType::Unsupported(written)) = (dialect, &field.ty) {
            notes.push(format!(
                "Unsupported(\"{written}\") has no SQLite type: stored untyped"
            ));
        }
        match default_clause(self.schema, field, dialect) {
            DefaultClause::None => {}
            DefaultClause::Sql(expression) => {
                sql.push_str(" DEFAULT ");
                sql.push_str(&expression);
            }
            DefaultClause::Note(note) => notes.push(note),
        }
        Line {
            sql,
            comment: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }

    fn plan_relations(&mut self) {
        for relation in &self.schema.relations {
            match &relation.kind {
                RelationKind::OneToOne | RelationKind::OneToMany => {
                    self.plan_foreign_key(
                        relation.referencing.model.0,
                        relation.referenced.model.0,
                        &relation.fk_fields,
                        &relation.references,
                        relation.on_delete,
                        relation.on_update,
                    );
                }
                RelationKind::ManyToMany { join_table } => {
                    self.plan_join_table(
                        join_table,
                        relation.referencing.model.0,
                        relation.referenced.model.0,
                    );
                }
            }
        }
    }

    fn plan_foreign_key(
        &mut self,
        model_index: usize,
        referenced_model_index: usize,
        fk_fields: &[usize],
        references: &[usize],
        on_delete: ReferentialAction,
        on_update: ReferentialAction,
    ) {
        let schema = self.schema;
        let (Some(model), Some(referenced_model)) = (
            schema.models.get(model_index),
            schema.models.get(referenced_model_index),
        ) else {
            return;
        };
        if fk_fields.is_empty() || fk_fields.len() != references.len() {
            return;
        }
        let relation_namespace = self.relation_namespace(model);
        let constraint_namespace = self.constraint_namespace(&relation_namespace, &model.db_name);
        let prefix = self.default_prefix(model, fk_fields);
        let name = self.names.allocate(&constraint_namespace, &prefix, "fkey");
        let foreign_key = ForeignKeyPlan {
            name,
            columns: fk_fields
                .iter()
                .map(|&index| Self::column_name(model, index).to_string())
                .collect(),
            referenced_table: self.qualified_table(
                referenced_model.db_schema.as_deref(),
                &referenced_model.db_name,
            ),
            referenced_columns: references
                .iter()
                .map(|&index| Self::column_name(referenced_model, index).to_string())
                .collect(),
            on_delete,
            on_update,
        };

        let covered = self.tables.get(model_index).is_some_and(|plan| {
            plan.covered_prefixes
                .iter()
                .any(|prefix| leads_with(prefix, fk_fields))
        });
        let index = (!covered).then(|| IndexPlan {
            name: self.names.allocate(&relation_namespace, &prefix, "idx"),
            unique: false,
            columns: self.index_columns(model, fk_fields.iter().map(|&index| (index, None))),
            method: None,
            note: None,
        });
        let line = self.foreign_key_line(&foreign_key);
        let dialect = self.dialect;
        let Some(plan) = self.tables.get_mut(model_index) else {
            return;
        };
        if let Some(index) = index {
            plan.indexes.push(index);
            plan.covered_prefixes.push(fk_fields.to_vec());
        }
        match dialect {
            Dialect::Postgres => plan.foreign_keys.push(foreign_key),
            Dialect::Sqlite => plan.constraints.push(line),
        }
    }

    fn foreign_key_line(&self, foreign_key: &ForeignKeyPlan) -> Line {
        let quote_all = |columns: &[String]| {
            columns
                .iter()
                .map(|column| self.quote(column))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Line {
            sql: format!(
                "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
                self.quote(&foreign_key.name),
                quote_all(&foreign_key.columns),
                foreign_key.referenced_table,
                quote_all(&foreign_key.referenced_columns),
                foreign_key.on_delete.sql(),
                foreign_key.on_update.sql()
            ),
            comment: None,
        }
    }

    /// Prisma's implicit many-to-many table: `"A"` references the model whose name sorts first,
    /// `"B"` the other; a unique index on (A, B), an index on B, cascading foreign keys.
    fn plan_join_table(&mut self, join_table: &str, model_a_index: usize, model_b_index: usize) {
        let schema = self.schema;
        let (Some(model_a), Some(model_b)) = (
            schema.models.get(model_a_index),
            schema.models.get(model_b_index),
        ) else {
            return;
        };
        let relation_namespace = self.relation_namespace(model_a);
        let constraint_namespace = self.constraint_namespace(&relation_namespace, join_table);
        let mut plan = TablePlan {
            qualified_name: self.qualified_table(model_a.db_schema.as_deref(), join_table),
            notes: Vec::new(),
            columns: Vec::new(),
            constraints: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            covered_prefixes: Vec::new(),
        };
        let (Some(id_a), Some(id_b)) = (single_id(model_a), single_id(model_b)) else {
            return;
        };
        for (column, id_field) in [("A", id_a), ("B", id_b)] {
            plan.columns.push(Line {
                sql: format!(
                    "{} {} NOT NULL",
                    self.quote(column),
                    column_type(schema, id_field, self.dialect)
                ),
                comment: None,
            });
        }
        plan.indexes.push(IndexPlan {
            name: self
                .names
                .allocate(&relation_namespace, join_table, "AB_unique"),
            unique: true,
            columns: vec![self.quote("A"), self.quote("B")],
            method: None,
            note: None,
        });
        plan.indexes.push(IndexPlan {
            name: self
                .names
                .allocate(&relation_namespace, join_table, "B_index"),
            unique: false,
            columns: vec![self.quote("B")],
            method: None,
            note: None,
        });
        for (column, model, id_field) in [("A", model_a, id_a), ("B", model_b, id_b)] {
            let foreign_key = ForeignKeyPlan {
                name: self.names.allocate(
                    &constraint_namespace,
                    &format!("{join_table}_{column}"),
                    "fkey",
                ),
                columns: vec![column.to_string()],
                referenced_table: self.qualified_table(model.db_schema.as_deref(), &model.db_name),
                referenced_columns: vec![id_field.db_name.clone()],
                on_delete: ReferentialAction::Cascade,
                on_update: ReferentialAction::Cascade,
            };
            match self.dialect {
                Dialect::Postgres => plan.foreign_keys.push(foreign_key),
                Dialect::Sqlite => {
                    let line = self.foreign_key_line(&foreign_key);
                    plan.constraints.push(line);
                }
            }
        }
        self.tables.push(plan);
    }

    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("-- Generated by plinth from the schema: do not edit by hand.\n");
        out.push_str(&format!(
            "-- Initial migration for {}.\n",
            self.dialect.display_name()
        ));
        if self.dialect == Dialect::Sqlite {
            out.push_str("-- Foreign keys are enforced only with PRAGMA foreign_keys = ON.\n");
            if self
                .schema
                .models
                .iter()
                .any(|model| model.db_schema.is_some())
            {
                out.push_str("-- @@schema is not used: SQLite has one namespace.\n");
            }
        }
        if self.dialect == Dialect::Postgres {
            self.render_postgres_prelude(&mut out);
        }

        for table in &self.tables {
            if table.columns.is_empty() {
                for note in &table.notes {
                    out.push_str(&format!("\n-- {}\n", comment_text(note)));
                }
                continue;
            }
            out.push_str("\n-- CreateTable\n");
            for note in &table.notes {
                out.push_str(&format!("-- {}\n", comment_text(note)));
            }
            out.push_str(&format!("CREATE TABLE {} (\n", table.qualified_name));
            let total = table.columns.len() + table.constraints.len();
            let mut written = 0;
            for (group_index, group) in [&table.columns, &table.constraints].into_iter().enumerate()
            {
                if group_index == 1 && !group.is_empty() {
                    out.push('\n');
                }
                for line in group {
                    written += 1;
                    out.push_str("    ");
                    out.push_str(&line.sql);
                    if written < total {
                        out.push(',');
                    }
                    if let Some(comment) = &line.comment {
                        out.push_str(" -- ");
                        out.push_str(&comment_text(comment));
                    }
                    out.push('\n');
                }
            }
            out.push_str(");\n");
        }

        for table in self.tables.iter().filter(|table| !table.columns.is_empty()) {
            for index in &table.indexes {
                let method = match (&index.method, self.dialect) {
                    (Some(method), Dialect::Postgres) => format!(" USING {method}"),
                    _ => String::new(),
                };
                out.push_str("\n-- CreateIndex\n");
                if let Some(note) = &index.note {
                    out.push_str(&format!("-- {}\n", comment_text(note)));
                }
                out.push_str(&format!(
                    "CREATE {}INDEX {} ON {}{method}({});\n",
                    if index.unique { "UNIQUE " } else { "" },
                    self.quote(&index.name),
                    table.qualified_name,
                    index.columns.join(", ")
                ));
            }
        }

        for table in self.tables.iter().filter(|table| !table.columns.is_empty()) {
            for foreign_key in &table.foreign_keys {
                let line = self.foreign_key_line(foreign_key);
                out.push_str(&format!(
                    "\n-- AddForeignKey\nALTER TABLE {} ADD {};\n",
                    table.qualified_name, line.sql
                ));
            }
        }
        out
    }

    fn render_postgres_prelude(&self, out: &mut String) {
        let db_schemas: BTreeSet<&str> = self
            .schema
            .models
            .iter()
            .filter_map(|model| model.db_schema.as_deref())
            .filter(|db_schema| *db_schema != "public")
            .collect();
        for db_schema in db_schemas {
            out.push_str(&format!(
                "\n-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS {};\n",
                self.quote(db_schema)
            ));
        }
        let needs_citext = self
            .schema
            .models
            .iter()
            .any(|model| model.fields.iter().any(uses_citext));
        if needs_citext {
            out.push_str("\n-- CreateExtension\nCREATE EXTENSION IF NOT EXISTS \"citext\";\n");
        }
        for enumeration in &self.schema.enums {
            let values: Vec<String> = enumeration
                .values
                .iter()
                .map(|value| string_literal(&value.db_name))
                .collect();
            out.push_str(&format!(
                "\n-- CreateEnum\nCREATE TYPE {} AS ENUM ({});\n",
                self.quote(&enumeration.db_name),
                values.join(", ")
            ));
        }
    }
}

/// The model's identifier when it is a single field (implicit many-to-many needs one).
fn single_id(model: &Model) -> Option<&Field> {
    match model.primary_key.fields.as_slice() {
        [only] => model.fields.get(*only),
        _ => None,
    }
}

/// Whether an index on `index_fields` can serve lookups by `fk_fields`: its leading columns are
/// exactly the foreign key's columns, in any order.
fn leads_with(index_fields: &[usize], fk_fields: &[usize]) -> bool {
    if index_fields.len() < fk_fields.len() {
        return false;
    }
    let leading: BTreeSet<usize> = index_fields[..fk_fields.len()].iter().copied().collect();
    let wanted: BTreeSet<usize> = fk_fields.iter().copied().collect();
    leading == wanted
}

/// PostgreSQL's name for Prisma's `type:` argument of `@@index`.
fn postgres_index_method(method: &str) -> Option<String> {
    let sql = match method.to_ascii_lowercase().as_str() {
        "btree" => "btree",
        "hash" => "hash",
        "gist" => "gist",
        "gin" => "gin",
        "spgist" => "spgist",
        "brin" => "brin",
        _ => return None,
    };
    Some(sql.to_string())
}

/// Comment text on one line, so it cannot end the comment early or swallow the next line.
fn comment_text(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_diagnostics::Span;
    use plinth_model::{
        Arity, FieldId, ModelId, PrimaryKey, Relation, RelationField, RelationId, Validation, Value,
    };

    fn field(name: &str, ty: FieldType, arity: Arity) -> Field {
        Field {
            name: name.to_string(),
            db_name: name.to_string(),
            docs: None,
            ty,
            arity,
            default: None,
            is_id: false,
            is_unique: false,
            is_updated_at: false,
            is_ignored: false,
            native_type: None,
            validations: Vec::new(),
            is_omitted: false,
            is_password: false,
            policies: Vec::new(),
            span: Span::default(),
            name_span: Span::default(),
        }
    }

    fn model(index: usize, name: &str, fields: Vec<Field>) -> Model {
        Model {
            id: ModelId(index),
            name: name.to_string(),
            db_name: name.to_string(),
            db_schema: None,
            docs: None,
            fields,
            primary_key: PrimaryKey {
                fields: vec![0],
                name: None,
                db_name: None,
            },
            unique_constraints: Vec::new(),
            indexes: Vec::new(),
            policies: Vec::new(),
            is_auth: false,
            span: Span::default(),
            name_span: Span::default(),
        }
    }

    /// User 1-n Post, Post n-m Tag, built by hand so the generator is tested without the checker.
    fn small_schema() -> Schema {
        let int = FieldType::Scalar(ScalarType::Int);
        let text = FieldType::Scalar(ScalarType::String);
        let relation = |target: usize, relation: usize| {
            FieldType::Relation(RelationField {
                target: ModelId(target),
                relation: RelationId(relation),
            })
        };
        let mut user_id = field("id", int.clone(), Arity::Required);
        user_id.default = Some(DefaultValue::Autoincrement);
        let mut name = field("name", text.clone(), Arity::Required);
        name.validations = vec![Validation::Length {
            min: Some(1),
            max: Some(5),
        }];
        name.default = Some(DefaultValue::Value(Value::String("o'k".to_string())));
        let user = model(
            0,
            "User",
            vec![user_id, name, field("posts", relation(1, 0), Arity::List)],
        );
        let mut post_id = field("id", int.clone(), Arity::Required);
        post_id.default = Some(DefaultValue::Autoincrement);
        let post = model(
            1,
            "Post",
            vec![
                post_id,
                field("author", relation(0, 0), Arity::Required),
                field("authorId", int, Arity::Required),
                field("tags", relation(2, 1), Arity::List),
            ],
        );
        let tag = model(
            2,
            "Tag",
            vec![
                field("id", text, Arity::Required),
                field("posts", relation(1, 1), Arity::List),
            ],
        );
        Schema {
            datasource: None,
            models: vec![user, post, tag],
            enums: Vec::new(),
            relations: vec![
                Relation {
                    id: RelationId(0),
                    name: "PostToUser".to_string(),
                    kind: RelationKind::OneToMany,
                    referencing: FieldId {
                        model: ModelId(1),
                        index: 1,
                    },
                    referenced: FieldId {
                        model: ModelId(0),
                        index: 2,
                    },
                    fk_fields: vec![2],
                    references: vec![0],
                    on_delete: ReferentialAction::Restrict,
                    on_update: ReferentialAction::Cascade,
                    is_optional: false,
                },
                Relation {
                    id: RelationId(1),
                    name: "PostToTag".to_string(),
                    kind: RelationKind::ManyToMany {
                        join_table: "_PostToTag".to_string(),
                    },
                    referencing: FieldId {
                        model: ModelId(1),
                        index: 3,
                    },
                    referenced: FieldId {
                        model: ModelId(2),
                        index: 1,
                    },
                    fk_fields: Vec::new(),
                    references: Vec::new(),
                    on_delete: ReferentialAction::Cascade,
                    on_update: ReferentialAction::Cascade,
                    is_optional: false,
                },
            ],
            auth_model: None,
        }
    }

    #[test]
    fn postgres_tables_keys_indexes_and_foreign_keys() {
        let ddl = create_schema(&small_schema(), Dialect::Postgres);
        for expected in [
            "\"id\" SERIAL NOT NULL",
            "\"name\" TEXT NOT NULL DEFAULT 'o''k'",
            "CONSTRAINT \"User_pkey\" PRIMARY KEY (\"id\")",
            "CONSTRAINT \"User_name_check\" CHECK (char_length(\"name\") >= 1 AND char_length(\"name\") <= 5)",
            "CREATE INDEX \"Post_authorId_idx\" ON \"Post\"(\"authorId\");",
            "ALTER TABLE \"Post\" ADD CONSTRAINT \"Post_authorId_fkey\" FOREIGN KEY (\"authorId\") REFERENCES \"User\" (\"id\") ON DELETE RESTRICT ON UPDATE CASCADE;",
            "CREATE TABLE \"_PostToTag\" (\n    \"A\" INTEGER NOT NULL,\n    \"B\" TEXT NOT NULL\n);",
            "CREATE UNIQUE INDEX \"_PostToTag_AB_unique\" ON \"_PostToTag\"(\"A\", \"B\");",
            "CREATE INDEX \"_PostToTag_B_index\" ON \"_PostToTag\"(\"B\");",
            "ADD CONSTRAINT \"_PostToTag_B_fkey\" FOREIGN KEY (\"B\") REFERENCES \"Tag\" (\"id\") ON DELETE CASCADE ON UPDATE CASCADE;",
        ] {
            assert!(ddl.contains(expected), "missing {expected}\n{ddl}");
        }
        assert!(
            !ddl.contains("\"posts\""),
            "relation fields are not columns"
        );
    }

    #[test]
    fn sqlite_inlines_keys_and_foreign_keys() {
        let ddl = create_schema(&small_schema(), Dialect::Sqlite);
        for expected in [
            "\"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT",
            "\"id\" TEXT NOT NULL PRIMARY KEY",
            "CHECK (length(\"name\") >= 1 AND length(\"name\") <= 5)",
            "CONSTRAINT \"Post_authorId_fkey\" FOREIGN KEY (\"authorId\") REFERENCES \"User\" (\"id\") ON DELETE RESTRICT ON UPDATE CASCADE\n);",
            "CREATE INDEX \"Post_authorId_idx\" ON \"Post\"(\"authorId\");",
        ] {
            assert!(ddl.contains(expected), "missing {expected}\n{ddl}");
        }
        assert!(!ddl.contains("ALTER TABLE"));
    }

    #[test]
    fn broken_indices_do_not_panic() {
        let mut schema = small_schema();
        schema.relations[0].fk_fields = vec![99];
        schema.relations[0].references = vec![42];
        schema.relations[1].referenced.model = ModelId(77);
        schema.models[0].primary_key.fields = vec![55];
        schema.models[1].fields[0].ty = FieldType::Enum(plinth_model::EnumId(3));
        for dialect in Dialect::ALL {
            let _ = create_schema(&schema, dialect);
        }
    }

    #[test]
    fn leading_columns_cover_foreign_keys_in_any_order() {
        assert!(leads_with(&[1, 2, 3], &[2, 1]));
        assert!(leads_with(&[4], &[4]));
        assert!(!leads_with(&[1, 2], &[2]));
        assert!(!leads_with(&[1], &[1, 2]));
    }

    #[test]
    fn index_methods_map_to_postgres_names() {
        assert_eq!(postgres_index_method("Hash").as_deref(), Some("hash"));
        assert_eq!(postgres_index_method("SpGist").as_deref(), Some("spgist"));
        assert_eq!(postgres_index_method("Nonsense"), None);
    }
}
