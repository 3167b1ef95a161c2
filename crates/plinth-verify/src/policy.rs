//! What the API's Plinth schema (`--schema`) says each probe should expect: its access rules
//! evaluated for the probes' users on the rows they really saw, so the authorization probes test
//! precisely instead of guessing from field names.
//!
//! The evaluation is three-valued. A rule whose outcome the JSON rows do not show — a path
//! through two relations, a collection predicate (`members?[…]`), a field hidden from the
//! reader — is *unknown*, and an unknown verdict leaves the probe to its document-only
//! heuristics. A verdict is only `Some` when every rule that could decide it was evaluated from
//! values the API answered, the way the server's SQL would (`plinth_sql`'s policy compiler):
//! model rules deny unless some allow rule holds and no deny rule does; field rules allow unless
//! they say otherwise.

use plinth_api::{Api, Resource};
use plinth_model::{
    ComparisonOp, DefaultValue, Effect, FieldType, Model, Operation, PathRoot, Policy, PolicyExpr,
    Schema,
};
use serde_json::{Map, Value};

/// The schema could not be used: it has errors (the CLI exits 2 and prints them).
#[derive(Debug, thiserror::Error)]
#[error("the schema `{name}` has errors:\n{rendered}")]
pub struct SchemaError {
    pub name: String,
    /// The errors as the compiler renders them (file:line:column, the source line, a caret).
    pub rendered: String,
}

/// A compiled schema and the API surface Plinth derives from it.
#[derive(Clone, Debug)]
pub struct Policies {
    schema: Schema,
    api: Api,
}

/// A signed-in caller as the rules see `auth()`: their id and their own row (as `me` answers it,
/// keyed by field name). A field missing from `row` is unknown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Caller {
    pub id: String,
    pub row: Map<String, Value>,
}

/// The document operation an endpoint of a resource is: which one of the five CRUD endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    List,
    Get,
    Create,
    Update,
    Delete,
}

impl Policies {
    /// Parses and checks `source`; any error diagnostic makes the schema unusable.
    pub fn compile(name: &str, source: &str) -> Result<Policies, SchemaError> {
        let (schema, diagnostics) = plinth_model::compile(source);
        if plinth_diagnostics::has_errors(&diagnostics) {
            let errors: Vec<_> = diagnostics
                .into_iter()
                .filter(plinth_diagnostics::Diagnostic::is_error)
                .collect();
            let file = plinth_diagnostics::SourceFile::new(name, source);
            return Err(SchemaError {
                name: name.to_string(),
                rendered: plinth_diagnostics::render_text(&file, &errors),
            });
        }
        let api = plinth_api::api(&schema);
        Ok(Policies { schema, api })
    }

    /// Whether the API has Plinth's auth routes: only then is an anonymous caller refused with
    /// 401 up front.
    pub fn has_auth(&self) -> bool {
        self.api.auth.is_some()
    }

    /// The path of `GET /auth/me`, which answers a caller's own row.
    pub fn me_path(&self) -> Option<&'static str> {
        self.api.auth.as_ref().map(|_| plinth_api::AUTH_ME_PATH)
    }

    /// The resource served at `path` (a collection or item path, parameter names ignored), and
    /// which endpoint `method` on it is.
    pub fn endpoint(&self, method: &str, path: &str) -> Option<(Rules<'_>, Endpoint)> {
        let wanted = normalized(path);
        self.api.resources.iter().find_map(|resource| {
            let rules = self.rules_of(resource)?;
            let endpoint = if normalized(&resource.path) == wanted {
                match method {
                    "GET" if resource.endpoints.list => Endpoint::List,
                    "POST" if resource.endpoints.create => Endpoint::Create,
                    _ => return None,
                }
            } else if resource
                .item_path
                .as_deref()
                .is_some_and(|item| normalized(item) == wanted)
            {
                match method {
                    "GET" if resource.endpoints.get => Endpoint::Get,
                    "PATCH" | "PUT" if resource.endpoints.update => Endpoint::Update,
                    "DELETE" if resource.endpoints.delete => Endpoint::Delete,
                    _ => return None,
                }
            } else {
                return None;
            };
            Some((rules, endpoint))
        })
    }

    /// The rules of the resource whose collection path is `path`.
    pub fn resource(&self, path: &str) -> Option<Rules<'_>> {
        let wanted = normalized(path);
        self.api
            .resources
            .iter()
            .find(|resource| normalized(&resource.path) == wanted)
            .and_then(|resource| self.rules_of(resource))
    }

    fn rules_of<'a>(&'a self, resource: &'a Resource) -> Option<Rules<'a>> {
        Some(Rules {
            schema: &self.schema,
            resource,
            model: self.schema.models.get(resource.model.0)?,
        })
    }
}

