//! OpenAPI documents (Swagger 2.0, OpenAPI 3.0 and 3.1; JSON or YAML) with a position for every
//! node, so that a finding at a JSON pointer is shown at its line and column.
//!
//! The document is read once with yaml-rust2's event parser, which gives each key and value its
//! place in the text; the events build a `serde_json::Value` for the rules and a map from JSON
//! pointer to span. JSON is read by the same parser, since JSON is YAML 1.2.

use crate::FileId;
use plinth_diagnostics::Span;
use serde_json::{Map, Number, Value};
use std::collections::{HashMap, HashSet};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

pub struct OpenApiDoc {
    pub file: FileId,
    pub root: Value,
    pub version: Version,
    positions: HashMap<String, Span>,
}

/// One operation: a method under a path.
#[derive(Clone, Copy, Debug)]
pub struct Operation<'a> {
    pub path: &'a str,
    /// Lowercase: `get`, `post`, …
    pub method: &'a str,
    pub value: &'a Value,
    pub path_item: &'a Value,
}

impl Operation<'_> {
    /// `/paths/~1tasks~1{id}/get`
    pub fn pointer(&self) -> String {
        format!("/paths/{}/{}", escape(self.path), self.method)
    }

    pub fn path_pointer(&self) -> String {
        format!("/paths/{}", escape(self.path))
    }

    pub fn operation_id(&self) -> Option<&str> {
        self.value.get("operationId").and_then(Value::as_str)
    }

    /// True for POST, PUT, PATCH and DELETE.
    pub fn is_write(&self) -> bool {
        matches!(self.method, "post" | "put" | "patch" | "delete")
    }

    /// `GET /tasks/{id}`, for messages.
    pub fn display(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }
}

/// A parameter with its `$ref` resolved; `pointer` is where it is written.
#[derive(Clone, Debug)]
pub struct Parameter<'a> {
    pub pointer: String,
    pub value: &'a Value,
    pub name: &'a str,
    /// `query`, `path`, `header`, `cookie`, or Swagger 2.0's `body`/`formData`.
    pub location: &'a str,
    /// The parameter's schema (3.x `schema`, or for Swagger 2.0 the parameter itself).
    pub schema: Option<(String, &'a Value)>,
}

/// A schema under a media type (or Swagger 2.0's single schema).
#[derive(Clone, Debug)]
pub struct Media<'a> {
    pub media_type: &'a str,
    pub pointer: String,
    pub schema: &'a Value,
}

#[derive(Clone, Debug)]
pub struct Response<'a> {
    /// `200`, `4XX`, `default`.
    pub status: &'a str,
    pub pointer: String,
    pub value: &'a Value,
    pub content: Vec<Media<'a>>,
}

pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl OpenApiDoc {
    /// Parses a JSON or YAML text. `Ok(None)` when it is valid but not an OpenAPI or Swagger
    /// document (a `package.json`, a CI workflow): those are not reviewed.
    pub fn parse(file: FileId, text: &str) -> Result<Option<OpenApiDoc>, String> {
        let mut builder = Builder::new(text);
        let mut parser = Parser::new_from_str(text);
        parser
            .load(&mut builder, false)
            .map_err(|e| format!("not valid JSON or YAML: {e}"))?;
        let Some(root) = builder.root else {
            return Ok(None);
        };
        let version = match (root.get("openapi"), root.get("swagger")) {
            (Some(Value::String(v)), _) if v.starts_with("3.0") => Version::OpenApi30,
            (Some(Value::String(v)), _) if v.starts_with('3') => Version::OpenApi31,
            (_, Some(v)) if v.as_str().is_some_and(|v| v.starts_with('2')) || v.is_number() => {
                Version::Swagger2
            }
            _ => return Ok(None),
        };
        Ok(Some(OpenApiDoc {
            file,
            root,
            version,
            positions: builder.positions,
        }))
    }

    /// The span of the node at `pointer` (of its key, for a member of an object), or of its
    /// nearest ancestor that has one.
    pub fn span(&self, pointer: &str) -> Span {
        let mut pointer = pointer;
        loop {
            if let Some(span) = self.positions.get(pointer) {
                return *span;
            }
            match pointer.rfind('/') {
                Some(i) => pointer = &pointer[..i],
                None => return Span::new(0, 0),
            }
        }
    }

    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.root.pointer(pointer)
    }

    /// Follows local `$ref`s (`#/components/...`) from `value`, returning the pointer and value
    /// of the target. External references and cycles stop where they are.
    pub fn resolve<'a>(&'a self, pointer: String, value: &'a Value) -> (String, &'a Value) {
        let mut current = (pointer, value);
        for _ in 0..32 {
            let Some(reference) = current.1.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(target_pointer) = reference.strip_prefix('#') else {
                break;
            };
            let Some(target) = self.root.pointer(target_pointer) else {
                break;
            };
            current = (target_pointer.to_string(), target);
        }
        current
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> Vec<Operation<'_>> {
        let mut operations = Vec::new();
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            return operations;
        };
        for (path, item) in paths {
            let (_, item) = self.resolve(String::new(), item);
            let Some(object) = item.as_object() else {
                continue;
            };
            for (method, value) in object {
                if METHODS.contains(&method.as_str()) && value.is_object() {
                    operations.push(Operation {
                        path,
                        method,
                        value,
                        path_item: item,
                    });
                }
            }
        }
        operations
    }

    /// The operation's parameters: the path item's, overridden by the operation's own (same name
    /// and location), each resolved.
    pub fn parameters<'a>(&'a self, operation: &Operation<'a>) -> Vec<Parameter<'a>> {
        let mut parameters: Vec<Parameter<'a>> = Vec::new();
        let sources = [
            (operation.path_pointer(), operation.path_item),
            (operation.pointer(), operation.value),
        ];
        for (base, owner) in sources {
            let Some(list) = owner.get("parameters").and_then(Value::as_array) else {
                continue;
            };
            for (i, raw) in list.iter().enumerate() {
                let written = format!("{base}/parameters/{i}");
                let (_, value) = self.resolve(written.clone(), raw);
                let name = value.get("name").and_then(Value::as_str).unwrap_or("");
                let location = value.get("in").and_then(Value::as_str).unwrap_or("");
                let schema = match value.get("schema") {
                    Some(schema) => Some(self.resolve(format!("{written}/schema"), schema)),
                    None if self.version == Version::Swagger2 => Some((written.clone(), value)),
                    None => None,
                };
                parameters.retain(|p| !(p.name == name && p.location == location));
                parameters.push(Parameter {
                    pointer: written,
                    value,
                    name,
                    location,
                    schema,
                });
            }
        }
        parameters
    }

    /// The request body's schemas: one per media type (3.x), or the `in: body` parameter's (2.0).
    pub fn request_bodies<'a>(&'a self, operation: &Operation<'a>) -> Vec<Media<'a>> {
        if self.version == Version::Swagger2 {
            return self
                .parameters(operation)
                .into_iter()
                .filter(|p| p.location == "body")
                .filter_map(|p| {
                    let raw = p.value.get("schema")?;
                    let (pointer, schema) = self.resolve(format!("{}/schema", p.pointer), raw);
                    Some(Media {
                        media_type: "application/json",
                        pointer,
                        schema,
                    })
                })
                .collect();
        }
        let Some(raw) = operation.value.get("requestBody") else {
            return Vec::new();
        };
        let (pointer, body) = self.resolve(format!("{}/requestBody", operation.pointer()), raw);
        self.content(&pointer, body)
    }

    /// The operation's responses, each with its media types and schemas.
    pub fn responses<'a>(&'a self, operation: &Operation<'a>) -> Vec<Response<'a>> {
        let Some(responses) = operation.value.get("responses").and_then(Value::as_object) else {
            return Vec::new();
        };
        let base = format!("{}/responses", operation.pointer());
        responses
            .iter()
            .filter(|(status, _)| !status.starts_with("x-"))
            .map(|(status, raw)| {
                let written = format!("{base}/{}", escape(status));
                let (pointer, value) = self.resolve(written.clone(), raw);
                let content = if self.version == Version::Swagger2 {
                    value
                        .get("schema")
                        .map(|raw| {
                            let (pointer, schema) = self.resolve(format!("{pointer}/schema"), raw);
                            vec![Media {
                                media_type: "application/json",
                                pointer,
                                schema,
                            }]
                        })
                        .unwrap_or_default()
                } else {
                    self.content(&pointer, value)
                };
                Response {
                    status,
                    pointer: written,
                    value,
                    content,
                }
            })
            .collect()
    }

    fn content<'a>(&'a self, pointer: &str, owner: &'a Value) -> Vec<Media<'a>> {
        let Some(content) = owner.get("content").and_then(Value::as_object) else {
            return Vec::new();
        };
        content
            .iter()
            .filter_map(|(media_type, media)| {
                let raw = media.get("schema")?;
                let (pointer, schema) = self.resolve(
                    format!("{pointer}/content/{}/schema", escape(media_type)),
                    raw,
                );
                Some(Media {
                    media_type,
                    pointer,
                    schema,
                })
            })
            .collect()
    }

    /// The security requirements in force for an operation: its own `security`, or the
    /// document's. `None` when neither says; an empty list (or `[{}]`) means "no auth needed".
    pub fn security<'a>(&'a self, operation: &Operation<'a>) -> Option<&'a Vec<Value>> {
        operation
            .value
            .get("security")
            .or_else(|| self.root.get("security"))
            .and_then(Value::as_array)
    }

    /// True when calling the operation needs credentials.
    pub fn requires_auth(&self, operation: &Operation<'_>) -> bool {
        self.security(operation).is_some_and(|requirements| {
            !requirements.is_empty()
                && requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        })
    }

    /// Security schemes: `(name, pointer, scheme)` from 3.x `components.securitySchemes` or
    /// 2.0 `securityDefinitions`.
    pub fn security_schemes(&self) -> Vec<(&str, String, &Value)> {
        let (base, schemes) = match self.version {
            Version::Swagger2 => ("/securityDefinitions", self.root.get("securityDefinitions")),
            _ => (
                "/components/securitySchemes",
                self.root.pointer("/components/securitySchemes"),
            ),
        };
        let Some(schemes) = schemes.and_then(Value::as_object) else {
            return Vec::new();
        };
        schemes
            .iter()
            .map(|(name, raw)| {
                let (pointer, value) = self.resolve(format!("{base}/{}", escape(name)), raw);
                (name.as_str(), pointer, value)
            })
            .collect()
    }

    /// Visits `schema` and every schema inside it (properties, items, additionalProperties,
    /// allOf/anyOf/oneOf/not), resolving `$ref`s and visiting each target once, so recursive
    /// schemas terminate. `visit(pointer, schema, property_name)` gets the property name when the
    /// schema is an object property.
    pub fn walk_schema<'a>(
        &'a self,
        pointer: String,
        schema: &'a Value,
        visit: &mut dyn FnMut(&str, &'a Value, Option<&str>),
    ) {
        let mut seen = HashSet::new();
        self.walk_inner(pointer, schema, None, &mut seen, visit, 0);
    }

    fn walk_inner<'a>(
        &'a self,
        pointer: String,
        schema: &'a Value,
        property: Option<&str>,
        seen: &mut HashSet<String>,
        visit: &mut dyn FnMut(&str, &'a Value, Option<&str>),
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        let (pointer, schema) = self.resolve(pointer, schema);
        if !seen.insert(pointer.clone()) {
            return;
        }
        visit(&pointer, schema, property);
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in properties {
                let sub_pointer = format!("{pointer}/properties/{}", escape(name));
                self.walk_inner(sub_pointer, sub, Some(name), seen, visit, depth + 1);
            }
        }
        for key in ["items", "additionalProperties", "not"] {
            if let Some(sub) = schema.get(key).filter(|s| s.is_object()) {
                let sub_pointer = format!("{pointer}/{key}");
                self.walk_inner(sub_pointer, sub, None, seen, visit, depth + 1);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = schema.get(key).and_then(Value::as_array) {
                for (i, sub) in list.iter().enumerate() {
                    let sub_pointer = format!("{pointer}/{key}/{i}");
                    self.walk_inner(sub_pointer, sub, property, seen, visit, depth + 1);
                }
            }
        }
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Builds a `Value` and the positions map from parser events.
struct Builder<'t> {
    text: &'t str,
    stack: Vec<Frame>,
    root: Option<Value>,
    positions: HashMap<String, Span>,
    anchors: HashMap<usize, Value>,
    documents: usize,
    /// Byte offset of each char, when the text is not ASCII: the parser counts chars.
    char_starts: Option<Vec<u32>>,
    /// Char index of the start of each line.
    line_starts: Vec<usize>,
}

