//! The query builder's statements executed on real databases: each scenario is written once
//! and run on SQLite and PostgreSQL, asserting which rows each caller gets.

mod query_support;

use plinth_model::Operation;
use plinth_sql::query::{Caller, FilterClause, FilterOp, ListQuery, SqlValue};
use query_support::{databases, example, ids, text, user, Fixture};
use serde_json::json;

const UPDATED: &str = "2024-01-01T00:00:00.000Z";

fn todo_fixture(fixture: &mut Fixture<'_>) {
    for (id, role) in [("alice", "USER"), ("bob", "USER"), ("root", "ADMIN")] {
        fixture.insert(
            "User",
            &[
                ("id", text(id)),
                ("email", text(&format!("{id}@example.com"))),
                ("password", text("hash")),
                ("name", text(id)),
                ("role", text(role)),
            ],
        );
    }
    for (id, owner, title, done) in [
        ("t-a1", "alice", "Buy milk", false),
        ("t-a2", "alice", "buy Bread", true),
        ("t-b1", "bob", "Walk dog", false),
    ] {
        fixture.insert(
            "Task",
            &[
                ("id", text(id)),
                ("ownerId", text(owner)),
                ("title", text(title)),
                ("done", SqlValue::Bool(done)),
                ("updatedAt", text(UPDATED)),
            ],
        );
    }
}

fn filtered(fixture: &Fixture<'_>, field: &str, op: FilterOp, values: Vec<SqlValue>) -> ListQuery {
    ListQuery {
        filters: vec![FilterClause {
            field: fixture.field("Task", field),
            op,
            values,
        }],
        limit: 100,
        ..ListQuery::default()
    }
}