/// `/api/v1/tasks/{taskId}` → `/api/v1/tasks/{}`: paths compare whatever the parameter is called.
fn normalized(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// One resource's rules, evaluated on rows as JSON objects keyed by field name.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    schema: &'a Schema,
    resource: &'a Resource,
    model: &'a Model,
}

/// The rows a rule reads: the row as stored, and (for updates) the row as it will be.
struct Rows<'r> {
    current: &'r Map<String, Value>,
    future: &'r Map<String, Value>,
}

impl<'a> Rules<'a> {
    pub fn collection_path(&self) -> &'a str {
        &self.resource.path
    }

    /// Whether an anonymous caller is refused with 401 before anything else: the endpoint
    /// exists, the API has auth routes, and no rule could let a caller without a token through.
    pub fn anonymous_refused(&self, endpoint: Endpoint, has_auth: bool) -> bool {
        let anonymous = self.resource.anonymous;
        has_auth
            && !match endpoint {
                Endpoint::List => anonymous.list,
                Endpoint::Get => anonymous.get,
                Endpoint::Create => anonymous.create,
                Endpoint::Update => anonymous.update,
                Endpoint::Delete => anonymous.delete,
            }
    }

    /// Whether `caller` may read, update or delete `row` by the model's rules.
    pub fn may(
        &self,
        operation: Operation,
        caller: &Caller,
        row: &Map<String, Value>,
    ) -> Option<bool> {
        let rows = Rows {
            current: row,
            future: row,
        };
        self.decide(&self.model.policies, operation, false, caller, &rows)
    }

    /// Whether `caller` may change `row` by sending `changes`: the model's update rules (with
    /// `future()` the changed row) and the field rules of every changed field.
    pub fn may_update(
        &self,
        caller: &Caller,
        row: &Map<String, Value>,
        changes: &Map<String, Value>,
    ) -> Option<bool> {
        let mut future = row.clone();
        future.extend(changes.clone());
        let rows = Rows {
            current: row,
            future: &future,
        };
        let model = self.decide(
            &self.model.policies,
            Operation::Update,
            false,
            caller,
            &rows,
        );
        let mut verdict = model;
        for name in changes.keys() {
            let Some((_, field)) = self.model.field_by_name(name) else {
                continue;
            };
            let field_verdict =
                self.decide(&field.policies, Operation::Update, true, caller, &rows);
            verdict = and(verdict, field_verdict);
        }
        verdict
    }

    /// Whether `caller` may create a row from `body`: the create rules on the row as it would
    /// be stored (the body, literal defaults, and `auth()` defaults filled from the caller).
    pub fn may_create(&self, caller: &Caller, body: &Map<String, Value>) -> Option<bool> {
        let mut row = Map::new();
        for field in &self.model.fields {
            let value = match &field.default {
                Some(DefaultValue::Value(value)) => literal(self.schema, value),
                Some(DefaultValue::Auth { field: auth_field }) => {
                    auth_value(self.schema, caller, &[*auth_field])
                }
                _ => None,
            };
            if let Some(value) = value {
                row.insert(field.name.clone(), value);
            }
        }
        row.extend(body.clone());
        let rows = Rows {
            current: &row,
            future: &row,
        };
        self.decide(
            &self.model.policies,
            Operation::Create,
            false,
            caller,
            &rows,
        )
    }

    /// The fields whose own rules govern reading them, with whether `caller` may read each one
    /// in `row` (a refused field reads as `null`).
    pub fn field_reads(
        &self,
        caller: &Caller,
        row: &Map<String, Value>,
    ) -> Vec<(String, Option<bool>)> {
        let rows = Rows {
            current: row,
            future: row,
        };
        self.resource
            .readable_fields
            .iter()
            .filter_map(|&index| self.model.fields.get(index))
            .filter(|field| plinth_api::has_field_read_rule(field))
            .map(|field| {
                let verdict = self.decide(&field.policies, Operation::Read, true, caller, &rows);
                (field.name.clone(), verdict)
            })
            .collect()
    }

    /// Fields the response shows but no create or update body takes (server-filled owner ids,
    /// generated values), by name.
    pub fn never_written(&self) -> Vec<&'a str> {
        self.resource
            .readable_fields
            .iter()
            .filter(|index| {
                !self.resource.create_fields.contains(index)
                    && !self.resource.update_fields.contains(index)
            })
            .filter_map(|&index| self.model.fields.get(index))
            .map(|field| field.name.as_str())
            .collect()
    }

    /// Whether an update body may carry the field at all.
    pub fn update_takes(&self, name: &str) -> bool {
        self.field_index(name)
            .is_some_and(|index| self.resource.update_fields.contains(&index))
    }

    /// Whether a create body may carry the field at all.
    pub fn create_takes(&self, name: &str) -> bool {
        self.field_index(name)
            .is_some_and(|index| self.resource.create_fields.contains(&index))
    }

    /// The foreign keys that point at a user (the auth model): the fields a list filter by the
    /// owner's id goes through (`ownerId`, `authorId`).
    pub fn owner_keys(&self) -> Vec<&'a str> {
        let Some(auth) = self.schema.auth_model else {
            return Vec::new();
        };
        self.schema
            .relations
            .iter()
            .filter(|relation| {
                relation.referencing.model == self.model.id
                    && relation.referenced.model == auth
                    && relation.fk_fields.len() == 1
            })
            .filter_map(|relation| self.model.fields.get(relation.fk_fields[0]))
            .map(|field| field.name.as_str())
            .collect()
    }

    fn field_index(&self, name: &str) -> Option<usize> {
        self.model.field_by_name(name).map(|(index, _)| index)
    }

    /// ZenStack's rule: denied when a deny rule holds; else allowed when an allow rule holds;
    /// with no allow rule at all, denied for models and allowed for fields (`allow_by_default`).
    fn decide(
        &self,
        policies: &[Policy],
        operation: Operation,
        allow_by_default: bool,
        caller: &Caller,
        rows: &Rows<'_>,
    ) -> Option<bool> {
        let rules: Vec<&Policy> = policies
            .iter()
            .filter(|policy| policy.operations.contains(operation))
            .collect();
        let mut denied: Option<bool> = Some(false);
        let mut allowed: Option<bool> = Some(false);
        let mut any_allow = false;
        for rule in rules {
            let holds = self.condition(&rule.condition, caller, rows);
            match rule.effect {
                Effect::Deny => denied = or(denied, holds),
                Effect::Allow => {
                    any_allow = true;
                    allowed = or(allowed, holds);
                }
            }
        }
        if !any_allow && allow_by_default {
            allowed = Some(true);
        }
        and(allowed, denied.map(|denied| !denied))
    }

    /// A condition's truth, or `None` when the rows do not show enough to tell.
    fn condition(&self, expression: &PolicyExpr, caller: &Caller, rows: &Rows<'_>) -> Option<bool> {
        match expression {
            PolicyExpr::Not(inner) => self.condition(inner, caller, rows).map(|value| !value),
            PolicyExpr::And(left, right) => and(
                self.condition(left, caller, rows),
                self.condition(right, caller, rows),
            ),
            PolicyExpr::Or(left, right) => or(
                self.condition(left, caller, rows),
                self.condition(right, caller, rows),
            ),
            PolicyExpr::Compare { op, lhs, rhs } => {
                let literal_null = |side: &PolicyExpr| {
                    matches!(side, PolicyExpr::Literal(plinth_model::Value::Null))
                };
                let left = self.value(lhs, caller, rows)?;
                let right = self.value(rhs, caller, rows)?;
                // `x == null` is a test for null; any other comparison with a null is SQL's
                // unknown, which the evaluation does not guess.
                if literal_null(lhs) || literal_null(rhs) {
                    let other_is_null = if literal_null(lhs) {
                        right.is_null()
                    } else {
                        left.is_null()
                    };
                    return match op {
                        ComparisonOp::Eq => Some(other_is_null),
                        ComparisonOp::Ne => Some(!other_is_null),
                        _ => None,
                    };
                }
                if left.is_null() || right.is_null() {
                    return None;
                }
                compare(*op, &left, &right)
            }
            PolicyExpr::In { lhs, rhs } => {
                let left = self.value(lhs, caller, rows)?;
                let PolicyExpr::Array(members) = rhs.as_ref() else {
                    return None;
                };
                if left.is_null() {
                    return None;
                }
                let mut found = Some(false);
                for member in members {
                    let member = self.value(member, caller, rows);
                    found = or(found, member.map(|member| same(&left, &member)));
                }
                found
            }
            PolicyExpr::Literal(_) | PolicyExpr::Path(_) => {
                match self.value(expression, caller, rows)? {
                    Value::Bool(value) => Some(value),
                    // A null condition filters the row out, in allow and deny rules alike.
                    Value::Null => Some(false),
                    _ => None,
                }
            }
            PolicyExpr::Array(_) | PolicyExpr::Collection { .. } => None,
        }
    }

    /// A term's JSON value as the API shows it (enums by their database name), or `None`.
    fn value(&self, expression: &PolicyExpr, caller: &Caller, rows: &Rows<'_>) -> Option<Value> {
        match expression {
            PolicyExpr::Literal(value) => literal(self.schema, value),
            PolicyExpr::Path(path) => match path.root {
                PathRoot::Auth => auth_value(self.schema, caller, &path.fields),
                PathRoot::Scope => row_value(self.schema, self.model, rows.current, &path.fields),
                PathRoot::Future => row_value(self.schema, self.model, rows.future, &path.fields),
            },
            PolicyExpr::Array(items) => items
                .iter()
                .map(|item| self.value(item, caller, rows))
                .collect::<Option<Vec<Value>>>()
                .map(Value::Array),
            _ => None,
        }
    }
}

