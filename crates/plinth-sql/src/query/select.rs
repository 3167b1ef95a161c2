//! SELECT statements: lists (filters, sort, keyset cursor), one row by id, policy checks on a
//! row, and batched includes.

use plinth_model::{Field, FieldId, FieldType, Model, ModelId, Operation, RelationKind, Schema};

use super::builder::{column_field, model_of, single_key, SqlWriter};
use super::policy::{PolicyCompiler, Pred};
use super::projection::{readable_columns, select_expression, select_fields};
use super::{
    Caller, FilterClause, FilterOp, ListQuery, Projection, QueryError, SortKey, SqlValue, Statement,
};
use crate::Dialect;

/// The row alias of the model a statement is about.
pub(crate) const ROW: &str = "t0";

/// The fields whose values make up a cursor for `sort`, in order: the sort keys, then the
/// primary key fields not already among them. [`ListQuery::after`] takes their values from the
/// last row of a page (every one of them is in the list projection).
pub fn cursor_fields(model: &Model, sort: &[SortKey]) -> Vec<usize> {
    let mut fields: Vec<usize> = sort.iter().map(|key| key.field).collect();
    for &key in &model.primary_key.fields {
        if !fields.contains(&key) {
            fields.push(key);
        }
    }
    fields
}

/// A page of `model` rows the caller may read:
///
/// ```sql
/// SELECT <projection> FROM "Model" AS t0
/// WHERE <read rules> AND <filters> AND <after the cursor>
/// ORDER BY <sort keys>, <primary key> LIMIT <limit + 1>
/// ```
///
/// NULLs sort last in both directions and both dialects; strings (and enums, by their database
/// name) sort in the database's own collation: byte order on SQLite and on a PostgreSQL database
/// created with the C locale, the locale's order otherwise. Forcing `COLLATE "C"` on
/// PostgreSQL would give byte order everywhere, but then no index (whose collation is the
/// column's) can serve the `ORDER BY`: a page of 50 became a sort of every visible row (2 ms
/// instead of 0.06 ms over 10,000 rows, measured), so the database's order wins. The projection holds the requested fields plus the primary key and sort
/// keys, in declaration order.
///
/// A field with a field-level read rule is seen by filters, sort and cursor exactly as the
/// caller sees it in the response: NULL where the rule refuses. A filter on it becomes
/// `<read rule> AND <filter>` (`isNull=true` and `= null` match the rows where it is hidden or
/// null), and sorting and the cursor compare `CASE WHEN <read rule> THEN column END`, so no
/// filter, sort order or page boundary can reveal a value the caller may not read.
pub fn select_list(
    schema: &Schema,
    model: ModelId,
    query: &ListQuery,
    caller: &Caller,
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let mut wanted = match &query.fields {
        Some(fields) => fields.clone(),
        None => readable_columns(model),
    };
    wanted.extend(model.primary_key.fields.iter().copied());
    wanted.extend(query.sort.iter().map(|key| key.field));
    for &field in &wanted {
        column_field(model, field)?;
    }
    wanted.sort_unstable();
    wanted.dedup();

    let mut writer = SqlWriter::new(dialect);
    let (columns, projection) = select_fields(schema, model, &wanted, caller, &mut writer, ROW);
    let mut conditions = vec![
        PolicyCompiler::new(schema, caller, &mut writer, ROW, model.id)
            .model_rules(Operation::Read),
    ];
    let keys = sort_keys(model, &query.sort);
    let consulted = query
        .filters
        .iter()
        .map(|filter| filter.field)
        .chain(keys.iter().map(|key| key.field));
    let masks = ReadMasks::new(schema, model, consulted, caller, &mut writer);
    for filter in &query.filters {
        let condition = filter_condition(schema, model, filter, &mut writer)?;
        conditions.push(masks.filter(model, filter, condition));
    }
    if let Some(after) = &query.after {
        conditions.push(cursor_condition(
            schema,
            model,
            &keys,
            after,
            &masks,
            &mut writer,
        )?);
    }
    let order: Vec<String> = keys
        .iter()
        .flat_map(|key| order_terms(model, key, &masks, dialect))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} AS {ROW} WHERE {} ORDER BY {} LIMIT {}",
        columns.join(", "),
        writer.table(model),
        Pred::all(conditions).render(),
        order.join(", "),
        u64::from(query.limit) + 1
    );
    Ok((writer.finish(sql), projection))
}

