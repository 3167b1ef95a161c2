//! Introspecting a database's catalogue (tables, columns with type, nullability and default,
//! primary keys, indexes, foreign keys, and on PostgreSQL constraints and enum types) into a
//! comparable value, and computing the catalogue a schema's DDL produces by applying it to a
//! scratch database: an in-memory SQLite, or a PostgreSQL schema inside a transaction that is
//! rolled back. Plinth's own `_plinth_*` tables are left out.

use crate::database::Database;
use crate::error::MigrateError;
use plinth_model::Schema;
use plinth_sql::Dialect;
use std::collections::{BTreeMap, BTreeSet};

/// Everything compared, as sorted sets of plain descriptions per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// Table name → its columns (name → `TYPE [NOT NULL] [DEFAULT …]`).
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
    /// Table name → index, key and constraint descriptions.
    pub constraints: BTreeMap<String, BTreeSet<String>>,
    /// PostgreSQL enum types: name → labels in order.
    pub enums: BTreeMap<String, String>,
}

impl Catalogue {
    /// The differences from `expected` to `self` (the live database), one sentence each.
    pub fn differences_from(&self, expected: &Catalogue) -> Vec<String> {
        let mut differences = Vec::new();
        for table in expected.tables.keys() {
            if !self.tables.contains_key(table) {
                differences.push(format!("table `{table}` is missing from the database"));
            }
        }
        for (table, columns) in &self.tables {
            let Some(expected_columns) = expected.tables.get(table) else {
                differences.push(format!("table `{table}` is not in the migrations"));
                continue;
            };
            for (column, expected_definition) in expected_columns {
                match columns.get(column) {
                    None => differences.push(format!("column `{table}.{column}` is missing")),
                    Some(found) if found != expected_definition => differences.push(format!(
                        "column `{table}.{column}` is `{found}`, the migrations say `{expected_definition}`"
                    )),
                    Some(_) => {}
                }
            }
            for column in columns.keys() {
                if !expected_columns.contains_key(column) {
                    differences.push(format!(
                        "column `{table}.{column}` is not in the migrations"
                    ));
                }
            }
            let empty = BTreeSet::new();
            let found = self.constraints.get(table).unwrap_or(&empty);
            let wanted = expected.constraints.get(table).unwrap_or(&empty);
            for missing in wanted.difference(found) {
                differences.push(format!("`{table}`: {missing} is missing"));
            }
            for extra in found.difference(wanted) {
                differences.push(format!("`{table}`: {extra} is not in the migrations"));
            }
        }
        for (name, labels) in &expected.enums {
            match self.enums.get(name) {
                None => differences.push(format!("enum type `{name}` is missing")),
                Some(found) if found != labels => differences.push(format!(
                    "enum type `{name}` has ({found}), the migrations say ({labels})"
                )),
                Some(_) => {}
            }
        }
        for name in self.enums.keys() {
            if !expected.enums.contains_key(name) {
                differences.push(format!("enum type `{name}` is not in the migrations"));
            }
        }
        differences
    }
}

/// The live catalogue of the database (PostgreSQL: its current schema).
pub fn introspect(database: &mut Database) -> Result<Catalogue, MigrateError> {
    match database.dialect() {
        Dialect::Sqlite => introspect_sqlite(database),
        Dialect::Postgres => {
            let schema = database
                .query("SELECT current_schema()::text", &[])?
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next().flatten())
                .unwrap_or_else(|| "public".to_string());
            introspect_postgres(database, &schema)
        }
    }
}

/// The catalogue `schema`'s `create_schema` DDL produces on this kind of database; the live
/// database is not changed (PostgreSQL: built in a scratch schema, rolled back).
pub fn expected(database: &mut Database, schema: &Schema) -> Result<Catalogue, MigrateError> {
    let dialect = database.dialect();
    let ddl = plinth_sql::create_schema(schema, dialect);
    match dialect {
        Dialect::Sqlite => {
            let mut scratch = Database::from_sqlite(rusqlite::Connection::open_in_memory()?)?;
            scratch.batch(&ddl)?;
            introspect_sqlite(&mut scratch)
        }
        Dialect::Postgres => {
            let scratch = format!("_plinth_scratch_{}", std::process::id());
            database.batch("BEGIN")?;
            let result: Result<Catalogue, MigrateError> = (|| {
                database.batch(&format!(
                    "CREATE SCHEMA \"{scratch}\"; SET LOCAL search_path TO \"{scratch}\";"
                ))?;
                database.batch(&ddl)?;
                introspect_postgres(database, &scratch)
            })();
            database.rollback();
            result
        }
    }
}

fn text(row: &[Option<String>], index: usize) -> String {
    row.get(index).cloned().flatten().unwrap_or_default()
}

/// Columns, referenced table, referenced columns, on update, on delete.
type ForeignKey = (Vec<String>, String, Vec<String>, String, String);