/// The value a path from a row reaches: the row's id (`this`), a scalar field the row shows, or
/// — through a to-one relation whose key this row holds — the related row's id.
fn row_value(
    schema: &Schema,
    model: &Model,
    row: &Map<String, Value>,
    fields: &[plinth_model::FieldId],
) -> Option<Value> {
    match fields {
        [] => model
            .id_field()
            .and_then(|(_, field)| row.get(&field.name).cloned()),
        [first, rest @ ..] => {
            let field = model.fields.get(first.index)?;
            match &field.ty {
                FieldType::Relation(_) => {
                    let (key, target_key) = held_key(schema, model, first.index)?;
                    let value = row.get(key)?.clone();
                    match rest {
                        [] => Some(value),
                        [next] if next.index == target_key => Some(value),
                        _ => None,
                    }
                }
                // A field with its own read rule may read as null for the row's reader: its
                // value here says nothing about what is stored.
                _ if rest.is_empty() && !plinth_api::has_field_read_rule(field) => {
                    row.get(&field.name).cloned()
                }
                _ => None,
            }
        }
    }
}

/// The value `auth()`, `auth().field` or `auth().relation` reaches for `caller`.
fn auth_value(schema: &Schema, caller: &Caller, fields: &[plinth_model::FieldId]) -> Option<Value> {
    let model = schema.auth()?;
    let id = Value::String(caller.id.clone());
    let is_key = |index: usize| model.primary_key.fields == [index];
    match fields {
        [] => Some(id),
        [only] if is_key(only.index) => Some(id),
        [first, rest @ ..] => {
            let field = model.fields.get(first.index)?;
            match &field.ty {
                FieldType::Relation(_) => {
                    let (key, target_key) = held_key(schema, model, first.index)?;
                    let value = caller.row.get(key)?.clone();
                    match rest {
                        [] => Some(value),
                        [next] if next.index == target_key => Some(value),
                        _ => None,
                    }
                }
                _ if rest.is_empty() => caller.row.get(&field.name).cloned(),
                _ => None,
            }
        }
    }
}

