//! Object-level authorization (OWASP API1) and mass assignment, probed with two users: the owner
//! (A) creates a row in every collection it can, then the intruder (B) tries to read, change and
//! delete it and looks for it in lists, id filters and includes; B also sends fields the
//! document does not let clients write (roles, flags, owner ids) and checks whether they stick.
//!
//! Precision over noise: a read is only a finding when the row is A's — a field of the row holds
//! A's id (the token's subject), or, when A's id is unknown, the row has an owner-like field
//! (`ownerId`, `userId`, `authorId`, …) — and when an anonymous request cannot read it too
//! (then the row is public by design). Writes are confirmed by reading the row back as A.

use crate::client::{Request, Target};
use crate::document::{ApiDocument, Location, Operation};
use crate::findings::{Finding, Severity};
use crate::users::{
    collections, create_row, fill_path, finding, id_text, is_success, properties, query_string,
    row_of, sample_value, schema_types, send_patiently, success_schema, truncate, Collection,
    OwnedRow, User, Users,
};
use serde_json::{json, Map, Value};

/// Another user could read a row they do not own (broken object-level authorization).
pub const AUTHZ_OBJECT_READ: &str = "authz-object-read";
/// Another user could change a row they do not own.
pub const AUTHZ_OBJECT_UPDATE: &str = "authz-object-update";
/// Another user could delete a row they do not own.
pub const AUTHZ_OBJECT_DELETE: &str = "authz-object-delete";
/// A list, an id filter or an include showed another user's row.
pub const AUTHZ_LIST_LEAK: &str = "authz-list-leak";
/// A field the document does not let clients write was stored as sent (role, flags, owner ids).
pub const AUTHZ_MASS_ASSIGNMENT: &str = "authz-mass-assignment";

/// Every rule this module reports, with its one-line description (for docs and JUnit).
pub const RULES: &[(&str, &str)] = &[
    (
        AUTHZ_OBJECT_READ,
        "another user cannot read a row they do not own",
    ),
    (
        AUTHZ_OBJECT_UPDATE,
        "another user cannot change a row they do not own",
    ),
    (
        AUTHZ_OBJECT_DELETE,
        "another user cannot delete a row they do not own",
    ),
    (
        AUTHZ_LIST_LEAK,
        "lists, id filters and includes show no other user's private rows",
    ),
    (
        AUTHZ_MASS_ASSIGNMENT,
        "fields clients may not write are not stored when sent",
    ),
];

const FIX_OBJECT: &str = "Check on every request that the caller may act on this row (owner, \
    membership or role), in the query itself — `WHERE id = $1 AND owner_id = $caller` — and \
    answer 404 when not, so ids cannot be probed.";
const FIX_LIST: &str = "Filter every list, filter and include by the caller's access rule in the \
    database query, not only single-row reads.";
const FIX_MASS: &str = "Accept only the documented writable fields (reject unknown fields with \
    422, or bind the body to an explicit input type); set owner ids and roles on the server.";

/// Owner-like field names: evidence of ownership when the owner's id is unknown.
const OWNER_FIELDS: &[&str] = &[
    "ownerid",
    "owner_id",
    "userid",
    "user_id",
    "authorid",
    "author_id",
    "createdby",
    "created_by",
    "createdbyid",
    "accountid",
    "account_id",
];

/// Runs every authorization probe. Needs two users; with fewer it finds nothing.
pub async fn run(target: &Target, document: &ApiDocument, users: &Users) -> Vec<Finding> {
    let document = &*crate::users::rooted(document);
    let (Some(owner), Some(intruder)) = (users.owner(), users.intruder()) else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    let collections = collections(document);
    let mut owned_rows: Vec<(OwnedRow, bool)> = Vec::new();

    for collection in &collections {
        if let Some(row) = create_row(target, collection, owner, None).await {
            let rows = probe_row(target, collection, owner, intruder, row, &mut findings).await;
            owned_rows.extend(rows);
        }
        if let Some(row) = own_user_row(target, collection, owner).await {
            let rows = probe_row(target, collection, owner, intruder, row, &mut findings).await;
            owned_rows.extend(rows);
        }
    }
    probe_includes(
        target,
        document,
        owner,
        intruder,
        &owned_rows,
        &mut findings,
    )
    .await;
    for collection in &collections {
        probe_mass_assignment(target, collection, owner, intruder, &mut findings).await;
    }
    findings
}

