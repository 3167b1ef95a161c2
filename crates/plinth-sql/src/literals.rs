//! SQL literals and `DEFAULT` clauses: strings escaped, numbers checked to be numbers (so no text
//! from a schema reaches the SQL unquoted), enum values by their database name, lists as
//! PostgreSQL arrays or SQLite JSON text.

use plinth_model::{DefaultValue, Field, FieldType, Provider, ScalarType, Schema, Value};

use crate::types::column_type;
use crate::Dialect;

/// A SQL string literal: single quotes doubled. Both dialects treat backslashes literally
/// (PostgreSQL with its default `standard_conforming_strings = on`).
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Whether `text` is a plain decimal number (`-12`, `3.5`, `1e-3`), safe to write unquoted.
pub fn is_numeric_literal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(at) => (&digits[..at], Some(&digits[at + 1..])),
        None => (digits, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next();
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    let mantissa_ok = all_digits(whole)
        && fraction.is_none_or(all_digits)
        && !(whole.is_empty() && fraction.is_none_or(str::is_empty));
    let exponent_ok = exponent.is_none_or(|exponent| {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !exponent.is_empty() && all_digits(exponent)
    });
    mantissa_ok && exponent_ok
}

/// What goes after `DEFAULT` for a column, or a note saying why there is no SQL default.
pub(crate) enum DefaultClause {
    None,
    Sql(String),
    /// No SQL default; the note is written as a comment next to the column.
    Note(String),
}

pub(crate) fn default_clause(schema: &Schema, field: &Field, dialect: Dialect) -> DefaultClause {
    let Some(default) = &field.default else {
        return DefaultClause::None;
    };
    match default {
        // PostgreSQL: the SERIAL type; SQLite: `PRIMARY KEY AUTOINCREMENT` (written by the table
        // builder, which also notes when SQLite cannot do it).
        DefaultValue::Autoincrement => DefaultClause::None,
        DefaultValue::Uuid { version: 4 } => server_filled("uuid()"),
        DefaultValue::Uuid { version } => server_filled(&format!("uuid({version})")),
        DefaultValue::Cuid { version: 1 } => server_filled("cuid()"),
        DefaultValue::Cuid { version } => server_filled(&format!("cuid({version})")),
        DefaultValue::Nanoid {
            length: Some(length),
        } => server_filled(&format!("nanoid({length})")),
        DefaultValue::Nanoid { length: None } => server_filled("nanoid()"),
        DefaultValue::Ulid => server_filled("ulid()"),
        DefaultValue::Auth { field } => {
            let name = schema
                .models
                .get(field.model.0)
                .and_then(|model| model.fields.get(field.index))
                .map_or("?", |field| field.name.as_str());
            server_filled(&format!("auth().{name}"))
        }
        DefaultValue::Now => match dialect {
            Dialect::Postgres => DefaultClause::Sql("CURRENT_TIMESTAMP".to_string()),
            // The same ISO-8601 text (UTC, milliseconds, `Z`) the server writes, so values
            // compare and sort correctly whoever wrote them.
            Dialect::Sqlite => {
                DefaultClause::Sql("(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))".to_string())
            }
        },
        DefaultValue::DbGenerated(None) => DefaultClause::None,
        DefaultValue::DbGenerated(Some(expression)) => {
            // The expression is written for the datasource's database; passing it to the other
            // dialect would fail, so there it becomes a note.
            let written_for_sqlite = schema
                .datasource
                .as_ref()
                .is_some_and(|datasource| datasource.provider == Provider::Sqlite);
            match (dialect, written_for_sqlite) {
                (Dialect::Postgres, false) => DefaultClause::Sql(expression.clone()),
                (Dialect::Sqlite, true) => DefaultClause::Sql(format!("({expression})")),
                _ => DefaultClause::Note(format!(
                    "dbgenerated(\"{expression}\") is not written for {}: no default here",
                    dialect.display_name()
                )),
            }
        }
        DefaultValue::Value(value) => value_default(schema, field, value, dialect),
    }
}

fn server_filled(function: &str) -> DefaultClause {
    DefaultClause::Note(format!("default {function} is filled in by the server"))
}

