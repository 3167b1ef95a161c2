//! Reading an outbox snapshot (a row as JSON keyed by column names, written by the capture
//! triggers of [`crate::events`]) back as a row of its model, through the read policy.

use plinth_model::{ModelId, Operation, Schema};

use super::builder::{model_of, SqlWriter};
use super::policy::PolicyCompiler;
use super::projection::{readable_columns, select_fields};
use super::select::ROW;
use super::{Caller, Projection, QueryError, SqlValue, Statement};
use crate::events::{sqlite_snapshot_kind, SqliteSnapshotKind};
use crate::literals::string_literal;
use crate::Dialect;

/// The row in `snapshot_json` (an outbox `row_data`) as the caller may see it: the same
/// projection, model-level read rules and field-level read rules as
/// [`super::select_by_id`]`(…, Operation::Read, …)`, so the server renders the result exactly
/// as `GET /{id}` renders the live row; no row back means the caller may not read it. The row
/// comes from the snapshot instead of the table:
///
/// ```sql
/// -- PostgreSQL
/// SELECT <projection> FROM json_populate_record(NULL::"Table", $1::text::json) AS t0
/// WHERE <read rules>
/// -- SQLite
/// SELECT <projection>
/// FROM (SELECT json_extract(?1, '$."col"') AS "col", … ) AS t0 WHERE <read rules>
/// ```
///
/// The snapshot is parameter 1. Rules about the row itself (`auth() == owner`, `published`)
/// see the row exactly as it was committed, so a deleted row's event is filtered like any
/// other. Subqueries in the rules (`org.memberships?[user == auth()]`, `auth().role`) read the
/// **live** tables at the time the statement runs: a membership removed since, or a parent
/// deleted by the same cascade, counts as absent.
///
/// A snapshot that is not valid JSON is an error from the database (SQLite: "malformed JSON";
/// PostgreSQL: invalid input syntax), not a panic here. Keys the table does not have are
/// ignored, missing ones read as NULL.
pub fn select_snapshot(
    schema: &Schema,
    model: ModelId,
    snapshot_json: String,
    caller: &Caller,
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let wanted = snapshot_fields(model);
    let mut writer = SqlWriter::new(dialect);
    // Bound first, so it is parameter 1 whatever the rules bind after it.
    let snapshot = writer.bind(SqlValue::Text(snapshot_json));
    let source = snapshot_source(model, &snapshot, &writer);
    let (sql, projection) = snapshot_select(schema, model, &wanted, &source, caller, &mut writer);
    Ok((writer.finish(sql), projection))
}

/// [`select_snapshot`] for many subscribers at once: one statement that returns, for each
/// caller that may read the row, one row whose first column is the caller's index in `callers`
/// (`Projection::parent_key` is `Decode::Int`; the row's columns follow, see
/// [`Projection::offset`]), rows in `callers` order. Each caller's branch is exactly the
/// statement [`select_snapshot`] would write for it (`UNION ALL`), so the values agree.
///
/// Every signed-in caller adds one parameter: keep batches to a few hundred callers (SQLite
/// allows 32,766 parameters, PostgreSQL 65,535), and pass each distinct caller once (callers
/// with the same user id see the same row). No callers gives a statement that returns nothing.
pub fn select_snapshot_for_callers(
    schema: &Schema,
    model: ModelId,
    snapshot_json: String,
    callers: &[Caller],
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let wanted = snapshot_fields(model);
    let mut writer = SqlWriter::new(dialect);
    let snapshot = writer.bind(SqlValue::Text(snapshot_json));
    let source = snapshot_source(model, &snapshot, &writer);
    let mut branches = Vec::new();
    let mut projection = Projection::default();
    let mut params = std::mem::take(&mut writer.params);
    // No callers: the anonymous caller's branch under `WHERE FALSE`, for the column types.
    let anonymous = [Caller::anonymous()];
    let (batch, nobody) = if callers.is_empty() {
        (&anonymous[..], true)
    } else {
        (callers, false)
    };
    for (index, caller) in batch.iter().enumerate() {
        // A writer per caller: each binds its own caller id (a writer binds one per statement),
        // numbering on after the parameters bound so far.
        let mut branch_writer = SqlWriter::with_params(dialect, std::mem::take(&mut params));
        let (sql, branch_projection) =
            snapshot_select(schema, model, &wanted, &source, caller, &mut branch_writer);
        params = branch_writer.params;
        let index_column = match dialect {
            Dialect::Postgres => format!("{index}::int8 AS plinth_caller, "),
            Dialect::Sqlite => format!("{index} AS plinth_caller, "),
        };
        let mut branch = sql.replacen("SELECT ", &format!("SELECT {index_column}"), 1);
        if nobody {
            branch = format!("SELECT * FROM ({branch}) AS nobody WHERE FALSE");
        }
        branches.push(branch);
        projection = branch_projection;
    }
    projection.parent_key = Some(super::Decode::Int);
    let sql = format!("{} ORDER BY plinth_caller", branches.join(" UNION ALL "));
    Ok((
        SqlWriter::with_params(dialect, params).finish(sql),
        projection,
    ))
}

