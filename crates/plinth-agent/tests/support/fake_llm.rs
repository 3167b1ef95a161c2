//! A scripted fake model server for tests: real HTTP on 127.0.0.1, speaking both OpenAI's
//! chat-completions (`POST /v1/chat/completions`) and Anthropic's Messages (`POST /v1/messages`).
//!
//! A test queues [`Reply`]s; each request takes the next one and gets it rendered in the wire
//! format of the endpoint it called, so one script can drive either provider. Every request is
//! recorded with its body, headers and the instants it arrived and was fully answered, so tests
//! can assert what was sent and show that concurrent requests overlapped in time.
//!
//! ```ignore
//! mod support;
//! use support::fake_llm::{FakeLlm, Reply, ScriptedCall, Turn};
//!
//! let server = FakeLlm::start([
//!     Reply::Stream(Turn::default().with_call(ScriptedCall::new("c1", "check", json!({})))),
//!     Reply::Stream(Turn::text(["The draft ", "compiles."]).with_usage(120, 8)),
//! ])
//! .await;
//! let config = ProviderConfig::new(ProviderKind::OpenAi, server.openai_base_url(), "fake");
//! // … run the code under test …
//! assert_eq!(server.requests()[1].body["messages"][2]["role"], "tool");
//! ```

// Each test binary that includes this module uses a different part of it.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use plinth_agent::Usage;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// An answer streamed as server-sent events in the format of the endpoint called.
    Stream(Turn),
    /// The same answer as one JSON object, as servers that ignore `stream: true` send it.
    Whole(Turn),
    /// This JSON body, verbatim, with status 200.
    Json(Value),
    /// An error status with a body, and a `Retry-After` header (seconds) if given.
    Status {
        status: u16,
        retry_after: Option<u64>,
        body: String,
    },
    /// Sends nothing for this long, then 504: for client timeouts.
    Hang(Duration),
    /// This body, verbatim, with status 200 and this content type (hand-written SSE).
    Raw { content_type: String, body: String },
}

impl Reply {
    /// An error status with a short JSON error body, as both providers send them.
    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            retry_after: None,
            body: json!({"error": {"message": format!("scripted status {status}")}}).to_string(),
        }
    }

    /// 429 with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Reply {
        Reply::Status {
            status: 429,
            retry_after: Some(seconds),
            body: json!({"error": {"message": "rate limit reached, slow down"}}).to_string(),
        }
    }

    /// A streamed plain-text answer in these chunks.
    pub fn text<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::Stream(Turn::text(chunks))
    }
}

/// One answer of the fake model: text chunks, then tool calls, then the end with usage.
#[derive(Clone, Debug, Default)]
pub struct Turn {
    /// Sent in order, one chunk per event.
    pub text: Vec<String>,
    pub tool_calls: Vec<ScriptedCall>,
    /// Reported at the end; `None` sends no usage (OpenAI format) or zeros (Anthropic format).
    pub usage: Option<Usage>,
    /// Defaults to `tool_calls`/`tool_use` when there are calls, `stop`/`end_turn` otherwise.
    pub stop_reason: Option<String>,
    /// A pause before each event, so an answer takes time (overlap, timeouts between chunks).
    pub chunk_delay: Duration,
    /// Breaks the connection after this many events, without the end of the stream.
    pub cut_after: Option<usize>,
    /// Goes silent for this long after this many events, then carries on.
    pub pause: Option<(usize, Duration)>,
}

impl Turn {
    pub fn text<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Turn {
        Turn {
            text: chunks.into_iter().map(Into::into).collect(),
            ..Turn::default()
        }
    }

    pub fn calls(calls: impl IntoIterator<Item = ScriptedCall>) -> Turn {
        Turn {
            tool_calls: calls.into_iter().collect(),
            ..Turn::default()
        }
    }

    pub fn with_call(mut self, call: ScriptedCall) -> Turn {
        self.tool_calls.push(call);
        self
    }

    pub fn with_usage(mut self, input_tokens: u64, output_tokens: u64) -> Turn {
        self.usage = Some(Usage {
            input_tokens,
            output_tokens,
        });
        self
    }

