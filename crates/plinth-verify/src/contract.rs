//! Contract checks: every operation of the document exercised with generated inputs — valid
//! ones and deliberately invalid ones — and every answer held to what the document promises
//! (no 5xx, documented status, content type, headers and body schema); then stateful sequences
//! per collection (create → read → update → delete → read is 404), which follow the create's
//! OpenAPI `links` when the document has them, and the path convention otherwise
//! (`POST /things` beside `/things/{id}`). Header parameters get invalid values too (too long,
//! against their pattern), sent only as text a header can carry.
//!
//! Precision over reach: a check reports only what the document actually promises. A row the
//! API creates but does not let its creator read (the create answer echoes none of it) is not a
//! lost write; statuses outside the document are findings only because the document lists them.

use crate::client::{Exchange, Request, Target};
use crate::document::{ApiDocument, Location, Operation, Security};
use crate::findings::{Finding, RecordedRequest, Severity};
use crate::generate::{self, Direction, Fill, Generator, InvalidVariant};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A 5xx answer: the server failed on a request it should have handled or refused.
pub const SERVER_ERROR: &str = "contract-server-error";
/// An answer with a status code the operation does not document (no exact code, range or default).
pub const UNDOCUMENTED_STATUS: &str = "contract-undocumented-status";
/// An answer whose content type the documented response does not list.
pub const UNDOCUMENTED_CONTENT_TYPE: &str = "contract-undocumented-content-type";
/// A JSON body that does not conform to the documented response schema.
pub const RESPONSE_SCHEMA: &str = "contract-response-schema";
/// A response header the document marks `required` is missing.
pub const MISSING_HEADER: &str = "contract-missing-header";
/// A request the document forbids (wrong type, missing field, out of range…) answered with 2xx.
pub const INVALID_INPUT_ACCEPTED: &str = "contract-invalid-input-accepted";
/// No answer at all (timeout, reset connection) to a well-formed request.
pub const NO_RESPONSE: &str = "contract-no-response";
/// A row created with 2xx (and echoed to its creator) cannot be read back, or reads differently.
pub const STATEFUL_READ_AFTER_CREATE: &str = "contract-stateful-read-after-create";
/// An update answered with 2xx is not visible in the next read.
pub const STATEFUL_UPDATE_LOST: &str = "contract-stateful-update-lost";
/// A delete answered with 2xx leaves the row readable.
pub const STATEFUL_DELETE_INEFFECTIVE: &str = "contract-stateful-delete-ineffective";

/// Every rule this module reports, with its one-line description (for docs and JUnit).
pub const RULES: &[(&str, &str)] = &[
    (SERVER_ERROR, "no request is answered with a 5xx status"),
    (
        UNDOCUMENTED_STATUS,
        "every status code answered is documented",
    ),
    (
        UNDOCUMENTED_CONTENT_TYPE,
        "every content type answered is documented",
    ),
    (
        RESPONSE_SCHEMA,
        "JSON bodies conform to the documented schema",
    ),
    (MISSING_HEADER, "required response headers are present"),
    (
        INVALID_INPUT_ACCEPTED,
        "requests the document forbids are refused",
    ),
    (NO_RESPONSE, "every request is answered"),
    (
        STATEFUL_READ_AFTER_CREATE,
        "a created row reads back as created",
    ),
    (
        STATEFUL_UPDATE_LOST,
        "an accepted update is visible in the next read",
    ),
    (STATEFUL_DELETE_INEFFECTIVE, "a deleted row reads as 404"),
];

/// How much work the contract checks may do.
#[derive(Clone, Debug)]
pub struct ContractLimits {
    /// Requests per operation, valid and invalid together.
    pub max_requests_per_operation: usize,
    /// Wall-clock budget for all contract checks; checks past it are skipped (and said so).
    pub max_duration: Duration,
}

impl Default for ContractLimits {
    fn default() -> ContractLimits {
        ContractLimits {
            max_requests_per_operation: 40,
            max_duration: Duration::from_secs(120),
        }
    }
}

/// One (rule, operation) pair that was checked: a JUnit test case, failed when a finding with
/// the same rule and operation exists.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Check {
    pub rule: String,
    pub operation: String,
}

/// What the contract checks did.
#[derive(Clone, Debug, Default)]
pub struct ContractOutcome {
    pub findings: Vec<Finding>,
    pub checks: BTreeSet<Check>,
    pub operations_tested: usize,
    pub requests_sent: usize,
    /// Operations skipped and why (event streams, the time budget).
    pub skipped: Vec<(String, String)>,
}

/// What an answer is expected to be, beyond the document's promises.
#[derive(Clone, Debug)]
enum Expectation {
    /// A request the document allows: any documented answer.
    Valid,
    /// A request the document forbids: must not be answered with 2xx.
    Invalid(String),
}

/// Runs the contract checks of every operation in `document` against `target`, acting with
/// `token` (the first user's) where an operation takes one.
pub async fn check(
    target: &Target,
    document: &ApiDocument,
    token: Option<&str>,
    limits: &ContractLimits,
) -> ContractOutcome {
    let mut run = ContractRun {
        target,
        base_path: effective_base_path(&target.base_url, &document.base_path()),
        token: token.map(str::to_string),
        limits: limits.clone(),
        deadline: Instant::now() + limits.max_duration,
        generator: Generator::new(),
        validators: HashMap::new(),
        outcome: ContractOutcome::default(),
        seen: BTreeSet::new(),
        sent_per_operation: HashMap::new(),
        trace: std::env::var_os("PLINTH_VERIFY_TRACE").is_some(),
    };
    run.all(document).await;
    run.outcome
}

