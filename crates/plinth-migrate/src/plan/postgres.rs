//! PostgreSQL plans, written to keep locks short on a live database: indexes built
//! `CONCURRENTLY` outside the transaction, foreign keys and CHECKs added `NOT VALID` and then
//! validated (which takes a lock that lets reads and writes go on), `NOT NULL` set only after a
//! validated CHECK proves it, so `SET NOT NULL` needs no full-table scan under an exclusive lock.

use std::collections::BTreeMap;

use super::objects::{quote, tokenize, untokenize, Constraint, IndexDef, Table, Token};
use super::{type_change, Context, DataLoss, Plan, PlanError, SqlBlock, Step, TypeChange};

struct Builder {
    steps: Vec<Step>,
    destructive: Vec<DataLoss>,
}

impl Builder {
    fn step(&mut self, description: String, up: Vec<SqlBlock>, irreversible: Option<String>) {
        if !up.is_empty() {
            self.steps.push(Step {
                description,
                up,
                down: Vec::new(),
                irreversible,
            });
        }
    }

    fn lose(&mut self, sentence: String) -> Option<String> {
        self.destructive.push(DataLoss {
            sentence: sentence.clone(),
        });
        Some(sentence)
    }
}

/// Renames identifiers of the old objects to the new names: tables, their columns, references.
fn rename_old(context: &Context<'_>) -> Vec<Table> {
    let split = |qualified: &str| -> (String, String) {
        let tokens = tokenize(qualified);
        match tokens.as_slice() {
            [Token::Ident(schema), _, Token::Ident(name)] => {
                (format!("{}.", quote(schema)), name.clone())
            }
            [Token::Ident(name)] => (String::new(), name.clone()),
            _ => (String::new(), qualified.to_string()),
        }
    };
    let empty = BTreeMap::new();
    let rename_refs = |body: &str, own: &BTreeMap<String, String>| -> String {
        // FOREIGN KEY (own columns) REFERENCES [schema.]table (their columns) ...
        let tokens = tokenize(body);
        let mut out = Vec::new();
        let mut index = 0;
        let mut after_references = false;
        let mut referenced: Option<&BTreeMap<String, String>> = None;
        while index < tokens.len() {
            match &tokens[index] {
                Token::Text(text) => {
                    if text.contains("REFERENCES") {
                        after_references = true;
                    }
                    out.push(tokens[index].clone());
                }
                Token::Ident(name) if after_references && referenced.is_none() => {
                    let qualified_schema =
                        matches!(tokens.get(index + 1), Some(Token::Text(dot)) if dot == ".");
                    let (old_qualified, used) = if qualified_schema {
                        match tokens.get(index + 2) {
                            Some(Token::Ident(table)) => {
                                (format!("{}.{}", quote(name), quote(table)), 3)
                            }
                            _ => (quote(name), 1),
                        }
                    } else {
                        (quote(name), 1)
                    };
                    let new_qualified = context
                        .tables
                        .get(&old_qualified)
                        .cloned()
                        .unwrap_or(old_qualified.clone());
                    out.extend(tokenize(&new_qualified));
                    referenced = Some(context.columns.get(&old_qualified).unwrap_or(&empty));
                    index += used;
                    continue;
                }
                Token::Ident(name) => {
                    let map = if after_references {
                        referenced.unwrap_or(&empty)
                    } else {
                        own
                    };
                    out.push(Token::Ident(map.get(name).cloned().unwrap_or(name.clone())));
                }
            }
            index += 1;
        }
        untokenize(&out)
    };
    let mut tables = Vec::new();
    for old_table in &context.old.tables {
        let old_qualified = old_table.qualified();
        let Some(new_qualified) = context.tables.get(&old_qualified) else {
            continue;
        };
        let own = context.columns.get(&old_qualified).unwrap_or(&empty);
        let rename_idents = |sql: &str, skip_first: bool| -> String {
            let mut seen_first = !skip_first;
            let tokens: Vec<Token> = tokenize(sql)
                .into_iter()
                .map(|token| match token {
                    Token::Ident(name) if !seen_first => {
                        seen_first = true;
                        Token::Ident(name)
                    }
                    Token::Ident(name) => {
                        let renamed = own
                            .get(&name)
                            .cloned()
                            .or_else(|| context.enums.get(&name).cloned())
                            .unwrap_or(name);
                        Token::Ident(renamed)
                    }
                    other => other,
                })
                .collect();
            untokenize(&tokens)
        };
        let (prefix, name) = split(new_qualified);
        let mut table = old_table.clone();
        table.schema_prefix = prefix;
        table.name = name;
        for column in &mut table.columns {
            column.name = own
                .get(&column.name)
                .cloned()
                .unwrap_or(column.name.clone());
            column.ty = rename_idents(&column.ty, false);
            column.line = rename_idents(&column.line, false);
        }
        for constraint in &mut table.constraints {
            constraint.body = rename_refs(&rename_idents(&constraint.body, false), own);
        }
        for foreign_key in &mut table.foreign_keys {
            foreign_key.body = rename_refs(&foreign_key.body, own);
        }
        for index in &mut table.indexes {
            // CREATE INDEX "name" ON <table>(columns): the name stays, the table is renamed.
            let tokens = tokenize(&index.sql);
            let mut out = Vec::new();
            let mut position = 0;
            let mut idents_seen = 0;
            while position < tokens.len() {
                match &tokens[position] {
                    Token::Ident(ident) if idents_seen == 0 => {
                        idents_seen += 1;
                        out.push(Token::Ident(ident.clone()));
                    }
                    Token::Ident(_) if idents_seen == 1 => {
                        idents_seen += 1;
                        out.extend(tokenize(new_qualified));
                        if !old_table.schema_prefix.is_empty() {
                            position += 2;
                        }
                    }
                    Token::Ident(ident) => {
                        out.push(Token::Ident(
                            own.get(ident).cloned().unwrap_or(ident.clone()),
                        ));
                    }
                    other => out.push(other.clone()),
                }
                position += 1;
            }
            index.sql = untokenize(&out);
        }
        tables.push(table);
    }
    tables
}