enum Frame {
    Map {
        map: Map<String, Value>,
        pointer: String,
        key: Option<String>,
        anchor: usize,
    },
    Seq {
        items: Vec<Value>,
        pointer: String,
        anchor: usize,
    },
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Self {
        Builder {
            text,
            stack: Vec::new(),
            root: None,
            positions: HashMap::new(),
            anchors: HashMap::new(),
            documents: 0,
            char_starts: (!text.is_ascii())
                .then(|| text.char_indices().map(|(i, _)| i as u32).collect()),
            line_starts: std::iter::once(0)
                .chain(
                    text.chars()
                        .enumerate()
                        .filter(|(_, c)| *c == '\n')
                        .map(|(i, _)| i + 1),
                )
                .collect(),
        }
    }

    /// The byte offset of a marker, from its line (1-based) and column (0-based, in chars).
    /// Its index is no use: yaml-rust2 counts it in chars but adds bytes for the lines of a
    /// block scalar, so it drifts after any non-ASCII `|` or `>` text.
    fn offset(&self, marker: Marker) -> usize {
        let Some(&line_start) = self.line_starts.get(marker.line().saturating_sub(1)) else {
            return self.text.len();
        };
        let char_index = line_start + marker.col();
        match &self.char_starts {
            None => char_index.min(self.text.len()),
            Some(starts) => starts
                .get(char_index)
                .map_or(self.text.len(), |&b| b as usize),
        }
    }

