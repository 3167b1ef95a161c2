//! JSON Schemas of fields and models (`components.schemas`), and the unique component names they
//! are published under.

use std::collections::HashSet;

use plinth_api::{Api, WireType};
use plinth_model::{CompareOp, DefaultValue, Field, Model, Schema, Validation, Value};
use serde_json::{json, Map, Value as Json};

/// Component names, fixed before anything refers to them so every `$ref` agrees. Built-in names
/// (`Problem`, `TokenResponse`…) are claimed first; a model or enum whose name is taken gets a
/// numeric suffix.
pub struct ComponentNames {
    /// Per model (indexed by model position): read, create, update, list.
    pub models: Vec<ModelComponentNames>,
    /// Per enum (indexed by enum position).
    pub enums: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ModelComponentNames {
    pub read: String,
    pub create: String,
    pub update: String,
    pub list: String,
}

pub const PROBLEM: &str = "Problem";
pub const REGISTER_REQUEST: &str = "RegisterRequest";
pub const LOGIN_REQUEST: &str = "LoginRequest";
pub const REFRESH_REQUEST: &str = "RefreshRequest";
pub const LOGOUT_REQUEST: &str = "LogoutRequest";
pub const TOKEN_RESPONSE: &str = "TokenResponse";
pub const HEALTH_STATUS: &str = "HealthStatus";

const BUILT_IN_NAMES: [&str; 7] = [
    PROBLEM,
    REGISTER_REQUEST,
    LOGIN_REQUEST,
    REFRESH_REQUEST,
    LOGOUT_REQUEST,
    TOKEN_RESPONSE,
    HEALTH_STATUS,
];

impl ComponentNames {
    pub fn new(schema: &Schema) -> ComponentNames {
        let mut taken: HashSet<String> = BUILT_IN_NAMES.iter().map(|n| n.to_string()).collect();
        // Claims `base` plus the given suffixes together, numbering the base until all are free,
        // so a model's four names always share one stem (`Problem2`, `Problem2Create`, …).
        let mut claim = |base: String, suffixes: &[&str]| -> String {
            let mut stem = base.clone();
            let mut counter = 2;
            while suffixes
                .iter()
                .any(|suffix| taken.contains(&format!("{stem}{suffix}")))
            {
                stem = format!("{base}{counter}");
                counter += 1;
            }
            for suffix in suffixes {
                taken.insert(format!("{stem}{suffix}"));
            }
            stem
        };
        let enums = schema
            .enums
            .iter()
            .map(|enum_| claim(component_safe(&enum_.name), &[""]))
            .collect();
        let models = schema
            .models
            .iter()
            .map(|model| {
                let stem = claim(
                    component_safe(&model.name),
                    &["", "Create", "Update", "List"],
                );
                ModelComponentNames {
                    read: stem.clone(),
                    create: format!("{stem}Create"),
                    update: format!("{stem}Update"),
                    list: format!("{stem}List"),
                }
            })
            .collect();
        ComponentNames { models, enums }
    }
}

/// Component names must match `^[a-zA-Z0-9._-]+$`.
fn component_safe(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "Unnamed".to_string()
    } else {
        cleaned
    }
}

pub fn reference(component: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{component}") })
}

/// Escapes regex metacharacters so a literal text can be matched by `pattern`.
pub fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$/-".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A JSON number from a bound as written (`0`, `-1.5`); `None` when it is not a finite number.
fn json_number(text: &str) -> Option<Json> {
    if let Ok(integer) = text.trim().parse::<i64>() {
        return Some(Json::from(integer));
    }
    let float = text.trim().parse::<f64>().ok()?;
    serde_json::Number::from_f64(float).map(Json::Number)
}

/// Where a value schema is used: it decides validations and which JSON types are accepted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ValueUse {
    /// A response: exactly what the server writes.
    Read,
    /// A request body: what the server accepts, validations included. `BigInt` and `Decimal`
    /// are written as strings but a JSON number is accepted too.
    Input,
    /// A filter or path parameter: the type without validation keywords
    /// (`priority[gt]=0` is a fine query even when `priority` must be at least 1).
    Parameter,
}

/// The type of one value without validation keywords: what a filter or path parameter accepts.
pub fn plain_value_schema(names: &ComponentNames, field: &Field) -> Json {
    value_schema_with(names, field, ValueUse::Parameter)
}

