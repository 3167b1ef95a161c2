//! Replays SQL files (schemas and up-migrations, in order) into the catalogue.
//!
//! Each statement changes the tables the way PostgreSQL would apply it, so the catalogue is the
//! schema as it stands after the last migration: `CREATE TABLE`, `ALTER TABLE` (columns,
//! constraints, renames), `CREATE [UNIQUE] INDEX`, `DROP TABLE`/`DROP INDEX` and
//! `ALTER INDEX … RENAME`. Everything else (data changes, functions, grants, statements
//! sqlparser cannot read) leaves the tables alone.
//!
//! Names are folded as PostgreSQL folds them (unquoted → lowercase, quoted kept). Constraints
//! written without a name get the name PostgreSQL would give them (`users_pkey`,
//! `users_email_key`, `posts_author_id_fkey`), because later migrations drop them by that name.

use super::{Catalog, Column, ForeignKey, Index, Key, Origin, Table, TableSource};
use crate::input::sql::{is_placeholder, split, Role, SqlFile, Statement};
use crate::FileId;
use crate::Workspace;
use plinth_diagnostics::Span;
use regex::Regex;
use sqlparser::ast::{
    self, AlterColumnOperation, AlterIndexOperation, AlterTableOperation, ColumnDef, ColumnOption,
    CreateIndex, CreateTable, CreateTableLikeKind, Expr, Ident, IndexColumn, ObjectName,
    ObjectNamePart, ObjectType, RenameTableNameKind, Spanned, TableConstraint,
};
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use std::sync::LazyLock;

pub(super) fn replay(workspace: &Workspace, catalog: &mut Catalog) {
    let mut replay = Replay::default();
    for file in in_migration_order(workspace) {
        for statement in &file.statements {
            if statement.ast.is_some() {
                replay.statement(file, statement);
            } else {
                for inner in readable_parts(file, statement) {
                    replay.statement(file, &inner);
                }
            }
        }
    }
    catalog.tables.extend(replay.tables);
}

/// The schema files and up-migrations in the order they apply: workspace order, except that
/// the migrations of one folder are ordered by version the way migration tools order them —
/// the name's leading digits with `-` dropped — so that diesel's `2017-09-23-210614_x` comes
/// after `20170820180453_y` although a plain sort puts it first.
pub(crate) fn in_migration_order(workspace: &Workspace) -> Vec<&SqlFile> {
    let mut files: Vec<&SqlFile> = workspace
        .sql
        .iter()
        .filter(|f| f.role != Role::Down)
        .collect();
    let name = |file: &SqlFile| {
        workspace
            .files
            .get(file.file)
            .map_or("", |f| f.name.as_str())
    };
    let mut roots: Vec<&str> = Vec::new();
    for file in &files {
        if file.role == Role::Up {
            let root = migration_root(name(file));
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
    }
    for root in roots {
        let slots: Vec<usize> = (0..files.len())
            .filter(|&i| files[i].role == Role::Up && migration_root(name(files[i])) == root)
            .collect();
        let mut group: Vec<&SqlFile> = slots.iter().map(|&i| files[i]).collect();
        group.sort_by_cached_key(|file| version_key(&name(file)[root.len()..]));
        for (slot, file) in slots.into_iter().zip(group) {
            files[slot] = file;
        }
    }
    files
}

/// The part of a migration's path before its versioned name (`db/migrations/`).
fn migration_root(name: &str) -> &str {
    let mut start = 0;
    for part in name.split('/') {
        if part.starts_with(|c: char| c.is_ascii_digit()) {
            return &name[..start];
        }
        start += part.len() + 1;
    }
    &name[..name.rfind('/').map_or(0, |i| i + 1)]
}

/// `2017-09-23-210614_x/up.sql` → (`20170923210614`, the rest).
fn version_key(relative: &str) -> (String, String) {
    let run = relative
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(relative.len());
    let version: String = relative[..run]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (version, relative[run..].to_string())
}

/// What can still be read of a statement sqlparser refused: the statement itself with a template
/// placeholder (see [`Statement::ast_with_placeholders`]); the statement without a keyword
/// sqlparser does not know where it changes nothing we track (`DROP INDEX CONCURRENTLY`,
/// `ALTER INDEX IF EXISTS`); or the DDL statements inside a `DO $$ … $$` block, which
/// migrations use to guard a change (`IF NOT EXISTS (…) THEN ALTER TABLE …`) or to survive
/// its failure (`EXCEPTION WHEN … THEN NULL`), and which we replay as if they ran.
fn readable_parts(file: &SqlFile, statement: &Statement) -> Vec<Statement> {
    let head = statement.head(3);
    if head == "DO" || head.starts_with("DO ") {
        return do_block_statements(file, statement);
    }
    let blank = match head.as_str() {
        "DROP INDEX CONCURRENTLY" => Some("CONCURRENTLY"),
        "ALTER INDEX IF" => Some("IF EXISTS"),
        _ => None,
    };
    let text = match blank.and_then(|words| blank_words(&statement.text, words)) {
        Some(text) => text,
        None => statement.text.clone(),
    };
    vec![parsed(file, statement.span, text)]
}

/// `text` with the first occurrence of `words` (case-insensitive, single-spaced in `words`)
/// turned into spaces, so every other byte keeps its offset.
fn blank_words(text: &str, words: &str) -> Option<String> {
    let pattern = words
        .split(' ')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\s+");
    let found = regex::Regex::new(&format!(r"(?i)\b{pattern}\b"))
        .ok()?
        .find(text)?;
    let mut blanked = text.to_string();
    blanked.replace_range(found.range(), &" ".repeat(found.len()));
    Some(blanked)
}

fn parsed(file: &SqlFile, span: Span, text: String) -> Statement {
    let result = match file.dialect {
        crate::config::Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, &text),
        crate::config::Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, &text),
    };
    let (ast, parse_error) = match result {
        Ok(mut statements) if statements.len() == 1 => (statements.pop(), None),
        Ok(_) => (None, Some("not exactly one statement".to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    Statement {
        span,
        text,
        comments: String::new(),
        ast,
        parse_error,
    }
}

/// Where a DDL statement starts inside a PL/pgSQL block.
static DDL_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(create\s+(unique\s+)?index|create\s+table|alter\s+table|alter\s+index|drop\s+table|drop\s+index)\b",
    )
    .expect("valid pattern")
});

