//! CRUD handlers for every resource: list, get, create, update, delete.
//!
//! Access decisions (documented in the API reference too):
//! - An anonymous caller on an endpoint that no policy can open to anonymous callers
//!   (`Resource::anonymous`) gets 401 before the database is asked.
//! - A row the caller may not read is 404, as if it did not exist.
//! - A write the caller may not make on a row it can read is 403; for an anonymous caller 401
//!   instead (a token could help), when the API has auth endpoints.
//! - An `{id}` that does not parse as the key's type is a 400 `invalid_id`.
//! - `limit` above the maximum (or below 1) is a 400, not silently clamped.
//! - Unknown query parameters are a 400 on every route.

use crate::auth::{authenticate, sha256_hex};
use crate::error::{ApiError, FieldError};
use crate::http::body::{parse_json_object, read_json_bytes};
use crate::http::query::parse_pairs;
use crate::idempotency::{self, StoredResponse};
use crate::rows::{column_value, etag, etag_matches, json_response, render_plain, render_row};
use crate::sql::{self, Dialect, FilterClause, FilterOp, ListQuery, Projection, SortKey, SqlValue};
use crate::state::{AppState, CallerInfo, ResourcePlan};
use crate::store::{Executor, ExecutorExt, Row};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use plinth_api::{FilterOperator, Include, WireType};
use plinth_model::{Effect, FieldId, ModelId, Operation, Path, PathRoot, PolicyExpr};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

/// The caller, refusing anonymous callers up front where no policy could let them through.
async fn caller_for(
    state: &AppState,
    anonymous_possible: bool,
    headers: &HeaderMap,
) -> Result<CallerInfo, ApiError> {
    let caller = authenticate(state, headers).await?;
    if caller.is_anonymous() && !anonymous_possible && state.auth.is_some() {
        return Err(ApiError::authentication_required());
    }
    Ok(caller)
}

/// `GET /api/v1/<resource>/events`: authenticated like the list, then streamed by `events`.
pub async fn event_stream(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.events, request.headers()).await?;
    only_parameters(&request, &[])?;
    crate::events::stream(state, index, request, caller).await
}

/// The answer when a policy refuses a write on a readable row.
fn refusal(state: &AppState, caller: &CallerInfo, operation: Operation) -> ApiError {
    if caller.is_anonymous() && state.auth.is_some() {
        return ApiError::authentication_required();
    }
    ApiError::forbidden(format!(
        "the access policy does not allow you to {} this row",
        operation.as_str()
    ))
}

fn path_decode(segment: &str) -> Option<String> {
    crate::http::query::percent_decode(&segment.replace('+', "%2B"))
}

/// The `{id}` of an item route, parsed by the key field's type.
fn path_id(state: &AppState, plan: &ResourcePlan, request: &Request) -> Result<SqlValue, ApiError> {
    let invalid = |message: String| {
        ApiError::bad_request("invalid_id", message).with_errors(vec![FieldError::new(
            "id",
            "invalid_id",
            "is not a valid id",
        )])
    };
    let segment = request.uri().path().rsplit('/').next().unwrap_or("");
    let text = path_decode(segment).ok_or_else(|| invalid("the id is not valid UTF-8".into()))?;
    let field = plan
        .resource
        .item_id_field
        .and_then(|index| state.model_plan(plan.model).field(index))
        .ok_or_else(|| ApiError::not_found("this resource has no item routes"))?;
    field
        .parse_text(&text)
        .map_err(|message| invalid(format!("the id `{text}` {message}")))
}

/// Rejects any query parameter on routes that take none, or only the listed ones.
fn only_parameters(request: &Request, allowed: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let pairs = parse_pairs(request.uri().query())?;
    let unknown: Vec<FieldError> = pairs
        .iter()
        .filter(|(key, _)| !allowed.contains(&key.as_str()))
        .map(|(key, _)| {
            FieldError::new(key, "unknown_parameter", "is not a parameter of this route")
        })
        .collect();
    if !unknown.is_empty() {
        let mut error = ApiError::invalid_parameters(unknown);
        error.code = "unknown_parameter";
        return Err(error);
    }
    Ok(pairs)
}

fn json_key(name: &str) -> Vec<u8> {
    let mut key = serde_json::to_vec(name).unwrap_or_default();
    key.push(b':');
    key
}

/// `fields=a,b` and `include=x,y`, shared by list and get.
struct Shape {
    selected: Option<Vec<usize>>,
    includes: Vec<Include>,
}