#[test]
fn todo_owners_admins_and_anonymous() {
    let schema = example("todo");
    for db in databases("todo_owners_admins_and_anonymous", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        todo_fixture(&mut fixture);
        let (alice, bob, root) = (user("alice"), user("bob"), user("root"));
        let anonymous = Caller::anonymous();

        assert_eq!(
            fixture.all_ids("Task", &alice),
            ids(&["t-a1", "t-a2"]),
            "{name}"
        );
        assert_eq!(fixture.all_ids("Task", &bob), ids(&["t-b1"]), "{name}");
        assert_eq!(
            fixture.all_ids("Task", &root),
            ids(&["t-a1", "t-a2", "t-b1"]),
            "{name}"
        );
        assert!(fixture.all_ids("Task", &anonymous).is_empty(), "{name}");
        assert_eq!(fixture.all_ids("User", &alice), ids(&["alice"]), "{name}");
        assert_eq!(fixture.all_ids("User", &root).len(), 3, "{name}");

        assert_eq!(fixture.get("Task", text("t-b1"), &alice), None, "{name}");
        let row = fixture
            .get("Task", text("t-b1"), &bob)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(row["done"], json!(false), "{name}");
        assert_eq!(row["dueAt"], json!(null), "{name}");
        assert_eq!(row["updatedAt"], json!(UPDATED), "{name}");
        let created = row["createdAt"].as_str().unwrap_or_default().to_string();
        assert_eq!(created.len(), 24, "{name}: {created}");
        assert!(
            created.ends_with('Z') && created.as_bytes()[10] == b'T',
            "{name}: {created}"
        );
        let me = fixture
            .get("User", text("alice"), &alice)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(me["role"], json!("USER"), "{name}");
        assert!(
            me.get("password").is_none(),
            "{name}: @password is never selected"
        );

        // Filters: case-sensitive substring and prefix, booleans, in, null tests, dates.
        let cases = [
            (
                "title",
                FilterOp::Contains,
                vec![text("milk")],
                &root,
                vec!["t-a1"],
            ),
            (
                "title",
                FilterOp::Contains,
                vec![text("Milk")],
                &root,
                vec![],
            ),
            (
                "title",
                FilterOp::StartsWith,
                vec![text("buy")],
                &root,
                vec!["t-a2"],
            ),
            (
                "title",
                FilterOp::StartsWith,
                vec![text("%")],
                &root,
                vec![],
            ),
            (
                "done",
                FilterOp::Eq,
                vec![SqlValue::Bool(true)],
                &root,
                vec!["t-a2"],
            ),
            (
                "done",
                FilterOp::Ne,
                vec![SqlValue::Bool(true)],
                &alice,
                vec!["t-a1"],
            ),
            (
                "id",
                FilterOp::In,
                vec![text("t-a1"), text("t-b1")],
                &alice,
                vec!["t-a1"],
            ),
            ("id", FilterOp::In, vec![], &root, vec![]),
            (
                "dueAt",
                FilterOp::IsNull,
                vec![SqlValue::Bool(true)],
                &bob,
                vec!["t-b1"],
            ),
            (
                "dueAt",
                FilterOp::IsNull,
                vec![SqlValue::Bool(false)],
                &root,
                vec![],
            ),
            (
                "updatedAt",
                FilterOp::Gte,
                vec![text("2024-01-01T01:00:00+01:00")],
                &root,
                vec!["t-a1", "t-a2", "t-b1"],
            ),
            (
                "updatedAt",
                FilterOp::Gt,
                vec![text(UPDATED)],
                &root,
                vec![],
            ),
            ("title", FilterOp::Gt, vec![text("a")], &root, vec!["t-a2"]),
        ];
        for (field, op, values, caller, expected) in cases {
            let list = filtered(&fixture, field, op, values.clone());
            assert_eq!(
                fixture.list_ids("Task", &list, caller),
                ids(&expected),
                "{name}: {field} {op:?} {values:?}"
            );
        }

        // Updates: the row's rule, deny with future(), field-level update rules.
        assert!(
            fixture.update(
                "Task",
                text("t-a1"),
                &[("done", SqlValue::Bool(true))],
                &alice
            ),
            "{name}"
        );
        assert!(
            !fixture.update(
                "Task",
                text("t-a1"),
                &[("done", SqlValue::Bool(true))],
                &bob
            ),
            "{name}"
        );
        assert!(
            !fixture.update("Task", text("t-a1"), &[("ownerId", text("bob"))], &alice),
            "{name}"
        );
        assert!(
            !fixture.update("Task", text("t-a1"), &[("ownerId", text("bob"))], &root),
            "{name}: deny beats allow"
        );
        assert!(
            fixture.update("Task", text("t-a1"), &[("ownerId", text("alice"))], &alice),
            "{name}"
        );
        assert!(fixture.update("Task", text("t-a1"), &[], &root), "{name}");
        assert!(
            !fixture.update("User", text("alice"), &[("role", text("ADMIN"))], &alice),
            "{name}"
        );
        assert!(
            fixture.update("User", text("alice"), &[("name", text("Alice"))], &alice),
            "{name}"
        );
        assert!(
            fixture.update("User", text("alice"), &[("role", text("ADMIN"))], &root),
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Task", &alice).len(),
            3,
            "{name}: alice is an admin now"
        );

        // Create rules are checked on the inserted row.
        fixture.insert(
            "Task",
            &[
                ("id", text("t-x")),
                ("ownerId", text("bob")),
                ("title", text("x")),
                ("updatedAt", text(UPDATED)),
            ],
        );
        assert!(
            !fixture.allowed("Task", text("t-x"), Operation::Create, &anonymous),
            "{name}"
        );
        assert!(
            fixture.allowed("Task", text("t-x"), Operation::Create, &bob),
            "{name}"
        );
        assert!(
            fixture.allowed("Task", text("t-x"), Operation::Create, &root),
            "{name}"
        );
        for (id, role, allowed) in [("new-user", "USER", true), ("new-admin", "ADMIN", false)] {
            fixture.insert(
                "User",
                &[
                    ("id", text(id)),
                    ("email", text(&format!("{id}@example.com"))),
                    ("password", text("hash")),
                    ("name", text(id)),
                    ("role", text(role)),
                ],
            );
            assert_eq!(
                fixture.allowed("User", text(id), Operation::Create, &anonymous),
                allowed,
                "{name}: {id}"
            );
        }
        // Checked before the insert, a column left out reads its literal @default (role USER).
        let newcomer = |id: &str| {
            [
                ("id", text(id)),
                ("email", text(&format!("{id}@example.com"))),
                ("password", text("hash")),
                ("name", text(id)),
            ]
        };
        assert_eq!(
            fixture.create("User", &newcomer("n1"), &anonymous),
            Some(json!("n1")),
            "{name}"
        );
        let mut admin = newcomer("n2").to_vec();
        admin.push(("role", text("ADMIN")));
        assert_eq!(fixture.create("User", &admin, &anonymous), None, "{name}");
        assert_eq!(
            fixture.create("User", &admin, &root),
            Some(json!("n2")),
            "{name}"
        );

        // Includes: to-many and to-one, policy-filtered, limited per parent.
        assert_eq!(
            fixture.related("User", "tasks", vec![text("bob"), text("root")], &bob, None),
            vec![(json!("bob"), json!("t-b1")), (json!("bob"), json!("t-x"))],
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "User",
                "tasks",
                vec![text("alice"), text("bob")],
                &root,
                Some(1)
            ),
            vec![
                (json!("alice"), json!("t-a1")),
                (json!("bob"), json!("t-b1"))
            ],
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "Task",
                "owner",
                vec![text("alice"), text("bob")],
                &bob,
                None
            ),
            vec![(json!("bob"), json!("bob"))],
            "{name}"
        );
        assert!(
            fixture
                .related("Task", "owner", vec![], &root, None)
                .is_empty(),
            "{name}"
        );

        // Deletes.
        assert!(
            !fixture.delete("Task", text("t-b1"), &user("new-user")),
            "{name}"
        );
        assert!(!fixture.delete("Task", text("t-b1"), &anonymous), "{name}");
        assert!(fixture.delete("Task", text("t-b1"), &bob), "{name}");
        assert!(
            !fixture.delete("Task", text("t-b1"), &bob),
            "{name}: already gone"
        );
    }
}

fn saas_user(fixture: &mut Fixture<'_>, id: &str) {
    fixture.insert(
        "User",
        &[
            ("id", text(id)),
            ("email", text(&format!("{id}@example.com"))),
            ("password", text("hash")),
            ("name", text(id)),
        ],
    );
}

fn membership(fixture: &mut Fixture<'_>, id: &str, org: &str, user: &str, role: &str) {
    fixture.insert(
        "Membership",
        &[
            ("id", text(id)),
            ("orgId", text(org)),
            ("userId", text(user)),
            ("role", text(role)),
        ],
    );
}

