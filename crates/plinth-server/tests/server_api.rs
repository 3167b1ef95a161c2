//! Router-level tests (`tower::ServiceExt::oneshot`, no sockets) of error shapes, auth flows and
//! CRUD paths, each on SQLite (in memory) and on PostgreSQL when `PLINTH_TEST_POSTGRES_URL` is
//! set (a fresh database per test; skipped with a message otherwise, unless
//! `PLINTH_REQUIRE_SERVICES=1`). Real-socket scenarios live in `tests/it/`.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use plinth_server::{SchemaSource, ServeConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

const SCHEMA: &str = r#"
datasource db {
  provider = "sqlite"
  url      = "file:./test.db"
}

enum Role {
  USER
  ADMIN
}

model User {
  id       Int    @id @default(autoincrement())
  email    String @unique @email
  password String @password @omit
  name     String @length(1, 50)
  role     Role   @default(USER)
  posts    Post[]

  @@auth
  @@allow("create", true)
  @@allow("read", auth() != null)
  @@allow("update,delete", auth() == this)
}

model Post {
  id        Int      @id @default(autoincrement())
  title     String   @length(1, 100)
  body      String?
  published Boolean  @default(false)
  views     BigInt   @default(0)
  price     Decimal?
  author    User     @relation(fields: [authorId], references: [id])
  authorId  Int      @default(auth().id)
  createdAt DateTime @default(now())

  @@allow("read", published || auth() == author)
  @@allow("create", auth() != null)
  @@allow("update,delete", auth() == author)
}
"#;

#[derive(Clone, Copy, Debug)]
enum Database {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL database URL, or `None` (with a message) when none is configured.
async fn fresh_postgres(test: &str) -> Option<String> {
    let Ok(admin_url) = std::env::var("PLINTH_TEST_POSTGRES_URL") else {
        if std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("PLINTH_TEST_POSTGRES_URL is not set but PLINTH_REQUIRE_SERVICES=1");
        }
        eprintln!("skipping PostgreSQL for `{test}`: PLINTH_TEST_POSTGRES_URL is not set");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .expect("connect to PLINTH_TEST_POSTGRES_URL");
    tokio::spawn(connection);
    let name = format!(
        "plinth_server_{}_{}",
        test,
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    );
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create a test database");
    let base = match admin_url.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && base.len() > "postgres://".len() => {
            base.to_string()
        }
        _ => admin_url.trim_end_matches('/').to_string(),
    };
    Some(format!("{base}/{name}"))
}

async fn app(database: Database, test: &str, config: ServeConfig) -> Option<Router> {
    let url = match database {
        Database::Sqlite => "sqlite::memory:".to_string(),
        Database::Postgres => fresh_postgres(test).await?,
    };
    let config = ServeConfig {
        database: Some(url),
        jwt_secret: Some("test secret that is long enough to sign".into()),
        ..config
    };
    let source = SchemaSource::Text {
        name: "test.plinth".into(),
        text: SCHEMA.into(),
    };
    Some(
        plinth_server::app(config, source)
            .await
            .expect("server starts"),
    )
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["status"], status);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["title"].is_string());
    assert!(answer.body["detail"].is_string());
    assert!(answer.body["type"]
        .as_str()
        .unwrap()
        .starts_with("https://plinth.dev/problems/"));
    assert_eq!(
        answer.body["trace_id"].as_str().unwrap(),
        answer.headers["x-request-id"].to_str().unwrap()
    );
}

async fn register(app: &Router, email: &str) -> (String, String, i64) {
    let answer = send(
        app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": email, "password": "correct horse", "name": "Someone"})),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    (
        answer.body["access_token"].as_str().unwrap().to_string(),
        answer.body["refresh_token"].as_str().unwrap().to_string(),
        answer.body["user"]["id"].as_i64().unwrap(),
    )
}

macro_rules! on_both_databases {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                $body(Database::Sqlite, stringify!($name)).await;
            }
            #[tokio::test]
            async fn postgres() {
                $body(Database::Postgres, stringify!($name)).await;
            }
        }
    };
}

