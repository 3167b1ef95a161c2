//! The acceptance walk of `plinth migrate`: one schema taken through the versions in
//! `test_data/walk/` (every kind of change the planner covers), written as migration folders by
//! the same library call `plinth migrate diff` makes and applied one at a time by the one
//! `plinth migrate up` makes, with rows in every table, on SQLite and (when
//! `PLINTH_TEST_POSTGRES_URL` is set) a fresh PostgreSQL database. After every `up`: row counts
//! and per-column content checksums of what survives are unchanged, the status shows no drift,
//! and `down` then `up` again gives back the catalogue before and after the step. Destructive
//! versions are refused without `--allow-destructive` and written with it.

use plinth_migrate::author::{diff, DiffOptions, DiffOutcome};
use plinth_migrate::catalogue::{self, Catalogue};
use plinth_migrate::database::Database;
use plinth_migrate::fingerprint::sha256_hex;
use plinth_migrate::folder;
use plinth_migrate::runner;
use plinth_sql::Dialect;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One version of the walk and what its migration is expected to do to the data.
struct Version {
    file: &'static str,
    name: &'static str,
    /// `--rename` hints given to `diff`.
    renames: &'static [(&'static str, &'static str)],
    /// The change loses data: `diff` must refuse it without `--allow-destructive`.
    destructive: bool,
    /// Old table → new table.
    renamed_tables: &'static [(&'static str, &'static str)],
    /// (new table, old column) → new column.
    renamed_columns: &'static [(&'static str, &'static str, &'static str)],
    /// `table.column` (new names) whose values this step changes on purpose.
    changed: &'static [&'static str],
    /// `table` or `table.column` (old names) this step drops.
    dropped: &'static [&'static str],
    /// Rows added after the step (and after its down/up round trip), in SQL both dialects run.
    seed: &'static str,
    /// A row that makes this step fail (inserted before `up`, removed after the failure), to
    /// show a destructive step stops rather than losing it.
    blocked_by: Option<(&'static str, &'static str)>,
}

const VERSIONS: &[Version] = &[
    Version {
        file: "v01.plinth",
        name: "init",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "INSERT INTO \"Author\" (\"id\", \"email\", \"name\", \"bio\", \"age\") VALUES (1, 'ann@example.com', 'Ann', 'writes', 30), (2, 'bob@example.com', 'Bob', NULL, 41);\n\
               INSERT INTO \"Post\" (\"id\", \"title\", \"body\", \"status\", \"views\", \"rating\", \"authorId\") VALUES (1, 'Hello', 'first post', 'PUBLISHED', 5, 4.0, 1), (2, 'Draft', 'not yet', 'DRAFT', 0, NULL, 2), (3, 'Again', 'second post', 'PUBLISHED', 12, 3.0, 1);\n\
               INSERT INTO \"Legacy\" (\"id\", \"note\") VALUES (1, 'keep me'), (2, 'and me');",
        blocked_by: None,
    },
    Version {
        file: "v02.plinth",
        name: "add_tag_and_fields",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "INSERT INTO \"Tag\" (\"id\", \"name\") VALUES (1, 'rust'), (2, 'sql');\n\
               UPDATE \"Post\" SET \"subtitle\" = 'sub' WHERE \"id\" = 1;",
        blocked_by: None,
    },
    Version {
        file: "v03.plinth",
        name: "rename_by_map",
        renames: &[],
        destructive: false,
        renamed_tables: &[("Legacy", "legacy_notes")],
        renamed_columns: &[("Post", "body", "content")],
        changed: &[],
        dropped: &[],
        seed: "",
        blocked_by: None,
    },
    Version {
        file: "v04.plinth",
        name: "rename_by_hint",
        renames: &[("Author.name", "Author.fullName"), ("Tag", "Label")],
        destructive: false,
        renamed_tables: &[("Tag", "Label")],
        renamed_columns: &[("Author", "name", "fullName")],
        changed: &[],
        dropped: &[],
        seed: "",
        blocked_by: None,
    },
    Version {
        file: "v05.plinth",
        name: "change_types",
        renames: &[],
        destructive: true,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &["Post.rating"],
        dropped: &[],
        seed: "",
        blocked_by: None,
    },
    Version {
        file: "v06.plinth",
        name: "optionality_and_defaults",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &["Author.bio"],
        dropped: &[],
        seed: "INSERT INTO \"Author\" (\"id\", \"email\", \"fullName\", \"age\") VALUES (3, 'cy@example.com', 'Cy', NULL);",
        blocked_by: None,
    },
    Version {
        file: "v07.plinth",
        name: "uniques_and_indexes",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "",
        blocked_by: None,
    },
    Version {
        file: "v08.plinth",
        name: "add_enum_value",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "INSERT INTO \"Post\" (\"id\", \"title\", \"content\", \"status\", \"authorId\") VALUES (4, 'Pending', 'in review', 'REVIEW', 3);",
        blocked_by: None,
    },
    Version {
        file: "v09.plinth",
        name: "remove_enum_value",
        renames: &[],
        destructive: true,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "",
        blocked_by: Some((
            "INSERT INTO \"Post\" (\"id\", \"title\", \"content\", \"status\", \"authorId\") VALUES (99, 'Old', 'archived', 'ARCHIVED', 1);",
            "DELETE FROM \"Post\" WHERE \"id\" = 99;",
        )),
    },
    Version {
        file: "v10.plinth",
        name: "relations",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "INSERT INTO \"_LabelToPost\" (\"A\", \"B\") VALUES (1, 1), (2, 1), (1, 3);\n\
               UPDATE \"Post\" SET \"parentId\" = 1 WHERE \"id\" = 3;",
        blocked_by: None,
    },
    Version {
        file: "v11.plinth",
        name: "drop_model_and_field",
        renames: &[],
        destructive: true,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &["legacy_notes", "Post.subtitle"],
        seed: "",
        blocked_by: None,
    },
    Version {
        file: "v12.plinth",
        name: "policy_only",
        renames: &[],
        destructive: false,
        renamed_tables: &[],
        renamed_columns: &[],
        changed: &[],
        dropped: &[],
        seed: "",
        blocked_by: None,
    },
];

