//! The error format everywhere: RFC 9457 problem+json with `code` and `trace_id` for unknown
//! routes, wrong methods, unique conflicts, foreign keys and raw protocol abuse; no internals in
//! any body.

use crate::harness::{id_of, ReplyExt, TestServer};
use reqwest::Method;
use serde_json::json;

crate::scenarios!("todo" =>
    unknown_routes_are_404_problems,
    wrong_methods_are_problems,
    unique_conflicts_are_409,
    dangling_foreign_keys_are_422,
    trace_ids_differ_per_request,
    broken_http_is_refused_cleanly,
);

async fn unknown_routes_are_404_problems(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v1/task",
        "/api/v2/tasks",
        "/api/v1/tasks/x/y",
        "/api/v1/auth/nope",
        "/api/v1/",
        "/api/v1/Tasks",
    ] {
        for token in [None, ada.token()] {
            let reply = server.get(path, token).await;
            let problem = reply.problem(404);
            assert!(problem["title"]
                .as_str()
                .is_some_and(|title| !title.is_empty()));
        }
    }
}

async fn wrong_methods_are_problems(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "t" }))
        .await;
    for (method, path) in [
        (Method::DELETE, "/api/v1/tasks".to_string()),
        (Method::PUT, format!("/api/v1/tasks/{}", id_of(&task))),
        (Method::POST, format!("/api/v1/tasks/{}", id_of(&task))),
        (Method::GET, "/api/v1/auth/login".to_string()),
        (Method::POST, "/healthz".to_string()),
    ] {
        let reply = server
            .request(method.clone(), &path)
            .bearer_auth(&ada.access_token)
            .header("content-type", "application/json")
            .body("{}")
            .reply()
            .await;
        assert!(
            matches!(reply.status, 404 | 405),
            "{method} {path}: expected 405 (or 404), got {}: {}",
            reply.status,
            reply.text
        );
        reply.problem_any();
    }
    // The task is untouched.
    let still = server
        .get(&format!("/api/v1/tasks/{}", id_of(&task)), ada.token())
        .await;
    assert_eq!(still.status, 200);
}

async fn unique_conflicts_are_409(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let duplicate = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "ada@example.com", "password": crate::harness::PASSWORD, "name": "Ada 2" }),
        )
        .await;
    let problem = duplicate.problem(409);
    assert!(
        !duplicate.text.contains("User_email"),
        "no constraint names: {}",
        duplicate.text
    );
    let _ = problem;

    // @@unique([ownerId, name]): the same name twice for one owner conflicts...
    let home = server
        .create(
            "/api/v1/categories",
            ada.token(),
            &json!({ "name": "Home" }),
        )
        .await;
    server
        .post(
            "/api/v1/categories",
            ada.token(),
            &json!({ "name": "Home" }),
        )
        .await
        .problem(409);
    // ...but another owner may use it.
    let bobs = server
        .post(
            "/api/v1/categories",
            bob.token(),
            &json!({ "name": "Home" }),
        )
        .await;
    assert_eq!(bobs.status, 201, "{}", bobs.text);
    // Renaming into a conflict is a 409 and changes nothing.
    let work = server
        .create(
            "/api/v1/categories",
            ada.token(),
            &json!({ "name": "Work" }),
        )
        .await;
    server
        .patch(
            &format!("/api/v1/categories/{}", id_of(&work)),
            ada.token(),
            &json!({ "name": "Home" }),
        )
        .await
        .problem(409);
    let unchanged = server
        .get(&format!("/api/v1/categories/{}", id_of(&work)), ada.token())
        .await;
    assert_eq!(unchanged.json()["name"], "Work");
    let ada_categories = server.get("/api/v1/categories", ada.token()).await;
    assert_eq!(ada_categories.data().len(), 2);
    let _ = home;

    // A user changing their email to a taken one: 409 as well.
    server
        .patch(
            &format!("/api/v1/users/{}", bob.id),
            bob.token(),
            &json!({ "email": "ada@example.com" }),
        )
        .await
        .problem(409);
}

async fn dangling_foreign_keys_are_422(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let reply = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "t", "categoryId": "c00000000000000000nothing" }),
        )
        .await;
    reply.problem(422);
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "t" }))
        .await;
    server
        .patch(
            &format!("/api/v1/tasks/{}", id_of(&task)),
            ada.token(),
            &json!({ "categoryId": "c00000000000000000nothing" }),
        )
        .await
        .problem(422);
    assert_eq!(
        server.get("/api/v1/tasks", ada.token()).await.data().len(),
        1
    );
    // Last: the 422 names the field, like every validation error.
    let problem = reply.json();
    assert!(
        crate::harness::errors_mention(problem, "categoryId")
            || problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("categoryId")),
        "the problem names the field: {}",
        reply.text
    );
}

async fn trace_ids_differ_per_request(server: &TestServer) {
    let first = server.get("/api/v1/nope", None).await;
    let second = server.get("/api/v1/nope", None).await;
    let first_id = first.problem(404)["trace_id"].clone();
    let second_id = second.problem(404)["trace_id"].clone();
    assert_ne!(first_id, second_id, "each request has its own trace id");
    assert!(
        first.header("x-request-id").is_some(),
        "{:?}",
        first.headers
    );
}

async fn broken_http_is_refused_cleanly(server: &TestServer) {
    let (status, _) = crate::harness::raw_http(
        server,
        b"GET /api/v1/tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 401);
    // The server still serves afterwards.
    let health = server.get("/healthz", None).await;
    assert_eq!(health.status, 200);
}
