//! Rules of the `migration` category: each statement of a PostgreSQL up-migration judged as an
//! operation on a live, populated database.
//!
//! The model the rules share:
//! - A table or index is *new* when this migration created it: earlier in the same file, or in
//!   an earlier part of the same migration split over numbered files (Ory's tools write
//!   `…000000_identities`, `…000001_identities`, one statement each). New tables are empty and
//!   unused, so anything done to them is safe. `TRUNCATE` empties a table, so it counts as new
//!   from there on. Every other table is *existing*: it has rows and traffic.
//! - Transactions: a file that opens its own with `BEGIN` runs as written. Any other file is
//!   taken to run in one transaction (up to a `COMMIT` of its own, if it has one), because most
//!   runners wrap each file (diesel, sqlx, Flyway, Rails, Django, pop) and the others send it as
//!   one multi-statement query, which PostgreSQL runs as one implicit transaction
//!   (golang-migrate, `psql -c`). A file holding a `CONCURRENTLY` statement, or a
//!   `no-transaction` directive in a comment, runs statement by statement.
//! - Statements between `-- safety-assured:start` and `-- safety-assured:end` (diesel-guard's
//!   mark of a reviewed exception, used by crates.io) are tracked but not reported.
//! - Column types are replayed over the migrations in order, so that a type change knows the
//!   type it changes from, and CHECK constraints are replayed so that `SET NOT NULL` knows when
//!   a validated `CHECK (x IS NOT NULL)` lets PostgreSQL skip its scan.
//! - PostgreSQL 12 or later: constant defaults are added without a rewrite since 11, and
//!   `SET NOT NULL` uses a validated CHECK since 12.

use crate::config::Dialect;
use crate::input::sql::{Role, SqlFile, Statement};
use crate::registry::{Category, RuleInfo};
use crate::{FileId, Sink, Workspace};
use plinth_diagnostics::{Severity, Span};
use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, Expr, Ident,
    ObjectName, ObjectType, TableConstraint,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

const INDEX_WITHOUT_CONCURRENTLY: &str = "index-without-concurrently";
const CONCURRENT_INDEX_IN_TRANSACTION: &str = "concurrent-index-in-transaction";
const DROP_INDEX_WITHOUT_CONCURRENTLY: &str = "drop-index-without-concurrently";
const ADD_NOT_NULL_COLUMN_WITHOUT_DEFAULT: &str = "add-not-null-column-without-default";
const ADD_COLUMN_VOLATILE_DEFAULT: &str = "add-column-volatile-default";
const CONSTRAINT_WITHOUT_NOT_VALID: &str = "constraint-without-not-valid";
const SET_NOT_NULL_ON_EXISTING_COLUMN: &str = "set-not-null-on-existing-column";
const UNIQUE_CONSTRAINT_WITHOUT_INDEX: &str = "unique-constraint-without-index";
const COLUMN_TYPE_CHANGE: &str = "column-type-change";
const RENAME_COLUMN: &str = "rename-column";
const RENAME_TABLE: &str = "rename-table";
const DROP_COLUMN: &str = "drop-column";
const DROP_TABLE: &str = "drop-table";
const MISSING_LOCK_TIMEOUT: &str = "missing-lock-timeout";
const LONG_TRANSACTION_LOCKS: &str = "long-transaction-locks";
const UNCOMMITTED_TRANSACTION: &str = "uncommitted-transaction";
const NESTED_TRANSACTION: &str = "nested-transaction";

const fn rule(id: &'static str, severity: Severity, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        category: Category::Migration,
        summary,
    }
}

pub(crate) const RULES: &[RuleInfo] = &[
    rule(
        INDEX_WITHOUT_CONCURRENTLY,
        Severity::Warning,
        "`CREATE INDEX` on an existing table without `CONCURRENTLY` blocks writes while it builds",
    ),
    rule(
        CONCURRENT_INDEX_IN_TRANSACTION,
        Severity::Error,
        "`CREATE`/`DROP INDEX CONCURRENTLY` inside `BEGIN … COMMIT` fails when it runs",
    ),
    rule(
        DROP_INDEX_WITHOUT_CONCURRENTLY,
        Severity::Note,
        "`DROP INDEX` without `CONCURRENTLY` locks its table against reads and writes",
    ),
    rule(
        ADD_NOT_NULL_COLUMN_WITHOUT_DEFAULT,
        Severity::Error,
        "a `NOT NULL` column added to an existing table without a default fails on any row",
    ),
    rule(
        ADD_COLUMN_VOLATILE_DEFAULT,
        Severity::Warning,
        "a column added with a volatile default (or serial, identity, stored generated) \
         rewrites the table",
    ),
    rule(
        CONSTRAINT_WITHOUT_NOT_VALID,
        Severity::Warning,
        "a foreign key or CHECK added to an existing table without `NOT VALID` scans it under lock",
    ),
    rule(
        SET_NOT_NULL_ON_EXISTING_COLUMN,
        Severity::Warning,
        "`SET NOT NULL` scans the whole table under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        UNIQUE_CONSTRAINT_WITHOUT_INDEX,
        Severity::Warning,
        "a UNIQUE or PRIMARY KEY constraint added to an existing table builds its index under lock",
    ),
    rule(
        COLUMN_TYPE_CHANGE,
        Severity::Warning,
        "a column type change rewrites the table and its indexes under an ACCESS EXCLUSIVE lock",
    ),
    rule(
        RENAME_COLUMN,
        Severity::Warning,
        "renaming a column breaks the application code still running during a deploy",
    ),
    rule(
        RENAME_TABLE,
        Severity::Warning,
        "renaming a table breaks the application code still running during a deploy",
    ),
    rule(
        DROP_COLUMN,
        Severity::Warning,
        "dropping a column deletes its data and breaks code that still reads it",
    ),
    rule(
        DROP_TABLE,
        Severity::Warning,
        "dropping a table deletes its data and breaks code that still uses it",
    ),
    rule(
        MISSING_LOCK_TIMEOUT,
        Severity::Warning,
        "a migration takes a blocking lock on an existing table without `SET lock_timeout` first",
    ),
    rule(
        LONG_TRANSACTION_LOCKS,
        Severity::Warning,
        "a data backfill runs in the transaction that holds a schema change's lock",
    ),
    rule(
        UNCOMMITTED_TRANSACTION,
        Severity::Error,
        "a `BEGIN` with no `COMMIT` before the end of the migration",
    ),
    rule(
        NESTED_TRANSACTION,
        Severity::Warning,
        "a `BEGIN` inside an open transaction is ignored and the first `COMMIT` ends both",
    ),
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    let mut history = History {
        stable_functions: declared_stable_functions(workspace),
        ..History::default()
    };
    let mut previous: Option<(String, Fresh)> = None;
    for sql in &workspace.sql {
        if sql.role != Role::Up || sql.dialect != Dialect::Postgres {
            continue;
        }
        let Some(source) = workspace.files.get(sql.file) else {
            continue;
        };
        let key = migration_key(&source.name);
        let fresh = match previous.take() {
            Some((last, fresh)) if last == key => fresh,
            _ => Fresh::default(),
        };
        let mut review = FileReview::new(sql, &source.text, fresh, &mut history, sink);
        review.run();
        previous = Some((key, review.fresh));
    }
}

/// What ties the numbered parts of one migration together: the folder and the name after the
/// version number (`m/20191100000001000003_identities.up.sql` → `m/_identities.up.sql`).
/// Consecutive files with the same key are one migration.
fn migration_key(name: &str) -> String {
    let (dir, file) = name.rsplit_once('/').unwrap_or(("", name));
    // When the version is on the folder (`2019-…_add_x/up.sql`), the folder is the migration.
    let versioned = if file.starts_with(|c: char| c.is_ascii_digit()) {
        file
    } else {
        return name.to_string();
    };
    let description = versioned.trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
    format!("{dir}/{description}")
}

/// Tables, indexes and views this migration created (or emptied), so operations on them are safe.
#[derive(Default)]
struct Fresh {
    tables: HashSet<String>,
    indexes: HashSet<String>,
    views: HashSet<String>,
    domains: HashSet<String>,
}

/// What the migrations so far say about the schema, across files.
#[derive(Default)]
struct History {
    /// `(table, column)` → normalized type.
    columns: HashMap<(String, String), String>,
    /// CHECK constraints by table.
    checks: HashMap<String, Vec<Check>>,
    /// Constraints validated by name whose definition was not seen (`VALIDATE CONSTRAINT x`).
    validated_unknown: HashMap<String, Vec<String>>,
    /// Functions declared `STABLE` or `IMMUTABLE` anywhere in the inputs.
    stable_functions: HashSet<String>,
}