fn introspect_sqlite(database: &mut Database) -> Result<Catalogue, MigrateError> {
    let mut catalogue = Catalogue::default();
    for table in database.user_tables()? {
        let quoted = table.replace('\'', "''");
        let mut columns = BTreeMap::new();
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        let rows = database.query(
            &format!(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{quoted}')"
            ),
            &[],
        )?;
        for row in &rows {
            let name = text(row, 0);
            let mut definition = text(row, 1).to_ascii_uppercase();
            if text(row, 2) == "1" {
                definition.push_str(" NOT NULL");
            }
            if let Some(default) = row.get(3).cloned().flatten() {
                definition.push_str(&format!(" DEFAULT {default}"));
            }
            let position: i64 = text(row, 4).parse().unwrap_or(0);
            if position > 0 {
                primary_key.push((position, name.clone()));
            }
            columns.insert(name, definition);
        }
        let mut constraints = BTreeSet::new();
        primary_key.sort();
        if !primary_key.is_empty() {
            let names: Vec<String> = primary_key.into_iter().map(|(_, name)| name).collect();
            constraints.insert(format!("primary key ({})", names.join(", ")));
        }
        let indexes = database.query(
            &format!("SELECT name, \"unique\", origin, partial FROM pragma_index_list('{quoted}')"),
            &[],
        )?;
        for index in &indexes {
            let name = text(index, 0);
            let origin = text(index, 2);
            if origin == "pk" {
                continue;
            }
            let index_columns: Vec<String> = database
                .query(
                    &format!(
                        "SELECT name FROM pragma_index_xinfo('{}') WHERE key = 1 ORDER BY seqno",
                        name.replace('\'', "''")
                    ),
                    &[],
                )?
                .iter()
                .map(|row| text(row, 0))
                .collect();
            let unique = if text(index, 1) == "1" { "unique " } else { "" };
            // Automatic indexes of UNIQUE constraints are named by position: compare by columns.
            let label = if origin == "u" {
                String::new()
            } else {
                format!("`{name}` ")
            };
            constraints.insert(format!(
                "{unique}index {label}({})",
                index_columns.join(", ")
            ));
        }
        let foreign_keys = database.query(
            &format!("SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list('{quoted}') ORDER BY id, seq"),
            &[],
        )?;
        let mut grouped: BTreeMap<String, ForeignKey> = BTreeMap::new();
        for row in &foreign_keys {
            let entry = grouped.entry(text(row, 0)).or_insert_with(|| {
                (
                    Vec::new(),
                    text(row, 2),
                    Vec::new(),
                    text(row, 5),
                    text(row, 6),
                )
            });
            entry.0.push(text(row, 3));
            entry.2.push(text(row, 4));
        }
        for (from, target, to, on_update, on_delete) in grouped.into_values() {
            constraints.insert(format!(
                "foreign key ({}) references {target} ({}) on delete {on_delete} on update {on_update}",
                from.join(", "),
                to.join(", ")
            ));
        }
        catalogue.tables.insert(table.clone(), columns);
        catalogue.constraints.insert(table, constraints);
    }
    Ok(catalogue)
}

fn introspect_postgres(database: &mut Database, schema: &str) -> Result<Catalogue, MigrateError> {
    let mut catalogue = Catalogue::default();
    // Types and references print unqualified only when their schema is on the search path.
    let previous_path = database
        .query("SELECT current_setting('search_path')::text", &[])?
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_else(|| "\"$user\", public".to_string());
    database.batch(&format!(
        "SET search_path TO \"{}\"",
        schema.replace('"', "\"\"")
    ))?;
    let result: Result<Catalogue, MigrateError> = (|| {
        let columns = database.query(
            "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)::text, \
                    CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE '' END, pg_get_expr(d.adbin, d.adrelid)::text \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
               AND c.relname NOT LIKE '\\_plinth\\_%'",
            &[schema],
        )?;
        for row in &columns {
            let mut definition = text(row, 2).to_ascii_uppercase();
            let not_null = text(row, 3);
            if !not_null.is_empty() {
                definition.push(' ');
                definition.push_str(&not_null);
            }
            if let Some(default) = row.get(4).cloned().flatten() {
                definition.push_str(&format!(" DEFAULT {default}"));
            }
            catalogue
                .tables
                .entry(text(row, 0))
                .or_default()
                .insert(text(row, 1), definition);
        }
        let constraints = database.query(
            "SELECT c.relname::text, k.conname::text, pg_get_constraintdef(k.oid)::text \
             FROM pg_constraint k \
             JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname NOT LIKE '\\_plinth\\_%'",
            &[schema],
        )?;
        for row in &constraints {
            catalogue
                .constraints
                .entry(text(row, 0))
                .or_default()
                .insert(format!("constraint `{}` {}", text(row, 1), text(row, 2)));
        }
        let indexes = database.query(
            "SELECT t.relname::text, i.relname::text, pg_get_indexdef(x.indexrelid)::text \
             FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = $1 AND t.relname NOT LIKE '\\_plinth\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))",
            &[schema],
        )?;
        for row in &indexes {
            // The definition names the table with its schema; drop it so scratch and live agree.
            let definition = text(row, 2)
                .replace(&format!(" ON {schema}."), " ON ")
                .replace(&format!(" ON \"{schema}\"."), " ON ");
            catalogue
                .constraints
                .entry(text(row, 0))
                .or_default()
                .insert(format!("index `{}` {definition}", text(row, 1)));
        }
        let enums = database.query(
            "SELECT t.typname::text, string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)::text \
             FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = $1 GROUP BY t.typname",
            &[schema],
        )?;
        for row in &enums {
            catalogue.enums.insert(text(row, 0), text(row, 1));
        }
        Ok(catalogue)
    })();
    let restore = database.batch(&format!("SET search_path TO {previous_path}"));
    let catalogue = result?;
    restore?;
    Ok(catalogue)
}
