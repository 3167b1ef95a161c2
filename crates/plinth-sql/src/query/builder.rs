//! The state shared while one statement is written: the dialect, the parameters bound so far,
//! the table aliases handed out, and how values and columns are written for each column type.

use plinth_model::{Field, FieldType, Model, ScalarType, Schema};

use super::{QueryError, SqlValue};
use crate::names::quote_ident;
use crate::types::column_type;
use crate::Dialect;

/// ISO-8601 with milliseconds and `Z`: how SQLite stores DateTime (see `crate::types`).
pub(crate) const SQLITE_DATETIME_FORMAT: &str = "'%Y-%m-%dT%H:%M:%fZ'";

/// The same text from a PostgreSQL `timestamp` (already UTC, as Prisma stores it).
pub(crate) const POSTGRES_DATETIME_FORMAT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

pub(crate) struct SqlWriter {
    pub dialect: Dialect,
    pub params: Vec<SqlValue>,
    next_alias: usize,
    /// Aliases chosen by the caller of a public function, never handed out again.
    reserved: Vec<String>,
    /// Index (0-based) of the caller's id in `params`, once bound.
    auth_param: Option<usize>,
}

impl SqlWriter {
    pub fn new(dialect: Dialect) -> SqlWriter {
        SqlWriter::with_params(dialect, Vec::new())
    }

    /// Continues numbering after parameters some other code already bound.
    pub fn with_params(dialect: Dialect, params: Vec<SqlValue>) -> SqlWriter {
        SqlWriter {
            dialect,
            params,
            next_alias: 1,
            reserved: vec!["t0".to_string()],
            auth_param: None,
        }
    }

    pub fn reserve_alias(&mut self, alias: &str) {
        self.reserved.push(alias.to_string());
    }

    /// `t1`, `t2`, … in the order asked for, so the SQL is deterministic.
    pub fn fresh_alias(&mut self) -> String {
        loop {
            let alias = format!("t{}", self.next_alias);
            self.next_alias += 1;
            if !self.reserved.contains(&alias) {
                return alias;
            }
        }
    }

    pub fn quote(&self, name: &str) -> String {
        quote_ident(self.dialect, name)
    }

    /// `alias."column"`.
    pub fn column(&self, alias: &str, field: &Field) -> String {
        format!("{alias}.{}", self.quote(&field.db_name))
    }

    /// The table of a model, schema-qualified on PostgreSQL under `@@schema`.
    pub fn table(&self, model: &Model) -> String {
        self.qualified(model.db_schema.as_deref(), &model.db_name)
    }

    pub fn qualified(&self, db_schema: Option<&str>, table: &str) -> String {
        match (self.dialect, db_schema) {
            (Dialect::Postgres, Some(db_schema)) => {
                format!("{}.{}", self.quote(db_schema), self.quote(table))
            }
            _ => self.quote(table),
        }
    }

    /// Binds `value` and returns its bare placeholder with the bind-type cast (PostgreSQL).
    pub fn bind(&mut self, value: SqlValue) -> String {
        let bind_type = bind_type(&value);
        self.params.push(value);
        self.placeholder(self.params.len(), bind_type)
    }

    fn placeholder(&self, number: usize, bind_type: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("?{number}"),
            Dialect::Postgres => format!("${number}::{bind_type}"),
        }
    }

    /// Binds `value` for a column of `field`, converted to the column's type.
    pub fn bind_for(&mut self, schema: &Schema, field: &Field, value: SqlValue) -> String {
        let is_text = matches!(
            value,
            SqlValue::Text(_) | SqlValue::Null | SqlValue::Json(_)
        );
        let is_null = value == SqlValue::Null;
        let placeholder = self.bind(value);
        self.convert(schema, field, &placeholder, is_text, is_null)
    }

    /// Reuses an already bound parameter (its 1-based number) for a column of `field`.
    pub fn rebind_for(&self, schema: &Schema, field: &Field, number: usize) -> String {
        let value = self.params.get(number.saturating_sub(1)).cloned();
        let value = value.unwrap_or(SqlValue::Null);
        let is_text = matches!(
            value,
            SqlValue::Text(_) | SqlValue::Null | SqlValue::Json(_)
        );
        let is_null = value == SqlValue::Null;
        let placeholder = self.placeholder(number, bind_type(&value));
        self.convert(schema, field, &placeholder, is_text, is_null)
    }

    /// The caller's id as a value of the auth model's primary key column, bound once per
    /// statement.
    pub fn auth_id(&mut self, schema: &Schema, id_field: &Field, user_id: &SqlValue) -> String {
        let number = match self.auth_param {
            Some(index) => index + 1,
            None => {
                self.params.push(user_id.clone());
                self.auth_param = Some(self.params.len() - 1);
                self.params.len()
            }
        };
        self.rebind_for(schema, id_field, number)
    }

    fn convert(
        &self,
        schema: &Schema,
        field: &Field,
        placeholder: &str,
        is_text: bool,
        is_null: bool,
    ) -> String {
        match self.dialect {
            Dialect::Sqlite => sqlite_convert(field, placeholder, is_text, is_null),
            Dialect::Postgres => postgres_convert(schema, field, placeholder, is_text),
        }
    }

    /// The statement for `sql` with the parameters bound so far, unused ones dropped.
    pub fn finish(self, sql: String) -> super::Statement {
        let (sql, params) = compact(self.dialect, &sql, self.params);
        super::Statement { sql, params }
    }

    /// A boolean constant.
    pub fn boolean(&self, value: bool) -> &'static str {
        if value {
            "TRUE"
        } else {
            "FALSE"
        }
    }
}