struct Check {
    name: Option<String>,
    /// `Some(column)` for `CHECK (column IS NOT NULL)`.
    not_null_column: Option<String>,
    validated: bool,
}

/// A lock a statement took on an existing table and that its transaction still holds.
#[derive(Clone)]
struct HeldLock {
    span: Span,
    what: String,
    mode: &'static str,
}

struct FileReview<'a> {
    sql: &'a SqlFile,
    file: FileId,
    fresh: Fresh,
    history: &'a mut History,
    sink: &'a mut Sink,
    /// The file runs in the runner's transaction (see the module docs), until a `COMMIT`.
    wrapped: bool,
    /// The `BEGIN` of the explicit transaction that is open.
    open: Option<Span>,
    lock_timeout: bool,
    lock_timeout_reported: bool,
    /// The session time zone is set to UTC, so `timestamp` ↔ `timestamptz` is metadata-only.
    utc: bool,
    /// Inside diesel-guard's `-- safety-assured:start` … `-- safety-assured:end`: the authors
    /// reviewed these statements, so nothing in them is reported.
    assured: bool,
    held: Option<HeldLock>,
    backfill_reported: bool,
    /// Constraints added `NOT VALID` in the current transaction: `(table, name)`.
    not_valid: HashSet<(String, String)>,
}

