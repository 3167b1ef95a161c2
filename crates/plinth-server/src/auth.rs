//! Authentication on the `@@auth` model: register, login, refresh (rotation with reuse
//! detection), logout and me; HS256 access tokens; argon2id password hashes; and
//! [`authenticate`], which turns an `Authorization` header into a caller.
//!
//! Decisions:
//! - Register accepts the auth model's create fields except those with a `@default`: a client
//!   cannot pick its own `role` (or any other defaulted field) at sign-up; sending one is a 422
//!   `unknown_field`. An admin changes it later through the resource, under its policies.
//! - Register is not subject to the model's `create` policy: it is the one sanctioned way for an
//!   anonymous caller to create a user.
//! - Login answers the same 401 for an unknown user and a wrong password, after verifying
//!   against a dummy hash so both take about as long.
//! - Refresh tokens are random 256-bit values stored as SHA-256 hashes; each use rotates to a new
//!   token in the same family; presenting a used token revokes the whole family.

use crate::error::{ApiError, FieldError};
use crate::http::body::{read_json_object, JsonObject};
use crate::rows::{read_row_as, render_plain};
use crate::sql::{Caller, Decode, Dialect, SqlValue};
use crate::state::{AppState, CallerInfo};
use crate::store::{Executor, ExecutorExt};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use plinth_api::WireType;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub const ISSUER: &str = "plinth";

/// Signing and verifying keys for access tokens.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
    iss: String,
    /// The session (refresh-token family) the token belongs to; logging out ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// What a valid access token says.
#[derive(Debug)]
pub struct VerifiedToken {
    pub subject: String,
    pub session: Option<String>,
    pub expires_at: u64,
}

/// A new refresh token and the session (family) it belongs to.
pub struct IssuedRefreshToken {
    pub token: String,
    pub session: String,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = 5;
        validation.validate_exp = true;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    #[cfg(test)]
    pub fn issue(&self, subject: &str, lifetime_seconds: u64) -> Result<String, ApiError> {
        self.issue_for_session(subject, None, lifetime_seconds)
    }

    pub fn issue_for_session(
        &self,
        subject: &str,
        session: Option<&str>,
        lifetime_seconds: u64,
    ) -> Result<String, ApiError> {
        let now = unix_now();
        let claims = Claims {
            sub: subject.to_string(),
            iat: now,
            exp: now + lifetime_seconds,
            iss: ISSUER.to_string(),
            sid: session.map(str::to_string),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)
    }

    /// The subject of a valid token; `None` for anything forged, expired or malformed.
    #[cfg(test)]
    pub fn verify(&self, token: &str) -> Option<String> {
        self.verify_token(token).map(|verified| verified.subject)
    }

    pub fn verify_token(&self, token: &str) -> Option<VerifiedToken> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| VerifiedToken {
                subject: data.claims.sub,
                session: data.claims.sid,
                expires_at: data.claims.exp,
            })
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|duration| duration.as_secs())
        .unwrap_or(0)
}

/// 32 random bytes, for secrets and refresh tokens.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut text = String::with_capacity(64);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// The auth endpoints' view of the `@@auth` model, computed once.
pub struct AuthPlan {
    pub api: plinth_api::AuthApi,
    pub model: plinth_model::ModelId,
    /// Field indices accepted by register, by name (see the module docs).
    pub register_fields: Vec<(String, usize)>,
    pub required_register_fields: Vec<usize>,
    pub id_field: usize,
    pub id_wire: WireType,
    /// `SELECT pk, password FROM auth WHERE login = ?`.
    pub login_sql: String,
    /// `SELECT 1 FROM auth WHERE pk = ?`.
    pub exists_sql: String,
    /// A hash of a random password, verified against when the user is unknown.
    pub dummy_hash: String,
    pub known_users: KnownUsers,
}

pub fn placeholder(dialect: Dialect, position: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("?{position}"),
        Dialect::Postgres => format!("${position}"),
    }
}

