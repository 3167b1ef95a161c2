//! Bad request bodies of every kind get a 4xx problem, and a 422 names each invalid field:
//! malformed JSON, wrong content types, invalid UTF-8, oversized bodies, wrong types, missing
//! required fields, schema validations, enums and unknown fields. Injection text is data.

use crate::harness::{id_of, ReplyExt, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

crate::scenarios!("todo" =>
    malformed_bodies_are_client_errors,
    oversized_bodies_are_413,
    wrong_types_and_missing_fields_are_422,
    schema_validations_are_422,
    unknown_and_server_filled_fields_are_422,
    injection_text_is_stored_literally,
    odd_unicode_never_crashes,
);

crate::scenarios!("blog" =>
    regex_and_unique_violations,
);

async fn raw_post(
    server: &TestServer,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> crate::harness::Reply {
    let mut request = server
        .request(Method::POST, path)
        .bearer_auth(token)
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.reply().await
}

async fn task_count(server: &TestServer, token: Option<&str>) -> usize {
    server
        .get("/api/v1/tasks?limit=100", token)
        .await
        .data()
        .len()
}

async fn malformed_bodies_are_client_errors(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let token = ada.access_token.clone();
    let json_type = Some("application/json");
    let cases: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        ("truncated JSON", json_type, br#"{"title": "#.to_vec()),
        (
            "trailing garbage",
            json_type,
            br#"{"title": "a"} xyz"#.to_vec(),
        ),
        ("single quotes", json_type, br#"{'title': 'a'}"#.to_vec()),
        ("empty body", json_type, Vec::new()),
        (
            "array instead of object",
            json_type,
            br#"[{"title": "a"}]"#.to_vec(),
        ),
        ("bare string", json_type, br#""a""#.to_vec()),
        ("null", json_type, b"null".to_vec()),
        (
            "invalid UTF-8",
            json_type,
            b"{\"title\": \"\xff\xfe\"}".to_vec(),
        ),
        (
            "lone surrogate escape",
            json_type,
            br#"{"title": "\ud800"}"#.to_vec(),
        ),
        (
            "deep nesting",
            json_type,
            format!(
                "{{\"title\": {}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )
            .into_bytes(),
        ),
        (
            "text/plain",
            Some("text/plain"),
            br#"{"title": "a"}"#.to_vec(),
        ),
        (
            "form",
            Some("application/x-www-form-urlencoded"),
            b"title=a".to_vec(),
        ),
        ("no content type", None, br#"{"title": "a"}"#.to_vec()),
        (
            "duplicate keys",
            json_type,
            br#"{"title": "a", "title": 5}"#.to_vec(),
        ),
    ];
    for (name, content_type, body) in cases {
        let reply = raw_post(server, "/api/v1/tasks", &token, content_type, body).await;
        assert!(
            (400..500).contains(&reply.status),
            "{name}: expected a 4xx, got {}: {}",
            reply.status,
            reply.text
        );
        reply.problem_any();
        if name == "text/plain" || name == "form" || name == "no content type" {
            assert!(
                matches!(reply.status, 400 | 415),
                "{name}: a wrong content type is 415 (or 400): {}",
                reply.text
            );
        }
        if name == "truncated JSON" || name == "invalid UTF-8" {
            assert!(matches!(reply.status, 400 | 422), "{name}: {}", reply.text);
        }
    }
    // `application/json; charset=utf-8` is JSON.
    let with_charset = raw_post(
        server,
        "/api/v1/tasks",
        &token,
        Some("application/json; charset=utf-8"),
        br#"{"title": "charset"}"#.to_vec(),
    )
    .await;
    assert_eq!(with_charset.status, 201, "{}", with_charset.text);
    assert_eq!(
        task_count(server, ada.token()).await,
        1,
        "only the valid request created a row"
    );

    // The same on PATCH and on register.
    let id = id_of(with_charset.json());
    let patch = server
        .request(Method::PATCH, &format!("/api/v1/tasks/{id}"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"done": tru"#)
        .reply()
        .await;
    patch.problem_any();
    let register = server
        .request(Method::POST, "/api/v1/auth/register")
        .header("content-type", "application/json")
        .body(r#"{"email": "#)
        .reply()
        .await;
    register.problem_any();
}

async fn oversized_bodies_are_413(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let huge = format!(
        "{{\"title\": \"t\", \"notes\": \"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    // Raw connections: the server may answer 413 and close before the upload ends, which an
    // HTTP client library reports as a broken pipe instead of the answer.
    let mut request = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        ada.access_token,
        huge.len()
    )
    .into_bytes();
    request.extend_from_slice(huge.as_bytes());
    let (status, text) = crate::harness::raw_http(server, &request).await;
    assert_eq!(status, 413, "declared oversized body: {text}");
    assert!(text.contains("application/problem+json"), "{text}");
    // Also when the length is not declared up front (chunked transfer encoding).
    let mut request = format!(
        "POST /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        ada.access_token
    )
    .into_bytes();
    for chunk in huge.as_bytes().chunks(64 * 1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = crate::harness::raw_http(server, &request).await;
    assert_eq!(status, 413, "chunked oversized body: {text}");
    let big_email = format!(
        "{{\"email\": \"{}@example.com\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let mut request = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        big_email.len()
    )
    .into_bytes();
    request.extend_from_slice(big_email.as_bytes());
    let (status, text) = crate::harness::raw_http(server, &request).await;
    assert_eq!(status, 413, "oversized register: {text}");
    assert_eq!(task_count(server, ada.token()).await, 0);
    // The server is fine afterwards.
    let after = server
        .post("/api/v1/tasks", ada.token(), &json!({ "title": "after" }))
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
}

async fn wrong_types_and_missing_fields_are_422(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({ "title": 123 }), &["title"]),
        (json!({ "title": true }), &["title"]),
        (json!({ "title": ["a"] }), &["title"]),
        (json!({ "title": { "$gt": "" } }), &["title"]),
        (json!({ "title": "ok", "done": "yes" }), &["done"]),
        (json!({ "title": "ok", "done": 1 }), &["done"]),
        (json!({ "title": "ok", "dueAt": "tomorrow" }), &["dueAt"]),
        (json!({ "title": "ok", "dueAt": 1700000000 }), &["dueAt"]),
        (
            json!({ "title": "ok", "dueAt": "2030-02-30T00:00:00Z" }),
            &["dueAt"],
        ),
        (json!({ "title": "ok", "notes": [] }), &["notes"]),
        (json!({ "notes": "no title" }), &["title"]),
        (json!({}), &["title"]),
        (json!({ "title": null }), &["title"]),
        // Several problems at once: each is named.
        (
            json!({ "title": 5, "done": "no", "dueAt": false }),
            &["title", "done", "dueAt"],
        ),
    ];
    for (body, fields) in cases {
        let reply = server.post("/api/v1/tasks", ada.token(), &body).await;
        let problem = reply.problem(422);
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|errors| !errors.is_empty()),
            "422 has per-field errors: {}",
            reply.text
        );
        for field in fields {
            assert!(
                crate::harness::errors_mention(problem, field),
                "{body}: `errors` should name `{field}`: {}",
                reply.text
            );
        }
    }
    assert_eq!(
        task_count(server, ada.token()).await,
        0,
        "nothing was stored"
    );

    // The same checks on PATCH.
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "valid" }))
        .await;
    let path = format!("/api/v1/tasks/{}", id_of(&task));
    for (body, field) in [
        (json!({ "done": "yes" }), "done"),
        (json!({ "title": 7 }), "title"),
        (json!({ "dueAt": "not a date" }), "dueAt"),
    ] {
        server
            .patch(&path, ada.token(), &body)
            .await
            .validation_error_on(field);
    }
    let unchanged = server.get(&path, ada.token()).await;
    assert_eq!(unchanged.json()["title"], "valid");
    assert_eq!(unchanged.json()["done"], false);
}

async fn schema_validations_are_422(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    // @length(1, 200) on title, @length(0, 2000) on notes.
    server
        .post("/api/v1/tasks", ada.token(), &json!({ "title": "" }))
        .await
        .validation_error_on("title");
    server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "x".repeat(201) }),
        )
        .await
        .validation_error_on("title");
    server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "ok", "notes": "n".repeat(2001) }),
        )
        .await
        .validation_error_on("notes");
    // The boundaries are allowed, counted in characters, not bytes.
    let longest = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "x".repeat(200) }),
        )
        .await;
    assert_eq!(longest.status, 201, "{}", longest.text);
    let multibyte = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "é".repeat(200) }),
        )
        .await;
    assert_eq!(
        multibyte.status, 201,
        "200 characters of 2 bytes each fit: {}",
        multibyte.text
    );
    let emoji = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "🚀".repeat(201) }),
        )
        .await;
    emoji.validation_error_on("title");

    // @email on register, @length on the user's name.
    for email in ["plain", "@example.com", "a@", "a b@example.com"] {
        server
            .post(
                "/api/v1/auth/register",
                None,
                &json!({ "email": email, "password": crate::harness::PASSWORD, "name": "X" }),
            )
            .await
            .validation_error_on("email");
    }
    server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "empty@example.com", "password": crate::harness::PASSWORD, "name": "" }),
        )
        .await
        .validation_error_on("name");

    // Enums: an admin changing a role to something that is not a Role.
    let bob = server.register_named("bob@example.com", "Bob").await;
    server.set_role(&ada.id, "ADMIN").await;
    for role in [json!("SUPERUSER"), json!("admin"), json!(1), json!(null)] {
        server
            .patch(
                &format!("/api/v1/users/{}", bob.id),
                ada.token(),
                &json!({ "role": role }),
            )
            .await
            .validation_error_on("role");
    }
    let bob_now = server.get("/api/v1/auth/me", bob.token()).await;
    assert_eq!(bob_now.json()["role"], "USER");
    // And an enum filter with an unknown value is a 400.
    server
        .get("/api/v1/users?role=SUPERUSER", ada.token())
        .await
        .problem(400);
    let admins = server.get("/api/v1/users?role=ADMIN", ada.token()).await;
    assert_eq!(admins.ids(), vec![ada.id.clone()]);
}

