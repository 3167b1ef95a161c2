//! A compact, readable text form of a checked [`Schema`], for snapshot tests and debugging, and
//! [`policy_text`], which prints a resolved policy condition.

use crate::schema::*;
use std::fmt::Write;

/// The whole schema, one line per field, constraint, rule and relation.
pub fn dump(schema: &Schema) -> String {
    let mut out = String::new();
    match &schema.datasource {
        Some(d) => {
            let _ = writeln!(out, "datasource {} ({:?})", d.name, d.provider);
        }
        None => out.push_str("datasource none\n"),
    }
    let _ = writeln!(
        out,
        "auth model: {}",
        schema.auth().map_or("none", |m| m.name.as_str())
    );
    for enum_ in &schema.enums {
        out.push('\n');
        let _ = write!(out, "enum {}", enum_.name);
        if enum_.db_name != enum_.name {
            let _ = write!(out, " map={:?}", enum_.db_name);
        }
        out.push('\n');
        if let Some(docs) = &enum_.docs {
            let _ = writeln!(out, "  docs: {docs:?}");
        }
        for value in &enum_.values {
            let _ = write!(out, "  {}", value.name);
            if value.db_name != value.name {
                let _ = write!(out, " map={:?}", value.db_name);
            }
            out.push('\n');
        }
    }
    for model in &schema.models {
        out.push('\n');
        dump_model(&mut out, schema, model);
    }
    if !schema.relations.is_empty() {
        out.push_str("\nrelations\n");
    }
    for relation in &schema.relations {
        dump_relation(&mut out, schema, relation);
    }
    out
}

fn type_text(schema: &Schema, field: &Field) -> String {
    let base = match &field.ty {
        FieldType::Scalar(s) => s.name().to_string(),
        FieldType::Enum(id) => schema.enum_(*id).name.clone(),
        FieldType::Relation(r) => schema.model(r.target).name.clone(),
        FieldType::Unsupported(text) => format!("Unsupported({text:?})"),
    };
    match field.arity {
        Arity::Required => base,
        Arity::Optional => format!("{base}?"),
        Arity::List => format!("{base}[]"),
    }
}

