//! The REST API surface of a schema, decided once: which models are resources, their paths,
//! which fields are read and written, which filters, sorts and includes exist, and the auth
//! endpoints. `plinth serve`, the OpenAPI document and the Markdown reference all derive from
//! [`api`], so they cannot disagree.
//!
//! Decisions recorded here (and repeated in the generated docs):
//! - A model is a resource when it has at least one `@@allow` rule. An operation exists when some
//!   `@@allow` rule names it (`read` gives list and get).
//! - Every readable resource has a realtime event stream, `GET /api/v1/<name>/events`
//!   ([`Resource::events_path`]): Server-Sent Events named `created`, `updated` and `deleted`,
//!   each carrying the row as `GET /{id}` renders it for the subscriber (read rules and field
//!   rules applied per subscriber), with a resumable `id` ([`EVENT_NAMES`],
//!   [`LAST_EVENT_ID_HEADER`]). The path is a static segment next to `/{id}`, so `events` is not
//!   usable as a string id through the item routes.
//! - Item routes (`/{id}`) need a single-field primary key. Models with a composite `@@id` are
//!   still listed and created, but have no item routes: [`Resource::item_path`] is `None`.
//! - Fields with `@default(auth().…)` are filled by the server from the caller and are not
//!   accepted in create or update bodies: letting a client set them would let it act on behalf of
//!   someone else whenever a policy forgot to check the field.
//! - Generated values (`autoincrement()`, `uuid()`, `cuid()`, `nanoid()`, `ulid()`,
//!   `dbgenerated()`, on keys and on secrets such as invitation tokens alike), `@default(now())`
//!   timestamps and `@updatedAt` fields are server-filled too: a client must not pick a token
//!   or backdate a row. Primary keys never change after creation, so they are not in update
//!   bodies.
//! - `BigInt` and `Decimal` travel as JSON strings (see [`WireType`]): JSON numbers lose precision
//!   beyond 2^53 in most clients.

mod anonymous;
pub mod naming;

pub use anonymous::{anonymous_may_perform, may_hold_for_anonymous, surely_holds_for_anonymous};
pub use naming::{kebab_case, pascal_case, plural_kebab_case, pluralize_word};

use plinth_model::{
    DefaultValue, Effect, Field, FieldType, Model, ModelId, Operation, RelationKind, ScalarType,
    Schema,
};

/// Every resource path starts here.
pub const BASE_PATH: &str = "/api/v1";
/// Authentication endpoints.
pub const AUTH_REGISTER_PATH: &str = "/api/v1/auth/register";
pub const AUTH_LOGIN_PATH: &str = "/api/v1/auth/login";
pub const AUTH_REFRESH_PATH: &str = "/api/v1/auth/refresh";
pub const AUTH_LOGOUT_PATH: &str = "/api/v1/auth/logout";
pub const AUTH_ME_PATH: &str = "/api/v1/auth/me";
/// Operations endpoints at the server root.
pub const HEALTH_PATH: &str = "/healthz";
pub const READY_PATH: &str = "/readyz";
pub const METRICS_PATH: &str = "/metrics";
pub const OPENAPI_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

/// The `event:` names of a resource's event stream, in the order they are documented.
pub const EVENT_NAMES: [&str; 3] = ["created", "updated", "deleted"];
/// The request header a reconnecting subscriber sends with the last `id:` it received.
pub const LAST_EVENT_ID_HEADER: &str = "Last-Event-ID";
/// The media type of event streams.
pub const EVENT_STREAM_MEDIA_TYPE: &str = "text/event-stream";
/// The last path segment of an event stream: `/api/v1/<name>/events`.
pub const EVENTS_SEGMENT: &str = "events";

/// `Idempotency-Key` values: 1 to this many visible ASCII characters (`!` to `~`).
pub const IDEMPOTENCY_KEY_MAX_LENGTH: usize = 255;
/// `If-Match` values: 1 to this many printable ASCII characters (an entity-tag list such as
/// `"a", W/"b"` has spaces inside), starting and ending with a visible one.
pub const IF_MATCH_MAX_LENGTH: usize = 1024;

/// Every `next_cursor` starts with this (a version tag), followed by base64url text.
pub const CURSOR_PREFIX: &str = "c1.";

