//! Rules of the `sql-schema` category: the tables as the SQL files leave them (a migration
//! folder replayed to its last file, see `catalog/from_sql.rs`), judged as a design.
//!
//! Every rule reads the catalogue, never statements, so a foreign key added in one migration
//! and its index added in a later one are seen together, and a column fixed by a later
//! migration is not reported. Findings point where the judged thing was last written: the
//! column's name in its `CREATE TABLE` or `ALTER TABLE`, the constraint, the `CREATE INDEX`.

use super::money::{MONEY_WORDS, NOT_MONEY_WORDS};
use crate::catalog::{Column, Index, Key, Origin, Table, TableSource};
use crate::config::Dialect;
use crate::input::sql::Statement;
use crate::registry::{Category, RuleInfo};
use crate::{Sink, Workspace};
use plinth_diagnostics::Severity;
use sqlparser::ast;
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

const TABLE_WITHOUT_PRIMARY_KEY: &str = "table-without-primary-key";
const FOREIGN_KEY_WITHOUT_INDEX: &str = "foreign-key-without-index";
const PLAINTEXT_SECRET_COLUMN: &str = "plaintext-secret-column";
const MISSING_TIMESTAMPS: &str = "missing-timestamps";
const MONEY_AS_FLOAT: &str = "money-as-float";
const VARCHAR_WITHOUT_LIMIT: &str = "varchar-without-limit";
const NULLABLE_COLUMN_IN_UNIQUE: &str = "nullable-column-in-unique";
const DUPLICATE_INDEX: &str = "duplicate-index";
const REDUNDANT_INDEX: &str = "redundant-index";

const fn rule(id: &'static str, severity: Severity, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        category: Category::SqlSchema,
        summary,
    }
}

pub(crate) const RULES: &[RuleInfo] = &[
    rule(
        TABLE_WITHOUT_PRIMARY_KEY,
        Severity::Error,
        "a table has no primary key",
    ),
    rule(
        FOREIGN_KEY_WITHOUT_INDEX,
        Severity::Warning,
        "a foreign key's columns lead no index, so parent deletes and joins scan the table",
    ),
    rule(
        PLAINTEXT_SECRET_COLUMN,
        Severity::Error,
        "a column named like a password, token or secret is stored as plain text",
    ),
    rule(
        MISSING_TIMESTAMPS,
        Severity::Note,
        "a table has no column recording when each row was created",
    ),
    rule(
        MONEY_AS_FLOAT,
        Severity::Error,
        "a money column (price, amount, balance, …) uses a floating-point type",
    ),
    rule(
        VARCHAR_WITHOUT_LIMIT,
        Severity::Note,
        "a `varchar` column has no length, which in PostgreSQL makes it `text`",
    ),
    rule(
        NULLABLE_COLUMN_IN_UNIQUE,
        Severity::Warning,
        "a multi-column unique key includes a nullable column, so rows with NULL there never conflict",
    ),
    rule(
        DUPLICATE_INDEX,
        Severity::Warning,
        "two indexes (or an index and a key) cover the same columns the same way",
    ),
    rule(
        REDUNDANT_INDEX,
        Severity::Note,
        "an index's columns are a leading prefix of another index on the same table",
    ),
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    for table in &workspace.catalog.tables {
        if table.source != TableSource::Sql {
            continue;
        }
        if is_tool_table(table) {
            continue;
        }
        let postgres = dialect_of(workspace, table.origin) == Dialect::Postgres;
        table_without_primary_key(table, sink);
        foreign_key_without_index(table, sink);
        missing_timestamps(table, sink);
        for column in &table.columns {
            if !hashed_by_schema(workspace, table, column) {
                plaintext_secret_column(table, column, sink);
            }
            money_as_float(table, column, sink);
            if postgres {
                varchar_without_limit(workspace, table, column, sink);
            }
        }
        let indexes = IndexShapes::of(workspace, table);
        nullable_column_in_unique(workspace, table, &indexes, sink);
        duplicate_and_redundant_indexes(table, &indexes, sink);
    }
}

/// True when a schema reviewed alongside says this column holds a hash: a `@password` field
/// (Plinth stores argon2id hashes there, whatever the column is called).
fn hashed_by_schema(workspace: &Workspace, table: &Table, column: &Column) -> bool {
    workspace.schemas.iter().any(|doc| {
        doc.schema.models.iter().any(|model| {
            model.db_name.eq_ignore_ascii_case(&table.name)
                && model.fields.iter().any(|field| {
                    field.is_password && field.db_name.eq_ignore_ascii_case(&column.name)
                })
        })
    })
}

