//! Query parameters of lists: every filter operator on typed fields (String, Boolean, DateTime,
//! optional fields, Int and Decimal in the catalog), `sort`, `limit` bounds, `fields`, and the
//! 400s for parameters that are not understood. Values are compared literally: injection text
//! and LIKE wildcards match only themselves.

use crate::harness::{encode, id_of, Session, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::scenarios!("todo" =>
    every_operator_on_todo_fields,
    sort_orders_by_several_fields,
    limit_is_bounded,
    fields_selects_keys,
    unknown_parameters_are_400,
    filter_values_are_literal,
);

crate::scenarios!("catalog" =>
    numeric_and_decimal_filters,
);

struct Tasks {
    ada: Session,
    /// By name: t1..t5.
    ids: Vec<(String, String)>,
}

impl Tasks {
    fn id(&self, name: &str) -> String {
        self.ids
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("no task {name}"))
    }

    fn set(&self, names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| self.id(name)).collect()
    }
}

async fn seed_tasks(server: &TestServer) -> Tasks {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let rows = [
        (
            "t1",
            json!({ "title": "alpha one", "done": false, "dueAt": "2030-01-01T00:00:00.000Z", "notes": "x" }),
        ),
        (
            "t2",
            json!({ "title": "alpha two", "done": true, "dueAt": "2030-06-01T00:00:00.000Z" }),
        ),
        (
            "t3",
            json!({ "title": "beta three", "done": false, "notes": "has alpha inside" }),
        ),
        (
            "t4",
            json!({ "title": "gamma", "done": true, "dueAt": "2031-01-01T12:30:00.000Z", "notes": "y" }),
        ),
        (
            "t5",
            json!({ "title": "Alpha upper", "done": false, "dueAt": "2029-12-31T23:59:59.999Z", "notes": "z" }),
        ),
    ];
    let mut ids = Vec::new();
    for (name, body) in rows {
        let created = server.create("/api/v1/tasks", ada.token(), &body).await;
        ids.push((name.to_string(), id_of(&created)));
    }
    Tasks { ada, ids }
}

async fn ids_for(server: &TestServer, session: &Session, query: &str) -> BTreeSet<String> {
    let reply = server
        .get(&format!("/api/v1/tasks?{query}"), session.token())
        .await;
    assert_eq!(reply.status, 200, "?{query}: {}", reply.text);
    reply.ids().into_iter().collect()
}

async fn every_operator_on_todo_fields(server: &TestServer) {
    let tasks = seed_tasks(server).await;
    let ada = &tasks.ada;
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Boolean: eq, ne.
        ("done=true".into(), vec!["t2", "t4"]),
        ("done=false".into(), vec!["t1", "t3", "t5"]),
        ("done[ne]=true".into(), vec!["t1", "t3", "t5"]),
        // String: eq, ne, in, contains, startsWith (case-sensitive by default per value).
        ("title=gamma".into(), vec!["t4"]),
        (format!("title={}", encode("alpha one")), vec!["t1"]),
        ("title[ne]=gamma".into(), vec!["t1", "t2", "t3", "t5"]),
        (
            format!("title[in]={}", encode("gamma,beta three")),
            vec!["t3", "t4"],
        ),
        ("title[contains]=pha".into(), vec!["t1", "t2", "t5"]),
        ("title[contains]=three".into(), vec!["t3"]),
        ("title[startsWith]=alpha".into(), vec!["t1", "t2"]),
        ("title[startsWith]=lpha".into(), vec![]),
        ("title[contains]=nothing-like-this".into(), vec![]),
        // DateTime: lt, lte, gt, gte, eq, and isNull on the optional field.
        (
            "dueAt[lt]=2030-06-01T00:00:00.000Z".into(),
            vec!["t1", "t5"],
        ),
        (
            "dueAt[lte]=2030-06-01T00:00:00.000Z".into(),
            vec!["t1", "t2", "t5"],
        ),
        ("dueAt[gt]=2030-06-01T00:00:00.000Z".into(), vec!["t4"]),
        (
            "dueAt[gte]=2030-06-01T00:00:00.000Z".into(),
            vec!["t2", "t4"],
        ),
        ("dueAt=2031-01-01T12:30:00.000Z".into(), vec!["t4"]),
        (
            "dueAt[gt]=2029-12-31T23:59:59.998Z".into(),
            vec!["t1", "t2", "t4", "t5"],
        ),
        (
            "dueAt[gt]=2029-12-31T23:59:59.999Z".into(),
            vec!["t1", "t2", "t4"],
        ),
        ("dueAt[isNull]=true".into(), vec!["t3"]),
        ("dueAt[isNull]=false".into(), vec!["t1", "t2", "t4", "t5"]),
        ("notes[isNull]=true".into(), vec!["t2"]),
        ("notes[isNull]=false".into(), vec!["t1", "t3", "t4", "t5"]),
        ("notes[contains]=alpha".into(), vec!["t3"]),
        // Several filters are AND-ed.
        ("done=false&title[startsWith]=alpha".into(), vec!["t1"]),
        (
            "done=true&dueAt[gte]=2030-06-01T00:00:00.000Z&title[contains]=a".into(),
            vec!["t2", "t4"],
        ),
        // Ids are filterable too.
        (format!("id={}", tasks.id("t3")), vec!["t3"]),
        (
            format!("id[in]={},{}", tasks.id("t1"), tasks.id("t5")),
            vec!["t1", "t5"],
        ),
    ];
    for (query, expected) in cases {
        let got = ids_for(server, ada, &query).await;
        assert_eq!(got, tasks.set(&expected), "?{query}");
    }
    // A DateTime given with an offset means the same instant.
    let shifted = ids_for(
        server,
        ada,
        &format!("dueAt={}", encode("2031-01-01T14:30:00.000+02:00")),
    )
    .await;
    assert_eq!(shifted, tasks.set(&["t4"]), "offsets are understood");
}