async fn unknown_and_server_filled_fields_are_422(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    for (body, field) in [
        (json!({ "title": "ok", "priority": 5 }), "priority"),
        (json!({ "title": "ok", "Title": "case matters" }), "Title"),
        (json!({ "title": "ok", "owner": { "id": "x" } }), "owner"),
        (json!({ "title": "ok", "id": "my-own-id" }), "id"),
        (json!({ "title": "ok", "ownerId": ada.id }), "ownerId"),
        (
            json!({ "title": "ok", "createdAt": "2000-01-01T00:00:00.000Z" }),
            "createdAt",
        ),
        (
            json!({ "title": "ok", "updatedAt": "2000-01-01T00:00:00.000Z" }),
            "updatedAt",
        ),
    ] {
        server
            .post("/api/v1/tasks", ada.token(), &body)
            .await
            .validation_error_on(field);
    }
    assert_eq!(
        task_count(server, ada.token()).await,
        0,
        "never silently stored"
    );
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "ok" }))
        .await;
    let path = format!("/api/v1/tasks/{}", id_of(&task));
    for (body, field) in [
        (json!({ "priority": 5 }), "priority"),
        (json!({ "id": "other-id" }), "id"),
        (
            json!({ "createdAt": "2000-01-01T00:00:00.000Z" }),
            "createdAt",
        ),
    ] {
        let reply = server.patch(&path, ada.token(), &body).await;
        reply.validation_error_on(field);
    }
    let unchanged = server.get(&path, ada.token()).await;
    assert_eq!(unchanged.json()["createdAt"], task["createdAt"]);
    assert_eq!(unchanged.json()["id"], task["id"]);
    // Register refuses fields that are not its own too.
    server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "z@example.com", "password": crate::harness::PASSWORD, "name": "Z", "isAdmin": true }),
        )
        .await
        .validation_error_on("isAdmin");
}