/// Whether `text` has the documented shape of a cursor: [`CURSOR_PREFIX`] and at least one
/// base64url character (no padding). Anything else is a 400; a cursor of this shape that the
/// list did not hand out for the same `sort` is a 422 `invalid_cursor`.
pub fn is_cursor_shaped(text: &str) -> bool {
    text.strip_prefix(CURSOR_PREFIX).is_some_and(|body| {
        !body.is_empty()
            && body
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    })
}

/// Whether `text` is a valid `Idempotency-Key`: the server refuses anything else with 400
/// `invalid_idempotency_key`, and the OpenAPI document states the same constraint.
pub fn is_valid_idempotency_key(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= IDEMPOTENCY_KEY_MAX_LENGTH
        && text.bytes().all(|byte| byte.is_ascii_graphic())
}

/// Whether `text` is a well-formed `If-Match` value as far as the server checks it (400
/// `invalid_if_match` otherwise; a well-formed value that names another version is 412).
pub fn is_valid_if_match(text: &str) -> bool {
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            text.len() <= IF_MATCH_MAX_LENGTH
                && first.is_ascii_graphic()
                && last.is_ascii_graphic()
                && bytes
                    .iter()
                    .all(|byte| byte.is_ascii_graphic() || *byte == b' ')
        }
        _ => false,
    }
}

/// Whether the field holds a UUID (`@default(uuid())` or `@db.Uuid`): its values are then
/// checked as canonical UUID text (`8-4-4-4-12` hex digits) wherever they arrive, and the
/// OpenAPI document says `format: uuid`.
pub fn is_uuid_field(field: &Field) -> bool {
    field.ty == FieldType::Scalar(ScalarType::String)
        && (matches!(field.default, Some(DefaultValue::Uuid { .. }))
            || field
                .native_type
                .as_ref()
                .is_some_and(|native| native.name.eq_ignore_ascii_case("uuid")))
}

/// Canonical UUID text: 36 characters, hyphens at 8, 13, 18 and 23, hex digits elsewhere (any
/// case), which is what JSON Schema's `format: uuid` accepts.
pub fn is_uuid_text(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(position, byte)| {
            if matches!(position, 8 | 13 | 18 | 23) {
                byte == b'-'
            } else {
                byte.is_ascii_hexdigit()
            }
        })
}

/// Whether a field-level rule governs reading the field: its value is then `null` for callers
/// the rule refuses, so the read schema says it may be null, and filters and sorting on it see
/// only the rows where the caller may read it.
pub fn has_field_read_rule(field: &Field) -> bool {
    field
        .policies
        .iter()
        .any(|policy| policy.operations.contains(Operation::Read))
}

/// Page size when `limit` is absent.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Largest accepted `limit`.
pub const MAX_PAGE_LIMIT: u32 = 100;

/// The whole API of a schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Api {
    /// In model declaration order.
    pub resources: Vec<Resource>,
    /// Present when the schema has an auth model with a `@password` field and a login field.
    pub auth: Option<AuthApi>,
    pub page_limits: PageLimits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimits {
    pub default: u32,
    pub max: u32,
}

impl Api {
    pub fn resource(&self, model: ModelId) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|resource| resource.model == model)
    }

    pub fn resource_by_name(&self, name: &str) -> Option<&Resource> {
        self.resources.iter().find(|resource| resource.name == name)
    }
}

/// Which endpoints of a resource exist (or, in [`Resource::anonymous`], may work without a token).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// `GET /api/v1/<name>`.
    pub list: bool,
    /// `GET /api/v1/<name>/{id}`.
    pub get: bool,
    /// `POST /api/v1/<name>`.
    pub create: bool,
    /// `PATCH /api/v1/<name>/{id}`.
    pub update: bool,
    /// `DELETE /api/v1/<name>/{id}`.
    pub delete: bool,
    /// `GET /api/v1/<name>/events`: exists exactly when `list` does (the same read rules decide
    /// which events a subscriber receives).
    pub events: bool,
}

impl Endpoints {
    pub fn any(self) -> bool {
        self.list || self.get || self.create || self.update || self.delete || self.events
    }
}

