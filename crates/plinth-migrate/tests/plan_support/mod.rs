//! Shared pieces of the planner tests: schema versions, databases (SQLite in memory, a fresh
//! PostgreSQL database per test when `PLINTH_TEST_POSTGRES_URL` is set) and catalogue
//! introspection for comparing a migrated database with a freshly built one.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use plinth_model::Schema;

pub fn compile(source: &str) -> Schema {
    let (schema, diagnostics) = plinth_model::compile(source);
    assert!(
        !plinth_diagnostics::has_errors(&diagnostics),
        "schema has errors: {diagnostics:?}\n{source}"
    );
    schema
}

/// SQLite's stored definitions (tables and indexes), comments dropped and spaces collapsed.
pub fn sqlite_catalogue(connection: &rusqlite::Connection) -> Vec<String> {
    let mut statement = connection
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .expect("prepare");
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .expect("query");
    rows.map(|row| {
        let (kind, name, sql) = row.expect("row");
        let code: Vec<&str> = sql
            .lines()
            .map(|line| match line.find("--") {
                Some(at) => &line[..at],
                None => line,
            })
            .collect();
        let normal = code
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{kind} {name}: {}",
            normal.replace(" ,", ",").replace(", )", " )")
        )
    })
    .collect()
}

pub fn sqlite_rows(connection: &rusqlite::Connection, table: &str) -> Vec<(String, Vec<String>)> {
    let mut columns = Vec::new();
    let mut info = connection
        .prepare(&format!("PRAGMA table_info(\"{table}\")"))
        .expect("table_info");
    let names = info
        .query_map([], |row| row.get::<_, String>(1))
        .expect("columns");
    for name in names {
        columns.push(name.expect("column"));
    }
    columns
        .into_iter()
        .map(|column| {
            let mut statement = connection
                .prepare(&format!("SELECT COALESCE(CAST(\"{column}\" AS TEXT), '<null>') FROM \"{table}\" ORDER BY rowid"))
                .expect("select");
            let values = statement
                .query_map([], |row| row.get::<_, String>(0))
                .expect("values")
                .map(|v| v.expect("value"))
                .collect();
            (column, values)
        })
        .collect()
}

/// A database created for one test and dropped afterwards.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    pub client: Option<postgres::Client>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh PostgreSQL database, or None (with a message) when no server is configured.
pub fn postgres(test: &str) -> Option<PostgresDatabase> {
    let url = match std::env::var("PLINTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{test}: PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_POSTGRES_URL is not set");
            }
            eprintln!("{test}: skipped the PostgreSQL part: PLINTH_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let name = format!(
        "plinth_plan_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    admin
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .expect("create database");
    let mut config: postgres::Config = url.parse().expect("url");
    config.dbname(&name);
    let client = config
        .connect(postgres::NoTls)
        .expect("connect to test database");
    Some(PostgresDatabase {
        admin_url: url,
        name,
        client: Some(client),
    })
}

impl PostgresDatabase {
    pub fn client(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("open connection")
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        drop(self.client.take());
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// Columns (sorted: PostgreSQL appends added columns), indexes, constraints, enums, sequences.
pub fn postgres_catalogue(client: &mut postgres::Client) -> Vec<String> {
    let queries = [
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || udt_name || ' null=' || is_nullable || ' default=' || COALESCE(column_default, '-') || ' len=' || COALESCE(character_maximum_length::text, '-') || ' prec=' || COALESCE(numeric_precision::text, '-') || ',' || COALESCE(numeric_scale::text, '-') FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
        "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        "SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated FROM pg_constraint WHERE connamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))",
        "SELECT 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname",
        "SELECT 'sequence ' || sequence_name FROM information_schema.sequences",
    ];
    let mut lines = Vec::new();
    for query in queries {
        for row in client.query(query, &[]).expect("introspect") {
            lines.push(row.get::<_, String>(0));
        }
    }
    lines.sort();
    lines
}

pub fn postgres_rows(client: &mut postgres::Client, table: &str) -> Vec<(String, Vec<String>)> {
    let columns: Vec<String> = client
        .query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .expect("columns")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let key = columns.first().cloned().unwrap_or_default();
    columns
        .into_iter()
        .map(|column| {
            let values = client
                .query(&format!("SELECT COALESCE(\"{column}\"::text, '<null>') FROM \"{table}\" ORDER BY \"{key}\"::text"), &[])
                .expect("select")
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect();
            (column, values)
        })
        .collect()
}