impl<'a> FileReview<'a> {
    fn new(
        sql: &'a SqlFile,
        text: &str,
        fresh: Fresh,
        history: &'a mut History,
        sink: &'a mut Sink,
    ) -> FileReview<'a> {
        // A file that starts its own transactions is not wrapped by the runner; one whose first
        // control statement is `COMMIT` ends the runner's transaction on purpose.
        let begins_its_own = matches!(
            sql.statements.iter().find_map(transaction_control),
            Some(Control::Begin)
        );
        let lower = text.to_ascii_lowercase();
        let no_transaction = ["no-transaction", "notransaction", "no transaction"]
            .iter()
            .any(|d| lower.contains(d))
            || lower.contains("transaction:false")
            || lower.contains("txmode none");
        let concurrent = sql.statements.iter().any(is_concurrent);
        FileReview {
            sql,
            file: sql.file,
            fresh,
            history,
            sink,
            wrapped: !begins_its_own && !no_transaction && !concurrent,
            open: None,
            lock_timeout: false,
            lock_timeout_reported: false,
            utc: false,
            assured: false,
            held: None,
            backfill_reported: false,
            not_valid: HashSet::new(),
        }
    }

    fn push(&mut self, finding: crate::Finding) {
        if !self.assured {
            self.sink.push(finding);
        }
    }

    fn report(
        &mut self,
        rule: &'static str,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Sink::finding(rule, self.file, span, message, help));
    }

    fn in_transaction(&self) -> bool {
        self.open.is_some() || self.wrapped
    }

    fn run(&mut self) {
        for statement in &self.sql.statements {
            self.statement(statement);
        }
        if let Some(begin) = self.open {
            self.report(
                UNCOMMITTED_TRANSACTION,
                begin,
                "the transaction opened by this `BEGIN` is never committed",
                "End the migration with `COMMIT;` so its changes are kept.",
            );
        }
    }

    fn statement(&mut self, statement: &'a Statement) {
        for line in statement.comments.lines() {
            if line.contains("safety-assured:start") {
                self.assured = true;
            } else if line.contains("safety-assured:end") {
                self.assured = false;
            }
        }
        if let Some(control) = transaction_control(statement) {
            self.transaction(statement, control);
            return;
        }
        if let Some(begin) = self.open.filter(|_| is_concurrent(statement)) {
            // `CREATE UNIQUE INDEX CONCURRENTLY`: the words up to the keyword.
            let head = statement.head(6);
            let words: Vec<&str> = head.split(' ').collect();
            let upto = words
                .iter()
                .position(|w| *w == "CONCURRENTLY")
                .map_or(words.len().min(3), |at| at + 1);
            let what = words[..upto].join(" ");
            let finding = Sink::finding(
                CONCURRENT_INDEX_IN_TRANSACTION,
                self.file,
                head_span(statement, upto),
                format!("`{what}` cannot run inside a transaction block"),
                "Move the statement to a migration of its own, with no `BEGIN`/`COMMIT`, that \
                 the runner does not wrap in a transaction.",
            )
            .with_related(self.file, begin, "the transaction is opened here");
            self.push(finding);
        }
        if is_set_lock_timeout(&statement.text) {
            self.lock_timeout = true;
            return;
        }
        if let Some(utc) = set_time_zone_utc(&statement.text) {
            self.utc = utc;
            return;
        }
        let stmt = Stmt::new(statement);
        match statement.head(2).as_str() {
            "CREATE DOMAIN" => {
                if let Some(name) = stmt.name_after(&["DOMAIN"]) {
                    self.fresh.domains.insert(name);
                }
                return;
            }
            "ALTER DOMAIN" => {
                self.alter_domain(&stmt);
                return;
            }
            _ => {}
        }
        match stmt.ast.as_deref() {
            Some(ast) => self.parsed(&stmt, ast),
            None => self.unparsed(&stmt),
        }
    }

    fn transaction(&mut self, statement: &Statement, control: Control) {
        match control {
            Control::Begin => {
                if let Some(outer) = self.open {
                    let finding = Sink::finding(
                        NESTED_TRANSACTION,
                        self.file,
                        statement.span,
                        "`BEGIN` inside an open transaction is ignored, so the first `COMMIT` \
                         ends the outer transaction too",
                        "Remove the inner `BEGIN` and its `COMMIT`, or commit the outer \
                         transaction first.",
                    )
                    .with_related(
                        self.file,
                        outer,
                        "the open transaction begins here",
                    );
                    self.push(finding);
                } else {
                    self.open = Some(statement.span);
                    self.end_transaction();
                }
            }
            Control::End => {
                self.open = None;
                self.wrapped = false;
                self.end_transaction();
            }
        }
    }

    fn end_transaction(&mut self) {
        self.held = None;
        self.backfill_reported = false;
        self.not_valid.clear();
    }

    fn is_existing(&self, table: &str) -> bool {
        !table.is_empty() && !self.fresh.tables.contains(table)
    }

    /// A statement took `mode` on an existing table: it needs a lock timeout, and the lock is
    /// held to the end of the transaction (when `holds`).
    fn took_lock(&mut self, span: Span, what: String, mode: &'static str, holds: bool) {
        if !self.lock_timeout && !self.lock_timeout_reported && !self.assured {
            self.lock_timeout_reported = true;
            self.report(
                MISSING_LOCK_TIMEOUT,
                span,
                format!(
                    "{what} waits for {} {mode} lock with no `lock_timeout` set, and {} the table \
                     queues behind it while it waits",
                    if mode.starts_with('A') { "an" } else { "a" },
                    if mode == "ACCESS EXCLUSIVE" {
                        "every query on"
                    } else {
                        "every write to"
                    }
                ),
                "Start the migration with `SET lock_timeout = '5s';` (and retry when it times \
                 out), so a long-running query cannot stall all traffic on the table.",
            );
        }
        if holds && self.in_transaction() && self.held.is_none() {
            self.held = Some(HeldLock { span, what, mode });
        }
    }

    /// A long data statement on an existing table: harmful while a schema change's lock is held.
    fn backfill(&mut self, span: Span, what: String) {
        if self.backfill_reported || !self.in_transaction() {
            return;
        }
        let Some(held) = self.held.clone() else {
            return;
        };
        self.backfill_reported = true;
        let finding = Sink::finding(
            LONG_TRANSACTION_LOCKS,
            self.file,
            span,
            format!(
                "{what} runs in the same transaction as {}, whose {} lock is held until the \
                 backfill commits",
                held.what, held.mode
            ),
            "Commit the schema change first and backfill in a separate migration or \
             transaction, in batches.",
        )
        .with_related(self.file, held.span, "the lock is taken here");
        self.push(finding);
    }

    fn parsed(&mut self, stmt: &Stmt, ast: &ast::Statement) {
        match ast {
            ast::Statement::CreateTable(create) => {
                let table = table_name(&create.name);
                for column in &create.columns {
                    self.remember_column(&table, column);
                }
                for constraint in &create.constraints {
                    if let TableConstraint::Check(check) = constraint {
                        self.remember_check(&table, check, true);
                    }
                }
                self.fresh.tables.insert(table);
            }
            ast::Statement::CreateView(view) => {
                let name = table_name(&view.name);
                if view.materialized {
                    self.fresh.tables.insert(name.clone());
                }
                self.fresh.views.insert(name);
            }
            ast::Statement::CreateIndex(index) => self.create_index(stmt, index),
            ast::Statement::Drop {
                object_type, names, ..
            } => self.drop(stmt, *object_type, names),
            ast::Statement::AlterTable(alter) => self.alter_table(stmt, alter),
            ast::Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    self.fresh.tables.insert(table_name(&target.name));
                }
            }
            ast::Statement::CreateTrigger(trigger) => {
                let table = table_name(&trigger.table_name);
                if self.is_existing(&table) {
                    self.took_lock(
                        stmt.whole(),
                        format!("`CREATE TRIGGER` on `{table}`"),
                        "SHARE ROW EXCLUSIVE",
                        true,
                    );
                }
            }
            ast::Statement::Update(update) => {
                if let ast::TableFactor::Table { name, .. } = &update.table.relation {
                    let table = table_name(name);
                    if self.is_existing(&table) && !is_point_lookup(update.selection.as_ref()) {
                        self.backfill(stmt.whole(), format!("`UPDATE {table}`"));
                    }
                }
            }
            ast::Statement::Delete(delete) => {
                let tables = match &delete.from {
                    ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
                };
                if let Some(ast::TableFactor::Table { name, .. }) =
                    tables.first().map(|t| &t.relation)
                {
                    let table = table_name(name);
                    // A `DELETE` with a `WHERE` is a cleanup of some rows, not a backfill.
                    if self.is_existing(&table) && delete.selection.is_none() {
                        self.backfill(stmt.whole(), format!("`DELETE FROM {table}`"));
                    }
                }
            }
            ast::Statement::Insert(insert) => {
                let target = match &insert.table {
                    ast::TableObject::TableName(name) => table_name(name),
                    _ => String::new(),
                };
                // `INSERT … SELECT` over many rows; `VALUES` and point lookups are quick.
                let selects_many = insert.source.as_ref().is_some_and(|query| {
                    matches!(query.body.as_ref(), ast::SetExpr::Select(select)
                        if !is_point_lookup(select.selection.as_ref()))
                });
                let source = stmt
                    .names_after(&["FROM", "JOIN"])
                    .into_iter()
                    .filter(|_| selects_many)
                    .find(|t| self.is_existing(t));
                if let Some(source) = source {
                    self.backfill(
                        stmt.whole(),
                        format!("`INSERT INTO {target} … SELECT … FROM {source}`"),
                    );
                }
            }
            _ => {}
        }
    }

    /// Statements sqlparser cannot read: keep track of new tables and of locks by their text.
    fn unparsed(&mut self, stmt: &Stmt) {
        let head = stmt.source.head(2);
        if head == "CREATE TABLE" {
            if let Some(name) = stmt.name_after(&["TABLE"]) {
                self.fresh.tables.insert(name);
            }
        } else if head == "ALTER TABLE" {
            if let Some(table) = stmt.name_after(&["TABLE"]) {
                if self.is_existing(&table) {
                    self.took_lock(
                        stmt.whole(),
                        format!("`ALTER TABLE {table}`"),
                        "ACCESS EXCLUSIVE",
                        true,
                    );
                }
            }
        }
    }

    /// `ALTER DOMAIN … ADD CONSTRAINT` checks every column of the domain in every table.
    fn alter_domain(&mut self, stmt: &Stmt) {
        let Some(domain) = stmt.name_after(&["DOMAIN"]) else {
            return;
        };
        let upper = stmt.source.text.to_ascii_uppercase();
        let words: Vec<&str> = upper.split_whitespace().collect();
        let adds = words
            .windows(2)
            .any(|w| w[0] == "ADD" && (w[1] == "CONSTRAINT" || w[1].starts_with("CHECK")));
        let not_valid = words.windows(2).any(|w| w == ["NOT", "VALID"]);
        if !adds || not_valid || self.fresh.domains.contains(&domain) {
            return;
        }
        self.report(
            CONSTRAINT_WITHOUT_NOT_VALID,
            stmt.whole(),
            format!(
                "a constraint is added to domain `{domain}` without `NOT VALID`, so every column \
                 of that domain in every table is checked under lock"
            ),
            "Add the constraint with `NOT VALID`, then run `ALTER DOMAIN … VALIDATE \
             CONSTRAINT …` in a separate transaction.",
        );
    }

    fn create_index(&mut self, stmt: &Stmt, index: &ast::CreateIndex) {
        let table = table_name(&index.table_name);
        let name = index.name.as_ref().map(table_name);
        if let Some(name) = &name {
            if self.fresh.tables.contains(&table) {
                self.fresh.indexes.insert(name.clone());
            }
        }
        if index.concurrently || !self.is_existing(&table) {
            return;
        }
        let span = match index
            .name
            .as_ref()
            .and_then(|n| n.0.last()?.as_ident().cloned())
        {
            Some(ident) => stmt.through(&ident),
            None => head_span(stmt.source, if index.unique { 3 } else { 2 }),
        };
        let kind = if index.unique {
            "CREATE UNIQUE INDEX"
        } else {
            "CREATE INDEX"
        };
        let shown = name.map(|n| format!(" {n}")).unwrap_or_default();
        self.report(
            INDEX_WITHOUT_CONCURRENTLY,
            span,
            format!(
                "`{kind}{shown}` on existing table `{table}` blocks writes to it until the \
                 index is built"
            ),
            "Use `CREATE INDEX CONCURRENTLY` in a migration of its own that runs outside a \
             transaction.",
        );
        self.took_lock(span, format!("`{kind}` on `{table}`"), "SHARE", true);
    }

    fn drop(&mut self, stmt: &Stmt, object_type: ObjectType, names: &[ObjectName]) {
        match object_type {
            ObjectType::Table => {
                for name in names {
                    let table = table_name(name);
                    let existing = self.is_existing(&table);
                    self.fresh.tables.remove(&table);
                    self.forget_table(&table);
                    if !existing {
                        continue;
                    }
                    let span = stmt.name_span(name);
                    self.report(
                        DROP_TABLE,
                        span,
                        format!(
                            "dropping table `{table}` deletes its data and breaks code that \
                             still uses it"
                        ),
                        "Stop using the table in a release first, then drop it in a later \
                         migration (after a backup if its data may be needed).",
                    );
                    self.took_lock(
                        span,
                        format!("`DROP TABLE {table}`"),
                        "ACCESS EXCLUSIVE",
                        false,
                    );
                }
            }
            ObjectType::Index => {
                // `DROP INDEX CONCURRENTLY` is not read by sqlparser, so every parsed one is plain.
                for name in names {
                    let index = table_name(name);
                    if self.fresh.indexes.remove(&index) {
                        continue;
                    }
                    let span = stmt.name_span(name);
                    self.report(
                        DROP_INDEX_WITHOUT_CONCURRENTLY,
                        span,
                        format!(
                            "`DROP INDEX {index}` locks its table against reads and writes until \
                             every query using the table has finished"
                        ),
                        "Use `DROP INDEX CONCURRENTLY` in a migration of its own that runs \
                         outside a transaction.",
                    );
                    self.took_lock(
                        span,
                        format!("`DROP INDEX {index}`"),
                        "ACCESS EXCLUSIVE",
                        true,
                    );
                }
            }
            ObjectType::View | ObjectType::MaterializedView => {
                for name in names {
                    let view = table_name(name);
                    self.fresh.views.remove(&view);
                }
            }
            _ => {}
        }
    }

    fn alter_table(&mut self, stmt: &Stmt, alter: &ast::AlterTable) {
        let table = table_name(&alter.name);
        let segments = stmt.alter_segments(alter);
        let existing = self.is_existing(&table);
        let mut locked = false;
        for (i, operation) in alter.operations.iter().enumerate() {
            let span = segments
                .as_ref()
                .and_then(|s| s.get(i).copied())
                .unwrap_or_else(|| stmt.whole());
            if existing && !matches!(operation, AlterTableOperation::ValidateConstraint { .. }) {
                locked = true;
            }
            self.alter_operation(stmt, &table, existing, operation, span);
        }
        if locked {
            let foreign_key_only = alter.operations.iter().all(|op| {
                matches!(
                    op,
                    AlterTableOperation::AddConstraint {
                        constraint: TableConstraint::ForeignKey(_),
                        ..
                    }
                )
            });
            let mode = if foreign_key_only {
                "SHARE ROW EXCLUSIVE"
            } else {
                "ACCESS EXCLUSIVE"
            };
            let span = match alter.name.0.last().and_then(|part| part.as_ident()) {
                Some(ident) => stmt.through(ident),
                None => head_span(stmt.source, 3),
            };
            self.took_lock(span, format!("`ALTER TABLE {table}`"), mode, true);
        }
    }

    fn alter_operation(
        &mut self,
        stmt: &Stmt,
        table: &str,
        existing: bool,
        operation: &AlterTableOperation,
        span: Span,
    ) {
        match operation {
            AlterTableOperation::AddColumn { column_def, .. } => {
                if existing {
                    self.add_column(table, column_def, span);
                }
                self.remember_column(table, column_def);
            }
            AlterTableOperation::AddConstraint {
                constraint,
                not_valid,
            } => self.add_constraint(table, existing, constraint, *not_valid, span),
            AlterTableOperation::ValidateConstraint { name } => {
                let name = ident_name(name);
                if existing && self.not_valid.contains(&(table.to_string(), name.clone())) {
                    self.report(
                        CONSTRAINT_WITHOUT_NOT_VALID,
                        span,
                        format!(
                            "constraint `{name}` is validated in the transaction that added it \
                             `NOT VALID`, so the lock taken to add it is held for the whole scan"
                        ),
                        "Commit after adding the constraint `NOT VALID`, and run `VALIDATE \
                         CONSTRAINT` in a separate migration or transaction.",
                    );
                }
                let mut known = false;
                for check in self.history.checks.entry(table.to_string()).or_default() {
                    if check.name.as_deref() == Some(name.as_str()) {
                        check.validated = true;
                        known = true;
                    }
                }
                if !known {
                    self.history
                        .validated_unknown
                        .entry(table.to_string())
                        .or_default()
                        .push(name);
                }
            }
            AlterTableOperation::DropColumn { column_names, .. } => {
                for column in column_names {
                    let column = ident_name(column);
                    self.history
                        .columns
                        .remove(&(table.to_string(), column.clone()));
                    if existing {
                        self.report(
                            DROP_COLUMN,
                            span,
                            format!(
                                "dropping column `{column}` of `{table}` deletes its data and \
                                 breaks code that still reads it"
                            ),
                            "Stop reading and writing the column in a release first, then drop \
                             it in a later migration.",
                        );
                    }
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let old = ident_name(old_column_name);
                let new = ident_name(new_column_name);
                if let Some(data_type) = self
                    .history
                    .columns
                    .remove(&(table.to_string(), old.clone()))
                {
                    self.history
                        .columns
                        .insert((table.to_string(), new.clone()), data_type);
                }
                if existing {
                    self.report(
                        RENAME_COLUMN,
                        span,
                        format!(
                            "renaming column `{old}` of `{table}` to `{new}` breaks the \
                             application code still using `{old}` during the deploy"
                        ),
                        format!(
                            "Add `{new}` next to `{old}`, write both until every running \
                             instance reads `{new}`, then drop `{old}` in a later migration."
                        ),
                    );
                }
            }
            AlterTableOperation::RenameTable { table_name: kind } => {
                let (ast::RenameTableNameKind::As(new_name)
                | ast::RenameTableNameKind::To(new_name)) = kind;
                let new = table_name(new_name);
                self.rename_table(stmt, table, &new, existing, span);
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let column = ident_name(column_name);
                match op {
                    AlterColumnOperation::SetNotNull if existing => {
                        self.set_not_null(table, &column, span);
                    }
                    AlterColumnOperation::SetDataType {
                        data_type, using, ..
                    } => {
                        let new = normalize_type(&data_type.to_string());
                        let key = (table.to_string(), column.clone());
                        let old = self.history.columns.get(&key).cloned();
                        let zone_change = is_time_zone_change(old.as_deref(), &new, using);
                        if existing && zone_change && !self.utc {
                            self.report(
                                COLUMN_TYPE_CHANGE,
                                span,
                                format!(
                                    "changing column `{column}` of existing table `{table}` to \
                                     `{new}` rewrites the table under an ACCESS EXCLUSIVE lock \
                                     unless the session time zone is UTC"
                                ),
                                "Run `SET timezone = 'UTC';` earlier in the migration: \
                                 PostgreSQL 12+ then changes only the column's metadata.",
                            );
                        } else if existing
                            && !zone_change
                            && !cheap_type_change(old.as_deref(), &new, using, &column)
                        {
                            let from = old.map(|o| format!(" from `{o}`")).unwrap_or_default();
                            self.report(
                                COLUMN_TYPE_CHANGE,
                                span,
                                format!(
                                    "changing column `{column}` of existing table `{table}`{from} \
                                     to `{new}` rewrites the table and its indexes under an \
                                     ACCESS EXCLUSIVE lock"
                                ),
                                "Add a column of the new type, backfill it in batches, move the \
                                 application to it, then drop the old column.",
                            );
                        }
                        self.history.columns.insert(key, new);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn add_column(&mut self, table: &str, column: &ColumnDef, span: Span) {
        let name = ident_name(&column.name);
        let mut not_null = false;
        let mut default: Option<&Expr> = None;
        let mut generated: Option<&'static str> = None;
        let mut unique: Option<&'static str> = None;
        let mut check = false;
        let mut references = false;
        for option in &column.options {
            match &option.option {
                ColumnOption::NotNull => not_null = true,
                ColumnOption::Default(expr) => default = Some(expr),
                ColumnOption::PrimaryKey(_) => {
                    not_null = true;
                    unique = Some("PRIMARY KEY");
                }
                ColumnOption::Unique(_) => unique = Some("UNIQUE"),
                ColumnOption::Check(_) => check = true,
                ColumnOption::ForeignKey(_) => references = true,
                ColumnOption::Generated {
                    generation_expr,
                    generation_expr_mode,
                    ..
                } => {
                    generated = match (generation_expr, generation_expr_mode) {
                        (Some(_), Some(ast::GeneratedExpressionMode::Virtual)) => Some("virtual"),
                        (Some(_), _) => Some("stored generated"),
                        (None, _) => Some("identity"),
                    };
                }
                _ => {}
            }
        }
        let written = column.data_type.to_string().to_ascii_lowercase();
        let serial = SERIAL_TYPES.contains(&written.as_str());
        let has_value = default.is_some_and(|d| !is_null(d)) || serial || generated.is_some();
        if not_null && !has_value {
            self.report(
                ADD_NOT_NULL_COLUMN_WITHOUT_DEFAULT,
                span,
                format!(
                    "column `{name}` is added to existing table `{table}` as NOT NULL with no \
                     default, which fails as soon as the table has a row"
                ),
                "Add the column with a constant `DEFAULT`, or add it nullable, backfill it, and \
                 set it NOT NULL afterwards.",
            );
        }
        let rewrite = match generated {
            _ if serial => Some(format!("of type `{written}`, whose `nextval()` default")),
            Some("identity") => Some("as an identity column, which".to_string()),
            Some("stored generated") => Some("as a stored generated column, which".to_string()),
            _ => default
                .and_then(|d| volatile_call(d, &self.history.stable_functions))
                .map(|f| {
                    if VOLATILE_FUNCTIONS.contains(&f.as_str()) {
                        format!("with the volatile default `{f}()`, which")
                    } else {
                        format!(
                            "with the default `{f}()`, volatile unless declared `STABLE` or \
                             `IMMUTABLE`, which"
                        )
                    }
                }),
        };
        if let Some(rewrite) = rewrite {
            self.report(
                ADD_COLUMN_VOLATILE_DEFAULT,
                span,
                format!(
                    "column `{name}` is added to existing table `{table}` {rewrite} fills every \
                     row by rewriting the table under an ACCESS EXCLUSIVE lock"
                ),
                "Add the column without a default, set the default with `ALTER COLUMN … SET \
                 DEFAULT` for new rows, and backfill existing rows in batches.",
            );
        }
        if let Some(kind) = unique {
            self.report(
                UNIQUE_CONSTRAINT_WITHOUT_INDEX,
                span,
                format!(
                    "column `{name}` is added to existing table `{table}` as {kind}, which builds \
                     its unique index under an ACCESS EXCLUSIVE lock"
                ),
                "Add the column plain, build the index with `CREATE UNIQUE INDEX CONCURRENTLY`, \
                 then add the constraint with `USING INDEX`.",
            );
        }
        if check || (references && has_value) {
            let kind = if check {
                "a CHECK constraint"
            } else {
                "a foreign key and a default"
            };
            self.report(
                CONSTRAINT_WITHOUT_NOT_VALID,
                span,
                format!(
                    "column `{name}` is added to existing table `{table}` with {kind}, so every \
                     row is checked while the table is locked"
                ),
                "Add the column first, then add the constraint as a table constraint with \
                 `NOT VALID` and validate it in a separate transaction.",
            );
        }
    }

    fn add_constraint(
        &mut self,
        table: &str,
        existing: bool,
        constraint: &TableConstraint,
        not_valid: bool,
        span: Span,
    ) {
        let named = |name: &Option<Ident>| {
            name.as_ref()
                .map(|n| format!(" `{}`", ident_name(n)))
                .unwrap_or_default()
        };
        match constraint {
            TableConstraint::Check(check) => {
                self.remember_check(table, check, !not_valid);
                if existing && !not_valid {
                    self.report(
                        CONSTRAINT_WITHOUT_NOT_VALID,
                        span,
                        format!(
                            "check{} is added to existing table `{table}` without `NOT VALID`, \
                             so every row is checked under an ACCESS EXCLUSIVE lock",
                            named(&check.name)
                        ),
                        "Add the constraint with `NOT VALID`, then run `ALTER TABLE … VALIDATE \
                         CONSTRAINT …` in a separate transaction.",
                    );
                }
                if not_valid && self.in_transaction() {
                    if let Some(name) = &check.name {
                        self.not_valid.insert((table.to_string(), ident_name(name)));
                    }
                }
            }
            TableConstraint::ForeignKey(foreign_key) => {
                if existing && !not_valid {
                    let referenced = table_name(&foreign_key.foreign_table);
                    self.report(
                        CONSTRAINT_WITHOUT_NOT_VALID,
                        span,
                        format!(
                            "foreign key{} is added to existing table `{table}` without `NOT \
                             VALID`, so every row is checked while writes to `{table}` and \
                             `{referenced}` are blocked",
                            named(&foreign_key.name)
                        ),
                        "Add the constraint with `NOT VALID`, then run `ALTER TABLE … VALIDATE \
                         CONSTRAINT …` in a separate transaction.",
                    );
                }
                if not_valid && self.in_transaction() {
                    if let Some(name) = &foreign_key.name {
                        self.not_valid.insert((table.to_string(), ident_name(name)));
                    }
                }
            }
            TableConstraint::Unique(unique) if existing => {
                self.report(
                    UNIQUE_CONSTRAINT_WITHOUT_INDEX,
                    span,
                    format!(
                        "unique constraint{} on existing table `{table}` builds its index under \
                         an ACCESS EXCLUSIVE lock",
                        named(&unique.name)
                    ),
                    "Build the index first with `CREATE UNIQUE INDEX CONCURRENTLY`, then add \
                     the constraint with `UNIQUE USING INDEX <index>`.",
                );
            }
            TableConstraint::PrimaryKey(primary_key) if existing => {
                self.report(
                    UNIQUE_CONSTRAINT_WITHOUT_INDEX,
                    span,
                    format!(
                        "primary key{} on existing table `{table}` builds its index under an \
                         ACCESS EXCLUSIVE lock",
                        named(&primary_key.name)
                    ),
                    "Build the index first with `CREATE UNIQUE INDEX CONCURRENTLY`, then add \
                     the constraint with `PRIMARY KEY USING INDEX <index>`.",
                );
            }
            _ => {}
        }
    }

    fn set_not_null(&mut self, table: &str, column: &str, span: Span) {
        let checked = self.history.checks.get(table).is_some_and(|checks| {
            checks
                .iter()
                .any(|c| c.validated && c.not_null_column.as_deref() == Some(column))
        });
        // A constraint validated by name, defined where we cannot see it, named for the column.
        let validated_by_name = self
            .history
            .validated_unknown
            .get(table)
            .is_some_and(|names| names.iter().any(|n| n.contains(column)));
        if checked || validated_by_name {
            return;
        }
        self.report(
            SET_NOT_NULL_ON_EXISTING_COLUMN,
            span,
            format!(
                "`SET NOT NULL` on column `{column}` of existing table `{table}` scans the whole \
                 table under an ACCESS EXCLUSIVE lock"
            ),
            format!(
                "Add `CHECK ({column} IS NOT NULL) NOT VALID`, validate it in a separate \
                 transaction, then `SET NOT NULL` (PostgreSQL 12+ skips the scan) and drop the \
                 check."
            ),
        );
    }

    fn rename_table(&mut self, stmt: &Stmt, old: &str, new: &str, existing: bool, span: Span) {
        let moved: Vec<((String, String), String)> = self
            .history
            .columns
            .iter()
            .filter(|((t, _), _)| t == old)
            .map(|((_, c), ty)| ((new.to_string(), c.clone()), ty.clone()))
            .collect();
        self.forget_table(old);
        self.history.columns.extend(moved);
        if self.fresh.tables.remove(old) {
            self.fresh.tables.insert(new.to_string());
        }
        if !existing {
            return;
        }
        // The expand/contract way: a view under the old name, created in the same file.
        let later_view = self.sql.statements.iter().any(|s| {
            s.span.start > stmt.source.span.start
                && matches!(
                    s.ast.as_ref(),
                    Some(ast::Statement::CreateView(v)) if table_name(&v.name) == old
                )
        });
        if later_view || self.fresh.views.contains(old) {
            return;
        }
        self.report(
            RENAME_TABLE,
            span,
            format!(
                "renaming table `{old}` to `{new}` breaks the application code still using \
                 `{old}` during the deploy"
            ),
            format!(
                "Create a view `{old}` over `{new}` in the same migration and drop it once no \
                 running code uses the old name."
            ),
        );
    }

    fn forget_table(&mut self, table: &str) {
        self.history.columns.retain(|(t, _), _| t != table);
        self.history.checks.remove(table);
        self.history.validated_unknown.remove(table);
    }

    fn remember_column(&mut self, table: &str, column: &ColumnDef) {
        let key = (table.to_string(), ident_name(&column.name));
        self.history
            .columns
            .insert(key, normalize_type(&column.data_type.to_string()));
        for option in &column.options {
            if let ColumnOption::Check(check) = &option.option {
                self.remember_check(table, check, true);
            }
        }
    }

    fn remember_check(&mut self, table: &str, check: &ast::CheckConstraint, validated: bool) {
        self.history
            .checks
            .entry(table.to_string())
            .or_default()
            .push(Check {
                name: check.name.as_ref().map(ident_name),
                not_null_column: not_null_column(&check.expr),
                validated,
            });
    }
}

/// Transaction control, read from the statement's first words.
#[derive(Clone, Copy)]
enum Control {
    Begin,
    End,
}

fn transaction_control(statement: &Statement) -> Option<Control> {
    let head = statement.head(2);
    let first = head.split(' ').next().unwrap_or("");
    match first {
        "BEGIN" if head != "BEGIN ATOMIC" => Some(Control::Begin),
        "START" if head == "START TRANSACTION" => Some(Control::Begin),
        "COMMIT" | "END" | "ABORT" => Some(Control::End),
        // `ROLLBACK TO SAVEPOINT` keeps the transaction open.
        "ROLLBACK" if head != "ROLLBACK TO" => Some(Control::End),
        _ => None,
    }
}

/// `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY`, `DETACH
/// PARTITION … CONCURRENTLY`: the statements PostgreSQL refuses inside a transaction block.
fn is_concurrent(statement: &Statement) -> bool {
    let head = statement.head(6);
    let refused = head.starts_with("CREATE INDEX")
        || head.starts_with("CREATE UNIQUE INDEX")
        || head.starts_with("DROP INDEX")
        || head.starts_with("REINDEX")
        || (head.starts_with("ALTER TABLE") && head.contains("DETACH"));
    refused
        && statement
            .text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w.eq_ignore_ascii_case("CONCURRENTLY"))
}

/// `SET [LOCAL | SESSION] lock_timeout …` with a value other than 0 (which turns it off), or
/// `set_config('lock_timeout', …)`.
fn is_set_lock_timeout(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let setting = match words.as_slice() {
        ["set", "local" | "session", rest @ ..] | ["set", rest @ ..] => rest,
        _ => return lower.contains("set_config('lock_timeout'"),
    };
    let joined = setting.join(" ");
    let Some(value) = joined.strip_prefix("lock_timeout") else {
        return false;
    };
    let value = value.trim_start();
    let value = match value.strip_prefix('=') {
        Some(v) => v,
        None => match value.strip_prefix("to ") {
            Some(v) => v,
            None => return false,
        },
    };
    let value = value.trim().trim_matches('\'');
    !value.is_empty() && value != "0" && value != "default"
}

/// `SET [LOCAL | SESSION] timezone …` / `SET TIME ZONE …`: `Some(true)` when the zone is UTC
/// (or another name for a zero offset), `Some(false)` for any other zone.
fn set_time_zone_utc(text: &str) -> Option<bool> {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let rest = match words.as_slice() {
        ["set", "local" | "session", rest @ ..] | ["set", rest @ ..] => rest.join(" "),
        _ => return None,
    };
    let value = rest
        .strip_prefix("time zone")
        .or_else(|| rest.strip_prefix("timezone"))?
        .trim_start()
        .trim_start_matches('=')
        .trim_start();
    let value = value.strip_prefix("to ").unwrap_or(value).trim();
    let value = value.trim_matches('\'').trim_matches('"');
    Some(matches!(
        value,
        "utc" | "etc/utc" | "gmt" | "etc/gmt" | "zulu" | "etc/zulu" | "uct" | "universal" | "0"
    ))
}

/// `timestamp` ↔ `timestamptz` with no `USING` (or a plain cast): PostgreSQL 12+ skips the
/// rewrite when the session time zone is UTC.
fn is_time_zone_change(old: Option<&str>, new: &str, using: &Option<Expr>) -> bool {
    let plain = match using {
        None => true,
        Some(expr) => {
            matches!(expr, Expr::Cast { expr, .. } if matches!(expr.as_ref(), Expr::Identifier(_)))
        }
    };
    let base = |t: &str| type_shape(t).0;
    plain
        && matches!(
            (old.map(base).as_deref(), base(new).as_str()),
            (Some("timestamp"), "timestamptz") | (Some("timestamptz"), "timestamp")
        )
}

/// The span of a statement's first `words` words (`CREATE UNIQUE INDEX`), for a finding about
/// the statement as a whole that should not underline all of it.
fn head_span(statement: &Statement, words: usize) -> Span {
    let text = &statement.text;
    let mut end = 0;
    let mut seen = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                seen += 1;
                in_word = false;
                if seen == words {
                    break;
                }
            }
        } else {
            in_word = true;
            end = i + c.len_utf8();
        }
    }
    Span::new(statement.span.start, statement.span.start + end as u32)
}

/// The unquoted-or-folded name PostgreSQL would use, without its schema.
fn table_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(ident_name)
        .unwrap_or_default()
}

fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

fn is_null(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(v.value, ast::Value::Null))
}

/// A `WHERE` that picks rows by equality with constants (`WHERE version = 'a'`, `id IN (1, 2)`):
/// a point change, not a backfill.
fn is_point_lookup(selection: Option<&Expr>) -> bool {
    fn constant(expr: &Expr) -> bool {
        matches!(expr, Expr::Value(_)) || matches!(expr, Expr::Cast { expr, .. } if constant(expr))
    }
    fn point(expr: &Expr) -> bool {
        match expr {
            Expr::Nested(inner) => point(inner),
            Expr::BinaryOp { left, op, right } => match op {
                ast::BinaryOperator::Eq => constant(left) || constant(right),
                ast::BinaryOperator::And => point(left) || point(right),
                ast::BinaryOperator::Or => point(left) && point(right),
                _ => false,
            },
            Expr::InList { list, negated, .. } => !negated && list.iter().all(constant),
            _ => false,
        }
    }
    selection.is_some_and(point)
}

/// `Some(column)` for `column IS NOT NULL`.
fn not_null_column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Nested(inner) => not_null_column(inner),
        Expr::IsNotNull(inner) => match inner.as_ref() {
            Expr::Identifier(ident) => Some(ident_name(ident)),
            Expr::CompoundIdentifier(parts) => parts.last().map(ident_name),
            _ => None,
        },
        _ => None,
    }
}