fn version_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/walk")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn scratch_directory(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plinth-migrate-walk")
        .join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("the scratch directory can be created");
    directory
}

/// Writes one migration per version, as `plinth migrate diff --dialect all` does; destructive
/// versions must first be refused, with nothing written.
fn write_migrations(directory: &Path) -> Vec<folder::Migration> {
    for version in VERSIONS {
        let text = version_text(version.file);
        let (schema, diagnostics) = plinth_model::compile(&text);
        assert!(
            !plinth_diagnostics::has_errors(&diagnostics),
            "{}: {diagnostics:?}",
            version.file
        );
        let options = DiffOptions {
            name: Some(version.name.to_string()),
            renames: version
                .renames
                .iter()
                .map(|(old, new)| (old.to_string(), new.to_string()))
                .collect(),
            allow_destructive: false,
            dialects: Dialect::ALL.to_vec(),
        };
        let before = folder::list(directory).expect("the folder lists").len();
        let outcome = diff(directory, &text, &schema, &options).expect("diff runs");
        let outcome = if version.destructive {
            let DiffOutcome::Destructive { losses } = &outcome else {
                panic!(
                    "{}: a destructive change must be refused, got {outcome:?}",
                    version.file
                );
            };
            assert!(!losses.is_empty(), "{}", version.file);
            assert_eq!(
                folder::list(directory).expect("the folder lists").len(),
                before,
                "{}: a refused migration writes nothing",
                version.file
            );
            for dialect in Dialect::ALL {
                let alone = DiffOptions {
                    dialects: vec![dialect],
                    ..options.clone()
                };
                let outcome = diff(directory, &text, &schema, &alone).expect("diff runs");
                assert!(
                    matches!(outcome, DiffOutcome::Destructive { .. }),
                    "{}: {} alone must refuse too, got {outcome:?}",
                    version.file,
                    dialect.display_name()
                );
            }
            let allowed = DiffOptions {
                allow_destructive: true,
                ..options
            };
            let written = diff(directory, &text, &schema, &allowed).expect("diff runs");
            if let DiffOutcome::Written { folder, .. } = &written {
                for dialect in Dialect::ALL {
                    let down = folder.join(dialect.directory_name()).join("down.sql");
                    let down = std::fs::read_to_string(&down).expect("down.sql reads");
                    assert!(
                        down.contains("IRREVERSIBLE"),
                        "{}: the {} down.sql must say what it cannot restore:\n{down}",
                        version.file,
                        dialect.display_name()
                    );
                }
            }
            written
        } else {
            outcome
        };
        assert!(
            matches!(outcome, DiffOutcome::Written { .. }),
            "{}: {outcome:?}",
            version.file
        );
        let again = diff(
            directory,
            &text,
            &schema,
            &DiffOptions {
                dialects: Dialect::ALL.to_vec(),
                ..DiffOptions::default()
            },
        )
        .expect("diff runs");
        assert!(
            matches!(again, DiffOutcome::NothingToDo),
            "{}: diffing the same schema again must do nothing, got {again:?}",
            version.file
        );
    }
    let migrations = folder::list(directory).expect("the folder lists");
    assert_eq!(migrations.len(), VERSIONS.len());
    migrations
}

