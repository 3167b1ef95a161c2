//! Shared by the query-builder execution tests: one scenario runs against a fresh SQLite and a
//! fresh PostgreSQL (when `PLINTH_TEST_POSTGRES_URL` is set), binding parameters and decoding
//! rows exactly as the query module's docs tell the server to.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use plinth_model::{ModelId, Schema};
use plinth_sql::query::{self, Caller, Decode, Projection, SqlValue, Statement};
use plinth_sql::{create_schema, Dialect};
use serde_json::{json, Value as Json};

pub fn example(name: &str) -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .join("schema.plinth");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    compile(&source)
}

pub fn compile(source: &str) -> Schema {
    let (schema, diagnostics) = plinth_model::compile(source);
    if plinth_diagnostics::has_errors(&diagnostics) {
        panic!("schema has errors: {diagnostics:#?}");
    }
    schema
}

/// The databases a scenario runs on: SQLite always, PostgreSQL when configured.
pub fn databases(test: &str, schema: &Schema) -> Vec<Database> {
    let mut databases = Vec::new();
    let connection = rusqlite::Connection::open_in_memory()
        .unwrap_or_else(|error| panic!("cannot open SQLite: {error}"));
    connection
        .execute_batch("PRAGMA foreign_keys = ON;")
        .unwrap_or_else(|error| panic!("{error}"));
    let ddl = create_schema(schema, Dialect::Sqlite);
    connection
        .execute_batch(&ddl)
        .unwrap_or_else(|error| panic!("SQLite rejected the DDL: {error}\n{ddl}"));
    databases.push(Database::Sqlite(connection));
    match std::env::var("PLINTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => {
            let mut database = PostgresDatabase::create(&url);
            let ddl = create_schema(schema, Dialect::Postgres);
            database
                .client()
                .batch_execute(&ddl)
                .unwrap_or_else(|error| panic!("PostgreSQL rejected the DDL: {error}\n{ddl}"));
            databases.push(Database::Postgres(Box::new(database)));
        }
        _ => {
            if std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("{test}: PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_POSTGRES_URL is not set");
            }
            eprintln!("{test}: skipped the PostgreSQL part: PLINTH_TEST_POSTGRES_URL is not set");
        }
    }
    databases
}

pub enum Database {
    Sqlite(rusqlite::Connection),
    Postgres(Box<PostgresDatabase>),
}

fn sqlite_value(value: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Bool(flag) => Value::Integer(i64::from(*flag)),
        SqlValue::Int(number) => Value::Integer(*number),
        SqlValue::Float(number) => Value::Real(*number),
        SqlValue::Text(text) => Value::Text(text.clone()),
        SqlValue::Bytes(bytes) => Value::Blob(bytes.clone()),
        SqlValue::Json(json) => Value::Text(json.to_string()),
    }
}

type PostgresParam = Box<dyn postgres::types::ToSql + Sync>;

fn postgres_value(value: &SqlValue) -> PostgresParam {
    match value {
        SqlValue::Null => Box::new(Option::<String>::None),
        SqlValue::Bool(flag) => Box::new(*flag),
        SqlValue::Int(number) => Box::new(*number),
        SqlValue::Float(number) => Box::new(*number),
        SqlValue::Text(text) => Box::new(text.clone()),
        SqlValue::Bytes(bytes) => Box::new(bytes.clone()),
        SqlValue::Json(json) => Box::new(json.to_string()),
    }
}

fn sqlite_read(row: &rusqlite::Row<'_>, index: usize, decode: &Decode) -> rusqlite::Result<Json> {
    Ok(match decode {
        Decode::Bool => row
            .get::<_, Option<bool>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Int | Decode::BigInt => row
            .get::<_, Option<i64>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Float => row
            .get::<_, Option<f64>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Bytes => row
            .get::<_, Option<Vec<u8>>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Json | Decode::List(_) => row
            .get::<_, Option<String>>(index)?
            .map_or(Json::Null, |text| parse_json(&text)),
        Decode::Decimal | Decode::DateTime | Decode::Text | Decode::Enum(_) => row
            .get::<_, Option<String>>(index)?
            .map_or(Json::Null, Json::from),
    })
}