const SERIAL_TYPES: &[&str] = &[
    "serial",
    "bigserial",
    "smallserial",
    "serial2",
    "serial4",
    "serial8",
];

/// Functions PostgreSQL marks volatile that appear as column defaults. A default calling one
/// must be computed for every existing row, so adding the column rewrites the table.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "gen_random_bytes",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setseed",
    "txid_current",
];

/// Built-in functions (and words that look like calls: type names with a modifier, keywords
/// before a parenthesis) that are `STABLE` or `IMMUTABLE`: a default calling only these is
/// evaluated once and stored in the catalogue, with no rewrite (PostgreSQL 11+).
const STABLE_FUNCTIONS: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "current_user",
    "session_user",
    "current_schema",
    "current_setting",
    "lower",
    "upper",
    "btrim",
    "trim",
    "concat",
    "md5",
    "to_json",
    "to_jsonb",
    "json_build_object",
    "jsonb_build_object",
    "json_build_array",
    "jsonb_build_array",
    "date_trunc",
    "timezone",
    "make_date",
    "make_interval",
    "to_timestamp",
    "to_char",
    "to_date",
    "length",
    "char_length",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "replace",
    "substring",
    "encode",
    "decode",
    "sha256",
    "cast",
    "array",
    "row",
    "in",
    "and",
    "or",
    "not",
    "any",
    "all",
    "varchar",
    "char",
    "character",
    "varying",
    "numeric",
    "decimal",
    "timestamp",
    "timestamptz",
    "time",
    "interval",
    "bit",
    "varbit",
    "float",
];

