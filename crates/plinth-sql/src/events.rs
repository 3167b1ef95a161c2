//! The transactional outbox behind realtime events: the `_plinth_events` table and the
//! database triggers that write one outbox row per inserted, updated or deleted model row.
//!
//! Triggers (rather than the server) fill the outbox so that an event exists exactly when its
//! write committed, whatever wrote it: the server, a cascade (`onDelete: Cascade` deletes fire
//! the child table's trigger too), `SetNull`, or someone at a SQL prompt. Each outbox row holds
//! the row as committed, as JSON keyed by **column** names; [`crate::query::select_snapshot`]
//! reads such a snapshot back as a row of the model's table, so each subscriber's copy goes
//! through the same read policy and field rules as `GET /{id}`.
//!
//! | column       | PostgreSQL                                  | SQLite                         |
//! |--------------|---------------------------------------------|--------------------------------|
//! | `id`         | `BIGSERIAL PRIMARY KEY` (insertion order)   | `INTEGER PRIMARY KEY AUTOINCREMENT`: commit order, never reused |
//! | `seq`        | NULL until a dispatcher numbers it from `_plinth_event_seq` in commit order | unused (read `id`) |
//! | `model`      | the Plinth model name (`Task`)              | same                           |
//! | `op`         | `created`, `updated` or `deleted`           | same                           |
//! | `row_data`   | `row_to_json(NEW or OLD)::text`             | `json_object(...)`; Bytes as hex text |
//! | `created_at` | unix seconds                                | same                           |
//!
//! On PostgreSQL `id` order is not commit order (two transactions may commit in the other
//! order), hence `seq`; the trigger function also sends `pg_notify('plinth_outbox', '')`,
//! which PostgreSQL delivers only when (and if) the transaction commits. SQLite has one writer
//! at a time, so `id` is commit order, and there is nothing to notify: the server wakes its
//! dispatcher itself after a write.
//!
//! Implicit many-to-many join tables have no model and no trigger: linking two rows emits no
//! event.

use plinth_model::{FieldType, Model, ModelId, ScalarType, Schema};

use crate::literals::string_literal;
use crate::names::{quote_ident, POSTGRES_MAX_IDENTIFIER_BYTES};
use crate::Dialect;

/// The outbox table.
pub const OUTBOX_TABLE: &str = "_plinth_events";

/// The PostgreSQL sequence the dispatcher takes `seq` values from.
pub const OUTBOX_SEQUENCE: &str = "_plinth_event_seq";

/// The PostgreSQL trigger function shared by every captured table.
pub const CAPTURE_FUNCTION: &str = "_plinth_capture";

/// The PostgreSQL channel the capture trigger notifies (with an empty payload) on every write.
pub const OUTBOX_CHANNEL: &str = "plinth_outbox";

