//! The rule catalogue: every rule's stable id, default severity, category and one-line summary.
//!
//! Each rules module declares its own `RULES`; this module is the one list of them, used by the
//! configuration (unknown ids are refused), the SARIF driver section and the documentation test
//! (every id has `docs/rules/<id>.md` and ok/err fixtures).

use crate::rules;
use plinth_diagnostics::Severity;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    ApiDesign,
    ApiSecurity,
    SqlSchema,
    Migration,
    Schema,
    CrossArtifact,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::ApiDesign => "api-design",
            Category::ApiSecurity => "api-security",
            Category::SqlSchema => "sql-schema",
            Category::Migration => "migration",
            Category::Schema => "schema",
            Category::CrossArtifact => "cross-artifact",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// Stable kebab-case id; never reused for a different check.
    pub id: &'static str,
    pub severity: Severity,
    pub category: Category,
    /// One line: what the rule flags (shown in SARIF and `plinth review --list-rules`).
    pub summary: &'static str,
}

/// Every rule, grouped by category, in catalogue order.
pub fn all() -> impl Iterator<Item = &'static RuleInfo> {
    rules::CATALOGUE.iter().flat_map(|group| group.iter())
}

pub fn find(id: &str) -> Option<&'static RuleInfo> {
    all().find(|rule| rule.id == id)
}

/// Where a rule's documentation lives, relative to the repository root.
pub fn doc_path(id: &str) -> String {
    format!("docs/rules/{id}.md")
}