/// The first function a default expression calls that may be volatile: a known volatile one,
/// or one that is neither a known stable built-in nor declared `STABLE`/`IMMUTABLE` in the
/// inputs (`CREATE FUNCTION` makes a function `VOLATILE` unless told otherwise).
fn volatile_call(expr: &Expr, stable: &HashSet<String>) -> Option<String> {
    let text = expr.to_string().to_ascii_lowercase();
    let mut outside = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        if c == '\'' {
            quoted = !quoted;
            continue;
        }
        outside.push(if quoted { ' ' } else { c });
    }
    let bytes = outside.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            let word = &outside[start..i];
            let name = word.rsplit('.').next().unwrap_or(word);
            let called = outside[i..].trim_start().starts_with('(');
            // `x::varchar(10)`: a type with a modifier, not a call.
            let cast = outside[..start].trim_end().ends_with("::");
            let known_stable = STABLE_FUNCTIONS.contains(&name) || stable.contains(name);
            if called && !cast && !known_stable {
                return Some(name.to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Functions the inputs declare `STABLE` or `IMMUTABLE` (`CREATE [OR REPLACE] FUNCTION`).
fn declared_stable_functions(workspace: &Workspace) -> HashSet<String> {
    let mut stable = HashSet::new();
    for statement in workspace.sql.iter().flat_map(|f| &f.statements) {
        let head = statement.head(4);
        if !(head.starts_with("CREATE FUNCTION") || head.starts_with("CREATE OR REPLACE FUNCTION"))
        {
            continue;
        }
        let declared = statement
            .text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w.eq_ignore_ascii_case("IMMUTABLE") || w.eq_ignore_ascii_case("STABLE"));
        if !declared {
            continue;
        }
        let stmt = Stmt::new(statement);
        if let Some(name) = stmt.name_after(&["FUNCTION"]) {
            stable.insert(name);
        }
    }
    stable
}

/// A type as written, in one spelling: lowercase, aliases folded (`character varying(20)` →
/// `varchar(20)`, `int4` → `integer`), spaces single.
fn normalize_type(written: &str) -> String {
    let lower = written.to_ascii_lowercase();
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let (base, rest) = match lower.find('(') {
        Some(at) => (lower[..at].trim(), &lower[at..]),
        None => match lower.find('[') {
            Some(at) => (lower[..at].trim(), &lower[at..]),
            None => (lower.as_str(), ""),
        },
    };
    let base = match base {
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "char",
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "bool" | "boolean" => "boolean",
        "decimal" | "numeric" => "numeric",
        "float8" | "double precision" => "double precision",
        "float4" | "real" => "real",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "timestamp without time zone" | "timestamp" => "timestamp",
        "timetz" | "time with time zone" => "timetz",
        "time without time zone" | "time" => "time",
        "bit varying" | "varbit" => "varbit",
        // A serial is an integer with a sequence default; its type is the integer.
        "serial" | "serial4" => "integer",
        "bigserial" | "serial8" => "bigint",
        "smallserial" | "serial2" => "smallint",
        other => other,
    };
    // `timestamp(3) with time zone` keeps its words after the parentheses.
    let rest = rest.replace(" without time zone", "");
    let (base, rest) = match rest.strip_suffix(" with time zone") {
        Some(rest) if base == "timestamp" => ("timestamptz", rest.to_string()),
        _ => (base, rest),
    };
    format!("{base}{}", rest.replace(", ", ","))
}

/// `(base, [n, m])` from a normalized type (`numeric(10,2)` → `("numeric", [10, 2])`); arrays
/// keep their brackets in the base.
fn type_shape(normalized: &str) -> (String, Vec<u64>) {
    let Some(open) = normalized.find('(') else {
        return (normalized.to_string(), Vec::new());
    };
    let close = normalized[open..]
        .find(')')
        .map_or(normalized.len(), |c| open + c);
    let args = normalized[open + 1..close]
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let suffix = normalized.get(close + 1..).unwrap_or("");
    (format!("{}{suffix}", &normalized[..open]), args)
}

/// True when PostgreSQL changes the type without touching the rows: a no-op, widening a
/// `varchar`, `varbit` or `numeric` limit (or dropping it), `varchar` ↔ `text`. With the old type
/// unknown, a change to `text`, unbounded `varchar` or unbounded `numeric` is given the benefit of
/// the doubt, since it is metadata-only from the types it is usually made from.
fn cheap_type_change(old: Option<&str>, new: &str, using: &Option<Expr>, column: &str) -> bool {
    let plain_using = match using {
        None => true,
        Some(expr) => is_plain_cast(expr, column),
    };
    if !plain_using {
        return false;
    }
    let (new_base, new_args) = type_shape(new);
    let Some(old) = old else {
        return matches!(new_base.as_str(), "text" | "varchar" | "numeric") && new_args.is_empty();
    };
    if old == new {
        return true;
    }
    let (old_base, old_args) = type_shape(old);
    let widened = |old: &[u64], new: &[u64]| match (old.first(), new.first()) {
        (_, None) => true,
        (Some(o), Some(n)) => n >= o && old.get(1) == new.get(1),
        (None, Some(_)) => false,
    };
    match (old_base.as_str(), new_base.as_str()) {
        ("varchar", "varchar") | ("varbit", "varbit") | ("numeric", "numeric") => {
            widened(&old_args, &new_args)
        }
        ("varchar", "text") => true,
        ("text", "varchar") => new_args.is_empty(),
        _ => false,
    }
}

fn is_plain_cast(expr: &Expr, column: &str) -> bool {
    match expr {
        Expr::Identifier(ident) => ident_name(ident) == column,
        Expr::Nested(inner) => is_plain_cast(inner, column),
        Expr::Cast { expr, .. } => is_plain_cast(expr, column),
        _ => false,
    }
}

/// One statement as the rules read it: the parsed form (parsed again with template placeholders
/// blanked when the first parse failed on them) and its tokens, with the way back to offsets in
/// the file.
struct Stmt<'a> {
    source: &'a Statement,
    ast: Option<Cow<'a, ast::Statement>>,
    text: Cow<'a, str>,
    /// Tokens other than whitespace and comments.
    tokens: Vec<TokenWithSpan>,
    line_starts: Vec<usize>,
}

