//! SARIF 2.1.0 output (`--format sarif`), for GitHub code scanning and other SARIF viewers.
//!
//! One run whose driver lists the whole catalogue (so a viewer can show a rule that found
//! nothing this time), one result per finding. File locations are relative URIs under the
//! `%SRCROOT%` base (the directory the review ran in), columns count Unicode code points as the
//! text output does, and each result carries a fingerprint of its rule, file and message — not
//! its line — so code scanning keeps tracking an alert when lines above it move.

use crate::registry::{self, Category};
use crate::{Finding, Report};
use plinth_diagnostics::{Severity, SourceFile, Span};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::Path;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const SOURCE_ROOT: &str = "%SRCROOT%";
/// The key of our fingerprint in `partialFingerprints`; bump the version if its input changes.
const FINGERPRINT_KEY: &str = "plinthReview/v1";

/// The SARIF log of `report`, with `%SRCROOT%` left for the viewer to resolve (GitHub resolves
/// it to the repository checkout).
pub fn render_sarif(report: &Report) -> Value {
    render_sarif_with_root(report, None)
}

/// The SARIF log of `report`; `source_root` is the absolute directory that relative file names
/// are relative to (the working directory), recorded as `%SRCROOT%` in `originalUriBaseIds`.
pub fn render_sarif_with_root(report: &Report, source_root: Option<&Path>) -> Value {
    let rule_index: HashMap<&str, usize> = registry::all()
        .enumerate()
        .map(|(index, rule)| (rule.id, index))
        .collect();
    let rules: Vec<Value> = registry::all().map(rule_descriptor).collect();

    let mut occurrences: HashMap<(&str, usize, &str), usize> = HashMap::new();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|finding| {
            let occurrence = occurrences
                .entry((finding.rule, finding.file, finding.message.as_str()))
                .or_insert(0);
            *occurrence += 1;
            result(
                report,
                finding,
                rule_index.get(finding.rule).copied(),
                *occurrence,
            )
        })
        .collect();

    let mut root = Map::new();
    root.insert(
        "description".into(),
        json!({"text": "The directory `plinth review` ran in; file paths are relative to it."}),
    );
    if let Some(directory) = source_root {
        if let Some(Value::String(uri)) = artifact(&directory.to_string_lossy()).get("uri") {
            // A base URI must end in `/`, or the last segment would be replaced, not extended.
            let uri = if uri.ends_with('/') {
                uri.clone()
            } else {
                format!("{uri}/")
            };
            if uri.starts_with("file://") {
                root.insert("uri".into(), json!(uri));
            }
        }
    }

    let notifications: Vec<Value> = report
        .workspace
        .skipped
        .iter()
        .map(|skipped| {
            json!({
                "level": "warning",
                "message": {"text": format!("skipped {}: {}", skipped.path, skipped.reason)},
                "locations": [{"physicalLocation": {"artifactLocation": artifact(&skipped.path)}}],
            })
        })
        .collect();

    let mut driver = Map::new();
    driver.insert("name".into(), json!("plinth-review"));
    driver.insert("semanticVersion".into(), json!(env!("CARGO_PKG_VERSION")));
    // Only a real address: SARIF requires an absolute URI here, and the package may name none.
    let repository = env!("CARGO_PKG_REPOSITORY");
    if !repository.is_empty() {
        driver.insert("informationUri".into(), json!(repository));
    }
    driver.insert("rules".into(), Value::Array(rules));

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "originalUriBaseIds": {SOURCE_ROOT: root},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// A rule's `reportingDescriptor`. The help names the rule's page in the repository rather than
/// a `helpUri`, which SARIF requires to be absolute and which would tie the log to one host.
fn rule_descriptor(rule: &crate::RuleInfo) -> Value {
    let doc = registry::doc_path(rule.id);
    let mut properties = Map::new();
    let mut tags = vec![json!(rule.category.as_str())];
    if rule.category == Category::ApiSecurity {
        // GitHub shows results of rules tagged `security` with a `security-severity` (a CVSS-like
        // score) as security alerts rather than code-quality ones.
        tags.insert(0, json!("security"));
        let score = match rule.severity {
            Severity::Error => "8.0",
            Severity::Warning => "5.0",
            Severity::Note => "2.0",
        };
        properties.insert("security-severity".into(), json!(score));
    }
    properties.insert("tags".into(), Value::Array(tags));
    json!({
        "id": rule.id,
        "name": pascal_case(rule.id),
        "shortDescription": {"text": rule.summary},
        "help": {
            "text": format!("{} See {doc} for what it checks, why it matters and how to fix it.",
                sentence(rule.summary)),
            "markdown": format!("{} See [{doc}]({doc}) for what it checks, why it matters and \
                how to fix it.", sentence(rule.summary)),
        },
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": properties,
    })
}

