//! Access policies (`@@allow` / `@@deny`, field-level `@allow` / `@deny`) compiled into SQL
//! predicates over a row alias.
//!
//! Predicates are exact under SQL's three-valued logic: wherever a NULL could be told apart from
//! FALSE (anything under an odd number of `NOT`s — deny rules, `!`, the test inside `![…]`), a
//! comparison is wrapped in `COALESCE(…, FALSE)`; elsewhere (a WHERE clause, CASE WHEN, EXISTS)
//! NULL already rejects like FALSE, so the plain, index-friendly comparison is kept. The rules:
//!
//! - allowed = (some allow rule holds) AND NOT (some deny rule holds); no allow rule = FALSE.
//!   Field-level: no field allow rule = allowed (the model-level rule already decided the row).
//! - `auth()` is the caller: its primary key is a bound parameter, any other `auth().field` a
//!   scalar subquery on the auth table (never stale). For an anonymous caller everything read
//!   from `auth()` is absent: `auth() == null` is TRUE, `auth() != null` FALSE, and every other
//!   comparison involving `auth()` is FALSE (including `!=`).
//! - `x == null` / `x != null` test for NULL. Other `==` / `!=` between values read from rows are
//!   null-safe (`IS NOT DISTINCT FROM`: two NULLs are equal, NULL differs from a value), so
//!   `future().owner != owner` notices a NULL becoming a value; when one side comes from
//!   `auth()` the comparison is strict (a NULL never equals anything). `<`, `<=`, `>`, `>=` and
//!   `in` are FALSE when a side is NULL.
//! - Rows compare by primary key (`auth() == this`, `owner == auth()`); a to-one path whose
//!   foreign key references the target's primary key reads the foreign key column directly,
//!   any other to-one step is a scalar subquery.
//! - `rel?[p]` → `EXISTS (…)`, `rel![p]` → `NOT EXISTS (… AND NOT p)`, `rel^[p]` →
//!   `NOT EXISTS (… AND p)`, through Prisma's `_Name` join table (`A`/`B`) for implicit
//!   many-to-many.
//! - `future()` (update rules): the row as the update will leave it — a written column is the
//!   new value's parameter, any other column the current one. Update rules are therefore checked
//!   in the UPDATE's own WHERE clause, atomically.
//! - String comparisons with `<`/`>` use `COLLATE "C"` on PostgreSQL, the byte order SQLite uses.

use plinth_model::{
    ComparisonOp, Effect, Field, FieldId, FieldType, Model, ModelId, Operation, Path, PathRoot,
    PolicyExpr, Quantifier, RelationKind, ScalarType, Schema, Value,
};

use super::builder::{drop_unused_tail, SqlWriter};
use super::{Caller, SqlValue};
use crate::literals::{is_numeric_literal, string_literal};
use crate::Dialect;

/// A compiled condition: constants fold away, `NOT NOT x` is `x`, and nested ANDs / ORs are
/// flattened, so the SQL stays readable.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Pred {
    True,
    False,
    /// One SQL condition (a comparison, EXISTS, …), written so it needs no parentheses.
    Sql(String),
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
}

impl Pred {
    pub fn and(self, other: Pred) -> Pred {
        match (self, other) {
            (Pred::False, _) | (_, Pred::False) => Pred::False,
            (Pred::True, other) | (other, Pred::True) => other,
            (left, right) => {
                let mut parts = Vec::new();
                for part in [left, right] {
                    match part {
                        Pred::And(inner) => parts.extend(inner),
                        other => parts.push(other),
                    }
                }
                Pred::And(parts)
            }
        }
    }

