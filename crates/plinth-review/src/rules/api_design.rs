//! Rules of the `api-design` category: how an OpenAPI document shapes its API — pagination,
//! versioning, naming, error responses, operation ids, bounded inputs.
//!
//! A rule that would fire on most operations of a document (an API that never documents `429`)
//! reports one finding for the document, at the first place and naming a few others, instead of
//! one per operation: that is one design decision, and a reviewer says it once
//! ([`report_places`]). The helpers for names and paths here are shared with `api_security`.

use crate::input::openapi::{escape, Media, OpenApiDoc, Operation};
use crate::registry::{Category, RuleInfo};
use crate::{Sink, Workspace};
use plinth_diagnostics::Severity;
use regex::Regex;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const fn rule(id: &'static str, severity: Severity, summary: &'static str) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        category: Category::ApiDesign,
        summary,
    }
}

pub(crate) const RULES: &[RuleInfo] = &[
    rule(
        "list-without-pagination",
        Severity::Warning,
        "a GET that returns a list has no limit, page or cursor parameter",
    ),
    rule(
        "api-not-versioned",
        Severity::Note,
        "neither the server URLs, the paths, the media types nor a header carry an API version",
    ),
    rule(
        "path-not-kebab-case",
        Severity::Warning,
        "a literal path segment uses uppercase letters or underscores",
    ),
    rule(
        "collection-not-plural",
        Severity::Note,
        "a collection path is named with a singular noun",
    ),
    rule(
        "verb-in-path",
        Severity::Warning,
        "a path segment is a CRUD verb (`getUsers`, `/delete`) that repeats the HTTP method",
    ),
    rule(
        "missing-error-responses",
        Severity::Warning,
        "an operation documents no 4xx, 5xx or default response",
    ),
    rule(
        "non-standard-error-shape",
        Severity::Warning,
        "error responses have no body, or use a different schema from the rest of the API",
    ),
    rule(
        "missing-429-response",
        Severity::Note,
        "an operation documents no 429 Too Many Requests response",
    ),
    rule(
        "missing-retry-after",
        Severity::Note,
        "a 429 response does not say when to retry (no Retry-After or rate-limit reset header)",
    ),
    rule(
        "missing-operation-id",
        Severity::Warning,
        "an operation has no operationId",
    ),
    rule(
        "duplicate-operation-id",
        Severity::Error,
        "two operations share one operationId",
    ),
    rule(
        "missing-operation-description",
        Severity::Note,
        "an operation has neither a summary nor a description",
    ),
    rule(
        "unbounded-string",
        Severity::Warning,
        "a string in a request body has no maxLength, enum or bounding format",
    ),
    rule(
        "unbounded-array",
        Severity::Warning,
        "an array in a request body has no maxItems",
    ),
    rule(
        "numeric-id-enumeration",
        Severity::Note,
        "a path parameter that identifies an object is an integer, so ids can be guessed",
    ),
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    for doc in &workspace.openapi {
        let operations = doc.operations();
        list_without_pagination(doc, &operations, sink);
        api_not_versioned(doc, sink);
        path_not_kebab_case(doc, sink);
        collection_not_plural(doc, &operations, sink);
        verb_in_path(doc, sink);
        missing_error_responses(doc, &operations, sink);
        non_standard_error_shape(doc, &operations, sink);
        missing_429_response(doc, &operations, sink);
        missing_retry_after(doc, &operations, sink);
        operation_ids(doc, &operations, sink);
        missing_operation_description(doc, &operations, sink);
        unbounded_request_values(doc, &operations, sink);
        numeric_id_enumeration(doc, &operations, sink);
    }
}

// ---------------------------------------------------------------------------------------------
// Reporting

/// One place a rule found, before [`report_places`] decides how to report the lot.
pub(super) struct Place {
    pub pointer: String,
    /// The finding's message when the place is reported on its own.
    pub message: String,
    /// A short name for the place when a summary finding lists it (`GET /tasks`).
    pub label: String,
}

/// More places than this for one rule in one document are a pattern of the whole API, reported
/// as one finding.
const SEPARATE_LIMIT: usize = 10;
/// How many of the other places a summary finding points at.
const RELATED_SHOWN: usize = 3;

/// Reports `places` (deduplicated by pointer, in order) one by one, or, when there are more than
/// [`SEPARATE_LIMIT`], as one finding at the first place whose message is `summary(count, first)`
/// and which points at the next few. The summary finding carries the document root as its
/// pointer, so only a document-wide `x-plinth-review-ignore` silences it.
pub(super) fn report_places(
    sink: &mut Sink,
    doc: &OpenApiDoc,
    rule: &'static str,
    places: Vec<Place>,
    help: &str,
    summary: impl FnOnce(usize, &Place) -> String,
) {
    let mut seen = HashSet::new();
    let places: Vec<Place> = places
        .into_iter()
        .filter(|place| seen.insert(place.pointer.clone()))
        .collect();
    if places.len() <= SEPARATE_LIMIT {
        for place in places {
            let finding = Sink::finding(
                rule,
                doc.file,
                doc.span(&place.pointer),
                place.message,
                help,
            )
            .with_pointer(place.pointer);
            sink.push(finding);
        }
        return;
    }
    let first = &places[0];
    let mut finding = Sink::finding(
        rule,
        doc.file,
        doc.span(&first.pointer),
        summary(places.len(), first),
        help,
    )
    .with_pointer(String::new());
    for place in places.iter().skip(1).take(RELATED_SHOWN) {
        finding = finding.with_related(
            doc.file,
            doc.span(&place.pointer),
            format!("also {}", place.label),
        );
    }
    sink.push(finding);
}

// ---------------------------------------------------------------------------------------------
// Names and paths

/// Lowercase letters and digits only: `Page-Size`, `page_size` and `pageSize` all read `pagesize`.
pub(super) fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The lowercase words of a name: `findByStatus` → find, by, status; `custom_fields` → custom,
/// fields; `HTMLPage` → html, page.
pub(super) fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        let boundary = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(char::is_ascii_lowercase))
            });
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Suffixes that name a response format rather than a resource (`/categories.json`).
const FORMAT_EXTENSIONS: &[&str] = &[
    "json", "xml", "yaml", "yml", "csv", "ics", "rss", "atom", "txt", "html", "pdf", "png", "jpg",
    "zip",
];

