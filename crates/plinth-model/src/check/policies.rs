//! Access policies: `@@allow` / `@@deny` on models and `@allow` / `@deny` on fields. Operations
//! are parsed from their string, and the condition is type-checked into a [`PolicyExpr`] whose
//! paths are resolved to fields (ZenStack's semantics).

use super::args::{describe, unparen};
use super::{Checker, ResolvedType};
use crate::diagnostics as diag;
use crate::print;
use crate::schema::*;
use plinth_diagnostics::Span;
use plinth_syntax::ast::{self, BinaryOp, Expr, ExprKind, UnaryOp};

/// The type of a policy expression.
#[derive(Clone, Copy, Debug, PartialEq)]
enum BaseType {
    Scalar(ScalarType),
    Enum(EnumId),
    Model(ModelId),
    Null,
    Unsupported,
}

#[derive(Clone, Copy, Debug)]
struct Typed {
    base: BaseType,
    list: bool,
    nullable: bool,
}

impl Typed {
    fn scalar(scalar: ScalarType) -> Typed {
        Typed {
            base: BaseType::Scalar(scalar),
            list: false,
            nullable: false,
        }
    }

    fn is_boolean(self) -> bool {
        self.base == BaseType::Scalar(ScalarType::Boolean) && !self.list
    }
}

/// What a rule allows its condition to use.
#[derive(Clone, Copy)]
struct RuleContext {
    /// The model the rule is on (what `future()` means).
    model: ModelId,
    future_allowed: bool,
}

/// Numbers compare with numbers; every other scalar only with itself.
fn same_family(a: ScalarType, b: ScalarType) -> bool {
    a == b || (a.is_numeric() && b.is_numeric())
}

impl<'a> Checker<'a> {
    pub(super) fn check_policies(&mut self) {
        for model_index in 0..self.models.len() {
            let model_id = ModelId(model_index);
            let attributes: Vec<&ast::Attribute> = self.models[model_index]
                .attributes
                .iter()
                .copied()
                .filter(|a| a.is_block && matches!(a.name.name.as_str(), "allow" | "deny"))
                .collect();
            for attribute in attributes {
                if let Some(policy) = self.policy(model_id, attribute, false) {
                    self.models[model_index].model.policies.push(policy);
                }
            }
            let field_rules = self.models[model_index].field_policy_attributes.clone();
            for (field_index, attribute) in field_rules {
                if let Some(policy) = self.policy(model_id, attribute, true) {
                    self.models[model_index].model.fields[field_index]
                        .policies
                        .push(policy);
                }
            }
        }
    }

    fn policy(
        &mut self,
        model: ModelId,
        attribute: &ast::Attribute,
        field_level: bool,
    ) -> Option<Policy> {
        let prefix = if field_level { "@" } else { "@@" };
        let effect_name = attribute.name.name.as_str();
        let display = format!("{prefix}{effect_name}");
        let effect = if effect_name == "allow" {
            Effect::Allow
        } else {
            Effect::Deny
        };
        let bound = self.bind_arguments(attribute, &display, &["operation", "condition"]);
        let (Some(operation_arg), Some(condition_arg)) = (bound[0], bound[1]) else {
            let missing = if bound[0].is_none() {
                "operation"
            } else {
                "condition"
            };
            self.error(diag::missing_argument(
                &display,
                missing,
                attribute.span,
                &format!("{display}('read', true)"),
            ));
            return None;
        };
        let operations = self.operations(operation_arg, &display, field_level)?;
        let only_update = operations
            == Operations {
                update: true,
                ..Operations::default()
            };
        let context = RuleContext {
            model,
            future_allowed: only_update,
        };
        let (condition, typed) = self.expr(&condition_arg.value, model, context, None)?;
        if !typed.is_boolean() {
            self.error(diag::not_boolean(
                condition_arg.value.span,
                &self.describe_type(typed),
                "a rule's condition",
            ));
            return None;
        }
        let source = match self.source_text(attribute.span) {
            Some(text) => text.to_string(),
            None => print::attribute(attribute),
        };
        Some(Policy {
            effect,
            operations,
            condition,
            source,
            span: attribute.span,
        })
    }