/// The outbox table and its indexes (and on PostgreSQL the `seq` sequence), as one script of
/// `IF NOT EXISTS` statements: safe to run at every start. Run it with a multi-statement call
/// (`execute_batch` / `batch_execute`). On PostgreSQL two nodes starting at once can still
/// collide inside `CREATE TABLE IF NOT EXISTS`; run it under an advisory lock.
pub fn outbox_ddl(dialect: Dialect) -> String {
    let table = quote_ident(dialect, OUTBOX_TABLE);
    let index = |suffix: &str| quote_ident(dialect, &format!("{OUTBOX_TABLE}_{suffix}"));
    match dialect {
        Dialect::Postgres => format!(
            "CREATE SEQUENCE IF NOT EXISTS {sequence};\n\
             CREATE TABLE IF NOT EXISTS {table} (\n    \
             \"id\" BIGSERIAL PRIMARY KEY,\n    \
             \"seq\" BIGINT,\n    \
             \"model\" TEXT NOT NULL,\n    \
             \"op\" TEXT NOT NULL,\n    \
             \"row_data\" TEXT NOT NULL,\n    \
             \"created_at\" BIGINT NOT NULL\n\
             );\n\
             CREATE UNIQUE INDEX IF NOT EXISTS {seq_key} ON {table} (\"seq\");\n\
             CREATE INDEX IF NOT EXISTS {unsequenced} ON {table} (\"id\") WHERE \"seq\" IS NULL;\n\
             CREATE INDEX IF NOT EXISTS {created_at} ON {table} (\"created_at\");\n",
            sequence = quote_ident(dialect, OUTBOX_SEQUENCE),
            seq_key = index("seq_key"),
            unsequenced = index("unsequenced_idx"),
            created_at = index("created_at_idx"),
        ),
        // AUTOINCREMENT: ids are never reused, even once the newest rows have been deleted,
        // so a subscriber's Last-Event-ID can never point at a different event.
        Dialect::Sqlite => format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n    \
             \"id\" INTEGER PRIMARY KEY AUTOINCREMENT,\n    \
             \"seq\" INTEGER,\n    \
             \"model\" TEXT NOT NULL,\n    \
             \"op\" TEXT NOT NULL,\n    \
             \"row_data\" TEXT NOT NULL,\n    \
             \"created_at\" INTEGER NOT NULL\n\
             );\n\
             CREATE INDEX IF NOT EXISTS {created_at} ON {table} (\"created_at\");\n",
            created_at = index("created_at_idx"),
        ),
    }
}

/// The statements that install the capture triggers on the tables of `models`, in order. Each
/// element is exactly one SQL statement (no trailing semicolon), runnable with a
/// single-statement `execute`; the sequence drops each trigger if it exists before creating it,
/// so running it again (at every start, after a migration) leaves one trigger per table and
/// operation. Run [`outbox_ddl`] first.
///
/// PostgreSQL: `CREATE OR REPLACE FUNCTION _plinth_capture()` (the model name is the trigger's
/// argument), then per table `DROP TRIGGER IF EXISTS` and `CREATE TRIGGER
/// "_plinth_capture_<table>" AFTER INSERT OR UPDATE OR DELETE … FOR EACH ROW`. Run them in one
/// transaction under an advisory lock, so concurrent starts of several nodes cannot interleave.
/// The function resolves `_plinth_events` by the `search_path` in force when it was created.
///
/// SQLite: per table three triggers, `"_plinth_capture_<table>_insert"` / `_update` /
/// `_delete`. SQLite drops a table's triggers with the table, so install them again after a
/// migration rebuilt a table.
///
/// Models without columns, unknown ids and duplicates are skipped.
pub fn capture_triggers(schema: &Schema, models: &[ModelId], dialect: Dialect) -> Vec<String> {
    let models = captured_models(schema, models);
    let mut statements = Vec::new();
    match dialect {
        Dialect::Postgres => {
            statements.push(postgres_capture_function());
            for model in models {
                let table = qualified_table(model, dialect);
                let trigger = quote_ident(dialect, &postgres_trigger_name(model));
                statements.push(format!("DROP TRIGGER IF EXISTS {trigger} ON {table}"));
                statements.push(format!(
                    "CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION {}({})",
                    quote_ident(dialect, CAPTURE_FUNCTION),
                    string_literal(&model.name)
                ));
            }
        }
        Dialect::Sqlite => {
            for model in models {
                for operation in SqliteOperation::ALL {
                    let trigger = quote_ident(dialect, &sqlite_trigger_name(model, operation));
                    statements.push(format!("DROP TRIGGER IF EXISTS {trigger}"));
                    statements.push(sqlite_trigger(model, operation, &trigger));
                }
            }
        }
    }
    statements
}

/// The statements that remove the capture triggers from the tables of `models` (each one
/// statement, `IF EXISTS`). The PostgreSQL function and the outbox table are left in place:
/// other tables' triggers may still use them.
pub fn drop_capture_triggers(schema: &Schema, models: &[ModelId], dialect: Dialect) -> Vec<String> {
    let models = captured_models(schema, models);
    let mut statements = Vec::new();
    for model in models {
        match dialect {
            Dialect::Postgres => statements.push(format!(
                "DROP TRIGGER IF EXISTS {} ON {}",
                quote_ident(dialect, &postgres_trigger_name(model)),
                qualified_table(model, dialect)
            )),
            Dialect::Sqlite => {
                for operation in SqliteOperation::ALL {
                    statements.push(format!(
                        "DROP TRIGGER IF EXISTS {}",
                        quote_ident(dialect, &sqlite_trigger_name(model, operation))
                    ));
                }
            }
        }
    }
    statements
}

