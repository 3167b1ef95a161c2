//! Arguments fitted to the tool's JSON Schema the way a person would read them, or a list of
//! plain-English problems for the model.

use super::near_json::{number, parse_arguments};
use serde_json::{Map, Value};

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
pub(super) fn shape_root(arguments: Value, schema: &Value) -> Value {
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
        ("boolean", Value::Number(number)) => {
            let flag = number.as_f64()?;
            (flag == 0.0 || flag == 1.0).then_some(Value::Bool(flag == 1.0))
        }
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