    fn operations(
        &mut self,
        arg: &ast::Arg,
        display: &str,
        field_level: bool,
    ) -> Option<Operations> {
        let text = self.expect_string(arg, display)?;
        let mut operations = Operations::default();
        let mut ok = true;
        // Offsets inside the literal, for spans that point at one operation (+1 for the quote).
        let mut offset = 0usize;
        for part in text.split(',') {
            let trimmed = part.trim();
            let leading = part.len() - part.trim_start().len();
            let start = arg.value.span.start as usize + 1 + offset + leading;
            let span = Span::new(start as u32, (start + trimmed.len()) as u32);
            let span = if span.end <= arg.value.span.end {
                span
            } else {
                arg.value.span
            };
            offset += part.len() + 1;
            match trimmed {
                "create" | "delete" if field_level => {
                    self.error(diag::field_rule_operation(trimmed, span));
                    ok = false;
                }
                "create" => operations.create = true,
                "read" => operations.read = true,
                "update" => operations.update = true,
                "delete" => operations.delete = true,
                "all" if field_level => {
                    operations.read = true;
                    operations.update = true;
                }
                "all" => operations = Operations::ALL,
                other => {
                    self.error(diag::unknown_operation(other, span));
                    ok = false;
                }
            }
        }
        ok.then_some(operations)
    }

    fn describe_type(&self, typed: Typed) -> String {
        let name = match typed.base {
            BaseType::Scalar(s) => format!("`{}`", s.name()),
            BaseType::Enum(id) => format!("`{}`", self.enums[id.0].name),
            BaseType::Model(id) => format!("`{}`", self.models[id.0].model.name),
            BaseType::Null => return "`null`".to_string(),
            BaseType::Unsupported => "`Unsupported`".to_string(),
        };
        let article = crate::diagnostics::article(&name);
        match (typed.list, typed.base) {
            (true, BaseType::Model(_)) => format!("a list of {name} rows"),
            (true, _) => format!("a list of {name} values"),
            (false, BaseType::Model(_)) => format!("{article} {name} row"),
            (false, _) => format!("{article} {name} value"),
        }
    }

    fn field_type(&self, id: FieldId) -> Typed {
        let draft = &self.models[id.model.0];
        let arity = draft.model.fields[id.index].arity;
        let base = match &draft.resolved[id.index] {
            ResolvedType::Scalar(s) => BaseType::Scalar(*s),
            ResolvedType::Enum(e) => BaseType::Enum(*e),
            ResolvedType::Model(m) => BaseType::Model(*m),
            ResolvedType::Unsupported(_) => BaseType::Unsupported,
        };
        Typed {
            base,
            list: arity == Arity::List,
            nullable: arity == Arity::Optional,
        }
    }

    fn find_field(&self, model: ModelId, name: &str) -> Option<FieldId> {
        self.models[model.0]
            .model
            .fields
            .iter()
            .position(|f| f.name == name)
            .map(|index| FieldId { model, index })
    }

    /// A bare name that is not a field of the scope (so probably an enum value).
    fn is_unresolved_name(&self, expr: &Expr, scope: ModelId) -> bool {
        matches!(&unparen(expr).kind, ExprKind::Ident(name) if self.find_field(scope, name).is_none())
    }