    pub fn or(self, other: Pred) -> Pred {
        match (self, other) {
            (Pred::True, _) | (_, Pred::True) => Pred::True,
            (Pred::False, other) | (other, Pred::False) => other,
            (left, right) => {
                let mut parts = Vec::new();
                for part in [left, right] {
                    match part {
                        Pred::Or(inner) => parts.extend(inner),
                        other => parts.push(other),
                    }
                }
                Pred::Or(parts)
            }
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Pred {
        match self {
            Pred::True => Pred::False,
            Pred::False => Pred::True,
            Pred::Not(inner) => *inner,
            other => Pred::Not(Box::new(other)),
        }
    }

    pub fn all(predicates: impl IntoIterator<Item = Pred>) -> Pred {
        predicates.into_iter().fold(Pred::True, Pred::and)
    }

    pub fn any(predicates: impl IntoIterator<Item = Pred>) -> Pred {
        predicates.into_iter().fold(Pred::False, Pred::or)
    }

    /// The condition as SQL, without parentheses around the whole.
    pub fn render(&self) -> String {
        match self {
            Pred::True => "TRUE".to_string(),
            Pred::False => "FALSE".to_string(),
            Pred::Sql(sql) => sql.clone(),
            Pred::And(parts) => parts
                .iter()
                .map(Pred::render_operand)
                .collect::<Vec<_>>()
                .join(" AND "),
            Pred::Or(parts) => parts
                .iter()
                .map(Pred::render_operand)
                .collect::<Vec<_>>()
                .join(" OR "),
            Pred::Not(inner) => format!("NOT ({})", inner.render()),
        }
    }

    /// As an operand of AND / OR: compound conditions in parentheses.
    pub fn render_operand(&self) -> String {
        match self {
            Pred::And(_) | Pred::Or(_) => format!("({})", self.render()),
            Pred::Sql(sql) if needs_parentheses(sql) => format!("({sql})"),
            other => other.render(),
        }
    }
}

/// Whether a plain condition has a top-level OR / AND (from `policy_predicate` text or
/// cursor conditions) and so must be parenthesised as an operand.
fn needs_parentheses(sql: &str) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut in_identifier = false;
    let bytes = sql.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\'' if !in_identifier => in_string = !in_string,
            b'"' if !in_string => in_identifier = !in_identifier,
            b'(' if !in_string && !in_identifier => depth += 1,
            b')' if !in_string && !in_identifier => depth = depth.saturating_sub(1),
            b' ' if depth == 0 && !in_string && !in_identifier => {
                let rest = &sql[index..];
                if rest.starts_with(" OR ") || rest.starts_with(" AND ") {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The value of an expression used as an operand.
#[derive(Clone, Debug)]
enum Operand {
    /// The literal `null`.
    Null,
    /// Read from `auth()` for an anonymous caller: no value at all.
    NoCaller,
    /// A scalar SQL expression (may be NULL).
    Scalar {
        sql: String,
        from_auth: bool,
        is_text: bool,
        is_literal: bool,
    },
    /// A row, by its primary key values (all NULL when there is no row).
    Row {
        keys: Vec<String>,
        from_auth: bool,
        /// Certainly a row (`this`, a signed-in caller's `auth()`).
        present: bool,
    },
    Array(Vec<Operand>),
}

/// Where `future()` columns come from: written columns by their new value's SQL.
#[derive(Clone, Debug, Default)]
pub(crate) struct FutureValues {
    pub values: Vec<(usize, String)>,
}

pub(crate) struct PolicyCompiler<'context> {
    schema: &'context Schema,
    caller: &'context Caller,
    writer: &'context mut SqlWriter,
    /// The row `this` and bare fields refer to (inside `?[…]`, the element).
    scope_alias: String,
    scope_model: ModelId,
    /// The row the rule is about, for `future()`.
    row_alias: String,
    row_model: ModelId,
    future: FutureValues,
    /// For create rules checked before the insert: the row does not exist yet, so `this` reads
    /// the values being inserted (a column left out reads its literal `@default`, else NULL).
    new_row: Option<FutureValues>,
    /// For create rules checked after the insert: the new row (model, key field, key SQL),
    /// left out of every subquery over its table so it cannot vouch for itself.
    excluded_row: Option<(ModelId, usize, String)>,
    /// Whether the expression being compiled sits under an even number of NOTs (and only
    /// AND/OR) up to a WHERE or CASE WHEN. There NULL rejects a row exactly like FALSE, so the
    /// `COALESCE(…, FALSE)` guards are left out and indexes stay usable.
    positive: bool,
}

impl<'context> PolicyCompiler<'context> {
    pub fn new(
        schema: &'context Schema,
        caller: &'context Caller,
        writer: &'context mut SqlWriter,
        alias: &str,
        model: ModelId,
    ) -> PolicyCompiler<'context> {
        PolicyCompiler {
            schema,
            caller,
            writer,
            scope_alias: alias.to_string(),
            scope_model: model,
            row_alias: alias.to_string(),
            row_model: model,
            future: FutureValues::default(),
            new_row: None,
            excluded_row: None,
            positive: true,
        }
    }

    /// For create rules checked on the inserted row: subqueries do not see it (the database as
    /// it was before the insert), while `this` is the row.
    pub fn excluding_row(mut self, key_field: usize, key_sql: String) -> PolicyCompiler<'context> {
        self.excluded_row = Some((self.row_model, key_field, key_sql));
        self
    }

    /// `alias.key <> new key` when `model` is the table of the excluded row.
    fn exclusion(&self, model: &Model, alias: &str) -> Option<String> {
        let (excluded_model, key, key_sql) = self.excluded_row.as_ref()?;
        if *excluded_model != model.id {
            return None;
        }
        let field = model.fields.get(*key)?;
        Some(format!("{} <> {key_sql}", self.writer.column(alias, field)))
    }

    /// For create rules: `this` is the row about to be inserted, given by `values`.
    pub fn for_new_row(mut self, values: FutureValues) -> PolicyCompiler<'context> {
        self.new_row = Some(values);
        self
    }

