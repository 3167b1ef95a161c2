//! Create, read, list, update and delete on the todo example, as one user, with the response
//! shapes the conventions promise (201 + Location + ETag, list envelope, 204, 404 after delete).

use crate::harness::{id_of, TestServer};
use serde_json::{json, Value};

crate::scenarios!("todo" =>
    register_answers_tokens_and_user,
    task_lifecycle,
    datetime_and_optional_fields_round_trip,
    auth_model_is_an_ordinary_resource,
    category_include_embeds_related_row,
);

/// Every readable field of a todo task, the way the API writes them.
fn assert_task_shape(task: &Value) {
    for key in [
        "id",
        "title",
        "notes",
        "done",
        "dueAt",
        "ownerId",
        "categoryId",
        "createdAt",
        "updatedAt",
    ] {
        assert!(task.get(key).is_some(), "task lacks `{key}`: {task}");
    }
    assert!(task["id"].is_string(), "cuid ids are strings: {task}");
    assert!(task["done"].is_boolean(), "{task}");
    let created = task["createdAt"].as_str().unwrap_or("");
    assert!(
        is_rfc3339_utc_millis(created),
        "createdAt is RFC 3339 UTC with milliseconds: {created:?}"
    );
}

/// `2024-01-02T03:04:05.678Z`.
pub fn is_rfc3339_utc_millis(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 24
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'.'
        && bytes[23] == b'Z'
        && text
            .char_indices()
            .filter(|(index, _)| ![4, 7, 10, 13, 16, 19, 23].contains(index))
            .all(|(_, character)| character.is_ascii_digit())
}

async fn register_answers_tokens_and_user(server: &TestServer) {
    let reply = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "ada@example.com", "password": crate::harness::PASSWORD, "name": "Ada" }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(
        reply.content_type().starts_with("application/json"),
        "{}",
        reply.content_type()
    );
    let body = reply.json();
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{body}"
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 20),
        "{body}"
    );
    assert_ne!(body["access_token"], body["refresh_token"]);
    assert_eq!(body["token_type"], "Bearer");
    let expires_in = body["expires_in"].as_i64().unwrap_or(0);
    assert!(
        expires_in > 0 && expires_in <= 24 * 3600,
        "expires_in: {body}"
    );
    let user = &body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["name"], "Ada");
    assert_eq!(user["role"], "USER", "role keeps its default: {user}");
    assert!(user["id"].is_string(), "{user}");
    assert!(
        user.get("password").is_none(),
        "the password never leaves: {user}"
    );
    assert!(
        !reply.text.contains(crate::harness::PASSWORD),
        "{}",
        reply.text
    );
    assert!(
        !reply.text.contains("$argon2"),
        "no hash in the body: {}",
        reply.text
    );

    // The access token works at once.
    let me = server
        .get("/api/v1/auth/me", body["access_token"].as_str())
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], user["id"]);
}

async fn task_lifecycle(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;

    let created = server
        .post(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "Buy milk", "notes": "two litres" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let task = created.json().clone();
    assert_task_shape(&task);
    let id = id_of(&task);
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["notes"], "two litres");
    assert_eq!(task["done"], false, "default applied");
    assert_eq!(task["ownerId"], ada.id_value, "ownerId filled from auth()");
    assert!(task["dueAt"].is_null());
    let location = created
        .header("location")
        .expect("201 has Location")
        .to_string();
    assert!(
        location.ends_with(&format!("/api/v1/tasks/{id}")),
        "Location points at the new row: {location}"
    );
    assert!(created.header("etag").is_some(), "201 carries an ETag");

    // Location is followable (relative or absolute).
    let path = match location.find("/api/v1/") {
        Some(start) => location[start..].to_string(),
        None => panic!("Location without the API path: {location}"),
    };
    let fetched = server.get(&path, ada.token()).await;
    assert_eq!(fetched.status, 200, "{}", fetched.text);
    assert_eq!(fetched.json(), &task, "GET answers what POST answered");
    assert!(fetched.header("etag").is_some(), "GET carries an ETag");

    let second = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "Walk the dog" }),
        )
        .await;

    let list = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let mut ids = list.ids();
    ids.sort();
    let mut expected = vec![id.clone(), id_of(&second)];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        list.json()["next_cursor"].is_null(),
        "one page only: {}",
        list.text
    );
    for row in list.data() {
        assert_task_shape(row);
    }

    let patched = server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "done": true }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(patched.json()["done"], true);
    assert_eq!(
        patched.json()["title"],
        "Buy milk",
        "PATCH changes only what it names"
    );
    assert_eq!(patched.json()["notes"], "two litres");
    assert_eq!(patched.json()["createdAt"], task["createdAt"]);
    let again = server
        .get(&format!("/api/v1/tasks/{id}"), ada.token())
        .await;
    assert_eq!(again.json()["done"], true, "the change is stored");

    let deleted = server
        .delete(&format!("/api/v1/tasks/{id}"), ada.token())
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(
        deleted.bytes.is_empty(),
        "204 has no body: {:?}",
        deleted.text
    );
    server
        .get(&format!("/api/v1/tasks/{id}"), ada.token())
        .await
        .problem(404);
    server
        .delete(&format!("/api/v1/tasks/{id}"), ada.token())
        .await
        .problem(404);
    server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "done": false }),
        )
        .await
        .problem(404);
    let remaining = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(remaining.ids(), vec![id_of(&second)]);
}