fn parse_shape_parameter(
    state: &AppState,
    plan: &ResourcePlan,
    key: &str,
    value: &str,
    shape: &mut Shape,
    errors: &mut Vec<FieldError>,
) {
    let model = state.schema.model(plan.model);
    // Exactly the documented form: one or more names separated by commas, nothing else (an
    // empty value or an empty name is refused); a name given twice counts once.
    let names = value.split(',');
    match key {
        "fields" => {
            let mut selected = shape.selected.take().unwrap_or_default();
            for name in names {
                match model.field_by_name(name) {
                    Some((index, _)) if plan.resource.readable_fields.contains(&index) => {
                        if !selected.contains(&index) {
                            selected.push(index);
                        }
                    }
                    _ if name.is_empty() => errors.push(FieldError::new(
                        "fields",
                        "empty_name",
                        "names a field between each pair of commas; leave `fields` out for all",
                    )),
                    _ => errors.push(FieldError::new(
                        "fields",
                        "unknown_field",
                        format!("`{name}` is not a readable field"),
                    )),
                }
            }
            shape.selected = Some(selected);
        }
        "include" => {
            for name in names {
                match plan.includes.get(name) {
                    Some(include) => {
                        if !shape
                            .includes
                            .iter()
                            .any(|known| known.name == include.name)
                        {
                            shape.includes.push(include.clone());
                        }
                    }
                    None if name.is_empty() => errors.push(FieldError::new(
                        "include",
                        "empty_name",
                        "names a relation between each pair of commas",
                    )),
                    None => errors.push(FieldError::new(
                        "include",
                        "unknown_relation",
                        format!("`{name}` is not a relation that can be included"),
                    )),
                }
            }
        }
        _ => {}
    }
}

/// Loads the includes for `rows` and renders each parent's extras (`"name": value`).
async fn load_includes(
    state: &Arc<AppState>,
    model: ModelId,
    rows: &[Row],
    projection: &Projection,
    includes: &[Include],
    caller: &CallerInfo,
) -> Result<Vec<Vec<(Vec<u8>, Vec<u8>)>>, ApiError> {
    let mut extras: Vec<Vec<(Vec<u8>, Vec<u8>)>> = vec![Vec::new(); rows.len()];
    for include in includes {
        let relation_field = FieldId {
            model,
            index: include.field,
        };
        let key_field =
            sql::include_key_field(&state.schema, relation_field).map_err(sql::query_error)?;
        let parent_keys: Vec<Option<&SqlValue>> = rows
            .iter()
            .map(|row| column_value(projection, row, key_field).filter(|v| **v != SqlValue::Null))
            .collect();
        let mut distinct: Vec<SqlValue> = Vec::new();
        for key in parent_keys.iter().flatten() {
            if !distinct.contains(key) {
                distinct.push((*key).clone());
            }
        }
        let mut grouped: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        if !distinct.is_empty() {
            let (statement, related_projection) = sql::select_related(
                &state.schema,
                relation_field,
                distinct,
                &caller.caller,
                state.dialect,
                None,
            )
            .map_err(sql::query_error)?;
            let decode = crate::store::decoders(&related_projection);
            let related_rows = state.store.query(statement, decode).await?;
            for row in related_rows {
                let Some(parent) = row.first() else {
                    continue;
                };
                let key = crate::wire::plain_json(parent).to_string();
                let mut rendered = Vec::with_capacity(128);
                render_row(
                    state,
                    include.target,
                    &row,
                    &related_projection,
                    None,
                    &[],
                    &mut rendered,
                );
                grouped.entry(key).or_default().push(rendered);
            }
        }
        let name = json_key(&include.name);
        for (position, parent_key) in parent_keys.iter().enumerate() {
            let related = parent_key
                .map(|key| crate::wire::plain_json(key).to_string())
                .and_then(|key| grouped.get(&key));
            let mut value = Vec::new();
            if include.to_many {
                value.push(b'[');
                if let Some(related) = related {
                    for (index, item) in related.iter().enumerate() {
                        if index > 0 {
                            value.push(b',');
                        }
                        value.extend_from_slice(item);
                    }
                }
                value.push(b']');
            } else {
                match related.and_then(|related| related.first()) {
                    Some(item) => value.extend_from_slice(item),
                    None => value.extend_from_slice(b"null"),
                }
            }
            extras[position].push((name.clone(), value));
        }
    }
    Ok(extras)
}

/// The opaque cursor: `c1.` (a version tag) then base64url of
/// `{"s": sort, "v": [values of the cursor fields]}`.
fn encode_cursor(sort: &str, values: &[SqlValue]) -> String {
    let body = serde_json::json!({
        "s": sort,
        "v": values.iter().map(crate::wire::plain_json).collect::<Vec<_>>(),
    });
    format!(
        "{}{}",
        plinth_api::CURSOR_PREFIX,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
    )
}

/// The values of a cursor-shaped `text` (see `plinth_api::is_cursor_shaped`), or `None` when it
/// is not a cursor this list hands out for `sort`.
fn decode_cursor(
    state: &AppState,
    plan: &ResourcePlan,
    text: &str,
    sort: &str,
    cursor_fields: &[usize],
) -> Option<Vec<SqlValue>> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.strip_prefix(plinth_api::CURSOR_PREFIX)?)
        .ok()?;
    let body: Json = serde_json::from_slice(&bytes).ok()?;
    if body.get("s")?.as_str()? != sort {
        return None;
    }
    let values = body.get("v")?.as_array()?;
    if values.len() != cursor_fields.len() {
        return None;
    }
    let model_plan = state.model_plan(plan.model);
    let mut converted = Vec::with_capacity(values.len());
    for (value, &field_index) in values.iter().zip(cursor_fields) {
        let field = model_plan.field(field_index)?;
        let typed = match (value, field.wire) {
            (Json::Null, _) if field.optional => SqlValue::Null,
            (Json::Number(number), WireType::Integer | WireType::BigIntString) => {
                SqlValue::Int(number.as_i64()?)
            }
            (Json::Number(number), WireType::Number) => SqlValue::Float(number.as_f64()?),
            (Json::Bool(flag), WireType::Boolean) => SqlValue::Bool(*flag),
            (
                Json::String(text),
                WireType::String | WireType::Enum(_) | WireType::DateTime | WireType::DecimalString,
            ) => SqlValue::Text(text.clone()),
            _ => return None,
        };
        converted.push(typed);
    }
    Some(converted)
}

