//! Mermaid `erDiagram` of a schema: one entity per model with its columns, and one relationship
//! line per relation with crow's-foot cardinalities.

use std::fmt::Write;

use plinth_model::{FieldType, Model, Relation, RelationKind, Schema};

/// Mermaid identifiers: letters, digits, `_` and `-`. Prisma names already fit; anything else is
/// replaced so the diagram always parses.
fn identifier(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match cleaned.chars().next() {
        Some(first) if first.is_ascii_alphabetic() || first == '_' => cleaned,
        _ => format!("_{cleaned}"),
    }
}

/// Text inside Mermaid double quotes may not contain a double quote.
fn quoted(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '"' => '\'',
            '\n' | '\r' | '\t' => ' ',
            other => other,
        })
        .collect();
    format!("\"{cleaned}\"")
}

fn type_name(schema: &Schema, model: &Model, index: usize) -> String {
    let field = &model.fields[index];
    let base = match &field.ty {
        FieldType::Scalar(scalar) => scalar.name().to_string(),
        FieldType::Enum(enum_id) => schema
            .enums
            .get(enum_id.0)
            .map(|e| e.name.clone())
            .unwrap_or_else(|| "Enum".to_string()),
        FieldType::Relation(_) => "Relation".to_string(),
        FieldType::Unsupported(_) => "Unsupported".to_string(),
    };
    let base = identifier(&base);
    if field.is_list() {
        format!("{base}[]")
    } else {
        base
    }
}

/// PK/FK/UK markers of a column.
fn key_markers(schema: &Schema, model: &Model, index: usize) -> Vec<&'static str> {
    let field = &model.fields[index];
    let mut markers = Vec::new();
    if model.primary_key.fields.contains(&index) || field.is_id {
        markers.push("PK");
    }
    let is_foreign_key = schema.relations.iter().any(|relation| {
        relation.referencing.model == model.id && relation.fk_fields.contains(&index)
    });
    if is_foreign_key {
        markers.push("FK");
    }
    let single_unique = field.is_unique
        || model
            .unique_constraints
            .iter()
            .any(|constraint| constraint.fields.len() == 1 && constraint.fields[0].field == index);
    if single_unique && !markers.contains(&"PK") {
        markers.push("UK");
    }
    markers
}

fn column_comment(field: &plinth_model::Field) -> Option<String> {
    let mut notes = Vec::new();
    if field.is_optional() {
        notes.push("optional");
    }
    if field.is_password {
        notes.push("password");
    }
    if field.is_omitted {
        notes.push("omitted");
    }
    if field.is_ignored {
        notes.push("ignored");
    }
    if field.is_updated_at {
        notes.push("updatedAt");
    }
    if notes.is_empty() {
        None
    } else {
        Some(notes.join(", "))
    }
}

/// The two ends of a relationship line: (left entity, right entity, symbol, label).
fn relationship(schema: &Schema, relation: &Relation) -> Option<String> {
    let referencing_model = schema.models.get(relation.referencing.model.0)?;
    let referenced_model = schema.models.get(relation.referenced.model.0)?;
    let referencing_field = referencing_model.fields.get(relation.referencing.index)?;
    let referenced_field = referenced_model.fields.get(relation.referenced.index)?;
    // The referenced ("parent") model goes on the left. Its end is `||` (exactly one) when the
    // foreign key is required and `|o` (zero or one) when optional.
    let parent_end = if relation.is_optional { "|o" } else { "||" };
    // A foreign key that is (part of) the child's primary key makes an identifying relationship.
    let identifying = !relation.fk_fields.is_empty()
        && relation
            .fk_fields
            .iter()
            .all(|index| referencing_model.primary_key.fields.contains(index));
    let line = if identifying { "--" } else { ".." };
    let (left_end, right_end) = match relation.kind {
        RelationKind::OneToOne => (parent_end, "o|"),
        RelationKind::OneToMany => (parent_end, "o{"),
        RelationKind::ManyToMany { .. } => ("}o", "o{"),
    };
    Some(format!(
        "    {left} {left_end}{line}{right_end} {right} : {label}",
        left = identifier(&referenced_model.name),
        right = identifier(&referencing_model.name),
        label = quoted(&format!(
            "{} / {}",
            referenced_field.name, referencing_field.name
        )),
    ))
}

/// The Mermaid ER diagram of a schema. Deterministic: models, columns and relations in
/// declaration order.
pub fn erd(schema: &Schema) -> String {
    let mut out = String::from("erDiagram\n");
    for model in &schema.models {
        let _ = writeln!(out, "    {} {{", identifier(&model.name));
        for (index, field) in model.fields.iter().enumerate() {
            if field.is_relation() {
                continue;
            }
            let mut line = format!(
                "        {} {}",
                type_name(schema, model, index),
                identifier(&field.name)
            );
            let markers = key_markers(schema, model, index);
            if !markers.is_empty() {
                line.push(' ');
                line.push_str(&markers.join(", "));
            }
            if let Some(comment) = column_comment(field) {
                line.push(' ');
                line.push_str(&quoted(&comment));
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("    }\n");
    }
    for relation in &schema.relations {
        if let Some(line) = relationship(schema, relation) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
