//! Nothing acknowledged is lost: a burst of creates, the server killed mid-burst (its runtime
//! dropped, no graceful shutdown), a new server on the same database — every create that was
//! answered 201 is there. Restarts keep data and sessions; a different schema on the same
//! database is refused rather than altered.

use crate::harness::{id_of, TestServer};
use reqwest::Method;
use serde_json::json;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

crate::scenarios!(owned "todo" =>
    acknowledged_creates_survive_a_kill,
    restart_keeps_data_and_sessions,
    a_different_schema_is_refused,
);

async fn acknowledged_creates_survive_a_kill(mut server: TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let remote = server.remote();
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..80 {
        let remote = remote.clone();
        let token = ada.access_token.clone();
        let answered = Arc::clone(&answered);
        tasks.spawn(async move {
            // Spread over time so the kill lands mid-burst.
            tokio::time::sleep(Duration::from_millis((index % 40) * 3)).await;
            let response = remote
                .request(Method::POST, "/api/v1/tasks")
                .bearer_auth(token)
                .json(&json!({ "title": format!("burst {index}") }))
                .send()
                .await
                .ok()?;
            if response.status().as_u16() != 201 {
                return None;
            }
            let body: serde_json::Value = response.json().await.ok()?;
            answered.fetch_add(1, Ordering::SeqCst);
            Some(id_of(&body))
        });
    }
    // Kill once a few creates are acknowledged and the rest are still in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while answered.load(Ordering::SeqCst) < 8 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill();
    let mut acknowledged = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(Some(id)) = joined {
            acknowledged.insert(id);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "some creates were acknowledged before the kill"
    );

    let source = server.schema_source.clone();
    server
        .restart_with_source(&source)
        .await
        .expect("a new server starts on the same database");
    let stored: HashSet<String> = server
        .list_all("/api/v1/tasks?limit=100", ada.token())
        .await
        .iter()
        .map(id_of)
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:?}");
    for id in acknowledged.iter().take(5) {
        let reply = server
            .get(&format!("/api/v1/tasks/{id}"), ada.token())
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.json()["title"]
            .as_str()
            .is_some_and(|title| title.starts_with("burst ")));
    }
    // And the new server takes writes.
    let after = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "after restart" }),
        )
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
    server.finish().await;
}

async fn restart_keeps_data_and_sessions(mut server: TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "persisted", "dueAt": "2030-01-02T03:04:05.678Z" }),
        )
        .await;
    server.stop().await;
    let source = server.schema_source.clone();
    server
        .restart_with_source(&source)
        .await
        .expect("restarts on its own database");
    let read = server
        .get(&format!("/api/v1/tasks/{}", id_of(&task)), ada.token())
        .await;
    assert_eq!(
        read.status, 200,
        "the access token is still valid: {}",
        read.text
    );
    assert_eq!(
        read.json(),
        &task,
        "the row is byte-identical after a restart"
    );
    let refreshed = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": ada.refresh_token }),
        )
        .await;
    assert_eq!(
        refreshed.status, 200,
        "refresh tokens survive restarts: {}",
        refreshed.text
    );
    let login = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "ada@example.com", "password": crate::harness::PASSWORD }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    server.finish().await;
}

async fn a_different_schema_is_refused(mut server: TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "keep me" }))
        .await;
    server.stop().await;
    let changed = server.schema_source.replace(
        "notes      String?   @length(0, 2000)",
        "notes      String?   @length(0, 2000)\n  priority   Int       @default(0)",
    );
    assert_ne!(
        changed, server.schema_source,
        "the schema was changed for the test"
    );
    let refused = server.restart_with_source(&changed).await;
    let message = refused.expect_err("a server must refuse a database that holds another schema");
    assert!(
        message.contains("migrate") || message.to_ascii_lowercase().contains("schema"),
        "the refusal explains itself: {message}"
    );
    let blog = crate::harness::example_source("blog");
    assert!(
        server.restart_with_source(&blog).await.is_err(),
        "another example entirely is refused"
    );
    // The original schema still starts, with the data intact.
    let source = server.schema_source.clone();
    server
        .restart_with_source(&source)
        .await
        .expect("the original schema starts");
    let read = server
        .get(&format!("/api/v1/tasks/{}", id_of(&task)), ada.token())
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json()["title"], "keep me");
    server.finish().await;
}
