//! The query builder never panics: out-of-range models and fields, wrong cursors and filters,
//! composite keys and every field of every example come back as values or `QueryError`s.

use plinth_model::{FieldId, ModelId, Operation};
use plinth_sql::query::{
    self, Caller, FilterClause, FilterOp, ListQuery, QueryError, SortKey, SqlValue,
};
use plinth_sql::Dialect;

fn schemas() -> Vec<plinth_model::Schema> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    ["todo", "blog", "saas", "catalog"]
        .iter()
        .filter_map(|name| std::fs::read_to_string(root.join(name).join("schema.plinth")).ok())
        .map(|source| plinth_model::compile(&source).0)
        .collect()
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    for schema in schemas() {
        for dialect in Dialect::ALL {
            let callers = [
                Caller::anonymous(),
                Caller::user(SqlValue::Int(1)),
                Caller::user(SqlValue::Null),
            ];
            for caller in &callers {
                assert_eq!(
                    query::select_by_id(
                        &schema,
                        ModelId(999),
                        SqlValue::Int(1),
                        caller,
                        Operation::Read,
                        dialect
                    )
                    .err(),
                    Some(QueryError::UnknownModel(999))
                );
                for model in &schema.models {
                    for field in 0..model.fields.len() + 2 {
                        for op in [
                            FilterOp::Eq,
                            FilterOp::In,
                            FilterOp::Contains,
                            FilterOp::IsNull,
                            FilterOp::Lt,
                        ] {
                            let list = ListQuery {
                                filters: vec![FilterClause {
                                    field,
                                    op,
                                    values: vec![SqlValue::Text("x".into()), SqlValue::Null],
                                }],
                                sort: vec![SortKey {
                                    field,
                                    descending: true,
                                }],
                                after: Some(vec![SqlValue::Null]),
                                limit: u32::MAX,
                                fields: Some(vec![field]),
                            };
                            let _ = query::select_list(&schema, model.id, &list, caller, dialect);
                        }
                        let relation = FieldId {
                            model: model.id,
                            index: field,
                        };
                        let _ = query::select_related(
                            &schema,
                            relation,
                            vec![SqlValue::Int(1)],
                            caller,
                            dialect,
                            Some(0),
                        );
                        let _ = query::include_key_field(&schema, relation);
                        let values = [(field, SqlValue::Bytes(vec![1]))];
                        let _ = query::insert(&schema, model.id, &values, dialect);
                        let _ = query::insert_checked(&schema, model.id, &values, caller, dialect);
                        let _ = query::update(
                            &schema,
                            model.id,
                            SqlValue::Null,
                            &values,
                            caller,
                            dialect,
                        );
                        let _ = query::field_policy_predicate(
                            &schema,
                            relation,
                            Operation::Update,
                            caller,
                            "t0",
                            dialect,
                            &mut Vec::new(),
                        );
                    }
                    for operation in Operation::ALL {
                        let _ = query::check_policy_on_row(
                            &schema,
                            model.id,
                            SqlValue::Float(f64::NAN),
                            operation,
                            caller,
                            dialect,
                        );
                        let mut params = vec![SqlValue::Int(7)];
                        let sql = query::policy_predicate(
                            &schema,
                            model.id,
                            operation,
                            caller,
                            "t1",
                            dialect,
                            &mut params,
                        );
                        assert_eq!(
                            params.first(),
                            Some(&SqlValue::Int(7)),
                            "earlier parameters are kept"
                        );
                        assert!(
                            !sql.contains(" t1.") || !sql.contains("AS t1 "),
                            "the given alias is not reused: {sql}"
                        );
                    }
                    let _ = query::delete(&schema, model.id, SqlValue::Int(1), caller, dialect);
                    // A cursor of the wrong length is the client's mistake.
                    let list = ListQuery {
                        after: Some(vec![]),
                        limit: 1,
                        ..ListQuery::default()
                    };
                    assert!(matches!(
                        query::select_list(&schema, model.id, &list, caller, dialect),
                        Err(QueryError::BadCursor { .. })
                    ));
                }
            }
        }
    }
}