    pub fn with_stop_reason(mut self, reason: &str) -> Turn {
        self.stop_reason = Some(reason.to_string());
        self
    }

    pub fn with_chunk_delay(mut self, delay: Duration) -> Turn {
        self.chunk_delay = delay;
        self
    }

    pub fn cut_after(mut self, events: usize) -> Turn {
        self.cut_after = Some(events);
        self
    }

    pub fn pause_after(mut self, events: usize, silence: Duration) -> Turn {
        self.pause = Some((events, silence));
        self
    }

    /// The whole text, as the client should assemble it.
    pub fn full_text(&self) -> String {
        self.text.concat()
    }
}

/// A tool call the fake model makes, its arguments split into the fragments the stream sends.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptedCall {
    pub id: String,
    pub name: String,
    pub fragments: Vec<String>,
}

impl ScriptedCall {
    /// Valid JSON arguments, sent in three fragments that split keys and strings.
    pub fn new(id: &str, name: &str, arguments: Value) -> ScriptedCall {
        let text = arguments.to_string();
        let chars: Vec<char> = text.chars().collect();
        let third = chars.len().div_ceil(3).max(1);
        ScriptedCall {
            id: id.to_string(),
            name: name.to_string(),
            fragments: chars
                .chunks(third)
                .map(|piece| piece.iter().collect())
                .collect(),
        }
    }

    /// Arguments exactly as these fragments, valid JSON or not.
    pub fn fragments<S: Into<String>>(
        id: &str,
        name: &str,
        fragments: impl IntoIterator<Item = S>,
    ) -> ScriptedCall {
        ScriptedCall {
            id: id.to_string(),
            name: name.to_string(),
            fragments: fragments.into_iter().map(Into::into).collect(),
        }
    }

    pub fn arguments_text(&self) -> String {
        self.fragments.concat()
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// Position in arrival order, from 0.
    pub index: usize,
    pub path: String,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    /// The JSON body (a string if it was not JSON).
    pub body: Value,
    pub arrived: Instant,
    /// When the last byte of the answer was handed to the connection; `None` while answering.
    pub finished: Option<Instant>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the two requests were being answered at the same time.
    pub fn overlaps(&self, other: &Recorded) -> bool {
        let end = |request: &Recorded| request.finished.unwrap_or_else(Instant::now);
        self.arrived < end(other) && other.arrived < end(self)
    }
}

#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Reply>>,
    /// Replies for requests whose body contains the needle, checked before the queue.
    routed: Mutex<Vec<(String, VecDeque<Reply>)>>,
    requests: Mutex<Vec<Recorded>>,
}

impl Shared {
    fn next_reply(&self, body_text: &str) -> Option<Reply> {
        let mut routed = self.routed.lock().unwrap();
        for (needle, replies) in routed.iter_mut() {
            if body_text.contains(needle.as_str()) {
                if let Some(reply) = replies.pop_front() {
                    return Some(reply);
                }
            }
        }
        drop(routed);
        self.queue.lock().unwrap().pop_front()
    }

    fn finished(&self, index: usize) {
        self.requests.lock().unwrap()[index].finished = Some(Instant::now());
    }
}