    fn expr(
        &mut self,
        expr: &Expr,
        scope: ModelId,
        context: RuleContext,
        hint: Option<Typed>,
    ) -> Option<(PolicyExpr, Typed)> {
        match &expr.kind {
            ExprKind::Paren(inner) => self.expr(inner, scope, context, hint),
            ExprKind::Error => None,
            ExprKind::Bool(value) => Some((
                PolicyExpr::Literal(Value::Boolean(*value)),
                Typed::scalar(ScalarType::Boolean),
            )),
            ExprKind::Number(text) => match text.parse::<i64>() {
                Ok(value) => Some((
                    PolicyExpr::Literal(Value::Int(value)),
                    Typed::scalar(ScalarType::Int),
                )),
                Err(_) if text.parse::<f64>().is_ok() => Some((
                    PolicyExpr::Literal(Value::Float(text.clone())),
                    Typed::scalar(ScalarType::Float),
                )),
                Err(_) => {
                    self.error(diag::unsupported_policy_expression(
                        expr.span,
                        "this number",
                    ));
                    None
                }
            },
            ExprKind::String(text) => Some((
                PolicyExpr::Literal(Value::String(text.clone())),
                Typed::scalar(ScalarType::String),
            )),
            ExprKind::Null => Some((
                PolicyExpr::Literal(Value::Null),
                Typed {
                    base: BaseType::Null,
                    list: false,
                    nullable: true,
                },
            )),
            ExprKind::Array(items) => {
                let element_hint = hint.map(|h| Typed { list: false, ..h });
                let mut values = Vec::with_capacity(items.len());
                let mut element: Option<Typed> = None;
                for item in items {
                    let (value, typed) = self.expr(item, scope, context, element_hint)?;
                    if typed.list {
                        self.error(diag::unsupported_policy_expression(
                            item.span,
                            "a list inside a list",
                        ));
                        return None;
                    }
                    match element {
                        Some(first) if !self.comparable(first, typed) => {
                            let message = diag::incomparable(
                                "[...]",
                                item.span,
                                &self.describe_type(first),
                                &self.describe_type(typed),
                            );
                            self.error(message);
                            return None;
                        }
                        Some(_) => {}
                        None => element = Some(typed),
                    }
                    values.push(value);
                }
                let base = element.map_or(BaseType::Null, |e| e.base);
                Some((
                    PolicyExpr::Array(values),
                    Typed {
                        base,
                        list: true,
                        nullable: false,
                    },
                ))
            }
            ExprKind::This
            | ExprKind::Ident(_)
            | ExprKind::Call { .. }
            | ExprKind::Member { .. } => self.path_expr(expr, scope, context, hint),
            ExprKind::Collection {
                object,
                quantifier,
                predicate,
            } => {
                let (collection, typed) = self.path_expr(object, scope, context, None)?;
                let PolicyExpr::Path(path) = collection else {
                    self.error(diag::collection_on_non_list("a value", object.span));
                    return None;
                };
                let element = match typed.base {
                    BaseType::Model(model) if typed.list => model,
                    _ => {
                        let what = self.describe_type(typed);
                        self.error(diag::collection_on_non_list(&what, object.span));
                        return None;
                    }
                };
                let (predicate_expr, predicate_type) =
                    self.expr(predicate, element, context, None)?;
                if !predicate_type.is_boolean() {
                    self.error(diag::not_boolean(
                        predicate.span,
                        &self.describe_type(predicate_type),
                        "a collection predicate",
                    ));
                    return None;
                }
                let quantifier = match quantifier {
                    ast::Quantifier::Some => Quantifier::Some,
                    ast::Quantifier::All => Quantifier::All,
                    ast::Quantifier::None => Quantifier::None,
                };
                Some((
                    PolicyExpr::Collection {
                        quantifier,
                        collection: path,
                        predicate: Box::new(predicate_expr),
                    },
                    Typed::scalar(ScalarType::Boolean),
                ))
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                operand,
            } => {
                let (inner, typed) = self.expr(operand, scope, context, None)?;
                if !typed.is_boolean() {
                    self.error(diag::not_boolean(
                        operand.span,
                        &self.describe_type(typed),
                        "the operand of `!`",
                    ));
                    return None;
                }
                Some((
                    PolicyExpr::Not(Box::new(inner)),
                    Typed::scalar(ScalarType::Boolean),
                ))
            }
            ExprKind::Unary {
                op: UnaryOp::Neg, ..
            } => {
                self.error(diag::unsupported_policy_expression_with_help(
                    expr.span,
                    "negating an expression",
                    "only number literals can be negative: `-1`",
                ));
                None
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.binary(*op, lhs, rhs, expr.span, scope, context)
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
        scope: ModelId,
        context: RuleContext,
    ) -> Option<(PolicyExpr, Typed)> {
        let boolean = Typed::scalar(ScalarType::Boolean);
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let left = self.expr(lhs, scope, context, None);
            let right = self.expr(rhs, scope, context, None);
            let (left, left_type) = left?;
            let (right, right_type) = right?;
            for (side, typed) in [(lhs, left_type), (rhs, right_type)] {
                if !typed.is_boolean() {
                    let context_text = format!("each side of `{}`", op.as_str());
                    self.error(diag::not_boolean(
                        side.span,
                        &self.describe_type(typed),
                        &context_text,
                    ));
                    return None;
                }
            }
            let combined = if op == BinaryOp::And {
                PolicyExpr::And(Box::new(left), Box::new(right))
            } else {
                PolicyExpr::Or(Box::new(left), Box::new(right))
            };
            return Some((combined, boolean));
        }

        // Check the side that is not a bare enum value first, so the enum value can be read
        // against the other side's type.
        let right_first =
            self.is_unresolved_name(lhs, scope) && !self.is_unresolved_name(rhs, scope);
        let (left, right) = if right_first {
            let right = self.expr(rhs, scope, context, None)?;
            let hint = Typed {
                list: false,
                ..right.1
            };
            let left = self.expr(lhs, scope, context, Some(hint))?;
            (left, right)
        } else {
            let left = self.expr(lhs, scope, context, None)?;
            let right = self.expr(rhs, scope, context, Some(left.1))?;
            (left, right)
        };
        let (left, left_type) = left;
        let (right, right_type) = right;

        if op == BinaryOp::In {
            if !right_type.list {
                self.error(diag::in_needs_list(
                    rhs.span,
                    &self.describe_type(right_type),
                ));
                return None;
            }
            let element = Typed {
                list: false,
                nullable: false,
                ..right_type
            };
            let empty_list = right_type.base == BaseType::Null;
            if left_type.list || (!empty_list && !self.comparable(left_type, element)) {
                let message = diag::incomparable(
                    "in",
                    span,
                    &self.describe_type(left_type),
                    &self.describe_type(right_type),
                );
                self.error(message);
                return None;
            }
            return Some((
                PolicyExpr::In {
                    lhs: Box::new(left),
                    rhs: Box::new(right),
                },
                boolean,
            ));
        }

        let comparison = match op {
            BinaryOp::Eq => ComparisonOp::Eq,
            BinaryOp::Ne => ComparisonOp::Ne,
            BinaryOp::Lt => ComparisonOp::Lt,
            BinaryOp::Le => ComparisonOp::Le,
            BinaryOp::Gt => ComparisonOp::Gt,
            _ => ComparisonOp::Ge,
        };
        if matches!(comparison, ComparisonOp::Eq | ComparisonOp::Ne) {
            if !self.comparable(left_type, right_type) {
                let mut message = diag::incomparable(
                    op.as_str(),
                    span,
                    &self.describe_type(left_type),
                    &self.describe_type(right_type),
                );
                message = message.with_help(self.comparison_help(left_type, right_type));
                self.error(message);
                return None;
            }
        } else {
            for (side, typed) in [(lhs, left_type), (rhs, right_type)] {
                let orderable = !typed.list
                    && matches!(typed.base, BaseType::Scalar(s) if s.is_numeric() || matches!(s, ScalarType::DateTime | ScalarType::String));
                if !orderable {
                    self.error(diag::not_orderable(
                        op.as_str(),
                        side.span,
                        &self.describe_type(typed),
                    ));
                    return None;
                }
            }
            if !self.comparable(left_type, right_type) {
                let message = diag::incomparable(
                    op.as_str(),
                    span,
                    &self.describe_type(left_type),
                    &self.describe_type(right_type),
                );
                self.error(message);
                return None;
            }
        }
        Some((
            PolicyExpr::Compare {
                op: comparison,
                lhs: Box::new(left),
                rhs: Box::new(right),
            },
            boolean,
        ))
    }

    fn comparable(&self, a: Typed, b: Typed) -> bool {
        if a.list || b.list {
            return false;
        }
        match (a.base, b.base) {
            (BaseType::Null, BaseType::Null) => true,
            (BaseType::Null, _) => b.nullable,
            (_, BaseType::Null) => a.nullable,
            (BaseType::Scalar(x), BaseType::Scalar(y)) => same_family(x, y),
            (BaseType::Enum(x), BaseType::Enum(y)) => x == y,
            (BaseType::Model(x), BaseType::Model(y)) => x == y,
            _ => false,
        }
    }

    fn comparison_help(&self, a: Typed, b: Typed) -> String {
        match (a.base, b.base) {
            (BaseType::Null, _) | (_, BaseType::Null) => {
                "only optional fields, optional relations and `auth()` can be null".to_string()
            }
            (BaseType::Model(_), BaseType::Scalar(_)) | (BaseType::Scalar(_), BaseType::Model(_)) => {
                "compare a row with a row (`owner == auth()`) or a field with a field (`ownerId == auth().id`)"
                    .to_string()
            }
            (BaseType::Enum(id), BaseType::Scalar(ScalarType::String))
            | (BaseType::Scalar(ScalarType::String), BaseType::Enum(id)) => format!(
                "write the value of enum `{}` without quotes",
                self.enums[id.0].name
            ),
            _ if a.list || b.list => {
                "lists cannot be compared with `==`; use `in` or a collection predicate such as `items?[...]`"
                    .to_string()
            }
            _ => "both sides must have the same type".to_string(),
        }
    }

    /// `this`, a field name, `auth()`, `future()`, and member access on those.
    fn path_expr(
        &mut self,
        expr: &Expr,
        scope: ModelId,
        context: RuleContext,
        hint: Option<Typed>,
    ) -> Option<(PolicyExpr, Typed)> {
        let expr = unparen(expr);
        match &expr.kind {
            ExprKind::This => Some((
                PolicyExpr::Path(Path {
                    root: PathRoot::Scope,
                    fields: Vec::new(),
                }),
                Typed {
                    base: BaseType::Model(scope),
                    list: false,
                    nullable: false,
                },
            )),
            ExprKind::Ident(name) => {
                if let Some(field) = self.find_field(scope, name) {
                    return Some((
                        PolicyExpr::Path(Path {
                            root: PathRoot::Scope,
                            fields: vec![field],
                        }),
                        self.field_type(field),
                    ));
                }
                self.enum_value(name, expr.span, scope, hint)
            }
            ExprKind::Call { callee, args } => {
                if let Some(extra) = args.first() {
                    if matches!(callee.name.as_str(), "auth" | "future") {
                        self.error(diag::unsupported_policy_expression(
                            extra.span,
                            &format!("an argument to `{}()`", callee.name),
                        ));
                        return None;
                    }
                }
                match callee.name.as_str() {
                    "auth" => {
                        let Some(auth) = self.auth_model else {
                            self.error(diag::no_auth_model(expr.span));
                            return None;
                        };
                        Some((
                            PolicyExpr::Path(Path {
                                root: PathRoot::Auth,
                                fields: Vec::new(),
                            }),
                            Typed {
                                base: BaseType::Model(auth),
                                list: false,
                                nullable: true,
                            },
                        ))
                    }
                    "future" => {
                        if !context.future_allowed {
                            self.error(diag::future_outside_update(expr.span));
                            return None;
                        }
                        Some((
                            PolicyExpr::Path(Path {
                                root: PathRoot::Future,
                                fields: Vec::new(),
                            }),
                            Typed {
                                base: BaseType::Model(context.model),
                                list: false,
                                nullable: false,
                            },
                        ))
                    }
                    other => {
                        self.error(diag::unsupported_policy_expression_with_help(
                            callee.span,
                            &format!("the function `{other}()`"),
                            "policies can call `auth()` and `future()`",
                        ));
                        None
                    }
                }
            }
            ExprKind::Member { object, member } => {
                let (object_expr, object_type) = self.path_expr(object, scope, context, None)?;
                let PolicyExpr::Path(mut path) = object_expr else {
                    self.error(diag::unsupported_policy_expression(
                        object.span,
                        &format!("member access on {}", describe(object)),
                    ));
                    return None;
                };
                let model = match object_type.base {
                    BaseType::Model(model) if !object_type.list => model,
                    BaseType::Model(_) => {
                        self.error(diag::unsupported_policy_expression_with_help(
                            member.span,
                            "member access on a to-many relation",
                            &format!(
                                "test its elements with a collection predicate, such as `{}?[{} == ...]`",
                                print::expr(object),
                                member.name
                            ),
                        ));
                        return None;
                    }
                    _ => {
                        let what = format!("member access on {}", self.describe_type(object_type));
                        self.error(diag::unsupported_policy_expression(member.span, &what));
                        return None;
                    }
                };
                let Some(field) = self.find_field(model, &member.name) else {
                    let model_name = self.models[model.0].model.name.clone();
                    let candidates: Vec<String> = self.models[model.0]
                        .model
                        .fields
                        .iter()
                        .map(|f| f.name.clone())
                        .collect();
                    self.error(diag::unknown_name_in_policy(
                        &member.name,
                        &model_name,
                        member.span,
                        candidates.iter().map(String::as_str),
                    ));
                    return None;
                };
                let mut typed = self.field_type(field);
                typed.nullable |= object_type.nullable;
                path.fields.push(field);
                Some((PolicyExpr::Path(path), typed))
            }
            _ => self.expr(expr, scope, context, hint),
        }
    }

    /// A bare name that is not a field: an enum value, read against the hinted enum or, failing
    /// that, the only enum that has a value of that name.
    fn enum_value(
        &mut self,
        name: &str,
        span: Span,
        scope: ModelId,
        hint: Option<Typed>,
    ) -> Option<(PolicyExpr, Typed)> {
        let literal = |enum_id: EnumId, value: usize| {
            Some((
                PolicyExpr::Literal(Value::Enum { enum_id, value }),
                Typed {
                    base: BaseType::Enum(enum_id),
                    list: false,
                    nullable: false,
                },
            ))
        };
        if let Some(Typed {
            base: BaseType::Enum(enum_id),
            ..
        }) = hint
        {
            let enum_ = &self.enums[enum_id.0];
            if let Some(value) = enum_.values.iter().position(|v| v.name == name) {
                return literal(enum_id, value);
            }
            let enum_name = enum_.name.clone();
            let candidates: Vec<String> = enum_.values.iter().map(|v| v.name.clone()).collect();
            self.error(diag::unknown_enum_value(
                &enum_name,
                name,
                span,
                candidates.iter().map(String::as_str),
            ));
            return None;
        }
        let matches: Vec<(EnumId, usize)> = self
            .enums
            .iter()
            .filter_map(|e| {
                e.values
                    .iter()
                    .position(|v| v.name == name)
                    .map(|value| (e.id, value))
            })
            .collect();
        if let [(enum_id, value)] = matches.as_slice() {
            return literal(*enum_id, *value);
        }
        let model_name = self.models[scope.0].model.name.clone();
        let candidates: Vec<String> = self.models[scope.0]
            .model
            .fields
            .iter()
            .map(|f| f.name.clone())
            .collect();
        let mut diagnostic = diag::unknown_name_in_policy(
            name,
            &model_name,
            span,
            candidates.iter().map(String::as_str),
        );
        if matches.len() > 1 {
            diagnostic = diagnostic.with_help(format!(
                "`{name}` is a value of several enums; compare it with a field of the enum you mean"
            ));
        }
        self.error(diagnostic);
        None
    }
}