fn postgres_read(
    row: &postgres::Row,
    index: usize,
    decode: &Decode,
) -> Result<Json, postgres::Error> {
    Ok(match decode {
        Decode::Bool => row
            .try_get::<_, Option<bool>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Int | Decode::BigInt => row
            .try_get::<_, Option<i64>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Float => row
            .try_get::<_, Option<f64>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Bytes => row
            .try_get::<_, Option<Vec<u8>>>(index)?
            .map_or(Json::Null, Json::from),
        Decode::Json | Decode::List(_) => row
            .try_get::<_, Option<String>>(index)?
            .map_or(Json::Null, |text| parse_json(&text)),
        Decode::Decimal | Decode::DateTime | Decode::Text | Decode::Enum(_) => row
            .try_get::<_, Option<String>>(index)?
            .map_or(Json::Null, Json::from),
    })
}

fn parse_json(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("bad JSON {text:?}: {error}"))
}

/// The decoders of a projection's result columns, parent key first when there is one.
fn decoders(projection: &Projection) -> Vec<Decode> {
    projection
        .parent_key
        .iter()
        .cloned()
        .chain(
            projection
                .columns
                .iter()
                .map(|column| column.decode.clone()),
        )
        .collect()
}

impl Database {
    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
            Database::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn name(&self) -> &'static str {
        self.dialect().display_name()
    }

    /// Runs a statement that returns no rows; the number of rows changed.
    pub fn execute(&mut self, statement: &Statement) -> usize {
        match self {
            Database::Sqlite(connection) => connection
                .execute(
                    &statement.sql,
                    rusqlite::params_from_iter(statement.params.iter().map(sqlite_value)),
                )
                .unwrap_or_else(|error| panic!("SQLite: {error}\n{}", statement.sql)),
            Database::Postgres(database) => {
                let params: Vec<PostgresParam> =
                    statement.params.iter().map(postgres_value).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|param| param.as_ref()).collect();
                let changed = database
                    .client()
                    .execute(statement.sql.as_str(), &refs)
                    .unwrap_or_else(|error| {
                        panic!("PostgreSQL: {}\n{}", describe(&error), statement.sql)
                    });
                usize::try_from(changed).unwrap_or(usize::MAX)
            }
        }
    }

    /// Runs raw SQL (fixtures the builder does not write, such as join-table rows).
    pub fn batch(&mut self, sql: &str) {
        match self {
            Database::Sqlite(connection) => connection
                .execute_batch(sql)
                .unwrap_or_else(|error| panic!("SQLite: {error}\n{sql}")),
            Database::Postgres(database) => database
                .client()
                .batch_execute(sql)
                .unwrap_or_else(|error| panic!("PostgreSQL: {}\n{sql}", describe(&error))),
        }
    }

    /// Runs a query and decodes every row by the projection (parent key first, if any).
    pub fn query(&mut self, statement: &Statement, projection: &Projection) -> Vec<Vec<Json>> {
        let decoders = decoders(projection);
        self.query_with(statement, &decoders)
    }

    /// How many rows a query returns (for `SELECT 1` checks).
    pub fn count(&mut self, statement: &Statement) -> usize {
        self.query_with(statement, &[]).len()
    }

    fn query_with(&mut self, statement: &Statement, decoders: &[Decode]) -> Vec<Vec<Json>> {
        match self {
            Database::Sqlite(connection) => {
                let mut prepared = connection
                    .prepare(&statement.sql)
                    .unwrap_or_else(|error| panic!("SQLite: {error}\n{}", statement.sql));
                let mut rows = prepared
                    .query(rusqlite::params_from_iter(
                        statement.params.iter().map(sqlite_value),
                    ))
                    .unwrap_or_else(|error| panic!("SQLite: {error}\n{}", statement.sql));
                let mut out = Vec::new();
                loop {
                    match rows.next() {
                        Ok(Some(row)) => {
                            let mut values = Vec::new();
                            for (index, decode) in decoders.iter().enumerate() {
                                values.push(sqlite_read(row, index, decode).unwrap_or_else(
                                    |error| {
                                        panic!(
                                            "SQLite column {index} as {decode:?}: {error}\n{}",
                                            statement.sql
                                        )
                                    },
                                ));
                            }
                            out.push(values);
                        }
                        Ok(None) => break,
                        Err(error) => panic!("SQLite: {error}\n{}", statement.sql),
                    }
                }
                out
            }
            Database::Postgres(database) => {
                let params: Vec<PostgresParam> =
                    statement.params.iter().map(postgres_value).collect();
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
                    params.iter().map(|param| param.as_ref()).collect();
                let rows = database
                    .client()
                    .query(statement.sql.as_str(), &refs)
                    .unwrap_or_else(|error| {
                        panic!("PostgreSQL: {}\n{}", describe(&error), statement.sql)
                    });
                rows.iter()
                    .map(|row| {
                        decoders
                            .iter()
                            .enumerate()
                            .map(|(index, decode)| {
                                postgres_read(row, index, decode).unwrap_or_else(|error| {
                                    panic!(
                                        "PostgreSQL column {index} as {decode:?}: {error}\n{}",
                                        statement.sql
                                    )
                                })
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }
}

/// A database created for one test and dropped afterwards.
pub struct PostgresDatabase {
    admin_url: String,
    name: String,
    client: Option<postgres::Client>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl PostgresDatabase {
    fn create(admin_url: &str) -> PostgresDatabase {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "plinth_query_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = postgres::Client::connect(admin_url, postgres::NoTls)
            .unwrap_or_else(|error| panic!("cannot connect to {admin_url}: {error}"));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        let mut config: postgres::Config = admin_url
            .parse()
            .unwrap_or_else(|error| panic!("bad PostgreSQL URL: {error}"));
        config.dbname(&name);
        let client = config
            .connect(postgres::NoTls)
            .unwrap_or_else(|error| panic!("cannot connect to database {name}: {error}"));
        PostgresDatabase {
            admin_url: admin_url.to_string(),
            name,
            client: Some(client),
        }
    }

    fn client(&mut self) -> &mut postgres::Client {
        match self.client.as_mut() {
            Some(client) => client,
            None => panic!("the database connection is closed"),
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        drop(self.client.take());
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => format!("{} ({})", db_error.message(), db_error.code().code()),
        None => error.to_string(),
    }
}

/// A schema and a database, with helpers that take model and field names.
pub struct Fixture<'schema> {
    pub schema: &'schema Schema,
    pub db: Database,
}

impl<'schema> Fixture<'schema> {
    pub fn model(&self, name: &str) -> ModelId {
        match self.schema.model_by_name(name) {
            Some(model) => model.id,
            None => panic!("no model {name}"),
        }
    }

    pub fn field(&self, model: &str, field: &str) -> usize {
        let model_id = self.model(model);
        match self.schema.model(model_id).field_by_name(field) {
            Some((index, _)) => index,
            None => panic!("no field {model}.{field}"),
        }
    }

    pub fn field_id(&self, model: &str, field: &str) -> plinth_model::FieldId {
        plinth_model::FieldId {
            model: self.model(model),
            index: self.field(model, field),
        }
    }

    fn values(&self, model: &str, values: &[(&str, SqlValue)]) -> Vec<(usize, SqlValue)> {
        values
            .iter()
            .map(|(name, value)| (self.field(model, name), value.clone()))
            .collect()
    }

    /// Inserts a row (no policy check) and returns its primary key as JSON.
    pub fn insert(&mut self, model: &str, values: &[(&str, SqlValue)]) -> Json {
        let values = self.values(model, values);
        let (statement, projection) =
            query::insert(self.schema, self.model(model), &values, self.db.dialect())
                .unwrap_or_else(|error| panic!("{error}"));
        let rows = self.db.query(&statement, &projection);
        assert_eq!(rows.len(), 1, "insert returns the key");
        rows[0][0].clone()
    }

    /// Inserts a row as `caller` with the create rules checked; its key when allowed.
    pub fn create(
        &mut self,
        model: &str,
        values: &[(&str, SqlValue)],
        caller: &Caller,
    ) -> Option<Json> {
        let values = self.values(model, values);
        let (statement, projection) = query::insert_checked(
            self.schema,
            self.model(model),
            &values,
            caller,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let rows = self.db.query(&statement, &projection);
        assert!(rows.len() <= 1);
        rows.into_iter().next().map(|row| row[0].clone())
    }

    /// The ids (first primary key field) of a list, in order.
    pub fn list_ids(&mut self, model: &str, list: &query::ListQuery, caller: &Caller) -> Vec<Json> {
        let (statement, projection) = query::select_list(
            self.schema,
            self.model(model),
            list,
            caller,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let key = self.schema.model(self.model(model)).primary_key.fields[0];
        let position = projection
            .position(key)
            .unwrap_or_else(|| panic!("no key column"));
        let rows = self.db.query(&statement, &projection);
        assert!(rows.len() <= list.limit as usize + 1);
        rows.into_iter().map(|row| row[position].clone()).collect()
    }

    pub fn all_ids(&mut self, model: &str, caller: &Caller) -> Vec<Json> {
        let list = query::ListQuery {
            limit: 1000,
            ..query::ListQuery::default()
        };
        self.list_ids(model, &list, caller)
    }

    /// One row by id as an object of field name → value, if the caller may read it.
    pub fn get(&mut self, model: &str, id: SqlValue, caller: &Caller) -> Option<Json> {
        let (statement, projection) = query::select_by_id(
            self.schema,
            self.model(model),
            id,
            caller,
            plinth_model::Operation::Read,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let rows = self.db.query(&statement, &projection);
        assert!(rows.len() <= 1);
        rows.into_iter().next().map(|row| {
            let mut object = serde_json::Map::new();
            for (column, value) in projection.columns.iter().zip(row) {
                object.insert(column.name.clone(), value);
            }
            Json::Object(object)
        })
    }

    /// Updates a row as `caller`; whether it was allowed (one row updated).
    pub fn update(
        &mut self,
        model: &str,
        id: SqlValue,
        values: &[(&str, SqlValue)],
        caller: &Caller,
    ) -> bool {
        let values = self.values(model, values);
        let (statement, projection) = query::update(
            self.schema,
            self.model(model),
            id,
            &values,
            caller,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let rows = self.db.query(&statement, &projection);
        assert!(rows.len() <= 1);
        rows.len() == 1
    }

    pub fn delete(&mut self, model: &str, id: SqlValue, caller: &Caller) -> bool {
        let statement = query::delete(
            self.schema,
            self.model(model),
            id,
            caller,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let changed = self.db.execute(&statement);
        assert!(changed <= 1);
        changed == 1
    }

    /// Deletes a row without any rule (fixture cleanup).
    pub fn delete_unchecked(&mut self, model: &str, id: SqlValue) -> bool {
        let model = self.schema.model(self.model(model));
        let key = &model.fields[model.primary_key.fields[0]];
        let placeholder = match self.db.dialect() {
            Dialect::Sqlite => "?1",
            Dialect::Postgres => "$1::int8",
        };
        let statement = Statement {
            sql: format!(
                "DELETE FROM \"{}\" WHERE \"{}\" = {placeholder}",
                model.db_name, key.db_name
            ),
            params: vec![id],
        };
        self.db.execute(&statement) == 1
    }

    pub fn allowed(
        &mut self,
        model: &str,
        id: SqlValue,
        operation: plinth_model::Operation,
        caller: &Caller,
    ) -> bool {
        let statement = query::check_policy_on_row(
            self.schema,
            self.model(model),
            id,
            operation,
            caller,
            self.db.dialect(),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let count = self.db.count(&statement);
        assert!(count <= 1);
        count == 1
    }

    /// A batched include: (parent key, target id) pairs in order.
    pub fn related(
        &mut self,
        model: &str,
        relation: &str,
        parent_keys: Vec<SqlValue>,
        caller: &Caller,
        limit_per_parent: Option<u32>,
    ) -> Vec<(Json, Json)> {
        let relation_field = self.field_id(model, relation);
        let (statement, projection) = query::select_related(
            self.schema,
            relation_field,
            parent_keys,
            caller,
            self.db.dialect(),
            limit_per_parent,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let target = match &self.schema.field(relation_field).ty {
            plinth_model::FieldType::Relation(relation) => relation.target,
            _ => panic!("not a relation"),
        };
        let key = self.schema.model(target).primary_key.fields[0];
        let position = projection
            .position(key)
            .unwrap_or_else(|| panic!("no key column"));
        self.db
            .query(&statement, &projection)
            .into_iter()
            .map(|row| (row[0].clone(), row[position].clone()))
            .collect()
    }
}

pub fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_string())
}

pub fn user(id: &str) -> Caller {
    Caller::user(text(id))
}

pub fn ids(values: &[&str]) -> Vec<Json> {
    values.iter().map(|value| json!(value)).collect()
}
