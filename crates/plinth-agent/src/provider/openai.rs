//! The OpenAI chat-completions wire format, as OpenAI, Ollama, llama.cpp's server and vLLM speak
//! it: the request body, the streamed `chat.completion.chunk`s, and the whole-object answer of
//! servers that ignore `stream`.

use super::{parse_arguments, Allowed, Failure, Flow, ProviderConfig, ProviderError};
use crate::conversation::{ChatRequest, ChatResponse, Message, Role, ToolCall, Usage};
use serde_json::{json, Map, Value};

/// OpenAI's own API, which wants `max_completion_tokens` (its reasoning models refuse
/// `max_tokens`) and no extra fields on messages; other servers get the classic field names.
fn is_openai_itself(config: &ProviderConfig) -> bool {
    super::config::host_of(&config.base_url).as_deref() == Some("api.openai.com")
}

pub(super) fn request_body(
    config: &ProviderConfig,
    request: &ChatRequest,
    allowed: Allowed,
) -> Value {
    let official = is_openai_itself(config);
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("messages".into(), Value::Array(messages(request, official)));
    body.insert("stream".into(), json!(allowed.stream));
    if allowed.stream && allowed.stream_options {
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    let max_tokens = if official {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body.insert(max_tokens.into(), json!(request.max_tokens));
    if let (Some(temperature), true) = (request.temperature, allowed.temperature) {
        body.insert("temperature".into(), json!(temperature));
    }
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    }
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if allowed.tool_choice {
            body.insert("tool_choice".into(), json!("auto"));
        }
    }
    Value::Object(body)
}

fn messages(request: &ChatRequest, official: bool) -> Vec<Value> {
    let mut wire = Vec::with_capacity(request.messages.len() + 1);
    if !request.system.is_empty() {
        wire.push(json!({"role": "system", "content": request.system}));
    }
    for message in &request.messages {
        wire.push(message_to_wire(message, official));
    }
    wire
}