/// One segment of a path template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    /// A literal, without a format extension: `Accounts` for `Accounts.json`.
    Literal(&'a str),
    /// A segment with a `{parameter}` in it.
    Template,
}

pub(super) fn segments(path: &str) -> Vec<Segment<'_>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            if segment.contains('{') {
                return Segment::Template;
            }
            match segment.rsplit_once('.') {
                Some((stem, extension))
                    if !stem.is_empty()
                        && FORMAT_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) =>
                {
                    Segment::Literal(stem)
                }
                _ => Segment::Literal(segment),
            }
        })
        .collect()
}

/// A path with its parameters and format extensions erased, so `/pets/{id}.json` and
/// `/pets/{petId}` compare equal: `/pets/{}`.
fn shape(path: &str) -> String {
    let mut out = String::new();
    for segment in segments(path) {
        out.push('/');
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Template => out.push_str("{}"),
        }
    }
    out
}

fn last_literal(path: &str) -> Option<&str> {
    match segments(path).last() {
        Some(Segment::Literal(text)) => Some(text),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

/// True when `schema` says it is of type `name` (`type: string`, or `type: [string, "null"]`).
pub(super) fn has_type(schema: &Value, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(name)),
        _ => false,
    }
}

pub(super) fn is_array(schema: &Value) -> bool {
    has_type(schema, "array") || (schema.get("type").is_none() && schema.get("items").is_some())
}

pub(super) fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// The properties of an object schema, with those of its `allOf` parts (resolved), as
/// `(name, pointer, schema)` with each schema resolved.
pub(super) fn properties<'a>(
    doc: &'a OpenApiDoc,
    pointer: &str,
    schema: &'a Value,
) -> Vec<(&'a str, String, &'a Value)> {
    let mut out = Vec::new();
    collect_properties(doc, pointer.to_string(), schema, &mut out, 0);
    out
}

fn collect_properties<'a>(
    doc: &'a OpenApiDoc,
    pointer: String,
    schema: &'a Value,
    out: &mut Vec<(&'a str, String, &'a Value)>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    let (pointer, schema) = doc.resolve(pointer, schema);
    if let Some(map) = schema.get("properties").and_then(Value::as_object) {
        for (name, raw) in map {
            let (sub_pointer, sub) =
                doc.resolve(format!("{pointer}/properties/{}", escape(name)), raw);
            if !out.iter().any(|(n, _, _)| *n == name.as_str()) {
                out.push((name.as_str(), sub_pointer, sub));
            }
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for (i, part) in parts.iter().enumerate() {
            collect_properties(doc, format!("{pointer}/allOf/{i}"), part, out, depth + 1);
        }
    }
}

/// JSON media types, where schemas describe the body's fields (not a stream or a file).
pub(super) fn is_json(media_type: &str) -> bool {
    let media_type = media_type.to_ascii_lowercase();
    media_type.contains("json")
        && !media_type.contains("ndjson")
        && !media_type.contains("jsonl")
        && !media_type.contains("json-seq")
}

/// Media types whose schema lists the fields a client sends: JSON and forms.
pub(super) fn is_structured_body(media_type: &str) -> bool {
    is_json(media_type)
        || media_type.starts_with("application/x-www-form-urlencoded")
        || media_type.starts_with("multipart/form-data")
}

fn is_success(status: &str) -> bool {
    status.starts_with('2') && status != "204"
}

fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5') || status == "default"
}

/// A name for a schema in messages: the component name of a `$ref` target, else `inline`.
fn schema_name(pointer: &str) -> Option<&str> {
    let component = pointer
        .strip_prefix("/components/schemas/")
        .or_else(|| pointer.strip_prefix("/definitions/"))
        .or_else(|| pointer.strip_prefix("/components/responses/"))?;
    Some(component.split('/').next().unwrap_or(component))
}

/// The field a schema pointer names, for messages: `.../properties/tags/items` → `tags[]`.
pub(super) fn field_name(pointer: &str) -> String {
    let parts: Vec<&str> = pointer.split('/').collect();
    let mut suffix = String::new();
    for i in (0..parts.len()).rev() {
        match parts[i] {
            "items" => suffix.insert_str(0, "[]"),
            "additionalProperties" => suffix.insert_str(0, ".*"),
            _ if i > 0 && parts[i - 1] == "properties" => {
                let name = parts[i].replace("~1", "/").replace("~0", "~");
                return format!("{name}{suffix}");
            }
            "allOf" | "anyOf" | "oneOf" => {}
            part if part.parse::<usize>().is_ok() => {}
            _ => break,
        }
    }
    format!("body{suffix}")
}

// ---------------------------------------------------------------------------------------------
// list-without-pagination, collection-not-plural

/// What a GET's success response says about the list it returns.
struct ListReturn {
    /// The array has a `maxItems`, or the response carries a next cursor, page or link.
    bounded: bool,
}

/// Response properties that show the server pages the list (`has_more`, `next_cursor`,
/// `next_page_uri`, `links`).
fn is_pagination_field(name: &str) -> bool {
    let name = squash(name);
    [
        "cursor",
        "next",
        "more",
        "page",
        "offset",
        "paging",
        "pagination",
        "continuation",
        "lastid",
        "firstid",
        "sync",
    ]
    .iter()
    .any(|word| name.contains(word))
        || matches!(name.as_str(), "links" | "after" | "before" | "total")
}

/// True when the wrapper's properties show paging: a `has_more` or `next_cursor` beside the
/// list, or a `meta` object with `limit`/`offset`/`total` in it.
fn shows_pagination(doc: &OpenApiDoc, properties: &[(&str, String, &Value)]) -> bool {
    properties.iter().any(|(name, pointer, schema)| {
        is_pagination_field(name)
            || (matches!(squash(name).as_str(), "meta" | "metadata")
                && self::properties(doc, pointer, schema)
                    .iter()
                    .any(|(inner, _, _)| is_pagination_field(inner)))
    })
}

