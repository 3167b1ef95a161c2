//! The realtime-events outbox on real databases: the capture triggers write one outbox row per
//! insert, update and delete (cascades included), and `select_snapshot` reads each snapshot
//! back through the read policy exactly as `select_by_id` reads the live row.

mod query_support;

use std::collections::HashMap;

use plinth_model::{ModelId, Schema};
use plinth_sql::events::{capture_triggers, drop_capture_triggers, outbox_ddl, OUTBOX_TABLE};
use plinth_sql::query::{self, Caller, Decode, Projection, ResultColumn, SqlValue, Statement};
use plinth_sql::Dialect;
use query_support::{databases, example, text, user, Database, Fixture};
use serde_json::{json, Value as Json};

const UPDATED: &str = "2024-01-01T00:00:00.000Z";

fn all_models(schema: &Schema) -> Vec<ModelId> {
    schema.models.iter().map(|model| model.id).collect()
}

fn run_alone(db: &mut Database, sql: &str) {
    db.execute(&Statement {
        sql: sql.to_string(),
        params: Vec::new(),
    });
}

/// The outbox and the triggers, installed twice: the second run must change nothing.
fn install_outbox(db: &mut Database, schema: &Schema) {
    let dialect = db.dialect();
    for _ in 0..2 {
        db.batch(&outbox_ddl(dialect));
        for statement in capture_triggers(schema, &all_models(schema), dialect) {
            run_alone(db, &statement);
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Event {
    id: i64,
    model: String,
    op: String,
    row_data: String,
}

impl Event {
    fn row(&self) -> Json {
        serde_json::from_str(&self.row_data)
            .unwrap_or_else(|error| panic!("row_data is not JSON: {error}: {}", self.row_data))
    }

    /// `model op key` for comparing event lists.
    fn summary(&self, key_column: &str) -> String {
        let row = self.row();
        let key = match &row[key_column] {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        format!("{} {} {key}", self.model, self.op)
    }
}

fn events(db: &mut Database) -> Vec<Event> {
    let column = |field: usize, name: &str, decode: Decode| ResultColumn {
        field,
        name: name.to_string(),
        decode,
    };
    let projection = Projection {
        parent_key: None,
        columns: vec![
            column(0, "id", Decode::Int),
            column(1, "model", Decode::Text),
            column(2, "op", Decode::Text),
            column(3, "row_data", Decode::Text),
        ],
    };
    let statement = Statement {
        sql: format!(
            "SELECT \"id\", \"model\", \"op\", \"row_data\" FROM \"{OUTBOX_TABLE}\" ORDER BY \"id\""
        ),
        params: Vec::new(),
    };
    db.query(&statement, &projection)
        .into_iter()
        .map(|row| {
            let as_text = |value: &Json| value.as_str().unwrap_or_default().to_string();
            Event {
                id: row[0].as_i64().unwrap_or(-1),
                model: as_text(&row[1]),
                op: as_text(&row[2]),
                row_data: as_text(&row[3]),
            }
        })
        .collect()
}

/// The summaries of the events after the first `since`, sorted (a cascade's order between
/// tables is the database's business).
fn new_events(db: &mut Database, since: usize, key_column: &str) -> Vec<String> {
    let mut summaries: Vec<String> = events(db)
        .iter()
        .skip(since)
        .map(|event| event.summary(key_column))
        .collect();
    summaries.sort();
    summaries
}

/// The snapshot as `caller` may see it, as an object of field name → value.
fn snapshot_row(fixture: &mut Fixture<'_>, event: &Event, caller: &Caller) -> Option<Json> {
    let model = fixture.model(&event.model);
    let (statement, projection) = query::select_snapshot(
        fixture.schema,
        model,
        event.row_data.clone(),
        caller,
        fixture.db.dialect(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let rows = fixture.db.query(&statement, &projection);
    assert!(rows.len() <= 1, "{}", statement.sql);
    rows.into_iter().next().map(|row| {
        let mut object = serde_json::Map::new();
        for (column, value) in projection.columns.iter().zip(row) {
            object.insert(column.name.clone(), value);
        }
        Json::Object(object)
    })
}

/// A primary key value from a snapshot: text or integer.
fn key_value(key: &Json) -> SqlValue {
    match key {
        Json::Number(number) => SqlValue::Int(number.as_i64().unwrap_or(0)),
        Json::String(text) => SqlValue::Text(text.clone()),
        _ => SqlValue::Null,
    }
}

/// Deletes a row by primary key without any rule (cascades run), in the model's table wherever
/// `@@map` and `@@schema` put it.
fn delete_row(fixture: &mut Fixture<'_>, model: &str, id: SqlValue) -> bool {
    let dialect = fixture.db.dialect();
    let model = fixture.schema.model(fixture.model(model));
    let key = &model.fields[model.primary_key.fields[0]];
    let quote = |name: &str| plinth_sql::quote_ident(dialect, name);
    let table = match (dialect, &model.db_schema) {
        (Dialect::Postgres, Some(db_schema)) => {
            format!("{}.{}", quote(db_schema), quote(&model.db_name))
        }
        _ => quote(&model.db_name),
    };
    let placeholder = match (dialect, &id) {
        (Dialect::Sqlite, _) => "?1",
        (Dialect::Postgres, SqlValue::Int(_)) => "$1::int8",
        (Dialect::Postgres, _) => "$1::text",
    };
    let statement = Statement {
        sql: format!(
            "DELETE FROM {table} WHERE {} = {placeholder}",
            quote(&key.db_name)
        ),
        params: vec![id],
    };
    fixture.db.execute(&statement) == 1
}

/// The snapshot as each of `callers` may see it, from one batched statement.
fn snapshot_rows_for_callers(
    fixture: &mut Fixture<'_>,
    event: &Event,
    callers: &[Caller],
) -> Vec<Option<Json>> {
    let model = fixture.model(&event.model);
    let (statement, projection) = query::select_snapshot_for_callers(
        fixture.schema,
        model,
        event.row_data.clone(),
        callers,
        fixture.db.dialect(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let mut seen = vec![None; callers.len()];
    let mut last_index = -1;
    for row in fixture.db.query(&statement, &projection) {
        let index = row[0].as_i64().unwrap_or(-1);
        assert!(
            index > last_index,
            "in caller order, once each: {}",
            statement.sql
        );
        last_index = index;
        let mut object = serde_json::Map::new();
        for (column, value) in projection.columns.iter().zip(row.into_iter().skip(1)) {
            object.insert(column.name.clone(), value);
        }
        let slot = usize::try_from(index)
            .ok()
            .and_then(|index| seen.get_mut(index))
            .unwrap_or_else(|| panic!("caller index {index} out of range"));
        *slot = Some(Json::Object(object));
    }
    seen
}

fn ids(values: &[&str]) -> Vec<String> {
    values.iter().map(|value| value.to_string()).collect()
}

/// What each caller sees of each row through `select_by_id`, to compare the snapshots of
/// later events with (a deleted row can no longer be read live).
type Views = HashMap<(String, String, usize), Option<Json>>;

fn live_views(fixture: &mut Fixture<'_>, rows: &[(&str, &str)], callers: &[Caller]) -> Views {
    let mut views = Views::new();
    for &(model, key) in rows {
        for (index, caller) in callers.iter().enumerate() {
            let view = fixture.get(model, text(key), caller);
            views.insert((model.to_string(), key.to_string(), index), view);
        }
    }
    views
}

/// Every event from `since` on, read as every caller, equals what `select_by_id` gives for the
/// live row now (created, updated) or gave just before the write (deleted).
fn assert_snapshots_match_live(
    fixture: &mut Fixture<'_>,
    since: usize,
    before: &Views,
    callers: &[Caller],
) {
    let name = fixture.db.name();
    let new: Vec<Event> = events(&mut fixture.db).into_iter().skip(since).collect();
    assert!(!new.is_empty(), "{name}: the step wrote no event");
    for event in new {
        let key_json = event.row()["id"].clone();
        let key = match &key_json {
            Json::String(text) => text.clone(),
            other => other.to_string(),
        };
        let batched = snapshot_rows_for_callers(fixture, &event, callers);
        for (index, caller) in callers.iter().enumerate() {
            let expected = if event.op == "deleted" {
                before
                    .get(&(event.model.clone(), key.clone(), index))
                    .cloned()
                    .unwrap_or_else(|| panic!("{name}: no view of {} {key}", event.model))
            } else {
                fixture.get(&event.model, key_value(&key_json), caller)
            };
            let seen = snapshot_row(fixture, &event, caller);
            assert_eq!(
                seen, expected,
                "{name}: {} {} {key} as caller {index}",
                event.model, event.op
            );
            assert_eq!(
                batched[index], expected,
                "{name}: batched {} {} {key} as caller {index}",
                event.model, event.op
            );
        }
    }
}

#[test]
fn todo_writes_and_cascades_fill_the_outbox_and_snapshots_read_like_live_rows() {
    let schema = example("todo");
    for db in databases("todo_outbox", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        install_outbox(&mut fixture.db, &schema);
        let callers = [
            user("alice"),
            user("bob"),
            user("root"),
            Caller::anonymous(),
        ];
        let (alice, bob, root) = (user("alice"), user("bob"), user("root"));
        let anonymous = Caller::anonymous();

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
        assert_eq!(
            new_events(&mut fixture.db, 0, "id"),
            ids(&[
                "User created alice",
                "User created bob",
                "User created root"
            ]),
            "{name}: one event per row, although the triggers were installed twice"
        );
        let first = events(&mut fixture.db)[0].clone();
        assert_eq!(first.model, "User", "{name}");
        let row = first.row();
        assert_eq!(row["email"], json!("alice@example.com"), "{name}");
        assert_eq!(row["role"], json!("USER"), "{name}");
        assert_snapshots_match_live(&mut fixture, 0, &Views::new(), &callers);
        assert!(snapshot_row(&mut fixture, &first, &bob).is_none(), "{name}");
        let mut seen = events(&mut fixture.db).len();

        fixture.insert(
            "Category",
            &[
                ("id", text("c-a")),
                ("name", text("Home")),
                ("ownerId", text("alice")),
            ],
        );
        for (id, owner, category) in [
            ("t-a1", "alice", Some("c-a")),
            ("t-a2", "alice", None),
            ("t-b1", "bob", None),
        ] {
            let mut values = vec![
                ("id", text(id)),
                ("ownerId", text(owner)),
                ("title", text("Buy milk")),
                ("updatedAt", text(UPDATED)),
            ];
            if let Some(category) = category {
                values.push(("categoryId", text(category)));
            }
            fixture.insert("Task", &values);
        }
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&[
                "Category created c-a",
                "Task created t-a1",
                "Task created t-a2",
                "Task created t-b1"
            ]),
            "{name}"
        );
        let task_created = events(&mut fixture.db)[seen + 1].clone();
        let row = task_created.row();
        // Keyed by column names, the row as inserted (defaults filled in).
        assert_eq!(row["id"], json!("t-a1"), "{name}");
        assert_eq!(row["ownerId"], json!("alice"), "{name}");
        assert_eq!(row["categoryId"], json!("c-a"), "{name}");
        assert_eq!(row["notes"], json!(null), "{name}");
        assert!(
            row["done"] == json!(false) || row["done"] == json!(0),
            "{name}: {row}"
        );
        assert_snapshots_match_live(&mut fixture, seen, &Views::new(), &callers);
        // The todo owner rule: alice and the admin get her task, bob and anonymous do not.
        let as_alice = snapshot_row(&mut fixture, &task_created, &alice);
        assert_eq!(
            as_alice.as_ref().map(|row| row["title"].clone()),
            Some(json!("Buy milk")),
            "{name}"
        );
        assert!(
            snapshot_row(&mut fixture, &task_created, &root).is_some(),
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &task_created, &bob),
            None,
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &task_created, &anonymous),
            None,
            "{name}"
        );
        seen = events(&mut fixture.db).len();

        let rows = [
            ("User", "alice"),
            ("User", "bob"),
            ("User", "root"),
            ("Category", "c-a"),
            ("Task", "t-a1"),
            ("Task", "t-a2"),
            ("Task", "t-b1"),
        ];

        // An update through the policy-checked statement.
        assert!(
            fixture.update(
                "Task",
                text("t-a1"),
                &[("title", text("Buy oat milk"))],
                &alice
            ),
            "{name}"
        );
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&["Task updated t-a1"]),
            "{name}"
        );
        let updated = events(&mut fixture.db)[seen].clone();
        assert_eq!(updated.row()["title"], json!("Buy oat milk"), "{name}");
        assert_snapshots_match_live(&mut fixture, seen, &Views::new(), &callers);
        // The snapshot is the row as it was then, not as it is now.
        assert!(
            fixture.update(
                "Task",
                text("t-a1"),
                &[("done", SqlValue::Bool(true))],
                &alice
            ),
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &updated, &alice).map(|row| row["done"].clone()),
            Some(json!(false)),
            "{name}"
        );
        seen = events(&mut fixture.db).len();

        // A delete through the policy-checked statement.
        let before = live_views(&mut fixture, &rows, &callers);
        assert!(fixture.delete("Task", text("t-a2"), &alice), "{name}");
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&["Task deleted t-a2"]),
            "{name}"
        );
        let deleted = events(&mut fixture.db)[seen].clone();
        assert_eq!(deleted.row()["id"], json!("t-a2"), "{name}: the old row");
        assert_snapshots_match_live(&mut fixture, seen, &before, &callers);
        assert!(
            snapshot_row(&mut fixture, &deleted, &alice).is_some(),
            "{name}: a deleted row's snapshot still evaluates"
        );
        assert_eq!(snapshot_row(&mut fixture, &deleted, &bob), None, "{name}");
        seen = events(&mut fixture.db).len();

        // onDelete: SetNull updates the task.
        let before = live_views(&mut fixture, &rows, &callers);
        assert!(delete_row(&mut fixture, "Category", text("c-a")), "{name}");
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&["Category deleted c-a", "Task updated t-a1"]),
            "{name}"
        );
        let set_null = events(&mut fixture.db)
            .into_iter()
            .skip(seen)
            .find(|event| event.model == "Task")
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(set_null.row()["categoryId"], json!(null), "{name}");
        assert_snapshots_match_live(&mut fixture, seen, &before, &callers);
        seen = events(&mut fixture.db).len();

        // onDelete: Cascade deletes bob's task with him; both rows are events, and bob may
        // still read both snapshots (the rules test the snapshot's own columns).
        let before = live_views(&mut fixture, &rows, &callers);
        assert!(delete_row(&mut fixture, "User", text("bob")), "{name}");
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&["Task deleted t-b1", "User deleted bob"]),
            "{name}"
        );
        assert_snapshots_match_live(&mut fixture, seen, &before, &callers);
        let cascaded = events(&mut fixture.db)
            .into_iter()
            .skip(seen)
            .find(|event| event.model == "Task")
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            snapshot_row(&mut fixture, &cascaded, &bob).is_some(),
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &cascaded, &alice),
            None,
            "{name}"
        );

        // Ids only grow.
        let all = events(&mut fixture.db);
        assert!(
            all.windows(2).all(|pair| pair[0].id < pair[1].id),
            "{name}: {all:?}"
        );

        // Without the triggers, writes leave no event.
        for statement in drop_capture_triggers(&schema, &all_models(&schema), fixture.db.dialect())
        {
            run_alone(&mut fixture.db, &statement);
        }
        let count = events(&mut fixture.db).len();
        assert!(delete_row(&mut fixture, "Task", text("t-a1")), "{name}");
        assert_eq!(events(&mut fixture.db).len(), count, "{name}");
    }
}

