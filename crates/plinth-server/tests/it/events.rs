//! Realtime event streams (`GET /api/v1/<resource>/events`) over real HTTP: who receives which
//! event and in what form (the row exactly as `GET /{id}` shows it to that subscriber), resuming
//! with `Last-Event-ID`, cascaded writes, a slow subscriber, the subscriber limit, graceful
//! shutdown; and the end of a session's access tokens at logout and at refresh-token reuse.
//!
//! Nothing here sleeps to wait for an event: every read has a deadline, and the absence of an
//! event is shown by the next event being a later one. Streams whose first events matter are
//! opened before the writes, or resume from a known `id`, because a fresh subscription may start
//! slightly before the newest acknowledged write.

use crate::harness::{
    concurrently, id_of, Backend, ReplyExt, ServerEvent, Session, StreamRead, TestServer,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

crate::scenarios!("todo" =>
    owners_receive_their_changes_in_order,
    last_event_id_resumes_without_gaps,
    resuming_past_the_retention_says_resync,
    cascaded_writes_are_events,
    the_users_stream_never_shows_passwords,
    logout_ends_the_sessions_access_tokens,
    a_new_stream_starts_after_acknowledged_writes,
);

crate::scenarios!("blog" =>
    event_data_applies_field_rules_like_get,
);

crate::scenarios!("saas" =>
    omitted_fields_never_appear_in_events,
);

crate::scenarios!("blog", |config: &mut plinth_server::config::ServeConfig| config.events_buffer = 8 =>
    a_slow_subscriber_delays_no_one_and_misses_nothing,
);

crate::scenarios!("todo", |config: &mut plinth_server::config::ServeConfig| config.events_max_subscribers = 1 =>
    a_full_node_refuses_subscribers_until_one_leaves,
);

crate::scenarios!(owned "todo" =>
    shutdown_ends_open_streams,
);

/// How long a scenario waits for an event that must come.
const WAIT: Duration = Duration::from_secs(10);

const TASKS: &str = "/api/v1/tasks/events";

/// `GET path` as `token` sees it; asserts 200.
async fn view(server: &TestServer, path: &str, token: Option<&str>) -> Value {
    let reply = server.get(path, token).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    reply.json().clone()
}

/// Asserts the event's name and that its data is exactly `expected` (a `GET /{id}` answer).
#[track_caller]
fn assert_event(event: &ServerEvent, name: &str, expected: &Value) {
    assert_eq!(event.event, name, "event name: {event:?}");
    assert_eq!(
        &event.json(),
        expected,
        "`{name}` data is the row as GET shows it to this subscriber: {event:?}"
    );
}

/// Asserts the events' `id:`s are numbers that strictly increase.
#[track_caller]
fn assert_ascending(events: &[ServerEvent]) {
    let positions: Vec<i64> = events.iter().map(ServerEvent::position).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "event ids strictly increase: {positions:?}"
    );
}

async fn create_task(server: &TestServer, session: &Session, body: Value) -> String {
    id_of(&server.create("/api/v1/tasks", session.token(), &body).await)
}