impl<'a> Stmt<'a> {
    fn new(source: &'a Statement) -> Stmt<'a> {
        let blanked = blank_templates(&source.text);
        let (text, ast) = match (&source.ast, blanked) {
            (Some(ast), _) => (
                Cow::Borrowed(source.text.as_str()),
                Some(Cow::Borrowed(ast)),
            ),
            (None, Some(blanked)) => {
                let ast = match Parser::parse_sql(&PostgreSqlDialect {}, &blanked) {
                    Ok(mut statements) if statements.len() == 1 => statements.pop().map(Cow::Owned),
                    _ => None,
                };
                (Cow::Owned(blanked), ast)
            }
            (None, None) => (Cow::Borrowed(source.text.as_str()), None),
        };
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, &text)
            .tokenize_with_location()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
            .collect();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Stmt {
            source,
            ast,
            text,
            tokens,
            line_starts,
        }
    }

    fn whole(&self) -> Span {
        self.source.span
    }

    /// Byte offset in the statement of a sqlparser location (1-based line and column in chars).
    fn offset(&self, location: Location) -> Option<usize> {
        let line = usize::try_from(location.line).ok()?.checked_sub(1)?;
        let column = usize::try_from(location.column).ok()?.checked_sub(1)?;
        let start = *self.line_starts.get(line)?;
        let rest = &self.text[start..];
        match rest.char_indices().nth(column) {
            Some((i, _)) => Some(start + i),
            None => (rest.chars().count() == column).then_some(self.text.len()),
        }
    }

    fn file_span(&self, start: usize, end: usize) -> Span {
        Span::new(
            self.source.span.start + start as u32,
            self.source.span.start + end.max(start) as u32,
        )
    }

    /// From the start of the statement to the end of `ident`.
    fn through(&self, ident: &Ident) -> Span {
        match self.offset(ident.span.end) {
            Some(end) => self.file_span(0, end),
            None => self.whole(),
        }
    }

    /// The span of a (possibly qualified) name.
    fn name_span(&self, name: &ObjectName) -> Span {
        let first = name.0.first().and_then(|p| p.as_ident());
        let last = name.0.last().and_then(|p| p.as_ident());
        match (first, last) {
            (Some(first), Some(last)) => {
                match (self.offset(first.span.start), self.offset(last.span.end)) {
                    (Some(start), Some(end)) if end > start => self.file_span(start, end),
                    _ => self.whole(),
                }
            }
            _ => self.whole(),
        }
    }

    /// The span of each operation of an `ALTER TABLE`, split at the commas between them.
    /// `None` when the split does not match the parsed operations.
    fn alter_segments(&self, alter: &ast::AlterTable) -> Option<Vec<Span>> {
        let name_end = self.offset(alter.name.0.last()?.as_ident()?.span.end)?;
        let mut segments = Vec::new();
        let mut current: Option<(usize, usize)> = None;
        let mut depth = 0usize;
        for token in &self.tokens {
            let Some(start) = self.offset(token.span.start) else {
                continue;
            };
            if start < name_end || matches!(token.token, Token::SemiColon) {
                continue;
            }
            let end = self.offset(token.span.end).unwrap_or(self.text.len());
            match token.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth = depth.saturating_sub(1),
                Token::Comma if depth == 0 => {
                    segments.extend(current.take());
                    continue;
                }
                _ => {}
            }
            current = Some(current.map_or((start, end), |(s, _)| (s, end)));
        }
        segments.extend(current);
        (segments.len() == alter.operations.len()).then(|| {
            segments
                .into_iter()
                .map(|(s, e)| self.file_span(s, e))
                .collect()
        })
    }

    /// The names (last part, as PostgreSQL folds it) that follow any of `keywords`.
    fn names_after(&self, keywords: &[&str]) -> Vec<String> {
        let mut names = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            if let Token::Word(word) = &token.token {
                if word.quote_style.is_none()
                    && keywords.iter().any(|k| word.value.eq_ignore_ascii_case(k))
                {
                    if let Some(name) = self.name_at(i + 1) {
                        names.push(name);
                    }
                }
            }
        }
        names
    }

    /// The first name after the first of `keywords`, skipping `IF [NOT] EXISTS` and `ONLY`.
    fn name_after(&self, keywords: &[&str]) -> Option<String> {
        let is_keyword = |w: &sqlparser::tokenizer::Word| {
            keywords.iter().any(|k| w.value.eq_ignore_ascii_case(k))
        };
        let at = self
            .tokens
            .iter()
            .position(|t| matches!(&t.token, Token::Word(w) if is_keyword(w)))?;
        let mut i = at + 1;
        while let Some(Token::Word(word)) = self.tokens.get(i).map(|t| &t.token) {
            let skip = word.quote_style.is_none()
                && ["IF", "NOT", "EXISTS", "ONLY"]
                    .iter()
                    .any(|k| word.value.eq_ignore_ascii_case(k));
            if !skip {
                break;
            }
            i += 1;
        }
        self.name_at(i)
    }

    /// A dotted name starting at token `i`: its last part.
    fn name_at(&self, mut i: usize) -> Option<String> {
        let mut last = None;
        loop {
            match self.tokens.get(i).map(|t| &t.token) {
                Some(Token::Word(word)) => {
                    last = Some(if word.quote_style.is_some() {
                        word.value.clone()
                    } else {
                        word.value.to_ascii_lowercase()
                    });
                }
                _ => return last,
            }
            if !matches!(
                self.tokens.get(i + 1).map(|t| &t.token),
                Some(Token::Period)
            ) {
                return last;
            }
            i += 2;
        }
    }
}

