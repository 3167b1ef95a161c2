//! `plinth design` and `plinth chat` as a person runs them: without a model they say how to
//! configure one; with a (scripted, real-HTTP) model they write the schema, the ADR, the build
//! and a transcript that a later `plinth chat` continues.

#[path = "../../../plinth-agent/tests/support/fake_llm.rs"]
mod fake_llm;

use fake_llm::{FakeLlm, Reply, ScriptedCall, Turn};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};

const SCHEMA: &str = "model User {\n  id Int @id @default(autoincrement())\n  email String @unique @email\n  password String @password @omit\n  tasks Task[]\n  @@auth\n  @@allow('create', true)\n  @@allow('read', auth() == this)\n}\n\nmodel Task {\n  id Int @id @default(autoincrement())\n  title String @length(1, 200)\n  owner User @relation(fields: [ownerId], references: [id])\n  ownerId Int @default(auth().id)\n  @@index([ownerId])\n  @@allow('all', auth() == owner)\n}\n";

/// Variables a developer's shell may hold that would point the run at a real model.
const MODEL_VARIABLES: [&str; 8] = [
    "PLINTH_LLM_PROVIDER",
    "PLINTH_LLM_BASE_URL",
    "PLINTH_LLM_MODEL",
    "PLINTH_LLM_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
];

fn plinth(directory: &Path, arguments: &[&str], env: &[(&str, &str)], stdin: &str) -> super::Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plinth"));
    command
        .args(arguments)
        .current_dir(directory)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for variable in MODEL_VARIABLES {
        command.env_remove(variable);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("plinth starts");
    {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(stdin.as_bytes()).expect("stdin written");
    }
    let output = child.wait_with_output().expect("plinth finishes");
    super::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn without_a_model_design_says_how_to_configure_one_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = plinth(
        dir.path(),
        &["design", "a todo app", "--out", "app"],
        &[],
        "",
    );
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("PLINTH_LLM_BASE_URL"), "{}", run.stderr);
    assert!(
        run.stderr.contains("11434"),
        "Ollama is explained: {}",
        run.stderr
    );
    let run = plinth(dir.path(), &["chat", "--dir", "app"], &[], "hello\n");
    assert_eq!(run.code, 2, "{}", run.transcript());
}

#[test]
fn design_writes_the_schema_adr_build_and_transcript_and_chat_continues() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(FakeLlm::start([
        Reply::Stream(
            Turn::calls([ScriptedCall::new(
                "c1",
                "write_file",
                json!({"path": "schema.plinth", "content": SCHEMA}),
            )])
            .with_usage(900, 120),
        ),
        Reply::Stream(
            Turn::text([
                "SQLite to start. ",
                "Each person sees only their own tasks.",
            ])
            .with_usage(1200, 40),
        ),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let base_url = server.openai_base_url();
    let env = [
        ("PLINTH_LLM_PROVIDER", "openai"),
        ("PLINTH_LLM_BASE_URL", base_url.as_str()),
        ("PLINTH_LLM_MODEL", "scripted"),
    ];
    let run = plinth(
        dir.path(),
        &[
            "design",
            "a todo app;",
            "people see their own tasks",
            "--out",
            "app",
        ],
        &env,
        "",
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("SQLite to start. Each person sees only their own tasks."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("→ write_file schema.plinth"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("used: 2 model calls, 1 tool calls"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("2260 tokens"), "{}", run.stderr);
    let app = dir.path().join("app");
    assert_eq!(
        std::fs::read_to_string(app.join("schema.plinth")).unwrap(),
        SCHEMA
    );
    let adr = std::fs::read_to_string(app.join("docs/adr/0001-initial-design.md")).unwrap();
    assert!(
        adr.contains("> a todo app; people see their own tasks"),
        "{adr}"
    );
    assert!(
        adr.contains("`Task`: `@@allow('all', auth() == owner)`"),
        "{adr}"
    );
    assert!(
        adr.contains("Each person sees only their own tasks."),
        "{adr}"
    );
    for built in [
        "openapi.json",
        "sqlite/0001_init.sql",
        "postgres/0001_init.sql",
        "erd.mmd",
        "API.md",
    ] {
        assert!(
            app.join("build").join(built).is_file(),
            "build/{built} missing"
        );
    }
    let progress = std::fs::read_to_string(app.join(".plinth/progress.md")).unwrap();
    assert!(progress.contains("passes review"), "{progress}");

    // A later chat continues the saved conversation: its first request carries it.
    server.push(Reply::Stream(Turn::text([
        "Added nothing; it already fits.",
    ])));
    let run = plinth(
        dir.path(),
        &["chat", "--dir", "app"],
        &env,
        "is it paginated?\n",
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("continuing the conversation"),
        "{}",
        run.stderr
    );
    let requests = server.requests();
    let last = &requests.last().unwrap().body["messages"];
    let sent = last.to_string();
    assert!(
        sent.contains("people see their own tasks") && sent.contains("is it paginated?"),
        "{sent}"
    );
    drop(server);
    drop(runtime);
}