#[test]
fn saas_snapshots_follow_live_memberships() {
    let schema = example("saas");
    for db in databases("saas_outbox", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        install_outbox(&mut fixture.db, &schema);
        let (member, outsider) = (user("u-member"), user("u-outsider"));
        for id in ["u-member", "u-outsider"] {
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
        fixture.insert(
            "Organization",
            &[
                ("id", text("o-1")),
                ("name", text("Acme")),
                ("slug", text("acme")),
            ],
        );
        fixture.insert(
            "Membership",
            &[
                ("id", text("m-1")),
                ("orgId", text("o-1")),
                ("userId", text("u-member")),
                ("role", text("ADMIN")),
            ],
        );
        for project in ["p-1", "p-2"] {
            fixture.insert(
                "Project",
                &[
                    ("id", text(project)),
                    ("name", text(project)),
                    ("orgId", text("o-1")),
                    ("updatedAt", text(UPDATED)),
                ],
            );
        }
        fixture.insert(
            "AuditLog",
            &[
                ("action", text("created")),
                ("orgId", text("o-1")),
                ("actorId", text("u-member")),
            ],
        );
        let callers = [member.clone(), outsider.clone(), Caller::anonymous()];
        assert_snapshots_match_live(&mut fixture, 2, &Views::new(), &callers);
        let all = events(&mut fixture.db);
        let audit = all
            .iter()
            .find(|event| event.model == "AuditLog")
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(audit.row()["id"], json!(1), "{name}: the serial id");
        let project = all
            .iter()
            .find(|event| event.model == "Project")
            .unwrap_or_else(|| panic!("{name}"))
            .clone();
        assert!(
            snapshot_row(&mut fixture, &project, &member).is_some(),
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &project, &outsider),
            None,
            "{name}"
        );
        assert_eq!(
            snapshot_row(&mut fixture, &project, &Caller::anonymous()),
            None,
            "{name}"
        );

        // A project deleted on its own: the member still reads its snapshot.
        let seen = events(&mut fixture.db).len();
        assert!(delete_row(&mut fixture, "Project", text("p-2")), "{name}");
        let deleted = events(&mut fixture.db)[seen].clone();
        assert_eq!(deleted.summary("id"), "Project deleted p-2", "{name}");
        assert!(
            snapshot_row(&mut fixture, &deleted, &member).is_some(),
            "{name}"
        );

        // The organization's cascade deletes everything in it, one event per row. The rules
        // reach the organization through live memberships, which the same cascade removed,
        // so nobody reads those snapshots any more (documented on select_snapshot).
        let seen = events(&mut fixture.db).len();
        assert!(
            delete_row(&mut fixture, "Organization", text("o-1")),
            "{name}"
        );
        assert_eq!(
            new_events(&mut fixture.db, seen, "id"),
            ids(&[
                "AuditLog deleted 1",
                "Membership deleted m-1",
                "Organization deleted o-1",
                "Project deleted p-1"
            ]),
            "{name}"
        );
        let cascaded = events(&mut fixture.db)
            .into_iter()
            .skip(seen)
            .find(|event| event.model == "Project")
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            snapshot_row(&mut fixture, &cascaded, &member),
            None,
            "{name}"
        );
    }
}