/// The model's table name, schema-qualified on PostgreSQL when it has `@@schema`.
pub fn table_name(model: &plinth_model::Model, dialect: Dialect) -> String {
    let table = plinth_sql::quote_ident(dialect, &model.db_name);
    match (&model.db_schema, dialect) {
        (Some(schema), Dialect::Postgres) => {
            format!("{}.{table}", plinth_sql::quote_ident(dialect, schema))
        }
        _ => table,
    }
}

impl AuthPlan {
    pub fn new(schema: &plinth_model::Schema, dialect: Dialect) -> Option<AuthPlan> {
        let api = plinth_api::api(schema).auth?;
        let model = schema.model(api.model);
        let id_field = match model.primary_key.fields.as_slice() {
            [single] => *single,
            _ => return None,
        };
        let id_wire = plinth_api::wire_type(&model.fields[id_field])?;
        let register_fields: Vec<(String, usize)> = api
            .register_fields
            .iter()
            .copied()
            .filter(|&index| {
                let field = &model.fields[index];
                field.default.is_none() || index == api.password_field || index == api.login_field
            })
            .map(|index| (model.fields[index].name.clone(), index))
            .collect();
        let table = table_name(model, dialect);
        let column = |index: usize| plinth_sql::quote_ident(dialect, &model.fields[index].db_name);
        let login_sql = format!(
            "SELECT {}, {} FROM {table} WHERE {} = {}",
            column(id_field),
            column(api.password_field),
            column(api.login_field),
            placeholder(dialect, 1)
        );
        let exists_sql = format!(
            "SELECT 1 FROM {table} WHERE {} = {}",
            column(id_field),
            placeholder(dialect, 1)
        );
        let dummy_hash = hash_password(&sha256_hex(&random_bytes())).ok()?;
        Some(AuthPlan {
            required_register_fields: api.required_register_fields.clone(),
            model: api.model,
            api,
            register_fields,
            id_field,
            id_wire,
            login_sql,
            exists_sql,
            dummy_hash,
            known_users: KnownUsers::default(),
        })
    }

    /// The JWT subject → the id value, typed by the id field.
    pub fn id_from_subject(&self, subject: &str) -> Option<SqlValue> {
        match self.id_wire {
            WireType::Integer | WireType::BigIntString => subject.parse().ok().map(SqlValue::Int),
            WireType::Number => subject.parse().ok().map(SqlValue::Float),
            _ => Some(SqlValue::Text(subject.to_string())),
        }
    }
}

pub fn subject_of(id: &SqlValue) -> String {
    match id {
        SqlValue::Int(number) => number.to_string(),
        SqlValue::Float(number) => number.to_string(),
        SqlValue::Text(text) => text.clone(),
        SqlValue::Bool(flag) => flag.to_string(),
        other => crate::wire::plain_json(other).to_string(),
    }
}

/// argon2id with the crate's defaults (m=19456 KiB, t=2, p=1: OWASP's recommendation).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(ApiError::internal)
}

pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds of CPU by design.
pub async fn hash_password_blocking(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
}

/// The caller of a request: anonymous without `Authorization`, a user with a valid bearer
/// token for a user that still exists, and a 401 for anything else.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<CallerInfo, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(CallerInfo::anonymous());
    };
    let text = value.to_str().map_err(|_| ApiError::invalid_token())?;
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(ApiError::invalid_token()),
    };
    let auth = state.auth.as_ref().ok_or_else(ApiError::invalid_token)?;
    let verified = state
        .jwt
        .verify_token(token)
        .ok_or_else(ApiError::invalid_token)?;
    if verified
        .session
        .as_deref()
        .is_some_and(|session| state.sessions.is_revoked(session))
    {
        // Logged out (or its refresh token was stolen and reused): dead on every node.
        return Err(ApiError::invalid_token());
    }
    let subject = verified.subject;
    let session = verified.session;
    let expires_at = verified.expires_at;
    let id = auth
        .id_from_subject(&subject)
        .ok_or_else(ApiError::invalid_token)?;
    state.limiters.check_user(&subject).await?;
    if !auth.known_users.is_fresh(&subject) {
        let rows = state
            .store
            .query(
                crate::sql::Statement {
                    sql: auth.exists_sql.clone(),
                    params: vec![id.clone()],
                },
                vec![Decode::Int],
            )
            .await?;
        if rows.is_empty() {
            // A token for a deleted user (or one signed for an id that never existed).
            return Err(ApiError::invalid_token());
        }
        auth.known_users.remember(&subject);
    }
    let mut caller = CallerInfo::user(subject, id);
    caller.session = session;
    caller.expires_at = Some(expires_at);
    Ok(caller)
}

