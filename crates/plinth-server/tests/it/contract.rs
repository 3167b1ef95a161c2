//! The served API and its OpenAPI document agree: every status the server answers is one the
//! document lists for that operation (event streams included), nothing is documented that is not
//! served, and the constraints the document states (32-bit integers, UUIDs, cursors, `fields`,
//! `sort`, `Idempotency-Key`, `If-Match`) are exactly the ones the server enforces.

use crate::harness::{encode, id_of, ReplyExt, Session, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

crate::scenarios!("blog" =>
    every_answer_is_documented,
    integers_follow_json_schema,
    filter_values_are_validated_like_ids,
    list_parameters_are_exact,
);

crate::scenarios!("todo" =>
    event_stream_answers_are_documented,
);

crate::scenarios!("todo", |config: &mut plinth_server::config::ServeConfig| {
    config.events_max_subscribers = 0;
} => a_full_node_is_documented,
);

crate::scenarios!("saas" =>
    uuid_values_are_checked_where_documented,
);

crate::scenarios!("catalog" =>
    decimals_accept_documented_forms_only,
);

/// The served OpenAPI document.
async fn document(server: &TestServer) -> Value {
    let reply = server.get("/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json().clone()
}

/// The statuses the document lists for `method` on the concrete `path` (query ignored), matched
/// against the path templates segment by segment (`{id}` matches any segment).
fn documented_statuses(document: &Value, method: &Method, path: &str) -> Vec<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    let template = paths.keys().find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| part.starts_with('{') || part == segment)
    });
    let Some(template) = template else {
        return Vec::new();
    };
    document["paths"][template][method.as_str().to_ascii_lowercase()]["responses"]
        .as_object()
        .map(|responses| responses.keys().cloned().collect())
        .unwrap_or_default()
}

#[track_caller]
fn assert_documented(document: &Value, method: &Method, path: &str, reply: &crate::harness::Reply) {
    let statuses = documented_statuses(document, method, path);
    assert!(
        statuses.contains(&reply.status.to_string()),
        "{method} {path} answered {} but the document lists {statuses:?}: {}",
        reply.status,
        reply.text
    );
}

