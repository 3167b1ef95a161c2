//! Rows in and out: reading one row as a caller, rendering rows as response JSON (written
//! straight into a byte buffer, no intermediate JSON tree), ETags, and the values the server
//! fills in itself (generated ids, timestamps, `auth()` defaults, password hashes).

use crate::error::ApiError;
use crate::sql::{Caller, Decode, Projection, SqlValue};
use crate::state::{AppState, CallerInfo, ServerFill};
use crate::store::Row;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use plinth_model::{ModelId, Operation};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub fn decode_for_field(state: &AppState, model: ModelId, field: usize) -> Decode {
    state
        .schema
        .model(model)
        .fields
        .get(field)
        .and_then(plinth_sql::query::decode_for)
        .unwrap_or(Decode::Text)
}

/// The row with primary key `id` as `caller` may read it, or `None`.
pub async fn read_row_as(
    state: &Arc<AppState>,
    model: ModelId,
    id: SqlValue,
    caller: Caller,
) -> Result<Option<(Row, Projection)>, ApiError> {
    let (statement, projection) = crate::sql::select_by_id(
        &state.schema,
        model,
        id,
        &caller,
        Operation::Read,
        state.dialect,
    )
    .map_err(crate::sql::query_error)?;
    let decode = crate::store::decoders(&projection);
    let rows = state.store.query(statement, decode).await?;
    Ok(rows.into_iter().next().map(|row| (row, projection)))
}

/// The value of field `field` in a row, by the projection.
pub fn column_value<'a>(
    projection: &Projection,
    row: &'a [SqlValue],
    field: usize,
) -> Option<&'a SqlValue> {
    projection
        .position(field)
        .and_then(|position| row.get(position))
}

/// Renders a row as a JSON object: readable fields only (never `@omit`/`@password`), limited to
/// `selected` and the primary key when given, plus pre-rendered `extras` (included relations).
pub fn render_row(
    state: &AppState,
    model: ModelId,
    row: &[SqlValue],
    projection: &Projection,
    selected: Option<&[usize]>,
    extras: &[(Vec<u8>, Vec<u8>)],
    out: &mut Vec<u8>,
) {
    let plan = state.model_plan(model);
    let offset = projection.offset();
    out.push(b'{');
    let mut first = true;
    for (position, column) in projection.columns.iter().enumerate() {
        let position = position + offset;
        if !plan.readable.get(column.field).copied().unwrap_or(false) {
            continue;
        }
        if let Some(selected) = selected {
            // The primary key is always returned: clients need it to address the row.
            if !selected.contains(&column.field) && !plan.key_fields.contains(&column.field) {
                continue;
            }
        }
        let Some(field) = plan.field(column.field) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(&field.json_key);
        field.write_json(row.get(position).unwrap_or(&SqlValue::Null), out);
    }
    for (key, value) in extras {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out.push(b'}');
}

/// The plain representation of a row (every readable field, no includes): the body of
/// `GET /{id}` without parameters, and what ETags for `If-Match` are computed from.
pub fn render_plain(
    state: &AppState,
    model: ModelId,
    row: &[SqlValue],
    projection: &Projection,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    render_row(state, model, row, projection, None, &[], &mut out);
    out
}

/// A strong ETag: the first 128 bits of the body's SHA-256, quoted.
pub fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut text = String::with_capacity(34);
    text.push('"');
    for byte in &digest[..16] {
        text.push_str(&format!("{byte:02x}"));
    }
    text.push('"');
    text
}

/// Whether an `If-Match` / `If-None-Match` header value lists `tag` (or is `*`).
pub fn etag_matches(header_value: &str, tag: &str) -> bool {
    header_value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate == tag || candidate.strip_prefix("W/") == Some(tag)
    })
}

pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Replaces plain `@password` values with argon2id hashes (on blocking threads).
pub async fn hash_password_values(
    state: &AppState,
    model: ModelId,
    values: &mut [(usize, SqlValue)],
) -> Result<(), ApiError> {
    let plan = state.model_plan(model);
    for (index, value) in values.iter_mut() {
        let is_password = plan.field(*index).is_some_and(|field| field.is_password);
        if let (true, SqlValue::Text(plain)) = (is_password, &*value) {
            let hashed = crate::auth::hash_password_blocking(plain.clone()).await?;
            *value = SqlValue::Text(hashed);
        }
    }
    Ok(())
}

