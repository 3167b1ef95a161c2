//! DDL snapshots of both dialects for every `test_data/*.plinth` and every example app, each file
//! also applied to SQLite and PostgreSQL so a snapshot never records DDL a database rejects.

use std::path::Path;

use plinth_sql::{create_schema, Dialect};

use crate::support::{compile_clean, crate_dir, postgres_url, sqlite_with, TestDatabase};

fn snapshot_and_apply(path: &Path, postgres: Option<&str>) {
    let schema = compile_clean(path);
    let sqlite = create_schema(&schema, Dialect::Sqlite);
    let postgres_ddl = create_schema(&schema, Dialect::Postgres);
    insta::assert_snapshot!("sqlite", sqlite);
    insta::assert_snapshot!("postgres", postgres_ddl);

    // Deterministic: a second run writes the same bytes.
    assert_eq!(sqlite, create_schema(&schema, Dialect::Sqlite));
    assert_eq!(postgres_ddl, create_schema(&schema, Dialect::Postgres));

    if let Err(error) = sqlite_with(&sqlite) {
        panic!("{}: {error}\n--- DDL ---\n{sqlite}", path.display());
    }
    if let Some(url) = postgres {
        let mut database = TestDatabase::create(url);
        if let Err(error) = database.apply(&postgres_ddl) {
            panic!("{}: {error}\n--- DDL ---\n{postgres_ddl}", path.display());
        }
    }
}

#[test]
fn test_data_schemas() {
    let postgres = postgres_url("test_data_schemas");
    insta::glob!("../../test_data", "*.plinth", |path| {
        snapshot_and_apply(path, postgres.as_deref());
    });
}

#[test]
fn example_schemas() {
    let examples = crate_dir().join("../../examples");
    let has_examples = std::fs::read_dir(&examples).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().join("schema.plinth").is_file())
    });
    if !has_examples {
        eprintln!("example_schemas: skipped: no examples/*/schema.plinth in the workspace yet");
        return;
    }
    let postgres = postgres_url("example_schemas");
    insta::glob!("../../../../examples", "*/schema.plinth", |path| {
        snapshot_and_apply(path, postgres.as_deref());
    });
}