/// One row by primary key, if the caller may perform `operation` on it (normally
/// `Operation::Read`; no row = 404). Projection: [`readable_columns`] (the primary key is among
/// them unless hidden, and is then added), field-level read rules applied.
pub fn select_by_id(
    schema: &Schema,
    model: ModelId,
    id: SqlValue,
    caller: &Caller,
    operation: Operation,
    dialect: Dialect,
) -> Result<(Statement, Projection), QueryError> {
    let model = model_of(schema, model.0)?;
    let key = single_key(model)?;
    let mut wanted = readable_columns(model);
    if !wanted.contains(&key) {
        wanted.push(key);
        wanted.sort_unstable();
    }
    let mut writer = SqlWriter::new(dialect);
    let (columns, projection) = select_fields(schema, model, &wanted, caller, &mut writer, ROW);
    let condition = by_id_and_rule(schema, model, key, id, operation, caller, &mut writer);
    let sql = format!(
        "SELECT {} FROM {} AS {ROW} WHERE {}",
        columns.join(", "),
        writer.table(model),
        condition.render()
    );
    Ok((writer.finish(sql), projection))
}

/// `SELECT 1 FROM "Model" AS t0 WHERE <pk = id> AND <rules for operation>`: a row comes back
/// when the row exists and satisfies the operation's model-level rules; for `Operation::Update`
/// `future()` reads the current row. For `Operation::Create`, run it right after the INSERT in
/// the same transaction (roll back when no row comes back): `this` is the new row, and every
/// subquery over the same table leaves the new row out (`tN.id <> $1`), so the rules see the
/// database as it was before the insert and a new row cannot vouch for itself (`@@allow('create',
/// org.memberships?[user == auth() && role == ADMIN])` on `Membership`).
/// [`super::insert_checked`] does the same in one statement.
pub fn check_policy_on_row(
    schema: &Schema,
    model: ModelId,
    id: SqlValue,
    operation: Operation,
    caller: &Caller,
    dialect: Dialect,
) -> Result<Statement, QueryError> {
    let model = model_of(schema, model.0)?;
    let key = single_key(model)?;
    let mut writer = SqlWriter::new(dialect);
    let key_field = &model.fields[key];
    let id_sql = writer.bind_for(schema, key_field, id);
    let by_id = Pred::Sql(format!("{} = {id_sql}", writer.column(ROW, key_field)));
    let compiler = PolicyCompiler::new(schema, caller, &mut writer, ROW, model.id);
    let mut compiler = if operation == Operation::Create {
        compiler.excluding_row(key, id_sql)
    } else {
        compiler
    };
    let condition = by_id.and(compiler.model_rules(operation));
    let sql = format!(
        "SELECT 1 FROM {} AS {ROW} WHERE {}",
        writer.table(model),
        condition.render()
    );
    Ok(writer.finish(sql))
}

/// `t0.<pk> = <id> AND <rules>`: the id is always parameter 1.
pub(crate) fn by_id_and_rule(
    schema: &Schema,
    model: &Model,
    key: usize,
    id: SqlValue,
    operation: Operation,
    caller: &Caller,
    writer: &mut SqlWriter,
) -> Pred {
    let by_id = by_id(schema, model, key, id, writer);
    let rule = PolicyCompiler::new(schema, caller, writer, ROW, model.id).model_rules(operation);
    by_id.and(rule)
}

pub(crate) fn by_id(
    schema: &Schema,
    model: &Model,
    key: usize,
    id: SqlValue,
    writer: &mut SqlWriter,
) -> Pred {
    match model.fields.get(key) {
        Some(field) => {
            let value = writer.bind_for(schema, field, id);
            Pred::Sql(format!("{} = {value}", writer.column(ROW, field)))
        }
        None => Pred::False,
    }
}

/// The parent-model field whose values [`select_related`] takes as `parent_keys` for the
/// relation field `relation_field`, and which the first result column repeats: the parent's
/// primary key for to-many and many-to-many relations and for a one-to-one whose foreign key is
/// on the other side; the foreign key field when the parent holds it (`post.author`: pass the
/// `authorId` values).
pub fn include_key_field(schema: &Schema, relation_field: FieldId) -> Result<usize, QueryError> {
    Ok(IncludePlan::new(schema, relation_field)?.parent_field)
}

