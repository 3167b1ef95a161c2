//! Relations, resolved the way Prisma resolves them: relation fields are grouped by the pair of
//! models they join and the relation name; each group must hold exactly two fields, which are
//! then paired into a one-to-one, one-to-many or implicit many-to-many relation.

use super::{Checker, RelationAttribute, ResolvedType};
use crate::diagnostics as diag;
use crate::schema::*;
use std::collections::HashMap;

/// Lowercases the first letter: `BlogPost` → `blogPost`.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Checker<'_> {
    pub(super) fn check_relations(&mut self) {
        let mut groups: Vec<Vec<FieldId>> = Vec::new();
        let mut group_index: HashMap<(usize, usize, Option<String>), usize> = HashMap::new();
        for (model_index, draft) in self.models.iter().enumerate() {
            for (field_index, resolved) in draft.resolved.iter().enumerate() {
                let ResolvedType::Model(target) = resolved else {
                    continue;
                };
                let name = draft.relation_attributes[field_index]
                    .as_ref()
                    .and_then(|r| r.name.clone());
                let key = (model_index.min(target.0), model_index.max(target.0), name);
                let id = FieldId {
                    model: ModelId(model_index),
                    index: field_index,
                };
                match group_index.get(&key) {
                    Some(&group) => groups[group].push(id),
                    None => {
                        group_index.insert(key, groups.len());
                        groups.push(vec![id]);
                    }
                }
            }
        }
        for group in groups {
            match group.as_slice() {
                [single] => self.report_missing_back_relation(*single),
                [a, b] => self.pair(*a, *b),
                [first, rest @ ..] => {
                    let model = self.model_name(first.model);
                    let target = match &self.models[first.model.0].resolved[first.index] {
                        ResolvedType::Model(t) => self.model_name(*t),
                        _ => model.clone(),
                    };
                    let others: Vec<_> = rest.iter().map(|f| self.field(*f).name_span).collect();
                    let span = self.field(*first).name_span;
                    self.error(diag::ambiguous_relation(&model, &target, span, &others));
                }
                [] => {}
            }
        }
    }

    fn model_name(&self, id: ModelId) -> String {
        self.models[id.0].model.name.clone()
    }

    fn field(&self, id: FieldId) -> &Field {
        &self.models[id.model.0].model.fields[id.index]
    }

    fn relation_attribute(&self, id: FieldId) -> Option<&RelationAttribute> {
        self.models[id.model.0].relation_attributes[id.index].as_ref()
    }

    fn has_foreign_key(&self, id: FieldId) -> bool {
        self.relation_attribute(id)
            .is_some_and(|r| r.fields.is_some() || r.references.is_some())
    }

    fn target_of(&self, id: FieldId) -> ModelId {
        match &self.models[id.model.0].resolved[id.index] {
            ResolvedType::Model(target) => *target,
            _ => id.model,
        }
    }

    fn report_missing_back_relation(&mut self, id: FieldId) {
        let model = self.model_name(id.model);
        let target = self.model_name(self.target_of(id));
        let field = self.field(id);
        let relation_name = self.relation_attribute(id).and_then(|r| r.name.clone());
        let lower = lower_first(&model);
        let suggested = if field.is_list() {
            let name_part = relation_name
                .map(|n| format!("\"{n}\", "))
                .unwrap_or_default();
            format!(
                "`{lower} {model} @relation({name_part}fields: [{lower}Id], references: [id])` and a `{lower}Id` field"
            )
        } else {
            let name_part = relation_name
                .map(|n| format!(" @relation(\"{n}\")"))
                .unwrap_or_default();
            format!("`{lower}s {model}[]{name_part}`")
        };
        let diagnostic =
            diag::missing_back_relation(&model, &field.name, &target, field.name_span, &suggested);
        self.error(diagnostic);
    }

    fn pair(&mut self, a: FieldId, b: FieldId) {
        let a_list = self.field(a).is_list();
        let b_list = self.field(b).is_list();
        let a_fk = self.has_foreign_key(a);
        let b_fk = self.has_foreign_key(b);

        let (kind, referencing, referenced) = if a_list && b_list {
            for side in [a, b] {
                if self.has_foreign_key(side) {
                    let span = self
                        .relation_attribute(side)
                        .map_or(self.field(side).span, |r| r.span);
                    let name = self.field(side).name.clone();
                    self.error(diag::relation_fields_on_wrong_side(
                        &name,
                        span,
                        "it is a list",
                    ));
                }
            }
            // Prisma's join table: column `A` points at the model whose name sorts first.
            let a_key = (self.model_name(a.model), self.field(a).name.clone());
            let b_key = (self.model_name(b.model), self.field(b).name.clone());
            let (first, second) = if a_key <= b_key { (a, b) } else { (b, a) };
            let name = self.relation_name(a, b);
            let kind = RelationKind::ManyToMany {
                join_table: format!("_{name}"),
            };
            (kind, first, second)
        } else if a_list || b_list {
            let (single, list) = if a_list { (b, a) } else { (a, b) };
            if self.has_foreign_key(list) {
                let span = self
                    .relation_attribute(list)
                    .map_or(self.field(list).span, |r| r.span);
                let name = self.field(list).name.clone();
                self.error(diag::relation_fields_on_wrong_side(
                    &name,
                    span,
                    "it is the list side of a one-to-many relation",
                ));
            }
            if !self.has_foreign_key(single) {
                let target = self.target_of(single);
                let name = self.field(single).name.clone();
                let help = format!(
                    "add `@relation(fields: [{name}Id], references: [id])` to `{name}`, and a field `{name}Id` of the same type as the id of `{}`",
                    self.model_name(target)
                );
                self.error(diag::missing_relation_fields(
                    &name,
                    self.field(single).name_span,
                    &help,
                ));
            }
            (RelationKind::OneToMany, single, list)
        } else {
            let (referencing, referenced) = match (a_fk, b_fk) {
                (true, true) => {
                    let span = self
                        .relation_attribute(b)
                        .map_or(self.field(b).span, |r| r.span);
                    let name = self.field(b).name.clone();
                    self.error(diag::relation_fields_on_wrong_side(
                        &name,
                        span,
                        "the other side already defines the foreign key",
                    ));
                    (a, b)
                }
                (false, true) => (b, a),
                (true, false) => (a, b),
                (false, false) => {
                    // The foreign key naturally goes on the required side, if there is one.
                    let (holder, other) = if self.field(a).arity == Arity::Optional
                        && self.field(b).arity == Arity::Required
                    {
                        (b, a)
                    } else {
                        (a, b)
                    };
                    let name = self.field(holder).name.clone();
                    let help = format!(
                        "add `@relation(fields: [{name}Id], references: [id])` to `{name}`, with a `{name}Id` field marked `@unique`"
                    );
                    self.error(diag::missing_relation_fields(
                        &name,
                        self.field(holder).name_span,
                        &help,
                    ));
                    (holder, other)
                }
            };
            if self.field(referenced).arity == Arity::Required && (a_fk || b_fk) {
                let name = self.field(referenced).name.clone();
                self.error(diag::one_to_one_back_side_required(
                    &name,
                    self.field(referenced).name_span,
                ));
            }
            (RelationKind::OneToOne, referencing, referenced)
        };

        let is_many_to_many = matches!(kind, RelationKind::ManyToMany { .. });
        // Referential actions belong on the side with the foreign key.
        for side in [a, b] {
            if side == referencing && !is_many_to_many {
                continue;
            }
            let actions = self
                .relation_attribute(side)
                .map(|r| (r.on_delete, r.on_update));
            if let Some((on_delete, on_update)) = actions {
                if let Some((_, span)) = on_delete.or(on_update) {
                    let name = self.field(side).name.clone();
                    self.error(diag::action_on_wrong_side(&name, span));
                }
            }
        }

        let (fk_fields, references) = if is_many_to_many {
            (Vec::new(), Vec::new())
        } else {
            self.foreign_key(referencing, &kind)
        };
        let fk_optional = !fk_fields.is_empty()
            && fk_fields.iter().all(|&i| {
                self.models[referencing.model.0].model.fields[i].arity == Arity::Optional
            });
        let is_optional = if fk_fields.is_empty() {
            self.field(referencing).arity == Arity::Optional
        } else {
            fk_optional
        };
        let attribute = self
            .relation_attribute(referencing)
            .cloned()
            .unwrap_or_default();
        let default_on_delete = if is_many_to_many {
            ReferentialAction::Cascade
        } else if is_optional {
            ReferentialAction::SetNull
        } else {
            ReferentialAction::Restrict
        };
        let mut on_delete = default_on_delete;
        let mut on_update = ReferentialAction::Cascade;
        if !is_many_to_many {
            for (written, slot, label) in [
                (attribute.on_delete, &mut on_delete, "onDelete"),
                (attribute.on_update, &mut on_update, "onUpdate"),
            ] {
                if let Some((action, span)) = written {
                    if action == ReferentialAction::SetNull && !is_optional && !fk_fields.is_empty()
                    {
                        let fields = fk_fields
                            .iter()
                            .map(|&i| {
                                self.models[referencing.model.0].model.fields[i]
                                    .name
                                    .clone()
                            })
                            .collect::<Vec<_>>()
                            .join(", ");
                        self.diagnostics
                            .push(diag::set_null_on_required(label, span, &fields));
                    }
                    *slot = action;
                }
            }
        }

        let id = RelationId(self.relations.len());
        let name = self.relation_name(a, b);
        self.relations.push(Relation {
            id,
            name,
            kind,
            referencing,
            referenced,
            fk_fields,
            references,
            on_delete,
            on_update,
            is_optional,
        });
        for side in [a, b] {
            let target = self.target_of(side);
            let draft = &mut self.models[side.model.0];
            draft.model.fields[side.index].ty = FieldType::Relation(RelationField {
                target,
                relation: id,
            });
            draft.relation_assigned[side.index] = true;
        }
    }

    /// `@relation("Name")`, or Prisma's default: both model names sorted, joined by "To".
    fn relation_name(&self, a: FieldId, b: FieldId) -> String {
        let written = self
            .relation_attribute(a)
            .and_then(|r| r.name.clone())
            .or_else(|| self.relation_attribute(b).and_then(|r| r.name.clone()));
        written.unwrap_or_else(|| {
            let mut names = [self.model_name(a.model), self.model_name(b.model)];
            names.sort();
            format!("{}To{}", names[0], names[1])
        })
    }

    /// Resolves `fields` / `references` of the referencing side and checks them.
    fn foreign_key(
        &mut self,
        referencing: FieldId,
        kind: &RelationKind,
    ) -> (Vec<usize>, Vec<usize>) {
        let Some(attribute) = self.relation_attribute(referencing).cloned() else {
            return (Vec::new(), Vec::new());
        };
        let (Some(field_names), Some(reference_names)) = (&attribute.fields, &attribute.references)
        else {
            let fields = attribute.fields.as_ref().map_or(0, Vec::len);
            let references = attribute.references.as_ref().map_or(0, Vec::len);
            self.error(diag::relation_fields_length_mismatch(
                attribute.span,
                fields,
                references,
            ));
            return (Vec::new(), Vec::new());
        };
        if field_names.len() != reference_names.len() || field_names.is_empty() {
            self.error(diag::relation_fields_length_mismatch(
                attribute.span,
                field_names.len(),
                reference_names.len(),
            ));
            return (Vec::new(), Vec::new());
        }
        let target = self.target_of(referencing);
        let mut fk_fields = Vec::new();
        let mut references = Vec::new();
        for (name, span) in field_names {
            if let Some(index) =
                self.scalar_field(referencing.model.0, name, *span, "a foreign key")
            {
                fk_fields.push(index);
            }
        }
        for (name, span) in reference_names {
            if let Some(index) = self.scalar_field(target.0, name, *span, "`references`") {
                references.push(index);
            }
        }
        if fk_fields.len() != field_names.len() || references.len() != reference_names.len() {
            return (Vec::new(), Vec::new());
        }

        // The referenced fields must be a key of the target.
        let target_model = &self.models[target.0].model;
        if !is_key(target_model, &references) {
            let names = reference_names
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let span = reference_names[0]
                .1
                .to(reference_names[reference_names.len() - 1].1);
            let target_name = target_model.name.clone();
            self.error(diag::references_not_unique(&target_name, &names, span));
        }

        // Types must match pairwise.
        for ((fk_index, reference_index), (_, span)) in
            fk_fields.iter().zip(&references).zip(field_names)
        {
            let fk_type = self.models[referencing.model.0].resolved[*fk_index].clone();
            let reference_type = self.models[target.0].resolved[*reference_index].clone();
            let same = match (&fk_type, &reference_type) {
                (ResolvedType::Scalar(a), ResolvedType::Scalar(b)) => a == b,
                (ResolvedType::Enum(a), ResolvedType::Enum(b)) => a == b,
                (ResolvedType::Unsupported(a), ResolvedType::Unsupported(b)) => a == b,
                _ => false,
            };
            if !same {
                let fk_name = self.models[referencing.model.0].model.fields[*fk_index]
                    .name
                    .clone();
                let reference_name = self.models[target.0].model.fields[*reference_index]
                    .name
                    .clone();
                let diagnostic = diag::foreign_key_type_mismatch(
                    &fk_name,
                    &self.resolved_type_name(&fk_type),
                    &reference_name,
                    &self.resolved_type_name(&reference_type),
                    *span,
                );
                self.error(diagnostic);
            }
        }

        let model = &self.models[referencing.model.0].model;
        if *kind == RelationKind::OneToOne && !is_key(model, &fk_fields) {
            let relation_field = model.fields[referencing.index].name.clone();
            let fk = fk_fields
                .iter()
                .map(|&i| model.fields[i].name.clone())
                .collect::<Vec<_>>()
                .join(", ");
            self.error(diag::one_to_one_not_unique(
                &relation_field,
                &fk,
                attribute.span,
            ));
        }

        let model = &self.models[referencing.model.0].model;
        if model.fields[referencing.index].arity == Arity::Optional {
            if let Some(&required) = fk_fields
                .iter()
                .find(|&&i| model.fields[i].arity == Arity::Required)
            {
                let relation_field = model.fields[referencing.index].name.clone();
                let fk = model.fields[required].name.clone();
                let span = model.fields[referencing.index].name_span;
                self.diagnostics
                    .push(diag::relation_arity_mismatch(&relation_field, &fk, span));
            }
        }
        (fk_fields, references)
    }
}

/// Whether `fields` (in any order) are exactly the primary key or a unique constraint.
fn is_key(model: &Model, fields: &[usize]) -> bool {
    let mut wanted = fields.to_vec();
    wanted.sort_unstable();
    let same = |candidate: &mut Vec<usize>| {
        candidate.sort_unstable();
        *candidate == wanted
    };
    same(&mut model.primary_key.fields.clone())
        || model
            .unique_constraints
            .iter()
            .any(|u| same(&mut u.fields.iter().map(|f| f.field).collect()))
}