async fn sort_orders_by_several_fields(server: &TestServer) {
    let tasks = seed_tasks(server).await;
    let ada = &tasks.ada;
    let ordered = |query: &'static str| async move {
        let reply = server
            .get(&format!("/api/v1/tasks?{query}"), ada.token())
            .await;
        assert_eq!(reply.status, 200, "?{query}: {}", reply.text);
        reply.ids()
    };
    let names = |list: &[&str]| list.iter().map(|name| tasks.id(name)).collect::<Vec<_>>();
    // Byte order of the titles: uppercase before lowercase is not assumed; t5 is checked apart.
    assert_eq!(
        ordered("sort=title&title[startsWith]=a").await,
        names(&["t1", "t2"]),
    );
    assert_eq!(ordered("sort=-title&done=true").await, names(&["t4", "t2"]),);
    // done ascending (false first), then title descending.
    assert_eq!(
        ordered("sort=done,-title&title[ne]=Alpha%20upper").await,
        names(&["t3", "t1", "t4", "t2"]),
    );
    assert_eq!(
        ordered("sort=-done,title&title[ne]=Alpha%20upper").await,
        names(&["t2", "t4", "t1", "t3"]),
    );
    assert_eq!(
        ordered("sort=dueAt&dueAt[isNull]=false").await,
        names(&["t5", "t1", "t2", "t4"]),
    );
    assert_eq!(
        ordered("sort=-dueAt&dueAt[isNull]=false").await,
        names(&["t4", "t2", "t1", "t5"]),
    );
    // Sorting by a field nobody can sort by, or a relation, is a 400.
    server
        .get("/api/v1/tasks?sort=owner", ada.token())
        .await
        .problem(400);
    server
        .get("/api/v1/tasks?sort=nonexistent", ada.token())
        .await
        .problem(400);
}

async fn limit_is_bounded(server: &TestServer) {
    let tasks = seed_tasks(server).await;
    let ada = &tasks.ada;
    for bad in ["0", "101", "abc", "-1", "1.5", "99999999999999999999"] {
        let reply = server
            .get(&format!("/api/v1/tasks?limit={bad}"), ada.token())
            .await;
        let problem = reply.problem(400);
        assert!(
            crate::harness::errors_mention(problem, "limit")
                || problem["detail"]
                    .as_str()
                    .is_some_and(|detail| detail.contains("limit")),
            "limit={bad}: the problem names `limit`: {}",
            reply.text
        );
    }
    let max = server.get("/api/v1/tasks?limit=100", ada.token()).await;
    assert_eq!(max.status, 200, "{}", max.text);
    assert_eq!(max.data().len(), 5);
    let one = server.get("/api/v1/tasks?limit=1", ada.token()).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.data().len(), 1);
    assert!(
        one.json()["next_cursor"].is_string(),
        "more rows → a cursor: {}",
        one.text
    );
    let exact = server.get("/api/v1/tasks?limit=5", ada.token()).await;
    assert_eq!(exact.data().len(), 5);
    assert!(
        exact.json()["next_cursor"].is_null(),
        "exactly the last row → no cursor: {}",
        exact.text
    );
}

