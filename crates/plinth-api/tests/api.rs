//! The API surface derived from small schemas: which models are resources, which fields go where,
//! filters, sorts, includes and the auth endpoints.

use plinth_api::{api, FilterOperator};
use plinth_model::Schema;

fn compile(source: &str) -> Schema {
    let (schema, diagnostics) = plinth_model::compile(source);
    assert!(
        !diagnostics.iter().any(|d| d.is_error()),
        "schema has errors: {diagnostics:#?}"
    );
    schema
}

fn names(schema: &Schema, model: &str, indices: &[usize]) -> Vec<String> {
    let model = schema.model_by_name(model).expect("model exists");
    indices
        .iter()
        .map(|&i| model.fields[i].name.clone())
        .collect()
}

const SHOP: &str = r#"
enum Role {
  USER
  ADMIN
}

model User {
  id        Int      @id @default(autoincrement())
  email     String   @unique @email
  password  String   @password
  role      Role     @default(USER)
  nickname  String?
  note      String?  @omit
  createdAt DateTime @default(now())
  updatedAt DateTime @updatedAt
  orders    Order[]

  @@auth
  @@allow("create", true)
  @@allow("read", auth() == this)
}

model Order {
  id        String      @id @default(uuid())
  total     Decimal
  paid      Boolean     @default(false)
  payload   Json?
  owner     User        @relation(fields: [ownerId], references: [id])
  ownerId   Int         @default(auth().id)
  items     OrderItem[]

  @@allow("read,create", owner == auth())
}

model OrderItem {
  orderId  String
  sku      String
  quantity Int
  order    Order @relation(fields: [orderId], references: [id])

  @@id([orderId, sku])
  @@allow("read", true)
}

model Secret {
  id    Int    @id
  value String
}
"#;

#[test]
fn resources_are_models_with_an_allow_rule_in_declaration_order() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let resources: Vec<(&str, &str)> = api
        .resources
        .iter()
        .map(|r| (r.name.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        resources,
        [
            ("users", "/api/v1/users"),
            ("orders", "/api/v1/orders"),
            ("order-items", "/api/v1/order-items"),
        ]
    );
}

#[test]
fn operations_follow_the_allow_rules() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let orders = api.resource_by_name("orders").expect("orders");
    assert!(orders.endpoints.list && orders.endpoints.get && orders.endpoints.create);
    assert!(!orders.endpoints.update && !orders.endpoints.delete);
    assert_eq!(orders.item_path.as_deref(), Some("/api/v1/orders/{id}"));
    assert!(!orders.anonymous.list);
    let users = api.resource_by_name("users").expect("users");
    assert!(users.anonymous.create && !users.anonymous.get);
}

#[test]
fn readable_resources_have_an_event_stream() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let orders = api.resource_by_name("orders").expect("orders");
    assert_eq!(orders.events_path.as_deref(), Some("/api/v1/orders/events"));
    assert!(orders.endpoints.events && !orders.anonymous.events);
    // Composite keys have no item routes, but their changes still stream.
    let items = api.resource_by_name("order-items").expect("order-items");
    assert_eq!(
        items.events_path.as_deref(),
        Some("/api/v1/order-items/events")
    );
    assert!(items.anonymous.events);

    let write_only = compile(
        r#"
model Feedback {
  id   Int    @id @default(autoincrement())
  text String

  @@allow("create", true)
}
"#,
    );
    let api = plinth_api::api(&write_only);
    let feedback = api.resource_by_name("feedback").expect("feedback");
    assert_eq!(feedback.events_path, None);
    assert!(!feedback.endpoints.events && feedback.endpoints.any());
}

#[test]
fn composite_keys_have_no_item_routes() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let items = api.resource_by_name("order-items").expect("order-items");
    assert_eq!(items.item_path, None);
    assert!(items.endpoints.list && !items.endpoints.get);
    assert_eq!(
        names(&schema, "OrderItem", &items.id_fields),
        ["orderId", "sku"]
    );
    assert!(items.anonymous.list);
}

#[test]
fn field_sets() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let users = api.resource_by_name("users").expect("users");
    assert_eq!(
        names(&schema, "User", &users.readable_fields),
        ["id", "email", "role", "nickname", "createdAt", "updatedAt"]
    );
    assert_eq!(
        names(&schema, "User", &users.create_fields),
        ["email", "password", "role", "nickname", "note"]
    );
    assert_eq!(
        names(&schema, "User", &users.required_on_create),
        ["email", "password"]
    );
    assert_eq!(
        names(&schema, "User", &users.write_only_fields),
        ["password", "note"]
    );
    assert_eq!(
        names(&schema, "User", &users.server_filled_fields),
        ["id", "createdAt", "updatedAt"]
    );
    let orders = api.resource_by_name("orders").expect("orders");
    // The owner comes from the caller's token, never from the body.
    assert_eq!(
        names(&schema, "Order", &orders.create_fields),
        ["total", "paid", "payload"]
    );
    assert_eq!(
        names(&schema, "Order", &orders.required_on_create),
        ["total"]
    );
    let items = api.resource_by_name("order-items").expect("order-items");
    // Primary keys without a generated default are written on create, never updated.
    assert_eq!(
        names(&schema, "OrderItem", &items.create_fields),
        ["orderId", "sku", "quantity"]
    );
    assert_eq!(
        names(&schema, "OrderItem", &items.update_fields),
        ["quantity"]
    );
}

