//! The checker's passes, in order: declarations (names, datasource, inheritance) → field types →
//! field attributes → block attributes → relations → identifiers → policies → warnings.
//!
//! Each pass records problems and carries on with a best-effort result, so one run reports every
//! problem. Fields that cannot be typed are dropped early so that later passes only ever see
//! valid indices.

mod args;
mod block_attributes;
mod fields;
mod policies;
mod relations;

use crate::diagnostics as diag;
use crate::schema::*;
use plinth_diagnostics::{Diagnostic, Span};
use plinth_syntax::ast;
use std::collections::{HashMap, HashSet};

/// Names that would shadow the language's own types.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "String",
    "Boolean",
    "Int",
    "BigInt",
    "Float",
    "Decimal",
    "DateTime",
    "Json",
    "Bytes",
    "Unsupported",
    "PrismaClient",
    "Prisma",
];

/// Block attributes that a model does not inherit from an abstract base.
const NOT_INHERITED: &[&str] = &["map", "auth", "delegate", "ignore"];

/// A declaration that is not a concrete model or an enum, kept to give precise messages when it
/// is used as a field type.
#[derive(Clone, Copy)]
enum OtherDeclaration {
    Abstract,
    /// A `type` block (Prisma composite type or ZModel mixin).
    Type,
    View,
    /// A model marked `@@ignore`.
    Ignored,
}

/// What a field's written type resolved to.
#[derive(Clone, Debug)]
pub(crate) enum ResolvedType {
    Scalar(ScalarType),
    Enum(EnumId),
    Model(ModelId),
    Unsupported(String),
}

/// `@relation(...)` as written on one relation field.
#[derive(Clone, Debug, Default)]
pub(crate) struct RelationAttribute {
    pub name: Option<String>,
    pub fields: Option<Vec<(String, Span)>>,
    pub references: Option<Vec<(String, Span)>>,
    pub on_delete: Option<(ReferentialAction, Span)>,
    pub on_update: Option<(ReferentialAction, Span)>,
    pub span: Span,
}

/// A concrete model while it is being checked.
pub(crate) struct ModelDraft<'a> {
    pub decl: &'a ast::ModelDecl,
    /// Fields after inheritance and after dropping the ones that cannot be typed.
    pub ast_fields: Vec<&'a ast::Field>,
    pub resolved: Vec<ResolvedType>,
    /// Block attributes, inherited ones included.
    pub attributes: Vec<&'a ast::Attribute>,
    pub model: Model,
    pub relation_attributes: Vec<Option<RelationAttribute>>,
    /// Whether the relation field at this index was paired into a relation.
    pub relation_assigned: Vec<bool>,
    /// Field-level `@allow` / `@deny`, checked once every field is known.
    pub field_policy_attributes: Vec<(usize, &'a ast::Attribute)>,
    /// Where the primary key was first declared, for "more than one primary key".
    pub id_span: Option<Span>,
}

pub(crate) struct Checker<'a> {
    file: &'a ast::SchemaFile,
    source: Option<&'a str>,
    pub diagnostics: Vec<Diagnostic>,
    datasource: Option<Datasource>,
    /// The datasource's name: native type attributes are written `@<name>.VarChar`.
    datasource_name: Option<String>,
    enums: Vec<Enum>,
    enum_index: HashMap<String, EnumId>,
    models: Vec<ModelDraft<'a>>,
    model_index: HashMap<String, ModelId>,
    other_declarations: HashMap<String, OtherDeclaration>,
    /// Every `model`/`type`/`view` declaration by name, for inheritance.
    declarations: HashMap<&'a str, &'a ast::ModelDecl>,
    auth_model: Option<ModelId>,
    relations: Vec<Relation>,
}

