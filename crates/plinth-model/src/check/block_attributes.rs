//! Block attributes of models: `@@id`, `@@unique`, `@@index`, `@@map`, `@@schema`, `@@auth`
//! (`@@allow` / `@@deny` are checked by the policy pass).

use super::args::FieldReference;
use super::{Checker, ResolvedType};
use crate::diagnostics as diag;
use crate::schema::*;
use plinth_diagnostics::Span;
use plinth_syntax::ast::{self, Attribute};

const BLOCK_ATTRIBUTES: &[&str] = &[
    "id", "unique", "index", "map", "schema", "ignore", "auth", "allow", "deny",
];

/// Known Prisma / ZenStack block attributes Plinth does not implement (warned about).
const UNSUPPORTED_BLOCK_ATTRIBUTES: &[&str] = &[
    "delegate",
    "validate",
    "fulltext",
    "shardKey",
    "meta",
    "prisma.passthrough",
];

impl<'a> Checker<'a> {
    pub(super) fn check_block_attributes(&mut self) {
        for model_index in 0..self.models.len() {
            let attributes = self.models[model_index].attributes.clone();
            let mut seen: Vec<(&str, Span)> = Vec::new();
            for attribute in attributes {
                let name = attribute.name.name.as_str();
                let display = format!("@@{name}");
                if !attribute.is_block {
                    self.error(diag::attribute_not_applicable(
                        &format!("@{name}"),
                        attribute.span,
                        "field attributes go after a field's type; block attributes start with `@@`",
                    ));
                    continue;
                }
                if matches!(name, "map" | "schema" | "auth" | "ignore") {
                    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                        self.error(diag::duplicate_attribute(&display, attribute.span, *first));
                        continue;
                    }
                    seen.push((name, attribute.span));
                }
                match name {
                    "id" => self.block_id(model_index, attribute),
                    "unique" => self.block_unique(model_index, attribute),
                    "index" => self.block_index(model_index, attribute),
                    "map" => {
                        if let Some(db_name) = self.single_string_argument(attribute, "@@map") {
                            self.models[model_index].model.db_name = db_name;
                        }
                    }
                    "schema" => {
                        let schema = self.single_string_argument(attribute, "@@schema");
                        self.models[model_index].model.db_schema = schema;
                    }
                    "auth" | "ignore" => {
                        self.bind_arguments(attribute, &display, &[]);
                    }
                    "allow" | "deny" => {}
                    _ if UNSUPPORTED_BLOCK_ATTRIBUTES.contains(&name) => {
                        let effect = match name {
                            "delegate" => "the model is treated as an ordinary model",
                            "validate" => "the rule is not enforced",
                            _ => "it is ignored",
                        };
                        self.diagnostics.push(diag::unsupported_attribute(
                            &display,
                            attribute.span,
                            effect,
                        ));
                    }
                    _ => self.error(diag::unknown_attribute(
                        "@@",
                        name,
                        attribute.name.span,
                        BLOCK_ATTRIBUTES.iter().copied(),
                    )),
                }
            }
        }
    }

    fn block_id(&mut self, model_index: usize, attribute: &'a Attribute) {
        let bound = self.bind_arguments(attribute, "@@id", &["fields", "name", "map", "clustered"]);
        let name = bound[1].and_then(|a| self.expect_string(a, "@@id"));
        let db_name = bound[2].and_then(|a| self.expect_string(a, "@@id"));
        let Some(fields_arg) = bound[0] else {
            self.error(diag::missing_argument(
                "@@id",
                "fields",
                attribute.span,
                "@@id([a, b])",
            ));
            return;
        };
        let Some(fields) =
            self.index_fields(model_index, &fields_arg.value, "@@id", "a primary key")
        else {
            return;
        };
        for index_field in &fields {
            let field = &self.models[model_index].model.fields[index_field.field];
            if field.arity != Arity::Required {
                let name = field.name.clone();
                self.error(diag::optional_id(&name, attribute.span));
            }
        }
        let draft = &mut self.models[model_index];
        if let Some(first) = draft.id_span {
            let model_name = draft.model.name.clone();
            self.error(diag::multiple_ids(&model_name, attribute.span, first));
            return;
        }
        draft.id_span = Some(attribute.span);
        draft.model.primary_key = PrimaryKey {
            fields: fields.iter().map(|f| f.field).collect(),
            name,
            db_name,
        };
    }

    fn block_unique(&mut self, model_index: usize, attribute: &'a Attribute) {
        let bound = self.bind_arguments(
            attribute,
            "@@unique",
            &["fields", "name", "map", "clustered"],
        );
        let name = bound[1].and_then(|a| self.expect_string(a, "@@unique"));
        let db_name = bound[2].and_then(|a| self.expect_string(a, "@@unique"));
        let Some(fields_arg) = bound[0] else {
            self.error(diag::missing_argument(
                "@@unique",
                "fields",
                attribute.span,
                "@@unique([a, b])",
            ));
            return;
        };
        if let Some(fields) = self.index_fields(
            model_index,
            &fields_arg.value,
            "@@unique",
            "a unique constraint",
        ) {
            self.models[model_index]
                .model
                .unique_constraints
                .push(UniqueConstraint {
                    fields,
                    name,
                    db_name,
                    span: attribute.span,
                });
        }
    }

    fn block_index(&mut self, model_index: usize, attribute: &'a Attribute) {
        let bound = self.bind_arguments(
            attribute,
            "@@index",
            &["fields", "name", "map", "type", "clustered"],
        );
        let name = bound[1].and_then(|a| self.expect_string(a, "@@index"));
        let db_name = bound[2].and_then(|a| self.expect_string(a, "@@index"));
        let method = bound[3]
            .and_then(|a| self.expect_ident(a, "@@index"))
            .map(|(m, _)| m.to_string());
        let Some(fields_arg) = bound[0] else {
            self.error(diag::missing_argument(
                "@@index",
                "fields",
                attribute.span,
                "@@index([a, b])",
            ));
            return;
        };
        if let Some(fields) =
            self.index_fields(model_index, &fields_arg.value, "@@index", "an index")
        {
            self.models[model_index].model.indexes.push(Index {
                fields,
                name,
                db_name,
                method,
                span: attribute.span,
            });
        }
    }

    /// Resolves `[a, b(sort: Desc)]` against the model's scalar fields.
    fn index_fields(
        &mut self,
        model_index: usize,
        expr: &'a ast::Expr,
        display: &str,
        context: &str,
    ) -> Option<Vec<IndexField>> {
        let references = self.field_list(expr, display)?;
        let mut fields = Vec::with_capacity(references.len());
        let mut ok = true;
        for reference in references {
            match self.index_field(model_index, &reference, display, context) {
                Some(field) => fields.push(field),
                None => ok = false,
            }
        }
        ok.then_some(fields)
    }

    fn index_field(
        &mut self,
        model_index: usize,
        reference: &FieldReference<'a>,
        display: &str,
        context: &str,
    ) -> Option<IndexField> {
        let field = self.scalar_field(model_index, reference.name, reference.span, context)?;
        let mut sort = None;
        let mut length = None;
        for arg in reference.args {
            let Some(name) = &arg.name else {
                self.error(diag::invalid_argument(
                    display,
                    arg.span,
                    "field options are named: `sort:`, `length:` or `ops:`",
                ));
                continue;
            };
            match name.name.as_str() {
                "sort" => {
                    if let Some((value, span)) = self.expect_ident(arg, display) {
                        sort = match value {
                            "Asc" => Some(SortOrder::Asc),
                            "Desc" => Some(SortOrder::Desc),
                            _ => {
                                self.error(diag::invalid_argument(
                                    display,
                                    span,
                                    &format!("`sort` is `Asc` or `Desc`, not `{value}`"),
                                ));
                                None
                            }
                        }
                    }
                }
                "length" => length = self.expect_u32(arg, display),
                // PostgreSQL operator classes: accepted, not used.
                "ops" => {}
                other => self.error(diag::unknown_argument(
                    display,
                    other,
                    name.span,
                    &["sort", "length", "ops"],
                )),
            }
        }
        Some(IndexField {
            field,
            sort,
            length,
        })
    }

    /// The index of a scalar field of the model, reporting unknown and relation fields.
    pub(crate) fn scalar_field(
        &mut self,
        model_index: usize,
        name: &str,
        span: Span,
        context: &str,
    ) -> Option<usize> {
        let draft = &self.models[model_index];
        match draft.ast_fields.iter().position(|f| f.name.name == name) {
            Some(index) => {
                if matches!(draft.resolved[index], ResolvedType::Model(_)) {
                    self.error(diag::relation_field_in_list(name, span, context));
                    return None;
                }
                Some(index)
            }
            None => {
                let model_name = draft.model.name.clone();
                let candidates: Vec<String> = draft
                    .ast_fields
                    .iter()
                    .zip(&draft.resolved)
                    .filter(|(_, ty)| !matches!(ty, ResolvedType::Model(_)))
                    .map(|(f, _)| f.name.name.clone())
                    .collect();
                self.error(diag::unknown_field_in_list(
                    &model_name,
                    name,
                    span,
                    candidates.iter().map(String::as_str),
                ));
                None
            }
        }
    }
}
