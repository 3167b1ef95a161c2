//! CHECK constraints: the validation attributes SQL can express exactly (`@length`,
//! `@startsWith`, `@endsWith`, `@contains`, `@gt`/`@gte`/`@lt`/`@lte`) and, on SQLite, what its
//! loose typing does not enforce (enum membership, booleans, JSON). `@email`, `@url` and `@regex`
//! are left to the server, whose checks SQL could not reproduce exactly.
//!
//! Substring tests use `left`/`right`/`strpos` (PostgreSQL) and `substr`/`instr` (SQLite), not
//! `LIKE`: they are case-sensitive in both dialects (SQLite's `LIKE` is not) and need no escaping
//! of `%` and `_`.

use plinth_model::{Field, FieldType, ScalarType, Schema, Validation};

use crate::literals::{is_numeric_literal, string_literal};
use crate::names::quote_ident;
use crate::types::column_type;
use crate::Dialect;

/// The CHECK conditions for one column and the validations left to the server.
#[derive(Debug, Default)]
pub(crate) struct ColumnChecks {
    /// Conditions, each safe to join with `AND`.
    pub conditions: Vec<String>,
    /// Attributes the server checks instead (`@email`, `@url`, `@regex`, ...), as written.
    pub left_to_server: Vec<String>,
}

pub(crate) fn column_checks(schema: &Schema, field: &Field, dialect: Dialect) -> ColumnChecks {
    let mut checks = ColumnChecks::default();
    let column = quote_ident(dialect, &field.db_name);

    if dialect == Dialect::Sqlite {
        sqlite_type_checks(schema, field, &column, &mut checks);
    }

    for validation in &field.validations {
        if is_trivially_true(validation) {
            continue;
        }
        // Validations on a list apply to each element, which a CHECK cannot reach simply.
        let condition = if field.is_list() {
            None
        } else {
            validation_condition(schema, field, validation, &column, dialect)
        };
        match condition {
            Some(condition) => checks.conditions.push(condition),
            None => checks.left_to_server.push(validation_name(validation)),
        }
    }
    checks
}

/// SQLite stores anything in any column; these keep the stored values the type says.
fn sqlite_type_checks(schema: &Schema, field: &Field, column: &str, checks: &mut ColumnChecks) {
    if field.is_list() {
        checks.conditions.push(format!(
            "json_valid({column}) AND json_type({column}) = 'array'"
        ));
        return;
    }
    match &field.ty {
        FieldType::Enum(enum_id) => {
            if let Some(enumeration) = schema.enums.get(enum_id.0) {
                let values: Vec<String> = enumeration
                    .values
                    .iter()
                    .map(|value| string_literal(&value.db_name))
                    .collect();
                if !values.is_empty() {
                    checks
                        .conditions
                        .push(format!("{column} IN ({})", values.join(", ")));
                }
            }
        }
        FieldType::Scalar(ScalarType::Boolean) => {
            checks.conditions.push(format!("{column} IN (0, 1)"));
        }
        FieldType::Scalar(ScalarType::Json) => {
            checks.conditions.push(format!("json_valid({column})"));
        }
        _ => {}
    }
}

fn validation_condition(
    schema: &Schema,
    field: &Field,
    validation: &Validation,
    column: &str,
    dialect: Dialect,
) -> Option<String> {
    // PostgreSQL's string functions and comparisons with numbers work on its text and number
    // types, not on native types such as `UUID`, `INET` or `MONEY`.
    let postgres_type = column_type(schema, field, Dialect::Postgres);
    let postgres_base = postgres_type.split('(').next().unwrap_or_default();
    let postgres_compatible =
        |accepted: &[&str]| dialect == Dialect::Sqlite || accepted.contains(&postgres_base);
    let is_text = field.ty == FieldType::Scalar(ScalarType::String)
        && postgres_compatible(&["TEXT", "VARCHAR", "CHAR", "CITEXT"]);
    let is_number = matches!(field.ty, FieldType::Scalar(scalar) if scalar.is_numeric())
        && postgres_compatible(&[
            "INTEGER",
            "SMALLINT",
            "BIGINT",
            "OID",
            "REAL",
            "DOUBLE PRECISION",
            "DECIMAL",
        ]);
    let length_function = match dialect {
        Dialect::Postgres => "char_length",
        Dialect::Sqlite => "length",
    };
    match validation {
        Validation::Length { min, max } if is_text => {
            let mut bounds = Vec::new();
            if let Some(min) = min {
                bounds.push(format!("{length_function}({column}) >= {min}"));
            }
            if let Some(max) = max {
                bounds.push(format!("{length_function}({column}) <= {max}"));
            }
            (!bounds.is_empty()).then(|| bounds.join(" AND "))
        }
        Validation::StartsWith(prefix) if is_text => {
            let count = prefix.chars().count();
            let literal = string_literal(prefix);
            Some(match dialect {
                Dialect::Postgres => format!("left({column}, {count}) = {literal}"),
                Dialect::Sqlite => format!("substr({column}, 1, {count}) = {literal}"),
            })
        }
        Validation::EndsWith(suffix) if is_text => {
            let count = suffix.chars().count();
            let literal = string_literal(suffix);
            Some(match dialect {
                Dialect::Postgres => format!("right({column}, {count}) = {literal}"),
                Dialect::Sqlite => format!("substr({column}, -{count}) = {literal}"),
            })
        }
        Validation::Contains(needle) if is_text => {
            let literal = string_literal(needle);
            Some(match dialect {
                Dialect::Postgres => format!("strpos({column}, {literal}) > 0"),
                Dialect::Sqlite => format!("instr({column}, {literal}) > 0"),
            })
        }
        Validation::Compare { op, value } if is_number && is_numeric_literal(value) => {
            Some(format!("{column} {} {value}", op.sql()))
        }
        _ => None,
    }
}

/// An empty prefix, suffix or substring holds for every value: no condition, no note.
fn is_trivially_true(validation: &Validation) -> bool {
    match validation {
        Validation::StartsWith(text) | Validation::EndsWith(text) | Validation::Contains(text) => {
            text.is_empty()
        }
        Validation::Length { min, max } => min.unwrap_or(0) == 0 && max.is_none(),
        _ => false,
    }
}

fn validation_name(validation: &Validation) -> String {
    match validation {
        Validation::Email => "@email".to_string(),
        Validation::Url => "@url".to_string(),
        Validation::Regex(_) => "@regex".to_string(),
        Validation::Length { .. } => "@length".to_string(),
        Validation::StartsWith(_) => "@startsWith".to_string(),
        Validation::EndsWith(_) => "@endsWith".to_string(),
        Validation::Contains(_) => "@contains".to_string(),
        Validation::Compare { op, .. } => match op {
            plinth_model::CompareOp::Gt => "@gt".to_string(),
            plinth_model::CompareOp::Gte => "@gte".to_string(),
            plinth_model::CompareOp::Lt => "@lt".to_string(),
            plinth_model::CompareOp::Lte => "@lte".to_string(),
        },
    }
}
