//! SQLite plans. `ALTER TABLE` in SQLite can add and rename columns but not change a column's
//! type, nullability, default or constraints, so every changed table is rebuilt by the procedure
//! SQLite documents ("Making Other Kinds Of Table Schema Changes"): with foreign keys off, create
//! `_new_X` with the new definition, copy the rows, drop `X`, rename `_new_X` to `X`, recreate the
//! indexes, then check foreign keys. A rebuild keeps columns in declaration order, so the table
//! is exactly the one a fresh database would have.

use std::collections::BTreeSet;

use super::objects::{quote, Table};
use super::{type_change, Context, DataLoss, Plan, PlanError, SqlBlock, Step, TypeChange};

pub(crate) fn plan(context: &Context<'_>) -> Result<Plan, PlanError> {
    let mut steps = Vec::new();
    let mut destructive = Vec::new();
    let matched_new: BTreeSet<&String> = context.tables.values().collect();

    // Tables that no longer exist.
    for old_table in &context.old.tables {
        let qualified = old_table.qualified();
        if context.tables.contains_key(&qualified) {
            continue;
        }
        let loss = format!(
            "table `{}` is dropped with all its rows",
            qualified.replace('"', "")
        );
        destructive.push(DataLoss {
            sentence: loss.clone(),
        });
        steps.push(Step {
            description: format!("drop table {qualified}"),
            up: vec![SqlBlock::new(
                format!("DROP TABLE {qualified}"),
                "The model is gone from the schema; its indexes go with the table.",
            )],
            down: Vec::new(),
            irreversible: Some(format!("{loss}: down recreates it empty")),
        });
    }

    // New tables, with their indexes.
    for new_table in &context.new.tables {
        let qualified = new_table.qualified();
        if matched_new.contains(&qualified) {
            continue;
        }
        let mut up = vec![SqlBlock::new(
            new_table.create_sql(&new_table.name),
            "A new model: the table as a fresh database would create it.",
        )];
        for index in &new_table.indexes {
            up.push(SqlBlock::new(index.sql.clone(), "Index of the new table."));
        }
        steps.push(Step {
            description: format!("create table {qualified}"),
            up,
            down: Vec::new(),
            irreversible: None,
        });
    }

    // Tables in both schemas: rebuilt when anything in the table changed, else index changes only.
    for (old_qualified, new_qualified) in &context.tables {
        let (Some(old_table), Some(new_table)) = (
            context.old.table(old_qualified),
            context.new.table(new_qualified),
        ) else {
            continue;
        };
        let column_map = context.columns.get(old_qualified);
        let renamed_columns = column_map.is_some_and(|map| map.iter().any(|(a, b)| a != b));
        let needs_rebuild = old_qualified != new_qualified
            || renamed_columns
            || old_table.body_signature() != new_table.body_signature();
        if needs_rebuild {
            steps.push(rebuild(
                context,
                old_table,
                new_table,
                old_qualified,
                &mut destructive,
            )?);
        } else if let Some(step) = index_changes(old_table, new_table) {
            steps.push(step);
        }
    }

    if steps
        .iter()
        .any(|s| s.description.starts_with("rebuild") || s.description.starts_with("drop table"))
    {
        steps.insert(
            0,
            Step {
                description: "turn foreign key enforcement off for the rebuilds".to_string(),
                up: vec![SqlBlock::outside_transaction(
                    "PRAGMA foreign_keys = OFF",
                    "Tables are dropped and recreated below: with enforcement on, dropping a\nreferenced table would fail or cascade. This pragma has no effect inside a\ntransaction, so it runs before it.",
                )],
                down: Vec::new(),
                irreversible: None,
            },
        );
        steps.push(Step {
            description: "check foreign keys and turn enforcement back on".to_string(),
            up: vec![
                SqlBlock::new(
                    "PRAGMA foreign_key_check",
                    "Lists every row whose foreign key points nowhere after the rebuilds; it must\nreturn no rows (the migration runner treats a row as a failure).",
                ),
                SqlBlock::outside_transaction(
                    "PRAGMA foreign_keys = ON",
                    "Enforcement back on, outside the transaction like the pragma that turned it off.",
                ),
            ],
            down: Vec::new(),
            irreversible: None,
        });
    }
    Ok(Plan {
        steps,
        destructive,
        policy_only: false,
    })
}

fn index_changes(old_table: &Table, new_table: &Table) -> Option<Step> {
    let mut up = Vec::new();
    for index in &old_table.indexes {
        if !new_table.indexes.contains(index) {
            up.push(SqlBlock::new(
                format!("DROP INDEX {}", quote(&index.name)),
                "This index is no longer in the schema (or changes and is recreated below).",
            ));
        }
    }
    for index in &new_table.indexes {
        if !old_table.indexes.contains(index) {
            up.push(SqlBlock::new(
                index.sql.clone(),
                "An index the schema now asks for.",
            ));
        }
    }
    (!up.is_empty()).then(|| Step {
        description: format!("change indexes of {}", new_table.qualified()),
        up,
        down: Vec::new(),
        irreversible: None,
    })
}

