//! What a SELECT returns: the column list for a model, each column written so that both
//! dialects return values that read the same way ([`Decode`]), with field-level read rules
//! applied.

use plinth_model::{Field, FieldType, Model, Operation, ScalarType, Schema};

use super::builder::{SqlWriter, POSTGRES_DATETIME_FORMAT};
use super::policy::{PolicyCompiler, Pred};
use super::{Caller, Decode, Projection, ResultColumn};
use crate::Dialect;

/// How a field's column is read; `None` for relations and `Unsupported(...)` columns, which no
/// statement selects.
pub fn decode_for(field: &Field) -> Option<Decode> {
    let element = match &field.ty {
        FieldType::Scalar(scalar) => match scalar {
            ScalarType::String => Decode::Text,
            ScalarType::Boolean => Decode::Bool,
            ScalarType::Int => Decode::Int,
            ScalarType::BigInt => Decode::BigInt,
            ScalarType::Float => Decode::Float,
            ScalarType::Decimal => Decode::Decimal,
            ScalarType::DateTime => Decode::DateTime,
            ScalarType::Json => Decode::Json,
            ScalarType::Bytes => Decode::Bytes,
        },
        FieldType::Enum(enum_id) => Decode::Enum(*enum_id),
        FieldType::Relation(_) | FieldType::Unsupported(_) => return None,
    };
    if field.is_list() {
        Some(Decode::List(Box::new(element)))
    } else {
        Some(element)
    }
}

/// The fields a response may hold, in declaration order: columns with a [`Decode`] that are
/// not `@omit`, `@password` or `@ignore` (the same list as `plinth_api::readable_fields`).
pub fn readable_columns(model: &Model) -> Vec<usize> {
    model
        .fields
        .iter()
        .enumerate()
        .filter(|(_, field)| field.is_column() && !field.is_hidden() && decode_for(field).is_some())
        .map(|(index, _)| index)
        .collect()
}

/// The SELECT expression reading `column` (SQL for the stored column) of `field`.
pub(crate) fn select_expression(dialect: Dialect, field: &Field, column: &str) -> String {
    match dialect {
        Dialect::Sqlite => match &field.ty {
            FieldType::Scalar(ScalarType::Decimal) if !field.is_list() => {
                format!("CAST({column} AS TEXT)")
            }
            _ => column.to_string(),
        },
        Dialect::Postgres => {
            if field.is_list() {
                let element = postgres_value(field, "u.e", true);
                format!(
                    "CASE WHEN {column} IS NULL THEN NULL ELSE COALESCE((SELECT json_agg({element} ORDER BY u.o) FROM unnest({column}) WITH ORDINALITY AS u(e, o)), '[]')::text END"
                )
            } else {
                postgres_value(field, column, false)
            }
        }
    }
}

/// A PostgreSQL value of `field`'s (element) type in its [`Decode`] form. Inside JSON arrays
/// (`in_json`) numbers stay numbers.
fn postgres_value(field: &Field, column: &str, in_json: bool) -> String {
    let native = field
        .native_type
        .as_ref()
        .map(|native| native.name.to_ascii_lowercase());
    match &field.ty {
        FieldType::Scalar(ScalarType::String) => match native.as_deref() {
            None | Some("text") | Some("varchar") => column.to_string(),
            Some(_) => format!("{column}::text"),
        },
        FieldType::Scalar(ScalarType::Boolean) | FieldType::Scalar(ScalarType::BigInt) => {
            column.to_string()
        }
        FieldType::Scalar(ScalarType::Int) if in_json => column.to_string(),
        FieldType::Scalar(ScalarType::Int) => format!("{column}::int8"),
        FieldType::Scalar(ScalarType::Float) => match native.as_deref() {
            None | Some("doubleprecision") => column.to_string(),
            Some(_) => format!("{column}::float8"),
        },
        FieldType::Scalar(ScalarType::Decimal) if in_json => {
            format!("trim_scale({column}::numeric)")
        }
        FieldType::Scalar(ScalarType::Decimal) => format!("trim_scale({column}::numeric)::text"),
        FieldType::Scalar(ScalarType::DateTime) => {
            let format = POSTGRES_DATETIME_FORMAT;
            match native.as_deref() {
                Some("timestamptz") => format!("to_char({column} AT TIME ZONE 'UTC', {format})"),
                Some("date") => format!("to_char({column}, 'YYYY-MM-DD\"T00:00:00.000Z\"')"),
                Some("time") => format!("to_char('1970-01-01'::date + {column}, {format})"),
                Some("timetz") => {
                    format!("to_char('1970-01-01'::date + ({column} AT TIME ZONE 'UTC')::time, {format})")
                }
                _ => format!("to_char({column}, {format})"),
            }
        }
        FieldType::Scalar(ScalarType::Json) if in_json => column.to_string(),
        FieldType::Scalar(ScalarType::Json) => format!("{column}::text"),
        FieldType::Scalar(ScalarType::Bytes) if in_json => format!("encode({column}, 'base64')"),
        FieldType::Scalar(ScalarType::Bytes) => column.to_string(),
        FieldType::Enum(_) => format!("{column}::text"),
        FieldType::Relation(_) | FieldType::Unsupported(_) => column.to_string(),
    }
}

/// A typed NULL in place of a column the caller may not read (PostgreSQL reports a bare NULL
/// as text, which would not read as a number).
fn hidden_value(dialect: Dialect, decode: &Decode) -> String {
    match dialect {
        Dialect::Sqlite => "NULL".to_string(),
        Dialect::Postgres => match decode {
            Decode::Bool => "NULL::boolean",
            Decode::Int | Decode::BigInt => "NULL::int8",
            Decode::Float => "NULL::float8",
            Decode::Bytes => "NULL::bytea",
            _ => "NULL::text",
        }
        .to_string(),
    }
}

/// The SELECT list and projection for `fields` (indices; kept in the given order) of the row
/// `alias`. Field-level read rules are applied to every field except the primary key (which
/// cursors and ETags need): a field the caller may not read is NULL.
pub(crate) fn select_fields(
    schema: &Schema,
    model: &Model,
    fields: &[usize],
    caller: &Caller,
    writer: &mut SqlWriter,
    alias: &str,
) -> (Vec<String>, Projection) {
    let mut expressions = Vec::new();
    let mut projection = Projection::default();
    for &index in fields {
        let Some(field) = model.fields.get(index) else {
            continue;
        };
        let Some(decode) = decode_for(field) else {
            continue;
        };
        let column = writer.column(alias, field);
        let mut expression = select_expression(writer.dialect, field, &column);
        let is_key = model.primary_key.fields.contains(&index);
        if !is_key && !field.policies.is_empty() {
            let rule = PolicyCompiler::new(schema, caller, writer, alias, model.id)
                .field_rules(field, Operation::Read);
            expression = match rule {
                Pred::True => expression,
                Pred::False => hidden_value(writer.dialect, &decode),
                condition => format!("CASE WHEN {} THEN {expression} END", condition.render()),
            };
        }
        expressions.push(expression);
        projection.columns.push(ResultColumn {
            field: index,
            name: field.name.clone(),
            decode,
        });
    }
    (expressions, projection)
}