struct IncludePlan<'schema> {
    target: &'schema Model,
    /// The field of the parent model whose values are the parent keys.
    parent_field: usize,
    join: IncludeJoin<'schema>,
}

enum IncludeJoin<'schema> {
    /// The target row has a column equal to the parent key.
    Column(&'schema Field),
    /// Through the join table: the column holding the parent's key and the one holding the
    /// target's; `owner_key` types the parent key.
    JoinTable {
        table: String,
        db_schema: Option<String>,
        parent_column: &'static str,
        target_column: &'static str,
        owner_key: &'schema Field,
        target_key: &'schema Field,
    },
}

impl<'schema> IncludePlan<'schema> {
    fn new(
        schema: &'schema Schema,
        relation_field: FieldId,
    ) -> Result<IncludePlan<'schema>, QueryError> {
        let parent = model_of(schema, relation_field.model.0)?;
        let field =
            parent
                .fields
                .get(relation_field.index)
                .ok_or_else(|| QueryError::UnknownField {
                    model: parent.name.clone(),
                    field: relation_field.index,
                })?;
        let not_a_relation = || QueryError::NotARelation {
            model: parent.name.clone(),
            field: field.name.clone(),
        };
        let FieldType::Relation(relation_field_type) = &field.ty else {
            return Err(not_a_relation());
        };
        let relation = schema
            .relations
            .get(relation_field_type.relation.0)
            .ok_or_else(not_a_relation)?;
        let target = model_of(schema, relation_field_type.target.0)?;
        let composite = |model: &Model| QueryError::CompositeKey {
            model: model.name.clone(),
        };
        match &relation.kind {
            RelationKind::ManyToMany { join_table } => {
                let owner_key = single_key(parent)?;
                let target_key = single_key(target)?;
                let (parent_column, target_column) = if relation.referencing == relation_field {
                    ("A", "B")
                } else {
                    ("B", "A")
                };
                let db_schema = schema
                    .models
                    .get(relation.referencing.model.0)
                    .and_then(|model| model.db_schema.clone());
                Ok(IncludePlan {
                    target,
                    parent_field: owner_key,
                    join: IncludeJoin::JoinTable {
                        table: join_table.clone(),
                        db_schema,
                        parent_column,
                        target_column,
                        owner_key: &parent.fields[owner_key],
                        target_key: &target.fields[target_key],
                    },
                })
            }
            RelationKind::OneToOne | RelationKind::OneToMany => {
                let ([foreign_key], [reference]) = (
                    relation.fk_fields.as_slice(),
                    relation.references.as_slice(),
                ) else {
                    return Err(composite(parent));
                };
                let (parent_field, target_field) = if relation.referencing == relation_field {
                    (*foreign_key, *reference)
                } else {
                    (*reference, *foreign_key)
                };
                let target_field = target.fields.get(target_field).ok_or_else(not_a_relation)?;
                if parent.fields.get(parent_field).is_none() {
                    return Err(not_a_relation());
                }
                Ok(IncludePlan {
                    target,
                    parent_field,
                    join: IncludeJoin::Column(target_field),
                })
            }
        }
    }
}