struct ContractRun<'a> {
    target: &'a Target,
    base_path: String,
    token: Option<String>,
    limits: ContractLimits,
    deadline: Instant,
    generator: Generator,
    /// Compiled response validators by schema text; `None` when a schema does not compile.
    validators: HashMap<String, Option<jsonschema::Validator>>,
    outcome: ContractOutcome,
    /// (rule, operation, title) already reported: one finding per distinct problem.
    seen: BTreeSet<(String, String, String)>,
    sent_per_operation: HashMap<String, usize>,
    /// `PLINTH_VERIFY_TRACE` set: every exchange is printed on stderr (debugging a target).
    trace: bool,
}

/// A create and the operations on the row it makes.
struct Resource<'d> {
    create: &'d Operation,
    items: Vec<(&'d Operation, Binding)>,
}

/// How an operation that follows a create is pointed at the created row.
#[derive(Clone, Debug)]
enum Binding {
    /// The path convention: the item path's one parameter is the new row's id.
    Convention { parameter: String },
    /// The create's link: each parameter a constant or a runtime expression
    /// (`$response.body#/id`, `$response.header.Location`, `$request.body#/slug`).
    Link(Vec<(String, Value)>),
}

impl Resource<'_> {
    /// The fields of the create's answer that only address the row (its id): a row echoing
    /// nothing else is not expected to read back.
    fn address_fields(&self) -> BTreeSet<String> {
        let mut fields = BTreeSet::from(["id".to_string()]);
        for (_, binding) in &self.items {
            match binding {
                Binding::Convention { parameter } => {
                    fields.insert(parameter.clone());
                }
                Binding::Link(parameters) => {
                    for (_, value) in parameters {
                        let pointer = value
                            .as_str()
                            .and_then(|text| text.strip_prefix("$response.body#/"));
                        if let Some(first) = pointer.and_then(|pointer| pointer.split('/').next()) {
                            fields.insert(first.replace("~1", "/").replace("~0", "~"));
                        }
                    }
                }
            }
        }
        fields
    }
}