/// Each column's values as text.
pub type Rows = Vec<(String, Vec<String>)>;

pub const V1: &str = r#"
enum Role {
  USER
  ADMIN
}

model User {
  id    Int    @id @default(autoincrement())
  email String @unique
  name  String?
  role  Role   @default(USER)
  posts Post[]
}

model Post {
  id       Int     @id @default(autoincrement())
  title    String
  body     String?
  views    Int     @default(0)
  author   User    @relation(fields: [authorId], references: [id])
  authorId Int
}
"#;

pub const V1_DATA: &str = "INSERT INTO \"User\" (\"email\", \"name\", \"role\") VALUES ('a@x.io', 'Ann', 'USER'), ('b@x.io', NULL, 'ADMIN');
INSERT INTO \"Post\" (\"title\", \"body\", \"views\", \"authorId\") VALUES ('one', 'text', 3, 1), ('two', NULL, 5, 1), ('three', 'x', 0, 2);";

/// (name, new schema = V1 with these replacements, rename hints, tables that must keep rows).
/// (name, new schema, rename hints).
pub type Transition = (&'static str, String, Vec<(String, String)>);

pub fn transitions() -> Vec<Transition> {
    let change = |pairs: &[(&str, &str)]| {
        let mut source = V1.to_string();
        for (from, to) in pairs {
            assert!(source.contains(from), "{from}");
            source = source.replacen(from, to, 1);
        }
        source
    };
    vec![
        ("add_optional_field", change(&[("  body     String?\n", "  body     String?\n  summary  String?\n")]), vec![]),
        ("add_required_field_with_default", change(&[("  body     String?\n", "  body     String?\n  status   String  @default(\"draft\")\n")]), vec![]),
        ("add_model", change(&[("enum Role", "model Tag {\n  id    Int    @id @default(autoincrement())\n  label String @unique\n}\n\nenum Role")]), vec![]),
        ("drop_field", change(&[("  body     String?\n", "")]), vec![]),
        ("optional_to_required", change(&[("  name  String?\n", "  name  String @default(\"anonymous\")\n")]), vec![]),
        ("required_to_optional", change(&[("  title    String\n", "  title    String?\n")]), vec![]),
        ("rename_field_by_map", change(&[("  title    String\n", "  title    String @map(\"headline\")\n")]), vec![]),
        ("rename_field_by_hint", change(&[("  title    String\n", "  heading  String\n")]), vec![("Post.title".to_string(), "Post.heading".to_string())]),
        ("rename_model_by_map", change(&[("  posts Post[]\n}", "  posts Post[]\n\n  @@map(\"users\")\n}")]), vec![]),
        ("widen_type", change(&[("  views    Int     @default(0)\n", "  views    BigInt  @default(0)\n")]), vec![]),
        ("change_default", change(&[("  views    Int     @default(0)\n", "  views    Int     @default(10)\n")]), vec![]),
        ("add_index_and_unique", change(&[("  authorId Int\n}", "  authorId Int\n\n  @@index([title])\n  @@unique([authorId, title])\n}")]), vec![]),
        ("add_enum_value", change(&[("  USER\n  ADMIN\n", "  USER\n  EDITOR\n  ADMIN\n")]), vec![]),
        ("remove_unused_enum_value", change(&[("  USER\n  ADMIN\n", "  USER\n  ADMIN\n  GUEST\n")]), vec![]),
        ("change_relation_action", change(&[("references: [id])", "references: [id], onDelete: Cascade)")]), vec![]),
        ("add_many_to_many", change(&[("  posts Post[]\n}", "  posts Post[]\n  liked Post[] @relation(\"Likes\")\n}"), ("  authorId Int\n}", "  authorId Int\n  likers   User[] @relation(\"Likes\")\n}")]), vec![]),
        ("policy_only", change(&[("  authorId Int\n}", "  authorId Int\n\n  @@allow(\"read\", true)\n}")]), vec![]),
    ]
}
