//! The users a run acts as: bearer tokens given on the command line (`--user name:token`), users
//! an auth config registers or logs in, and — for Plinth-style APIs — two users verify registers
//! itself, so the authorization probes always have an owner (A) and an intruder (B).
//!
//! # The auth config
//!
//! A small TOML file (or the same structure as JSON, when the text starts with `{`):
//!
//! ```toml
//! # Where the token is in a register/login answer (a JSON pointer); this is the default.
//! token_pointer = "/access_token"
//!
//! [[user]]
//! name = "alice"
//! token = "eyJhbGciOi…"          # a bearer token, used as is
//!
//! [[user]]
//! name = "bob"
//! # Registered first (optional), then logged in (optional): the token comes from the last
//! # answer. `{random}` is replaced by one random word per user, so a run can be repeated.
//! register = { path = "/api/v1/auth/register", body = { email = "bob-{random}@example.com", password = "Secret-{random}", name = "Bob" } }
//! login = { path = "/api/v1/auth/login", body = { email = "bob-{random}@example.com", password = "Secret-{random}" } }
//! token_pointer = "/access_token"  # per user, overrides the top-level one
//!
//! # Optional: the login endpoint the rate-limit and NoSQL-login probes hit with wrong
//! # credentials, when the document has no `…/auth/login`.
//! [login]
//! path = "/api/v1/auth/login"
//! body = { email = "nobody@example.invalid", password = "wrong" }
//! ```
//!
//! `method` (default `POST`) may be given beside any `path`. Without two users from the flag and
//! the config, and when the document has `POST /api/v1/auth/register` and `/login` (Plinth's
//! routes), verify registers the missing users itself with random emails and strong passwords.
//!
//! The second half of this file holds the small request helpers every probe shares: sending
//! with patience on 429, filling path templates, finding collections and their rows, a minimal
//! valid value for a JSON Schema, reading a JWT's claims, and building findings.

use crate::client::{Exchange, Request, Target};
use crate::document::{ApiDocument, Location, Operation};
use crate::findings::{Finding, Severity};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// One identity the probes act as.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub name: String,
    /// The bearer token, as sent in `Authorization: Bearer …`.
    pub token: String,
    /// The user's id as the API knows it (a JWT's `sub`, or the `user.id` of the login answer).
    pub subject: Option<String>,
}

impl User {
    /// A user whose subject is read from the token when it is a JWT.
    pub fn with_token(name: &str, token: &str) -> User {
        User {
            name: name.to_string(),
            token: token.to_string(),
            subject: jwt_claims(token).and_then(|claims| claims.get("sub").and_then(id_text)),
        }
    }
}

/// Where wrong credentials are sent (rate-limit and NoSQL-login probes).
#[derive(Clone, Debug, PartialEq)]
pub struct LoginEndpoint {
    pub method: String,
    pub path: String,
    /// A body with wrong credentials (a fake email that belongs to nobody).
    pub wrong_body: Value,
}

/// Everyone a run acts as, in order: the first is the owner (A), the second the intruder (B).
#[derive(Clone, Debug, Default)]
pub struct Users {
    pub users: Vec<User>,
    pub login: Option<LoginEndpoint>,
    /// The register/login answers that carried tokens (their headers are checked too).
    pub token_exchanges: Vec<Exchange>,
}

impl Users {
    pub fn owner(&self) -> Option<&User> {
        self.users.first()
    }

    pub fn intruder(&self) -> Option<&User> {
        self.users.get(1)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("`--user {0}` is not `name:token`")]
    BadUserFlag(String),
    #[error("the auth config is not valid TOML or JSON: {0}")]
    BadConfig(String),
    #[error("user `{user}`: {message}")]
    SignIn { user: String, message: String },
}

/// `name:token` from `--user`.
pub fn parse_user_flag(text: &str) -> Result<User, UsersError> {
    match text.split_once(':') {
        Some((name, token)) if !name.trim().is_empty() && !token.trim().is_empty() => {
            Ok(User::with_token(name.trim(), token.trim()))
        }
        _ => Err(UsersError::BadUserFlag(text.to_string())),
    }
}

