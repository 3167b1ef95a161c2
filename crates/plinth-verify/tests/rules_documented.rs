//! The rule catalogue in `docs/verify.md` and the code agree: every rule id a module reports has
//! a `### rule-id` section there (with its severity and the module's one-line description), and
//! every `### …` section of the catalogue is a real rule — so a rule cannot ship undocumented and
//! the guide cannot describe a rule that no longer exists.

use plinth_verify::{authz, contract, load, security, tokens};
use std::collections::BTreeSet;
use std::path::Path;

/// The heading that opens the catalogue; it runs to the next `## ` heading.
const CATALOGUE_HEADING: &str = "## Rule catalogue";

/// The families of rule ids (the team's naming convention).
const PREFIXES: &[&str] = &[
    "contract-",
    "authz-",
    "auth-",
    "injection-",
    "exposure-",
    "rate-limit-",
    "load-",
];

/// Every rule id in the code, with its one-line description when the module has a `RULES` list.
fn rules() -> Vec<(&'static str, Option<&'static str>)> {
    let mut all: Vec<(&'static str, Option<&'static str>)> = Vec::new();
    for list in [
        contract::RULES,
        authz::RULES,
        tokens::RULES,
        security::RULES,
    ] {
        all.extend(
            list.iter()
                .map(|(rule, description)| (*rule, Some(*description))),
        );
    }
    // The load module names its rules as constants, without a `RULES` list.
    all.extend([
        (load::LOAD_SERVER_ERRORS, None),
        (load::LOAD_TRANSPORT_ERRORS, None),
    ]);
    all
}

/// The guide's text, or `None` (after saying why) when the docs folder is not there — for a
/// crate built on its own, outside the workspace.
fn guide() -> Option<String> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    if !docs.is_dir() {
        eprintln!(
            "skipping the rule catalogue check: no docs folder at {}",
            docs.display()
        );
        return None;
    }
    let path = docs.join("verify.md");
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display())),
    )
}

/// The catalogue's sections: (heading text, body up to the next heading of level 2 or 3).
fn catalogue_sections(guide: &str) -> Vec<(String, String)> {
    let start = guide
        .lines()
        .position(|line| line.trim_end() == CATALOGUE_HEADING)
        .unwrap_or_else(|| panic!("docs/verify.md has no `{CATALOGUE_HEADING}` heading"));
    let mut sections: Vec<(String, String)> = Vec::new();
    for line in guide.lines().skip(start + 1) {
        if line.starts_with("## ") {
            break;
        }
        if let Some(heading) = line.strip_prefix("### ") {
            sections.push((heading.trim().to_string(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections
}

/// Markdown text as prose: line breaks inside a paragraph are spaces.
fn reflowed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn rule_ids_are_unique_and_follow_the_naming_convention() {
    let mut seen = BTreeSet::new();
    for (rule, _) in rules() {
        assert!(seen.insert(rule), "{rule} is listed twice");
        assert!(
            PREFIXES.iter().any(|prefix| rule.starts_with(prefix)),
            "{rule} has none of the prefixes {PREFIXES:?}"
        );
        assert!(
            rule.chars()
                .all(|character| character.is_ascii_lowercase() || character == '-')
                && !rule.ends_with('-')
                && !rule.contains("--"),
            "{rule} is not kebab-case"
        );
    }
}

#[test]
fn every_rule_is_documented_and_every_documented_rule_exists() {
    let Some(guide) = guide() else {
        return;
    };
    let sections = catalogue_sections(&guide);
    let known: BTreeSet<&str> = rules().iter().map(|(rule, _)| *rule).collect();

    let mut documented = BTreeSet::new();
    for (heading, _) in &sections {
        assert!(
            known.contains(heading.as_str()),
            "docs/verify.md documents `### {heading}`, which no module reports (known: {known:?})"
        );
        assert!(
            documented.insert(heading.clone()),
            "docs/verify.md documents `### {heading}` twice"
        );
    }
    let missing: Vec<&str> = known
        .iter()
        .copied()
        .filter(|rule| !documented.contains(*rule))
        .collect();
    assert!(
        missing.is_empty(),
        "rules without a `### rule-id` section in docs/verify.md's catalogue: {missing:?}"
    );

    for (rule, description) in rules() {
        let Some((_, body)) = sections.iter().find(|(heading, _)| heading == rule) else {
            continue;
        };
        let body = reflowed(body);
        assert!(
            body.contains("**Severity:**"),
            "the section of {rule} does not give its severity"
        );
        assert!(
            ["What it checks.", "Why it matters.", "What to do."]
                .iter()
                .all(|part| body.contains(part)),
            "the section of {rule} lacks what it checks, why it matters or what to do"
        );
        if let Some(description) = description {
            let checks = format!("**Checks:** {description}.");
            assert!(
                body.contains(&checks),
                "the section of {rule} must say `{checks}` (the module's `RULES` text); \
                 update docs/verify.md when the description changes"
            );
        }
    }
}