/// Whether the row shows that `owner` owns it.
fn owned_by(row: &Map<String, Value>, owner: &User, id_field: &str) -> bool {
    match &owner.subject {
        Some(subject) => row.iter().any(|(name, value)| {
            name != id_field && name != "id" && id_text(value).as_deref() == Some(subject.as_str())
        }),
        None => row
            .keys()
            .any(|name| OWNER_FIELDS.contains(&name.to_ascii_lowercase().as_str())),
    }
}

/// The owner's own row in a users collection (`/users/{A's id}`), recognised by an email or
/// username field or the collection's name.
async fn own_user_row(
    target: &Target,
    collection: &Collection<'_>,
    owner: &User,
) -> Option<OwnedRow> {
    let subject = owner.subject.as_ref()?;
    let (item_path, parameter) = collection.item_path()?;
    let last = collection.path.rsplit('/').next().unwrap_or("");
    let get = collection.get?;
    let looks_like_users = matches!(last, "users" | "accounts" | "members" | "profiles")
        || success_schema(get).is_some_and(|schema| {
            properties(schema)
                .iter()
                .any(|(name, _)| matches!(name.to_ascii_lowercase().as_str(), "email" | "username"))
        });
    if !looks_like_users {
        return None;
    }
    let path = fill_path(item_path, &[(parameter, subject)], false);
    let exchange = send_patiently(target, Request::new("GET", path).bearer(&owner.token)).await?;
    if !is_success(&exchange) {
        return None;
    }
    let row = row_of(&exchange)?;
    let id = row
        .get(parameter)
        .or_else(|| row.get("id"))
        .and_then(id_text)?;
    (id == *subject).then(|| OwnedRow {
        collection: collection.path.to_string(),
        id,
        row,
    })
}