/// What [`super::select_by_id`] returns: the readable columns plus the primary key.
fn snapshot_fields(model: &plinth_model::Model) -> Vec<usize> {
    let mut wanted = readable_columns(model);
    for &key in &model.primary_key.fields {
        if !wanted.contains(&key) {
            wanted.push(key);
        }
    }
    wanted.sort_unstable();
    wanted
}

/// The FROM item that reads the snapshot bound at `snapshot` as a row of the model's table.
fn snapshot_source(model: &plinth_model::Model, snapshot: &str, writer: &SqlWriter) -> String {
    match writer.dialect {
        Dialect::Postgres => format!(
            "json_populate_record(NULL::{}, {snapshot}::json)",
            writer.table(model)
        ),
        Dialect::Sqlite => sqlite_snapshot_row(model, snapshot, writer),
    }
}

/// `SELECT <projection> FROM <source> AS t0 WHERE <read rules>` for one caller.
fn snapshot_select(
    schema: &Schema,
    model: &plinth_model::Model,
    wanted: &[usize],
    source: &str,
    caller: &Caller,
    writer: &mut SqlWriter,
) -> (String, Projection) {
    let (columns, projection) = select_fields(schema, model, wanted, caller, writer, ROW);
    let rule =
        PolicyCompiler::new(schema, caller, writer, ROW, model.id).model_rules(Operation::Read);
    let sql = format!(
        "SELECT {} FROM {source} AS {ROW} WHERE {}",
        columns.join(", "),
        rule.render()
    );
    (sql, projection)
}

/// `(SELECT json_extract(?1, '$."col"') AS "col", …)`: every column of the table, so rules may
/// test any of them, with the types SQLite stored them as (integers, reals and text survive
/// JSON unchanged; Bytes come back from hex with `unhex`).
fn sqlite_snapshot_row(model: &plinth_model::Model, snapshot: &str, writer: &SqlWriter) -> String {
    let mut columns = Vec::new();
    for (_, field) in model.columns() {
        let name = &field.db_name;
        // A JSON path cannot name a key holding a double quote; `json_each` can.
        let value = if name.contains('"') {
            format!(
                "(SELECT value FROM json_each({snapshot}) WHERE key = {})",
                string_literal(name)
            )
        } else {
            format!(
                "json_extract({snapshot}, {})",
                string_literal(&format!("$.\"{name}\""))
            )
        };
        let value = match sqlite_snapshot_kind(&field.ty, field.is_list()) {
            SqliteSnapshotKind::Plain => value,
            SqliteSnapshotKind::Hex => format!("unhex({value})"),
            SqliteSnapshotKind::Left => "NULL".to_string(),
        };
        columns.push(format!("{value} AS {}", writer.quote(name)));
    }
    if columns.is_empty() {
        columns.push("NULL AS \"_plinth_none\"".to_string());
    }
    format!("(SELECT {})", columns.join(", "))
}
