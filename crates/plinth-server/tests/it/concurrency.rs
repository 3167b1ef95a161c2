//! Safe concurrent writes: ETags on reads, If-Match on PATCH and DELETE (412 when stale; of 50
//! racing PATCHes with one ETag exactly one wins), and Idempotency-Key on POST (a retry answers
//! the first result and creates nothing; a reused key with another body is refused).

use crate::harness::{concurrently, id_of, ReplyExt, TestServer};
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;

crate::scenarios!("todo" =>
    etags_and_if_match,
    fifty_racing_patches_one_winner,
    idempotent_creates,
    concurrent_retries_with_one_key_create_one_row,
);

async fn etags_and_if_match(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let created = server
        .post("/api/v1/tasks", ada.token(), &json!({ "title": "v1" }))
        .await;
    let id = id_of(created.json());
    let path = format!("/api/v1/tasks/{id}");
    let first = server.get(&path, ada.token()).await;
    let etag = first.header("etag").expect("GET has an ETag").to_string();
    assert!(etag.contains('"'), "an ETag is a quoted string: {etag}");
    let again = server.get(&path, ada.token()).await;
    assert_eq!(
        again.header("etag"),
        Some(etag.as_str()),
        "stable while unchanged"
    );

    // PATCH with the current ETag succeeds and changes it.
    let updated = server
        .request(Method::PATCH, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", &etag)
        .json(&json!({ "title": "v2" }))
        .reply()
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    let new_etag = server
        .get(&path, ada.token())
        .await
        .header("etag")
        .expect("ETag")
        .to_string();
    assert_ne!(new_etag, etag, "the ETag changes with the row");
    if let Some(returned) = updated.header("etag") {
        assert_eq!(returned, new_etag, "PATCH answers the new ETag");
    }

    // The old ETag is now stale: 412, and nothing changes.
    let stale = server
        .request(Method::PATCH, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", &etag)
        .json(&json!({ "title": "lost update" }))
        .reply()
        .await;
    stale.problem(412);
    let stale_delete = server
        .request(Method::DELETE, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", &etag)
        .reply()
        .await;
    stale_delete.problem(412);
    let garbage = server
        .request(Method::PATCH, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", "\"not-an-etag\"")
        .json(&json!({ "title": "lost update" }))
        .reply()
        .await;
    garbage.problem(412);
    let current = server.get(&path, ada.token()).await;
    assert_eq!(current.json()["title"], "v2");

    // `*` matches any current version.
    let star = server
        .request(Method::PATCH, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", "*")
        .json(&json!({ "title": "v3" }))
        .reply()
        .await;
    assert_eq!(star.status, 200, "{}", star.text);

    // DELETE with the current ETag works.
    let latest = server
        .get(&path, ada.token())
        .await
        .header("etag")
        .expect("ETag")
        .to_string();
    let deleted = server
        .request(Method::DELETE, &path)
        .bearer_auth(&ada.access_token)
        .header("if-match", &latest)
        .reply()
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    // If-Match on a row the caller cannot see is a 404, not a 412 (nothing to compare with).
    let bob = server.register_named("bob@example.com", "Bob").await;
    let other = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "Ada's" }))
        .await;
    let hidden = server
        .request(Method::PATCH, &format!("/api/v1/tasks/{}", id_of(&other)))
        .bearer_auth(&bob.access_token)
        .header("if-match", "\"anything\"")
        .json(&json!({ "title": "x" }))
        .reply()
        .await;
    hidden.problem(404);
}

async fn fifty_racing_patches_one_winner(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "contested" }),
        )
        .await;
    let path = format!("/api/v1/tasks/{}", id_of(&task));
    let etag = server
        .get(&path, ada.token())
        .await
        .header("etag")
        .expect("ETag")
        .to_string();
    let remote = server.remote();
    let token = ada.access_token.clone();
    let replies = concurrently(50, |index| {
        let remote = remote.clone();
        let token = token.clone();
        let path = path.clone();
        let etag = etag.clone();
        async move {
            remote
                .request(Method::PATCH, &path)
                .bearer_auth(token)
                .header("if-match", etag)
                .json(&json!({ "title": format!("writer {index}") }))
                .reply()
                .await
        }
    })
    .await;
    let winners: Vec<_> = replies.iter().filter(|reply| reply.status == 200).collect();
    let losers = replies.iter().filter(|reply| reply.status == 412).count();
    let others: Vec<_> = replies
        .iter()
        .filter(|reply| reply.status != 200 && reply.status != 412)
        .map(|reply| format!("{} {}", reply.status, reply.text))
        .collect();
    assert!(others.is_empty(), "only 200 or 412: {others:?}");
    assert_eq!(winners.len(), 1, "exactly one PATCH wins, {losers} lost");
    assert_eq!(losers, 49);
    for reply in replies.iter().filter(|reply| reply.status == 412) {
        reply.problem(412);
    }
    let final_title = server.get(&path, ada.token()).await.json()["title"].clone();
    assert_eq!(
        final_title,
        winners[0].json()["title"],
        "the stored row is the winner's"
    );
}