/// Properties that hold the list in a wrapper object (`{"data": [...]}`).
const WRAPPER_NAMES: &[&str] = &[
    "data", "items", "results", "records", "entries", "elements", "values", "list", "objects",
    "nodes", "edges", "rows", "hits", "content",
];

/// The list a GET returns: its success response body is an array, or an object that wraps one
/// in a property named like a list (`data`, `items`) or like the path (`GET /accounts` →
/// `accounts`), directly or inside an object named `…_list`.
fn returned_list(doc: &OpenApiDoc, operation: &Operation<'_>) -> Option<ListReturn> {
    let own_name = last_literal(operation.path).map(squash);
    for response in doc.responses(operation) {
        if !is_success(response.status) {
            continue;
        }
        for media in &response.content {
            if !is_json(media.media_type) {
                continue;
            }
            if is_array(media.schema) {
                return Some(ListReturn {
                    bounded: media.schema.get("maxItems").is_some(),
                });
            }
            // A wrapper is a list only on a collection path, not on `/tasks/{id}`.
            let Some(own_name) = &own_name else {
                continue;
            };
            if let Some(list) = wrapped_list(doc, &media.pointer, media.schema, own_name, 0) {
                return Some(list);
            }
        }
    }
    None
}

fn wrapped_list(
    doc: &OpenApiDoc,
    pointer: &str,
    schema: &Value,
    own_name: &str,
    depth: usize,
) -> Option<ListReturn> {
    let properties = properties(doc, pointer, schema);
    let paginated = shows_pagination(doc, &properties);
    for (name, sub_pointer, sub) in &properties {
        let squashed = squash(name);
        if is_array(sub) && (WRAPPER_NAMES.contains(&squashed.as_str()) || squashed == own_name) {
            return Some(ListReturn {
                bounded: paginated || sub.get("maxItems").is_some(),
            });
        }
        if depth == 0 && squashed.ends_with("list") && has_type(sub, "object") {
            // Any array inside `topic_list` is the list.
            let inner = self::properties(doc, sub_pointer, sub);
            let inner_paginated = shows_pagination(doc, &inner);
            if let Some((_, _, array)) = inner.iter().find(|(_, _, s)| is_array(s)) {
                return Some(ListReturn {
                    bounded: paginated || inner_paginated || array.get("maxItems").is_some(),
                });
            }
        }
    }
    None
}

/// Query parameters that bound a list: `limit`, `page`, `per_page`, `cursor`, `offset`,
/// `starting_after`, `PageToken`, `$top`, and the `sync`/`since` tokens of change feeds.
fn is_pagination_parameter(name: &str) -> bool {
    let name = squash(name);
    [
        "limit",
        "offset",
        "page",
        "cursor",
        "skip",
        "continuation",
        "maxresults",
        "after",
        "before",
        "sync",
    ]
    .iter()
    .any(|word| name.contains(word))
        || matches!(
            name.as_str(),
            "first"
                | "last"
                | "size"
                | "top"
                | "count"
                | "max"
                | "marker"
                | "next"
                | "take"
                | "since"
        )
}

/// Last path segments of lists whose length the code fixes, not the data: `/hooks/types`,
/// `/builds/status`, `/plugin_runs/latest`.
const FIXED_LISTS: &[&str] = &["types", "kinds", "status", "statuses", "latest", "current"];

fn list_without_pagination(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations.iter().filter(|o| o.method == "get") {
        let fixed = last_literal(operation.path)
            .is_some_and(|name| FIXED_LISTS.contains(&squash(name).as_str()));
        if fixed {
            continue;
        }
        let Some(list) = returned_list(doc, operation) else {
            continue;
        };
        if list.bounded {
            continue;
        }
        let paginated = doc
            .parameters(operation)
            .iter()
            .any(|p| p.location == "query" && is_pagination_parameter(p.name));
        if !paginated {
            places.push(Place {
                pointer: operation.pointer(),
                message: format!(
                    "`{}` returns a list with no pagination parameter",
                    operation.display()
                ),
                label: format!("`{}`", operation.display()),
            });
        }
    }
    report_places(
        sink,
        doc,
        "list-without-pagination",
        places,
        "Add a bounded `limit` and a `cursor` (or `page`) query parameter, and return the next \
         cursor with each page, so that one request cannot read the whole table.",
        |n, first| {
            format!(
                "{n} list operations have no pagination parameter, starting with `{}`",
                first.label.trim_matches('`')
            )
        },
    );
}

/// Words that stay singular for a set (`/media`, `/feedback`), or are plurals without an `s`.
const NOT_COUNTABLE: &[&str] = &[
    "data",
    "metadata",
    "media",
    "info",
    "information",
    "feedback",
    "content",
    "history",
    "inventory",
    "staff",
    "software",
    "equipment",
    "people",
    "children",
    "men",
    "women",
    "criteria",
    "series",
    "species",
    "me",
    "self",
    "current",
    "audio",
    "music",
    "mail",
    "search",
    "auth",
    "health",
    "analytics",
    "billing",
    "storage",
    "config",
    "traffic",
    "news",
    "env",
];

fn is_singular(word: &str) -> bool {
    word.len() > 2
        && word.chars().all(|c| c.is_ascii_lowercase())
        && !word.ends_with('s')
        && !word.ends_with("ing")
        && !NOT_COUNTABLE.contains(&word)
}