/// Users recently seen to exist, so a token's user is looked up at most every few seconds.
/// Deleting a user through the API forgets it at once.
#[derive(Default)]
pub struct KnownUsers {
    seen: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

const KNOWN_USER_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl KnownUsers {
    fn is_fresh(&self, subject: &str) -> bool {
        self.seen
            .lock()
            .map(|seen| {
                seen.get(subject)
                    .is_some_and(|at| at.elapsed() < KNOWN_USER_TTL)
            })
            .unwrap_or(false)
    }

    fn remember(&self, subject: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() > 100_000 {
                seen.retain(|_, at| at.elapsed() < KNOWN_USER_TTL);
            }
            seen.insert(subject.to_string(), std::time::Instant::now());
        }
    }

    /// Forgets everyone (after the cluster bus reconnects: deletions may have been missed).
    pub fn clear(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }

    pub fn forget(&self, subject: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(subject);
        }
    }

    /// Drops expired entries (housekeeping).
    pub fn shrink(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|_, at| at.elapsed() < KNOWN_USER_TTL);
        }
    }
}

/// The token response of register, login and refresh.
async fn token_response(
    state: &Arc<AppState>,
    status: StatusCode,
    user_id: SqlValue,
    refresh_token: IssuedRefreshToken,
) -> Result<Response, ApiError> {
    let auth = state
        .auth
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no auth model"))?;
    let subject = subject_of(&user_id);
    let access_token = state.jwt.issue_for_session(
        &subject,
        Some(&refresh_token.session),
        state.config.access_token_lifetime.as_secs(),
    )?;
    let refresh_token = refresh_token.token;
    let caller = Caller {
        user_id: Some(user_id.clone()),
    };
    let user = read_row_as(state, auth.model, user_id, caller).await?;
    let user_json: serde_json::Value = match user {
        Some(row) => serde_json::from_slice(&render_plain(state, auth.model, &row.0, &row.1))
            .map_err(ApiError::internal)?,
        None => serde_json::Value::Null,
    };
    let body = serde_json::json!({
        "access_token": access_token,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": state.config.access_token_lifetime.as_secs(),
        "user": user_json,
    });
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn auth_plan(state: &AppState) -> Result<&AuthPlan, ApiError> {
    state
        .auth
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this API has no authentication endpoints"))
}

/// Inserts a new refresh token (in `family`, or a new family) and returns it.
fn insert_refresh_token(
    executor: &mut dyn Executor,
    user_subject: &str,
    family: Option<String>,
    lifetime_seconds: u64,
) -> Result<IssuedRefreshToken, ApiError> {
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes());
    let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let dialect = executor.dialect();
    let sql = format!(
        "INSERT INTO \"_plinth_refresh_tokens\" (token_hash, user_id, family_id, expires_at, used, revoked, created_at) VALUES ({}, {}, {}, {}, 0, 0, {})",
        placeholder(dialect, 1),
        placeholder(dialect, 2),
        placeholder(dialect, 3),
        placeholder(dialect, 4),
        placeholder(dialect, 5)
    );
    let now = unix_now();
    executor.execute(
        &sql,
        &[
            SqlValue::Text(sha256_hex(token.as_bytes())),
            SqlValue::Text(user_subject.to_string()),
            SqlValue::Text(family.clone()),
            SqlValue::Int((now + lifetime_seconds) as i64),
            SqlValue::Int(now as i64),
        ],
    )?;
    Ok(IssuedRefreshToken {
        token,
        session: family,
    })
}

