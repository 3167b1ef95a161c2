//! The test harness: starts the real server in-process on a loopback port against a fresh SQLite
//! file or a fresh PostgreSQL database, and wraps reqwest so scenarios read like HTTP transcripts.
//!
//! Everything that touches the server's Rust API lives in this file (see [`boot`]), so a change
//! of that API is adapted here once. Each server runs on a runtime of its own in a background
//! thread: a test can then kill it abruptly (drop every task without a graceful shutdown) and
//! start another one on the same database, as a crash would.

use base64::Engine;
use plinth_server::config::ServeConfig;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The HS256 secret every test server signs with, so tests can mint tokens (expired ones, tokens
/// for other subjects) the way an attacker who knew nothing else could not.
pub const JWT_SECRET: &str = "plinth-integration-test-secret-0123456789abcdef";

/// The password every test user registers with.
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's data lives; dropping it removes the data (temp dir or database).
pub enum Database {
    Sqlite {
        directory: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        admin_url: String,
        url: String,
        name: String,
    },
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Sqlite { path, .. } => format!("sqlite://{}", path.display()),
            Database::Postgres { url, .. } => url.clone(),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres {
            admin_url, name, ..
        } = self
        {
            let admin_url = admin_url.clone();
            let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            // The synchronous client runs a runtime of its own, which may not start inside the
            // test's runtime: a plain thread is outside both.
            let outcome = std::thread::spawn(move || {
                let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)?;
                client.batch_execute(&statement)
            })
            .join();
            if !matches!(outcome, Ok(Ok(()))) {
                eprintln!("warning: could not drop test database `{name}`");
            }
        }
    }
}

/// The names of the environment variables the harness reads.
const POSTGRES_URL_VARIABLE: &str = "PLINTH_TEST_POSTGRES_URL";
const REQUIRE_SERVICES_VARIABLE: &str = "PLINTH_REQUIRE_SERVICES";

static DATABASE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `postgres://user@host:port/anything?query` with the database name replaced.
fn with_database_name(url: &str, name: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = without_query.find("://").map_or(0, |index| index + 3);
    let base = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

async fn create_postgres_database() -> Option<Database> {
    let admin_url = match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var(REQUIRE_SERVICES_VARIABLE).is_ok_and(|value| value == "1") {
                panic!("{POSTGRES_URL_VARIABLE} is not set but {REQUIRE_SERVICES_VARIABLE}=1");
            }
            eprintln!(
                "skipping the PostgreSQL variant: set {POSTGRES_URL_VARIABLE} \
                 (e.g. postgres://postgres@127.0.0.1:55432/postgres) to run it"
            );
            return None;
        }
    };
    let counter = DATABASE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let name = format!("plinth_it_{}_{counter}_{nanos}", std::process::id());
    let statement = format!("CREATE DATABASE \"{name}\"");
    let admin = admin_url.clone();
    let created = tokio::task::spawn_blocking(move || {
        // Concurrent CREATE DATABASE from the same template can collide; retry briefly.
        let mut last_error = String::new();
        for _ in 0..20 {
            match postgres::Client::connect(&admin, postgres::NoTls)
                .and_then(|mut client| client.batch_execute(&statement))
            {
                Ok(()) => return Ok(()),
                Err(error) => {
                    last_error = error.to_string();
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Err(last_error)
    })
    .await
    .expect("create-database task ran");
    if let Err(error) = created {
        panic!("cannot create a test database on {admin_url}: {error}");
    }
    Some(Database::Postgres {
        url: with_database_name(&admin_url, &name),
        admin_url,
        name,
    })
}

fn create_sqlite_database() -> Database {
    let directory = tempfile::tempdir().expect("temp dir");
    let path = directory.path().join("test.db");
    Database::Sqlite { directory, path }
}

/// The schema text of `examples/<name>/schema.plinth`.
pub fn example_source(example: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(example)
        .join("schema.plinth");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The settings of every test server: ephemeral loopback port, a known JWT secret, no rate
/// limits (a scenario that tests them sets its own).
pub fn test_config(database_url: String) -> ServeConfig {
    let mut config = ServeConfig::default();
    config.listen = "127.0.0.1:0".parse().expect("loopback address");
    config.database = Some(database_url);
    config.jwt_secret = Some(JWT_SECRET.to_string());
    config.rate_limit_per_ip = None;
    config.rate_limit_per_user = None;
    config.rate_limit_auth_per_ip = None;
    config.handle_signals = false;
    config.sqlite_synchronous = plinth_server::config::SqliteSynchronous::Full;
    config
}

/// One server process stand-in: its runtime (so it can be killed) and its running handle.
struct Node {
    runtime: Option<tokio::runtime::Runtime>,
    running: Option<plinth_server::RunningServer>,
}

/// THE adapter to the server's Rust API: start a server for `source` with `config` on
/// `runtime`, answering its bound address.
fn boot(
    runtime: &tokio::runtime::Runtime,
    source: &str,
    config: ServeConfig,
) -> Result<(plinth_server::RunningServer, std::net::SocketAddr), String> {
    let source = source.to_string();
    runtime.block_on(async move {
        let schema = plinth_server::SchemaSource::Text {
            name: "schema.plinth".to_string(),
            text: source,
        };
        let running = plinth_server::start(config, schema)
            .await
            .map_err(|error| error.to_string())?;
        let address = running.local_addr();
        Ok((running, address))
    })
}

impl Node {
    /// Starts on a runtime of its own; the blocking work runs on a plain thread, outside the
    /// caller's runtime.
    async fn start(source: String, config: ServeConfig) -> Result<(Node, String), String> {
        tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .thread_name("plinth-test-server")
                .build()
                .map_err(|error| error.to_string())?;
            match boot(&runtime, &source, config) {
                Ok((running, address)) => Ok((
                    Node {
                        runtime: Some(runtime),
                        running: Some(running),
                    },
                    format!("http://{address}"),
                )),
                Err(error) => {
                    runtime.shutdown_background();
                    Err(error)
                }
            }
        })
        .await
        .map_err(|error| error.to_string())?
    }

    /// Graceful: the server finishes what it was doing and closes its database.
    async fn stop(mut self) {
        let (Some(runtime), Some(running)) = (self.runtime.take(), self.running.take()) else {
            return;
        };
        let finished = runtime.spawn(async move {
            let _ = running.shutdown().await;
        });
        let _ = tokio::time::timeout(Duration::from_secs(20), finished).await;
        runtime.shutdown_background();
    }

    /// Abrupt: every task of the server is dropped where it stands, as on a crash.
    fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Forget the handle first so no graceful path runs on drop.
            std::mem::forget(self.running.take());
            runtime.shutdown_background();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            drop(self.running.take());
            runtime.shutdown_background();
        }
    }
}

