//! The query builder: access policies compiled into SQL predicates, and the SELECT / INSERT /
//! UPDATE / DELETE statements the server runs, for SQLite and PostgreSQL.
//!
//! Every function is pure: it returns a [`Statement`] (SQL text and the values to bind, in
//! placeholder order) that a store executes as-is. The SQL agrees with the tables written by
//! [`crate::create_schema`].
//!
//! # Binding parameters
//!
//! Placeholders are `?1, ?2, …` on SQLite and `$1, $2, …` on PostgreSQL; a placeholder may
//! appear more than once. Bind each [`SqlValue`] by its variant, the same way in every statement:
//!
//! | variant        | SQLite (rusqlite)     | PostgreSQL (tokio-postgres / postgres) |
//! |----------------|-----------------------|----------------------------------------|
//! | `Null`         | NULL                  | `Option::<String>::None` (a text NULL) |
//! | `Bool(b)`      | `b` (stored as 0/1)   | `bool`                                 |
//! | `Int(i)`       | `i64`                 | `i64`                                  |
//! | `Float(f)`     | `f64`                 | `f64`                                  |
//! | `Text(s)`      | `String`              | `String`                               |
//! | `Bytes(b)`     | `Vec<u8>`             | `Vec<u8>`                              |
//! | `Json(v)`      | `v.to_string()`       | `v.to_string()` (text)                 |
//!
//! On PostgreSQL every placeholder is written with a cast naming that bind type (`$1::text`,
//! `$2::int8`, …) followed, when the column needs it, by a conversion to the column's type
//! (`$3::text::"Role"`, `($4::text::timestamptz AT TIME ZONE 'UTC')`, `$5::text::numeric`,
//! `$6::text::jsonb`, `$7::text::uuid`), so the server never thinks about column types.
//!
//! What to pass per field type: String and enums → `Text` (enum *database* names); Boolean →
//! `Bool`; Int and BigInt → `Int`; Float → `Float`; Decimal → `Text` (the exact decimal text);
//! DateTime → `Text` in RFC 3339 (canonical UTC with milliseconds, `2024-01-02T03:04:05.678Z`,
//! is what gets stored; SQLite normalises other offsets with `strftime`, PostgreSQL with its
//! timestamp parser); Json → `Json`; Bytes → `Bytes`; scalar lists → `Json` holding an array.
//!
//! # Reading results
//!
//! Every SELECT comes with a [`Projection`]: the result columns in order and how to read each
//! one ([`Decode`]). Both databases return values that read the same way, so the server can build
//! byte-identical JSON from either.

mod builder;
mod policy;
mod projection;
mod select;
mod snapshot;
mod write;

use std::fmt;

use plinth_model::EnumId;

pub use policy::{field_policy_predicate, policy_predicate};
pub use projection::{decode_for, readable_columns};
pub use select::{
    check_policy_on_row, cursor_fields, include_key_field, select_by_id, select_list,
    select_related,
};
pub use snapshot::{select_snapshot, select_snapshot_for_callers};
pub use write::{check_update_future, delete, insert, insert_checked, update};

/// A bound parameter. See the module docs for how to bind each variant in each dialect and
/// which variant each field type takes.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Json(serde_json::Value),
}

/// SQL text and the values for its placeholders (`params[0]` is `?1` / `$1`).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<SqlValue>,
}

/// Who is asking. `user_id` is the auth model's primary key value (`None` = anonymous). It is
/// the only thing known about the caller: every other `auth().field` is read from the auth table
/// by the statement itself, so roles are never stale.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caller {
    pub user_id: Option<SqlValue>,
}

impl Caller {
    pub fn anonymous() -> Caller {
        Caller { user_id: None }
    }

    pub fn user(id: SqlValue) -> Caller {
        Caller { user_id: Some(id) }
    }

    /// Signed in (a `Some(SqlValue::Null)` id counts as anonymous).
    pub fn is_authenticated(&self) -> bool {
        matches!(&self.user_id, Some(value) if *value != SqlValue::Null)
    }
}

/// How to read one result column. The Rust type to read is the same in both dialects:
///
/// | decode      | read as   | value                                                         |
/// |-------------|-----------|---------------------------------------------------------------|
/// | `Bool`      | `bool`    | SQLite stores 0/1 (rusqlite reads it as `bool`); PG `bool`    |
/// | `Int`       | `i64`     | PostgreSQL columns are selected `::int8`                      |
/// | `BigInt`    | `i64`     | send as a JSON string of digits                               |
/// | `Float`     | `f64`     | PostgreSQL columns are selected `::float8`                    |
/// | `Decimal`   | `String`  | decimal text without trailing fractional zeros (`12.5`, `3`)  |
/// | `DateTime`  | `String`  | `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC) in both dialects             |
/// | `Text`      | `String`  |                                                               |
/// | `Enum(id)`  | `String`  | the value's database name                                     |
/// | `Json`      | `String`  | JSON text: parse it (PostgreSQL reformats `jsonb`)            |
/// | `Bytes`     | `Vec<u8>` |                                                               |
/// | `List(e)`   | `String`  | a JSON array; elements: numbers for Int/BigInt/Float/Decimal, |
/// |             |           | strings for Text/Enum/DateTime (canonical), booleans, JSON    |
///
/// Any column may be NULL (optional fields, and fields hidden by a field-level read rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decode {
    Bool,
    Int,
    BigInt,
    Float,
    Decimal,
    DateTime,
    Text,
    Enum(EnumId),
    Json,
    Bytes,
    List(Box<Decode>),
}