fn result(
    report: &Report,
    finding: &Finding,
    rule_index: Option<usize>,
    occurrence: usize,
) -> Value {
    let files = &report.workspace.files;
    let source = &files[finding.file];
    // Viewers show the text as the alert's title and body, so it reads as sentences: the message
    // (kept lowercase in the compiler-style text) capitalised, then the help.
    let message = capitalised(&finding.message);
    let text = if finding.help.is_empty() {
        message
    } else {
        format!("{message}. {}", finding.help)
    };
    let related: Vec<Value> = finding
        .related
        .iter()
        .enumerate()
        .filter_map(|(id, related)| {
            let source = files.get(related.file)?;
            Some(json!({
                "id": id,
                "physicalLocation": physical_location(source, related.span),
                "message": {"text": related.message},
            }))
        })
        .collect();
    let mut object = Map::new();
    object.insert("ruleId".into(), json!(finding.rule));
    if let Some(index) = rule_index {
        object.insert("ruleIndex".into(), json!(index));
    }
    object.insert("level".into(), json!(level(finding.severity)));
    object.insert("message".into(), json!({"text": text}));
    let mut location = json!({"physicalLocation": physical_location(source, finding.span)});
    if let Some(pointer) = &finding.pointer {
        // The JSON pointer names the node in an OpenAPI document exactly, whatever its layout.
        location["logicalLocations"] = json!([{"fullyQualifiedName": pointer}]);
    }
    object.insert("locations".into(), json!([location]));
    if !related.is_empty() {
        object.insert("relatedLocations".into(), Value::Array(related));
    }
    let fingerprint = fingerprint(&[
        finding.rule,
        &source.name,
        &finding.message,
        &occurrence.to_string(),
    ]);
    object.insert(
        "partialFingerprints".into(),
        json!({FINGERPRINT_KEY: format!("{fingerprint:016x}")}),
    );
    Value::Object(object)
}

fn physical_location(source: &SourceFile, span: Span) -> Value {
    let start = source.line_col(span.start);
    let end = source.line_col(span.end);
    json!({
        "artifactLocation": artifact(&source.name),
        "region": {
            "startLine": start.line,
            "startColumn": start.column,
            "endLine": end.line,
            "endColumn": end.column,
        },
    })
}

/// An `artifactLocation` for a file name as the review was given it: relative names are relative
/// URIs under `%SRCROOT%`; absolute ones become `file://` URIs of their own.
fn artifact(name: &str) -> Value {
    let name = name.replace('\\', "/");
    let is_windows_absolute = name.as_bytes().get(1) == Some(&b':')
        && name.as_bytes()[0].is_ascii_alphabetic()
        && name.as_bytes().get(2) == Some(&b'/');
    if name.starts_with('/') {
        json!({"uri": format!("file://{}", encode_path(&name))})
    } else if is_windows_absolute {
        json!({"uri": format!("file:///{}{}", &name[..2], encode_path(&name[2..]))})
    } else {
        let relative = name.trim_start_matches("./");
        json!({"uri": encode_path(relative), "uriBaseId": SOURCE_ROOT})
    }
}

/// Percent-encodes a `/`-separated path for a URI: everything but unreserved characters and `/`.
/// A `:` is encoded too, so that `a:b.yaml` is not read as a URI with scheme `a`.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// `missing-429-response` → `Missing429Response` (SARIF's `name` is a PascalCase identifier).
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// A summary as a sentence: capitalised, with a final period.
fn sentence(summary: &str) -> String {
    let mut text = capitalised(summary);
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// The text with its first letter in upper case (a leading `` `name` `` stays as it is).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions (the standard library's
/// hasher is not), which a fingerprint needs. Not for security: it only tells findings apart.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pascal_case() {
        assert_eq!(pascal_case("verb-in-path"), "VerbInPath");
        assert_eq!(pascal_case("missing-429-response"), "Missing429Response");
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            artifact("./api/open api.yaml"),
            json!({"uri": "api/open%20api.yaml", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact("db\\mig:1/ü.sql"),
            json!({"uri": "db/mig%3A1/%C3%BC.sql", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact("/srv/app/schema.sql"),
            json!({"uri": "file:///srv/app/schema.sql"})
        );
        assert_eq!(
            artifact("C:\\app\\schema.sql"),
            json!({"uri": "file:///C:/app/schema.sql"})
        );
    }

    #[test]
    fn fingerprints_are_stable_and_tell_parts_apart() {
        // The value is part of the output format: a change would reopen every tracked alert.
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["ab", ""]), fingerprint(&["a", "b"]));
        assert_eq!(fingerprint(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint(&["a"]), 0x089b_e207_b544_f1e4);
    }
}