impl<'a> ContractRun<'a> {
    async fn all(&mut self, document: &ApiDocument) {
        let mut exercised: BTreeSet<String> = BTreeSet::new();
        let testable: Vec<&Operation> = document
            .operations
            .iter()
            .filter(|operation| {
                if operation.is_event_stream() {
                    self.outcome.skipped.push((
                        operation.label(),
                        "an event stream never ends; not exercised".into(),
                    ));
                    false
                } else {
                    true
                }
            })
            .collect();
        // Stateful sequences first: they also give real ids to the item operations.
        for resource in resources(document, &testable) {
            if self.out_of_time() {
                break;
            }
            self.stateful(&resource).await;
            exercised.insert(resource.create.label());
            for (operation, _) in &resource.items {
                exercised.insert(operation.label());
            }
        }
        for operation in &testable {
            if exercised.contains(&operation.label()) {
                continue;
            }
            if self.out_of_time() {
                self.outcome
                    .skipped
                    .push((operation.label(), "the contract time budget ran out".into()));
                continue;
            }
            self.single(operation, &[]).await;
        }
        self.outcome.operations_tested = testable.len()
            - self
                .outcome
                .skipped
                .iter()
                .filter(|(_, why)| why.contains("budget"))
                .count();
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Valid requests (required only, then everything) and every invalid variant, for one
    /// operation with `known` path values.
    async fn single(&mut self, operation: &Operation, known: &[(String, String)]) {
        let minimal = self.build(operation, known, Fill::Required, None);
        self.exchange(operation, minimal, Expectation::Valid).await;
        let full = self.build(operation, known, Fill::All, None);
        self.exchange(operation, full, Expectation::Valid).await;
        self.invalid_requests(operation, known).await;
    }

    /// The invalid variants of the body and of the parameters, each sent once.
    async fn invalid_requests(&mut self, operation: &Operation, known: &[(String, String)]) {
        if let Some(schema) = &operation.request_body {
            let variants = self.generator.invalid_variants(schema, Direction::Request);
            for variant in variants {
                let request = self.build(operation, known, Fill::Required, Some(&variant.value));
                self.exchange(
                    operation,
                    request,
                    Expectation::Invalid(format!("body: {}", variant.label)),
                )
                .await;
            }
        }
        let mut tried: BTreeSet<(String, String, generate::InvalidKind)> = BTreeSet::new();
        for parameter in &operation.parameters {
            let header = parameter.location == Location::Header;
            if !matches!(
                parameter.location,
                Location::Query | Location::Path | Location::Header
            ) || (header && is_transport_header(&parameter.name))
            {
                continue;
            }
            let flattened = generate::flatten(&parameter.schema);
            let Some(map) = flattened.as_object() else {
                continue;
            };
            let valid = self
                .generator
                .valid(&flattened, Direction::Request, Fill::Required);
            let what = format!(
                "{} parameter `{}`",
                location_name(parameter.location),
                parameter.name
            );
            let mut variants: Vec<InvalidVariant> = self
                .generator
                .scalar_variants(map, &valid, &what)
                .into_iter()
                // A query string carries text: only values whose text is itself invalid count
                // (`12345` is a fine string; `verify-not-a-number` is not an integer).
                .filter(|variant| match generate::schema_type(map).as_deref() {
                    Some("string") => !matches!(variant.kind, generate::InvalidKind::WrongType),
                    Some("array") | Some("object") => false,
                    _ => true,
                })
                .collect();
            // A comma-separated list of enum values (`include=owner,tags`): an unknown item.
            let item_enum = generate::schema_type(map).as_deref() == Some("array")
                && flattened.pointer("/items/enum").is_some_and(|values| {
                    values
                        .as_array()
                        .is_some_and(|values| !values.contains(&Value::from("verify-not-in-enum")))
                });
            if item_enum {
                variants.push(InvalidVariant {
                    kind: generate::InvalidKind::BadEnum,
                    label: format!("{what}: an item not in its enum"),
                    value: Value::from("verify-not-in-enum"),
                });
            }
            if header {
                // A header carries visible ASCII text with no surrounding blanks (which servers
                // trim); anything else could not be sent, or would arrive as another value.
                variants.retain(|variant| is_header_text(&scalar_text(&variant.value)));
                variants.extend(pattern_variant(map, &what));
            }
            // `dueAt[lt]` and `dueAt[gt]` share a schema and a parser: one of each kind is
            // enough, which keeps the per-operation budget for the other parameters.
            let family = parameter.name.split('[').next().unwrap_or("").to_string();
            variants.retain(|variant| {
                tried.insert((family.clone(), flattened.to_string(), variant.kind))
            });
            for variant in variants {
                let text = scalar_text(&variant.value);
                let mut request = self.build(operation, known, Fill::Required, None);
                match parameter.location {
                    Location::Path => {
                        // A path value that is not this row's is also simply not found: only
                        // a 2xx answer means the bad value was accepted.
                        let values: Vec<(String, String)> = known
                            .iter()
                            .filter(|(name, _)| name != &parameter.name)
                            .cloned()
                            .chain(std::iter::once((parameter.name.clone(), text)))
                            .collect();
                        request = self.build(operation, &values, Fill::Required, None);
                    }
                    Location::Header => {
                        request
                            .headers
                            .retain(|(name, _)| !name.eq_ignore_ascii_case(&parameter.name));
                        request = request.header(&parameter.name, text);
                    }
                    _ => {
                        let separator = if request.path.contains('?') { '&' } else { '?' };
                        request.path = format!(
                            "{}{}{}={}",
                            request.path,
                            separator,
                            percent_encode(&parameter.name),
                            percent_encode(&text)
                        );
                    }
                }
                self.exchange(operation, request, Expectation::Invalid(variant.label))
                    .await;
            }
        }
    }

    /// POST the collection → GET the item → PATCH/PUT it → the other item operations →
    /// DELETE it → GET is 404; then the collection's own remaining checks.
    async fn stateful(&mut self, resource: &Resource<'_>) {
        let create = resource.create;
        let create_request = self.build(create, &[], Fill::Required, None);
        let sent_body: Option<Value> = create_request
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str(body).ok());
        let created = self
            .exchange(create, create_request, Expectation::Valid)
            .await;
        let full = self.build(create, &[], Fill::All, None);
        self.exchange(create, full, Expectation::Valid).await;
        self.invalid_requests(create, &[]).await;
        let Some(created) = created.filter(|exchange| (200..300).contains(&exchange.status)) else {
            // Nothing created (refused by policy, or a conflict): exercise the item operations
            // with generated ids only.
            for (operation, _) in &resource.items {
                self.single(operation, &[]).await;
            }
            return;
        };
        let created_row = created.json().and_then(|value| value.as_object().cloned());
        // Each operation's path values from the created row; `None` when they cannot be had.
        let bound: Vec<(&Operation, Option<Known>)> = resource
            .items
            .iter()
            .map(|(operation, binding)| {
                let known = bind(binding, operation, sent_body.as_ref(), &created);
                (*operation, known)
            })
            .collect();
        // The creator sees the row only when the create answer echoes more than its address: a
        // write-only resource (or one its creator may not read) is not expected to read back.
        let address = resource.address_fields();
        let visible = created_row
            .as_ref()
            .is_some_and(|row| row.keys().any(|key| !address.contains(key)));
        let read: Option<(&Operation, Known)> = bound.iter().find_map(|(operation, known)| {
            (operation.method == "GET")
                .then(|| known.clone().map(|known| (*operation, known)))
                .flatten()
        });
        let label = create.label();
        if let Some((read_operation, read_known)) = &read {
            let request = self.build(read_operation, read_known, Fill::Required, None);
            let answer = self
                .exchange(read_operation, request, Expectation::Valid)
                .await;
            if visible {
                self.note_check(STATEFUL_READ_AFTER_CREATE, &label);
                if let Some(answer) = &answer {
                    self.compare_read_after_create(
                        create,
                        &read_operation.path,
                        &created,
                        created_row.as_ref(),
                        sent_body.as_ref(),
                        answer,
                    );
                }
            }
        }
        // Updates, then anything else on the item, then the delete last.
        let mut ordered = bound.clone();
        ordered.sort_by_key(|(operation, _)| match operation.method.as_str() {
            "PATCH" | "PUT" => 0,
            "DELETE" => 2,
            _ => 1,
        });
        for (operation, known) in ordered {
            if self.out_of_time() {
                break;
            }
            let Some(known) = known else {
                self.single(operation, &[]).await;
                continue;
            };
            match operation.method.as_str() {
                "PATCH" | "PUT" => {
                    self.update(
                        operation,
                        read.as_ref(),
                        &known,
                        visible,
                        created_row.as_ref(),
                    )
                    .await
                }
                "DELETE" => self.delete(operation, read.as_ref(), &known, visible).await,
                "GET" => {
                    let full = self.build(operation, &known, Fill::All, None);
                    self.exchange(operation, full, Expectation::Valid).await;
                    self.invalid_requests(operation, &known).await;
                }
                _ => self.single(operation, &known).await,
            }
        }
    }

