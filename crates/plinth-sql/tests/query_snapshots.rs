//! Snapshots of the SQL the query builder writes for the example schemas: every model's
//! policies per operation for a signed-in and an anonymous caller, and representative
//! statements, in both dialects.

use std::path::PathBuf;

use plinth_model::{ModelId, Operation, Schema};
use plinth_sql::query::{self, Caller, SqlValue};
use plinth_sql::Dialect;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn compile(path: &std::path::Path) -> Option<Schema> {
    let source = std::fs::read_to_string(path).ok()?;
    let (schema, diagnostics) = plinth_model::compile(&source);
    if plinth_diagnostics::has_errors(&diagnostics) {
        return None;
    }
    Some(schema)
}

/// Every model's rules for every operation, for a signed-in caller and an anonymous one.
fn policies_report(schema: &Schema, dialect: Dialect) -> String {
    let mut out = String::new();
    // The caller's id has the auth model's key type.
    let integer_key = schema.auth().is_some_and(|auth| {
        auth.primary_key_fields().any(|field| {
            matches!(
                field.ty,
                plinth_model::FieldType::Scalar(
                    plinth_model::ScalarType::Int | plinth_model::ScalarType::BigInt
                )
            )
        })
    });
    let signed_in = Caller::user(if integer_key {
        SqlValue::Int(1)
    } else {
        SqlValue::Text("user-1".to_string())
    });
    for model in &schema.models {
        if model.policies.is_empty() {
            continue;
        }
        for operation in Operation::ALL {
            for (who, caller) in [("user", &signed_in), ("anonymous", &Caller::anonymous())] {
                let mut params = Vec::new();
                let sql = query::policy_predicate(
                    schema,
                    model.id,
                    operation,
                    caller,
                    "t0",
                    dialect,
                    &mut params,
                );
                out.push_str(&format!(
                    "{}.{} ({who}) {params:?}\n    {sql}\n",
                    model.name,
                    operation.as_str()
                ));
            }
        }
    }
    out
}

fn example(name: &str) -> Schema {
    let path = workspace_root()
        .join("examples")
        .join(name)
        .join("schema.plinth");
    match compile(&path) {
        Some(schema) => schema,
        None => panic!("{} does not compile cleanly", path.display()),
    }
}

#[test]
fn example_policies() {
    for name in ["todo", "blog", "saas"] {
        let schema = example(name);
        for dialect in Dialect::ALL {
            insta::assert_snapshot!(
                format!("policies_{name}_{}", dialect.directory_name()),
                policies_report(&schema, dialect)
            );
        }
    }
}

#[test]
fn corpus_policies() {
    let corpus = workspace_root().join("../shared/corpus/zmodel");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("corpus_policies: skipped: {} is absent", corpus.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "zmodel"))
        .collect();
    paths.sort();
    for path in paths {
        let Some(schema) = compile(&path) else {
            eprintln!("corpus_policies: {} has errors, left out", path.display());
            continue;
        };
        let stem = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().replace("__", "_"))
            .unwrap_or_default();
        for dialect in Dialect::ALL {
            insta::assert_snapshot!(
                format!("corpus_{stem}_{}", dialect.directory_name()),
                policies_report(&schema, dialect)
            );
        }
    }
}

fn model(schema: &Schema, name: &str) -> ModelId {
    match schema.model_by_name(name) {
        Some(model) => model.id,
        None => panic!("no model {name}"),
    }
}

