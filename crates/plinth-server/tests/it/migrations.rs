//! `plinth serve` and a migrations folder, on SQLite and PostgreSQL: a pending migration stops
//! the start with the exact `plinth migrate up` command; `--migrate` applies it and the new
//! column is served; after `up` by the library the server starts as usual; a destructive
//! pending migration is refused even with `--migrate`; after `down` past the first migration
//! the server creates the tables again as on a first start.

use crate::harness::{test_config, Backend};
use plinth_migrate::author::{diff, DiffOptions, DiffOutcome};
use plinth_migrate::database::Database;
use plinth_migrate::{folder, history, runner};
use plinth_server::config::ServeConfig;
use plinth_server::{SchemaSource, StartError};
use plinth_sql::Dialect;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const VERSION_ONE: &str = r#"
model Note {
  id    Int    @id @default(autoincrement())
  title String

  @@allow("all", true)
}
"#;

/// Version one plus a nullable column: a non-destructive change.
const VERSION_TWO: &str = r#"
model Note {
  id     Int     @id @default(autoincrement())
  title  String
  colour String?

  @@allow("all", true)
}
"#;

/// A database for one test; a PostgreSQL one is dropped at the end.
struct TestDatabase {
    url: String,
    admin: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.admin.take() {
            // The synchronous client starts a runtime of its own: keep it off the test's.
            let _ = std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)?;
                client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            })
            .join();
        }
    }
}

/// A fresh database on `backend`; `None` (with a message) when PostgreSQL is not configured.
fn create_database(backend: Backend, scratch: &Path, test: &str) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => Some(TestDatabase {
            url: format!("sqlite://{}", scratch.join("app.db").display()),
            admin: None,
        }),
        Backend::Postgres => {
            let admin_url = match std::env::var("PLINTH_TEST_POSTGRES_URL") {
                Ok(url) if !url.trim().is_empty() => url,
                _ => {
                    assert!(
                        std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
                        "PLINTH_TEST_POSTGRES_URL is not set but PLINTH_REQUIRE_SERVICES=1"
                    );
                    eprintln!("skipping the PostgreSQL variant: set PLINTH_TEST_POSTGRES_URL");
                    return None;
                }
            };
            let name = format!("plinth_it_migrations_{test}_{}", std::process::id());
            let admin = admin_url.clone();
            let statement_name = name.clone();
            std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                    .expect("PLINTH_TEST_POSTGRES_URL accepts connections");
                client
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{statement_name}\" WITH (FORCE)"
                    ))
                    .expect("an old test database can be dropped");
                client
                    .batch_execute(&format!("CREATE DATABASE \"{statement_name}\""))
                    .expect("a test database can be created");
            })
            .join()
            .expect("the database was created");
            let without_query = admin_url.split('?').next().unwrap_or(&admin_url);
            let base = without_query
                .rfind('/')
                .filter(|slash| *slash > without_query.find("://").map_or(0, |i| i + 2))
                .map_or(without_query, |slash| &without_query[..slash]);
            Some(TestDatabase {
                url: format!("{base}/{name}"),
                admin: Some((admin_url, name)),
            })
        }
    }
}

/// A project folder: `schema.plinth` and `migrations/`, with the database beside it.
struct Project {
    directory: tempfile::TempDir,
    database: TestDatabase,
}

impl Project {
    /// Writes version one, its `0001_init` migration (both dialects), applies it with the
    /// library, then writes version two and its `0002_add_colour` migration, not applied.
    fn with_pending_migration(backend: Backend, test: &str) -> Option<Project> {
        let directory = tempfile::tempdir().expect("temp dir");
        let database = create_database(backend, directory.path(), test)?;
        let project = Project {
            directory,
            database,
        };
        project.write_migration(VERSION_ONE, "init", false);
        project.migrate_up();
        project.write_migration(VERSION_TWO, "add_colour", false);
        Some(project)
    }

    fn schema_path(&self) -> PathBuf {
        self.directory.path().join("schema.plinth")
    }

    fn migrations(&self) -> PathBuf {
        self.directory.path().join("migrations")
    }

    /// Makes `source` the schema and writes the migration to it.
    fn write_migration(&self, source: &str, name: &str, allow_destructive: bool) {
        std::fs::write(self.schema_path(), source).expect("schema written");
        let (schema, diagnostics) = plinth_model::compile(source);
        assert!(
            !plinth_diagnostics::has_errors(&diagnostics),
            "{diagnostics:?}"
        );
        let options = DiffOptions {
            name: Some(name.to_string()),
            allow_destructive,
            dialects: Dialect::ALL.to_vec(),
            ..DiffOptions::default()
        };
        let outcome = diff(&self.migrations(), source, &schema, &options).expect("diff runs");
        assert!(
            matches!(outcome, DiffOutcome::Written { .. }),
            "a migration is written: {outcome:?}"
        );
    }