async fn owners_receive_their_changes_in_order(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;

    // Todo has no anonymous reader: subscribing needs a user.
    let anonymous = match server.open_events(TASKS, None, None).await {
        Err(reply) => reply,
        Ok(_) => panic!("an anonymous caller may not subscribe to tasks"),
    };
    assert_eq!(
        anonymous.problem(401)["code"],
        "authentication_required",
        "{}",
        anonymous.text
    );
    let forged = match server.open_events(TASKS, Some("not-a-token"), None).await {
        Err(reply) => reply,
        Ok(_) => panic!("a garbage token may not subscribe"),
    };
    forged.problem(401);

    let mut ada_stream = server.subscribe(TASKS, ada.token(), None).await;
    let mut bob_stream = server.subscribe(TASKS, bob.token(), None).await;
    assert_eq!(
        ada_stream
            .headers
            .get("cache-control")
            .and_then(|value| value.to_str().ok()),
        Some("no-store"),
        "a stream is never cached"
    );

    let id = create_task(server, &ada, json!({ "title": "Write the report" })).await;
    let path = format!("/api/v1/tasks/{id}");
    let as_created = view(server, &path, ada.token()).await;
    let patched = server
        .patch(
            &path,
            ada.token(),
            &json!({ "done": true, "notes": "first draft" }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let as_updated = view(server, &path, ada.token()).await;
    assert_eq!(as_updated["done"], true);
    let deleted = server.delete(&path, ada.token()).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    let events = ada_stream.next_events(3, WAIT).await;
    assert_event(&events[0], "created", &as_created);
    assert_event(&events[1], "updated", &as_updated);
    assert_event(&events[2], "deleted", &as_updated);
    assert_ascending(&events);

    // Bob saw none of that: the first event he gets is his own task's.
    let bobs = create_task(server, &bob, json!({ "title": "Bob's errand" })).await;
    let bobs_view = view(server, &format!("/api/v1/tasks/{bobs}"), bob.token()).await;
    let first_for_bob = bob_stream.next_event(WAIT).await;
    assert_event(&first_for_bob, "created", &bobs_view);
    assert!(
        first_for_bob.position() > events[2].position(),
        "ids are positions in one stream of all writes: {first_for_bob:?} after {events:?}"
    );

    // And Ada does not get Bob's: her next event is her own next write.
    let next = create_task(server, &ada, json!({ "title": "Again" })).await;
    let next_view = view(server, &format!("/api/v1/tasks/{next}"), ada.token()).await;
    assert_event(&ada_stream.next_event(WAIT).await, "created", &next_view);
}

async fn last_event_id_resumes_without_gaps(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let mut stream = server.subscribe(TASKS, ada.token(), None).await;
    let first = create_task(server, &ada, json!({ "title": "Seen live" })).await;
    let first_view = view(server, &format!("/api/v1/tasks/{first}"), ada.token()).await;
    let seen = stream.next_event(WAIT).await;
    assert_event(&seen, "created", &first_view);
    drop(stream);

    // While Ada is away: three of hers, with one of Bob's in between.
    let mut missed = Vec::new();
    for title in ["Away one", "Away two", "Away three"] {
        let id = create_task(server, &ada, json!({ "title": title })).await;
        missed.push(view(server, &format!("/api/v1/tasks/{id}"), ada.token()).await);
        if title == "Away two" {
            create_task(server, &bob, json!({ "title": "Not for Ada" })).await;
        }
    }
    let last_seen = seen.id.clone().unwrap_or_default();
    let mut resumed = server.subscribe(TASKS, ada.token(), Some(&last_seen)).await;
    let replayed = resumed.next_events(3, WAIT).await;
    for (event, expected) in replayed.iter().zip(&missed) {
        assert_event(event, "created", expected);
    }
    assert_ascending(&replayed);
    assert!(replayed[0].position() > seen.position(), "{replayed:?}");

    // Then the stream goes on live, with nothing replayed twice.
    let live = create_task(server, &ada, json!({ "title": "Back online" })).await;
    let live_view = view(server, &format!("/api/v1/tasks/{live}"), ada.token()).await;
    let next = resumed.next_event(WAIT).await;
    assert_event(&next, "created", &live_view);
    assert!(next.position() > replayed[2].position(), "{next:?}");

    // From the very beginning: every event of Ada's tasks, the first one first.
    let mut from_start = server.subscribe(TASKS, ada.token(), Some("0")).await;
    let all = from_start.next_events(5, WAIT).await;
    assert_event(&all[0], "created", &first_view);
    assert_event(&all[4], "created", &live_view);
    assert_ascending(&all);

    for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
        let refused = match server.open_events(TASKS, ada.token(), Some(bad)).await {
            Err(reply) => reply,
            Ok(_) => panic!("Last-Event-ID {bad:?} is not a position"),
        };
        assert_eq!(
            refused.problem(400)["code"],
            "invalid_last_event_id",
            "Last-Event-ID {bad:?}: {}",
            refused.text
        );
    }
}

async fn resuming_past_the_retention_says_resync(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let mut stream = server.subscribe(TASKS, ada.token(), None).await;
    let mut views = Vec::new();
    for title in ["One", "Two", "Three"] {
        let id = create_task(server, &ada, json!({ "title": title })).await;
        views.push(view(server, &format!("/api/v1/tasks/{id}"), ada.token()).await);
    }
    let seen = stream.next_events(3, WAIT).await;
    drop(stream);
    // What the retention purge does, done now: every event before the newest is gone.
    let position = match server.backend {
        Backend::Sqlite => "id",
        Backend::Postgres => "seq",
    };
    server
        .execute_sql(&format!(
            "DELETE FROM \"_plinth_events\" WHERE {position} < {}",
            seen[2].position()
        ))
        .await;

    // From just before the oldest kept event: nothing is missing, it is replayed.
    let mut resumed = server
        .subscribe(TASKS, ada.token(), seen[1].id.as_deref())
        .await;
    assert_event(&resumed.next_event(WAIT).await, "created", &views[2]);
    drop(resumed);

    // From further back: events were lost, so the stream says to reload, then goes on live.
    let mut stale = server
        .subscribe(TASKS, ada.token(), seen[0].id.as_deref())
        .await;
    let resync = stale.next_event(WAIT).await;
    assert_eq!(resync.event, "resync", "{resync:?}");
    assert_eq!(resync.json()["reason"], "history_expired", "{resync:?}");
    let live = create_task(server, &ada, json!({ "title": "Four" })).await;
    let live_view = view(server, &format!("/api/v1/tasks/{live}"), ada.token()).await;
    let next = stale.next_event(WAIT).await;
    assert_event(&next, "created", &live_view);
    assert!(next.position() > seen[2].position(), "{next:?}");
}

async fn cascaded_writes_are_events(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let admin = server.register_named("admin@example.com", "Admin").await;
    server.set_role(&admin.id, "ADMIN").await;

    // Subscribed before the data exists: the creations come first, to their readers only.
    let mut ada_stream = server.subscribe(TASKS, ada.token(), None).await;
    let mut admin_stream = server.subscribe(TASKS, admin.token(), None).await;
    let mut bob_stream = server.subscribe(TASKS, bob.token(), None).await;
    let mut admin_categories = server
        .subscribe("/api/v1/categories/events", admin.token(), None)
        .await;
    let category = id_of(
        &server
            .create(
                "/api/v1/categories",
                ada.token(),
                &json!({ "name": "Home" }),
            )
            .await,
    );
    let category_path = format!("/api/v1/categories/{category}");
    assert_event(
        &admin_categories.next_event(WAIT).await,
        "created",
        &view(server, &category_path, admin.token()).await,
    );
    let mut tasks = Vec::new();
    for title in ["Dishes", "Laundry"] {
        tasks.push(
            create_task(
                server,
                &ada,
                json!({ "title": title, "categoryId": category }),
            )
            .await,
        );
    }
    tasks.push(create_task(server, &ada, json!({ "title": "Uncategorized" })).await);
    for (stream, viewer) in [(&mut ada_stream, &ada), (&mut admin_stream, &admin)] {
        let events = stream.next_events(3, WAIT).await;
        for (event, id) in events.iter().zip(&tasks) {
            let path = format!("/api/v1/tasks/{id}");
            assert_event(event, "created", &view(server, &path, viewer.token()).await);
        }
    }

    // Deleting the category sets its tasks' categoryId to null (onDelete: SetNull).
    let category_before = view(server, &category_path, admin.token()).await;
    let deleted = server.delete(&category_path, ada.token()).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    for (stream, viewer) in [(&mut ada_stream, &ada), (&mut admin_stream, &admin)] {
        let events = stream.next_events(2, WAIT).await;
        assert_ascending(&events);
        let mut ids = Vec::new();
        for event in &events {
            let id = id_of(&event.json());
            let now = view(server, &format!("/api/v1/tasks/{id}"), viewer.token()).await;
            assert_eq!(now["categoryId"], Value::Null, "{now}");
            assert_event(event, "updated", &now);
            ids.push(id);
        }
        ids.sort();
        let mut expected = tasks[..2].to_vec();
        expected.sort();
        assert_eq!(ids, expected, "the two categorized tasks were updated");
    }
    assert_event(
        &admin_categories.next_event(WAIT).await,
        "deleted",
        &category_before,
    );

    // Ada deletes herself: her tasks go with her (onDelete: Cascade).
    let mut before = Vec::new();
    for id in &tasks {
        before.push(view(server, &format!("/api/v1/tasks/{id}"), admin.token()).await);
    }
    let gone = server
        .delete(&format!("/api/v1/users/{}", ada.id), ada.token())
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    let events = admin_stream.next_events(3, WAIT).await;
    assert_ascending(&events);
    let mut seen: Vec<String> = events.iter().map(|event| id_of(&event.json())).collect();
    for event in &events {
        let id = id_of(&event.json());
        let expected = tasks
            .iter()
            .position(|task| *task == id)
            .map(|index| &before[index])
            .unwrap_or_else(|| panic!("a deleted event for an unknown task: {event:?}"));
        assert_event(event, "deleted", expected);
    }
    seen.sort();
    let mut expected = tasks.clone();
    expected.sort();
    assert_eq!(seen, expected, "each cascaded delete is one event");

    // Bob got none of Ada's: his first event is his own.
    let bobs = create_task(server, &bob, json!({ "title": "Bob's" })).await;
    let bobs_view = view(server, &format!("/api/v1/tasks/{bobs}"), bob.token()).await;
    assert_event(&bob_stream.next_event(WAIT).await, "created", &bobs_view);
    // The admin sees it too, after the cascade and nothing else.
    assert_event(
        &admin_stream.next_event(WAIT).await,
        "created",
        &view(server, &format!("/api/v1/tasks/{bobs}"), admin.token()).await,
    );
}

/// The row, without and with the text the API must never return.
#[track_caller]
fn assert_no_secret(event: &ServerEvent, field: &str) {
    assert!(
        event.json().get(field).is_none(),
        "`{field}` is never in event data: {event:?}"
    );
    assert!(
        !event.data.contains("$argon2"),
        "no password hash in event data: {event:?}"
    );
}

async fn the_users_stream_never_shows_passwords(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let users = "/api/v1/users/events";
    // From the first event on: Ada's own registration, then her rename.
    let mut stream = server.subscribe(users, ada.token(), Some("0")).await;
    // Another user's registration is not Ada's to see.
    server.register_named("bob@example.com", "Bob").await;
    let me = format!("/api/v1/users/{}", ada.id);
    let registered = view(server, &me, ada.token()).await;
    assert_eq!(
        registered, ada.user,
        "GET shows the user of the token response"
    );
    let renamed = server
        .patch(&me, ada.token(), &json!({ "name": "Ada L." }))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let events = stream.next_events(2, WAIT).await;
    assert_event(&events[0], "created", &registered);
    assert_event(&events[1], "updated", &view(server, &me, ada.token()).await);
    for event in &events {
        assert_no_secret(event, "password");
    }
}

async fn event_data_applies_field_rules_like_get(server: &TestServer) {
    let users = "/api/v1/users/events";
    // Profiles are public in the blog: an anonymous reader may subscribe.
    let mut anonymous_stream = server.subscribe(users, None, None).await;
    let ada = server.register_named("ada@example.com", "Ada").await;
    let ada_path = format!("/api/v1/users/{}", ada.id);
    let ada_joined = anonymous_stream.next_event(WAIT).await;
    assert_event(&ada_joined, "created", &view(server, &ada_path, None).await);
    // Resuming after the last event she knows of, so her stream starts exactly there.
    let mut ada_stream = server
        .subscribe(users, ada.token(), ada_joined.id.as_deref())
        .await;

    let carol = server.register_named("carol@example.com", "Carol").await;
    let carol_path = format!("/api/v1/users/{}", carol.id);
    let mut carol_joined = None;
    for (stream, token) in [
        (&mut ada_stream, ada.token()),
        (&mut anonymous_stream, None),
    ] {
        let event = stream.next_event(WAIT).await;
        let expected = view(server, &carol_path, token).await;
        assert_eq!(
            expected["email"],
            Value::Null,
            "another user's email is hidden"
        );
        assert_event(&event, "created", &expected);
        assert_no_secret(&event, "password");
        assert!(
            !event.data.contains("carol@example.com"),
            "another user's email is not readable: {event:?}"
        );
        carol_joined = event.id.clone();
    }

    // Carol sees her own email in her event; the others do not.
    let mut carol_stream = server
        .subscribe(users, carol.token(), carol_joined.as_deref())
        .await;
    let edited = server
        .patch(
            &carol_path,
            carol.token(),
            &json!({ "bio": "Writes about tea" }),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    let own = carol_stream.next_event(WAIT).await;
    let own_view = view(server, &carol_path, carol.token()).await;
    assert_eq!(own_view["email"], "carol@example.com");
    assert_event(&own, "updated", &own_view);
    assert_no_secret(&own, "password");
    for (stream, token) in [
        (&mut ada_stream, ada.token()),
        (&mut anonymous_stream, None),
    ] {
        let event = stream.next_event(WAIT).await;
        assert_event(&event, "updated", &view(server, &carol_path, token).await);
        assert!(!event.data.contains("carol@example.com"), "{event:?}");
        assert_eq!(event.position(), own.position(), "one event, many copies");
    }

    // Row rules per event: Carol's draft reaches only Carol; publishing it reaches everyone.
    let posts = "/api/v1/posts/events";
    let mut ada_posts = server.subscribe(posts, ada.token(), None).await;
    let mut carol_posts = server.subscribe(posts, carol.token(), None).await;
    let draft = id_of(
        &server
            .create(
                "/api/v1/posts",
                carol.token(),
                &json!({ "title": "Draft", "slug": "draft", "body": "wip" }),
            )
            .await,
    );
    let post_path = format!("/api/v1/posts/{draft}");
    let draft_view = view(server, &post_path, carol.token()).await;
    assert_event(&carol_posts.next_event(WAIT).await, "created", &draft_view);
    let published = server
        .patch(&post_path, carol.token(), &json!({ "published": true }))
        .await;
    assert_eq!(published.status, 200, "{}", published.text);
    let public_view = view(server, &post_path, ada.token()).await;
    let first_for_ada = ada_posts.next_event(WAIT).await;
    assert_event(&first_for_ada, "updated", &public_view);
    assert_event(
        &carol_posts.next_event(WAIT).await,
        "updated",
        &view(server, &post_path, carol.token()).await,
    );
}

async fn omitted_fields_never_appear_in_events(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let eve = server.register_named("eve@example.com", "Eve").await;
    let org = server
        .post(
            "/api/v1/organizations",
            ada.token(),
            &json!({ "name": "Acme", "slug": "acme" }),
        )
        .await;
    assert_eq!(org.status, 201, "{}", org.text);
    let org_id = org
        .header("location")
        .and_then(|location| location.rsplit('/').next())
        .unwrap_or_else(|| panic!("201 with a Location: {}", org.text))
        .to_string();
    let membership = server
        .post(
            "/api/v1/memberships",
            ada.token(),
            &json!({ "orgId": org_id, "userId": ada.id, "role": "ADMIN" }),
        )
        .await;
    assert_eq!(membership.status, 201, "{}", membership.text);

    let invitations = "/api/v1/invitations/events";
    let mut ada_stream = server.subscribe(invitations, ada.token(), None).await;
    // Bob is the invitee (read by `auth().email == email`); Eve has nothing to do with it.
    let mut bob_stream = server.subscribe(invitations, bob.token(), None).await;
    let mut eve_stream = server.subscribe(invitations, eve.token(), None).await;
    let invitation = id_of(
        &server
            .create(
                "/api/v1/invitations",
                ada.token(),
                &json!({
                    "email": "bob@example.com",
                    "orgId": org_id,
                    "expiresAt": "2099-01-01T00:00:00Z"
                }),
            )
            .await,
    );
    let path = format!("/api/v1/invitations/{invitation}");
    for (stream, session) in [(&mut ada_stream, &ada), (&mut bob_stream, &bob)] {
        let event = stream.next_event(WAIT).await;
        let expected = view(server, &path, session.token()).await;
        assert!(expected.get("token").is_none(), "{expected}");
        assert_event(&event, "created", &expected);
        assert_no_secret(&event, "token");
    }
    let users = "/api/v1/users/events";
    // From the first event: Eve's registration (Ada's and Bob's are not hers to see).
    let mut eve_users = server.subscribe(users, eve.token(), Some("0")).await;
    let eve_path = format!("/api/v1/users/{}", eve.id);
    let registered = view(server, &eve_path, eve.token()).await;
    let joined = eve_users.next_event(WAIT).await;
    assert_event(&joined, "created", &registered);
    assert_no_secret(&joined, "password");
    let renamed = server
        .patch(&eve_path, eve.token(), &json!({ "name": "Eve E." }))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let event = eve_users.next_event(WAIT).await;
    assert_event(
        &event,
        "updated",
        &view(server, &eve_path, eve.token()).await,
    );
    assert_no_secret(&event, "password");
    // Eve could read none of that: her first event is her own invitation's.
    let hers = id_of(
        &server
            .create(
                "/api/v1/invitations",
                ada.token(),
                &json!({
                    "email": "eve@example.com",
                    "orgId": org_id,
                    "expiresAt": "2099-01-01T00:00:00Z"
                }),
            )
            .await,
    );
    let event = eve_stream.next_event(WAIT).await;
    assert_event(
        &event,
        "created",
        &view(server, &format!("/api/v1/invitations/{hers}"), eve.token()).await,
    );
    assert_no_secret(&event, "token");
}

async fn a_slow_subscriber_delays_no_one_and_misses_nothing(server: &TestServer) {
    // A stream that is not read is held up, on the server, by the TCP buffers (megabytes on
    // loopback), then a queue of 64 events per connection; only past both does its share of the
    // node's hub (8 events here) overflow, which sends it to the outbox to catch up. So: a few
    // large rows fill the bytes, then many small ones overflow the queue and the hub.
    const LARGE: usize = 16;
    const SMALL: usize = 110;
    const BURST: usize = 10;
    const WRITES: usize = LARGE + SMALL;
    let ada = server.register_named("ada@example.com", "Ada").await;
    let posts = "/api/v1/posts/events";
    let mut prompt = server.subscribe(posts, ada.token(), None).await;
    // Subscribed, then not read until every write is done: its events pile up.
    let mut slow = server.subscribe(posts, ada.token(), None).await;

    let remote = server.remote();
    let token = ada.access_token.clone();
    let started = Instant::now();
    let writing = tokio::spawn(async move {
        let mut ids = Vec::new();
        for burst in 0..WRITES.div_ceil(BURST) {
            let size = WRITES.min((burst + 1) * BURST) - burst * BURST;
            let replies = concurrently(size, |index| {
                let remote = remote.clone();
                let token = token.clone();
                let number = burst * BURST + index;
                // 512 KiB for the first ones, a few bytes after.
                let body = if number < LARGE {
                    "b".repeat(512 * 1024)
                } else {
                    format!("post {number}")
                };
                async move {
                    let slug = format!("post-{number}");
                    remote
                        .request(Method::POST, "/api/v1/posts")
                        .bearer_auth(token)
                        .json(&json!({ "title": slug, "slug": slug, "body": body }))
                        .reply()
                        .await
                }
            })
            .await;
            for reply in replies {
                assert_eq!(reply.status, 201, "{}", reply.text);
                ids.push(id_of(reply.json()));
            }
        }
        ids
    });
    // Read while the writes happen: the slow subscriber must not hold this one back.
    let received = prompt.next_events(WRITES, Duration::from_secs(30)).await;
    let prompt_elapsed = started.elapsed();
    let created: Vec<String> = writing.await.expect("the writes finished");
    assert_complete(&received, &created);
    eprintln!(
        "slow subscriber ({:?}): the prompt subscriber had all {WRITES} events after \
         {prompt_elapsed:?}",
        server.backend
    );

    let reading = Instant::now();
    let caught_up = slow.next_events(WRITES, Duration::from_secs(30)).await;
    eprintln!(
        "slow subscriber ({:?}): it then read all {WRITES} in {:?}",
        server.backend,
        reading.elapsed()
    );
    assert_complete(&caught_up, &created);
    let positions =
        |events: &[ServerEvent]| -> Vec<i64> { events.iter().map(ServerEvent::position).collect() };
    assert_eq!(
        positions(&caught_up),
        positions(&received),
        "both subscribers got the same events in the same order"
    );
    for (late, early) in caught_up.iter().zip(&received) {
        assert_eq!(late.json(), early.json(), "same data: {}", late.position());
    }

    // Both are live again, with nothing more queued.
    let last = id_of(
        &server
            .create(
                "/api/v1/posts",
                ada.token(),
                &json!({ "title": "After", "slug": "after", "body": "short" }),
            )
            .await,
    );
    let last_view = view(server, &format!("/api/v1/posts/{last}"), ada.token()).await;
    assert_event(&prompt.next_event(WAIT).await, "created", &last_view);
    assert_event(&slow.next_event(WAIT).await, "created", &last_view);
}

/// Exactly one `created` per written id, ascending, no duplicates.
#[track_caller]
fn assert_complete(events: &[ServerEvent], created: &[String]) {
    assert_ascending(events);
    assert!(events.iter().all(|event| event.event == "created"));
    let ids: Vec<String> = events.iter().map(|event| id_of(&event.json())).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no event twice: {ids:?}");
    let expected: HashSet<&String> = created.iter().collect();
    assert_eq!(unique, expected, "one event per write");
}

async fn a_full_node_refuses_subscribers_until_one_leaves(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let first = server.subscribe(TASKS, ada.token(), None).await;
    let refused = match server.open_events(TASKS, ada.token(), None).await {
        Err(reply) => reply,
        Ok(_) => panic!("a second subscriber is over events_max_subscribers = 1"),
    };
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(
        refused
            .content_type()
            .starts_with("application/problem+json"),
        "{:?}",
        refused.headers
    );
    assert_eq!(refused.json()["status"], 503, "{}", refused.text);
    assert!(refused.json()["code"].is_string(), "{}", refused.text);
    assert!(
        refused.header("retry-after").is_some(),
        "a 503 says when to retry: {:?}",
        refused.headers
    );
    // Ordinary requests are not counted.
    assert_eq!(server.get("/api/v1/tasks", ada.token()).await.status, 200);

    drop(first);
    let deadline = Instant::now() + WAIT;
    let started = Instant::now();
    let mut again = loop {
        match server.open_events(TASKS, ada.token(), None).await {
            Ok(stream) => break stream,
            Err(reply) => {
                assert_eq!(reply.status, 503, "{}", reply.text);
                assert!(
                    Instant::now() < deadline,
                    "the slot of a closed stream is free again within {WAIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    eprintln!(
        "subscriber limit ({:?}): the slot was free again after {:?}",
        server.backend,
        started.elapsed()
    );
    let id = create_task(server, &ada, json!({ "title": "Heard" })).await;
    let expected = view(server, &format!("/api/v1/tasks/{id}"), ada.token()).await;
    assert_event(&again.next_event(WAIT).await, "created", &expected);
}

async fn logout_ends_the_sessions_access_tokens(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let login = || async {
        let reply = server
            .post(
                "/api/v1/auth/login",
                None,
                &json!({ "email": "ada@example.com", "password": crate::harness::PASSWORD }),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        Session::from_token_response(&reply)
    };
    let me = |token: String| async move {
        server
            .request(Method::GET, "/api/v1/auth/me")
            .bearer_auth(token)
            .reply()
            .await
    };
    let phone = login().await;
    assert_eq!(me(ada.access_token.clone()).await.status, 200);
    assert_eq!(me(phone.access_token.clone()).await.status, 200);
    // A stream opened with the session's token ends with the session, and one opened by
    // another login keeps going.
    let mut ended_stream = server.subscribe(TASKS, ada.token(), None).await;
    let mut phone_stream = server
        .subscribe(TASKS, Some(phone.access_token.as_str()), None)
        .await;

    let logout = server
        .post(
            "/api/v1/auth/logout",
            ada.token(),
            &json!({ "refresh_token": ada.refresh_token }),
        )
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    // The access token of the ended session is dead at once, long before its `exp`.
    me(ada.access_token.clone()).await.problem(401);
    let tasks = server.get("/api/v1/tasks", ada.token()).await;
    tasks.problem(401);
    // Another login of the same user is another session.
    assert_eq!(me(phone.access_token.clone()).await.status, 200);
    let phone_user = crate::harness::Session {
        access_token: phone.access_token.clone(),
        ..ada.clone()
    };
    create_task(server, &phone_user, json!({ "title": "after logout" })).await;
    let next = phone_stream.next_event(Duration::from_secs(5)).await;
    assert_eq!(next.event, "created", "the other session's stream goes on");
    assert!(
        matches!(
            ended_stream.read(Duration::from_secs(5)).await,
            crate::harness::StreamRead::Ended
        ),
        "the logged-out session's stream ends instead of delivering more events"
    );

    // Refresh-token reuse ends the whole session: every access token it issued.
    let laptop = login().await;
    let rotated = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": laptop.refresh_token }),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let rotated = Session::from_token_response(&rotated);
    assert_eq!(me(laptop.access_token.clone()).await.status, 200);
    assert_eq!(me(rotated.access_token.clone()).await.status, 200);
    let reused = server
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": laptop.refresh_token }),
        )
        .await;
    reused.problem(401);
    me(laptop.access_token.clone()).await.problem(401);
    me(rotated.access_token.clone()).await.problem(401);
    assert_eq!(
        me(phone.access_token.clone()).await.status,
        200,
        "the phone's session is untouched"
    );
    // An event stream is refused to a revoked token as well.
    let refused = match server.open_events(TASKS, rotated.token(), None).await {
        Err(reply) => reply,
        Ok(_) => panic!("a revoked session may not subscribe"),
    };
    refused.problem(401);
}

async fn shutdown_ends_open_streams(mut server: TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let mut stream = server.subscribe(TASKS, ada.token(), None).await;
    let id = create_task(&server, &ada, json!({ "title": "Before the end" })).await;
    let expected = view(&server, &format!("/api/v1/tasks/{id}"), ada.token()).await;
    assert_event(&stream.next_event(WAIT).await, "created", &expected);

    let started = Instant::now();
    server.stop().await;
    let elapsed = started.elapsed();
    eprintln!(
        "shutdown with an open stream ({:?}) took {elapsed:?}",
        server.backend
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "graceful shutdown is not held open by a stream: {elapsed:?}"
    );
    match stream.read(Duration::from_secs(5)).await {
        StreamRead::Ended => {}
        other => panic!("the stream ends with the server, got {other:?}"),
    }
    server.finish().await;
}

/// A write acknowledged before the subscription is history, not news: a client that loads the
/// list and then subscribes must not get that write again as a live event (on PostgreSQL the
/// node's hub lags commits by a few milliseconds, so this is checked right after the write).
async fn a_new_stream_starts_after_acknowledged_writes(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    for round in 0..5 {
        let before = create_task(server, &ada, json!({ "title": format!("before {round}") })).await;
        let mut stream = server.subscribe(TASKS, ada.token(), None).await;
        let after = create_task(server, &ada, json!({ "title": format!("after {round}") })).await;
        let first = stream.next_event(WAIT).await;
        assert_eq!(
            first.json()["id"],
            json!(after),
            "round {round}: the first live event is the write after subscribing, not {before}"
        );
    }
}