/// One column of a result row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultColumn {
    /// Index into the model's fields.
    pub field: usize,
    /// The field's name (not the column name), for convenience.
    pub name: String,
    pub decode: Decode,
}

/// The columns a SELECT (or `RETURNING`) returns, in order. When `parent_key` is `Some` (batched
/// includes from [`select_related`]), result column 0 is the parent key and `columns[i]` is
/// result column `i + 1`; use [`Projection::offset`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Projection {
    pub parent_key: Option<Decode>,
    pub columns: Vec<ResultColumn>,
}

impl Projection {
    /// The result-row index of `columns[0]`: 1 when a parent key comes first, else 0.
    pub fn offset(&self) -> usize {
        usize::from(self.parent_key.is_some())
    }

    /// The result-row index of `field`, if the projection has it.
    pub fn position(&self, field: usize) -> Option<usize> {
        self.columns
            .iter()
            .position(|column| column.field == field)
            .map(|index| index + self.offset())
    }
}

/// A list request: `GET /api/v1/<resource>?filters&sort&cursor&limit&fields`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListQuery {
    /// AND-ed.
    pub filters: Vec<FilterClause>,
    /// Then the primary key, always, as the tiebreaker. NULLs sort last in both directions.
    pub sort: Vec<SortKey>,
    /// Keyset cursor: the values of [`cursor_fields`] (sort keys, then primary key fields not
    /// already sorted on) taken from the last row of the previous page. Rows strictly after it
    /// in the sort order are returned.
    pub after: Option<Vec<SqlValue>>,
    /// Page size; the statement fetches `limit + 1` rows so the server knows whether there is a
    /// next page (drop the extra row, and build the cursor from the last row kept).
    pub limit: u32,
    /// Fields to select (`None`: [`readable_columns`]). The projection also always holds the
    /// primary key and the sort keys, so it may have more columns than asked for.
    pub fields: Option<Vec<usize>>,
}

/// `field[op]=values`.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterClause {
    /// Index into the model's fields (a column).
    pub field: usize,
    pub op: FilterOp,
    /// One value for every operator except `In` (any number; none matches nothing) and `IsNull`
    /// (`Bool(true)`: is null, `Bool(false)`: is not null).
    pub values: Vec<SqlValue>,
}

/// Filter operators, as in the served API. Comparisons follow SQL: a NULL column matches only
/// `Eq` with a `Null` value and `IsNull`; `Ne` does not match NULLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    /// Case-sensitive substring, in both dialects.
    Contains,
    /// Case-sensitive prefix, in both dialects.
    StartsWith,
    IsNull,
}

/// `sort=field` / `sort=-field`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub field: usize,
    pub descending: bool,
}

/// Why a statement could not be built: a request the schema cannot answer. The server checks
/// its input against `plinth_api` first, so these are mostly programming errors, except
/// [`QueryError::BadCursor`], which a tampered cursor can cause (answer 400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// The model index is out of range.
    UnknownModel(usize),
    /// A field index is out of range or not a column.
    UnknownField { model: String, field: usize },
    /// The field is not a relation (for includes).
    NotARelation { model: String, field: String },
    /// The operation needs a single-field primary key (by-id access, includes, m2m).
    CompositeKey { model: String },
    /// The cursor does not have one value per cursor field.
    BadCursor { expected: usize, found: usize },
    /// A filter has the wrong number of values for its operator.
    BadFilter { field: String, op: FilterOp },
}

impl fmt::Display for QueryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::UnknownModel(index) => write!(formatter, "no model with index {index}"),
            QueryError::UnknownField { model, field } => {
                write!(
                    formatter,
                    "model `{model}` has no column with index {field}"
                )
            }
            QueryError::NotARelation { model, field } => {
                write!(formatter, "`{model}.{field}` is not a relation")
            }
            QueryError::CompositeKey { model } => {
                write!(formatter, "model `{model}` has no single-field primary key")
            }
            QueryError::BadCursor { expected, found } => write!(
                formatter,
                "the cursor has {found} values, expected {expected}"
            ),
            QueryError::BadFilter { field, op } => {
                write!(
                    formatter,
                    "wrong number of values for filter {op:?} on `{field}`"
                )
            }
        }
    }
}

impl std::error::Error for QueryError {}