fn dialect_of(workspace: &Workspace, origin: Origin) -> Dialect {
    workspace
        .sql
        .iter()
        .find(|sql| sql.file == origin.file)
        .map_or(Dialect::Postgres, |sql| sql.dialect)
}

/// `auth.users`, or `users` when no schema was written.
fn table_name(table: &Table) -> String {
    match &table.schema {
        Some(schema) => format!("{schema}.{}", table.name),
        None => table.name.clone(),
    }
}

/// Tables that migration tools create for their own bookkeeping: not the user's design.
fn is_tool_table(table: &Table) -> bool {
    matches!(
        table.name.as_str(),
        "schema_migrations"
            | "alembic_version"
            | "__diesel_schema_migrations"
            | "_prisma_migrations"
            | "flyway_schema_history"
            | "goose_db_version"
            | "knex_migrations"
            | "knex_migrations_lock"
            | "typeorm_migrations"
            | "_sqlx_migrations"
            | "django_migrations"
            | "ar_internal_metadata"
            | "schema_version"
    )
}

fn column_list(columns: &[String]) -> String {
    columns.join(", ")
}

// ---------------------------------------------------------------------------------------------
// table-without-primary-key

fn table_without_primary_key(table: &Table, sink: &mut Sink) {
    if table.primary_key.is_some() {
        return;
    }
    let name = table_name(table);
    // A unique key over NOT NULL columns is a primary key in all but name: say so.
    let candidate = table
        .uniques
        .iter()
        .map(|k| &k.columns)
        .chain(
            table
                .indexes
                .iter()
                .filter(|i| i.unique && !i.partial)
                .map(|i| &i.columns),
        )
        .find(|columns| {
            columns
                .iter()
                .all(|c| table.column(c).is_some_and(|c| !c.nullable))
        });
    let help = match candidate {
        Some(columns) => format!(
            "Promote the unique key `({})` to the primary key (`ALTER TABLE {name} ADD PRIMARY KEY USING INDEX …`).",
            column_list(columns)
        ),
        None => "Add a primary key (`id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`, or the \
                 natural key), so each row can be addressed, updated and replicated on its own."
            .to_string(),
    };
    let mut finding = Sink::finding(
        TABLE_WITHOUT_PRIMARY_KEY,
        table.origin.file,
        table.origin.span,
        match candidate {
            Some(columns) => format!(
                "table `{name}` has no primary key, only a unique key on `({})`",
                column_list(columns)
            ),
            None => format!("table `{name}` has no primary key"),
        },
        help,
    );
    // Rows are still addressable through the unique key: a weaker problem (logical
    // replication and many tools still want a primary key), so a warning rather than an error.
    if candidate.is_some() {
        finding.severity = plinth_diagnostics::Severity::Warning;
    }
    sink.push(finding);
}

// ---------------------------------------------------------------------------------------------
// foreign-key-without-index

fn foreign_key_without_index(table: &Table, sink: &mut Sink) {
    for fk in &table.foreign_keys {
        if fk.columns.is_empty() || leads_some_key(table, &fk.columns) {
            continue;
        }
        let name = table_name(table);
        let columns = column_list(&fk.columns);
        sink.report(
            FOREIGN_KEY_WITHOUT_INDEX,
            fk.origin.file,
            fk.origin.span,
            format!(
                "foreign key `{name} ({columns})` → `{}` has no index on its column{}",
                fk.references_table,
                if fk.columns.len() == 1 { "" } else { "s" }
            ),
            format!(
                "Create an index on `{name} ({columns})` (`CONCURRENTLY` on a live table), so \
                 deleting or updating a `{}` row and joining the two tables do not scan `{name}`.",
                fk.references_table
            ),
        );
    }
}

/// True when the primary key, a unique key or a full (non-partial) B-tree or hash index has
/// `columns`, in any order, as its leading columns: PostgreSQL can then find the referencing
/// rows by index.
fn leads_some_key(table: &Table, columns: &[String]) -> bool {
    let leads = |key: &[String]| {
        key.len() >= columns.len()
            && columns
                .iter()
                .all(|c| key[..columns.len()].iter().any(|k| k == c))
    };
    table.primary_key.iter().any(|k| leads(&k.columns))
        || table.uniques.iter().any(|k| leads(&k.columns))
        || table.indexes.iter().any(|i| {
            let usable = match i.method.as_deref() {
                None | Some("btree") => true,
                Some("hash") => columns.len() == 1,
                Some(_) => false,
            };
            usable && !i.partial && leads(&i.columns)
        })
}

// ---------------------------------------------------------------------------------------------
// plaintext-secret-column

/// The words of a column name: `refreshTokenHash` and `refresh_token_hash` are both
/// `[refresh, token, hash]`.
fn words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Words that name a secret on their own.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
];