/// A database for the walk; a PostgreSQL one is dropped at the end.
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

fn sqlite_database(scratch: &Path) -> TestDatabase {
    TestDatabase {
        url: format!("sqlite://{}", scratch.join("walk.db").display()),
        admin: None,
    }
}

fn postgres_database(test: &str) -> Option<TestDatabase> {
    let admin_url = match std::env::var("PLINTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            assert!(
                std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipping PostgreSQL for `{test}`: PLINTH_TEST_POSTGRES_URL is not set");
            return None;
        }
    };
    let name = format!("plinth_walk_{test}_{}", std::process::id());
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
    Some(TestDatabase {
        url: format!("{base}/{name}"),
        admin: Some((admin_url, name)),
    })
}

/// A table's row count and a checksum of each column's values, rows ordered by `id` (or by
/// their whole content when there is no `id`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct TableData {
    rows: usize,
    columns: BTreeMap<String, String>,
}

fn data(database: &mut Database) -> BTreeMap<String, TableData> {
    let live = catalogue::introspect(database).expect("the catalogue introspects");
    let mut tables = BTreeMap::new();
    for (table, columns) in &live.tables {
        let names: Vec<&String> = columns.keys().collect();
        let select: Vec<String> = names
            .iter()
            .map(|column| format!("CAST(\"{column}\" AS TEXT)"))
            .collect();
        let mut rows = database
            .query(
                &format!("SELECT {} FROM \"{table}\"", select.join(", ")),
                &[],
            )
            .expect("the table reads");
        let id = names.iter().position(|name| name.as_str() == "id");
        rows.sort_by_key(|row| {
            let key = id
                .and_then(|position| row.get(position).cloned().flatten())
                .and_then(|value| value.parse::<i64>().ok());
            (key, row.clone())
        });
        let checksums = names
            .iter()
            .enumerate()
            .map(|(position, name)| {
                let values: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        row.get(position)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| "<null>".to_string())
                    })
                    .collect();
                (
                    name.to_string(),
                    sha256_hex(values.join("\u{1f}").as_bytes()),
                )
            })
            .collect();
        tables.insert(
            table.clone(),
            TableData {
                rows: rows.len(),
                columns: checksums,
            },
        );
    }
    tables
}

/// Every table and column of `before` survives into `after` (under its new name) with the same
/// rows and values, except what the version changes or drops on purpose.
fn assert_data_kept(
    label: &str,
    version: &Version,
    before: &BTreeMap<String, TableData>,
    after: &BTreeMap<String, TableData>,
) {
    for (old_table, old_data) in before {
        if version.dropped.contains(&old_table.as_str()) {
            assert!(
                !after.contains_key(old_table),
                "{label}: `{old_table}` should be dropped"
            );
            continue;
        }
        let new_table = version
            .renamed_tables
            .iter()
            .find(|(old, _)| old == old_table)
            .map_or(old_table.as_str(), |(_, new)| *new);
        let Some(new_data) = after.get(new_table) else {
            panic!("{label}: table `{old_table}` (now `{new_table}`) is gone");
        };
        assert_eq!(
            old_data.rows, new_data.rows,
            "{label}: row count of `{new_table}`"
        );
        for (old_column, checksum) in &old_data.columns {
            if version
                .dropped
                .contains(&format!("{old_table}.{old_column}").as_str())
            {
                assert!(
                    !new_data.columns.contains_key(old_column),
                    "{label}: `{old_table}.{old_column}` should be dropped"
                );
                continue;
            }
            let new_column = version
                .renamed_columns
                .iter()
                .find(|(table, old, _)| *table == new_table && old == old_column)
                .map_or(old_column.as_str(), |(_, _, new)| *new);
            let Some(new_checksum) = new_data.columns.get(new_column) else {
                panic!("{label}: column `{old_table}.{old_column}` (now `{new_table}.{new_column}`) is gone");
            };
            if version
                .changed
                .contains(&format!("{new_table}.{new_column}").as_str())
            {
                continue;
            }
            assert_eq!(
                checksum, new_checksum,
                "{label}: the values of `{new_table}.{new_column}` changed"
            );
        }
    }
}