#[test]
fn saas_memberships_collections_and_denies() {
    let schema = example("saas");
    for db in databases("saas_memberships_collections_and_denies", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        for id in ["alice", "bob", "carol"] {
            saas_user(&mut fixture, id);
        }
        for (id, slug) in [("org1", "one"), ("org2", "two")] {
            fixture.insert(
                "Organization",
                &[("id", text(id)), ("name", text(id)), ("slug", text(slug))],
            );
        }
        membership(&mut fixture, "m1", "org1", "alice", "ADMIN");
        membership(&mut fixture, "m2", "org1", "bob", "MEMBER");
        membership(&mut fixture, "m3", "org2", "bob", "ADMIN");
        for (id, org, archived) in [("p1", "org1", false), ("p2", "org2", true)] {
            fixture.insert(
                "Project",
                &[
                    ("id", text(id)),
                    ("name", text(id)),
                    ("orgId", text(org)),
                    ("archived", SqlValue::Bool(archived)),
                    ("updatedAt", text(UPDATED)),
                ],
            );
        }
        fixture.insert(
            "Invitation",
            &[
                ("id", text("i1")),
                ("email", text("carol@example.com")),
                ("role", text("VIEWER")),
                ("token", text("secret")),
                ("expiresAt", text("2030-01-01T00:00:00.000Z")),
                ("orgId", text("org1")),
                ("invitedById", text("alice")),
            ],
        );
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
        let anonymous = Caller::anonymous();

        assert_eq!(
            fixture.all_ids("Organization", &alice),
            ids(&["org1"]),
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Organization", &bob),
            ids(&["org1", "org2"]),
            "{name}"
        );
        assert!(fixture.all_ids("Organization", &carol).is_empty(), "{name}");
        assert!(
            fixture.all_ids("Organization", &anonymous).is_empty(),
            "{name}"
        );
        // Nested collections: people who share an organization.
        assert_eq!(
            fixture.all_ids("User", &alice),
            ids(&["alice", "bob"]),
            "{name}"
        );
        assert_eq!(fixture.all_ids("User", &carol), ids(&["carol"]), "{name}");
        assert_eq!(fixture.all_ids("Project", &alice), ids(&["p1"]), "{name}");
        assert_eq!(
            fixture.all_ids("Project", &bob),
            ids(&["p1", "p2"]),
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Membership", &alice),
            ids(&["m1", "m2"]),
            "{name}"
        );

        // auth().email from the auth table; admins of the organization see invitations too.
        assert_eq!(
            fixture.all_ids("Invitation", &carol),
            ids(&["i1"]),
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Invitation", &alice),
            ids(&["i1"]),
            "{name}"
        );
        assert!(fixture.all_ids("Invitation", &bob).is_empty(), "{name}");
        let accepted = [("acceptedAt", text("2024-05-01T12:00:00.000Z"))];
        assert!(
            fixture.update("Invitation", text("i1"), &accepted, &carol),
            "{name}"
        );
        assert!(
            !fixture.update("Invitation", text("i1"), &[("role", text("ADMIN"))], &carol),
            "{name}: deny future().role"
        );
        assert!(
            !fixture.update("Invitation", text("i1"), &accepted, &bob),
            "{name}"
        );
        let invitation = fixture
            .get("Invitation", text("i1"), &carol)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            invitation["acceptedAt"],
            json!("2024-05-01T12:00:00.000Z"),
            "{name}"
        );
        assert!(
            invitation.get("token").is_none(),
            "{name}: @omit is never selected"
        );

        // Membership: admins change roles but never move a membership (deny with future()).
        assert!(
            fixture.update("Membership", text("m2"), &[("role", text("ADMIN"))], &alice),
            "{name}"
        );
        assert!(
            !fixture.update("Membership", text("m2"), &[("orgId", text("org2"))], &alice),
            "{name}"
        );
        assert!(
            !fixture.update(
                "Membership",
                text("m3"),
                &[("role", text("VIEWER"))],
                &alice
            ),
            "{name}"
        );

        // `projects![archived]`: an organization goes only once every project is archived.
        assert!(
            !fixture.delete("Organization", text("org1"), &alice),
            "{name}"
        );
        assert!(
            !fixture.delete("Organization", text("org2"), &alice),
            "{name}: not a member"
        );
        assert!(
            fixture.update(
                "Project",
                text("p1"),
                &[("archived", SqlValue::Bool(true))],
                &alice
            ),
            "{name}"
        );
        assert!(
            !fixture.update("Project", text("p1"), &[("orgId", text("org2"))], &bob),
            "{name}"
        );
        assert!(
            fixture.delete("Organization", text("org1"), &alice),
            "{name}"
        );
        assert!(
            fixture.delete("Organization", text("org2"), &bob),
            "{name}: all (none left unarchived)"
        );

        // `org.memberships^[role == ADMIN]`: the first admin of a new organization. Create
        // rules are checked before the insert, so a new membership cannot vouch for itself.
        let org3 = [
            ("id", text("org3")),
            ("name", text("three")),
            ("slug", text("three")),
        ];
        assert_eq!(
            fixture.create("Organization", &org3, &anonymous),
            None,
            "{name}"
        );
        assert_eq!(
            fixture.create("Organization", &org3, &carol),
            Some(json!("org3")),
            "{name}"
        );
        let m = |id: &str, user: &str, role: &str| {
            [
                ("id", text(id)),
                ("orgId", text("org3")),
                ("userId", text(user)),
                ("role", text(role)),
            ]
        };
        assert_eq!(
            fixture.create("Membership", &m("m4", "alice", "ADMIN"), &carol),
            None,
            "{name}: only for oneself"
        );
        assert_eq!(
            fixture.create("Membership", &m("m4", "carol", "ADMIN"), &carol),
            Some(json!("m4")),
            "{name}"
        );
        assert_eq!(
            fixture.create("Membership", &m("m5", "bob", "ADMIN"), &bob),
            None,
            "{name}: an admin exists"
        );
        assert_eq!(
            fixture.create("Membership", &m("m5", "bob", "MEMBER"), &carol),
            Some(json!("m5")),
            "{name}"
        );
        assert_eq!(
            fixture.create("Membership", &m("m6", "alice", "ADMIN"), &bob),
            None,
            "{name}: members do not invite"
        );
        assert_eq!(
            fixture.create("Membership", &m("m6", "alice", "ADMIN"), &alice),
            None,
            "{name}"
        );
        // Checked after the insert, the new row is left out of the rule's subqueries, so it
        // cannot vouch for itself either.
        membership(&mut fixture, "m6", "org3", "alice", "ADMIN");
        assert!(
            !fixture.allowed("Membership", text("m6"), Operation::Create, &alice),
            "{name}"
        );
        assert!(
            fixture.allowed("Membership", text("m6"), Operation::Create, &carol),
            "{name}"
        );
        // `actor == auth()` reads the value being inserted.
        let audit = [
            ("action", text("x")),
            ("orgId", text("org3")),
            ("actorId", text("carol")),
        ];
        assert_eq!(
            fixture.create("AuditLog", &audit, &carol),
            Some(json!(1)),
            "{name}"
        );
        assert_eq!(
            fixture.create("AuditLog", &audit, &bob),
            None,
            "{name}: actor is not bob"
        );

        // Includes through the back relation, policy-filtered.
        assert_eq!(
            fixture.related(
                "Organization",
                "memberships",
                vec![text("org3")],
                &carol,
                None
            ),
            vec![
                (json!("org3"), json!("m4")),
                (json!("org3"), json!("m5")),
                (json!("org3"), json!("m6"))
            ],
            "{name}"
        );
        assert!(
            fixture
                .related(
                    "Organization",
                    "memberships",
                    vec![text("org3")],
                    &anonymous,
                    None
                )
                .is_empty(),
            "{name}"
        );
        assert!(
            fixture
                .related(
                    "Organization",
                    "memberships",
                    vec![text("org3")],
                    &user("nobody"),
                    None
                )
                .is_empty(),
            "{name}"
        );
    }
}