/// The auth config file (see the module docs).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub token_pointer: Option<String>,
    #[serde(default, alias = "users")]
    pub user: Vec<ConfiguredUser>,
    #[serde(default)]
    pub login: Option<EndpointCall>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredUser {
    pub name: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub register: Option<EndpointCall>,
    #[serde(default)]
    pub login: Option<EndpointCall>,
    #[serde(default)]
    pub token_pointer: Option<String>,
}

/// One request of the config: `path`, optional `method` (POST) and a JSON `body`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointCall {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub body: Option<Value>,
}

impl AuthConfig {
    /// TOML, or JSON when the text starts with `{`.
    pub fn parse(text: &str) -> Result<AuthConfig, UsersError> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|error| UsersError::BadConfig(error.to_string()))
        } else {
            toml::from_str(text).map_err(|error| UsersError::BadConfig(error.to_string()))
        }
    }
}

/// Plinth's auth routes, detected in the document for the default users.
const PLINTH_REGISTER: &str = "/api/v1/auth/register";
const PLINTH_LOGIN: &str = "/api/v1/auth/login";
const DEFAULT_TOKEN_POINTER: &str = "/access_token";

/// Gathers the users of a run: `given` (from `--user`), then the config's, then — when fewer
/// than two and the document has Plinth's register and login routes — users registered here.
pub async fn prepare(
    target: &Target,
    document: &ApiDocument,
    given: Vec<User>,
    config: Option<&AuthConfig>,
) -> Result<Users, UsersError> {
    let document = &*rooted(document);
    let mut users = Users {
        users: given,
        ..Users::default()
    };
    let default_pointer = config
        .and_then(|config| config.token_pointer.clone())
        .unwrap_or_else(|| DEFAULT_TOKEN_POINTER.to_string());
    if let Some(config) = config {
        for configured in &config.user {
            let pointer = configured
                .token_pointer
                .clone()
                .unwrap_or_else(|| default_pointer.clone());
            let (user, exchange) = sign_in_configured(target, configured, &pointer).await?;
            users.users.push(user);
            users.token_exchanges.extend(exchange);
        }
        if let Some(login) = &config.login {
            users.login = Some(LoginEndpoint {
                method: login.method.clone().unwrap_or_else(|| "POST".into()),
                path: login.path.clone(),
                wrong_body: login.body.clone().unwrap_or(Value::Null),
            });
        }
    }
    let register = find_operation(document, "POST", PLINTH_REGISTER);
    let login = find_operation(document, "POST", PLINTH_LOGIN);
    if users.login.is_none() {
        if let Some(login) = login {
            let schema = login.request_body.clone().unwrap_or(Value::Null);
            users.login = Some(LoginEndpoint {
                method: "POST".into(),
                path: login.path.clone(),
                wrong_body: wrong_credentials(&schema),
            });
        }
    }
    if let (Some(register), Some(_)) = (register, login) {
        let mut attempt = 0;
        while users.users.len() < 2 && attempt < 4 {
            attempt += 1;
            let name = if users.users.is_empty() {
                "verify-a"
            } else {
                "verify-b"
            };
            if let Some((user, exchange)) =
                register_user(target, register, name, &default_pointer).await
            {
                users.users.push(user);
                users.token_exchanges.push(exchange);
            }
        }
    }
    Ok(users)
}

async fn sign_in_configured(
    target: &Target,
    configured: &ConfiguredUser,
    pointer: &str,
) -> Result<(User, Option<Exchange>), UsersError> {
    let failed = |message: String| UsersError::SignIn {
        user: configured.name.clone(),
        message,
    };
    let random = random_word();
    let mut token = configured.token.clone();
    let mut subject = None;
    let mut token_exchange = None;
    for call in [&configured.register, &configured.login]
        .into_iter()
        .flatten()
    {
        let body = call
            .body
            .as_ref()
            .map(|body| substitute_random(body, &random))
            .unwrap_or(Value::Null);
        let method = call.method.clone().unwrap_or_else(|| "POST".into());
        let exchange = send_patiently(target, Request::new(&method, &call.path).json(&body))
            .await
            .ok_or_else(|| failed(format!("{method} {} did not answer", call.path)))?;
        if !(200..300).contains(&exchange.status) {
            return Err(failed(format!(
                "{method} {} answered {}: {}",
                call.path,
                exchange.status,
                truncate(&exchange.text(), 300)
            )));
        }
        let answer = exchange.json().unwrap_or(Value::Null);
        if let Some(found) = answer.pointer(pointer).and_then(Value::as_str) {
            token = Some(found.to_string());
            subject = answer
                .pointer("/user/id")
                .and_then(id_text)
                .or_else(|| answer.pointer("/id").and_then(id_text));
            token_exchange = Some(exchange);
        }
    }
    let token = token.ok_or_else(|| {
        failed(format!(
            "no token: give `token`, or a register/login whose answer has one at `{pointer}`"
        ))
    })?;
    let mut user = User::with_token(&configured.name, &token);
    if user.subject.is_none() {
        user.subject = subject;
    }
    Ok((user, token_exchange))
}