/// `POST /api/v1/auth/register`.
pub async fn register(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let auth = auth_plan(&state)?;
    let body = read_json_object(&state, request).await?;
    let model_plan = state.model_plan(auth.model);
    let mut errors = Vec::new();
    let mut values: Vec<(usize, SqlValue)> = Vec::new();
    for (name, value) in &body {
        match auth.register_fields.iter().find(|(field, _)| field == name) {
            Some((_, index)) => {
                if let Some(plan) = model_plan.field(*index) {
                    if let Some(converted) = plan.parse_json(value, &mut errors) {
                        values.push((*index, converted));
                    }
                }
            }
            None => errors.push(unknown_field(name)),
        }
    }
    for &index in &auth.required_register_fields {
        if !body.contains_key(&state.schema.model(auth.model).fields[index].name) {
            errors.push(FieldError::new(
                &state.schema.model(auth.model).fields[index].name,
                "required",
                "is required",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    crate::rows::hash_password_values(&state, auth.model, &mut values).await?;
    crate::rows::fill_server_values(
        &state,
        auth.model,
        &CallerInfo::anonymous(),
        &mut values,
        true,
    )?;

    let writer_state = Arc::clone(&state);
    let (user_id, refresh_token) = state
        .store
        .write(move |executor| {
            let state = &writer_state;
            let auth = auth_plan(state)?;
            let (statement, projection) =
                crate::sql::insert(&state.schema, auth.model, &values, executor.dialect())
                    .map_err(crate::sql::query_error)?;
            let rows = executor
                .query_statement(&statement, &projection)
                .map_err(|error| error.into_api_error(false))?;
            let user_id = rows
                .into_iter()
                .next()
                .and_then(|row| row.into_iter().next())
                .ok_or_else(|| ApiError::internal("insert returned no key"))?;
            let token = insert_refresh_token(
                executor,
                &subject_of(&user_id),
                None,
                state.config.refresh_token_lifetime.as_secs(),
            )?;
            Ok((user_id, token))
        })
        .await?;
    token_response(&state, StatusCode::CREATED, user_id, refresh_token).await
}

pub fn unknown_field(name: &str) -> FieldError {
    FieldError::new(
        name,
        "unknown_field",
        "is not a field this endpoint accepts",
    )
}

fn string_member(body: &JsonObject, name: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match body.get(name) {
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new(name, "invalid_type", "must be a string"));
            None
        }
        None => {
            errors.push(FieldError::new(name, "required", "is required"));
            None
        }
    }
}

fn invalid_credentials() -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
        "the login or the password is wrong",
    );
    error.www_authenticate = Some("Bearer");
    error
}

/// `POST /api/v1/auth/login`.
pub async fn login(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let auth = auth_plan(&state)?;
    let body = read_json_object(&state, request).await?;
    let model = state.schema.model(auth.model);
    let login_name = model.fields[auth.api.login_field].name.clone();
    let password_name = model.fields[auth.api.password_field].name.clone();
    let mut errors = Vec::new();
    for name in body.keys() {
        if *name != login_name && *name != password_name {
            errors.push(unknown_field(name));
        }
    }
    let login = string_member(&body, &login_name, &mut errors);
    let password = string_member(&body, &password_name, &mut errors);
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let decode = vec![
        crate::rows::decode_for_field(&state, auth.model, auth.id_field),
        Decode::Text,
    ];
    // No stored login holds a NUL (every write refuses it), and PostgreSQL cannot even bind one:
    // such a login is simply unknown, answered like any other (after the dummy verification).
    let rows = if login.contains('\0') {
        Vec::new()
    } else {
        state
            .store
            .query(
                crate::sql::Statement {
                    sql: auth.login_sql.clone(),
                    params: vec![SqlValue::Text(login)],
                },
                decode,
            )
            .await?
    };
    let found = rows.into_iter().next().and_then(|mut row| {
        if row.len() < 2 {
            return None;
        }
        let hash = match row.pop() {
            Some(SqlValue::Text(hash)) => hash,
            _ => String::new(),
        };
        row.pop().map(|id| (id, hash))
    });
    let dummy = auth.dummy_hash.clone();
    let (user_id, stored_hash) = match found {
        Some((id, hash)) => (Some(id), hash),
        None => (None, dummy),
    };
    let verified = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash))
        .await
        .map_err(ApiError::internal)?;
    let Some(user_id) = user_id.filter(|_| verified) else {
        return Err(invalid_credentials());
    };
    let subject = subject_of(&user_id);
    let lifetime = state.config.refresh_token_lifetime.as_secs();
    let refresh_token = state
        .store
        .write(move |executor| insert_refresh_token(executor, &subject, None, lifetime))
        .await?;
    token_response(&state, StatusCode::OK, user_id, refresh_token).await
}