/// `<word> key` names a secret key (`api_key`, `private_key`, `signing_key`).
const SECRET_KEY_PREFIXES: &[&str] = &[
    "api",
    "private",
    "secret",
    "signing",
    "encryption",
    "hmac",
    "master",
];

/// Words that may follow the secret word and still name the secret itself
/// (`email_change_token_new`, `password_plain`).
const VALUE_WORDS: &[&str] = &[
    "new",
    "current",
    "old",
    "value",
    "plain",
    "plaintext",
    "raw",
];

/// Words before the secret word that say the value is not stored as given
/// (`encrypted_password`, `hashed_token`).
const PROTECTED_WORDS: &[&str] = &[
    "hash",
    "hashed",
    "encrypted",
    "enc",
    "crypted",
    "digest",
    "cipher",
    "ciphertext",
    "sealed",
    "bcrypt",
    "argon2",
    "scrypt",
    "sha256",
    "sha1",
    "sha512",
];

/// Where the secret the name ends with starts, if the name ends with one: the words after it
/// must all be [`VALUE_WORDS`], so `token_type`, `token_expires_at`, `api_key_id` and
/// `password_hash` are not secrets.
fn secret_at(words: &[String]) -> Option<usize> {
    let mut end = words.len();
    while end > 0 && VALUE_WORDS.contains(&words[end - 1].as_str()) {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let last = words[end - 1].as_str();
    if SECRET_WORDS.contains(&last) {
        return Some(end - 1);
    }
    if last == "key" && end >= 2 && SECRET_KEY_PREFIXES.contains(&words[end - 2].as_str()) {
        return Some(end - 2);
    }
    None
}

/// Types that store text as given. `bytea` is left out: binary columns under such names hold
/// digests or ciphertexts far more often than raw secrets (crates.io keeps a SHA-256 of each API
/// token in `api_tokens.token bytea`).
fn is_text_type(data_type: &str) -> bool {
    let base = data_type.split(['(', '[']).next().unwrap_or("").trim();
    matches!(
        base,
        "text"
            | "varchar"
            | "character varying"
            | "char"
            | "character"
            | "bpchar"
            | "citext"
            | "nvarchar"
            | "nchar"
            | "string"
            | "clob"
            | "tinytext"
            | "mediumtext"
            | "longtext"
    )
}

fn plaintext_secret_column(table: &Table, column: &Column, sink: &mut Sink) {
    if !is_text_type(&column.data_type) {
        return;
    }
    let name_words = words(&column.name);
    let Some(at) = secret_at(&name_words) else {
        return;
    };
    let before = &name_words[..at];
    if before.iter().any(|w| PROTECTED_WORDS.contains(&w.as_str())) {
        return;
    }
    // A CSRF token is compared with a cookie that carries it anyway; it grants nothing alone.
    if before.iter().any(|w| w == "csrf" || w == "xsrf") {
        return;
    }
    // A salt next to it means the value is hashed (Harbor: `password` + `salt`).
    if table
        .columns
        .iter()
        .any(|c| words(&c.name).last().is_some_and(|w| w == "salt"))
    {
        return;
    }
    let kind = if name_words[at..]
        .iter()
        .any(|w| matches!(w.as_str(), "password" | "passwd" | "passphrase"))
    {
        "password"
    } else {
        "secret"
    };
    // 60 characters is exactly a bcrypt hash (`$2b$12$…`): a column sized for one holds one.
    if kind == "password"
        && matches!(
            column.data_type.as_str(),
            "varchar(60)" | "character varying(60)" | "char(60)" | "character(60)"
        )
    {
        return;
    }
    let help = if kind == "password" {
        format!(
            "Store a slow salted hash instead (argon2id, bcrypt or scrypt) in a column named \
             like `{}_hash`, and compare hashes at sign-in.",
            column.name
        )
    } else {
        format!(
            "Store a hash of the value (SHA-256 for a random token) or encrypt it if it must be \
             read back; if the application already does, name the column for what it holds \
             (`{0}_hash`, `encrypted_{0}`) so readers and tools can tell.",
            column.name
        )
    };
    sink.report(
        PLAINTEXT_SECRET_COLUMN,
        column.origin.file,
        column.origin.span,
        format!(
            "column `{}.{}` looks like a {kind} stored as plain `{}`",
            table_name(table),
            column.name,
            column.data_type
        ),
        help,
    );
}

// ---------------------------------------------------------------------------------------------
// missing-timestamps

fn is_temporal(data_type: &str) -> bool {
    data_type.starts_with("timestamp")
        || data_type.starts_with("date")
        || data_type == "timestamptz"
}

/// Words that say a time column records when the row came to be: `created_at`, `createdAt`,
/// `inserted_at`, `creation_time`, `date_created`, `push_time` (a pushed artifact),
/// `occurred_at` (an event), `logged_at`.
const CREATION_WORDS: &[&str] = &[
    "creat", "insert", "added", "push", "upload", "occur", "logged", "record", "receiv",
];

/// Words that say a time column holds a future moment, whatever its default.
const FUTURE_WORDS: &[&str] = &["expir", "until", "deadline", "due"];

/// A column that records when its row was created: a time column named for creation or an
/// event, or any time column that defaults to the current time (an `updated_at DEFAULT now()`
/// holds the creation time until the first update, which is what an operator usually needs).
/// An integer epoch counts when named like a time (`created_ts bigint`).
fn records_creation(column: &Column) -> bool {
    let name = column.name.to_lowercase();
    let named = CREATION_WORDS.iter().any(|w| name.contains(w));
    let future = FUTURE_WORDS.iter().any(|w| name.contains(w));
    if is_temporal(&column.data_type) {
        let defaults_to_now = column.default.as_deref().is_some_and(|d| {
            let d = d.to_lowercase();
            [
                "now()",
                "current_timestamp",
                "localtimestamp",
                "clock_timestamp()",
                "statement_timestamp()",
                "transaction_timestamp()",
                "current_date",
            ]
            .iter()
            .any(|f| d.contains(f))
        });
        return named || (defaults_to_now && !future);
    }
    let name_words = words(&column.name);
    let time_named = name_words.last().is_some_and(|w| {
        matches!(
            w.as_str(),
            "at" | "time" | "ts" | "timestamp" | "date" | "on"
        )
    });
    let integer = ["int", "bigint", "integer", "int8", "int4", "numeric"]
        .iter()
        .any(|t| column.data_type == *t);
    named && time_named && integer
}

fn missing_timestamps(table: &Table, sink: &mut Sink) {
    if table.columns.is_empty() || table.columns.iter().any(records_creation) {
        return;
    }
    let in_foreign_key = |name: &str| {
        table
            .foreign_keys
            .iter()
            .any(|fk| fk.columns.iter().any(|c| c == name))
    };
    // Join tables and key-only tables (every column in a foreign key or the primary key) record
    // a fact with no life of its own.
    let key_only = table.columns.iter().all(|c| {
        in_foreign_key(&c.name)
            || table
                .primary_key
                .as_ref()
                .is_some_and(|k| k.columns.contains(&c.name))
    });
    // A table whose primary key is a foreign key extends its parent one-to-one (a counter, a
    // rendering); the parent row records the creation.
    let extension = table.primary_key.as_ref().is_some_and(|k| {
        table
            .foreign_keys
            .iter()
            .any(|fk| !fk.columns.is_empty() && fk.columns.iter().all(|c| k.columns.contains(c)))
    });
    // A lookup table (an id, a code, a name, referencing nothing, no time at all) holds
    // reference data loaded with the schema.
    let lookup = table.columns.len() <= 4
        && table.foreign_keys.is_empty()
        && !table.columns.iter().any(|c| is_temporal(&c.data_type));
    if key_only || extension || lookup {
        return;
    }
    let name = table_name(table);
    sink.report(
        MISSING_TIMESTAMPS,
        table.origin.file,
        table.origin.span,
        format!("table `{name}` has no column recording when a row was created"),
        "Add `created_at timestamptz NOT NULL DEFAULT now()` (and `updated_at` if rows change), \
         so support, audits and data fixes can tell when each row appeared.",
    );
}

// ---------------------------------------------------------------------------------------------
// money-as-float

fn is_float(data_type: &str) -> bool {
    let base = data_type.split('(').next().unwrap_or("").trim();
    matches!(
        base,
        "real" | "float" | "float4" | "float8" | "double precision" | "double" | "float64"
    )
}

fn money_as_float(table: &Table, column: &Column, sink: &mut Sink) {
    if !is_float(&column.data_type) {
        return;
    }
    let words = words(&column.name);
    let money = words.iter().any(|w| MONEY_WORDS.contains(&w.as_str()));
    let other = words.iter().any(|w| NOT_MONEY_WORDS.contains(&w.as_str()));
    // `total` alone is as often a count or a duration as a sum of money.
    let only_total = words
        .iter()
        .filter(|w| MONEY_WORDS.contains(&w.as_str()))
        .all(|w| w == "total");
    if !money || other || only_total {
        return;
    }
    sink.report(
        MONEY_AS_FLOAT,
        column.origin.file,
        column.origin.span,
        format!(
            "money column `{}.{}` is `{}`, a binary floating-point type",
            table_name(table),
            column.name,
            column.data_type
        ),
        "Use `numeric(precision, scale)` (for example `numeric(12, 2)`) or an integer count of \
         the smallest unit (cents), so sums and comparisons are exact.",
    );
}

// ---------------------------------------------------------------------------------------------
// varchar-without-limit

/// Last words of names that hold short identifiers, whose length the data itself bounds.
const IDENTIFIER_WORDS: &[&str] = &[
    "email", "username", "login", "handle", "slug", "phone", "locale", "currency", "country",
    "zip", "zipcode", "postcode", "iban", "sku",
];

fn varchar_without_limit(workspace: &Workspace, table: &Table, column: &Column, sink: &mut Sink) {
    let bare = matches!(column.data_type.as_str(), "varchar" | "character varying");
    if !bare {
        return;
    }
    let expected = words(&column.name)
        .last()
        .is_some_and(|w| IDENTIFIER_WORDS.contains(&w.as_str()));
    if !expected || has_length_check(workspace, table, column) {
        return;
    }
    sink.report(
        VARCHAR_WITHOUT_LIMIT,
        column.origin.file,
        column.origin.span,
        format!(
            "column `{}.{}` is `{}` with no length, so it takes text of any size",
            table_name(table),
            column.name,
            column.data_type
        ),
        format!(
            "Give it the limit its values have (`varchar(n)`, or `text` with \
             `CHECK (char_length({}) <= n)`), so an oversized value is refused by the database.",
            column.name
        ),
    );
}

/// A `CHECK (char_length(col) <= n)` (or `length`, `octet_length`) anywhere in a statement
/// about the table: the limit is there, written another way.
fn has_length_check(workspace: &Workspace, table: &Table, column: &Column) -> bool {
    let column_name = column.name.to_lowercase();
    let calls = [
        "char_length(",
        "length(",
        "octet_length(",
        "character_length(",
    ];
    workspace
        .sql
        .iter()
        .flat_map(|f| &f.statements)
        .any(|statement| {
            let text = statement.text.to_lowercase();
            text.contains("check")
                && text.contains(&table.name.to_lowercase())
                && calls.iter().any(|call| {
                    text.match_indices(call).any(|(at, _)| {
                        text[at + call.len()..]
                            .trim_start()
                            .trim_start_matches('"')
                            .starts_with(&column_name)
                    })
                })
        })
}

// ---------------------------------------------------------------------------------------------
// Index shapes, read back from the statements that created them

/// What makes two indexes the same index: the entries with their operator class and order,
/// the method, the predicate and the INCLUDE list, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shape {
    entries: Vec<String>,
    /// Each entry's operator class and order (`DESC`, `text_pattern_ops`), empty when plain.
    modifiers: Vec<String>,
    method: String,
    predicate: Option<String>,
    include: Vec<String>,
    nulls_not_distinct: bool,
}