/// A running server and an HTTP client for it.
pub struct TestServer {
    pub backend: Backend,
    pub example: &'static str,
    pub schema_source: String,
    pub base_url: String,
    pub client: reqwest::Client,
    node: Option<Node>,
    // Declared last: dropped after the node, so the server lets go of it first.
    database: Database,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("http client")
}

impl TestServer {
    /// A server for `examples/<example>` on `backend`; `None` when the backend is not available
    /// here (the skip message is printed).
    pub async fn start(example: &'static str, backend: Backend) -> Option<TestServer> {
        TestServer::start_with(example, backend, |_| {}).await
    }

    /// Like [`TestServer::start`], with settings changed by `adjust`.
    pub async fn start_with(
        example: &'static str,
        backend: Backend,
        adjust: impl FnOnce(&mut ServeConfig),
    ) -> Option<TestServer> {
        let database = match backend {
            Backend::Sqlite => create_sqlite_database(),
            Backend::Postgres => create_postgres_database().await?,
        };
        let schema_source = example_source(example);
        let mut config = test_config(database.url());
        adjust(&mut config);
        let (node, base_url) = Node::start(schema_source.clone(), config)
            .await
            .unwrap_or_else(|error| panic!("the server did not start ({backend:?}): {error}"));
        Some(TestServer {
            backend,
            example,
            schema_source,
            base_url,
            client: http_client(),
            node: Some(node),
            database,
        })
    }

    /// Stops the server gracefully and drops its database.
    pub async fn finish(mut self) {
        if let Some(node) = self.node.take() {
            node.stop().await;
        }
    }

    /// Kills the server without a graceful shutdown (tasks dropped mid-flight).
    pub fn kill(&mut self) {
        if let Some(node) = self.node.take() {
            node.kill();
        }
    }