    fn with_database<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Database, Vec<folder::Migration>) -> T + Send + 'static,
    ) -> T {
        let url = self.database.url.clone();
        let migrations_directory = self.migrations();
        std::thread::spawn(move || {
            let mut database = Database::open(&url).expect("the database opens");
            let migrations = folder::list(&migrations_directory).expect("the folder lists");
            work(&mut database, migrations)
        })
        .join()
        .expect("the database work finished")
    }

    fn migrate_up(&self) {
        self.with_database(|database, migrations| {
            runner::up(database, &migrations, None).expect("migrate up")
        });
    }

    fn applied_versions(&self) -> Vec<String> {
        self.with_database(|database, _| {
            history::applied(database)
                .expect("history reads")
                .into_iter()
                .map(|row| row.version)
                .collect()
        })
    }

    fn config(&self, apply_migrations: bool) -> ServeConfig {
        let mut config = test_config(self.database.url.clone());
        config.apply_migrations = apply_migrations;
        config
    }

    async fn start(
        &self,
        apply_migrations: bool,
    ) -> Result<plinth_server::RunningServer, StartError> {
        plinth_server::start(
            self.config(apply_migrations),
            SchemaSource::Path(self.schema_path()),
        )
        .await
    }

    /// The command the refusal must name, spelled as a user would type it.
    fn expected_command(&self) -> String {
        format!(
            "plinth migrate up {} --db {} --dir {}",
            self.schema_path().display(),
            self.database.url,
            self.migrations().display()
        )
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Creates a note with a colour and reads it back: the new column is served.
async fn assert_colour_served(server: &plinth_server::RunningServer) {
    let client = client();
    let created = client
        .post(format!("{}/api/v1/notes", server.url()))
        .json(&json!({ "title": "first", "colour": "teal" }))
        .send()
        .await
        .expect("POST answers");
    assert_eq!(created.status().as_u16(), 201);
    let listed: Value = client
        .get(format!("{}/api/v1/notes", server.url()))
        .send()
        .await
        .expect("GET answers")
        .json()
        .await
        .expect("a JSON list");
    assert_eq!(listed["data"][0]["title"], "first", "{listed}");
    assert_eq!(listed["data"][0]["colour"], "teal", "{listed}");
}

async fn pending_migration_refuses_with_the_command(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "refuse") else {
        return;
    };
    let message = match project.start(false).await {
        Err(StartError::SchemaMismatch(message)) => message,
        Err(other) => panic!("expected a refusal naming the command, got: {other}"),
        Ok(_) => panic!("the server started with a pending migration"),
    };
    assert!(message.contains("0002_add_colour"), "{message}");
    assert!(message.contains(&project.expected_command()), "{message}");
    // Nothing was applied behind the user's back.
    assert_eq!(project.applied_versions(), vec!["0001".to_string()]);
}

async fn migrate_flag_applies_and_serves_the_new_column(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "apply") else {
        return;
    };
    let server = project
        .start(true)
        .await
        .unwrap_or_else(|error| panic!("--migrate starts the server: {error}"));
    assert!(!server.created_tables());
    assert_colour_served(&server).await;
    server.shutdown().await.expect("shuts down");
    assert_eq!(project.applied_versions(), vec!["0001", "0002"]);
}

async fn starts_after_migrate_up(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "after_up") else {
        return;
    };
    project.migrate_up();
    let server = project
        .start(false)
        .await
        .unwrap_or_else(|error| panic!("the migrated database is served: {error}"));
    assert_colour_served(&server).await;
    server.shutdown().await.expect("shuts down");
}

async fn destructive_migration_is_not_applied_at_start(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "destructive") else {
        return;
    };
    project.migrate_up();
    // Back to version one: drops `colour`, which loses data.
    project.write_migration(VERSION_ONE, "drop_colour", true);
    let message = match project.start(true).await {
        Err(StartError::SchemaMismatch(message)) => message,
        Err(other) => panic!("expected a refusal, got: {other}"),
        Ok(_) => panic!("--migrate applied a destructive migration"),
    };
    assert!(message.contains("0003_drop_colour"), "{message}");
    assert!(message.contains(&project.expected_command()), "{message}");
    assert_eq!(project.applied_versions(), vec!["0001", "0002"]);
}

async fn changed_schema_names_diff_and_up(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "mismatch") else {
        return;
    };
    project.migrate_up();
    // The schema moves on without a migration for it.
    std::fs::write(
        project.schema_path(),
        VERSION_TWO.replace("colour String?", "colour String?\n  size Int?"),
    )
    .expect("schema written");
    let message = match project.start(false).await {
        Err(StartError::SchemaMismatch(message)) => message,
        Err(other) => panic!("expected a refusal, got: {other}"),
        Ok(_) => panic!("a changed schema was served on the old database"),
    };
    let diff_command = format!(
        "plinth migrate diff {} --dir {}",
        project.schema_path().display(),
        project.migrations().display()
    );
    assert!(message.contains("different schema"), "{message}");
    assert!(message.contains(&diff_command), "{message}");
    assert!(message.contains(&project.expected_command()), "{message}");
}

async fn down_past_the_first_migration_then_first_start(backend: Backend) {
    let Some(project) = Project::with_pending_migration(backend, "down") else {
        return;
    };
    project.with_database(|database, migrations| {
        runner::down(database, &migrations, 1).expect("migrate down")
    });
    assert!(project.applied_versions().is_empty());
    // Without the folder (it was moved away) the server creates the tables as on a first start.
    std::fs::rename(
        project.migrations(),
        project.directory.path().join("kept-migrations"),
    )
    .expect("folder moved");
    std::fs::write(project.schema_path(), VERSION_TWO).expect("schema written");
    let server = project
        .start(false)
        .await
        .unwrap_or_else(|error| panic!("an emptied database is served: {error}"));
    assert!(server.created_tables());
    assert_colour_served(&server).await;
    server.shutdown().await.expect("shuts down");
}

/// Each scenario as a `sqlite` and a `postgres` test.
macro_rules! both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(crate::harness::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(crate::harness::Backend::Postgres).await;
                }
            }
        )+
    };
}

both_databases!(
    pending_migration_refuses_with_the_command,
    migrate_flag_applies_and_serves_the_new_column,
    starts_after_migrate_up,
    destructive_migration_is_not_applied_at_start,
    changed_schema_names_diff_and_up,
    down_past_the_first_migration_then_first_start,
);