/// Batched include: the rows of the relation's target model related to any of `parent_keys`
/// (values of [`include_key_field`]) that the caller may read (read rules and field-level read
/// rules apply). Result column 0 is the parent key (read it with `Projection::parent_key`), then
/// the target's [`readable_columns`] (plus its primary key). Rows are ordered by parent key,
/// then the target's primary key; with `limit_per_parent`, at most that many per parent. A
/// to-one include yields at most one row per parent (none: null or not readable).
pub fn select_related(
    schema: &Schema,
    relation_field: FieldId,
    parent_keys: Vec<SqlValue>,
    caller: &Caller,
    dialect: Dialect,
    limit_per_parent: Option<u32>,
) -> Result<(Statement, Projection), QueryError> {
    let plan = IncludePlan::new(schema, relation_field)?;
    let target = plan.target;
    let target_key = single_key(target)?;
    let mut wanted = readable_columns(target);
    if !wanted.contains(&target_key) {
        wanted.push(target_key);
        wanted.sort_unstable();
    }
    let mut writer = SqlWriter::new(dialect);
    let (mut columns, mut projection) =
        select_fields(schema, target, &wanted, caller, &mut writer, ROW);
    let (parent_sql, parent_field, from) = match &plan.join {
        IncludeJoin::Column(field) => (
            writer.column(ROW, field),
            *field,
            format!("{} AS {ROW}", writer.table(target)),
        ),
        IncludeJoin::JoinTable {
            table,
            db_schema,
            parent_column,
            target_column,
            owner_key,
            target_key,
        } => {
            let join = writer.fresh_alias();
            (
                format!("{join}.{}", writer.quote(parent_column)),
                *owner_key,
                format!(
                    "{} AS {join} JOIN {} AS {ROW} ON {} = {join}.{}",
                    writer.qualified(db_schema.as_deref(), table),
                    writer.table(target),
                    writer.column(ROW, target_key),
                    writer.quote(target_column)
                ),
            )
        }
    };
    projection.parent_key = super::decode_for(parent_field);
    columns.insert(0, select_expression(dialect, parent_field, &parent_sql));

    let keys: Vec<String> = parent_keys
        .into_iter()
        .map(|value| writer.bind_for(schema, parent_field, value))
        .collect();
    let membership = if keys.is_empty() {
        Pred::False
    } else {
        Pred::Sql(format!("{parent_sql} IN ({})", keys.join(", ")))
    };
    let rule = PolicyCompiler::new(schema, caller, &mut writer, ROW, target.id)
        .model_rules(Operation::Read);
    let condition = membership.and(rule).render();
    let target_key_sql = writer.column(ROW, &target.fields[target_key]);
    let sql = match limit_per_parent {
        None => format!(
            "SELECT {} FROM {from} WHERE {condition} ORDER BY {parent_sql}, {target_key_sql}",
            columns.join(", ")
        ),
        Some(limit) => {
            let named: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(index, column)| format!("{column} AS c{index}"))
                .collect();
            let outer: Vec<String> = (0..columns.len())
                .map(|index| format!("c{index}"))
                .collect();
            format!(
                "SELECT {} FROM (SELECT {}, ROW_NUMBER() OVER (PARTITION BY {parent_sql} ORDER BY {target_key_sql}) AS plinth_rank, {parent_sql} AS plinth_parent, {target_key_sql} AS plinth_key FROM {from} WHERE {condition}) AS ranked WHERE plinth_rank <= {limit} ORDER BY plinth_parent, plinth_key",
                outer.join(", "),
                named.join(", "),
            )
        }
    };
    Ok((writer.finish(sql), projection))
}

/// The field-level read rules of the fields a list filters or sorts on, compiled once per
/// statement (the rendered SQL may appear several times; its placeholders are reused).
/// Primary key fields are never masked, as in [`select_fields`].
struct ReadMasks {
    /// (field index, the rule): only fields whose rule is not plainly TRUE.
    rules: Vec<(usize, Pred)>,
}

impl ReadMasks {
    fn new(
        schema: &Schema,
        model: &Model,
        fields: impl Iterator<Item = usize>,
        caller: &Caller,
        writer: &mut SqlWriter,
    ) -> ReadMasks {
        let mut rules: Vec<(usize, Pred)> = Vec::new();
        for index in fields {
            if rules.iter().any(|(known, _)| *known == index)
                || model.primary_key.fields.contains(&index)
            {
                continue;
            }
            let Some(field) = model.fields.get(index) else {
                continue;
            };
            if field.policies.is_empty() {
                continue;
            }
            let rule = PolicyCompiler::new(schema, caller, writer, ROW, model.id)
                .field_rules(field, Operation::Read);
            if rule != Pred::True {
                rules.push((index, rule));
            }
        }
        ReadMasks { rules }
    }

    fn rule(&self, field: usize) -> Option<&Pred> {
        self.rules
            .iter()
            .find(|(index, _)| *index == field)
            .map(|(_, rule)| rule)
    }

    fn is_masked(&self, field: usize) -> bool {
        self.rule(field).is_some()
    }

    /// The column of `field` as the caller sees it: `CASE WHEN <rule> THEN <column> END` for a
    /// masked field, else the column as `column_sql` writes it.
    fn column(&self, model: &Model, field: usize, column_sql: &dyn Fn(&Field) -> String) -> String {
        let Some(found) = model.fields.get(field) else {
            return "NULL".to_string();
        };
        let column = column_sql(found);
        match self.rule(field) {
            None => column,
            // Also for a rule that is plainly FALSE: a bare NULL would have no type to sort by.
            Some(rule) => format!("(CASE WHEN {} THEN {column} END)", rule.render()),
        }
    }