/// The known models among `ids` that have a table, each once, in the order given.
fn captured_models<'schema>(schema: &'schema Schema, ids: &[ModelId]) -> Vec<&'schema Model> {
    let mut models: Vec<&Model> = Vec::new();
    for id in ids {
        let Some(model) = schema.models.get(id.0) else {
            continue;
        };
        if model.columns().next().is_none() || models.iter().any(|seen| seen.id == model.id) {
            continue;
        }
        models.push(model);
    }
    models
}

fn qualified_table(model: &Model, dialect: Dialect) -> String {
    match (dialect, model.db_schema.as_deref()) {
        (Dialect::Postgres, Some(db_schema)) => format!(
            "{}.{}",
            quote_ident(dialect, db_schema),
            quote_ident(dialect, &model.db_name)
        ),
        _ => quote_ident(dialect, &model.db_name),
    }
}

/// `_plinth_capture_<table>`, cut to PostgreSQL's identifier length. Trigger names are per
/// table there, and a table has one capture trigger, so a cut name cannot collide.
fn postgres_trigger_name(model: &Model) -> String {
    let mut name = format!("{CAPTURE_FUNCTION}_{}", model.db_name);
    if name.len() > POSTGRES_MAX_IDENTIFIER_BYTES {
        let mut cut_at = POSTGRES_MAX_IDENTIFIER_BYTES;
        while !name.is_char_boundary(cut_at) {
            cut_at -= 1;
        }
        name.truncate(cut_at);
    }
    name
}

#[derive(Clone, Copy)]
enum SqliteOperation {
    Insert,
    Update,
    Delete,
}

impl SqliteOperation {
    const ALL: [SqliteOperation; 3] = [
        SqliteOperation::Insert,
        SqliteOperation::Update,
        SqliteOperation::Delete,
    ];

    fn keyword(self) -> &'static str {
        match self {
            SqliteOperation::Insert => "INSERT",
            SqliteOperation::Update => "UPDATE",
            SqliteOperation::Delete => "DELETE",
        }
    }

    fn event(self) -> &'static str {
        match self {
            SqliteOperation::Insert => "created",
            SqliteOperation::Update => "updated",
            SqliteOperation::Delete => "deleted",
        }
    }

    /// The row the event carries: the new one, or the old one for a delete.
    fn row(self) -> &'static str {
        match self {
            SqliteOperation::Insert | SqliteOperation::Update => "NEW",
            SqliteOperation::Delete => "OLD",
        }
    }
}

/// SQLite trigger names share one namespace per database: the table name keeps them apart.
fn sqlite_trigger_name(model: &Model, operation: SqliteOperation) -> String {
    format!(
        "{CAPTURE_FUNCTION}_{}_{}",
        model.db_name,
        operation.keyword().to_ascii_lowercase()
    )
}

fn sqlite_trigger(model: &Model, operation: SqliteOperation, trigger: &str) -> String {
    let row = operation.row();
    let mut members = Vec::new();
    for (_, field) in model.columns() {
        let column = format!("{row}.{}", quote_ident(Dialect::Sqlite, &field.db_name));
        let value = match sqlite_snapshot_kind(&field.ty, field.is_list()) {
            SqliteSnapshotKind::Plain => column,
            // JSON cannot hold a BLOB; hex(NULL) would be '' (an empty value), so NULL stays
            // NULL.
            SqliteSnapshotKind::Hex => {
                format!("CASE WHEN {column} IS NULL THEN NULL ELSE hex({column}) END")
            }
            SqliteSnapshotKind::Left => continue,
        };
        members.push(format!("{}, {value}", string_literal(&field.db_name)));
    }
    format!(
        "CREATE TRIGGER {trigger} AFTER {} ON {} FOR EACH ROW BEGIN \
         INSERT INTO {} (\"model\", \"op\", \"row_data\", \"created_at\") VALUES ({}, {}, \
         json_object({}), CAST(strftime('%s', 'now') AS INTEGER)); END",
        operation.keyword(),
        quote_ident(Dialect::Sqlite, &model.db_name),
        quote_ident(Dialect::Sqlite, OUTBOX_TABLE),
        string_literal(&model.name),
        string_literal(operation.event()),
        members.join(", ")
    )
}

