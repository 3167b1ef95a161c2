//! The OpenAPI 3.1 document of the API `plinth serve` serves for a schema, derived from
//! [`plinth_api::api`] so the two cannot disagree.
//!
//! Security, per operation (there is no global `security`):
//! - `[{"bearerAuth": []}]` when no policy rule can let an anonymous caller through;
//! - `[{"bearerAuth": []}, {}]` (token optional) when some `@@allow` rule for the operation may
//!   hold with `auth()` null (for example `@@allow('read', true)`) and no `@@deny` rule surely
//!   holds then (for example `@@deny('all', auth() == null)`): the analysis is
//!   [`plinth_api::anonymous_may_perform`];
//! - `[]` for register, login, refresh, logout (they take credentials or a refresh token in the
//!   body), the operations endpoints, and anonymous-capable operations of a schema without auth
//!   endpoints (nobody can hold a token there).
//!
//! Output is deterministic: every map is built in a fixed order (models and fields in declaration
//! order) and serde_json keeps insertion order.

mod schemas;

use plinth_api::{Api, AuthApi, FilterOperator, Resource};
use plinth_model::{Model, Schema};
use schemas::{reference, ComponentNames};
use serde_json::{json, Map, Value as Json};

/// The OpenAPI 3.1.0 document for a schema.
pub fn document(schema: &Schema) -> Json {
    let api = plinth_api::api(schema);
    document_for_api(schema, &api)
}

/// The document for an already computed [`Api`] of `schema`.
pub fn document_for_api(schema: &Schema, api: &Api) -> Json {
    let names = ComponentNames::new(schema);
    let builder = Builder {
        schema,
        api,
        names: &names,
    };
    let mut document = Map::new();
    document.insert("openapi".into(), json!("3.1.0"));
    document.insert("info".into(), builder.info());
    document.insert("servers".into(), json!([{ "url": "/" }]));
    document.insert("tags".into(), builder.tags());
    document.insert("paths".into(), builder.paths());
    document.insert("components".into(), builder.components());
    Json::Object(document)
}

const TAG_AUTH: &str = "Authentication";
const TAG_OPERATIONS: &str = "Operations";

/// Which callers an operation accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A valid bearer token is required.
    Token,
    /// A bearer token is optional: policies may allow anonymous callers.
    TokenOptional,
    /// No token is read.
    Public,
}

impl Access {
    /// Without auth endpoints nobody can hold a token, so operations open to anonymous callers
    /// read none.
    fn for_resource(api: &Api, anonymous: bool) -> Access {
        match (anonymous, api.auth.is_some()) {
            (true, true) => Access::TokenOptional,
            (true, false) => Access::Public,
            (false, _) => Access::Token,
        }
    }

    fn security(self) -> Json {
        match self {
            Access::Token => json!([{ "bearerAuth": [] }]),
            Access::TokenOptional => json!([{ "bearerAuth": [] }, {}]),
            Access::Public => json!([]),
        }
    }
}

/// Error responses, by status: each one is `components.responses.<name>`.
const ERROR_RESPONSES: [(&str, &str, &str); 12] = [
    ("400", "BadRequest", "The request is malformed: bad JSON, an unknown query parameter, a query value, `{id}` (`invalid_id`) or header that does not parse"),
    ("401", "Unauthorized", "No token where one is required, or the token is invalid or expired"),
    ("403", "Forbidden", "The caller is known but the access policy does not allow this"),
    ("404", "NotFound", "No such row, or the read policy hides it from the caller"),
    ("409", "Conflict", "A unique constraint would be violated, a row still referenced cannot be deleted, or a request with the same `Idempotency-Key` is still being processed"),
    ("412", "PreconditionFailed", "The `If-Match` ETag does not match the current row"),
    ("413", "ContentTooLarge", "The request body is larger than the server accepts"),
    ("415", "UnsupportedMediaType", "The body is not sent as `Content-Type: application/json`"),
    ("422", "UnprocessableContent", "The body failed validation (`errors` lists each field; a reference to a row that does not exist is `invalid_reference`), or the `Idempotency-Key` was already used with another body (`idempotency_key_reused`)"),
    ("429", "TooManyRequests", "Rate limit exceeded; retry after `Retry-After` seconds"),
    ("500", "InternalServerError", "Unexpected server error (no details are exposed)"),
    ("503", "ServiceUnavailable", "The service is not ready (database unreachable or shutting down) or the request took longer than the server's timeout"),
];

/// Statuses every operation can answer: the rate limiter runs before any route, and any
/// request can time out or meet an unreachable database.
const ALWAYS_POSSIBLE: [&str; 3] = ["429", "500", "503"];

/// Statuses of an operation that reads a JSON request body.
const BODY_ERRORS: [&str; 4] = ["400", "413", "415", "422"];