/// A path is a collection when the document also has `path/{id}` under it and it either lists
/// (GET returns a list) or creates (POST); only then is a singular name a naming mistake rather
/// than a singleton (`/user` for "me") or an action.
fn collection_not_plural(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let shapes: HashSet<String> = operations.iter().map(|o| shape(o.path)).collect();
    let mut places = Vec::new();
    let mut done = HashSet::new();
    for operation in operations {
        if !done.insert(operation.path) {
            continue;
        }
        let Some(name) = last_literal(operation.path) else {
            continue;
        };
        if !shapes.contains(&format!("{}/{{}}", shape(operation.path))) {
            continue;
        }
        let same_path = operations.iter().filter(|o| o.path == operation.path);
        let is_collection = same_path
            .clone()
            .any(|o| o.method == "post" || (o.method == "get" && returned_list(doc, o).is_some()));
        let Some(word) = words(name).pop() else {
            continue;
        };
        if is_collection && is_singular(&word) {
            places.push(Place {
                pointer: operation.path_pointer(),
                message: format!(
                    "collection `{}` is named with a singular noun (`{word}`)",
                    operation.path
                ),
                label: format!("`{}`", operation.path),
            });
        }
    }
    report_places(
        sink,
        doc,
        "collection-not-plural",
        places,
        "Name collections with plural nouns (`/pets` and `/pets/{id}`), so that a path reads \
         as a set and one of its members.",
        |n, first| {
            format!(
                "{n} collections are named with a singular noun, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// api-not-versioned

/// `/v1`, `v2.api.example.com`, `/v1beta`, `/api/1.0`, `/2010-04-01`.
static VERSION_IN_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(^|[/.])v\d+(\.\d+)*(alpha\d*|beta\d*)?([/.-]|$)|/\d+\.\d+(/|$)|/\d{4}-\d{2}-\d{2}(/|$)",
    )
    .expect("valid regex")
});

/// `application/vnd.acme.v2+json`, `application/json; version=2`.
static VERSION_IN_MEDIA_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)version=|[.+-]v\d+([.+;-]|$)").expect("valid regex"));

/// Server URLs with their variables' defaults filled in, as `(pointer, url)`.
pub(super) fn server_urls(doc: &OpenApiDoc) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |base: String, servers: Option<&Value>| {
        let Some(servers) = servers.and_then(Value::as_array) else {
            return;
        };
        for (i, server) in servers.iter().enumerate() {
            let Some(url) = server.get("url").and_then(Value::as_str) else {
                continue;
            };
            let mut url = url.to_string();
            if let Some(variables) = server.get("variables").and_then(Value::as_object) {
                for (name, variable) in variables {
                    if let Some(default) = variable.get("default").and_then(Value::as_str) {
                        url = url.replace(&format!("{{{name}}}"), default);
                    }
                }
            }
            out.push((format!("{base}/{i}/url"), url));
        }
    };
    add("/servers".into(), doc.root.get("servers"));
    if let Some(paths) = doc.root.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let base = format!("/paths/{}", escape(path));
            add(format!("{base}/servers"), item.get("servers"));
            if let Some(item) = item.as_object() {
                for (method, operation) in item {
                    add(
                        format!("{base}/{}/servers", escape(method)),
                        operation.get("servers"),
                    );
                }
            }
        }
    }
    out
}

fn api_not_versioned(doc: &OpenApiDoc, sink: &mut Sink) {
    let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else {
        return;
    };
    if paths.is_empty() {
        return;
    }
    let in_servers = server_urls(doc)
        .iter()
        .any(|(_, url)| VERSION_IN_URL.is_match(url));
    let in_base = ["basePath", "host"].iter().any(|key| {
        doc.root
            .get(*key)
            .and_then(Value::as_str)
            .is_some_and(|text| VERSION_IN_URL.is_match(&format!("/{text}")))
    });
    let in_paths = paths.keys().any(|path| VERSION_IN_URL.is_match(path));
    if in_servers || in_base || in_paths || versioned_elsewhere(doc) {
        return;
    }
    let pointer = ["/servers", "/basePath", "/host", "/paths"]
        .into_iter()
        .find(|p| doc.get(p).is_some())
        .unwrap_or("/paths");
    let finding = Sink::finding(
        "api-not-versioned",
        doc.file,
        doc.span(pointer),
        "the API carries no version in its server URLs, paths, media types or headers",
        "Put the major version in the base path (`/v1`), or version by media type or a dated \
         version header, so that a breaking change can ship beside the contract clients use.",
    )
    .with_pointer(pointer);
    sink.push(finding);
}

/// A version in a media type, a server variable, or a header or query parameter
/// (`OpenAI-Version`, `api-version`).
fn versioned_elsewhere(doc: &OpenApiDoc) -> bool {
    let mut found = false;
    visit_all(&doc.root, &mut |key, value| {
        if found {
            return;
        }
        match key {
            "content" => {
                if let Some(map) = value.as_object() {
                    found = map.keys().any(|m| VERSION_IN_MEDIA_TYPE.is_match(m));
                }
            }
            "produces" | "consumes" => {
                if let Some(list) = value.as_array() {
                    found = list
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|m| VERSION_IN_MEDIA_TYPE.is_match(m));
                }
            }
            "variables" => {
                if let Some(map) = value.as_object() {
                    found = map.keys().any(|name| squash(name).contains("version"));
                }
            }
            "parameters" => {
                let list: Vec<&Value> = match value {
                    Value::Array(list) => list.iter().collect(),
                    Value::Object(map) => map.values().collect(),
                    _ => Vec::new(),
                };
                found = list.iter().any(|p| {
                    let location = p.get("in").and_then(Value::as_str);
                    let name = p.get("name").and_then(Value::as_str).unwrap_or("");
                    matches!(location, Some("header" | "query")) && squash(name).contains("version")
                });
            }
            _ => {}
        }
    });
    found
}

/// Calls `visit(key, value)` for every member of every object in `value`.
fn visit_all<'a>(value: &'a Value, visit: &mut dyn FnMut(&'a str, &'a Value)) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                visit(key, member);
                visit_all(member, visit);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_all(item, visit);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// path-not-kebab-case, verb-in-path

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Case {
    Snake,
    Camel,
    Pascal,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Snake => "snake_case",
            Case::Camel => "camelCase",
            Case::Pascal => "PascalCase",
        }
    }
}

