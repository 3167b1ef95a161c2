//! The providers against fake OpenAI-compatible and Anthropic servers on loopback: streaming,
//! tool-call assembly, usage, retries and their limits, errors a person can act on, and where
//! the configuration comes from.

mod support;

use plinth_agent::provider::{
    Provider, ProviderConfig, ProviderError, ProviderFlags, ProviderKind, RetryNotice,
};
use plinth_agent::{ChatRequest, ChatResponse, Message, ToolCall, ToolSpec, Usage};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::fake_llm::{unreachable_url, FakeLlm, Reply, ScriptedCall, Turn};

/// Short waits everywhere, so the whole file runs in a few seconds.
fn provider(kind: ProviderKind, server: &FakeLlm) -> Provider {
    let base = match kind {
        ProviderKind::OpenAi => server.openai_base_url(),
        ProviderKind::Anthropic => server.anthropic_base_url(),
    };
    provider_at(kind, &base, |_| {})
}

fn provider_at(
    kind: ProviderKind,
    base: &str,
    adjust: impl FnOnce(&mut ProviderConfig),
) -> Provider {
    let mut config = ProviderConfig::new(kind, base, "fake-model");
    config.api_key = Some("test-key".into());
    config.request_timeout = Duration::from_millis(400);
    config.max_retries = 3;
    adjust(&mut config);
    Provider::new(config)
        .unwrap()
        .with_backoff(Duration::from_millis(10))
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "check".into(),
            description: "Compile the schema and return its diagnostics".into(),
            parameters: json!({"type": "object", "properties": {}}),
        },
        ToolSpec {
            name: "write_file".into(),
            description: "Write a file inside the project".into(),
            parameters: json!({
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"]
            }),
        },
    ]
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "You design backends with Plinth.".into(),
        messages: vec![Message::user("A todo app with users and tasks")],
        tools: tools(),
        max_tokens: 512,
        temperature: Some(0.2),
    }
}

/// A conversation that has been through one tool call, to see how history is sent.
fn request_after_a_tool_call() -> ChatRequest {
    let call = ToolCall {
        id: "call_1".into(),
        name: "write_file".into(),
        arguments: json!({"path": "schema.plinth", "content": "model Task {}"}),
    };
    let check = ToolCall {
        id: "call_2".into(),
        name: "check".into(),
        arguments: json!({}),
    };
    let mut request = request();
    request.messages.extend([
        Message::assistant("Writing a first draft.", vec![call.clone(), check.clone()]),
        Message::tool_result(&call, "wrote 13 bytes"),
        Message::tool_result(&check, "error[E0201]: model `Task` has no id field"),
    ]);
    request
}

async fn complete(
    provider: &Provider,
    request: &ChatRequest,
) -> (Result<ChatResponse, ProviderError>, Vec<String>) {
    let mut deltas = Vec::new();
    let result = provider
        .complete(request, &mut |text: &str| deltas.push(text.to_string()))
        .await;
    (result, deltas)
}

#[tokio::test]
async fn openai_text_arrives_in_order_as_it_streams() {
    let server = FakeLlm::start([Reply::Stream(
        Turn::text(["Hel", "lo, ", "wörld", "!"]).with_usage(42, 7),
    )])
    .await;
    let (result, deltas) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    let response = result.unwrap();
    assert_eq!(deltas, ["Hel", "lo, ", "wörld", "!"]);
    assert_eq!(response.text, "Hello, wörld!");
    assert!(response.tool_calls.is_empty());
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 42,
            output_tokens: 7
        }
    );
    assert_eq!(response.stop_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn openai_tool_calls_are_assembled_from_fragments() {
    let server = FakeLlm::start([Reply::Stream(
        Turn::text(["Let me write it."])
            .with_call(ScriptedCall::new(
                "call_a",
                "write_file",
                json!({"path": "schema.plinth", "content": "model User {\n  id Int @id\n}"}),
            ))
            .with_call(ScriptedCall::fragments("call_b", "check", ["{", "}"]))
            .with_call(ScriptedCall::fragments(
                "call_c",
                "write_file",
                ["{'path': ", "'a.plinth'"],
            ))
            .with_usage(300, 45),
    )])
    .await;
    let (result, _) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    let response = result.unwrap();
    assert_eq!(response.text, "Let me write it.");
    assert_eq!(response.stop_reason.as_deref(), Some("tool_calls"));
    assert_eq!(response.usage.total(), 345);
    let calls = &response.tool_calls;
    assert_eq!(calls.len(), 3);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str()),
        ("call_a", "write_file")
    );
    assert_eq!(
        calls[0].arguments,
        json!({"path": "schema.plinth", "content": "model User {\n  id Int @id\n}"})
    );
    assert_eq!(calls[1].arguments, json!({}));
    // Invalid JSON stays raw, for the loop to repair.
    assert_eq!(
        calls[2].arguments,
        Value::String("{'path': 'a.plinth'".into())
    );
}