    fn compare_read_after_create(
        &mut self,
        create: &Operation,
        read_path: &str,
        created: &Exchange,
        created_row: Option<&Map<String, Value>>,
        sent: Option<&Value>,
        read: &Exchange,
    ) {
        let label = create.label();
        if !(200..300).contains(&read.status) {
            self.report(
                STATEFUL_READ_AFTER_CREATE,
                Severity::High,
                &label,
                format!("a row created with {} reads back as {}", created.status, read.status),
                format!(
                    "POST answered {} and returned the row, but GET {} answered {}: {}",
                    created.status,
                    read_path,
                    read.status,
                    truncate(&read.text(), 300)
                ),
                Some(read.request.clone()),
                "Make a created row readable by its creator at its item path, or document why it is not.",
            );
            return;
        }
        let Some(read_row) = read.json().and_then(|value| value.as_object().cloned()) else {
            return;
        };
        let mut differences = Vec::new();
        if let Some(created_row) = created_row {
            for (key, value) in created_row {
                if let Some(read_value) = read_row.get(key) {
                    if read_value != value {
                        differences.push(format!("`{key}`: created {value}, read {read_value}"));
                    }
                }
            }
        }
        // Plain strings sent must come back as sent (formatted ones may be normalized).
        if let (Some(Value::Object(sent)), Some(schema)) = (sent, &create.request_body) {
            let flattened = generate::flatten(schema);
            for (key, value) in sent {
                let plain = flattened
                    .pointer(&format!(
                        "/properties/{}",
                        key.replace('~', "~0").replace('/', "~1")
                    ))
                    .map(generate::flatten)
                    .is_some_and(|property| {
                        property.get("format").is_none() && property.get("enum").is_none()
                    });
                if plain && value.is_string() {
                    if let Some(read_value) = read_row.get(key) {
                        if read_value != value {
                            differences.push(format!("`{key}`: sent {value}, read {read_value}"));
                        }
                    }
                }
            }
        }
        if !differences.is_empty() {
            self.report(
                STATEFUL_READ_AFTER_CREATE,
                Severity::Medium,
                &label,
                "a created row reads back with different values".into(),
                differences.join("; "),
                Some(read.request.clone()),
                "Store and return exactly what was accepted at create.",
            );
        }
    }

    async fn update(
        &mut self,
        operation: &Operation,
        read: Option<&(&Operation, Known)>,
        known: &[(String, String)],
        visible: bool,
        created_row: Option<&Map<String, Value>>,
    ) {
        // One plain string property changed (a property the row has, so it can be read back).
        let mut changed_property: Option<(String, Value)> = None;
        let mut body = operation.request_body.as_ref().map(|schema| {
            self.generator
                .valid(schema, Direction::Request, Fill::Required)
        });
        if operation.method == "PATCH" {
            if let (Some(Value::Object(fields)), Some(schema)) =
                (body.as_mut(), &operation.request_body)
            {
                let flattened = generate::flatten(schema);
                if let Some(Value::Object(properties)) = flattened.get("properties") {
                    for (name, property) in properties {
                        let property = generate::flatten(property);
                        let plain =
                            generate::schema_type(property.as_object().unwrap_or(&Map::new()))
                                .as_deref()
                                == Some("string")
                                && property.get("format").is_none()
                                && property.get("enum").is_none()
                                && property.get("readOnly").and_then(Value::as_bool) != Some(true)
                                && created_row
                                    .is_some_and(|row| row.get(name).is_some_and(Value::is_string));
                        if plain {
                            let value =
                                self.generator
                                    .valid(&property, Direction::Request, Fill::Required);
                            fields.insert(name.clone(), value.clone());
                            changed_property = Some((name.clone(), value));
                            break;
                        }
                    }
                }
            }
        }
        let mut request = self.build(operation, known, Fill::Required, None);
        if let Some(body) = &body {
            request = replace_body(request, body);
        }
        let answer = self.exchange(operation, request, Expectation::Valid).await;
        if visible {
            if let (Some(answer), Some((read, read_known)), Some((name, value))) =
                (&answer, read, &changed_property)
            {
                if (200..300).contains(&answer.status) {
                    self.note_check(STATEFUL_UPDATE_LOST, &operation.label());
                    let request = self.build(read, read_known, Fill::Required, None);
                    if let Some(after) = self.exchange(read, request, Expectation::Valid).await {
                        let read_value = after.json().and_then(|row| row.get(name).cloned());
                        if (200..300).contains(&after.status) && read_value.as_ref() != Some(value)
                        {
                            self.report(
                                STATEFUL_UPDATE_LOST,
                                Severity::High,
                                &operation.label(),
                                format!("an accepted update of `{name}` is not visible in the next read"),
                                format!(
                                    "{} answered {}; the next read has `{name}` = {}",
                                    operation.method,
                                    answer.status,
                                    read_value.map(|value| value.to_string()).unwrap_or_else(|| "nothing".into())
                                ),
                                Some(after.request.clone()),
                                "Persist every field an update accepts before answering 2xx.",
                            );
                        }
                    }
                }
            }
        }
        self.invalid_requests(operation, known).await;
    }