    /// A column of the row about to be inserted.
    fn new_row_column(&self, column: usize) -> Option<String> {
        let values = self.new_row.as_ref()?;
        if let Some((_, sql)) = values.values.iter().find(|(field, _)| *field == column) {
            return Some(sql.clone());
        }
        let field = self
            .schema
            .models
            .get(self.row_model.0)?
            .fields
            .get(column)?;
        Some(match &field.default {
            Some(plinth_model::DefaultValue::Value(value)) => match self.literal(value) {
                Operand::Scalar { sql, .. } => sql,
                _ => "NULL".to_string(),
            },
            _ => "NULL".to_string(),
        })
    }

    /// `sql` (which may be NULL) as a two-valued predicate where that matters.
    fn guard(&self, sql: String) -> Pred {
        if self.positive {
            Pred::Sql(sql)
        } else {
            Pred::Sql(format!("COALESCE({sql}, FALSE)"))
        }
    }

    fn with_polarity<T>(&mut self, positive: bool, body: impl FnOnce(&mut Self) -> T) -> T {
        let saved = std::mem::replace(&mut self.positive, positive);
        let result = body(self);
        self.positive = saved;
        result
    }

    /// For update rules: `future()` reads these new values for the written columns.
    pub fn with_future(mut self, future: FutureValues) -> PolicyCompiler<'context> {
        self.future = future;
        self
    }

    fn dialect(&self) -> Dialect {
        self.writer.dialect
    }

    /// Model-level rules for `operation` on the row.
    pub fn model_rules(&mut self, operation: Operation) -> Pred {
        let Some(model) = self.schema.models.get(self.row_model.0) else {
            return Pred::False;
        };
        let rules: Vec<_> = model
            .policies
            .iter()
            .filter(|policy| policy.operations.contains(operation))
            .collect();
        if !rules.iter().any(|policy| policy.effect == Effect::Allow) {
            return Pred::False;
        }
        self.combine(&rules, false)
    }

    /// Field-level rules for `operation` on one field of the row: TRUE when the field has none.
    pub fn field_rules(&mut self, field: &Field, operation: Operation) -> Pred {
        let rules: Vec<_> = field
            .policies
            .iter()
            .filter(|policy| policy.operations.contains(operation))
            .collect();
        self.combine(&rules, true)
    }

    fn combine(&mut self, rules: &[&plinth_model::Policy], allow_by_default: bool) -> Pred {
        let mut allows = Vec::new();
        let mut denies = Vec::new();
        for rule in rules {
            match rule.effect {
                Effect::Allow => allows.push(self.predicate(&rule.condition)),
                // Deny rules end up under NOT: compiled so that NULL reads as FALSE.
                Effect::Deny => {
                    let positive = !self.positive;
                    denies.push(
                        self.with_polarity(positive, |compiler| {
                            compiler.predicate(&rule.condition)
                        }),
                    );
                }
            }
        }
        let allowed = if allows.is_empty() && allow_by_default {
            Pred::True
        } else {
            Pred::any(allows)
        };
        allowed.and(Pred::any(denies).not())
    }

    /// A condition as a two-valued predicate.
    pub fn predicate(&mut self, expression: &PolicyExpr) -> Pred {
        match expression {
            PolicyExpr::Literal(Value::Boolean(value)) => {
                if *value {
                    Pred::True
                } else {
                    Pred::False
                }
            }
            PolicyExpr::Literal(_) | PolicyExpr::Array(_) => Pred::False,
            PolicyExpr::Path(_) => match self.operand(expression) {
                Operand::Scalar { sql, .. } => self.guard(sql),
                _ => Pred::False,
            },
            PolicyExpr::Not(inner) => {
                let positive = !self.positive;
                self.with_polarity(positive, |compiler| compiler.predicate(inner))
                    .not()
            }
            PolicyExpr::And(left, right) => {
                let left = self.predicate(left);
                let right = self.predicate(right);
                left.and(right)
            }
            PolicyExpr::Or(left, right) => {
                let left = self.predicate(left);
                let right = self.predicate(right);
                left.or(right)
            }
            PolicyExpr::Compare { op, lhs, rhs } => {
                let left = self.operand(lhs);
                let right = self.operand(rhs);
                self.compare(*op, left, right)
            }
            PolicyExpr::In { lhs, rhs } => {
                let left = self.operand(lhs);
                let right = self.operand(rhs);
                self.contained(left, right)
            }
            PolicyExpr::Collection {
                quantifier,
                collection,
                predicate,
            } => self.collection(*quantifier, collection, predicate),
        }
    }

    fn operand(&mut self, expression: &PolicyExpr) -> Operand {
        match expression {
            PolicyExpr::Literal(value) => self.literal(value),
            PolicyExpr::Array(items) => {
                Operand::Array(items.iter().map(|item| self.operand(item)).collect())
            }
            PolicyExpr::Path(path) => self.path(path),
            // A condition used as a value: its (never NULL) truth value.
            other => {
                let sql = self
                    .with_polarity(false, |compiler| compiler.predicate(other))
                    .render();
                Operand::Scalar {
                    sql,
                    from_auth: false,
                    is_text: false,
                    is_literal: false,
                }
            }
        }
    }

    fn literal(&self, value: &Value) -> Operand {
        let scalar = |sql: String, is_text: bool| Operand::Scalar {
            sql,
            from_auth: false,
            is_text,
            is_literal: true,
        };
        match value {
            Value::Null => Operand::Null,
            Value::String(text) => scalar(string_literal(text), true),
            Value::Int(number) => scalar(number.to_string(), false),
            Value::Float(text) if is_numeric_literal(text) => scalar(text.clone(), false),
            Value::Float(text) => scalar(string_literal(text), true),
            Value::Boolean(flag) => scalar(self.writer.boolean(*flag).to_string(), false),
            Value::Enum { enum_id, value } => {
                match self
                    .schema
                    .enums
                    .get(enum_id.0)
                    .and_then(|enumeration| enumeration.values.get(*value))
                {
                    Some(found) => scalar(string_literal(&found.db_name), true),
                    None => Operand::Null,
                }
            }
            Value::List(items) => {
                Operand::Array(items.iter().map(|item| self.literal(item)).collect())
            }
        }
    }

    fn root_model(&self, root: PathRoot) -> Option<&'context Model> {
        let id = match root {
            PathRoot::Scope => self.scope_model,
            PathRoot::Future => self.row_model,
            PathRoot::Auth => self.schema.auth_model?,
        };
        self.schema.models.get(id.0)
    }

    fn path(&mut self, path: &Path) -> Operand {
        let from_auth = path.root == PathRoot::Auth;
        if from_auth && !self.caller.is_authenticated() {
            return Operand::NoCaller;
        }
        let Some((last, prefix)) = path.fields.split_last() else {
            // `this`, `auth()`, `future()`: the row itself.
            let Some(model) = self.root_model(path.root) else {
                return Operand::NoCaller;
            };
            let mut keys = Vec::new();
            for &key in &model.primary_key.fields {
                match self.column_at(path.root, &[], key) {
                    Some(sql) => keys.push(sql),
                    None => return Operand::NoCaller,
                }
            }
            return Operand::Row {
                keys,
                from_auth,
                present: true,
            };
        };
        let schema = self.schema;
        let Some(field) = schema
            .models
            .get(last.model.0)
            .and_then(|model| model.fields.get(last.index))
        else {
            return Operand::Null;
        };
        match &field.ty {
            FieldType::Relation(relation_field) => {
                let Some(target) = schema.models.get(relation_field.target.0) else {
                    return Operand::Null;
                };
                let mut keys = Vec::new();
                for &key in &target.primary_key.fields {
                    match self.column_at(path.root, &path.fields, key) {
                        Some(sql) => keys.push(sql),
                        None => return Operand::NoCaller,
                    }
                }
                Operand::Row {
                    keys,
                    from_auth,
                    present: false,
                }
            }
            _ => match self.column_at(path.root, prefix, last.index) {
                Some(sql) => Operand::Scalar {
                    sql,
                    from_auth,
                    is_text: matches!(field.ty, FieldType::Scalar(ScalarType::String)),
                    is_literal: false,
                },
                None => Operand::NoCaller,
            },
        }
    }

    /// Column `column` of the row reached from `root` through the to-one relations `steps`.
    /// `None` when it is read from `auth()` and nobody is signed in.
    fn column_at(&mut self, root: PathRoot, steps: &[FieldId], column: usize) -> Option<String> {
        let schema = self.schema;
        let Some((last, init)) = steps.split_last() else {
            return self.root_column(root, column);
        };
        let field = schema
            .models
            .get(last.model.0)
            .and_then(|model| model.fields.get(last.index))?;
        let FieldType::Relation(relation_field) = &field.ty else {
            return Some("NULL".to_string());
        };
        let relation = schema.relations.get(relation_field.relation.0)?;
        let target = schema.models.get(relation_field.target.0)?;
        let target_column = target.fields.get(column)?;
        let is_many_to_many = matches!(relation.kind, RelationKind::ManyToMany { .. });
        let holds_foreign_key = relation.referencing == *last && !is_many_to_many;
        if holds_foreign_key {
            if let Some(position) = relation.references.iter().position(|&r| r == column) {
                let foreign_key = *relation.fk_fields.get(position)?;
                return self.column_at(root, init, foreign_key);
            }
        }
        if is_many_to_many || relation.fk_fields.len() != relation.references.len() {
            return Some("NULL".to_string());
        }
        let alias = self.writer.fresh_alias();
        let mut conditions = Vec::new();
        for (&foreign_key, &reference) in relation.fk_fields.iter().zip(&relation.references) {
            let (target_side, owner_side) = if holds_foreign_key {
                (reference, foreign_key)
            } else {
                (foreign_key, reference)
            };
            let owner = self.column_at(root, init, owner_side)?;
            let target_field = target.fields.get(target_side)?;
            conditions.push(format!(
                "{} = {owner}",
                self.writer.column(&alias, target_field)
            ));
        }
        conditions.extend(self.exclusion(target, &alias));
        Some(format!(
            "(SELECT {} FROM {} AS {alias} WHERE {})",
            self.writer.column(&alias, target_column),
            self.writer.table(target),
            conditions.join(" AND ")
        ))
    }

    fn root_column(&mut self, root: PathRoot, column: usize) -> Option<String> {
        let schema = self.schema;
        match root {
            PathRoot::Scope if self.new_row.is_some() && self.scope_alias == self.row_alias => {
                self.new_row_column(column)
            }
            PathRoot::Future if self.new_row.is_some() => self.new_row_column(column),
            PathRoot::Scope => {
                let field = schema.models.get(self.scope_model.0)?.fields.get(column)?;
                Some(self.writer.column(&self.scope_alias, field))
            }
            PathRoot::Future => {
                if let Some((_, sql)) = self.future.values.iter().find(|(f, _)| *f == column) {
                    return Some(sql.clone());
                }
                let field = schema.models.get(self.row_model.0)?.fields.get(column)?;
                Some(self.writer.column(&self.row_alias, field))
            }
            PathRoot::Auth => {
                let user_id = match &self.caller.user_id {
                    Some(value) if *value != SqlValue::Null => value.clone(),
                    _ => return None,
                };
                let auth = schema.auth()?;
                let [key] = auth.primary_key.fields.as_slice() else {
                    return None;
                };
                let key_field = auth.fields.get(*key)?;
                let id = self.writer.auth_id(schema, key_field, &user_id);
                if column == *key {
                    return Some(id);
                }
                let field = auth.fields.get(column)?;
                let alias = self.writer.fresh_alias();
                let exclusion = self
                    .exclusion(auth, &alias)
                    .map(|condition| format!(" AND {condition}"))
                    .unwrap_or_default();
                Some(format!(
                    "(SELECT {} FROM {} AS {alias} WHERE {} = {id}{exclusion})",
                    self.writer.column(&alias, field),
                    self.writer.table(auth),
                    self.writer.column(&alias, key_field),
                ))
            }
        }
    }

    fn is_null(&self, operand: &Operand) -> Pred {
        match operand {
            Operand::Null | Operand::NoCaller => Pred::True,
            Operand::Scalar { sql, .. } => Pred::Sql(format!("{sql} IS NULL")),
            Operand::Row { keys, present, .. } => {
                if *present {
                    Pred::False
                } else {
                    Pred::all(keys.iter().map(|key| Pred::Sql(format!("{key} IS NULL"))))
                }
            }
            Operand::Array(_) => Pred::False,
        }
    }

    fn compare(&mut self, op: ComparisonOp, left: Operand, right: Operand) -> Pred {
        use Operand::{Array, NoCaller, Null, Row, Scalar};
        let equality = matches!(op, ComparisonOp::Eq | ComparisonOp::Ne);
        let negate = op == ComparisonOp::Ne;
        let flip = |pred: Pred| if negate { pred.not() } else { pred };
        match (left, right) {
            (NoCaller, Null) | (Null, NoCaller) | (Null, Null) => {
                if equality {
                    flip(Pred::True)
                } else {
                    Pred::False
                }
            }
            (NoCaller, _) | (_, NoCaller) | (Array(_), _) | (_, Array(_)) => Pred::False,
            (Null, other) | (other, Null) => {
                if equality {
                    flip(self.is_null(&other))
                } else {
                    Pred::False
                }
            }
            (
                Row {
                    keys: left_keys,
                    from_auth: left_auth,
                    ..
                },
                Row {
                    keys: right_keys,
                    from_auth: right_auth,
                    ..
                },
            ) => {
                if !equality || left_keys.len() != right_keys.len() {
                    return Pred::False;
                }
                let strict = left_auth || right_auth;
                let pairs: Vec<(String, String)> = left_keys.into_iter().zip(right_keys).collect();
                self.equality(&pairs, strict, negate)
            }
            (
                Row {
                    keys, from_auth, ..
                },
                Scalar {
                    sql,
                    from_auth: other_auth,
                    ..
                },
            )
            | (
                Scalar {
                    sql,
                    from_auth: other_auth,
                    ..
                },
                Row {
                    keys, from_auth, ..
                },
            ) => {
                // A row compared with a value: its (single) key.
                match (equality, keys.as_slice()) {
                    (true, [key]) => {
                        self.equality(&[(key.clone(), sql)], from_auth || other_auth, negate)
                    }
                    _ => Pred::False,
                }
            }
            (
                Scalar {
                    sql: left_sql,
                    from_auth: left_auth,
                    is_text: left_text,
                    is_literal: left_literal,
                },
                Scalar {
                    sql: right_sql,
                    from_auth: right_auth,
                    is_text: right_text,
                    is_literal: right_literal,
                },
            ) => {
                // Two string literals (enum values, say, with a default filled in): known now.
                if equality
                    && left_literal
                    && right_literal
                    && left_sql.starts_with('\'')
                    && right_sql.starts_with('\'')
                {
                    return flip(if left_sql == right_sql {
                        Pred::True
                    } else {
                        Pred::False
                    });
                }
                if equality {
                    let strict = left_auth || right_auth;
                    // Against a literal the null-safe and plain forms agree on `==`; keep it
                    // short.
                    let strict = strict || (!negate && (left_literal || right_literal));
                    return self.equality(&[(left_sql, right_sql)], strict, negate);
                }
                let operator = match op {
                    ComparisonOp::Lt => "<",
                    ComparisonOp::Le => "<=",
                    ComparisonOp::Gt => ">",
                    _ => ">=",
                };
                let collate = if self.dialect() == Dialect::Postgres
                    && (left_text || right_text)
                    && !(left_literal && right_literal)
                {
                    " COLLATE \"C\""
                } else {
                    ""
                };
                self.guard(format!("{left_sql}{collate} {operator} {right_sql}"))
            }
        }
    }

    /// `==` (or `!=` when `negate`) over key pairs. Strict: NULL equals nothing and differs from
    /// nothing. Otherwise null-safe.
    fn equality(&self, pairs: &[(String, String)], strict: bool, negate: bool) -> Pred {
        if pairs.is_empty() {
            return Pred::False;
        }
        if strict {
            let all_equal = pairs
                .iter()
                .map(|(left, right)| format!("{left} = {right}"))
                .collect::<Vec<_>>()
                .join(" AND ");
            return match (negate, pairs) {
                (false, _) => self.guard(all_equal),
                (true, [(left, right)]) => self.guard(format!("{left} <> {right}")),
                (true, _) => self.guard(format!("NOT ({all_equal})")),
            };
        }
        let same = match self.dialect() {
            Dialect::Postgres => "IS NOT DISTINCT FROM",
            Dialect::Sqlite => "IS",
        };
        // `x IS NOT DISTINCT FROM x` holds: `future().owner != owner` when owner is not written.
        let all_equal = Pred::all(pairs.iter().map(|(left, right)| {
            if left == right {
                Pred::True
            } else {
                Pred::Sql(format!("{left} {same} {right}"))
            }
        }));
        if negate {
            all_equal.not()
        } else {
            all_equal
        }
    }

    fn contained(&mut self, left: Operand, right: Operand) -> Pred {
        let left_sql = match left {
            Operand::Scalar { sql, .. } => sql,
            Operand::Row { keys, .. } if keys.len() == 1 => {
                keys.into_iter().next().unwrap_or_default()
            }
            _ => return Pred::False,
        };
        match right {
            Operand::Array(items) => {
                let values: Vec<String> = items
                    .into_iter()
                    .filter_map(|item| match item {
                        Operand::Scalar { sql, .. } => Some(sql),
                        Operand::Row { keys, .. } if keys.len() == 1 => keys.into_iter().next(),
                        _ => None,
                    })
                    .collect();
                if values.is_empty() {
                    return Pred::False;
                }
                self.guard(format!("{left_sql} IN ({})", values.join(", ")))
            }
            // A scalar list column.
            Operand::Scalar { sql, .. } => match self.dialect() {
                Dialect::Postgres => self.guard(format!("{left_sql} = ANY({sql})")),
                Dialect::Sqlite => self.guard(format!(
                    "{left_sql} IN (SELECT value FROM json_each({sql}))"
                )),
            },
            _ => Pred::False,
        }
    }

    fn collection(
        &mut self,
        quantifier: Quantifier,
        collection: &Path,
        predicate: &PolicyExpr,
    ) -> Pred {
        let schema = self.schema;
        if collection.root == PathRoot::Auth && !self.caller.is_authenticated() {
            return empty_collection(quantifier);
        }
        let Some((last, prefix)) = collection.fields.split_last() else {
            return Pred::False;
        };
        let Some(owner_model) = schema.models.get(last.model.0) else {
            return Pred::False;
        };
        let Some(field) = owner_model.fields.get(last.index) else {
            return Pred::False;
        };
        let FieldType::Relation(relation_field) = &field.ty else {
            return Pred::False;
        };
        let (Some(relation), Some(target)) = (
            schema.relations.get(relation_field.relation.0),
            schema.models.get(relation_field.target.0),
        ) else {
            return Pred::False;
        };
        let element = self.writer.fresh_alias();
        let mut from = format!("{} AS {element}", self.writer.table(target));
        let mut membership = Vec::new();
        match &relation.kind {
            RelationKind::ManyToMany { join_table } => {
                let (Some(owner_key), Some(target_key)) =
                    (single_key_field(owner_model), single_key_field(target))
                else {
                    return Pred::False;
                };
                let (owner_column, element_column) = if relation.referencing == *last {
                    ("A", "B")
                } else {
                    ("B", "A")
                };
                let Some(owner_value) = self.column_at(collection.root, prefix, owner_key.0) else {
                    return empty_collection(quantifier);
                };
                let join = self.writer.fresh_alias();
                let join_schema = schema
                    .models
                    .get(relation.referencing.model.0)
                    .and_then(|model| model.db_schema.as_deref());
                from = format!(
                    "{} AS {join} JOIN {from} ON {} = {join}.{}",
                    self.writer.qualified(join_schema, join_table),
                    self.writer.column(&element, target_key.1),
                    self.writer.quote(element_column),
                );
                membership.push(format!(
                    "{join}.{} = {owner_value}",
                    self.writer.quote(owner_column)
                ));
            }
            RelationKind::OneToOne | RelationKind::OneToMany => {
                let holds_foreign_key = relation.referencing == *last;
                for (&foreign_key, &reference) in
                    relation.fk_fields.iter().zip(&relation.references)
                {
                    let (element_side, owner_side) = if holds_foreign_key {
                        (reference, foreign_key)
                    } else {
                        (foreign_key, reference)
                    };
                    let Some(owner_value) = self.column_at(collection.root, prefix, owner_side)
                    else {
                        return empty_collection(quantifier);
                    };
                    let Some(element_field) = target.fields.get(element_side) else {
                        return Pred::False;
                    };
                    membership.push(format!(
                        "{} = {owner_value}",
                        self.writer.column(&element, element_field)
                    ));
                }
                if membership.is_empty() {
                    return Pred::False;
                }
            }
        }

        membership.extend(self.exclusion(target, &element));
        let saved = (
            std::mem::replace(&mut self.scope_alias, element),
            std::mem::replace(&mut self.scope_model, target.id),
        );
        // The element test sits in the subquery's WHERE; for `![…]` it is negated there.
        let positive = quantifier != Quantifier::All;
        let inner = self.with_polarity(positive, |compiler| compiler.predicate(predicate));
        self.scope_alias = saved.0;
        self.scope_model = saved.1;

        let inner = match quantifier {
            Quantifier::All => inner.not(),
            Quantifier::Some | Quantifier::None => inner,
        };
        if inner == Pred::False {
            return empty_collection(quantifier);
        }
        let conditions = Pred::all(membership.into_iter().map(Pred::Sql)).and(inner);
        let exists = format!(
            "EXISTS (SELECT 1 FROM {from} WHERE {})",
            conditions.render()
        );
        match quantifier {
            Quantifier::Some => Pred::Sql(exists),
            Quantifier::All | Quantifier::None => Pred::Sql(format!("NOT {exists}")),
        }
    }
}