/// For a to-one relation field of `model` that holds the foreign key: the key field's name and
/// the index of the related model's primary key it references.
fn held_key<'m>(
    schema: &Schema,
    model: &'m Model,
    relation_field: usize,
) -> Option<(&'m str, usize)> {
    let FieldType::Relation(relation_field_type) = &model.fields.get(relation_field)?.ty else {
        return None;
    };
    let relation = schema.relations.get(relation_field_type.relation.0)?;
    if relation.referencing.model != model.id || relation.referencing.index != relation_field {
        return None;
    }
    let ([key], [referenced]) = (
        relation.fk_fields.as_slice(),
        relation.references.as_slice(),
    ) else {
        return None;
    };
    let target = schema.models.get(relation.referenced.model.0)?;
    if target.primary_key.fields != [*referenced] {
        return None;
    }
    Some((model.fields.get(*key)?.name.as_str(), *referenced))
}

/// A schema literal as the API writes it.
fn literal(schema: &Schema, value: &plinth_model::Value) -> Option<Value> {
    use plinth_model::Value as Literal;
    Some(match value {
        Literal::String(text) => Value::String(text.clone()),
        Literal::Int(number) => Value::from(*number),
        Literal::Float(text) => Value::from(text.parse::<f64>().ok()?),
        Literal::Boolean(flag) => Value::Bool(*flag),
        Literal::Enum { enum_id, value } => Value::String(
            schema
                .enums
                .get(enum_id.0)?
                .values
                .get(*value)?
                .db_name
                .clone(),
        ),
        Literal::List(items) => Value::Array(
            items
                .iter()
                .map(|item| literal(schema, item))
                .collect::<Option<Vec<Value>>>()?,
        ),
        Literal::Null => Value::Null,
    })
}