async fn error_shapes(database: Database, test: &str) {
    let config = ServeConfig {
        body_limit: 256,
        ..ServeConfig::default()
    };
    let Some(app) = app(database, test, config).await else {
        return;
    };
    assert_problem(
        &send(&app, Method::GET, "/nope", None, None, &[]).await,
        404,
        "not_found",
    );
    assert_problem(
        &send(&app, Method::PUT, "/api/v1/posts", None, None, &[]).await,
        405,
        "method_not_allowed",
    );
    let anonymous = send(
        &app,
        Method::POST,
        "/api/v1/posts",
        None,
        Some(json!({})),
        &[],
    )
    .await;
    assert_problem(&anonymous, 401, "authentication_required");
    assert_eq!(anonymous.headers[header::WWW_AUTHENTICATE], "Bearer");
    let forged = send(&app, Method::GET, "/api/v1/posts", Some("a.b.c"), None, &[]).await;
    assert_problem(&forged, 401, "invalid_token");
    let (token, _, _) = register(&app, "ada@example.com").await;
    // Malformed JSON, wrong content type, too large.
    let request = Request::post("/api/v1/posts")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"title\":"))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let request = Request::post("/api/v1/posts")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let big = json!({ "title": "x".repeat(1000) });
    assert_problem(
        &send(
            &app,
            Method::POST,
            "/api/v1/posts",
            Some(&token),
            Some(big),
            &[],
        )
        .await,
        413,
        "payload_too_large",
    );
    // Query parameters and ids.
    let unknown = send(
        &app,
        Method::GET,
        "/api/v1/posts?colour=red",
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_problem(&unknown, 400, "invalid_parameter");
    assert_eq!(unknown.body["errors"][0]["field"], "colour");
    assert_problem(
        &send(
            &app,
            Method::GET,
            "/api/v1/posts?limit=101",
            Some(&token),
            None,
            &[],
        )
        .await,
        400,
        "invalid_parameter",
    );
    assert_problem(
        &send(
            &app,
            Method::GET,
            "/api/v1/posts?cursor=garbage",
            Some(&token),
            None,
            &[],
        )
        .await,
        400,
        "invalid_parameter",
    );
    assert_problem(
        &send(
            &app,
            Method::GET,
            "/api/v1/posts/abc",
            Some(&token),
            None,
            &[],
        )
        .await,
        400,
        "invalid_id",
    );
    assert_problem(
        &send(
            &app,
            Method::GET,
            "/api/v1/posts/999",
            Some(&token),
            None,
            &[],
        )
        .await,
        404,
        "not_found",
    );
    // Validation: every problem listed per field.
    let invalid = send(
        &app,
        Method::POST,
        "/api/v1/posts",
        Some(&token),
        Some(json!({"title": "", "published": "yes", "authorId": 5, "extra": 1})),
        &[],
    )
    .await;
    assert_problem(&invalid, 422, "validation_failed");
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    for expected in ["title", "published", "authorId", "extra"] {
        assert!(fields.contains(&expected), "{fields:?}");
    }
    // Security headers on every answer.
    let health = send(&app, Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.headers["x-content-type-options"], "nosniff");
    assert_eq!(health.headers["x-frame-options"], "DENY");
    assert!(health.headers.get(header::SERVER).is_none());
    let ready = send(&app, Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(ready.status, StatusCode::OK);
}
on_both_databases!(error_shapes_answer_problem_json, error_shapes);

async fn auth_flows(database: Database, test: &str) {
    let Some(app) = app(database, test, ServeConfig::default()).await else {
        return;
    };
    let with_role = send(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": "eve@example.com", "password": "pw", "name": "Eve", "role": "ADMIN"})),
        &[],
    )
    .await;
    assert_problem(&with_role, 422, "validation_failed");
    assert_eq!(with_role.body["errors"][0]["field"], "role");

    let (token, refresh, id) = register(&app, "ada@example.com").await;
    let duplicate = send(
        &app,
        Method::POST,
        "/api/v1/auth/register",
        None,
        Some(json!({"email": "ada@example.com", "password": "x", "name": "A"})),
        &[],
    )
    .await;
    assert_problem(&duplicate, 409, "unique_violation");

    let me = send(
        &app,
        Method::GET,
        "/api/v1/auth/me",
        Some(&token),
        None,
        &[],
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], id);
    assert_eq!(me.body["role"], "USER");
    assert!(me.body.get("password").is_none());

    let wrong = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": "wrong"})),
        &[],
    )
    .await;
    let unknown = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "nobody@example.com", "password": "wrong"})),
        &[],
    )
    .await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_problem(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    let login = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"email": "ada@example.com", "password": "correct horse"})),
        &[],
    )
    .await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 900);
    assert_eq!(login.body["user"]["email"], "ada@example.com");

    // Rotation, then reuse of the old token revokes the family.
    let rotated = send(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
        &[],
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let newer = rotated.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(newer, refresh);
    let reused = send(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
        &[],
    )
    .await;
    assert_problem(&reused, 401, "invalid_refresh_token");
    let revoked = send(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": newer})),
        &[],
    )
    .await;
    assert_problem(&revoked, 401, "invalid_refresh_token");

    // Logout revokes the login's family.
    let login_refresh = login.body["refresh_token"].as_str().unwrap().to_string();
    let logout = send(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": login_refresh})),
        &[],
    )
    .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    let after_logout = send(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": login_refresh})),
        &[],
    )
    .await;
    assert_problem(&after_logout, 401, "invalid_refresh_token");
}
on_both_databases!(auth_register_login_refresh_logout, auth_flows);