/// Registers one user through Plinth's register route with a generated body.
async fn register_user(
    target: &Target,
    register: &Operation,
    name: &str,
    pointer: &str,
) -> Option<(User, Exchange)> {
    let schema = register.request_body.clone().unwrap_or(Value::Null);
    let body = sample_value(&schema, "")?;
    let exchange = send_patiently(target, Request::new("POST", &register.path).json(&body)).await?;
    if !(200..300).contains(&exchange.status) {
        return None;
    }
    let answer = exchange.json()?;
    let token = answer.pointer(pointer)?.as_str()?;
    let mut user = User::with_token(name, token);
    if user.subject.is_none() {
        user.subject = answer.pointer("/user/id").and_then(id_text);
    }
    Some((user, exchange))
}

/// A body for the login schema with an email nobody has and a wrong password.
fn wrong_credentials(schema: &Value) -> Value {
    let mut body = sample_value(schema, "").unwrap_or_else(|| json!({}));
    if let Value::Object(fields) = &mut body {
        for (name, value) in fields.iter_mut() {
            if value.is_string() {
                let lower = name.to_ascii_lowercase();
                *value = if lower.contains("password") {
                    json!("wrong-password-for-plinth-verify")
                } else if lower.contains("email") {
                    json!(format!("nobody-{}@example.invalid", random_word()))
                } else {
                    json!(format!("nobody-{}", random_word()))
                };
            }
        }
    }
    body
}

fn substitute_random(value: &Value, random: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace("{random}", random)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute_random(item, random))
                .collect(),
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| (key.clone(), substitute_random(item, random)))
                .collect(),
        ),
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers the probes share.
// ---------------------------------------------------------------------------------------------

/// Twelve random lower-case hex digits.
pub(crate) fn random_word() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// An id as text: strings as they are, numbers printed.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

pub(crate) fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

pub(crate) fn find_operation<'a>(
    document: &'a ApiDocument,
    method: &str,
    path: &str,
) -> Option<&'a Operation> {
    document
        .operations
        .iter()
        .find(|operation| operation.method == method && operation.path == path)
}

/// Whether the operation's only successful answers are a never-ending event stream, which the
/// probes must not read.
pub(crate) fn is_event_stream(operation: &Operation) -> bool {
    let mut saw_success = false;
    for (status, response) in &operation.responses {
        if status.starts_with('2') {
            saw_success = true;
            if response.content.is_empty()
                || response
                    .content
                    .keys()
                    .any(|media| media != "text/event-stream")
            {
                return false;
            }
        }
    }
    saw_success
}

pub(crate) fn is_write(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE")
}

/// `/api/v1/tasks/{id}` → `/api/v1/tasks`; a path not ending in a parameter is its own
/// collection.
pub(crate) fn collection_of(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((parent, last)) if last.starts_with('{') && last.ends_with('}') => parent,
        _ => path,
    }
}

/// The name of the trailing path parameter (`id` in `/tasks/{id}`).
pub(crate) fn trailing_parameter(path: &str) -> Option<&str> {
    let last = path.rsplit('/').next()?;
    last.strip_prefix('{')?.strip_suffix('}')
}