    async fn delete(
        &mut self,
        operation: &Operation,
        read: Option<&(&Operation, Known)>,
        known: &[(String, String)],
        visible: bool,
    ) {
        self.invalid_requests(operation, known).await;
        let request = self.build(operation, known, Fill::Required, None);
        let Some(answer) = self.exchange(operation, request, Expectation::Valid).await else {
            return;
        };
        if !(200..300).contains(&answer.status) || !visible {
            return;
        }
        let Some((read, read_known)) = read else {
            return;
        };
        self.note_check(STATEFUL_DELETE_INEFFECTIVE, &operation.label());
        let request = self.build(read, read_known, Fill::Required, None);
        if let Some(after) = self.exchange(read, request, Expectation::Valid).await {
            if (200..300).contains(&after.status) {
                self.report(
                    STATEFUL_DELETE_INEFFECTIVE,
                    Severity::High,
                    &operation.label(),
                    "a deleted row is still readable".into(),
                    format!(
                        "DELETE answered {}, then GET answered {}: {}",
                        answer.status,
                        after.status,
                        truncate(&after.text(), 300)
                    ),
                    Some(after.request.clone()),
                    "Remove the row (or hide it from reads) before answering 2xx to a delete.",
                );
            }
        }
    }

    /// A request for `operation`: path values from `known`, else generated; required query and
    /// header parameters (all of them with [`Fill::All`]); the token when the operation takes
    /// one; the body (`body_override` or generated).
    fn build(
        &mut self,
        operation: &Operation,
        known: &[(String, String)],
        fill: Fill,
        body_override: Option<&Value>,
    ) -> Request {
        let mut path = operation.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        for parameter in &operation.parameters {
            match parameter.location {
                Location::Path => {
                    let value = known
                        .iter()
                        .find(|(name, _)| name == &parameter.name)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_else(|| {
                            scalar_text(&self.generator.valid(
                                &parameter.schema,
                                Direction::Request,
                                Fill::Required,
                            ))
                        });
                    path =
                        path.replace(&format!("{{{}}}", parameter.name), &percent_encode(&value));
                }
                Location::Query if parameter.required || fill == Fill::All => {
                    let value =
                        self.generator
                            .valid(&parameter.schema, Direction::Request, Fill::Required);
                    query.push((parameter.name.clone(), scalar_text(&value)));
                }
                Location::Header if parameter.required || fill == Fill::All => {
                    let lower = parameter.name.to_ascii_lowercase();
                    // Conditional headers with made-up values only produce 304/412 noise.
                    if matches!(lower.as_str(), "authorization" | "content-type" | "accept") {
                        continue;
                    }
                    if !parameter.required
                        && matches!(
                            lower.as_str(),
                            "if-match" | "if-none-match" | "last-event-id"
                        )
                    {
                        continue;
                    }
                    let value =
                        self.generator
                            .valid(&parameter.schema, Direction::Request, Fill::Required);
                    headers.push((parameter.name.clone(), scalar_text(&value)));
                }
                _ => {}
            }
        }
        // A path parameter the operation forgot to declare: still fill it.
        while let (Some(open), Some(close)) = (path.find('{'), path.find('}')) {
            if close < open {
                break;
            }
            let name = path[open + 1..close].to_string();
            let value = known
                .iter()
                .find(|(known_name, _)| known_name == &name)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| {
                    self.generator
                        .valid(&Value::Null, Direction::Request, Fill::Required)
                        .as_str()
                        .unwrap_or("x")
                        .to_string()
                });
            path.replace_range(open..=close, &percent_encode(&value));
        }
        let mut full_path = format!("{}{}", self.base_path, path);
        if !query.is_empty() {
            let text: Vec<String> = query
                .iter()
                .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
                .collect();
            full_path = format!("{full_path}?{}", text.join("&"));
        }
        let mut request = Request::new(&operation.method, full_path);
        for (name, value) in headers {
            request = request.header(&name, value);
        }
        if let (Some(token), true) = (&self.token, operation.security != Security::None) {
            request = request.bearer(token);
        }
        let body = match body_override {
            Some(body) => Some(body.clone()),
            None => operation
                .request_body
                .as_ref()
                .map(|schema| self.generator.valid(schema, Direction::Request, fill)),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    }