/// Equality the way ids travel: `7` and `"7"` are the same id.
fn same(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Number(number), Value::String(text))
        | (Value::String(text), Value::Number(number)) => number.to_string() == *text,
        _ => left == right,
    }
}

fn compare(op: ComparisonOp, left: &Value, right: &Value) -> Option<bool> {
    match op {
        ComparisonOp::Eq => Some(same(left, right)),
        ComparisonOp::Ne => Some(!same(left, right)),
        _ => {
            let (left, right) = (left.as_f64()?, right.as_f64()?);
            Some(match op {
                ComparisonOp::Lt => left < right,
                ComparisonOp::Le => left <= right,
                ComparisonOp::Gt => left > right,
                _ => left >= right,
            })
        }
    }
}

/// Three-valued AND: false wins over unknown.
fn and(left: Option<bool>, right: Option<bool>) -> Option<bool> {
    match (left, right) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Three-valued OR: true wins over unknown.
fn or(left: Option<bool>, right: Option<bool>) -> Option<bool> {
    match (left, right) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TODO: &str = r#"
enum Role {
  USER
  ADMIN
}

model User {
  id    String @id @default(uuid())
  email String @unique @email @allow("read", auth() == this)
  password String @password @omit
  name  String @length(1, 100)
  role  Role   @default(USER) @allow("update", auth().role == ADMIN)
  tasks Task[]
  posts Post[]

  @@auth
  @@allow("create", role == USER)
  @@allow("read", true)
  @@allow("update,delete", auth() == this)
}

model Task {
  id      String @id @default(uuid())
  title   String
  owner   User   @relation(fields: [ownerId], references: [id])
  ownerId String @default(auth().id)

  @@allow("all", auth() == owner)
  @@allow("all", auth().role == ADMIN)
  @@deny("update", future().owner != owner)
}

model Post {
  id        String  @id @default(uuid())
  published Boolean @default(false)
  stars     Int     @default(0)
  author    User    @relation(fields: [authorId], references: [id])
  authorId  String  @default(auth().id)

  @@allow("read", published || stars > 10)
  @@allow("all", auth() == author)
}
"#;

    fn row(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn caller(id: &str, role: &str) -> Caller {
        Caller {
            id: id.into(),
            row: row(json!({"id": id, "name": id, "role": role})),
        }
    }

    fn policies() -> Policies {
        Policies::compile("todo.plinth", TODO).expect("the schema compiles")
    }

    #[test]
    fn owner_scoped_rows_are_private_to_others_and_public_ones_are_not() {
        let policies = policies();
        let tasks = policies.resource("/api/v1/tasks").expect("tasks");
        let task = row(json!({"id": "t1", "title": "x", "ownerId": "a"}));
        assert_eq!(
            tasks.may(Operation::Read, &caller("a", "USER"), &task),
            Some(true)
        );
        assert_eq!(
            tasks.may(Operation::Read, &caller("b", "USER"), &task),
            Some(false)
        );
        assert_eq!(
            tasks.may(Operation::Read, &caller("c", "ADMIN"), &task),
            Some(true)
        );
        let users = policies.resource("/api/v1/users").expect("users");
        let user = row(json!({"id": "a", "name": "A", "role": "USER"}));
        assert_eq!(
            users.may(Operation::Read, &caller("b", "USER"), &user),
            Some(true)
        );
        assert_eq!(
            users.may(Operation::Delete, &caller("b", "USER"), &user),
            Some(false)
        );
        // The email's own rule: only its owner reads it.
        assert_eq!(
            users.field_reads(&caller("b", "USER"), &user),
            vec![("email".to_string(), Some(false))]
        );
        let posts = policies.resource("/api/v1/posts").expect("posts");
        let draft = row(json!({"id": "p", "published": false, "stars": 3, "authorId": "a"}));
        let popular = row(json!({"id": "p", "published": false, "stars": 30, "authorId": "a"}));
        assert_eq!(
            posts.may(Operation::Read, &caller("b", "USER"), &draft),
            Some(false)
        );
        assert_eq!(
            posts.may(Operation::Read, &caller("b", "USER"), &popular),
            Some(true)
        );
        // A field the row does not show leaves the verdict to the heuristics.
        let hidden = row(json!({"id": "p", "authorId": "a"}));
        assert_eq!(
            posts.may(Operation::Read, &caller("b", "USER"), &hidden),
            None
        );
    }

    #[test]
    fn field_rules_and_create_rules_guard_roles() {
        let policies = policies();
        let users = policies.resource("/api/v1/users").expect("users");
        let own = row(json!({"id": "b", "name": "B", "role": "USER"}));
        let promote = row(json!({"role": "ADMIN"}));
        let rename = row(json!({"name": "C"}));
        assert_eq!(
            users.may_update(&caller("b", "USER"), &own, &promote),
            Some(false)
        );
        assert_eq!(
            users.may_update(&caller("b", "USER"), &own, &rename),
            Some(true)
        );
        // Only the row's own user may update it, whatever their role.
        assert_eq!(
            users.may_update(&caller("z", "ADMIN"), &own, &promote),
            Some(false)
        );
        let body = row(json!({"email": "x@example.com", "password": "p", "name": "X"}));
        let mut admin_body = body.clone();
        admin_body.insert("role".into(), json!("ADMIN"));
        assert_eq!(users.may_create(&caller("b", "USER"), &body), Some(true));
        assert_eq!(
            users.may_create(&caller("b", "USER"), &admin_body),
            Some(false)
        );
        assert!(users.update_takes("role") && users.create_takes("role"));
        let tasks = policies.resource("/api/v1/tasks").expect("tasks");
        assert_eq!(tasks.never_written(), vec!["id", "ownerId"]);
        assert_eq!(tasks.owner_keys(), vec!["ownerId"]);
        // `future().owner != owner`: handing the task to someone else is denied.
        let task = row(json!({"id": "t", "title": "x", "ownerId": "b"}));
        let hand_over = row(json!({"ownerId": "a"}));
        assert_eq!(
            tasks.may_update(&caller("b", "USER"), &task, &hand_over),
            Some(false)
        );
    }

    #[test]
    fn endpoints_map_document_paths_and_anonymous_refusals() {
        let policies = policies();
        assert!(policies.has_auth());
        let (tasks, endpoint) = policies
            .endpoint("DELETE", "/api/v1/tasks/{taskId}")
            .expect("the delete");
        assert_eq!(endpoint, Endpoint::Delete);
        assert!(tasks.anonymous_refused(Endpoint::Delete, true));
        let (users, endpoint) = policies.endpoint("POST", "/api/v1/users").expect("create");
        assert_eq!(endpoint, Endpoint::Create);
        assert!(
            !users.anonymous_refused(Endpoint::Create, true),
            "registration is open"
        );
        assert!(
            !users.anonymous_refused(Endpoint::Get, true),
            "profiles are public"
        );
        assert!(policies.endpoint("GET", "/api/v1/auth/me").is_none());
        assert!(policies.endpoint("PUT", "/api/v1/tasks").is_none());
    }

    #[test]
    fn broken_schemas_are_refused_with_their_errors() {
        let error = Policies::compile("broken.plinth", "model A {\n  id Int @id\n  b Nope\n}\n")
            .expect_err("an unknown type");
        assert!(error.to_string().contains("broken.plinth:3"), "{error}");
    }
}