/// Checks a parsed file. `source`, when given, is the text the file was parsed from; policy
/// sources are then sliced from it rather than printed from the tree.
pub(crate) fn check_file(
    file: &ast::SchemaFile,
    source: Option<&str>,
) -> (Schema, Vec<Diagnostic>) {
    let mut checker = Checker {
        file,
        source,
        diagnostics: Vec::new(),
        datasource: None,
        datasource_name: None,
        enums: Vec::new(),
        enum_index: HashMap::new(),
        models: Vec::new(),
        model_index: HashMap::new(),
        other_declarations: HashMap::new(),
        declarations: HashMap::new(),
        auth_model: None,
        relations: Vec::new(),
    };
    checker.collect_declarations();
    checker.resolve_field_types();
    checker.find_auth_model();
    checker.check_fields();
    checker.check_block_attributes();
    checker.check_relations();
    checker.check_identifiers();
    checker.check_policies();
    checker.warn_about_exposure();
    checker.finish()
}

impl<'a> Checker<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The text of a span, when the source is known.
    fn source_text(&self, span: Span) -> Option<&'a str> {
        self.source.and_then(|s| s.get(span.range()))
    }

    // -----------------------------------------------------------------------------------------
    // Declarations
    // -----------------------------------------------------------------------------------------

    fn collect_declarations(&mut self) {
        let file = self.file;
        let mut first_definition: HashMap<&str, Span> = HashMap::new();
        let mut first_datasource: Option<Span> = None;
        // Types used as mixins or as typed JSON (`@json`) are not warned about as composite
        // types: what happens to them is reported where they are used.
        let mut mixin_names: HashSet<&str> = HashSet::new();
        for item in &file.items {
            if let ast::Item::Model(decl) = item {
                for mixin in &decl.mixins {
                    mixin_names.insert(mixin.name.as_str());
                }
                for field in &decl.fields {
                    let is_json = field
                        .attributes
                        .iter()
                        .any(|a| !a.is_block && a.name.name == "json");
                    if let (true, Some(ty)) = (is_json, &field.ty) {
                        mixin_names.insert(ty.name.name.as_str());
                    }
                }
            }
        }

        for item in &file.items {
            match item {
                ast::Item::Datasource(block) => {
                    if let Some(first) = first_datasource {
                        self.error(diag::duplicate_datasource(block.name.span, first));
                        continue;
                    }
                    first_datasource = Some(block.name.span);
                    self.read_datasource(block);
                }
                ast::Item::Generator(block) => {
                    self.diagnostics
                        .push(diag::generator_ignored(block.name.span));
                }
                ast::Item::Plugin(block) => {
                    self.diagnostics.push(diag::plugin_ignored(block.name.span));
                }
                ast::Item::Import(import) => {
                    self.error(diag::import_unsupported(&import.path, import.span));
                }
                ast::Item::Enum(decl) => {
                    if !self.register_name(&mut first_definition, "enum", &decl.name) {
                        continue;
                    }
                    self.add_enum(decl);
                }
                ast::Item::Model(decl) => {
                    let kind = match decl.keyword {
                        ast::ModelKeyword::Model => "model",
                        ast::ModelKeyword::Type => "type",
                        ast::ModelKeyword::View => "view",
                    };
                    if !self.register_name(&mut first_definition, kind, &decl.name) {
                        continue;
                    }
                    self.declarations.insert(decl.name.name.as_str(), decl);
                    let name = decl.name.name.clone();
                    match decl.keyword {
                        ast::ModelKeyword::View => {
                            self.diagnostics.push(diag::view_unsupported(
                                &name,
                                decl.keyword_span.to(decl.name.span),
                            ));
                            self.other_declarations.insert(name, OtherDeclaration::View);
                        }
                        ast::ModelKeyword::Type => {
                            if !mixin_names.contains(name.as_str()) {
                                self.diagnostics.push(diag::composite_type_unsupported(
                                    &name,
                                    decl.keyword_span.to(decl.name.span),
                                ));
                            }
                            self.other_declarations.insert(name, OtherDeclaration::Type);
                        }
                        ast::ModelKeyword::Model if decl.is_abstract => {
                            self.other_declarations
                                .insert(name, OtherDeclaration::Abstract);
                        }
                        ast::ModelKeyword::Model => {
                            if let Some(ignore) = decl
                                .attributes
                                .iter()
                                .find(|a| a.is_block && a.name.name == "ignore")
                            {
                                self.diagnostics
                                    .push(diag::model_ignored(&name, ignore.span));
                                self.other_declarations
                                    .insert(name, OtherDeclaration::Ignored);
                                continue;
                            }
                            let id = ModelId(self.models.len());
                            self.model_index.insert(name.clone(), id);
                            self.models.push(new_draft(id, decl));
                        }
                    }
                }
            }
        }

        // Inheritance needs every declaration, so it runs once all are registered.
        for index in 0..self.models.len() {
            let decl = self.models[index].decl;
            let mut fields = Vec::new();
            let mut attributes = Vec::new();
            let mut visiting = vec![decl.name.name.as_str()];
            self.flatten(decl, true, &mut visiting, &mut fields, &mut attributes);
            let draft = &mut self.models[index];
            draft.ast_fields = fields;
            draft.attributes = attributes;
        }
    }

    /// Returns false (after reporting) when the name was already taken.
    fn register_name(
        &mut self,
        first_definition: &mut HashMap<&'a str, Span>,
        kind: &str,
        name: &'a ast::Ident,
    ) -> bool {
        if RESERVED_TYPE_NAMES.contains(&name.name.as_str()) {
            self.error(diag::reserved_name(kind, &name.name, name.span));
            return false;
        }
        if let Some(first) = first_definition.get(name.name.as_str()) {
            self.error(diag::duplicate_declaration(
                kind, &name.name, name.span, *first,
            ));
            return false;
        }
        first_definition.insert(name.name.as_str(), name.span);
        true
    }

    fn read_datasource(&mut self, block: &ast::ConfigBlock) {
        let provider_entry = block.entries.iter().find(|e| e.key.name == "provider");
        let Some(entry) = provider_entry else {
            self.error(diag::missing_provider(block.name.span));
            return;
        };
        let provider = match &entry.value.kind {
            ast::ExprKind::String(text) => match text.as_str() {
                "sqlite" => Provider::Sqlite,
                "postgresql" | "postgres" => Provider::Postgresql,
                other => {
                    self.diagnostics
                        .push(diag::unsupported_provider(other, entry.value.span));
                    Provider::Other(other.to_string())
                }
            },
            ast::ExprKind::Error => return,
            _ => {
                self.error(diag::invalid_provider(entry.value.span));
                return;
            }
        };
        self.datasource_name = Some(block.name.name.clone());
        self.datasource = Some(Datasource {
            name: block.name.name.clone(),
            provider,
            span: block.span,
        });
    }

    fn add_enum(&mut self, decl: &ast::EnumDecl) {
        let id = EnumId(self.enums.len());
        let mut values: Vec<EnumValue> = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for value in &decl.values {
            if let Some(first) = seen.get(value.name.name.as_str()) {
                self.error(diag::duplicate_enum_value(
                    &decl.name.name,
                    &value.name.name,
                    value.name.span,
                    *first,
                ));
                continue;
            }
            seen.insert(value.name.name.as_str(), value.name.span);
            let mut db_name = value.name.name.clone();
            for attribute in &value.attributes {
                match attribute.name.name.as_str() {
                    "map" => {
                        if let Some(name) = self.single_string_argument(attribute, "@map") {
                            db_name = name;
                        }
                    }
                    other => self.error(diag::unknown_attribute(
                        "@",
                        other,
                        attribute.name.span,
                        ["map"],
                    )),
                }
            }
            values.push(EnumValue {
                name: value.name.name.clone(),
                db_name,
                docs: join_docs(&value.docs),
                span: value.span,
            });
        }
        let mut db_name = decl.name.name.clone();
        for attribute in &decl.attributes {
            match attribute.name.name.as_str() {
                "map" => {
                    if let Some(name) = self.single_string_argument(attribute, "@@map") {
                        db_name = name;
                    }
                }
                "schema" => {
                    self.single_string_argument(attribute, "@@schema");
                }
                other => self.error(diag::unknown_attribute(
                    "@@",
                    other,
                    attribute.name.span,
                    ["map", "schema"],
                )),
            }
        }
        self.enum_index.insert(decl.name.name.clone(), id);
        self.enums.push(Enum {
            id,
            name: decl.name.name.clone(),
            db_name,
            docs: join_docs(&decl.docs),
            values,
            span: decl.span,
        });
    }

    /// Collects a model's fields and block attributes with those of its bases (`extends`) and
    /// mixins (`with`) first. `complete` is false below a concrete base, whose relation fields
    /// and attributes are not copied (they belong to the base's own table).
    fn flatten(
        &mut self,
        decl: &'a ast::ModelDecl,
        complete: bool,
        visiting: &mut Vec<&'a str>,
        fields: &mut Vec<&'a ast::Field>,
        attributes: &mut Vec<&'a ast::Attribute>,
    ) {
        let parents = decl
            .extends
            .iter()
            .map(|i| ("extends", i))
            .chain(decl.mixins.iter().map(|i| ("with", i)));
        for (keyword, parent_name) in parents {
            let Some(parent) = self.declarations.get(parent_name.name.as_str()).copied() else {
                let reason = if self.enum_index.contains_key(&parent_name.name) {
                    "it is an enum"
                } else {
                    "no such declaration"
                };
                self.error(diag::invalid_base(
                    keyword,
                    &parent_name.name,
                    parent_name.span,
                    reason,
                ));
                continue;
            };
            if visiting.contains(&parent.name.name.as_str()) {
                self.error(diag::inheritance_cycle(&parent_name.name, parent_name.span));
                continue;
            }
            let parent_complete = match (keyword, parent.keyword) {
                ("with", ast::ModelKeyword::Type) => complete,
                ("extends", ast::ModelKeyword::Model) if parent.is_abstract => complete,
                ("extends", ast::ModelKeyword::Model) => {
                    self.diagnostics.push(diag::concrete_base(
                        &decl.name.name,
                        &parent.name.name,
                        parent_name.span,
                    ));
                    false
                }
                ("with", _) => {
                    self.error(diag::invalid_base(
                        keyword,
                        &parent_name.name,
                        parent_name.span,
                        "it is not a `type`",
                    ));
                    continue;
                }
                _ => {
                    self.error(diag::invalid_base(
                        keyword,
                        &parent_name.name,
                        parent_name.span,
                        "it is not a model",
                    ));
                    continue;
                }
            };
            visiting.push(parent.name.name.as_str());
            self.flatten(parent, parent_complete, visiting, fields, attributes);
            visiting.pop();
        }
        for field in &decl.fields {
            if !complete && !self.is_plain_field(field) {
                continue;
            }
            if fields.iter().any(|f| std::ptr::eq(*f, field)) {
                continue; // the same mixin reached twice
            }
            fields.push(field);
        }
        if complete {
            let own_declaration = visiting.len() == 1;
            for attribute in &decl.attributes {
                if !own_declaration && NOT_INHERITED.contains(&attribute.name.name.as_str()) {
                    continue;
                }
                if attributes.iter().any(|a| std::ptr::eq(*a, attribute)) {
                    continue;
                }
                attributes.push(attribute);
            }
        }
    }

    /// A field that is not a relation: its type is a scalar, an enum or `Unsupported`.
    fn is_plain_field(&self, field: &ast::Field) -> bool {
        field.ty.as_ref().is_some_and(|ty| {
            ScalarType::from_name(&ty.name.name).is_some()
                || ty.name.name == "Unsupported"
                || self.enum_index.contains_key(&ty.name.name)
        })
    }

    // -----------------------------------------------------------------------------------------
    // Field types
    // -----------------------------------------------------------------------------------------

    fn resolve_field_types(&mut self) {
        for index in 0..self.models.len() {
            let ast_fields = std::mem::take(&mut self.models[index].ast_fields);
            let model_name = self.models[index].decl.name.name.clone();
            let mut kept = Vec::new();
            let mut resolved = Vec::new();
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for field in ast_fields {
                if let Some(first) = seen.get(field.name.name.as_str()) {
                    self.error(diag::duplicate_field(
                        &model_name,
                        &field.name.name,
                        field.name.span,
                        *first,
                    ));
                    continue;
                }
                seen.insert(field.name.name.as_str(), field.name.span);
                if let Some(ty) = self.resolve_type(field) {
                    kept.push(field);
                    resolved.push(ty);
                }
            }
            let draft = &mut self.models[index];
            draft.ast_fields = kept;
            draft.resolved = resolved;
        }
    }

    /// The field's type, or `None` when the field is left out (already reported).
    fn resolve_type(&mut self, field: &ast::Field) -> Option<ResolvedType> {
        let ty = field.ty.as_ref()?;
        let name = ty.name.name.as_str();
        if let Some(computed) = field
            .attributes
            .iter()
            .find(|a| !a.is_block && a.name.name == "computed")
        {
            self.diagnostics.push(diag::unsupported_attribute(
                "@computed",
                computed.span,
                &format!("field `{}` is left out", field.name.name),
            ));
            return None;
        }
        if let Some(scalar) = ScalarType::from_name(name) {
            return Some(ResolvedType::Scalar(scalar));
        }
        if name == "Unsupported" {
            let description = ty
                .args
                .first()
                .and_then(|a| a.value.as_str())
                .unwrap_or("")
                .to_string();
            return Some(ResolvedType::Unsupported(description));
        }
        if let Some(id) = self.enum_index.get(name) {
            return Some(ResolvedType::Enum(*id));
        }
        if let Some(id) = self.model_index.get(name) {
            return Some(ResolvedType::Model(*id));
        }
        match self.other_declarations.get(name).copied() {
            Some(OtherDeclaration::Abstract) => {
                self.error(diag::abstract_as_type(name, ty.name.span));
                None
            }
            Some(OtherDeclaration::Type) => {
                let json = field
                    .attributes
                    .iter()
                    .find(|a| !a.is_block && a.name.name == "json");
                if let Some(json) = json {
                    self.diagnostics.push(diag::unsupported_attribute(
                        "@json",
                        json.span,
                        &format!("field `{}` is stored as plain `Json`", field.name.name),
                    ));
                    return Some(ResolvedType::Scalar(ScalarType::Json));
                }
                self.diagnostics.push(diag::field_left_out(
                    &field.name.name,
                    name,
                    field.name.span,
                    "composite types are not supported",
                ));
                None
            }
            Some(OtherDeclaration::View) => {
                self.diagnostics.push(diag::field_left_out(
                    &field.name.name,
                    name,
                    field.name.span,
                    "views are not supported",
                ));
                None
            }
            Some(OtherDeclaration::Ignored) => None,
            None => {
                let candidates: Vec<&str> = ScalarType::ALL
                    .iter()
                    .map(|s| s.name())
                    .chain(self.model_index.keys().map(String::as_str))
                    .chain(self.enum_index.keys().map(String::as_str))
                    .collect();
                let mut sorted = candidates;
                sorted.sort_unstable();
                self.error(diag::unknown_type(name, ty.name.span, sorted));
                None
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Auth model
    // -----------------------------------------------------------------------------------------

    fn find_auth_model(&mut self) {
        let mut first: Option<(ModelId, Span)> = None;
        for index in 0..self.models.len() {
            let auth = self.models[index]
                .attributes
                .iter()
                .find(|a| a.name.name == "auth")
                .map(|a| a.span);
            if let Some(span) = auth {
                match first {
                    Some((_, first_span)) => {
                        self.error(diag::multiple_auth_models(span, first_span))
                    }
                    None => first = Some((ModelId(index), span)),
                }
            }
        }
        self.auth_model = first
            .map(|(id, _)| id)
            .or_else(|| self.model_index.get("User").copied());
        if let Some(id) = self.auth_model {
            self.models[id.0].model.is_auth = true;
        }
    }

    // -----------------------------------------------------------------------------------------
    // Identifiers
    // -----------------------------------------------------------------------------------------

    fn check_identifiers(&mut self) {
        for index in 0..self.models.len() {
            let model = &self.models[index].model;
            if !model.primary_key.fields.is_empty() {
                continue;
            }
            // Prisma accepts a unique constraint over required fields as the identifier.
            let unique_identifier = model.unique_constraints.iter().find(|u| {
                !u.fields.is_empty()
                    && u.fields
                        .iter()
                        .all(|f| model.fields[f.field].arity == Arity::Required)
            });
            match unique_identifier {
                Some(unique) => {
                    let fields = unique.fields.iter().map(|f| f.field).collect();
                    self.models[index].model.primary_key.fields = fields;
                }
                None => {
                    let name = model.name.clone();
                    let span = model.name_span;
                    self.error(diag::missing_identifier(&name, span));
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Warnings about what the API exposes
    // -----------------------------------------------------------------------------------------

    fn warn_about_exposure(&mut self) {
        const SECRET_NAMES: &[&str] = &[
            "password",
            "passwordhash",
            "hashedpassword",
            "secret",
            "clientsecret",
            "token",
            "apikey",
            "accesstoken",
            "refreshtoken",
            "privatekey",
        ];
        let mut found = Vec::new();
        for draft in &self.models {
            let model = &draft.model;
            // A rule that failed to check was reported already; do not also say there is none.
            let has_written_allow = draft
                .attributes
                .iter()
                .any(|a| a.is_block && a.name.name == "allow");
            if !model.has_allow_rule() && !has_written_allow {
                found.push(diag::model_not_exposed(&model.name, model.name_span));
                continue;
            }
            for field in &model.fields {
                let normalized = field.name.to_lowercase().replace('_', "");
                if field.ty == FieldType::Scalar(ScalarType::String)
                    && !field.is_hidden()
                    && SECRET_NAMES.contains(&normalized.as_str())
                {
                    found.push(diag::sensitive_field_exposed(&field.name, field.name_span));
                }
            }
        }
        self.diagnostics.extend(found);
    }

    fn finish(self) -> (Schema, Vec<Diagnostic>) {
        let mut models = Vec::with_capacity(self.models.len());
        for draft in self.models {
            let mut model = draft.model;
            // A relation field that could not be paired has no relation to point at; it is
            // turned into an opaque field so the schema holds no dangling ids.
            for (index, field) in model.fields.iter_mut().enumerate() {
                let is_relation = matches!(draft.resolved.get(index), Some(ResolvedType::Model(_)));
                let assigned = draft.relation_assigned.get(index).copied().unwrap_or(false);
                if is_relation && !assigned {
                    field.ty = FieldType::Unsupported("unresolved relation".to_string());
                }
            }
            models.push(model);
        }
        let schema = Schema {
            datasource: self.datasource,
            models,
            enums: self.enums,
            relations: self.relations,
            auth_model: self.auth_model,
        };
        (schema, self.diagnostics)
    }
}

fn new_draft<'a>(id: ModelId, decl: &'a ast::ModelDecl) -> ModelDraft<'a> {
    ModelDraft {
        decl,
        ast_fields: Vec::new(),
        resolved: Vec::new(),
        attributes: Vec::new(),
        model: Model {
            id,
            name: decl.name.name.clone(),
            db_name: decl.name.name.clone(),
            db_schema: None,
            docs: join_docs(&decl.docs),
            fields: Vec::new(),
            primary_key: PrimaryKey::default(),
            unique_constraints: Vec::new(),
            indexes: Vec::new(),
            policies: Vec::new(),
            is_auth: false,
            span: decl.span,
            name_span: decl.name.span,
        },
        relation_attributes: Vec::new(),
        relation_assigned: Vec::new(),
        field_policy_attributes: Vec::new(),
        id_span: None,
    }
}

/// `///` lines joined by newlines; `None` when there are none.
pub(crate) fn join_docs(docs: &[ast::DocComment]) -> Option<String> {
    if docs.is_empty() {
        None
    } else {
        Some(
            docs.iter()
                .map(|d| d.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }
}