/// Replaces every `{name}` of `template` with `value`, percent-encoded (the value is trusted to
/// be already encoded when `raw`).
pub(crate) fn fill_path(template: &str, values: &[(&str, &str)], raw: bool) -> String {
    let mut path = template.to_string();
    for (name, value) in values {
        let encoded = if raw {
            value.to_string()
        } else {
            percent_encode(value)
        };
        path = path.replace(&format!("{{{name}}}"), &encoded);
    }
    path
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `name=value&…`, both percent-encoded.
pub(crate) fn query_string(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Sends a request; on 429 waits (`Retry-After`, at most 2 s) and retries twice. `None` when the
/// target did not answer.
pub(crate) async fn send_patiently(target: &Target, request: Request) -> Option<Exchange> {
    let mut attempts = 0;
    loop {
        let exchange = target.send(request.clone()).await.ok()?;
        attempts += 1;
        if exchange.status != 429 || attempts > 2 {
            return Some(exchange);
        }
        let wait = exchange
            .header("retry-after")
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(1.0)
            .clamp(0.1, 2.0);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

pub(crate) fn is_success(exchange: &Exchange) -> bool {
    (200..300).contains(&exchange.status)
}

/// The JSON schema of the operation's first 2xx JSON response.
pub(crate) fn success_schema(operation: &Operation) -> Option<&Value> {
    operation
        .responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .flat_map(|(_, response)| response.content.iter())
        .find(|(media, _)| media.contains("json"))
        .and_then(|(_, schema)| schema.as_ref())
}

/// A collection of the API: the create operation and the item operations beside it.
#[derive(Clone, Debug)]
pub(crate) struct Collection<'a> {
    pub path: &'a str,
    pub create: Option<&'a Operation>,
    pub list: Option<&'a Operation>,
    pub get: Option<&'a Operation>,
    pub update: Option<&'a Operation>,
    pub delete: Option<&'a Operation>,
}

impl Collection<'_> {
    /// The item path template (`/tasks/{id}`) and its parameter name.
    pub fn item_path(&self) -> Option<(&str, &str)> {
        let operation = self.get.or(self.update).or(self.delete)?;
        Some((
            operation.path.as_str(),
            trailing_parameter(&operation.path)?,
        ))
    }
}

/// Every collection with an item read (`GET /things/{id}`), in document order.
pub(crate) fn collections(document: &ApiDocument) -> Vec<Collection<'_>> {
    let mut found: Vec<Collection<'_>> = Vec::new();
    for operation in &document.operations {
        let collection_path = collection_of(&operation.path);
        let is_item = collection_path != operation.path;
        // Only one parameter, at the end: `/tasks/{id}`, not `/orgs/{org}/members/{id}`
        // (whose parent rows verify cannot create on its own).
        if collection_path.contains('{') {
            continue;
        }
        let index = match found
            .iter()
            .position(|collection| collection.path == collection_path)
        {
            Some(index) => index,
            None => {
                found.push(Collection {
                    path: collection_path,
                    create: None,
                    list: None,
                    get: None,
                    update: None,
                    delete: None,
                });
                found.len() - 1
            }
        };
        let entry = &mut found[index];
        match (operation.method.as_str(), is_item) {
            ("POST", false) => entry.create = Some(operation),
            ("GET", false) if !is_event_stream(operation) => entry.list = Some(operation),
            ("GET", true) => entry.get = Some(operation),
            ("PATCH", true) => entry.update = Some(operation),
            ("PUT", true) if entry.update.is_none() => entry.update = Some(operation),
            ("DELETE", true) => entry.delete = Some(operation),
            _ => {}
        }
    }
    found.retain(|collection| collection.get.is_some());
    found
}

/// Rows nested under another collection's rows: `/notes/{id}/comments` (list, create) and
/// `/notes/{id}/comments/{commentId}` (item read), under a top-level collection.
#[derive(Clone, Debug)]
pub(crate) struct Nested<'a> {
    /// The parent collection: `/notes`.
    pub parent: &'a str,
    /// The parent's id parameter in `path`: `id`.
    pub parent_parameter: &'a str,
    /// `/notes/{id}/comments`.
    pub path: &'a str,
    pub list: Option<&'a Operation>,
    pub create: Option<&'a Operation>,
    pub item: Option<&'a Operation>,
}