/// Every scalar type, nullable, lists, an enum with mapped values, mapped table and column
/// names (one with a space), a PostgreSQL schema, native types, a field-level read rule and an
/// `Unsupported` column (left out of SQLite snapshots).
const KITCHEN: &str = r#"
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
  schemas  = ["public", "vault"]
}

enum Level {
  LOW  @map("low")
  HIGH @map("high")

  @@schema("vault")
}

model Person {
  id     Int     @id @default(autoincrement())
  name   String
  things Thing[]

  @@auth
  @@allow("all", true)
  @@schema("public")
}

model Thing {
  id      Int       @id @default(autoincrement())
  label   String    @map("the label")
  count   Int?
  big     BigInt?
  ratio   Float?
  price   Decimal?
  flag    Boolean?
  at      DateTime?
  stamp   DateTime? @db.Timestamptz(3)
  day     DateTime? @db.Date
  data    Json?
  blob    Bytes?
  level   Level?
  tags    String[]
  numbers Int[]
  code    String?   @db.Uuid
  secret  String?   @allow("read", auth() == owner)
  shape   Unsupported("point")?
  owner   Person    @relation(fields: [ownerId], references: [id], onDelete: Cascade)
  ownerId Int       @map("owner_id")

  @@map("things table")
  @@schema("vault")
  @@allow("read", auth() != null)
  @@deny("read", label == "forbidden")
  @@allow("create,update,delete", true)
}
"#;

