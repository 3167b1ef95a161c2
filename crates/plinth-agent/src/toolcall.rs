//! Tool calls from small and local models: calls written as text instead of the tool channel,
//! near-JSON arguments, coercion to the tool's schema, and a model repeating itself.
//!
//! Small models served by Ollama or llama.cpp (SmolLM2, Qwen 0.5B, Llama 3.2 1B) often ignore the
//! native tool-call channel and write the format of their training instead (`<tool_call>`,
//! `<function=…>`, a bare JSON object), with single quotes, Python literals, and a closing brace
//! missing where the token limit cut them off. Everything here is best effort and never panics:
//! what cannot be read as a call to a known tool stays text, and arguments that do not fit come
//! back as plain-English problems the loop sends to the model.
//!
//! The near-JSON repair is a small tolerant parser rather than a dependency: `json5` reads single
//! quotes, comments and trailing commas, but not truncated output, Python literals or unescaped
//! quotes inside a long string value, which are the usual failures of small models.

use crate::conversation::{ToolCall, ToolSpec};
use serde_json::{Map, Value};
use std::collections::VecDeque;

/// How deep the tolerant parser nests before giving up: serde_json's own limit, so hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Positions of `{` or `[` tried when the JSON has words around it: plenty for a real answer, few
/// enough that a text full of braces stays cheap.
const MAX_CANDIDATES: usize = 64;

/// How many times a doubly-encoded string (`"{\"a\":1}"`) is unwrapped.
const MAX_ENCODINGS: usize = 3;

// ---------------------------------------------------------------------------------------------
// Tool calls written as text
// ---------------------------------------------------------------------------------------------

/// Tool calls the model wrote as text instead of using the tool channel: a fenced ```json block
/// (or ```tool_call / unlabelled fence) holding `{"name": ..., "arguments": {...}}` (also
/// "parameters"/"args"/"input" as the arguments key, and `{"tool": ..}` /
/// `{"function": {"name": .., "arguments": ..}}` shapes, and a JSON array of such),
/// `<tool_call>…</tool_call>` (Hermes/Qwen style), `<function=name>{…}</function>` (Llama 3.1
/// style), and `functions.name:{…}` / `functions.name({…})` lines. Also a bare JSON call in the
/// text (Llama 3.2's format, after an optional `<|python_tag|>`), Python-style
/// `[name(key="value")]` lines (how Llama 3.2's small models are prompted to call), and
/// Mistral's `[TOOL_CALLS]`.
///
/// Only names in `tools` count (anything else is text). Nothing inside `<think>…</think>` or a
/// fence of another language (a ```prisma draft) is taken. Returns the text with the calls
/// removed, and the calls with fresh ids (`text-call-1`, …) in the order they were written.
pub fn extract_text_tool_calls(text: &str, tools: &[ToolSpec]) -> (String, Vec<ToolCall>) {
    let mut scan = Scan {
        text,
        tools,
        regions: Vec::new(),
    };
    scan.think_blocks();
    scan.tool_call_tags();
    scan.function_tags();
    scan.fences();
    scan.mistral_marker();
    scan.functions_prefix();
    scan.python_calls();
    scan.bare_json();

    let mut regions: Vec<Region> = scan
        .regions
        .into_iter()
        .filter(|region| region.calls.is_some())
        .collect();
    if regions.is_empty() {
        return (text.to_string(), Vec::new());
    }
    regions.sort_by_key(|region| region.start);
    let mut remaining = String::new();
    let mut calls = Vec::new();
    let mut copied_to = 0;
    for region in regions {
        let (start, end) = whole_lines(text, region.start, region.end);
        remaining.push_str(&text[copied_to..start.max(copied_to)]);
        copied_to = end.max(copied_to);
        for (name, arguments) in region.calls.into_iter().flatten() {
            calls.push(ToolCall {
                id: format!("text-call-{}", calls.len() + 1),
                name,
                arguments,
            });
        }
    }
    remaining.push_str(&text[copied_to..]);
    (tidy(&remaining), calls)
}

/// A stretch of the answer that later passes leave alone: calls found there, or `None` for text
/// that must not be read as calls (reasoning, a schema draft, a JSON example).
struct Region {
    start: usize,
    end: usize,
    calls: Option<Vec<(String, Value)>>,
}

struct Scan<'a> {
    text: &'a str,
    tools: &'a [ToolSpec],
    regions: Vec<Region>,
}