/// One model exposed under `/api/v1/<name>`. Field lists are indices into the model's fields, in
/// declaration order.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub model: ModelId,
    pub model_name: String,
    /// Plural kebab-case: `order-items`.
    pub name: String,
    /// `/api/v1/order-items`.
    pub path: String,
    /// `/api/v1/order-items/{id}`; `None` when the model has no single-field primary key.
    pub item_path: Option<String>,
    /// `/api/v1/order-items/events`, the Server-Sent Events stream of the rows' changes;
    /// `None` when the resource cannot be read (no `read` rule), like `endpoints.events`.
    pub events_path: Option<String>,
    /// The primary key fields (one or more).
    pub id_fields: Vec<usize>,
    /// The field `{id}` stands for, when the key is a single field.
    pub item_id_field: Option<usize>,
    pub endpoints: Endpoints,
    /// Endpoints that may succeed without a token, as far as the policies tell.
    pub anonymous: Endpoints,
    /// Fields in responses: columns that are not `@omit`, `@password`, `@ignore` or unsupported.
    pub readable_fields: Vec<usize>,
    /// Fields accepted in a create body.
    pub create_fields: Vec<usize>,
    /// Create fields that must be present: required, no default, not a list.
    pub required_on_create: Vec<usize>,
    /// Fields accepted in an update body (all optional).
    pub update_fields: Vec<usize>,
    /// Fields the server fills: generated ids, `@default(now())`, `@updatedAt`,
    /// `@default(auth().…)`.
    pub server_filled_fields: Vec<usize>,
    /// Fields that are written but never returned (`@password`, `@omit`).
    pub write_only_fields: Vec<usize>,
    pub filters: Vec<Filter>,
    /// Fields accepted in `sort` (each also as `-field` for descending).
    pub sortable_fields: Vec<usize>,
    /// Relations accepted in `include`.
    pub includes: Vec<Include>,
}

/// The query parameters that filter one field.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub field: usize,
    pub name: String,
    pub operators: Vec<FilterOperator>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterOperator {
    /// `field=value`.
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    /// `field[in]=a,b,c`: comma-separated values.
    In,
    Contains,
    StartsWith,
    /// `field[isNull]=true|false`: optional fields only.
    IsNull,
}

impl FilterOperator {
    pub const ALL: [FilterOperator; 10] = [
        FilterOperator::Eq,
        FilterOperator::Ne,
        FilterOperator::Lt,
        FilterOperator::Lte,
        FilterOperator::Gt,
        FilterOperator::Gte,
        FilterOperator::In,
        FilterOperator::Contains,
        FilterOperator::StartsWith,
        FilterOperator::IsNull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FilterOperator::Eq => "eq",
            FilterOperator::Ne => "ne",
            FilterOperator::Lt => "lt",
            FilterOperator::Lte => "lte",
            FilterOperator::Gt => "gt",
            FilterOperator::Gte => "gte",
            FilterOperator::In => "in",
            FilterOperator::Contains => "contains",
            FilterOperator::StartsWith => "startsWith",
            FilterOperator::IsNull => "isNull",
        }
    }

    pub fn from_name(name: &str) -> Option<FilterOperator> {
        FilterOperator::ALL
            .into_iter()
            .find(|operator| operator.as_str() == name)
    }

    /// The query parameter name: `status` for equality, `status[ne]` otherwise.
    pub fn query_parameter(self, field_name: &str) -> String {
        match self {
            FilterOperator::Eq => field_name.to_string(),
            other => format!("{field_name}[{}]", other.as_str()),
        }
    }

    /// What the operator means, for docs.
    pub fn description(self) -> &'static str {
        match self {
            FilterOperator::Eq => "equal to",
            FilterOperator::Ne => "not equal to",
            FilterOperator::Lt => "less than",
            FilterOperator::Lte => "less than or equal to",
            FilterOperator::Gt => "greater than",
            FilterOperator::Gte => "greater than or equal to",
            FilterOperator::In => "one of (comma-separated)",
            FilterOperator::Contains => "contains the text",
            FilterOperator::StartsWith => "starts with the text",
            FilterOperator::IsNull => "is null (`true`) or is not null (`false`)",
        }
    }
}

/// A relation that `include=<name>` embeds in each returned row.
#[derive(Clone, Debug, PartialEq)]
pub struct Include {
    pub field: usize,
    pub name: String,
    pub target: ModelId,
    /// Embedded as an array (one-to-many back side, many-to-many).
    pub to_many: bool,
    /// Embedded as an object or null.
    pub optional: bool,
}