/// The DDL statements written in a `DO` block's body, each with its span in the file. Text
/// between them (`BEGIN`, `IF … THEN`, `EXCEPTION WHEN … THEN`) is skipped; DDL built as a
/// string for `EXECUTE` is not seen.
fn do_block_statements(file: &SqlFile, statement: &Statement) -> Vec<Statement> {
    let text = &statement.text;
    let Some(open) = DOLLAR_TAG.find(text) else {
        return Vec::new();
    };
    let body_start = open.end();
    let Some(body_len) = text[body_start..].find(open.as_str()) else {
        return Vec::new();
    };
    let body = &text[body_start..body_start + body_len];
    let mut statements = Vec::new();
    for (span, _) in split(body) {
        let chunk = &body[span.range()];
        let Some(start) = DDL_START
            .find_iter(chunk)
            .find(|m| chunk[..m.start()].matches('\'').count().is_multiple_of(2))
        else {
            continue;
        };
        let offset =
            statement.span.start as usize + body_start + span.start as usize + start.start();
        let inner = &chunk[start.start()..];
        let span = Span::new(offset as u32, (offset + inner.len()) as u32);
        statements.push(parsed(file, span, inner.to_string()));
    }
    statements
}

static DOLLAR_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$[A-Za-z_0-9]*\$").expect("valid pattern"));

#[derive(Default)]
struct Replay {
    tables: Vec<Table>,
}

/// A qualified name as PostgreSQL resolves it: the schema when written (and known), the name,
/// and where the name is written.
struct Name {
    schema: Option<String>,
    name: String,
    span: sqlparser::tokenizer::Span,
}

impl Replay {
    fn statement(&mut self, file: &SqlFile, statement: &Statement) {
        let Some((ast, text)) = statement.ast_with_placeholders(file.dialect) else {
            return;
        };
        let at = Locator::new(file.file, statement.span, &text);
        match ast.as_ref() {
            ast::Statement::CreateTable(create) => self.create_table(create, &at),
            ast::Statement::AlterTable(alter) => {
                let Some(name) = split_name(&alter.name) else {
                    return;
                };
                let Some(table) = self.find(&name) else {
                    return;
                };
                for operation in &alter.operations {
                    self.alter_table(table, operation, &at);
                }
            }
            ast::Statement::CreateIndex(create) => self.create_index(create, &at),
            ast::Statement::Drop {
                object_type, names, ..
            } => {
                for name in names.iter().filter_map(split_name) {
                    match object_type {
                        ObjectType::Table => self.drop_table(&name),
                        ObjectType::Index => self.drop_index(&name),
                        _ => {}
                    }
                }
            }
            ast::Statement::AlterIndex {
                name,
                operation: AlterIndexOperation::RenameIndex { index_name },
            } => {
                if let (Some(old), Some(new)) = (split_name(name), split_name(index_name)) {
                    self.rename_index(&old, new.name);
                }
            }
            _ => {}
        }
    }

    /// The table a statement names. An unqualified name, a `public.` name and a table whose
    /// schema is unknown (a template placeholder) all match each other, since the search path
    /// decides; otherwise the schemas must agree.
    fn find(&self, name: &Name) -> Option<usize> {
        let exact = self
            .tables
            .iter()
            .position(|t| t.name == name.name && same_schema(t.schema.as_deref(), name));
        exact.or_else(|| {
            self.tables
                .iter()
                .position(|t| t.name == name.name && (t.schema.is_none() || name.schema.is_none()))
        })
    }