    /// A filter condition on a masked field: the rule AND the filter, except for the tests that
    /// match a NULL, which must also match where the value is hidden.
    fn filter(&self, model: &Model, filter: &FilterClause, condition: Pred) -> Pred {
        let Some(rule) = self.rule(filter.field) else {
            return condition;
        };
        let matches_null = matches!(
            (filter.op, filter.values.as_slice()),
            (FilterOp::IsNull, [SqlValue::Bool(true)]) | (FilterOp::Eq, [SqlValue::Null])
        );
        if matches_null {
            let masked = self.column(model, filter.field, &row_column);
            Pred::Sql(format!("{masked} IS NULL"))
        } else {
            rule.clone().and(condition)
        }
    }
}

/// Sort keys followed by the primary key fields not already sorted on (ascending).
fn sort_keys(model: &Model, sort: &[SortKey]) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = Vec::new();
    for key in sort {
        if !keys.iter().any(|existing| existing.field == key.field) {
            keys.push(*key);
        }
    }
    for &field in &model.primary_key.fields {
        if !keys.iter().any(|existing| existing.field == field) {
            keys.push(SortKey {
                field,
                descending: false,
            });
        }
    }
    keys
}

/// For expressions that apply the read rule themselves (filters AND it in front).
const NO_MASKS: ReadMasks = ReadMasks { rules: Vec::new() };

/// Whether the field is text in the sort: strings and enums sort by their bytes.
fn sorts_as_text(field: &Field) -> bool {
    matches!(
        field.ty,
        FieldType::Scalar(plinth_model::ScalarType::String) | FieldType::Enum(_)
    )
}

/// The expression a key is sorted and compared by (masked by its read rule, if any).
fn sort_expression(
    model: &Model,
    field: usize,
    dialect: Dialect,
    masks: &ReadMasks,
    writer_quote: &dyn Fn(&Field) -> String,
) -> String {
    let column = masks.column(model, field, writer_quote);
    let Some(field) = model.fields.get(field) else {
        return "NULL".to_string();
    };
    match dialect {
        Dialect::Postgres if sorts_as_text(field) => {
            let plain_text = matches!(field.ty, FieldType::Scalar(_))
                && field.native_type.as_ref().is_none_or(|native| {
                    matches!(
                        native.name.to_ascii_lowercase().as_str(),
                        "text" | "varchar"
                    )
                });
            if plain_text {
                column
            } else {
                format!("{column}::text")
            }
        }
        _ => column,
    }
}

fn row_column(field: &Field) -> String {
    format!(
        "{ROW}.{}",
        crate::names::quote_ident(Dialect::Sqlite, &field.db_name)
    )
}

fn order_terms(model: &Model, key: &SortKey, masks: &ReadMasks, dialect: Dialect) -> Vec<String> {
    let Some(field) = model.fields.get(key.field) else {
        return Vec::new();
    };
    let expression = sort_expression(model, key.field, dialect, masks, &row_column);
    let direction = if key.descending { "DESC" } else { "ASC" };
    let nullable = field.is_optional() || masks.is_masked(key.field);
    match (dialect, nullable) {
        (_, false) => vec![format!("{expression} {direction}")],
        (Dialect::Postgres, true) => vec![format!("{expression} {direction} NULLS LAST")],
        (Dialect::Sqlite, true) => vec![
            format!("({} IS NULL)", masks.column(model, key.field, &row_column)),
            format!("{expression} {direction}"),
        ],
    }
}

