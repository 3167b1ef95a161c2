//! Column types per dialect: Prisma scalar types, `@db.*` native types and lists mapped to SQL.
//!
//! PostgreSQL follows Prisma's defaults (`TEXT`, `INTEGER`, `DOUBLE PRECISION`,
//! `DECIMAL(65,30)`, `TIMESTAMP(3)`, `JSONB`, `BYTEA`, enums as `CREATE TYPE ... AS ENUM`, lists
//! as arrays) and honours PostgreSQL native types. SQLite ignores native types and uses Prisma's
//! SQLite names: `BOOLEAN` (0/1, checked), `DECIMAL` (numeric affinity: exact for integers and up
//! to ~15 significant digits), `DATETIME` holding ISO-8601 text `YYYY-MM-DDTHH:MM:SS.sssZ` (sorts
//! chronologically as text), `TEXT` for JSON (checked with `json_valid`), enums (checked with
//! `IN`) and scalar lists (a JSON array).

use plinth_model::{DefaultValue, Field, FieldType, NativeType, ScalarType, Schema};

use crate::names::quote_ident;
use crate::Dialect;

/// The SQL type that stores `field` in `dialect`, without nullability or defaults. For a
/// `@default(autoincrement())` column this is the storage type (`INTEGER`), not PostgreSQL's
/// `SERIAL` pseudo-type, so it can be used in casts. Relation fields have no column: "".
pub fn column_type(schema: &Schema, field: &Field, dialect: Dialect) -> String {
    let element = match &field.ty {
        FieldType::Relation(_) => return String::new(),
        FieldType::Scalar(scalar) => scalar_type(*scalar, field.native_type.as_ref(), dialect),
        FieldType::Enum(enum_id) => match dialect {
            Dialect::Postgres => match schema.enums.get(enum_id.0) {
                Some(enumeration) => quote_ident(dialect, &enumeration.db_name),
                None => "TEXT".to_string(),
            },
            Dialect::Sqlite => "TEXT".to_string(),
        },
        FieldType::Unsupported(written) => match dialect {
            Dialect::Postgres => written.clone(),
            // No equivalent: a BLOB-affinity column stores whatever the database is given.
            Dialect::Sqlite => "BLOB".to_string(),
        },
    };
    if field.is_list() {
        match dialect {
            Dialect::Postgres => format!("{element}[]"),
            Dialect::Sqlite => "TEXT".to_string(),
        }
    } else {
        element
    }
}

/// The type written in `CREATE TABLE`: like [`column_type`], except that PostgreSQL
/// `autoincrement()` columns become `SMALLSERIAL` / `SERIAL` / `BIGSERIAL` as Prisma writes them.
pub(crate) fn ddl_column_type(schema: &Schema, field: &Field, dialect: Dialect) -> String {
    let storage = column_type(schema, field, dialect);
    if dialect == Dialect::Postgres
        && field.default == Some(DefaultValue::Autoincrement)
        && !field.is_list()
    {
        match storage.as_str() {
            "SMALLINT" => return "SMALLSERIAL".to_string(),
            "INTEGER" => return "SERIAL".to_string(),
            "BIGINT" => return "BIGSERIAL".to_string(),
            _ => {}
        }
    }
    storage
}

fn scalar_type(scalar: ScalarType, native: Option<&NativeType>, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => native
            .and_then(|native| postgres_native_type(scalar, native))
            .unwrap_or_else(|| postgres_scalar_type(scalar).to_string()),
        Dialect::Sqlite => sqlite_scalar_type(scalar).to_string(),
    }
}

fn postgres_scalar_type(scalar: ScalarType) -> &'static str {
    match scalar {
        ScalarType::String => "TEXT",
        ScalarType::Boolean => "BOOLEAN",
        ScalarType::Int => "INTEGER",
        ScalarType::BigInt => "BIGINT",
        ScalarType::Float => "DOUBLE PRECISION",
        ScalarType::Decimal => "DECIMAL(65,30)",
        ScalarType::DateTime => "TIMESTAMP(3)",
        ScalarType::Json => "JSONB",
        ScalarType::Bytes => "BYTEA",
    }
}

fn sqlite_scalar_type(scalar: ScalarType) -> &'static str {
    match scalar {
        ScalarType::String => "TEXT",
        ScalarType::Boolean => "BOOLEAN",
        ScalarType::Int => "INTEGER",
        ScalarType::BigInt => "BIGINT",
        ScalarType::Float => "REAL",
        ScalarType::Decimal => "DECIMAL",
        ScalarType::DateTime => "DATETIME",
        ScalarType::Json => "TEXT",
        ScalarType::Bytes => "BLOB",
    }
}