impl Scan<'_> {
    /// The next occurrence of `needle` at or after `from` that no earlier pass claimed.
    fn next_free(&self, from: usize, needle: &str) -> Option<usize> {
        let mut from = from;
        loop {
            let found = from + self.text.get(from..)?.find(needle)?;
            match self.covering(found) {
                Some(end) => from = end.max(found + 1),
                None => return Some(found),
            }
        }
    }

    /// The end of the region holding `position`, if one does.
    fn covering(&self, position: usize) -> Option<usize> {
        self.regions
            .iter()
            .find(|region| region.start <= position && position < region.end)
            .map(|region| region.end)
    }

    fn claim(&mut self, start: usize, end: usize, calls: Option<Vec<(String, Value)>>) {
        self.regions.push(Region { start, end, calls });
    }

    /// Reasoning is not acting: a call drafted inside `<think>` is not made.
    fn think_blocks(&mut self) {
        let mut from = 0;
        while let Some(open) = self.next_free(from, "<think>") {
            let end = self.text[open..]
                .find("</think>")
                .map_or(self.text.len(), |at| open + at + "</think>".len());
            self.claim(open, end, None);
            from = end;
        }
    }

    /// `<tool_call>{…}</tool_call>`, as Hermes and Qwen templates write it; a missing closing
    /// tag (cut off, or forgotten) ends at the next opening tag or the end of the text.
    fn tool_call_tags(&mut self) {
        const OPEN: &str = "<tool_call>";
        const CLOSE: &str = "</tool_call>";
        let mut from = 0;
        while let Some(open) = self.next_free(from, OPEN) {
            let body_start = open + OPEN.len();
            let rest = &self.text[body_start..];
            let close = rest.find(CLOSE);
            let next_open = rest.find(OPEN);
            let (body_end, end) = match (close, next_open) {
                (Some(close), Some(next)) if next < close => (body_start + next, body_start + next),
                (Some(close), _) => (body_start + close, body_start + close + CLOSE.len()),
                (None, Some(next)) => (body_start + next, body_start + next),
                (None, None) => (self.text.len(), self.text.len()),
            };
            let calls = calls_in_block(&self.text[body_start..body_end], self.tools);
            self.claim(open, end, calls);
            from = end;
        }
    }

    /// `<function=name>{…}</function>`, Llama 3.1's built-in format. The tag names the tool, so
    /// arguments that cannot be read are passed on as text for the loop to complain about.
    fn function_tags(&mut self) {
        const OPEN: &str = "<function=";
        const CLOSE: &str = "</function>";
        let mut from = 0;
        while let Some(open) = self.next_free(from, OPEN) {
            let name_start = open + OPEN.len();
            let Some(name_length) = self.text[name_start..].find('>') else {
                break;
            };
            let name = self.text[name_start..name_start + name_length]
                .trim()
                .trim_matches(['"', '\'']);
            let body_start = name_start + name_length + 1;
            let (body_end, end) = match self.text[body_start..].find(CLOSE) {
                Some(close) => (body_start + close, body_start + close + CLOSE.len()),
                None => (self.text.len(), self.text.len()),
            };
            let calls = self.tool_named(name).map(|name| {
                let body = self.text[body_start..body_end].trim();
                let arguments = parse_arguments(body).unwrap_or_else(|_| body.into());
                vec![(name, arguments)]
            });
            self.claim(open, end, calls);
            from = end;
        }
    }

    /// Markdown fences: a JSON-ish fence holding calls is taken; any other fence is left as
    /// text and shields its content (a schema draft, a JSON example) from the later passes.
    fn fences(&mut self) {
        const FENCE: &str = "```";
        const CALL_LABELS: [&str; 12] = [
            "",
            "json",
            "json5",
            "jsonc",
            "javascript",
            "js",
            "tool_call",
            "tool_calls",
            "tool",
            "tools",
            "function_call",
            "function",
        ];
        let length = self.text.len();
        let mut from = 0;
        while let Some(open) = self.next_free(from, FENCE) {
            let after = open + FENCE.len();
            let line_end = self.text[after..]
                .find('\n')
                .map_or(length, |at| after + at);
            let header = &self.text[after..line_end];
            // ```json{"name": …}``` written on one line
            let (label, body_start) = match header.find(['{', '[']) {
                Some(at) => (&header[..at], after + at),
                None => (header, (line_end + 1).min(length)),
            };
            let (body_end, end) = match self.text[body_start..].find(FENCE) {
                Some(close) => (body_start + close, body_start + close + FENCE.len()),
                None => (length, length),
            };
            let label = label.split_whitespace().next().unwrap_or("");
            let calls = if CALL_LABELS.contains(&label.to_ascii_lowercase().as_str()) {
                calls_in_block(&self.text[body_start..body_end], self.tools)
            } else {
                None
            };
            self.claim(open, end, calls);
            from = end;
        }
    }

    /// `[TOOL_CALLS] [{"name": …, "arguments": …}]`, Mistral's format.
    fn mistral_marker(&mut self) {
        const MARKER: &str = "[TOOL_CALLS]";
        let mut from = 0;
        while let Some(open) = self.next_free(from, MARKER) {
            let value_start = skip_whitespace(self.text, open + MARKER.len());
            from = open + MARKER.len();
            if !matches!(self.text.as_bytes().get(value_start), Some(b'{' | b'[')) {
                continue;
            }
            if let Ok((value, end)) = parse_at(self.text, value_start) {
                if let Some(calls) = calls_from_value(&value, self.tools) {
                    self.claim(open, end, Some(calls));
                    from = end;
                }
            }
        }
    }

    /// `functions.name:{…}`, `functions.name({…})` and `functions.name()`, as models trained on
    /// OpenAI transcripts sometimes write the call out.
    fn functions_prefix(&mut self) {
        const PREFIX: &str = "functions.";
        let bytes = self.text.as_bytes();
        let mut from = 0;
        while let Some(start) = self.next_free(from, PREFIX) {
            from = start + PREFIX.len();
            let name_start = from;
            let mut at = name_start;
            while at < bytes.len()
                && (bytes[at].is_ascii_alphanumeric() || b"_-".contains(&bytes[at]))
            {
                at += 1;
            }
            let Some(name) = self.tool_named(&self.text[name_start..at]) else {
                continue;
            };
            let at = skip_spaces(self.text, at);
            let (parenthesised, at) = match bytes.get(at) {
                Some(b'(') => (true, at + 1),
                Some(b':') => (false, at + 1),
                _ => (false, at),
            };
            let at = skip_whitespace(self.text, at);
            let (arguments, mut end) = match bytes.get(at) {
                Some(b'{') => match parse_at(self.text, at) {
                    Ok(parsed) => parsed,
                    Err(_) => continue,
                },
                Some(b')') if parenthesised => (Value::Object(Map::new()), at),
                _ => continue,
            };
            if parenthesised {
                let close = skip_whitespace(self.text, end);
                if bytes.get(close) == Some(&b')') {
                    end = close + 1;
                }
            }
            self.claim(start, end, Some(vec![(name, arguments)]));
            from = end;
        }
    }

    /// `[check(path="schema.plinth"), list_files()]` or `check(path="schema.plinth")` alone on
    /// its line: the Python style Llama 3.2's small models are prompted with. Only whole lines,
    /// so that "run check() first" in a sentence is not a call.
    fn python_calls(&mut self) {
        let bytes = self.text.as_bytes();
        let mut line_start = 0;
        while line_start < bytes.len() {
            let line_end = self.text[line_start..]
                .find('\n')
                .map_or(bytes.len(), |at| line_start + at);
            let next_line = (line_end + 1).min(bytes.len());
            if self.covering(line_start).is_some() {
                line_start = next_line;
                continue;
            }
            match self.python_calls_at(line_start) {
                Some((calls, end)) => {
                    self.claim(line_start, end, Some(calls));
                    line_start = self.text[end..]
                        .find('\n')
                        .map_or(bytes.len(), |at| end + at + 1);
                }
                None => line_start = next_line,
            }
        }
    }

    /// The Python-style calls on the line starting at `line_start`, and where they end.
    fn python_calls_at(&self, line_start: usize) -> Option<(Vec<(String, Value)>, usize)> {
        let bytes = self.text.as_bytes();
        let mut at = skip_spaces(self.text, line_start);
        let listed = bytes.get(at) == Some(&b'[');
        if listed {
            at = skip_spaces(self.text, at + 1);
        }
        let mut calls = Vec::new();
        loop {
            let name_start = at;
            while bytes
                .get(at)
                .is_some_and(|byte| byte.is_ascii_alphanumeric() || b"_.".contains(byte))
            {
                at += 1;
            }
            let name = self.tool_named(&self.text[name_start..at])?;
            if bytes.get(at) != Some(&b'(') {
                return None;
            }
            let inner_start = at + 1;
            let (inner_end, end) = match closing_parenthesis(self.text, inner_start) {
                Some(close) => (close, close + 1),
                None => (bytes.len(), bytes.len()),
            };
            calls.push((name, python_arguments(&self.text[inner_start..inner_end])));
            at = skip_spaces(self.text, end);
            match bytes.get(at) {
                Some(b',') => at = skip_whitespace(self.text, at + 1),
                _ => break,
            }
        }
        if listed && bytes.get(at) == Some(&b']') {
            at = skip_spaces(self.text, at + 1);
        }
        matches!(bytes.get(at), None | Some(b'\n' | b'\r')).then_some((calls, at))
    }

    /// A call written as bare JSON in the text, as Llama 3.2 does (after `<|python_tag|>` when
    /// the template keeps it). Only objects shaped as a call to a known tool count.
    fn bare_json(&mut self) {
        const PYTHON_TAG: &str = "<|python_tag|>";
        let bytes = self.text.as_bytes();
        let mut from = 0;
        let mut attempts = 0;
        while from < bytes.len() && attempts < MAX_CANDIDATES {
            let Some(offset) = self.text[from..].find(['{', '[']) else {
                break;
            };
            let start = from + offset;
            if let Some(end) = self.covering(start) {
                from = end.max(start + 1);
                continue;
            }
            from = start + 1;
            if !opens_an_object_or_list_of_objects(self.text, start) {
                continue;
            }
            attempts += 1;
            let Ok((value, end)) = parse_at(self.text, start) else {
                continue;
            };
            let Some(calls) = calls_from_value(&value, self.tools) else {
                continue;
            };
            let mut region_start = start;
            let mut region_end = end;
            let before = self.text[..start].trim_end();
            if before.ends_with(PYTHON_TAG) {
                region_start = before.len() - PYTHON_TAG.len();
            } else if region_start > 0
                && bytes[region_start - 1] == b'`'
                && bytes.get(region_end) == Some(&b'`')
            {
                // `{"name": …}` written as inline code
                region_start -= 1;
                region_end += 1;
            }
            self.claim(region_start, region_end, Some(calls));
            from = region_end;
        }
    }

    /// The tool's own name if `name` (perhaps written `functions.name`) is one of the tools.
    fn tool_named(&self, name: &str) -> Option<String> {
        let name = name.trim();
        let name = name.strip_prefix("functions.").unwrap_or(name);
        self.tools
            .iter()
            .find(|tool| tool.name == name)
            .map(|tool| tool.name.clone())
    }
}

