//! Values from JSON Schemas: a valid value for a schema (every call unique, so unique
//! constraints never collide, even across runs against the same database), and labelled
//! invalid variants of it (wrong type, missing required field, out of range, too short or too
//! long, unknown field, bad enum value, bad format) to send where a server must refuse them.

use serde_json::{json, Map, Value};

/// Which way a value travels: request bodies leave `readOnly` properties out, responses leave
/// `writeOnly` ones out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// How much of an object to fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    /// Only required properties: the smallest valid value.
    Required,
    /// Every property (writable in the direction).
    All,
}

/// What kind of invalid input a variant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InvalidKind {
    WrongType,
    MissingRequired,
    BelowMinimum,
    AboveMaximum,
    TooShort,
    TooLong,
    UnknownField,
    BadEnum,
    BadFormat,
}

/// A value the schema forbids, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct InvalidVariant {
    pub kind: InvalidKind,
    /// `field \`title\`: 201 characters, longer than maxLength 200`.
    pub label: String,
    pub value: Value,
}

/// Makes values. Every generated string and number draws on one counter and a per-run nonce.
#[derive(Clone, Debug)]
pub struct Generator {
    nonce: String,
    counter: u64,
}

impl Default for Generator {
    fn default() -> Generator {
        Generator::new()
    }
}

/// The longest string an oversized/too-long variant or a padded valid value gets.
const MAX_GENERATED_LENGTH: u64 = 70_000;

impl Generator {
    /// A generator whose nonce comes from the clock, so two runs against one database do not
    /// generate the same unique values.
    pub fn new() -> Generator {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        Generator::with_seed((nanos % 1_000_000_007) as u64)
    }

    /// A deterministic generator (tests).
    pub fn with_seed(seed: u64) -> Generator {
        Generator {
            nonce: to_base36(seed),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// `v<nonce><n>`: short, unique, letters and digits only.
    fn unique_word(&mut self) -> String {
        let number = self.next();
        format!("v{}{}", self.nonce, to_base36(number))
    }

    /// A valid value for `schema`.
    pub fn valid(&mut self, schema: &Value, direction: Direction, fill: Fill) -> Value {
        self.valid_at_depth(schema, direction, fill, 0)
    }

    fn valid_at_depth(
        &mut self,
        schema: &Value,
        direction: Direction,
        fill: Fill,
        depth: usize,
    ) -> Value {
        let Some(map) = schema.as_object() else {
            // `true` or a non-object schema: anything goes.
            return Value::String(self.unique_word());
        };
        if depth > 8 {
            return Value::Null;
        }
        if let Some(constant) = map.get("const") {
            return constant.clone();
        }
        if let Some(Value::Array(values)) = map.get("enum") {
            if let Some(value) = values
                .iter()
                .find(|value| !value.is_null())
                .or(values.first())
            {
                return value.clone();
            }
        }
        if let Some(Value::Array(parts)) = map.get("allOf") {
            let merged = merge_all_of(map, parts);
            return self.valid_at_depth(&merged, direction, fill, depth + 1);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(alternatives)) = map.get(key) {
                let chosen = alternatives
                    .iter()
                    .find(|alternative| !is_null_schema(alternative))
                    .or(alternatives.first());
                if let Some(chosen) = chosen {
                    // Keep the outer constraints (type, properties) beside the alternative.
                    let mut rest = map.clone();
                    rest.remove(key);
                    let merged = if rest.is_empty() {
                        chosen.clone()
                    } else {
                        merge_all_of(&rest, std::slice::from_ref(chosen))
                    };
                    return self.valid_at_depth(&merged, direction, fill, depth + 1);
                }
            }
        }
        match schema_type(map).as_deref() {
            Some("null") => Value::Null,
            Some("boolean") => Value::Bool(true),
            Some("integer") => self.number(map, true),
            Some("number") => self.number(map, false),
            Some("array") => {
                let minimum = map.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let maximum = map
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::MAX);
                // Nested arrays multiply: only the outermost may be long.
                let cap = if depth == 0 { 16 } else { 2 };
                let count = minimum.max(1).min(maximum).min(cap);
                let items = map.get("items").cloned().unwrap_or(json!({}));
                let unique = map.get("uniqueItems").and_then(Value::as_bool) == Some(true);
                let mut values: Vec<Value> = Vec::new();
                for _ in 0..count {
                    let value = self.valid_at_depth(&items, direction, fill, depth + 1);
                    // Enums and constants repeat: a unique array then gets fewer items.
                    if unique && values.contains(&value) {
                        continue;
                    }
                    values.push(value);
                }
                Value::Array(values)
            }
            Some("object") => self.object(map, direction, fill, depth),
            _ => Value::String(self.string(map)),
        }
    }