fn kitchen_values() -> Vec<(&'static str, SqlValue)> {
    vec![
        ("label", text("it's \"quoted\" ünïcode")),
        ("count", SqlValue::Int(-5)),
        ("big", SqlValue::Int(9_007_199_254_740_993)),
        ("ratio", SqlValue::Float(0.1)),
        ("price", text("12.50")),
        ("flag", SqlValue::Bool(true)),
        ("at", text("2024-02-29T14:34:56.789+02:00")),
        ("stamp", text("2024-02-29T14:34:56.789+02:00")),
        ("day", text("2024-02-29T00:00:00.000Z")),
        (
            "data",
            SqlValue::Json(json!({"a": [1, 2.5], "b": null, "s": "x\"y"})),
        ),
        ("blob", SqlValue::Bytes(vec![0, 159, 255, 10])),
        ("level", text("high")),
        ("tags", SqlValue::Json(json!(["x", "y z", "x"]))),
        ("numbers", SqlValue::Json(json!([1, -2, 3]))),
        ("code", text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
        ("secret", text("s3cret")),
        ("ownerId", SqlValue::Int(1)),
    ]
}

#[test]
fn every_type_round_trips_through_a_snapshot() {
    let schema = query_support::compile(KITCHEN);
    for db in databases("every_type_round_trips", &schema) {
        let mut fixture = Fixture {
            schema: &schema,
            db,
        };
        let name = fixture.db.name();
        install_outbox(&mut fixture.db, &schema);
        for person in ["ann", "ben"] {
            fixture.insert("Person", &[("name", text(person))]);
        }
        let (ann, ben) = (
            Caller::user(SqlValue::Int(1)),
            Caller::user(SqlValue::Int(2)),
        );
        let callers = [ann.clone(), ben.clone(), Caller::anonymous()];
        let full = fixture.insert("Thing", &kitchen_values());
        let empty = fixture.insert(
            "Thing",
            &[("label", text("empty")), ("ownerId", SqlValue::Int(1))],
        );
        let scalar_json = fixture.insert(
            "Thing",
            &[
                ("label", text("scalar json")),
                ("ownerId", SqlValue::Int(2)),
                ("data", SqlValue::Json(json!("just text"))),
                ("ratio", SqlValue::Float(1e300)),
                ("price", text("-0.000001")),
                ("blob", SqlValue::Bytes(Vec::new())),
                ("tags", SqlValue::Json(json!([]))),
            ],
        );
        let as_id = |value: &Json| SqlValue::Int(value.as_i64().unwrap_or(0));
        let all = events(&mut fixture.db);
        let things: Vec<Event> = all
            .into_iter()
            .filter(|event| event.model == "Thing")
            .collect();
        assert_eq!(things.len(), 3, "{name}");
        let row = things[0].row();
        assert_eq!(row["the label"], json!("it's \"quoted\" ünïcode"), "{name}");
        assert_eq!(row["owner_id"], json!(1), "{name}: column names");
        for (event, id) in things.iter().zip([&full, &empty, &scalar_json]) {
            let batched = snapshot_rows_for_callers(&mut fixture, event, &callers);
            for (index, caller) in callers.iter().enumerate() {
                let live = fixture.get("Thing", as_id(id), caller);
                let seen = snapshot_row(&mut fixture, event, caller);
                assert_eq!(seen, live, "{name}: thing {id} as caller {index}");
                assert_eq!(
                    batched[index], live,
                    "{name}: batched thing {id} as {index}"
                );
            }
        }
        // No callers: a statement that runs and returns nothing.
        assert!(snapshot_rows_for_callers(&mut fixture, &things[0], &[]).is_empty());
        let full_as_ann =
            snapshot_row(&mut fixture, &things[0], &ann).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            full_as_ann,
            json!({
                "id": full,
                "label": "it's \"quoted\" ünïcode",
                "count": -5,
                "big": 9_007_199_254_740_993_i64,
                "ratio": 0.1,
                "price": "12.5",
                "flag": true,
                "at": "2024-02-29T12:34:56.789Z",
                "stamp": "2024-02-29T12:34:56.789Z",
                "day": "2024-02-29T00:00:00.000Z",
                "data": {"a": [1, 2.5], "b": null, "s": "x\"y"},
                "blob": [0, 159, 255, 10],
                "level": "high",
                "tags": ["x", "y z", "x"],
                "numbers": [1, -2, 3],
                "code": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "secret": "s3cret",
                "ownerId": 1
            }),
            "{name}"
        );
        // The field rule: ben reads the thing but not its secret; anonymous reads nothing.
        let full_as_ben =
            snapshot_row(&mut fixture, &things[0], &ben).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(full_as_ben["secret"], json!(null), "{name}");
        assert_eq!(full_as_ben["level"], json!("high"), "{name}");
        assert_eq!(
            snapshot_row(&mut fixture, &things[0], &Caller::anonymous()),
            None,
            "{name}"
        );
        let nulls =
            snapshot_row(&mut fixture, &things[1], &ann).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(nulls["blob"], json!(null), "{name}: a NULL stays NULL");
        assert_eq!(nulls["price"], json!(null), "{name}");
        let scalar =
            snapshot_row(&mut fixture, &things[2], &ann).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(scalar["data"], json!("just text"), "{name}");
        assert_eq!(
            scalar["blob"],
            json!([]),
            "{name}: empty bytes are not NULL"
        );

        // A deny rule on a mapped column, tested on the snapshot: the update's event is hidden
        // from everyone, the delete's (label changed back) is not.
        let seen = events(&mut fixture.db).len();
        assert!(
            fixture.update("Thing", as_id(&full), &[("label", text("forbidden"))], &ann),
            "{name}"
        );
        let forbidden = events(&mut fixture.db)[seen].clone();
        assert_eq!(forbidden.op, "updated", "{name}");
        assert_eq!(snapshot_row(&mut fixture, &forbidden, &ann), None, "{name}");
        assert_eq!(fixture.get("Thing", as_id(&full), &ann), None, "{name}");
        assert!(
            fixture.update("Thing", as_id(&full), &[("label", text("fine"))], &ann),
            "{name}"
        );
        let before = fixture.get("Thing", as_id(&full), &ann);
        assert!(delete_row(&mut fixture, "Thing", as_id(&full)), "{name}");
        let gone = events(&mut fixture.db)
            .into_iter()
            .next_back()
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(gone.op, "deleted", "{name}");
        assert_eq!(snapshot_row(&mut fixture, &gone, &ann), before, "{name}");
    }
}