/// The text with each `{{ … }}` template placeholder (Go templates in Supabase's migrations)
/// replaced by an identifier of the same length, so positions stay the same. `None` when there
/// is none, or one spans lines or holds non-ASCII text.
fn blank_templates(text: &str) -> Option<String> {
    if !text.contains("{{") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let close = rest[open..].find("}}")? + open + 2;
        let template = &rest[open..close];
        if template.contains('\n') || !template.is_ascii() {
            return None;
        }
        out.push_str(&rest[..open]);
        out.push('t');
        out.push_str(&"_".repeat(template.len() - 1));
        rest = &rest[close..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(rule, line)` of this category's findings over the files, reviewed together.
    fn findings(files: &[(&str, &str)]) -> Vec<(&'static str, usize)> {
        let sources = files
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect();
        let report = crate::review(crate::load_sources(sources), &crate::Config::default());
        report
            .findings
            .iter()
            .filter(|f| RULES.iter().any(|r| r.id == f.rule))
            .map(|f| {
                let file = &report.workspace.files[f.file];
                (f.rule, file.line_col(f.span.start).line)
            })
            .collect()
    }

    #[test]
    fn a_table_created_by_an_earlier_part_of_the_same_migration_is_new() {
        let found = findings(&[
            (
                "m/20191100000001000000_identities.postgres.up.sql",
                "CREATE TABLE identities (id uuid PRIMARY KEY, email text);",
            ),
            (
                "m/20191100000001000001_identities.postgres.up.sql",
                "CREATE INDEX identities_email_idx ON identities (email);",
            ),
            (
                "m/20191100000002000000_sessions.postgres.up.sql",
                "CREATE INDEX identities_id_email_idx ON identities (id, email);",
            ),
        ]);
        assert_eq!(
            found,
            vec![(INDEX_WITHOUT_CONCURRENTLY, 1), (MISSING_LOCK_TIMEOUT, 1)]
        );
    }

    #[test]
    fn a_file_is_one_transaction_unless_it_says_otherwise() {
        let add_and_validate = "SET lock_timeout = '1s';\n\
            ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b) REFERENCES b (id) NOT VALID;\n\
            ALTER TABLE a VALIDATE CONSTRAINT a_b_fk;";
        assert_eq!(
            findings(&[("migrations/0002_fk.sql", add_and_validate)]),
            vec![(CONSTRAINT_WITHOUT_NOT_VALID, 3)]
        );
        let with_directive = format!("-- migrate:up transaction:false\n{add_and_validate}");
        assert_eq!(
            findings(&[("migrations/0002_fk.sql", &with_directive)]),
            vec![]
        );
        let explicit = "BEGIN;\nSET LOCAL lock_timeout = '1s';\n\
            ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b) REFERENCES b (id) NOT VALID;\n\
            COMMIT;\nALTER TABLE a VALIDATE CONSTRAINT a_b_fk;";
        assert_eq!(findings(&[("migrations/0002_fk.sql", explicit)]), vec![]);
        // A `COMMIT` with no `BEGIN` ends the runner's transaction, which was open until then.
        let runner = format!("{add_and_validate}\nCOMMIT;");
        assert_eq!(
            findings(&[("migrations/0002_fk.sql", &runner)]),
            vec![(CONSTRAINT_WITHOUT_NOT_VALID, 3)]
        );
    }

    #[test]
    fn drop_index_concurrently_is_read_from_its_text() {
        let sql = "BEGIN;\nDROP INDEX CONCURRENTLY IF EXISTS a_b_idx;\nCOMMIT;";
        assert_eq!(
            findings(&[("migrations/0002_drop.sql", sql)]),
            vec![(CONCURRENT_INDEX_IN_TRANSACTION, 2)]
        );
        let alone = "DROP INDEX CONCURRENTLY IF EXISTS a_b_idx;";
        assert_eq!(findings(&[("migrations/0002_drop.sql", alone)]), vec![]);
    }

    #[test]
    fn templated_names_are_read_and_reported_in_place() {
        let sql = "SET lock_timeout = '1s';\n\
            alter table {{ index .Options \"Namespace\" }}.users\n  \
            add column nickname text not null;";
        assert_eq!(
            findings(&[("migrations/0002_nick.sql", sql)]),
            vec![(ADD_NOT_NULL_COLUMN_WITHOUT_DEFAULT, 3)]
        );
    }

    #[test]
    fn reviewed_blocks_are_not_reported() {
        let sql = "SET lock_timeout = '1s';\n-- safety-assured:start\n\
            -- The table has 40 rows.\nCREATE INDEX a_b_idx ON a (b);\n-- safety-assured:end\n\
            CREATE INDEX a_c_idx ON a (c);";
        assert_eq!(
            findings(&[("migrations/0002_idx.sql", sql)]),
            vec![(INDEX_WITHOUT_CONCURRENTLY, 6)]
        );
    }

    #[test]
    fn types_and_checks_are_replayed_across_files() {
        let init = "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(20), n integer);";
        let change = "SET lock_timeout = '1s';\n\
            ALTER TABLE t RENAME COLUMN name TO title;\n\
            ALTER TABLE t ALTER COLUMN title TYPE varchar(40);\n\
            ALTER TABLE t ALTER COLUMN n TYPE bigint;";
        assert_eq!(
            findings(&[
                ("migrations/0001_init.sql", init),
                ("migrations/0002_change.sql", change)
            ]),
            vec![(RENAME_COLUMN, 2), (COLUMN_TYPE_CHANGE, 4)]
        );
        let check = "SET lock_timeout = '1s';\n\
            ALTER TABLE t ADD CONSTRAINT t_n_nn CHECK (n IS NOT NULL) NOT VALID;";
        let validate = "SET lock_timeout = '1s';\nALTER TABLE t VALIDATE CONSTRAINT t_n_nn;\n\
            ALTER TABLE t ALTER COLUMN n SET NOT NULL;";
        assert_eq!(
            findings(&[
                ("migrations/0001_init.sql", init),
                ("migrations/0002_check.sql", check),
                ("migrations/0003_validate.sql", validate)
            ]),
            vec![]
        );
    }

    #[test]
    fn migration_keys_join_the_numbered_parts_of_one_migration() {
        let a = migration_key("m/20191100000001000000_identities.postgres.up.sql");
        let b = migration_key("m/20191100000001000001_identities.postgres.up.sql");
        let c = migration_key("m/20191100000002000000_requests.postgres.up.sql");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(
            migration_key("m/2019-01-01_add_a/up.sql"),
            migration_key("m/2019-01-02_add_b/up.sql")
        );
    }

    #[test]
    fn types_normalize_and_widenings_are_cheap() {
        assert_eq!(normalize_type("CHARACTER VARYING(20)"), "varchar(20)");
        assert_eq!(normalize_type("NUMERIC(10, 2)"), "numeric(10,2)");
        assert_eq!(normalize_type("TIMESTAMP WITH TIME ZONE"), "timestamptz");
        assert_eq!(normalize_type("INT4"), "integer");
        let cheap = |old: Option<&str>, new: &str| cheap_type_change(old, new, &None, "c");
        assert!(cheap(Some("varchar(20)"), "varchar(40)"));
        assert!(cheap(Some("varchar(20)"), "text"));
        assert!(cheap(Some("numeric(10,2)"), "numeric(12,2)"));
        assert!(cheap(None, "text"));
        assert!(!cheap(Some("varchar(40)"), "varchar(20)"));
        assert!(!cheap(Some("numeric(10,2)"), "numeric(12,3)"));
        assert!(!cheap(Some("integer"), "bigint"));
        assert!(!cheap(Some("timestamp"), "timestamptz"));
        assert!(!cheap(None, "bigint"));
    }

    #[test]
    fn lock_timeout_settings_are_recognized() {
        assert!(is_set_lock_timeout("SET lock_timeout = '2s'"));
        assert!(is_set_lock_timeout("set local lock_timeout to '1s'"));
        assert!(is_set_lock_timeout(
            "SELECT set_config('lock_timeout', '3s', true)"
        ));
        assert!(!is_set_lock_timeout("SET lock_timeout = 0"));
        assert!(!is_set_lock_timeout("SET foo.lock_timeout = '1s'"));
        assert!(!is_set_lock_timeout("SET statement_timeout = '5s'"));
    }

    #[test]
    fn templates_are_blanked_in_place() {
        let text = "ALTER TABLE {{ index .Options \"Namespace\" }}.users ADD COLUMN x int";
        let blanked = blank_templates(text).unwrap();
        assert_eq!(blanked.len(), text.len());
        assert!(Parser::parse_sql(&PostgreSqlDialect {}, &blanked).is_ok());
    }

    #[test]
    fn volatile_calls_are_found_outside_string_literals() {
        let parse = |sql: &str| match Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap().pop() {
            Some(ast::Statement::Query(query)) => match *query.body {
                ast::SetExpr::Select(select) => match &select.projection[0] {
                    ast::SelectItem::UnnamedExpr(expr) => expr.clone(),
                    _ => unreachable!(),
                },
                _ => unreachable!(),
            },
            _ => unreachable!(),
        };
        let none = HashSet::new();
        let call = |sql: &str| volatile_call(&parse(sql), &none);
        assert_eq!(
            call("SELECT md5(random()::text)").as_deref(),
            Some("random")
        );
        assert_eq!(
            call("SELECT public.gen_random_uuid()").as_deref(),
            Some("gen_random_uuid")
        );
        assert_eq!(call("SELECT my_id()").as_deref(), Some("my_id"));
        let declared = HashSet::from(["my_id".to_string()]);
        assert_eq!(volatile_call(&parse("SELECT my_id()"), &declared), None);
        assert_eq!(call("SELECT now()"), None);
        assert_eq!(call("SELECT 'random()'"), None);
        assert_eq!(call("SELECT 'a'::varchar(10)"), None);
        assert_eq!(call("SELECT CAST('a' AS varchar(10))"), None);
    }
}
