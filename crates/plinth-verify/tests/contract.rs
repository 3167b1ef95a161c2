//! The contract checks against a tiny items API (axum, in-process, on a free port) described by
//! a hand-written OpenAPI document: correct, it yields no finding; with one flaw switched on,
//! the rule that covers it is reported (and no unrelated rule). The stateful sequence follows
//! the create's OpenAPI `links` where the document has them — to an item path no convention
//! would pair with the create — and the path convention where it has none.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use plinth_verify::client::Target;
use plinth_verify::contract::{self, ContractLimits};
use plinth_verify::document::ApiDocument;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One planted flaw at a time (or none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Flaw {
    #[default]
    None,
    /// A wrong-typed `count` crashes the create: 500.
    ServerErrorOnBadType,
    /// The list answers 418, which is not documented.
    UndocumentedStatus,
    /// The item read answers text/plain.
    WrongContentType,
    /// The item read answers `name` as a number.
    SchemaDrift,
    /// The create answers without its required `Location` header.
    MissingLocation,
    /// A create without the required `name` is accepted.
    AcceptsMissingName,
    /// Reads never find a row.
    ReadLoses,
    /// Updates answer 200 but change nothing.
    UpdateIgnored,
    /// Deletes answer 204 but remove nothing.
    DeleteIgnored,
}

#[derive(Default)]
struct Store {
    next_id: u64,
    rows: BTreeMap<u64, Value>,
}

#[derive(Clone)]
struct App {
    flaw: Flaw,
    store: Arc<Mutex<Store>>,
}

fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "items", "version": "1"},
        "paths": {
            "/items": {
                "get": {
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}}],
                    "responses": {
                        "200": {"description": "rows", "content": {"application/json": {"schema": {
                            "type": "object", "required": ["data"],
                            "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}
                        }}}},
                        "400": {"$ref": "#/components/responses/Problem"}
                    }
                },
                "post": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemCreate"}}}},
                    "responses": {
                        "201": {
                            "description": "created",
                            "headers": {"Location": {"required": true, "schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}
                        },
                        "4XX": {"$ref": "#/components/responses/Problem"}
                    }
                }
            },
            "/items/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "get": {"responses": {
                    "200": {"description": "row", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                    "4XX": {"$ref": "#/components/responses/Problem"}
                }},
                "patch": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemUpdate"}}}},
                    "responses": {
                        "200": {"description": "row", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
                        "4XX": {"$ref": "#/components/responses/Problem"}
                    }
                },
                "delete": {"responses": {
                    "204": {"description": "gone"},
                    "4XX": {"$ref": "#/components/responses/Problem"}
                }}
            }
        },
        "components": {
            "responses": {"Problem": {"description": "a problem", "content": {"application/problem+json": {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}
            }}}}},
            "schemas": {
                "Item": {"type": "object", "required": ["id", "name"], "properties": {
                    "id": {"type": "integer", "readOnly": true},
                    "name": {"type": "string"},
                    "count": {"type": "integer", "nullable": true}
                }},
                "ItemCreate": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 20},
                    "count": {"type": "integer", "minimum": 0, "maximum": 10, "nullable": true}
                }},
                "ItemUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 20},
                    "count": {"type": "integer", "minimum": 0, "maximum": 10, "nullable": true}
                }}
            }
        }
    })
}

fn problem(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({"status": status.as_u16()}).to_string(),
    )
        .into_response()
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The body's fields when they are valid for create (`creating`) or update.
fn validate(
    app: &App,
    body: &[u8],
    creating: bool,
) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(problem(StatusCode::BAD_REQUEST)));
    };
    for (key, value) in &fields {
        match key.as_str() {
            "name" => {
                let length = value.as_str().map(|name| name.chars().count());
                if !matches!(length, Some(1..=20)) {
                    return Err(Box::new(problem(StatusCode::UNPROCESSABLE_ENTITY)));
                }
            }
            "count" => {
                if !value.is_null()
                    && !value
                        .as_i64()
                        .is_some_and(|count| (0..=10).contains(&count))
                {
                    if app.flaw == Flaw::ServerErrorOnBadType && !value.is_number() {
                        return Err(Box::new(
                            (StatusCode::INTERNAL_SERVER_ERROR, "panicked at 'count'")
                                .into_response(),
                        ));
                    }
                    return Err(Box::new(problem(StatusCode::UNPROCESSABLE_ENTITY)));
                }
            }
            _ => return Err(Box::new(problem(StatusCode::UNPROCESSABLE_ENTITY))),
        }
    }
    if creating && !fields.contains_key("name") && app.flaw != Flaw::AcceptsMissingName {
        return Err(Box::new(problem(StatusCode::UNPROCESSABLE_ENTITY)));
    }
    Ok(fields)
}