async fn crud_paths(database: Database, test: &str) {
    let Some(app) = app(database, test, ServeConfig::default()).await else {
        return;
    };
    let (ada, _, ada_id) = register(&app, "ada@example.com").await;
    let (bob, _, _) = register(&app, "bob@example.com").await;

    let created = send(
        &app,
        Method::POST,
        "/api/v1/posts",
        Some(&ada),
        Some(json!({"title": "Draft", "price": "12.50"})),
        &[("idempotency-key", "create-1")],
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        created.headers[header::LOCATION],
        format!("/api/v1/posts/{id}")
    );
    assert_eq!(created.body["authorId"], ada_id);
    assert_eq!(created.body["views"], "0");
    assert_eq!(created.body["price"], "12.5");
    assert_eq!(created.body["published"], false);
    let timestamp = created.body["createdAt"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );

    // The same key and body replays; another body with the key is refused.
    let replay = send(
        &app,
        Method::POST,
        "/api/v1/posts",
        Some(&ada),
        Some(json!({"title": "Draft", "price": "12.50"})),
        &[("idempotency-key", "create-1")],
    )
    .await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.body, created.body);
    let reused = send(
        &app,
        Method::POST,
        "/api/v1/posts",
        Some(&ada),
        Some(json!({"title": "Other"})),
        &[("idempotency-key", "create-1")],
    )
    .await;
    assert_problem(&reused, 422, "idempotency_key_reused");

    // Bob cannot see Ada's draft: 404, and it is not in his list.
    let hidden = send(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&bob),
        None,
        &[],
    )
    .await;
    assert_problem(&hidden, 404, "not_found");
    let bobs_list = send(&app, Method::GET, "/api/v1/posts", Some(&bob), None, &[]).await;
    assert_eq!(bobs_list.body["data"], json!([]));

    // ETag, If-None-Match, If-Match.
    let read = send(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        None,
        &[],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    let tag = read.headers[header::ETAG].to_str().unwrap().to_string();
    let cached = send(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        None,
        &[("if-none-match", &tag)],
    )
    .await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
    let stale = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        Some(json!({"published": true})),
        &[("if-match", "\"stale\"")],
    )
    .await;
    assert_problem(&stale, 412, "precondition_failed");
    let published = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        Some(json!({"published": true})),
        &[("if-match", &tag)],
    )
    .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    assert_eq!(published.body["published"], true);
    assert_ne!(published.headers[header::ETAG].to_str().unwrap(), tag);

    // Now Bob can read it but not change or delete it: 403.
    let visible = send(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&bob),
        None,
        &[],
    )
    .await;
    assert_eq!(visible.status, StatusCode::OK);
    let forbidden = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/posts/{id}"),
        Some(&bob),
        Some(json!({"title": "Mine now"})),
        &[],
    )
    .await;
    assert_problem(&forbidden, 403, "forbidden");
    let forbidden = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}"),
        Some(&bob),
        None,
        &[],
    )
    .await;
    assert_problem(&forbidden, 403, "forbidden");

    // Keyset pagination: every row once, in order.
    for number in 0..7 {
        let answer = send(
            &app,
            Method::POST,
            "/api/v1/posts",
            Some(&ada),
            Some(json!({"title": format!("post {number}"), "published": true})),
            &[],
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/posts?limit=3&sort=-title&fields=title".to_string();
    loop {
        let page = send(&app, Method::GET, &uri, Some(&bob), None, &[]).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        for row in page.body["data"].as_array().unwrap() {
            // `fields=title` returns the title and, always, the primary key.
            assert_eq!(row.as_object().unwrap().len(), 2, "fields=title: {row}");
            assert!(row["id"].is_i64(), "fields=title keeps the key: {row}");
            seen.push(row["title"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                uri = format!("/api/v1/posts?limit=3&sort=-title&fields=title&cursor={cursor}")
            }
            None => break,
        }
    }
    let mut expected = seen.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
    assert_eq!(seen.len(), 8);

    // Filters typed per field, and includes under policies.
    let filtered = send(
        &app,
        Method::GET,
        "/api/v1/posts?title%5BstartsWith%5D=post&views%5Bgte%5D=0&include=author",
        Some(&bob),
        None,
        &[],
    )
    .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.body);
    let rows = filtered.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["author"]["email"], "ada@example.com");
    assert!(rows[0]["author"].get("password").is_none());
    let bad_value = send(
        &app,
        Method::GET,
        "/api/v1/posts?views=lots",
        Some(&bob),
        None,
        &[],
    )
    .await;
    assert_problem(&bad_value, 400, "invalid_parameter");
    assert_eq!(bad_value.body["errors"][0]["field"], "views");

    // Delete honours If-Match, then the row is gone.
    let stale = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        None,
        &[("if-match", "\"stale\"")],
    )
    .await;
    assert_problem(&stale, 412, "precondition_failed");
    let deleted = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        None,
        &[],
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = send(
        &app,
        Method::GET,
        &format!("/api/v1/posts/{id}"),
        Some(&ada),
        None,
        &[],
    )
    .await;
    assert_problem(&gone, 404, "not_found");
}
on_both_databases!(crud_create_read_update_delete, crud_paths);

