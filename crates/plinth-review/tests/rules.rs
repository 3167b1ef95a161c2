//! Every rule in the catalogue has ok/err fixtures (`tests/fixtures/<rule-id>/{ok,err}/`), a
//! page under `docs/rules/` that shows the same bad and good inputs, and a snapshot of how its
//! findings read. The fixtures of one folder are reviewed together, as `plinth review DIR`
//! would, so cross-artifact rules get all their inputs.

use plinth_review::{load_sources, registry, review, Config, Report};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files under `dir`, named by their path relative to it (sorted, `/`-separated).
fn read_dir(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn review_dir(dir: &Path) -> Report {
    review(load_sources(read_dir(dir)), &Config::default())
}

/// The text rendering of one rule's findings only, so a snapshot changes only with its rule.
fn rendered(report: Report, rule: &str) -> String {
    let Report {
        workspace,
        findings,
        suppressed,
    } = report;
    let only = Report {
        workspace,
        findings: findings.into_iter().filter(|f| f.rule == rule).collect(),
        suppressed,
    };
    plinth_review::output::render_text(&only)
}

#[test]
fn every_rule_finds_its_err_fixture_and_spares_its_ok_fixture() {
    let mut problems = Vec::new();
    for rule in registry::all() {
        let dir = fixtures().join(rule.id);
        for (case, expect) in [("err", true), ("ok", false)] {
            let case_dir = dir.join(case);
            if read_dir(&case_dir).is_empty() {
                problems.push(format!("{}: no fixture files in {case}/", rule.id));
                continue;
            }
            let report = review_dir(&case_dir);
            let found = report.findings.iter().any(|f| f.rule == rule.id);
            if found != expect {
                problems.push(format!(
                    "{}: {case}/ fixture {}",
                    rule.id,
                    if expect { "not reported" } else { "reported" }
                ));
            }
            if expect && found {
                // One rule's changed snapshot must not hide the others' results.
                let text = rendered(report, rule.id);
                let id = rule.id;
                let outcome = std::panic::catch_unwind(|| {
                    insta::assert_snapshot!(id, text);
                });
                if outcome.is_err() {
                    problems.push(format!("{id}: snapshot differs (see its .snap.new)"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_catalogue_has_forty_rules_with_unique_kebab_case_ids() {
    let ids: Vec<&str> = registry::all().map(|r| r.id).collect();
    assert!(ids.len() >= 40, "only {} rules", ids.len());
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate rule ids");
    for id in ids {
        assert!(
            id.split('-').all(|w| !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
            "`{id}` is not kebab-case"
        );
    }
}

/// Each rule's page has the sections a reader needs, and its bad and good examples are the
/// fixtures themselves, so the docs cannot drift from what the rule does.
#[test]
fn every_rule_has_a_page_whose_examples_are_its_fixtures() {
    let mut problems = Vec::new();
    let index =
        std::fs::read_to_string(repository().join("docs/rules/README.md")).unwrap_or_default();
    for rule in registry::all() {
        let path = repository().join(registry::doc_path(rule.id));
        let Ok(page) = std::fs::read_to_string(&path) else {
            problems.push(format!(
                "{}: no page at {}",
                rule.id,
                registry::doc_path(rule.id)
            ));
            continue;
        };
        if !page.starts_with(&format!("# {}", rule.id)) {
            problems.push(format!(
                "{}: the page must start with `# {}`",
                rule.id, rule.id
            ));
        }
        for section in [
            "## What it checks",
            "## Why it matters",
            "## Bad",
            "## Good",
            "## How to fix",
        ] {
            if !page.contains(section) {
                problems.push(format!("{}: the page has no `{section}` section", rule.id));
            }
        }
        let severity = format!("**Severity:** {}", rule.severity.as_str());
        if !page.contains(&severity) {
            problems.push(format!("{}: the page must say `{severity}`", rule.id));
        }
        for case in ["err", "ok"] {
            for (name, text) in read_dir(&fixtures().join(rule.id).join(case)) {
                if !page.contains(text.trim()) {
                    problems.push(format!(
                        "{}: the page does not show the fixture {case}/{name} verbatim",
                        rule.id
                    ));
                }
            }
        }
        if !index.contains(&format!("[`{}`]({}.md)", rule.id, rule.id)) {
            problems.push(format!("{}: not listed in docs/rules/README.md", rule.id));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
