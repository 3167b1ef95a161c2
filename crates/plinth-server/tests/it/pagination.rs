//! Keyset pagination: following `next_cursor` visits every row exactly once and in order, also
//! while rows are inserted between pages; cursors are opaque and a bad one is a 400.

use crate::harness::{encode, id_of, Session, TestServer};
use serde_json::json;
use std::collections::HashSet;

crate::scenarios!("todo" =>
    pages_visit_every_row_once_in_order,
    pages_are_stable_under_concurrent_inserts,
    bad_cursors_are_400,
);

/// Ada with 23 tasks titled `task-00` … `task-22`; answers the ids in title order.
async fn seed(server: &TestServer) -> (Session, Vec<String>) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let mut ids = Vec::new();
    // Created out of title order, so id order and title order differ.
    let mut numbers: Vec<usize> = (0..23).collect();
    numbers.sort_by_key(|number| (number * 7) % 23);
    let mut by_number = vec![String::new(); 23];
    for number in numbers {
        let task = server
            .create(
                "/api/v1/tasks",
                ada.token(),
                &json!({ "title": format!("task-{number:02}"), "done": number % 3 == 0 }),
            )
            .await;
        by_number[number] = id_of(&task);
    }
    ids.extend(by_number);
    (ada, ids)
}

/// Follows `next_cursor` from `query` with `limit=5`, answering each page's ids.
async fn pages(server: &TestServer, session: &Session, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            None => format!("/api/v1/tasks?{query}&limit=5"),
            Some(cursor) => format!("/api/v1/tasks?{query}&limit=5&cursor={}", encode(cursor)),
        };
        let reply = server.get(&path, session.token()).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        let ids = reply.ids();
        assert!(ids.len() <= 5, "limit respected: {}", reply.text);
        let next = reply.json()["next_cursor"].as_str().map(str::to_string);
        if next.is_some() {
            assert_eq!(
                ids.len(),
                5,
                "a page before the last is full: {}",
                reply.text
            );
        }
        pages.push(ids);
        match next {
            Some(next) => {
                assert_ne!(Some(&next), cursor.as_ref(), "the cursor moves on");
                cursor = Some(next);
            }
            None => return pages,
        }
    }
    panic!("pagination of ?{query} did not end");
}

async fn pages_visit_every_row_once_in_order(server: &TestServer) {
    let (ada, ids) = seed(server).await;

    let ascending = pages(server, &ada, "sort=title").await;
    assert_eq!(ascending.len(), 5, "23 rows in pages of 5: {ascending:?}");
    assert_eq!(ascending.last().map(Vec::len), Some(3));
    assert_eq!(ascending.concat(), ids, "every row once, in title order");

    let descending = pages(server, &ada, "sort=-title").await;
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(descending.concat(), reversed);

    // Sorting by a column with many equal values: the primary key breaks ties, nothing repeats.
    let by_done = pages(server, &ada, "sort=done").await.concat();
    assert_eq!(by_done.len(), 23);
    assert_eq!(
        by_done.iter().collect::<HashSet<_>>().len(),
        23,
        "no duplicates: {by_done:?}"
    );
    let done_ids: HashSet<&String> = ids
        .iter()
        .enumerate()
        .filter(|(number, _)| number % 3 == 0)
        .map(|(_, id)| id)
        .collect();
    let first_done = by_done
        .iter()
        .position(|id| done_ids.contains(id))
        .unwrap_or(23);
    assert!(
        by_done[first_done..].iter().all(|id| done_ids.contains(id)),
        "done=false rows come first, then done=true"
    );
    let by_done_desc = pages(server, &ada, "sort=-done,-title").await.concat();
    assert_eq!(by_done_desc.iter().collect::<HashSet<_>>().len(), 23);

    // The default order pages completely too.
    let plain = server.list_all("/api/v1/tasks?limit=4", ada.token()).await;
    let plain_ids: Vec<String> = plain.iter().map(id_of).collect();
    assert_eq!(plain_ids.len(), 23);
    assert_eq!(plain_ids.iter().collect::<HashSet<_>>().len(), 23);

    // Filters stay applied across pages.
    let filtered = pages(server, &ada, "sort=title&done=true").await.concat();
    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(number, _)| number % 3 == 0)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(filtered, expected);

    // Without a limit everything fits in the default page (50).
    let all = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(all.data().len(), 23);
    assert!(all.json()["next_cursor"].is_null());
}

