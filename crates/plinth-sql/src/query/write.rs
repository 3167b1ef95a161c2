//! INSERT, UPDATE and DELETE. Update and delete rules are part of the statement's WHERE
//! clause, so a write the caller may not make changes no row, atomically.

use plinth_model::{ModelId, Operation, Schema};

use super::builder::{column_field, model_of, single_key, SqlWriter};
use super::policy::{FutureValues, PolicyCompiler};
use super::projection::select_expression;
use super::select::{by_id, by_id_and_rule, ROW};
use super::{decode_for, Caller, Projection, QueryError, ResultColumn, SqlValue, Statement};
use crate::Dialect;

/// `RETURNING` the primary key fields (in `primary_key` order), read per [`Projection`].
fn returning_key(
    schema: &Schema,
    model: &plinth_model::Model,
    dialect: Dialect,
    writer: &SqlWriter,
) -> (String, Projection) {
    let _ = schema;
    let mut expressions = Vec::new();
    let mut projection = Projection::default();
    for &index in &model.primary_key.fields {
        let Some(field) = model.fields.get(index) else {
            continue;
        };
        let Some(decode) = decode_for(field) else {
            continue;
        };
        expressions.push(select_expression(
            dialect,
            field,
            &writer.quote(&field.db_name),
        ));
        projection.columns.push(ResultColumn {
            field: index,
            name: field.name.clone(),
            decode,
        });
    }
    (format!(" RETURNING {}", expressions.join(", ")), projection)
}

/// `INSERT INTO "Model" (<columns>) VALUES (<values>) RETURNING <primary key>` (or `DEFAULT
/// VALUES`). `values` are (field index, value) for every column the server sets, server-filled
/// ones included (generated ids, `@default(auth().id)`, `@updatedAt`, hashed passwords);
/// columns left out take their SQL default. Query it (it returns one row). No access rule is
/// part of it: for a caller's create use [`insert_checked`].
pub fn insert(
    schema: &Schema,
    model: ModelId,
    values: &[(usize, SqlValue)],
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let mut writer = SqlWriter::new(dialect);
    let mut columns = Vec::new();
    let mut placeholders = Vec::new();
    for (index, value) in values {
        let field = column_field(model, *index)?;
        columns.push(writer.quote(&field.db_name));
        placeholders.push(writer.bind_for(schema, field, value.clone()));
    }
    let (returning, projection) = returning_key(schema, model, dialect, &writer);
    let body = if columns.is_empty() {
        "DEFAULT VALUES".to_string()
    } else {
        format!(
            "({}) VALUES ({})",
            columns.join(", "),
            placeholders.join(", ")
        )
    };
    let sql = format!("INSERT INTO {} {body}{returning}", writer.table(model));
    Ok((writer.finish(sql), projection))
}

/// An INSERT that happens only if the caller may create the row:
///
/// ```sql
/// INSERT INTO "Model" (<columns>) SELECT <values> WHERE <create rules> RETURNING <primary key>
/// ```
///
/// Create rules are evaluated before the row exists, with `this` reading the values being
/// inserted (a column left out reads its literal `@default`, otherwise NULL) and relation paths
/// reading the database as it is — so a rule such as `org.memberships?[user == auth() && role ==
/// ADMIN]` cannot be satisfied by the membership being created. Query it: one row back =
/// created; none = not allowed (403). Prefer it to [`insert`] + [`super::check_policy_on_row`].
/// `values` as for [`insert`]; with no values at all only a rule that is constant for the caller
/// is honoured (TRUE inserts the defaults, anything else inserts nothing).
pub fn insert_checked(
    schema: &Schema,
    model: ModelId,
    values: &[(usize, SqlValue)],
    caller: &Caller,
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let mut writer = SqlWriter::new(dialect);
    let mut columns = Vec::new();
    let mut new_row = FutureValues::default();
    for (index, value) in values {
        let field = column_field(model, *index)?;
        columns.push(writer.quote(&field.db_name));
        let placeholder = writer.bind_for(schema, field, value.clone());
        new_row.values.push((*index, placeholder));
    }
    // No alias names the new row: `this` is `new_row`.
    let rule = PolicyCompiler::new(schema, caller, &mut writer, "", model.id)
        .for_new_row(new_row.clone())
        .model_rules(Operation::Create);
    let (returning, projection) = returning_key(schema, model, dialect, &writer);
    let sql = if columns.is_empty() {
        match rule {
            super::policy::Pred::True => {
                format!(
                    "INSERT INTO {} DEFAULT VALUES{returning}",
                    writer.table(model)
                )
            }
            // A statement that returns no row: not allowed.
            _ => format!(
                "SELECT {} FROM {} WHERE FALSE",
                returning.trim_start().trim_start_matches("RETURNING "),
                writer.table(model)
            ),
        }
    } else {
        let selected: Vec<&str> = new_row.values.iter().map(|(_, sql)| sql.as_str()).collect();
        format!(
            "INSERT INTO {} ({}) SELECT {} WHERE {}{returning}",
            writer.table(model),
            columns.join(", "),
            selected.join(", "),
            rule.render()
        )
    };
    Ok((writer.finish(sql), projection))
}

