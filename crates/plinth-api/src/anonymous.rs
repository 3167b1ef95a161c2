//! Whether an operation can ever succeed without a token, decided from the policy rules alone.
//!
//! The OpenAPI document marks such operations with optional security and the reference says
//! "anonymous callers may…". The analysis is conservative in the direction that matters for
//! documentation: "may work anonymously" is said whenever we cannot prove otherwise, and "needs a
//! token" only when every allow rule is false for a null `auth()` or a deny rule is surely true.

use plinth_model::{
    ComparisonOp, Effect, Operation, Path, PathRoot, PolicyExpr, Quantifier, Value,
};

/// Whether some allow rule for `operation` can hold when `auth()` is null and no deny rule for it
/// surely holds then.
pub fn anonymous_may_perform(policies: &[plinth_model::Policy], operation: Operation) -> bool {
    let applicable = policies
        .iter()
        .filter(|policy| policy.operations.contains(operation));
    let mut some_allow_may_hold = false;
    for policy in applicable {
        match policy.effect {
            Effect::Deny => {
                if surely_holds_for_anonymous(&policy.condition) {
                    return false;
                }
            }
            Effect::Allow => {
                if may_hold_for_anonymous(&policy.condition) {
                    some_allow_may_hold = true;
                }
            }
        }
    }
    some_allow_may_hold
}

fn is_auth_path(expression: &PolicyExpr) -> bool {
    matches!(
        expression,
        PolicyExpr::Path(Path {
            root: PathRoot::Auth,
            ..
        })
    )
}

fn is_bare_auth(expression: &PolicyExpr) -> bool {
    matches!(
        expression,
        PolicyExpr::Path(Path {
            root: PathRoot::Auth,
            fields,
        }) if fields.is_empty()
    )
}

fn is_null(expression: &PolicyExpr) -> bool {
    matches!(expression, PolicyExpr::Literal(Value::Null))
}

/// `auth() == null` in either order.
fn is_anonymous_test(op: ComparisonOp, lhs: &PolicyExpr, rhs: &PolicyExpr) -> bool {
    op == ComparisonOp::Eq
        && ((is_bare_auth(lhs) && is_null(rhs)) || (is_null(lhs) && is_bare_auth(rhs)))
}

/// Can this condition be true for a caller without a token? `true` when unsure.
pub fn may_hold_for_anonymous(expression: &PolicyExpr) -> bool {
    match expression {
        PolicyExpr::Literal(Value::Boolean(value)) => *value,
        PolicyExpr::Literal(_) | PolicyExpr::Path(_) | PolicyExpr::Array(_) => true,
        // `!x` may hold unless `x` surely holds.
        PolicyExpr::Not(inner) => !surely_holds_for_anonymous(inner),
        PolicyExpr::And(left, right) => {
            may_hold_for_anonymous(left) && may_hold_for_anonymous(right)
        }
        PolicyExpr::Or(left, right) => {
            may_hold_for_anonymous(left) || may_hold_for_anonymous(right)
        }
        PolicyExpr::Compare { op, lhs, rhs } => {
            if is_anonymous_test(*op, lhs, rhs) {
                return true;
            }
            let involves_auth = is_auth_path(lhs) || is_auth_path(rhs);
            if !involves_auth {
                return true;
            }
            // `auth() != null` is false for anonymous callers; `auth().role != ADMIN` compares
            // null with a value, which we treat as unknown (may hold).
            match op {
                ComparisonOp::Ne => !(is_null(lhs) || is_null(rhs)),
                // Comparing a null caller (or a field of one) with a non-null value is false.
                _ => is_null(lhs) || is_null(rhs),
            }
        }
        PolicyExpr::In { lhs, .. } => !is_auth_path(lhs),
        PolicyExpr::Collection {
            quantifier,
            predicate,
            ..
        } => match quantifier {
            // "some element matches" needs a matching element.
            Quantifier::Some => may_hold_for_anonymous(predicate),
            // "all"/"none" hold on an empty collection.
            Quantifier::All | Quantifier::None => true,
        },
    }
}

/// Is this condition certainly true for a caller without a token? `false` when unsure.
pub fn surely_holds_for_anonymous(expression: &PolicyExpr) -> bool {
    match expression {
        PolicyExpr::Literal(Value::Boolean(value)) => *value,
        PolicyExpr::Not(inner) => !may_hold_for_anonymous(inner),
        PolicyExpr::And(left, right) => {
            surely_holds_for_anonymous(left) && surely_holds_for_anonymous(right)
        }
        PolicyExpr::Or(left, right) => {
            surely_holds_for_anonymous(left) || surely_holds_for_anonymous(right)
        }
        PolicyExpr::Compare { op, lhs, rhs } => is_anonymous_test(*op, lhs, rhs),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_model::{Operations, Policy};

    fn auth() -> PolicyExpr {
        PolicyExpr::Path(Path {
            root: PathRoot::Auth,
            fields: Vec::new(),
        })
    }

    fn this_field() -> PolicyExpr {
        PolicyExpr::Path(Path {
            root: PathRoot::Scope,
            fields: Vec::new(),
        })
    }

    fn compare(op: ComparisonOp, lhs: PolicyExpr, rhs: PolicyExpr) -> PolicyExpr {
        PolicyExpr::Compare {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }

    fn rule(effect: Effect, operations: Operations, condition: PolicyExpr) -> Policy {
        Policy {
            effect,
            operations,
            condition,
            source: String::new(),
            span: Default::default(),
        }
    }

    #[test]
    fn literal_true_allows_anonymous() {
        let policies = [rule(
            Effect::Allow,
            Operations::ALL,
            PolicyExpr::Literal(Value::Boolean(true)),
        )];
        assert!(anonymous_may_perform(&policies, Operation::Read));
    }

    #[test]
    fn owner_equals_auth_needs_a_token() {
        let policies = [rule(
            Effect::Allow,
            Operations::ALL,
            compare(ComparisonOp::Eq, this_field(), auth()),
        )];
        assert!(!anonymous_may_perform(&policies, Operation::Update));
    }

    #[test]
    fn deny_when_anonymous_wins() {
        let policies = [
            rule(
                Effect::Deny,
                Operations::ALL,
                compare(ComparisonOp::Eq, auth(), PolicyExpr::Literal(Value::Null)),
            ),
            rule(
                Effect::Allow,
                Operations::ALL,
                PolicyExpr::Literal(Value::Boolean(true)),
            ),
        ];
        assert!(!anonymous_may_perform(&policies, Operation::Create));
    }

    #[test]
    fn operation_without_rule_is_not_anonymous() {
        let read_only = Operations {
            read: true,
            ..Operations::default()
        };
        let policies = [rule(
            Effect::Allow,
            read_only,
            PolicyExpr::Literal(Value::Boolean(true)),
        )];
        assert!(anonymous_may_perform(&policies, Operation::Read));
        assert!(!anonymous_may_perform(&policies, Operation::Delete));
    }

    #[test]
    fn auth_not_null_needs_a_token() {
        let condition = compare(ComparisonOp::Ne, auth(), PolicyExpr::Literal(Value::Null));
        assert!(!may_hold_for_anonymous(&condition));
        let negated = PolicyExpr::Not(Box::new(compare(
            ComparisonOp::Eq,
            auth(),
            PolicyExpr::Literal(Value::Null),
        )));
        assert!(!may_hold_for_anonymous(&negated));
    }
}