fn sqlite_cast_type(ty: &str) -> &str {
    match ty {
        "INTEGER" | "BIGINT" | "BOOLEAN" => "INTEGER",
        "REAL" => "REAL",
        "DECIMAL" | "DATETIME" => "NUMERIC",
        "BLOB" => "BLOB",
        _ => "TEXT",
    }
}

/// The twelve-step rebuild of one table.
fn rebuild(
    context: &Context<'_>,
    old_table: &Table,
    new_table: &Table,
    old_qualified: &str,
    destructive: &mut Vec<DataLoss>,
) -> Result<Step, PlanError> {
    let new_qualified = new_table.qualified();
    let temporary = format!("_new_{}", new_table.name);
    let mut targets = Vec::new();
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    let mut irreversible = Vec::new();
    let mut used_old = BTreeSet::new();
    for column in &new_table.columns {
        let (model, field) = context.label(&new_qualified, &column.name);
        let has_default = column.default.is_some() || column.line.contains("AUTOINCREMENT");
        let Some(old_name) = context.old_column(old_qualified, &column.name) else {
            if column.not_null && !has_default && context.strict {
                return Err(PlanError::RequiredWithoutDefault { model, field });
            }
            notes.push(format!(
                "{} is new: it takes its default",
                quote(&column.name)
            ));
            continue;
        };
        let Some(old_column) = old_table.column(&old_name) else {
            continue;
        };
        used_old.insert(old_name.clone());
        let mut expression = quote(&old_name);
        if old_name != column.name {
            notes.push(format!("{} was {}", quote(&column.name), quote(&old_name)));
        }
        match type_change(&old_column.ty, &column.ty) {
            TypeChange::Same => {}
            TypeChange::Widening => notes.push(format!(
                "{} changes type from {} to {}: every value fits",
                quote(&column.name),
                old_column.ty,
                column.ty
            )),
            TypeChange::Narrowing => {
                let loss = format!(
                    "`{model}.{field}` changes type from {} to {}: values that do not convert are lost",
                    old_column.ty, column.ty
                );
                destructive.push(DataLoss {
                    sentence: loss.clone(),
                });
                irreversible.push(loss);
                expression = format!("CAST({expression} AS {})", sqlite_cast_type(&column.ty));
            }
        }
        if column.not_null && !old_column.not_null {
            match &column.default {
                Some(default) => {
                    notes.push(format!(
                        "{} becomes required: empty values get the default {default}",
                        quote(&column.name)
                    ));
                    expression = format!("COALESCE({expression}, {default})");
                }
                None if context.strict => {
                    return Err(PlanError::RequiredWithoutDefault { model, field });
                }
                None => notes.push(format!(
                    "{} becomes required with no default: the copy fails if a row has no value",
                    quote(&column.name)
                )),
            }
        }
        targets.push(quote(&column.name));
        sources.push(expression);
    }
    for old_column in &old_table.columns {
        if !used_old.contains(&old_column.name) {
            let (model, field) = context.label(old_qualified, &old_column.name);
            let loss = format!("column `{model}.{field}` is dropped with its values");
            destructive.push(DataLoss {
                sentence: loss.clone(),
            });
            irreversible.push(loss);
        }
    }
    let mut comment = format!(
        "SQLite cannot alter this table in place: {} is rebuilt as {} with the new\ndefinition, the rows are copied over, and it takes the old table's place.",
        old_qualified,
        quote(&temporary)
    );
    for note in &notes {
        comment.push_str(&format!("\n{note}."));
    }
    let mut up = vec![
        SqlBlock::new(new_table.create_sql(&temporary), comment),
        SqlBlock::new(
            format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                quote(&temporary),
                targets.join(", "),
                sources.join(", "),
                old_qualified
            ),
            "Every row, column by column.",
        ),
        SqlBlock::new(
            format!("DROP TABLE {old_qualified}"),
            "The old table and its indexes go; foreign keys are off, so nothing cascades.",
        ),
        SqlBlock::new(
            format!(
                "ALTER TABLE {} RENAME TO {}",
                quote(&temporary),
                quote(&new_table.name)
            ),
            "The new table takes the name.",
        ),
    ];
    for index in &new_table.indexes {
        up.push(SqlBlock::new(
            index.sql.clone(),
            "Indexes are dropped with the old table: recreated on the new one.",
        ));
    }
    Ok(Step {
        description: format!("rebuild table {new_qualified}"),
        up,
        down: Vec::new(),
        irreversible: (!irreversible.is_empty()).then(|| irreversible.join("; ")),
    })
}