/// `/api/v1/auth/*`, present when the schema has an auth model that can log in.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthApi {
    pub model: ModelId,
    /// Fields accepted by register: the auth model's create fields that have no `@default` (so a
    /// newcomer cannot choose their own `role`), the login and `@password` fields included.
    pub register_fields: Vec<usize>,
    /// Register fields that must be present (always the login and password fields).
    pub required_register_fields: Vec<usize>,
    /// The field login identifies users by: `email`, else the first `@unique` String field.
    pub login_field: usize,
    /// The `@password` field.
    pub password_field: usize,
    /// The fields of `user` in token responses and of `GET /auth/me` (the readable fields).
    pub user_fields: Vec<usize>,
}

/// How a field's value is written in JSON bodies, query parameters and paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireType {
    String,
    Boolean,
    /// `Int`: a JSON integer (32-bit).
    Integer,
    /// `BigInt`: a JSON string of decimal digits, because JSON numbers lose precision past 2^53.
    BigIntString,
    /// `Float`: a JSON number.
    Number,
    /// `Decimal`: a JSON string holding the exact decimal text.
    DecimalString,
    /// `DateTime`: an RFC 3339 string.
    DateTime,
    /// `Json`: any JSON value.
    Json,
    /// `Bytes`: base64 text.
    Base64Bytes,
    /// An enum: one of the enum's database names, as a string.
    Enum(plinth_model::EnumId),
}

impl WireType {
    /// Whether `lt`/`gt` comparisons make sense.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            WireType::Integer
                | WireType::BigIntString
                | WireType::Number
                | WireType::DecimalString
                | WireType::DateTime
        )
    }

    /// Whether the type can be filtered on and sorted by.
    pub fn is_comparable(self) -> bool {
        !matches!(self, WireType::Json | WireType::Base64Bytes)
    }
}

/// The wire type of a field; `None` for relations and `Unsupported(...)` columns.
pub fn wire_type(field: &Field) -> Option<WireType> {
    match &field.ty {
        FieldType::Scalar(scalar) => Some(match scalar {
            ScalarType::String => WireType::String,
            ScalarType::Boolean => WireType::Boolean,
            ScalarType::Int => WireType::Integer,
            ScalarType::BigInt => WireType::BigIntString,
            ScalarType::Float => WireType::Number,
            ScalarType::Decimal => WireType::DecimalString,
            ScalarType::DateTime => WireType::DateTime,
            ScalarType::Json => WireType::Json,
            ScalarType::Bytes => WireType::Base64Bytes,
        }),
        FieldType::Enum(enum_id) => Some(WireType::Enum(*enum_id)),
        FieldType::Relation(_) | FieldType::Unsupported(_) => None,
    }
}

/// Whether the server generates this default (so a client never sends the field).
fn is_generated_default(default: &DefaultValue) -> bool {
    matches!(
        default,
        DefaultValue::Autoincrement
            | DefaultValue::Uuid { .. }
            | DefaultValue::Cuid { .. }
            | DefaultValue::Nanoid { .. }
            | DefaultValue::Ulid
            | DefaultValue::DbGenerated(_)
    )
}

fn is_auth_default(field: &Field) -> bool {
    matches!(field.default, Some(DefaultValue::Auth { .. }))
}

/// Fields a response may contain: columns that are not `@omit`, `@password`, `@ignore` or
/// unsupported, in declaration order.
pub fn readable_fields(model: &Model) -> Vec<usize> {
    model
        .fields
        .iter()
        .enumerate()
        .filter(|(_, field)| is_api_column(field) && !field.is_hidden())
        .map(|(index, _)| index)
        .collect()
}

/// Some `@@allow` rule names the operation.
fn allowed_at_all(model: &Model, operation: Operation) -> bool {
    model
        .policies
        .iter()
        .any(|policy| policy.effect == Effect::Allow && policy.operations.contains(operation))
}

fn is_server_filled(field: &Field) -> bool {
    let generated = field.default.as_ref().is_some_and(is_generated_default);
    let creation_timestamp = matches!(field.default, Some(DefaultValue::Now));
    generated || creation_timestamp || field.is_updated_at || is_auth_default(field)
}

/// A column with a wire type that the API knows at all.
fn is_api_column(field: &Field) -> bool {
    !field.is_relation() && !field.is_ignored && wire_type(field).is_some()
}