async fn pages_are_stable_under_concurrent_inserts(server: &TestServer) {
    let (ada, ids) = seed(server).await;
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted: HashSet<String> = HashSet::new();
    let mut round = 0;
    loop {
        let path = match &cursor {
            None => "/api/v1/tasks?sort=title&limit=5".to_string(),
            Some(cursor) => format!("/api/v1/tasks?sort=title&limit=5&cursor={}", encode(cursor)),
        };
        let reply = server.get(&path, ada.token()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        seen.extend(reply.ids());
        // Between pages: rows before the cursor, after it, and right next to it.
        for title in [
            format!("task-00-{round}"),
            format!("task-{:02}-after", (round * 5 + 2).min(22)),
            format!("task-{:02}-later", (round * 5 + 9).min(22)),
            format!("zzz-{round}"),
        ] {
            let task = server
                .create("/api/v1/tasks", ada.token(), &json!({ "title": title }))
                .await;
            inserted.insert(id_of(&task));
        }
        round += 1;
        match reply.json()["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(round < 40, "pagination did not end");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
    let original: Vec<String> = seen
        .iter()
        .filter(|id| !inserted.contains(*id))
        .cloned()
        .collect();
    assert_eq!(original, ids, "every row that existed, once and in order");
}

async fn bad_cursors_are_400(server: &TestServer) {
    let (ada, _) = seed(server).await;
    let first = server
        .get("/api/v1/tasks?sort=title&limit=5", ada.token())
        .await;
    let cursor = first.json()["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("a next page: {}", first.text))
        .to_string();
    let mut tampered = cursor.clone().into_bytes();
    if let Some(middle) = tampered.get_mut(cursor.len() / 2) {
        *middle = if *middle == b'A' { b'B' } else { b'A' };
    }
    let tampered = String::from_utf8_lossy(&tampered).into_owned();
    let base64_junk = "eyJub3QiOiJhIGN1cnNvciJ9"; // {"not":"a cursor"}
    for bad in [
        "garbage".to_string(),
        "!!!".to_string(),
        base64_junk.to_string(),
        "W1tbW1tbW1tbW1tbW1s".to_string(),
        "' OR 1=1 --".to_string(),
        "x".repeat(5000),
        tampered,
    ] {
        let reply = server
            .get(
                &format!("/api/v1/tasks?sort=title&limit=5&cursor={}", encode(&bad)),
                ada.token(),
            )
            .await;
        if reply.status == 200 {
            // A tampered cursor may still decode to a valid position; then it must behave as one.
            assert!(reply.data().len() <= 5, "{}", reply.text);
        } else {
            // Not shaped like a cursor: 400. Shaped like one (the tampered cursor keeps the
            // shape) but not handed out by this list for this sort: 422.
            let expected = if bad.starts_with(plinth_api::CURSOR_PREFIX) {
                422
            } else {
                400
            };
            let problem = reply.problem(expected);
            assert!(
                crate::harness::errors_mention(problem, "cursor")
                    || problem["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("cursor"))
                    || problem["code"]
                        .as_str()
                        .is_some_and(|c| c.contains("cursor")),
                "the problem names the cursor: {}",
                reply.text
            );
        }
    }
    for bad in ["garbage", "!!!", base64_junk, "", "c1.", "c1.a=b"] {
        server
            .get(
                &format!("/api/v1/tasks?sort=title&limit=5&cursor={}", encode(bad)),
                ada.token(),
            )
            .await
            .problem(400);
    }
    // A real cursor, sent with another sort or to another list, cannot be used: 422.
    for path in [
        format!(
            "/api/v1/tasks?sort=-title&limit=5&cursor={}",
            encode(&cursor)
        ),
        format!("/api/v1/tasks?limit=5&cursor={}", encode(&cursor)),
        format!("/api/v1/categories?cursor={}", encode(&cursor)),
        format!("/api/v1/tasks?sort=title&cursor={}", encode("c1.AAAA")),
    ] {
        let problem = server.get(&path, ada.token()).await;
        assert_eq!(
            problem.problem(422)["code"],
            "invalid_cursor",
            "{path}: {}",
            problem.text
        );
    }
}
