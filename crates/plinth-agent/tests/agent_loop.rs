//! The design loop against scripted fake models over real HTTP: a clean path, a draft repaired
//! from its diagnostics, malformed arguments, a refused path, retried failures, a model that
//! never converges, one that repeats itself, tool calls written as text, and sub-agents that
//! run at the same time.

mod support;

use plinth_agent::agent::{Agent, Budget, Event, Outcome};
use plinth_agent::provider::{Provider, ProviderConfig, ProviderKind};
use plinth_agent::tools::{Project, SCHEMA_FILE};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::fake_llm::{FakeLlm, Reply, ScriptedCall, Turn};

const GOOD: &str = "model User {\n  id Int @id @default(autoincrement())\n  email String @unique @email\n  password String @password @omit\n  tasks Task[]\n  @@auth\n  @@allow('create', true)\n  @@allow('read', auth() == this)\n}\n\nmodel Task {\n  id Int @id @default(autoincrement())\n  title String @length(1, 200)\n  owner User @relation(fields: [ownerId], references: [id])\n  ownerId Int @default(auth().id)\n  @@index([ownerId])\n  @@allow('all', auth() == owner)\n}\n";

const BROKEN: &str = "model Task {\n  id Int @id @default(autoincrement())\n  title Strin\n  @@allow('read', true)\n}\n";

struct Harness {
    server: FakeLlm,
    _dir: tempfile::TempDir,
    agent: Agent,
    events: Arc<Mutex<Vec<Event>>>,
}

async fn harness(kind: ProviderKind, replies: Vec<Reply>, budget: Budget) -> Harness {
    let server = FakeLlm::start(replies).await;
    let base = match kind {
        ProviderKind::OpenAi => server.openai_base_url(),
        ProviderKind::Anthropic => server.anthropic_base_url(),
    };
    let mut config = ProviderConfig::new(kind, base, "fake-model");
    config.api_key = Some("test-key".into());
    config.request_timeout = Duration::from_millis(800);
    config.max_retries = 3;
    let provider = Arc::new(Provider::new(config).expect("provider"));
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(&dir.path().join("project")).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let agent = Agent::new(
        provider,
        project,
        budget,
        Arc::new(move |event| sink.lock().unwrap().push(event)),
    );
    Harness {
        server,
        _dir: dir,
        agent,
        events,
    }
}

fn write(id: &str, path: &str, content: &str) -> ScriptedCall {
    ScriptedCall::new(id, "write_file", json!({"path": path, "content": content}))
}

fn call(id: &str, name: &str, arguments: Value) -> Reply {
    Reply::Stream(Turn::calls([ScriptedCall::new(id, name, arguments)]).with_usage(100, 10))
}

fn done(text: &str) -> Reply {
    Reply::Stream(Turn::text([text]).with_usage(120, 20))
}