/// Whether `{` at `start` begins like an object with a key (`{"name"`, `{name:`), or `[` like a
/// list of them: a cheap test that keeps the `{` of a schema draft or of prose from using up the
/// attempts.
fn opens_an_object_or_list_of_objects(text: &str, start: usize) -> bool {
    let bytes = text.as_bytes();
    let next = skip_whitespace(text, start + 1);
    match (bytes[start], bytes.get(next)) {
        (b'[', Some(b'{')) => opens_an_object_or_list_of_objects(text, next),
        (b'{', Some(b'"' | b'\'')) => true,
        (b'{', Some(byte)) if byte.is_ascii_alphabetic() || *byte == b'_' => {
            let mut at = next;
            while bytes
                .get(at)
                .is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
            {
                at += 1;
            }
            bytes.get(skip_spaces(text, at)) == Some(&b':')
        }
        _ => false,
    }
}

/// The `)` that closes a Python call whose arguments start at `from`, past nested brackets and
/// quoted strings; `None` when the text ends first (cut off).
fn closing_parenthesis(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut at = from;
    while at < bytes.len() {
        match bytes[at] {
            quote @ (b'"' | b'\'') => {
                let triple = [quote; 3];
                let closing: &[u8] = if bytes[at..].starts_with(&triple) {
                    at += 3;
                    &triple
                } else {
                    at += 1;
                    &triple[..1]
                };
                while at < bytes.len() && !bytes[at..].starts_with(closing) {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += closing.len();
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' if depth == 0 => return Some(at),
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    None
}

/// `path="a", strict=True` read as an object; a single positional value as itself, for
/// [`coerce`] to place; anything else as text, for the loop to complain about.
fn python_arguments(inner: &str) -> Value {
    let inner = inner.trim();
    if inner.is_empty() {
        return Value::Object(Map::new());
    }
    if let Ok((Value::Object(object), _)) = parse_at(&format!("{{{inner}}}"), 0) {
        if !object.is_empty() {
            return Value::Object(object);
        }
    }
    parse_arguments(inner).unwrap_or_else(|_| inner.into())
}

/// The calls in the body of a tag or a fence: one or more JSON values, each a call to a known
/// tool (or an array of them). `None` unless every value is one: a block is a call or it is text.
fn calls_in_block(body: &str, tools: &[ToolSpec]) -> Option<Vec<(String, Value)>> {
    let body = strip_fence(body.trim());
    let bytes = body.as_bytes();
    let mut calls = Vec::new();
    let mut at = 0;
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || b",;".contains(&bytes[at])) {
            at += 1;
        }
        match bytes.get(at) {
            None => break,
            Some(b'{' | b'[') => {}
            Some(_) => return None,
        }
        let (value, end) = parse_at(body, at).ok()?;
        calls.extend(calls_from_value(&value, tools)?);
        at = end;
    }
    (!calls.is_empty()).then_some(calls)
}

/// A fence left inside a tag's body: `<tool_call>```json {…} ```</tool_call>`.
fn strip_fence(body: &str) -> &str {
    let Some(rest) = body.strip_prefix("```") else {
        return body;
    };
    let rest = match rest.find(['\n', '{', '[']) {
        Some(at) if rest.as_bytes()[at] == b'\n' => &rest[at + 1..],
        Some(at) => &rest[at..],
        None => "",
    };
    rest.trim_end().strip_suffix("```").unwrap_or(rest)
}

/// Keys that name the tool, in the shapes models write.
const NAME_KEYS: [&str; 5] = ["name", "tool", "tool_name", "function", "action"];

/// Keys that hold the arguments, in the shapes models write.
const ARGUMENT_KEYS: [&str; 8] = [
    "arguments",
    "parameters",
    "args",
    "input",
    "tool_input",
    "action_input",
    "params",
    "kwargs",
];

/// The calls a parsed JSON value stands for, or `None` if any part of it is not a call to a known
/// tool.
fn calls_from_value(value: &Value, tools: &[ToolSpec]) -> Option<Vec<(String, Value)>> {
    match value {
        Value::Array(items) if !items.is_empty() => {
            let mut calls = Vec::new();
            for item in items {
                calls.push(call_from_object(item.as_object()?, tools)?);
            }
            Some(calls)
        }
        Value::Object(object) => match object.get("tool_calls") {
            Some(inner @ Value::Array(_)) => calls_from_value(inner, tools),
            _ => call_from_object(object, tools).map(|call| vec![call]),
        },
        _ => None,
    }
}

fn call_from_object(object: &Map<String, Value>, tools: &[ToolSpec]) -> Option<(String, Value)> {
    // {"type": "function", "function": {"name": …, "arguments": …}}: OpenAI's wire shape
    if let Some(Value::Object(function)) = object.get("function") {
        return call_from_object(function, tools);
    }
    let (name_key, name) = NAME_KEYS
        .iter()
        .find_map(|key| Some((*key, object.get(*key)?.as_str()?)))?;
    let name = name.trim();
    let name = name.strip_prefix("functions.").unwrap_or(name);
    let tool = tools.iter().find(|tool| tool.name == name)?;
    let arguments = match ARGUMENT_KEYS.iter().find_map(|key| object.get(*key)) {
        Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(raw)) => parse_arguments(raw).unwrap_or_else(|_| raw.as_str().into()),
        Some(arguments) => arguments.clone(),
        None => {
            // The arguments written beside the name ({"tool": "read_file", "path": "a"}). Only
            // when every other key is a parameter of the tool, so that a record which happens to
            // have a `name` is not taken for a call.
            let properties = tool.parameters.get("properties").and_then(Value::as_object);
            let mut arguments = Map::new();
            for (key, value) in object {
                if key == name_key || key == "type" || key == "id" {
                    continue;
                }
                if !properties.is_some_and(|properties| properties.contains_key(key)) {
                    return None;
                }
                arguments.insert(key.clone(), value.clone());
            }
            Value::Object(arguments)
        }
    };
    Some((tool.name.clone(), arguments))
}

/// A call alone on its lines takes the lines with it, so no blank line is left where it was.
fn whole_lines(text: &str, start: usize, end: usize) -> (usize, usize) {
    let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |at| end + at);
    let blank = |part: &str| {
        part.chars()
            .all(|character| character == ' ' || character == '\t')
    };
    if blank(&text[line_start..start]) && blank(&text[end..line_end]) {
        (line_start, (line_end + 1).min(text.len()))
    } else {
        (start, end)
    }
}