/// Rows strictly after the cursor in the order of `keys`:
/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR …`, with NULLs last (a NULL cursor value has nothing
/// after it on that key but other NULLs, which tie).
fn cursor_condition(
    schema: &Schema,
    model: &Model,
    keys: &[SortKey],
    after: &[SqlValue],
    masks: &ReadMasks,
    writer: &mut SqlWriter,
) -> Result<Pred, QueryError> {
    if after.len() != keys.len() {
        return Err(QueryError::BadCursor {
            expected: keys.len(),
            found: after.len(),
        });
    }
    let dialect = writer.dialect;
    let mut disjuncts = Vec::new();
    let mut ties = Vec::new();
    for (key, value) in keys.iter().zip(after) {
        let field = column_field(model, key.field)?;
        let column = masks.column(model, key.field, &row_column);
        let expression = sort_expression(model, key.field, dialect, masks, &row_column);
        if *value == SqlValue::Null {
            ties.push(Pred::Sql(format!("{column} IS NULL")));
            continue;
        }
        let placeholder = if dialect == Dialect::Postgres && sorts_as_text(field) {
            writer.bind(value.clone())
        } else {
            writer.bind_for(schema, field, value.clone())
        };
        let operator = if key.descending { "<" } else { ">" };
        let mut beyond = Pred::Sql(format!("{expression} {operator} {placeholder}"));
        if field.is_optional() || masks.is_masked(key.field) {
            beyond = beyond.or(Pred::Sql(format!("{column} IS NULL")));
        }
        disjuncts.push(Pred::all(ties.iter().cloned().chain([beyond])));
        ties.push(Pred::Sql(format!("{expression} = {placeholder}")));
    }
    Ok(Pred::any(disjuncts))
}

/// One filter, for a WHERE clause of AND-ed conditions (where NULL rejects like FALSE, so plain
/// index-friendly comparisons are kept).
fn filter_condition(
    schema: &Schema,
    model: &Model,
    filter: &FilterClause,
    writer: &mut SqlWriter,
) -> Result<Pred, QueryError> {
    let field = column_field(model, filter.field)?;
    let bad = || QueryError::BadFilter {
        field: field.name.clone(),
        op: filter.op,
    };
    let column = writer.column(ROW, field);
    let single = || match filter.values.as_slice() {
        [value] => Ok(value.clone()),
        _ => Err(bad()),
    };
    let dialect = writer.dialect;
    let comparison = |operator: &str, writer: &mut SqlWriter| -> Result<Pred, QueryError> {
        let value = single()?;
        if value == SqlValue::Null {
            return Ok(Pred::False);
        }
        // Ordered comparisons of text use byte order, as sorting does.
        let (left, right) = if dialect == Dialect::Postgres
            && sorts_as_text(field)
            && operator != "="
            && operator != "<>"
        {
            (
                sort_expression(model, filter.field, dialect, &NO_MASKS, &row_column),
                writer.bind(value),
            )
        } else {
            (column.clone(), writer.bind_for(schema, field, value))
        };
        Ok(Pred::Sql(format!("{left} {operator} {right}")))
    };
    match filter.op {
        FilterOp::Eq => {
            if single()? == SqlValue::Null {
                Ok(Pred::Sql(format!("{column} IS NULL")))
            } else {
                comparison("=", writer)
            }
        }
        FilterOp::Ne => comparison("<>", writer),
        FilterOp::Lt => comparison("<", writer),
        FilterOp::Lte => comparison("<=", writer),
        FilterOp::Gt => comparison(">", writer),
        FilterOp::Gte => comparison(">=", writer),
        FilterOp::In => {
            let values: Vec<String> = filter
                .values
                .iter()
                .filter(|value| **value != SqlValue::Null)
                .map(|value| writer.bind_for(schema, field, value.clone()))
                .collect();
            if values.is_empty() {
                Ok(Pred::False)
            } else {
                Ok(Pred::Sql(format!("{column} IN ({})", values.join(", "))))
            }
        }
        FilterOp::Contains | FilterOp::StartsWith => {
            let value = single()?;
            if value == SqlValue::Null {
                return Ok(Pred::False);
            }
            let text = match dialect {
                Dialect::Postgres => format!("{column}::text"),
                Dialect::Sqlite => column.clone(),
            };
            let needle = writer.bind(value);
            Ok(Pred::Sql(match (filter.op, dialect) {
                (FilterOp::Contains, Dialect::Postgres) => format!("strpos({text}, {needle}) > 0"),
                (FilterOp::Contains, Dialect::Sqlite) => format!("instr({text}, {needle}) > 0"),
                (_, Dialect::Postgres) => {
                    format!("left({text}, char_length({needle})) = {needle}")
                }
                (_, Dialect::Sqlite) => format!("substr({text}, 1, length({needle})) = {needle}"),
            }))
        }
        FilterOp::IsNull => match single()? {
            SqlValue::Bool(true) => Ok(Pred::Sql(format!("{column} IS NULL"))),
            SqlValue::Bool(false) => Ok(Pred::Sql(format!("{column} IS NOT NULL"))),
            _ => Err(bad()),
        },
    }
}