/// A regex for the decimal numerals of exactly `bound.len()` digits that are at most `bound`
/// (ASCII digits), leading zeros allowed: one alternative per position where a numeral can first
/// fall below the bound, and the bound itself.
fn at_most_pattern(bound: &str) -> String {
    let digits: Vec<u8> = bound.bytes().filter(u8::is_ascii_digit).collect();
    let mut alternatives = Vec::new();
    for (position, &digit) in digits.iter().enumerate() {
        if digit == b'0' {
            continue;
        }
        let prefix = String::from_utf8_lossy(&digits[..position]).into_owned();
        let below = if digit == b'1' {
            "0".to_string()
        } else {
            format!("[0-{}]", char::from(digit - 1))
        };
        let rest = digits.len() - position - 1;
        let tail = match rest {
            0 => String::new(),
            1 => "[0-9]".to_string(),
            _ => format!("[0-9]{{{rest}}}"),
        };
        alternatives.push(format!("{prefix}{below}{tail}"));
    }
    alternatives.push(String::from_utf8_lossy(&digits).into_owned());
    alternatives.join("|")
}

/// Exactly the decimal texts of 64-bit integers the server accepts for `BigInt`: an optional
/// `-`, at most 19 digits, within `i64`.
pub fn bigint_pattern() -> String {
    let max = i64::MAX.to_string();
    format!(
        "^(?:-?(?:[0-9]{{1,{}}}|{})|{})$",
        max.len() - 1,
        at_most_pattern(&max),
        i64::MIN
    )
}

/// A decimal text as the server accepts it: an optional `-`, digits, and an optional fraction.
pub const DECIMAL_PATTERN: &str = "^-?[0-9]+(?:\\.[0-9]+)?$";

fn value_schema_with(names: &ComponentNames, field: &Field, usage: ValueUse) -> Json {
    let Some(wire) = plinth_api::wire_type(field) else {
        return json!({});
    };
    let mut object = Map::new();
    match wire {
        WireType::String => {
            object.insert("type".into(), json!("string"));
            if plinth_api::is_uuid_field(field) {
                object.insert("format".into(), json!("uuid"));
            }
        }
        WireType::Boolean => {
            object.insert("type".into(), json!("boolean"));
        }
        WireType::Integer => {
            object.insert("type".into(), json!("integer"));
            object.insert("format".into(), json!("int32"));
            object.insert("minimum".into(), json!(i32::MIN));
            object.insert("maximum".into(), json!(i32::MAX));
        }
        WireType::BigIntString => {
            if usage == ValueUse::Input {
                object.insert("type".into(), json!(["string", "integer"]));
                object.insert("minimum".into(), json!(i64::MIN));
                object.insert("maximum".into(), json!(i64::MAX));
            } else {
                object.insert("type".into(), json!("string"));
            }
            object.insert("pattern".into(), json!(bigint_pattern()));
            object.insert(
                "description".into(),
                json!("64-bit integer written as a decimal string (JSON numbers lose precision past 2^53)"),
            );
        }
        WireType::Number => {
            object.insert("type".into(), json!("number"));
            object.insert("format".into(), json!("double"));
        }
        WireType::DecimalString => {
            if usage == ValueUse::Input {
                object.insert("type".into(), json!(["string", "number"]));
            } else {
                object.insert("type".into(), json!("string"));
            }
            object.insert("pattern".into(), json!(DECIMAL_PATTERN));
            object.insert(
                "description".into(),
                json!("exact decimal number written as a string"),
            );
        }
        WireType::DateTime => {
            object.insert("type".into(), json!("string"));
            object.insert("format".into(), json!("date-time"));
        }
        WireType::Json => {
            object.insert("description".into(), json!("any JSON value"));
        }
        WireType::Base64Bytes => {
            object.insert("type".into(), json!("string"));
            object.insert("contentEncoding".into(), json!("base64"));
        }
        WireType::Enum(enum_id) => {
            let name = names
                .enums
                .get(enum_id.0)
                .cloned()
                .unwrap_or_else(|| "Unnamed".to_string());
            return reference(&name);
        }
    }
    if usage != ValueUse::Parameter {
        add_validations(&mut object, wire, field);
    }
    if wire == WireType::String && !plinth_api::is_uuid_field(field) {
        add_pattern(&mut object, NO_NUL_PATTERN.to_string());
    }
    Json::Object(object)
}