/// The shapes of one table's indexes (`None` where the `CREATE INDEX` cannot be read back).
struct IndexShapes {
    shapes: Vec<Option<Shape>>,
}

impl IndexShapes {
    fn of(workspace: &Workspace, table: &Table) -> IndexShapes {
        IndexShapes {
            shapes: table
                .indexes
                .iter()
                .map(|index| shape(workspace, index))
                .collect(),
        }
    }
}

/// Parses the `CREATE INDEX` an index's origin spans.
fn shape(workspace: &Workspace, index: &Index) -> Option<Shape> {
    let source = workspace.files.get(index.origin.file)?;
    let text = source.text.get(index.origin.span.range())?.to_string();
    let dialect = dialect_of(workspace, index.origin);
    let parsed = match dialect {
        Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, &text),
        Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, &text),
    };
    let statement = Statement {
        span: index.origin.span,
        text,
        comments: String::new(),
        ast: parsed
            .ok()
            .and_then(|mut s| if s.len() == 1 { s.pop() } else { None }),
        parse_error: None,
    };
    let (ast, _) = statement.ast_with_placeholders(dialect)?;
    let ast::Statement::CreateIndex(create) = ast.as_ref() else {
        return None;
    };
    let modifiers = create
        .columns
        .iter()
        .map(|c| {
            let mut text = String::new();
            if let Some(class) = &c.operator_class {
                text.push_str(&class.to_string().to_lowercase());
            }
            // `ASC` is the default order; `DESC` and `USING <operator>` are not.
            match &c.column.options.sort {
                Some(ast::OrderBySort::Desc) => text.push_str(" desc"),
                Some(ast::OrderBySort::Using(operator)) => {
                    text.push_str(&format!(" using {operator}"));
                }
                Some(ast::OrderBySort::Asc) | None => {}
            }
            if let Some(first) = c.column.options.nulls_first {
                text.push_str(if first { " nulls first" } else { " nulls last" });
            }
            text.trim().to_string()
        })
        .collect();
    Some(Shape {
        entries: index.columns.iter().map(|c| c.to_lowercase()).collect(),
        modifiers,
        method: index.method.clone().unwrap_or_else(|| "btree".to_string()),
        predicate: create.predicate.as_ref().map(|p| normalize(&p.to_string())),
        include: create
            .include
            .iter()
            .map(|i| i.value.to_lowercase())
            .collect(),
        nulls_not_distinct: create.nulls_distinct == Some(false),
    })
}