#[test]
fn a_snapshot_that_is_not_json_is_a_database_error_not_a_panic() {
    let schema = example("todo");
    let model = schema
        .model_by_name("Task")
        .map(|model| model.id)
        .unwrap_or_else(|| panic!("no Task"));
    for dialect in Dialect::ALL {
        let (statement, _) = query::select_snapshot(
            &schema,
            model,
            "{not json".to_string(),
            &user("alice"),
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(statement.params[0], text("{not json"));
    }
    assert_eq!(
        query::select_snapshot(
            &schema,
            ModelId(99),
            "{}".to_string(),
            &Caller::anonymous(),
            Dialect::Sqlite
        )
        .err(),
        Some(query::QueryError::UnknownModel(99))
    );
}

#[test]
fn generated_sql_snapshots() {
    let todo = example("todo");
    let kitchen = query_support::compile(KITCHEN);
    for dialect in Dialect::ALL {
        let directory = dialect.directory_name();
        insta::assert_snapshot!(format!("outbox_ddl_{directory}"), outbox_ddl(dialect));
        let triggers = capture_triggers(&todo, &all_models(&todo), dialect).join(";\n\n");
        insta::assert_snapshot!(format!("capture_triggers_todo_{directory}"), triggers);
        let triggers = capture_triggers(&kitchen, &all_models(&kitchen), dialect).join(";\n\n");
        insta::assert_snapshot!(format!("capture_triggers_kitchen_{directory}"), triggers);
        let mut statements = String::new();
        for (schema, model, caller) in [
            (&todo, "Task", user("user-1")),
            (&kitchen, "Thing", Caller::user(SqlValue::Int(1))),
        ] {
            let model = schema
                .model_by_name(model)
                .map(|model| model.id)
                .unwrap_or_else(|| panic!("no {model}"));
            let (statement, projection) =
                query::select_snapshot(schema, model, "{}".to_string(), &caller, dialect)
                    .unwrap_or_else(|error| panic!("{error}"));
            let columns: Vec<&str> = projection
                .columns
                .iter()
                .map(|column| column.name.as_str())
                .collect();
            statements.push_str(&format!(
                "{}\n  params: {:?}\n  columns: {}\n\n",
                statement.sql,
                statement.params,
                columns.join(", ")
            ));
        }
        insta::assert_snapshot!(format!("select_snapshot_{directory}"), statements);
        let task = todo
            .model_by_name("Task")
            .map(|model| model.id)
            .unwrap_or_else(|| panic!("no Task"));
        let (statement, projection) = query::select_snapshot_for_callers(
            &todo,
            task,
            "{}".to_string(),
            &[user("user-1"), Caller::anonymous(), user("user-2")],
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(projection.parent_key, Some(Decode::Int));
        insta::assert_snapshot!(
            format!("select_snapshot_for_callers_{directory}"),
            format!("{}\n  params: {:?}", statement.sql, statement.params)
        );
    }
}