    /// The pointer the next value gets, and whether the next scalar is a key.
    fn next_pointer(&self) -> (String, bool) {
        match self.stack.last() {
            None => (String::new(), false),
            Some(Frame::Map { pointer, key, .. }) => match key {
                Some(key) => (format!("{pointer}/{}", escape(key)), false),
                None => (String::new(), true),
            },
            Some(Frame::Seq { pointer, items, .. }) => {
                (format!("{pointer}/{}", items.len()), false)
            }
        }
    }

    fn span_at(&self, marker: Marker, len: usize) -> Span {
        let start = self.offset(marker).min(self.text.len());
        let end = (start + len).min(self.text.len());
        Span::new(start as u32, end as u32)
    }

    fn add(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.documents <= 1 {
                    self.root = Some(value);
                }
            }
            Some(Frame::Map { map, key, .. }) => {
                if let Some(key) = key.take() {
                    map.insert(key, value);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
        }
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, marker: Marker) {
        match event {
            Event::DocumentStart => self.documents += 1,
            Event::Scalar(text, style, anchor, _) => {
                let (pointer, is_key) = self.next_pointer();
                let quoted = !matches!(style, TScalarStyle::Plain);
                let len = text.len() + if quoted { 2 } else { 0 };
                if is_key {
                    let span = self.span_at(marker, len);
                    if let Some(Frame::Map { pointer, key, .. }) = self.stack.last_mut() {
                        self.positions
                            .insert(format!("{pointer}/{}", escape(&text)), span);
                        *key = Some(text);
                    }
                } else {
                    let at = self.offset(marker) as u32;
                    self.positions.entry(pointer).or_insert(Span::new(at, at));
                    let value = if quoted {
                        Value::String(text)
                    } else {
                        plain_scalar(text)
                    };
                    self.add(value, anchor);
                }
            }
            Event::Alias(anchor) => {
                let value = self.anchors.get(&anchor).cloned().unwrap_or(Value::Null);
                if let (_, true) = self.next_pointer() {
                    // An alias used as a key: keep its text form.
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some(value.as_str().unwrap_or("").to_string());
                    }
                } else {
                    self.add(value, 0);
                }
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                let (pointer, is_key) = self.next_pointer();
                // A mapping used as a key (rare, never in OpenAPI) gets a placeholder key.
                let pointer = if is_key {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some("?".to_string());
                    }
                    String::from("/?")
                } else {
                    pointer
                };
                let index = self.offset(marker) as u32;
                self.positions
                    .entry(pointer.clone())
                    .or_insert(Span::new(index, index));
                self.stack
                    .push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Map {
                            map: Map::new(),
                            pointer,
                            key: None,
                            anchor,
                        }
                    } else {
                        Frame::Seq {
                            items: Vec::new(),
                            pointer,
                            anchor,
                        }
                    });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    None => return,
                };
                self.add(value, anchor);
            }
            _ => {}
        }
    }
}

