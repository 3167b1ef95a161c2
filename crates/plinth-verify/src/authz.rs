//! Object-level authorization (OWASP API1) and mass assignment, probed with two users: the owner
//! (A) creates a row in every collection it can, then the intruder (B) tries to read, change and
//! delete it and looks for it in lists, id and owner filters, includes and collections nested
//! under it (`/things/{id}/parts`); B also sends fields clients may not write (roles, flags,
//! owner ids) and checks whether they stick.
//!
//! Precision over noise. With the API's Plinth schema (`--schema`), what B may do to each row is
//! the schema's rules evaluated on the row as A read it ([`crate::policy`]): a row any signed-in
//! user may read is never a finding, one only its owner may read always is, and the fields a
//! normal user may not write are exactly the mass-assignment targets. Where the schema's rules
//! depend on what the answers do not show — and without a schema — a read is only a finding
//! when the row is A's — a field of the row holds A's id (the token's subject), or, when A's id
//! is unknown, the row has an owner-like field (`ownerId`, `userId`, `authorId`, …) — and when an
//! anonymous request cannot read it too (then the row is public by design). Writes are
//! confirmed by reading the row back as A.

use crate::client::{Exchange, Request, Target};
use crate::document::{ApiDocument, Location, Operation};
use crate::findings::{Finding, Severity};
use crate::policy::{Caller, Policies, Rules};
use crate::users::{
    collections, create_row, created_id, fill_path, find_operation, finding, id_text, is_success,
    nested_collections, properties, query_string, row_of, sample_value, schema_types,
    send_patiently, success_schema, truncate, Collection, Nested, OwnedRow, User, Users,
};
use plinth_model::Operation as Action;
use serde_json::{json, Map, Value};

/// Another user could read a row they do not own (broken object-level authorization).
pub const AUTHZ_OBJECT_READ: &str = "authz-object-read";
/// Another user could read a field the schema keeps from them in a row they may otherwise read.
pub const AUTHZ_FIELD_READ: &str = "authz-field-read";
/// Another user could change a row they do not own.
pub const AUTHZ_OBJECT_UPDATE: &str = "authz-object-update";
/// Another user could delete a row they do not own.
pub const AUTHZ_OBJECT_DELETE: &str = "authz-object-delete";
/// A list, an id or owner filter, an include or a nested list showed another user's row.
pub const AUTHZ_LIST_LEAK: &str = "authz-list-leak";
/// A field clients may not write was stored as sent (role, flags, owner ids).
pub const AUTHZ_MASS_ASSIGNMENT: &str = "authz-mass-assignment";

/// Every rule this module reports, with its one-line description (for docs and JUnit).
pub const RULES: &[(&str, &str)] = &[
    (
        AUTHZ_OBJECT_READ,
        "another user cannot read a row they do not own",
    ),
    (
        AUTHZ_FIELD_READ,
        "fields the schema keeps from other users read as null",
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
        "lists, filters, includes and nested lists show no other user's private rows",
    ),
    (
        AUTHZ_MASS_ASSIGNMENT,
        "fields clients may not write are not stored when sent",
    ),
];

const FIX_OBJECT: &str = "Check on every request that the caller may act on this row (owner, \
    membership or role), in the query itself — `WHERE id = $1 AND owner_id = $caller` — and \
    answer 404 when not, so ids cannot be probed.";
const FIX_FIELD: &str = "Apply the field's read rule to every answer that carries the field \
    (single rows, lists, includes), and send null where the caller may not read it.";
const FIX_LIST: &str = "Filter every list, filter and include by the caller's access rule in the \
    database query, not only single-row reads.";
const FIX_NESTED: &str = "Check that the caller may act on the parent row before listing, \
    reading or adding the rows nested under it, and answer 404 when not.";
const FIX_MASS: &str = "Accept only the fields the caller may write (reject others with 422 or \
    403, or bind the body to an explicit input type); set owner ids and roles on the server.";

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

