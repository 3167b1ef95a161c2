//! Prints syntax-tree expressions and attributes back to schema text, for help messages and for
//! [`crate::Policy::source`] when the checker is given a tree without its source text.

use plinth_syntax::ast::{Arg, Attribute, Expr, ExprKind, Quantifier, UnaryOp};

/// `@@allow('read', owner == auth())`
pub fn attribute(attribute: &Attribute) -> String {
    let prefix = if attribute.is_block { "@@" } else { "@" };
    let mut out = format!("{prefix}{}", attribute.name.name);
    if attribute.has_parens || !attribute.args.is_empty() {
        out.push('(');
        out.push_str(&args(&attribute.args));
        out.push(')');
    }
    out
}

fn args(args: &[Arg]) -> String {
    args.iter()
        .map(|arg| match &arg.name {
            Some(name) => format!("{}: {}", name.name, expr(&arg.value)),
            None => expr(&arg.value),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn quote(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// An expression as schema text, parenthesised as written.
pub fn expr(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::String(text) => quote(text),
        ExprKind::Number(text) => text.clone(),
        ExprKind::Bool(value) => value.to_string(),
        ExprKind::Null => "null".to_string(),
        ExprKind::This => "this".to_string(),
        ExprKind::Ident(name) => name.clone(),
        ExprKind::Array(items) => format!(
            "[{}]",
            items.iter().map(self::expr).collect::<Vec<_>>().join(", ")
        ),
        ExprKind::Call {
            callee,
            args: call_args,
        } => format!("{}({})", callee.name, args(call_args)),
        ExprKind::Member { object, member } => format!("{}.{}", self::expr(object), member.name),
        ExprKind::Collection {
            object,
            quantifier,
            predicate,
        } => {
            let mark = match quantifier {
                Quantifier::Some => '?',
                Quantifier::All => '!',
                Quantifier::None => '^',
            };
            format!("{}{mark}[{}]", self::expr(object), self::expr(predicate))
        }
        ExprKind::Unary { op, operand } => {
            let mark = match op {
                UnaryOp::Not => '!',
                UnaryOp::Neg => '-',
            };
            format!("{mark}{}", self::expr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            format!("{} {} {}", self::expr(lhs), op.as_str(), self::expr(rhs))
        }
        ExprKind::Paren(inner) => format!("({})", self::expr(inner)),
        ExprKind::Error => "<error>".to_string(),
    }
}