/// B against one of A's rows: read, list and filter, update, delete. Returns the row (and
/// whether it is private and A's) for the include probe, unless it was deleted.
async fn probe_row(
    target: &Target,
    collection: &Collection<'_>,
    owner: &User,
    intruder: &User,
    row: OwnedRow,
    findings: &mut Vec<Finding>,
) -> Vec<(OwnedRow, bool)> {
    let Some((item_path, parameter)) = collection.item_path() else {
        return Vec::new();
    };
    let Some(get) = collection.get else {
        return Vec::new();
    };
    let path = fill_path(item_path, &[(parameter, &row.id)], false);
    // A must read its row back, or nothing about B's access can be concluded.
    let Some(owner_read) = send_patiently(target, Request::new("GET", &path).bearer(&owner.token))
        .await
        .filter(is_success)
    else {
        return Vec::new();
    };
    let owner_row = row_of(&owner_read).unwrap_or(row.row.clone());
    let is_user_row = owner.subject.as_deref() == Some(row.id.as_str());
    let owned = is_user_row || owned_by(&owner_row, owner, parameter);
    let anonymous = send_patiently(target, Request::new("GET", &path)).await;
    let public = anonymous.as_ref().is_some_and(|exchange| {
        is_success(exchange) && same_row_in(exchange.json(), &row.id, &owner_row, parameter)
    });
    let row = OwnedRow {
        row: owner_row.clone(),
        ..row
    };

    if owned && !public {
        if let Some(exchange) =
            send_patiently(target, Request::new("GET", &path).bearer(&intruder.token)).await
        {
            if is_success(&exchange) && same_row_in(exchange.json(), &row.id, &owner_row, parameter)
            {
                findings.push(finding(
                    AUTHZ_OBJECT_READ,
                    Severity::High,
                    format!("user `{}` can read a row of `{}` that `{}` owns", intruder.name, collection.path, owner.name),
                    format!(
                        "GET {path} as `{}` answered {} with the row; an anonymous request did not get it",
                        intruder.name, exchange.status
                    ),
                    Some(get),
                    Some(&exchange),
                    FIX_OBJECT,
                ));
            }
        }
        probe_lists(
            target, collection, owner, intruder, &row, parameter, findings,
        )
        .await;
    }

    let mut still_there = true;
    if owned {
        if let Some(update) = collection.update {
            probe_update(target, update, &path, owner, intruder, &owner_row, findings).await;
        }
        if let Some(delete) = collection.delete.filter(|_| !is_user_row) {
            let request = Request::new(&delete.method, &path).bearer(&intruder.token);
            if let Some(exchange) = send_patiently(target, request).await {
                if is_success(&exchange) {
                    let after =
                        send_patiently(target, Request::new("GET", &path).bearer(&owner.token))
                            .await;
                    if after
                        .as_ref()
                        .is_some_and(|after| matches!(after.status, 404 | 410))
                    {
                        still_there = false;
                        findings.push(finding(
                            AUTHZ_OBJECT_DELETE,
                            Severity::Critical,
                            format!("user `{}` can delete a row of `{}` that `{}` owns", intruder.name, collection.path, owner.name),
                            format!(
                                "{} {path} as `{}` answered {}, and the owner's next GET answered 404",
                                delete.method, intruder.name, exchange.status
                            ),
                            Some(delete),
                            Some(&exchange),
                            FIX_OBJECT,
                        ));
                    }
                }
            }
        }
    }
    if still_there {
        vec![(row, owned && !public)]
    } else {
        Vec::new()
    }
}

/// B changes one field of A's row; a finding when A then reads B's value.
async fn probe_update(
    target: &Target,
    update: &Operation,
    path: &str,
    owner: &User,
    intruder: &User,
    owner_row: &Map<String, Value>,
    findings: &mut Vec<Finding>,
) {
    let Some(schema) = &update.request_body else {
        return;
    };
    let Some((field, value)) = changed_field(schema, owner_row) else {
        return;
    };
    let mut body = if update.method == "PUT" {
        sample_value(schema, "").unwrap_or_else(|| json!({}))
    } else {
        json!({})
    };
    if let Value::Object(fields) = &mut body {
        fields.insert(field.clone(), value.clone());
    }
    let request = Request::new(&update.method, path)
        .bearer(&intruder.token)
        .json(&body);
    let Some(exchange) = send_patiently(target, request).await else {
        return;
    };
    if !is_success(&exchange) {
        return;
    }
    let after = send_patiently(target, Request::new("GET", path).bearer(&owner.token)).await;
    let changed = after
        .as_ref()
        .and_then(row_of)
        .is_some_and(|row| row.get(&field) == Some(&value));
    if changed {
        findings.push(finding(
            AUTHZ_OBJECT_UPDATE,
            Severity::Critical,
            format!(
                "user `{}` can change a row that `{}` owns",
                intruder.name, owner.name
            ),
            format!(
                "{} {path} as `{}` answered {} and the owner now reads `{field}` = {}",
                update.method,
                intruder.name,
                exchange.status,
                truncate(&value.to_string(), 80)
            ),
            Some(update),
            Some(&exchange),
            FIX_OBJECT,
        ));
    }
}