fn filter_op(operator: FilterOperator) -> FilterOp {
    match operator {
        FilterOperator::Eq => FilterOp::Eq,
        FilterOperator::Ne => FilterOp::Ne,
        FilterOperator::Lt => FilterOp::Lt,
        FilterOperator::Lte => FilterOp::Lte,
        FilterOperator::Gt => FilterOp::Gt,
        FilterOperator::Gte => FilterOp::Gte,
        FilterOperator::In => FilterOp::In,
        FilterOperator::Contains => FilterOp::Contains,
        FilterOperator::StartsWith => FilterOp::StartsWith,
        FilterOperator::IsNull => FilterOp::IsNull,
    }
}

struct ListRequest {
    query: ListQuery,
    shape: Shape,
    sort_text: String,
    cursor_fields: Vec<usize>,
}

fn parse_list_request(
    state: &AppState,
    plan: &ResourcePlan,
    pairs: &[(String, String)],
) -> Result<ListRequest, ApiError> {
    let model_plan = state.model_plan(plan.model);
    let limits = state.api.page_limits;
    let mut errors = Vec::new();
    let mut query = ListQuery {
        limit: limits.default,
        ..ListQuery::default()
    };
    let mut shape = Shape {
        selected: None,
        includes: Vec::new(),
    };
    let mut cursor_text = None;
    let mut sort_text = String::new();
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => match value
                .bytes()
                .all(|byte| byte.is_ascii_digit())
                .then(|| value.parse::<u32>().ok())
                .flatten()
            {
                Some(limit) if (1..=limits.max).contains(&limit) => query.limit = limit,
                _ => errors.push(FieldError::new(
                    "limit",
                    "out_of_range",
                    format!("must be an integer from 1 to {}", limits.max),
                )),
            },
            "cursor" => cursor_text = Some(value.clone()),
            "sort" => {
                sort_text = value.clone();
                // `field` or `-field`, comma-separated, nothing else (the document's pattern).
                // A field named again adds nothing: the first mention decides its direction.
                for item in value.split(',') {
                    let (descending, name) = match item.strip_prefix('-') {
                        Some(name) => (true, name),
                        None => (false, item),
                    };
                    match plan.sortable.get(name) {
                        Some(&field) => {
                            if !query.sort.iter().any(|key| key.field == field) {
                                query.sort.push(SortKey { field, descending })
                            }
                        }
                        None if name.is_empty() => errors.push(FieldError::new(
                            "sort",
                            "empty_name",
                            "names a field between each pair of commas; leave `sort` out for the default order",
                        )),
                        None => errors.push(FieldError::new(
                            "sort",
                            "unknown_field",
                            format!("`{name}` is not a sortable field"),
                        )),
                    }
                }
            }
            "fields" | "include" => {
                parse_shape_parameter(state, plan, key, value, &mut shape, &mut errors)
            }
            _ => {
                let (name, operator) = match key.split_once('[') {
                    Some((name, rest)) => match rest.strip_suffix(']') {
                        Some(operator) => (name, FilterOperator::from_name(operator)),
                        None => (name, None),
                    },
                    None => (key.as_str(), Some(FilterOperator::Eq)),
                };
                let Some((field_index, operators)) = plan.filters.get(name) else {
                    errors.push(FieldError::new(
                        key,
                        "unknown_parameter",
                        "is not a filter or parameter of this route",
                    ));
                    continue;
                };
                let Some(operator) = operator.filter(|operator| operators.contains(operator))
                else {
                    errors.push(FieldError::new(
                        key,
                        "unknown_operator",
                        format!(
                            "`{name}` supports {}",
                            operators
                                .iter()
                                .map(|operator| operator.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    continue;
                };
                let Some(field) = model_plan.field(*field_index) else {
                    continue;
                };
                let values = match operator {
                    FilterOperator::IsNull => match value.as_str() {
                        "true" => Ok(vec![SqlValue::Bool(true)]),
                        "false" => Ok(vec![SqlValue::Bool(false)]),
                        _ => Err("must be `true` or `false`".to_string()),
                    },
                    // An empty value is the empty list (matches nothing); otherwise every item
                    // must be a valid value of the field, exactly as for equality.
                    FilterOperator::In if value.is_empty() => Ok(Vec::new()),
                    FilterOperator::In => value
                        .split(',')
                        .map(|item| field.parse_text(item))
                        .collect(),
                    FilterOperator::Contains | FilterOperator::StartsWith => {
                        field.parse_fragment(value).map(|value| vec![value])
                    }
                    _ => field.parse_text(value).map(|value| vec![value]),
                };
                match values {
                    Ok(values) => query.filters.push(FilterClause {
                        field: *field_index,
                        op: filter_op(operator),
                        values,
                    }),
                    Err(message) => errors.push(FieldError::new(key, "invalid_value", message)),
                }
            }
        }
    }
    let model = state.schema.model(plan.model);
    let cursor_fields = sql::cursor_fields(model, &query.sort);
    let canonical_sort: String = query
        .sort
        .iter()
        .map(|key| {
            let name = &model.fields[key.field].name;
            if key.descending {
                format!("-{name}")
            } else {
                name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    // A cursor of the wrong shape is malformed (400); a well-shaped one that this list did not
    // hand out for this sort (tampered, or from another sort or list) cannot be used (422).
    let mut unusable_cursor = false;
    if let Some(text) = cursor_text {
        if !plinth_api::is_cursor_shaped(&text) {
            errors.push(FieldError::new(
                "cursor",
                "malformed_cursor",
                "is not a cursor: pass `next_cursor` from a previous page as it is",
            ));
        } else {
            match decode_cursor(state, plan, &text, &canonical_sort, &cursor_fields) {
                Some(values) => query.after = Some(values),
                None => unusable_cursor = true,
            }
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_parameters(errors));
    }
    if unusable_cursor {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_cursor",
            "the cursor is not one this list handed out for this `sort`",
        )
        .with_errors(vec![FieldError::new(
            "cursor",
            "invalid_cursor",
            "is not a cursor from this list with this sort",
        )]));
    }
    // Fetch what the response, the cursor and the includes need; print only what was asked.
    if let Some(selected) = &shape.selected {
        let mut fields = selected.clone();
        for extra in cursor_fields
            .iter()
            .copied()
            .chain(shape.includes.iter().filter_map(|include| {
                sql::include_key_field(
                    &state.schema,
                    FieldId {
                        model: plan.model,
                        index: include.field,
                    },
                )
                .ok()
            }))
        {
            if !fields.contains(&extra) {
                fields.push(extra);
            }
        }
        fields.sort_unstable();
        query.fields = Some(fields);
    }
    let _ = sort_text;
    Ok(ListRequest {
        query,
        shape,
        sort_text: canonical_sort,
        cursor_fields,
    })
}

/// `GET /api/v1/<resource>`.
pub async fn list(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.list, request.headers()).await?;
    let pairs = parse_pairs(request.uri().query())?;
    let list_request = parse_list_request(&state, plan, &pairs)?;
    let limit = list_request.query.limit as usize;
    let (statement, projection) = sql::select_list(
        &state.schema,
        plan.model,
        &list_request.query,
        &caller.caller,
        state.dialect,
    )
    .map_err(sql::query_error)?;
    let decode = crate::store::decoders(&projection);
    let mut rows = state.store.query(statement, decode).await?;
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = match (has_more, rows.last()) {
        (true, Some(last)) => {
            let values: Vec<SqlValue> = list_request
                .cursor_fields
                .iter()
                .map(|&field| {
                    column_value(&projection, last, field)
                        .cloned()
                        .unwrap_or(SqlValue::Null)
                })
                .collect();
            Some(encode_cursor(&list_request.sort_text, &values))
        }
        _ => None,
    };
    let extras = if list_request.shape.includes.is_empty() {
        Vec::new()
    } else {
        load_includes(
            &state,
            plan.model,
            &rows,
            &projection,
            &list_request.shape.includes,
            &caller,
        )
        .await?
    };
    let mut body = Vec::with_capacity(64 + rows.len() * 160);
    body.extend_from_slice(b"{\"data\":[");
    for (position, row) in rows.iter().enumerate() {
        if position > 0 {
            body.push(b',');
        }
        render_row(
            &state,
            plan.model,
            row,
            &projection,
            list_request.shape.selected.as_deref(),
            extras.get(position).map(Vec::as_slice).unwrap_or(&[]),
            &mut body,
        );
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    match next_cursor {
        Some(cursor) => {
            let _ = write!(body, "\"{cursor}\"");
        }
        None => body.extend_from_slice(b"null"),
    }
    body.push(b'}');
    Ok(json_response(StatusCode::OK, body))
}

fn with_etag(mut response: Response, tag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `GET /api/v1/<resource>/{id}`.
pub async fn get_item(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.get, request.headers()).await?;
    let id = path_id(&state, plan, &request)?;
    let pairs = only_parameters(&request, &["fields", "include"])?;
    let if_none_match = precondition_header(request.headers(), header::IF_NONE_MATCH)?;
    let mut shape = Shape {
        selected: None,
        includes: Vec::new(),
    };
    let mut errors = Vec::new();
    for (key, value) in &pairs {
        parse_shape_parameter(&state, plan, key, value, &mut shape, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid_parameters(errors));
    }
    let row = crate::rows::read_row_as(&state, plan.model, id, caller.caller.clone()).await?;
    let Some((row, projection)) = row else {
        return Err(ApiError::not_found(format!(
            "no {} with this id",
            plan.resource.model_name
        )));
    };
    let extras = if shape.includes.is_empty() {
        Vec::new()
    } else {
        load_includes(
            &state,
            plan.model,
            std::slice::from_ref(&row),
            &projection,
            &shape.includes,
            &caller,
        )
        .await?
    };
    let mut body = Vec::with_capacity(256);
    render_row(
        &state,
        plan.model,
        &row,
        &projection,
        shape.selected.as_deref(),
        extras.first().map(Vec::as_slice).unwrap_or(&[]),
        &mut body,
    );
    let tag = etag(&body);
    let not_modified = if_none_match.is_some_and(|value| etag_matches(&value, &tag));
    if not_modified {
        return Ok(with_etag(StatusCode::NOT_MODIFIED.into_response(), &tag));
    }
    Ok(with_etag(json_response(StatusCode::OK, body), &tag))
}

/// Converts a create or update body; unknown fields and invalid values are collected.
fn convert_body(
    state: &AppState,
    plan: &ResourcePlan,
    object: &serde_json::Map<String, Json>,
    accepted: &HashMap<String, usize>,
    required: &[usize],
) -> Result<Vec<(usize, SqlValue)>, ApiError> {
    let model_plan = state.model_plan(plan.model);
    let model = state.schema.model(plan.model);
    let mut errors = Vec::new();
    let mut values = Vec::with_capacity(object.len());
    for (name, value) in object {
        let Some(&index) = accepted.get(name) else {
            let message = if plan
                .resource
                .server_filled_fields
                .iter()
                .any(|&i| model.fields[i].name == *name)
            {
                "is set by the server and cannot be sent"
            } else if model.field_by_name(name).is_some() {
                "cannot be written through this endpoint"
            } else {
                "is not a field of this resource"
            };
            errors.push(FieldError::new(name, "unknown_field", message));
            continue;
        };
        if let Some(field) = model_plan.field(index) {
            if let Some(converted) = field.parse_json(value, &mut errors) {
                values.push((index, converted));
            }
        }
    }
    for &index in required {
        let name = &model.fields[index].name;
        if !object.contains_key(name) {
            errors.push(FieldError::new(name, "required", "is required"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(values)
}

/// The per-field error for a foreign key that points at no row the caller may see. A missing
/// row and a row hidden by its read policy get the same answer, so ids cannot be probed.
fn invalid_reference(field_name: &str) -> FieldError {
    FieldError::new(
        field_name,
        "invalid_reference",
        "refers to a row that does not exist",
    )
}

/// Whether the model's own rules for `operation` (allow or deny) name the relation field or one
/// of its foreign key fields (`org.memberships^[...]`, `user == auth()`, `future().owner`): then
/// the schema states who may point the row where, those rules are checked in the write's
/// transaction, and they decide alone. This is what lets a row refer to one its writer cannot
/// read yet, as the first membership of a new organization does.
fn rules_decide_reference(
    schema: &plinth_model::Schema,
    model: ModelId,
    operation: Operation,
    relation_field: usize,
    fk_fields: &[usize],
) -> bool {
    fn names_field(expression: &PolicyExpr, wanted: &dyn Fn(&Path) -> bool) -> bool {
        match expression {
            PolicyExpr::Literal(_) => false,
            PolicyExpr::Path(path) => wanted(path),
            PolicyExpr::Not(inner) => names_field(inner, wanted),
            PolicyExpr::And(left, right) | PolicyExpr::Or(left, right) => {
                names_field(left, wanted) || names_field(right, wanted)
            }
            PolicyExpr::Compare { lhs, rhs, .. } | PolicyExpr::In { lhs, rhs } => {
                names_field(lhs, wanted) || names_field(rhs, wanted)
            }
            PolicyExpr::Array(items) => items.iter().any(|item| names_field(item, wanted)),
            PolicyExpr::Collection {
                collection,
                predicate,
                ..
            } => wanted(collection) || names_field(predicate, wanted),
        }
    }
    let wanted = |path: &Path| {
        matches!(path.root, PathRoot::Scope | PathRoot::Future)
            && path.fields.first().is_some_and(|first| {
                first.model == model
                    && (first.index == relation_field || fk_fields.contains(&first.index))
            })
    };
    schema
        .model(model)
        .policies
        .iter()
        .filter(|policy| policy.operations.contains(operation))
        .any(|policy| names_field(&policy.condition, &wanted))
}

/// Checks, inside the write's transaction, that every relation whose foreign key `body` sets
/// (non-null) points at a row the caller may read; otherwise a 422 `invalid_reference` naming
/// the fields. Fields the body leaves out of a composite key come from `old` (the row being
/// updated). Targets that are not resources (no `@@allow`) have no read policy to apply, so the
/// database's foreign key constraint alone decides for them, as before. Neither is checked a
/// relation that the model's own rules for `operation` talk about (see
/// [`rules_decide_reference`]).
fn check_references(
    state: &AppState,
    executor: &mut dyn Executor,
    model: ModelId,
    operation: Operation,
    body: &[(usize, SqlValue)],
    old: Option<(&Row, &Projection)>,
    caller: &CallerInfo,
) -> Result<(), ApiError> {
    let schema_model = state.schema.model(model);
    let dialect = executor.dialect();
    let mut errors = Vec::new();
    for relation in &state.schema.relations {
        if relation.referencing.model != model
            || relation.fk_fields.is_empty()
            || relation.fk_fields.len() != relation.references.len()
        {
            continue;
        }
        let set_by_body = |index: usize| {
            body.iter()
                .find(|(field, _)| *field == index)
                .map(|(_, value)| value)
        };
        if !relation
            .fk_fields
            .iter()
            .any(|&index| set_by_body(index).is_some_and(|value| *value != SqlValue::Null))
        {
            continue;
        }
        if rules_decide_reference(
            &state.schema,
            model,
            operation,
            relation.referencing.index,
            &relation.fk_fields,
        ) {
            continue;
        }
        let target = relation.referenced.model;
        let target_is_resource = state
            .schema
            .model(target)
            .policies
            .iter()
            .any(|policy| policy.effect == Effect::Allow);
        if !target_is_resource {
            continue;
        }
        let mut filters = Vec::with_capacity(relation.fk_fields.len());
        let mut complete = true;
        for (&fk_field, &referenced_field) in relation.fk_fields.iter().zip(&relation.references) {
            let value = set_by_body(fk_field).or_else(|| {
                old.and_then(|(row, projection)| column_value(projection, row, fk_field))
            });
            match value {
                Some(value) if *value != SqlValue::Null => filters.push(FilterClause {
                    field: referenced_field,
                    op: FilterOp::Eq,
                    values: vec![value.clone()],
                }),
                // A null component: SQL does not enforce the key, so neither do we.
                _ => complete = false,
            }
        }
        if !complete {
            continue;
        }
        let query = ListQuery {
            filters,
            limit: 1,
            ..ListQuery::default()
        };
        let (statement, projection) =
            sql::select_list(&state.schema, target, &query, &caller.caller, dialect)
                .map_err(sql::query_error)?;
        if executor
            .query_statement(&statement, &projection)?
            .is_empty()
        {
            for &index in &relation.fk_fields {
                if set_by_body(index).is_some() {
                    errors.push(invalid_reference(&schema_model.fields[index].name));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Maps a failed write to its answer; a foreign key violation names the foreign key fields the
/// request wrote (the databases do not say which reference failed).
fn write_error(
    state: &AppState,
    model: ModelId,
    values: &[(usize, SqlValue)],
    error: crate::store::StoreError,
) -> ApiError {
    let crate::store::StoreError::ForeignKey(detail) = error else {
        return error.into_api_error(false);
    };
    tracing::debug!(%detail, "foreign key violation");
    let schema_model = state.schema.model(model);
    let mut errors = Vec::new();
    for relation in &state.schema.relations {
        if relation.referencing.model != model {
            continue;
        }
        for &index in &relation.fk_fields {
            let written = values
                .iter()
                .any(|(field, value)| *field == index && *value != SqlValue::Null);
            if written {
                errors.push(invalid_reference(&schema_model.fields[index].name));
            }
        }
    }
    if errors.is_empty() {
        return crate::store::StoreError::ForeignKey(detail).into_api_error(false);
    }
    ApiError::validation(errors)
}

/// The id as it appears in a URL path.
fn id_path_segment(id: &SqlValue) -> String {
    let text = crate::auth::subject_of(id);
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A body for a row the caller may write but not read: just its id.
fn id_only_body(state: &AppState, model: ModelId, id: &SqlValue) -> Vec<u8> {
    let model_plan = state.model_plan(model);
    let mut body = Vec::with_capacity(64);
    body.push(b'{');
    if let Some(field) = model_plan
        .id_field
        .and_then(|index| model_plan.field(index))
    {
        body.extend_from_slice(&field.json_key);
        field.write_json(id, &mut body);
    }
    body.push(b'}');
    body
}

/// Reads the row a PATCH or DELETE is about, locked for the write, and honours `If-Match`:
/// 404 when the caller may not read it, 412 when its current ETag is not the expected one.
fn row_for_write(
    state: &AppState,
    executor: &mut dyn Executor,
    plan: &ResourcePlan,
    id: SqlValue,
    caller: &CallerInfo,
    expected: Option<&str>,
) -> Result<(Row, Projection), ApiError> {
    let (read, projection) = select_for_write(state, plan.model, id, caller, executor.dialect())?;
    let Some(old) = executor
        .query_statement(&read, &projection)?
        .into_iter()
        .next()
    else {
        return Err(ApiError::not_found(format!(
            "no {} with this id",
            plan.resource.model_name
        )));
    };
    if let Some(expected) = expected {
        let current = etag(&render_plain(state, plan.model, &old, &projection));
        if !etag_matches(expected, &current) {
            return Err(ApiError::precondition_failed());
        }
    }
    Ok((old, projection))
}

fn select_for_write(
    state: &AppState,
    model: ModelId,
    id: SqlValue,
    caller: &CallerInfo,
    dialect: Dialect,
) -> Result<(crate::sql::Statement, Projection), ApiError> {
    let (mut statement, projection) = sql::select_by_id(
        &state.schema,
        model,
        id,
        &caller.caller,
        Operation::Read,
        dialect,
    )
    .map_err(sql::query_error)?;
    if dialect == Dialect::Postgres {
        // Lock the row so If-Match and the update see the same version.
        statement.sql.push_str(" FOR UPDATE OF t0");
    }
    Ok((statement, projection))
}

/// `POST /api/v1/<resource>`.
pub async fn create(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.create, request.headers()).await?;
    only_parameters(&request, &[])?;
    let idempotency_key = idempotency::key_from(request.headers())?;
    let bytes = read_json_bytes(&state, request).await?;
    let request_hash = sha256_hex(&bytes);
    let route = plan.resource.path.clone();
    if let Some(key) = &idempotency_key {
        let (key, subject, route) = (key.clone(), caller.key().to_string(), route.clone());
        let stored = state
            .store
            .read(move |executor| idempotency::lookup(executor, &key, &subject, &route))
            .await?;
        if let Some(stored) = stored {
            return idempotency::replay(stored, &request_hash);
        }
    }
    let object = parse_json_object(&bytes)?;
    let mut values = convert_body(
        &state,
        plan,
        &object,
        &plan.create,
        &plan.resource.required_on_create,
    )?;
    // What the caller sent, before server-filled values: only these references are checked.
    let body_values = values.clone();
    crate::rows::hash_password_values(&state, plan.model, &mut values).await?;
    crate::rows::fill_server_values(&state, plan.model, &caller, &mut values, true)?;

    let writer_state = Arc::clone(&state);
    let writer_caller = caller.clone();
    let outcome = state
        .store
        .write(move |executor| {
            let state = &writer_state;
            let caller = &writer_caller;
            let plan = state.plan_for(index);
            let dialect = executor.dialect();
            if let Some(key) = &idempotency_key {
                if let Some(stored) = idempotency::lookup(executor, key, caller.key(), &route)? {
                    return Ok(Err(stored));
                }
            }
            check_references(
                state,
                executor,
                plan.model,
                Operation::Create,
                &body_values,
                None,
                caller,
            )?;
            let (statement, projection) = sql::insert(&state.schema, plan.model, &values, dialect)
                .map_err(sql::query_error)?;
            let rows = executor
                .query_statement(&statement, &projection)
                .map_err(|error| write_error(state, plan.model, &values, error))?;
            let id = rows
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next())
                .ok_or_else(|| ApiError::internal("insert returned no key"))?;
            let check = sql::check_policy_on_row(
                &state.schema,
                plan.model,
                id.clone(),
                Operation::Create,
                &caller.caller,
                dialect,
            )
            .map_err(sql::query_error)?;
            if !executor.exists(&check)? {
                return Err(refusal(state, caller, Operation::Create));
            }
            let (read, read_projection) = sql::select_by_id(
                &state.schema,
                plan.model,
                id.clone(),
                &caller.caller,
                Operation::Read,
                dialect,
            )
            .map_err(sql::query_error)?;
            let body = match executor.query_statement(&read, &read_projection)?.first() {
                Some(row) => render_plain(state, plan.model, row, &read_projection),
                None => id_only_body(state, plan.model, &id),
            };
            let location = plan
                .resource
                .item_path
                .as_ref()
                .map(|_| format!("{}/{}", plan.resource.path, id_path_segment(&id)));
            let stored = StoredResponse {
                request_hash: request_hash.clone(),
                status: 201,
                location,
                etag: Some(etag(&body)),
                body: String::from_utf8(body).map_err(ApiError::internal)?,
            };
            if let Some(key) = &idempotency_key {
                idempotency::store(executor, key, caller.key(), &route, &stored)?;
            }
            Ok(Ok(stored))
        })
        .await?;
    match outcome {
        // Another request with the same key won the race: answer as its retry.
        Err(stored) => idempotency::replay(stored, &sha256_hex(&bytes)),
        Ok(stored) => {
            let mut response = json_response(StatusCode::CREATED, stored.body.into_bytes());
            let headers = response.headers_mut();
            if let Some(location) = stored
                .location
                .and_then(|location| HeaderValue::from_str(&location).ok())
            {
                headers.insert(header::LOCATION, location);
            }
            Ok(match stored.etag {
                Some(tag) => with_etag(response, &tag),
                None => response,
            })
        }
    }
}

/// A precondition header (`If-Match`, `If-None-Match`), checked like the document describes
/// it: a malformed value is a 400, never silently ignored.
fn precondition_header(
    headers: &HeaderMap,
    name: header::HeaderName,
) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(&name) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(text) if plinth_api::is_valid_if_match(text) => Ok(Some(text.to_string())),
        _ => Err(ApiError::bad_request(
            "invalid_precondition",
            format!(
                "`{name}` must be an ETag from a read (or `*`): 1 to {} printable ASCII characters",
                plinth_api::IF_MATCH_MAX_LENGTH
            ),
        )),
    }
}

fn if_match(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    precondition_header(headers, header::IF_MATCH)
}

/// `PATCH /api/v1/<resource>/{id}`.
pub async fn update_item(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.update, request.headers()).await?;
    let id = path_id(&state, plan, &request)?;
    only_parameters(&request, &[])?;
    let expected = if_match(request.headers())?;
    let object = parse_json_object(&read_json_bytes(&state, request).await?)?;
    let mut values = convert_body(&state, plan, &object, &plan.update, &[])?;
    let body_values = values.clone();
    // A new password on the auth model ends every session of that user (all refresh token
    // families), so whoever held the old credentials cannot stay signed in.
    let password_changed_for = state
        .auth
        .as_ref()
        .filter(|auth| auth.model == plan.model)
        .filter(|_| {
            let model_plan = state.model_plan(plan.model);
            values.iter().any(|(field, value)| {
                *value != SqlValue::Null
                    && model_plan
                        .field(*field)
                        .is_some_and(|field| field.is_password)
            })
        })
        .map(|_| crate::auth::subject_of(&id));
    crate::rows::hash_password_values(&state, plan.model, &mut values).await?;
    crate::rows::fill_server_values(&state, plan.model, &caller, &mut values, false)?;

    let writer_state = Arc::clone(&state);
    let (body, tag) = state
        .store
        .write(move |executor| {
            let state = &writer_state;
            let plan = state.plan_for(index);
            let dialect = executor.dialect();
            let (old, projection) = row_for_write(
                state,
                executor,
                plan,
                id.clone(),
                &caller,
                expected.as_deref(),
            )?;
            check_references(
                state,
                executor,
                plan.model,
                Operation::Update,
                &body_values,
                Some((&old, &projection)),
                &caller,
            )?;
            let (statement, returning) = sql::update(
                &state.schema,
                plan.model,
                id.clone(),
                &values,
                &caller.caller,
                dialect,
            )
            .map_err(sql::query_error)?;
            let changed = executor
                .query_statement(&statement, &returning)
                .map_err(|error| write_error(state, plan.model, &values, error))?;
            if changed.is_empty() {
                return Err(refusal(state, &caller, Operation::Update));
            }
            if let Some(subject) = &password_changed_for {
                let sql = format!(
                    "UPDATE \"_plinth_refresh_tokens\" SET revoked = 1 WHERE user_id = {}",
                    crate::auth::placeholder(dialect, 1)
                );
                executor.execute(&sql, &[SqlValue::Text(subject.clone())])?;
            }
            let (read, projection) = sql::select_by_id(
                &state.schema,
                plan.model,
                id.clone(),
                &caller.caller,
                Operation::Read,
                dialect,
            )
            .map_err(sql::query_error)?;
            let body = match executor.query_statement(&read, &projection)?.first() {
                Some(row) => render_plain(state, plan.model, row, &projection),
                None => id_only_body(state, plan.model, &id),
            };
            let tag = etag(&body);
            Ok((body, tag))
        })
        .await?;
    Ok(with_etag(json_response(StatusCode::OK, body), &tag))
}

/// `DELETE /api/v1/<resource>/{id}`.
pub async fn delete_item(
    state: Arc<AppState>,
    index: usize,
    request: Request,
) -> Result<Response, ApiError> {
    let plan = state.plan_for(index);
    let caller = caller_for(&state, plan.resource.anonymous.delete, request.headers()).await?;
    let id = path_id(&state, plan, &request)?;
    only_parameters(&request, &[])?;
    let expected = if_match(request.headers())?;
    let deleted_user = state
        .auth
        .as_ref()
        .filter(|auth| auth.model == plan.model)
        .map(|_| crate::auth::subject_of(&id));
    let revoke_for = deleted_user.clone();
    let writer_state = Arc::clone(&state);
    state
        .store
        .write(move |executor| {
            let state = &writer_state;
            let plan = state.plan_for(index);
            let dialect = executor.dialect();
            // Only its existence, readability and ETag matter here.
            row_for_write(
                state,
                executor,
                plan,
                id.clone(),
                &caller,
                expected.as_deref(),
            )?;
            let statement = sql::delete(&state.schema, plan.model, id, &caller.caller, dialect)
                .map_err(sql::query_error)?;
            let deleted = executor
                .execute_statement(&statement)
                .map_err(|error| error.into_api_error(true))?;
            if deleted == 0 {
                return Err(refusal(state, &caller, Operation::Delete));
            }
            if let Some(subject) = revoke_for {
                // A deleted user's sessions end with it.
                let sql = format!(
                    "DELETE FROM \"_plinth_refresh_tokens\" WHERE user_id = {}",
                    crate::auth::placeholder(dialect, 1)
                );
                executor.execute(&sql, &[SqlValue::Text(subject)])?;
            }
            Ok(())
        })
        .await?;
    if let (Some(subject), Some(auth)) = (deleted_user, &state.auth) {
        auth.known_users.forget(&subject);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