fn refresh_token_member(body: &JsonObject) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    for name in body.keys() {
        if name != "refresh_token" {
            errors.push(unknown_field(name));
        }
    }
    let token = string_member(body, "refresh_token", &mut errors);
    match token {
        Some(token) if errors.is_empty() => Ok(token),
        _ => Err(ApiError::validation(errors)),
    }
}

fn invalid_refresh_token() -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
        "the refresh token is invalid, expired or already used; sign in again",
    );
    error.www_authenticate = Some("Bearer");
    error
}

enum Rotation {
    Rotated {
        user_subject: String,
        token: IssuedRefreshToken,
    },
    /// Unknown, expired or reused; a reuse ended the session named here.
    Refused { ended: Option<(String, u64)> },
}

/// `POST /api/v1/auth/refresh`.
pub async fn refresh(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let auth = auth_plan(&state)?;
    let body = read_json_object(&state, request).await?;
    let presented = refresh_token_member(&body)?;
    let hash = sha256_hex(presented.as_bytes());
    let lifetime = state.config.refresh_token_lifetime.as_secs();
    let access_lifetime = state.config.access_token_lifetime.as_secs();
    let rotation = state
        .store
        .write(move |executor| {
            let dialect = executor.dialect();
            let now = unix_now() as i64;
            let claim = format!(
                "UPDATE \"_plinth_refresh_tokens\" SET used = 1 WHERE token_hash = {} AND used = 0 AND revoked = 0 AND expires_at > {} RETURNING user_id, family_id",
                placeholder(dialect, 1),
                placeholder(dialect, 2)
            );
            let rows = executor.query(
                &claim,
                &[SqlValue::Text(hash.clone()), SqlValue::Int(now)],
                &[Decode::Text, Decode::Text],
            )?;
            if let Some([SqlValue::Text(user_subject), SqlValue::Text(family)]) =
                rows.first().map(Vec::as_slice)
            {
                let user_subject = user_subject.clone();
                let token = insert_refresh_token(executor, &user_subject, Some(family.clone()), lifetime)?;
                return Ok(Rotation::Rotated { user_subject, token });
            }
            // Unknown, expired, or reused. Reuse of a used token means it leaked: revoke its
            // whole family so the thief's copy dies too (committed, then 401).
            let revoke = format!(
                "UPDATE \"_plinth_refresh_tokens\" SET revoked = 1 WHERE family_id IN (SELECT family_id FROM \"_plinth_refresh_tokens\" WHERE token_hash = {} AND used = 1) RETURNING family_id",
                placeholder(dialect, 1)
            );
            let revoked = executor.query(&revoke, &[SqlValue::Text(hash)], &[Decode::Text])?;
            let family = revoked.into_iter().find_map(|row| match row.into_iter().next() {
                Some(SqlValue::Text(family)) => Some(family),
                _ => None,
            });
            let ended = match family {
                Some(family) => {
                    tracing::warn!("a used refresh token was presented again; its family is revoked");
                    let until = crate::sessions::record_revocation(executor, &family, access_lifetime)?;
                    Some((family, until))
                }
                None => None,
            };
            Ok(Rotation::Refused { ended })
        })
        .await?;
    match rotation {
        Rotation::Refused { ended } => {
            if let Some((session, until)) = ended {
                end_session_everywhere(&state, &session, until).await;
            }
            Err(invalid_refresh_token())
        }
        Rotation::Rotated {
            user_subject,
            token,
        } => {
            let user_id = auth
                .id_from_subject(&user_subject)
                .ok_or_else(invalid_refresh_token)?;
            if !user_exists(&state, user_id.clone()).await? {
                return Err(invalid_refresh_token());
            }
            token_response(&state, StatusCode::OK, user_id, token).await
        }
    }
}