/// A writable field of `schema` and a valid value for it that differs from the row's.
fn changed_field(schema: &Value, row: &Map<String, Value>) -> Option<(String, Value)> {
    let candidates = properties(schema);
    let pick = |wanted: &str| {
        candidates.iter().find_map(|(name, property)| {
            let types = schema_types(property);
            if !types.iter().any(|kind| kind == wanted)
                || property.get("enum").is_some()
                || property.get("format").is_some()
                || property.get("readOnly") == Some(&json!(true))
                || name.to_ascii_lowercase().ends_with("id")
            {
                return None;
            }
            let value = match wanted {
                "boolean" => json!(!row.get(name).and_then(Value::as_bool).unwrap_or(false)),
                _ => sample_value(property, name)?,
            };
            (row.get(name) != Some(&value)).then(|| (name.clone(), value))
        })
    };
    pick("string").or_else(|| pick("boolean"))
}

/// B lists A's collection, plain and filtered by A's id; a finding when A's row shows and an
/// anonymous request with the same query does not see it.
async fn probe_lists(
    target: &Target,
    collection: &Collection<'_>,
    owner: &User,
    intruder: &User,
    row: &OwnedRow,
    parameter: &str,
    findings: &mut Vec<Finding>,
) {
    let Some(list) = collection.list else {
        return;
    };
    let mut queries: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for filter in [parameter, "id"] {
        if has_query_parameter(list, filter) {
            queries.push(vec![(filter.to_string(), row.id.clone())]);
            break;
        }
    }
    for query in queries {
        let path = with_query(collection.path, &query);
        let Some(exchange) =
            send_patiently(target, Request::new("GET", &path).bearer(&intruder.token)).await
        else {
            continue;
        };
        if !is_success(&exchange) || !same_row_in(exchange.json(), &row.id, &row.row, parameter) {
            continue;
        }
        let anonymous = send_patiently(target, Request::new("GET", &path)).await;
        if anonymous.is_some_and(|anonymous| {
            is_success(&anonymous) && same_row_in(anonymous.json(), &row.id, &row.row, parameter)
        }) {
            continue;
        }
        findings.push(finding(
            AUTHZ_LIST_LEAK,
            Severity::High,
            format!(
                "user `{}` sees a row of `{}` that `{}` owns in a list",
                intruder.name, collection.path, owner.name
            ),
            format!(
                "GET {path} as `{}` answered {} with the owner's row `{}`",
                intruder.name, exchange.status, row.id
            ),
            Some(list),
            Some(&exchange),
            FIX_LIST,
        ));
        return;
    }
}

/// B lists every collection with each documented `include`, looking for any private row of A.
async fn probe_includes(
    target: &Target,
    document: &ApiDocument,
    owner: &User,
    intruder: &User,
    owned_rows: &[(OwnedRow, bool)],
    findings: &mut Vec<Finding>,
) {
    let private: Vec<&OwnedRow> = owned_rows
        .iter()
        .filter(|(_, private)| *private)
        .map(|(row, _)| row)
        .collect();
    if private.is_empty() {
        return;
    }
    for operation in &document.operations {
        if operation.method != "GET" || operation.path.contains('{') {
            continue;
        }
        let Some(include) = operation
            .parameters
            .iter()
            .find(|parameter| parameter.location == Location::Query && parameter.name == "include")
        else {
            continue;
        };
        for relation in include_values(&include.schema) {
            let path = with_query(
                &operation.path,
                &[("include".to_string(), relation.clone())],
            );
            let Some(exchange) =
                send_patiently(target, Request::new("GET", &path).bearer(&intruder.token)).await
            else {
                continue;
            };
            if !is_success(&exchange) {
                continue;
            }
            let body = exchange.json();
            let Some(leaked) = private
                .iter()
                .find(|row| same_row_in(body.clone(), &row.id, &row.row, "id"))
            else {
                continue;
            };
            let anonymous = send_patiently(target, Request::new("GET", &path)).await;
            if anonymous.is_some_and(|anonymous| {
                is_success(&anonymous)
                    && same_row_in(anonymous.json(), &leaked.id, &leaked.row, "id")
            }) {
                continue;
            }
            findings.push(finding(
                AUTHZ_LIST_LEAK,
                Severity::High,
                format!(
                    "user `{}` sees a row of `{}` that `{}` owns through `include={relation}`",
                    intruder.name, leaked.collection, owner.name
                ),
                format!(
                    "GET {path} as `{}` answered {} with the owner's row `{}` embedded",
                    intruder.name, exchange.status, leaked.id
                ),
                Some(operation),
                Some(&exchange),
                FIX_LIST,
            ));
            break;
        }
    }
}