    fn object(
        &mut self,
        map: &Map<String, Value>,
        direction: Direction,
        fill: Fill,
        depth: usize,
    ) -> Value {
        let required = required_names(map);
        let mut out = Map::new();
        let empty = Map::new();
        let properties_map = match map.get("properties") {
            Some(Value::Object(properties)) => properties,
            _ => &empty,
        };
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (name, property) in properties {
                if !property_applies(property, direction) {
                    continue;
                }
                let wanted = required.contains(name) || fill == Fill::All;
                if !wanted {
                    continue;
                }
                // Optional nullable properties filled with a value, never with null.
                let value = self.valid_at_depth(property, direction, fill, depth + 1);
                out.insert(name.clone(), value);
            }
        }
        // Required names with no property schema: any value.
        for name in required {
            if !properties_map.contains_key(&name) {
                out.insert(name, Value::String(self.unique_word()));
            }
        }
        Value::Object(out)
    }

    fn number(&mut self, map: &Map<String, Value>, integer: bool) -> Value {
        let minimum = map.get("minimum").and_then(Value::as_f64);
        let maximum = map.get("maximum").and_then(Value::as_f64);
        let exclusive_minimum = map.get("exclusiveMinimum").and_then(Value::as_f64);
        let exclusive_maximum = map.get("exclusiveMaximum").and_then(Value::as_f64);
        let step = if integer { 1.0 } else { 0.5 };
        let low = match (minimum, exclusive_minimum) {
            (Some(minimum), Some(exclusive)) => Some(minimum.max(exclusive + step)),
            (Some(minimum), None) => Some(minimum),
            (None, Some(exclusive)) => Some(exclusive + step),
            (None, None) => None,
        };
        let high = match (maximum, exclusive_maximum) {
            (Some(maximum), Some(exclusive)) => Some(maximum.min(exclusive - step)),
            (Some(maximum), None) => Some(maximum),
            (None, Some(exclusive)) => Some(exclusive - step),
            (None, None) => None,
        };
        let mut value = match (low, high) {
            (Some(low), _) => low.ceil().max(low),
            (None, Some(high)) => high.min(1.0).floor(),
            (None, None) => 1.0 + (self.next() % 1000) as f64,
        };
        if let Some(multiple) = map.get("multipleOf").and_then(Value::as_f64) {
            if multiple > 0.0 {
                value = (value / multiple).ceil() * multiple;
            }
        }
        if integer || value.fract() == 0.0 {
            json!(value as i64)
        } else {
            json!(value)
        }
    }

    fn string(&mut self, map: &Map<String, Value>) -> String {
        let minimum = map.get("minLength").and_then(Value::as_u64).unwrap_or(0);
        let maximum = map.get("maxLength").and_then(Value::as_u64);
        let format = map.get("format").and_then(Value::as_str).unwrap_or("");
        let word = self.unique_word();
        let number = self.counter;
        let formatted = match format {
            "email" => Some(format!("{word}@example.com")),
            "uuid" => Some(format!(
                "{:08x}-0000-4000-8000-{:012x}",
                (self.nonce_number() & 0xffff_ffff),
                number
            )),
            "date-time" => Some(format!(
                "2030-01-02T03:{:02}:{:02}Z",
                (number / 60) % 60,
                number % 60
            )),
            "date" => Some(format!("2030-01-{:02}", number % 28 + 1)),
            "time" => Some(format!("03:04:{:02}Z", number % 60)),
            "uri" | "url" | "iri" => Some(format!("https://example.com/{word}")),
            "uri-reference" | "iri-reference" => Some(format!("/{word}")),
            "hostname" | "idn-hostname" => Some(format!("{word}.example.com")),
            "ipv4" => Some(format!("192.0.2.{}", number % 250 + 1)),
            "ipv6" => Some(format!("2001:db8::{:x}", number % 65_000 + 1)),
            "byte" => Some("dmVyaWZ5".to_string()),
            "password" => Some(format!("Verify-{word}-password-1")),
            _ => None,
        };
        let pattern = map.get("pattern").and_then(Value::as_str);
        let candidate = formatted.unwrap_or_else(|| fit_length(&word, minimum, maximum));
        let Some(pattern) = pattern else {
            return fit_length(&candidate, minimum, maximum);
        };
        let Ok(regex) = regex::Regex::new(pattern) else {
            // A pattern this engine cannot read: send the plain candidate.
            return candidate;
        };
        let fits = |text: &str| {
            let length = text.chars().count() as u64;
            regex.is_match(text)
                && length >= minimum
                && maximum.is_none_or(|maximum| length <= maximum)
        };
        let fitted = fit_length(&candidate, minimum, maximum);
        if fits(&fitted) {
            return fitted;
        }
        match sample_pattern(pattern, minimum, maximum) {
            Some(sample) if fits(&sample) => sample,
            _ => fitted,
        }
    }

    fn nonce_number(&self) -> u64 {
        u64::from_str_radix(&self.nonce, 36).unwrap_or(0)
    }

    /// Invalid variants of a value for `schema`: at the top level (a wrong type), and for an
    /// object per property (missing when required, wrong type, out of range, too short or too
    /// long, bad enum value, bad format) plus an unknown field when `additionalProperties` is
    /// false. Each starts from the smallest valid value, changed in one place.
    pub fn invalid_variants(
        &mut self,
        schema: &Value,
        direction: Direction,
    ) -> Vec<InvalidVariant> {
        let schema = flatten(schema);
        let Some(map) = schema.as_object() else {
            return Vec::new();
        };
        let mut variants = Vec::new();
        if schema_type(map).as_deref() != Some("object") {
            let valid = self.valid(&schema, direction, Fill::Required);
            variants.extend(self.scalar_variants(map, &valid, "the value"));
            return variants;
        }
        let base = self.valid(&schema, direction, Fill::Required);
        let Value::Object(base) = base else {
            return variants;
        };
        variants.push(InvalidVariant {
            kind: InvalidKind::WrongType,
            label: "an array instead of an object".into(),
            value: json!([]),
        });
        let required = required_names(map);
        for name in &required {
            if base.contains_key(name) {
                let mut changed = base.clone();
                changed.remove(name);
                variants.push(InvalidVariant {
                    kind: InvalidKind::MissingRequired,
                    label: format!("required field `{name}` missing"),
                    value: Value::Object(changed),
                });
            }
        }
        if let Some(Value::Object(properties)) = map.get("properties") {
            for (name, property) in properties {
                if !property_applies(property, direction) {
                    continue;
                }
                let property = flatten(property);
                let Some(property_map) = property.as_object() else {
                    continue;
                };
                let valid = self.valid(&property, direction, Fill::Required);
                for variant in
                    self.scalar_variants(property_map, &valid, &format!("field `{name}`"))
                {
                    let mut changed = base.clone();
                    changed.insert(name.clone(), variant.value);
                    variants.push(InvalidVariant {
                        kind: variant.kind,
                        label: variant.label,
                        value: Value::Object(changed),
                    });
                }
            }
        }
        if map.get("additionalProperties") == Some(&Value::Bool(false)) {
            let mut changed = base.clone();
            changed.insert("verify_unknown_field".into(), json!("unexpected"));
            variants.push(InvalidVariant {
                kind: InvalidKind::UnknownField,
                label: "unknown field `verify_unknown_field` (additionalProperties is false)"
                    .into(),
                value: Value::Object(changed),
            });
        }
        variants
    }

    /// Invalid replacements for one value of schema `map` (its valid value is `valid`).
    pub fn scalar_variants(
        &mut self,
        map: &Map<String, Value>,
        valid: &Value,
        what: &str,
    ) -> Vec<InvalidVariant> {
        let mut variants = Vec::new();
        let types = schema_types(map);
        if !types.is_empty() {
            let candidates: [(&str, Value); 5] = [
                ("string", json!("verify-not-a-number")),
                ("integer", json!(12345)),
                ("boolean", json!(true)),
                ("object", json!({"verify": 1})),
                ("array", json!(["verify"])),
            ];
            let allowed = |kind: &str| {
                types
                    .iter()
                    .any(|allowed| allowed == kind || (allowed == "number" && kind == "integer"))
            };
            // The first type the schema does not allow: strings for numbers, numbers for strings.
            if let Some((kind, value)) = candidates.iter().find(|(kind, _)| !allowed(kind)) {
                variants.push(InvalidVariant {
                    kind: InvalidKind::WrongType,
                    label: format!("{what}: {kind} instead of {}", types.join(" or ")),
                    value: value.clone(),
                });
            }
        }
        let is_string = types.iter().any(|kind| kind == "string");
        let is_number = types
            .iter()
            .any(|kind| kind == "integer" || kind == "number");
        if let Some(Value::Array(allowed)) = map.get("enum") {
            let bad = json!("verify-not-in-enum");
            if !allowed.contains(&bad) && (types.is_empty() || is_string) {
                variants.push(InvalidVariant {
                    kind: InvalidKind::BadEnum,
                    label: format!("{what}: a value not in its enum"),
                    value: bad,
                });
            }
            return variants;
        }
        if map.contains_key("const") {
            return variants;
        }
        if is_string {
            let minimum = map.get("minLength").and_then(Value::as_u64).unwrap_or(0);
            if minimum > 0 {
                let short = "v".repeat((minimum - 1) as usize);
                variants.push(InvalidVariant {
                    kind: InvalidKind::TooShort,
                    label: format!(
                        "{what}: {} characters, shorter than minLength {minimum}",
                        minimum - 1
                    ),
                    value: json!(short),
                });
            }
            if let Some(maximum) = map.get("maxLength").and_then(Value::as_u64) {
                if maximum < MAX_GENERATED_LENGTH {
                    let base = valid.as_str().unwrap_or("v");
                    let long = fit_length(base, maximum + 1, Some(maximum + 1));
                    variants.push(InvalidVariant {
                        kind: InvalidKind::TooLong,
                        label: format!(
                            "{what}: {} characters, longer than maxLength {maximum}",
                            maximum + 1
                        ),
                        value: json!(long),
                    });
                }
            }
            let bad_format = match map.get("format").and_then(Value::as_str).unwrap_or("") {
                "email" => Some("verify-not-an-email"),
                "uuid" => Some("verify-not-a-uuid"),
                "date-time" => Some("verify-not-a-date-time"),
                "date" => Some("verify-not-a-date"),
                "uri" => Some("verify not a uri"),
                _ => None,
            };
            if let Some(bad) = bad_format {
                let format = map.get("format").and_then(Value::as_str).unwrap_or("");
                variants.push(InvalidVariant {
                    kind: InvalidKind::BadFormat,
                    label: format!("{what}: not a valid {format}"),
                    value: json!(bad),
                });
            }
        }
        if is_number {
            let integer = !types.iter().any(|kind| kind == "number");
            let step = if integer { 1.0 } else { 0.5 };
            let below = map
                .get("minimum")
                .and_then(Value::as_f64)
                .map(|minimum| minimum - step)
                .or_else(|| map.get("exclusiveMinimum").and_then(Value::as_f64));
            if let Some(below) = below {
                variants.push(InvalidVariant {
                    kind: InvalidKind::BelowMinimum,
                    label: format!("{what}: {} is below its minimum", number_text(below)),
                    value: number_value(below),
                });
            }
            let above = map
                .get("maximum")
                .and_then(Value::as_f64)
                .map(|maximum| maximum + step)
                .or_else(|| map.get("exclusiveMaximum").and_then(Value::as_f64));
            if let Some(above) = above {
                variants.push(InvalidVariant {
                    kind: InvalidKind::AboveMaximum,
                    label: format!("{what}: {} is above its maximum", number_text(above)),
                    value: number_value(above),
                });
            }
        }
        variants
    }
}