/// How a literal segment breaks kebab-case, if it does. The part before a `:` custom-method
/// suffix is what names the resource; `$metadata`-style system segments are left alone.
fn case_of(segment: &str) -> Option<Case> {
    let segment = segment.split(':').next().unwrap_or(segment);
    if segment.starts_with(['$', '@', '~', '.']) {
        return None;
    }
    if segment.chars().any(|c| c.is_ascii_uppercase()) {
        let first_upper = segment
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase());
        return Some(if first_upper {
            Case::Pascal
        } else {
            Case::Camel
        });
    }
    segment.contains('_').then_some(Case::Snake)
}

fn path_not_kebab_case(doc: &OpenApiDoc, sink: &mut Sink) {
    let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else {
        return;
    };
    let mut by_case: Vec<(Case, Vec<Place>)> = Vec::new();
    for path in paths.keys() {
        let offending = segments(path)
            .into_iter()
            .find_map(|segment| match segment {
                Segment::Literal(text) => case_of(text).map(|case| (text, case)),
                Segment::Template => None,
            });
        let Some((segment, case)) = offending else {
            continue;
        };
        let place = Place {
            pointer: format!("/paths/{}", escape(path)),
            message: format!(
                "path `{path}` has a {} segment (`{segment}`) where kebab-case is expected",
                case.name()
            ),
            label: format!("`{path}`"),
        };
        match by_case.iter_mut().find(|(c, _)| *c == case) {
            Some((_, places)) => places.push(place),
            None => by_case.push((case, vec![place])),
        }
    }
    for (case, places) in by_case {
        report_places(
            sink,
            doc,
            "path-not-kebab-case",
            places,
            "Spell literal path segments in lowercase kebab-case (`/custom-fields`, \
             `/order-items`): URLs are case-sensitive, and one convention spares clients from \
             guessing.",
            |n, first| {
                format!(
                    "{n} paths have {} segments where kebab-case is expected, starting with {}",
                    case.name(),
                    first.label
                )
            },
        );
    }
}

/// Verbs that only repeat what the HTTP method says. State-changing actions (`cancel`,
/// `approve`, `publish`), `login`/`logout`, `search`, `upload` and `export` name something
/// the methods cannot say, and are not listed.
const CRUD_VERBS: &[&str] = &[
    "get", "list", "fetch", "find", "retrieve", "create", "add", "insert", "update", "edit",
    "modify", "set", "delete", "remove", "destroy",
];

/// Of [`CRUD_VERBS`], those that are also common nouns when they stand alone (`/list`, `/set`).
const NOUN_ALONE: &[&str] = &["list", "set"];

/// The CRUD verb a literal segment starts with: `findByStatus` → `find`, `/delete` → `delete`;
/// `addresses`, `AddOnResults` (an add-on) and `settings` are not verbs.
fn crud_verb(segment: &str) -> Option<String> {
    let segment = segment.split(':').next().unwrap_or(segment);
    let words = words(segment);
    let first = words.first()?;
    if !CRUD_VERBS.contains(&first.as_str()) {
        return None;
    }
    if words.len() == 1 && NOUN_ALONE.contains(&first.as_str()) {
        return None;
    }
    if words
        .get(1)
        .is_some_and(|w| w == "on" || w == "ons" || w == "up")
    {
        return None;
    }
    Some(first.clone())
}

