//! Rules of the `cross-artifact` category: an OpenAPI document read together with the tables of
//! the SQL files and schemas given alongside it. They find what no single-file linter can: an API
//! filter with no index behind it, an API field with no column, a secret column in a response,
//! an unauthenticated write to a table whose rows belong to someone.
//!
//! API resources are matched to tables by name: a path's last literal segments
//! (`/api/v1/order-items/{id}` → `order-items`) or a response schema's name (`OrderItem`,
//! `OrderItemResponse`) against table names (`order_items`, `OrderItem`), compared lowercase,
//! without `_`/`-`, and singular. Nothing is reported for a resource that matches no table.

use super::schema::{secret_kind, SecretKind};
use crate::catalog::{Column, Table, TableSource};
use crate::input::openapi::{OpenApiDoc, Operation};
use crate::registry::{Category, RuleInfo};
use crate::{Sink, Workspace};
use plinth_diagnostics::Severity;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "filter-without-index",
        severity: Severity::Warning,
        category: Category::CrossArtifact,
        summary: "a list operation filters or sorts by a column that no index starts with",
    },
    RuleInfo {
        id: "api-field-without-column",
        severity: Severity::Warning,
        category: Category::CrossArtifact,
        summary: "a property of a resource's response schema has no column in its table",
    },
    RuleInfo {
        id: "secret-column-exposed",
        severity: Severity::Error,
        category: Category::CrossArtifact,
        summary: "a response returns a column that holds a credential or that the schema hides",
    },
    RuleInfo {
        id: "unauthenticated-write-on-owned-table",
        severity: Severity::Error,
        category: Category::CrossArtifact,
        summary: "a write operation without security changes a table whose rows have an owner",
    },
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    if workspace.openapi.is_empty() || workspace.catalog.tables.is_empty() {
        return;
    }
    let entities = Entities::new(workspace);
    if entities.by_key.is_empty() {
        return;
    }
    for doc in &workspace.openapi {
        let operations = doc.operations();
        filter_without_index(doc, &operations, &entities, sink);
        let candidates = response_schemas(doc, &operations, &entities);
        api_field_without_column(doc, &candidates, &entities, sink);
        secret_column_exposed(doc, &candidates, sink);
        unauthenticated_write(doc, &operations, &entities, sink);
    }
}

// ---------------------------------------------------------------------------------------------
// Matching names

/// Lowercase letters and digits only: `order_items`, `OrderItems`, `order-items` → `orderitems`.
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A simple English singular of a squashed name: `categories` → `category`, `addresses` →
/// `address`, `tasks` → `task`; `status`, `address` and `analysis` stay.
fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        if !stem.is_empty() {
            return format!("{stem}y");
        }
    }
    for suffix in ["sses", "xes", "ches", "shes", "zes", "uses"] {
        if name.ends_with(suffix) {
            return name[..name.len() - 2].to_string();
        }
    }
    if name.ends_with('s')
        && !name.ends_with("ss")
        && !name.ends_with("us")
        && !name.ends_with("is")
    {
        return name[..name.len() - 1].to_string();
    }
    name.to_string()
}

fn key(name: &str) -> String {
    singular(&squash(name))
}

/// A schema name without the suffixes DTOs carry: `TaskResponse`, `TaskDto` → `Task`.
fn schema_key(name: &str) -> String {
    let squashed = squash(name);
    for suffix in [
        "response", "dto", "output", "out", "read", "public", "details", "detail", "resource",
        "model", "entity", "schema", "view",
    ] {
        if let Some(stem) = squashed.strip_suffix(suffix) {
            if stem.len() >= 2 {
                return singular(stem);
            }
        }
    }
    singular(&squashed)
}

/// One resource's tables: a table name may be defined by a SQL file and a schema both.
struct Entity<'a> {
    tables: Vec<&'a Table>,
    /// Squashed column names (and, for schema tables, field names) → the column.
    columns: HashMap<String, (&'a Column, &'a Table)>,
    /// Squashed names that stand for a related row: relation fields, foreign keys without
    /// their `_id`.
    relations: HashSet<String>,
    /// Squashed column names the schema marks `@omit` or `@password`.
    hidden: HashSet<String>,
}