/// The text left when the calls are cut out: no trailing spaces, no runs of blank lines.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut blank_lines = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(line);
    }
    out
}

fn skip_whitespace(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

fn skip_spaces(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
        at += 1;
    }
    at
}

// ---------------------------------------------------------------------------------------------
// Near-JSON arguments
// ---------------------------------------------------------------------------------------------

/// Strict JSON first; otherwise a repair: single-quoted strings, unquoted keys, trailing commas,
/// Python literals True/False/None, comments, a missing closing brace/bracket/quote at the end
/// (truncated output), text before/after the object, a doubly-encoded JSON string
/// (`"{\"a\":1}"`). Also raw newlines and unescaped quotes inside a string value (a schema
/// written into `content`), bare words as values (`{path: schema.plinth}`), and an object
/// whose opening brace was left out (`path: "a"`).
///
/// Empty arguments are `{}`: some servers send `""` for a tool without parameters. Err when
/// nothing sensible comes out.
pub fn parse_arguments(raw: &str) -> Result<Value, String> {
    parse_encoded(raw, 0)
}

fn parse_encoded(raw: &str, encodings: usize) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    // the end is kept: a value cut off there may end in whitespace that belongs to it
    let text = raw.trim_start();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(strict) => repair(text).map_err(|repair| {
            if repair.is_empty() {
                format!("not JSON: {strict}")
            } else {
                repair
            }
        })?,
    };
    match value {
        Value::String(inner)
            if encodings < MAX_ENCODINGS && inner.trim_start().starts_with(['{', '[']) =>
        {
            Ok(parse_encoded(&inner, encodings + 1).unwrap_or(Value::String(inner)))
        }
        value => Ok(value),
    }
}