fn dump_model(out: &mut String, schema: &Schema, model: &Model) {
    let _ = write!(out, "model {}", model.name);
    if model.db_name != model.name {
        let _ = write!(out, " map={:?}", model.db_name);
    }
    if let Some(db_schema) = &model.db_schema {
        let _ = write!(out, " schema={db_schema:?}");
    }
    if model.is_auth {
        out.push_str(" [auth]");
    }
    out.push('\n');
    if let Some(docs) = &model.docs {
        let _ = writeln!(out, "  docs: {docs:?}");
    }
    for field in &model.fields {
        let _ = write!(out, "  {} {}", field.name, type_text(schema, field));
        let flags = [
            (field.is_id, "@id"),
            (field.is_unique, "@unique"),
            (field.is_updated_at, "@updatedAt"),
            (field.is_ignored, "@ignore"),
            (field.is_omitted, "@omit"),
            (field.is_password, "@password"),
        ];
        for (set, text) in flags {
            if set {
                let _ = write!(out, " {text}");
            }
        }
        if field.db_name != field.name {
            let _ = write!(out, " map={:?}", field.db_name);
        }
        if let Some(native) = &field.native_type {
            let _ = write!(out, " native={}", native.name);
            if !native.args.is_empty() {
                let _ = write!(out, "({})", native.args.join(", "));
            }
        }
        if let Some(default) = &field.default {
            let _ = write!(out, " default={}", default_text(schema, default));
        }
        if let FieldType::Relation(r) = &field.ty {
            let _ = write!(out, " relation={}", schema.relation(r.relation).name);
        }
        for validation in &field.validations {
            let _ = write!(out, " {}", validation_text(validation));
        }
        if let Some(docs) = &field.docs {
            let _ = write!(out, " docs={docs:?}");
        }
        out.push('\n');
        for policy in &field.policies {
            let _ = writeln!(out, "    {}", policy_line(schema, policy));
        }
    }
    let field_names = |indices: &mut dyn Iterator<Item = usize>| {
        indices
            .map(|i| model.fields.get(i).map_or("?", |f| f.name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let index_fields = |fields: &[IndexField]| {
        fields
            .iter()
            .map(|f| {
                let mut text = model
                    .fields
                    .get(f.field)
                    .map_or("?".to_string(), |f| f.name.clone());
                if let Some(sort) = f.sort {
                    let _ = write!(text, " {sort:?}");
                }
                if let Some(length) = f.length {
                    let _ = write!(text, " length={length}");
                }
                text
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        out,
        "  primary key ({})",
        field_names(&mut model.primary_key.fields.iter().copied())
    );
    if let Some(name) = &model.primary_key.name {
        let _ = write!(out, " name={name:?}");
    }
    if let Some(db_name) = &model.primary_key.db_name {
        let _ = write!(out, " map={db_name:?}");
    }
    out.push('\n');
    for unique in &model.unique_constraints {
        let _ = write!(out, "  unique ({})", index_fields(&unique.fields));
        if let Some(name) = &unique.name {
            let _ = write!(out, " name={name:?}");
        }
        if let Some(db_name) = &unique.db_name {
            let _ = write!(out, " map={db_name:?}");
        }
        out.push('\n');
    }
    for index in &model.indexes {
        let _ = write!(out, "  index ({})", index_fields(&index.fields));
        if let Some(name) = &index.name {
            let _ = write!(out, " name={name:?}");
        }
        if let Some(db_name) = &index.db_name {
            let _ = write!(out, " map={db_name:?}");
        }
        if let Some(method) = &index.method {
            let _ = write!(out, " type={method}");
        }
        out.push('\n');
    }
    for policy in &model.policies {
        let _ = writeln!(out, "  {}", policy_line(schema, policy));
    }
}

fn policy_line(schema: &Schema, policy: &Policy) -> String {
    let effect = match policy.effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    };
    let operations: Vec<&str> = Operation::ALL
        .iter()
        .filter(|o| policy.operations.contains(**o))
        .map(|o| o.as_str())
        .collect();
    format!(
        "{effect} {}: {}",
        operations.join(","),
        policy_text(schema, &policy.condition)
    )
}

fn value_text(schema: &Schema, value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Int(number) => number.to_string(),
        Value::Float(text) => text.clone(),
        Value::Boolean(b) => b.to_string(),
        Value::Enum { enum_id, value } => {
            let enum_ = schema.enums.get(enum_id.0);
            let value = enum_
                .and_then(|e| e.values.get(*value))
                .map_or("?", |v| v.name.as_str());
            format!("{}.{value}", enum_.map_or("?", |e| e.name.as_str()))
        }
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| value_text(schema, v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Null => "null".to_string(),
    }
}

fn default_text(schema: &Schema, default: &DefaultValue) -> String {
    match default {
        DefaultValue::Autoincrement => "autoincrement()".to_string(),
        DefaultValue::Uuid { version } => format!("uuid({version})"),
        DefaultValue::Cuid { version } => format!("cuid({version})"),
        DefaultValue::Nanoid { length } => {
            format!(
                "nanoid({})",
                length.map(|l| l.to_string()).unwrap_or_default()
            )
        }
        DefaultValue::Ulid => "ulid()".to_string(),
        DefaultValue::Now => "now()".to_string(),
        DefaultValue::DbGenerated(sql) => {
            format!("dbgenerated({:?})", sql.as_deref().unwrap_or(""))
        }
        DefaultValue::Auth { field } => format!("auth().{}", schema.field(*field).name),
        DefaultValue::Value(value) => value_text(schema, value),
    }
}

fn validation_text(validation: &Validation) -> String {
    match validation {
        Validation::Email => "@email".to_string(),
        Validation::Url => "@url".to_string(),
        Validation::Length { min, max } => format!(
            "@length({}, {})",
            min.map_or("-".to_string(), |m| m.to_string()),
            max.map_or("-".to_string(), |m| m.to_string())
        ),
        Validation::Regex(pattern) => format!("@regex({pattern:?})"),
        Validation::StartsWith(text) => format!("@startsWith({text:?})"),
        Validation::EndsWith(text) => format!("@endsWith({text:?})"),
        Validation::Contains(text) => format!("@contains({text:?})"),
        Validation::Compare { op, value } => {
            let name = match op {
                CompareOp::Gt => "gt",
                CompareOp::Gte => "gte",
                CompareOp::Lt => "lt",
                CompareOp::Lte => "lte",
            };
            format!("@{name}({value})")
        }
    }
}

fn dump_relation(out: &mut String, schema: &Schema, relation: &Relation) {
    let side = |id: FieldId| format!("{}.{}", schema.model(id.model).name, schema.field(id).name);
    let kind = match &relation.kind {
        RelationKind::OneToOne => "one-to-one".to_string(),
        RelationKind::OneToMany => "one-to-many".to_string(),
        RelationKind::ManyToMany { join_table } => format!("many-to-many via {join_table}"),
    };
    let _ = write!(
        out,
        "  {} {kind}: {} -> {}",
        relation.name,
        side(relation.referencing),
        side(relation.referenced)
    );
    if !relation.fk_fields.is_empty() {
        let names = |model: ModelId, fields: &[usize]| {
            fields
                .iter()
                .map(|&i| {
                    schema
                        .model(model)
                        .fields
                        .get(i)
                        .map_or("?", |f| f.name.as_str())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            out,
            " fields ({}) references ({}) onDelete={:?} onUpdate={:?}",
            names(relation.referencing.model, &relation.fk_fields),
            names(relation.referenced.model, &relation.references),
            relation.on_delete,
            relation.on_update
        );
    }
    if relation.is_optional {
        out.push_str(" optional");
    }
    out.push('\n');
}

/// A resolved policy condition as text: `auth().role == Role.ADMIN`, `members?[user == auth()]`.
/// `&&` and `||` are parenthesised so the tree's shape is visible.
pub fn policy_text(schema: &Schema, expr: &PolicyExpr) -> String {
    match expr {
        PolicyExpr::Literal(value) => value_text(schema, value),
        PolicyExpr::Path(path) => path_text(schema, path),
        PolicyExpr::Not(inner) => match inner.as_ref() {
            PolicyExpr::Compare { .. } | PolicyExpr::In { .. } => {
                format!("!({})", policy_text(schema, inner))
            }
            _ => format!("!{}", policy_text(schema, inner)),
        },
        PolicyExpr::And(a, b) => {
            format!("({} && {})", policy_text(schema, a), policy_text(schema, b))
        }
        PolicyExpr::Or(a, b) => {
            format!("({} || {})", policy_text(schema, a), policy_text(schema, b))
        }
        PolicyExpr::Compare { op, lhs, rhs } => {
            let op = match op {
                ComparisonOp::Eq => "==",
                ComparisonOp::Ne => "!=",
                ComparisonOp::Lt => "<",
                ComparisonOp::Le => "<=",
                ComparisonOp::Gt => ">",
                ComparisonOp::Ge => ">=",
            };
            format!(
                "{} {op} {}",
                policy_text(schema, lhs),
                policy_text(schema, rhs)
            )
        }
        PolicyExpr::In { lhs, rhs } => {
            format!(
                "{} in {}",
                policy_text(schema, lhs),
                policy_text(schema, rhs)
            )
        }
        PolicyExpr::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| policy_text(schema, i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PolicyExpr::Collection {
            quantifier,
            collection,
            predicate,
        } => {
            let mark = match quantifier {
                Quantifier::Some => '?',
                Quantifier::All => '!',
                Quantifier::None => '^',
            };
            format!(
                "{}{mark}[{}]",
                path_text(schema, collection),
                policy_text(schema, predicate)
            )
        }
    }
}

fn path_text(schema: &Schema, path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    match path.root {
        PathRoot::Scope if path.fields.is_empty() => parts.push("this".to_string()),
        PathRoot::Scope => {}
        PathRoot::Auth => parts.push("auth()".to_string()),
        PathRoot::Future => parts.push("future()".to_string()),
    }
    for field in &path.fields {
        let name = schema
            .models
            .get(field.model.0)
            .and_then(|m| m.fields.get(field.index))
            .map_or("?", |f| f.name.as_str());
        parts.push(name.to_string());
    }
    parts.join(".")
}