/// The truth of a quantifier over no elements.
fn empty_collection(quantifier: Quantifier) -> Pred {
    match quantifier {
        Quantifier::Some => Pred::False,
        Quantifier::All | Quantifier::None => Pred::True,
    }
}

fn single_key_field(model: &Model) -> Option<(usize, &Field)> {
    match model.primary_key.fields.as_slice() {
        [only] => model.fields.get(*only).map(|field| (*only, field)),
        _ => None,
    }
}

/// The model-level rules for `operation` on the row `alias` of `model`, as a SQL condition for
/// the caller. It is TRUE when allowed and FALSE or NULL when not: use it where NULL rejects (a
/// WHERE clause, `CASE WHEN`, under `AND`/`OR`), and write `COALESCE((pred), FALSE)` before
/// negating it. Parameters it needs (the caller's id, at most
/// once) are appended to `params`; placeholders are numbered after those already there, so the
/// result can be embedded in a statement that has bound `params` so far. Subqueries use aliases
/// `t1`, `t2`, … (never `alias`). `future()` in update rules reads the current row. An unknown
/// model gives `FALSE`.
pub fn policy_predicate(
    schema: &Schema,
    model: ModelId,
    operation: Operation,
    caller: &Caller,
    alias: &str,
    dialect: Dialect,
    params: &mut Vec<SqlValue>,
) -> String {
    let mut writer = SqlWriter::with_params(dialect, std::mem::take(params));
    writer.reserve_alias(alias);
    let first_new = writer.params.len() + 1;
    let predicate = if schema.models.get(model.0).is_some() {
        PolicyCompiler::new(schema, caller, &mut writer, alias, model).model_rules(operation)
    } else {
        Pred::False
    };
    let sql = predicate.render();
    *params = writer.params;
    drop_unused_tail(dialect, &sql, params, first_new);
    sql
}

