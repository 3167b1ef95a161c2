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

/// The text of `docs/rules/README.md`: one table per category, in catalogue order. A test keeps
/// the committed file equal to it (and rewrites it with `PLINTH_BLESS=1`).
pub fn index_markdown() -> String {
    let mut out = String::from(
        "# Review rules\n\n\
         The catalogue of `plinth review` ([user guide](../review.md)). Every rule has a stable id,\n\
         a default severity that the configuration file or an inline comment can change, and a\n\
         page: what it checks, why it matters, a bad and a good example, and how to fix it.\n\n\
         <!-- Generated from crates/plinth-review/src/registry.rs; regenerate with\n     \
         PLINTH_BLESS=1 cargo test -p plinth-review --test outputs -->\n",
    );
    let categories = [
        (Category::ApiDesign, "API design", "OpenAPI documents"),
        (Category::ApiSecurity, "API security", "OpenAPI documents"),
        (
            Category::SqlSchema,
            "SQL schema",
            "SQL schema files and migrations",
        ),
        (Category::Migration, "Migrations", "PostgreSQL migrations"),
        (
            Category::Schema,
            "Schemas",
            "Prisma, Plinth and ZenStack schemas",
        ),
        (
            Category::CrossArtifact,
            "Cross-artifact",
            "several inputs reviewed together",
        ),
    ];
    let total = all().count();
    let used = categories
        .iter()
        .filter(|(category, ..)| all().any(|rule| rule.category == *category))
        .count();
    out.push_str(&format!("\n{total} rules in {used} categories.\n"));
    for (category, title, applies_to) in categories {
        if !all().any(|rule| rule.category == category) {
            continue;
        }
        out.push_str(&format!(
            "\n## {title}\n\nCategory `{}`, for {applies_to}.\n\n",
            category.as_str()
        ));
        out.push_str("| Rule | Severity | What it flags |\n| --- | --- | --- |\n");
        for rule in all().filter(|rule| rule.category == category) {
            out.push_str(&format!(
                "| [`{id}`]({id}.md) | {} | {} |\n",
                rule.severity.as_str(),
                rule.summary.replace('|', "\\|"),
                id = rule.id,
            ));
        }
    }
    out
}