#[test]
fn filters_sorts_and_includes() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let users = api.resource_by_name("users").expect("users");
    let operators = |name: &str| {
        users
            .filters
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.operators.iter().map(|o| o.as_str()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(
        operators("id"),
        ["eq", "ne", "lt", "lte", "gt", "gte", "in"]
    );
    assert_eq!(
        operators("nickname"),
        ["eq", "ne", "in", "contains", "startsWith", "isNull"]
    );
    assert_eq!(operators("role"), ["eq", "ne", "in"]);
    assert!(operators("password").is_empty());
    let orders = api.resource_by_name("orders").expect("orders");
    assert!(!orders.filters.iter().any(|f| f.name == "payload"));
    assert!(orders
        .filters
        .iter()
        .any(|f| f.name == "paid" && f.operators == [FilterOperator::Eq, FilterOperator::Ne]));
    assert_eq!(
        names(&schema, "Order", &orders.sortable_fields),
        ["id", "total", "paid", "ownerId"]
    );
    let includes: Vec<(&str, bool)> = orders
        .includes
        .iter()
        .map(|i| (i.name.as_str(), i.to_many))
        .collect();
    assert_eq!(includes, [("owner", false), ("items", true)]);
}

#[test]
fn auth_endpoints_use_email_and_the_password_field() {
    let schema = compile(SHOP);
    let api = api(&schema);
    let auth = api.auth.as_ref().expect("auth api");
    let user = schema.model_by_name("User").expect("User");
    assert_eq!(user.fields[auth.login_field].name, "email");
    assert_eq!(user.fields[auth.password_field].name, "password");
    assert_eq!(
        names(&schema, "User", &auth.required_register_fields),
        ["email", "password"]
    );
    assert!(!names(&schema, "User", &auth.user_fields).contains(&"password".to_string()));
}

#[test]
fn no_auth_model_means_no_auth_endpoints() {
    let schema = compile(
        r#"
model Note {
  id   Int    @id @default(autoincrement())
  text String
  @@allow("all", true)
}
"#,
    );
    let api = api(&schema);
    assert!(api.auth.is_none());
    assert!(api.resources[0].anonymous.delete);
}

#[test]
fn header_and_value_shapes() {
    use plinth_api::{
        is_cursor_shaped, is_uuid_text, is_valid_idempotency_key, is_valid_if_match,
        IDEMPOTENCY_KEY_MAX_LENGTH, IF_MATCH_MAX_LENGTH,
    };
    assert!(is_valid_idempotency_key("order-1:retry"));
    assert!(is_valid_idempotency_key(
        &"k".repeat(IDEMPOTENCY_KEY_MAX_LENGTH)
    ));
    for bad in [
        "",
        "a b",
        "tab\there",
        "é",
        &"k".repeat(IDEMPOTENCY_KEY_MAX_LENGTH + 1),
    ] {
        assert!(!is_valid_idempotency_key(bad), "{bad:?}");
    }
    assert!(is_valid_if_match("*"));
    assert!(is_valid_if_match("\"a\", W/\"b\""));
    for bad in [
        "",
        " \"a\"",
        "\"a\" ",
        "\"a\"\t",
        &"x".repeat(IF_MATCH_MAX_LENGTH + 1),
    ] {
        assert!(!is_valid_if_match(bad), "{bad:?}");
    }
    assert!(is_uuid_text("0f8fad5b-d9cb-469f-a165-70867728950e"));
    assert!(is_uuid_text("0F8FAD5B-D9CB-469F-A165-70867728950E"));
    for bad in [
        "",
        "0f8fad5bd9cb469fa16570867728950e",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "0f8fad5b-d9cb-469f-a165-70867728950g",
        "0f8fad5b-d9cb-469f-a165-70867728950",
    ] {
        assert!(!is_uuid_text(bad), "{bad:?}");
    }
    assert!(is_cursor_shaped("c1.eyJzIjoiIn0"));
    for bad in ["", "c1.", "c1.a=", "c1.a b", "c2.abc", "eyJzIjoiIn0", "0"] {
        assert!(!is_cursor_shaped(bad), "{bad:?}");
    }
}

#[test]
fn field_read_rules_and_uuid_fields_are_recognised() {
    let schema = compile(
        r#"
model User {
  id    String @id @default(uuid())
  other String @db.Uuid
  plain String
  email String @allow("read", auth() == this)
  @@auth
  @@allow("all", true)
}
"#,
    );
    let model = &schema.models[0];
    let field = |name: &str| {
        model
            .fields
            .iter()
            .find(|field| field.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(plinth_api::is_uuid_field(field("id")));
    assert!(plinth_api::is_uuid_field(field("other")));
    assert!(!plinth_api::is_uuid_field(field("plain")));
    assert!(plinth_api::has_field_read_rule(field("email")));
    assert!(!plinth_api::has_field_read_rule(field("plain")));
}
