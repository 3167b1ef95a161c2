//! Every kind of change planned and executed on real databases: build the old schema, fill it
//! with rows, run `up`, check that surviving data is unchanged and that the catalogue equals a
//! fresh database of the new schema, then run `down` and compare with the old schema.

mod plan_support;

use plan_support::*;
use plinth_migrate::plan::{plan, Plan, PlanOptions};
use plinth_sql::{create_schema, Dialect};

fn options(renames: &[(String, String)]) -> PlanOptions {
    PlanOptions {
        renames: renames.to_vec(),
        allow_destructive: true,
    }
}

fn up_blocks(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .flat_map(|s| s.up.iter().map(|b| b.sql.clone()))
        .collect()
}

fn down_blocks(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .rev()
        .flat_map(|s| s.down.iter().map(|b| b.sql.clone()))
        .collect()
}

/// Columns present before and after (renamed ones by their new name) keep every value.
fn assert_data_kept(
    name: &str,
    before: &[(String, Rows)],
    after: &dyn Fn(&str) -> Rows,
    renames: &[(&str, &str)],
) {
    for (table, columns) in before {
        let new_table = renames
            .iter()
            .find(|(a, _)| a == table)
            .map_or(table.as_str(), |(_, b)| b);
        let now = after(new_table);
        for (column, values) in columns {
            let new_column = renames
                .iter()
                .find(|(a, _)| a == column)
                .map_or(column.as_str(), |(_, b)| b);
            if let Some((_, new_values)) = now.iter().find(|(c, _)| c == new_column) {
                let mut old_sorted = values.clone();
                let mut new_sorted = new_values.clone();
                old_sorted.sort();
                new_sorted.sort();
                if name == "optional_to_required" && column == "name" {
                    assert_eq!(
                        new_sorted.len(),
                        old_sorted.len(),
                        "{name}: rows of {table}"
                    );
                    continue;
                }
                assert_eq!(old_sorted, new_sorted, "{name}: {table}.{column} changed");
            }
        }
    }
}

fn data_renames(name: &str) -> Vec<(&'static str, &'static str)> {
    match name {
        "rename_field_by_map" => vec![("title", "headline")],
        "rename_field_by_hint" => vec![("title", "heading")],
        "rename_model_by_map" => vec![("User", "users")],
        _ => vec![],
    }
}

#[test]
fn sqlite_every_change_up_and_down() {
    let old = compile(V1);
    for (name, source, renames) in transitions() {
        let new = compile(&source);
        let planned = plan(&old, &new, Dialect::Sqlite, &options(&renames))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let fresh = |schema| {
            let connection = rusqlite::Connection::open_in_memory().expect("open");
            connection
                .execute_batch(&create_schema(schema, Dialect::Sqlite))
                .expect("ddl");
            sqlite_catalogue(&connection)
        };
        let connection = rusqlite::Connection::open_in_memory().expect("open");
        connection
            .execute_batch("PRAGMA foreign_keys = ON")
            .expect("pragma");
        connection
            .execute_batch(&create_schema(&old, Dialect::Sqlite))
            .expect("v1 ddl");
        connection.execute_batch(V1_DATA).expect("data");
        let before: Vec<_> = ["User", "Post"]
            .iter()
            .map(|t| (t.to_string(), sqlite_rows(&connection, t)))
            .collect();
        for sql in up_blocks(&planned) {
            connection
                .execute_batch(&sql)
                .unwrap_or_else(|error| panic!("{name}: {error}\n{sql}"));
        }
        let check: i64 = connection
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .expect("fk check");
        assert_eq!(check, 0, "{name}: foreign keys broken");
        assert_data_kept(
            name,
            &before,
            &|t| sqlite_rows(&connection, t),
            &data_renames(name),
        );
        assert_eq!(
            sqlite_catalogue(&connection),
            fresh(&new),
            "{name}: up differs from fresh"
        );
        for sql in down_blocks(&planned) {
            connection
                .execute_batch(&sql)
                .unwrap_or_else(|error| panic!("{name} down: {error}\n{sql}"));
        }
        assert_eq!(
            sqlite_catalogue(&connection),
            fresh(&old),
            "{name}: down differs from v1"
        );
    }
}

#[test]
fn postgres_every_change_up_and_down() {
    let old = compile(V1);
    for (name, source, renames) in transitions() {
        let Some(mut database) = postgres(name) else {
            return;
        };
        let new = compile(&source);
        let planned = plan(&old, &new, Dialect::Postgres, &options(&renames))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let fresh = |schema| -> Vec<String> {
            let mut fresh_database = postgres(name).expect("server");
            fresh_database
                .client()
                .batch_execute(&create_schema(schema, Dialect::Postgres))
                .expect("ddl");
            postgres_catalogue(fresh_database.client())
        };
        let client = database.client();
        client
            .batch_execute(&create_schema(&old, Dialect::Postgres))
            .expect("v1 ddl");
        client.batch_execute(V1_DATA).expect("data");
        let before: Vec<_> = ["User", "Post"]
            .iter()
            .map(|t| (t.to_string(), postgres_rows(client, t)))
            .collect();
        for sql in up_blocks(&planned) {
            client
                .batch_execute(&sql)
                .unwrap_or_else(|error| panic!("{name}: {error:?}\n{sql}"));
        }
        let after_rows = std::cell::RefCell::new(&mut *client);
        assert_data_kept(
            name,
            &before,
            &|t| postgres_rows(&mut after_rows.borrow_mut(), t),
            &data_renames(name),
        );
        let client = database.client();
        assert_eq!(
            postgres_catalogue(client),
            fresh(&new),
            "{name}: up differs from fresh"
        );
        for sql in down_blocks(&planned) {
            client
                .batch_execute(&sql)
                .unwrap_or_else(|error| panic!("{name} down: {error:?}\n{sql}"));
        }
        let client = database.client();
        assert_eq!(
            postgres_catalogue(client),
            fresh(&old),
            "{name}: down differs from v1"
        );
    }
}
