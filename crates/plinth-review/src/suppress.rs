//! Inline suppressions, written where the finding is:
//!
//! - in SQL, YAML, Prisma and Plinth files, a comment `plinth-review: ignore rule-a, rule-b` on
//!   the finding's line or in the comment lines just above it (for SQL, above the statement);
//! - anywhere in such a file, `plinth-review: ignore-file rule-a` for the whole file;
//! - in an OpenAPI document (JSON has no comments), `x-plinth-review-ignore: [rule-a]` on the
//!   object the finding points into or any object that contains it.
//!
//! `all` in place of a rule id matches every rule.

use crate::{Finding, Workspace};
use serde_json::Value;

const DIRECTIVE: &str = "plinth-review:";

pub(crate) fn is_suppressed(workspace: &Workspace, finding: &Finding) -> bool {
    let Some(file) = workspace.files.get(finding.file) else {
        return false;
    };
    if let Some(pointer) = &finding.pointer {
        if let Some(doc) = workspace.openapi.iter().find(|d| d.file == finding.file) {
            if pointer_suppresses(&doc.root, pointer, finding.rule) {
                return true;
            }
        }
    }
    let text = &file.text;
    if text.contains(DIRECTIVE) {
        for line in text.lines() {
            if let Some(rules) = directive(line, "ignore-file") {
                if matches(&rules, finding.rule) {
                    return true;
                }
            }
        }
        let line = file.line_col(finding.span.start).line;
        if let Some(rules) = directive(file.line_text(line), "ignore") {
            if matches(&rules, finding.rule) {
                return true;
            }
        }
        let mut above = line;
        while above > 1 {
            above -= 1;
            let text = file.line_text(above).trim_start();
            if !is_comment(text) {
                break;
            }
            if let Some(rules) = directive(text, "ignore") {
                if matches(&rules, finding.rule) {
                    return true;
                }
            }
        }
    }
    false
}

fn is_comment(line: &str) -> bool {
    line.starts_with("--")
        || line.starts_with('#')
        || line.starts_with("//")
        || line.starts_with("/*")
        || line.starts_with('*')
}

/// The rule list after `plinth-review: <verb>` in a line, if the line has that directive.
fn directive(line: &str, verb: &str) -> Option<Vec<String>> {
    let at = line.find(DIRECTIVE)?;
    let rest = line[at + DIRECTIVE.len()..].trim_start();
    let rest = rest.strip_prefix(verb)?;
    // `ignore` must not match `ignore-file`.
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(
        rest.split(|c: char| c == ',' || c.is_whitespace())
            .map(|word| word.trim_end_matches("*/").trim())
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

fn matches(rules: &[String], rule: &str) -> bool {
    rules.iter().any(|r| r == rule || r == "all")
}

fn pointer_suppresses(root: &Value, pointer: &str, rule: &str) -> bool {
    let mut node = root;
    let mut segments = pointer.split('/').skip(1);
    loop {
        if let Some(list) = node.get("x-plinth-review-ignore") {
            let listed = match list {
                Value::Array(items) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|i| i == rule || i == "all")),
                Value::String(one) => one == rule || one == "all",
                _ => false,
            };
            if listed {
                return true;
            }
        }
        let Some(segment) = segments.next() else {
            return false;
        };
        let segment = segment.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(map) => match map.get(&segment) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(items) => match segment.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse() {
        assert_eq!(
            directive("-- plinth-review: ignore drop-table, drop-column", "ignore"),
            Some(vec!["drop-table".into(), "drop-column".into()])
        );
        assert_eq!(directive("-- plinth-review: ignore-file x", "ignore"), None);
        assert_eq!(
            directive("/* plinth-review: ignore-file x */", "ignore-file"),
            Some(vec!["x".into()])
        );
    }

    #[test]
    fn pointer_suppression_applies_to_the_subtree() {
        let root =
            serde_json::json!({"paths": {"/a": {"x-plinth-review-ignore": ["r"], "get": {}}}});
        assert!(pointer_suppresses(&root, "/paths/~1a/get", "r"));
        assert!(!pointer_suppresses(&root, "/paths/~1a/get", "other"));
        assert!(!pointer_suppresses(&root, "/paths", "r"));
    }
}