/// The relation names an `include` parameter documents (its enum, or its items' enum).
fn include_values(schema: &Value) -> Vec<String> {
    let members = schema
        .get("enum")
        .or_else(|| schema.pointer("/items/enum"))
        .and_then(Value::as_array);
    members
        .map(|members| {
            members
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn has_query_parameter(operation: &Operation, name: &str) -> bool {
    operation
        .parameters
        .iter()
        .any(|parameter| parameter.location == Location::Query && parameter.name == name)
}

fn with_query(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query_string(query))
    }
}

/// Whether `body` holds (at any depth) an object with id `id` that agrees with `row` on every
/// scalar field both have — at least one besides the id — so a same-numbered row of another
/// table is not mistaken for it.
fn same_row_in(body: Option<Value>, id: &str, row: &Map<String, Value>, id_field: &str) -> bool {
    fn visit(value: &Value, id: &str, row: &Map<String, Value>, id_field: &str) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|item| visit(item, id, row, id_field)),
            Value::Object(object) => {
                let matches_id = object
                    .get(id_field)
                    .or_else(|| object.get("id"))
                    .and_then(id_text)
                    .is_some_and(|found| found == id);
                if matches_id {
                    let mut agreeing = 0;
                    let mut disagreeing = 0;
                    for (name, value) in object {
                        if name == id_field || name == "id" || value.is_object() || value.is_array()
                        {
                            continue;
                        }
                        match row.get(name) {
                            Some(expected) if expected == value => agreeing += 1,
                            Some(_) => disagreeing += 1,
                            None => {}
                        }
                    }
                    // A row with only its id readable still counts when nothing disagrees.
                    if disagreeing == 0 && (agreeing > 0 || row.len() <= 1) {
                        return true;
                    }
                }
                object.values().any(|inner| visit(inner, id, row, id_field))
            }
            _ => false,
        }
    }
    body.is_some_and(|body| visit(&body, id, row, id_field))
}