/// The running server; it stops when dropped.
pub struct FakeLlm {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    /// Starts on an ephemeral port of 127.0.0.1 with these replies queued.
    pub async fn start(replies: impl IntoIterator<Item = Reply>) -> FakeLlm {
        let shared = Arc::new(Shared::default());
        shared.queue.lock().unwrap().extend(replies);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake LLM server");
        });
        FakeLlm {
            address,
            shared,
            task,
        }
    }

    /// Queues a reply for the next request no routed reply matches.
    pub fn push(&self, reply: Reply) {
        self.shared.queue.lock().unwrap().push_back(reply);
    }

    /// Queues a reply for the next request whose body contains `needle` (for concurrent
    /// requests, whose arrival order is not known, such as sub-agents with different tasks).
    pub fn push_for(&self, needle: &str, reply: Reply) {
        let mut routed = self.shared.routed.lock().unwrap();
        match routed.iter_mut().find(|(existing, _)| existing == needle) {
            Some((_, replies)) => replies.push_back(reply),
            None => routed.push((needle.to_string(), VecDeque::from([reply]))),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The base URL an OpenAI-compatible client is given: `http://127.0.0.1:PORT/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The base URL an Anthropic client is given: `http://127.0.0.1:PORT`.
    pub fn anthropic_base_url(&self) -> String {
        self.url()
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Replies not yet used, queued and routed.
    pub fn remaining(&self) -> usize {
        let routed: usize = self
            .shared
            .routed
            .lock()
            .unwrap()
            .iter()
            .map(|(_, replies)| replies.len())
            .sum();
        self.shared.queue.lock().unwrap().len() + routed
    }
}

/// A URL on 127.0.0.1 where nothing listens (a port just bound and released).
pub fn unreachable_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    OpenAi,
    Anthropic,
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let index = {
        let mut requests = shared.requests.lock().unwrap();
        let index = requests.len();
        requests.push(Recorded {
            index,
            path: uri.path().to_string(),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: serde_json::from_str(&body_text).unwrap_or(Value::String(body_text.clone())),
            arrived,
            finished: None,
        });
        index
    };
    let format = if uri.path().ends_with("/chat/completions") {
        Format::OpenAi
    } else if uri.path().ends_with("/messages") {
        Format::Anthropic
    } else {
        shared.finished(index);
        return error(StatusCode::NOT_FOUND, &format!("no route {}", uri.path()));
    };
    let Some(reply) = shared.next_reply(&body_text) else {
        shared.finished(index);
        // 400, not 5xx: a test that ran out of script should fail at once, not be retried.
        return error(
            StatusCode::BAD_REQUEST,
            &format!("fake_llm: no scripted reply left for request #{index}"),
        );
    };
    let model = serde_json::from_str::<Value>(&body_text)
        .ok()
        .and_then(|body| body.get("model")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "fake-model".to_string());

    match reply {
        Reply::Stream(turn) => {
            let events = match format {
                Format::OpenAi => openai_events(&turn, &model),
                Format::Anthropic => anthropic_events(&turn, &model),
            };
            stream_response(shared, index, events, &turn)
        }
        Reply::Whole(turn) => {
            shared.finished(index);
            let value = match format {
                Format::OpenAi => openai_whole(&turn, &model),
                Format::Anthropic => anthropic_whole(&turn, &model),
            };
            json_response(StatusCode::OK, value.to_string())
        }
        Reply::Json(value) => {
            shared.finished(index);
            json_response(StatusCode::OK, value.to_string())
        }
        Reply::Status {
            status,
            retry_after,
            body,
        } => {
            shared.finished(index);
            let mut response =
                json_response(StatusCode::from_u16(status).expect("a valid status"), body);
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", seconds.to_string().parse().unwrap());
            }
            response
        }
        Reply::Hang(duration) => {
            tokio::time::sleep(duration).await;
            shared.finished(index);
            error(StatusCode::GATEWAY_TIMEOUT, "fake_llm: hung up")
        }
        Reply::Raw { content_type, body } => {
            shared.finished(index);
            ([("content-type", content_type)], body).into_response()
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({"error": {"message": message}}).to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "application/json")], body).into_response()
}

