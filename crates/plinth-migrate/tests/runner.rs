//! The runner on real databases: SQLite files and, when `PLINTH_TEST_POSTGRES_URL` is set, a
//! fresh PostgreSQL database per test (skipped with a message otherwise, unless
//! `PLINTH_REQUIRE_SERVICES=1`). Init → up → status clean, drift by checksum and by catalogue,
//! down then up again, and the fingerprint serve checks.

use plinth_migrate::author::{diff, DiffOptions, DiffOutcome};
use plinth_migrate::catalogue;
use plinth_migrate::database::Database;
use plinth_migrate::folder::{self, Direction};
use plinth_migrate::runner::{self, Drift};
use plinth_migrate::{history, schema_fingerprint};
use plinth_sql::Dialect;
use std::path::{Path, PathBuf};

/// A database for one test; a PostgreSQL one is dropped at the end.
struct TestDatabase {
    url: String,
    admin: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin {
            if let Ok(mut client) = postgres::Client::connect(admin_url, postgres::NoTls) {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

fn databases(test: &str, scratch: &Path) -> Vec<TestDatabase> {
    let mut list = vec![TestDatabase {
        url: format!("sqlite://{}", scratch.join("test.db").display()),
        admin: None,
    }];
    match std::env::var("PLINTH_TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("plinth_migrate_{test}_{}", std::process::id());
            let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
                .expect("PLINTH_TEST_POSTGRES_URL accepts connections");
            // CREATE DATABASE cannot share a batch (an implicit transaction) with another statement.
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .expect("an old test database can be dropped");
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("a test database can be created");
            let base = admin_url
                .rfind('/')
                .map_or(admin_url.as_str(), |slash| &admin_url[..slash]);
            let url = format!("{base}/{name}");
            list.push(TestDatabase {
                url,
                admin: Some((admin_url, name)),
            });
        }
        Err(_) => {
            assert!(
                std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping PostgreSQL for `{test}`: PLINTH_TEST_POSTGRES_URL is not set");
        }
    }
    list
}

fn scratch_directory(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plinth-migrate-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("the scratch directory can be created");
    directory
}

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .join("schema.plinth");
    std::fs::read_to_string(path).expect("the example exists")
}

/// Writes `0001_init` for both dialects from an example; returns the migrations folder.
fn init_migrations(scratch: &Path, example_name: &str) -> PathBuf {
    let directory = scratch.join("migrations");
    let text = example(example_name);
    let (schema, _) = plinth_model::compile(&text);
    let options = DiffOptions {
        dialects: Dialect::ALL.to_vec(),
        ..DiffOptions::default()
    };
    let outcome =
        diff(&directory, &text, &schema, &options).expect("the first migration is written");
    assert!(
        matches!(outcome, DiffOutcome::Written { .. }),
        "{outcome:?}"
    );
    let again = diff(&directory, &text, &schema, &options).expect("diffing again works");
    assert!(matches!(again, DiffOutcome::NothingToDo), "{again:?}");
    directory
}

#[test]
fn init_up_status_clean_then_an_edited_migration_is_drift() {
    let scratch = scratch_directory("checksum");
    let directory = init_migrations(&scratch, "blog");
    for test_database in databases("checksum", &scratch) {
        let url = &test_database.url;
        let mut database = Database::open(url).expect("the database opens");
        let migrations = folder::list(&directory).expect("the folder lists");
        let before = runner::status(&mut database, &migrations).expect("status runs");
        assert_eq!(before.pending.len(), 1, "{url}");
        assert!(before.drift.is_empty(), "{url}: {:?}", before.drift);

        let steps = runner::up(&mut database, &migrations, None).expect("up applies");
        assert_eq!(steps.len(), 1, "{url}");
        let after = runner::status(&mut database, &migrations).expect("status runs");
        assert_eq!(after.applied.len(), 1, "{url}");
        assert!(after.pending.is_empty(), "{url}");
        assert!(after.drift.is_empty(), "{url}: {:?}", after.drift);
        assert!(runner::up(&mut database, &migrations, None)
            .expect("up again")
            .is_empty());

        // Serve's rule: the stored fingerprint is the schema's.
        let (schema, _) = plinth_model::compile(&example("blog"));
        assert_eq!(
            history::stored_fingerprint(&mut database).expect("meta reads"),
            Some(schema_fingerprint(&schema, database.dialect())),
            "{url}"
        );

        let up_path = migrations[0]
            .sql_path(database.dialect(), Direction::Up)
            .expect("up.sql exists");
        let original = std::fs::read_to_string(&up_path).expect("up.sql reads");
        std::fs::write(&up_path, format!("{original}\n-- edited\n")).expect("up.sql writes");
        let edited = runner::status(&mut database, &migrations).expect("status runs");
        assert_eq!(
            edited.drift,
            [Drift::ChecksumChanged {
                migration: "0001_init".into()
            }],
            "{url}"
        );
        std::fs::write(&up_path, original).expect("up.sql restores");
    }
}

#[test]
fn a_hand_made_change_is_catalogue_drift() {
    let scratch = scratch_directory("catalogue");
    let directory = init_migrations(&scratch, "todo");
    for test_database in databases("catalogue", &scratch) {
        let url = &test_database.url;
        let mut database = Database::open(url).expect("the database opens");
        let migrations = folder::list(&directory).expect("the folder lists");
        runner::up(&mut database, &migrations, None).expect("up applies");
        database
            .batch("ALTER TABLE \"Task\" ADD COLUMN \"priority\" INTEGER")
            .expect("the hand-made change applies");
        let status = runner::status(&mut database, &migrations).expect("status runs");
        let [Drift::Catalogue { differences }] = status.drift.as_slice() else {
            panic!("{url}: expected catalogue drift, got {:?}", status.drift);
        };
        assert_eq!(
            differences,
            &["column `Task.priority` is not in the migrations".to_string()],
            "{url}"
        );
    }
}

#[test]
fn down_then_up_again_gives_the_same_catalogue() {
    let scratch = scratch_directory("down-up");
    let directory = init_migrations(&scratch, "saas");
    for test_database in databases("down_up", &scratch) {
        let url = &test_database.url;
        let mut database = Database::open(url).expect("the database opens");
        let migrations = folder::list(&directory).expect("the folder lists");
        runner::up(&mut database, &migrations, None).expect("up applies");
        let first = catalogue::introspect(&mut database).expect("introspects");
        assert!(!first.tables.is_empty(), "{url}");

        let rolled = runner::down(&mut database, &migrations, 1).expect("down rolls back");
        assert_eq!(rolled.len(), 1, "{url}");
        assert!(
            catalogue::introspect(&mut database)
                .expect("introspects")
                .tables
                .is_empty(),
            "{url}: down leaves no table"
        );
        assert_eq!(
            history::stored_fingerprint(&mut database).expect("meta"),
            None
        );
        let status = runner::status(&mut database, &migrations).expect("status runs");
        assert!(
            status.applied.is_empty() && status.drift.is_empty(),
            "{url}: {:?}",
            status.drift
        );

        runner::up(&mut database, &migrations, None).expect("up applies again");
        let second = catalogue::introspect(&mut database).expect("introspects");
        assert_eq!(first, second, "{url}");
    }
}

/// Counts the rows of `table`.
fn count(database: &mut Database, table: &str) -> String {
    database
        .query(
            &format!("SELECT CAST(COUNT(*) AS TEXT) FROM \"{table}\""),
            &[],
        )
        .expect("the table can be counted")
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_default()
}

#[test]
fn a_walk_through_schema_versions_keeps_the_rows() {
    let scratch = scratch_directory("walk");
    let directory = init_migrations(&scratch, "todo");
    let v1 = example("todo");
    let v2 = v1.replacen("  notes ", "  colour     String?\n  notes ", 1);
    let v3 = v2.replacen(
        "  notes ",
        "  rank       Int        @default(0)\n  notes ",
        1,
    );
    let versions = [("add_colour", &v2), ("add_rank", &v3)];
    assert!(
        v3.contains("rank") && v2.contains("colour"),
        "the example still has `notes`"
    );
    let options = DiffOptions {
        dialects: Dialect::ALL.to_vec(),
        ..DiffOptions::default()
    };
    for (name, text) in versions {
        let (schema, diagnostics) = plinth_model::compile(text);
        assert!(
            !plinth_diagnostics::has_errors(&diagnostics),
            "{diagnostics:?}"
        );
        let outcome = diff(
            &directory,
            text,
            &schema,
            &DiffOptions {
                name: Some(name.to_string()),
                ..options.clone()
            },
        )
        .expect("the planner writes the migration");
        assert!(
            matches!(outcome, DiffOutcome::Written { .. }),
            "{outcome:?}"
        );
    }
    let migrations = folder::list(&directory).expect("the folder lists");
    assert_eq!(migrations.len(), 3);
    for test_database in databases("walk", &scratch) {
        let url = &test_database.url;
        let mut database = Database::open(url).expect("the database opens");
        runner::up(&mut database, &migrations, Some(1)).expect("init applies");
        database
            .batch(
                "INSERT INTO \"User\" (\"id\", \"email\", \"password\", \"name\") VALUES ('u1', 'a@example.com', 'h', 'Ann');\n\
                 INSERT INTO \"Category\" (\"id\", \"name\", \"ownerId\") VALUES ('c1', 'Home', 'u1');\n\
                 INSERT INTO \"Task\" (\"id\", \"title\", \"ownerId\", \"categoryId\", \"updatedAt\") VALUES ('t1', 'Milk', 'u1', 'c1', CURRENT_TIMESTAMP), ('t2', 'Bread', 'u1', NULL, CURRENT_TIMESTAMP);",
            )
            .expect("rows insert");
        let initial = catalogue::introspect(&mut database).expect("introspects");
        for step in 1..migrations.len() {
            let applied = runner::up(&mut database, &migrations, Some(1)).expect("up applies");
            assert_eq!(applied.len(), 1, "{url}: step {step}");
            for (table, rows) in [("User", "1"), ("Category", "1"), ("Task", "2")] {
                assert_eq!(
                    count(&mut database, table),
                    rows,
                    "{url}: {table} after step {step}"
                );
            }
            let status = runner::status(&mut database, &migrations).expect("status runs");
            assert!(
                status.drift.is_empty(),
                "{url}: step {step}: {:?}",
                status.drift
            );
        }
        let titles = database
            .query("SELECT title FROM \"Task\" ORDER BY id", &[])
            .expect("titles read");
        assert_eq!(
            titles,
            [[Some("Milk".to_string())], [Some("Bread".to_string())]],
            "{url}"
        );
        let newest = catalogue::introspect(&mut database).expect("introspects");
        runner::down(&mut database, &migrations, 2).expect("down rolls back two");
        assert_eq!(
            catalogue::introspect(&mut database).expect("introspects"),
            initial,
            "{url}"
        );
        assert_eq!(count(&mut database, "Task"), "2", "{url}");
        runner::up(&mut database, &migrations, None).expect("up again");
        assert_eq!(
            catalogue::introspect(&mut database).expect("introspects"),
            newest,
            "{url}"
        );
    }
}
