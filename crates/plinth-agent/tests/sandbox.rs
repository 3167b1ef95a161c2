//! The `serve_and_verify` tool for real: the schema is served on a throwaway SQLite database in
//! a temporary folder, `plinth verify --schema` runs against it over HTTP, and the model gets the
//! findings (none for a sound schema: with `--schema`, verify holds the server to the schema's
//! own rules, which Plinth's server keeps). The database lives in the sandbox, not the project.

use plinth_agent::tools::{Project, SCHEMA_FILE};

const SOUND: &str = "model User {\n  id Int @id @default(autoincrement())\n  email String @unique @email\n  password String @password @omit\n  notes Note[]\n  @@auth\n  @@allow('create', true)\n  @@allow('read', auth() == this)\n}\n\nmodel Note {\n  id Int @id @default(autoincrement())\n  text String @length(1, 200)\n  owner User @relation(fields: [ownerId], references: [id])\n  ownerId Int @default(auth().id)\n  @@index([ownerId])\n  @@allow('all', auth() == owner)\n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_verify_runs_verify_against_a_sandboxed_server() {
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path()).unwrap();
    assert!(project.write_file(SCHEMA_FILE, SOUND).ok);
    let output = project.serve_and_verify(SCHEMA_FILE).await;
    assert!(output.ok, "{}", output.text);
    assert!(output.text.starts_with("verify sent"), "{}", output.text);
    assert!(output.text.contains(": 0 findings"), "{}", output.text);
    // Nothing was left in the project: the database lived in the sandbox.
    let files: Vec<_> = std::fs::read_dir(project.root())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");

    // A schema that does not compile is not served: the model gets the compiler's errors.
    assert!(
        project
            .write_file(
                SCHEMA_FILE,
                &SOUND.replace("String @length", "Strin @length")
            )
            .ok
    );
    let output = project.serve_and_verify(SCHEMA_FILE).await;
    assert!(!output.ok);
    assert!(output.text.contains("Strin"), "{}", output.text);
}