#[tokio::test]
async fn openai_request_carries_tools_tool_choice_and_the_history() {
    let server = FakeLlm::start([
        Reply::text(["ok"]),
        Reply::text(["ok"]),
        Reply::text(["ok"]),
    ])
    .await;
    let provider = provider(ProviderKind::OpenAi, &server);
    complete(&provider, &request_after_a_tool_call())
        .await
        .0
        .unwrap();

    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    let body = &sent.body;
    assert_eq!(body["model"], "fake-model");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["tool_choice"], "auto");
    assert_eq!(body["tools"][1]["type"], "function");
    assert_eq!(body["tools"][1]["function"]["name"], "write_file");
    assert_eq!(
        body["tools"][1]["function"]["parameters"]["required"],
        json!(["path", "content"])
    );

    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
    assert_eq!(messages[0]["content"], "You design backends with Plinth.");
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(call["id"], "call_1");
    assert_eq!(call["type"], "function");
    // Arguments travel as a JSON string, as the format says.
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["path"], "schema.plinth");
    assert_eq!(messages[3]["tool_call_id"], "call_1");
    assert_eq!(messages[4]["tool_call_id"], "call_2");
    assert_eq!(
        messages[4]["content"],
        "error[E0201]: model `Task` has no id field"
    );

    // Without tools there is no tool_choice; with send_tool_choice off neither.
    let mut plain = request();
    plain.tools.clear();
    complete(&provider, &plain).await.0.unwrap();
    let quiet = provider_at(ProviderKind::OpenAi, &server.openai_base_url(), |config| {
        config.send_tool_choice = false
    });
    complete(&quiet, &request()).await.0.unwrap();
    let requests = server.requests();
    assert!(requests[1].body.get("tools").is_none());
    assert!(requests[1].body.get("tool_choice").is_none());
    assert!(requests[2].body.get("tools").is_some());
    assert!(requests[2].body.get("tool_choice").is_none());
}

#[tokio::test]
async fn anthropic_text_and_tool_calls_stream_from_content_blocks() {
    let server = FakeLlm::start([Reply::Stream(
        Turn::text(["I'll ", "check ", "it."])
            .with_call(ScriptedCall::new(
                "toolu_1",
                "write_file",
                json!({"path": "schema.plinth", "content": "model Task { id Int @id }"}),
            ))
            .with_call(ScriptedCall::fragments(
                "toolu_2",
                "check",
                Vec::<String>::new(),
            ))
            .with_usage(1200, 88),
    )])
    .await;
    let (result, deltas) = complete(&provider(ProviderKind::Anthropic, &server), &request()).await;
    let response = result.unwrap();
    assert_eq!(deltas, ["I'll ", "check ", "it."]);
    assert_eq!(response.text, "I'll check it.");
    assert_eq!(response.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: 1200,
            output_tokens: 88
        }
    );
    assert_eq!(response.tool_calls.len(), 2);
    assert_eq!(response.tool_calls[0].id, "toolu_1");
    assert_eq!(
        response.tool_calls[0].arguments,
        json!({"path": "schema.plinth", "content": "model Task { id Int @id }"})
    );
    assert_eq!(response.tool_calls[1].name, "check");
    assert_eq!(response.tool_calls[1].arguments, json!({}));
}