/// The first value the tolerant parser can read, trying the start of the text, then each `{`,
/// then each `[`, then the text as an object whose opening brace was left out (`"path": "a"}`).
/// Err with the first candidate's problem (empty if there was no candidate).
fn repair(text: &str) -> Result<Value, String> {
    let bytes = text.as_bytes();
    let mut candidates = Vec::new();
    if matches!(bytes[0], b'{' | b'[' | b'"' | b'\'') {
        candidates.push(0);
    }
    for opening in [b'{', b'['] {
        candidates.extend(
            (1..bytes.len())
                .filter(|at| bytes[*at] == opening)
                .take(MAX_CANDIDATES),
        );
    }
    let mut first_problem = None;
    for start in candidates.into_iter().take(MAX_CANDIDATES) {
        match parse_at(text, start) {
            // a string is the whole answer or it is not the answer: `"path": "a"` is no string
            Ok((Value::String(_), end)) if !text[end..].trim().is_empty() => {}
            Ok((value, _)) => return Ok(value),
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    if matches!(bytes[0], b'"' | b'\'') || bytes[0].is_ascii_alphabetic() {
        let braced = format!("{{{text}");
        if let Ok((value @ Value::Object(_), _)) = parse_at(&braced, 0) {
            if value.as_object().is_some_and(|object| !object.is_empty()) {
                return Ok(value);
            }
        }
    }
    Err(first_problem.unwrap_or_default())
}

/// One near-JSON value starting at byte `start`, and the byte after it. Quotes are first taken
/// at their word; if that fails, a quote closes a string only where a delimiter follows it.
fn parse_at(text: &str, start: usize) -> Result<(Value, usize), String> {
    let mut strict_quotes = NearJson::new(text, start, false);
    let first = match strict_quotes.value() {
        Ok(value) => return Ok((value, strict_quotes.position)),
        Err(failure) => failure,
    };
    let mut lenient_quotes = NearJson::new(text, start, true);
    match lenient_quotes.value() {
        Ok(value) => Ok((value, lenient_quotes.position)),
        Err(_) => Err(first.describe()),
    }
}

enum Failure {
    /// The text ended where a value should start.
    EndOfInput,
    Invalid(String),
}

impl Failure {
    fn describe(self) -> String {
        match self {
            Failure::EndOfInput => "the text ends before a value".to_string(),
            Failure::Invalid(problem) => problem,
        }
    }
}

/// A tolerant JSON reader: reads what a model meant where strict JSON would stop. A container
/// still open at the end of the text is closed there (truncated output).
struct NearJson<'a> {
    text: &'a str,
    position: usize,
    depth: usize,
    /// A quote ends a string only when a delimiter follows it, so `"say "hi" now"` is one string.
    lenient_quotes: bool,
}

impl<'a> NearJson<'a> {
    fn new(text: &'a str, position: usize, lenient_quotes: bool) -> NearJson<'a> {
        NearJson {
            text,
            position,
            depth: 0,
            lenient_quotes,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.position).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.position..].chars().next()
    }

    fn invalid(&self, what: &str) -> Failure {
        match self.peek_char() {
            Some(found) => {
                Failure::Invalid(format!("{what}, found `{found}` at byte {}", self.position))
            }
            None => Failure::Invalid(format!("{what} at the end")),
        }
    }

    /// Whitespace and comments: `// …`, `/* … */` and `# …`.
    fn skip_trivia(&mut self) {
        let bytes = self.text.as_bytes();
        loop {
            match bytes.get(self.position..self.position + 2) {
                Some(b"//") => self.skip_past("\n"),
                Some(b"/*") => self.skip_past("*/"),
                _ => match bytes.get(self.position) {
                    Some(b'#') => self.skip_past("\n"),
                    Some(byte) if byte.is_ascii_whitespace() => self.position += 1,
                    _ => return,
                },
            }
        }
    }

    fn skip_past(&mut self, end: &str) {
        self.position = match self.text[self.position..].find(end) {
            Some(at) => self.position + at + end.len(),
            None => self.text.len(),
        };
    }

    fn value(&mut self) -> Result<Value, Failure> {
        self.skip_trivia();
        match self.peek() {
            None => Err(Failure::EndOfInput),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"' | b'\'' | b'`') => Ok(Value::String(self.string())),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number_or_word(),
            Some(b'}' | b']' | b',' | b':' | b')') => Err(self.invalid("expected a value")),
            Some(_) => self.word(),
        }
    }

    fn enter(&mut self) -> Result<(), Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Failure::Invalid(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.position += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Value, Failure> {
        self.enter()?;
        let mut object = Map::new();
        loop {
            self.skip_trivia();
            let key = match self.peek() {
                None => break,
                Some(b'}') => {
                    self.position += 1;
                    break;
                }
                Some(b',') => {
                    self.position += 1;
                    continue;
                }
                Some(b'"' | b'\'' | b'`') => self.string(),
                Some(byte) if is_key_byte(byte) => self.bare_key(),
                Some(_) => return Err(self.invalid("expected a key")),
            };
            self.skip_trivia();
            match self.peek() {
                // cut off after the key: the member is dropped
                None => break,
                Some(b':' | b'=') => self.position += 1,
                Some(_) => return Err(self.invalid(&format!("expected `:` after key `{key}`"))),
            }
            match self.value() {
                Ok(value) => {
                    object.insert(key, value);
                }
                Err(Failure::EndOfInput) => break,
                Err(failure) => return Err(failure),
            }
            self.skip_trivia();
            match self.peek() {
                // a missing comma before the next key is forgiven
                None | Some(b',' | b'}' | b'"' | b'\'' | b'`') => {}
                Some(byte) if is_key_byte(byte) => {}
                Some(_) => return Err(self.invalid("expected `,` or `}`")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(object))
    }

    fn array(&mut self) -> Result<Value, Failure> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                None => break,
                Some(b']') => {
                    self.position += 1;
                    break;
                }
                Some(b',') => {
                    self.position += 1;
                    continue;
                }
                Some(_) => {}
            }
            match self.value() {
                Ok(value) => items.push(value),
                Err(Failure::EndOfInput) => break,
                Err(failure) => return Err(failure),
            }
            self.skip_trivia();
            if matches!(self.peek(), Some(b'}' | b':' | b')')) {
                return Err(self.invalid("expected `,` or `]`"));
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// A string in double, single or back quotes, or Python's triple quotes. The end of the text
    /// closes it.
    fn string(&mut self) -> String {
        let quote = char::from(self.text.as_bytes()[self.position]);
        let triple = match quote {
            '"' => "\"\"\"",
            '\'' => "'''",
            _ => "",
        };
        let triple = !triple.is_empty() && self.text[self.position..].starts_with(triple);
        self.position += if triple { 3 } else { 1 };
        let mut out = String::new();
        while let Some(character) = self.peek_char() {
            if character == quote {
                if triple {
                    if self.text[self.position..].starts_with(&quote.to_string().repeat(3)) {
                        self.position += 3;
                        return out;
                    }
                } else if self.quote_closes() {
                    self.position += 1;
                    return out;
                }
            }
            self.position += character.len_utf8();
            if character == '\\' {
                self.escape(&mut out);
            } else {
                out.push(character);
            }
        }
        out
    }

    /// Whether the quote at the current position ends the string. Leniently: only where what
    /// follows continues the JSON (a closing bracket, a colon, or a comma and then something
    /// that starts a member or an item), so `'read', auth()` inside a value does not end it.
    fn quote_closes(&self) -> bool {
        if !self.lenient_quotes {
            return true;
        }
        let bytes = self.text.as_bytes();
        let after = skip_whitespace(self.text, self.position + 1);
        match bytes.get(after) {
            None | Some(b'}' | b']' | b':') => true,
            Some(b',') => {
                let next = skip_whitespace(self.text, after + 1);
                match bytes.get(next) {
                    None | Some(b'}' | b']' | b'{' | b'[' | b'"' | b'\'' | b'-') => true,
                    Some(byte) if byte.is_ascii_digit() => true,
                    Some(byte) if byte.is_ascii_alphabetic() || *byte == b'_' => {
                        // a bare key or literal: followed by `:`, `=`, `,` or a closing bracket
                        let mut at = next;
                        while bytes.get(at).is_some_and(|byte| is_key_byte(*byte)) {
                            at += 1;
                        }
                        matches!(
                            bytes.get(skip_spaces(self.text, at)),
                            None | Some(b':' | b'=' | b',' | b'}' | b']')
                        )
                    }
                    Some(_) => false,
                }
            }
            Some(_) => false,
        }
    }

    /// The character after a backslash; an escape JSON does not know is kept as written
    /// (`C:\path`).
    fn escape(&mut self, out: &mut String) {
        let Some(character) = self.peek_char() else {
            return;
        };
        self.position += character.len_utf8();
        match character {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            '"' | '\'' | '\\' | '/' | '`' => out.push(character),
            // a line continuation
            '\n' => {}
            'u' => match self.hex4() {
                Some(high @ 0xD800..=0xDBFF) => {
                    let low = self.text[self.position..]
                        .starts_with("\\u")
                        .then(|| {
                            self.position += 2;
                            self.hex4()
                        })
                        .flatten();
                    let combined = match low {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                        }
                        _ => None,
                    };
                    out.push(combined.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                Some(code) => out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
                None => out.push_str("\\u"),
            },
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.position..self.position + 4)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        self.position += 4;
        Some(code)
    }

    fn bare_key(&mut self) -> String {
        let start = self.position;
        while self.peek().is_some_and(is_key_byte) {
            self.position += 1;
        }
        self.text[start..self.position].to_string()
    }

    /// A number as JSON, JavaScript or Python write it (`+1`, `.5`, `5.`); anything else that
    /// starts like one (`2024-01-01`, `10px`) is a bare word.
    fn number_or_word(&mut self) -> Result<Value, Failure> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|byte| byte.is_ascii_digit() || b"+-.eE".contains(&byte))
        {
            self.position += 1;
        }
        let ends_here = match self.peek() {
            None => true,
            Some(byte) => byte.is_ascii_whitespace() || b",}])/#".contains(&byte),
        };
        if ends_here {
            if let Some(number) = number(&self.text[start..self.position]) {
                return Ok(number);
            }
        }
        self.position = start;
        self.word()
    }

    /// An unquoted value up to the next delimiter: a Python or JavaScript literal, or a string.
    fn word(&mut self) -> Result<Value, Failure> {
        let start = self.position;
        while self.peek().is_some_and(|byte| !b",}]\n\r".contains(&byte)) {
            self.position += 1;
        }
        let word = self.text[start..self.position].trim();
        Ok(match word {
            "" => return Err(self.invalid("expected a value")),
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            "null" | "None" | "nil" | "undefined" | "NULL" => Value::Null,
            word => Value::String(word.to_string()),
        })
    }
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_$-.".contains(&byte) || byte >= 0x80
}

/// A number token in the spellings JSON does not accept, normalised and read by serde_json.
fn number(token: &str) -> Option<Value> {
    let token = token.strip_prefix('+').unwrap_or(token);
    let (sign, digits) = match token.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", token),
    };
    let digits = digits.strip_suffix('.').unwrap_or(digits);
    let normalised = if digits.starts_with('.') {
        format!("{sign}0{digits}")
    } else {
        format!("{sign}{digits}")
    };
    serde_json::from_str::<Value>(&normalised)
        .ok()
        .filter(Value::is_number)
}

// ---------------------------------------------------------------------------------------------
// Coercion to the tool's schema
// ---------------------------------------------------------------------------------------------

/// Coerces arguments to the tool's JSON Schema (the subset we use: type
/// object/string/integer/number/boolean/array, properties, required, enum, items, default):
/// `"3"` → 3 for integer, 3 → `"3"` for string, `"true"`/`"yes"` → true, a single value →
/// `[value]` for an array, and a bare value for a tool with exactly one required scalar
/// parameter (or, with nothing required, exactly one scalar property). Unknown properties are
/// dropped only when `additionalProperties` is false; a property spelled in another case or
/// with `-` for `_` is renamed; `null` for an optional property counts as absent; defaults are
/// filled in.
///
/// Err lists plain-English problems (missing required `path`; `limit` must be an integer, got
/// "many") that the loop sends back to the model.
pub fn coerce(arguments: Value, schema: &Value) -> Result<Value, Vec<String>> {
    let arguments = shape_root(arguments, schema);
    let mut problems = Vec::new();
    let value = coerce_at(arguments, schema, "", &mut problems);
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems)
    }
}