fn blog_post(
    fixture: &mut Fixture<'_>,
    slug: &str,
    author: &serde_json::Value,
    published: bool,
) -> serde_json::Value {
    fixture.insert(
        "Post",
        &[
            ("title", text(slug)),
            ("slug", text(slug)),
            ("body", text("…")),
            ("published", SqlValue::Bool(published)),
            ("authorId", SqlValue::Int(author.as_i64().unwrap_or(0))),
            ("updatedAt", text(UPDATED)),
        ],
    )
}

#[test]
fn blog_public_reading_field_rules_and_many_to_many() {
    let schema = example("blog");
    for db in databases("blog_public_reading_field_rules_and_many_to_many", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        let mut authors = Vec::new();
        for person in ["ann", "ben"] {
            authors.push(fixture.insert(
                "User",
                &[
                    ("email", text(&format!("{person}@example.com"))),
                    ("password", text("hash")),
                    ("name", text(person)),
                ],
            ));
        }
        assert_eq!(
            authors,
            vec![json!(1), json!(2)],
            "{name}: autoincrement keys come back"
        );
        let (ann, ben) = (
            Caller::user(SqlValue::Int(1)),
            Caller::user(SqlValue::Int(2)),
        );
        let anonymous = Caller::anonymous();
        let published = blog_post(&mut fixture, "hello", &authors[0], true);
        let draft = blog_post(&mut fixture, "draft", &authors[0], false);
        let other = blog_post(&mut fixture, "other", &authors[1], true);
        assert_eq!(
            fixture.all_ids("Post", &anonymous),
            vec![published.clone(), other.clone()],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Post", &ann),
            vec![published.clone(), draft.clone(), other.clone()],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Post", &ben),
            vec![published.clone(), other.clone()],
            "{name}"
        );

        // Field-level read: the email is visible to its owner only.
        let as_ben = fixture
            .get("User", SqlValue::Int(1), &ben)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(as_ben["email"], json!(null), "{name}");
        assert_eq!(as_ben["name"], json!("ann"), "{name}");
        let as_ann = fixture
            .get("User", SqlValue::Int(1), &ann)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(as_ann["email"], json!("ann@example.com"), "{name}");
        let as_nobody = fixture
            .get("User", SqlValue::Int(1), &anonymous)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(as_nobody["email"], json!(null), "{name}");

        // Comments are readable on published posts; creating one needs a published post.
        for (post, body) in [(&published, "nice"), (&draft, "early")] {
            fixture.insert(
                "Comment",
                &[
                    ("body", text(body)),
                    ("postId", SqlValue::Int(post.as_i64().unwrap_or(0))),
                    ("authorId", SqlValue::Int(2)),
                    ("updatedAt", text(UPDATED)),
                ],
            );
        }
        assert_eq!(
            fixture.all_ids("Comment", &anonymous),
            vec![json!(1)],
            "{name}"
        );
        assert!(
            fixture.allowed("Comment", SqlValue::Int(1), Operation::Create, &ben),
            "{name}"
        );
        assert!(
            !fixture.allowed("Comment", SqlValue::Int(2), Operation::Create, &ben),
            "{name}: draft"
        );
        assert!(
            !fixture.allowed("Comment", SqlValue::Int(1), Operation::Create, &ann),
            "{name}: not the author"
        );
        assert!(
            !fixture.update(
                "Comment",
                SqlValue::Int(1),
                &[("postId", SqlValue::Int(3))],
                &ben
            ),
            "{name}"
        );
        assert!(
            fixture.update(
                "Comment",
                SqlValue::Int(1),
                &[("body", text("nicer"))],
                &ben
            ),
            "{name}"
        );

        // Implicit many-to-many: `_PostToTag`, A = Post (sorts first), B = Tag.
        for tag in ["rust", "sql"] {
            fixture.insert("Tag", &[("name", text(tag))]);
        }
        fixture.db.batch(
            "INSERT INTO \"_PostToTag\" (\"A\", \"B\") VALUES (1, 1), (2, 1), (2, 2), (3, 2)",
        );
        assert_eq!(
            fixture.related(
                "Post",
                "tags",
                vec![SqlValue::Int(1), SqlValue::Int(2)],
                &anonymous,
                None
            ),
            vec![
                (json!(1), json!(1)),
                (json!(2), json!(1)),
                (json!(2), json!(2))
            ],
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "Tag",
                "posts",
                vec![SqlValue::Int(1), SqlValue::Int(2)],
                &anonymous,
                None
            ),
            vec![(json!(1), json!(1)), (json!(2), json!(3))],
            "{name}: the draft is filtered out"
        );
        assert_eq!(
            fixture.related(
                "Tag",
                "posts",
                vec![SqlValue::Int(1), SqlValue::Int(2)],
                &ann,
                Some(1)
            ),
            vec![(json!(1), json!(1)), (json!(2), json!(2))],
            "{name}"
        );
    }
}

