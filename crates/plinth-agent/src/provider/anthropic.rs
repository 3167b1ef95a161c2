//! Anthropic's Messages API: the request body (system prompt at the top, tool calls and results
//! as content blocks) and the streamed events (`message_start`, `content_block_*`,
//! `message_delta`, `message_stop`, `error`).

use super::sse::SseEvent;
use super::{parse_arguments, Allowed, Failure, Flow, ProviderConfig};
use crate::conversation::{ChatRequest, ChatResponse, Message, Role, ToolCall, Usage};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub(super) fn request_body(
    config: &ProviderConfig,
    request: &ChatRequest,
    allowed: Allowed,
) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(config.model));
    body.insert("max_tokens".into(), json!(request.max_tokens));
    body.insert("stream".into(), json!(true));
    if !request.system.is_empty() {
        // A cache breakpoint after the system prompt caches the tools and the prompt, which
        // every step of the loop sends again.
        body.insert(
            "system".into(),
            json!([{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}]),
        );
    }
    body.insert("messages".into(), Value::Array(messages(&request.messages)));
    if let (Some(temperature), true) = (request.temperature, allowed.temperature) {
        body.insert("temperature".into(), json!(temperature));
    }
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if allowed.tool_choice {
            body.insert("tool_choice".into(), json!({"type": "auto"}));
        }
    }
    Value::Object(body)
}

/// The conversation as alternating user/assistant messages of content blocks: tool calls become
/// `tool_use` blocks, results become `tool_result` blocks of a user message, and consecutive
/// messages of one role (several tool results, a result and then the person's words) merge.
fn messages(messages: &[Message]) -> Vec<Value> {
    let mut wire: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in messages {
        let (role, blocks) = match message.role {
            Role::User => ("user", text_block(&message.content).into_iter().collect()),
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&message.content).into_iter().collect();
                blocks.extend(message.tool_calls.iter().map(tool_use_block));
                ("assistant", blocks)
            }
            Role::Tool => match &message.tool_call_id {
                Some(id) => (
                    "user",
                    vec![json!({
                        "type": "tool_result",
                        "tool_use_id": id,
                        "content": if message.content.is_empty() { "(no output)" } else { message.content.as_str() },
                    })],
                ),
                None => (
                    "user",
                    text_block(&format!(
                        "Result of `{}`:\n{}",
                        message.name.as_deref().unwrap_or("a tool"),
                        message.content
                    ))
                    .into_iter()
                    .collect(),
                ),
            },
        };
        // Anthropic refuses empty messages and empty text blocks.
        if blocks.is_empty() {
            continue;
        }
        match wire.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => wire.push((role, blocks)),
        }
    }
    // A second cache breakpoint at the end of the conversation: the next step reads all of it
    // from the cache and pays only for what it adds.
    if let Some(block) = wire.last_mut().and_then(|(_, blocks)| blocks.last_mut()) {
        block["cache_control"] = json!({"type": "ephemeral"});
    }
    wire.into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn text_block(text: &str) -> Option<Value> {
    (!text.trim().is_empty()).then(|| json!({"type": "text", "text": text}))
}

/// `input` must be an object: raw text the model wrote (kept when it did not parse) goes back
/// wrapped, so the model can still see what it sent.
fn tool_use_block(call: &ToolCall) -> Value {
    let input = match &call.arguments {
        Value::Object(_) => call.arguments.clone(),
        Value::Null => json!({}),
        other => json!({"raw_arguments": other}),
    };
    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input})
}

#[derive(Debug)]
enum Block {
    Text,
    ToolUse {
        id: String,
        name: String,
        /// `input` of `content_block_start`: used when no `input_json_delta` follows.
        initial: Value,
        json: String,
    },
    /// Thinking and other blocks the loop does not use.
    Other,
}

/// One streamed answer being put together.
#[derive(Debug, Default)]
pub(super) struct Assembly {
    text: String,
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    stop_reason: Option<String>,
    done: bool,
}