/// Every collection nested one level under a top-level collection's item path, in document
/// order. Event streams are left out.
pub(crate) fn nested_collections(document: &ApiDocument) -> Vec<Nested<'_>> {
    let mut found: Vec<Nested<'_>> = Vec::new();
    for operation in &document.operations {
        if is_event_stream(operation) {
            continue;
        }
        let path = operation.path.as_str();
        // `/parents/{p}/children` or `/parents/{p}/children/{c}`.
        let (nested_path, is_item) = match trailing_parameter(path) {
            Some(_) => (collection_of(path), true),
            None => (path, false),
        };
        let Some((parent_item, segment)) = nested_path.rsplit_once('/') else {
            continue;
        };
        if segment.is_empty() || segment.contains(['{', '}']) {
            continue;
        }
        let Some(parent_parameter) = trailing_parameter(parent_item) else {
            continue;
        };
        let parent = collection_of(parent_item);
        if parent.contains('{') || parent == parent_item {
            continue;
        }
        let index = match found.iter().position(|nested| nested.path == nested_path) {
            Some(index) => index,
            None => {
                found.push(Nested {
                    parent,
                    parent_parameter,
                    path: nested_path,
                    list: None,
                    create: None,
                    item: None,
                });
                found.len() - 1
            }
        };
        let entry = &mut found[index];
        match (operation.method.as_str(), is_item) {
            ("GET", false) => entry.list = Some(operation),
            ("POST", false) => entry.create = Some(operation),
            ("GET", true) => entry.item = Some(operation),
            _ => {}
        }
    }
    found
}

/// The document with every operation path under its base path (`servers[0].url`), so the
/// probes can send operation paths as they are.
pub(crate) fn rooted(document: &ApiDocument) -> std::borrow::Cow<'_, ApiDocument> {
    let base = document.base_path();
    if base.is_empty() {
        return std::borrow::Cow::Borrowed(document);
    }
    let mut rooted = document.clone();
    for operation in &mut rooted.operations {
        operation.path = format!("{base}{}", operation.path);
    }
    std::borrow::Cow::Owned(rooted)
}

/// The id of a created row: the body's `id` (or the item parameter's name), else the last
/// segment of `Location`.
pub(crate) fn created_id(exchange: &Exchange, parameter: &str) -> Option<String> {
    let body = exchange.json();
    let from_body = body.as_ref().and_then(|body| {
        let row = body
            .get("data")
            .filter(|data| data.is_object())
            .unwrap_or(body);
        row.get(parameter)
            .or_else(|| row.get("id"))
            .and_then(id_text)
    });
    from_body.or_else(|| {
        let location = exchange.header("location")?;
        let last = location.trim_end_matches('/').rsplit('/').next()?;
        (!last.is_empty()).then(|| last.to_string())
    })
}

/// The row of a single-item answer: the body, or its `data` when that is an object.
pub(crate) fn row_of(exchange: &Exchange) -> Option<Map<String, Value>> {
    let body = exchange.json()?;
    let row = match body.get("data") {
        Some(Value::Object(data)) => data.clone(),
        _ => body.as_object()?.clone(),
    };
    Some(row)
}

/// Fills a request for `operation`: path parameters from `path_values`, required query
/// parameters with sample values.
pub(crate) fn request_for(operation: &Operation, path_values: &[(&str, &str)]) -> Request {
    let mut path = fill_path(&operation.path, path_values, false);
    let query: Vec<(String, String)> = operation
        .parameters
        .iter()
        .filter(|parameter| parameter.location == Location::Query && parameter.required)
        .filter_map(|parameter| {
            let value = sample_value(&parameter.schema, &parameter.name)?;
            Some((parameter.name.clone(), scalar_text(&value)))
        })
        .collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query_string(&query));
    }
    Request::new(&operation.method, path)
}

/// A scalar as it appears in a query string; arrays comma-joined.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether `schema` allows `type` (`"type": "string"` or `["string", "null"]`).
pub(crate) fn schema_types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(single)) => vec![single.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// `allOf` members merged into one schema (shallowly), so properties and types are in one place.
pub(crate) fn flatten_schema(schema: &Value) -> Value {
    let Some(members) = schema.get("allOf").and_then(Value::as_array) else {
        return schema.clone();
    };
    let mut merged = schema.as_object().cloned().unwrap_or_default();
    merged.remove("allOf");
    for member in members {
        if let Value::Object(fields) = flatten_schema(member) {
            for (key, value) in fields {
                match (merged.get_mut(&key), value) {
                    (Some(Value::Object(existing)), Value::Object(extra)) => {
                        existing.extend(extra);
                    }
                    (Some(Value::Array(existing)), Value::Array(extra)) if key == "required" => {
                        existing.extend(extra);
                    }
                    (Some(_), _) => {}
                    (None, value) => {
                        merged.insert(key, value);
                    }
                }
            }
        }
    }
    Value::Object(merged)
}

/// The object properties of a schema (after `allOf`), each with its flattened schema.
pub(crate) fn properties(schema: &Value) -> Vec<(String, Value)> {
    let flat = flatten_schema(schema);
    let flat = first_alternative(&flat);
    flat.get("properties")
        .and_then(Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .map(|(name, schema)| (name.clone(), first_alternative(&flatten_schema(schema))))
                .collect()
        })
        .unwrap_or_default()
}