#[tokio::test]
async fn anthropic_request_has_its_headers_system_tools_and_merged_tool_results() {
    let server = FakeLlm::start([Reply::text(["ok"])]).await;
    complete(
        &provider(ProviderKind::Anthropic, &server),
        &request_after_a_tool_call(),
    )
    .await
    .0
    .unwrap();
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("test-key"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let body = &sent.body;
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(
        body["system"][0]["text"],
        "You design backends with Plinth."
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
    assert_eq!(body["tools"][0]["name"], "check");
    assert_eq!(
        body["tools"][1]["input_schema"]["required"],
        json!(["path", "content"])
    );

    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{messages:#?}");
    let assistant = messages[1]["content"].as_array().unwrap();
    assert_eq!(assistant[0]["text"], "Writing a first draft.");
    assert_eq!(assistant[1]["type"], "tool_use");
    assert_eq!(assistant[1]["id"], "call_1");
    assert_eq!(assistant[1]["input"]["path"], "schema.plinth");
    let results = messages[2]["content"].as_array().unwrap();
    assert_eq!(
        results.len(),
        2,
        "consecutive tool results share one user message"
    );
    assert_eq!(results[0]["type"], "tool_result");
    assert_eq!(results[0]["tool_use_id"], "call_1");
    assert_eq!(results[1]["tool_use_id"], "call_2");
}

#[tokio::test]
async fn servers_that_ignore_stream_answer_one_json_object() {
    let turn = Turn::text(["Done."])
        .with_call(ScriptedCall::new("c1", "check", json!({})))
        .with_usage(10, 3);
    for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
        let server = FakeLlm::start([Reply::Whole(turn.clone())]).await;
        let (result, deltas) = complete(&provider(kind, &server), &request()).await;
        let response = result.unwrap();
        assert_eq!(deltas, ["Done."], "{kind}");
        assert_eq!(response.text, "Done.");
        assert_eq!(response.tool_calls[0].name, "check");
        assert_eq!(response.tool_calls[0].arguments, json!({}));
        assert_eq!(response.usage.total(), 13);
    }
}

#[tokio::test]
async fn a_429_is_retried_after_the_wait_the_server_asks_for() {
    let server = FakeLlm::start([Reply::rate_limited(1), Reply::text(["made it"])]).await;
    let notices = Arc::new(Mutex::new(Vec::<RetryNotice>::new()));
    let seen = notices.clone();
    let provider =
        provider(ProviderKind::Anthropic, &server).with_retry_observer(Arc::new(move |notice| {
            seen.lock().unwrap().push(notice.clone())
        }));
    let started = Instant::now();
    let (result, _) = complete(&provider, &request()).await;
    assert_eq!(result.unwrap().text, "made it");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].arrived - requests[0].finished.unwrap();
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 1);
    assert!(notices[0].wait >= Duration::from_secs(1));
    assert!(notices[0].error.contains("429"), "{}", notices[0].error);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let server = FakeLlm::start([
        Reply::status(500),
        Reply::status(503),
        Reply::text(["third time lucky"]),
    ])
    .await;
    let (result, deltas) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    assert_eq!(result.unwrap().text, "third time lucky");
    assert_eq!(deltas, ["third time lucky"]);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn retries_end_with_gave_up_and_the_last_error() {
    let server = FakeLlm::start((0..4).map(|_| Reply::status(502))).await;
    let (result, _) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    let error = result.unwrap_err();
    let ProviderError::GaveUp { attempts, last } = &error else {
        panic!("expected GaveUp, got {error:?}");
    };
    assert_eq!(*attempts, 4);
    assert!(matches!(**last, ProviderError::Status { status: 502, .. }));
    let message = error.to_string();
    assert!(
        message.contains("gave up after 4 attempts") && message.contains("HTTP 502"),
        "{message}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn a_hung_request_times_out_and_is_retried() {
    let server =
        FakeLlm::start([Reply::Hang(Duration::from_secs(5)), Reply::text(["awake"])]).await;
    let started = Instant::now();
    let (result, _) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    assert_eq!(result.unwrap().text, "awake");
    assert_eq!(server.requests().len(), 2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_slow_stream_is_not_a_timeout_while_pieces_keep_coming() {
    // Six pieces 150 ms apart take longer than the 400 ms timeout in all; no gap does.
    let server = FakeLlm::start([Reply::Stream(
        Turn::text(["a", "b", "c"]).with_chunk_delay(Duration::from_millis(150)),
    )])
    .await;
    let (result, _) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    assert_eq!(result.unwrap().text, "abc");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn nothing_is_retried_once_text_has_reached_the_caller() {
    // Cut after the role chunk and two text chunks.
    let server = FakeLlm::start([
        Reply::Stream(Turn::text(["one ", "two ", "three"]).cut_after(3)),
        Reply::text(["never sent"]),
    ])
    .await;
    let (result, deltas) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    assert_eq!(deltas, ["one ", "two "]);
    let error = result.unwrap_err();
    assert!(
        matches!(error, ProviderError::Unreachable { .. }),
        "{error:?}"
    );
    assert_eq!(server.requests().len(), 1);

    // The same for a stream that goes silent after some text: the timeout ends it.
    let server = FakeLlm::start([
        // message_start, ping, content_block_start, "one ", then silence.
        Reply::Stream(Turn::text(["one ", "two"]).pause_after(4, Duration::from_secs(2))),
        Reply::text(["never sent"]),
    ])
    .await;
    let started = Instant::now();
    let (result, deltas) = complete(&provider(ProviderKind::Anthropic, &server), &request()).await;
    assert_eq!(deltas, ["one "]);
    let error = result.unwrap_err();
    assert!(matches!(error, ProviderError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("silent for 0.4 s"), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_cut_before_any_text_is_retried() {
    let server = FakeLlm::start([
        Reply::Stream(
            Turn::calls([ScriptedCall::new("c1", "check", json!({"strict": true}))]).cut_after(2),
        ),
        Reply::Stream(Turn::calls([ScriptedCall::new(
            "c1",
            "check",
            json!({"strict": true}),
        )])),
    ])
    .await;
    let (result, deltas) = complete(&provider(ProviderKind::OpenAi, &server), &request()).await;
    assert!(deltas.is_empty());
    let response = result.unwrap();
    assert_eq!(response.tool_calls.len(), 1);
    assert_eq!(response.tool_calls[0].arguments, json!({"strict": true}));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_refused_key_is_not_retried_and_says_so() {
    let server = FakeLlm::start([
        Reply::Status {
            status: 401,
            retry_after: None,
            body: json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}).to_string(),
        },
        Reply::text(["never sent"]),
    ])
    .await;
    let (result, _) = complete(&provider(ProviderKind::Anthropic, &server), &request()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, ProviderError::Status { status: 401, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("refused the API key"), "{message}");
    assert!(message.contains("invalid x-api-key"), "{message}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_unreachable_endpoint_names_its_url() {
    let base = format!("{}/v1", unreachable_url());
    let once = provider_at(ProviderKind::OpenAi, &base, |config| config.max_retries = 0);
    let (result, _) = complete(&once, &request()).await;
    let error = result.unwrap_err();
    let ProviderError::Unreachable { url, .. } = &error else {
        panic!("expected Unreachable, got {error:?}");
    };
    assert_eq!(url, &format!("{base}/chat/completions"));
    let message = error.to_string();
    assert!(
        message.contains(&base) && message.contains("is the server running"),
        "{message}"
    );

    // Connection errors are retried like any transient failure, then reported.
    let retried = provider_at(ProviderKind::OpenAi, &base, |config| config.max_retries = 2);
    let error = complete(&retried, &request()).await.0.unwrap_err();
    assert!(
        matches!(&error, ProviderError::GaveUp { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(matches!(error.root(), ProviderError::Unreachable { .. }));
    assert!(error.to_string().contains(&base));
    // HTTPS is built in (OpenAI and Anthropic need it): a closed https port is a connection
    // failure like any other, not a request that cannot be sent.
    let https = unreachable_url().replace("http://", "https://");
    let secure = provider_at(ProviderKind::Anthropic, &https, |config| {
        config.max_retries = 0
    });
    let error = complete(&secure, &request()).await.0.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("is the server running"), "{message}");
}

#[tokio::test]
async fn an_overloaded_event_in_an_anthropic_stream_is_retried() {
    let overloaded = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5}}}\n\n\
                      event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let server = FakeLlm::start([
        Reply::Raw {
            content_type: "text/event-stream".into(),
            body: overloaded.into(),
        },
        Reply::text(["fine now"]),
    ])
    .await;
    let (result, _) = complete(&provider(ProviderKind::Anthropic, &server), &request()).await;
    assert_eq!(result.unwrap().text, "fine now");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_refusing_tool_choice_is_asked_again_without_it() {
    let refusal = Reply::Status {
        status: 400,
        retry_after: None,
        body: json!({"error": {"message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set"}}).to_string(),
    };
    let server = FakeLlm::start([refusal, Reply::text(["first"]), Reply::text(["second"])]).await;
    let provider = provider_at(ProviderKind::OpenAi, &server.openai_base_url(), |config| {
        config.max_retries = 0
    });
    assert_eq!(
        complete(&provider, &request()).await.0.unwrap().text,
        "first"
    );
    assert_eq!(
        complete(&provider, &request()).await.0.unwrap().text,
        "second"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body["tool_choice"], "auto");
    assert!(requests[1].body.get("tool_choice").is_none());
    assert!(requests[2].body.get("tool_choice").is_none(), "remembered");
    assert!(requests[2].body.get("tools").is_some());
}

#[tokio::test]
async fn concurrent_calls_share_one_provider_and_overlap() {
    let server = FakeLlm::start([]).await;
    for topic in ["security", "performance", "api design"] {
        server.push_for(
            topic,
            Reply::Stream(
                Turn::text([format!("{topic}: "), "fine".into()])
                    .with_chunk_delay(Duration::from_millis(100)),
            ),
        );
    }
    let provider = Arc::new(provider(ProviderKind::OpenAi, &server));
    let handles: Vec<_> = ["security", "performance", "api design"]
        .into_iter()
        .map(|topic| {
            let provider = provider.clone();
            tokio::spawn(async move {
                let mut request = request();
                request.messages = vec![Message::user(format!("Review the {topic} of the draft"))];
                provider
                    .complete(&request, &mut |_: &str| {})
                    .await
                    .unwrap()
                    .text
            })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    assert_eq!(
        answers,
        ["security: fine", "performance: fine", "api design: fine"]
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].overlaps(&requests[1]) && requests[1].overlaps(&requests[2]));
    assert_eq!(server.remaining(), 0);
}

// ---- where the configuration comes from ----

fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn resolve(
    flags: &ProviderFlags,
    pairs: &[(&str, &str)],
    file: Option<&str>,
) -> Result<ProviderConfig, ProviderError> {
    ProviderConfig::resolve(flags, &environment(pairs), file)
}

#[test]
fn nothing_configured_explains_how_to_configure() {
    let error = resolve(&ProviderFlags::default(), &[], None).unwrap_err();
    let ProviderError::NotConfigured { how } = &error else {
        panic!("expected NotConfigured, got {error:?}");
    };
    for needle in [
        "PLINTH_LLM_PROVIDER",
        "PLINTH_LLM_BASE_URL",
        "PLINTH_LLM_MODEL",
        "PLINTH_LLM_API_KEY",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "--base-url",
        "[llm]",
        "api_key_env",
        "http://127.0.0.1:11434/v1",
        "http://127.0.0.1:8080/v1",
    ] {
        assert!(how.contains(needle), "{needle} missing from:\n{how}");
    }
    assert_eq!(error.to_string(), *how);
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let file = "[llm]\nprovider = \"openai\"\nbase_url = \"http://file.test/v1\"\nmodel = \"file-model\"\n";
    let env = [
        ("PLINTH_LLM_BASE_URL", "http://env.test/v1/"),
        ("PLINTH_LLM_MODEL", "env-model"),
    ];
    let config = resolve(&ProviderFlags::default(), &env, Some(file)).unwrap();
    assert_eq!(config.kind, ProviderKind::OpenAi);
    assert_eq!(config.base_url, "http://env.test/v1");
    assert_eq!(config.model, "env-model");
    assert_eq!(
        config.api_key, None,
        "a remote non-OpenAI host needs no key"
    );

    let flags = ProviderFlags {
        model: Some("flag-model".into()),
        api_key: Some("flag-key".into()),
        ..ProviderFlags::default()
    };
    let config = resolve(&flags, &env, Some(file)).unwrap();
    assert_eq!(config.model, "flag-model");
    assert_eq!(config.api_key.as_deref(), Some("flag-key"));

    let config = resolve(&ProviderFlags::default(), &[], Some(file)).unwrap();
    assert_eq!(config.base_url, "http://file.test/v1");
    assert_eq!(config.model, "file-model");
}

#[test]
fn local_servers_need_no_key_but_need_a_model() {
    let config = resolve(
        &ProviderFlags::default(),
        &[
            ("PLINTH_LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("PLINTH_LLM_MODEL", "qwen2.5:7b"),
            // A key for OpenAI is not sent to another host.
            ("OPENAI_API_KEY", "sk-openai"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(config.kind, ProviderKind::OpenAi);
    assert_eq!(config.api_key, None);
    assert_eq!(
        config.endpoint(),
        "http://127.0.0.1:11434/v1/chat/completions"
    );

    let shorthand = ProviderFlags {
        provider: Some("llama.cpp".into()),
        model: Some("local".into()),
        ..ProviderFlags::default()
    };
    let fallback = [("OPENAI_BASE_URL", "https://proxy.test/v1")];
    assert_eq!(
        resolve(&shorthand, &fallback, None).unwrap().base_url,
        "http://127.0.0.1:8080/v1"
    );

    let error = resolve(
        &ProviderFlags::default(),
        &[("PLINTH_LLM_BASE_URL", "http://localhost:8080/v1")],
        None,
    )
    .unwrap_err();
    let ProviderError::NotConfigured { how } = error else {
        panic!("expected NotConfigured");
    };
    assert!(how.starts_with("no model is named"), "{how}");
    assert!(how.contains("PLINTH_LLM_MODEL"), "{how}");
}

#[test]
fn openai_itself_uses_its_own_key_and_requires_one() {
    let config = resolve(
        &ProviderFlags::default(),
        &[
            ("OPENAI_API_KEY", "sk-openai"),
            ("PLINTH_LLM_MODEL", "gpt-4.1-mini"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(config.base_url, "https://api.openai.com/v1");
    assert_eq!(config.api_key.as_deref(), Some("sk-openai"));

    // OPENAI_BASE_URL and OPENAI_API_KEY go together, as in OpenAI's own SDKs.
    let paired = resolve(
        &ProviderFlags::default(),
        &[
            ("OPENAI_BASE_URL", "https://gateway.test/v1"),
            ("OPENAI_API_KEY", "sk-gateway"),
            ("PLINTH_LLM_MODEL", "m"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(paired.base_url, "https://gateway.test/v1");
    assert_eq!(paired.api_key.as_deref(), Some("sk-gateway"));

    let flags = ProviderFlags {
        provider: Some("openai".into()),
        model: Some("gpt-4.1-mini".into()),
        ..ProviderFlags::default()
    };
    let error = resolve(&flags, &[], None).unwrap_err();
    assert!(
        matches!(&error, ProviderError::MissingKey { variable, .. } if variable == "OPENAI_API_KEY"),
        "{error:?}"
    );
}

#[test]
fn anthropic_without_a_key_is_a_missing_key() {
    let flags = ProviderFlags {
        provider: Some("anthropic".into()),
        ..ProviderFlags::default()
    };
    let error = resolve(&flags, &[], None).unwrap_err();
    let ProviderError::MissingKey { provider, variable } = &error else {
        panic!("expected MissingKey, got {error:?}");
    };
    assert_eq!(
        (provider.as_str(), variable.as_str()),
        ("Anthropic", "ANTHROPIC_API_KEY")
    );
    assert!(error.to_string().contains("ANTHROPIC_API_KEY"));

    // With its key it resolves, to the default model.
    let config = resolve(&flags, &[("ANTHROPIC_API_KEY", "sk-ant")], None).unwrap();
    assert_eq!(config.kind, ProviderKind::Anthropic);
    assert_eq!(config.base_url, "https://api.anthropic.com");
    assert_eq!(
        config.model,
        plinth_agent::provider::DEFAULT_ANTHROPIC_MODEL
    );
    assert_eq!(config.endpoint(), "https://api.anthropic.com/v1/messages");
    // An Anthropic key alone is enough to pick Anthropic.
    let alone = resolve(
        &ProviderFlags::default(),
        &[("ANTHROPIC_API_KEY", "sk-ant")],
        None,
    )
    .unwrap();
    assert_eq!(alone.kind, ProviderKind::Anthropic);
}

#[test]
fn the_file_names_the_key_variable_and_never_holds_a_key() {
    let file = "[review]\nfail_on = \"error\"\n\n[llm]\nprovider = \"anthropic\"\napi_key_env = \"TEAM_CLAUDE_KEY\"\nrequest_timeout_secs = 30\nmax_retries = 1\n";
    let config = resolve(
        &ProviderFlags::default(),
        &[("TEAM_CLAUDE_KEY", "sk-team")],
        Some(file),
    )
    .unwrap();
    assert_eq!(config.api_key.as_deref(), Some("sk-team"));
    assert_eq!(config.request_timeout, Duration::from_secs(30));
    assert_eq!(config.max_retries, 1);
    let error = resolve(&ProviderFlags::default(), &[], Some(file)).unwrap_err();
    assert!(
        matches!(&error, ProviderError::MissingKey { variable, .. } if variable == "TEAM_CLAUDE_KEY"),
        "{error:?}"
    );

    let with_key = "[llm]\nprovider = \"anthropic\"\napi_key = \"sk-oops\"\n";
    let error = resolve(&ProviderFlags::default(), &[], Some(with_key)).unwrap_err();
    assert!(
        error.to_string().contains("keys do not belong in files"),
        "{error}"
    );
    let typo = "[llm]\nprovidr = \"openai\"\n";
    let error = resolve(&ProviderFlags::default(), &[], Some(typo)).unwrap_err();
    assert!(error.to_string().contains("providr"), "{error}");
}

#[test]
fn an_unknown_provider_name_is_refused_with_the_choices() {
    let error = resolve(
        &ProviderFlags::default(),
        &[("PLINTH_LLM_PROVIDER", "gemini")],
        None,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("PLINTH_LLM_PROVIDER names an unknown provider `gemini`"),
        "{message}"
    );
    assert!(message.contains("anthropic"), "{message}");
}

/// llama-cpp-python's `chatml-function-calling` cannot stream an answer that may call tools: it
/// opens an event stream and then fails. The provider asks again without streaming, for good.
#[tokio::test]
async fn a_server_that_cannot_stream_tool_answers_is_asked_without_streaming() {
    let server = FakeLlm::start([
        Reply::Raw {
            content_type: "text/event-stream".into(),
            body: String::new(),
        },
        Reply::Whole(Turn::calls([ScriptedCall::new(
            "c1",
            "check",
            serde_json::json!({"path": "schema.plinth"}),
        )])),
        Reply::Whole(Turn::text(["done"])),
    ])
    .await;
    let provider = provider(ProviderKind::OpenAi, &server);
    let (result, _) = complete(&provider, &request()).await;
    let response = result.unwrap();
    assert_eq!(response.tool_calls[0].name, "check");
    let (second, _) = complete(&provider, &request()).await;
    assert_eq!(second.unwrap().text, "done");
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].body["stream"], true);
    assert_eq!(requests[1].body["stream"], false);
    assert!(requests[1].body.get("stream_options").is_none());
    assert_eq!(requests[2].body["stream"], false, "the concession lasts");
}