impl Assembly {
    pub(super) fn event(
        &mut self,
        event: &SseEvent,
        emit: &mut dyn FnMut(&str),
    ) -> Result<Flow, Failure> {
        if event.data.trim().is_empty() {
            return Ok(Flow::More);
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            Failure::protocol(format!(
                "an event is not JSON ({error}): {}",
                super::truncate(&event.data, 200)
            ))
        })?;
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or("");
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => {
                if let Some(usage) = data.pointer("/message/usage") {
                    self.read_usage(usage);
                }
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let started = match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(text) = block.get("text").and_then(Value::as_str) {
                            self.push_text(text, emit);
                        }
                        Block::Text
                    }
                    Some("tool_use") => Block::ToolUse {
                        id: string_at(block, "id"),
                        name: string_at(block, "name"),
                        initial: block.get("input").cloned().unwrap_or(Value::Null),
                        json: String::new(),
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, started);
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(text) = delta.get("text").and_then(Value::as_str) {
                            self.push_text(text, emit);
                        }
                    }
                    Some("input_json_delta") => {
                        let piece = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        match self.blocks.get_mut(&index) {
                            Some(Block::ToolUse { json, .. }) => json.push_str(piece),
                            _ => {
                                return Err(Failure::protocol(format!(
                                    "arguments arrived for block {index}, which is not a tool call"
                                )))
                            }
                        }
                    }
                    _ => {} // thinking, signatures, citations
                }
            }
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
                if let Some(usage) = data.get("usage") {
                    self.read_usage(usage);
                }
            }
            "message_stop" => {
                self.done = true;
                return Ok(Flow::Done);
            }
            "error" => return Err(error_event(data.get("error").unwrap_or(&data))),
            _ => {} // ping, content_block_stop, and events added later
        }
        Ok(Flow::More)
    }

    fn push_text(&mut self, text: &str, emit: &mut dyn FnMut(&str)) {
        if !text.is_empty() {
            self.text.push_str(text);
            emit(text);
        }
    }

    /// `message_start` carries the input tokens; `message_delta` the running output count.
    /// Cached input is input too: the budget counts what the model read.
    fn read_usage(&mut self, usage: &Value) {
        let count = |key: &str| usage.get(key).and_then(Value::as_u64);
        let input: Vec<u64> = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .filter_map(|key| count(key))
        .collect();
        if !input.is_empty() {
            self.usage.input_tokens = input.iter().sum();
        }
        if let Some(output) = count("output_tokens") {
            self.usage.output_tokens = output;
        }
    }

    pub(super) fn finish(self) -> Result<ChatResponse, Failure> {
        if !self.done && self.stop_reason.is_none() {
            return Err(Failure::cut_short(if self.blocks.is_empty() {
                "the stream ended before the answer began"
            } else {
                "the stream ended before the answer was complete"
            }));
        }
        let tool_calls = self
            .blocks
            .into_values()
            .filter_map(|block| match block {
                Block::ToolUse {
                    id,
                    name,
                    initial,
                    json,
                } => Some(ToolCall {
                    id,
                    name,
                    arguments: if json.trim().is_empty() && initial.is_object() {
                        initial
                    } else {
                        parse_arguments(&json)
                    },
                }),
                Block::Text | Block::Other => None,
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

fn string_at(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// An `error` event or body. Overload, rate limits and internal errors are worth a retry and are
/// reported with the HTTP status Anthropic uses for them.
fn error_event(error: &Value) -> Failure {
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or(kind)
        .to_string();
    let body = json!({"type": "error", "error": {"type": kind, "message": message}}).to_string();
    match kind {
        "overloaded_error" => Failure::status(529, &body),
        "rate_limit_error" => Failure::status(429, &body),
        "api_error" => Failure::status(500, &body),
        "timeout_error" => Failure::status(504, &body),
        _ => Failure::protocol(format!("Anthropic reported {kind}: {message}")),
    }
}

/// The answer of a server that ignored `stream: true`: one `message` object.
pub(super) fn whole(body: &Value, emit: &mut dyn FnMut(&str)) -> Result<ChatResponse, Failure> {
    if body.get("type").and_then(Value::as_str) == Some("error") {
        return Err(error_event(body.get("error").unwrap_or(body)));
    }
    let content = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| Failure::protocol("the answer has no `content`"))?;
    let mut assembly = Assembly {
        done: true,
        stop_reason: body
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..Assembly::default()
    };
    for (index, block) in content.iter().enumerate() {
        let index = index as u64;
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                assembly.push_text(
                    block.get("text").and_then(Value::as_str).unwrap_or(""),
                    emit,
                );
            }
            Some("tool_use") => {
                assembly.blocks.insert(
                    index,
                    Block::ToolUse {
                        id: string_at(block, "id"),
                        name: string_at(block, "name"),
                        initial: block.get("input").cloned().unwrap_or(json!({})),
                        json: String::new(),
                    },
                );
            }
            _ => {}
        }
    }
    if let Some(usage) = body.get("usage") {
        assembly.read_usage(usage);
    }
    assembly.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::ToolSpec;

    #[test]
    fn tool_results_merge_into_one_user_message_with_the_person_s_reply() {
        let first = ToolCall {
            id: "toolu_1".into(),
            name: "check".into(),
            arguments: json!({}),
        };
        let second = ToolCall {
            id: "toolu_2".into(),
            name: "read_file".into(),
            arguments: json!("{path: 'x'"),
        };
        let request = ChatRequest {
            system: "Be brief.".into(),
            messages: vec![
                Message::user("Draft a todo app"),
                Message::assistant("", vec![first.clone(), second.clone()]),
                Message::tool_result(&first, "ok"),
                Message::tool_result(&second, ""),
                Message::user("   "),
            ],
            tools: vec![ToolSpec {
                name: "check".into(),
                description: "Compile".into(),
                parameters: json!({"type": "object"}),
            }],
            max_tokens: 100,
            temperature: None,
        };
        let config = ProviderConfig::new(super::super::ProviderKind::Anthropic, "http://x", "m");
        let allowed = Allowed {
            stream: true,
            tool_choice: true,
            stream_options: true,
            temperature: true,
        };
        let body = request_body(&config, &request, allowed);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[1]["content"][1]["input"],
            json!({"raw_arguments": "{path: 'x'"})
        );
        let results = messages[2]["content"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["tool_use_id"], "toolu_1");
        assert_eq!(results[1]["content"], "(no output)");
        assert_eq!(results[1]["cache_control"]["type"], "ephemeral");
        assert_eq!(body["system"][0]["text"], "Be brief.");
        assert!(body.get("temperature").is_none());
    }
}