fn error_response_reference(status: &str) -> Option<Json> {
    ERROR_RESPONSES
        .iter()
        .find(|(code, _, _)| *code == status)
        .map(|(_, name, _)| json!({ "$ref": format!("#/components/responses/{name}") }))
}

struct Builder<'a> {
    schema: &'a Schema,
    api: &'a Api,
    names: &'a ComponentNames,
}

/// The pieces of one operation before it becomes JSON.
struct OperationSpec {
    tag: String,
    operation_id: String,
    summary: String,
    description: Option<String>,
    access: Access,
    parameters: Vec<Json>,
    request_body: Option<Json>,
    /// Success responses, in order.
    success: Vec<(String, Json)>,
    /// Error statuses. Added automatically: 401 when a token is read, [`ALWAYS_POSSIBLE`], and
    /// [`BODY_ERRORS`] when there is a request body.
    errors: Vec<&'static str>,
}

impl OperationSpec {
    fn into_json(self) -> Json {
        let mut operation = Map::new();
        operation.insert("tags".into(), json!([self.tag]));
        operation.insert("summary".into(), json!(self.summary));
        if let Some(description) = self.description {
            operation.insert("description".into(), json!(description));
        }
        operation.insert("operationId".into(), json!(self.operation_id));
        operation.insert("security".into(), self.access.security());
        if !self.parameters.is_empty() {
            operation.insert("parameters".into(), Json::Array(self.parameters));
        }
        let has_body = self.request_body.is_some();
        if let Some(body) = self.request_body {
            operation.insert("requestBody".into(), body);
        }
        let mut responses = Map::new();
        for (status, response) in self.success {
            responses.insert(status, response);
        }
        let mut errors = self.errors;
        if self.access != Access::Public && !errors.contains(&"401") {
            errors.push("401");
        }
        errors.extend(ALWAYS_POSSIBLE);
        if has_body {
            errors.extend(BODY_ERRORS);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            if let Some(reference) = error_response_reference(status) {
                responses.insert(status.to_string(), reference);
            }
        }
        operation.insert("responses".into(), Json::Object(responses));
        Json::Object(operation)
    }
}

/// The 201 answer's `links` of a create: the item operations that exist, each with `{id}` taken
/// from the created row's key (`$response.body#/id`), so clients and tools such as `plinth verify`
/// know where the new row lives without guessing from paths. None when the key is not returned.
fn created_links(resource: &Resource, model: &Model, singular: &str) -> Map<String, Json> {
    let mut links = Map::new();
    let Some(id_index) = resource
        .item_id_field
        .filter(|index| resource.item_path.is_some() && resource.readable_fields.contains(index))
    else {
        return links;
    };
    let Some(id_field) = model.fields.get(id_index) else {
        return links;
    };
    let pointer = id_field.name.replace('~', "~0").replace('/', "~1");
    let endpoints = resource.endpoints;
    for (exists, verb, what) in [
        (endpoints.get, "get", "Read"),
        (endpoints.update, "update", "Update"),
        (endpoints.delete, "delete", "Delete"),
    ] {
        if !exists {
            continue;
        }
        let operation_id = format!("{verb}{singular}");
        links.insert(
            operation_id.clone(),
            json!({
                "operationId": operation_id,
                "parameters": { "id": format!("$response.body#/{pointer}") },
                "description": format!("{what} the created {}", resource.model_name)
            }),
        );
    }
    links
}

fn json_body(schema_reference: Json, description: &str) -> Json {
    json!({
        "description": description,
        "required": true,
        "content": { "application/json": { "schema": schema_reference } }
    })
}

fn parameter_reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn header_reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

/// A regex alternation of names, escaped.
fn alternation(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| schemas::escape_regex(name))
        .collect::<Vec<_>>()
        .join("|")
}

/// A comma-separated list parameter (`form` style, not exploded). At least one name: an empty
/// value is a 400, as is any name not in `values`; a name given twice counts once.
fn comma_list_parameter(name: &str, description: String, values: &[&str]) -> Json {
    json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "style": "form",
        "explode": false,
        "schema": {
            "type": "array",
            "minItems": 1,
            "items": { "type": "string", "enum": values }
        }
    })
}