async fn injection_text_is_stored_literally(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let payloads = [
        "' OR 1=1 --",
        "'; DROP TABLE \"Task\"; --",
        "\"; DROP TABLE users; --",
        "{\"$gt\": \"\"}",
        "1; SELECT pg_sleep(5)",
        "<script>alert(1)</script>",
        "${jndi:ldap://x/a}",
        "../../etc/passwd",
        "%00%27",
    ];
    for payload in payloads {
        let created = server
            .post(
                "/api/v1/tasks",
                ada.token(),
                &json!({ "title": payload, "notes": payload }),
            )
            .await;
        assert_eq!(created.status, 201, "{payload}: {}", created.text);
        let id = id_of(created.json());
        let read = server
            .get(&format!("/api/v1/tasks/{id}"), ada.token())
            .await;
        assert_eq!(read.json()["title"], payload);
        assert_eq!(read.json()["notes"], payload);
    }
    // As login input.
    let login = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "' OR 1=1 --", "password": "' OR 1=1 --" }),
        )
        .await;
    assert!(matches!(login.status, 401 | 422), "{}", login.text);
    login.problem_any();
    let login = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": { "$gt": "" }, "password": { "$gt": "" } }),
        )
        .await;
    assert!(matches!(login.status, 400 | 401 | 422), "{}", login.text);
    login.problem_any();
    // In path ids.
    for id in ["' OR 1=1 --", "1 OR 1=1", "%27%20OR%201%3D1"] {
        let reply = server
            .get(
                &format!("/api/v1/tasks/{}", crate::harness::encode(id)),
                ada.token(),
            )
            .await;
        assert!(matches!(reply.status, 400 | 404), "{id}: {}", reply.text);
        reply.problem_any();
    }
    assert_eq!(
        task_count(server, ada.token()).await,
        payloads.len(),
        "the table survived"
    );
}