async fn datetime_and_optional_fields_round_trip(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "Dentist", "dueAt": "2030-01-02T03:04:05.678Z", "notes": "bring card" }),
        )
        .await;
    assert_eq!(task["dueAt"], "2030-01-02T03:04:05.678Z");
    let id = id_of(&task);

    // An offset is accepted and normalised to UTC.
    let shifted = server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "dueAt": "2030-01-02T05:04:05.678+02:00" }),
        )
        .await;
    assert_eq!(shifted.status, 200, "{}", shifted.text);
    assert_eq!(shifted.json()["dueAt"], "2030-01-02T03:04:05.678Z");

    // null clears an optional field.
    let cleared = server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "notes": null, "dueAt": null }),
        )
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    assert!(cleared.json()["notes"].is_null(), "{}", cleared.text);
    assert!(cleared.json()["dueAt"].is_null(), "{}", cleared.text);
    let fetched = server
        .get(&format!("/api/v1/tasks/{id}"), ada.token())
        .await;
    assert!(fetched.json()["notes"].is_null());

    // null on a required field is a validation error, and nothing changes.
    server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "title": null }),
        )
        .await
        .validation_error_on("title");
    let unchanged = server
        .get(&format!("/api/v1/tasks/{id}"), ada.token())
        .await;
    assert_eq!(unchanged.json()["title"], "Dentist");

    // @updatedAt moves on update; createdAt does not.
    let before = unchanged.json().clone();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let touched = server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            ada.token(),
            &json!({ "title": "Dentist!" }),
        )
        .await;
    assert_eq!(touched.status, 200, "{}", touched.text);
    assert_eq!(touched.json()["createdAt"], before["createdAt"]);
    assert!(
        touched.json()["updatedAt"].as_str() > before["updatedAt"].as_str(),
        "updatedAt advances: {} -> {}",
        before["updatedAt"],
        touched.json()["updatedAt"]
    );

    // Unicode survives byte for byte.
    let text = "Ünïcödé ✓ 日本語 🚀 مرحبا";
    let unicode = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": text }))
        .await;
    let read = server
        .get(&format!("/api/v1/tasks/{}", id_of(&unicode)), ada.token())
        .await;
    assert_eq!(read.json()["title"], text);
}

async fn auth_model_is_an_ordinary_resource(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let row = server
        .get(&format!("/api/v1/users/{}", ada.id), ada.token())
        .await;
    assert_eq!(row.status, 200, "{}", row.text);
    assert_eq!(row.json()["email"], "ada@example.com");
    assert!(row.json().get("password").is_none(), "{}", row.text);

    let list = server.get("/api/v1/users", ada.token()).await;
    assert_eq!(
        list.ids(),
        vec![ada.id.clone()],
        "a user lists only themselves"
    );
    for user in list.data() {
        assert!(user.get("password").is_none(), "{user}");
    }

    let renamed = server
        .patch(
            &format!("/api/v1/users/{}", ada.id),
            ada.token(),
            &json!({ "name": "Ada Lovelace" }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json()["name"], "Ada Lovelace");
    assert!(renamed.json().get("password").is_none());

    // A new password set through the resource is hashed: login with it works.
    let changed = server
        .patch(
            &format!("/api/v1/users/{}", ada.id),
            ada.token(),
            &json!({ "password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert!(changed.json().get("password").is_none(), "{}", changed.text);
    let login = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "ada@example.com", "password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let old = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "ada@example.com", "password": crate::harness::PASSWORD }),
        )
        .await;
    old.problem(401);
}

async fn category_include_embeds_related_row(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let home = server
        .create(
            "/api/v1/categories",
            ada.token(),
            &json!({ "name": "Home" }),
        )
        .await;
    assert_eq!(home["ownerId"], ada.id_value);
    let task = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "Paint fence", "categoryId": home["id"] }),
        )
        .await;
    assert_eq!(task["categoryId"], home["id"]);
    let loose = server
        .create(
            "/api/v1/tasks",
            ada.token(),
            &json!({ "title": "Loose end" }),
        )
        .await;

    let with_category = server
        .get(
            &format!("/api/v1/tasks/{}?include=category", id_of(&task)),
            ada.token(),
        )
        .await;
    assert_eq!(with_category.status, 200, "{}", with_category.text);
    assert_eq!(with_category.json()["category"]["id"], home["id"]);
    assert_eq!(with_category.json()["category"]["name"], "Home");

    let listed = server
        .get("/api/v1/tasks?include=category&sort=title", ada.token())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let rows = listed.data();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id"], loose["id"]);
    assert!(
        rows[0]["category"].is_null(),
        "no category → null: {}",
        rows[0]
    );
    assert_eq!(rows[1]["category"]["name"], "Home");

    let categories = server
        .get("/api/v1/categories?include=tasks", ada.token())
        .await;
    assert_eq!(categories.status, 200, "{}", categories.text);
    let tasks = categories.data()[0]["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("to-many include is an array: {}", categories.text));
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["id"], task["id"]);

    // include=owner embeds the user without secrets.
    let with_owner = server
        .get(
            &format!("/api/v1/tasks/{}?include=owner", id_of(&task)),
            ada.token(),
        )
        .await;
    assert_eq!(with_owner.json()["owner"]["id"], ada.id_value);
    assert!(with_owner.json()["owner"].get("password").is_none());
}