#[test]
fn statements() {
    let schema = example("todo");
    let task = model(&schema, "Task");
    let user = Caller::user(SqlValue::Text("u1".to_string()));
    let task_model = schema.model(task);
    let field = |name: &str| match task_model.field_by_name(name) {
        Some((index, _)) => index,
        None => panic!("no field {name}"),
    };
    for dialect in Dialect::ALL {
        let mut out = String::new();
        let list = query::ListQuery {
            filters: vec![
                query::FilterClause {
                    field: field("title"),
                    op: query::FilterOp::Contains,
                    values: vec![SqlValue::Text("milk".to_string())],
                },
                query::FilterClause {
                    field: field("dueAt"),
                    op: query::FilterOp::Lt,
                    values: vec![SqlValue::Text("2024-01-01T00:00:00.000Z".to_string())],
                },
            ],
            sort: vec![query::SortKey {
                field: field("dueAt"),
                descending: true,
            }],
            after: Some(vec![
                SqlValue::Text("2023-06-01T00:00:00.000Z".to_string()),
                SqlValue::Text("task-9".to_string()),
            ]),
            limit: 20,
            fields: Some(vec![field("title")]),
        };
        let (statement, projection) = query::select_list(&schema, task, &list, &user, dialect)
            .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "select_list\n{}\n{:?}\n{:?}\n\n",
            statement.sql, statement.params, projection
        ));
        let (statement, _) = query::select_by_id(
            &schema,
            task,
            SqlValue::Text("task-1".to_string()),
            &user,
            Operation::Read,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "select_by_id\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        let (statement, _) = query::insert(
            &schema,
            task,
            &[
                (field("id"), SqlValue::Text("task-1".to_string())),
                (field("title"), SqlValue::Text("Buy milk".to_string())),
                (field("ownerId"), SqlValue::Text("u1".to_string())),
                (
                    field("updatedAt"),
                    SqlValue::Text("2024-01-01T00:00:00.000Z".to_string()),
                ),
            ],
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "insert\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        let (statement, _) = query::insert_checked(
            &schema,
            task,
            &[
                (field("id"), SqlValue::Text("task-2".to_string())),
                (field("title"), SqlValue::Text("Call mum".to_string())),
                (field("ownerId"), SqlValue::Text("u1".to_string())),
                (
                    field("updatedAt"),
                    SqlValue::Text("2024-01-01T00:00:00.000Z".to_string()),
                ),
            ],
            &user,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "insert_checked\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        let (statement, _) = query::update(
            &schema,
            task,
            SqlValue::Text("task-1".to_string()),
            &[
                (field("done"), SqlValue::Bool(true)),
                (field("ownerId"), SqlValue::Text("u2".to_string())),
            ],
            &user,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "update\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        let statement = query::delete(
            &schema,
            task,
            SqlValue::Text("task-1".to_string()),
            &user,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "delete\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        let user_model = schema.model(model(&schema, "User"));
        let tasks_field = plinth_model::FieldId {
            model: user_model.id,
            index: user_model
                .field_by_name("tasks")
                .map(|(i, _)| i)
                .unwrap_or(0),
        };
        let (statement, projection) = query::select_related(
            &schema,
            tasks_field,
            vec![
                SqlValue::Text("u1".to_string()),
                SqlValue::Text("u2".to_string()),
            ],
            &user,
            dialect,
            Some(5),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "select_related\n{}\n{:?}\n{:?}\n\n",
            statement.sql, statement.params, projection.parent_key
        ));
        let (statement, _) = query::select_by_id(
            &schema,
            user_model.id,
            SqlValue::Text("u1".to_string()),
            &user,
            Operation::Read,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        out.push_str(&format!(
            "select_by_id User\n{}\n{:?}\n\n",
            statement.sql, statement.params
        ));
        insta::assert_snapshot!(format!("statements_todo_{}", dialect.directory_name()), out);
    }
}

/// Create rules in both forms: checked in the INSERT, and checked on the inserted row with the
/// row left out of the subqueries over its own table.
#[test]
fn create_checks() {
    let schema = example("saas");
    let membership = model(&schema, "Membership");
    let membership_model = schema.model(membership);
    let field = |name: &str| match membership_model.field_by_name(name) {
        Some((index, _)) => index,
        None => panic!("no field {name}"),
    };
    let caller = Caller::user(SqlValue::Text("u1".to_string()));
    for dialect in Dialect::ALL {
        let (inserted, _) = query::insert_checked(
            &schema,
            membership,
            &[
                (field("id"), SqlValue::Text("m1".to_string())),
                (field("orgId"), SqlValue::Text("o1".to_string())),
                (field("userId"), SqlValue::Text("u1".to_string())),
            ],
            &caller,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let checked = query::check_policy_on_row(
            &schema,
            membership,
            SqlValue::Text("m1".to_string()),
            Operation::Create,
            &caller,
            dialect,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        insta::assert_snapshot!(
            format!("create_checks_saas_{}", dialect.directory_name()),
            format!(
                "insert_checked\n{}\n{:?}\n\ncheck_policy_on_row\n{}\n{:?}\n",
                inserted.sql, inserted.params, checked.sql, checked.params
            )
        );
    }
}

/// A list that filters and sorts on a field behind a field-level read rule (`User.email` in the
/// blog is readable by its owner only): the filter is ANDed with the rule, `isNull=true` and the
/// sort and cursor read `CASE WHEN <rule> THEN email END`.
#[test]
fn field_read_rules_in_lists() {
    let schema = example("blog");
    let user_model = model(&schema, "User");
    let email = match schema.model(user_model).field_by_name("email") {
        Some((index, _)) => index,
        None => panic!("no field email"),
    };
    let caller = Caller::user(SqlValue::Int(7));
    for dialect in Dialect::ALL {
        let list = query::ListQuery {
            filters: vec![
                query::FilterClause {
                    field: email,
                    op: query::FilterOp::StartsWith,
                    values: vec![SqlValue::Text("ada".to_string())],
                },
                query::FilterClause {
                    field: email,
                    op: query::FilterOp::IsNull,
                    values: vec![SqlValue::Bool(true)],
                },
            ],
            sort: vec![query::SortKey {
                field: email,
                descending: false,
            }],
            after: Some(vec![
                SqlValue::Text("ada@example.com".to_string()),
                SqlValue::Int(3),
            ]),
            limit: 10,
            fields: None,
        };
        let (statement, _) = query::select_list(&schema, user_model, &list, &caller, dialect)
            .unwrap_or_else(|error| panic!("{error}"));
        insta::assert_snapshot!(
            format!("field_read_rules_in_lists_{}", dialect.directory_name()),
            format!("{}\n{:?}\n", statement.sql, statement.params)
        );
    }
}