fn concurrently(index: &IndexDef) -> String {
    index.sql.replacen("INDEX ", "INDEX CONCURRENTLY ", 1)
}

fn with_schema(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", quote(name))
}

pub(crate) fn plan(context: &Context<'_>) -> Result<Plan, PlanError> {
    let mut builder = Builder {
        steps: Vec::new(),
        destructive: Vec::new(),
    };
    // Schemas and extensions.
    let prelude: Vec<SqlBlock> = context
        .new
        .prelude
        .iter()
        .filter(|statement| !context.old.prelude.contains(statement))
        .map(|statement| SqlBlock::new(statement.clone(), "Needed by the new schema."))
        .collect();
    builder.step("create schemas and extensions".to_string(), prelude, None);

    // Enums: renamed, created, values added in place, or swapped when values go away.
    let mut swaps = Vec::new();
    for old_enum in &context.old.enums {
        let Some(new_name) = context.enums.get(&old_enum.name) else {
            continue;
        };
        if new_name != &old_enum.name {
            builder.step(
                format!("rename enum {}", quote(&old_enum.name)),
                vec![SqlBlock::new(
                    format!(
                        "ALTER TYPE {} RENAME TO {}",
                        quote(&old_enum.name),
                        quote(new_name)
                    ),
                    "The enum's @@map changed: renamed in place, columns keep their values.",
                )],
                None,
            );
        }
        let Some(new_enum) = context.new.enums.iter().find(|e| &e.name == new_name) else {
            continue;
        };
        let kept: Vec<&String> = new_enum
            .values
            .iter()
            .filter(|v| old_enum.values.contains(v))
            .collect();
        let removed: Vec<&String> = old_enum
            .values
            .iter()
            .filter(|v| !new_enum.values.contains(v))
            .collect();
        let same_order = old_enum
            .values
            .iter()
            .filter(|v| new_enum.values.contains(v))
            .collect::<Vec<_>>()
            == kept;
        if removed.is_empty() && same_order {
            let mut up = Vec::new();
            for (position, value) in new_enum.values.iter().enumerate() {
                if old_enum.values.contains(value) {
                    continue;
                }
                let before = new_enum.values[position + 1..]
                    .iter()
                    .find(|v| old_enum.values.contains(v));
                let placement = match before {
                    Some(before) => format!(" BEFORE {}", plinth_sql::string_literal(before)),
                    None => String::new(),
                };
                up.push(SqlBlock::outside_transaction(
                    format!("ALTER TYPE {} ADD VALUE {}{placement}", quote(new_name), plinth_sql::string_literal(value)),
                    "A new enum value. A value added in a transaction cannot be used until it\ncommits, so it is added on its own first.",
                ));
            }
            builder.step(format!("add values to enum {}", quote(new_name)), up, None);
        } else {
            let mut irreversible = None;
            if !removed.is_empty() {
                let values: Vec<String> = removed.iter().map(|v| format!("`{v}`")).collect();
                irreversible = builder.lose(format!(
                    "enum `{new_name}` loses {}: rows holding them make the migration fail until they are changed",
                    values.join(", ")
                ));
            }
            swaps.push((new_enum.clone(), irreversible));
        }
    }
    for new_enum in &context.new.enums {
        if !context.enums.values().any(|name| name == &new_enum.name) {
            builder.step(
                format!("create enum {}", quote(&new_enum.name)),
                vec![SqlBlock::new(new_enum.sql.clone(), "A new enum.")],
                None,
            );
        }
    }

    // Renames of tables and columns, then of the constraints and indexes named after them.
    let renamed = rename_old(context);
    for old_table in &context.old.tables {
        let old_qualified = old_table.qualified();
        let Some(new_qualified) = context.tables.get(&old_qualified) else {
            continue;
        };
        let Some(table) = renamed.iter().find(|t| &t.qualified() == new_qualified) else {
            continue;
        };
        let mut up = Vec::new();
        if &old_qualified != new_qualified {
            up.push(SqlBlock::new(
                format!(
                    "ALTER TABLE {old_qualified} RENAME TO {}",
                    quote(&table.name)
                ),
                "Renamed (@@map or a rename hint): the rows stay where they are.",
            ));
        }
        for (old_column, new_column) in context.columns.get(&old_qualified).into_iter().flatten() {
            if old_column != new_column {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {new_qualified} RENAME COLUMN {} TO {}",
                        quote(old_column),
                        quote(new_column)
                    ),
                    "Renamed (@map or a rename hint): the values stay.",
                ));
            }
        }
        for (column, old_column) in table.columns.iter().zip(&old_table.columns) {
            let serial = matches!(column.ty.as_str(), "SERIAL" | "BIGSERIAL" | "SMALLSERIAL");
            let old_sequence = format!("{}_{}_seq", old_table.name, old_column.name);
            let new_sequence = format!("{}_{}_seq", table.name, column.name);
            if serial && old_sequence != new_sequence {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER SEQUENCE {} RENAME TO {}",
                        with_schema(&table.schema_prefix, &old_sequence),
                        quote(&new_sequence)
                    ),
                    "The autoincrement sequence follows its column's new name.",
                ));
            }
        }
        if let Some(new_table) = context.new.table(new_qualified) {
            for index in &table.indexes {
                if new_table.indexes.iter().any(|i| i.name == index.name) {
                    continue;
                }
                if let Some(target) = new_table.indexes.iter().find(|i| {
                    i.definition() == index.definition()
                        && !table.indexes.iter().any(|o| o.name == i.name)
                }) {
                    up.push(SqlBlock::new(
                        format!(
                            "ALTER INDEX {} RENAME TO {}",
                            with_schema(&table.schema_prefix, &index.name),
                            quote(&target.name)
                        ),
                        "Same index, the name a fresh database would give it.",
                    ));
                }
            }
            let old_all = table.constraints.iter().chain(&table.foreign_keys);
            let new_all: Vec<&Constraint> = new_table
                .constraints
                .iter()
                .chain(&new_table.foreign_keys)
                .collect();
            let old_names: Vec<&String> = table
                .constraints
                .iter()
                .chain(&table.foreign_keys)
                .map(|c| &c.name)
                .collect();
            for constraint in old_all {
                if new_all.iter().any(|c| c.name == constraint.name) {
                    continue;
                }
                if let Some(target) = new_all
                    .iter()
                    .find(|c| c.body == constraint.body && !old_names.contains(&&c.name))
                {
                    up.push(SqlBlock::new(
                        format!(
                            "ALTER TABLE {new_qualified} RENAME CONSTRAINT {} TO {}",
                            quote(&constraint.name),
                            quote(&target.name)
                        ),
                        "Same constraint, the name a fresh database would give it.",
                    ));
                }
            }
        }
        builder.step(format!("rename in {new_qualified}"), up, None);
    }
    // The renamed tables, with constraint and index names now as in the new schema where equal.
    let current: Vec<Table> = renamed
        .into_iter()
        .map(|mut table| {
            if let Some(new_table) = context.new.table(&table.qualified()) {
                let old_names: Vec<String> = table.indexes.iter().map(|i| i.name.clone()).collect();
                for index in &mut table.indexes {
                    if !new_table.indexes.iter().any(|i| i.name == index.name) {
                        if let Some(target) = new_table.indexes.iter().find(|i| {
                            i.definition() == index.definition() && !old_names.contains(&i.name)
                        }) {
                            *index = target.clone();
                        }
                    }
                }
                let old_names: Vec<String> = table
                    .constraints
                    .iter()
                    .chain(&table.foreign_keys)
                    .map(|c| c.name.clone())
                    .collect();
                let new_all: Vec<Constraint> = new_table
                    .constraints
                    .iter()
                    .chain(&new_table.foreign_keys)
                    .cloned()
                    .collect();
                for constraint in table
                    .constraints
                    .iter_mut()
                    .chain(table.foreign_keys.iter_mut())
                {
                    if !new_all.iter().any(|c| c.name == constraint.name) {
                        if let Some(target) = new_all
                            .iter()
                            .find(|c| c.body == constraint.body && !old_names.contains(&c.name))
                        {
                            constraint.name = target.name.clone();
                        }
                    }
                }
            }
            table
        })
        .collect();

    // Foreign keys that go or change, before tables and columns they depend on go.
    for table in &current {
        let new_table = context.new.table(&table.qualified());
        let up: Vec<SqlBlock> = table
            .foreign_keys
            .iter()
            .filter(|fk| !new_table.is_some_and(|n| n.foreign_keys.contains(fk)))
            .map(|fk| {
                SqlBlock::new(
                    format!(
                        "ALTER TABLE {} DROP CONSTRAINT {}",
                        table.qualified(),
                        quote(&fk.name)
                    ),
                    "This foreign key is gone or changes (recreated below).",
                )
            })
            .collect();
        builder.step(
            format!("drop foreign keys of {}", table.qualified()),
            up,
            None,
        );
    }
    for old_table in &context.old.tables {
        if context.tables.contains_key(&old_table.qualified()) {
            continue;
        }
        let up: Vec<SqlBlock> = old_table
            .foreign_keys
            .iter()
            .map(|fk| {
                SqlBlock::new(
                    format!(
                        "ALTER TABLE {} DROP CONSTRAINT {}",
                        old_table.qualified(),
                        quote(&fk.name)
                    ),
                    "The table is dropped below; its foreign keys go first.",
                )
            })
            .collect();
        builder.step(
            format!("drop foreign keys of {}", old_table.qualified()),
            up,
            None,
        );
    }
    // Indexes and constraints that go or change.
    for table in &current {
        let Some(new_table) = context.new.table(&table.qualified()) else {
            continue;
        };
        let mut up = Vec::new();
        for index in &table.indexes {
            if !new_table.indexes.contains(index) {
                up.push(SqlBlock::outside_transaction(
                    format!("DROP INDEX CONCURRENTLY {}", with_schema(&table.schema_prefix, &index.name)),
                    "This index is gone or changes. CONCURRENTLY does not block writes while it goes,\nand cannot run in a transaction.",
                ));
            }
        }
        for constraint in &table.constraints {
            if !new_table.constraints.contains(constraint) {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {} DROP CONSTRAINT {}",
                        table.qualified(),
                        quote(&constraint.name)
                    ),
                    "This constraint is gone or changes (added again below).",
                ));
            }
        }
        builder.step(
            format!("drop indexes and constraints of {}", table.qualified()),
            up,
            None,
        );
    }
    // Tables that go.
    for old_table in &context.old.tables {
        let qualified = old_table.qualified();
        if context.tables.contains_key(&qualified) {
            continue;
        }
        let irreversible = builder.lose(format!(
            "table `{}` is dropped with all its rows",
            qualified.replace('"', "")
        ));
        builder.step(
            format!("drop table {qualified}"),
            vec![SqlBlock::new(
                format!("DROP TABLE {qualified}"),
                "The model is gone from the schema.",
            )],
            irreversible,
        );
    }
    // Enum swaps: a new type with the new values, columns cast over, the old type dropped.
    for (new_enum, irreversible) in swaps {
        let name = &new_enum.name;
        let old_name = format!("{name}_old");
        let mut up = vec![
            SqlBlock::new(
                format!("ALTER TYPE {} RENAME TO {}", quote(name), quote(&old_name)),
                "PostgreSQL cannot remove or reorder enum values: the type is swapped for a new one.",
            ),
            SqlBlock::new(new_enum.sql.clone(), "The enum with its new values."),
        ];
        for table in &current {
            for column in &table.columns {
                let list = column.ty == format!("{}[]", quote(name));
                if column.ty != quote(name) && !list {
                    continue;
                }
                if column.default.is_some() {
                    up.push(SqlBlock::new(
                        format!(
                            "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                            table.qualified(),
                            quote(&column.name)
                        ),
                        "The default has the old type; it is set again after the cast.",
                    ));
                }
                let cast = if list {
                    format!("{}::text[]::{}[]", quote(&column.name), quote(name))
                } else {
                    format!("{}::text::{}", quote(&column.name), quote(name))
                };
                up.push(SqlBlock::new(
                    format!("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING ({cast})", table.qualified(), quote(&column.name), column.ty),
                    "Values cast through text; a row holding a removed value stops the migration\nhere, so nothing is silently lost.",
                ));
                if let Some(default) = &column.default {
                    if context
                        .new
                        .table(&table.qualified())
                        .and_then(|t| t.column(&column.name))
                        .is_some_and(|c| c.default.as_ref() == Some(default))
                    {
                        up.push(SqlBlock::new(
                            format!(
                                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {default}",
                                table.qualified(),
                                quote(&column.name)
                            ),
                            "The default back, now of the new type.",
                        ));
                    }
                }
            }
        }
        up.push(SqlBlock::new(
            format!("DROP TYPE {}", quote(&old_name)),
            "Nothing uses the old type any more.",
        ));
        builder.step(format!("swap enum {}", quote(name)), up, irreversible);
    }
    // New tables (plain CREATE INDEX: an empty table is not worth CONCURRENTLY).
    for new_table in &context.new.tables {
        let qualified = new_table.qualified();
        if context.tables.values().any(|t| t == &qualified) {
            continue;
        }
        let mut up = vec![SqlBlock::new(
            new_table.create_sql(&new_table.name),
            "A new model: the table as a fresh database would create it.",
        )];
        for index in &new_table.indexes {
            up.push(SqlBlock::new(
                index.sql.clone(),
                "Index of the new, empty table: no need to build it concurrently.",
            ));
        }
        builder.step(format!("create table {qualified}"), up, None);
    }
    // Columns of matched tables.
    for table in &current {
        let qualified = table.qualified();
        let Some(new_table) = context.new.table(&qualified) else {
            continue;
        };
        let mut up = Vec::new();
        let mut irreversible = Vec::new();
        for column in &table.columns {
            if new_table.column(&column.name).is_none() {
                let (model, field) = context.label(&qualified, &column.name);
                let loss = format!("column `{model}.{field}` is dropped with its values");
                builder.destructive.push(DataLoss {
                    sentence: loss.clone(),
                });
                irreversible.push(loss);
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} DROP COLUMN {}",
                        quote(&column.name)
                    ),
                    "The field is gone from the schema.",
                ));
            }
        }
        for column in &new_table.columns {
            let (model, field) = context.label(&qualified, &column.name);
            let serial = matches!(column.ty.as_str(), "SERIAL" | "BIGSERIAL" | "SMALLSERIAL");
            let Some(old_column) = table.column(&column.name) else {
                if column.not_null && column.default.is_none() && !serial && context.strict {
                    return Err(PlanError::RequiredWithoutDefault { model, field });
                }
                let comment = if column.not_null && !serial {
                    "A new required column with a default. Since PostgreSQL 11 a non-volatile default\nis stored in the catalogue, so existing rows get it without a table rewrite and\nthe NOT NULL holds at once: no nullable-then-backfill dance is needed."
                } else {
                    "A new column."
                };
                up.push(SqlBlock::new(
                    format!("ALTER TABLE {qualified} ADD COLUMN {}", column.line),
                    comment,
                ));
                continue;
            };
            let old_serial = matches!(
                old_column.ty.as_str(),
                "SERIAL" | "BIGSERIAL" | "SMALLSERIAL"
            );
            if serial != old_serial {
                return Err(PlanError::Unsupported(format!(
                    "`{model}.{field}` gains or loses autoincrement(): plinth migrate cannot change that in place on PostgreSQL; add a new field instead"
                )));
            }
            let type_changed = old_column.ty != column.ty;
            let default_changed = old_column.default != column.default
                || (type_changed && old_column.default.is_some());
            if default_changed && old_column.default.is_some() && !serial {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ALTER COLUMN {} DROP DEFAULT",
                        quote(&column.name)
                    ),
                    "The old default goes first (it may not fit the new type).",
                ));
            }
            if type_changed {
                let change = type_change(&old_column.ty, &column.ty);
                let comment = if change == TypeChange::Narrowing {
                    let loss = format!("`{model}.{field}` changes type from {} to {}: values that do not convert stop the migration, and precision or length may be lost", old_column.ty, column.ty);
                    builder.destructive.push(DataLoss {
                        sentence: loss.clone(),
                    });
                    irreversible.push(loss);
                    "A narrowing type change: the cast fails on values that do not fit. It rewrites\nthe table under an exclusive lock."
                } else {
                    "A widening type change: every value fits. It may rewrite the table under an\nexclusive lock (not for VARCHAR growth)."
                };
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ALTER COLUMN {} TYPE {} USING ({}::{})",
                        quote(&column.name),
                        column.ty,
                        quote(&column.name),
                        column.ty
                    ),
                    comment,
                ));
            }
            if default_changed && !serial {
                if let Some(default) = &column.default {
                    up.push(SqlBlock::new(
                        format!(
                            "ALTER TABLE {qualified} ALTER COLUMN {} SET DEFAULT {default}",
                            quote(&column.name)
                        ),
                        "The new default: only rows inserted from now on use it.",
                    ));
                }
            }
            if column.not_null && !old_column.not_null {
                let check = plinth_sql::constraint_name(
                    &format!("{}_{}", table.name, column.name),
                    "not_null",
                );
                let column_name = quote(&column.name);
                match &column.default {
                    Some(default) => up.push(SqlBlock::new(
                        format!("UPDATE {qualified} SET {column_name} = {default} WHERE {column_name} IS NULL"),
                        "The field becomes required: rows without a value get the default first.",
                    )),
                    None if context.strict => {
                        return Err(PlanError::RequiredWithoutDefault { model, field });
                    }
                    None => {}
                }
                up.push(SqlBlock::new(
                    format!("ALTER TABLE {qualified} ADD CONSTRAINT {} CHECK ({column_name} IS NOT NULL) NOT VALID", quote(&check)),
                    "NOT VALID: added without scanning the table, so writes are blocked only for a moment.",
                ));
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} VALIDATE CONSTRAINT {}",
                        quote(&check)
                    ),
                    "The scan, under a lock that lets reads and writes continue.",
                ));
                up.push(SqlBlock::new(
                    format!("ALTER TABLE {qualified} ALTER COLUMN {column_name} SET NOT NULL"),
                    "With the validated CHECK, PostgreSQL (12+) sets NOT NULL without scanning again.",
                ));
                up.push(SqlBlock::new(
                    format!("ALTER TABLE {qualified} DROP CONSTRAINT {}", quote(&check)),
                    "The CHECK has done its job; NOT NULL holds now.",
                ));
            } else if !column.not_null && old_column.not_null {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ALTER COLUMN {} DROP NOT NULL",
                        quote(&column.name)
                    ),
                    "The field becomes optional.",
                ));
            }
        }
        for constraint in &new_table.constraints {
            if table.constraints.contains(constraint) {
                continue;
            }
            if constraint.body.starts_with("PRIMARY KEY") {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ADD CONSTRAINT {} {}",
                        quote(&constraint.name),
                        constraint.body
                    ),
                    "The new primary key (this builds its unique index under a lock).",
                ));
            } else {
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ADD CONSTRAINT {} {} NOT VALID",
                        quote(&constraint.name),
                        constraint.body
                    ),
                    "NOT VALID: new rows are checked at once, existing ones are not scanned yet.",
                ));
                up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} VALIDATE CONSTRAINT {}",
                        quote(&constraint.name)
                    ),
                    "Existing rows checked, under a lock that lets reads and writes continue.",
                ));
            }
        }
        let irreversible = (!irreversible.is_empty()).then(|| irreversible.join("; "));
        builder.step(format!("change columns of {qualified}"), up, irreversible);
        let indexes: Vec<SqlBlock> = new_table
            .indexes
            .iter()
            .filter(|index| !table.indexes.contains(index))
            .map(|index| SqlBlock::outside_transaction(
                concurrently(index),
                "Built CONCURRENTLY so writes go on while it builds; that cannot run in a\ntransaction, so it runs on its own.",
            ))
            .collect();
        builder.step(format!("create indexes of {qualified}"), indexes, None);
    }
    // Foreign keys: on new tables as they are; on existing ones NOT VALID then VALIDATE.
    for new_table in &context.new.tables {
        let qualified = new_table.qualified();
        let existing = current.iter().find(|t| t.qualified() == qualified);
        let mut up = Vec::new();
        for foreign_key in &new_table.foreign_keys {
            match existing {
                Some(table) if table.foreign_keys.contains(foreign_key) => {}
                Some(_) => {
                    up.push(SqlBlock::new(
                        format!("ALTER TABLE {qualified} ADD CONSTRAINT {} {} NOT VALID", quote(&foreign_key.name), foreign_key.body),
                        "NOT VALID: enforced for new rows at once, without scanning existing ones\nunder a lock that blocks writes.",
                    ));
                    up.push(SqlBlock::new(
                        format!(
                            "ALTER TABLE {qualified} VALIDATE CONSTRAINT {}",
                            quote(&foreign_key.name)
                        ),
                        "Existing rows checked, under a lock that lets reads and writes continue.",
                    ));
                }
                None => up.push(SqlBlock::new(
                    format!(
                        "ALTER TABLE {qualified} ADD CONSTRAINT {} {}",
                        quote(&foreign_key.name),
                        foreign_key.body
                    ),
                    "Foreign key of a new table.",
                )),
            }
        }
        builder.step(format!("add foreign keys of {qualified}"), up, None);
    }
    // Enums nobody uses any more.
    for old_enum in &context.old.enums {
        if !context.enums.contains_key(&old_enum.name) {
            builder.step(
                format!("drop enum {}", quote(&old_enum.name)),
                vec![SqlBlock::new(
                    format!("DROP TYPE {}", quote(&old_enum.name)),
                    "The enum is gone from the schema.",
                )],
                None,
            );
        }
    }
    Ok(Plan {
        steps: builder.steps,
        destructive: builder.destructive,
        policy_only: false,
    })
}