/// Lowercase, single-spaced, without redundant outer parentheses: `(deleted_at IS NULL)` and
/// `deleted_at is null` compare equal.
fn normalize(expression: &str) -> String {
    let mut text = expression.split_whitespace().collect::<Vec<_>>().join(" ");
    text.make_ascii_lowercase();
    while text.starts_with('(') && text.ends_with(')') && balanced(&text[1..text.len() - 1]) {
        text = text[1..text.len() - 1].trim().to_string();
    }
    text
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

/// The shape of a primary key or unique constraint: a plain unique B-tree index.
fn key_shape(key: &Key) -> Shape {
    Shape {
        entries: key.columns.iter().map(|c| c.to_lowercase()).collect(),
        modifiers: vec![String::new(); key.columns.len()],
        method: "btree".to_string(),
        predicate: None,
        include: Vec::new(),
        nulls_not_distinct: false,
    }
}

// ---------------------------------------------------------------------------------------------
// nullable-column-in-unique

/// Whether the constraint at `key`'s origin was written `UNIQUE NULLS NOT DISTINCT`: the words
/// between the last `UNIQUE` before the key's columns and their end.
fn key_nulls_not_distinct(workspace: &Workspace, key: &Key) -> bool {
    let Some(source) = workspace.files.get(key.origin.file) else {
        return false;
    };
    let end = (key.origin.span.end as usize).min(source.text.len());
    let mut start = (key.origin.span.start as usize).saturating_sub(200);
    while !source.text.is_char_boundary(start) {
        start -= 1;
    }
    let region = source.text[start..end].to_ascii_lowercase();
    let region = region.split_whitespace().collect::<Vec<_>>().join(" ");
    region
        .rfind("unique")
        .is_some_and(|at| region[at..].contains("nulls not distinct"))
}

fn nullable_column_in_unique(
    workspace: &Workspace,
    table: &Table,
    indexes: &IndexShapes,
    sink: &mut Sink,
) {
    let name = table_name(table);
    let mut check = |columns: &[String], predicate: Option<&str>, origin: Origin, what: &str| {
        if columns.len() < 2 {
            // A single nullable unique column is "unique when present", which is what it is
            // almost always meant to be.
            return;
        }
        // A nullable reference in the key (`UNIQUE (parent_id, name)`): NULL is the root, the
        // global scope, the system owner, and that is where duplicates pile up. A nullable
        // attribute (`UNIQUE (user_id, phone)`) reads as "unique when present" and is left alone,
        // as is a column the partial index's predicate mentions (it decides about its NULLs).
        let nullable: Vec<&str> = columns
            .iter()
            .filter_map(|c| table.column(c))
            .filter(|c| c.nullable && is_reference(table, &c.name))
            .map(|c| c.name.as_str())
            .filter(|c| !predicate.is_some_and(|p| mentions(p, c)))
            .collect();
        let Some(first) = nullable.first() else {
            return;
        };
        let listed = nullable
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        sink.report(
            NULLABLE_COLUMN_IN_UNIQUE,
            origin.file,
            origin.span,
            format!(
                "{what} `{name} ({})` includes nullable column{} {listed}, so rows with NULL there never conflict",
                column_list(columns),
                if nullable.len() == 1 { "" } else { "s" },
            ),
            format!(
                "Make `{first}` NOT NULL, declare the key `NULLS NOT DISTINCT` (PostgreSQL 15), \
                 or add a partial unique index for the rows where it is NULL."
            ),
        );
    };
    for key in &table.uniques {
        if !key_nulls_not_distinct(workspace, key) {
            check(&key.columns, None, key.origin, "unique constraint");
        }
    }
    for (index, shape) in table.indexes.iter().zip(&indexes.shapes) {
        if !index.unique {
            continue;
        }
        let Some(shape) = shape else {
            continue;
        };
        if shape.nulls_not_distinct {
            continue;
        }
        check(
            &index.columns,
            shape.predicate.as_deref(),
            index.origin,
            "unique index",
        );
    }
}

/// A column in a foreign key, or named like one (`project_id`, `parentId`).
fn is_reference(table: &Table, column: &str) -> bool {
    table
        .foreign_keys
        .iter()
        .any(|fk| fk.columns.iter().any(|c| c == column))
        || words(column).last().is_some_and(|w| w == "id") && column.len() > 2
}

/// True when `expression` uses `column` as a word.
fn mentions(expression: &str, column: &str) -> bool {
    expression
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| word.eq_ignore_ascii_case(column))
}