/// The field-level rules (`@allow` / `@deny` on a field) for `operation` on the row `alias`:
/// TRUE when the field has no rule for it. Same conventions as [`policy_predicate`].
pub fn field_policy_predicate(
    schema: &Schema,
    field: FieldId,
    operation: Operation,
    caller: &Caller,
    alias: &str,
    dialect: Dialect,
    params: &mut Vec<SqlValue>,
) -> String {
    let mut writer = SqlWriter::with_params(dialect, std::mem::take(params));
    writer.reserve_alias(alias);
    let first_new = writer.params.len() + 1;
    let predicate = match schema
        .models
        .get(field.model.0)
        .and_then(|model| model.fields.get(field.index))
    {
        Some(found) => PolicyCompiler::new(schema, caller, &mut writer, alias, field.model)
            .field_rules(found, operation),
        None => Pred::False,
    };
    let sql = predicate.render();
    *params = writer.params;
    drop_unused_tail(dialect, &sql, params, first_new);
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_fold() {
        let sql = Pred::Sql("x".to_string());
        assert_eq!(Pred::True.and(sql.clone()), sql);
        assert_eq!(Pred::False.and(sql.clone()), Pred::False);
        assert_eq!(Pred::True.or(sql.clone()), Pred::True);
        assert_eq!(sql.clone().not().render(), "NOT (x)");
        assert_eq!(sql.clone().not().not(), sql);
        let a = Pred::Sql("a".to_string());
        let b = Pred::Sql("b".to_string());
        let c = Pred::Sql("c OR d".to_string());
        assert_eq!(
            a.clone()
                .and(b.clone())
                .and(a.clone().or(b.clone()))
                .and(c)
                .render(),
            "a AND b AND (a OR b) AND (c OR d)"
        );
        assert_eq!(
            Pred::Sql("f(a OR b)".to_string()).and(a).render(),
            "f(a OR b) AND a"
        );
    }
}