/// For `anyOf`/`oneOf`, the first alternative that is not `null`; otherwise the schema.
fn first_alternative(schema: &Value) -> Value {
    for key in ["anyOf", "oneOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            if let Some(chosen) = alternatives
                .iter()
                .find(|alternative| schema_types(alternative) != ["null"])
            {
                let mut merged = flatten_schema(chosen);
                if let (Value::Object(target), Value::Object(outer)) = (&mut merged, schema) {
                    for (name, value) in outer {
                        if name != key {
                            target.entry(name.clone()).or_insert(value.clone());
                        }
                    }
                }
                return merged;
            }
        }
    }
    schema.clone()
}

/// A small valid value for `schema`: required object properties only, enum members, formats
/// (email, date-time, uuid, uri), lengths, bounds and simple patterns honoured; strings carry a
/// random word so unique constraints do not collide. `None` when no value could be made.
/// `name` is the property's name (a `password` gets a strong password).
pub(crate) fn sample_value(schema: &Value, name: &str) -> Option<Value> {
    let schema = first_alternative(&flatten_schema(schema));
    if let Some(constant) = schema.get("const") {
        return Some(constant.clone());
    }
    if let Some(default) = schema.get("default") {
        return Some(default.clone());
    }
    if let Some(members) = schema.get("enum").and_then(Value::as_array) {
        return members.iter().find(|member| !member.is_null()).cloned();
    }
    let types = schema_types(&schema);
    let kind = types
        .iter()
        .find(|kind| kind.as_str() != "null")
        .cloned()
        .or_else(|| {
            if schema.get("properties").is_some() {
                Some("object".into())
            } else if schema.get("items").is_some() {
                Some("array".into())
            } else {
                None
            }
        })?;
    match kind.as_str() {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut object = Map::new();
            for (property, property_schema) in properties(&schema) {
                if required.contains(&property.as_str()) {
                    object.insert(property.clone(), sample_value(&property_schema, &property)?);
                }
            }
            Some(Value::Object(object))
        }
        "array" => {
            let minimum = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if minimum == 0 {
                return Some(json!([]));
            }
            let item = sample_value(schema.get("items").unwrap_or(&json!({})), name)?;
            Some(Value::Array(vec![item; minimum.min(8) as usize]))
        }
        "integer" => Some(json!(number_in_range(&schema, true) as i64)),
        "number" => Some(json!(number_in_range(&schema, false))),
        "boolean" => Some(json!(true)),
        "string" => Some(Value::String(sample_string(&schema, name))),
        _ => None,
    }
}

fn number_in_range(schema: &Value, integer: bool) -> f64 {
    let step = if integer { 1.0 } else { 0.5 };
    let minimum = schema.get("minimum").and_then(Value::as_f64).or_else(|| {
        schema
            .get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .map(|bound| bound + step)
    });
    let maximum = schema.get("maximum").and_then(Value::as_f64).or_else(|| {
        schema
            .get("exclusiveMaximum")
            .and_then(Value::as_f64)
            .map(|bound| bound - step)
    });
    let mut value = minimum.map(|low| low.max(1.0)).unwrap_or(1.0);
    if let Some(high) = maximum {
        if value > high {
            value = minimum.unwrap_or(high);
        }
    }
    if integer {
        value.ceil()
    } else {
        value
    }
}