/// How a column travels through a SQLite snapshot.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqliteSnapshotKind {
    /// As is: SQLite's JSON holds its integers, reals and text exactly.
    Plain,
    /// Bytes: hex text in the snapshot, `unhex` when read back.
    Hex,
    /// `Unsupported(...)` columns may hold BLOBs JSON cannot carry: left out (read back as
    /// NULL; no response contains them and a rule cannot usefully test them).
    Left,
}

pub(crate) fn sqlite_snapshot_kind(ty: &FieldType, is_list: bool) -> SqliteSnapshotKind {
    match ty {
        FieldType::Scalar(ScalarType::Bytes) if !is_list => SqliteSnapshotKind::Hex,
        FieldType::Unsupported(_) => SqliteSnapshotKind::Left,
        _ => SqliteSnapshotKind::Plain,
    }
}

fn postgres_capture_function() -> String {
    let outbox = quote_ident(Dialect::Postgres, OUTBOX_TABLE);
    // `SET search_path FROM CURRENT` pins the outbox to the schema it was created in, whatever
    // search_path the writing session (or a cascade) runs with. An AFTER trigger's return
    // value is ignored.
    format!(
        "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql \
         SET search_path FROM CURRENT AS $plinth$\n\
         BEGIN\n    \
         IF TG_OP = 'DELETE' THEN\n        \
         INSERT INTO {outbox} (\"model\", \"op\", \"row_data\", \"created_at\")\n        \
         VALUES (TG_ARGV[0], 'deleted', row_to_json(OLD)::text, floor(extract(epoch FROM now()))::bigint);\n    \
         ELSE\n        \
         INSERT INTO {outbox} (\"model\", \"op\", \"row_data\", \"created_at\")\n        \
         VALUES (TG_ARGV[0], CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END, \
         row_to_json(NEW)::text, floor(extract(epoch FROM now()))::bigint);\n    \
         END IF;\n    \
         PERFORM pg_notify({channel}, '');\n    \
         RETURN NULL;\n\
         END\n\
         $plinth$",
        function = quote_ident(Dialect::Postgres, CAPTURE_FUNCTION),
        channel = string_literal(OUTBOX_CHANNEL),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_postgres_trigger_names_are_cut_at_a_character_boundary() {
        let source = format!(
            "model M {{\n  id Int @id\n  @@map(\"{}\")\n  @@allow(\"all\", true)\n}}\n",
            "é".repeat(40)
        );
        let (schema, _) = plinth_model::compile(&source);
        let model = &schema.models[0];
        let name = postgres_trigger_name(model);
        assert!(name.len() <= POSTGRES_MAX_IDENTIFIER_BYTES);
        assert!(name.starts_with("_plinth_capture_é"));
    }

    #[test]
    fn unknown_and_repeated_models_are_skipped() {
        let (schema, _) =
            plinth_model::compile("model M {\n  id Int @id\n  @@allow(\"all\", true)\n}\n");
        let statements = capture_triggers(
            &schema,
            &[ModelId(0), ModelId(0), ModelId(9)],
            Dialect::Sqlite,
        );
        assert_eq!(statements.len(), 6);
        assert_eq!(
            drop_capture_triggers(&schema, &[ModelId(7)], Dialect::Postgres),
            Vec::<String>::new()
        );
    }
}
