//! The rules, one module per category. Each module has `RULES` (its part of the catalogue) and
//! `check(workspace, sink)`, which runs all of its rules; a rule that does not apply to the
//! inputs at hand (no SQL given, say) simply finds nothing.

mod api_design;
mod api_security;
mod cross;
mod migration;
mod money;
mod schema;
mod sql_schema;

use crate::registry::RuleInfo;
use crate::{Sink, Workspace};

pub(crate) const CATALOGUE: &[&[RuleInfo]] = &[
    api_design::RULES,
    api_security::RULES,
    sql_schema::RULES,
    migration::RULES,
    schema::RULES,
    cross::RULES,
];

pub(crate) fn check_all(workspace: &Workspace, sink: &mut Sink) {
    api_design::check(workspace, sink);
    api_security::check(workspace, sink);
    sql_schema::check(workspace, sink);
    migration::check(workspace, sink);
    schema::check(workspace, sink);
    cross::check(workspace, sink);
}