async fn list(State(app): State<App>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let _ = headers;
    if app.flaw == Flaw::UndocumentedStatus {
        return problem(StatusCode::IM_A_TEAPOT);
    }
    if let Some(query) = uri.query() {
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("limit=") {
                if !value
                    .parse::<u32>()
                    .is_ok_and(|limit| (1..=50).contains(&limit))
                {
                    return problem(StatusCode::BAD_REQUEST);
                }
            }
        }
    }
    let store = app.store.lock().expect("the store lock");
    let rows: Vec<Value> = store.rows.values().cloned().collect();
    json_answer(StatusCode::OK, &json!({"data": rows}))
}

async fn create(State(app): State<App>, body: Bytes) -> Response {
    let fields = match validate(&app, &body, true) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let mut store = app.store.lock().expect("the store lock");
    store.next_id += 1;
    let id = store.next_id;
    let mut row = fields;
    row.insert("id".into(), json!(id));
    row.entry("name").or_insert(json!("unnamed"));
    let row = Value::Object(row);
    store.rows.insert(id, row.clone());
    let mut response = json_answer(StatusCode::CREATED, &row);
    if app.flaw != Flaw::MissingLocation {
        if let Ok(value) = format!("/items/{id}").parse() {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

fn parse_id(text: &str) -> Option<u64> {
    text.parse().ok()
}

async fn read(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id) else {
        return problem(StatusCode::BAD_REQUEST);
    };
    let store = app.store.lock().expect("the store lock");
    let row = match store.rows.get(&id) {
        Some(row) if app.flaw != Flaw::ReadLoses => row.clone(),
        _ => return problem(StatusCode::NOT_FOUND),
    };
    match app.flaw {
        Flaw::WrongContentType => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            row.to_string(),
        )
            .into_response(),
        Flaw::SchemaDrift => {
            let mut drifted = row;
            drifted["name"] = json!(42);
            json_answer(StatusCode::OK, &drifted)
        }
        _ => json_answer(StatusCode::OK, &row),
    }
}

async fn update(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Response {
    let Some(id) = parse_id(&id) else {
        return problem(StatusCode::BAD_REQUEST);
    };
    let fields = match validate(&app, &body, false) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let mut store = app.store.lock().expect("the store lock");
    let Some(row) = store.rows.get_mut(&id) else {
        return problem(StatusCode::NOT_FOUND);
    };
    let mut changed = row.clone();
    for (key, value) in fields {
        changed[key.as_str()] = value;
    }
    if app.flaw != Flaw::UpdateIgnored {
        *row = changed.clone();
    }
    json_answer(StatusCode::OK, &changed)
}

async fn delete(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Some(id) = parse_id(&id) else {
        return problem(StatusCode::BAD_REQUEST);
    };
    let mut store = app.store.lock().expect("the store lock");
    if !store.rows.contains_key(&id) {
        return problem(StatusCode::NOT_FOUND);
    }
    if app.flaw != Flaw::DeleteIgnored {
        store.rows.remove(&id);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn serve(flaw: Flaw) -> Target {
    let app = App {
        flaw,
        store: Arc::new(Mutex::new(Store::default())),
    };
    let router = Router::new()
        .route("/items", get(list).post(create))
        .route("/items/{id}", get(read).patch(update).delete(delete))
        // The same rows at a path only links lead to.
        .route("/things/{id}", get(read).patch(update).delete(delete))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Target::new(&format!("http://{address}"), Duration::from_secs(10)).expect("a valid URL")
}

/// The document with the item operations at `/things/{thingId}` instead of `/items/{id}`, and
/// (`with_links`) the create's 201 linking to them by `operationId` with
/// `thingId: $response.body#/id`.
fn elsewhere_document(with_links: bool) -> Value {
    let mut document = document();
    let paths = document["paths"].as_object_mut().expect("paths");
    let mut item = paths.remove("/items/{id}").expect("the item path");
    item["parameters"][0]["name"] = json!("thingId");
    for (method, id) in [
        ("get", "getThing"),
        ("patch", "updateThing"),
        ("delete", "deleteThing"),
    ] {
        item[method]["operationId"] = json!(id);
    }
    paths.insert("/things/{thingId}".into(), item);
    if with_links {
        let link =
            |id: &str| json!({"operationId": id, "parameters": {"thingId": "$response.body#/id"}});
        paths["/items"]["post"]["responses"]["201"]["links"] = json!({
            "GetThing": link("getThing"),
            "UpdateThing": link("updateThing"),
            // By reference, the other way a link may name its operation.
            "DeleteThing": {"operationRef": "#/paths/~1things~1{thingId}/delete", "parameters": {"path.thingId": "$response.body#/id"}}
        });
    }
    document
}

async fn rules_found(flaw: Flaw) -> (BTreeSet<&'static str>, contract::ContractOutcome) {
    rules_found_in(flaw, document()).await
}

async fn rules_found_in(
    flaw: Flaw,
    document: Value,
) -> (BTreeSet<&'static str>, contract::ContractOutcome) {
    let target = serve(flaw).await;
    let document = ApiDocument::from_value("items.json", document).expect("the document loads");
    let outcome = contract::check(&target, &document, None, &ContractLimits::default()).await;
    let rules = outcome
        .findings
        .iter()
        .map(|finding| finding.rule)
        .collect();
    (rules, outcome)
}

#[tokio::test]
async fn a_correct_api_has_no_findings_and_every_rule_is_checked() {
    let (rules, outcome) = rules_found(Flaw::None).await;
    assert!(rules.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.operations_tested, 5);
    let checked: BTreeSet<&str> = outcome
        .checks
        .iter()
        .map(|check| check.rule.as_str())
        .collect();
    for rule in [
        contract::SERVER_ERROR,
        contract::UNDOCUMENTED_STATUS,
        contract::UNDOCUMENTED_CONTENT_TYPE,
        contract::RESPONSE_SCHEMA,
        contract::MISSING_HEADER,
        contract::INVALID_INPUT_ACCEPTED,
        contract::STATEFUL_READ_AFTER_CREATE,
        contract::STATEFUL_UPDATE_LOST,
        contract::STATEFUL_DELETE_INEFFECTIVE,
    ] {
        assert!(checked.contains(rule), "{rule} was never checked");
    }
}

#[tokio::test]
async fn each_planted_flaw_is_found_by_its_rule() {
    let cases = [
        (Flaw::ServerErrorOnBadType, contract::SERVER_ERROR),
        (Flaw::UndocumentedStatus, contract::UNDOCUMENTED_STATUS),
        (Flaw::WrongContentType, contract::UNDOCUMENTED_CONTENT_TYPE),
        (Flaw::SchemaDrift, contract::RESPONSE_SCHEMA),
        (Flaw::MissingLocation, contract::MISSING_HEADER),
        (Flaw::AcceptsMissingName, contract::INVALID_INPUT_ACCEPTED),
        (Flaw::ReadLoses, contract::STATEFUL_READ_AFTER_CREATE),
        (Flaw::UpdateIgnored, contract::STATEFUL_UPDATE_LOST),
        (Flaw::DeleteIgnored, contract::STATEFUL_DELETE_INEFFECTIVE),
    ];
    for (flaw, rule) in cases {
        let (rules, outcome) = rules_found(flaw).await;
        // Drift in the read also makes the row read back differently from how it was created
        // and updated.
        let expected = if flaw == Flaw::SchemaDrift {
            BTreeSet::from([
                rule,
                contract::STATEFUL_READ_AFTER_CREATE,
                contract::STATEFUL_UPDATE_LOST,
            ])
        } else {
            BTreeSet::from([rule])
        };
        assert_eq!(rules, expected, "{flaw:?}: {:#?}", outcome.findings);
        let finding = outcome
            .findings
            .iter()
            .find(|finding| finding.rule == rule)
            .expect("the finding");
        let request = finding
            .request
            .as_ref()
            .expect("every contract finding carries its request");
        assert!(request.curl().starts_with("curl -g -i -X "), "{flaw:?}");
        assert!(!finding.fix.is_empty() && finding.operation.is_some());
    }
}

#[tokio::test]
async fn limits_bound_the_requests_sent() {
    let target = serve(Flaw::None).await;
    let document = ApiDocument::from_value("items.json", document()).expect("the document loads");
    let limits = ContractLimits {
        max_requests_per_operation: 2,
        max_duration: Duration::from_secs(60),
    };
    let outcome = contract::check(&target, &document, None, &limits).await;
    assert!(
        outcome.requests_sent <= 5 * 2,
        "{} requests",
        outcome.requests_sent
    );
}

fn stateful_rules_checked(outcome: &contract::ContractOutcome) -> BTreeSet<&str> {
    outcome
        .checks
        .iter()
        .map(|check| check.rule.as_str())
        .filter(|rule| rule.starts_with("contract-stateful-"))
        .collect()
}

#[tokio::test]
async fn links_lead_the_stateful_sequence_where_paths_do_not() {
    // With links: the whole sequence runs against `/things/{thingId}`, and finds what it must.
    let (rules, outcome) = rules_found_in(Flaw::None, elsewhere_document(true)).await;
    assert!(rules.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(
        stateful_rules_checked(&outcome),
        BTreeSet::from([
            contract::STATEFUL_READ_AFTER_CREATE,
            contract::STATEFUL_UPDATE_LOST,
            contract::STATEFUL_DELETE_INEFFECTIVE
        ])
    );
    for (flaw, rule) in [
        (Flaw::UpdateIgnored, contract::STATEFUL_UPDATE_LOST),
        (Flaw::DeleteIgnored, contract::STATEFUL_DELETE_INEFFECTIVE),
    ] {
        let (rules, outcome) = rules_found_in(flaw, elsewhere_document(true)).await;
        assert_eq!(rules, BTreeSet::from([rule]), "{:#?}", outcome.findings);
    }
    // Without links, nothing pairs `POST /items` with `/things/{thingId}`: no sequence at all,
    // so the same flaw goes unseen.
    let (rules, outcome) = rules_found_in(Flaw::DeleteIgnored, elsewhere_document(false)).await;
    assert!(stateful_rules_checked(&outcome).is_empty(), "{rules:?}");
    assert!(!rules.contains(contract::STATEFUL_DELETE_INEFFECTIVE));
}