/// Arguments that are not an object, for a tool that takes one: nothing, JSON in a string, a
/// one-element array, or the value of the only parameter.
fn shape_root(arguments: Value, schema: &Value) -> Value {
    if !schema_types(schema).contains(&"object") {
        return arguments;
    }
    match arguments {
        Value::Null => Value::Object(Map::new()),
        Value::String(text) if text.trim().is_empty() => Value::Object(Map::new()),
        Value::String(text) if text.trim_start().starts_with(['{', '[']) => {
            match parse_arguments(&text) {
                Ok(parsed @ (Value::Object(_) | Value::Array(_))) => shape_root(parsed, schema),
                _ => wrap_in_sole_parameter(Value::String(text), schema),
            }
        }
        Value::Array(items) if items.len() == 1 && items[0].is_object() => {
            items.into_iter().next().unwrap_or_default()
        }
        scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            wrap_in_sole_parameter(scalar, schema)
        }
        other => other,
    }
}

fn wrap_in_sole_parameter(value: Value, schema: &Value) -> Value {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return value;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let sole = match required.as_slice() {
        [name] => Some(*name),
        [] if properties.len() == 1 => properties.keys().next().map(String::as_str),
        _ => None,
    };
    let is_scalar = |name: &str| {
        properties.get(name).is_some_and(|property| {
            let types = schema_types(property);
            types.is_empty()
                || types
                    .iter()
                    .any(|ty| matches!(*ty, "string" | "integer" | "number" | "boolean"))
        })
    };
    match sole {
        Some(name) if is_scalar(name) => {
            let mut object = Map::new();
            object.insert(name.to_string(), value);
            Value::Object(object)
        }
        _ => value,
    }
}