fn sample_string(schema: &Value, name: &str) -> String {
    let random = random_word();
    let lower = name.to_ascii_lowercase();
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let candidate = match format {
        "email" => format!("verify-{random}@example.com"),
        "date-time" => "2031-05-04T10:20:30Z".to_string(),
        "date" => "2031-05-04".to_string(),
        "time" => "10:20:30Z".to_string(),
        "uuid" => uuid::Uuid::new_v4().to_string(),
        "uri" | "url" => format!("https://example.com/{random}"),
        "password" => format!("Verify-{random}-P4ss!"),
        _ if lower.contains("password") => format!("Verify-{random}-P4ss!"),
        _ if lower.contains("email") => format!("verify-{random}@example.com"),
        _ => String::new(),
    };
    let minimum = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let maximum = schema
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|max| max as usize);
    let pattern = schema
        .get("pattern")
        .and_then(Value::as_str)
        .and_then(|pattern| regex::Regex::new(pattern).ok());
    let mut candidates = Vec::new();
    if !candidate.is_empty() {
        candidates.push(candidate);
    }
    candidates.extend([
        format!("verify-{random}"),
        format!("VERIFY-{}", random.to_ascii_uppercase()),
        format!("verify{random}"),
        random.clone(),
        random.to_ascii_uppercase(),
        random.chars().filter(char::is_ascii_digit).collect(),
        "a".to_string(),
    ]);
    let fitted = |text: &str| {
        let mut text: String = text.to_string();
        if let Some(max) = maximum {
            text = text.chars().take(max).collect();
        }
        while text.chars().count() < minimum {
            text.push('x');
        }
        text
    };
    for candidate in &candidates {
        let text = fitted(candidate);
        if pattern
            .as_ref()
            .is_none_or(|pattern| pattern.is_match(&text))
        {
            return text;
        }
    }
    fitted(&candidates[0])
}

/// The claims of a JWT (its middle part), without checking anything.
pub(crate) fn jwt_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A finding made from an exchange (its request is the one to replay).
#[allow(clippy::too_many_arguments)]
pub(crate) fn finding(
    rule: &'static str,
    severity: Severity,
    title: String,
    detail: String,
    operation: Option<&Operation>,
    exchange: Option<&Exchange>,
    fix: &str,
) -> Finding {
    Finding {
        rule,
        severity,
        title,
        detail,
        operation: operation.map(Operation::label),
        request: exchange.map(|exchange| exchange.request.clone()),
        fix: fix.to_string(),
    }
}

/// A row a user created (or found) in a collection, for probes that need a real id.
#[derive(Clone, Debug)]
pub(crate) struct OwnedRow {
    pub collection: String,
    pub id: String,
    pub row: Map<String, Value>,
}

/// A row of `collection` that `user` can read: the first of their list, else one they create.
pub(crate) async fn ensure_row(
    target: &Target,
    collection: &Collection<'_>,
    user: &User,
) -> Option<OwnedRow> {
    let (_, parameter) = collection.item_path()?;
    if let Some(list) = collection.list {
        let request = request_for(list, &[]).bearer(&user.token);
        if let Some(exchange) = send_patiently(target, request).await {
            if is_success(&exchange) {
                let rows = exchange
                    .json()
                    .and_then(|body| match body {
                        Value::Array(rows) => Some(rows),
                        Value::Object(mut object) => match object.remove("data") {
                            Some(Value::Array(rows)) => Some(rows),
                            _ => None,
                        },
                        _ => None,
                    })
                    .unwrap_or_default();
                if let Some(Value::Object(row)) = rows.into_iter().next() {
                    if let Some(id) = row
                        .get(parameter)
                        .or_else(|| row.get("id"))
                        .and_then(id_text)
                    {
                        return Some(OwnedRow {
                            collection: collection.path.to_string(),
                            id,
                            row,
                        });
                    }
                }
            }
        }
    }
    create_row(target, collection, user, None).await
}