impl Builder<'_> {
    fn model(&self, resource: &Resource) -> Option<&Model> {
        self.schema.models.get(resource.model.0)
    }

    fn info(&self) -> Json {
        let limits = self.api.page_limits;
        let description = format!(
            "REST API served by `plinth serve`. Resources live under `{base}/<plural-kebab-case>`. \
             Errors are `application/problem+json` (RFC 9457). Lists are paged with `limit` \
             (default {default}, at most {max}) and `cursor`; answers carry `next_cursor`. \
             Reads return an `ETag`; `PATCH` and `DELETE` accept `If-Match`; `POST` accepts \
             `Idempotency-Key`. `BigInt` and `Decimal` values travel as strings. Each readable \
             resource streams its changes as Server-Sent Events at `<resource>/events`.",
            base = plinth_api::BASE_PATH,
            default = limits.default,
            max = limits.max,
        );
        json!({
            "title": "Plinth API",
            "version": "1.0.0",
            "description": description,
        })
    }

    fn tags(&self) -> Json {
        let mut tags: Vec<Json> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut push = |name: &str, description: String| {
            if !seen.iter().any(|existing| existing == name) {
                seen.push(name.to_string());
                tags.push(json!({ "name": name, "description": description }));
            }
        };
        if self.api.auth.is_some() {
            push(
                TAG_AUTH,
                "Registration, login, token refresh and logout".into(),
            );
        }
        for resource in &self.api.resources {
            let description = self
                .model(resource)
                .and_then(|model| model.docs.clone())
                .unwrap_or_else(|| format!("The `{}` model", resource.model_name));
            push(&resource.model_name, description);
        }
        push(
            TAG_OPERATIONS,
            "Health, readiness, metrics and this document".into(),
        );
        Json::Array(tags)
    }

    fn paths(&self) -> Json {
        let mut paths = Map::new();
        if let Some(auth) = &self.api.auth {
            self.auth_paths(auth, &mut paths);
        }
        for resource in &self.api.resources {
            self.resource_paths(resource, &mut paths);
        }
        self.operations_paths(&mut paths);
        Json::Object(paths)
    }

    fn resource_paths(&self, resource: &Resource, paths: &mut Map<String, Json>) {
        let Some(model) = self.model(resource) else {
            return;
        };
        let Some(names) = self.names.models.get(resource.model.0) else {
            return;
        };
        let plural = plinth_api::pascal_case(&resource.name);
        let singular = plinth_api::pascal_case(&resource.model_name);
        let tag = resource.model_name.clone();

        let mut collection = Map::new();
        if resource.endpoints.list {
            let spec = OperationSpec {
                tag: tag.clone(),
                operation_id: format!("list{plural}"),
                summary: format!("List {}", resource.name),
                description: Some(with_policy_note(
                    "Rows the read policy lets the caller see, one page at a time. \
                     Follow `next_cursor` with `cursor` until it is null.",
                    model,
                    plinth_model::Operation::Read,
                )),
                access: Access::for_resource(self.api, resource.anonymous.list),
                parameters: self.list_parameters(resource, model),
                request_body: None,
                success: vec![(
                    "200".into(),
                    json!({
                        "description": "A page of rows",
                        "content": { "application/json": { "schema": reference(&names.list) } }
                    }),
                )],
                errors: vec!["400", "401", "422"],
            };
            collection.insert("get".into(), spec.into_json());
        }
        if resource.endpoints.create {
            let mut headers = Map::new();
            if resource.item_path.is_some() {
                headers.insert("Location".into(), header_reference("Location"));
            }
            headers.insert("ETag".into(), header_reference("ETag"));
            let mut created = json!({
                "description": "Created; `Location` points at the new row",
                "headers": headers,
                "content": { "application/json": { "schema": reference(&names.read) } }
            });
            let links = created_links(resource, model, &singular);
            if !links.is_empty() {
                created["links"] = Json::Object(links);
            }
            let spec = OperationSpec {
                tag: tag.clone(),
                operation_id: format!("create{singular}"),
                summary: format!("Create a {}", resource.model_name),
                description: Some(with_policy_note(
                    "Unknown fields are rejected with 422.",
                    model,
                    plinth_model::Operation::Create,
                )),
                access: Access::for_resource(self.api, resource.anonymous.create),
                parameters: vec![parameter_reference("IdempotencyKey")],
                request_body: Some(json_body(
                    reference(&names.create),
                    &format!("The new {}", resource.model_name),
                )),
                success: vec![("201".into(), created)],
                errors: vec!["400", "401", "403", "409"],
            };
            collection.insert("post".into(), spec.into_json());
        }
        if !collection.is_empty() {
            paths.insert(resource.path.clone(), Json::Object(collection));
        }
        if let (true, Some(events_path)) = (resource.endpoints.events, &resource.events_path) {
            let spec = self.events_operation(resource, model, &names.read, &tag);
            paths.insert(events_path.clone(), json!({ "get": spec.into_json() }));
        }

        let (Some(item_path), Some(id_index)) = (&resource.item_path, resource.item_id_field)
        else {
            return;
        };
        let Some(id_field) = model.fields.get(id_index) else {
            return;
        };
        let mut item = Map::new();
        let id_parameter = json!({
            "name": "id",
            "in": "path",
            "required": true,
            "description": format!("The `{}` of the {}", id_field.name, resource.model_name),
            "schema": schemas::plain_value_schema(self.names, id_field),
        });
        item.insert("parameters".into(), json!([id_parameter]));
        let read_response = |description: &str| {
            json!({
                "description": description,
                "headers": { "ETag": header_reference("ETag") },
                "content": { "application/json": { "schema": reference(&names.read) } }
            })
        };
        if resource.endpoints.get {
            let mut parameters = Vec::new();
            parameters.extend(self.fields_parameter(resource, model));
            parameters.extend(self.include_parameter(resource));
            parameters.push(parameter_reference("IfNoneMatch"));
            let spec = OperationSpec {
                tag: tag.clone(),
                operation_id: format!("get{singular}"),
                summary: format!("Get a {}", resource.model_name),
                description: Some(with_policy_note(
                    "404 also when the row exists but the read policy hides it.",
                    model,
                    plinth_model::Operation::Read,
                )),
                access: Access::for_resource(self.api, resource.anonymous.get),
                parameters,
                request_body: None,
                success: vec![
                    ("200".into(), read_response("The row")),
                    (
                        "304".into(),
                        json!({
                            "description": "Not modified: `If-None-Match` names the current ETag (or is `*`)",
                            "headers": { "ETag": header_reference("ETag") }
                        }),
                    ),
                ],
                errors: vec!["400", "401", "404"],
            };
            item.insert("get".into(), spec.into_json());
        }
        if resource.endpoints.update {
            let spec = OperationSpec {
                tag: tag.clone(),
                operation_id: format!("update{singular}"),
                summary: format!("Update a {}", resource.model_name),
                description: Some(with_policy_note(
                    "Partial update: only the fields sent change. Send `If-Match` with the ETag \
                     from a read to avoid overwriting someone else's change.",
                    model,
                    plinth_model::Operation::Update,
                )),
                access: Access::for_resource(self.api, resource.anonymous.update),
                parameters: vec![parameter_reference("IfMatch")],
                request_body: Some(json_body(reference(&names.update), "The fields to change")),
                success: vec![("200".into(), read_response("The updated row"))],
                errors: vec!["400", "401", "403", "404", "409", "412"],
            };
            item.insert("patch".into(), spec.into_json());
        }
        if resource.endpoints.delete {
            let spec = OperationSpec {
                tag,
                operation_id: format!("delete{singular}"),
                summary: format!("Delete a {}", resource.model_name),
                description: Some(with_policy_note(
                    "Deletes the row.",
                    model,
                    plinth_model::Operation::Delete,
                )),
                access: Access::for_resource(self.api, resource.anonymous.delete),
                parameters: vec![parameter_reference("IfMatch")],
                request_body: None,
                success: vec![("204".into(), json!({ "description": "Deleted" }))],
                errors: vec!["400", "401", "403", "404", "409", "412"],
            };
            item.insert("delete".into(), spec.into_json());
        }
        if item.len() > 1 {
            paths.insert(item_path.clone(), Json::Object(item));
        }
    }

    /// `GET <path>/events`: a Server-Sent Events stream. SSE bodies have no JSON Schema in
    /// OpenAPI 3.1, so the stream is a string and the schema of each event's `data` is named
    /// in the description and in the `x-plinth-event-data` extension of the media type.
    fn events_operation(
        &self,
        resource: &Resource,
        model: &Model,
        read_schema: &str,
        tag: &str,
    ) -> OperationSpec {
        let singular = plinth_api::pascal_case(&resource.model_name);
        let row_source = if resource.item_path.is_some() {
            "`GET /{id}`"
        } else {
            "the list"
        };
        let event_format = format!(
            "A Server-Sent Events stream that stays open. Each event has `id:` (its position in \
             the stream: reconnect with it in `Last-Event-ID` to receive every later event, \
             within the server's event retention), `event:` ({events}) and `data:` (one line of \
             JSON: the row as {row_source} returns it to this caller, schema `{read_schema}`; \
             for `deleted`, the row as it was). Lines starting with `:` are comments that keep \
             the connection alive. A client resuming from before the oldest event still kept \
             first receives `event: resync` (no `id`), and should reload what it shows. The \
             stream ends when the access token expires or its session is logged out: reconnect \
             with a fresh token and `Last-Event-ID`.",
            events = plinth_api::EVENT_NAMES
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        OperationSpec {
            tag: tag.to_string(),
            operation_id: format!("stream{singular}Events"),
            summary: format!("Stream changes to {}", resource.name),
            description: Some(with_policy_note(
                "Every row created, updated or deleted, on any node, that the read policy lets \
                 the caller see: the policy and the field rules are checked for each event and \
                 each subscriber, on the row as the write left it (for `deleted`, as it was), \
                 and events the caller may not read are left out. Rules that look at other \
                 rows read them as they are when the event is delivered. 503 also when the \
                 node serves as many streams as it allows.",
                model,
                plinth_model::Operation::Read,
            )),
            access: Access::for_resource(self.api, resource.anonymous.events),
            parameters: vec![parameter_reference("LastEventId")],
            request_body: None,
            success: vec![(
                "200".into(),
                json!({
                    "description": event_format,
                    "content": {
                        plinth_api::EVENT_STREAM_MEDIA_TYPE: {
                            "schema": { "type": "string" },
                            "x-plinth-event-names": plinth_api::EVENT_NAMES,
                            "x-plinth-event-data": reference(read_schema)
                        }
                    }
                }),
            )],
            errors: vec!["400", "401"],
        }
    }

    fn list_parameters(&self, resource: &Resource, model: &Model) -> Vec<Json> {
        let mut parameters = Vec::new();
        for filter in &resource.filters {
            let Some(field) = model.fields.get(filter.field) else {
                continue;
            };
            let value = schemas::plain_value_schema(self.names, field);
            for &operator in &filter.operators {
                let (schema, style) = match operator {
                    FilterOperator::In => (json!({ "type": "array", "items": value }), true),
                    FilterOperator::IsNull => (json!({ "type": "boolean" }), false),
                    FilterOperator::Contains | FilterOperator::StartsWith => {
                        (schemas::text_parameter_schema(), false)
                    }
                    _ => (value.clone(), false),
                };
                let mut parameter = Map::new();
                parameter.insert("name".into(), json!(operator.query_parameter(&filter.name)));
                parameter.insert("in".into(), json!("query"));
                parameter.insert("required".into(), json!(false));
                parameter.insert(
                    "description".into(),
                    json!(format!("`{}` {}", filter.name, operator.description())),
                );
                if style {
                    parameter.insert("style".into(), json!("form"));
                    parameter.insert("explode".into(), json!(false));
                }
                parameter.insert("schema".into(), schema);
                parameters.push(Json::Object(parameter));
            }
        }
        let sortable: Vec<&str> = resource
            .sortable_fields
            .iter()
            .filter_map(|&index| model.fields.get(index).map(|f| f.name.as_str()))
            .collect();
        if !sortable.is_empty() {
            let choices = alternation(&sortable);
            parameters.push(json!({
                "name": "sort",
                "in": "query",
                "required": false,
                "description": format!(
                    "Comma-separated fields to sort by, `-` for descending: {}",
                    sortable.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
                "schema": {
                    "type": "string",
                    "pattern": format!("^-?(?:{choices})(?:,-?(?:{choices}))*$"),
                }
            }));
        }
        parameters.push(parameter_reference("Limit"));
        parameters.push(parameter_reference("Cursor"));
        parameters.extend(self.include_parameter(resource));
        parameters.extend(self.fields_parameter(resource, model));
        parameters
    }

    fn include_parameter(&self, resource: &Resource) -> Option<Json> {
        if resource.includes.is_empty() {
            return None;
        }
        let names: Vec<&str> = resource.includes.iter().map(|i| i.name.as_str()).collect();
        Some(comma_list_parameter(
            "include",
            "Comma-separated relations to embed in each row".into(),
            &names,
        ))
    }

    fn fields_parameter(&self, resource: &Resource, model: &Model) -> Option<Json> {
        let names: Vec<&str> = resource
            .readable_fields
            .iter()
            .filter_map(|&index| model.fields.get(index).map(|f| f.name.as_str()))
            .collect();
        if names.is_empty() {
            return None;
        }
        Some(comma_list_parameter(
            "fields",
            "Comma-separated fields to return; the primary key is always returned".into(),
            &names,
        ))
    }

    fn auth_paths(&self, auth: &AuthApi, paths: &mut Map<String, Json>) {
        let token_response = |description: &str| {
            json!({
                "description": description,
                "content": { "application/json": { "schema": reference(schemas::TOKEN_RESPONSE) } }
            })
        };
        let post = |spec: OperationSpec| json!({ "post": spec.into_json() });
        paths.insert(
            plinth_api::AUTH_REGISTER_PATH.into(),
            post(OperationSpec {
                tag: TAG_AUTH.into(),
                operation_id: "authRegister".into(),
                summary: "Register a new user".into(),
                description: Some("Creates the user and signs them in.".into()),
                access: Access::Public,
                parameters: Vec::new(),
                request_body: Some(json_body(
                    reference(schemas::REGISTER_REQUEST),
                    "The new user",
                )),
                success: vec![("201".into(), token_response("Registered and signed in"))],
                errors: vec!["400", "409"],
            }),
        );
        paths.insert(
            plinth_api::AUTH_LOGIN_PATH.into(),
            post(OperationSpec {
                tag: TAG_AUTH.into(),
                operation_id: "authLogin".into(),
                summary: "Log in".into(),
                description: Some("401 when the credentials are wrong.".into()),
                access: Access::Public,
                parameters: Vec::new(),
                request_body: Some(json_body(reference(schemas::LOGIN_REQUEST), "Credentials")),
                success: vec![("200".into(), token_response("Signed in"))],
                errors: vec!["400", "401"],
            }),
        );
        paths.insert(
            plinth_api::AUTH_REFRESH_PATH.into(),
            post(OperationSpec {
                tag: TAG_AUTH.into(),
                operation_id: "authRefresh".into(),
                summary: "Exchange a refresh token for new tokens".into(),
                description: Some(
                    "Refresh tokens rotate: the one sent is used up. Reusing a used token \
                     revokes the whole token family (401)."
                        .into(),
                ),
                access: Access::Public,
                parameters: Vec::new(),
                request_body: Some(json_body(
                    reference(schemas::REFRESH_REQUEST),
                    "The refresh token",
                )),
                success: vec![("200".into(), token_response("New tokens"))],
                errors: vec!["400", "401"],
            }),
        );
        paths.insert(
            plinth_api::AUTH_LOGOUT_PATH.into(),
            post(OperationSpec {
                tag: TAG_AUTH.into(),
                operation_id: "authLogout".into(),
                summary: "Log out".into(),
                description: Some("Revokes the refresh token (and its family).".into()),
                access: Access::Public,
                parameters: Vec::new(),
                request_body: Some(json_body(
                    reference(schemas::LOGOUT_REQUEST),
                    "The refresh token to revoke",
                )),
                success: vec![("204".into(), json!({ "description": "Logged out" }))],
                errors: vec!["400"],
            }),
        );
        let user_reference = self
            .names
            .models
            .get(auth.model.0)
            .map(|names| reference(&names.read))
            .unwrap_or_else(|| json!({}));
        let me = OperationSpec {
            tag: TAG_AUTH.into(),
            operation_id: "authMe".into(),
            summary: "The signed-in user".into(),
            description: Some(
                "The caller's own row, without `@omit` and `@password` fields.".into(),
            ),
            access: Access::Token,
            parameters: Vec::new(),
            request_body: None,
            success: vec![(
                "200".into(),
                json!({
                    "description": "The caller",
                    "content": { "application/json": { "schema": user_reference } }
                }),
            )],
            errors: vec!["404"],
        };
        paths.insert(
            plinth_api::AUTH_ME_PATH.into(),
            json!({ "get": me.into_json() }),
        );
    }

    fn operations_paths(&self, paths: &mut Map<String, Json>) {
        let entries: [(&str, &str, &str, Json, Vec<&'static str>); 5] = [
            (
                plinth_api::HEALTH_PATH,
                "healthz",
                "Liveness: the process is up",
                json!({ "description": "Alive", "content": { "application/json": { "schema": reference(schemas::HEALTH_STATUS) } } }),
                vec![],
            ),
            (
                plinth_api::READY_PATH,
                "readyz",
                "Readiness: `ready` when the database and Redis answer, `degraded` (still serving, with per-node rate limits) while Redis does not; 503 while the database does not",
                json!({ "description": "Ready or degraded", "content": { "application/json": { "schema": reference(schemas::HEALTH_STATUS) } } }),
                vec!["503"],
            ),
            (
                plinth_api::METRICS_PATH,
                "metrics",
                "Prometheus metrics",
                json!({ "description": "Metrics in the Prometheus text format", "content": { "text/plain": { "schema": { "type": "string" } } } }),
                vec![],
            ),
            (
                plinth_api::OPENAPI_PATH,
                "openapi",
                "This OpenAPI document",
                json!({ "description": "The OpenAPI 3.1 document", "content": { "application/json": { "schema": { "type": "object" } } } }),
                vec![],
            ),
            (
                plinth_api::DOCS_PATH,
                "docs",
                "Browsable API reference",
                json!({ "description": "An HTML page", "content": { "text/html": { "schema": { "type": "string" } } } }),
                vec![],
            ),
        ];
        for (path, operation_id, summary, success, errors) in entries {
            let spec = OperationSpec {
                tag: TAG_OPERATIONS.into(),
                operation_id: operation_id.into(),
                summary: summary.into(),
                description: None,
                access: Access::Public,
                parameters: Vec::new(),
                request_body: None,
                success: vec![("200".into(), success)],
                errors,
            };
            paths.insert(path.into(), json!({ "get": spec.into_json() }));
        }
    }

    fn components(&self) -> Json {
        let mut components = Map::new();
        components.insert("schemas".into(), self.component_schemas());
        components.insert("responses".into(), error_responses());
        components.insert("parameters".into(), self.shared_parameters());
        components.insert("headers".into(), shared_headers());
        components.insert(
            "securitySchemes".into(),
            json!({
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Access token from register, login or refresh"
                }
            }),
        );
        Json::Object(components)
    }

    fn component_schemas(&self) -> Json {
        let mut components = Map::new();
        for (enum_, name) in self.schema.enums.iter().zip(&self.names.enums) {
            let values: Vec<&str> = enum_.values.iter().map(|v| v.db_name.as_str()).collect();
            let mut object = Map::new();
            object.insert("type".into(), json!("string"));
            if let Some(docs) = &enum_.docs {
                object.insert("description".into(), json!(docs));
            }
            object.insert("enum".into(), json!(values));
            components.insert(name.clone(), Json::Object(object));
        }
        let auth_model = self.api.auth.as_ref().map(|auth| auth.model);
        for (model, names) in self.schema.models.iter().zip(&self.names.models) {
            let resource = self.api.resource(model.id);
            let readable = match (resource, &self.api.auth) {
                (Some(resource), _) => resource.readable_fields.clone(),
                (None, Some(auth)) if auth_model == Some(model.id) => auth.user_fields.clone(),
                _ => continue,
            };
            components.insert(
                names.read.clone(),
                schemas::read_object(self.api, self.names, model, &readable),
            );
            let Some(resource) = resource else {
                continue;
            };
            if resource.endpoints.create {
                components.insert(
                    names.create.clone(),
                    schemas::input_object(
                        self.schema,
                        self.names,
                        model,
                        &resource.create_fields,
                        &resource.required_on_create,
                        schemas::BodyKind::Create,
                        format!("The body that creates a `{}`", model.name),
                    ),
                );
            }
            if resource.endpoints.update {
                components.insert(
                    names.update.clone(),
                    schemas::input_object(
                        self.schema,
                        self.names,
                        model,
                        &resource.update_fields,
                        &[],
                        schemas::BodyKind::Update,
                        format!("The fields of a `{}` to change", model.name),
                    ),
                );
            }
            if resource.endpoints.list {
                components.insert(
                    names.list.clone(),
                    json!({
                        "type": "object",
                        "description": format!("A page of `{}` rows", model.name),
                        "required": ["data", "next_cursor"],
                        "properties": {
                            "data": { "type": "array", "items": reference(&names.read) },
                            "next_cursor": {
                                "type": ["string", "null"],
                                "description": "Pass as `cursor` for the next page; null on the last page"
                            }
                        }
                    }),
                );
            }
        }
        components.insert(schemas::PROBLEM.into(), schemas::problem_schema());
        components.insert(
            schemas::HEALTH_STATUS.into(),
            json!({
                "type": "object",
                "required": ["status"],
                "properties": {
                    "status": { "type": "string", "description": "`ok` (liveness), `ready` or `degraded` (readiness)" },
                    "checks": {
                        "type": "object",
                        "description": "Readiness only: each dependency's state (`database`: `ok`; `redis`: `ok`, `unavailable` or `disabled`)",
                        "additionalProperties": { "type": "string" }
                    }
                }
            }),
        );
        if let Some(auth) = &self.api.auth {
            self.auth_schemas(auth, &mut components);
        }
        Json::Object(components)
    }

    fn auth_schemas(&self, auth: &AuthApi, components: &mut Map<String, Json>) {
        let Some(model) = self.schema.models.get(auth.model.0) else {
            return;
        };
        components.insert(
            schemas::REGISTER_REQUEST.into(),
            schemas::input_object(
                self.schema,
                self.names,
                model,
                &auth.register_fields,
                &auth.required_register_fields,
                schemas::BodyKind::Create,
                format!("A new `{}`", model.name),
            ),
        );
        let login_name = model
            .fields
            .get(auth.login_field)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let password_name = model
            .fields
            .get(auth.password_field)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        let mut login_properties = Map::new();
        login_properties.insert(login_name.clone(), json!({ "type": "string" }));
        login_properties.insert(
            password_name.clone(),
            json!({ "type": "string", "format": "password", "writeOnly": true }),
        );
        components.insert(
            schemas::LOGIN_REQUEST.into(),
            json!({
                "type": "object",
                "required": [login_name, password_name],
                "properties": login_properties,
                "additionalProperties": false
            }),
        );
        let refresh_body = json!({
            "type": "object",
            "required": ["refresh_token"],
            "properties": { "refresh_token": { "type": "string" } },
            "additionalProperties": false
        });
        components.insert(schemas::REFRESH_REQUEST.into(), refresh_body.clone());
        components.insert(schemas::LOGOUT_REQUEST.into(), refresh_body);
        let user_reference = self
            .names
            .models
            .get(auth.model.0)
            .map(|names| reference(&names.read))
            .unwrap_or_else(|| json!({}));
        components.insert(
            schemas::TOKEN_RESPONSE.into(),
            json!({
                "type": "object",
                "required": ["access_token", "refresh_token", "token_type", "expires_in", "user"],
                "properties": {
                    "access_token": { "type": "string", "description": "JWT to send as `Authorization: Bearer …`" },
                    "refresh_token": { "type": "string", "description": "Opaque, single-use token for `/auth/refresh`" },
                    "token_type": { "type": "string", "const": "Bearer" },
                    "expires_in": { "type": "integer", "minimum": 0, "description": "Seconds until the access token expires" },
                    "user": user_reference
                }
            }),
        );
    }

    fn shared_parameters(&self) -> Json {
        let limits = self.api.page_limits;
        json!({
            "Limit": {
                "name": "limit",
                "in": "query",
                "required": false,
                "description": "Rows per page",
                "schema": { "type": "integer", "minimum": 1, "maximum": limits.max, "default": limits.default }
            },
            "Cursor": {
                "name": "cursor",
                "in": "query",
                "required": false,
                "description": "`next_cursor` of the previous page, sent with the same `sort`. A value of another shape is a 400; a cursor this list did not hand out for this `sort` is a 422 `invalid_cursor`",
                "schema": {
                    "type": "string",
                    "minLength": plinth_api::CURSOR_PREFIX.len() + 1,
                    "pattern": format!("^{}[A-Za-z0-9_-]+$", schemas::escape_regex(plinth_api::CURSOR_PREFIX))
                }
            },
            "IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": format!(
                    "Retrying a create with the same key (1 to {} visible ASCII characters) returns \
                     the first answer instead of creating twice; the same key with another body is \
                     a 422 `idempotency_key_reused`",
                    plinth_api::IDEMPOTENCY_KEY_MAX_LENGTH
                ),
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": plinth_api::IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": "^[!-~]+$"
                }
            },
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "required": false,
                "description": "ETag from a read (or `*`); the change is refused with 412 if the row changed since",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": plinth_api::IF_MATCH_MAX_LENGTH,
                    "pattern": "^[!-~](?:[ -~]*[!-~])?$"
                }
            },
            "LastEventId": {
                "name": plinth_api::LAST_EVENT_ID_HEADER,
                "in": "header",
                "required": false,
                "description": "The `id:` of the last event received: the stream resumes with the events after it. Browsers' `EventSource` sends it by itself when it reconnects; an empty value is the same as none; a value that is not a number is a 400",
                "schema": { "type": "string", "pattern": "^([0-9]{1,19})?$" }
            },
            "IfNoneMatch": {
                "name": "If-None-Match",
                "in": "header",
                "required": false,
                "description": "ETag from an earlier read (or `*`); answered with 304 and no body while the row is unchanged",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": plinth_api::IF_MATCH_MAX_LENGTH,
                    "pattern": "^[!-~](?:[ -~]*[!-~])?$"
                }
            }
        })
    }
}