fn number_value(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

fn number_text(value: f64) -> String {
    number_value(value).to_string()
}

/// The schema's single most useful type: the first non-null entry of `type`, else inferred from
/// the keywords present.
pub fn schema_type(map: &Map<String, Value>) -> Option<String> {
    let types = schema_types(map);
    if let Some(first) = types.iter().find(|kind| kind.as_str() != "null") {
        return Some(first.clone());
    }
    if !types.is_empty() {
        return Some("null".into());
    }
    if map.contains_key("properties")
        || map.contains_key("required")
        || map.contains_key("additionalProperties")
    {
        return Some("object".into());
    }
    if map.contains_key("items") || map.contains_key("minItems") || map.contains_key("maxItems") {
        return Some("array".into());
    }
    if map.contains_key("minimum") || map.contains_key("maximum") || map.contains_key("multipleOf")
    {
        return Some("number".into());
    }
    if map.contains_key("minLength")
        || map.contains_key("maxLength")
        || map.contains_key("pattern")
        || map.contains_key("format")
    {
        return Some("string".into());
    }
    None
}

/// Every type `type` names (`"string"` or `["string", "null"]`).
pub fn schema_types(map: &Map<String, Value>) -> Vec<String> {
    match map.get("type") {
        Some(Value::String(single)) => vec![single.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn required_names(map: &Map<String, Value>) -> Vec<String> {
    map.get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a property is sent in `direction` (`readOnly` ones are not sent in requests).
fn property_applies(property: &Value, direction: Direction) -> bool {
    let flag = |name: &str| property.get(name).and_then(Value::as_bool) == Some(true);
    match direction {
        Direction::Request => !flag("readOnly"),
        Direction::Response => !flag("writeOnly"),
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// `allOf` merged into one schema (properties and required lists united, other keywords from
/// the last part that has them), so values are generated against all parts at once.
fn merge_all_of(outer: &Map<String, Value>, parts: &[Value]) -> Value {
    let mut merged = outer.clone();
    merged.remove("allOf");
    for part in parts {
        let part = flatten(part);
        let Some(part) = part.as_object() else {
            continue;
        };
        for (key, value) in part {
            match (key.as_str(), merged.get_mut(key), value) {
                ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                    for (name, schema) in more {
                        existing.insert(name.clone(), schema.clone());
                    }
                }
                ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                    for name in more {
                        if !existing.contains(name) {
                            existing.push(name.clone());
                        }
                    }
                }
                _ => {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Value::Object(merged)
}

/// A schema with its top-level `allOf` merged and a nullable `anyOf`/`oneOf` (`[X, null]`)
/// reduced to `X`, so invalid variants see the real constraints.
pub fn flatten(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return schema.clone();
    };
    if let Some(Value::Array(parts)) = map.get("allOf") {
        return flatten(&merge_all_of(map, parts));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = map.get(key) {
            let non_null: Vec<&Value> = alternatives
                .iter()
                .filter(|alternative| !is_null_schema(alternative))
                .collect();
            if non_null.len() == 1 {
                let mut rest = map.clone();
                rest.remove(key);
                return flatten(&merge_all_of(&rest, &[non_null[0].clone()]));
            }
        }
    }
    schema.clone()
}

/// `text` padded with `x` or cut to fit the length bounds (in characters).
fn fit_length(text: &str, minimum: u64, maximum: Option<u64>) -> String {
    let minimum = minimum.min(MAX_GENERATED_LENGTH) as usize;
    let mut out: String = match maximum {
        Some(maximum) => text
            .chars()
            .take(maximum.min(MAX_GENERATED_LENGTH) as usize)
            .collect(),
        None => text.to_string(),
    };
    let length = out.chars().count();
    if length < minimum {
        out.extend(std::iter::repeat_n('x', minimum - length));
    }
    out
}

fn to_base36(mut number: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if number == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while number > 0 {
        out.push(DIGITS[(number % 36) as usize]);
        number /= 36;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// A string matching `pattern`, built from its parsed form: literals kept, classes give one of
/// their characters, repetitions their minimum count (at least one), the
/// first alternative taken. `None` when the pattern does not parse.
fn sample_pattern(pattern: &str, minimum: u64, maximum: Option<u64>) -> Option<String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let mut out = String::new();
    let wanted = minimum.max(1);
    sample_hir(&hir, wanted, maximum, &mut out, 0);
    Some(out)
}

fn sample_hir(
    hir: &regex_syntax::hir::Hir,
    wanted: u64,
    maximum: Option<u64>,
    out: &mut String,
    depth: usize,
) {
    use regex_syntax::hir::{Class, HirKind};
    if depth > 64 || out.len() > MAX_GENERATED_LENGTH as usize {
        return;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.push_str(&String::from_utf8_lossy(&literal.0)),
        HirKind::Class(Class::Unicode(class)) => {
            // Prefer a letter or digit from the class: safest inside URLs and headers.
            let ranges = class.ranges();
            let preferred = ranges.iter().find_map(|range| {
                ('a'..='z')
                    .chain('0'..='9')
                    .chain('A'..='Z')
                    .find(|character| *character >= range.start() && *character <= range.end())
            });
            let fallback = ranges.first().map(|range| range.start());
            if let Some(character) = preferred.or(fallback) {
                out.push(character);
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            if let Some(range) = class.ranges().first() {
                out.push(range.start() as char);
            }
        }
        HirKind::Repetition(repetition) => {
            let mut count = u64::from(repetition.min).max(1);
            if let Some(max) = repetition.max {
                count = count.min(u64::from(max));
            }
            // A single unbounded repetition can carry the length the schema asks for.
            if repetition.max.is_none() {
                count = count.max(wanted.saturating_sub(out.chars().count() as u64));
                if let Some(maximum) = maximum {
                    count = count.min(maximum.max(1));
                }
            }
            for _ in 0..count.min(MAX_GENERATED_LENGTH) {
                sample_hir(&repetition.sub, wanted, maximum, out, depth + 1);
            }
        }
        HirKind::Capture(capture) => sample_hir(&capture.sub, wanted, maximum, out, depth + 1),
        HirKind::Concat(parts) => {
            for part in parts {
                sample_hir(part, wanted, maximum, out, depth + 1);
            }
        }
        HirKind::Alternation(alternatives) => {
            if let Some(first) = alternatives.first() {
                sample_hir(first, wanted, maximum, out, depth + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_against(schema: &Value, value: &Value) -> bool {
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(schema)
            .map(|validator| validator.is_valid(value))
            .unwrap_or(false)
    }

    #[test]
    fn valid_values_satisfy_their_schemas() {
        let schemas = [
            json!({"type": "string", "minLength": 5, "maxLength": 8}),
            json!({"type": "string", "format": "email"}),
            json!({"type": "string", "format": "uuid"}),
            json!({"type": "string", "format": "date-time"}),
            json!({"type": "string", "format": "date"}),
            json!({"type": "string", "format": "uri"}),
            json!({"type": "string", "pattern": "^c1\\.[A-Za-z0-9_-]+$", "minLength": 4}),
            json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
            json!({"type": "string", "pattern": "^-?(?:id|title)(?:,-?(?:id|title))*$"}),
            json!({"type": "integer", "minimum": 1, "maximum": 100}),
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
            json!({"type": ["string", "null"], "maxLength": 3}),
            json!({"enum": ["USER", "ADMIN"]}),
            json!({"type": "array", "minItems": 2, "uniqueItems": true, "items": {"type": "string"}}),
            json!({"allOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
                             {"required": ["b"], "properties": {"b": {"type": "boolean"}}}]}),
            json!({"oneOf": [{"type": "null"}, {"type": "object", "required": ["x"], "properties": {"x": {"const": 3}}}]}),
        ];
        let mut generator = Generator::with_seed(7);
        for schema in schemas {
            for fill in [Fill::Required, Fill::All] {
                let value = generator.valid(&schema, Direction::Request, fill);
                assert!(
                    valid_against(&schema, &value),
                    "{value} does not satisfy {schema}"
                );
            }
        }
    }

    #[test]
    fn generated_values_are_unique_per_call() {
        let mut generator = Generator::with_seed(1);
        let schema = json!({"type": "string", "format": "email"});
        let first = generator.valid(&schema, Direction::Request, Fill::Required);
        let second = generator.valid(&schema, Direction::Request, Fill::Required);
        assert_ne!(first, second);
        let uuid = json!({"type": "string", "format": "uuid"});
        assert_ne!(
            generator.valid(&uuid, Direction::Request, Fill::Required),
            generator.valid(&uuid, Direction::Request, Fill::Required)
        );
    }

    #[test]
    fn read_only_properties_stay_out_of_requests_and_write_only_out_of_responses() {
        let schema = json!({"type": "object", "required": ["id", "password", "name"], "properties": {
            "id": {"type": "string", "readOnly": true},
            "password": {"type": "string", "writeOnly": true},
            "name": {"type": "string"}
        }});
        let mut generator = Generator::with_seed(1);
        let request = generator.valid(&schema, Direction::Request, Fill::All);
        assert!(request.get("id").is_none() && request.get("password").is_some());
        let response = generator.valid(&schema, Direction::Response, Fill::All);
        assert!(response.get("password").is_none() && response.get("id").is_some());
    }

    #[test]
    fn required_fill_leaves_optional_properties_out() {
        let schema = json!({"type": "object", "required": ["title"], "properties": {
            "title": {"type": "string"}, "notes": {"type": ["string", "null"]}
        }});
        let mut generator = Generator::with_seed(1);
        let minimal = generator.valid(&schema, Direction::Request, Fill::Required);
        assert!(minimal.get("notes").is_none());
        let full = generator.valid(&schema, Direction::Request, Fill::All);
        assert!(full.get("notes").is_some_and(Value::is_string));
    }

    #[test]
    fn every_invalid_variant_is_invalid_and_labelled() {
        let schema = json!({"type": "object", "required": ["title", "count"], "additionalProperties": false, "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 20},
            "count": {"type": "integer", "minimum": 0, "maximum": 10},
            "role": {"type": "string", "enum": ["USER", "ADMIN"]},
            "email": {"type": ["string", "null"], "format": "email"},
            "due": {"type": "string", "format": "date-time"}
        }});
        let mut generator = Generator::with_seed(3);
        let variants = generator.invalid_variants(&schema, Direction::Request);
        let kinds: std::collections::BTreeSet<InvalidKind> =
            variants.iter().map(|variant| variant.kind).collect();
        for kind in [
            InvalidKind::WrongType,
            InvalidKind::MissingRequired,
            InvalidKind::BelowMinimum,
            InvalidKind::AboveMaximum,
            InvalidKind::TooShort,
            InvalidKind::TooLong,
            InvalidKind::UnknownField,
            InvalidKind::BadEnum,
            InvalidKind::BadFormat,
        ] {
            assert!(
                kinds.contains(&kind),
                "no {kind:?} variant in {variants:#?}"
            );
        }
        for variant in &variants {
            assert!(!variant.label.is_empty());
            assert!(
                !valid_against(&schema, &variant.value),
                "{} is valid: {}",
                variant.label,
                variant.value
            );
        }
    }

    #[test]
    fn no_unknown_field_variant_when_additional_properties_are_allowed() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let mut generator = Generator::with_seed(3);
        let variants = generator.invalid_variants(&schema, Direction::Request);
        assert!(variants
            .iter()
            .all(|variant| variant.kind != InvalidKind::UnknownField));
    }

    #[test]
    fn recursive_and_odd_schemas_do_not_panic() {
        let mut generator = Generator::with_seed(3);
        for schema in [
            json!(true),
            json!({}),
            json!({"type": "array"}),
            json!({"pattern": "(("}),
            json!({"type": "string", "pattern": "^\\p{Greek}+$"}),
            json!({"enum": []}),
        ] {
            let _ = generator.valid(&schema, Direction::Request, Fill::All);
            let _ = generator.invalid_variants(&schema, Direction::Request);
        }
    }
}