/// Query parameters that filter a list by a user, besides the owner-like fields above.
const OWNER_FILTERS: &[&str] = &["owner", "user", "author", "creator", "account"];

/// What the schema says, for the intruder: the rules and B as `auth()`.
struct Expectations<'p> {
    policies: &'p Policies,
    intruder: Caller,
}

impl Expectations<'_> {
    fn rules(&self, collection: &str) -> Option<Rules<'_>> {
        self.policies.resource(collection)
    }

    /// Whether B may act on `row` of `collection`; `None` when the schema cannot tell.
    fn intruder_may(
        &self,
        collection: &str,
        action: Action,
        row: &Map<String, Value>,
    ) -> Option<bool> {
        self.rules(collection)?.may(action, &self.intruder, row)
    }
}

/// B as the schema's `auth()`: their id and their own row from `GET /auth/me`. `None` when B's
/// id is unknown, so no rule can be evaluated for them.
async fn caller_for(
    target: &Target,
    document: &ApiDocument,
    policies: &Policies,
    user: &User,
) -> Option<Caller> {
    let id = user.subject.clone()?;
    let mut caller = Caller {
        id,
        row: Map::new(),
    };
    let me = policies.me_path().and_then(|path| {
        find_operation(document, "GET", path).or_else(|| {
            document
                .operations
                .iter()
                .find(|operation| operation.method == "GET" && operation.path.ends_with(path))
        })
    });
    if let Some(me) = me {
        let request = Request::new("GET", &me.path).bearer(&user.token);
        if let Some(row) = send_patiently(target, request)
            .await
            .filter(is_success)
            .as_ref()
            .and_then(row_of)
        {
            caller.row = row;
        }
    }
    Some(caller)
}

/// Runs every authorization probe, with the schema's rules when `policies` is given. Needs two
/// users; with fewer it finds nothing.
pub async fn run(
    target: &Target,
    document: &ApiDocument,
    users: &Users,
    policies: Option<&Policies>,
) -> Vec<Finding> {
    let document = &*crate::users::rooted(document);
    let (Some(owner), Some(intruder)) = (users.owner(), users.intruder()) else {
        return Vec::new();
    };
    let expectations = match policies {
        Some(policies) => caller_for(target, document, policies, intruder)
            .await
            .map(|intruder| Expectations { policies, intruder }),
        None => None,
    };
    let probe = Probe {
        target,
        owner,
        intruder,
        expectations: expectations.as_ref(),
    };
    let mut findings = Vec::new();
    let collections = collections(document);
    let mut owned_rows: Vec<(OwnedRow, bool)> = Vec::new();

    for collection in &collections {
        if let Some(row) = create_row(target, collection, owner, None).await {
            let rows = probe.row(collection, row, &mut findings).await;
            owned_rows.extend(rows);
        }
        if let Some(row) = own_user_row(target, collection, owner).await {
            let rows = probe.row(collection, row, &mut findings).await;
            owned_rows.extend(rows);
        }
    }
    probe.includes(document, &owned_rows, &mut findings).await;
    for nested in nested_collections(document) {
        probe.nested(&nested, &owned_rows, &mut findings).await;
    }
    for collection in &collections {
        probe.mass_assignment(collection, &mut findings).await;
    }
    findings
}

/// Everything a probe needs: where, who, and what the schema expects.
struct Probe<'a> {
    target: &'a Target,
    owner: &'a User,
    intruder: &'a User,
    expectations: Option<&'a Expectations<'a>>,
}

/// Whether B must not do something, and why: the schema's verdict when it has one, else the
/// document-only heuristic's.
fn forbidden(verdict: Option<bool>, heuristic: bool) -> (bool, &'static str) {
    match verdict {
        Some(allowed) => (!allowed, "the schema's rules do not allow it"),
        None => (heuristic, "the row is the owner's"),
    }
}

