//! The OpenAPI document under test, flattened into [`Operation`]s with every local `$ref`
//! resolved, so checks never walk the raw document. OpenAPI 3.0 and 3.1, JSON or YAML.

use serde_json::Value;
use std::collections::BTreeMap;

/// The document: the raw JSON (for `$ref`s inside schemas) and its operations.
#[derive(Clone, Debug, Default)]
pub struct ApiDocument {
    pub raw: Value,
    /// `3.0.x` or `3.1.x`.
    pub openapi_version: String,
    pub operations: Vec<Operation>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Upper case: `GET`, `POST`, …
    pub method: String,
    /// The path template: `/api/v1/tasks/{id}`.
    pub path: String,
    pub operation_id: Option<String>,
    pub parameters: Vec<Parameter>,
    /// The JSON request body's schema, resolved, when the operation takes one.
    pub request_body: Option<Value>,
    pub request_body_required: bool,
    /// By status code (`"200"`, `"4XX"`, `"default"`).
    pub responses: BTreeMap<String, ResponseSpec>,
    /// Whether a security requirement applies (operation-level, else document-level), and
    /// whether an empty alternative (`{}`) makes it optional.
    pub security: Security,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Security {
    /// No requirement.
    #[default]
    None,
    /// A token is required.
    Required,
    /// A token is accepted but not required (`security: [{bearer: []}, {}]`).
    Optional,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub location: Location,
    pub required: bool,
    /// Resolved schema (`{}` when absent).
    pub schema: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct ResponseSpec {
    /// Media type → resolved schema (`None` when the media type has no schema).
    pub content: BTreeMap<String, Option<Value>>,
    /// Documented response header names, lower case.
    pub headers: Vec<String>,
    /// The documented headers marked `required: true`, lower case.
    pub required_headers: Vec<String>,
    /// The response's `links`: the operations its answer leads to, and how to fill them.
    pub links: Vec<Link>,
}

/// An OpenAPI link: a follow-up operation (by `operationId` or `operationRef`) and the values
/// of its parameters, each a constant or a runtime expression (`$response.body#/id`).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub name: String,
    pub operation_id: Option<String>,
    pub operation_ref: Option<String>,
    /// Parameter name (possibly qualified, `path.id`) → constant or expression.
    pub parameters: Vec<(String, Value)>,
}

impl Operation {
    /// `GET /api/v1/tasks/{id}`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Why a document could not be used. The CLI exits 2 for any of these.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("cannot read the OpenAPI document `{source_name}`: {message}")]
    Unreadable {
        source_name: String,
        message: String,
    },
    #[error("the OpenAPI document `{source_name}` is neither JSON nor YAML: {message}")]
    Unparsable {
        source_name: String,
        message: String,
    },
    #[error("`{source_name}` is not an OpenAPI 3.0 or 3.1 document: {message}")]
    NotOpenApi {
        source_name: String,
        message: String,
    },
}

/// How many `$ref`s deep a schema is inlined; past it (or on a cycle) the reference becomes
/// `{}` (anything), so recursive schemas stay finite and checks stay lenient rather than wrong.
const MAX_REFERENCE_DEPTH: usize = 12;

/// The HTTP methods an OpenAPI path item may hold, in the order operations are listed.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl ApiDocument {
    /// Loads the document from `source`: an `http(s)://` URL, a path on the target (`/openapi.json`,
    /// when `target` is given and no such file exists), or a file. JSON or YAML.
    pub async fn load(
        source: &str,
        target: Option<&crate::client::Target>,
    ) -> Result<ApiDocument, DocumentError> {
        let unreadable = |message: String| DocumentError::Unreadable {
            source_name: source.to_string(),
            message,
        };
        let is_url = source.starts_with("http://") || source.starts_with("https://");
        let text = if is_url
            || (source.starts_with('/')
                && target.is_some()
                && !std::path::Path::new(source).exists())
        {
            let owned_target;
            let target = match target {
                Some(target) => target,
                None => {
                    owned_target =
                        crate::client::Target::new(source, std::time::Duration::from_secs(30))
                            .map_err(|error| unreadable(error.to_string()))?;
                    &owned_target
                }
            };
            let exchange = target
                .send(crate::client::Request::new("GET", source).header(
                    "accept",
                    "application/json, application/yaml;q=0.9, */*;q=0.5",
                ))
                .await
                .map_err(|error| unreadable(error.to_string()))?;
            if !(200..300).contains(&exchange.status) {
                return Err(unreadable(format!(
                    "the server answered {}",
                    exchange.status
                )));
            }
            exchange.text()
        } else {
            std::fs::read_to_string(source).map_err(|error| unreadable(error.to_string()))?
        };
        ApiDocument::from_text(source, &text)
    }