fn shared_headers() -> Json {
    json!({
        "ETag": {
            "description": "Version of the row; send it back in `If-Match`",
            "schema": { "type": "string" }
        },
        "Location": {
            "description": "Path of the created row",
            "schema": { "type": "string", "format": "uri-reference" }
        },
        "RetryAfter": {
            "description": "Seconds to wait before retrying",
            "schema": { "type": "integer", "minimum": 0 }
        }
    })
}

fn error_responses() -> Json {
    let mut responses = Map::new();
    for (status, name, description) in ERROR_RESPONSES {
        let mut response = Map::new();
        response.insert("description".into(), json!(description));
        if status == "429" {
            response.insert(
                "headers".into(),
                json!({ "Retry-After": header_reference("RetryAfter") }),
            );
        }
        response.insert(
            "content".into(),
            json!({ "application/problem+json": { "schema": reference(schemas::PROBLEM) } }),
        );
        responses.insert(name.into(), Json::Object(response));
    }
    Json::Object(responses)
}

/// An operation description followed by the policy rules that govern it, as written.
fn with_policy_note(text: &str, model: &Model, operation: plinth_model::Operation) -> String {
    let note = policy_note(model, operation);
    if note.is_empty() {
        text.to_string()
    } else {
        format!("{text} {note}")
    }
}

/// "Policy rules: …" from the rules as written, for operation descriptions.
fn policy_note(model: &Model, operation: plinth_model::Operation) -> String {
    let rules: Vec<String> = model
        .policies
        .iter()
        .filter(|policy| policy.operations.contains(operation))
        .map(|policy| format!("`{}`", policy.source))
        .collect();
    if rules.is_empty() {
        String::new()
    } else {
        format!("Policy rules: {}.", rules.join(", "))
    }
}
