//! Values on the wire: request JSON and query text → typed [`SqlValue`]s (with the schema's
//! validations), and database values → response JSON, following `plinth_api::WireType`
//! (BigInt and Decimal as strings, DateTime as RFC 3339 UTC with milliseconds, Bytes as base64).

use crate::error::FieldError;
use crate::sql::SqlValue;
use crate::store::codec;
use base64::Engine;
use plinth_api::WireType;
use plinth_model::{CompareOp, Validation};
use serde_json::Value as Json;
use std::io::Write;

/// A value as JSON without knowing its field (cursors, arrays).
pub fn plain_json(value: &SqlValue) -> Json {
    match value {
        SqlValue::Null => Json::Null,
        SqlValue::Bool(flag) => Json::Bool(*flag),
        SqlValue::Int(number) => Json::from(*number),
        SqlValue::Float(number) => serde_json::Number::from_f64(*number)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        SqlValue::Text(text) => Json::String(text.clone()),
        SqlValue::Bytes(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        SqlValue::Json(json) => json.clone(),
    }
}

/// Everything the server needs to know about one API field, computed once at startup.
#[derive(Clone, Debug)]
pub struct FieldPlan {
    pub name: String,
    /// `"name":` with the name JSON-escaped, ready to write.
    pub json_key: Vec<u8>,
    pub wire: WireType,
    pub optional: bool,
    pub list: bool,
    pub is_password: bool,
    /// A UUID column (`plinth_api::is_uuid_field`): values must be canonical UUID text.
    pub is_uuid: bool,
    /// For enums: the allowed database names.
    pub enum_values: Vec<String>,
    pub validations: Vec<CompiledValidation>,
}

#[derive(Clone, Debug)]
pub enum CompiledValidation {
    Email,
    Url,
    Length {
        min: Option<u32>,
        max: Option<u32>,
    },
    Regex(regex::Regex),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    Compare {
        op: CompareOp,
        bound: f64,
        written: String,
    },
}

impl CompiledValidation {
    pub fn compile(validation: &Validation) -> Option<CompiledValidation> {
        Some(match validation {
            Validation::Email => CompiledValidation::Email,
            Validation::Url => CompiledValidation::Url,
            Validation::Length { min, max } => CompiledValidation::Length {
                min: *min,
                max: *max,
            },
            Validation::Regex(pattern) => {
                CompiledValidation::Regex(regex::Regex::new(pattern).ok()?)
            }
            Validation::StartsWith(text) => CompiledValidation::StartsWith(text.clone()),
            Validation::EndsWith(text) => CompiledValidation::EndsWith(text.clone()),
            Validation::Contains(text) => CompiledValidation::Contains(text.clone()),
            Validation::Compare { op, value } => CompiledValidation::Compare {
                op: *op,
                bound: value.trim().parse().ok()?,
                written: value.clone(),
            },
        })
    }
}

impl FieldPlan {
    pub fn new(schema: &plinth_model::Schema, field: &plinth_model::Field) -> Option<FieldPlan> {
        let wire = plinth_api::wire_type(field)?;
        let enum_values = match wire {
            WireType::Enum(enum_id) => schema
                .enums
                .get(enum_id.0)
                .map(|enumeration| {
                    enumeration
                        .values
                        .iter()
                        .map(|value| value.db_name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut json_key = serde_json::to_vec(&field.name).unwrap_or_default();
        json_key.push(b':');
        Some(FieldPlan {
            name: field.name.clone(),
            json_key,
            wire,
            optional: field.is_optional(),
            list: field.is_list(),
            is_password: field.is_password,
            is_uuid: plinth_api::is_uuid_field(field),
            enum_values,
            validations: field
                .validations
                .iter()
                .filter_map(CompiledValidation::compile)
                .collect(),
        })
    }

    /// Converts and validates a JSON body value. Errors are pushed, named by the field.
    pub fn parse_json(&self, value: &Json, errors: &mut Vec<FieldError>) -> Option<SqlValue> {
        if value.is_null() {
            if self.optional {
                return Some(SqlValue::Null);
            }
            errors.push(FieldError::new(&self.name, "required", "must not be null"));
            return None;
        }
        if self.list {
            let Some(items) = value.as_array() else {
                errors.push(FieldError::new(
                    &self.name,
                    "invalid_type",
                    "must be an array",
                ));
                return None;
            };
            let before = errors.len();
            let mut converted = Vec::with_capacity(items.len());
            for item in items {
                if let Some(value) = self.scalar_from_json(item, errors) {
                    converted.push(plain_json(&value));
                }
            }
            if errors.len() > before {
                return None;
            }
            return Some(SqlValue::Json(Json::Array(converted)));
        }
        self.scalar_from_json(value, errors)
    }

    fn scalar_from_json(&self, value: &Json, errors: &mut Vec<FieldError>) -> Option<SqlValue> {
        let mut fail = |code: &'static str, message: String| {
            errors.push(FieldError::new(&self.name, code, message));
            None
        };
        let converted = match self.wire {
            WireType::String => match value.as_str() {
                // PostgreSQL cannot store NUL in text; refused on both databases alike.
                Some(text) if text.contains('\0') => {
                    return fail(
                        "invalid_characters",
                        "must not contain NUL characters".into(),
                    )
                }
                Some(text) if self.is_uuid && !plinth_api::is_uuid_text(text) => {
                    return fail("invalid_uuid", "must be a UUID".into())
                }
                Some(text) => SqlValue::Text(text.to_string()),
                None => return fail("invalid_type", "must be a string".into()),
            },
            WireType::Boolean => match value.as_bool() {
                Some(flag) => SqlValue::Bool(flag),
                None => return fail("invalid_type", "must be true or false".into()),
            },
            WireType::Integer => match json_integer(value) {
                Some(number) if i32::try_from(number).is_ok() => SqlValue::Int(number),
                Some(_) => return fail("out_of_range", "must fit in 32 bits".into()),
                None => return fail("invalid_type", "must be an integer".into()),
            },
            WireType::BigIntString => {
                let parsed = match value {
                    Json::String(text) => parse_bigint_text(text),
                    Json::Number(_) => json_integer(value),
                    _ => None,
                };
                match parsed {
                    Some(number) => SqlValue::Int(number),
                    None => {
                        return fail(
                            "invalid_type",
                            "must be a string of digits within 64 bits".into(),
                        )
                    }
                }
            }
            WireType::Number => match value.as_f64() {
                Some(number) if number.is_finite() => SqlValue::Float(number),
                _ => return fail("invalid_type", "must be a number".into()),
            },
            WireType::DecimalString => {
                let text = match value {
                    Json::String(text) => text.clone(),
                    Json::Number(number) => number.to_string(),
                    _ => String::new(),
                };
                if !is_plain_decimal(&text) {
                    return fail(
                        "invalid_type",
                        "must be a decimal number as a string".into(),
                    );
                }
                SqlValue::Text(codec::trim_decimal(&text))
            }
            WireType::DateTime => match value.as_str().and_then(codec::normalize_datetime) {
                Some(text) => SqlValue::Text(text),
                None => {
                    return fail(
                        "invalid_type",
                        "must be an RFC 3339 date-time such as 2024-01-02T03:04:05Z".into(),
                    )
                }
            },
            WireType::Json => SqlValue::Json(value.clone()),
            WireType::Base64Bytes => match value
                .as_str()
                .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
            {
                Some(bytes) => SqlValue::Bytes(bytes),
                None => return fail("invalid_type", "must be base64 text".into()),
            },
            WireType::Enum(_) => match value.as_str() {
                Some(text) if self.enum_values.iter().any(|allowed| allowed == text) => {
                    SqlValue::Text(text.to_string())
                }
                _ => {
                    return fail(
                        "invalid_enum",
                        format!("must be one of {}", self.enum_values.join(", ")),
                    )
                }
            },
        };
        let before = errors.len();
        self.validate(&converted, errors);
        (errors.len() == before).then_some(converted)
    }

    /// The schema's validation attributes.
    pub fn validate(&self, value: &SqlValue, errors: &mut Vec<FieldError>) {
        for validation in &self.validations {
            if let Some((code, message)) = check(validation, value) {
                errors.push(FieldError::new(&self.name, code, message));
            }
        }
    }

    /// The text of a `contains` / `startsWith` filter: any text without NUL, also on a UUID
    /// column (a piece of a UUID is not a UUID; the OpenAPI document types these as plain
    /// strings).
    pub fn parse_fragment(&self, text: &str) -> Result<SqlValue, String> {
        if text.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        Ok(SqlValue::Text(text.to_string()))
    }

    /// Parses a query-parameter or path value. `Err` holds a message for the client.
    pub fn parse_text(&self, text: &str) -> Result<SqlValue, String> {
        Ok(match self.wire {
            WireType::String if text.contains('\0') => {
                return Err("must not contain NUL characters".into())
            }
            WireType::String if self.is_uuid && !plinth_api::is_uuid_text(text) => {
                return Err("must be a UUID".into())
            }
            WireType::String => SqlValue::Text(text.to_string()),
            WireType::Boolean => match text {
                "true" => SqlValue::Bool(true),
                "false" => SqlValue::Bool(false),
                _ => return Err("must be `true` or `false`".into()),
            },
            WireType::Integer => match parse_integer_text(text, 10).map(i32::try_from) {
                Some(Ok(number)) => SqlValue::Int(i64::from(number)),
                _ => return Err("must be a 32-bit integer".into()),
            },
            WireType::BigIntString => match parse_bigint_text(text) {
                Some(number) => SqlValue::Int(number),
                None => return Err("must be a 64-bit integer".into()),
            },
            WireType::Number => match text.trim().parse::<f64>() {
                Ok(number) if number.is_finite() => SqlValue::Float(number),
                _ => return Err("must be a number".into()),
            },
            WireType::DecimalString => {
                if !is_plain_decimal(text) {
                    return Err("must be a decimal number".into());
                }
                SqlValue::Text(codec::trim_decimal(text))
            }
            WireType::DateTime => match codec::normalize_datetime(text) {
                Some(normalized) => SqlValue::Text(normalized),
                None => return Err("must be an RFC 3339 date-time".into()),
            },
            WireType::Enum(_) => {
                if !self.enum_values.iter().any(|allowed| allowed == text) {
                    return Err(format!("must be one of {}", self.enum_values.join(", ")));
                }
                SqlValue::Text(text.to_string())
            }
            WireType::Json | WireType::Base64Bytes => {
                return Err("this field cannot be filtered".into())
            }
        })
    }

    /// The value as response JSON, written to `out`.
    pub fn write_json(&self, value: &SqlValue, out: &mut Vec<u8>) {
        if self.list {
            // Lists arrive as JSON arrays (SQLite text parsed by the decoder, PostgreSQL arrays).
            match value {
                SqlValue::Json(json) => write_plain(out, json),
                SqlValue::Text(text) => match serde_json::from_str::<Json>(text) {
                    Ok(json) => write_plain(out, &json),
                    Err(_) => out.extend_from_slice(b"null"),
                },
                _ => out.extend_from_slice(b"null"),
            }
            return;
        }
        match (self.wire, value) {
            (_, SqlValue::Null) => out.extend_from_slice(b"null"),
            (WireType::BigIntString | WireType::DecimalString, SqlValue::Int(number)) => {
                let _ = write!(out, "\"{number}\"");
            }
            (WireType::DecimalString, SqlValue::Float(number)) => {
                write_plain(out, &Json::String(codec::trim_decimal(&number.to_string())));
            }
            (WireType::Boolean, SqlValue::Int(number)) => {
                out.extend_from_slice(if *number != 0 { b"true" } else { b"false" });
            }
            (WireType::Json, SqlValue::Text(text)) => match serde_json::from_str::<Json>(text) {
                Ok(json) => write_plain(out, &json),
                Err(_) => write_plain(out, &Json::String(text.clone())),
            },
            (_, SqlValue::Int(number)) => {
                let _ = write!(out, "{number}");
            }
            (_, SqlValue::Bool(flag)) => {
                out.extend_from_slice(if *flag { b"true" } else { b"false" });
            }
            (_, SqlValue::Text(text)) => {
                let _ = serde_json::to_writer(&mut *out, text);
            }
            (_, other) => write_plain(out, &plain_json(other)),
        }
    }
}

/// A JSON integer: an integral number, also when written with a zero fraction (`9629.0`), as
/// JSON Schema's `integer` counts it. `None` for anything else or beyond 64 bits.
fn json_integer(value: &Json) -> Option<i64> {
    let Json::Number(number) = value else {
        return None;
    };
    if let Some(integer) = number.as_i64() {
        return Some(integer);
    }
    let float = number.as_f64()?;
    // 2^63 is exactly representable; anything at or beyond it does not fit.
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&float);
    (float.fract() == 0.0 && in_range).then_some(float as i64)
}

/// An integer written as an optional `-` and at most `max_digits` (for `Int`: 10) decimal
/// digits, nothing else (no `+`, no spaces), as the OpenAPI document describes integers.
fn parse_integer_text(text: &str, max_digits: usize) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > max_digits || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    text.parse::<i64>().ok()
}

/// `BigInt` text, exactly what the document's pattern allows: `-?` and 1 to 19 digits within
/// 64 bits.
fn parse_bigint_text(text: &str) -> Option<i64> {
    parse_integer_text(text, 19)
}

/// Decimal text exactly as the document's pattern allows it: `-?`, digits, and an optional
/// `.` followed by digits.
fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(integer) && fraction.is_none_or(all_digits)
}

fn write_plain(out: &mut Vec<u8>, json: &Json) {
    let _ = serde_json::to_writer(&mut *out, json);
}

fn number_of(value: &SqlValue) -> Option<f64> {
    match value {
        SqlValue::Int(number) => Some(*number as f64),
        SqlValue::Float(number) => Some(*number),
        SqlValue::Text(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn check(validation: &CompiledValidation, value: &SqlValue) -> Option<(&'static str, String)> {
    match validation {
        CompiledValidation::Compare { op, bound, written } => {
            let number = number_of(value)?;
            let holds = match op {
                CompareOp::Gt => number > *bound,
                CompareOp::Gte => number >= *bound,
                CompareOp::Lt => number < *bound,
                CompareOp::Lte => number <= *bound,
            };
            let words = match op {
                CompareOp::Gt => "greater than",
                CompareOp::Gte => "at least",
                CompareOp::Lt => "less than",
                CompareOp::Lte => "at most",
            };
            (!holds).then(|| ("out_of_range", format!("must be {words} {written}")))
        }
        _ => {
            let SqlValue::Text(text) = value else {
                return None;
            };
            match validation {
                CompiledValidation::Email => (!is_email(text))
                    .then(|| ("invalid_email", "must be an email address".to_string())),
                CompiledValidation::Url => (!is_url(text))
                    .then(|| ("invalid_url", "must be an http or https URL".to_string())),
                CompiledValidation::Length { min, max } => {
                    let count = text.chars().count() as u64;
                    if let Some(min) = min.filter(|min| count < u64::from(*min)) {
                        return Some(("too_short", format!("must be at least {min} characters")));
                    }
                    if let Some(max) = max.filter(|max| count > u64::from(*max)) {
                        return Some(("too_long", format!("must be at most {max} characters")));
                    }
                    None
                }
                CompiledValidation::Regex(pattern) => (!pattern.is_match(text)).then(|| {
                    (
                        "invalid_format",
                        format!("must match the pattern {}", pattern.as_str()),
                    )
                }),
                CompiledValidation::StartsWith(prefix) => (!text.starts_with(prefix.as_str()))
                    .then(|| ("invalid_format", format!("must start with `{prefix}`"))),
                CompiledValidation::EndsWith(suffix) => (!text.ends_with(suffix.as_str()))
                    .then(|| ("invalid_format", format!("must end with `{suffix}`"))),
                CompiledValidation::Contains(part) => (!text.contains(part.as_str()))
                    .then(|| ("invalid_format", format!("must contain `{part}`"))),
                CompiledValidation::Compare { .. } => None,
            }
        }
    }
}

/// A pragmatic address check: `local@domain.tld`, no spaces or control characters.
pub fn is_email(text: &str) -> bool {
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// `http://` or `https://` followed by a host, without spaces.
pub fn is_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
                && !host.starts_with(':')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_json_schema_counts_them() {
        assert_eq!(json_integer(&serde_json::json!(7)), Some(7));
        assert_eq!(json_integer(&serde_json::json!(9629.0)), Some(9629));
        assert_eq!(json_integer(&serde_json::json!(-0.0)), Some(0));
        assert_eq!(json_integer(&serde_json::json!(1.5)), None);
        assert_eq!(json_integer(&serde_json::json!(1e300)), None);
        assert_eq!(json_integer(&serde_json::json!("7")), None);
        assert_eq!(json_integer(&serde_json::json!(u64::MAX)), None);
    }

    #[test]
    fn integer_and_decimal_text_is_exact() {
        assert_eq!(parse_integer_text("-2147483648", 10), Some(-2147483648));
        assert_eq!(parse_bigint_text("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_bigint_text("-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "9223372036854775808",
            "00000000000000000001",
        ] {
            assert_eq!(parse_bigint_text(bad), None, "{bad:?}");
        }
        for good in ["0", "-0", "12.50", "007.1"] {
            assert!(is_plain_decimal(good), "{good:?}");
        }
        for bad in ["", "-", ".5", "5.", "+5", " 5", "1e3", "1.2.3"] {
            assert!(!is_plain_decimal(bad), "{bad:?}");
        }
    }

    #[test]
    fn emails_and_urls() {
        assert!(is_email("ada@example.com"));
        assert!(!is_email("ada@example"));
        assert!(!is_email("ada example@x.com"));
        assert!(!is_email("@example.com"));
        assert!(is_url("https://example.com/a?b"));
        assert!(!is_url("ftp://example.com"));
        assert!(!is_url("https://"));
    }
}