/// The text of every tool-result message the model was sent in the last request.
fn tool_results(server: &FakeLlm) -> Vec<String> {
    let requests = server.requests();
    let last = requests.last().expect("a request");
    last.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_clean_path_writes_checks_and_presents_the_draft() {
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            Reply::Stream(Turn::calls([write("c1", SCHEMA_FILE, GOOD)]).with_usage(300, 40)),
            call("c2", "check", json!({"path": SCHEMA_FILE})),
            call("c3", "review", json!({})),
            Reply::Stream(
                Turn::text(["SQLite to start; ", "owners see their own tasks."])
                    .with_usage(500, 30),
            ),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h
        .agent
        .turn("a todo app where people see their own tasks")
        .await
        .unwrap();
    let Outcome::Ready { summary } = outcome else {
        panic!("not ready: {outcome:?}")
    };
    assert_eq!(summary, "SQLite to start; owners see their own tasks.");
    assert_eq!(
        std::fs::read_to_string(h.agent.project.root().join(SCHEMA_FILE)).unwrap(),
        GOOD
    );
    let results = tool_results(&h.server);
    assert_eq!(results.len(), 3);
    assert!(
        results[0].starts_with("wrote `schema.plinth`"),
        "{results:?}"
    );
    assert!(
        results[1].contains("checks clean") || results[1].contains("no errors"),
        "{results:?}"
    );
    assert_eq!(h.agent.spent.steps, 4);
    assert_eq!(h.agent.spent.tool_calls, 3);
    assert_eq!(h.agent.spent.usage.input_tokens, 300 + 100 + 100 + 500);
    // The streamed text reached the observer in pieces.
    let texts: Vec<String> = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts.concat(), summary);
    // The model was offered the tools and told to use them.
    let first = &h.server.requests()[0].body;
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    for tool in [
        "write_file",
        "check",
        "review",
        "build",
        "serve_and_verify",
        "delegate",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
}

#[tokio::test]
async fn an_invalid_draft_goes_back_with_its_diagnostics_and_is_repaired_on_anthropic() {
    let mut h = harness(
        ProviderKind::Anthropic,
        vec![
            Reply::Stream(Turn::calls([write("t1", SCHEMA_FILE, BROKEN)]).with_usage(200, 30)),
            done("Here is your schema."),
            Reply::Stream(Turn::calls([write("t2", SCHEMA_FILE, GOOD)]).with_usage(200, 30)),
            done("Fixed the type; owners see their own tasks."),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h.agent.turn("a todo app").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    // The third request carried the gate's message with the compiler's diagnostic.
    let third = &h.server.requests()[2].body;
    let sent = third["messages"].to_string();
    assert!(sent.contains("does not compile yet"), "{sent}");
    assert!(sent.contains("Strin"), "{sent}");
    let repairs = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Repair { .. }))
        .count();
    assert_eq!(repairs, 1);
}

#[tokio::test]
async fn near_json_arguments_are_repaired_and_broken_ones_are_sent_back() {
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            // Single quotes and a trailing comma: repaired.
            Reply::Stream(Turn::calls([ScriptedCall::fragments(
                "c1",
                "write_file",
                ["{'path': 'notes.txt', ", "'content': 'hello',}"],
            )])),
            // Not an object at all: the model is told, nothing runs.
            Reply::Stream(Turn::calls([ScriptedCall::fragments(
                "c2",
                "read_file",
                ["<<<"],
            )])),
            Reply::Stream(Turn::calls([write("c3", SCHEMA_FILE, GOOD)])),
            done("Done."),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h.agent.turn("notes").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    assert_eq!(
        std::fs::read_to_string(h.agent.project.root().join("notes.txt")).unwrap(),
        "hello"
    );
    let results = tool_results(&h.server);
    assert!(results[0].starts_with("wrote `notes.txt`"), "{results:?}");
    assert!(results[1].starts_with("error:"), "{results:?}");
}

#[tokio::test]
async fn a_file_outside_the_project_is_refused() {
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            Reply::Stream(Turn::calls([write("c1", "../escape.txt", "pwned")])),
            call("c2", "read_file", json!({"path": "/etc/passwd"})),
            Reply::Stream(Turn::calls([write("c3", SCHEMA_FILE, GOOD)])),
            done("Done."),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    let results = tool_results(&h.server);
    assert!(results[0].contains("refused"), "{results:?}");
    assert!(results[1].contains("refused"), "{results:?}");
    let parent = h.agent.project.root().parent().unwrap();
    assert!(!parent.join("escape.txt").exists());
}

#[tokio::test]
async fn rate_limits_and_timeouts_are_retried() {
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            Reply::rate_limited(1),
            Reply::Stream(Turn::calls([write("c1", SCHEMA_FILE, GOOD)])),
            Reply::Hang(Duration::from_secs(3)),
            Reply::status(503),
            done("Done."),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    assert_eq!(h.server.requests().len(), 5);
    assert_eq!(h.agent.spent.steps, 2, "retries are not steps");
}

#[tokio::test]
async fn a_model_that_never_converges_is_stopped_at_the_bound() {
    let mut replies = Vec::new();
    for i in 0..10 {
        replies.push(Reply::Stream(Turn::calls([write(
            &format!("w{i}"),
            SCHEMA_FILE,
            &BROKEN.replace("Strin", &format!("Strin{i}")),
        )])));
        replies.push(done("Here it is."));
    }
    let budget = Budget {
        max_repairs: 2,
        ..Budget::default()
    };
    let mut h = harness(ProviderKind::OpenAi, replies, budget).await;
    let outcome = h.agent.turn("x").await.unwrap();
    let Outcome::Stopped {
        reason,
        last_report,
    } = outcome
    else {
        panic!("converged?")
    };
    assert!(reason.contains("2 rounds of repairs"), "{reason}");
    assert!(last_report.contains("Strin"), "{last_report}");
    assert_eq!(h.agent.spent.steps, 6);

    // The step bound holds as well.
    let replies = (0..10)
        .map(|i| call(&format!("r{i}"), "list_files", json!({"n": i})))
        .collect();
    let budget = Budget {
        max_steps: 4,
        ..Budget::default()
    };
    let mut h = harness(ProviderKind::OpenAi, replies, budget).await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(
        outcome.stop_reason().unwrap().contains("step budget of 4"),
        "{outcome:?}"
    );
    assert_eq!(h.server.requests().len(), 4);

    // And the token bound.
    let budget = Budget {
        max_tokens: 250,
        ..Budget::default()
    };
    let replies = (0..10)
        .map(|i| call(&format!("t{i}"), "list_files", json!({"n": i})))
        .collect();
    let mut h = harness(ProviderKind::OpenAi, replies, budget).await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(
        outcome.stop_reason().unwrap().contains("token budget"),
        "{outcome:?}"
    );
    assert_eq!(h.agent.spent.steps, 3);
}

#[tokio::test]
async fn a_model_repeating_the_same_call_is_warned_then_stopped() {
    let replies = (0..5)
        .map(|i| {
            call(
                &format!("c{i}"),
                "read_file",
                json!({"path": "missing.txt"}),
            )
        })
        .collect();
    let mut h = harness(ProviderKind::OpenAi, replies, Budget::default()).await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(
        outcome
            .stop_reason()
            .unwrap()
            .contains("repeated the same `read_file` call 3 times"),
        "{outcome:?}"
    );
    assert_eq!(h.server.requests().len(), 3);
    let results = tool_results(&h.server);
    assert!(
        results[1].contains("you made this exact call before"),
        "{results:?}"
    );
}

#[tokio::test]
async fn tool_calls_written_as_text_are_run() {
    let fenced = format!(
        "I'll write the schema now.\n```json\n{}\n```",
        json!({"name": "write_file", "arguments": {"path": SCHEMA_FILE, "content": GOOD}})
    );
    let tagged = "<tool_call>{\"name\": \"check\", \"arguments\": {}}</tool_call>";
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            Reply::Stream(Turn::text([fenced.as_str()])),
            Reply::Stream(Turn::text([tagged])),
            done("All set."),
        ],
        Budget::default(),
    )
    .await;
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    let results = tool_results(&h.server);
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].starts_with("wrote"));
    assert!(results[1].contains("schema.plinth"));
}