impl Probe<'_> {
    /// B against one of A's rows: read, list and filter, update, delete. Returns the row (and
    /// whether B may not read it) for the include and nested probes, unless it was deleted.
    async fn row(
        &self,
        collection: &Collection<'_>,
        row: OwnedRow,
        findings: &mut Vec<Finding>,
    ) -> Vec<(OwnedRow, bool)> {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let Some((item_path, parameter)) = collection.item_path() else {
            return Vec::new();
        };
        let Some(get) = collection.get else {
            return Vec::new();
        };
        let path = fill_path(item_path, &[(parameter, &row.id)], false);
        // A must read its row back, or nothing about B's access can be concluded.
        let Some(owner_read) =
            send_patiently(target, Request::new("GET", &path).bearer(&owner.token))
                .await
                .filter(is_success)
        else {
            return Vec::new();
        };
        let owner_row = row_of(&owner_read).unwrap_or(row.row.clone());
        let is_user_row = owner.subject.as_deref() == Some(row.id.as_str());
        let owned = is_user_row || owned_by(&owner_row, owner, parameter);
        let verdict = |action| {
            self.expectations
                .and_then(|expect| expect.intruder_may(collection.path, action, &owner_row))
        };
        let read_verdict = verdict(Action::Read);
        let (private, why) = match read_verdict {
            Some(allowed) => (!allowed, "the schema's read rules do not let them read it"),
            None => {
                let anonymous = send_patiently(target, Request::new("GET", &path)).await;
                let public = anonymous.as_ref().is_some_and(|exchange| {
                    is_success(exchange)
                        && same_row_in(exchange.json(), &row.id, &owner_row, parameter)
                });
                (owned && !public, "an anonymous request did not get it")
            }
        };
        let row = OwnedRow {
            row: owner_row.clone(),
            ..row
        };

        if private {
            if let Some(exchange) =
                send_patiently(target, Request::new("GET", &path).bearer(&intruder.token)).await
            {
                if is_success(&exchange)
                    && same_row_in(exchange.json(), &row.id, &owner_row, parameter)
                {
                    findings.push(finding(
                        AUTHZ_OBJECT_READ,
                        Severity::High,
                        format!(
                            "user `{}` can read a row of `{}` that `{}` owns",
                            intruder.name, collection.path, owner.name
                        ),
                        format!(
                            "GET {path} as `{}` answered {} with the row; {why}",
                            intruder.name, exchange.status
                        ),
                        Some(get),
                        Some(&exchange),
                        FIX_OBJECT,
                    ));
                }
            }
            self.lists(collection, &row, parameter, findings).await;
        } else if read_verdict == Some(true) {
            self.field_reads(collection, get, &path, &row, parameter, findings)
                .await;
        }

        let mut still_there = true;
        if let Some(update) = collection.update {
            self.update(collection, update, &path, owned, &owner_row, findings)
                .await;
        }
        let (delete_forbidden, why) = forbidden(verdict(Action::Delete), owned);
        if let Some(delete) = collection
            .delete
            .filter(|_| delete_forbidden && !is_user_row)
        {
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
                            format!(
                                "user `{}` can delete a row of `{}` that `{}` owns",
                                intruder.name, collection.path, owner.name
                            ),
                            format!(
                                "{} {path} as `{}` answered {}, and the owner's next GET answered 404 ({why})",
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
        if still_there {
            vec![(row, private)]
        } else {
            Vec::new()
        }
    }

    /// B reads a row the schema lets them read: every field whose own read rule refuses B must
    /// not show the owner's value.
    async fn field_reads(
        &self,
        collection: &Collection<'_>,
        get: &Operation,
        path: &str,
        row: &OwnedRow,
        parameter: &str,
        findings: &mut Vec<Finding>,
    ) {
        let Some(expect) = self.expectations else {
            return;
        };
        let Some(rules) = expect.rules(collection.path) else {
            return;
        };
        let hidden: Vec<String> = rules
            .field_reads(&expect.intruder, &row.row)
            .into_iter()
            .filter(|(name, verdict)| {
                *verdict == Some(false) && row.row.get(name).is_some_and(|value| !value.is_null())
            })
            .map(|(name, _)| name)
            .collect();
        if hidden.is_empty() {
            return;
        }
        let request = Request::new("GET", path).bearer(&self.intruder.token);
        let Some(exchange) = send_patiently(self.target, request)
            .await
            .filter(is_success)
        else {
            return;
        };
        let Some(seen) = find_row(exchange.json(), &row.id, parameter) else {
            return;
        };
        let leaked: Vec<&String> = hidden
            .iter()
            .filter(|name| seen.get(name.as_str()) == row.row.get(name.as_str()))
            .collect();
        if let Some(first) = leaked.first() {
            let names: Vec<String> = leaked.iter().map(|name| format!("`{name}`")).collect();
            findings.push(finding(
                AUTHZ_FIELD_READ,
                Severity::High,
                format!(
                    "user `{}` can read `{first}` of a row of `{}` that `{}` owns",
                    self.intruder.name, collection.path, self.owner.name
                ),
                format!(
                    "GET {path} as `{}` answered {} with {} as the owner stored it; the schema's field rules keep it from them",
                    self.intruder.name,
                    exchange.status,
                    names.join(", ")
                ),
                Some(get),
                Some(&exchange),
                FIX_FIELD,
            ));
        }
    }

    /// B changes one field of A's row (when B must not); a finding when A then reads B's value.
    async fn update(
        &self,
        collection: &Collection<'_>,
        update: &Operation,
        path: &str,
        owned: bool,
        owner_row: &Map<String, Value>,
        findings: &mut Vec<Finding>,
    ) {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let Some(schema) = &update.request_body else {
            return;
        };
        let Some((field, value)) = changed_field(schema, owner_row) else {
            return;
        };
        let mut changes = Map::new();
        changes.insert(field.clone(), value.clone());
        let verdict = self.expectations.and_then(|expect| {
            expect
                .rules(collection.path)?
                .may_update(&expect.intruder, owner_row, &changes)
        });
        let (must_refuse, why) = forbidden(verdict, owned);
        if !must_refuse {
            return;
        }
        let mut body = if update.method == "PUT" {
            sample_value(schema, "").unwrap_or_else(|| json!({}))
        } else {
            json!({})
        };
        if let Value::Object(fields) = &mut body {
            fields.extend(changes);
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
                    "{} {path} as `{}` answered {} and the owner now reads `{field}` = {} ({why})",
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

    /// B lists A's collection: plain, filtered by the row's id, and filtered by the owner's id
    /// (`?ownerId=<A's id>`); a finding when A's row shows and an anonymous request with the same
    /// query does not see it.
    async fn lists(
        &self,
        collection: &Collection<'_>,
        row: &OwnedRow,
        parameter: &str,
        findings: &mut Vec<Finding>,
    ) {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let Some(list) = collection.list else {
            return;
        };
        let owner_keys: Vec<&str> = self
            .expectations
            .and_then(|expect| expect.rules(collection.path))
            .map(|rules| rules.owner_keys())
            .unwrap_or_default();
        let mut queries: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for filter in [parameter, "id"] {
            if has_query_parameter(list, filter) {
                queries.push(vec![(filter.to_string(), row.id.clone())]);
                break;
            }
        }
        if let Some(subject) = &owner.subject {
            for query in &list.parameters {
                if query.location != Location::Query
                    || query.name == parameter
                    || query.name == "id"
                {
                    continue;
                }
                let lower = query.name.to_ascii_lowercase();
                let holds_owner = row
                    .row
                    .get(&query.name)
                    .and_then(id_text)
                    .is_some_and(|value| value == *subject);
                if holds_owner
                    || owner_keys.contains(&query.name.as_str())
                    || OWNER_FIELDS.contains(&lower.as_str())
                    || OWNER_FILTERS.contains(&lower.as_str())
                {
                    queries.push(vec![(query.name.clone(), subject.clone())]);
                }
            }
        }
        for query in queries {
            let path = with_query(collection.path, &query);
            let Some(exchange) =
                send_patiently(target, Request::new("GET", &path).bearer(&intruder.token)).await
            else {
                continue;
            };
            if !is_success(&exchange) || !same_row_in(exchange.json(), &row.id, &row.row, parameter)
            {
                continue;
            }
            let anonymous = send_patiently(target, Request::new("GET", &path)).await;
            if anonymous.is_some_and(|anonymous| {
                is_success(&anonymous)
                    && same_row_in(anonymous.json(), &row.id, &row.row, parameter)
            }) {
                continue;
            }
            let how = match query.first() {
                Some((name, _)) => format!("a list filtered by `{name}`"),
                None => "a list".to_string(),
            };
            findings.push(finding(
                AUTHZ_LIST_LEAK,
                Severity::High,
                format!(
                    "user `{}` sees a row of `{}` that `{}` owns in {how}",
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

    /// B reads with each documented `include`: every list, and the item reads of A's rows that B
    /// may read; a finding when a private row of A comes embedded.
    async fn includes(
        &self,
        document: &ApiDocument,
        owned_rows: &[(OwnedRow, bool)],
        findings: &mut Vec<Finding>,
    ) {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let private: Vec<&OwnedRow> = owned_rows
            .iter()
            .filter(|(_, private)| *private)
            .map(|(row, _)| row)
            .collect();
        if private.is_empty() {
            return;
        }
        for operation in &document.operations {
            if operation.method != "GET" {
                continue;
            }
            let Some(include) = operation.parameters.iter().find(|parameter| {
                parameter.location == Location::Query && parameter.name == "include"
            }) else {
                continue;
            };
            // Lists as they are; item reads at each readable row of A's in that collection.
            let paths: Vec<String> = if !operation.path.contains('{') {
                vec![operation.path.clone()]
            } else {
                let collection = crate::users::collection_of(&operation.path);
                let Some(parameter) = crate::users::trailing_parameter(&operation.path) else {
                    continue;
                };
                if collection.contains('{') {
                    continue;
                }
                owned_rows
                    .iter()
                    .filter(|(row, private)| !private && row.collection == collection)
                    .map(|(row, _)| fill_path(&operation.path, &[(parameter, &row.id)], false))
                    .collect()
            };
            'paths: for base in paths {
                for relation in include_values(&include.schema) {
                    let path = with_query(&base, &[("include".to_string(), relation.clone())]);
                    let Some(exchange) =
                        send_patiently(target, Request::new("GET", &path).bearer(&intruder.token))
                            .await
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
                    break 'paths;
                }
            }
        }
    }

    /// The rows nested under one of A's private rows (`/notes/{A's id}/comments`): A adds one,
    /// then B lists them, reads A's, and adds one of their own. Any of these succeeding is a
    /// finding; B's addition only once A sees it.
    async fn nested(
        &self,
        nested: &Nested<'_>,
        owned_rows: &[(OwnedRow, bool)],
        findings: &mut Vec<Finding>,
    ) {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let Some((parent, _)) = owned_rows
            .iter()
            .find(|(row, private)| *private && row.collection == nested.parent)
        else {
            return;
        };
        let under = fill_path(nested.path, &[(nested.parent_parameter, &parent.id)], false);
        let child_parameter = nested
            .item
            .and_then(|item| crate::users::trailing_parameter(&item.path));
        let create_body = |operation: &Operation| {
            let schema = operation.request_body.clone().unwrap_or_else(|| json!({}));
            sample_value(&schema, "").unwrap_or_else(|| json!({}))
        };
        // A's own child row, created or listed.
        let mut child: Option<(String, Map<String, Value>)> = None;
        if let Some(create) = nested.create {
            let request = Request::new("POST", &under)
                .bearer(&owner.token)
                .json(&create_body(create));
            if let Some(exchange) = send_patiently(target, request).await.filter(is_success) {
                let id = created_id(&exchange, child_parameter.unwrap_or("id"));
                child = id.map(|id| (id, row_of(&exchange).unwrap_or_default()));
            }
        }
        if child.is_none() && nested.list.is_some() {
            let request = Request::new("GET", &under).bearer(&owner.token);
            if let Some(exchange) = send_patiently(target, request).await.filter(is_success) {
                child = first_row(&exchange).and_then(|row| {
                    let id = row
                        .get(child_parameter.unwrap_or("id"))
                        .or_else(|| row.get("id"))
                        .and_then(id_text)?;
                    Some((id, row))
                });
            }
        }
        if let (Some((child_id, child_row)), Some(list)) = (&child, nested.list) {
            let request = Request::new("GET", &under).bearer(&intruder.token);
            if let Some(exchange) = send_patiently(target, request).await.filter(is_success) {
                let anonymous = send_patiently(target, Request::new("GET", &under)).await;
                let public = anonymous.is_some_and(|anonymous| {
                    is_success(&anonymous)
                        && same_row_in(anonymous.json(), child_id, child_row, "id")
                });
                if !public && same_row_in(exchange.json(), child_id, child_row, "id") {
                    findings.push(finding(
                        AUTHZ_LIST_LEAK,
                        Severity::High,
                        format!(
                            "user `{}` lists the rows under a row of `{}` that `{}` owns",
                            intruder.name, nested.parent, owner.name
                        ),
                        format!(
                            "GET {under} as `{}` answered {} with the owner's row `{child_id}`",
                            intruder.name, exchange.status
                        ),
                        Some(list),
                        Some(&exchange),
                        FIX_NESTED,
                    ));
                }
            }
        }
        if let (Some((child_id, child_row)), Some(item), Some(child_parameter)) =
            (&child, nested.item, child_parameter)
        {
            let path = fill_path(
                &item.path,
                &[
                    (nested.parent_parameter, &parent.id),
                    (child_parameter, child_id),
                ],
                false,
            );
            let request = Request::new("GET", &path).bearer(&intruder.token);
            if let Some(exchange) = send_patiently(target, request).await.filter(is_success) {
                if same_row_in(exchange.json(), child_id, child_row, child_parameter) {
                    findings.push(finding(
                        AUTHZ_OBJECT_READ,
                        Severity::High,
                        format!(
                            "user `{}` can read a row nested under a row of `{}` that `{}` owns",
                            intruder.name, nested.parent, owner.name
                        ),
                        format!(
                            "GET {path} as `{}` answered {} with the row",
                            intruder.name, exchange.status
                        ),
                        Some(item),
                        Some(&exchange),
                        FIX_NESTED,
                    ));
                }
            }
        }
        if let Some(create) = nested.create {
            let request = Request::new("POST", &under)
                .bearer(&intruder.token)
                .json(&create_body(create));
            let Some(exchange) = send_patiently(target, request).await.filter(is_success) else {
                return;
            };
            let Some(id) = created_id(&exchange, child_parameter.unwrap_or("id")) else {
                return;
            };
            // Confirmed when A finds B's row among its own.
            let request = Request::new("GET", &under).bearer(&owner.token);
            let seen = match nested.list {
                Some(_) => send_patiently(target, request)
                    .await
                    .filter(is_success)
                    .is_some_and(|answer| {
                        same_row_in(
                            answer.json(),
                            &id,
                            &row_of(&exchange).unwrap_or_default(),
                            "id",
                        )
                    }),
                None => false,
            };
            if seen {
                findings.push(finding(
                    AUTHZ_OBJECT_UPDATE,
                    Severity::Critical,
                    format!(
                        "user `{}` can add rows under a row of `{}` that `{}` owns",
                        intruder.name, nested.parent, owner.name
                    ),
                    format!(
                        "POST {under} as `{}` answered {}, and the owner now lists the new row `{id}`",
                        intruder.name, exchange.status
                    ),
                    Some(create),
                    Some(&exchange),
                    FIX_NESTED,
                ));
            }
        }
    }
}

/// The rows of a list answer: Plinth's `{"data": [...]}` or a bare array; the first one.
fn first_row(exchange: &Exchange) -> Option<Map<String, Value>> {
    let body = exchange.json()?;
    let rows = match body {
        Value::Array(rows) => rows,
        Value::Object(mut object) => match object.remove("data") {
            Some(Value::Array(rows)) => rows,
            _ => return None,
        },
        _ => return None,
    };
    match rows.into_iter().next()? {
        Value::Object(row) => Some(row),
        _ => None,
    }
}

/// The object with id `id` anywhere in `body`.
fn find_row(body: Option<Value>, id: &str, id_field: &str) -> Option<Map<String, Value>> {
    fn visit(value: &Value, id: &str, id_field: &str) -> Option<Map<String, Value>> {
        match value {
            Value::Array(items) => items.iter().find_map(|item| visit(item, id, id_field)),
            Value::Object(object) => {
                let matches = object
                    .get(id_field)
                    .or_else(|| object.get("id"))
                    .and_then(id_text)
                    .is_some_and(|found| found == id);
                if matches {
                    return Some(object.clone());
                }
                object.values().find_map(|inner| visit(inner, id, id_field))
            }
            _ => None,
        }
    }
    visit(&body?, id, id_field)
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

/// How a mass-assignment candidate may be sent, and what says it must not stick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Guard {
    /// No write body takes the field at all: any value sent must be refused or ignored.
    NeverWritten,
    /// Write bodies take it, but the schema's rules keep B from setting this value: checked
    /// per row (updates) and per body (creates) before anything is sent.
    Rules,
}

impl Probe<'_> {
    /// B writes fields clients may not write — with the schema, the fields no body takes and
    /// the ones its rules keep from B (a role only admins may change, a create rule on the
    /// role); without, the fields the read schema shows but no write schema lists — and a
    /// finding when the stored row takes B's value.
    async fn mass_assignment(&self, collection: &Collection<'_>, findings: &mut Vec<Finding>) {
        let (target, owner, intruder) = (self.target, self.owner, self.intruder);
        let Some(get) = collection.get else {
            return;
        };
        let Some((item_path, parameter)) = collection.item_path() else {
            return;
        };
        let Some(read_schema) = success_schema(get) else {
            return;
        };
        let schema_rules = self
            .expectations
            .and_then(|expect| Some((expect.rules(collection.path)?, &expect.intruder)));
        let mut writable: Vec<String> = Vec::new();
        for operation in [collection.create, collection.update].into_iter().flatten() {
            if let Some(schema) = &operation.request_body {
                writable.extend(properties(schema).into_iter().map(|(name, _)| name));
            }
        }
        let never_written: Option<Vec<&str>> = schema_rules.map(|(rules, _)| rules.never_written());
        let candidates: Vec<(String, Value, Guard)> = properties(read_schema)
            .into_iter()
            .filter(|(name, schema)| {
                let types = schema_types(schema);
                name != parameter
                    && name != "id"
                    && schema.get("format").and_then(Value::as_str) != Some("date-time")
                    && !types.iter().any(|kind| kind == "object" || kind == "array")
                    && (!types.is_empty() || schema.get("enum").is_some())
            })
            .filter_map(|(name, schema)| {
                let guard = match &never_written {
                    Some(never) if never.contains(&name.as_str()) => Guard::NeverWritten,
                    Some(_) => Guard::Rules,
                    None if !writable.contains(&name) => Guard::NeverWritten,
                    None => return None,
                };
                Some((name, schema, guard))
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        // B's own rows: their user row in a users collection, and one B creates.
        let mut rows = Vec::new();
        if let Some(row) = own_user_row(target, collection, intruder).await {
            rows.push(row);
        }
        if let Some(row) = create_row(target, collection, intruder, None).await {
            rows.push(row);
        }
        for (field, schema, guard) in candidates {
            let mut reported = false;
            // Through an update of one of B's rows.
            for row in &rows {
                let Some(update) = collection.update.filter(|_| !reported) else {
                    break;
                };
                let current = row.row.get(&field).cloned().unwrap_or(Value::Null);
                let Some(crafted) = crafted_value(&field, &schema, &current, owner) else {
                    continue;
                };
                let mut body = Map::new();
                body.insert(field.clone(), crafted.clone());
                if guard == Guard::Rules {
                    let Some((rules, caller)) = schema_rules else {
                        continue;
                    };
                    // Only where B may update the row itself, and the rules refuse this value.
                    let refused = rules.update_takes(&field)
                        && rules.may_update(caller, &row.row, &Map::new()) != Some(false)
                        && rules.may_update(caller, &row.row, &body) == Some(false);
                    if !refused {
                        continue;
                    }
                }
                let path = fill_path(item_path, &[(parameter, &row.id)], false);
                let request = Request::new(&update.method, &path)
                    .bearer(&intruder.token)
                    .json(&Value::Object(body));
                if let Some(exchange) = send_patiently(target, request).await {
                    if is_success(&exchange)
                        && stored(target, &exchange, &path, &field, &crafted, intruder, owner).await
                    {
                        findings.push(mass_finding(
                            collection, update, &field, &crafted, guard, intruder, &exchange,
                        ));
                        reported = true;
                    }
                }
            }
            // Through a create.
            let Some(create) = collection.create.filter(|_| !reported) else {
                continue;
            };
            let current = rows
                .first()
                .and_then(|row| row.row.get(&field).cloned())
                .unwrap_or(Value::Null);
            let Some(crafted) = crafted_value(&field, &schema, &current, owner) else {
                continue;
            };
            let schema_body = create.request_body.clone().unwrap_or_else(|| json!({}));
            let mut body = match sample_value(&schema_body, "") {
                Some(Value::Object(fields)) => fields,
                _ => Map::new(),
            };
            if guard == Guard::Rules {
                let Some((rules, caller)) = schema_rules else {
                    continue;
                };
                let mut crafted_body = body.clone();
                crafted_body.insert(field.clone(), crafted.clone());
                // Only where B may create a row at all, and the rules refuse this value.
                let refused = rules.create_takes(&field)
                    && rules.may_create(caller, &body) != Some(false)
                    && rules.may_create(caller, &crafted_body) == Some(false);
                if !refused {
                    continue;
                }
            }
            body.insert(field.clone(), crafted.clone());
            let request = Request::new("POST", collection.path)
                .bearer(&intruder.token)
                .json(&Value::Object(body));
            if let Some(exchange) = send_patiently(target, request).await {
                if is_success(&exchange) {
                    let id = created_id(&exchange, parameter);
                    let path = id
                        .map(|id| fill_path(item_path, &[(parameter, &id)], false))
                        .unwrap_or_default();
                    if stored(target, &exchange, &path, &field, &crafted, intruder, owner).await {
                        findings.push(mass_finding(
                            collection, create, &field, &crafted, guard, intruder, &exchange,
                        ));
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
    exchange: &Exchange,
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
    guard: Guard,
    intruder: &User,
    exchange: &Exchange,
) -> Finding {
    let why = match guard {
        Guard::NeverWritten => "the API does not let clients write it",
        Guard::Rules => "the schema's rules do not let this user set it",
    };
    finding(
        AUTHZ_MASS_ASSIGNMENT,
        Severity::High,
        format!(
            "`{field}` of `{}` can be set by a client although {why}",
            collection.path
        ),
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
    fn the_schema_verdict_wins_over_the_heuristic() {
        assert!(forbidden(Some(false), false).0, "the rules refuse it");
        assert!(!forbidden(Some(true), true).0, "the rules allow it");
        assert!(forbidden(None, true).0, "unknown: the row is the owner's");
        assert!(!forbidden(None, false).0);
    }

    #[test]
    fn rows_are_found_by_id_at_any_depth() {
        let body = json!({"data": [{"id": 9, "notes": [{"id": "n1", "email": "a@x"}]}]});
        assert_eq!(
            find_row(Some(body.clone()), "n1", "id"),
            Some(row(json!({"id": "n1", "email": "a@x"})))
        );
        assert_eq!(find_row(Some(body), "n2", "id"), None);
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