fn message_to_wire(message: &Message, official: bool) -> Value {
    match message.role {
        Role::User => json!({"role": "user", "content": message.content}),
        Role::Assistant if message.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": message.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = message
                .tool_calls
                .iter()
                .map(|call| {
                    json!({
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": arguments_to_wire(&call.arguments)},
                    })
                })
                .collect();
            // OpenAI wants `null`, not "", beside tool calls; llama-cpp-python's server refuses
            // `null` and wants a string.
            let content = if message.content.is_empty() && official {
                Value::Null
            } else if message.content.is_empty() {
                json!("")
            } else {
                json!(message.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => match &message.tool_call_id {
            Some(id) => {
                let mut wire =
                    json!({"role": "tool", "tool_call_id": id, "content": message.content});
                // Several local chat templates print the tool's name beside its result.
                if let (Some(name), false) = (&message.name, official) {
                    wire["name"] = json!(name);
                }
                wire
            }
            // A result with no call to answer cannot be a `tool` message: say it in words.
            None => json!({
                "role": "user",
                "content": format!(
                    "Result of `{}`:\n{}",
                    message.name.as_deref().unwrap_or("a tool"),
                    message.content
                ),
            }),
        },
    }
}

/// Arguments as the JSON string the wire wants. Raw text the model wrote (kept when it did not
/// parse) goes back as a JSON string literal rather than as-is, because several local servers
/// parse the arguments of past calls while rendering their chat template and fail on invalid
/// JSON.
fn arguments_to_wire(arguments: &Value) -> String {
    match arguments {
        Value::String(raw) if serde_json::from_str::<Value>(raw).is_ok_and(|v| v.is_object()) => {
            raw.clone()
        }
        other => other.to_string(),
    }
}

/// A tool call being assembled from fragments.
#[derive(Debug, Default)]
struct PartialCall {
    index: Option<u64>,
    id: String,
    name: String,
    arguments: String,
}

/// One streamed answer being put together.
#[derive(Debug, Default)]
pub(super) struct Assembly {
    text: String,
    calls: Vec<PartialCall>,
    usage: Usage,
    stop_reason: Option<String>,
    done: bool,
}

impl Assembly {
    /// One `data:` payload: a chunk, or `[DONE]`.
    pub(super) fn event(
        &mut self,
        data: &str,
        emit: &mut dyn FnMut(&str),
    ) -> Result<Flow, Failure> {
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::More);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|error| {
            Failure::protocol(format!(
                "a streamed chunk is not JSON ({error}): {}",
                super::truncate(data, 200)
            ))
        })?;
        if let Some(error) = chunk.get("error") {
            return Err(error_in_body(error));
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| usage.is_object()) {
            self.usage = read_usage(usage);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(Flow::More);
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(reason.to_string());
        }
        let Some(delta) = choice.get("delta") else {
            return Ok(Flow::More);
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            if !text.is_empty() {
                self.text.push_str(text);
                emit(text);
            }
        }
        if let Some(fragments) = delta.get("tool_calls").and_then(Value::as_array) {
            for fragment in fragments {
                self.add_fragment(fragment);
            }
        }
        Ok(Flow::More)
    }

    /// Adds a `delta.tool_calls[i]` fragment: the id and name come first, the arguments arrive
    /// in pieces under the same `index`. Servers that omit the index, or reuse index 0 for
    /// several complete calls, are told apart by a new id.
    fn add_fragment(&mut self, fragment: &Value) {
        let index = fragment.get("index").and_then(Value::as_u64);
        let id = fragment.get("id").and_then(Value::as_str).unwrap_or("");
        let function = fragment.get("function");
        let name = function
            .and_then(|function| function.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let arguments = match function.and_then(|function| function.get("arguments")) {
            Some(Value::String(piece)) => piece.clone(),
            Some(Value::Null) | None => String::new(),
            // Some servers send the arguments as an object, whole.
            Some(other) => other.to_string(),
        };

        let existing = match index {
            Some(index) => self
                .calls
                .iter()
                .rposition(|call| call.index == Some(index)),
            None if id.is_empty() => self.calls.len().checked_sub(1),
            None => None,
        };
        let starts_another = existing.is_some_and(|at| {
            let call = &self.calls[at];
            !id.is_empty() && !call.id.is_empty() && call.id != id
        });
        let at = match existing {
            Some(at) if !starts_another => at,
            _ => {
                self.calls.push(PartialCall {
                    index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let call = &mut self.calls[at];
        if call.id.is_empty() {
            call.id = id.to_string();
        }
        if call.name.is_empty() {
            call.name = name.to_string();
        } else if !name.is_empty() && name != call.name {
            call.name.push_str(name);
        }
        call.arguments.push_str(&arguments);
    }

    pub(super) fn finish(self) -> Result<ChatResponse, Failure> {
        if !self.done && self.stop_reason.is_none() {
            return Err(Failure::cut_short(
                if self.text.is_empty() && self.calls.is_empty() {
                    "the stream ended before the answer began"
                } else {
                    "the stream ended before the answer was complete"
                },
            ));
        }
        let tool_calls = self
            .calls
            .into_iter()
            .filter(|call| !call.name.is_empty())
            .enumerate()
            .map(|(position, call)| ToolCall {
                id: if call.id.is_empty() {
                    format!("call-{}", position + 1)
                } else {
                    call.id
                },
                name: call.name,
                arguments: parse_arguments(&call.arguments),
            })
            .collect();
        Ok(ChatResponse {
            text: self.text,
            tool_calls,
            usage: self.usage,
            stop_reason: self.stop_reason,
        })
    }
}

fn read_usage(usage: &Value) -> Usage {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Usage {
        input_tokens: count("prompt_tokens"),
        output_tokens: count("completion_tokens"),
    }
}

/// An `error` object inside a 200 answer (some servers report failures mid-stream this way).
fn error_in_body(error: &Value) -> Failure {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| error.to_string());
    let code = error
        .get("code")
        .and_then(|code| code.as_u64().or_else(|| code.as_str()?.parse().ok()))
        .and_then(|code| u16::try_from(code).ok());
    match code {
        Some(status) if status == 429 || (500..=599).contains(&status) => {
            Failure::status(status, &message)
        }
        _ => Failure::fatal(ProviderError::Protocol(format!(
            "the server reported: {message}"
        ))),
    }
}

/// The answer of a server that ignored `stream: true`: one `chat.completion` object.
pub(super) fn whole(body: &Value, emit: &mut dyn FnMut(&str)) -> Result<ChatResponse, Failure> {
    if let Some(error) = body.get("error") {
        return Err(error_in_body(error));
    }
    let choice = body
        .pointer("/choices/0")
        .ok_or_else(|| Failure::protocol("the answer has no `choices`"))?;
    let message = choice.get("message").unwrap_or(&Value::Null);
    let text = match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        // Content given as parts: keep the text parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    emit(&text);
    let mut assembly = Assembly::default();
    for (index, call) in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut fragment = call.clone();
        if let Value::Object(fields) = &mut fragment {
            fields.entry("index").or_insert(json!(index));
        }
        assembly.add_fragment(&fragment);
    }
    let assembled = Assembly {
        done: true,
        ..assembly
    }
    .finish()?;
    Ok(ChatResponse {
        text,
        tool_calls: assembled.tool_calls,
        usage: body.get("usage").map(read_usage).unwrap_or_default(),
        stop_reason: choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(chunks: &[Value]) -> (ChatResponse, Vec<String>) {
        let mut assembly = Assembly::default();
        let mut seen = Vec::new();
        for chunk in chunks {
            assembly
                .event(&chunk.to_string(), &mut |text| seen.push(text.to_string()))
                .unwrap();
        }
        assembly.event("[DONE]", &mut |_| {}).unwrap();
        (assembly.finish().unwrap(), seen)
    }

    #[test]
    fn calls_without_an_index_are_told_apart_by_their_ids() {
        let call = |id: &str, name: &str, arguments: &str| {
            json!({"choices": [{"delta": {"tool_calls": [
                {"id": id, "function": {"name": name, "arguments": arguments}}
            ]}}]})
        };
        let (response, _) = assemble(&[
            call("a", "read_file", "{\"path\":"),
            json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": "\"x\"}"}}]}}]}),
            call("b", "check", ""),
        ]);
        let names: Vec<_> = response
            .tool_calls
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["read_file", "check"]);
        assert_eq!(response.tool_calls[0].arguments, json!({"path": "x"}));
        assert_eq!(response.tool_calls[1].arguments, json!({}));
    }

    #[test]
    fn complete_calls_reusing_index_zero_stay_separate() {
        let call = |id: &str| {
            json!({"choices": [{"delta": {"tool_calls": [
                {"index": 0, "id": id, "function": {"name": "check", "arguments": {"path": id}}}
            ]}}]})
        };
        let (response, _) = assemble(&[call("one"), call("two")]);
        assert_eq!(response.tool_calls.len(), 2);
        assert_eq!(response.tool_calls[1].arguments, json!({"path": "two"}));
    }

    #[test]
    fn openai_itself_gets_its_own_field_names() {
        let call = ToolCall {
            id: "c".into(),
            name: "check".into(),
            arguments: json!({}),
        };
        let request = ChatRequest {
            system: String::new(),
            messages: vec![
                Message::assistant("", vec![call.clone()]),
                Message::tool_result(&call, "ok"),
            ],
            tools: Vec::new(),
            max_tokens: 64,
            temperature: Some(0.5),
        };
        let allowed = Allowed {
            stream: true,
            tool_choice: true,
            stream_options: true,
            temperature: false,
        };
        let kind = super::super::ProviderKind::OpenAi;
        let official = ProviderConfig::new(kind, "https://api.openai.com/v1", "gpt-4.1-mini");
        let body = request_body(&official, &request, allowed);
        assert_eq!(body["max_completion_tokens"], 64);
        assert!(body.get("max_tokens").is_none());
        assert!(body.get("temperature").is_none());
        assert_eq!(body["messages"][0]["content"], Value::Null);
        assert!(body["messages"][1].get("name").is_none());
        let local = ProviderConfig::new(kind, "http://127.0.0.1:8080/v1", "local");
        let body = request_body(&local, &request, allowed);
        assert_eq!(body["max_tokens"], 64);
        assert_eq!(body["messages"][1]["name"], "check");
        assert_eq!(body["messages"][0]["content"], "");
    }

    #[test]
    fn raw_arguments_go_back_as_valid_json() {
        assert_eq!(arguments_to_wire(&json!({"a": 1})), r#"{"a":1}"#);
        assert_eq!(arguments_to_wire(&json!("{\"a\": 1}")), "{\"a\": 1}");
        assert_eq!(arguments_to_wire(&json!("{a: 1")), r#""{a: 1""#);
    }

    #[test]
    fn a_stream_without_an_end_is_cut_short() {
        let mut assembly = Assembly::default();
        assembly
            .event(
                &json!({"choices": [{"delta": {"content": "Hi"}}]}).to_string(),
                &mut |_| {},
            )
            .unwrap();
        let failure = assembly.finish().unwrap_err();
        assert!(failure.retryable);
    }
}