fn bind_type(value: &SqlValue) -> &'static str {
    match value {
        SqlValue::Null | SqlValue::Text(_) | SqlValue::Json(_) => "text",
        SqlValue::Bool(_) => "boolean",
        SqlValue::Int(_) => "int8",
        SqlValue::Float(_) => "float8",
        SqlValue::Bytes(_) => "bytea",
    }
}

fn sqlite_convert(field: &Field, placeholder: &str, is_text: bool, is_null: bool) -> String {
    if field.is_list() || is_null || !is_text {
        return placeholder.to_string();
    }
    match field.ty {
        // Normalises any RFC 3339 offset to the stored UTC text, so text comparison is
        // chronological.
        FieldType::Scalar(ScalarType::DateTime) => {
            format!("strftime({SQLITE_DATETIME_FORMAT}, {placeholder})")
        }
        FieldType::Scalar(ScalarType::Decimal) => format!("CAST({placeholder} AS NUMERIC)"),
        _ => placeholder.to_string(),
    }
}

fn postgres_convert(schema: &Schema, field: &Field, placeholder: &str, is_text: bool) -> String {
    if field.is_list() {
        return postgres_list_convert(schema, field, placeholder);
    }
    if !is_text {
        return placeholder.to_string();
    }
    postgres_text_convert(schema, field, placeholder)
}

/// Converts a text expression to a value of `field`'s (element) type.
fn postgres_text_convert(schema: &Schema, field: &Field, text: &str) -> String {
    let native = field
        .native_type
        .as_ref()
        .map(|native| native.name.to_ascii_lowercase());
    match &field.ty {
        FieldType::Enum(enum_id) => match schema.enums.get(enum_id.0) {
            Some(enumeration) => format!(
                "{text}::{}",
                quote_ident(Dialect::Postgres, &enumeration.db_name)
            ),
            None => text.to_string(),
        },
        FieldType::Scalar(ScalarType::String) => match native.as_deref() {
            Some(name @ ("uuid" | "inet" | "xml" | "bit" | "varbit" | "citext")) => {
                format!("{text}::{name}")
            }
            _ => text.to_string(),
        },
        FieldType::Scalar(ScalarType::DateTime) => {
            let utc = format!("({text}::timestamptz AT TIME ZONE 'UTC')");
            match native.as_deref() {
                Some("timestamptz") => format!("{text}::timestamptz"),
                Some("date") => format!("{utc}::date"),
                Some("time") => format!("{utc}::time"),
                Some("timetz") => format!("{text}::timestamptz::timetz"),
                _ => utc,
            }
        }
        FieldType::Scalar(ScalarType::Decimal) => match native.as_deref() {
            Some("money") => format!("{text}::numeric::money"),
            _ => format!("{text}::numeric"),
        },
        FieldType::Scalar(ScalarType::Json) => match native.as_deref() {
            Some("json") => format!("{text}::json"),
            _ => format!("{text}::jsonb"),
        },
        FieldType::Scalar(ScalarType::Int) => format!("{text}::int8"),
        FieldType::Scalar(ScalarType::BigInt) => format!("{text}::int8"),
        FieldType::Scalar(ScalarType::Float) => format!("{text}::float8"),
        FieldType::Scalar(ScalarType::Boolean) => format!("{text}::boolean"),
        FieldType::Scalar(ScalarType::Bytes) => format!("decode({text}, 'base64')"),
        FieldType::Relation(_) | FieldType::Unsupported(_) => text.to_string(),
    }
}

/// A JSON array (bound as text) to a PostgreSQL array of the column's type; NULL stays NULL.
fn postgres_list_convert(schema: &Schema, field: &Field, placeholder: &str) -> String {
    let element = Field {
        arity: plinth_model::Arity::Required,
        ..field.clone()
    };
    let element_sql = postgres_text_convert(schema, &element, "u.e");
    format!(
        "CASE WHEN {placeholder} IS NULL THEN NULL ELSE (SELECT COALESCE(array_agg({element_sql} ORDER BY u.o), '{{}}') FROM jsonb_array_elements_text({placeholder}::jsonb) WITH ORDINALITY AS u(e, o))::{} END",
        column_type(schema, field, Dialect::Postgres)
    )
}