#[tokio::test]
async fn openapi_is_what_build_writes_and_docs_render() {
    let app = app(Database::Sqlite, "openapi", ServeConfig::default())
        .await
        .unwrap();
    let request = Request::get("/openapi.json").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let (schema, _) = plinth_model::compile(SCHEMA);
    assert_eq!(
        std::str::from_utf8(&bytes).unwrap(),
        plinth_server::openapi_text(&schema)
    );
    let request = Request::get("/docs").body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8_lossy(&bytes);
    assert!(html.contains("/api/v1/posts"), "{html}");
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn a_schema_with_errors_does_not_start() {
    let source = SchemaSource::Text {
        name: "broken.plinth".into(),
        text: "model X {\n  id Int @id\n  y Strin\n}\n".into(),
    };
    let Err(error) = plinth_server::app(ServeConfig::default(), source).await else {
        panic!("a schema with errors started");
    };
    assert!(error.to_string().contains("Strin"), "{error}");
}

#[tokio::test]
async fn a_jwt_secret_shorter_than_32_bytes_does_not_start() {
    let source = || SchemaSource::Text {
        name: "test.plinth".into(),
        text: SCHEMA.into(),
    };
    let config = |secret: &str| ServeConfig {
        database: Some("sqlite::memory:".into()),
        jwt_secret: Some(secret.into()),
        ..ServeConfig::default()
    };
    let short = "31-byte-secret-0123456789abcdef";
    assert_eq!(short.len(), 31);
    let Err(error) = plinth_server::app(config(short), source()).await else {
        panic!("a 31-byte JWT secret started");
    };
    let message = error.to_string();
    assert!(message.contains("at least 32 bytes"), "{message}");
    assert!(!message.contains(short), "the secret leaks: {message}");
    let exactly_32 = "32-byte-secret-0123456789abcdef!";
    assert_eq!(exactly_32.len(), 32);
    assert!(plinth_server::app(config(exactly_32), source())
        .await
        .is_ok());
}

#[tokio::test]
async fn a_real_socket_serves_and_shuts_down() {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database: Some("sqlite::memory:".into()),
        ..ServeConfig::default()
    };
    let source = SchemaSource::Text {
        name: "test.plinth".into(),
        text: SCHEMA.into(),
    };
    let server = plinth_server::start(config, source).await.expect("starts");
    let address = server.local_addr();
    assert_ne!(address.port(), 0);
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("{\"status\":\"ok\"}"));
    server.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn auth_routes_are_rate_limited_with_retry_after() {
    let config = ServeConfig {
        rate_limit_auth_per_ip: Some(plinth_server::RateLimit {
            requests: 2,
            period: std::time::Duration::from_secs(60),
        }),
        ..ServeConfig::default()
    };
    let app = app(Database::Sqlite, "rate", config).await.unwrap();
    let login = json!({"email": "nobody@example.com", "password": "x"});
    for _ in 0..2 {
        let answer = send(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(login.clone()),
            &[],
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let limited = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(login),
        &[],
    )
    .await;
    assert_problem(&limited, 429, "rate_limited");
    let retry_after: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Other routes still answer.
    let health = send(&app, Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(health.status, StatusCode::OK);
}