impl Entity<'_> {
    fn name(&self) -> &str {
        self.tables.first().map_or("", |t| t.name.as_str())
    }

    fn has_index_on(&self, column: &str) -> bool {
        let columns = [column.to_string()];
        self.tables.iter().any(|t| t.has_index_on(&columns))
    }
}

struct Entities<'a> {
    by_key: HashMap<String, Entity<'a>>,
}

impl<'a> Entities<'a> {
    fn new(workspace: &'a Workspace) -> Entities<'a> {
        let mut by_key: HashMap<String, Entity<'a>> = HashMap::new();
        for table in &workspace.catalog.tables {
            // Prisma's implicit many-to-many tables are not resources.
            if table.source == TableSource::Schema && table.name.starts_with('_') {
                continue;
            }
            let entity = by_key.entry(key(&table.name)).or_insert_with(|| Entity {
                tables: Vec::new(),
                columns: HashMap::new(),
                relations: HashSet::new(),
                hidden: HashSet::new(),
            });
            entity.tables.push(table);
            for column in &table.columns {
                entity
                    .columns
                    .entry(squash(&column.name))
                    .or_insert((column, table));
            }
            for foreign_key in &table.foreign_keys {
                for column in &foreign_key.columns {
                    let squashed = squash(column);
                    if let Some(stem) = squashed.strip_suffix("id").filter(|s| !s.is_empty()) {
                        entity.relations.insert(stem.to_string());
                    }
                }
            }
            if table.source == TableSource::Schema {
                add_model_names(workspace, table, entity);
            }
        }
        Entities { by_key }
    }

    fn get(&self, key: &str) -> Option<&Entity<'a>> {
        self.by_key.get(key)
    }

    /// The table behind a path: its last literal segment, once trailing parameters are set
    /// aside (`/users/{id}/orders` → `orders`, `/api/v1/order-items/{id}` → `order-items`). A
    /// path that ends in an action or a sub-resource (`/user/login`, `/tasks/events`) names
    /// no table.
    fn for_path(&self, path: &str) -> Option<&Entity<'a>> {
        let segment = path
            .split('/')
            .filter(|s| !s.is_empty())
            .rev()
            .find(|s| !s.contains('{'))?;
        let stem = segment.split('.').next().unwrap_or(segment);
        self.get(&key(stem))
    }
}