/// The model, or an error naming the index.
pub(crate) fn model_of(schema: &Schema, model: usize) -> Result<&Model, QueryError> {
    schema
        .models
        .get(model)
        .ok_or(QueryError::UnknownModel(model))
}

/// A column field of `model`.
pub(crate) fn column_field(model: &Model, field: usize) -> Result<&Field, QueryError> {
    match model.fields.get(field) {
        Some(found) if found.is_column() => Ok(found),
        _ => Err(QueryError::UnknownField {
            model: model.name.clone(),
            field,
        }),
    }
}

/// The single primary key field's index.
pub(crate) fn single_key(model: &Model) -> Result<usize, QueryError> {
    match model.primary_key.fields.as_slice() {
        [only] if model.fields.get(*only).is_some() => Ok(*only),
        _ => Err(QueryError::CompositeKey {
            model: model.name.clone(),
        }),
    }
}

/// Drops parameters the SQL no longer mentions (conditions that folded away) and renumbers the
/// placeholders densely in their order, as both databases require every bound parameter to be
/// used. Placeholders inside string literals and quoted identifiers are left alone.
pub(crate) fn compact(
    dialect: Dialect,
    sql: &str,
    params: Vec<SqlValue>,
) -> (String, Vec<SqlValue>) {
    let sigil = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    // First pass: which numbers are used.
    let mut used = vec![false; params.len()];
    scan_placeholders(sql, sigil, |number| {
        if let Some(slot) = number.checked_sub(1).and_then(|index| used.get_mut(index)) {
            *slot = true;
        }
        None
    });
    if used.iter().all(|flag| *flag) {
        return (sql.to_string(), params);
    }
    let mut renumbered = vec![0usize; params.len()];
    let mut kept = Vec::new();
    for (index, value) in params.into_iter().enumerate() {
        if used[index] {
            kept.push(value);
            renumbered[index] = kept.len();
        }
    }
    let rewritten = scan_placeholders(sql, sigil, |number| {
        number
            .checked_sub(1)
            .and_then(|index| renumbered.get(index))
            .copied()
    });
    (rewritten, kept)
}

/// Parameters from number `first` on that `sql` does not use are removed from the end of
/// `params` (a fragment whose conditions folded away; earlier numbers belong to the caller).
pub(crate) fn drop_unused_tail(
    dialect: Dialect,
    sql: &str,
    params: &mut Vec<SqlValue>,
    first: usize,
) {
    let sigil = match dialect {
        Dialect::Sqlite => '?',
        Dialect::Postgres => '$',
    };
    let mut highest_used = 0;
    scan_placeholders(sql, sigil, |number| {
        highest_used = highest_used.max(number);
        None
    });
    if highest_used < params.len() {
        params.truncate(highest_used.max(first.saturating_sub(1)));
    }
}

/// Walks `sql`, calling `replace` with each placeholder number; returns the SQL with numbers
/// replaced where `replace` gives a new one.
fn scan_placeholders(
    sql: &str,
    sigil: char,
    mut replace: impl FnMut(usize) -> Option<usize>,
) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut characters = sql.char_indices().peekable();
    let mut in_string = false;
    let mut in_identifier = false;
    while let Some((_, character)) = characters.next() {
        out.push(character);
        match character {
            '\'' if !in_identifier => in_string = !in_string,
            '"' if !in_string => in_identifier = !in_identifier,
            _ if character == sigil && !in_string && !in_identifier => {
                let mut digits = String::new();
                while let Some((_, next)) = characters.peek() {
                    if next.is_ascii_digit() {
                        digits.push(*next);
                        characters.next();
                    } else {
                        break;
                    }
                }
                match digits.parse::<usize>().ok().and_then(&mut replace) {
                    Some(number) => out.push_str(&number.to_string()),
                    None => out.push_str(&digits),
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_parameters_are_dropped_and_renumbered() {
        let params = vec![SqlValue::Int(1), SqlValue::Int(2), SqlValue::Int(3)];
        let (sql, kept) = compact(
            Dialect::Postgres,
            "a = $3::int8 AND '$2' = \"$2\" AND b = $1::int8 OR $3::int8",
            params,
        );
        assert_eq!(
            sql,
            "a = $2::int8 AND '$2' = \"$2\" AND b = $1::int8 OR $2::int8"
        );
        assert_eq!(kept, vec![SqlValue::Int(1), SqlValue::Int(3)]);
        let (sql, kept) = compact(
            Dialect::Sqlite,
            "x = ?2",
            vec![SqlValue::Null, SqlValue::Bool(true)],
        );
        assert_eq!(sql, "x = ?1");
        assert_eq!(kept, vec![SqlValue::Bool(true)]);
    }
}