fn verb_in_path(doc: &OpenApiDoc, sink: &mut Sink) {
    let Some(paths) = doc.root.get("paths").and_then(Value::as_object) else {
        return;
    };
    let mut places = Vec::new();
    for path in paths.keys() {
        let found = segments(path)
            .into_iter()
            .find_map(|segment| match segment {
                Segment::Literal(text) => crud_verb(text).map(|verb| (text, verb)),
                Segment::Template => None,
            });
        if let Some((segment, verb)) = found {
            places.push(Place {
                pointer: format!("/paths/{}", escape(path)),
                message: format!(
                    "path `{path}` has the verb `{verb}` in a segment (`{segment}`), repeating \
                     what the HTTP method says"
                ),
                label: format!("`{path}`"),
            });
        }
    }
    report_places(
        sink,
        doc,
        "verb-in-path",
        places,
        "Name the resource and let the method say the action: `GET /pets?status=sold` rather \
         than `GET /pets/findByStatus`, `POST /tasks/{id}/projects` rather than \
         `POST /tasks/{id}/addProject`.",
        |n, first| {
            format!(
                "{n} paths have a CRUD verb in a segment, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Responses

fn responses_pointer(doc: &OpenApiDoc, operation: &Operation<'_>) -> String {
    let pointer = format!("{}/responses", operation.pointer());
    if doc.get(&pointer).is_some() {
        pointer
    } else {
        operation.pointer()
    }
}

fn missing_error_responses(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations {
        let documented = operation
            .value
            .get("responses")
            .and_then(Value::as_object)
            .is_some_and(|map| map.keys().any(|status| is_error_status(status)));
        if !documented {
            places.push(Place {
                pointer: responses_pointer(doc, operation),
                message: format!("`{}` documents no error response", operation.display()),
                label: format!("`{}`", operation.display()),
            });
        }
    }
    report_places(
        sink,
        doc,
        "missing-error-responses",
        places,
        "Document the errors the operation returns (at least the 4xx a client can cause, or a \
         `default` response) with their body schema, so that clients can handle them.",
        |n, first| {
            format!(
                "{n} operations document no error response (no 4xx, 5xx or `default`), starting \
                 with {}",
                first.label
            )
        },
    );
}

/// One error response's body, for comparing shapes across the document.
struct ErrorBody {
    pointer: String,
    label: String,
    /// What makes two bodies the same shape: the shared schema (or its `allOf` base), or for an
    /// inline schema its property names.
    identity: String,
    /// How to call the shape in a message.
    name: String,
}

fn error_body(doc: &OpenApiDoc, media: &Media<'_>) -> (String, String) {
    let base = media
        .schema
        .get("allOf")
        .and_then(Value::as_array)
        .and_then(|parts| {
            parts.iter().find_map(|part| {
                let reference = part.get("$ref")?.as_str()?.strip_prefix('#')?;
                Some(reference.to_string())
            })
        });
    let pointer = base.unwrap_or_else(|| media.pointer.clone());
    if let Some(name) = schema_name(&pointer) {
        return (pointer.clone(), format!("`{name}`"));
    }
    let mut names: Vec<&str> = properties(doc, &media.pointer, media.schema)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    names.sort_unstable();
    if names.is_empty() {
        let kind = media
            .schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("untyped");
        return (format!("inline:{kind}"), format!("an inline {kind} schema"));
    }
    let listed: Vec<String> = names.iter().take(4).map(|n| format!("`{n}`")).collect();
    (
        format!("inline:{}", names.join(",")),
        format!("an inline schema with {}", listed.join(", ")),
    )
}

fn is_problem_json(media_type: &str) -> bool {
    media_type
        .to_ascii_lowercase()
        .starts_with("application/problem+")
}

/// Error bodies are fine when they share one shape (or are `application/problem+json`, the
/// standard one). Reported: the shapes other than the most used one, once per shape; and a
/// document whose error responses never describe a body at all.
fn non_standard_error_shape(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut bodies: Vec<ErrorBody> = Vec::new();
    let mut first_error: Option<String> = None;
    let mut error_count = 0;
    let mut with_body = 0;
    for operation in operations {
        for response in doc.responses(operation) {
            if !is_error_status(response.status) {
                continue;
            }
            error_count += 1;
            if first_error.is_none() {
                first_error = Some(response.pointer.clone());
            }
            if !response.content.is_empty() {
                with_body += 1;
            }
            if response
                .content
                .iter()
                .any(|m| is_problem_json(m.media_type))
            {
                continue;
            }
            let Some(media) = response.content.iter().find(|m| is_json(m.media_type)) else {
                continue;
            };
            let (identity, name) = error_body(doc, media);
            bodies.push(ErrorBody {
                pointer: response.pointer.clone(),
                label: format!("`{}` {}", operation.display(), response.status),
                identity,
                name,
            });
        }
    }
    if error_count > 0 && with_body == 0 {
        if let Some(pointer) = first_error {
            let finding = Sink::finding(
                "non-standard-error-shape",
                doc.file,
                doc.span(&pointer),
                format!(
                    "none of the {error_count} error responses describes a body, so clients \
                     cannot read what went wrong"
                ),
                "Describe one error body for the whole API, preferably `application/problem+json` \
                 (RFC 9457) with `type`, `title`, `status` and `detail`, and reference it from \
                 every error response.",
            )
            .with_pointer(String::new());
            sink.push(finding);
        }
        return;
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for body in &bodies {
        let count = counts.entry(&body.identity).or_insert(0);
        if *count == 0 {
            order.push(&body.identity);
        }
        *count += 1;
    }
    let Some(dominant) = order.iter().copied().max_by(|a, b| {
        counts[a]
            .cmp(&counts[b])
            // Ties go to the shape seen first.
            .then_with(|| {
                let position = |x: &&str| order.iter().position(|o| o == x);
                position(b).cmp(&position(a))
            })
    }) else {
        return;
    };
    let usual = bodies
        .iter()
        .find(|b| b.identity == dominant)
        .expect("the dominant shape has a body");
    for identity in order.iter().filter(|i| **i != dominant) {
        let first = bodies
            .iter()
            .find(|b| b.identity == *identity)
            .expect("each shape has a body");
        let others = counts[identity] - 1;
        let also = match others {
            0 => String::new(),
            1 => ", as does 1 other error response".to_string(),
            n => format!(", as do {n} other error responses"),
        };
        let finding = Sink::finding(
            "non-standard-error-shape",
            doc.file,
            doc.span(&first.pointer),
            format!(
                "{} describes its error with {}, unlike the {} error responses that use {}{also}",
                first.label, first.name, counts[dominant], usual.name
            ),
            "Use one error schema across the API, preferably `application/problem+json` (RFC \
             9457); extend it with `allOf` where an error needs more fields.",
        )
        .with_related(doc.file, doc.span(&usual.pointer), "the usual error shape")
        .with_pointer(first.pointer.clone());
        sink.push(finding);
    }
}

fn missing_429_response(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations {
        let documented = operation
            .value
            .get("responses")
            .and_then(Value::as_object)
            .is_some_and(|map| map.contains_key("429") || map.contains_key("4XX"));
        if !documented {
            places.push(Place {
                pointer: responses_pointer(doc, operation),
                message: format!(
                    "`{}` documents no `429 Too Many Requests` response",
                    operation.display()
                ),
                label: format!("`{}`", operation.display()),
            });
        }
    }
    report_places(
        sink,
        doc,
        "missing-429-response",
        places,
        "Rate-limit the API (most strictly on login, token and password endpoints) and document \
         the `429` response with a `Retry-After` header.",
        |n, first| {
            format!(
                "{n} operations document no `429 Too Many Requests` response, starting with {}",
                first.label
            )
        },
    );
}

/// Headers that tell a client when it may retry.
fn is_retry_header(name: &str) -> bool {
    let name = squash(name);
    name == "retryafter" || (name.contains("ratelimit") && name.contains("reset"))
}

fn missing_retry_after(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations {
        for response in doc.responses(operation) {
            if response.status != "429" {
                continue;
            }
            let told = response
                .value
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|headers| headers.keys().any(|h| is_retry_header(h)));
            if !told {
                places.push(Place {
                    pointer: response.pointer.clone(),
                    message: format!(
                        "the `429` response of `{}` has no `Retry-After` header",
                        operation.display()
                    ),
                    label: format!("`{}`", operation.display()),
                });
            }
        }
    }
    report_places(
        sink,
        doc,
        "missing-retry-after",
        places,
        "Add a `Retry-After` header (or `RateLimit-Reset`) to the `429` response, so that \
         clients back off for as long as needed instead of retrying at once.",
        |n, first| {
            format!(
                "{n} `429` responses have no `Retry-After` header, starting with the one of {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Operation ids and descriptions

fn operation_ids(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut missing = Vec::new();
    let mut first_use: HashMap<&str, &Operation<'_>> = HashMap::new();
    for operation in operations {
        let id = operation.operation_id().map(str::trim).unwrap_or("");
        if id.is_empty() {
            missing.push(Place {
                pointer: operation.pointer(),
                message: format!("`{}` has no `operationId`", operation.display()),
                label: format!("`{}`", operation.display()),
            });
            continue;
        }
        match first_use.get(id) {
            None => {
                first_use.insert(id, operation);
            }
            Some(first) => {
                let pointer = format!("{}/operationId", operation.pointer());
                let finding = Sink::finding(
                    "duplicate-operation-id",
                    doc.file,
                    doc.span(&pointer),
                    format!(
                        "`{}` has the `operationId` `{id}`, already used by `{}`",
                        operation.display(),
                        first.display()
                    ),
                    "Give every operation its own `operationId`: code generators name methods \
                     after it, and links and tools address operations by it.",
                )
                .with_related(
                    doc.file,
                    doc.span(&format!("{}/operationId", first.pointer())),
                    "first used here",
                )
                .with_pointer(pointer);
                sink.push(finding);
            }
        }
    }
    report_places(
        sink,
        doc,
        "missing-operation-id",
        missing,
        "Give the operation a unique, stable `operationId` (`listTasks`, `createTask`): client \
         generators name their methods after it.",
        |n, first| {
            format!(
                "{n} operations have no `operationId`, starting with {}",
                first.label
            )
        },
    );
}

fn has_text(value: &Value, key: &str) -> bool {
    value
        .get(key)
        .and_then(Value::as_str)
        .is_some_and(|text| !text.trim().is_empty())
}

fn missing_operation_description(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let places = operations
        .iter()
        .filter(|o| !has_text(o.value, "summary") && !has_text(o.value, "description"))
        .map(|operation| Place {
            pointer: operation.pointer(),
            message: format!(
                "`{}` has neither a summary nor a description",
                operation.display()
            ),
            label: format!("`{}`", operation.display()),
        })
        .collect();
    report_places(
        sink,
        doc,
        "missing-operation-description",
        places,
        "Add a one-line `summary` (and a `description` for anything not obvious from it): it \
         is what the API reference and generated clients show.",
        |n, first| {
            format!(
                "{n} operations have neither a summary nor a description, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// unbounded-string, unbounded-array

/// Formats whose values have a length bounded by their definition (a date, a UUID, an address),
/// and `binary`/`byte` bodies, which a request size limit bounds rather than `maxLength`.
const BOUNDED_FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "duration",
    "uuid",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "int32",
    "int64",
    "binary",
    "byte",
];

/// A pattern bounds the length when it is anchored at both ends and repeats nothing without a
/// limit (`^[a-z]{2,8}$`, not `^[a-z]+$`).
fn pattern_bounds_length(pattern: &str) -> bool {
    static UNBOUNDED_REPEAT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[*+]|\{\d*,\}").expect("valid regex"));
    pattern.starts_with('^') && pattern.ends_with('$') && !UNBOUNDED_REPEAT.is_match(pattern)
}

fn string_is_bounded(schema: &Value) -> bool {
    schema.get("maxLength").is_some()
        || schema.get("enum").is_some()
        || schema.get("const").is_some()
        || schema
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| BOUNDED_FORMATS.contains(&f.to_ascii_lowercase().as_str()))
        || schema
            .get("pattern")
            .and_then(Value::as_str)
            .is_some_and(pattern_bounds_length)
}

/// Walks each write operation's request body once per shared schema, reporting strings with
/// no `maxLength` and arrays with no `maxItems`. Read-only properties are not sent by clients.
fn unbounded_request_values(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut strings = Vec::new();
    let mut arrays = Vec::new();
    let mut walked = HashSet::new();
    for operation in operations.iter().filter(|o| o.method != "get") {
        for media in doc.request_bodies(operation) {
            if !is_structured_body(media.media_type) || !walked.insert(media.pointer.clone()) {
                continue;
            }
            let display = operation.display();
            doc.walk_schema(
                media.pointer.clone(),
                media.schema,
                &mut |pointer, schema, _| {
                    if is_true(schema, "readOnly") {
                        return;
                    }
                    let field = field_name(pointer);
                    if has_type(schema, "string") && !string_is_bounded(schema) {
                        strings.push(Place {
                            pointer: pointer.to_string(),
                            message: format!(
                                "string `{field}` in the request body of `{display}` has no \
                             `maxLength`"
                            ),
                            label: format!("`{field}` of `{display}`"),
                        });
                    }
                    // An array of enum values (event names to subscribe to) costs next to nothing
                    // per element, and a client has no reason to repeat them.
                    let of_enum = schema
                        .get("items")
                        .map(|items| doc.resolve(String::new(), items).1)
                        .is_some_and(|items| items.get("enum").is_some());
                    if is_array(schema) && schema.get("maxItems").is_none() && !of_enum {
                        arrays.push(Place {
                            pointer: pointer.to_string(),
                            message: format!(
                                "array `{field}` in the request body of `{display}` has no \
                             `maxItems`"
                            ),
                            label: format!("`{field}` of `{display}`"),
                        });
                    }
                },
            );
        }
    }
    report_places(
        sink,
        doc,
        "unbounded-string",
        strings,
        "Give the string a `maxLength` that fits its column and use (or an `enum`, or a \
         `format` such as `uuid` or `date-time`), and enforce it before the value is stored.",
        |n, first| {
            format!(
                "{n} strings in request bodies have no `maxLength`, starting with {}",
                first.label
            )
        },
    );
    report_places(
        sink,
        doc,
        "unbounded-array",
        arrays,
        "Give the array a `maxItems` the server enforces, so that one request cannot make it \
         do unbounded work.",
        |n, first| {
            format!(
                "{n} arrays in request bodies have no `maxItems`, starting with {}",
                first.label
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// numeric-id-enumeration

/// `id`, `user_id`, `user-id`, `userId`, `userID`; not `notanid` or `paid`.
pub(super) fn is_id_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == "id"
        || lower.ends_with("_id")
        || lower.ends_with("-id")
        || ((name.ends_with("Id") || name.ends_with("ID"))
            && name.len() > 2
            && name[..name.len() - 2]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

fn numeric_id_enumeration(doc: &OpenApiDoc, operations: &[Operation<'_>], sink: &mut Sink) {
    let mut places = Vec::new();
    for operation in operations {
        for parameter in doc.parameters(operation) {
            if parameter.location != "path" || !is_id_name(parameter.name) {
                continue;
            }
            let Some((_, schema)) = &parameter.schema else {
                continue;
            };
            if has_type(schema, "integer") {
                places.push(Place {
                    pointer: format!("{}/name", parameter.pointer),
                    message: format!(
                        "path parameter `{}` of `{}` is an integer, so other objects' ids can \
                         be guessed by counting",
                        parameter.name, operation.path
                    ),
                    label: format!("`{}` of `{}`", parameter.name, operation.path),
                });
            }
        }
    }
    report_places(
        sink,
        doc,
        "numeric-id-enumeration",
        places,
        "Expose random identifiers (UUIDs, or another unguessable string) in URLs, and check on \
         every request that the caller may access the object whatever its id.",
        |n, first| {
            format!(
                "{n} path parameters that identify objects are integers, starting with {}",
                first.label
            )
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_every_case() {
        assert_eq!(words("findByStatus"), ["find", "by", "status"]);
        assert_eq!(words("custom_fields"), ["custom", "fields"]);
        assert_eq!(words("AddOnResults"), ["add", "on", "results"]);
        assert_eq!(words("HTMLPage"), ["html", "page"]);
        assert_eq!(words("order-items"), ["order", "items"]);
    }

    #[test]
    fn segments_drop_format_extensions_and_templates() {
        assert_eq!(
            segments("/2010-04-01/Accounts/{Sid}.json"),
            [
                Segment::Literal("2010-04-01"),
                Segment::Literal("Accounts"),
                Segment::Template
            ]
        );
        assert_eq!(shape("/pets/{petId}.json"), "/pets/{}");
        assert_eq!(last_literal("/api/1.0/tags"), Some("tags"));
    }

    #[test]
    fn crud_verbs_are_told_from_nouns() {
        assert_eq!(crud_verb("findByStatus").as_deref(), Some("find"));
        assert_eq!(crud_verb("delete").as_deref(), Some("delete"));
        assert_eq!(crud_verb("addProject").as_deref(), Some("add"));
        for noun in [
            "addresses",
            "AddOnResults",
            "settings",
            "list",
            "login",
            "cancel",
        ] {
            assert_eq!(crud_verb(noun), None, "{noun}");
        }
    }

    #[test]
    fn versions_are_found_in_urls() {
        for url in [
            "https://api.example.com/v1",
            "https://app.asana.com/api/1.0",
            "/2010-04-01/Accounts.json",
            "https://v2.api.example.com",
            "/api/v1beta/things",
        ] {
            assert!(VERSION_IN_URL.is_match(url), "{url}");
        }
        for url in ["https://api.example.com", "/dev/v1x", "/providers"] {
            assert!(!VERSION_IN_URL.is_match(url), "{url}");
        }
    }

    #[test]
    fn id_names_follow_the_owasp_ruleset() {
        for name in ["id", "user_id", "hyphen-id", "camelId", "petID"] {
            assert!(is_id_name(name), "{name}");
        }
        for name in ["notanid", "paid", "Id2", "Identity"] {
            assert!(!is_id_name(name), "{name}");
        }
    }

    #[test]
    fn patterns_bound_length_only_without_open_repeats() {
        assert!(pattern_bounds_length("^[a-z]{2,8}$"));
        assert!(!pattern_bounds_length("^[a-z]+$"));
        assert!(!pattern_bounds_length("^[a-z]{2,}$"));
        assert!(!pattern_bounds_length("[a-z]{2}"));
    }

    #[test]
    fn field_names_read_from_pointers() {
        assert_eq!(
            field_name("/components/schemas/Task/properties/tags/items"),
            "tags[]"
        );
        assert_eq!(
            field_name("/components/schemas/Task/properties/name"),
            "name"
        );
        assert_eq!(
            field_name("/paths/~1a/post/requestBody/content/x/schema"),
            "body"
        );
    }

    fn findings(yaml: &str) -> Vec<crate::Finding> {
        let workspace = crate::load_sources(vec![("openapi.yaml".into(), yaml.into())]);
        let mut sink = Sink::default();
        check(&workspace, &mut sink);
        sink.into_findings()
    }

    #[test]
    fn a_gap_across_the_api_is_one_finding() {
        let mut yaml = String::from("openapi: 3.0.3\npaths:\n");
        for i in 0..12 {
            yaml.push_str(&format!(
                "  /things{i}:\n    get:\n      summary: s\n      responses:\n        '200': {{description: ok}}\n"
            ));
        }
        let missing: Vec<_> = findings(&yaml)
            .into_iter()
            .filter(|f| f.rule == "missing-operation-id")
            .collect();
        assert_eq!(missing.len(), 1);
        assert!(missing[0]
            .message
            .starts_with("12 operations have no `operationId`"));
        assert_eq!(missing[0].related.len(), RELATED_SHOWN);
        assert_eq!(missing[0].pointer.as_deref(), Some(""));
    }

    #[test]
    fn a_meta_object_with_offsets_shows_pagination() {
        let yaml = "openapi: 3.0.3\npaths:\n  /members:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                properties:\n                  members: {type: array, items: {type: string}}\n                  meta: {type: object, properties: {offset: {type: integer}}}\n";
        assert!(!findings(yaml)
            .iter()
            .any(|f| f.rule == "list-without-pagination"));
        let unpaged = yaml.replace("offset", "generated_at");
        assert!(findings(&unpaged)
            .iter()
            .any(|f| f.rule == "list-without-pagination"));
    }
}
