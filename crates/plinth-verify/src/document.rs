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
}

impl Operation {
    /// `GET /api/v1/tasks/{id}`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}