async fn idempotent_creates(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let post = |key: &'static str, title: &'static str, token: String| async move {
        server
            .request(Method::POST, "/api/v1/tasks")
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "title": title }))
            .reply()
            .await
    };
    let first = post("key-1", "once", ada.access_token.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let retry = post("key-1", "once", ada.access_token.clone()).await;
    assert_eq!(
        retry.status, first.status,
        "a retry answers the first status"
    );
    assert_eq!(retry.json(), first.json(), "and the first body");
    assert_eq!(retry.header("location"), first.header("location"));
    let rows = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(rows.data().len(), 1, "one row: {}", rows.text);

    // The same key with another body is refused and creates nothing.
    let conflicting = post("key-1", "something else", ada.access_token.clone()).await;
    assert!(
        matches!(conflicting.status, 409 | 422 | 400),
        "a reused key with another body is a 4xx, got {}: {}",
        conflicting.status,
        conflicting.text
    );
    conflicting.problem_any();
    assert_eq!(
        server.get("/api/v1/tasks", ada.token()).await.data().len(),
        1
    );

    // Another key is another create.
    let second = post("key-2", "once", ada.access_token.clone()).await;
    assert_eq!(second.status, 201);
    assert_ne!(second.json()["id"], first.json()["id"]);

    // Another user's identical key is theirs alone: never Ada's answer.
    let bob = server.register_named("bob@example.com", "Bob").await;
    let bobs = post("key-1", "once", bob.access_token.clone()).await;
    assert!(
        !bobs
            .text
            .contains(first.json()["id"].as_str().unwrap_or("?")),
        "Bob must not get Ada's row through her key: {}",
        bobs.text
    );
    if bobs.status == 201 {
        assert_eq!(bobs.json()["ownerId"], bob.id_value);
    } else {
        bobs.problem_any();
    }
    assert_eq!(
        server.get("/api/v1/tasks", ada.token()).await.data().len(),
        2
    );

    // Validation still applies to keyed creates.
    let invalid = server
        .request(Method::POST, "/api/v1/tasks")
        .bearer_auth(&ada.access_token)
        .header("idempotency-key", "key-3")
        .json(&json!({ "title": "" }))
        .reply()
        .await;
    invalid.problem(422);
}

async fn concurrent_retries_with_one_key_create_one_row(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let remote = server.remote();
    let token = ada.access_token.clone();
    let replies = concurrently(10, |_| {
        let remote = remote.clone();
        let token = token.clone();
        async move {
            remote
                .request(Method::POST, "/api/v1/tasks")
                .bearer_auth(token)
                .header("idempotency-key", "burst-key")
                .json(&json!({ "title": "burst" }))
                .reply()
                .await
        }
    })
    .await;
    let created_ids: HashSet<String> = replies
        .iter()
        .filter(|reply| reply.status == 201)
        .map(|reply| id_of(reply.json()))
        .collect();
    assert_eq!(
        created_ids.len(),
        1,
        "every 201 names the same row: {created_ids:?}"
    );
    for reply in replies.iter().filter(|reply| reply.status != 201) {
        // A retry that races the first may be told to come back (409), never a 5xx.
        assert_eq!(reply.status, 409, "{}", reply.text);
        reply.problem(409);
    }
    let rows = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(
        rows.ids().into_iter().collect::<HashSet<_>>(),
        created_ids,
        "one row"
    );
}