/// The types a schema allows: its `type` (a name or a list), else what its keywords imply.
fn schema_types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(ty)) => vec![ty.as_str()],
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ if schema.get("properties").is_some() => vec!["object"],
        _ if schema.get("items").is_some() => vec!["array"],
        _ => Vec::new(),
    }
}

/// `place` is the argument's path (`options.limit`, `paths[1]`), empty for the arguments
/// themselves.
fn coerce_at(value: Value, schema: &Value, place: &str, problems: &mut Vec<String>) -> Value {
    if !schema.is_object() {
        // `true`, or no schema: anything goes
        return value;
    }
    let types = schema_types(schema);
    let mut value = value;
    if !types.is_empty() {
        let fitting = types
            .iter()
            .find(|ty| has_type(&value, ty))
            .map(|_| value.clone())
            .or_else(|| types.iter().find_map(|ty| convert(&value, ty)));
        match fitting {
            Some(fitting) => value = fitting,
            None => {
                problems.push(format!(
                    "{} must be {}, got {}",
                    describe_place(place),
                    describe_types(&types),
                    render(&value)
                ));
                return value;
            }
        }
    }
    value = match value {
        Value::Object(object) => Value::Object(coerce_object(object, schema, place, problems)),
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        coerce_at(item, item_schema, &format!("{place}[{index}]"), problems)
                    })
                    .collect(),
            ),
            None => Value::Array(items),
        },
        scalar => scalar,
    };
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(&value) {
            // "Fast" for "fast": the model meant the value, not a new one
            let relaxed = value.as_str().and_then(|text| {
                allowed.iter().find(|candidate| {
                    candidate
                        .as_str()
                        .is_some_and(|candidate| candidate.eq_ignore_ascii_case(text.trim()))
                })
            });
            match relaxed {
                Some(candidate) => value = candidate.clone(),
                None => problems.push(format!(
                    "{} must be one of {}, got {}",
                    describe_place(place),
                    allowed.iter().map(render).collect::<Vec<_>>().join(", "),
                    render(&value)
                )),
            }
        }
    }
    value
}