/// `POST /api/v1/auth/logout`: revokes the refresh token's family. Always 204, also for an
/// unknown token, so logout reveals nothing.
pub async fn logout(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    auth_plan(&state)?;
    let body = read_json_object(&state, request).await?;
    let presented = refresh_token_member(&body)?;
    let hash = sha256_hex(presented.as_bytes());
    let access_lifetime = state.config.access_token_lifetime.as_secs();
    let ended = state
        .store
        .write(move |executor| {
            let sql = format!(
                "UPDATE \"_plinth_refresh_tokens\" SET revoked = 1 WHERE family_id IN (SELECT family_id FROM \"_plinth_refresh_tokens\" WHERE token_hash = {}) RETURNING family_id",
                placeholder(executor.dialect(), 1)
            );
            let rows = executor.query(&sql, &[SqlValue::Text(hash)], &[Decode::Text])?;
            let family = rows.into_iter().find_map(|row| match row.into_iter().next() {
                Some(SqlValue::Text(family)) => Some(family),
                _ => None,
            });
            match family {
                Some(family) => {
                    let until =
                        crate::sessions::record_revocation(executor, &family, access_lifetime)?;
                    Ok(Some((family, until)))
                }
                None => Ok(None),
            }
        })
        .await?;
    if let Some((session, until)) = ended {
        end_session_everywhere(&state, &session, until).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// After the revocation committed: this node stops accepting the session's access tokens now;
/// on PostgreSQL, wait (bounded) until the bus has carried the NOTIFY back to this node, by
/// which time PostgreSQL has sent it to every other node too, so the 204 means "everywhere".
async fn end_session_everywhere(state: &AppState, session: &str, until: u64) {
    if state.cluster.bus_connected() {
        let heard = state
            .sessions
            .wait_heard(session, std::time::Duration::from_secs(1))
            .await;
        if !heard {
            tracing::warn!("the cluster bus did not echo a session revocation within 1 s");
        }
    }
    state.sessions.revoke(session, until);
}

async fn user_exists(state: &Arc<AppState>, id: SqlValue) -> Result<bool, ApiError> {
    let auth = auth_plan(state)?;
    let rows = state
        .store
        .query(
            crate::sql::Statement {
                sql: auth.exists_sql.clone(),
                params: vec![id],
            },
            vec![Decode::Int],
        )
        .await?;
    Ok(!rows.is_empty())
}

/// `GET /api/v1/auth/me`: the caller's row as the read policy shapes it.
pub async fn me(state: Arc<AppState>, request: Request) -> Result<Response, ApiError> {
    let auth = auth_plan(&state)?;
    let caller = authenticate(&state, request.headers()).await?;
    let Some(id) = caller.caller.user_id.clone() else {
        return Err(ApiError::authentication_required());
    };
    if !user_exists(&state, id.clone()).await? {
        return Err(ApiError::invalid_token());
    }
    let row = read_row_as(&state, auth.model, id, caller.caller.clone()).await?;
    match row {
        Some((row, projection)) => {
            let body = render_plain(&state, auth.model, &row, &projection);
            Ok(crate::rows::json_response(StatusCode::OK, body))
        }
        None => Err(ApiError::not_found("your user row is not readable to you")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let token = keys.issue("42", 60).unwrap();
        assert_eq!(keys.verify(&token).as_deref(), Some("42"));
        let other = JwtKeys::new(b"another secret, 32 bytes long!!!");
        assert_eq!(other.verify(&token), None);
        let mut tampered = token.clone();
        tampered.pop();
        assert_eq!(keys.verify(&tampered), None);
        // alg: none
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = token.split('.').nth(1).unwrap();
        assert_eq!(keys.verify(&format!("{header}.{payload}.")), None);
        // expired
        let expired = {
            let claims = Claims {
                sub: "42".into(),
                iat: 1,
                exp: 2,
                iss: ISSUER.into(),
                sid: None,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap()
        };
        assert_eq!(keys.verify(&expired), None);
    }

    #[test]
    fn passwords_verify() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
    }
}