    /// Stops the server gracefully, keeping the database.
    pub async fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.stop().await;
        }
    }

    /// Starts a new server on the same database with `source` (the same schema, or another one
    /// to see it refused). The base URL changes to the new port.
    pub async fn restart_with_source(&mut self, source: &str) -> Result<(), String> {
        self.kill();
        let config = test_config(self.database.url());
        let (node, base_url) = Node::start(source.to_string(), config).await?;
        self.node = Some(node);
        self.base_url = base_url;
        Ok(())
    }

    /// Runs SQL on the test database directly, behind the server's back (to appoint an admin
    /// the way an operator would). Identifiers are quoted the same in both dialects.
    pub async fn execute_sql(&self, sql: &str) {
        let sql = sql.to_string();
        let outcome = match &self.database {
            Database::Sqlite { path, .. } => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let connection =
                        rusqlite::Connection::open(&path).map_err(|error| error.to_string())?;
                    connection
                        .busy_timeout(Duration::from_secs(10))
                        .map_err(|error| error.to_string())?;
                    connection
                        .execute_batch(&sql)
                        .map_err(|error| error.to_string())
                })
                .await
            }
            Database::Postgres { url, .. } => {
                let url = url.clone();
                tokio::task::spawn_blocking(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls)
                        .map_err(|error| error.to_string())?;
                    client
                        .batch_execute(&sql)
                        .map_err(|error| error.to_string())
                })
                .await
            }
        };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("direct SQL failed: {error}"),
            Err(error) => panic!("direct SQL task failed: {error}"),
        }
    }

    /// Makes a user an admin (or staff) directly in the database, as an operator would.
    pub async fn set_role(&self, user_id: &str, role: &str) {
        let escaped_id = user_id.replace('\'', "''");
        self.execute_sql(&format!(
            "UPDATE \"User\" SET \"role\" = '{role}' WHERE \"id\" = '{escaped_id}'"
        ))
        .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request to `path` (which starts with `/`).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        with_token(self.request(Method::GET, path), token)
            .reply()
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        with_token(self.request(Method::POST, path), token)
            .json(body)
            .reply()
            .await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        with_token(self.request(Method::PATCH, path), token)
            .json(body)
            .reply()
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        with_token(self.request(Method::DELETE, path), token)
            .reply()
            .await
    }

    /// Registers `email` with [`PASSWORD`] and the other fields in `extra`; asserts 201.
    pub async fn register(&self, email: &str, extra: Value) -> Session {
        let mut body = json!({ "email": email, "password": PASSWORD });
        if let (Some(target), Value::Object(extra)) = (body.as_object_mut(), extra) {
            target.extend(extra);
        }
        let reply = self.post("/api/v1/auth/register", None, &body).await;
        assert_eq!(reply.status, 201, "register {email}: {}", reply.text);
        Session::from_token_response(&reply)
    }

    /// Registers a user with a name (todo, saas and blog all require `name`).
    pub async fn register_named(&self, email: &str, name: &str) -> Session {
        self.register(email, json!({ "name": name })).await
    }

    /// Creates a row and answers its id; asserts 201.
    pub async fn create(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        let reply = self.post(path, token, body).await;
        assert_eq!(reply.status, 201, "POST {path} {body}: {}", reply.text);
        reply.json().clone()
    }

    /// Every row of a list, following `next_cursor` (bounded, so a broken cursor cannot loop).
    pub async fn list_all(&self, path_and_query: &str, token: Option<&str>) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1000 {
            let path = match &cursor {
                None => path_and_query.to_string(),
                Some(cursor) => {
                    let separator = if path_and_query.contains('?') {
                        '&'
                    } else {
                        '?'
                    };
                    format!("{path_and_query}{separator}cursor={}", encode(cursor))
                }
            };
            let reply = self.get(&path, token).await;
            assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
            rows.extend(reply.data().iter().cloned());
            match reply.json()["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return rows,
            }
        }
        panic!("GET {path_and_query} did not end after 1000 pages");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A scenario that panicked never called `finish`: stop the server before the database
        // goes (field order drops `node` before `database` as well).
        if let Some(node) = self.node.take() {
            drop(node);
        }
    }
}

fn with_token(builder: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => builder.bearer_auth(token),
        None => builder,
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    /// The id as JSON (a string for cuid/uuid keys, a number for autoincrement ones).
    pub id_value: Value,
    pub access_token: String,
    pub refresh_token: String,
    pub user: Value,
}

impl Session {
    pub fn from_token_response(reply: &Reply) -> Session {
        let body = reply.json();
        let user = body["user"].clone();
        let id_value = user["id"].clone();
        let id = match &id_value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            other => panic!("token response without user.id: {other} in {}", reply.text),
        };
        Session {
            id,
            id_value,
            access_token: body["access_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no access_token in {}", reply.text))
                .to_string(),
            refresh_token: body["refresh_token"]
                .as_str()
                .unwrap_or_else(|| panic!("no refresh_token in {}", reply.text))
                .to_string(),
            user,
        }
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.access_token)
    }
}