fn filter_operators(field: &Field, wire: WireType) -> Vec<FilterOperator> {
    let mut operators = vec![FilterOperator::Eq, FilterOperator::Ne];
    if wire.is_ordered() {
        operators.extend([
            FilterOperator::Lt,
            FilterOperator::Lte,
            FilterOperator::Gt,
            FilterOperator::Gte,
        ]);
    }
    if wire != WireType::Boolean {
        operators.push(FilterOperator::In);
    }
    if wire == WireType::String {
        operators.extend([FilterOperator::Contains, FilterOperator::StartsWith]);
    }
    if field.is_optional() {
        operators.push(FilterOperator::IsNull);
    }
    operators
}

/// The create fields of a model (see the crate docs for what is left out and why).
fn create_fields(model: &Model) -> Vec<usize> {
    model
        .fields
        .iter()
        .enumerate()
        .filter(|(_, field)| is_api_column(field) && !is_server_filled(field))
        .map(|(index, _)| index)
        .collect()
}

fn required_on_create(model: &Model, create_fields: &[usize]) -> Vec<usize> {
    create_fields
        .iter()
        .copied()
        .filter(|&index| {
            let field = &model.fields[index];
            field.arity == plinth_model::Arity::Required && field.default.is_none()
        })
        .collect()
}

/// The API of a schema. Never panics, also on a schema with errors (best effort).
pub fn api(schema: &Schema) -> Api {
    let mut resources: Vec<Resource> = Vec::new();
    let exposed: Vec<bool> = schema
        .models
        .iter()
        .map(|model| model.has_allow_rule())
        .collect();
    let readable_model = |model_id: ModelId| {
        schema
            .models
            .get(model_id.0)
            .is_some_and(|model| exposed[model_id.0] && allowed_at_all(model, Operation::Read))
    };

    for (position, model) in schema.models.iter().enumerate() {
        if !exposed[position] {
            continue;
        }
        let name = unique_resource_name(&resources, &model.name);
        let path = format!("{BASE_PATH}/{name}");

        let id_fields: Vec<usize> = model
            .primary_key
            .fields
            .iter()
            .copied()
            .filter(|&index| index < model.fields.len())
            .collect();
        let item_id_field = match id_fields.as_slice() {
            [single] => wire_type(&model.fields[*single])
                .filter(|wire| wire.is_comparable())
                .map(|_| *single),
            _ => None,
        };
        let item_path = item_id_field.map(|_| format!("{path}/{{id}}"));

        let can_read = allowed_at_all(model, Operation::Read);
        let has_item = item_path.is_some();
        let endpoints = Endpoints {
            list: can_read,
            get: can_read && has_item,
            create: allowed_at_all(model, Operation::Create),
            update: allowed_at_all(model, Operation::Update) && has_item,
            delete: allowed_at_all(model, Operation::Delete) && has_item,
            events: can_read,
        };
        let events_path = can_read.then(|| format!("{path}/{EVENTS_SEGMENT}"));
        let anonymous_read = anonymous_may_perform(&model.policies, Operation::Read);
        let anonymous = Endpoints {
            list: endpoints.list && anonymous_read,
            get: endpoints.get && anonymous_read,
            create: endpoints.create && anonymous_may_perform(&model.policies, Operation::Create),
            update: endpoints.update && anonymous_may_perform(&model.policies, Operation::Update),
            delete: endpoints.delete && anonymous_may_perform(&model.policies, Operation::Delete),
            events: endpoints.events && anonymous_read,
        };

        let readable_fields = readable_fields(model);
        let create = create_fields(model);
        let required = required_on_create(model, &create);
        let update_fields: Vec<usize> = create
            .iter()
            .copied()
            .filter(|index| !id_fields.contains(index) && !model.fields[*index].is_id)
            .collect();
        let server_filled_fields: Vec<usize> = model
            .fields
            .iter()
            .enumerate()
            .filter(|(_, field)| is_api_column(field) && is_server_filled(field))
            .map(|(index, _)| index)
            .collect();
        let write_only_fields: Vec<usize> = create
            .iter()
            .copied()
            .filter(|&index| {
                let field = &model.fields[index];
                field.is_password || field.is_omitted
            })
            .collect();

        let mut filters = Vec::new();
        let mut sortable_fields = Vec::new();
        for &index in &readable_fields {
            let field = &model.fields[index];
            let Some(wire) = wire_type(field) else {
                continue;
            };
            if field.is_list() || !wire.is_comparable() {
                continue;
            }
            filters.push(Filter {
                field: index,
                name: field.name.clone(),
                operators: filter_operators(field, wire),
            });
            sortable_fields.push(index);
        }

        let includes = model
            .fields
            .iter()
            .enumerate()
            .filter(|(_, field)| !field.is_hidden())
            .filter_map(|(index, field)| match &field.ty {
                FieldType::Relation(relation_field) if readable_model(relation_field.target) => {
                    let to_many = field.is_list()
                        || schema.relations.get(relation_field.relation.0).is_some_and(
                            |relation| matches!(relation.kind, RelationKind::ManyToMany { .. }),
                        );
                    Some(Include {
                        field: index,
                        name: field.name.clone(),
                        target: relation_field.target,
                        to_many,
                        optional: field.is_optional(),
                    })
                }
                _ => None,
            })
            .collect();

        resources.push(Resource {
            model: model.id,
            model_name: model.name.clone(),
            name,
            path,
            item_path,
            events_path,
            id_fields,
            item_id_field,
            endpoints,
            anonymous,
            readable_fields,
            create_fields: create,
            required_on_create: required,
            update_fields,
            server_filled_fields,
            write_only_fields,
            filters,
            sortable_fields,
            includes,
        });
    }

    Api {
        resources,
        auth: auth_api(schema),
        page_limits: PageLimits {
            default: DEFAULT_PAGE_LIMIT,
            max: MAX_PAGE_LIMIT,
        },
    }
}