// ---------------------------------------------------------------------------------------------
// duplicate-index and redundant-index

fn duplicate_and_redundant_indexes(table: &Table, indexes: &IndexShapes, sink: &mut Sink) {
    let name = table_name(table);
    let label = |kind: &str, key: &Key| match &key.name {
        Some(name) => format!("{kind} `{name}`"),
        None => kind.to_string(),
    };
    let keys: Vec<(&Key, Shape, String)> = table
        .primary_key
        .iter()
        .map(|k| (k, key_shape(k), label("primary key", k)))
        .chain(
            table
                .uniques
                .iter()
                .map(|k| (k, key_shape(k), label("unique constraint", k))),
        )
        .collect();
    // Two constraints on the same columns: the later one is the duplicate.
    for (i, (key, shape, what)) in keys.iter().enumerate() {
        if let Some((first, _, first_what)) = keys[..i].iter().find(|(_, s, _)| s == shape) {
            sink.push(
                Sink::finding(
                    DUPLICATE_INDEX,
                    key.origin.file,
                    key.origin.span,
                    format!(
                        "{what} on `{name} ({})` duplicates the {first_what}",
                        column_list(&key.columns)
                    ),
                    "Drop one of them: each is a full index that every write must update.",
                )
                .with_related(
                    first.origin.file,
                    first.origin.span,
                    format!("the {first_what}"),
                ),
            );
        }
    }
    for (i, (index, shape)) in table.indexes.iter().zip(&indexes.shapes).enumerate() {
        let Some(shape) = shape else {
            continue;
        };
        let label = index_label(index);
        // The same shape as a constraint's index, or as an earlier index.
        let same_key = keys
            .iter()
            .find(|(_, key, _)| same_as_key(shape, key))
            .map(|(key, _, what)| (key.origin, what.clone()));
        // Of two indexes of the same shape, the later one is reported, or the one that is not
        // UNIQUE when only one is (the unique one enforces something).
        let same_index = || {
            table
                .indexes
                .iter()
                .zip(&indexes.shapes)
                .enumerate()
                .find(|(j, (other, other_shape))| {
                    *j != i
                        && other_shape.as_ref() == Some(shape)
                        && ((other.unique && !index.unique)
                            || (other.unique == index.unique && *j < i))
                })
                .map(|(_, (other, _))| (other.origin, format!("index {}", index_label(other))))
        };
        if let Some((origin, what)) = same_key.or_else(same_index) {
            sink.push(
                Sink::finding(
                    DUPLICATE_INDEX,
                    index.origin.file,
                    index.origin.span,
                    format!(
                        "index {label} on `{name} ({})` duplicates the {what}",
                        column_list(&index.columns)
                    ),
                    format!(
                        "Drop index {label} (`DROP INDEX CONCURRENTLY`): the other one serves the \
                         same queries, and each index slows every write."
                    ),
                )
                .with_related(origin.file, origin.span, format!("the {what}")),
            );
            continue;
        }
        if index.unique || index.partial || !shape.include.is_empty() || shape.method != "btree" {
            continue;
        }
        // A strict leading prefix of a wider B-tree index (or key) with the same modifiers.
        let wider_key = keys
            .iter()
            .find(|(_, key, _)| is_prefix(shape, key))
            .map(|(key, _, what)| (key.origin, what.clone(), key.columns.clone()));
        let wider_index = || {
            table
                .indexes
                .iter()
                .zip(&indexes.shapes)
                .find(|(other, other_shape)| {
                    !other.partial && other_shape.as_ref().is_some_and(|o| is_prefix(shape, o))
                })
                .map(|(other, _)| {
                    (
                        other.origin,
                        format!("index {}", index_label(other)),
                        other.columns.clone(),
                    )
                })
        };
        if let Some((origin, what, columns)) = wider_key.or_else(wider_index) {
            sink.push(
                Sink::finding(
                    REDUNDANT_INDEX,
                    index.origin.file,
                    index.origin.span,
                    format!(
                        "index {label} on `{name} ({})` is a leading prefix of the {what} on `({})`",
                        column_list(&index.columns),
                        column_list(&columns)
                    ),
                    format!(
                        "Drop index {label} (`DROP INDEX CONCURRENTLY`) unless measurements show \
                         the narrower index matters: the wider one serves the same lookups."
                    ),
                )
                .with_related(origin.file, origin.span, format!("the {what}")),
            );
        }
    }
}