/// A plain (unquoted) scalar under YAML 1.2's core schema.
fn plain_scalar(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(integer) = text.parse::<i64>() {
        return Value::Number(integer.into());
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric {
        if let Some(number) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(number);
        }
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(text: &str, span: Span) -> usize {
        text[..span.start as usize].matches('\n').count() + 1
    }

    #[test]
    fn yaml_positions_point_at_keys() {
        let text = "openapi: 3.1.0\ninfo:\n  title: é t\npaths:\n  /tasks:\n    get:\n      responses:\n        '200':\n          description: ok\n";
        let doc = OpenApiDoc::parse(0, text).unwrap().unwrap();
        assert_eq!(doc.version, Version::OpenApi31);
        let span = doc.span("/paths/~1tasks/get/responses/200");
        assert_eq!(line_of(text, span), 8);
        assert_eq!(&text[span.range()], "'200'");
        assert_eq!(&text[doc.span("/paths/~1tasks/get").range()], "get");
        // A pointer with no node of its own falls back to its nearest ancestor.
        assert_eq!(
            &text[doc.span("/paths/~1tasks/get/nothing/here").range()],
            "get"
        );
        assert_eq!(doc.operations().len(), 1);
    }

    #[test]
    fn positions_stay_right_after_non_ascii_block_scalars() {
        let text = "openapi: 3.0.0\ninfo:\n  description: |\n    caf\u{e9} \u{2019}q\u{2019}\n    \u{1f600}\npaths:\n  /tasks:\n    get:\n      summary: \u{e9}t\u{e9}\n      responses: {}\n";
        let doc = OpenApiDoc::parse(0, text).unwrap().unwrap();
        assert_eq!(&text[doc.span("/paths/~1tasks/get").range()], "get");
        assert_eq!(
            &text[doc.span("/paths/~1tasks/get/responses").range()],
            "responses"
        );
    }

    #[test]
    fn json_documents_parse_with_positions_and_types() {
        let text = "{\n  \"swagger\": \"2.0\",\n  \"paths\": {\n    \"/a\": {\"get\": {\"responses\": {\"200\": {\"description\": \"x\"}}}}\n  },\n  \"n\": 1.5, \"b\": true, \"z\": null\n}";
        let doc = OpenApiDoc::parse(0, text).unwrap().unwrap();
        assert_eq!(doc.version, Version::Swagger2);
        assert_eq!(doc.root["n"], serde_json::json!(1.5));
        assert_eq!(doc.root["b"], serde_json::json!(true));
        assert!(doc.root["z"].is_null());
        assert_eq!(line_of(text, doc.span("/paths/~1a/get")), 4);
    }

    #[test]
    fn other_yaml_is_not_a_document_and_broken_yaml_is_an_error() {
        assert!(OpenApiDoc::parse(0, "name: ci\non: push\n")
            .unwrap()
            .is_none());
        assert!(OpenApiDoc::parse(0, "openapi: [\n").is_err());
    }

    #[test]
    fn refs_resolve_and_cycles_end() {
        let text = r##"openapi: 3.0.3
paths: {}
components:
  schemas:
    Node:
      type: object
      properties:
        next: {$ref: '#/components/schemas/Node'}
        name: {type: string}
"##;
        let doc = OpenApiDoc::parse(0, text).unwrap().unwrap();
        let root = doc.get("/components/schemas/Node").unwrap();
        let mut names = Vec::new();
        doc.walk_schema(
            "/components/schemas/Node".into(),
            root,
            &mut |_, _, property| names.push(property.map(str::to_string)),
        );
        assert_eq!(names, vec![None, Some("name".to_string())]);
    }
}