/// ```sql
/// UPDATE "Model" AS t0 SET <column> = <value>, …
/// WHERE t0.<pk> = $1 AND <update rules> AND <field-level update rules of written fields>
/// RETURNING <primary key>
/// ```
///
/// Update rules are checked on the row as it is, with `future()` reading the new values for
/// written columns (and the current value for the others), so rules mixing `this` and
/// `future()` are exact and the check is atomic. Query it: one row back = updated; none = the
/// row is missing or the update is not allowed (tell them apart with [`super::select_by_id`]:
/// readable → 403, else 404). Pass `@updatedAt` columns in `values`. An empty `values`
/// rewrites the key to itself (a pure permission check).
pub fn update(
    schema: &Schema,
    model: ModelId,
    id: SqlValue,
    values: &[(usize, SqlValue)],
    caller: &Caller,
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let key = single_key(model)?;
    let mut writer = SqlWriter::new(dialect);
    let by_id = by_id(schema, model, key, id, &mut writer);
    let mut assignments = Vec::new();
    let mut future = FutureValues::default();
    let mut written = Vec::new();
    for (index, value) in values {
        let field = column_field(model, *index)?;
        let placeholder = writer.bind_for(schema, field, value.clone());
        assignments.push(format!("{} = {placeholder}", writer.quote(&field.db_name)));
        future.values.push((*index, placeholder));
        written.push(field);
    }
    if assignments.is_empty() {
        let key_column = writer.quote(&model.fields[key].db_name);
        assignments.push(format!("{key_column} = {key_column}"));
    }
    let mut condition = by_id.and(
        PolicyCompiler::new(schema, caller, &mut writer, ROW, model.id)
            .with_future(future.clone())
            .model_rules(Operation::Update),
    );
    for field in written {
        if field.policies.is_empty() {
            continue;
        }
        let field_rule = PolicyCompiler::new(schema, caller, &mut writer, ROW, model.id)
            .with_future(future.clone())
            .field_rules(field, Operation::Update);
        condition = condition.and(field_rule);
    }
    let (returning, projection) = returning_key(schema, model, dialect, &writer);
    let sql = format!(
        "UPDATE {} AS {ROW} SET {} WHERE {}{returning}",
        writer.table(model),
        assignments.join(", "),
        condition.render()
    );
    Ok((writer.finish(sql), projection))
}

/// Always `None`: rules with `future()` are evaluated inside [`update`]'s WHERE clause (the new
/// values are known there), so no separate check is needed after the UPDATE. Kept so callers
/// written against the first interface keep working.
pub fn check_update_future(
    schema: &Schema,
    model: ModelId,
    id: SqlValue,
    old_row: &[(usize, SqlValue)],
    caller: &Caller,
    dialect: Dialect,
) -> Option<Statement> {
    let _ = (schema, model, id, old_row, caller, dialect);
    None
}

/// `DELETE FROM "Model" AS t0 WHERE t0.<pk> = $1 AND <delete rules>`. Execute it (no rows
/// come back): 1 row changed = deleted; 0 = missing or not allowed (tell them apart with
/// [`super::select_by_id`]).
pub fn delete(
    schema: &Schema,
    model: ModelId,
    id: SqlValue,
    caller: &Caller,
    dialect: Dialect,
) -> Result<Statement, QueryError> {
    let model = model_of(schema, model.0)?;
    let key = single_key(model)?;
    let mut writer = SqlWriter::new(dialect);
    let condition = by_id_and_rule(
        schema,
        model,
        key,
        id,
        Operation::Delete,
        caller,
        &mut writer,
    );
    let sql = format!(
        "DELETE FROM {} AS {ROW} WHERE {}",
        writer.table(model),
        condition.render()
    );
    Ok(writer.finish(sql))
}