fn coerce_object(
    object: Map<String, Value>,
    schema: &Value,
    place: &str,
    problems: &mut Vec<String>,
) -> Map<String, Value> {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let additional = schema.get("additionalProperties");
    let given: Vec<String> = object.keys().cloned().collect();
    let mut out = Map::new();
    for (key, value) in object {
        let property = if properties.contains_key(&key) {
            Some(key.clone())
        } else {
            loose_property(properties, &key, &given)
        };
        match property {
            Some(name) => {
                let property_schema = &properties[&name];
                if value.is_null() && !schema_types(property_schema).contains(&"null") {
                    continue;
                }
                let coerced = coerce_at(value, property_schema, &join(place, &name), problems);
                out.insert(name, coerced);
            }
            None => match additional {
                Some(Value::Bool(false)) => {}
                Some(extra @ Value::Object(_)) => {
                    let coerced = coerce_at(value, extra, &join(place, &key), problems);
                    out.insert(key, coerced);
                }
                _ => {
                    out.insert(key, value);
                }
            },
        }
    }
    for (name, property_schema) in properties {
        if !out.contains_key(name) {
            if let Some(default) = property_schema.get("default") {
                out.insert(name.clone(), default.clone());
            }
        }
    }
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !out.contains_key(name) {
                problems.push(format!("missing required `{}`", join(place, name)));
            }
        }
    }
    out
}

/// The property `key` means when spelled differently (`Path`, `file-path` for `file_path`), if
/// exactly one does and the model did not also give it under its own name.
fn loose_property(properties: &Map<String, Value>, key: &str, given: &[String]) -> Option<String> {
    let loose = |name: &str| -> String {
        name.chars()
            .filter(|character| !matches!(character, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = loose(key);
    let mut matching = properties.keys().filter(|name| loose(name) == wanted);
    let name = matching.next()?;
    if matching.next().is_some() || given.contains(name) {
        return None;
    }
    Some(name.clone())
}

fn join(place: &str, name: &str) -> String {
    if place.is_empty() {
        name.to_string()
    } else {
        format!("{place}.{name}")
    }
}

fn describe_place(place: &str) -> String {
    if place.is_empty() {
        "the arguments".to_string()
    } else {
        format!("`{place}`")
    }
}

fn describe_types(types: &[&str]) -> String {
    types
        .iter()
        .map(|ty| match *ty {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "an object",
            "null" => "null",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A value as the model wrote it, cut short so a whole file does not land in a message.
fn render(value: &Value) -> String {
    const LIMIT: usize = 60;
    let text = value.to_string();
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        // a type outside the subset: let it through
        _ => true,
    }
}

/// `value` converted to `ty` the way a person would read it, if it can be.
fn convert(value: &Value, ty: &str) -> Option<Value> {
    match (ty, value) {
        ("string", Value::Number(number)) => Some(Value::String(number.to_string())),
        ("string", Value::Bool(flag)) => Some(Value::String(flag.to_string())),
        ("integer", Value::Number(number)) => number.as_f64().and_then(integral),
        ("integer", Value::String(text)) => {
            let text = text.trim();
            text.parse::<i64>()
                .ok()
                .map(Value::from)
                .or_else(|| text.parse::<f64>().ok().and_then(integral))
        }
        ("number", Value::String(text)) => number(text.trim()),
        ("boolean", Value::String(text)) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Some(Value::Bool(true)),
            "false" | "no" | "n" | "off" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        ("boolean", Value::Number(number)) => match number.as_f64() {
            Some(flag) if flag == 1.0 => Some(Value::Bool(true)),
            Some(flag) if flag == 0.0 => Some(Value::Bool(false)),
            _ => None,
        },
        ("array", Value::String(text)) if text.trim_start().starts_with('[') => {
            match parse_arguments(text) {
                Ok(array @ Value::Array(_)) => Some(array),
                _ => Some(Value::Array(vec![value.clone()])),
            }
        }
        ("array", Value::Null) => None,
        ("array", single) => Some(Value::Array(vec![single.clone()])),
        ("object", Value::String(text)) if text.trim_start().starts_with('{') => {
            parse_arguments(text).ok().filter(Value::is_object)
        }
        ("object", Value::Array(items)) if items.len() == 1 && items[0].is_object() => {
            items.first().cloned()
        }
        _ => None,
    }
}

/// A whole number held in a float (`3.0`, `"1e3"`), within the range a float holds exactly.
fn integral(number: f64) -> Option<Value> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (number.fract() == 0.0 && number.abs() <= EXACT).then(|| Value::from(number as i64))
}

// ---------------------------------------------------------------------------------------------
// Repetition
// ---------------------------------------------------------------------------------------------

/// Notices a model repeating itself: the same tool name + arguments (canonical JSON: keys sorted,
/// arguments sent as a string parsed first) as one of the last calls. [`observe`] returns how
/// many times this exact call has been seen within the window, itself included, so the loop can
/// warn the model at 2 and stop at 3.
///
/// [`observe`]: RepetitionDetector::observe
#[derive(Clone, Debug)]
pub struct RepetitionDetector {
    window: usize,
    recent: VecDeque<String>,
}

impl RepetitionDetector {
    /// Remembers the last `window` calls.
    pub fn new(window: usize) -> Self {
        RepetitionDetector {
            window,
            recent: VecDeque::with_capacity(window),
        }
    }

    pub fn observe(&mut self, call: &ToolCall) -> usize {
        let key = call_key(call);
        let seen = 1 + self
            .recent
            .iter()
            .filter(|earlier| **earlier == key)
            .count();
        if self.window > 0 {
            if self.recent.len() == self.window {
                self.recent.pop_front();
            }
            self.recent.push_back(key);
        }
        seen
    }
}

fn call_key(call: &ToolCall) -> String {
    let arguments = match &call.arguments {
        Value::String(raw) => parse_arguments(raw).unwrap_or_else(|_| call.arguments.clone()),
        other => other.clone(),
    };
    format!("{}\u{0}{}", call.name, canonical(&arguments))
}

/// JSON with every object's keys sorted, so that key order does not hide a repeat.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<(&String, &Value)> = object.iter().collect();
                entries.sort_by(|left, right| left.0.cmp(right.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}