/// Text without NUL characters: PostgreSQL cannot store them, so the server refuses them in
/// every string it reads (bodies: 422, query and path: 400), on both databases alike.
pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

/// A plain string parameter (`contains`, `startsWith`): any text without NUL.
pub fn text_parameter_schema() -> Json {
    json!({ "type": "string", "pattern": NO_NUL_PATTERN })
}

/// Adds a `pattern`; a schema that has one already gets the new one in `allOf` (JSON Schema
/// allows one `pattern` per schema).
fn add_pattern(object: &mut Map<String, Json>, pattern: String) {
    if !object.contains_key("pattern") {
        object.insert("pattern".into(), json!(pattern));
        return;
    }
    let entry = object
        .entry("allOf")
        .or_insert_with(|| Json::Array(Vec::new()));
    if let Json::Array(items) = entry {
        items.push(json!({ "pattern": pattern }));
    }
}

fn add_validations(object: &mut Map<String, Json>, wire: WireType, field: &Field) {
    let mut patterns: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for validation in &field.validations {
        match validation {
            Validation::Email => {
                object.insert("format".into(), json!("email"));
            }
            Validation::Url => {
                object.insert("format".into(), json!("uri"));
            }
            Validation::Length { min, max } => {
                if let Some(min) = min {
                    object.insert("minLength".into(), json!(min));
                }
                if let Some(max) = max {
                    object.insert("maxLength".into(), json!(max));
                }
            }
            Validation::Regex(regex) => patterns.push(regex.clone()),
            Validation::StartsWith(text) => patterns.push(format!("^{}", escape_regex(text))),
            Validation::EndsWith(text) => patterns.push(format!("{}$", escape_regex(text))),
            Validation::Contains(text) => patterns.push(escape_regex(text)),
            Validation::Compare { op, value } => {
                let keyword = match op {
                    CompareOp::Gt => "exclusiveMinimum",
                    CompareOp::Gte => "minimum",
                    CompareOp::Lt => "exclusiveMaximum",
                    CompareOp::Lte => "maximum",
                };
                match (wire, json_number(value)) {
                    (WireType::Integer | WireType::Number, Some(number)) => {
                        // Keep the tighter of the bound and the type's own range.
                        let tighter =
                            match (object.get(keyword).and_then(Json::as_f64), number.as_f64()) {
                                (Some(existing), Some(new)) if keyword == "minimum" => {
                                    new > existing
                                }
                                (Some(existing), Some(new)) if keyword == "maximum" => {
                                    new < existing
                                }
                                _ => true,
                            };
                        if tighter {
                            object.insert(keyword.into(), number);
                        }
                    }
                    // BigInt and Decimal travel as strings: JSON Schema cannot bound them.
                    _ => notes.push(format!("must be {} {value}", op.sql())),
                }
            }
        }
    }
    for pattern in patterns {
        add_pattern(object, pattern);
    }
    if !notes.is_empty() {
        let existing = object
            .get("description")
            .and_then(Json::as_str)
            .map(str::to_string);
        let joined = notes.join("; ");
        let description = match existing {
            Some(text) => format!("{text}; {joined}"),
            None => joined,
        };
        object.insert("description".into(), json!(description));
    }
}

/// Makes a schema also accept `null`.
pub fn nullable(schema: Json) -> Json {
    match schema {
        Json::Object(mut object) if object.contains_key("$ref") => {
            let reference = Json::Object(std::mem::take(&mut object));
            json!({ "anyOf": [reference, { "type": "null" }] })
        }
        Json::Object(mut object) => {
            match object.get("type").cloned() {
                Some(Json::String(single)) => {
                    object.insert("type".into(), json!([single, "null"]));
                }
                Some(Json::Array(mut several)) => {
                    if !several.contains(&json!("null")) {
                        several.push(json!("null"));
                    }
                    object.insert("type".into(), Json::Array(several));
                }
                // `{}` (any JSON) already accepts null.
                _ => {}
            }
            Json::Object(object)
        }
        other => other,
    }
}

/// The schema of the whole field as a response carries it: lists become arrays, optional
/// fields accept null, and so do fields behind a field-level read rule (the server sends null
/// to a caller the rule refuses; the primary key is never hidden); docs become the description.
pub fn field_schema(names: &ComponentNames, model: &Model, index: usize) -> Json {
    let Some(field) = model.fields.get(index) else {
        return json!({});
    };
    let is_key = model.primary_key.fields.contains(&index);
    let may_be_hidden = plinth_api::has_field_read_rule(field) && !is_key;
    full_field_schema(names, field, ValueUse::Read, may_be_hidden)
}