/// A PostgreSQL native type (`@db.VarChar(255)`) as SQL, when it is a PostgreSQL type that fits
/// the field's scalar type and its arguments are plain integers. Anything else (another
/// provider's native type such as MySQL's `LongText`, or a malformed argument) falls back to the
/// scalar type's default, so no text from the schema reaches the SQL unchecked.
fn postgres_native_type(scalar: ScalarType, native: &NativeType) -> Option<String> {
    let name = native.name.to_ascii_lowercase();
    let (sql_name, fits): (&str, &[ScalarType]) = match name.as_str() {
        "text" => ("TEXT", &[ScalarType::String]),
        "char" => ("CHAR", &[ScalarType::String]),
        "varchar" => ("VARCHAR", &[ScalarType::String]),
        "bit" => ("BIT", &[ScalarType::String]),
        "varbit" => ("VARBIT", &[ScalarType::String]),
        "uuid" => ("UUID", &[ScalarType::String]),
        "xml" => ("XML", &[ScalarType::String]),
        "inet" => ("INET", &[ScalarType::String]),
        "citext" => ("CITEXT", &[ScalarType::String]),
        "boolean" => ("BOOLEAN", &[ScalarType::Boolean]),
        "integer" => ("INTEGER", &[ScalarType::Int]),
        "smallint" => ("SMALLINT", &[ScalarType::Int]),
        "oid" => ("OID", &[ScalarType::Int]),
        "bigint" => ("BIGINT", &[ScalarType::BigInt]),
        "real" => ("REAL", &[ScalarType::Float]),
        "doubleprecision" => ("DOUBLE PRECISION", &[ScalarType::Float]),
        "decimal" => ("DECIMAL", &[ScalarType::Decimal]),
        "money" => ("MONEY", &[ScalarType::Decimal]),
        "timestamp" => ("TIMESTAMP", &[ScalarType::DateTime]),
        "timestamptz" => ("TIMESTAMPTZ", &[ScalarType::DateTime]),
        "date" => ("DATE", &[ScalarType::DateTime]),
        "time" => ("TIME", &[ScalarType::DateTime]),
        "timetz" => ("TIMETZ", &[ScalarType::DateTime]),
        "json" => ("JSON", &[ScalarType::Json]),
        "jsonb" => ("JSONB", &[ScalarType::Json]),
        "bytea" => ("BYTEA", &[ScalarType::Bytes]),
        _ => return None,
    };
    if !fits.contains(&scalar) {
        return None;
    }
    let mut arguments = Vec::with_capacity(native.args.len());
    for argument in &native.args {
        let argument = argument.trim();
        if argument.is_empty() || !argument.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        arguments.push(argument);
    }
    if arguments.is_empty() {
        Some(sql_name.to_string())
    } else {
        Some(format!("{sql_name}({})", arguments.join(",")))
    }
}

/// Whether `field` is stored with PostgreSQL's `citext` type, which needs its extension.
pub(crate) fn uses_citext(field: &Field) -> bool {
    matches!(field.ty, FieldType::Scalar(ScalarType::String))
        && field
            .native_type
            .as_ref()
            .is_some_and(|native| native.name.eq_ignore_ascii_case("citext"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(name: &str, args: &[&str]) -> NativeType {
        NativeType {
            name: name.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn postgres_native_types_map_to_sql() {
        assert_eq!(
            postgres_native_type(ScalarType::String, &native("VarChar", &["255"])).as_deref(),
            Some("VARCHAR(255)")
        );
        assert_eq!(
            postgres_native_type(ScalarType::Decimal, &native("Decimal", &["10", " 2"])).as_deref(),
            Some("DECIMAL(10,2)")
        );
        assert_eq!(
            postgres_native_type(ScalarType::DateTime, &native("Timestamptz", &["6"])).as_deref(),
            Some("TIMESTAMPTZ(6)")
        );
        assert_eq!(
            postgres_native_type(ScalarType::Float, &native("DoublePrecision", &[])).as_deref(),
            Some("DOUBLE PRECISION")
        );
    }

    #[test]
    fn foreign_or_malformed_native_types_fall_back() {
        assert_eq!(
            postgres_native_type(ScalarType::String, &native("LongText", &[])),
            None
        );
        assert_eq!(
            postgres_native_type(ScalarType::Boolean, &native("Bit", &["1"])),
            None
        );
        assert_eq!(
            postgres_native_type(ScalarType::String, &native("VarChar", &["1); DROP"])),
            None
        );
    }
}