/// A JSON value read from a row, back as the parameter a cursor carries.
fn cursor_value(value: &serde_json::Value) -> SqlValue {
    match value {
        serde_json::Value::Null => SqlValue::Null,
        serde_json::Value::Bool(flag) => SqlValue::Bool(*flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => SqlValue::Int(integer),
            None => SqlValue::Float(number.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(text) => SqlValue::Text(text.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// Compares two rows' values for one sort key: NULLs last in both directions, text by bytes.
fn compare_key(
    left: &serde_json::Value,
    right: &serde_json::Value,
    descending: bool,
) -> std::cmp::Ordering {
    use serde_json::Value;
    use std::cmp::Ordering;
    let order = match (left, right) {
        (Value::Null, Value::Null) => return Ordering::Equal,
        (Value::Null, _) => return Ordering::Greater,
        (_, Value::Null) => return Ordering::Less,
        (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        _ => Ordering::Equal,
    };
    if descending {
        order.reverse()
    } else {
        order
    }
}

#[test]
fn keyset_pagination_never_skips_or_repeats() {
    let schema = example("todo");
    for db in databases("keyset_pagination_never_skips_or_repeats", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        todo_fixture(&mut fixture);
        let titles = [
            "apple", "Apple", "banana", "Émile", "zebra", "apple", "Zebra", "émile", "a b", "ab",
        ];
        let due = [
            None,
            Some("2024-03-01T10:00:00.000Z"),
            Some("2024-03-01T10:00:00.000Z"),
            Some("2023-12-31T23:59:59.999Z"),
            None,
            Some("2024-03-01T12:00:00+02:00"),
        ];
        for index in 0..31 {
            let mut values = vec![
                ("id", text(&format!("p-{:02}", (index * 7) % 31))),
                ("ownerId", text("alice")),
                ("title", text(titles[index % titles.len()])),
                ("done", SqlValue::Bool(index % 3 == 0)),
                ("updatedAt", text(UPDATED)),
            ];
            if let Some(due) = due[index % due.len()] {
                values.push(("dueAt", text(due)));
            }
            if index % 4 != 0 {
                values.push(("notes", text(&format!("note {}", index % 5))));
            }
            fixture.insert("Task", &values);
        }
        let alice = user("alice");
        let task = fixture.model("Task");
        let task_model = schema.model(task);
        let field = |name: &str| match task_model.field_by_name(name) {
            Some((index, _)) => index,
            None => panic!("no field {name}"),
        };
        let sorts: Vec<Vec<(&str, bool)>> = vec![
            vec![],
            vec![("dueAt", true)],
            vec![("dueAt", false)],
            vec![("title", false), ("dueAt", true)],
            vec![("title", true)],
            vec![("done", false), ("notes", true)],
            vec![("notes", false), ("title", true), ("dueAt", false)],
        ];
        let mut inserted_count = 0;
        for sort in sorts {
            let keys: Vec<plinth_sql::query::SortKey> = sort
                .iter()
                .map(|(name, descending)| plinth_sql::query::SortKey {
                    field: field(name),
                    descending: *descending,
                })
                .collect();
            let cursor_fields = plinth_sql::query::cursor_fields(schema.model(task), &keys);
            let fetch = |fixture: &mut Fixture<'_>, after: Option<Vec<SqlValue>>, limit: u32| {
                let list = ListQuery {
                    sort: keys.clone(),
                    after,
                    limit,
                    fields: Some(vec![field("title")]),
                    ..ListQuery::default()
                };
                let (statement, projection) = plinth_sql::query::select_list(
                    &schema,
                    task,
                    &list,
                    &alice,
                    fixture.db.dialect(),
                )
                .unwrap_or_else(|error| panic!("{error}"));
                let rows = fixture.db.query(&statement, &projection);
                let positions: Vec<usize> = cursor_fields
                    .iter()
                    .map(|field| {
                        projection
                            .position(*field)
                            .unwrap_or_else(|| panic!("cursor field not selected"))
                    })
                    .collect();
                rows.into_iter()
                    .map(|row| {
                        positions
                            .iter()
                            .map(|&position| row[position].clone())
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            };
            let mut everything = fetch(&mut fixture, None, 1000);
            assert_eq!(everything.len(), 33 + inserted_count, "{name}");
            // The database's order is the documented one: NULLs last, text by bytes, then the key.
            let mut expected = everything.clone();
            expected.sort_by(|left, right| {
                let mut order = std::cmp::Ordering::Equal;
                for (index, descending) in keys
                    .iter()
                    .map(|key| key.descending)
                    .chain(std::iter::repeat(false))
                    .take(left.len())
                    .enumerate()
                {
                    order = order.then(compare_key(&left[index], &right[index], descending));
                }
                order
            });
            assert_eq!(everything, expected, "{name}: order for {sort:?}");

            for limit in [1, 4, 7] {
                inserted_count += 1;
                let new_id = json!(format!("zz-{inserted_count:02}"));
                let mut seen = Vec::new();
                let mut after = None;
                let mut inserted = false;
                loop {
                    let mut page = fetch(&mut fixture, after.clone(), limit);
                    let more = page.len() > limit as usize;
                    page.truncate(limit as usize);
                    let Some(last) = page.last().cloned() else {
                        break;
                    };
                    seen.extend(page);
                    if !inserted {
                        // A row inserted mid-way must not shift what later pages return.
                        fixture.insert(
                            "Task",
                            &[
                                ("id", cursor_value(&new_id)),
                                ("ownerId", text("alice")),
                                ("title", text("apple")),
                                ("updatedAt", text(UPDATED)),
                            ],
                        );
                        inserted = true;
                    }
                    if !more {
                        break;
                    }
                    after = Some(last.iter().map(cursor_value).collect());
                }
                let before = seen.len();
                seen.retain(|row| row.last() != Some(&new_id));
                assert!(
                    before - seen.len() <= 1,
                    "{name}: the new row came once at most"
                );
                assert_eq!(seen, everything, "{name}: pages of {limit} for {sort:?}");
                everything = fetch(&mut fixture, None, 1000);
            }
        }
    }
}

const SOCIAL: &str = r#"
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

enum Level {
  LOW  @map("low")
  HIGH @map("high")
}

model Person {
  id        Int      @id @default(autoincrement())
  name      String
  clubs     Club[]
  followers Person[] @relation("Follows")
  following Person[] @relation("Follows")
  notes     Note[]

  @@auth
  @@allow("read", true)
}

model Club {
  id      Int      @id @default(autoincrement())
  name    String
  public  Boolean  @default(false)
  banned  Boolean  @default(false)
  members Person[]

  @@allow("read", public || members?[id == auth().id])
  @@allow("update", members![name != "mallory"] && auth() != null)
  @@deny("read", banned)
}

model Note {
  id       Int       @id @default(autoincrement())
  text     String
  level    Level     @default(LOW)
  author   Person    @relation(fields: [authorId], references: [id])
  authorId Int
  score    Decimal?
  big      BigInt?
  ratio    Float?
  data     Json?
  blob     Bytes?
  tags     String[]
  at       DateTime?
  hidden   Boolean?

  @@allow("read", author == auth() || author.followers?[id == auth().id])
  // NULL is not true: notes with no `hidden` value stay visible.
  @@deny("read", hidden == true)
  @@allow("read", level in [LOW] && auth() != null && !(author.clubs?[banned]))
  @@allow("update", auth().name == author.name && future().level != HIGH)
}
"#;

#[test]
fn many_to_many_self_relations_and_types() {
    let schema = query_support::compile(SOCIAL);
    for db in databases("many_to_many_self_relations_and_types", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        for person in ["ann", "ben", "cy", "mallory"] {
            fixture.insert("Person", &[("name", text(person))]);
        }
        let (ann, ben, cy) = (
            Caller::user(SqlValue::Int(1)),
            Caller::user(SqlValue::Int(2)),
            Caller::user(SqlValue::Int(3)),
        );
        let anonymous = Caller::anonymous();
        for (club, public, banned) in [
            ("open", true, false),
            ("closed", false, false),
            ("bad", false, true),
        ] {
            fixture.insert(
                "Club",
                &[
                    ("name", text(club)),
                    ("public", SqlValue::Bool(public)),
                    ("banned", SqlValue::Bool(banned)),
                ],
            );
        }
        // _ClubToPerson: A = Club, B = Person. ben is in the closed club, cy in the bad one,
        // mallory in the open one. _Follows: A = the followed (`followers` sorts first), B = the
        // follower: ben follows ann.
        fixture.db.batch(
            "INSERT INTO \"_ClubToPerson\" (\"A\", \"B\") VALUES (2, 2), (3, 3), (1, 4);
             INSERT INTO \"_Follows\" (\"A\", \"B\") VALUES (1, 2);",
        );
        assert_eq!(
            fixture.all_ids("Club", &anonymous),
            vec![json!(1)],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Club", &ben),
            vec![json!(1), json!(2)],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Club", &cy),
            vec![json!(1)],
            "{name}: deny beats membership"
        );
        assert!(
            fixture.update("Club", SqlValue::Int(2), &[("name", text("x"))], &ann),
            "{name}"
        );
        assert!(
            !fixture.update("Club", SqlValue::Int(1), &[("name", text("x"))], &ann),
            "{name}: mallory"
        );
        assert!(
            !fixture.update("Club", SqlValue::Int(2), &[("name", text("x"))], &anonymous),
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "Person",
                "followers",
                vec![SqlValue::Int(1), SqlValue::Int(2)],
                &anonymous,
                None
            ),
            vec![(json!(1), json!(2))],
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "Person",
                "following",
                vec![SqlValue::Int(1), SqlValue::Int(2)],
                &anonymous,
                None
            ),
            vec![(json!(2), json!(1))],
            "{name}"
        );
        assert_eq!(
            fixture.related(
                "Person",
                "clubs",
                vec![SqlValue::Int(2), SqlValue::Int(3), SqlValue::Int(4)],
                &ben,
                None
            ),
            vec![(json!(2), json!(2)), (json!(4), json!(1))],
            "{name}"
        );

        let note = |fixture: &mut Fixture<'_>, author: i64, level: &str| {
            fixture.insert(
                "Note",
                &[
                    ("text", text("n")),
                    ("authorId", SqlValue::Int(author)),
                    ("level", text(level)),
                ],
            )
        };
        let high_by_ann = note(&mut fixture, 1, "high");
        let low_by_cy = note(&mut fixture, 3, "low");
        let low_by_ann = note(&mut fixture, 1, "low");
        // ann: her own; ben follows ann and reads her notes; cy is in a banned club, so her
        // LOW note is only for herself.
        assert_eq!(
            fixture.all_ids("Note", &ann),
            vec![high_by_ann.clone(), low_by_ann.clone()],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Note", &ben),
            vec![high_by_ann.clone(), low_by_ann.clone()],
            "{name}"
        );
        assert_eq!(
            fixture.all_ids("Note", &cy),
            vec![low_by_cy.clone(), low_by_ann.clone()],
            "{name}"
        );
        assert!(fixture.all_ids("Note", &anonymous).is_empty(), "{name}");
        let id = |value: &serde_json::Value| SqlValue::Int(value.as_i64().unwrap_or(0));
        let hidden = fixture.insert(
            "Note",
            &[
                ("text", text("h")),
                ("authorId", SqlValue::Int(1)),
                ("hidden", SqlValue::Bool(true)),
            ],
        );
        assert_eq!(fixture.get("Note", id(&hidden), &ann), None, "{name}");
        assert!(
            fixture.update("Note", id(&hidden), &[("hidden", SqlValue::Null)], &ann),
            "{name}"
        );
        assert!(fixture.get("Note", id(&hidden), &ann).is_some(), "{name}");
        assert!(fixture.delete_unchecked("Note", id(&hidden)), "{name}");
        assert!(
            fixture.update("Note", id(&low_by_ann), &[("text", text("edited"))], &ann),
            "{name}"
        );
        assert!(
            !fixture.update("Note", id(&low_by_ann), &[("level", text("high"))], &ann),
            "{name}: future()"
        );
        assert!(
            !fixture.update("Note", id(&low_by_ann), &[("text", text("x"))], &ben),
            "{name}"
        );

        // Every type reads back the same from both databases.
        let values = [
            ("score", text("12.50")),
            ("big", SqlValue::Int(9_007_199_254_740_993)),
            ("ratio", SqlValue::Float(0.1)),
            ("data", SqlValue::Json(json!({"a": [1, 2], "b": null}))),
            ("blob", SqlValue::Bytes(vec![0, 159, 255])),
            ("tags", SqlValue::Json(json!(["x", "y z", "x"]))),
            ("at", text("2024-02-29T14:34:56.789+02:00")),
        ];
        assert!(
            fixture.update("Note", id(&low_by_ann), &values, &ann),
            "{name}"
        );
        let row = fixture
            .get("Note", id(&low_by_ann), &ann)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(row["score"], json!("12.5"), "{name}");
        assert_eq!(row["big"], json!(9_007_199_254_740_993_i64), "{name}");
        assert_eq!(row["ratio"], json!(0.1), "{name}");
        assert_eq!(row["data"], json!({"a": [1, 2], "b": null}), "{name}");
        assert_eq!(row["blob"], json!([0, 159, 255]), "{name}");
        assert_eq!(row["tags"], json!(["x", "y z", "x"]), "{name}");
        assert_eq!(row["at"], json!("2024-02-29T12:34:56.789Z"), "{name}");
        assert_eq!(row["level"], json!("low"), "{name}");
        let empty = [
            ("tags", SqlValue::Json(json!([]))),
            ("score", SqlValue::Null),
        ];
        assert!(
            fixture.update("Note", id(&low_by_ann), &empty, &ann),
            "{name}"
        );
        let row = fixture
            .get("Note", id(&low_by_ann), &ann)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(row["tags"], json!([]), "{name}");
        assert_eq!(row["score"], json!(null), "{name}");
        assert!(
            fixture.update("Note", id(&low_by_ann), &values, &ann),
            "{name}"
        );

        // Filters and sorting on enums (by database name), decimals and dates.
        let note_field = |name: &str| fixture.field("Note", name);
        let list = |field: usize,
                    op: FilterOp,
                    values: Vec<SqlValue>,
                    sort: Vec<plinth_sql::query::SortKey>| ListQuery {
            filters: vec![FilterClause { field, op, values }],
            sort,
            limit: 100,
            ..ListQuery::default()
        };
        let by_level = |descending| {
            vec![plinth_sql::query::SortKey {
                field: note_field("level"),
                descending,
            }]
        };
        let cases = [
            (
                list(
                    note_field("level"),
                    FilterOp::Eq,
                    vec![text("high")],
                    vec![],
                ),
                vec![high_by_ann.clone()],
            ),
            (
                list(
                    note_field("level"),
                    FilterOp::In,
                    vec![text("low"), text("high")],
                    by_level(false),
                ),
                vec![high_by_ann.clone(), low_by_ann.clone()],
            ),
            (
                list(
                    note_field("level"),
                    FilterOp::Gt,
                    vec![text("high")],
                    vec![],
                ),
                vec![low_by_ann.clone()],
            ),
            (
                list(
                    note_field("score"),
                    FilterOp::Gt,
                    vec![text("12.4")],
                    vec![],
                ),
                vec![low_by_ann.clone()],
            ),
            (
                list(
                    note_field("score"),
                    FilterOp::Lt,
                    vec![text("12.5")],
                    vec![],
                ),
                vec![],
            ),
            (
                list(
                    note_field("big"),
                    FilterOp::Eq,
                    vec![SqlValue::Int(9_007_199_254_740_993)],
                    vec![],
                ),
                vec![low_by_ann.clone()],
            ),
            (
                list(
                    note_field("at"),
                    FilterOp::Lte,
                    vec![text("2024-02-29T12:34:56.789Z")],
                    vec![],
                ),
                vec![low_by_ann.clone()],
            ),
            (
                list(
                    note_field("at"),
                    FilterOp::Lt,
                    vec![text("2024-02-29T12:34:56.789Z")],
                    vec![],
                ),
                vec![],
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(
                fixture.list_ids("Note", &query, &ann),
                expected,
                "{name}: {query:?}"
            );
        }
    }
}

/// Filters, sorting and cursors on a field behind a field-level read rule see it as the caller
/// does: `User.email` is readable by its owner only, so nobody else can single a user out by it,
/// order users by it, or learn it from a page boundary.
#[test]
fn field_read_rules_apply_to_filters_sort_and_cursor() {
    let schema = example("blog");
    for db in databases("field_read_rules_apply_to_filters_sort_and_cursor", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        for person in ["cat", "ann", "ben"] {
            fixture.insert(
                "User",
                &[
                    ("email", text(&format!("{person}@example.com"))),
                    ("password", text("hash")),
                    ("name", text(person)),
                ],
            );
        }
        let (cat, ann) = (
            Caller::user(SqlValue::Int(1)),
            Caller::user(SqlValue::Int(2)),
        );
        let anonymous = Caller::anonymous();
        let email = fixture.field("User", "email");
        let filter = |op, values: Vec<SqlValue>| ListQuery {
            filters: vec![FilterClause {
                field: email,
                op,
                values,
            }],
            limit: 100,
            ..ListQuery::default()
        };
        let by_ann = filter(FilterOp::Eq, vec![text("ann@example.com")]);
        assert_eq!(
            fixture.list_ids("User", &by_ann, &ann),
            vec![json!(2)],
            "{name}"
        );
        for caller in [&cat, &anonymous] {
            assert!(
                fixture.list_ids("User", &by_ann, caller).is_empty(),
                "{name}: equality on a hidden email"
            );
            for (op, value) in [
                (FilterOp::StartsWith, "ann"),
                (FilterOp::Contains, "nn@"),
                (FilterOp::Gt, "a"),
                (FilterOp::Ne, "nobody"),
            ] {
                assert!(
                    fixture
                        .list_ids("User", &filter(op, vec![text(value)]), caller)
                        .iter()
                        .all(|id| *caller == cat && *id == json!(1)),
                    "{name}: {op:?} sees only the caller's own email"
                );
            }
        }
        // A hidden email reads as null, so it matches `isNull=true` like the response shows it.
        let is_null = filter(FilterOp::IsNull, vec![SqlValue::Bool(true)]);
        assert_eq!(
            fixture.list_ids("User", &is_null, &cat),
            vec![json!(2), json!(3)],
            "{name}"
        );
        assert_eq!(
            fixture.list_ids("User", &is_null, &anonymous),
            vec![json!(1), json!(2), json!(3)],
            "{name}"
        );
        let not_null = filter(FilterOp::IsNull, vec![SqlValue::Bool(false)]);
        assert_eq!(
            fixture.list_ids("User", &not_null, &cat),
            vec![json!(1)],
            "{name}"
        );

        // Sorting by email: the caller's own first (the others are null, sorted last by key),
        // so the order says nothing about the hidden addresses.
        for descending in [false, true] {
            let sorted = ListQuery {
                sort: vec![plinth_sql::query::SortKey {
                    field: email,
                    descending,
                }],
                limit: 100,
                ..ListQuery::default()
            };
            assert_eq!(
                fixture.list_ids("User", &sorted, &ann),
                vec![json!(2), json!(1), json!(3)],
                "{name}: descending {descending}"
            );
            // Pages of one, following the cursor (email as the caller sees it, then the key).
            let mut seen = Vec::new();
            let mut after: Option<Vec<SqlValue>> = None;
            for _ in 0..5 {
                let page = ListQuery {
                    after: after.clone(),
                    limit: 1,
                    ..sorted.clone()
                };
                let ids = fixture.list_ids("User", &page, &ann);
                let Some(last) = ids.first().cloned() else {
                    break;
                };
                seen.push(last.clone());
                let key = last.as_i64().unwrap_or(0);
                let visible_email = if key == 2 {
                    text("ann@example.com")
                } else {
                    SqlValue::Null
                };
                after = Some(vec![visible_email, SqlValue::Int(key)]);
                if ids.len() < 2 {
                    break;
                }
            }
            assert_eq!(
                seen,
                vec![json!(2), json!(1), json!(3)],
                "{name}: cursor pages, descending {descending}"
            );
        }
    }
}