fn introspect(database: &mut Database) -> Catalogue {
    catalogue::introspect(database).expect("the catalogue introspects")
}

/// Walks one database through every migration.
fn walk(url: &str, migrations: &[folder::Migration]) {
    let mut database = Database::open(url).expect("the database opens");
    let mut previous = data(&mut database);
    for (index, version) in VERSIONS.iter().enumerate() {
        let label = format!("{url}: {}", version.file);
        let catalogue_before = introspect(&mut database);
        if let Some((block, unblock)) = version.blocked_by {
            database.batch(block).expect("the blocking row inserts");
            let refused = runner::up(&mut database, migrations, Some(1));
            assert!(
                refused.is_err(),
                "{label}: a row holding a removed value must stop the migration"
            );
            assert_eq!(
                introspect(&mut database),
                catalogue_before,
                "{label}: the failed step was not rolled back"
            );
            database.batch(unblock).expect("the blocking row deletes");
            assert_eq!(
                data(&mut database),
                previous,
                "{label}: the failed step lost data"
            );
        }
        let applied = runner::up(&mut database, migrations, Some(1))
            .unwrap_or_else(|error| panic!("{label}: up fails: {error}"));
        assert_eq!(applied.len(), 1, "{label}");
        let after = data(&mut database);
        assert_data_kept(&label, version, &previous, &after);
        let status = runner::status(&mut database, migrations).expect("status runs");
        assert!(status.drift.is_empty(), "{label}: {:?}", status.drift);
        assert_eq!(status.applied.len(), index + 1, "{label}");

        // Down restores the structure before the step; up again the one after it.
        let catalogue_after = introspect(&mut database);
        runner::down(&mut database, migrations, 1)
            .unwrap_or_else(|error| panic!("{label}: down fails: {error}"));
        assert_eq!(
            introspect(&mut database),
            catalogue_before,
            "{label}: down does not restore the catalogue"
        );
        runner::up(&mut database, migrations, Some(1))
            .unwrap_or_else(|error| panic!("{label}: up after down fails: {error}"));
        assert_eq!(
            introspect(&mut database),
            catalogue_after,
            "{label}: up after down gives another catalogue"
        );
        if !version.destructive {
            assert_eq!(
                data(&mut database),
                after,
                "{label}: down then up changed the data"
            );
        }

        if !version.seed.is_empty() {
            database
                .batch(version.seed)
                .unwrap_or_else(|error| panic!("{label}: seed fails: {error}"));
        }
        previous = data(&mut database);
        for (table, table_data) in &previous {
            assert!(table_data.rows > 0, "{label}: `{table}` has no rows");
        }
    }
    let status = runner::status(&mut database, migrations).expect("status runs");
    assert!(status.pending.is_empty() && status.drift.is_empty());
}

#[test]
fn walk_on_sqlite() {
    let scratch = scratch_directory("sqlite");
    let migrations = write_migrations(&scratch.join("migrations"));
    let database = sqlite_database(&scratch);
    walk(&database.url, &migrations);
}

#[test]
fn walk_on_postgres() {
    let scratch = scratch_directory("postgres");
    let migrations = write_migrations(&scratch.join("migrations"));
    if let Some(database) = postgres_database("walk") {
        walk(&database.url, &migrations);
    }
}
