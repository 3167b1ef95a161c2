//! Field attributes: `@id`, `@unique`, `@default`, `@relation`, `@map`, `@updatedAt`, `@ignore`,
//! native types, Plinth's `@omit` / `@password`, validations, and the field-level rules (kept
//! for the policy pass).

use super::args::{describe, unparen};
use super::{Checker, RelationAttribute, ResolvedType};
use crate::diagnostics as diag;
use crate::schema::*;
use plinth_diagnostics::Span;
use plinth_syntax::ast::{self, Attribute, Expr, ExprKind};

/// Field attributes Plinth implements.
const FIELD_ATTRIBUTES: &[&str] = &[
    "id",
    "unique",
    "default",
    "relation",
    "map",
    "updatedAt",
    "ignore",
    "omit",
    "password",
    "email",
    "url",
    "startsWith",
    "endsWith",
    "contains",
    "regex",
    "length",
    "gt",
    "gte",
    "lt",
    "lte",
    "allow",
    "deny",
];

/// Prisma / ZenStack field attributes that are known but not implemented: a warning, not an
/// error, so existing schemas load.
const UNSUPPORTED_FIELD_ATTRIBUTES: &[&str] = &[
    "json",
    "computed",
    "deprecated",
    "shardKey",
    "trim",
    "lower",
    "upper",
    "datetime",
    "meta",
    "encrypted",
    "prisma.passthrough",
];

const DEFAULT_FUNCTIONS: &[&str] = &[
    "autoincrement",
    "uuid",
    "cuid",
    "nanoid",
    "ulid",
    "now",
    "dbgenerated",
    "auth",
];

const POSTGRES_NATIVE_TYPES: &[&str] = &[
    "Text",
    "Char",
    "VarChar",
    "Bit",
    "VarBit",
    "Uuid",
    "Xml",
    "Inet",
    "Citext",
    "Boolean",
    "Integer",
    "SmallInt",
    "BigInt",
    "Oid",
    "DoublePrecision",
    "Real",
    "Decimal",
    "Money",
    "Timestamp",
    "Timestamptz",
    "Date",
    "Time",
    "Timetz",
    "Json",
    "JsonB",
    "ByteA",
];

const MYSQL_NATIVE_TYPES: &[&str] = &[
    "Int",
    "UnsignedInt",
    "SmallInt",
    "UnsignedSmallInt",
    "TinyInt",
    "UnsignedTinyInt",
    "MediumInt",
    "UnsignedMediumInt",
    "BigInt",
    "UnsignedBigInt",
    "Decimal",
    "Float",
    "Double",
    "Date",
    "Time",
    "DateTime",
    "Timestamp",
    "Year",
    "Json",
    "Binary",
    "VarBinary",
    "TinyBlob",
    "Blob",
    "MediumBlob",
    "LongBlob",
    "Bit",
    "Char",
    "VarChar",
    "Text",
    "TinyText",
    "MediumText",
    "LongText",
];

/// What one field contributes to its model besides the [`Field`] itself.
#[derive(Default)]
struct FieldExtras<'a> {
    relation: Option<RelationAttribute>,
    policies: Vec<&'a Attribute>,
    unique: Option<UniqueConstraint>,
    id_span: Option<Span>,
}

fn arity_of(field: &ast::Field) -> Arity {
    match field.ty.as_ref().map(|t| t.arity) {
        Some(ast::Arity::Optional) => Arity::Optional,
        Some(ast::Arity::List) => Arity::List,
        _ => Arity::Required,
    }
}

impl<'a> Checker<'a> {
    pub(super) fn check_fields(&mut self) {
        for model_index in 0..self.models.len() {
            let ast_fields = self.models[model_index].ast_fields.clone();
            let resolved = self.models[model_index].resolved.clone();
            let mut fields = Vec::with_capacity(ast_fields.len());
            for (field_index, (ast_field, ty)) in ast_fields.iter().zip(&resolved).enumerate() {
                let mut extras = FieldExtras::default();
                let field = self.check_field(ast_field, ty, field_index, &mut extras);
                let draft = &mut self.models[model_index];
                draft.relation_attributes.push(extras.relation);
                draft.relation_assigned.push(false);
                for policy in extras.policies {
                    draft.field_policy_attributes.push((field_index, policy));
                }
                if let Some(unique) = extras.unique {
                    draft.model.unique_constraints.push(unique);
                }
                if let Some(span) = extras.id_span {
                    match draft.id_span {
                        Some(first) => {
                            let name = draft.model.name.clone();
                            self.error(diag::multiple_ids(&name, span, first));
                        }
                        None => {
                            draft.id_span = Some(span);
                            draft.model.primary_key.fields = vec![field_index];
                        }
                    }
                }
                fields.push(field);
            }
            self.models[model_index].model.fields = fields;
        }
    }