/// One HTTP answer, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub bytes: Vec<u8>,
    parsed: Option<Value>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> &Value {
        self.parsed.as_ref().unwrap_or_else(|| {
            panic!(
                "expected a JSON body (status {}), got: {:?}",
                self.status, self.text
            )
        })
    }

    /// `data` of a list answer, after checking the list shape.
    pub fn data(&self) -> &Vec<Value> {
        let body = self.json();
        assert!(
            body.get("next_cursor")
                .is_some_and(|cursor| cursor.is_null() || cursor.is_string()),
            "a list answer has `next_cursor` (string or null): {}",
            self.text
        );
        body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("a list answer has a `data` array: {}", self.text))
    }

    /// The ids of `data`, as strings.
    pub fn ids(&self) -> Vec<String> {
        self.data().iter().map(id_of).collect()
    }

    /// Asserts an RFC 9457 problem with `status` and answers its body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "expected status {status}, got {}: {}",
            self.status, self.text
        );
        self.problem_any()
    }

    /// Asserts a well-formed problem body, whatever its (4xx) status.
    #[track_caller]
    pub fn problem_any(&self) -> &Value {
        assert!(
            (400..500).contains(&self.status),
            "expected a client error, got {}: {}",
            self.status,
            self.text
        );
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "status {} has content-type {:?}, not application/problem+json: {}",
            self.status,
            self.content_type(),
            self.text
        );
        let body = self.json();
        for key in ["type", "title", "detail", "code", "trace_id"] {
            assert!(
                body.get(key).is_some_and(Value::is_string),
                "problem lacks string `{key}`: {}",
                self.text
            );
        }
        assert!(
            !body["code"].as_str().unwrap_or("").is_empty(),
            "problem `code` is empty: {}",
            self.text
        );
        assert!(
            !body["trace_id"].as_str().unwrap_or("").is_empty(),
            "problem `trace_id` is empty: {}",
            self.text
        );
        assert_eq!(
            body["status"].as_u64(),
            Some(u64::from(self.status)),
            "problem `status` matches the HTTP status: {}",
            self.text
        );
        assert_no_leak(&self.text);
        body
    }

    /// Asserts a 422 problem whose `errors` name `field`.
    #[track_caller]
    pub fn validation_error_on(&self, field: &str) -> &Value {
        let body = self.problem(422);
        assert!(
            errors_mention(body, field),
            "422 `errors` should name `{field}`: {}",
            self.text
        );
        body
    }
}

/// Whether a problem's `errors` list has an entry about `field` (its `field`, `name`,
/// `pointer` or `path` ends with the field name).
pub fn errors_mention(problem: &Value, field: &str) -> bool {
    let Some(errors) = problem["errors"].as_array() else {
        return false;
    };
    errors.iter().any(|entry| {
        ["field", "name", "pointer", "path", "parameter"]
            .iter()
            .filter_map(|key| entry.get(*key).and_then(Value::as_str))
            .any(|value| {
                value == field
                    || value.ends_with(&format!("/{field}"))
                    || value.ends_with(&format!(".{field}"))
            })
    })
}

/// Text that must never reach a client: SQL, driver names, panics, stack traces.
#[track_caller]
pub fn assert_no_leak(text: &str) {
    let lower = text.to_ascii_lowercase();
    // Patterns of text the server itself would produce, not echoes of the client's input.
    for needle in [
        "select \"",
        "from \"",
        "insert into",
        "update \"",
        "delete from",
        "sqlite",
        "postgres",
        "sqlstate",
        "db error",
        "syntax error",
        "panicked",
        "stack backtrace",
        "src/",
        ".rs:",
        "constraint failed",
        "violates",
    ] {
        assert!(
            !lower.contains(needle),
            "a response leaks internals ({needle:?}): {text}"
        );
    }
}

/// A row's `id` as a string.
pub fn id_of(row: &Value) -> String {
    match &row["id"] {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => panic!("row without an id ({other}): {row}"),
    }
}

/// Sends a request and reads the whole answer.
pub trait ReplyExt {
    fn reply(self) -> impl std::future::Future<Output = Reply> + Send;
}

impl ReplyExt for RequestBuilder {
    async fn reply(self) -> Reply {
        let response = self.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body is read").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = serde_json::from_slice(&bytes).ok();
        assert!(
            status < 500,
            "the server answered {status} (never a 5xx for a client's request): {text}"
        );
        Reply {
            status,
            headers,
            text,
            bytes,
            parsed,
        }
    }
}