    fn create_table(&mut self, create: &CreateTable, at: &Locator) {
        // Temporary tables and partitions are not part of the design; a table created from a
        // query has columns we cannot know.
        if create.temporary || create.partition_of.is_some() || create.query.is_some() {
            return;
        }
        let Some(name) = split_name(&create.name) else {
            return;
        };
        let existing = self
            .tables
            .iter()
            .position(|t| t.name == name.name && same_schema(t.schema.as_deref(), &name));
        if let Some(existing) = existing {
            if create.if_not_exists {
                return;
            }
            self.tables.remove(existing);
        }
        let mut table = Table {
            name: name.name.clone(),
            schema: name.schema.clone(),
            source: TableSource::Sql,
            origin: at.origin(name.span),
            columns: Vec::new(),
            primary_key: None,
            uniques: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        let like = match &create.like {
            Some(CreateTableLikeKind::Parenthesized(like) | CreateTableLikeKind::Plain(like)) => {
                Some(&like.name)
            }
            None => None,
        };
        for parent in like
            .into_iter()
            .chain(create.inherits.iter().flatten())
            .filter_map(split_name)
        {
            if let Some(parent) = self.find(&parent).map(|i| &self.tables[i]) {
                table.columns.extend(parent.columns.iter().cloned());
                if table.primary_key.is_none() {
                    table.primary_key = parent.primary_key.clone();
                }
            }
        }
        for column in &create.columns {
            self.add_column(&mut table, column, at);
        }
        for constraint in &create.constraints {
            self.add_constraint(&mut table, constraint, at);
        }
        self.tables.push(table);
    }

    /// Adds a column and the constraints written on it. Replaces a column of the same name
    /// (a `LIKE` copy redefined, or `ADD COLUMN` replayed twice).
    fn add_column(&self, table: &mut Table, def: &ColumnDef, at: &Locator) {
        let name = fold(&def.name);
        let origin = at.origin(def.name.span);
        let data_type = def.data_type.to_string().to_lowercase();
        let mut column = Column {
            name: name.clone(),
            nullable: !implies_not_null(&data_type),
            data_type,
            default: None,
            origin,
        };
        let mut keys: Vec<(Option<String>, &ColumnOption)> = Vec::new();
        for option in &def.options {
            let constraint_name = option.name.as_ref().map(fold);
            match &option.option {
                ColumnOption::NotNull => column.nullable = false,
                ColumnOption::Null => column.nullable = true,
                ColumnOption::Default(expr) => column.default = Some(expr.to_string()),
                ColumnOption::Generated {
                    generation_expr: None,
                    ..
                }
                | ColumnOption::Identity(_) => column.nullable = false,
                ColumnOption::PrimaryKey(_) => {
                    column.nullable = false;
                    keys.push((constraint_name, &option.option));
                }
                ColumnOption::Unique(_) | ColumnOption::ForeignKey(_) => {
                    keys.push((constraint_name, &option.option));
                }
                _ => {}
            }
        }
        table.columns.retain(|c| c.name != name);
        table.columns.push(column);
        let columns = vec![name];
        for (constraint_name, option) in keys {
            match option {
                ColumnOption::PrimaryKey(pk) => {
                    let name = constraint_name.or_else(|| pk.name.as_ref().map(fold));
                    table.primary_key = Some(Key {
                        name: Some(name.unwrap_or_else(|| implicit_name(&table.name, &[], "pkey"))),
                        columns: columns.clone(),
                        origin,
                    });
                }
                ColumnOption::Unique(unique) => {
                    let name = constraint_name.or_else(|| unique.name.as_ref().map(fold));
                    table.uniques.push(Key {
                        name: Some(
                            name.unwrap_or_else(|| implicit_name(&table.name, &columns, "key")),
                        ),
                        columns: columns.clone(),
                        origin,
                    });
                }
                ColumnOption::ForeignKey(fk) => {
                    let name = constraint_name.or_else(|| fk.name.as_ref().map(fold));
                    if let Some(foreign_key) = self.foreign_key(
                        table,
                        name,
                        columns.clone(),
                        &fk.foreign_table,
                        &fk.referred_columns,
                        origin,
                    ) {
                        table.foreign_keys.push(foreign_key);
                    }
                }
                _ => {}
            }
        }
    }

    fn foreign_key(
        &self,
        table: &Table,
        name: Option<String>,
        columns: Vec<String>,
        target: &ObjectName,
        referred: &[Ident],
        origin: Origin,
    ) -> Option<ForeignKey> {
        let target = split_name(target)?;
        let mut references_columns: Vec<String> = referred.iter().map(fold).collect();
        if references_columns.is_empty() {
            // `REFERENCES users` means the referenced table's primary key.
            let primary_key = if target.name == table.name {
                table.primary_key.as_ref()
            } else {
                self.find(&target)
                    .and_then(|i| self.tables[i].primary_key.as_ref())
            };
            references_columns = primary_key.map(|k| k.columns.clone()).unwrap_or_default();
        }
        Some(ForeignKey {
            name: Some(name.unwrap_or_else(|| implicit_name(&table.name, &columns, "fkey"))),
            columns,
            references_table: target.name,
            references_columns,
            origin,
        })
    }

    fn add_constraint(&self, table: &mut Table, constraint: &TableConstraint, at: &Locator) {
        let origin = at.origin(constraint.span());
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                let columns = index_columns(&pk.columns);
                set_not_null(table, &columns);
                let name = pk.name.as_ref().map(fold);
                table.primary_key = Some(Key {
                    name: Some(name.unwrap_or_else(|| implicit_name(&table.name, &[], "pkey"))),
                    columns,
                    origin,
                });
            }
            TableConstraint::Unique(unique) => {
                let columns = index_columns(&unique.columns);
                let name = unique.name.as_ref().map(fold);
                table.uniques.push(Key {
                    name: Some(name.unwrap_or_else(|| implicit_name(&table.name, &columns, "key"))),
                    columns,
                    origin,
                });
            }
            TableConstraint::ForeignKey(fk) => {
                let columns: Vec<String> = fk.columns.iter().map(fold).collect();
                let name = fk.name.as_ref().map(fold);
                if let Some(foreign_key) = self.foreign_key(
                    table,
                    name,
                    columns,
                    &fk.foreign_table,
                    &fk.referred_columns,
                    origin,
                ) {
                    table.foreign_keys.push(foreign_key);
                }
            }
            TableConstraint::PrimaryKeyUsingIndex(using)
            | TableConstraint::UniqueUsingIndex(using) => {
                // The index becomes the constraint (and takes the constraint's name).
                let index_name = fold(&using.index_name);
                let Some(position) = table
                    .indexes
                    .iter()
                    .position(|i| i.name.as_deref() == Some(index_name.as_str()))
                else {
                    return;
                };
                let index = table.indexes.remove(position);
                let key = Key {
                    name: Some(using.name.as_ref().map(fold).unwrap_or(index_name)),
                    columns: index.columns,
                    origin,
                };
                if matches!(constraint, TableConstraint::PrimaryKeyUsingIndex(_)) {
                    set_not_null(table, &key.columns);
                    table.primary_key = Some(key);
                } else {
                    table.uniques.push(key);
                }
            }
            _ => {}
        }
    }

    fn alter_table(&mut self, index: usize, operation: &AlterTableOperation, at: &Locator) {
        match operation {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => {
                let exists = self.tables[index].column(&fold(&column_def.name)).is_some();
                if !(exists && *if_not_exists) {
                    let mut table = std::mem::replace(&mut self.tables[index], empty_table());
                    self.add_column(&mut table, column_def, at);
                    self.tables[index] = table;
                }
            }
            AlterTableOperation::AddConstraint { constraint, .. } => {
                let mut table = std::mem::replace(&mut self.tables[index], empty_table());
                self.add_constraint(&mut table, constraint, at);
                self.tables[index] = table;
            }
            AlterTableOperation::DropColumn { column_names, .. } => {
                for column in column_names {
                    drop_column(&mut self.tables[index], &fold(column));
                }
            }
            AlterTableOperation::DropConstraint { name, .. } => {
                let name = fold(name);
                let table = &mut self.tables[index];
                let named = |key_name: &Option<String>| key_name.as_deref() == Some(name.as_str());
                if table.primary_key.as_ref().is_some_and(|k| named(&k.name)) {
                    table.primary_key = None;
                }
                table.uniques.retain(|k| !named(&k.name));
                table.foreign_keys.retain(|k| !named(&k.name));
            }
            AlterTableOperation::DropPrimaryKey { .. } => self.tables[index].primary_key = None,
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let old = fold(old_column_name);
                let new = fold(new_column_name);
                let origin = at.origin(new_column_name.span);
                let table_name = self.tables[index].name.clone();
                rename_column(&mut self.tables[index], &old, &new, origin);
                // Foreign keys elsewhere name the referenced columns too.
                for table in &mut self.tables {
                    for fk in &mut table.foreign_keys {
                        if fk.references_table == table_name {
                            rename_in(&mut fk.references_columns, &old, &new);
                        }
                    }
                }
            }
            AlterTableOperation::RenameTable { table_name } => {
                let (RenameTableNameKind::As(new) | RenameTableNameKind::To(new)) = table_name;
                let Some(new) = split_name(new) else {
                    return;
                };
                let old = std::mem::replace(&mut self.tables[index].name, new.name.clone());
                for table in &mut self.tables {
                    for fk in &mut table.foreign_keys {
                        if fk.references_table == old {
                            fk.references_table.clone_from(&new.name);
                        }
                    }
                }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let name = fold(column_name);
                let table = &mut self.tables[index];
                let Some(column) = table.columns.iter_mut().find(|c| c.name == name) else {
                    return;
                };
                match op {
                    AlterColumnOperation::SetNotNull => column.nullable = false,
                    AlterColumnOperation::DropNotNull => column.nullable = true,
                    AlterColumnOperation::SetDefault { value } => {
                        column.default = Some(value.to_string());
                    }
                    AlterColumnOperation::DropDefault => column.default = None,
                    AlterColumnOperation::SetDataType { data_type, .. } => {
                        column.data_type = data_type.to_string().to_lowercase();
                        // The type a rule judges is the one written here.
                        column.origin = at.origin(column_name.span);
                    }
                    AlterColumnOperation::AddGenerated { .. } => column.nullable = false,
                }
            }
            AlterTableOperation::RenameConstraint { old_name, new_name } => {
                let old = fold(old_name);
                let new = fold(new_name);
                let table = &mut self.tables[index];
                let keys = table
                    .primary_key
                    .iter_mut()
                    .chain(table.uniques.iter_mut())
                    .map(|k| &mut k.name)
                    .chain(table.foreign_keys.iter_mut().map(|k| &mut k.name));
                for name in keys {
                    if name.as_deref() == Some(old.as_str()) {
                        *name = Some(new.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn create_index(&mut self, create: &CreateIndex, at: &Locator) {
        let Some(table_name) = split_name(&create.table_name) else {
            return;
        };
        let Some(index) = self.find(&table_name) else {
            return;
        };
        let table = &mut self.tables[index];
        let columns: Vec<String> = create.columns.iter().map(index_column).collect();
        let name = match create.name.as_ref().and_then(split_name) {
            Some(name) => name.name,
            None => implicit_name(&table.name, &columns, "idx"),
        };
        if table
            .indexes
            .iter()
            .any(|i| i.name.as_deref() == Some(&name))
        {
            // `IF NOT EXISTS` over an existing index, or a statement PostgreSQL would refuse.
            return;
        }
        table.indexes.push(Index {
            name: Some(name),
            columns,
            unique: create.unique,
            partial: create.predicate.is_some(),
            method: create.using.as_ref().map(|m| m.to_string().to_lowercase()),
            origin: Origin {
                file: at.file,
                span: at.statement,
            },
        });
    }

    fn drop_table(&mut self, name: &Name) {
        let Some(index) = self.find(name) else {
            return;
        };
        let dropped = self.tables.remove(index);
        // Foreign keys into it went with it (`CASCADE`, or PostgreSQL refused the drop).
        for table in &mut self.tables {
            table
                .foreign_keys
                .retain(|fk| fk.references_table != dropped.name);
        }
    }

    /// Tables whose indexes an index name may belong to: an index lives in its table's schema.
    fn index_owner(&self, name: &Name) -> Option<(usize, usize)> {
        self.tables.iter().enumerate().find_map(|(t, table)| {
            if name.schema.is_some()
                && table.schema.is_some()
                && !same_schema(table.schema.as_deref(), name)
            {
                return None;
            }
            table
                .indexes
                .iter()
                .position(|i| i.name.as_deref() == Some(name.name.as_str()))
                .map(|i| (t, i))
        })
    }

    fn drop_index(&mut self, name: &Name) {
        if let Some((table, index)) = self.index_owner(name) {
            self.tables[table].indexes.remove(index);
        }
    }

    fn rename_index(&mut self, old: &Name, new: String) {
        if let Some((table, index)) = self.index_owner(old) {
            self.tables[table].indexes[index].name = Some(new);
            return;
        }
        // A constraint's index renamed renames the constraint.
        for table in &mut self.tables {
            for key in table.primary_key.iter_mut().chain(table.uniques.iter_mut()) {
                if key.name.as_deref() == Some(old.name.as_str()) {
                    key.name = Some(new);
                    return;
                }
            }
        }
    }
}

fn empty_table() -> Table {
    Table {
        name: String::new(),
        schema: None,
        source: TableSource::Sql,
        origin: Origin {
            file: 0,
            span: Span::default(),
        },
        columns: Vec::new(),
        primary_key: None,
        uniques: Vec::new(),
        foreign_keys: Vec::new(),
        indexes: Vec::new(),
    }
}

fn same_schema(table_schema: Option<&str>, name: &Name) -> bool {
    fn normal(schema: Option<&str>) -> Option<&str> {
        schema.filter(|s| *s != "public")
    }
    normal(table_schema) == normal(name.schema.as_deref())
}

/// `serial` and friends are `NOT NULL` by definition.
fn implies_not_null(data_type: &str) -> bool {
    matches!(
        data_type,
        "serial" | "bigserial" | "smallserial" | "serial4" | "serial8" | "serial2"
    )
}

fn set_not_null(table: &mut Table, columns: &[String]) {
    for column in &mut table.columns {
        if columns.contains(&column.name) {
            column.nullable = false;
        }
    }
}

/// PostgreSQL drops the indexes and constraints that use a dropped column.
fn drop_column(table: &mut Table, name: &str) {
    table.columns.retain(|c| c.name != name);
    let uses = |columns: &[String]| columns.iter().any(|c| mentions(c, name));
    if table.primary_key.as_ref().is_some_and(|k| uses(&k.columns)) {
        table.primary_key = None;
    }
    table.uniques.retain(|k| !uses(&k.columns));
    table.foreign_keys.retain(|k| !uses(&k.columns));
    table.indexes.retain(|i| !uses(&i.columns));
}

fn rename_column(table: &mut Table, old: &str, new: &str, origin: Origin) {
    if let Some(column) = table.columns.iter_mut().find(|c| c.name == old) {
        column.name = new.to_string();
        column.origin = origin;
    }
    let keys = table
        .primary_key
        .iter_mut()
        .chain(table.uniques.iter_mut())
        .map(|k| &mut k.columns)
        .chain(table.foreign_keys.iter_mut().map(|k| &mut k.columns))
        .chain(table.indexes.iter_mut().map(|i| &mut i.columns));
    for columns in keys {
        rename_in(columns, old, new);
    }
}

/// Renames a column in a key's column list; in an expression's text, every word that is the
/// column (PostgreSQL keeps expressions by column number, so they follow a rename).
fn rename_in(columns: &mut [String], old: &str, new: &str) {
    for column in columns {
        if column == old {
            *column = new.to_string();
        } else if mentions(column, old) {
            let mut renamed = String::with_capacity(column.len());
            let mut word = String::new();
            for c in column.chars().chain(std::iter::once(' ')) {
                if c.is_alphanumeric() || c == '_' || c == '$' {
                    word.push(c);
                    continue;
                }
                renamed.push_str(if word.eq_ignore_ascii_case(old) {
                    new
                } else {
                    &word
                });
                word.clear();
                renamed.push(c);
            }
            renamed.pop();
            *column = renamed;
        }
    }
}

/// True when an index entry (a column name or an expression's text) uses column `name`.
fn mentions(entry: &str, name: &str) -> bool {
    if entry == name {
        return true;
    }
    entry
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .any(|word| word.trim_matches('"').eq_ignore_ascii_case(name))
}

/// The name PostgreSQL generates for an unnamed constraint or index (`ChooseRelationName`):
/// table, columns and a label joined by `_`, the longer part cut until it fits in 63 bytes.
fn implicit_name(table: &str, columns: &[String], label: &str) -> String {
    let columns: Vec<&str> = columns
        .iter()
        .map(|c| {
            if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                c.as_str()
            } else {
                "expr"
            }
        })
        .collect();
    let second = columns.join("_");
    let overhead = label.len() + 1 + usize::from(!second.is_empty());
    let available = 63usize.saturating_sub(overhead);
    let (mut first_len, mut second_len) = (table.len(), second.len());
    while first_len + second_len > available {
        if first_len > second_len {
            first_len -= 1;
        } else {
            second_len -= 1;
        }
    }
    let cut = |s: &str, n: usize| {
        let mut n = n.min(s.len());
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    let mut name = cut(table, first_len);
    if !second.is_empty() {
        name.push('_');
        name.push_str(&cut(&second, second_len));
    }
    name.push('_');
    name.push_str(label);
    name
}

/// Folds an identifier the PostgreSQL way: unquoted → lowercase, quoted → as written.
fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// `schema.table` (or `db.schema.table`) → schema and name. A template placeholder as the
/// schema means the schema is unknown.
fn split_name(name: &ObjectName) -> Option<Name> {
    let mut parts = name.0.iter().rev();
    let ObjectNamePart::Identifier(last) = parts.next()? else {
        return None;
    };
    let schema = match parts.next() {
        Some(ObjectNamePart::Identifier(schema)) if !is_placeholder(&schema.value) => {
            Some(fold(schema))
        }
        _ => None,
    };
    if is_placeholder(&last.value) {
        return None;
    }
    Some(Name {
        schema,
        name: fold(last),
        span: last.span,
    })
}

fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    columns.iter().map(index_column).collect()
}

/// A column name, or an expression's text (`lower(email)`).
fn index_column(column: &IndexColumn) -> String {
    match &column.column.expr {
        Expr::Identifier(ident) => fold(ident),
        Expr::CompoundIdentifier(parts) => parts.last().map(fold).unwrap_or_default(),
        Expr::Nested(inner) => match inner.as_ref() {
            Expr::Identifier(ident) => fold(ident),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// Maps sqlparser's line/column positions (1-based, in characters, relative to the text that
/// was parsed) to byte spans in the file.
struct Locator<'a> {
    file: FileId,
    statement: Span,
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    fn new(file: FileId, statement: Span, text: &'a str) -> Locator<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            file,
            statement,
            text,
            line_starts,
        }
    }

    fn offset(&self, location: sqlparser::tokenizer::Location) -> Option<usize> {
        let line = usize::try_from(location.line).ok()?.checked_sub(1)?;
        let column = usize::try_from(location.column).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(line)?;
        let line_text = &self.text[start..];
        let within = line_text
            .char_indices()
            .nth(column)
            .map_or(line_text.len(), |(i, _)| i);
        Some(start + within)
    }

    /// The span in the file; the whole statement when sqlparser has no position for it.
    fn span(&self, span: sqlparser::tokenizer::Span) -> Span {
        match (self.offset(span.start), self.offset(span.end)) {
            (Some(start), Some(end)) if start < end => Span::new(
                self.statement.start + start as u32,
                self.statement.start + end as u32,
            ),
            _ => self.statement,
        }
    }

    fn origin(&self, span: sqlparser::tokenizer::Span) -> Origin {
        Origin {
            file: self.file,
            span: self.span(span),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Table, TableSource};
    use crate::load_sources;

    fn tables(files: &[(&str, &str)]) -> (crate::Workspace, Vec<Table>) {
        let workspace = load_sources(
            files
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect(),
        );
        let tables = workspace
            .catalog
            .tables
            .iter()
            .filter(|t| t.source == TableSource::Sql)
            .cloned()
            .collect();
        (workspace, tables)
    }

    fn one(sql: &str) -> Table {
        let (_, mut tables) = tables(&[("schema.sql", sql)]);
        assert_eq!(tables.len(), 1, "{tables:?}");
        tables.remove(0)
    }

    fn text(workspace: &crate::Workspace, origin: crate::catalog::Origin) -> &str {
        &workspace.files[origin.file].text[origin.span.range()]
    }

    #[test]
    fn create_table_reads_columns_keys_and_references() {
        let sql = "CREATE TABLE Users (id bigserial PRIMARY KEY, \"Email\" VARCHAR(255) UNIQUE, \
                   name text NOT NULL DEFAULT 'x', note text NULL);\n\
                   CREATE TABLE app.posts (\n  id uuid,\n  author_id bigint REFERENCES users,\n  \
                   editor_id bigint,\n  CONSTRAINT posts_pk PRIMARY KEY (id),\n  \
                   UNIQUE (author_id, editor_id),\n  \
                   FOREIGN KEY (editor_id) REFERENCES users (id) ON DELETE SET NULL\n);";
        let (workspace, tables) = tables(&[("schema.sql", sql)]);
        let users = &tables[0];
        assert_eq!(
            (users.name.as_str(), users.schema.as_deref()),
            ("users", None)
        );
        assert_eq!(text(&workspace, users.origin), "Users");
        let names: Vec<&str> = users.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "Email", "name", "note"]);
        let email = users.column("email").unwrap();
        assert_eq!(email.data_type, "varchar(255)");
        assert!(email.nullable);
        assert_eq!(text(&workspace, email.origin), "\"Email\"");
        assert!(!users.column("id").unwrap().nullable);
        assert!(!users.column("name").unwrap().nullable);
        assert_eq!(
            users.column("name").unwrap().default.as_deref(),
            Some("'x'")
        );
        let pk = users.primary_key.as_ref().unwrap();
        assert_eq!(
            (pk.name.as_deref(), &pk.columns[..]),
            (Some("users_pkey"), &["id".to_string()][..])
        );
        assert_eq!(users.uniques[0].name.as_deref(), Some("users_Email_key"));

        let posts = &tables[1];
        assert_eq!(
            (posts.name.as_str(), posts.schema.as_deref()),
            ("posts", Some("app"))
        );
        assert!(
            !posts.column("id").unwrap().nullable,
            "a primary key is NOT NULL"
        );
        assert_eq!(
            posts.primary_key.as_ref().unwrap().name.as_deref(),
            Some("posts_pk")
        );
        assert_eq!(posts.uniques[0].columns, ["author_id", "editor_id"]);
        assert_eq!(
            text(&workspace, posts.uniques[0].origin),
            "author_id, editor_id"
        );
        let fks: Vec<(&str, &[String], &str, &[String])> = posts
            .foreign_keys
            .iter()
            .map(|fk| {
                (
                    fk.name.as_deref().unwrap(),
                    &fk.columns[..],
                    fk.references_table.as_str(),
                    &fk.references_columns[..],
                )
            })
            .collect();
        assert_eq!(
            fks,
            [
                (
                    "posts_author_id_fkey",
                    &["author_id".to_string()][..],
                    "users",
                    &["id".to_string()][..]
                ),
                (
                    "posts_editor_id_fkey",
                    &["editor_id".to_string()][..],
                    "users",
                    &["id".to_string()][..]
                ),
            ]
        );
    }

    #[test]
    fn migrations_replay_in_order() {
        let files = [
            (
                "migrations/0001_init.sql",
                "CREATE TABLE users (id int PRIMARY KEY, email text, legacy text);\n\
                 CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users (id));\n\
                 CREATE INDEX posts_user_idx ON posts (user_id);\n\
                 CREATE UNIQUE INDEX users_email_idx ON users USING btree (lower(email)) WHERE email IS NOT NULL;",
            ),
            (
                "migrations/0002_change.sql",
                "ALTER TABLE users ADD COLUMN name varchar(80) NOT NULL DEFAULT '', DROP COLUMN legacy;\n\
                 ALTER TABLE users ALTER COLUMN email SET NOT NULL, ALTER COLUMN email TYPE citext;\n\
                 ALTER TABLE users RENAME COLUMN email TO mail;\n\
                 ALTER TABLE users RENAME TO accounts;\n\
                 ALTER INDEX posts_user_idx RENAME TO posts_by_user;\n\
                 ALTER TABLE posts DROP CONSTRAINT posts_user_id_fkey;\n\
                 ALTER TABLE posts ADD CONSTRAINT posts_owner FOREIGN KEY (user_id) REFERENCES accounts NOT VALID;\n\
                 DROP INDEX IF EXISTS nothing_here;\n\
                 CREATE TABLE scratch (x int);\n\
                 DROP TABLE scratch;",
            ),
            ("migrations/0002_change.down.sql", "DROP TABLE posts;"),
        ];
        let (workspace, tables) = tables(&files);
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["accounts", "posts"]);
        let accounts = &tables[0];
        let columns: Vec<&str> = accounts.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["id", "mail", "name"]);
        let mail = accounts.column("mail").unwrap();
        assert_eq!((mail.data_type.as_str(), mail.nullable), ("citext", false));
        assert_eq!(text(&workspace, mail.origin), "mail");
        assert_eq!(
            workspace.files[mail.origin.file].name,
            "migrations/0002_change.sql"
        );
        let index = &accounts.indexes[0];
        assert_eq!(index.columns, ["lower(mail)"]);
        assert!(index.unique && index.partial);
        assert_eq!(index.method.as_deref(), Some("btree"));
        assert!(text(&workspace, index.origin).starts_with("CREATE UNIQUE INDEX users_email_idx"));

        let posts = &tables[1];
        assert_eq!(posts.indexes[0].name.as_deref(), Some("posts_by_user"));
        assert_eq!(posts.foreign_keys.len(), 1);
        let fk = &posts.foreign_keys[0];
        assert_eq!(fk.name.as_deref(), Some("posts_owner"));
        assert_eq!(
            (fk.references_table.as_str(), &fk.references_columns[..]),
            ("accounts", &["id".to_string()][..])
        );
        assert!(posts.has_index_on(&["user_id".to_string()]));
    }

    #[test]
    fn dropping_columns_and_tables_takes_their_keys_and_references() {
        let sql = "CREATE TABLE a (id int PRIMARY KEY);\n\
                   CREATE TABLE b (id int, a_id int REFERENCES a, code text, CONSTRAINT b_pkey PRIMARY KEY (id));\n\
                   CREATE INDEX b_code ON b (code, a_id);\n\
                   ALTER TABLE b DROP COLUMN code;\n\
                   ALTER TABLE b DROP CONSTRAINT b_pkey;\n\
                   DROP TABLE a CASCADE;";
        let table = one(sql);
        assert!(table.indexes.is_empty());
        assert!(table.primary_key.is_none());
        assert!(table.foreign_keys.is_empty());
    }

    #[test]
    fn same_name_in_two_schemas_is_two_tables_and_public_is_the_default() {
        let sql = "CREATE TABLE auth.users (id uuid PRIMARY KEY);\n\
                   CREATE TABLE users (id int);\n\
                   ALTER TABLE public.users ADD COLUMN name text;\n\
                   ALTER TABLE auth.users ADD COLUMN email text;\n\
                   CREATE TABLE IF NOT EXISTS auth.users (other int);";
        let (_, tables) = tables(&[("schema.sql", sql)]);
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].schema.as_deref(), Some("auth"));
        assert!(tables[0].column("email").is_some() && tables[0].column("name").is_none());
        assert!(tables[1].column("name").is_some() && tables[1].column("email").is_none());
    }

    #[test]
    fn templated_names_are_read_with_placeholders() {
        let sql = "CREATE TABLE IF NOT EXISTS {{ index .Options \"Namespace\" }}.users (\n\
                   \tid uuid NOT NULL,\n\tCONSTRAINT users_pkey PRIMARY KEY (id)\n);\n\
                   ALTER TABLE {{ index .Options \"Namespace\" }}.users ADD COLUMN phone text;";
        let (workspace, tables) = tables(&[("schema.sql", sql)]);
        assert_eq!(tables.len(), 1);
        assert_eq!(
            (tables[0].name.as_str(), tables[0].schema.as_deref()),
            ("users", None)
        );
        assert_eq!(
            text(&workspace, tables[0].column("phone").unwrap().origin),
            "phone"
        );
        assert_eq!(text(&workspace, tables[0].origin), "users");
    }

    #[test]
    fn constraints_from_indexes_and_implicit_names() {
        let sql = "CREATE TABLE t (id int, email text, CHECK (id > 0));\n\
                   CREATE UNIQUE INDEX CONCURRENTLY t_id_idx ON t (id);\n\
                   ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id_idx;\n\
                   ALTER TABLE t ADD UNIQUE (email);\n\
                   ALTER TABLE t RENAME CONSTRAINT t_email_key TO t_email_unique;";
        let table = one(sql);
        assert!(table.indexes.is_empty());
        assert_eq!(table.primary_key.as_ref().unwrap().columns, ["id"]);
        assert!(!table.column("id").unwrap().nullable);
        assert_eq!(table.uniques[0].name.as_deref(), Some("t_email_unique"));
        assert_eq!(
            super::implicit_name(&"x".repeat(70), &["a".to_string()], "fkey").len(),
            63
        );
    }

    #[test]
    fn ddl_in_do_blocks_and_unknown_keywords_is_replayed() {
        let sql = "CREATE TABLE t (id int, code text CONSTRAINT t_code_key UNIQUE);\n\
                   CREATE INDEX t_a ON t (code);\nCREATE INDEX t_b ON t (id);\n\
                   do $$\nbegin\n  if not exists (select 1 from pg_constraint where conname = 'x') then\n\
                   \x20   alter table t add constraint t_pkey primary key (id);\n  end if;\n\
                   \x20 alter table only t drop constraint if exists t_code_key;\n\
                   exception when others then\n  raise notice 'could not alter table t';\nend $$;\n\
                   DROP INDEX CONCURRENTLY IF EXISTS t_a;\n\
                   ALTER INDEX IF EXISTS t_b RENAME TO t_by_id;";
        let (workspace, tables) = tables(&[("schema.sql", sql)]);
        let table = &tables[0];
        let pk = table.primary_key.as_ref().unwrap();
        assert_eq!(pk.columns, ["id"]);
        assert_eq!(text(&workspace, pk.origin), "t_pkey primary key (id");
        assert!(table.uniques.is_empty());
        let indexes: Vec<&str> = table
            .indexes
            .iter()
            .filter_map(|i| i.name.as_deref())
            .collect();
        assert_eq!(indexes, ["t_by_id"]);
    }

    #[test]
    fn migrations_apply_by_version_not_by_name() {
        let files = [
            ("db/2017-09-23-210614_drop/up.sql", "DROP TABLE old;"),
            (
                "db/20170820180453_create/up.sql",
                "CREATE TABLE old (id int);",
            ),
            ("db/20170820180453_create/down.sql", "DROP TABLE old;"),
            ("schema.sql", "CREATE TABLE kept (id int);"),
        ];
        let (_, tables) = tables(&files);
        let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["kept"]);
        assert_eq!(super::migration_root("db/2017_x/up.sql"), "db/");
        assert_eq!(
            super::migration_root("migrations/0001_init.sql"),
            "migrations/"
        );
        assert_eq!(
            super::version_key("2026-05-11-183755-0000_use/up.sql").0,
            "202605111837550000"
        );
    }

    #[test]
    fn sqlite_table_redefinition_keeps_the_new_shape() {
        // Prisma Migrate on SQLite rebuilds a table to change it.
        let sql = "CREATE TABLE \"User\" (\"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \"email\" TEXT NOT NULL);\n\
                   CREATE TABLE \"new_User\" (\"id\" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, \"email\" TEXT NOT NULL, \"name\" TEXT);\n\
                   INSERT INTO \"new_User\" (\"email\", \"id\") SELECT \"email\", \"id\" FROM \"User\";\n\
                   DROP TABLE \"User\";\n\
                   ALTER TABLE \"new_User\" RENAME TO \"User\";\n\
                   CREATE UNIQUE INDEX \"User_email_key\" ON \"User\"(\"email\");";
        let (workspace, tables) = tables(&[("prisma/migrations/1_init/migration.sql", sql)]);
        assert_eq!(workspace.sql[0].dialect, crate::config::Dialect::Sqlite);
        assert_eq!(tables.len(), 1);
        let user = &tables[0];
        assert_eq!(user.name, "User");
        let columns: Vec<&str> = user.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["id", "email", "name"]);
        assert_eq!(user.indexes[0].columns, ["email"]);
        assert!(user.indexes[0].unique);
    }

    #[test]
    fn unreadable_statements_are_skipped() {
        let sql =
            "CREATE TABLE t (id int PRIMARY KEY);\nDO $$ BEGIN EXECUTE 'ALTER TABLE t ADD x int'; END $$;\n\
                   ALTER TABLE t FROBNICATE COLUMN id;\n\
                   ALTER TABLE missing ADD COLUMN y int;\nCREATE INDEX ON t (id);";
        let table = one(sql);
        assert_eq!(table.columns.len(), 1);
        assert_eq!(table.indexes[0].name.as_deref(), Some("t_id_idx"));
    }
}