#[tokio::test]
async fn sub_agents_run_at_the_same_time_and_their_answers_are_merged() {
    let tasks = json!({"tasks": [
        {"title": "Security", "instructions": "Review SECURITY of schema.plinth"},
        {"title": "Performance", "instructions": "Review PERFORMANCE of schema.plinth"},
        {"title": "API design", "instructions": "Review APIDESIGN of schema.plinth"},
    ]});
    let mut h = harness(
        ProviderKind::OpenAi,
        vec![
            Reply::Stream(Turn::calls([write("c1", SCHEMA_FILE, GOOD)])),
            call("c2", "delegate", tasks),
        ],
        Budget::default(),
    )
    .await;
    let slow = |text: &str| {
        Reply::Stream(
            Turn::text([text, " (done)"])
                .with_chunk_delay(Duration::from_millis(150))
                .with_usage(50, 5),
        )
    };
    h.server.push_for("SECURITY", slow("No secrets leak."));
    h.server
        .push_for("PERFORMANCE", slow("ownerId is indexed."));
    h.server.push_for("APIDESIGN", slow("Paths are plural."));
    h.server.push(done("Reviewed from three angles."));
    let outcome = h.agent.turn("x").await.unwrap();
    assert!(matches!(outcome, Outcome::Ready { .. }), "{outcome:?}");
    let requests = h.server.requests();
    let subs: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .is_some_and(|system| system.starts_with("You are a reviewer"))
        })
        .collect();
    assert_eq!(subs.len(), 3, "{requests:#?}");
    assert!(subs[0].overlaps(subs[1]) && subs[1].overlaps(subs[2]) && subs[0].overlaps(subs[2]));
    let results = tool_results(&h.server);
    let merged = &results[1];
    for part in [
        "## Security",
        "No secrets leak.",
        "## Performance",
        "ownerId is indexed.",
        "## API design",
        "Paths are plural.",
    ] {
        assert!(merged.contains(part), "{merged}");
    }
    assert_eq!(h.agent.spent.sub_agents, 3);
    // The sub-agents' tokens count against the run: 3 × 50, plus the main loop's 100 + 120.
    assert_eq!(h.agent.spent.usage.input_tokens, 370);
}