/// Adds the values the server fills: on create every [`ServerFill`], on update only
/// `@updatedAt`. `@default(auth().id)` takes the caller's id; an anonymous caller on a required
/// such field is refused with 401.
pub fn fill_server_values(
    state: &AppState,
    model: ModelId,
    caller: &CallerInfo,
    values: &mut Vec<(usize, SqlValue)>,
    creating: bool,
) -> Result<(), ApiError> {
    let plan = state.model_plan(model);
    let now = crate::store::codec::now_text();
    for (index, fill) in &plan.server_fill {
        if values.iter().any(|(existing, _)| existing == index) {
            continue;
        }
        let value = match fill {
            ServerFill::UpdatedAt => SqlValue::Text(now.clone()),
            _ if !creating => continue,
            ServerFill::Now => SqlValue::Text(now.clone()),
            ServerFill::Uuid { version } => SqlValue::Text(if *version == 7 {
                uuid::Uuid::now_v7().to_string()
            } else {
                uuid::Uuid::new_v4().to_string()
            }),
            ServerFill::Cuid => SqlValue::Text(generate_cuid()),
            ServerFill::Nanoid { length } => SqlValue::Text(generate_nanoid(*length)),
            ServerFill::Ulid => SqlValue::Text(generate_ulid()),
            ServerFill::Auth { field } => {
                let auth_id_field = state.auth.as_ref().map(|auth| (auth.model, auth.id_field));
                match (&caller.caller.user_id, auth_id_field) {
                    (Some(id), Some((auth_model, id_field)))
                        if field.model == auth_model && field.index == id_field =>
                    {
                        id.clone()
                    }
                    (Some(_), _) => {
                        // auth().<other field>: filled by the database default or left null.
                        continue;
                    }
                    (None, _) => {
                        let required = state.schema.model(model).fields[*index].arity
                            == plinth_model::Arity::Required;
                        if required {
                            return Err(ApiError::authentication_required());
                        }
                        SqlValue::Null
                    }
                }
            }
        };
        values.push((*index, value));
    }
    Ok(())
}

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A cuid2-shaped id: a letter then 23 base-36 characters from the OS-seeded CSPRNG.
pub fn generate_cuid() -> String {
    let mut rng = rand::thread_rng();
    let mut id = String::with_capacity(24);
    id.push(char::from(b'a' + rng.gen_range(0..26u8)));
    for _ in 0..23 {
        id.push(char::from(BASE36[rng.gen_range(0..36)]));
    }
    id
}

/// A nanoid: URL-safe alphabet, 64 symbols so each is 6 uniform random bits.
pub fn generate_nanoid(length: usize) -> String {
    const ALPHABET: &[u8] = b"ModuleSymbhasOwnPr-0123456789ABCDEFGHNRVfgctiUvz_KqYTJkLxpZXIjQW";
    let mut rng = rand::thread_rng();
    (0..length)
        .map(|_| char::from(ALPHABET[(rng.gen::<u8>() & 63) as usize]))
        .collect()
}

/// A ULID: 48-bit millisecond timestamp + 80 random bits in Crockford base 32.
pub fn generate_ulid() -> String {
    const CROCKFORD: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|duration| duration.as_millis())
        .unwrap_or(0)
        & ((1u128 << 48) - 1);
    let random: u128 = rand::thread_rng().gen::<u128>() & ((1u128 << 80) - 1);
    let value = (millis << 80) | random;
    (0..26)
        .rev()
        .map(|position| char::from(CROCKFORD[((value >> (position * 5)) & 31) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_their_shapes() {
        let cuid = generate_cuid();
        assert_eq!(cuid.len(), 24);
        assert!(cuid.chars().next().unwrap().is_ascii_lowercase());
        assert_eq!(generate_nanoid(21).len(), 21);
        let ulid = generate_ulid();
        assert_eq!(ulid.len(), 26);
        assert_ne!(generate_ulid(), ulid);
    }

    #[test]
    fn etags_match() {
        let tag = etag(b"{}");
        assert!(etag_matches(&tag, &tag));
        assert!(etag_matches("*", &tag));
        assert!(etag_matches(&format!("\"x\", {tag}"), &tag));
        assert!(!etag_matches("\"x\"", &tag));
    }
}