/// The schema of the whole field in a request body.
fn input_field_value_schema(names: &ComponentNames, field: &Field) -> Json {
    full_field_schema(names, field, ValueUse::Input, false)
}

fn full_field_schema(
    names: &ComponentNames,
    field: &Field,
    usage: ValueUse,
    may_be_hidden: bool,
) -> Json {
    let value = value_schema_with(names, field, usage);
    let mut full = if field.is_list() {
        json!({ "type": "array", "items": value })
    } else if field.is_optional() {
        nullable(value)
    } else {
        value
    };
    if may_be_hidden {
        full = nullable(full);
    }
    if let (Some(docs), Json::Object(object)) = (&field.docs, &mut full) {
        if object.contains_key("$ref") {
            // Keep `$ref` alone; wrap it so the description has a place.
            let reference = Json::Object(std::mem::take(object));
            full = json!({ "allOf": [reference], "description": docs });
        } else {
            let merged = match object.get("description").and_then(Json::as_str) {
                Some(existing) => format!("{docs} ({existing})"),
                None => docs.clone(),
            };
            object.insert("description".into(), json!(merged));
        }
    }
    full
}

/// The JSON form of a literal default, typed as the field travels.
fn default_json(schema: &Schema, field: &Field, value: &Value) -> Option<Json> {
    let wire = plinth_api::wire_type(field)?;
    Some(match value {
        Value::String(text) => json!(text),
        Value::Int(integer) => match wire {
            WireType::BigIntString | WireType::DecimalString => json!(integer.to_string()),
            _ => json!(integer),
        },
        Value::Float(text) => match wire {
            WireType::DecimalString => json!(text),
            _ => json_number(text)?,
        },
        Value::Boolean(boolean) => json!(boolean),
        Value::Enum { enum_id, value } => {
            json!(schema.enums.get(enum_id.0)?.values.get(*value)?.db_name)
        }
        Value::List(items) => Json::Array(
            items
                .iter()
                .filter_map(|item| default_json(schema, field, item))
                .collect(),
        ),
        Value::Null => Json::Null,
    })
}

/// Which request body an input schema describes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// A create (or register) body: absent fields take their defaults.
    Create,
    /// A partial update: absent fields keep their value, so no `default` is shown.
    Update,
}

/// A field as it appears in a request body: its schema, plus `default` and `writeOnly`.
fn input_field_schema(
    schema: &Schema,
    names: &ComponentNames,
    field: &Field,
    kind: BodyKind,
) -> Json {
    // A password is always sent as a string, even when the column is optional: clearing it
    // with null is not a way to sign in.
    let mut full = if field.is_password && !field.is_list() {
        let mut value = value_schema_with(names, field, ValueUse::Input);
        if let Json::Object(object) = &mut value {
            if let Some(docs) = &field.docs {
                object.insert("description".into(), json!(docs));
            }
        }
        value
    } else {
        input_field_value_schema(names, field)
    };
    if let Json::Object(object) = &mut full {
        if let (BodyKind::Create, Some(DefaultValue::Value(value))) = (kind, &field.default) {
            if let Some(default) = default_json(schema, field, value) {
                object.insert("default".into(), default);
            }
        }
        if field.is_password {
            if object.get("type") == Some(&json!("string")) {
                object.insert("format".into(), json!("password"));
            }
            object.insert("writeOnly".into(), json!(true));
        } else if field.is_omitted {
            object.insert("writeOnly".into(), json!(true));
        }
    }
    full
}

/// `{"type": "object", "properties": …, "required": …, "additionalProperties": false}`.
pub fn input_object(
    schema: &Schema,
    names: &ComponentNames,
    model: &Model,
    fields: &[usize],
    required: &[usize],
    kind: BodyKind,
    description: String,
) -> Json {
    let mut properties = Map::new();
    for &index in fields {
        if let Some(field) = model.fields.get(index) {
            properties.insert(
                field.name.clone(),
                input_field_schema(schema, names, field, kind),
            );
        }
    }
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    object.insert("description".into(), json!(description));
    let required: Vec<&str> = required
        .iter()
        .filter_map(|&index| model.fields.get(index).map(|f| f.name.as_str()))
        .collect();
    if !required.is_empty() {
        object.insert("required".into(), json!(required));
    }
    object.insert("properties".into(), Json::Object(properties));
    object.insert("additionalProperties".into(), json!(false));
    Json::Object(object)
}