fn value_default(schema: &Schema, field: &Field, value: &Value, dialect: Dialect) -> DefaultClause {
    if let Value::List(items) = value {
        return match dialect {
            Dialect::Postgres => {
                let mut rendered = Vec::with_capacity(items.len());
                for item in items {
                    match scalar_literal(schema, field, item, dialect) {
                        Some(literal) => rendered.push(literal),
                        None => return unrenderable(),
                    }
                }
                DefaultClause::Sql(format!(
                    "ARRAY[{}]::{}",
                    rendered.join(", "),
                    column_type(schema, field, dialect)
                ))
            }
            Dialect::Sqlite => match json_array(schema, items) {
                Some(json) => DefaultClause::Sql(string_literal(&json)),
                None => unrenderable(),
            },
        };
    }
    if field.is_list() {
        // A scalar default on a list column (only `null` makes sense).
        return match value {
            Value::Null => DefaultClause::Sql("NULL".to_string()),
            _ => unrenderable(),
        };
    }
    match scalar_literal(schema, field, value, dialect) {
        Some(literal) => DefaultClause::Sql(literal),
        None => unrenderable(),
    }
}

fn unrenderable() -> DefaultClause {
    DefaultClause::Note("this default has no SQL form: the server fills it in".to_string())
}

/// One scalar value as a SQL literal for a column of `field`'s type.
fn scalar_literal(
    schema: &Schema,
    field: &Field,
    value: &Value,
    dialect: Dialect,
) -> Option<String> {
    let is_bytes = field.ty == FieldType::Scalar(ScalarType::Bytes);
    match value {
        Value::String(text) if is_bytes => match dialect {
            // Prisma writes `Bytes` defaults in base64.
            Dialect::Postgres => Some(format!("decode({}, 'base64')", string_literal(text))),
            Dialect::Sqlite => None,
        },
        Value::String(text) => Some(string_literal(text)),
        Value::Int(number) => Some(number.to_string()),
        Value::Float(text) if is_numeric_literal(text) => Some(text.clone()),
        Value::Float(text) => Some(string_literal(text)),
        Value::Boolean(true) => Some("true".to_string()),
        Value::Boolean(false) => Some("false".to_string()),
        Value::Enum { enum_id, value } => schema
            .enums
            .get(enum_id.0)
            .and_then(|enumeration| enumeration.values.get(*value))
            .map(|value| string_literal(&value.db_name)),
        Value::Null => Some("NULL".to_string()),
        Value::List(_) => None,
    }
}

/// A list default as JSON text, for SQLite's JSON-array list columns.
fn json_array(schema: &Schema, items: &[Value]) -> Option<String> {
    let mut rendered = Vec::with_capacity(items.len());
    for item in items {
        rendered.push(match item {
            Value::String(text) => json_string(text),
            Value::Int(number) => number.to_string(),
            Value::Float(text) if is_numeric_literal(text) => text.clone(),
            Value::Float(text) => json_string(text),
            Value::Boolean(flag) => flag.to_string(),
            Value::Enum { enum_id, value } => json_string(
                &schema
                    .enums
                    .get(enum_id.0)
                    .and_then(|enumeration| enumeration.values.get(*value))?
                    .db_name,
            ),
            Value::Null => "null".to_string(),
            Value::List(_) => return None,
        });
    }
    Some(format!("[{}]", rendered.join(",")))
}

fn json_string(text: &str) -> String {
    let mut json = String::with_capacity(text.len() + 2);
    json.push('"');
    for character in text.chars() {
        match character {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '\n' => json.push_str("\\n"),
            '\r' => json.push_str("\\r"),
            '\t' => json.push_str("\\t"),
            control if u32::from(control) < 0x20 => {
                json.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            other => json.push(other),
        }
    }
    json.push('"');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_double_quotes() {
        assert_eq!(string_literal("it's"), "'it''s'");
        assert_eq!(string_literal("a\\b"), "'a\\b'");
    }

    #[test]
    fn numeric_literals_are_recognised() {
        for good in ["0", "-1", "+2", "3.5", ".5", "5.", "1e10", "2.5E-3"] {
            assert!(is_numeric_literal(good), "{good}");
        }
        for bad in ["", "-", ".", "1e", "1..2", "1; DROP", "0x10", "NaN", "1 "] {
            assert!(!is_numeric_literal(bad), "{bad}");
        }
    }

    #[test]
    fn json_strings_escape() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