/// The claims of a JWT (its middle part), decoded without checking the signature.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("the JWT payload is base64url");
    serde_json::from_slice(&bytes).expect("the JWT payload is JSON")
}

/// Signs `claims` with HS256 and `secret`.
pub fn sign_jwt(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("the token is signed")
}

/// Seconds since the epoch.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs `count` copies of a request concurrently and answers their replies.
pub async fn concurrently<F, Fut>(count: usize, make: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        tasks.spawn(make(index));
    }
    let mut replies = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        replies.push(joined.expect("the request task finished"));
    }
    replies
}

/// A cheap handle for spawning requests from tasks.
#[derive(Clone)]
pub struct Remote {
    pub base_url: Arc<str>,
    pub client: reqwest::Client,
}

impl TestServer {
    pub fn remote(&self) -> Remote {
        Remote {
            base_url: Arc::from(self.base_url.as_str()),
            client: self.client.clone(),
        }
    }
}

impl Remote {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
    }
}

/// Instantiates each scenario `async fn name(server: &TestServer)` as a module `name` with a
/// `sqlite` and a `postgres` test, against a fresh server for `examples/<example>`; the optional
/// second argument is a closure adjusting the server's settings.
#[macro_export]
macro_rules! scenarios {
    ($example:literal => $($name:ident),+ $(,)?) => {
        $crate::scenarios!($example, |_config: &mut plinth_server::config::ServeConfig| {} => $($name),+);
    };
    // Scenarios that take the server by value (to kill and restart it) and finish it themselves.
    (owned $example:literal => $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    if let Some(server) = $crate::harness::TestServer::start(
                        $example,
                        $crate::harness::Backend::Sqlite,
                    )
                    .await
                    {
                        super::$name(server).await;
                    }
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(server) = $crate::harness::TestServer::start(
                        $example,
                        $crate::harness::Backend::Postgres,
                    )
                    .await
                    {
                        super::$name(server).await;
                    }
                }
            }
        )+
    };
    ($example:literal, $adjust:expr => $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let Some(server) = $crate::harness::TestServer::start_with(
                        $example,
                        $crate::harness::Backend::Sqlite,
                        $adjust,
                    )
                    .await
                    else {
                        return;
                    };
                    super::$name(&server).await;
                    server.finish().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(server) = $crate::harness::TestServer::start_with(
                        $example,
                        $crate::harness::Backend::Postgres,
                        $adjust,
                    )
                    .await
                    else {
                        return;
                    };
                    super::$name(&server).await;
                    server.finish().await;
                }
            }
        )+
    };
}

/// Sends raw bytes over a fresh TCP connection (for requests reqwest will not make, such as a
/// chunked body or a broken request line) and answers the status and the rest of the answer.
/// The peer may close early (e.g. after a 413); whatever arrived is used.
pub async fn raw_http(server: &TestServer, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = server.base_url.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects to the server");
    let (mut reader, mut writer) = stream.into_split();
    // Written while reading: a server may answer (and close) before it has read everything,
    // so write errors are expected then and ignored.
    let request = request.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    writing.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"));
    assert!(status < 500, "raw request answered {status}: {text}");
    (status, text)
}

/// One Server-Sent Event as a client receives it.
#[derive(Clone, Debug)]
pub struct ServerEvent {
    /// `id:`, the event's position in the stream.
    pub id: Option<String>,
    /// `event:` (`message` when absent, as browsers name it).
    pub event: String,
    /// `data:` lines joined by newlines.
    pub data: String,
}

impl ServerEvent {
    /// `id:` as a number; panics with the event when it is missing or not a number.
    #[track_caller]
    pub fn position(&self) -> i64 {
        self.id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("an event with a numeric `id:`: {self:?}"))
    }

    /// `data` as JSON; panics with the event when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|error| panic!("event data is not JSON ({error}): {self:?}"))
    }
}

/// What reading a stream gave.
#[derive(Debug)]
pub enum StreamRead {
    Event(ServerEvent),
    /// Nothing arrived before the deadline.
    TimedOut,
    /// The server ended the stream (or the connection broke).
    Ended,
}

/// An open `text/event-stream` answer, read incrementally.
pub struct EventStream {
    pub headers: HeaderMap,
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// The event being assembled from its lines.
    id: Option<String>,
    event: Option<String>,
    data: Option<String>,
    /// `:` comment lines seen (keep-alives).
    pub comments: usize,
    ended: bool,
}