/// Creates a row of `collection` as `user` with a sample body (plus `extra` fields).
pub(crate) async fn create_row(
    target: &Target,
    collection: &Collection<'_>,
    user: &User,
    extra: Option<&Map<String, Value>>,
) -> Option<OwnedRow> {
    let create = collection.create?;
    let (_, parameter) = collection.item_path()?;
    let schema = create.request_body.clone().unwrap_or_else(|| json!({}));
    let mut body = sample_value(&schema, "").unwrap_or_else(|| json!({}));
    if let (Value::Object(fields), Some(extra)) = (&mut body, extra) {
        fields.extend(extra.clone());
    }
    let request = request_for(create, &[]).bearer(&user.token).json(&body);
    let exchange = send_patiently(target, request).await?;
    if !is_success(&exchange) {
        return None;
    }
    let id = created_id(&exchange, parameter)?;
    Some(OwnedRow {
        collection: collection.path.to_string(),
        id,
        row: row_of(&exchange).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flags_and_configs_parse() {
        let user = parse_user_flag("alice:abc.def").unwrap();
        assert_eq!(user.name, "alice");
        assert_eq!(user.token, "abc.def");
        assert!(parse_user_flag("no-token").is_err());
        assert!(parse_user_flag(":token").is_err());

        let config = AuthConfig::parse(
            r#"
token_pointer = "/token"
[[user]]
name = "alice"
token = "t1"
[[user]]
name = "bob"
login = { path = "/login", body = { email = "bob-{random}@example.com" } }
"#,
        )
        .unwrap();
        assert_eq!(config.user.len(), 2);
        assert_eq!(config.user[1].login.as_ref().unwrap().path, "/login");
        let json_config =
            AuthConfig::parse(r#"{"users": [{"name": "carol", "token": "t"}]}"#).unwrap();
        assert_eq!(json_config.user[0].token.as_deref(), Some("t"));
        assert!(AuthConfig::parse("[[user]]\nnom = 1").is_err());
    }

    #[test]
    fn subjects_come_from_jwt_claims() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"sub":42}"#);
        let user = User::with_token("a", &format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig"));
        assert_eq!(user.subject.as_deref(), Some("42"));
        assert_eq!(User::with_token("a", "opaque").subject, None);
    }

    #[test]
    fn sample_values_honour_formats_bounds_and_patterns() {
        let schema = json!({
            "type": "object",
            "required": ["email", "password", "slug", "count", "role", "tags"],
            "properties": {
                "email": {"type": "string", "format": "email"},
                "password": {"type": "string"},
                "slug": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 10},
                "count": {"type": ["integer", "null"], "minimum": 5},
                "role": {"allOf": [{"enum": ["USER", "ADMIN"]}]},
                "tags": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[A-Z0-9-]{3,32}$"}},
                "optional": {"type": "string"}
            }
        });
        let value = sample_value(&schema, "").unwrap();
        assert!(value["email"].as_str().unwrap().ends_with("@example.com"));
        assert!(value["password"].as_str().unwrap().len() >= 16);
        let slug = value["slug"].as_str().unwrap();
        assert!(slug.len() <= 10 && regex::Regex::new("^[a-z0-9-]+$").unwrap().is_match(slug));
        assert_eq!(value["count"], json!(5));
        assert_eq!(value["role"], json!("USER"));
        let tag = value["tags"][0].as_str().unwrap();
        assert!(regex::Regex::new("^[A-Z0-9-]{3,32}$")
            .unwrap()
            .is_match(tag));
        assert!(value.get("optional").is_none());
    }

    #[test]
    fn paths_and_collections() {
        assert_eq!(collection_of("/api/v1/tasks/{id}"), "/api/v1/tasks");
        assert_eq!(collection_of("/api/v1/tasks"), "/api/v1/tasks");
        assert_eq!(trailing_parameter("/api/v1/tasks/{taskId}"), Some("taskId"));
        let document = ApiDocument::from_value(
            "nested",
            json!({"openapi": "3.1.0", "paths": {
                "/notes/{id}": {"get": {"responses": {}}},
                "/notes/{id}/comments": {"get": {"responses": {}}, "post": {"responses": {}}},
                "/notes/{id}/comments/{commentId}": {"get": {"responses": {}}},
                "/orgs/{org}/teams/{team}/members": {"get": {"responses": {}}}
            }}),
        )
        .expect("loads");
        let nested = nested_collections(&document);
        assert_eq!(nested.len(), 1, "{nested:?}");
        assert_eq!(
            (nested[0].parent, nested[0].parent_parameter, nested[0].path),
            ("/notes", "id", "/notes/{id}/comments")
        );
        assert!(nested[0].list.is_some() && nested[0].create.is_some() && nested[0].item.is_some());
        assert_eq!(
            fill_path("/a/{id}", &[("id", "x/y z")], false),
            "/a/x%2Fy%20z"
        );
        assert_eq!(
            query_string(&[("title[contains]".into(), "' OR 1".into())]),
            "title%5Bcontains%5D=%27%20OR%201"
        );
    }
}