/// The read shape of a model: readable fields (the id always present), plus included relations.
pub fn read_object(
    api: &Api,
    names: &ComponentNames,
    model: &Model,
    readable_fields: &[usize],
) -> Json {
    let mut properties = Map::new();
    for &index in readable_fields {
        if let Some(field) = model.fields.get(index) {
            properties.insert(field.name.clone(), field_schema(names, model, index));
        }
    }
    if let Some(resource) = api.resource(model.id) {
        for include in &resource.includes {
            let Some(target_names) = names.models.get(include.target.0) else {
                continue;
            };
            let target = reference(&target_names.read);
            let embedded = if include.to_many {
                json!({ "type": "array", "items": target })
            } else if include.optional {
                nullable(target)
            } else {
                target
            };
            properties.insert(
                include.name.clone(),
                json!({
                    "description": format!("Present only with `include={}`", include.name),
                    "allOf": [embedded],
                }),
            );
        }
    }
    let required: Vec<&str> = model
        .primary_key
        .fields
        .iter()
        .filter(|index| readable_fields.contains(index))
        .filter_map(|&index| model.fields.get(index).map(|f| f.name.as_str()))
        .collect();
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    let description = match &model.docs {
        Some(docs) => docs.clone(),
        None => format!("A `{}` as the caller may read it", model.name),
    };
    object.insert("description".into(), json!(description));
    if !required.is_empty() {
        object.insert("required".into(), json!(required));
    }
    object.insert("properties".into(), Json::Object(properties));
    Json::Object(object)
}

pub fn problem_schema() -> Json {
    json!({
        "type": "object",
        "description": "An error, as RFC 9457 problem details",
        "required": ["type", "title", "status"],
        "properties": {
            "type": { "type": "string", "format": "uri-reference", "description": "URI identifying the problem type" },
            "title": { "type": "string", "description": "Short summary of the problem type" },
            "status": { "type": "integer", "minimum": 100, "maximum": 599 },
            "detail": { "type": "string", "description": "What went wrong in this occurrence" },
            "instance": { "type": "string", "format": "uri-reference" },
            "code": { "type": "string", "description": "Stable machine-readable error code" },
            "trace_id": { "type": "string", "description": "Request id to quote when reporting the problem" },
            "errors": {
                "type": "array",
                "description": "Per-field validation errors",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {
                        "field": { "type": "string" },
                        "message": { "type": "string" },
                        "code": { "type": "string" }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `BigInt` pattern accepts exactly the decimal texts of 64-bit integers (what the server
    /// parses), no more and no less.
    #[test]
    fn bigint_pattern_is_the_i64_range() {
        let pattern =
            regex::Regex::new(&bigint_pattern()).unwrap_or_else(|error| panic!("{error}"));
        for good in [
            "0",
            "-0",
            "7",
            "-42",
            "123456789012345678",
            "9223372036854775807",
            "-9223372036854775807",
            "-9223372036854775808",
            "9223372036854775799",
            "9123372036854775807",
            "0000000000000000001",
            "8999999999999999999",
        ] {
            assert!(pattern.is_match(good), "{good}");
            assert!(good.parse::<i64>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1.0",
            "9223372036854775808",
            "9223372036854775810",
            "9300000000000000000",
            "-9223372036854775809",
            "10000000000000000000",
            "99999999999999999999",
        ] {
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn decimal_and_text_patterns() {
        let decimal = regex::Regex::new(DECIMAL_PATTERN).unwrap_or_else(|error| panic!("{error}"));
        for good in ["0", "-1", "12.50"] {
            assert!(decimal.is_match(good), "{good}");
        }
        for bad in ["", ".5", "5.", "+5", "1e3"] {
            assert!(!decimal.is_match(bad), "{bad}");
        }
        // JSON Schema patterns are ECMA-262; `\u0000` reads the same in Rust's regex.
        let text = regex::Regex::new(NO_NUL_PATTERN).unwrap_or_else(|error| panic!("{error}"));
        assert!(text.is_match("any text, even ünïcode"));
        assert!(!text.is_match("nul\0inside"));
    }
}