/// A request and the status it must get: method, path, headers, body, status.
type Case = (
    Method,
    String,
    Vec<(&'static str, String)>,
    Option<String>,
    u16,
);

fn bearer(session: &Session) -> String {
    format!("Bearer {}", session.access_token)
}

/// A published post by `author`; answers its id.
async fn published_post(server: &TestServer, author: &Session, slug: &str) -> i64 {
    let post = server
        .create(
            "/api/v1/posts",
            author.token(),
            &json!({ "title": slug, "slug": slug, "body": "text", "published": true }),
        )
        .await;
    post["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("an Int id: {post}"))
}

async fn every_answer_is_documented(server: &TestServer) {
    let document = document(server).await;
    let ada = server.register_named("ada@example.com", "Ada").await;
    let post = published_post(server, &ada, "first").await;
    let post_path = format!("/api/v1/posts/{post}");
    let read = server.get(&post_path, ada.token()).await;
    let etag = read
        .header("etag")
        .unwrap_or_else(|| panic!("an ETag: {}", read.text))
        .to_string();
    let auth = bearer(&ada);
    // An oversized body goes over a raw connection: the server answers 413 and closes before the
    // upload ends, which an HTTP client library reports as a broken pipe instead of the answer.
    let big = format!("{{\"body\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let mut oversized = format!(
        "PATCH {post_path} HTTP/1.1\r\nHost: test\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    oversized.extend_from_slice(big.as_bytes());
    let (status, text) = crate::harness::raw_http(server, &oversized).await;
    assert_eq!(status, 413, "oversized PATCH: {text}");
    let statuses = documented_statuses(&document, &Method::PATCH, &post_path);
    assert!(
        statuses.contains(&"413".to_string()),
        "PATCH {post_path} answered 413 but the document lists {statuses:?}"
    );

    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/tags".into(),
            vec![],
            Some("{\"name\": \"a\"}".into()),
            415,
        ),
        (
            Method::PATCH,
            post_path.clone(),
            vec![("content-type", "text/plain".into())],
            Some("{}".into()),
            415,
        ),
        (
            Method::POST,
            "/api/v1/auth/login".into(),
            vec![],
            Some("{}".into()),
            415,
        ),
        (
            Method::POST,
            "/api/v1/auth/register".into(),
            vec![],
            Some("{}".into()),
            415,
        ),
        (
            Method::POST,
            "/api/v1/auth/refresh".into(),
            vec![],
            None,
            415,
        ),
        (
            Method::POST,
            "/api/v1/auth/logout".into(),
            vec![],
            None,
            415,
        ),
        (
            Method::DELETE,
            "/api/v1/posts/2147483648".into(),
            vec![],
            None,
            400,
        ),
        (Method::GET, "/api/v1/posts/abc".into(), vec![], None, 400),
        (
            Method::PATCH,
            "/api/v1/posts/1.5".into(),
            vec![("content-type", "application/json".into())],
            Some("{}".into()),
            400,
        ),
        (
            Method::GET,
            "/api/v1/posts?id[in]=1,x".into(),
            vec![],
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/posts?cursor=0".into(),
            vec![],
            None,
            400,
        ),
        (
            Method::GET,
            "/api/v1/posts?cursor=c1.AAAA".into(),
            vec![],
            None,
            422,
        ),
        (
            Method::GET,
            format!("{post_path}?fields="),
            vec![],
            None,
            400,
        ),
        (
            Method::GET,
            post_path.clone(),
            vec![("if-none-match", etag.clone())],
            None,
            304,
        ),
        (
            Method::GET,
            post_path.clone(),
            vec![("if-none-match", "".into())],
            None,
            400,
        ),
        (
            Method::PATCH,
            post_path.clone(),
            vec![
                ("content-type", "application/json".into()),
                ("if-match", "\"stale\"".into()),
            ],
            Some("{\"title\": \"t\"}".into()),
            412,
        ),
        (
            Method::DELETE,
            post_path.clone(),
            vec![("if-match", "".into())],
            None,
            400,
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            vec![
                ("content-type", "application/json".into()),
                ("idempotency-key", "has space".into()),
            ],
            Some("{\"name\": \"b\"}".into()),
            400,
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            vec![
                ("content-type", "application/json".into()),
                ("idempotency-key", "k-1".into()),
            ],
            Some("{\"name\": \"c\"}".into()),
            201,
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            vec![
                ("content-type", "application/json".into()),
                ("idempotency-key", "k-1".into()),
            ],
            Some("{\"name\": \"d\"}".into()),
            422,
        ),
        (
            Method::POST,
            "/api/v1/tags".into(),
            vec![("content-type", "application/json".into())],
            Some("{\"name\": \"c\"}".into()),
            409,
        ),
        (
            Method::POST,
            "/api/v1/comments".into(),
            vec![("content-type", "application/json".into())],
            Some("{\"body\": \"hi\", \"postId\": 999}".into()),
            422,
        ),
        (
            Method::GET,
            "/api/v1/auth/me".into(),
            vec![("authorization", "Bearer nope".into())],
            None,
            401,
        ),
        (
            Method::PATCH,
            post_path.clone(),
            vec![
                ("content-type", "application/json".into()),
                ("authorization", String::new()),
            ],
            Some("{}".into()),
            401,
        ),
    ];
    for (method, path, headers, body, expected) in cases {
        let mut request = server.request(method.clone(), &path);
        let mut has_authorization = false;
        for (name, value) in &headers {
            has_authorization |= *name == "authorization";
            if !(*name == "authorization" && value.is_empty()) {
                request = request.header(*name, value.as_str());
            }
        }
        if !has_authorization {
            request = request.header("authorization", auth.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let reply = request.reply().await;
        assert_eq!(
            reply.status, expected,
            "{method} {path} {headers:?}: {}",
            reply.text
        );
        assert_documented(&document, &method, &path, &reply);
    }
}

async fn integers_follow_json_schema(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let post = published_post(server, &ada, "numbers").await;
    // JSON Schema's `integer` counts 7.0 as 7: so does the server.
    let comment = server
        .create(
            "/api/v1/comments",
            ada.token(),
            &json!({ "body": "whole", "postId": post as f64 }),
        )
        .await;
    assert_eq!(comment["postId"], json!(post));
    for (bad, code) in [
        (json!(post as f64 + 0.5), "invalid_type"),
        (json!(2_147_483_648_i64), "out_of_range"),
        (json!(-2_147_483_649_i64), "out_of_range"),
        (json!(1e300), "invalid_type"),
        (json!(post.to_string()), "invalid_type"),
    ] {
        let reply = server
            .post(
                "/api/v1/comments",
                ada.token(),
                &json!({ "body": "x", "postId": bad }),
            )
            .await;
        let problem = reply.validation_error_on("postId");
        let entry = problem["errors"]
            .as_array()
            .and_then(|errors| errors.iter().find(|entry| entry["field"] == "postId"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(entry["code"], code, "postId {bad}: {}", reply.text);
    }
    // Path ids: only the document's `int32` range and form.
    for id in ["2147483648", "-2147483649", "+1", " 1", "1e3", "01x"] {
        server
            .get(&format!("/api/v1/posts/{}", encode(id)), ada.token())
            .await
            .problem(400);
    }
    server
        .get("/api/v1/posts/-2147483648", ada.token())
        .await
        .problem(404);
}

async fn filter_values_are_validated_like_ids(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let post = published_post(server, &ada, "filtered").await;
    for query in [
        "id=abc",
        "id[in]=abc",
        &format!("id[in]={post},abc"),
        &format!("id[in]={post},"),
        "id[in]=2147483648",
        "id[gt]=1.5",
        "published=yes",
    ] {
        let reply = server
            .get(&format!("/api/v1/posts?{query}"), ada.token())
            .await;
        reply.problem(400);
    }
    let found = server
        .get(
            &format!("/api/v1/posts?id[in]={post},{}", post + 1),
            ada.token(),
        )
        .await;
    assert_eq!(found.ids(), vec![post.to_string()], "{}", found.text);
    let none = server.get("/api/v1/posts?id[in]=", ada.token()).await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert!(none.data().is_empty(), "an empty list matches nothing");
}

async fn list_parameters_are_exact(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    for slug in ["b-post", "a-post", "c-post"] {
        published_post(server, &ada, slug).await;
    }
    // A field named twice in `sort` counts once (the document's pattern allows it).
    let twice = server
        .get("/api/v1/posts?sort=slug,-slug", ada.token())
        .await;
    assert_eq!(twice.status, 200, "{}", twice.text);
    let slugs: Vec<&str> = twice
        .data()
        .iter()
        .filter_map(|row| row["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["a-post", "b-post", "c-post"]);
    for query in [
        "sort=",
        "sort=,slug",
        "sort=slug,",
        "sort=+slug",
        "sort=%20slug",
        "include=",
        "include=author,",
        "fields=",
        "fields=slug,,title",
        "limit=%205",
        "limit=0",
        "limit=101",
        "cursor=",
    ] {
        server
            .get(&format!("/api/v1/posts?{query}"), ada.token())
            .await
            .problem(400);
    }
    // `fields` keeps the key; a name given twice counts once.
    let page = server
        .get(
            "/api/v1/posts?fields=slug,slug&include=author,author",
            ada.token(),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    for row in page.data() {
        let mut keys: Vec<&String> = row
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        keys.sort();
        assert_eq!(keys, ["author", "id", "slug"], "{row}");
    }
}

async fn event_stream_answers_are_documented(server: &TestServer) {
    let document = document(server).await;
    let path = "/api/v1/tasks/events";
    // Every resource of todo is readable, so each has its stream, documented next to it.
    for resource in ["tasks", "categories", "users"] {
        let events = format!("/api/v1/{resource}/events");
        assert!(
            document["paths"][&events]["get"].is_object(),
            "{events} is documented"
        );
    }
    let operation = &document["paths"][path]["get"];
    assert!(
        operation["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "the 200 answer is text/event-stream: {}",
        operation["responses"]["200"]
    );
    let last_event_id = operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|parameter| match parameter["$ref"].as_str() {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap_or_default();
                document["components"]["parameters"][name].clone()
            }
            None => parameter.clone(),
        })
        .find(|parameter| parameter["name"] == "Last-Event-ID")
        .unwrap_or_else(|| panic!("Last-Event-ID is a documented parameter: {operation}"));
    assert_eq!(last_event_id["in"], "header", "{last_event_id}");

    let ada = server.register_named("ada@example.com", "Ada").await;
    let stream = server.subscribe(path, ada.token(), None).await;
    let statuses = documented_statuses(&document, &Method::GET, path);
    assert!(
        statuses.contains(&"200".to_string()),
        "GET {path} answered 200 but the document lists {statuses:?}"
    );
    drop(stream);
    let refusals = [
        (
            ada.access_token.as_str(),
            Some("abc"),
            400,
            "invalid_last_event_id",
        ),
        ("", None, 401, "authentication_required"),
        ("nope", None, 401, "invalid_token"),
    ];
    for (token, last_event_id, status, code) in refusals {
        let token = (!token.is_empty()).then_some(token);
        let reply = match server.open_events(path, token, last_event_id).await {
            Err(reply) => reply,
            Ok(_) => panic!("GET {path} with {token:?} and {last_event_id:?} is refused"),
        };
        let problem = reply.problem(status);
        assert_eq!(problem["code"], code, "{}", reply.text);
        assert_documented(&document, &Method::GET, path, &reply);
    }
}

async fn a_full_node_is_documented(server: &TestServer) {
    let document = document(server).await;
    let path = "/api/v1/tasks/events";
    let ada = server.register_named("ada@example.com", "Ada").await;
    let reply = match server.open_events(path, ada.token(), None).await {
        Err(reply) => reply,
        Ok(_) => panic!("a node that accepts no subscriber refuses this one"),
    };
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(
        reply.content_type().starts_with("application/problem+json"),
        "{:?}",
        reply.headers
    );
    assert_documented(&document, &Method::GET, path, &reply);
}

async fn uuid_values_are_checked_where_documented(server: &TestServer) {
    let document = document(server).await;
    assert_eq!(
        document["components"]["schemas"]["User"]["properties"]["id"]["format"],
        "uuid"
    );
    let ada = server.register_named("ada@example.com", "Ada").await;
    // (`/api/v1/users/events` is the event stream, not an id.)
    let path = "/api/v1/users/not-a-uuid";
    let reply = server.get(path, ada.token()).await;
    assert_eq!(reply.problem(400)["code"], "invalid_id", "{path}");
    assert_documented(&document, &Method::GET, path, &reply);
    for query in ["id=abc", "id[in]=abc", &format!("id[in]={},", ada.id)] {
        server
            .get(&format!("/api/v1/users?{query}"), ada.token())
            .await
            .problem(400);
    }
    // A piece of a UUID is text, not a UUID.
    let prefix = &ada.id[..8];
    for query in [
        format!("id[startsWith]={prefix}"),
        format!("id[contains]={}", &ada.id[9..13]),
        format!("id={}", ada.id.to_uppercase()),
        format!("id={}", ada.id),
    ] {
        let reply = server
            .get(&format!("/api/v1/users?{query}"), ada.token())
            .await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    }
    let mine = server
        .get(
            &format!("/api/v1/users?id[startsWith]={prefix}"),
            ada.token(),
        )
        .await;
    assert_eq!(mine.ids(), vec![ada.id.clone()]);
    let me = server
        .get(&format!("/api/v1/users/{}", ada.id), ada.token())
        .await;
    assert_eq!(id_of(me.json()), ada.id);
}

async fn decimals_accept_documented_forms_only(server: &TestServer) {
    let staff = server.register("staff@example.com", json!({})).await;
    server.set_role(&staff.id, "STAFF").await;
    // The document: a string of the pattern, or (in a request body) a JSON number.
    for (sku, price, stored) in [
        ("SKU-100", json!("12.50"), "12.5"),
        ("SKU-101", json!(7), "7"),
        ("SKU-102", json!(3.25), "3.25"),
    ] {
        let product = server
            .create(
                "/api/v1/products",
                staff.token(),
                &json!({ "sku": sku, "name": sku, "price": price }),
            )
            .await;
        assert_eq!(product["price"], stored, "{price}: {product}");
    }
    for price in [
        json!("+5"),
        json!(" 5"),
        json!("5."),
        json!(".5"),
        json!("1e3"),
    ] {
        let reply = server
            .post(
                "/api/v1/products",
                staff.token(),
                &json!({ "sku": "SKU-199", "name": "bad", "price": price }),
            )
            .await;
        reply.validation_error_on("price");
    }
    for query in ["price=%2B5", "price=5.", "price[gt]=abc"] {
        server
            .get(&format!("/api/v1/products?{query}"), staff.token())
            .await
            .problem(400);
    }
}