/// The plural kebab-case name, made unique if two models pluralize alike (`Person`, `People`):
/// the later model keeps its singular kebab name, then gets a number.
fn unique_resource_name(existing: &[Resource], model_name: &str) -> String {
    let taken = |candidate: &str| existing.iter().any(|resource| resource.name == candidate);
    let plural = plural_kebab_case(model_name);
    if !taken(&plural) && !plural.is_empty() {
        return plural;
    }
    let singular = kebab_case(model_name);
    if !taken(&singular) && !singular.is_empty() {
        return singular;
    }
    let mut counter = 2;
    loop {
        let candidate = format!("{plural}-{counter}");
        if !taken(&candidate) {
            return candidate;
        }
        counter += 1;
    }
}

fn is_string(field: &Field) -> bool {
    field.ty == FieldType::Scalar(ScalarType::String) && !field.is_list()
}

fn auth_api(schema: &Schema) -> Option<AuthApi> {
    let model = schema.models.get(schema.auth_model?.0)?;
    let password_field = model
        .fields
        .iter()
        .position(|field| field.is_password && is_string(field))?;
    let single_field_unique = |index: usize| {
        model.fields[index].is_unique
            || model.unique_constraints.iter().any(|constraint| {
                constraint.fields.len() == 1 && constraint.fields[0].field == index
            })
            || model.primary_key.fields == [index]
    };
    let login_field = model
        .fields
        .iter()
        .position(|field| field.name == "email" && is_string(field) && !field.is_ignored)
        .or_else(|| {
            model
                .fields
                .iter()
                .enumerate()
                .find(|(index, field)| {
                    is_string(field)
                        && !field.is_password
                        && !field.is_ignored
                        && single_field_unique(*index)
                        && !is_server_filled(field)
                })
                .map(|(index, _)| index)
        })?;
    // A field with a `@default` keeps it at registration: otherwise a newcomer could pick their own
    // `role` or `emailVerified`. Privileged fields are changed later through the resource routes,
    // where update policies decide who may change them.
    let register_fields: Vec<usize> = create_fields(model)
        .into_iter()
        .filter(|&index| {
            index == login_field || index == password_field || model.fields[index].default.is_none()
        })
        .collect();
    let mut required_register_fields = required_on_create(model, &register_fields);
    for always_required in [login_field, password_field] {
        if !required_register_fields.contains(&always_required) {
            required_register_fields.push(always_required);
        }
    }
    required_register_fields.sort_unstable();
    Some(AuthApi {
        model: model.id,
        register_fields,
        required_register_fields,
        login_field,
        password_field,
        user_fields: readable_fields(model),
    })
}