/// Streams the events, pausing before each, breaking the connection if the turn says so, and
/// recording when the last one went out.
fn stream_response(
    shared: Arc<Shared>,
    index: usize,
    events: Vec<String>,
    turn: &Turn,
) -> Response {
    let mut items: VecDeque<Result<Bytes, std::io::Error>> = events
        .into_iter()
        .take(turn.cut_after.unwrap_or(usize::MAX))
        .map(|event| Ok(Bytes::from(event)))
        .collect();
    if turn.cut_after.is_some() {
        items.push_back(Err(std::io::Error::other("fake_llm: scripted cut")));
    }
    let delay = turn.chunk_delay;
    let pause = turn.pause;
    let stream = futures_util::stream::unfold((items, 0usize), move |(mut items, sent)| {
        let shared = shared.clone();
        async move {
            if !delay.is_zero() && !items.is_empty() {
                tokio::time::sleep(delay).await;
            }
            if let Some((after, silence)) = pause {
                if sent == after && !items.is_empty() {
                    tokio::time::sleep(silence).await;
                }
            }
            if matches!(items.front(), Some(Err(_))) {
                // Let what was sent reach the client before the connection breaks: hyper
                // flushes while the body is pending, and drops unflushed bytes on an error.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let item = items.pop_front();
            if items.is_empty() {
                shared.finished(index);
            }
            item.map(|item| (item, (items, sent + 1)))
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn openai_stop_reason(turn: &Turn) -> String {
    turn.stop_reason.clone().unwrap_or_else(|| {
        if turn.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
        .to_string()
    })
}

fn anthropic_stop_reason(turn: &Turn) -> String {
    turn.stop_reason.clone().unwrap_or_else(|| {
        if turn.tool_calls.is_empty() {
            "end_turn"
        } else {
            "tool_use"
        }
        .to_string()
    })
}

fn openai_events(turn: &Turn, model: &str) -> Vec<String> {
    let chunk = |choices: Value| {
        let chunk = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": choices,
        });
        format!("data: {chunk}\n\n")
    };
    let mut events = vec![chunk(json!([{
        "index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null
    }]))];
    for text in &turn.text {
        events.push(chunk(json!([{
            "index": 0, "delta": {"content": text}, "finish_reason": null
        }])));
    }
    for (index, call) in turn.tool_calls.iter().enumerate() {
        events.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{
            "index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}
        }]}, "finish_reason": null}])));
        for fragment in &call.fragments {
            events.push(chunk(json!([{"index": 0, "delta": {"tool_calls": [{
                "index": index, "function": {"arguments": fragment}
            }]}, "finish_reason": null}])));
        }
    }
    events.push(chunk(json!([{
        "index": 0, "delta": {}, "finish_reason": openai_stop_reason(turn)
    }])));
    if let Some(usage) = turn.usage {
        let chunk = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [],
            "usage": {
                "prompt_tokens": usage.input_tokens,
                "completion_tokens": usage.output_tokens,
                "total_tokens": usage.total(),
            },
        });
        events.push(format!("data: {chunk}\n\n"));
    }
    events.push("data: [DONE]\n\n".to_string());
    events
}

fn anthropic_events(turn: &Turn, model: &str) -> Vec<String> {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let usage = turn.usage.unwrap_or_default();
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_fake", "type": "message", "role": "assistant", "content": [],
                "model": model, "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1}
            }}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    let mut index = 0;
    if !turn.text.is_empty() {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        ));
        for text in &turn.text {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    for call in &turn.tool_calls {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": call.id, "name": call.name, "input": {}
            }}),
        ));
        for fragment in &call.fragments {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": fragment}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": anthropic_stop_reason(turn), "stop_sequence": null},
               "usage": {"output_tokens": usage.output_tokens}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    events
}

fn openai_whole(turn: &Turn, model: &str) -> Value {
    let calls: Vec<Value> = turn
        .tool_calls
        .iter()
        .map(|call| {
            json!({"id": call.id, "type": "function",
                   "function": {"name": call.name, "arguments": call.arguments_text()}})
        })
        .collect();
    let mut message = json!({"role": "assistant", "content": turn.full_text()});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    let usage = turn.usage.unwrap_or_default();
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": openai_stop_reason(turn)}],
        "usage": {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total(),
        },
    })
}

fn anthropic_whole(turn: &Turn, model: &str) -> Value {
    let mut content = Vec::new();
    if !turn.text.is_empty() {
        content.push(json!({"type": "text", "text": turn.full_text()}));
    }
    for call in &turn.tool_calls {
        let input: Value =
            serde_json::from_str(&call.arguments_text()).unwrap_or_else(|_| json!({}));
        content.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}));
    }
    let usage = turn.usage.unwrap_or_default();
    json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": anthropic_stop_reason(turn),
        "stop_sequence": null,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
    })
}