fn index_label(index: &Index) -> String {
    index
        .name
        .as_ref()
        .map_or_else(String::new, |n| format!("`{n}`"))
}

/// An index with the same columns as a key, plain B-tree, full, no INCLUDE: the key's own
/// index already is that index (whether or not this one is UNIQUE).
fn same_as_key(shape: &Shape, key: &Shape) -> bool {
    shape.entries == key.entries
        && shape.modifiers.iter().all(String::is_empty)
        && shape.method == "btree"
        && shape.predicate.is_none()
        && shape.include.is_empty()
}

/// `shape`'s entries are a strict leading prefix of `wider`'s, with the same modifiers, method,
/// and neither partial.
fn is_prefix(shape: &Shape, wider: &Shape) -> bool {
    shape.entries.len() < wider.entries.len()
        && wider.entries[..shape.entries.len()] == shape.entries[..]
        && wider.modifiers[..shape.modifiers.len()] == shape.modifiers[..]
        && wider.method == shape.method
        && wider.predicate.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<(&'static str, String)> {
        let workspace = crate::load_sources(vec![("schema.sql".into(), sql.into())]);
        let mut sink = Sink::default();
        check(&workspace, &mut sink);
        sink.into_findings()
            .into_iter()
            .map(|f| {
                (
                    f.rule,
                    workspace.files[f.file].text[f.span.range()].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn secret_names() {
        let secret = |name: &str| secret_at(&words(name)).is_some();
        for name in [
            "password",
            "api_key",
            "apiKey",
            "refresh_token",
            "email_change_token_new",
            "client_secret",
            "private_key",
            "otpSecret",
        ] {
            assert!(secret(name), "{name}");
        }
        for name in [
            "token_type",
            "tokens_count",
            "token_expires_at",
            "user_token_id",
            "password_hash",
            "password_changed_at",
            "public_key",
            "api_key_prefix",
            "key",
            "idempotency_key",
        ] {
            assert!(!secret(name), "{name}");
        }
    }

    #[test]
    fn rules_see_the_final_schema() {
        let sql =
            "CREATE TABLE users (id int PRIMARY KEY, password text, encrypted_password text, \
                   created_at timestamptz);\n\
                   CREATE TABLE posts (id int PRIMARY KEY, user_id int REFERENCES users, \
                   price double precision, tax_rate real, created_at timestamptz);\n\
                   CREATE INDEX posts_user ON posts (user_id);\n\
                   CREATE INDEX posts_user_again ON posts USING btree (user_id);\n\
                   CREATE TABLE logs (message text, level int, contact_email varchar, at timestamptz);";
        let found = names(sql);
        assert_eq!(
            found,
            [
                (PLAINTEXT_SECRET_COLUMN, "password".to_string()),
                (MONEY_AS_FLOAT, "price".to_string()),
                (
                    DUPLICATE_INDEX,
                    "CREATE INDEX posts_user_again ON posts USING btree (user_id)".to_string()
                ),
                (TABLE_WITHOUT_PRIMARY_KEY, "logs".to_string()),
                (MISSING_TIMESTAMPS, "logs".to_string()),
                (VARCHAR_WITHOUT_LIMIT, "contact_email".to_string()),
            ]
        );
    }

    #[test]
    fn predicates_and_modifiers_tell_indexes_apart() {
        let sql = "CREATE TABLE t (id int PRIMARY KEY, a text NOT NULL, b_id int, c int, \
                   created_at timestamptz);\n\
                   CREATE INDEX t_a ON t (a) WHERE b_id IS NULL;\n\
                   CREATE INDEX t_a2 ON t (a) WHERE (b_id is null);\n\
                   CREATE INDEX t_a_pattern ON t (a text_pattern_ops);\n\
                   CREATE INDEX t_a_b ON t (a, b_id);\n\
                   CREATE INDEX t_a_only ON t (a);\n\
                   CREATE UNIQUE INDEX t_a_c ON t (a, c) WHERE c IS NOT NULL;\n\
                   CREATE UNIQUE INDEX t_a_b_u ON t (a, b_id);";
        let found = names(sql);
        let rules: Vec<(&str, &str)> = found
            .iter()
            .map(|(rule, text)| (*rule, text.split(" ON ").next().unwrap()))
            .collect();
        assert_eq!(
            rules,
            [
                (NULLABLE_COLUMN_IN_UNIQUE, "CREATE UNIQUE INDEX t_a_b_u"),
                (DUPLICATE_INDEX, "CREATE INDEX t_a2"),
                (DUPLICATE_INDEX, "CREATE INDEX t_a_b"),
                (REDUNDANT_INDEX, "CREATE INDEX t_a_only"),
            ]
        );
    }
}
