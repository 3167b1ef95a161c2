//! The tables as the inputs define them: SQL files replayed in order (a migration folder's
//! `CREATE`s, `ALTER`s and `DROP`s become the final schema) and Prisma/Plinth models. SQL-schema
//! and cross-artifact rules read this rather than statements, so that a foreign key added in
//! migration 12 and its index added in migration 40 are seen together.

mod from_schema;
pub(crate) mod from_sql;

use crate::{FileId, Workspace};
use plinth_diagnostics::Span;

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub tables: Vec<Table>,
}

/// Where a table or one of its parts was defined (the statement or the model/field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: FileId,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableSource {
    Sql,
    Schema,
}

#[derive(Clone, Debug)]
pub struct Table {
    /// Unquoted name as written, without its schema (`users` for `auth.users`).
    pub name: String,
    /// The PostgreSQL schema, when written (`auth`).
    pub schema: Option<String>,
    pub source: TableSource,
    pub origin: Origin,
    pub columns: Vec<Column>,
    pub primary_key: Option<Key>,
    /// UNIQUE constraints and unique indexes both appear here and in `indexes` respectively.
    pub uniques: Vec<Key>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
}

#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// Lowercase type as written (`varchar(255)`, `timestamp with time zone`, `String`).
    pub data_type: String,
    pub nullable: bool,
    /// The default expression as written, if any.
    pub default: Option<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Key {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct ForeignKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub references_table: String,
    pub references_columns: Vec<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug)]
pub struct Index {
    pub name: Option<String>,
    /// Column names; an expression is kept as its text (`lower(email)`).
    pub columns: Vec<String>,
    pub unique: bool,
    /// Has a `WHERE` clause.
    pub partial: bool,
    /// `btree`, `gin`, … when written.
    pub method: Option<String>,
    pub origin: Origin,
}

impl Catalog {
    pub fn build(workspace: &Workspace) -> Catalog {
        let mut catalog = Catalog::default();
        from_sql::replay(workspace, &mut catalog);
        from_schema::add_models(workspace, &mut catalog);
        catalog
    }

    /// A table by name, case-insensitively, ignoring its schema.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// True when some index, unique constraint or the primary key starts with `columns` (in
    /// order), so a lookup by them can use it.
    pub fn has_index_on(&self, columns: &[String]) -> bool {
        let leads = |key: &[String]| {
            key.len() >= columns.len()
                && key
                    .iter()
                    .zip(columns)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        };
        self.primary_key.iter().any(|k| leads(&k.columns))
            || self.uniques.iter().any(|k| leads(&k.columns))
            || self.indexes.iter().any(|i| !i.partial && leads(&i.columns))
    }
}