    pub(crate) fn resolved_type_name(&self, ty: &ResolvedType) -> String {
        match ty {
            ResolvedType::Scalar(s) => s.name().to_string(),
            ResolvedType::Enum(id) => self.enums[id.0].name.clone(),
            ResolvedType::Model(id) => self.models[id.0].model.name.clone(),
            ResolvedType::Unsupported(_) => "Unsupported".to_string(),
        }
    }

    fn check_field(
        &mut self,
        ast_field: &'a ast::Field,
        resolved: &ResolvedType,
        field_index: usize,
        extras: &mut FieldExtras<'a>,
    ) -> Field {
        let arity = arity_of(ast_field);
        let ty = match resolved {
            ResolvedType::Scalar(s) => FieldType::Scalar(*s),
            ResolvedType::Enum(id) => FieldType::Enum(*id),
            // Replaced by the relation pass once the relation is paired.
            ResolvedType::Model(_) => FieldType::Unsupported("relation".to_string()),
            ResolvedType::Unsupported(description) => FieldType::Unsupported(description.clone()),
        };
        let mut field = Field {
            name: ast_field.name.name.clone(),
            db_name: ast_field.name.name.clone(),
            docs: super::join_docs(&ast_field.docs),
            ty,
            arity,
            default: None,
            is_id: false,
            is_unique: false,
            is_updated_at: false,
            is_ignored: false,
            native_type: None,
            validations: Vec::new(),
            is_omitted: false,
            is_password: false,
            policies: Vec::new(),
            span: ast_field.span,
            name_span: ast_field.name.span,
        };
        let is_relation = matches!(resolved, ResolvedType::Model(_));
        let scalar = match resolved {
            ResolvedType::Scalar(s) => Some(*s),
            _ => None,
        };
        let type_name = self.resolved_type_name(resolved);
        let mut seen: Vec<(&str, Span)> = Vec::new();

        for attribute in &ast_field.attributes {
            let name = attribute.name.name.as_str();
            let display = format!("@{name}");
            if attribute.is_block {
                self.error(diag::attribute_not_applicable(
                    &format!("@@{name}"),
                    attribute.span,
                    "block attributes go on their own line inside the model, not on a field",
                ));
                continue;
            }
            let repeatable = matches!(name, "allow" | "deny");
            if !repeatable {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    self.error(diag::duplicate_attribute(&display, attribute.span, *first));
                    continue;
                }
                seen.push((name, attribute.span));
            }
            let not_for_relation = |checker: &mut Checker<'a>| {
                if is_relation {
                    checker.error(diag::attribute_not_applicable(
                        &display,
                        attribute.span,
                        "it does not apply to relation fields",
                    ));
                    true
                } else {
                    false
                }
            };
            match name {
                "id" => {
                    self.bind_arguments(
                        attribute,
                        &display,
                        &["map", "length", "sort", "clustered"],
                    );
                    if not_for_relation(self) {
                        continue;
                    }
                    if arity != Arity::Required {
                        self.error(diag::optional_id(&field.name, attribute.span));
                    }
                    field.is_id = true;
                    extras.id_span = Some(attribute.span);
                }
                "unique" => {
                    let bound = self.bind_arguments(
                        attribute,
                        &display,
                        &["map", "length", "sort", "clustered"],
                    );
                    if not_for_relation(self) {
                        continue;
                    }
                    let db_name = bound[0].and_then(|a| self.expect_string(a, &display));
                    let length = bound[1].and_then(|a| self.expect_u32(a, &display));
                    let sort = bound[2].and_then(|a| self.sort_order(a, &display));
                    field.is_unique = true;
                    extras.unique = Some(UniqueConstraint {
                        fields: vec![IndexField {
                            field: field_index,
                            sort,
                            length,
                        }],
                        name: None,
                        db_name,
                        span: attribute.span,
                    });
                }
                "default" => {
                    if not_for_relation(self) {
                        continue;
                    }
                    field.default = self.check_default(attribute, resolved, arity, &type_name);
                }
                "relation" => {
                    if !is_relation {
                        self.error(diag::attribute_not_applicable(
                            "@relation",
                            attribute.span,
                            &format!("`{}` is not a relation field", field.name),
                        ));
                        continue;
                    }
                    extras.relation = Some(self.parse_relation_attribute(attribute));
                }
                "map" => {
                    if let Some(db_name) = self.single_string_argument(attribute, "@map") {
                        field.db_name = db_name;
                    }
                }
                "updatedAt" => {
                    self.bind_arguments(attribute, &display, &[]);
                    if scalar != Some(ScalarType::DateTime) || arity == Arity::List {
                        self.error(diag::attribute_not_applicable(
                            "@updatedAt",
                            attribute.span,
                            &format!(
                                "it needs a `DateTime` field, and `{}` is `{type_name}`",
                                field.name
                            ),
                        ));
                        continue;
                    }
                    field.is_updated_at = true;
                }
                "ignore" => {
                    self.bind_arguments(attribute, &display, &[]);
                    field.is_ignored = true;
                }
                "omit" => {
                    self.bind_arguments(attribute, &display, &[]);
                    field.is_omitted = true;
                }
                "password" => {
                    // ZenStack's hashing options are accepted; Plinth always uses argon2id.
                    self.bind_arguments(attribute, &display, &["saltLength", "salt"]);
                    if scalar != Some(ScalarType::String) {
                        self.error(diag::attribute_not_applicable(
                            "@password",
                            attribute.span,
                            &format!(
                                "it needs a `String` field, and `{}` is `{type_name}`",
                                field.name
                            ),
                        ));
                        continue;
                    }
                    field.is_password = true;
                }
                "email" | "url" | "startsWith" | "endsWith" | "contains" | "regex" => {
                    if let Some(validation) =
                        self.string_validation(attribute, name, scalar, &field.name, &type_name)
                    {
                        field.validations.push(validation);
                    }
                }
                "length" => {
                    let bound =
                        self.bind_arguments(attribute, &display, &["min", "max", "message"]);
                    if scalar != Some(ScalarType::String) && arity != Arity::List {
                        self.error(diag::attribute_not_applicable(
                            "@length",
                            attribute.span,
                            &format!(
                                "it needs a `String` or list field, and `{}` is `{type_name}`",
                                field.name
                            ),
                        ));
                        continue;
                    }
                    let min = bound[0].and_then(|a| self.expect_u32(a, &display));
                    let max = bound[1].and_then(|a| self.expect_u32(a, &display));
                    if let Some(message) = bound[2] {
                        self.expect_string(message, &display);
                    }
                    if let (Some(min), Some(max)) = (min, max) {
                        if min > max {
                            self.error(diag::invalid_length_bounds(attribute.span, min, max));
                            continue;
                        }
                    }
                    if bound[0].is_none() && bound[1].is_none() {
                        self.error(diag::missing_argument(
                            "@length",
                            "min",
                            attribute.span,
                            "@length(1, 100)",
                        ));
                        continue;
                    }
                    field.validations.push(Validation::Length { min, max });
                }
                "gt" | "gte" | "lt" | "lte" => {
                    let bound = self.bind_arguments(attribute, &display, &["value", "message"]);
                    if !scalar.is_some_and(ScalarType::is_numeric) || arity == Arity::List {
                        self.error(diag::attribute_not_applicable(
                            &display,
                            attribute.span,
                            &format!(
                                "it needs a number field, and `{}` is `{type_name}`",
                                field.name
                            ),
                        ));
                        continue;
                    }
                    if let Some(message) = bound[1] {
                        self.expect_string(message, &display);
                    }
                    let Some(value_arg) = bound[0] else {
                        self.error(diag::missing_argument(
                            &display,
                            "value",
                            attribute.span,
                            &format!("{display}(0)"),
                        ));
                        continue;
                    };
                    let Some(value) = self.expect_number(value_arg, &display) else {
                        continue;
                    };
                    let op = match name {
                        "gt" => CompareOp::Gt,
                        "gte" => CompareOp::Gte,
                        "lt" => CompareOp::Lt,
                        _ => CompareOp::Lte,
                    };
                    field.validations.push(Validation::Compare { op, value });
                }
                "allow" | "deny" => extras.policies.push(attribute),
                "json" if ast_field.ty.as_ref().is_some_and(|t| t.name.name != "Json") => {
                    // Reported when the composite type was turned into `Json`.
                }
                _ if UNSUPPORTED_FIELD_ATTRIBUTES.contains(&name) => {
                    self.diagnostics.push(diag::unsupported_attribute(
                        &display,
                        attribute.span,
                        "it is ignored",
                    ));
                }
                _ => {
                    if let Some((prefix, native)) = name.split_once('.') {
                        let datasource = self.datasource_name.as_deref().unwrap_or("db");
                        if prefix == datasource {
                            if not_for_relation(self) {
                                continue;
                            }
                            field.native_type = self.native_type(attribute, prefix, native);
                            continue;
                        }
                    }
                    self.error(diag::unknown_attribute(
                        "@",
                        name,
                        attribute.name.span,
                        FIELD_ATTRIBUTES.iter().copied(),
                    ));
                }
            }
        }
        field
    }

    fn sort_order(&mut self, arg: &ast::Arg, display: &str) -> Option<SortOrder> {
        let (name, span) = self.expect_ident(arg, display)?;
        match name {
            "Asc" => Some(SortOrder::Asc),
            "Desc" => Some(SortOrder::Desc),
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    span,
                    &format!("`sort` is `Asc` or `Desc`, not `{name}`"),
                ));
                None
            }
        }
    }

    fn string_validation(
        &mut self,
        attribute: &Attribute,
        name: &str,
        scalar: Option<ScalarType>,
        field_name: &str,
        type_name: &str,
    ) -> Option<Validation> {
        let display = format!("@{name}");
        let takes_text = !matches!(name, "email" | "url");
        let parameters: &[&str] = if takes_text {
            &["text", "message"]
        } else {
            &["message"]
        };
        let bound = self.bind_arguments(attribute, &display, parameters);
        if scalar != Some(ScalarType::String) {
            self.error(diag::attribute_not_applicable(
                &display,
                attribute.span,
                &format!("it needs a `String` field, and `{field_name}` is `{type_name}`"),
            ));
            return None;
        }
        if let Some(message) = bound.last().copied().flatten().filter(|_| takes_text) {
            self.expect_string(message, &display);
        }
        if !takes_text {
            if let Some(message) = bound[0] {
                self.expect_string(message, &display);
            }
            return Some(if name == "email" {
                Validation::Email
            } else {
                Validation::Url
            });
        }
        let Some(text_arg) = bound[0] else {
            self.error(diag::missing_argument(
                &display,
                "text",
                attribute.span,
                &format!("{display}(\"...\")"),
            ));
            return None;
        };
        let text = self.expect_string(text_arg, &display)?;
        Some(match name {
            "startsWith" => Validation::StartsWith(text),
            "endsWith" => Validation::EndsWith(text),
            "contains" => Validation::Contains(text),
            _ => {
                if let Err(error) = regex::Regex::new(&text) {
                    self.error(diag::invalid_regex(text_arg.value.span, &error.to_string()));
                    return None;
                }
                Validation::Regex(text)
            }
        })
    }

    fn native_type(
        &mut self,
        attribute: &Attribute,
        prefix: &str,
        name: &str,
    ) -> Option<NativeType> {
        let display = format!("@{prefix}.{name}");
        let known: Option<(&str, &[&str])> = match self.datasource.as_ref().map(|d| &d.provider) {
            Some(Provider::Sqlite) => {
                self.diagnostics
                    .push(diag::native_type_ignored(&display, attribute.span));
                return None;
            }
            Some(Provider::Postgresql) => Some(("PostgreSQL", POSTGRES_NATIVE_TYPES)),
            Some(Provider::Other(provider)) if provider == "mysql" => {
                Some(("MySQL", MYSQL_NATIVE_TYPES))
            }
            _ => None,
        };
        if let Some((provider_name, names)) = known {
            if !names.contains(&name) {
                self.error(diag::unknown_native_type(
                    prefix,
                    name,
                    provider_name,
                    attribute.name.span,
                    names.iter().copied(),
                ));
                return None;
            }
        }
        let mut args = Vec::new();
        for arg in &attribute.args {
            match &unparen(&arg.value).kind {
                ExprKind::Number(text) | ExprKind::String(text) => args.push(text.clone()),
                ExprKind::Ident(text) => args.push(text.clone()),
                ExprKind::Error => {}
                _ => self.error(diag::invalid_argument(
                    &display,
                    arg.value.span,
                    &format!(
                        "expected a number or a string, found {}",
                        describe(&arg.value)
                    ),
                )),
            }
        }
        Some(NativeType {
            name: name.to_string(),
            args,
        })
    }

    // -----------------------------------------------------------------------------------------
    // @relation
    // -----------------------------------------------------------------------------------------

    fn parse_relation_attribute(&mut self, attribute: &Attribute) -> RelationAttribute {
        let display = "@relation";
        let bound = self.bind_arguments(
            attribute,
            display,
            &[
                "name",
                "fields",
                "references",
                "onDelete",
                "onUpdate",
                "map",
            ],
        );
        let mut relation = RelationAttribute {
            span: attribute.span,
            ..RelationAttribute::default()
        };
        relation.name = bound[0].and_then(|a| self.expect_string(a, display));
        relation.fields = bound[1].and_then(|a| self.name_list(a, display));
        relation.references = bound[2].and_then(|a| self.name_list(a, display));
        relation.on_delete = bound[3].and_then(|a| self.referential_action(a));
        relation.on_update = bound[4].and_then(|a| self.referential_action(a));
        if let Some(map) = bound[5] {
            self.expect_string(map, display);
        }
        relation
    }

    fn name_list(&mut self, arg: &ast::Arg, display: &str) -> Option<Vec<(String, Span)>> {
        let list = self.field_list(&arg.value, display)?;
        Some(
            list.into_iter()
                .map(|f| (f.name.to_string(), f.span))
                .collect(),
        )
    }

    fn referential_action(&mut self, arg: &ast::Arg) -> Option<(ReferentialAction, Span)> {
        let (name, span) = self.expect_ident(arg, "@relation")?;
        let action = match name {
            "Cascade" => ReferentialAction::Cascade,
            "Restrict" => ReferentialAction::Restrict,
            "NoAction" => ReferentialAction::NoAction,
            "SetNull" => ReferentialAction::SetNull,
            "SetDefault" => ReferentialAction::SetDefault,
            _ => {
                self.error(diag::unknown_referential_action(name, span));
                return None;
            }
        };
        Some((action, arg.span))
    }

    // -----------------------------------------------------------------------------------------
    // @default
    // -----------------------------------------------------------------------------------------

    fn check_default(
        &mut self,
        attribute: &Attribute,
        resolved: &ResolvedType,
        arity: Arity,
        type_name: &str,
    ) -> Option<DefaultValue> {
        let bound = self.bind_arguments(attribute, "@default", &["value", "map"]);
        if let Some(map) = bound[1] {
            self.expect_string(map, "@default");
        }
        let Some(value_arg) = bound[0] else {
            self.error(diag::missing_argument(
                "@default",
                "value",
                attribute.span,
                "@default(0)",
            ));
            return None;
        };
        let expr = unparen(&value_arg.value);
        let scalar = match resolved {
            ResolvedType::Scalar(s) => Some(*s),
            _ => None,
        };
        match &expr.kind {
            ExprKind::Error => None,
            ExprKind::Call { callee, args } => self.default_function(
                &callee.name,
                callee.span,
                args,
                expr.span,
                scalar,
                arity,
                type_name,
            ),
            ExprKind::Member { object, member } => {
                let object = unparen(object);
                let is_auth = matches!(&object.kind, ExprKind::Call { callee, args } if callee.name == "auth" && args.is_empty());
                if !is_auth {
                    self.error(diag::default_type_mismatch(
                        type_name,
                        expr.span,
                        &describe(expr),
                    ));
                    return None;
                }
                self.auth_default(member, expr.span, resolved, type_name)
            }
            _ if arity == Arity::List => match &expr.kind {
                ExprKind::Array(items) => {
                    let mut values = Vec::new();
                    for item in items {
                        values.push(self.literal_default(item, resolved, type_name)?);
                    }
                    Some(DefaultValue::Value(Value::List(values)))
                }
                _ => {
                    self.error(diag::default_type_mismatch(
                        &format!("{type_name}[]"),
                        expr.span,
                        &describe(expr),
                    ));
                    None
                }
            },
            ExprKind::Null if arity == Arity::Optional => Some(DefaultValue::Value(Value::Null)),
            _ => self
                .literal_default(expr, resolved, type_name)
                .map(DefaultValue::Value),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn default_function(
        &mut self,
        name: &str,
        name_span: Span,
        args: &[ast::Arg],
        span: Span,
        scalar: Option<ScalarType>,
        arity: Arity,
        type_name: &str,
    ) -> Option<DefaultValue> {
        let fits = |expected: &[ScalarType]| {
            scalar.is_some_and(|s| expected.contains(&s)) && arity != Arity::List
        };
        let mismatch = |checker: &mut Checker<'_>, fits_text: &str| {
            checker.error(diag::default_function_mismatch(
                name, type_name, span, fits_text,
            ));
            None
        };
        let display = format!("{name}()");
        let numeric_argument = |checker: &mut Checker<'_>| -> Option<Option<u32>> {
            match args {
                [] => Some(None),
                [arg] => checker.expect_u32(arg, &display).map(Some),
                [_, extra, ..] => {
                    checker.error(diag::invalid_argument(
                        &display,
                        extra.span,
                        "too many arguments",
                    ));
                    None
                }
            }
        };
        match name {
            "autoincrement" => {
                if !fits(&[ScalarType::Int, ScalarType::BigInt]) {
                    return mismatch(self, "`Int` and `BigInt`");
                }
                self.no_arguments(args, &display)?;
                Some(DefaultValue::Autoincrement)
            }
            "now" => {
                if !fits(&[ScalarType::DateTime]) {
                    return mismatch(self, "`DateTime`");
                }
                self.no_arguments(args, &display)?;
                Some(DefaultValue::Now)
            }
            "uuid" | "cuid" | "nanoid" | "ulid" => {
                if !fits(&[ScalarType::String]) {
                    return mismatch(self, "`String`");
                }
                let argument = numeric_argument(self)?;
                match (name, argument) {
                    ("uuid", None) => Some(DefaultValue::Uuid { version: 4 }),
                    ("uuid", Some(version @ (4 | 7))) => Some(DefaultValue::Uuid {
                        version: version as u8,
                    }),
                    ("cuid", None) => Some(DefaultValue::Cuid { version: 1 }),
                    ("cuid", Some(version @ (1 | 2))) => Some(DefaultValue::Cuid {
                        version: version as u8,
                    }),
                    ("nanoid", length) => Some(DefaultValue::Nanoid { length }),
                    ("ulid", None) => Some(DefaultValue::Ulid),
                    (_, _) => {
                        let expected = match name {
                            "uuid" => "the version is 4 or 7",
                            "cuid" => "the version is 1 or 2",
                            _ => "it takes no arguments",
                        };
                        self.error(diag::invalid_argument(
                            &display,
                            args.first().map_or(span, |a| a.span),
                            expected,
                        ));
                        None
                    }
                }
            }
            "dbgenerated" => match args {
                [] => Some(DefaultValue::DbGenerated(None)),
                [arg] => self
                    .expect_string(arg, &display)
                    .map(|s| DefaultValue::DbGenerated(Some(s))),
                [_, extra, ..] => {
                    self.error(diag::invalid_argument(
                        &display,
                        extra.span,
                        "too many arguments",
                    ));
                    None
                }
            },
            "auth" => {
                self.error(
                    diag::default_type_mismatch(type_name, span, "the whole `auth()` row")
                        .with_help("use one of its fields, such as `auth().id`"),
                );
                None
            }
            _ => {
                self.error(diag::unknown_default_function(
                    name,
                    name_span,
                    DEFAULT_FUNCTIONS.iter().copied(),
                ));
                None
            }
        }
    }

    fn no_arguments(&mut self, args: &[ast::Arg], display: &str) -> Option<()> {
        match args.first() {
            Some(arg) => {
                self.error(diag::invalid_argument(
                    display,
                    arg.span,
                    "it takes no arguments",
                ));
                None
            }
            None => Some(()),
        }
    }

    fn auth_default(
        &mut self,
        member: &ast::Ident,
        span: Span,
        resolved: &ResolvedType,
        type_name: &str,
    ) -> Option<DefaultValue> {
        let Some(auth) = self.auth_model else {
            self.error(diag::no_auth_model(span));
            return None;
        };
        let auth_draft = &self.models[auth.0];
        let position = auth_draft
            .ast_fields
            .iter()
            .position(|f| f.name.name == member.name);
        let Some(index) = position else {
            let auth_name = auth_draft.model.name.clone();
            let candidates: Vec<&str> = auth_draft
                .ast_fields
                .iter()
                .map(|f| f.name.name.as_str())
                .collect();
            let diagnostic =
                diag::unknown_name_in_policy(&member.name, &auth_name, member.span, candidates);
            self.error(diagnostic);
            return None;
        };
        let auth_type = auth_draft.resolved[index].clone();
        let same = match (&auth_type, resolved) {
            (ResolvedType::Scalar(a), ResolvedType::Scalar(b)) => a == b,
            (ResolvedType::Enum(a), ResolvedType::Enum(b)) => a == b,
            _ => false,
        };
        if !same {
            let found = format!("`{}`", self.resolved_type_name(&auth_type));
            self.error(diag::default_type_mismatch(type_name, span, &found));
            return None;
        }
        Some(DefaultValue::Auth {
            field: FieldId { model: auth, index },
        })
    }

    /// A literal default for a non-list field (or one element of a list default).
    fn literal_default(
        &mut self,
        expr: &Expr,
        resolved: &ResolvedType,
        type_name: &str,
    ) -> Option<Value> {
        let expr = unparen(expr);
        let mismatch = |checker: &mut Checker<'_>| {
            checker.error(diag::default_type_mismatch(
                type_name,
                expr.span,
                &describe(expr),
            ));
            None
        };
        match (resolved, &expr.kind) {
            (_, ExprKind::Error) => None,
            (ResolvedType::Enum(id), ExprKind::Ident(name)) => {
                let enum_ = &self.enums[id.0];
                match enum_.values.iter().position(|v| &v.name == name) {
                    Some(value) => Some(Value::Enum {
                        enum_id: *id,
                        value,
                    }),
                    None => {
                        let enum_name = enum_.name.clone();
                        let candidates: Vec<String> =
                            enum_.values.iter().map(|v| v.name.clone()).collect();
                        self.error(diag::unknown_enum_value(
                            &enum_name,
                            name,
                            expr.span,
                            candidates.iter().map(String::as_str),
                        ));
                        None
                    }
                }
            }
            (ResolvedType::Enum(_), ExprKind::String(text)) => {
                self.error(
                    diag::default_type_mismatch(type_name, expr.span, "a string")
                        .with_help(format!("write the enum value without quotes: `{text}`")),
                );
                None
            }
            (ResolvedType::Scalar(scalar), kind) => match (scalar, kind) {
                (
                    ScalarType::String
                    | ScalarType::DateTime
                    | ScalarType::Json
                    | ScalarType::Bytes,
                    ExprKind::String(text),
                ) => Some(Value::String(text.clone())),
                (ScalarType::Decimal | ScalarType::BigInt, ExprKind::String(text))
                    if text.parse::<f64>().is_ok() =>
                {
                    Some(Value::String(text.clone()))
                }
                (ScalarType::Int | ScalarType::BigInt, ExprKind::Number(text)) => {
                    match text.parse::<i64>() {
                        Ok(value) => Some(Value::Int(value)),
                        Err(_) => mismatch(self),
                    }
                }
                (ScalarType::Float | ScalarType::Decimal, ExprKind::Number(text))
                    if text.parse::<f64>().is_ok() =>
                {
                    Some(Value::Float(text.clone()))
                }
                (ScalarType::Boolean, ExprKind::Bool(value)) => Some(Value::Boolean(*value)),
                _ => mismatch(self),
            },
            _ => mismatch(self),
        }
    }
}