impl EventStream {
    /// The next event, waiting at most `timeout`.
    pub async fn read(&mut self, timeout: Duration) -> StreamRead {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.parse_buffered() {
                return StreamRead::Event(event);
            }
            if self.ended {
                return StreamRead::Ended;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return StreamRead::TimedOut,
                Ok(Ok(Some(chunk))) => self.buffer.extend_from_slice(&chunk),
                Ok(Ok(None)) | Ok(Err(_)) => self.ended = true,
            }
        }
    }

    /// The next event; panics when none arrives within `timeout` or the stream ends.
    #[track_caller]
    pub fn next_event(
        &mut self,
        timeout: Duration,
    ) -> impl std::future::Future<Output = ServerEvent> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            match self.read(timeout).await {
                StreamRead::Event(event) => event,
                other => panic!("{caller}: expected an event within {timeout:?}, got {other:?}"),
            }
        }
    }

    /// `count` events, all within one `timeout`.
    #[track_caller]
    pub fn next_events(
        &mut self,
        count: usize,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Vec<ServerEvent>> + '_ {
        let caller = std::panic::Location::caller();
        async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut events = Vec::with_capacity(count);
            while events.len() < count {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match self.read(left).await {
                    StreamRead::Event(event) => events.push(event),
                    other => panic!(
                        "{caller}: expected {count} events within {timeout:?}, got {} then {other:?}: {events:?}",
                        events.len()
                    ),
                }
            }
            events
        }
    }

    /// One complete event from the buffer, if there is one (comments are counted and skipped;
    /// a blank line ends an event, as the SSE format says).
    fn parse_buffered(&mut self) -> Option<ServerEvent> {
        while let Some(end) = self.buffer.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                if self.event.is_none() && self.data.is_none() {
                    continue;
                }
                return Some(ServerEvent {
                    id: self.id.take(),
                    event: self.event.take().unwrap_or_else(|| "message".to_string()),
                    data: self.data.take().unwrap_or_default(),
                });
            }
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => self.id = Some(value),
                "event" => self.event = Some(value),
                "data" => match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(&value);
                    }
                    None => self.data = Some(value),
                },
                _ => {}
            }
        }
        None
    }
}

impl TestServer {
    /// Opens an event stream (`GET path` with `Accept: text/event-stream`, the bearer `token` and
    /// `Last-Event-ID`) on a connection of its own, without the client's overall timeout (a
    /// stream stays open). A 200 is the open stream; any other answer is read whole and returned
    /// as the error (5xx included: 503 is how a full node refuses a subscriber).
    pub async fn open_events(
        &self,
        path: &str,
        token: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<EventStream, Reply> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("stream client");
        let mut request =
            with_token(client.get(self.url(path)), token).header("accept", "text/event-stream");
        if let Some(last_event_id) = last_event_id {
            request = request.header("last-event-id", last_event_id);
        }
        let response = tokio::time::timeout(Duration::from_secs(20), request.send())
            .await
            .unwrap_or_else(|_| panic!("GET {path}: no answer within 20 s"))
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if status == 200 {
            return Ok(EventStream {
                headers,
                response,
                buffer: Vec::new(),
                id: None,
                event: None,
                data: None,
                comments: 0,
                ended: false,
            });
        }
        let bytes = tokio::time::timeout(Duration::from_secs(20), response.bytes())
            .await
            .unwrap_or_else(|_| panic!("GET {path}: the {status} body did not end within 20 s"))
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let parsed = serde_json::from_slice(&bytes).ok();
        Err(Reply {
            status,
            headers,
            text,
            bytes,
            parsed,
        })
    }

    /// Opens an event stream and asserts it is one: 200, `text/event-stream`.
    #[track_caller]
    pub fn subscribe<'a>(
        &'a self,
        path: &'a str,
        token: Option<&'a str>,
        last_event_id: Option<&'a str>,
    ) -> impl std::future::Future<Output = EventStream> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            match self.open_events(path, token, last_event_id).await {
                Ok(stream) => {
                    let content_type = stream
                        .headers
                        .get("content-type")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("");
                    assert!(
                        content_type.starts_with("text/event-stream"),
                        "{caller}: GET {path} answered 200 with {content_type:?}"
                    );
                    stream
                }
                Err(reply) => panic!(
                    "{caller}: GET {path} should open a stream, got {}: {}",
                    reply.status, reply.text
                ),
            }
        }
    }
}