/// B writes fields that the read schema shows but neither the create nor the update schema
/// accepts; a finding when the stored row takes B's value.
async fn probe_mass_assignment(
    target: &Target,
    collection: &Collection<'_>,
    owner: &User,
    intruder: &User,
    findings: &mut Vec<Finding>,
) {
    let Some(get) = collection.get else {
        return;
    };
    let Some((item_path, parameter)) = collection.item_path() else {
        return;
    };
    let Some(read_schema) = success_schema(get) else {
        return;
    };
    let mut writable: Vec<String> = Vec::new();
    for operation in [collection.create, collection.update].into_iter().flatten() {
        if let Some(schema) = &operation.request_body {
            writable.extend(properties(schema).into_iter().map(|(name, _)| name));
        }
    }
    let candidates: Vec<(String, Value)> = properties(read_schema)
        .into_iter()
        .filter(|(name, schema)| {
            let types = schema_types(schema);
            name != parameter
                && name != "id"
                && !writable.contains(name)
                && schema.get("format").and_then(Value::as_str) != Some("date-time")
                && !types.iter().any(|kind| kind == "object" || kind == "array")
                && (!types.is_empty() || schema.get("enum").is_some())
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    // B's own row: its user row in a users collection, else one B creates.
    let mut rows = Vec::new();
    if let Some(row) = own_user_row(target, collection, intruder).await {
        rows.push(row);
    }
    if let Some(row) = create_row(target, collection, intruder, None).await {
        rows.push(row);
    }
    for (field, schema) in candidates {
        let mut reported = false;
        for row in &rows {
            if reported {
                break;
            }
            let current = row.row.get(&field).cloned().unwrap_or(Value::Null);
            let Some(crafted) = crafted_value(&field, &schema, &current, owner) else {
                continue;
            };
            let path = fill_path(item_path, &[(parameter, &row.id)], false);
            // Through update.
            if let Some(update) = collection.update {
                let mut body = Map::new();
                body.insert(field.clone(), crafted.clone());
                let request = Request::new(&update.method, &path)
                    .bearer(&intruder.token)
                    .json(&Value::Object(body));
                if let Some(exchange) = send_patiently(target, request).await {
                    if is_success(&exchange)
                        && stored(target, &exchange, &path, &field, &crafted, intruder, owner).await
                    {
                        findings.push(mass_finding(
                            collection, update, &field, &crafted, intruder, &exchange,
                        ));
                        reported = true;
                        continue;
                    }
                }
            }
        }
        // Through create.
        if !reported {
            if let Some(create) = collection.create {
                let current = rows
                    .first()
                    .and_then(|row| row.row.get(&field).cloned())
                    .unwrap_or(Value::Null);
                let Some(crafted) = crafted_value(&field, &schema, &current, owner) else {
                    continue;
                };
                let mut extra = Map::new();
                extra.insert(field.clone(), crafted.clone());
                let schema_body = create.request_body.clone().unwrap_or_else(|| json!({}));
                let mut body = sample_value(&schema_body, "").unwrap_or_else(|| json!({}));
                if let Value::Object(fields) = &mut body {
                    fields.extend(extra);
                }
                let request = Request::new("POST", collection.path)
                    .bearer(&intruder.token)
                    .json(&body);
                if let Some(exchange) = send_patiently(target, request).await {
                    if is_success(&exchange) {
                        let id = crate::users::created_id(&exchange, parameter);
                        let path = id
                            .map(|id| fill_path(item_path, &[(parameter, &id)], false))
                            .unwrap_or_default();
                        if stored(target, &exchange, &path, &field, &crafted, intruder, owner).await
                        {
                            findings.push(mass_finding(
                                collection, create, &field, &crafted, intruder, &exchange,
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Whether the row holds `crafted` in `field`: in the write's answer, or read back by the writer
/// or the owner (an owner id handed to A may hide the row from B).
async fn stored(
    target: &Target,
    exchange: &crate::client::Exchange,
    path: &str,
    field: &str,
    crafted: &Value,
    intruder: &User,
    owner: &User,
) -> bool {
    let holds = |row: Option<Map<String, Value>>| {
        row.is_some_and(|row| {
            row.get(field).is_some_and(|value| {
                value == crafted || (id_text(value).is_some() && id_text(value) == id_text(crafted))
            })
        })
    };
    if holds(row_of(exchange)) {
        return true;
    }
    if path.is_empty() {
        return false;
    }
    for user in [intruder, owner] {
        let read = send_patiently(target, Request::new("GET", path).bearer(&user.token)).await;
        if let Some(read) = read.filter(is_success) {
            return holds(row_of(&read));
        }
    }
    false
}

/// A value for `field` different from `current` that would matter if stored: another enum
/// member (roles), the flipped flag, the owner's id for owner-like fields.
fn crafted_value(field: &str, schema: &Value, current: &Value, owner: &User) -> Option<Value> {
    if let Some(members) = schema.get("enum").and_then(Value::as_array) {
        return members
            .iter()
            .rev()
            .find(|member| !member.is_null() && *member != current)
            .cloned();
    }
    let types = schema_types(schema);
    let lower = field.to_ascii_lowercase();
    let id_like = lower.ends_with("id") || lower.ends_with("_id");
    if types.iter().any(|kind| kind == "boolean") {
        return Some(json!(!current.as_bool().unwrap_or(false)));
    }
    if types.iter().any(|kind| kind == "integer") {
        if id_like {
            if let Some(subject) = owner
                .subject
                .as_ref()
                .and_then(|subject| subject.parse::<i64>().ok())
            {
                if Some(subject) != current.as_i64() {
                    return Some(json!(subject));
                }
            }
        }
        return Some(json!(current.as_i64().unwrap_or(0).saturating_add(1000)));
    }
    if types.iter().any(|kind| kind == "number") {
        return Some(json!(current.as_f64().unwrap_or(0.0) + 1000.5));
    }
    if types.iter().any(|kind| kind == "string") {
        if id_like {
            if let Some(subject) = &owner.subject {
                if id_text(current).as_deref() != Some(subject.as_str()) {
                    return Some(json!(subject));
                }
            }
        }
        return Some(json!("plinth-verify-mass-assignment"));
    }
    None
}

fn mass_finding(
    collection: &Collection<'_>,
    operation: &Operation,
    field: &str,
    crafted: &Value,
    intruder: &User,
    exchange: &crate::client::Exchange,
) -> Finding {
    finding(
        AUTHZ_MASS_ASSIGNMENT,
        Severity::High,
        format!("`{field}` of `{}` can be set by a client although the document does not let clients write it", collection.path),
        format!(
            "{} as `{}` with `{field}` = {} answered {}, and the stored row holds that value",
            operation.label(),
            intruder.name,
            truncate(&crafted.to_string(), 80),
            exchange.status
        ),
        Some(operation),
        Some(exchange),
        FIX_MASS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rows_match_by_id_and_agreeing_fields() {
        let owner_row = row(json!({"id": 1, "title": "mine", "ownerId": 7}));
        let list = json!({"data": [{"id": 1, "title": "mine", "ownerId": 7}]});
        assert!(same_row_in(Some(list), "1", &owner_row, "id"));
        // Same number, another table's row: the fields disagree.
        let other = json!({"data": [{"id": 1, "title": "theirs", "ownerId": 8}]});
        assert!(!same_row_in(Some(other), "1", &owner_row, "id"));
        let nested = json!({"data": [{"id": 9, "tasks": [{"id": 1, "title": "mine"}]}]});
        assert!(same_row_in(Some(nested), "1", &owner_row, "id"));
    }

    #[test]
    fn ownership_is_a_field_holding_the_owners_id() {
        let owner = User {
            name: "a".into(),
            token: "t".into(),
            subject: Some("u1".into()),
        };
        assert!(owned_by(
            &row(json!({"id": "x", "ownerId": "u1"})),
            &owner,
            "id"
        ));
        assert!(!owned_by(
            &row(json!({"id": "u1", "title": "t"})),
            &owner,
            "id"
        ));
        let anonymous_owner = User {
            subject: None,
            ..owner
        };
        assert!(owned_by(
            &row(json!({"id": "x", "user_id": "z"})),
            &anonymous_owner,
            "id"
        ));
        assert!(!owned_by(
            &row(json!({"id": "x", "name": "z"})),
            &anonymous_owner,
            "id"
        ));
    }

    #[test]
    fn crafted_values_differ_and_aim_at_privilege() {
        let owner = User {
            name: "a".into(),
            token: "t".into(),
            subject: Some("u1".into()),
        };
        let role = json!({"enum": ["USER", "ADMIN"]});
        assert_eq!(
            crafted_value("role", &role, &json!("USER"), &owner),
            Some(json!("ADMIN"))
        );
        let flag = json!({"type": "boolean"});
        assert_eq!(
            crafted_value("isAdmin", &flag, &json!(false), &owner),
            Some(json!(true))
        );
        let owner_id = json!({"type": "string"});
        assert_eq!(
            crafted_value("ownerId", &owner_id, &json!("u2"), &owner),
            Some(json!("u1"))
        );
    }
}
