//! Tool calls written as text instead of the tool channel, in the formats small and local
//! models were trained on: JSON in a fence or bare, `<tool_call>` tags, `<function=…>` tags,
//! `functions.name:` lines, Python-style calls and Mistral's `[TOOL_CALLS]`.

use super::coerce::shape_root;
use super::near_json::{parse_arguments, parse_at};
use super::{skip_spaces, skip_whitespace, MAX_CANDIDATES};
use crate::conversation::{ToolCall, ToolSpec};
use serde_json::{Map, Value};

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

impl<'a> Scan<'a> {
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
            let calls = self.tool_named(name).map(|tool| {
                let body = self.text[body_start..body_end].trim();
                let arguments = match parse_arguments(body) {
                    Ok(arguments) => placed(arguments, tool),
                    Err(_) => body.into(),
                };
                vec![(tool.name.clone(), arguments)]
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
            let Some(tool) = self.tool_named(&self.text[name_start..at]) else {
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
            self.claim(start, end, Some(vec![(tool.name.clone(), arguments)]));
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
            let tool = self.tool_named(&self.text[name_start..at])?;
            if bytes.get(at) != Some(&b'(') {
                return None;
            }
            let inner_start = at + 1;
            let (inner_end, end) = match closing_parenthesis(self.text, inner_start) {
                Some(close) => (close, close + 1),
                None => (bytes.len(), bytes.len()),
            };
            let arguments = python_arguments(&self.text[inner_start..inner_end], tool);
            calls.push((tool.name.clone(), arguments));
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

    /// The tool `name` (perhaps written `functions.name`) names, if it is one of the tools.
    fn tool_named(&self, name: &str) -> Option<&'a ToolSpec> {
        tool_named(self.tools, name)
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

/// `path="a", strict=True` read as an object; a single positional value placed in the tool's only
/// parameter; anything else as text, for the loop to complain about.
fn python_arguments(inner: &str, tool: &ToolSpec) -> Value {
    let inner = inner.trim();
    if inner.is_empty() {
        return Value::Object(Map::new());
    }
    if let Ok((Value::Object(object), _)) = parse_at(&format!("{{{inner}}}"), 0) {
        if !object.is_empty() {
            return Value::Object(object);
        }
    }
    match parse_arguments(inner) {
        Ok(arguments) => placed(arguments, tool),
        Err(_) => inner.into(),
    }
}

/// Arguments that are a single value (`check("schema.plinth")`) put in the tool's only parameter
/// now, where the tool is known: the loop reads a string as raw JSON, not as a value.
fn placed(arguments: Value, tool: &ToolSpec) -> Value {
    if arguments.is_object() {
        arguments
    } else {
        shape_root(arguments, &tool.parameters)
    }
}

fn tool_named<'a>(tools: &'a [ToolSpec], name: &str) -> Option<&'a ToolSpec> {
    let name = name.trim();
    let name = name.strip_prefix("functions.").unwrap_or(name);
    tools.iter().find(|tool| tool.name == name)
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
    let tool = tool_named(tools, name)?;
    let arguments = match ARGUMENT_KEYS.iter().find_map(|key| object.get(*key)) {
        // a string is JSON encoded as on OpenAI's wire, or else the value itself
        Some(Value::String(raw)) => placed(
            parse_arguments(raw).unwrap_or_else(|_| raw.as_str().into()),
            tool,
        ),
        Some(arguments) => placed(arguments.clone(), tool),
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
