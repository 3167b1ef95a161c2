//! Attribute arguments: binding positional and named arguments to parameters, and reading
//! argument values (strings, numbers, names, field lists) with precise errors.

use super::Checker;
use crate::diagnostics as diag;
use plinth_diagnostics::Span;
use plinth_syntax::ast::{Arg, Attribute, Expr, ExprKind};

/// One entry of a field list: `a` or `a(sort: Desc)`.
pub(crate) struct FieldReference<'b> {
    pub name: &'b str,
    pub span: Span,
    pub args: &'b [Arg],
}

/// What an expression is, for messages: "a string", "a number", "`foo`".
pub(crate) fn describe(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::String(_) => "a string".to_string(),
        ExprKind::Number(_) => "a number".to_string(),
        ExprKind::Bool(_) => "a boolean".to_string(),
        ExprKind::Null => "`null`".to_string(),
        ExprKind::This => "`this`".to_string(),
        ExprKind::Ident(name) => format!("`{name}`"),
        ExprKind::Array(_) => "a list".to_string(),
        ExprKind::Call { callee, .. } => format!("`{}()`", callee.name),
        ExprKind::Member { .. } => "a member access".to_string(),
        ExprKind::Collection { .. } => "a collection predicate".to_string(),
        ExprKind::Unary { .. } | ExprKind::Binary { .. } => "an expression".to_string(),
        ExprKind::Paren(inner) => describe(inner),
        ExprKind::Error => "an invalid expression".to_string(),
    }
}

/// Strips parentheses: `(a)` is `a`.
pub(crate) fn unparen(expr: &Expr) -> &Expr {
    match &expr.kind {
        ExprKind::Paren(inner) => unparen(inner),
        _ => expr,
    }
}

impl Checker<'_> {
    /// Binds an attribute's arguments to `parameters`: named arguments by name, positional ones
    /// to the remaining parameters in order. Unknown names, repeats and extra arguments are
    /// reported and skipped.
    pub(crate) fn bind_arguments<'b>(
        &mut self,
        attribute: &'b Attribute,
        display: &str,
        parameters: &[&str],
    ) -> Vec<Option<&'b Arg>> {
        let mut bound: Vec<Option<&'b Arg>> = vec![None; parameters.len()];
        for arg in attribute.args.iter().filter(|a| a.name.is_some()) {
            let Some(name) = &arg.name else { continue };
            match parameters.iter().position(|p| *p == name.name) {
                Some(index) if bound[index].is_some() => {
                    self.error(diag::invalid_argument(
                        display,
                        arg.span,
                        &format!("`{}` is given more than once", name.name),
                    ));
                }
                Some(index) => bound[index] = Some(arg),
                None => self.error(diag::unknown_argument(
                    display, &name.name, name.span, parameters,
                )),
            }
        }
        for arg in attribute.args.iter().filter(|a| a.name.is_none()) {
            match bound.iter().position(Option::is_none) {
                Some(index) => bound[index] = Some(arg),
                None => {
                    let message = if parameters.is_empty() {
                        "it takes no arguments".to_string()
                    } else {
                        "too many arguments".to_string()
                    };
                    self.error(diag::invalid_argument(display, arg.span, &message));
                }
            }
        }
        bound
    }

    /// `@map("name")`, `@@map("name")`, `@@schema("name")`: one string.
    pub(crate) fn single_string_argument(
        &mut self,
        attribute: &Attribute,
        display: &str,
    ) -> Option<String> {
        let bound = self.bind_arguments(attribute, display, &["name"]);
        match bound[0] {
            Some(arg) => self.expect_string(arg, display),
            None => {
                self.error(diag::missing_argument(
                    display,
                    "name",
                    attribute.span,
                    &format!("{display}(\"name\")"),
                ));
                None
            }
        }
    }

    pub(crate) fn expect_string(&mut self, arg: &Arg, display: &str) -> Option<String> {
        match &unparen(&arg.value).kind {
            ExprKind::String(text) => Some(text.clone()),
            ExprKind::Error => None,
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    arg.value.span,
                    &format!("expected a string, found {}", describe(&arg.value)),
                ));
                None
            }
        }
    }

    /// A number literal as written.
    pub(crate) fn expect_number(&mut self, arg: &Arg, display: &str) -> Option<String> {
        match &unparen(&arg.value).kind {
            ExprKind::Number(text) if text.parse::<f64>().is_ok() => Some(text.clone()),
            ExprKind::Error => None,
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    arg.value.span,
                    &format!("expected a number, found {}", describe(&arg.value)),
                ));
                None
            }
        }
    }

    pub(crate) fn expect_u32(&mut self, arg: &Arg, display: &str) -> Option<u32> {
        match &unparen(&arg.value).kind {
            ExprKind::Number(text) => match text.parse::<u32>() {
                Ok(value) => Some(value),
                Err(_) => {
                    self.error(diag::invalid_argument(
                        display,
                        arg.value.span,
                        "expected a whole number that is not negative",
                    ));
                    None
                }
            },
            ExprKind::Error => None,
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    arg.value.span,
                    &format!("expected a number, found {}", describe(&arg.value)),
                ));
                None
            }
        }
    }

    /// A bare name: `Desc`, `Cascade`, `Hash`.
    pub(crate) fn expect_ident<'b>(
        &mut self,
        arg: &'b Arg,
        display: &str,
    ) -> Option<(&'b str, Span)> {
        match &unparen(&arg.value).kind {
            ExprKind::Ident(name) => Some((name.as_str(), arg.value.span)),
            ExprKind::Error => None,
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    arg.value.span,
                    &format!("expected a name, found {}", describe(&arg.value)),
                ));
                None
            }
        }
    }

    /// `[a, b(sort: Desc)]`, or a single `a` / `a(sort: Desc)` without brackets.
    pub(crate) fn field_list<'b>(
        &mut self,
        expr: &'b Expr,
        display: &str,
    ) -> Option<Vec<FieldReference<'b>>> {
        let expr = unparen(expr);
        let items: Vec<&'b Expr> = match &expr.kind {
            ExprKind::Array(items) => items.iter().collect(),
            ExprKind::Ident(_) | ExprKind::Call { .. } => vec![expr],
            ExprKind::Error => return None,
            _ => {
                self.error(diag::invalid_argument(
                    display,
                    expr.span,
                    &format!("expected a list of fields, found {}", describe(expr)),
                ));
                return None;
            }
        };
        let mut fields = Vec::new();
        for item in items {
            match &unparen(item).kind {
                ExprKind::Ident(name) => fields.push(FieldReference {
                    name,
                    span: item.span,
                    args: &[],
                }),
                ExprKind::Call { callee, args } => fields.push(FieldReference {
                    name: &callee.name,
                    span: callee.span,
                    args,
                }),
                ExprKind::Error => return None,
                _ => {
                    self.error(diag::invalid_argument(
                        display,
                        item.span,
                        &format!("expected a field name, found {}", describe(item)),
                    ));
                    return None;
                }
            }
        }
        Some(fields)
    }
}