async fn fields_selects_keys(server: &TestServer) {
    let tasks = seed_tasks(server).await;
    let ada = &tasks.ada;
    let keys = |row: &Value| -> BTreeSet<String> {
        row.as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default()
    };
    let list = server
        .get("/api/v1/tasks?fields=id,title", ada.token())
        .await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.data().len(), 5);
    for row in list.data() {
        assert_eq!(keys(row), ["id", "title"].map(String::from).into(), "{row}");
    }
    let two = server
        .get(
            "/api/v1/tasks?fields=title,done&sort=title&title[startsWith]=alpha",
            ada.token(),
        )
        .await;
    assert_eq!(two.status, 200, "{}", two.text);
    let rows = two.json()["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2);
    // The primary key is always returned, asked for or not.
    for row in &rows {
        assert_eq!(
            keys(row),
            ["done", "id", "title"].map(String::from).into(),
            "{row}"
        );
    }
    assert_eq!(rows[0]["title"], "alpha one");
    let one = server
        .get(
            &format!("/api/v1/tasks/{}?fields=done", tasks.id("t2")),
            ada.token(),
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(keys(one.json()), ["done", "id"].map(String::from).into());
    assert_eq!(one.json()["done"], true);
    // Pagination still works with a projection that leaves the sort key out.
    let paged = server
        .list_all("/api/v1/tasks?fields=done&limit=2&sort=title", ada.token())
        .await;
    assert_eq!(paged.len(), 5);
    // Unknown, hidden or relation fields are refused, and so is an empty name or list.
    for bad in [
        "nope",
        "title,nope",
        "owner",
        "",
        "title,",
        ",title",
        "title,,done",
    ] {
        server
            .get(&format!("/api/v1/tasks?fields={bad}"), ada.token())
            .await
            .problem(400);
    }
    let users = server
        .get("/api/v1/users?fields=password", ada.token())
        .await;
    users.problem(400);
    assert!(!users.text.contains("$argon2"));
}

async fn unknown_parameters_are_400(server: &TestServer) {
    let tasks = seed_tasks(server).await;
    let ada = &tasks.ada;
    for query in [
        "nonexistent=1",
        "title[like]=a",
        "title[gt]=a&title[bogus]=b",
        "done[lt]=true",
        "done[contains]=t",
        "done=maybe",
        "dueAt[lt]=tomorrow",
        "dueAt=2030-13-45T00:00:00Z",
        "title[isNull]=true",
        "dueAt[isNull]=perhaps",
        "include=nonexistent",
        "include=title",
        "password=x",
        "owner=x",
        "title[contains",
    ] {
        let reply = server
            .get(&format!("/api/v1/tasks?{query}"), ada.token())
            .await;
        assert_eq!(
            reply.status, 400,
            "?{query} should be a 400: {}",
            reply.text
        );
        reply.problem(400);
    }
    // An invalid percent-escape or invalid UTF-8 in the query string is a 400 too.
    let raw = server
        .client
        .get(format!("{}/api/v1/tasks?title=%ff%fe", server.base_url))
        .bearer_auth(&ada.access_token)
        .send()
        .await
        .expect("answers");
    assert_eq!(raw.status().as_u16(), 400);
}

async fn filter_values_are_literal(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let texts = [
        "' OR 1=1 --",
        "\"; DROP TABLE \"Task\"; --",
        "{\"$gt\": \"\"}",
        "100% sure",
        "under_score",
        "back\\slash",
        "plain",
    ];
    let mut ids = Vec::new();
    for text in texts {
        let created = server
            .create("/api/v1/tasks", ada.token(), &json!({ "title": text }))
            .await;
        assert_eq!(created["title"], text, "stored literally");
        ids.push(id_of(&created));
    }
    for (text, id) in texts.iter().zip(&ids) {
        let exact = server
            .get(
                &format!("/api/v1/tasks?title={}", encode(text)),
                ada.token(),
            )
            .await;
        assert_eq!(
            exact.ids(),
            vec![id.clone()],
            "title={text:?} matches itself only"
        );
    }
    let like = |operator: &'static str, value: &'static str| {
        let ada = ada.clone();
        async move {
            let reply = server
                .get(
                    &format!("/api/v1/tasks?title[{operator}]={}", encode(value)),
                    ada.token(),
                )
                .await;
            assert_eq!(reply.status, 200, "{operator}={value}: {}", reply.text);
            reply.ids()
        }
    };
    // LIKE wildcards are escaped.
    assert_eq!(
        like("contains", "%").await,
        vec![ids[3].clone()],
        "`%` is literal"
    );
    assert_eq!(
        like("contains", "_").await,
        vec![ids[4].clone()],
        "`_` is literal"
    );
    assert_eq!(
        like("contains", "\\").await,
        vec![ids[5].clone()],
        "`\\` is literal"
    );
    assert!(like("startsWith", "%").await.is_empty());
    assert!(like("startsWith", "_").await.is_empty());
    assert_eq!(like("startsWith", "'").await, vec![ids[0].clone()]);
    assert_eq!(like("contains", "1=1").await, vec![ids[0].clone()]);
    assert_eq!(like("contains", "DROP TABLE").await, vec![ids[1].clone()]);
    // Injection through other operators and the `in` list.
    for query in [
        format!("title[ne]={}", encode("' OR '1'='1")),
        format!("title[in]={}", encode("x') OR ('1'='1")),
        format!("id={}", encode("' OR 1=1 --")),
        format!("sort={}", encode("title; DROP TABLE \"Task\"")),
        format!("fields={}", encode("id, (SELECT 1)")),
        format!("done={}", encode("true OR 1=1")),
    ] {
        let reply = server
            .get(&format!("/api/v1/tasks?{query}"), ada.token())
            .await;
        match reply.status {
            200 => {
                if query.starts_with("title[ne]") {
                    assert_eq!(reply.data().len(), texts.len(), "{query}: {}", reply.text);
                } else {
                    assert!(
                        reply.data().is_empty(),
                        "{query} matched rows: {}",
                        reply.text
                    );
                }
            }
            _ => {
                reply.problem(400);
            }
        }
    }
    // The table is still there with every row.
    let all = server.get("/api/v1/tasks?limit=100", ada.token()).await;
    assert_eq!(all.data().len(), texts.len());
}

async fn numeric_and_decimal_filters(server: &TestServer) {
    let staff = server.register_named("staff@example.com", "Staff").await;
    assert_eq!(
        staff.user["role"], "CUSTOMER",
        "registration keeps the default role"
    );
    server.set_role(&staff.id, "STAFF").await;
    let warehouse = server
        .create(
            "/api/v1/warehouses",
            staff.token(),
            &json!({ "code": "AMS1", "name": "Amsterdam" }),
        )
        .await;
    let mut products = Vec::new();
    for (sku, price, active) in [
        ("SKU-001", "9.99", true),
        ("SKU-002", "10.00", true),
        ("SKU-003", "10.01", true),
        ("SKU-004", "1234567890.12", true),
        ("SKU-005", "0.00", false),
    ] {
        let product = server
            .create(
                "/api/v1/products",
                staff.token(),
                &json!({ "sku": sku, "name": format!("Product {sku}"), "price": price, "active": active }),
            )
            .await;
        assert!(
            product["price"].is_string(),
            "Decimal travels as a string: {product}"
        );
        assert_eq!(
            product["price"]
                .as_str()
                .and_then(|text| text.parse::<f64>().ok()),
            price.parse::<f64>().ok(),
            "{product}"
        );
        assert_eq!(product["currency"], "EUR");
        products.push(product);
    }
    let mut stock_rows = Vec::new();
    for (index, stock) in [0, 5, 10, 50].into_iter().enumerate() {
        let inventory = server
            .create(
                "/api/v1/inventories",
                staff.token(),
                &json!({ "productId": products[index]["id"], "warehouseId": warehouse["id"], "stock": stock }),
            )
            .await;
        assert_eq!(inventory["stock"], stock);
        assert_eq!(inventory["reserved"], 0);
        stock_rows.push(id_of(&inventory));
    }
    let product_ids = |query: &str| {
        let query = query.to_string();
        let staff = staff.clone();
        async move {
            let reply = server
                .get(&format!("/api/v1/products?{query}&sort=sku"), staff.token())
                .await;
            assert_eq!(reply.status, 200, "?{query}: {}", reply.text);
            reply
                .data()
                .iter()
                .map(|row| row["sku"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(product_ids("price[gt]=10").await, ["SKU-003", "SKU-004"]);
    assert_eq!(
        product_ids("price[gte]=10.00").await,
        ["SKU-002", "SKU-003", "SKU-004"]
    );
    assert_eq!(product_ids("price[lt]=10").await, ["SKU-001", "SKU-005"]);
    assert_eq!(product_ids("price[lte]=9.99").await, ["SKU-001", "SKU-005"]);
    assert_eq!(
        product_ids("price=10").await,
        ["SKU-002"],
        "10 and 10.00 are equal decimals"
    );
    assert_eq!(
        product_ids("price[in]=9.99,10.01").await,
        ["SKU-001", "SKU-003"]
    );
    assert_eq!(product_ids("active=false").await, ["SKU-005"]);
    // Numeric, not textual, ordering.
    let by_price = server
        .get("/api/v1/products?sort=-price", staff.token())
        .await;
    let skus: Vec<&str> = by_price
        .data()
        .iter()
        .filter_map(|row| row["sku"].as_str())
        .collect();
    assert_eq!(
        skus,
        ["SKU-004", "SKU-003", "SKU-002", "SKU-001", "SKU-005"]
    );
    server
        .get("/api/v1/products?price[gt]=cheap", staff.token())
        .await
        .problem(400);

    let inventory_ids = |query: &'static str| {
        let staff = staff.clone();
        async move {
            let reply = server
                .get(&format!("/api/v1/inventories?{query}"), staff.token())
                .await;
            assert_eq!(reply.status, 200, "?{query}: {}", reply.text);
            reply.ids().into_iter().collect::<BTreeSet<_>>()
        }
    };
    let set = |indices: &[usize]| {
        indices
            .iter()
            .map(|&i| stock_rows[i].clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(inventory_ids("stock[gte]=10").await, set(&[2, 3]));
    assert_eq!(
        inventory_ids("stock[gt]=9").await,
        set(&[2, 3]),
        "9 < 10 numerically"
    );
    assert_eq!(inventory_ids("stock[lt]=5").await, set(&[0]));
    assert_eq!(inventory_ids("stock[lte]=5").await, set(&[0, 1]));
    assert_eq!(inventory_ids("stock[ne]=0").await, set(&[1, 2, 3]));
    assert_eq!(inventory_ids("stock[in]=0,50").await, set(&[0, 3]));
    let by_stock = server
        .get("/api/v1/inventories?sort=-stock", staff.token())
        .await;
    assert_eq!(
        by_stock.ids(),
        vec![
            stock_rows[3].clone(),
            stock_rows[2].clone(),
            stock_rows[1].clone(),
            stock_rows[0].clone()
        ]
    );
    for bad in ["stock=1.5", "stock=ten", "stock[gt]=99999999999999999999"] {
        server
            .get(&format!("/api/v1/inventories?{bad}"), staff.token())
            .await
            .problem(400);
    }

    // A customer sees active products only, through filters too.
    let customer = server.register_named("cara@example.com", "Cara").await;
    let visible = server
        .get("/api/v1/products?active=false", customer.token())
        .await;
    assert!(visible.data().is_empty(), "{}", visible.text);
    let anonymous = server.get("/api/v1/products?price[lt]=1", None).await;
    assert_eq!(anonymous.status, 200, "{}", anonymous.text);
    assert!(
        anonymous.data().is_empty(),
        "the inactive 0.00 product stays hidden: {}",
        anonymous.text
    );
}