async fn odd_unicode_never_crashes(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let texts = [
        "zero\u{200B}width",
        "right\u{202E}to left",
        "combining e\u{0301}",
        "🏳️‍🌈 family 👨‍👩‍👧‍👦",
        "\u{FEFF}bom",
        "line\nbreak\ttab",
        "\u{10FFFF} last code point",
        "NUL \u{0000} inside",
    ];
    for text in texts {
        let reply = server
            .post("/api/v1/tasks", ada.token(), &json!({ "title": text }))
            .await;
        match reply.status {
            201 => {
                let id = id_of(reply.json());
                let read = server
                    .get(&format!("/api/v1/tasks/{id}"), ada.token())
                    .await;
                assert_eq!(read.json()["title"], text, "stored byte for byte");
                let found = server
                    .get(
                        &format!("/api/v1/tasks?title={}", crate::harness::encode(text)),
                        ada.token(),
                    )
                    .await;
                assert_eq!(found.ids(), vec![id], "{text:?} filters to itself");
            }
            _ => {
                // Refusing text a database cannot hold (NUL on PostgreSQL) is fine, as a 422.
                reply.validation_error_on("title");
            }
        }
    }
}

async fn regex_and_unique_violations(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    for slug in [
        "Has Caps",
        "trailing-",
        "-leading",
        "double--dash",
        "spa ce",
        "ünï",
    ] {
        server
            .post(
                "/api/v1/posts",
                ada.token(),
                &json!({ "title": "T", "slug": slug, "body": "b" }),
            )
            .await
            .validation_error_on("slug");
    }
    let first = server
        .post(
            "/api/v1/posts",
            ada.token(),
            &json!({ "title": "T", "slug": "my-post-1", "body": "b" }),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = server
        .post(
            "/api/v1/posts",
            ada.token(),
            &json!({ "title": "T2", "slug": "my-post-1", "body": "b2" }),
        )
        .await;
    again.problem(409);
    // Updating into a conflict is a 409 too.
    let second = server
        .create(
            "/api/v1/posts",
            ada.token(),
            &json!({ "title": "T3", "slug": "my-post-2", "body": "b3" }),
        )
        .await;
    server
        .patch(
            &format!("/api/v1/posts/{}", id_of(&second)),
            ada.token(),
            &json!({ "slug": "my-post-1" }),
        )
        .await
        .problem(409);
    // An Int id that is not a number is a client error.
    let reply = server.get("/api/v1/posts/not-a-number", ada.token()).await;
    assert!(matches!(reply.status, 400 | 404), "{}", reply.text);
    reply.problem_any();
    let reply = server
        .get("/api/v1/posts/99999999999999999999999", ada.token())
        .await;
    assert!(matches!(reply.status, 400 | 404), "{}", reply.text);
    // A foreign key to nothing is a 422, never a 500.
    let comment = server
        .post(
            "/api/v1/comments",
            ada.token(),
            &json!({ "body": "orphan", "postId": 987654 }),
        )
        .await;
    assert!(
        matches!(comment.status, 403 | 404 | 422),
        "{}",
        comment.text
    );
    comment.problem_any();
}