    /// Sends `request` for `operation` (within its budget) and checks the answer.
    async fn exchange(
        &mut self,
        operation: &Operation,
        request: Request,
        expectation: Expectation,
    ) -> Option<Exchange> {
        let label = operation.label();
        let out_of_time = self.out_of_time();
        let sent = self.sent_per_operation.entry(label.clone()).or_insert(0);
        if *sent >= self.limits.max_requests_per_operation || out_of_time {
            return None;
        }
        *sent += 1;
        self.outcome.requests_sent += 1;
        let recorded = RecordedRequest {
            method: request.method.clone(),
            url: self.target.url(&request.path),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let mut answer = self.target.send(request.clone()).await;
        // A rate limit is the API protecting itself, not an answer to this request: wait as
        // told (briefly) and send it once more.
        if let Ok(exchange) = &answer {
            if exchange.status == 429 {
                let wait = exchange
                    .header("retry-after")
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(5);
                tokio::time::sleep(Duration::from_secs(wait)).await;
                self.outcome.requests_sent += 1;
                answer = self.target.send(request).await;
            }
        }
        self.note_check(NO_RESPONSE, &label);
        let exchange = match answer {
            Ok(exchange) => exchange,
            Err(error) => {
                self.report(
                    NO_RESPONSE,
                    Severity::High,
                    &label,
                    "a request got no answer".into(),
                    error.to_string(),
                    Some(recorded),
                    "Answer every request within the client's timeout; a refusal is a 4xx.",
                );
                return None;
            }
        };
        if self.trace {
            eprintln!(
                "verify: {} {} {} -> {} {}",
                exchange.request.method,
                exchange.request.url,
                exchange
                    .request
                    .body
                    .as_deref()
                    .map(|body| truncate(body, 200))
                    .unwrap_or_default(),
                exchange.status,
                truncate(&exchange.text(), 200)
            );
        }
        self.inspect(operation, &exchange, &expectation);
        Some(exchange)
    }

    /// Holds one answer to the document's promises.
    fn inspect(&mut self, operation: &Operation, exchange: &Exchange, expectation: &Expectation) {
        let label = operation.label();
        let request = Some(exchange.request.clone());
        self.note_check(SERVER_ERROR, &label);
        if exchange.status >= 500 {
            let what = match expectation {
                Expectation::Valid => "a valid request".to_string(),
                Expectation::Invalid(why) => format!("an invalid request ({why})"),
            };
            self.report(
                SERVER_ERROR,
                Severity::High,
                &label,
                format!("{what} is answered with {}", exchange.status),
                format!(
                    "status {}: {}",
                    exchange.status,
                    truncate(&exchange.text(), 400)
                ),
                request,
                "Validate input and map every failure a client can cause to a 4xx; a 5xx means the server broke.",
            );
            return;
        }
        if let Expectation::Invalid(why) = expectation {
            self.note_check(INVALID_INPUT_ACCEPTED, &label);
            if (200..300).contains(&exchange.status) {
                self.report(
                    INVALID_INPUT_ACCEPTED,
                    Severity::Medium,
                    &label,
                    format!("invalid input accepted: {why}"),
                    format!(
                        "the document forbids this request, but it was answered {}: {}",
                        exchange.status,
                        truncate(&exchange.text(), 300)
                    ),
                    request.clone(),
                    "Validate requests against the documented schema and answer 400 or 422.",
                );
            }
        }
        self.note_check(UNDOCUMENTED_STATUS, &label);
        let Some(spec) = operation.response_for(exchange.status) else {
            let documented: Vec<&str> = operation.responses.keys().map(String::as_str).collect();
            self.report(
                UNDOCUMENTED_STATUS,
                Severity::Medium,
                &label,
                format!("status {} is not documented", exchange.status),
                format!(
                    "documented: {}; body: {}",
                    documented.join(", "),
                    truncate(&exchange.text(), 300)
                ),
                request,
                "Document every status the operation can answer, or stop answering it.",
            );
            return;
        };
        let spec = spec.clone();
        for header in &spec.required_headers {
            self.note_check(MISSING_HEADER, &label);
            if exchange.header(header).is_none() {
                self.report(
                    MISSING_HEADER,
                    Severity::Low,
                    &label,
                    format!(
                        "required header `{header}` missing from a {} answer",
                        exchange.status
                    ),
                    format!("headers received: {}", header_names(exchange)),
                    request.clone(),
                    "Send every header the document marks required.",
                );
            }
        }
        if exchange.body.is_empty() || exchange.status == 304 || operation.method == "HEAD" {
            return;
        }
        let media_type = exchange.media_type().unwrap_or_default();
        self.note_check(UNDOCUMENTED_CONTENT_TYPE, &label);
        if spec.content.is_empty() {
            self.report(
                UNDOCUMENTED_CONTENT_TYPE,
                Severity::Low,
                &label,
                format!(
                    "a {} answer has a body, but the document describes none",
                    exchange.status
                ),
                format!(
                    "content-type `{media_type}`: {}",
                    truncate(&exchange.text(), 200)
                ),
                request,
                "Document the body (its media type and schema), or send none.",
            );
            return;
        }
        if !spec.documents_media_type(&media_type) {
            let documented: Vec<&str> = spec.content.keys().map(String::as_str).collect();
            self.report(
                UNDOCUMENTED_CONTENT_TYPE,
                Severity::Medium,
                &label,
                format!(
                    "a {} answer is `{}`, not a documented content type",
                    exchange.status,
                    if media_type.is_empty() {
                        "(none)"
                    } else {
                        &media_type
                    }
                ),
                format!("documented: {}", documented.join(", ")),
                request,
                "Send the documented `Content-Type`, or document the one sent.",
            );
            return;
        }
        let is_json = media_type == "application/json" || media_type.ends_with("+json");
        let Some(schema) = spec.schema_for(&media_type).cloned() else {
            return;
        };
        if !is_json {
            return;
        }
        self.note_check(RESPONSE_SCHEMA, &label);
        let Ok(body) = serde_json::from_slice::<Value>(&exchange.body) else {
            self.report(
                RESPONSE_SCHEMA,
                Severity::Medium,
                &label,
                format!(
                    "a {} answer labelled JSON is not valid JSON",
                    exchange.status
                ),
                truncate(&exchange.text(), 300),
                request,
                "Send valid JSON bodies.",
            );
            return;
        };
        let errors = self.schema_errors(&schema, &body);
        if !errors.is_empty() {
            self.report(
                RESPONSE_SCHEMA,
                Severity::Medium,
                &label,
                format!(
                    "a {} answer does not match its documented schema",
                    exchange.status
                ),
                format!(
                    "{}; body: {}",
                    errors.join("; "),
                    truncate(&exchange.text(), 300)
                ),
                request,
                "Make the response match the documented schema, or fix the document.",
            );
        }
    }

    /// Up to five messages of `body` against `schema` (empty when it conforms, or when the
    /// schema cannot be compiled — a broken schema is not the server's fault here).
    fn schema_errors(&mut self, schema: &Value, body: &Value) -> Vec<String> {
        let key = schema.to_string();
        let validator = self.validators.entry(key).or_insert_with(|| {
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(schema)
                .ok()
        });
        let Some(validator) = validator else {
            return Vec::new();
        };
        validator
            .iter_errors(body)
            .take(5)
            .map(|error| {
                let path = error.instance_path().to_string();
                format!(
                    "at `{}`: {}",
                    if path.is_empty() { "/" } else { &path },
                    truncate(&error.to_string(), 200)
                )
            })
            .collect()
    }

    fn note_check(&mut self, rule: &str, operation: &str) {
        self.outcome.checks.insert(Check {
            rule: rule.to_string(),
            operation: operation.to_string(),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        rule: &'static str,
        severity: Severity,
        operation: &str,
        title: String,
        detail: String,
        request: Option<RecordedRequest>,
        fix: &str,
    ) {
        let key = (rule.to_string(), operation.to_string(), title.clone());
        if !self.seen.insert(key) {
            return;
        }
        self.outcome.findings.push(Finding {
            rule,
            severity,
            title,
            detail,
            operation: Some(operation.to_string()),
            request,
            fix: fix.to_string(),
        });
    }
}

/// The document's base path (`/v2`), unless the target URL already ends with it
/// (`http://host/v2`).
fn effective_base_path(base_url: &str, base_path: &str) -> String {
    if base_path.is_empty() || base_url.trim_end_matches('/').ends_with(base_path) {
        String::new()
    } else {
        base_path.to_string()
    }
}

/// Path values, by parameter name.
type Known = Vec<(String, String)>;

/// Every create and the operations on its row: the ones its 2xx answer links to, when it has
/// links to operations being tested; else, by convention, `POST /things` beside `/things/{id}`.
fn resources<'d>(document: &'d ApiDocument, operations: &[&'d Operation]) -> Vec<Resource<'d>> {
    let tested = |operation: &Operation| {
        operations
            .iter()
            .copied()
            .find(|tested| tested.method == operation.method && tested.path == operation.path)
    };
    let mut found = Vec::new();
    for create in operations
        .iter()
        .copied()
        .filter(|operation| operation.method == "POST")
    {
        let mut linked: Vec<(&Operation, Binding)> = Vec::new();
        for link in create.success_links() {
            let Some(operation) = document.linked_operation(link).and_then(tested) else {
                continue;
            };
            if linked
                .iter()
                .all(|(seen, _)| seen.label() != operation.label())
            {
                linked.push((operation, Binding::Link(link.parameters.clone())));
            }
        }
        if !linked.is_empty() {
            found.push(Resource {
                create,
                items: linked,
            });
            continue;
        }
        let prefix = format!("{}/", create.path.trim_end_matches('/'));
        let item = operations.iter().find_map(|operation| {
            let rest = operation.path.strip_prefix(&prefix)?;
            let name = rest.strip_prefix('{')?.strip_suffix('}')?;
            (!name.contains(['/', '{', '}'])).then(|| (operation.path.clone(), name.to_string()))
        });
        if let Some((item_path, parameter)) = item {
            let items = operations
                .iter()
                .copied()
                .filter(|operation| operation.path == item_path)
                .map(|operation| {
                    (
                        operation,
                        Binding::Convention {
                            parameter: parameter.clone(),
                        },
                    )
                })
                .collect();
            found.push(Resource { create, items });
        }
    }
    found
}

/// The path values `binding` gives `operation` after `created`; `None` when a path parameter
/// stays unknown.
fn bind(
    binding: &Binding,
    operation: &Operation,
    sent_body: Option<&Value>,
    created: &Exchange,
) -> Option<Known> {
    let known: Known = match binding {
        Binding::Convention { parameter } => {
            vec![(parameter.clone(), created_id(created, parameter)?)]
        }
        Binding::Link(parameters) => parameters
            .iter()
            .filter_map(|(name, value)| {
                // `path.id` names the location; a bare `id` is the operation's parameter.
                let name = match name.split_once('.') {
                    Some(("path" | "query" | "header" | "cookie", rest)) => rest,
                    _ => name.as_str(),
                };
                Some((name.to_string(), link_value(value, sent_body, created)?))
            })
            .collect(),
    };
    let complete = operation
        .parameters
        .iter()
        .filter(|parameter| parameter.location == Location::Path)
        .all(|parameter| known.iter().any(|(name, _)| *name == parameter.name));
    complete.then_some(known)
}

/// A link parameter's value: a runtime expression evaluated against the create's request and
/// answer (whole, or embedded in text as `{$…}`), or a constant.
fn link_value(value: &Value, sent_body: Option<&Value>, created: &Exchange) -> Option<String> {
    let Value::String(text) = value else {
        return Some(scalar_text(value));
    };
    if text.starts_with('$') {
        return runtime_expression(text, sent_body, created);
    }
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{$") {
        let end = start + rest[start..].find('}')?;
        out.push_str(&rest[..start]);
        out.push_str(&runtime_expression(
            &rest[start + 1..end],
            sent_body,
            created,
        )?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `$response.body#/pointer`, `$response.header.Name`, `$request.body#/pointer` or
/// `$statusCode`; anything else is unknown here.
fn runtime_expression(
    expression: &str,
    sent_body: Option<&Value>,
    created: &Exchange,
) -> Option<String> {
    let scalar = |value: &Value| match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Some(scalar_text(value)),
        _ => None,
    };
    if let Some(pointer) = expression.strip_prefix("$response.body#") {
        return scalar(created.json()?.pointer(pointer)?);
    }
    if let Some(name) = expression.strip_prefix("$response.header.") {
        return created.header(name).map(str::to_string);
    }
    if let Some(pointer) = expression.strip_prefix("$request.body#") {
        return scalar(sent_body?.pointer(pointer)?);
    }
    if expression == "$statusCode" {
        return Some(created.status.to_string());
    }
    None
}

/// The new row's id: the body's field named like the path parameter, else `id`, else the last
/// segment of `Location`.
fn created_id(exchange: &Exchange, parameter: &str) -> Option<String> {
    if let Some(body) = exchange.json() {
        for key in [parameter, "id"] {
            match body.get(key) {
                Some(Value::String(text)) if !text.is_empty() => return Some(text.clone()),
                Some(Value::Number(number)) => return Some(number.to_string()),
                _ => {}
            }
        }
    }
    let location = exchange.header("location")?;
    let last = location.trim_end_matches('/').rsplit('/').next()?;
    (!last.is_empty()).then(|| last.to_string())
}

/// Headers the HTTP layer sets itself: OpenAPI says to ignore them as parameters.
fn is_transport_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization" | "content-type" | "accept"
    )
}

/// Text a header can carry as it is: visible ASCII and inner spaces (or nothing at all).
fn is_header_text(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte == b' ' || byte.is_ascii_graphic())
        && !text.starts_with(' ')
        && !text.ends_with(' ')
}

/// A header value that breaks only the schema's `pattern` (its length fits), when one exists.
fn pattern_variant(map: &Map<String, Value>, what: &str) -> Option<InvalidVariant> {
    let pattern = map.get("pattern").and_then(Value::as_str)?;
    let regex = regex::Regex::new(pattern).ok()?;
    let minimum = map.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let maximum = map
        .get("maxLength")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |maximum| maximum as usize);
    [
        "verify bad value",
        "verify,bad;value",
        "verify\"bad\"",
        "verify-0123456789",
    ]
    .into_iter()
    .find(|candidate| (minimum..=maximum).contains(&candidate.len()) && !regex.is_match(candidate))
    .map(|candidate| InvalidVariant {
        kind: generate::InvalidKind::BadFormat,
        label: format!("{what}: `{candidate}` does not match its pattern"),
        value: Value::from(candidate),
    })
}

fn replace_body(mut request: Request, body: &Value) -> Request {
    request
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
    request.json(body)
}

fn location_name(location: Location) -> &'static str {
    match location {
        Location::Path => "path",
        Location::Query => "query",
        Location::Header => "header",
        Location::Cookie => "cookie",
    }
}

fn header_names(exchange: &Exchange) -> String {
    let names: Vec<&str> = exchange
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    names.join(", ")
}

/// A value as it goes into a URL or header: strings bare, arrays comma-joined (form style,
/// `explode: false`), anything else as JSON.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// At most `limit` characters of `text`, with `…` when cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_added_once() {
        assert_eq!(effective_base_path("http://h:1", "/v2"), "/v2");
        assert_eq!(effective_base_path("http://h:1/v2", "/v2"), "");
        assert_eq!(effective_base_path("http://h:1/v2/", "/v2"), "");
        assert_eq!(effective_base_path("http://h:1", ""), "");
    }

    #[test]
    fn link_values_come_from_the_create_exchange() {
        let created = Exchange {
            request: RecordedRequest::default(),
            status: 201,
            headers: vec![("location".into(), "/things/7".into())],
            body: br#"{"id": 7, "slug": "a-b"}"#.to_vec(),
            elapsed: Duration::ZERO,
        };
        let sent = serde_json::json!({"name": "n"});
        let value = |expression: Value| link_value(&expression, Some(&sent), &created);
        assert_eq!(value(Value::from("$response.body#/id")), Some("7".into()));
        assert_eq!(
            value(Value::from("$response.header.Location")),
            Some("/things/7".into())
        );
        assert_eq!(value(Value::from("$request.body#/name")), Some("n".into()));
        assert_eq!(
            value(Value::from("by-{$response.body#/slug}")),
            Some("by-a-b".into())
        );
        assert_eq!(value(Value::from(3)), Some("3".into()));
        assert_eq!(value(Value::from("$response.body#/missing")), None);
        assert_eq!(value(Value::from("$url")), None);
    }

    #[test]
    fn header_variants_stay_sendable_and_break_only_the_pattern() {
        assert!(is_header_text("verify bad value") && is_header_text(""));
        assert!(!is_header_text(" padded") && !is_header_text("tab\there") && !is_header_text("é"));
        let schema = serde_json::json!({"type": "string", "maxLength": 255, "pattern": "^[!-~]+$"});
        let variant = pattern_variant(schema.as_object().expect("an object"), "header `K`")
            .expect("a value against the pattern");
        assert_eq!(variant.value, Value::from("verify bad value"));
        // Any visible text matches If-Match's pattern: no pattern variant exists for it.
        let if_match = serde_json::json!({"type": "string", "pattern": "^[!-~](?:[ -~]*[!-~])?$"});
        assert!(pattern_variant(if_match.as_object().expect("an object"), "h").is_none());
    }

    #[test]
    fn texts_are_encoded_and_cut_safely() {
        assert_eq!(percent_encode("a b/ü[x]"), "a%20b%2F%C3%BC%5Bx%5D");
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(scalar_text(&serde_json::json!(["a", 1, true])), "a,1,true");
    }
}