    /// Parses `text` (JSON, else YAML) and flattens it. `source_name` is only for messages.
    pub fn from_text(source_name: &str, text: &str) -> Result<ApiDocument, DocumentError> {
        let raw: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(json_error) => {
                let trimmed = text.trim_start();
                if trimmed.starts_with('{') || trimmed.starts_with('[') {
                    // Looks like JSON: the JSON error is the useful one.
                    return Err(DocumentError::Unparsable {
                        source_name: source_name.to_string(),
                        message: json_error.to_string(),
                    });
                }
                serde_yaml_ng::from_str(text).map_err(|yaml_error| DocumentError::Unparsable {
                    source_name: source_name.to_string(),
                    message: yaml_error.to_string(),
                })?
            }
        };
        ApiDocument::from_value(source_name, raw)
    }

    /// Flattens an already parsed document.
    pub fn from_value(source_name: &str, raw: Value) -> Result<ApiDocument, DocumentError> {
        let not_openapi = |message: &str| DocumentError::NotOpenApi {
            source_name: source_name.to_string(),
            message: message.to_string(),
        };
        let version = raw
            .get("openapi")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                not_openapi("it has no `openapi` version field (Swagger 2.0 is not supported)")
            })?
            .to_string();
        if !(version.starts_with("3.0") || version.starts_with("3.1")) {
            return Err(not_openapi(&format!(
                "version {version} is not 3.0.x or 3.1.x"
            )));
        }
        let paths = match raw.get("paths") {
            Some(Value::Object(paths)) => paths.clone(),
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(_) => return Err(not_openapi("`paths` is not an object")),
        };
        let mut document = ApiDocument {
            raw,
            openapi_version: version,
            operations: Vec::new(),
        };
        let document_security = document.raw.get("security").cloned();
        for (path, item) in &paths {
            let item = document.follow(item);
            let Some(item) = item.as_object() else {
                continue;
            };
            let path_parameters = item.get("parameters").cloned().unwrap_or(Value::Null);
            for method in METHODS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let operation = document.follow(operation);
                let parsed = document.operation(
                    method,
                    path,
                    &operation,
                    &path_parameters,
                    document_security.as_ref(),
                );
                document.operations.push(parsed);
            }
        }
        Ok(document)
    }

    /// The path every operation path is relative to: the path of the first `servers` entry
    /// (`/v2` for `https://api.example.com/v2` or `/v2`), empty for the root.
    pub fn base_path(&self) -> String {
        let url = self
            .raw
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .unwrap_or("/");
        let path = match url.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|index| &rest[index..]).unwrap_or(""),
            None => url,
        };
        // Server variables (`{version}`) cannot be known here: ignore such a base path.
        if path.contains('{') {
            return String::new();
        }
        path.trim_end_matches('/').to_string()
    }

    /// The operation a link names: by `operationId`, or by an `operationRef` into this
    /// document (`#/paths/~1things~1{id}/get`).
    pub fn linked_operation(&self, link: &Link) -> Option<&Operation> {
        if let Some(id) = &link.operation_id {
            return self
                .operations
                .iter()
                .find(|operation| operation.operation_id.as_deref() == Some(id.as_str()));
        }
        let reference = link.operation_ref.as_deref()?;
        let pointer = percent_decode(reference.strip_prefix("#/paths/")?);
        let (path, method) = pointer.rsplit_once('/')?;
        let path = path.replace("~1", "/").replace("~0", "~");
        let method = method.to_ascii_uppercase();
        self.operations
            .iter()
            .find(|operation| operation.path == path && operation.method == method)
    }

    /// Whether the document is OpenAPI 3.0 (where `nullable` and boolean exclusive bounds are
    /// used instead of JSON Schema 2020-12's forms).
    pub fn is_openapi_30(&self) -> bool {
        self.openapi_version.starts_with("3.0")
    }

    /// The value a local `$ref` names (`#/components/schemas/Task`), when it exists.
    pub fn lookup(&self, reference: &str) -> Option<&Value> {
        let pointer = reference.strip_prefix('#')?;
        let decoded = percent_decode(pointer);
        self.raw.pointer(&decoded)
    }

    /// `value`, or what its `$ref` names (followed a few times), for non-schema objects such as
    /// parameters, responses, headers and path items.
    fn follow(&self, value: &Value) -> Value {
        let mut current = value.clone();
        for _ in 0..MAX_REFERENCE_DEPTH {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
                return current;
            };
            match self.lookup(reference) {
                Some(found) => current = found.clone(),
                None => return Value::Object(serde_json::Map::new()),
            }
        }
        Value::Object(serde_json::Map::new())
    }

    /// `schema` with every local `$ref` inlined (a cycle, an unknown or external reference, or
    /// depth past [`MAX_REFERENCE_DEPTH`] becomes `{}`), and, for OpenAPI 3.0, `nullable` and
    /// boolean `exclusiveMinimum`/`exclusiveMaximum` rewritten into JSON Schema 2020-12 form.
    pub fn resolve_schema(&self, schema: &Value) -> Value {
        let mut stack = Vec::new();
        self.resolve_inner(schema, &mut stack)
    }

    fn resolve_inner(&self, schema: &Value, stack: &mut Vec<String>) -> Value {
        match schema {
            Value::Object(map) => {
                if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
                    if stack.len() >= MAX_REFERENCE_DEPTH
                        || stack.iter().any(|seen| seen == reference)
                    {
                        return Value::Object(serde_json::Map::new());
                    }
                    let Some(target) = self.lookup(reference) else {
                        return Value::Object(serde_json::Map::new());
                    };
                    stack.push(reference.to_string());
                    let mut resolved = self.resolve_inner(target, stack);
                    stack.pop();
                    // 3.1 allows siblings next to `$ref` (description, nullable in some tools):
                    // keep the ones that constrain, merged over the target.
                    if map.len() > 1 {
                        let mut siblings = map.clone();
                        siblings.remove("$ref");
                        let siblings = self.resolve_inner(&Value::Object(siblings), stack);
                        resolved = serde_json::json!({ "allOf": [resolved, siblings] });
                    }
                    return resolved;
                }
                let mut out = serde_json::Map::new();
                for (key, value) in map {
                    // `properties` maps names to schemas: a property called `$ref` is not one.
                    let resolved = if key == "properties"
                        || key == "patternProperties"
                        || key == "$defs"
                        || key == "definitions"
                    {
                        match value {
                            Value::Object(properties) => Value::Object(
                                properties
                                    .iter()
                                    .map(|(name, property)| {
                                        (name.clone(), self.resolve_inner(property, stack))
                                    })
                                    .collect(),
                            ),
                            other => other.clone(),
                        }
                    } else if matches!(
                        key.as_str(),
                        "enum" | "const" | "example" | "examples" | "default" | "required"
                    ) {
                        value.clone()
                    } else {
                        self.resolve_inner(value, stack)
                    };
                    out.insert(key.clone(), resolved);
                }
                if self.is_openapi_30() {
                    rewrite_openapi_30(&mut out);
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.resolve_inner(item, stack))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn operation(
        &self,
        method: &str,
        path: &str,
        operation: &Value,
        path_parameters: &Value,
        document_security: Option<&Value>,
    ) -> Operation {
        // Operation-level parameters override path-level ones with the same name and location.
        let mut parameters: Vec<Parameter> = Vec::new();
        for list in [
            path_parameters,
            operation.get("parameters").unwrap_or(&Value::Null),
        ] {
            let Some(list) = list.as_array() else {
                continue;
            };
            for parameter in list {
                let Some(parameter) = self.parameter(&self.follow(parameter)) else {
                    continue;
                };
                parameters.retain(|existing| {
                    !(existing.name == parameter.name && existing.location == parameter.location)
                });
                parameters.push(parameter);
            }
        }
        let body = operation.get("requestBody").map(|body| self.follow(body));
        let request_body = body
            .as_ref()
            .and_then(|body| body.get("content"))
            .and_then(|content| json_media(content))
            .map(|media| {
                media
                    .get("schema")
                    .map(|schema| self.resolve_schema(schema))
                    .unwrap_or_else(|| serde_json::json!({}))
            });
        let request_body_required = body
            .as_ref()
            .and_then(|body| body.get("required"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut responses = BTreeMap::new();
        if let Some(Value::Object(map)) = operation.get("responses") {
            for (status, response) in map {
                let response = self.follow(response);
                let mut spec = ResponseSpec::default();
                if let Some(Value::Object(content)) = response.get("content") {
                    for (media_type, media) in content {
                        let schema = media
                            .get("schema")
                            .map(|schema| self.resolve_schema(schema));
                        spec.content.insert(media_type.to_ascii_lowercase(), schema);
                    }
                }
                if let Some(Value::Object(links)) = response.get("links") {
                    for (name, link) in links {
                        let link = self.follow(link);
                        let text =
                            |key: &str| link.get(key).and_then(Value::as_str).map(str::to_string);
                        let parameters = link
                            .get("parameters")
                            .and_then(Value::as_object)
                            .map(|parameters| {
                                parameters
                                    .iter()
                                    .map(|(name, value)| (name.clone(), value.clone()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        spec.links.push(Link {
                            name: name.clone(),
                            operation_id: text("operationId"),
                            operation_ref: text("operationRef"),
                            parameters,
                        });
                    }
                }
                if let Some(Value::Object(headers)) = response.get("headers") {
                    for (name, header) in headers {
                        let header = self.follow(header);
                        let lower = name.to_ascii_lowercase();
                        if header.get("required").and_then(Value::as_bool) == Some(true) {
                            spec.required_headers.push(lower.clone());
                        }
                        spec.headers.push(lower);
                    }
                }
                responses.insert(status.to_ascii_uppercase(), spec);
            }
        }
        let security = match operation.get("security").or(document_security) {
            Some(Value::Array(alternatives)) if !alternatives.is_empty() => {
                let empty = alternatives
                    .iter()
                    .any(|alternative| alternative.as_object().is_some_and(|map| map.is_empty()));
                let any_scheme = alternatives
                    .iter()
                    .any(|alternative| alternative.as_object().is_some_and(|map| !map.is_empty()));
                match (any_scheme, empty) {
                    (false, _) => Security::None,
                    (true, true) => Security::Optional,
                    (true, false) => Security::Required,
                }
            }
            _ => Security::None,
        };
        Operation {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            operation_id: operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters,
            request_body,
            request_body_required,
            responses,
            security,
        }
    }

    fn parameter(&self, parameter: &Value) -> Option<Parameter> {
        let name = parameter.get("name")?.as_str()?.to_string();
        let location = match parameter.get("in")?.as_str()? {
            "path" => Location::Path,
            "query" => Location::Query,
            "header" => Location::Header,
            "cookie" => Location::Cookie,
            _ => return None,
        };
        let schema = parameter
            .get("schema")
            .map(|schema| self.resolve_schema(schema))
            .or_else(|| {
                // `content: {application/json: {schema}}` instead of `schema`.
                parameter
                    .get("content")
                    .and_then(|content| content.as_object())
                    .and_then(|content| content.values().next())
                    .and_then(|media| media.get("schema"))
                    .map(|schema| self.resolve_schema(schema))
            })
            .unwrap_or_else(|| serde_json::json!({}));
        Some(Parameter {
            name,
            required: location == Location::Path
                || parameter
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            location,
            schema,
        })
    }
}

impl Operation {
    /// The documented response for `status`: the exact code, else its range (`4XX`), else
    /// `default`.
    pub fn response_for(&self, status: u16) -> Option<&ResponseSpec> {
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        self.responses
            .get(&exact)
            .or_else(|| self.responses.get(&range))
            .or_else(|| self.responses.get("DEFAULT"))
    }

    /// The media types any 2xx response may have.
    pub fn success_media_types(&self) -> Vec<&str> {
        self.responses
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .flat_map(|(_, spec)| spec.content.keys().map(String::as_str))
            .collect()
    }

    /// Whether every documented 2xx answer is a never-ending `text/event-stream`.
    pub fn is_event_stream(&self) -> bool {
        let media = self.success_media_types();
        !media.is_empty()
            && media
                .iter()
                .all(|media| media.starts_with("text/event-stream"))
    }

    /// The links of every documented 2xx answer.
    pub fn success_links(&self) -> Vec<&Link> {
        self.responses
            .iter()
            .filter(|(status, _)| status.starts_with('2'))
            .flat_map(|(_, spec)| spec.links.iter())
            .collect()
    }

    /// The parameter `name` in `location`.
    pub fn parameter(&self, name: &str, location: Location) -> Option<&Parameter> {
        self.parameters
            .iter()
            .find(|parameter| parameter.location == location && parameter.name == name)
    }
}

impl ResponseSpec {
    /// Whether `media_type` (lower case, no parameters) is documented: exactly, or by a
    /// wildcard (`application/*`, `*/*`).
    pub fn documents_media_type(&self, media_type: &str) -> bool {
        self.content
            .keys()
            .any(|documented| media_type_matches(documented, media_type))
    }

    /// The schema documented for `media_type`, when there is one.
    pub fn schema_for(&self, media_type: &str) -> Option<&Value> {
        self.content
            .get(media_type)
            .or_else(|| {
                self.content
                    .iter()
                    .find(|(documented, _)| media_type_matches(documented, media_type))
                    .map(|(_, schema)| schema)
            })
            .and_then(Option::as_ref)
    }
}

/// `application/json; charset=utf-8` documented matches `application/json` received, and
/// `application/*` or `*/*` match anything of their kind.
fn media_type_matches(documented: &str, received: &str) -> bool {
    let documented = documented.split(';').next().unwrap_or("").trim();
    if documented == received || documented == "*/*" {
        return true;
    }
    match documented.strip_suffix("/*") {
        Some(kind) => received.split('/').next() == Some(kind),
        None => false,
    }
}

/// The JSON media type object in a `content` map: `application/json`, else any `+json` or
/// `json` media type.
fn json_media(content: &Value) -> Option<&Value> {
    let map = content.as_object()?;
    map.get("application/json").or_else(|| {
        map.iter()
            .find(|(media_type, _)| {
                let media_type = media_type.to_ascii_lowercase();
                media_type.ends_with("+json") || media_type.contains("json")
            })
            .map(|(_, media)| media)
    })
}

/// OpenAPI 3.0 schema keywords in JSON Schema 2020-12 form: `nullable: true` becomes `null` in
/// the type (or an `anyOf` with `null`), boolean exclusive bounds become numeric ones.
fn rewrite_openapi_30(schema: &mut serde_json::Map<String, Value>) {
    if schema.remove("nullable").and_then(|value| value.as_bool()) == Some(true) {
        match schema.get_mut("type") {
            Some(Value::String(single)) => {
                let single = single.clone();
                schema.insert("type".into(), serde_json::json!([single, "null"]));
            }
            Some(Value::Array(types)) => {
                if !types.iter().any(|kind| kind == "null") {
                    types.push(Value::String("null".into()));
                }
            }
            _ => {
                let inner = Value::Object(std::mem::take(schema));
                schema.insert("anyOf".into(), serde_json::json!([inner, {"type": "null"}]));
                return;
            }
        }
        if let Some(Value::Array(values)) = schema.get_mut("enum") {
            if !values.iter().any(Value::is_null) {
                values.push(Value::Null);
            }
        }
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(flag)) = schema.get(exclusive).cloned() {
            schema.remove(exclusive);
            if flag {
                if let Some(value) = schema.remove(bound) {
                    schema.insert(exclusive.into(), value);
                }
            }
        }
    }
}

/// `%7B` → `{` and JSON-pointer-safe text (references to paths are percent-encoded).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let high = (bytes[index + 1] as char).to_digit(16);
            let low = (bytes[index + 2] as char).to_digit(16);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const YAML_30: &str = r##"
openapi: 3.0.3
info: {title: pets, version: "1"}
servers:
  - url: https://api.example.com/v2
security:
  - apiKey: []
paths:
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        schema: {type: integer}
      - name: verbose
        in: query
        schema: {type: boolean}
    get:
      operationId: getPet
      parameters:
        - name: verbose
          in: query
          required: true
          schema: {type: string}
      responses:
        "200":
          description: the pet
          headers:
            X-Rate:
              required: true
              schema: {type: integer}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
        4XX:
          $ref: "#/components/responses/Problem"
    delete:
      security: []
      responses:
        "204": {description: gone}
  /pets:
    post:
      security:
        - apiKey: []
        - {}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        default: {description: anything}
components:
  responses:
    Problem:
      description: a problem
      content:
        application/problem+json:
          schema: {type: object}
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, nullable: true}
        age: {type: integer, minimum: 0, exclusiveMinimum: true}
        parent: {$ref: "#/components/schemas/Pet"}
"##;

    #[test]
    fn openapi_30_yaml_loads_with_merged_parameters_security_and_refs() {
        let document = ApiDocument::from_text("pets.yaml", YAML_30).expect("the document loads");
        assert!(document.is_openapi_30());
        assert_eq!(document.base_path(), "/v2");
        assert_eq!(document.operations.len(), 3);
        let get = &document.operations[0];
        assert_eq!(get.label(), "GET /pets/{petId}");
        assert_eq!(get.operation_id.as_deref(), Some("getPet"));
        assert_eq!(get.security, Security::Required);
        // Path-level `petId` kept; the operation's `verbose` replaces the path-level one.
        assert_eq!(get.parameters.len(), 2);
        let verbose = get.parameter("verbose", Location::Query).expect("verbose");
        assert!(verbose.required);
        assert_eq!(verbose.schema, json!({"type": "string"}));
        assert!(get
            .parameter("petId", Location::Path)
            .is_some_and(|petid| petid.required));
        let ok = get.response_for(200).expect("200 documented");
        assert_eq!(ok.headers, vec!["x-rate".to_string()]);
        assert_eq!(ok.required_headers, vec!["x-rate".to_string()]);
        let pet = ok.schema_for("application/json").expect("a schema");
        // 3.0's nullable and boolean exclusiveMinimum in 2020-12 form; the cycle stops.
        assert_eq!(pet["properties"]["name"]["type"], json!(["string", "null"]));
        assert_eq!(
            pet["properties"]["age"],
            json!({"type": "integer", "exclusiveMinimum": 0})
        );
        assert_eq!(pet["properties"]["parent"], json!({}));
        // `4XX` covers 404; nothing covers 500.
        assert!(get
            .response_for(404)
            .is_some_and(|spec| spec.documents_media_type("application/problem+json")));
        assert!(get.response_for(500).is_none());
        let delete = &document.operations[1];
        assert_eq!(delete.security, Security::None);
        let post = &document.operations[2];
        assert_eq!(post.security, Security::Optional);
        assert!(post.request_body_required);
        assert!(post.request_body.is_some());
        assert!(
            post.response_for(503).is_some(),
            "default covers every status"
        );
    }

    #[test]
    fn openapi_31_json_loads_with_referenced_parameters_and_bodies() {
        let raw = json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1"},
            "paths": {
                "/tasks": {
                    "get": {
                        "security": [{"bearer": []}],
                        "parameters": [{"$ref": "#/components/parameters/Limit"}],
                        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}}
                    },
                    "post": {
                        "requestBody": {"$ref": "#/components/requestBodies/NewTask"},
                        "responses": {"201": {"description": "created"}}
                    }
                },
                "/tasks/events": {
                    "get": {"responses": {"200": {"description": "stream", "content": {"text/event-stream": {}}}}}
                }
            },
            "components": {
                "parameters": {"Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}}},
                "requestBodies": {"NewTask": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}},
                "schemas": {"Task": {"type": "object", "properties": {"title": {"type": ["string", "null"]}}}}
            }
        });
        let document = ApiDocument::from_value("t.json", raw.clone()).expect("loads");
        assert!(!document.is_openapi_30());
        assert_eq!(document.base_path(), "");
        let list = &document.operations[0];
        assert_eq!(list.parameters[0].name, "limit");
        assert_eq!(
            list.parameters[0].schema,
            json!({"type": "integer", "maximum": 100})
        );
        let create = &document.operations[1];
        assert_eq!(
            create.request_body,
            Some(json!({"type": "object", "properties": {"title": {"type": ["string", "null"]}}}))
        );
        assert!(!list.is_event_stream());
        assert!(document.operations[2].is_event_stream());
        let text = serde_json::to_string(&raw).expect("serializes");
        assert_eq!(
            ApiDocument::from_text("t.json", &text)
                .expect("loads")
                .operations
                .len(),
            3
        );
    }

    #[test]
    fn links_are_read_and_lead_to_their_operations() {
        let raw = json!({
            "openapi": "3.1.0",
            "paths": {
                "/tasks": {"post": {"responses": {"201": {
                    "description": "created",
                    "links": {
                        "GetTask": {"operationId": "getTask", "parameters": {"taskId": "$response.body#/id"}},
                        "DeleteTask": {"$ref": "#/components/links/DeleteTask"}
                    }
                }}}},
                "/tasks/{taskId}": {
                    "get": {"operationId": "getTask", "responses": {}},
                    "delete": {"responses": {}}
                }
            },
            "components": {"links": {"DeleteTask": {
                "operationRef": "#/paths/~1tasks~1%7BtaskId%7D/delete",
                "parameters": {"path.taskId": "$response.header.Location"}
            }}}
        });
        let document = ApiDocument::from_value("links", raw).expect("loads");
        let links = document.operations[0].success_links();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].name, "GetTask");
        assert_eq!(
            links[0].parameters,
            vec![("taskId".to_string(), json!("$response.body#/id"))]
        );
        let get = document.linked_operation(links[0]).expect("by operationId");
        assert_eq!(get.label(), "GET /tasks/{taskId}");
        let delete = document
            .linked_operation(links[1])
            .expect("by operationRef");
        assert_eq!(delete.label(), "DELETE /tasks/{taskId}");
        assert!(document.operations[1].success_links().is_empty());
    }

    #[test]
    fn bad_documents_are_clear_errors() {
        let error = ApiDocument::from_text("x.json", "{ not json").expect_err("invalid JSON");
        assert!(matches!(error, DocumentError::Unparsable { .. }), "{error}");
        let error =
            ApiDocument::from_text("x.yaml", "swagger: '2.0'\npaths: {}\n").expect_err("2.0");
        assert!(
            error
                .to_string()
                .contains("not an OpenAPI 3.0 or 3.1 document"),
            "{error}"
        );
        let error = ApiDocument::from_text("x.yaml", "openapi: 4.0.0\n").expect_err("4.0");
        assert!(error.to_string().contains("4.0.0"), "{error}");
        let error = ApiDocument::from_text("x.yaml", ": : :\n  - [").expect_err("bad YAML");
        assert!(matches!(error, DocumentError::Unparsable { .. }), "{error}");
    }

    #[tokio::test]
    async fn load_reads_files_and_reports_missing_ones() {
        let path =
            std::env::temp_dir().join(format!("plinth-verify-doc-{}.yaml", std::process::id()));
        std::fs::write(&path, YAML_30).expect("a temporary file");
        let document = ApiDocument::load(&path.to_string_lossy(), None)
            .await
            .expect("loads");
        assert_eq!(document.operations.len(), 3);
        let _ = std::fs::remove_file(&path);
        let error = ApiDocument::load("/no/such/openapi.json", None)
            .await
            .expect_err("missing");
        assert!(matches!(error, DocumentError::Unreadable { .. }));
    }

    #[test]
    fn references_with_escapes_and_unknown_targets_resolve_safely() {
        let raw = json!({
            "openapi": "3.1.0",
            "paths": {},
            "components": {"schemas": {"a/b": {"type": "string"}, "Loop": {"$ref": "#/components/schemas/Loop"}}}
        });
        let document = ApiDocument::from_value("x", raw).expect("loads");
        assert_eq!(
            document.resolve_schema(&json!({"$ref": "#/components/schemas/a~1b"})),
            json!({"type": "string"})
        );
        assert_eq!(
            document.resolve_schema(&json!({"$ref": "#/components/schemas/Loop"})),
            json!({})
        );
        assert_eq!(
            document.resolve_schema(&json!({"$ref": "#/nowhere"})),
            json!({})
        );
        assert_eq!(
            document.resolve_schema(&json!({"$ref": "other.yaml#/X"})),
            json!({})
        );
    }

    #[test]
    fn numeric_status_keys_in_yaml_are_read_as_text() {
        let text = "openapi: 3.0.0\npaths:\n  /a:\n    get:\n      responses:\n        200:\n          description: ok\n";
        let document = ApiDocument::from_text("a.yaml", text).expect("loads");
        assert!(document.operations[0].response_for(200).is_some());
    }

    #[test]
    fn odd_shapes_never_panic() {
        for raw in [
            json!({"openapi": "3.1.0", "paths": {"/a": {"get": "text", "post": [], "parameters": 3}}}),
            json!({"openapi": "3.1.0", "paths": {"/a": {"get": {"parameters": [1, {"in": "query"}, {"$ref": "#/x"}], "responses": []}}}}),
            json!({"openapi": "3.0.0", "paths": {"/a": {"$ref": "#/paths/~1a"}}}),
            json!({"openapi": "3.0.0", "paths": {"/a": {"get": {"requestBody": {"content": {"application/json": {}}}, "security": "x"}}}}),
            json!({"openapi": "3.0.0", "paths": {"/%": {"get": {"responses": {"200": {"$ref": "#/%zz"}}}}}}),
        ] {
            let _ = ApiDocument::from_value("odd", raw);
        }
        assert!(ApiDocument::from_value("odd", json!({"openapi": "3.1.0", "paths": []})).is_err());
    }
}