/// For a table made from a model: its field names (the API's names when `@map` renames the
/// column), its relation fields, and the fields it never returns.
fn add_model_names<'a>(workspace: &'a Workspace, table: &'a Table, entity: &mut Entity<'a>) {
    let Some(doc) = workspace
        .schemas
        .iter()
        .find(|d| d.file == table.origin.file)
    else {
        return;
    };
    let Some(model) = doc.schema.models.iter().find(|m| m.db_name == table.name) else {
        return;
    };
    for field in &model.fields {
        if field.is_relation() {
            entity.relations.insert(squash(&field.name));
            continue;
        }
        if let Some(column) = table.column(&field.db_name) {
            entity
                .columns
                .entry(squash(&field.name))
                .or_insert((column, table));
        }
        if field.is_omitted || field.is_password {
            entity.hidden.insert(squash(&field.db_name));
            entity.hidden.insert(squash(&field.name));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// filter-without-index

/// Query parameters that page, shape or search a list rather than filter it by a column.
const NOT_FILTERS: &[&str] = &[
    "limit",
    "offset",
    "page",
    "perpage",
    "pagesize",
    "size",
    "cursor",
    "after",
    "before",
    "startingafter",
    "endingbefore",
    "fields",
    "include",
    "expand",
    "select",
    "q",
    "query",
    "search",
    "format",
    "lang",
    "locale",
];

const SORT_PARAMETERS: &[&str] = &["sort", "sortby", "orderby", "ordering", "order"];

/// The column a filter parameter names: `status`, `status[gte]`, `filter[status]`,
/// `status__in`.
fn filtered_name(name: &str) -> &str {
    if let Some((outer, rest)) = name.split_once('[') {
        let inner = rest.split(']').next().unwrap_or("");
        if matches!(squash(outer).as_str(), "filter" | "filters" | "where") && !inner.is_empty() {
            return inner;
        }
        return outer;
    }
    name.split("__").next().unwrap_or(name)
}

fn filter_without_index(
    doc: &OpenApiDoc,
    operations: &[Operation<'_>],
    entities: &Entities<'_>,
    sink: &mut Sink,
) {
    let mut reported: HashSet<(String, String)> = HashSet::new();
    for operation in operations {
        let is_list = operation.method == "get"
            && operation
                .path
                .rsplit('/')
                .find(|s| !s.is_empty())
                .is_some_and(|s| !s.contains('{'));
        if !is_list {
            continue;
        }
        let Some(entity) = entities.for_path(operation.path) else {
            continue;
        };
        // (column, parameter pointer, what the API does with it)
        let mut filters: Vec<(&Column, String, &'static str)> = Vec::new();
        let mut sorts: Vec<(&Column, String, &'static str)> = Vec::new();
        for parameter in doc.parameters(operation) {
            if parameter.location != "query" {
                continue;
            }
            let squashed = squash(parameter.name);
            if SORT_PARAMETERS.contains(&squashed.as_str()) {
                for value in sort_values(doc, &parameter) {
                    if let Some((column, _)) = entity.columns.get(&squash(&value)) {
                        if !sorts.iter().any(|(c, _, _)| c.name == column.name) {
                            sorts.push((column, format!("{}/name", parameter.pointer), "sorts by"));
                        }
                    }
                }
                continue;
            }
            let name = filtered_name(parameter.name);
            if NOT_FILTERS.contains(&squash(name).as_str()) {
                continue;
            }
            if let Some((column, _)) = entity.columns.get(&squash(name)) {
                if !filters.iter().any(|(c, _, _)| c.name == column.name) {
                    filters.push((column, format!("{}/name", parameter.pointer), "filters on"));
                }
            }
        }
        let total = entity
            .tables
            .iter()
            .map(|t| t.columns.len())
            .max()
            .unwrap_or(0);
        // A filter (or sort) on nearly every column is a generic facility, as generated CRUD
        // APIs offer: which of them clients use cannot be told from the document.
        let generic = |n: usize| n >= 4 && n * 2 >= total;
        for group in [filters, sorts] {
            if generic(group.len()) {
                continue;
            }
            for (column, pointer, verb) in group {
                if entity.has_index_on(&column.name) {
                    continue;
                }
                if !reported.insert((entity.name().to_string(), column.name.clone())) {
                    continue;
                }
                let table = entity.name();
                let mut finding = Sink::finding(
                    "filter-without-index",
                    doc.file,
                    doc.span(&pointer),
                    format!(
                        "`{}` {verb} `{}`, but no index of `{table}` starts with it",
                        operation.display(),
                        column.name
                    ),
                    format!(
                        "Add an index on `{table}` that starts with `{}` (or with the columns \
                         this list is always filtered by, then `{}`), or drop the parameter.",
                        column.name, column.name
                    ),
                )
                .with_pointer(pointer);
                finding = finding.with_related(
                    column.origin.file,
                    column.origin.span,
                    format!("`{table}.{}` is defined here", column.name),
                );
                sink.push(finding);
            }
        }
    }
}

/// The column names a sort parameter accepts, from its enum (`created_at`, `-created_at`,
/// `created_at:desc`).
fn sort_values(doc: &OpenApiDoc, parameter: &crate::input::openapi::Parameter<'_>) -> Vec<String> {
    let Some((pointer, schema)) = &parameter.schema else {
        return Vec::new();
    };
    let (_, schema) = doc.resolve(pointer.clone(), schema);
    let items = schema
        .get("items")
        .map(|items| doc.resolve(String::new(), items).1);
    let values = schema
        .get("enum")
        .or_else(|| items.and_then(|i| i.get("enum")))
        .and_then(Value::as_array);
    values
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|value| {
            value
                .trim_start_matches(['-', '+'])
                .split([':', ' ', '.'])
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|value| !value.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Response schemas of resources

/// A response schema that describes rows of a table.
struct Candidate<'e, 'a> {
    pointer: String,
    schema: &'a Value,
    /// The schema's name (`Task`), or the operation for an inline schema.
    label: String,
    entity: &'e Entity<'a>,
}

/// The schemas that `GET` responses return and that match a table, by the schema's name or by
/// the operation's path. Each is listed once.
fn response_schemas<'e, 'a>(
    doc: &'a OpenApiDoc,
    operations: &[Operation<'a>],
    entities: &'e Entities<'a>,
) -> Vec<Candidate<'e, 'a>> {
    let mut candidates: Vec<Candidate<'e, 'a>> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut stack: Vec<(String, &'a Value)> = Vec::new();
    let mut item_schemas: Vec<(String, &'a Value, &Operation<'a>)> = Vec::new();
    for operation in operations.iter().filter(|o| o.method == "get") {
        for response in doc.responses(operation) {
            if !response.status.starts_with('2') {
                continue;
            }
            for media in response.content {
                if !media.media_type.contains("json") {
                    continue;
                }
                stack.push((media.pointer.clone(), media.schema));
                if let Some((pointer, schema)) =
                    unwrap_list(doc, media.pointer.clone(), media.schema)
                {
                    item_schemas.push((pointer, schema, operation));
                }
            }
        }
    }
    // Every named schema reachable from those responses, visited once.
    while let Some((pointer, schema)) = stack.pop() {
        let (pointer, schema) = doc.resolve(pointer, schema);
        if !seen.insert(pointer.clone()) {
            continue;
        }
        if let Some(name) = schema_name(&pointer) {
            if let Some(entity) = entities.get(&schema_key(name)) {
                candidates.push(Candidate {
                    pointer: pointer.clone(),
                    schema,
                    label: name.to_string(),
                    entity,
                });
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, sub) in properties {
                stack.push((format!("{pointer}/properties/{}", escape(name)), sub));
            }
        }
        for key in ["items", "additionalProperties"] {
            if let Some(sub) = schema.get(key).filter(|s| s.is_object()) {
                stack.push((format!("{pointer}/{key}"), sub));
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = schema.get(key).and_then(Value::as_array) {
                for (i, sub) in list.iter().enumerate() {
                    stack.push((format!("{pointer}/{key}/{i}"), sub));
                }
            }
        }
    }
    // Item schemas the path names but the schema name does not (`Todo` rows of `tasks`, or an
    // inline object).
    for (pointer, schema, operation) in item_schemas {
        if candidates.iter().any(|c| c.pointer == pointer) {
            continue;
        }
        if schema.get("properties").is_none() {
            continue;
        }
        let Some(entity) = entities.for_path(operation.path) else {
            continue;
        };
        let label = schema_name(&pointer).map_or_else(
            || format!("the response of `{}`", operation.display()),
            str::to_string,
        );
        candidates.push(Candidate {
            pointer,
            schema,
            label,
            entity,
        });
    }
    candidates
}

fn escape(segment: &str) -> String {
    crate::input::openapi::escape(segment)
}

/// `Task` for `/components/schemas/Task` (or Swagger's `/definitions/Task`).
fn schema_name(pointer: &str) -> Option<&str> {
    let name = pointer
        .strip_prefix("/components/schemas/")
        .or_else(|| pointer.strip_prefix("/definitions/"))?;
    (!name.contains('/')).then_some(name)
}

/// The row schema of a response: the response itself, an array's items, or the items of a
/// list envelope's one array property (`data`, `items`, `results`).
fn unwrap_list<'a>(
    doc: &'a OpenApiDoc,
    pointer: String,
    schema: &'a Value,
) -> Option<(String, &'a Value)> {
    let (pointer, schema) = doc.resolve(pointer, schema);
    if let Some(items) = schema.get("items") {
        return Some(doc.resolve(format!("{pointer}/items"), items));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let arrays: Vec<(&String, &Value)> = properties
        .into_iter()
        .flatten()
        .filter(|(_, sub)| {
            let (_, sub) = doc.resolve(String::new(), sub);
            sub.get("items").is_some()
        })
        .collect();
    if let [(name, sub)] = arrays.as_slice() {
        let sub_pointer = format!("{pointer}/properties/{}", escape(name));
        let (sub_pointer, sub) = doc.resolve(sub_pointer, sub);
        let items = sub.get("items")?;
        return Some(doc.resolve(format!("{sub_pointer}/items"), items));
    }
    Some((pointer, schema))
}

/// A schema's properties, its `allOf` members' included: `(name, pointer, resolved schema)`.
fn properties<'a>(
    doc: &'a OpenApiDoc,
    pointer: &str,
    schema: &'a Value,
) -> Vec<(&'a str, String, &'a Value)> {
    let mut out = Vec::new();
    let mut parts = vec![(pointer.to_string(), schema)];
    if let Some(list) = schema.get("allOf").and_then(Value::as_array) {
        for (i, member) in list.iter().enumerate() {
            parts.push(doc.resolve(format!("{pointer}/allOf/{i}"), member));
        }
    }
    for (base, part) in parts {
        let Some(map) = part.get("properties").and_then(Value::as_object) else {
            continue;
        };
        for (name, sub) in map {
            let written = format!("{base}/properties/{}", escape(name));
            let (_, resolved) = doc.resolve(written.clone(), sub);
            if !out.iter().any(|(n, _, _)| *n == name.as_str()) {
                out.push((name.as_str(), written, resolved));
            }
        }
    }
    out
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// A string, number, integer or boolean (nullable or not), not an object, array or union.
fn is_scalar(schema: &Value) -> bool {
    let scalar = |t: &str| matches!(t, "string" | "number" | "integer" | "boolean" | "null");
    let typed = match schema.get("type") {
        Some(Value::String(t)) => scalar(t),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).all(scalar),
        _ => schema.get("enum").is_some() || schema.get("format").is_some(),
    };
    typed && schema.get("properties").is_none() && schema.get("items").is_none()
}

// ---------------------------------------------------------------------------------------------
// api-field-without-column

/// Property names that are about the representation, not a stored value.
const REPRESENTATION_NAMES: &[&str] = &["object", "self", "href", "url", "links", "etag", "cursor"];

fn is_derived_name(
    name: &str,
    schema: &Value,
    entities: &Entities<'_>,
    entity: &Entity<'_>,
) -> bool {
    let squashed = squash(name);
    let description = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    name.starts_with('_')
        || name.starts_with('$')
        || REPRESENTATION_NAMES.contains(&squashed.as_str())
        || ["url", "uri", "href", "link", "links", "count", "total"]
            .iter()
            .any(|suffix| squashed.ends_with(suffix))
        || entity.relations.contains(&squashed)
        || entity
            .relations
            .contains(squashed.strip_suffix("id").unwrap_or(""))
        || entities.get(&singular(&squashed)).is_some()
        || ["computed", "derived", "calculated", "aggregate"]
            .iter()
            .any(|w| description.contains(w))
}

fn api_field_without_column(
    doc: &OpenApiDoc,
    candidates: &[Candidate<'_, '_>],
    entities: &Entities<'_>,
    sink: &mut Sink,
) {
    for candidate in candidates {
        let entity = candidate.entity;
        let properties = properties(doc, &candidate.pointer, candidate.schema);
        let mut matched = 0usize;
        let mut missing: Vec<(&str, &String)> = Vec::new();
        for (name, pointer, schema) in &properties {
            if entity.columns.contains_key(&squash(name)) {
                matched += 1;
                continue;
            }
            if !is_scalar(schema) || is_true(schema, "writeOnly") {
                continue;
            }
            if is_derived_name(name, schema, entities, entity) {
                continue;
            }
            missing.push((name, pointer));
        }
        // A schema most of whose fields are not columns is a view of its own (a report, an
        // envelope), not the table's row: nothing to compare.
        if matched < 2 || matched < missing.len() * 2 {
            continue;
        }
        let table = entity.name();
        for (name, pointer) in missing {
            let mut finding = Sink::finding(
                "api-field-without-column",
                doc.file,
                doc.span(pointer),
                format!(
                    "property `{name}` of {} has no column in table `{table}`",
                    label(&candidate.label)
                ),
                format!(
                    "Add the column to `{table}`, or remove `{name}` from the schema if the API \
                     never returns it; if it is computed, say so in its `description`."
                ),
            )
            .with_pointer(pointer.clone());
            if let Some(first) = entity.tables.first() {
                finding = finding.with_related(
                    first.origin.file,
                    first.origin.span,
                    format!("table `{table}` is defined here"),
                );
            }
            sink.push(finding);
        }
    }
}

/// `` `Task` `` for a schema name, the text itself for "the response of …".
fn label(text: &str) -> String {
    if text.starts_with("the response of") {
        text.to_string()
    } else {
        format!("`{text}`")
    }
}

// ---------------------------------------------------------------------------------------------
// secret-column-exposed

fn secret_column_exposed(doc: &OpenApiDoc, candidates: &[Candidate<'_, '_>], sink: &mut Sink) {
    let mut reported: HashSet<String> = HashSet::new();
    for candidate in candidates {
        let entity = candidate.entity;
        for (name, pointer, schema) in properties(doc, &candidate.pointer, candidate.schema) {
            if is_true(schema, "writeOnly") {
                continue;
            }
            let squashed = squash(name);
            let Some((column, table)) = entity.columns.get(&squashed) else {
                continue;
            };
            let hidden = entity.hidden.contains(&squashed);
            // Passwords are reported from the document alone by `secret-in-response`.
            let credential = secret_kind(&column.name) == Some(SecretKind::Credential);
            if !hidden && !credential {
                continue;
            }
            if !reported.insert(pointer.clone()) {
                continue;
            }
            let why = if hidden {
                format!("the schema marks `{}` as never returned", column.name)
            } else {
                "it holds a credential".to_string()
            };
            let finding = Sink::finding(
                "secret-column-exposed",
                doc.file,
                doc.span(&pointer),
                format!(
                    "{} returns column `{}.{}`, but {why}",
                    label(&candidate.label),
                    table.name,
                    column.name
                ),
                format!(
                    "Remove `{name}` from the response schema and from what the handler selects; \
                     if clients need to know it is set, return a flag or the last characters \
                     instead."
                ),
            )
            .with_pointer(pointer)
            .with_related(
                column.origin.file,
                column.origin.span,
                format!("`{}.{}` is defined here", table.name, column.name),
            );
            sink.push(finding);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// unauthenticated-write-on-owned-table

/// Squashed column names that say whose a row is.
const OWNER_COLUMNS: &[&str] = &[
    "ownerid",
    "owneruserid",
    "userid",
    "authorid",
    "createdby",
    "createdbyid",
    "creatorid",
    "ownedby",
    "ownedbyid",
    "accountid",
    "tenantid",
    "organizationid",
    "organisationid",
    "orgid",
    "workspaceid",
];

/// Path words of operations that are public by nature: signing in and up, tokens, recovery,
/// confirmation links and webhooks (authenticated by a signature, not a scheme).
const PUBLIC_WORDS: &[&str] = &[
    "login",
    "logon",
    "signin",
    "signup",
    "register",
    "registration",
    "token",
    "tokens",
    "oauth",
    "oauth2",
    "authorize",
    "auth",
    "session",
    "sessions",
    "forgot",
    "reset",
    "recover",
    "recovery",
    "verify",
    "verification",
    "confirm",
    "confirmation",
    "callback",
    "callbacks",
    "webhook",
    "webhooks",
    "refresh",
    "password",
    "otp",
    "magic",
    "sso",
    "saml",
];

fn is_public_path(path: &str) -> bool {
    path.split('/')
        .filter(|s| !s.contains('{'))
        .flat_map(|s| s.split(['-', '_', '.']))
        .any(|word| PUBLIC_WORDS.contains(&word.to_ascii_lowercase().as_str()))
}

fn declares_security(doc: &OpenApiDoc, operations: &[Operation<'_>]) -> bool {
    !doc.security_schemes().is_empty()
        || doc.root.get("security").is_some()
        || operations.iter().any(|o| o.value.get("security").is_some())
}

fn unauthenticated_write(
    doc: &OpenApiDoc,
    operations: &[Operation<'_>],
    entities: &Entities<'_>,
    sink: &mut Sink,
) {
    // A document that says nothing about security gets one finding from
    // `write-without-security`; judging each write here would repeat it.
    if !declares_security(doc, operations) {
        return;
    }
    for operation in operations {
        if !operation.is_write() || doc.requires_auth(operation) || is_public_path(operation.path) {
            continue;
        }
        let Some(entity) = entities.for_path(operation.path) else {
            continue;
        };
        let Some((column, table)) = entity
            .tables
            .iter()
            .flat_map(|t| t.columns.iter().map(move |c| (c, *t)))
            .find(|(c, _)| OWNER_COLUMNS.contains(&squash(&c.name).as_str()))
        else {
            continue;
        };
        let explicit = operation.value.get("security").is_some();
        let pointer = if explicit {
            format!("{}/security", operation.pointer())
        } else {
            operation.pointer()
        };
        let how = if explicit {
            "its `security` lets anyone call it"
        } else {
            "no security requirement applies to it"
        };
        let finding = Sink::finding(
            "unauthenticated-write-on-owned-table",
            doc.file,
            doc.span(&pointer),
            format!(
                "`{}` changes `{}`, whose rows belong to someone (`{}`), but {how}",
                operation.display(),
                table.name,
                column.name
            ),
            format!(
                "Require authentication on this operation, and set `{}` from the caller's \
                 identity rather than from the request.",
                column.name
            ),
        )
        .with_pointer(pointer)
        .with_related(
            column.origin.file,
            column.origin.span,
            format!("`{}.{}` is defined here", table.name, column.name),
        );
        sink.push(finding);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(sources: &[(&str, &str)]) -> Vec<crate::Finding> {
        let sources = sources
            .iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect();
        crate::review(crate::load_sources(sources), &crate::Config::default()).findings
    }

    fn messages(findings: &[crate::Finding], rule: &str) -> Vec<String> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.message.clone())
            .collect()
    }

    const TASKS: &str = "CREATE TABLE tasks (
    id bigint PRIMARY KEY,
    owner_id bigint NOT NULL,
    title text NOT NULL,
    done boolean NOT NULL,
    due_at timestamptz,
    created_at timestamptz NOT NULL
);
";

    #[test]
    fn a_list_envelope_with_another_schema_name_is_matched_by_its_path() {
        let openapi = r##"
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /api/v1/tasks:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  data:
                    type: array
                    items: {$ref: '#/components/schemas/Item'}
                  next_cursor: {type: [string, 'null']}
components:
  schemas:
    Item:
      type: object
      properties:
        id: {type: integer}
        title: {type: string}
        dueAt: {type: string, format: date-time}
        priority: {type: integer}
        owner: {$ref: '#/components/schemas/Owner'}
        comment_count: {type: integer}
    Owner:
      type: object
      properties:
        id: {type: integer}
"##;
        let findings = review(&[("openapi.yaml", openapi), ("schema.sql", TASKS)]);
        assert_eq!(
            messages(&findings, "api-field-without-column"),
            ["property `priority` of `Item` has no column in table `tasks`"]
        );
    }

    #[test]
    fn filters_on_every_column_are_a_generic_facility() {
        let parameters: String = ["id", "owner_id", "title", "done", "due_at", "created_at"]
            .iter()
            .map(|c| format!("        - {{name: {c}, in: query, schema: {{type: string}}}}\n"))
            .collect();
        let openapi = format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n  /tasks:\n    get:\n      \
             parameters:\n{parameters}      responses:\n        '200': {{description: ok}}\n"
        );
        let findings = review(&[("openapi.yaml", &openapi), ("schema.sql", TASKS)]);
        assert!(messages(&findings, "filter-without-index").is_empty());
        // The same document with one filter is specific, and `done` has no index.
        let one = openapi
            .lines()
            .filter(|l| !l.contains("name:") || l.contains("name: done"))
            .collect::<Vec<_>>()
            .join("\n");
        let findings = review(&[("openapi.yaml", &one), ("schema.sql", TASKS)]);
        assert_eq!(
            messages(&findings, "filter-without-index"),
            ["`GET /tasks` filters on `done`, but no index of `tasks` starts with it"]
        );
    }

    #[test]
    fn a_document_that_declares_no_security_is_left_to_write_without_security() {
        let openapi = r#"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /tasks:
    post:
      responses:
        '201': {description: created}
"#;
        let findings = review(&[("openapi.yaml", openapi), ("schema.sql", TASKS)]);
        assert!(messages(&findings, "unauthenticated-write-on-owned-table").is_empty());
        let secured = format!(
            "{openapi}components:\n  securitySchemes:\n    bearer: {{type: http, scheme: bearer}}\n"
        );
        let findings = review(&[("openapi.yaml", &secured), ("schema.sql", TASKS)]);
        assert_eq!(
            messages(&findings, "unauthenticated-write-on-owned-table").len(),
            1
        );
    }

    #[test]
    fn a_response_that_returns_what_the_schema_omits_contradicts_it() {
        let schema = r#"
model ApiKey {
  id        Int      @id @default(autoincrement())
  label     String
  key       String   @unique @map("key_value") @omit
  createdAt DateTime @default(now())

  @@map("api_keys")
  @@allow("read", true)
}
"#;
        let openapi = r##"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /api-keys/{id}:
    get:
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ApiKey'}
components:
  schemas:
    ApiKey:
      type: object
      properties:
        id: {type: integer}
        label: {type: string}
        key: {type: string}
        createdAt: {type: string, format: date-time}
"##;
        let findings = review(&[("openapi.yaml", openapi), ("schema.plinth", schema)]);
        assert_eq!(
            messages(&findings, "secret-column-exposed"),
            ["`ApiKey` returns column `api_keys.key_value`, but the schema marks `key_value` as \
              never returned"]
        );
        assert!(messages(&findings, "api-field-without-column").is_empty());
    }

    #[test]
    fn names_match_across_cases_and_plurals() {
        assert_eq!(key("order_items"), key("OrderItem"));
        assert_eq!(key("order-items"), key("order_item"));
        assert_eq!(key("categories"), "category");
        assert_eq!(key("addresses"), "address");
        assert_eq!(key("status"), "status");
        assert_eq!(schema_key("TaskResponse"), "task");
        assert_eq!(schema_key("OrderItemDto"), "orderitem");
    }

    #[test]
    fn filter_parameters_name_their_column() {
        assert_eq!(filtered_name("status"), "status");
        assert_eq!(filtered_name("status[gte]"), "status");
        assert_eq!(filtered_name("filter[status]"), "status");
        assert_eq!(filtered_name("status__in"), "status");
    }
}
