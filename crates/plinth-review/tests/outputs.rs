//! The three output formats of one small backend (an OpenAPI document and a migration folder
//! that trigger rules of several categories), SARIF checked against the official 2.1.0 schema,
//! the configuration (levels, `off`, unknown ids), inline suppressions in SQL, YAML and JSON, and
//! the generated index of the rule pages.

use plinth_review::{load_sources, output, registry, review, Config, Level, Report, Severity};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files under `dir`, named by their path relative to it (sorted, `/`-separated), as
/// `plinth review DIR` run inside it would name them.
fn read_dir(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("the fixture folder exists") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((name, std::fs::read_to_string(&path).expect("UTF-8 text")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn backend() -> Vec<(String, String)> {
    read_dir(&manifest_dir().join("tests/fixtures-outputs"))
}

fn review_sources(sources: Vec<(String, String)>, config: &Config) -> Report {
    review(load_sources(sources), config)
}

fn rules_found(report: &Report) -> Vec<&'static str> {
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    rules
}

#[test]
fn the_backend_fixture_has_findings_of_several_categories() {
    let report = review_sources(backend(), &Config::default());
    let mut categories: Vec<&str> = report
        .findings
        .iter()
        .filter_map(|f| registry::find(f.rule))
        .map(|rule| rule.category.as_str())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    assert!(
        categories.len() >= 3,
        "the fixture should exercise several categories, found {categories:?} ({:?})",
        rules_found(&report)
    );
}

#[test]
fn text_output() {
    let report = review_sources(backend(), &Config::default());
    insta::assert_snapshot!(output::render_text(&report));
}

#[test]
fn json_output() {
    let report = review_sources(backend(), &Config::default());
    let document = output::render_json(&report);
    let findings = document["findings"].as_array().expect("a list of findings");
    assert_eq!(findings.len(), report.findings.len());
    assert_eq!(
        document["summary"]["errors"],
        json!(report.count(Severity::Error))
    );
    insta::assert_json_snapshot!(document);
}

/// The SARIF log with the driver's rule list (the whole catalogue, checked on its own below)
/// folded to a count, so that the snapshot changes only when the findings do.
fn folded(mut sarif: Value) -> Value {
    let rules = &mut sarif["runs"][0]["tool"]["driver"]["rules"];
    let count = rules.as_array().map_or(0, Vec::len);
    *rules = json!(format!("{count} rules (the catalogue)"));
    sarif
}

#[test]
fn sarif_output() {
    let report = review_sources(backend(), &Config::default());
    let sarif = output::render_sarif(&report);
    validate_sarif(&sarif);
    insta::assert_json_snapshot!(folded(sarif));
}

#[test]
fn sarif_lists_the_catalogue_and_points_results_at_it() {
    let report = review_sources(backend(), &Config::default());
    let sarif = output::render_sarif(&report);
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .expect("driver rules");
    let catalogue: Vec<&str> = registry::all().map(|r| r.id).collect();
    let listed: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(listed, catalogue);
    for (rule, info) in rules.iter().zip(registry::all()) {
        assert_eq!(rule["shortDescription"]["text"], json!(info.summary));
        assert_eq!(
            rule["defaultConfiguration"]["level"],
            json!(info.severity.as_str())
        );
        let tags = rule["properties"]["tags"].as_array().expect("tags");
        assert!(tags.contains(&json!(info.category.as_str())), "{tags:?}");
        let name = rule["name"].as_str().expect("a name");
        assert!(
            name.chars().all(char::is_alphanumeric) && name.starts_with(char::is_uppercase),
            "`{name}` is not PascalCase"
        );
    }
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), report.findings.len());
    let mut fingerprints = Vec::new();
    for (result, finding) in results.iter().zip(&report.findings) {
        let index = result["ruleIndex"].as_u64().expect("a rule index") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["ruleId"], json!(finding.rule));
        assert_eq!(result["level"], json!(finding.severity.as_str()));
        let text = result["message"]["text"].as_str().expect("a message");
        // The message, capitalised, then the help.
        assert!(text
            .to_lowercase()
            .starts_with(&finding.message.to_lowercase()));
        assert!(text.ends_with(&finding.help));
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        let uri = location["artifactLocation"]["uri"].as_str().expect("a uri");
        assert_eq!(uri, report.workspace.files[finding.file].name);
        let region = &location["region"];
        let start = report.workspace.files[finding.file].line_col(finding.span.start);
        assert_eq!(region["startLine"], json!(start.line));
        assert_eq!(region["startColumn"], json!(start.column));
        fingerprints.push(result["partialFingerprints"]["plinthReview/v1"].clone());
    }
    let count = fingerprints.len();
    fingerprints.sort_by_key(Value::to_string);
    fingerprints.dedup();
    assert_eq!(
        fingerprints.len(),
        count,
        "fingerprints must tell results apart"
    );
}

/// A fingerprint follows the finding, not its line: code scanning keeps tracking an alert when
/// lines are added above it.
#[test]
fn sarif_fingerprints_survive_moved_lines() {
    let fingerprints = |sources: Vec<(String, String)>| -> Vec<(String, Value)> {
        let sarif = output::render_sarif(&review_sources(sources, &Config::default()));
        sarif["runs"][0]["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap_or_default().to_string(),
                    r["partialFingerprints"].clone(),
                )
            })
            .collect()
    };
    let before = fingerprints(backend());
    assert!(!before.is_empty());
    let moved: Vec<(String, String)> = backend()
        .into_iter()
        .map(|(name, text)| {
            let comment = if name.ends_with(".sql") { "--" } else { "#" };
            let text = format!("{comment} a comment\n{comment} and another\n{text}");
            (name, text)
        })
        .collect();
    let mut after = fingerprints(moved);
    let mut before = before;
    before.sort_by_key(|(rule, f)| (rule.clone(), f.to_string()));
    after.sort_by_key(|(rule, f)| (rule.clone(), f.to_string()));
    assert_eq!(before, after);
}

#[test]
fn sarif_of_related_places_skipped_files_and_no_findings_is_valid() {
    // Related places in another file, a file that cannot be read, and the root URI.
    let mut sources = backend();
    sources.push((
        "broken.yaml".to_string(),
        "openapi: 3.0.0\npaths: [unclosed\n".to_string(),
    ));
    let report = review_sources(sources, &Config::default());
    assert!(
        !report.workspace.skipped.is_empty(),
        "broken.yaml is skipped"
    );
    let sarif = output::render_sarif_with_root(&report, Some(Path::new("/srv/my app")));
    validate_sarif(&sarif);
    let run = &sarif["runs"][0];
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        "file:///srv/my%20app/"
    );
    let notifications = &run["invocations"][0]["toolExecutionNotifications"];
    assert!(notifications[0]["message"]["text"]
        .as_str()
        .is_some_and(|text| text.contains("broken.yaml")));

    let empty = review_sources(Vec::new(), &Config::default());
    let sarif = output::render_sarif(&empty);
    validate_sarif(&sarif);
    assert_eq!(sarif["runs"][0]["results"], json!([]));
}

const SCHEMA_VARIABLE: &str = "PLINTH_TEST_SARIF_SCHEMA";

/// Validates against the SARIF 2.1.0 JSON schema named by `PLINTH_TEST_SARIF_SCHEMA`
/// (`scripts/test` fetches it; it is not ours to commit). Without it the check is skipped with a
/// message, unless `PLINTH_REQUIRE_SERVICES=1`, when that is a failure.
fn validate_sarif(sarif: &Value) {
    let Some(path) = std::env::var_os(SCHEMA_VARIABLE).map(PathBuf::from) else {
        assert!(
            std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{SCHEMA_VARIABLE} is not set but PLINTH_REQUIRE_SERVICES=1"
        );
        eprintln!("skipping SARIF schema validation: {SCHEMA_VARIABLE} is not set");
        return;
    };
    let validator = sarif_validator(&path);
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the SARIF log is not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
}

/// The schema, compiled with format checks on (SARIF requires absolute URIs in some places and
/// URI references in others).
fn sarif_validator(path: &Path) -> jsonschema::Validator {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the SARIF schema {}: {e}", path.display()));
    let mut schema: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    // The published 2.1.0-rtm.5 schema has a stray `]` in the pattern of its `language`
    // properties, which a strict regex check of the schema itself refuses; the final 2.1.0 text
    // of the standard reads `^[a-zA-Z]{2}(-[a-zA-Z]{2})?$`. Plinth never writes `language`.
    fn fix_language_patterns(node: &mut Value) {
        match node {
            Value::Object(map) => {
                if let Some(pattern) = map.get_mut("pattern") {
                    if pattern == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" {
                        *pattern = json!("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
                    }
                }
                map.values_mut().for_each(fix_language_patterns);
            }
            Value::Array(items) => items.iter_mut().for_each(fix_language_patterns),
            _ => {}
        }
    }
    fix_language_patterns(&mut schema);
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

/// The SARIF schema check itself: a log with a mistake in it must fail validation, or a
/// passing test would prove nothing.
#[test]
fn the_sarif_schema_check_catches_a_broken_log() {
    let Some(path) = std::env::var_os(SCHEMA_VARIABLE) else {
        return;
    };
    let validator = sarif_validator(Path::new(&path));
    let report = review_sources(backend(), &Config::default());
    let good = output::render_sarif(&report);
    assert!(validator.is_valid(&good));
    let mut wrong_level = good.clone();
    wrong_level["runs"][0]["results"][0]["level"] = json!("fatal");
    let mut wrong_version = good.clone();
    wrong_version["version"] = json!("2.0.0");
    let mut relative_help = good;
    relative_help["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = json!("docs/rules/x.md");
    for broken in [wrong_level, wrong_version, relative_help] {
        assert!(!validator.is_valid(&broken));
    }
}

// --- configuration ---------------------------------------------------------------------------

/// A rule the backend fixture triggers, with its default severity.
fn some_finding_rule() -> (&'static str, Severity) {
    let report = review_sources(backend(), &Config::default());
    let finding = report
        .findings
        .iter()
        .find(|f| f.severity == Severity::Warning)
        .or(report.findings.first())
        .expect("the backend fixture has findings");
    (finding.rule, finding.severity)
}

#[test]
fn config_relevels_a_rule() {
    let (rule, default) = some_finding_rule();
    let level = if default == Severity::Error {
        "note"
    } else {
        "error"
    };
    let config = Config::parse(&format!("[rules]\n{rule} = \"{level}\"\n")).expect("valid");
    let report = review_sources(backend(), &config);
    let severities: Vec<Severity> = report
        .findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.severity)
        .collect();
    assert!(!severities.is_empty());
    let wanted = Level::parse(level)
        .and_then(Level::severity)
        .expect("a level");
    assert!(severities.iter().all(|s| *s == wanted), "{severities:?}");
}

#[test]
fn config_turns_a_rule_off() {
    let (rule, _) = some_finding_rule();
    let before = review_sources(backend(), &Config::default());
    let config = Config::parse(&format!("[rules]\n{rule} = \"off\"\n")).expect("valid");
    let after = review_sources(backend(), &config);
    assert!(after.findings.iter().all(|f| f.rule != rule));
    let others = |report: &Report| report.findings.iter().filter(|f| f.rule != rule).count();
    assert_eq!(others(&before), others(&after), "other rules are untouched");
}

#[test]
fn fail_on_decides_what_fails_the_run() {
    let report = review_sources(backend(), &Config::default());
    let worst = report
        .findings
        .iter()
        .map(|f| f.severity)
        .min()
        .expect("findings");
    assert!(report.fails(worst));
    assert!(report.fails(Severity::Note));
    let config = Config::parse("fail-on = \"warning\"").expect("valid");
    assert_eq!(config.fail_on(), Severity::Warning);
    assert_eq!(Config::default().fail_on(), Severity::Error);
    // Everything re-levelled to notes fails only at `note`.
    let mut all_notes = Config::default();
    for rule in registry::all() {
        all_notes.set(rule.id, Level::Note).expect("a known rule");
    }
    let quiet = review_sources(backend(), &all_notes);
    assert!(!quiet.fails(Severity::Warning));
    assert!(quiet.fails(Severity::Note));
}

#[test]
fn config_refuses_unknown_rules_levels_and_keys() {
    let rule = registry::all().next().expect("a rule").id;
    let misspelt = format!("{}x", rule);
    let error = Config::parse(&format!("[rules]\n{misspelt} = \"off\"\n")).unwrap_err();
    assert_eq!(
        error,
        format!("unknown rule `{misspelt}`; did you mean `{rule}`?")
    );
    let error = Config::parse("[rules]\nno-such-thing-at-all = \"off\"\n").unwrap_err();
    assert_eq!(error, "unknown rule `no-such-thing-at-all`");
    assert!(Config::parse(&format!("[rules]\n{rule} = \"loud\"\n")).is_err());
    assert!(Config::parse("fail-on = \"off\"").is_err());
    assert!(
        Config::parse("fail_on = \"error\"").is_err(),
        "keys are kebab-case"
    );
    assert!(Config::parse("colour = true").is_err());
}

// --- inline suppressions ---------------------------------------------------------------------

/// Reviews `sources`, then the same with `edit` applied, and returns (before, after).
fn with_and_without(
    sources: Vec<(String, String)>,
    edit: impl Fn(&str, &str) -> String,
) -> (Report, Report) {
    let before = review_sources(sources.clone(), &Config::default());
    let edited = sources
        .into_iter()
        .map(|(name, text)| {
            let text = edit(&name, &text);
            (name, text)
        })
        .collect();
    (before, review_sources(edited, &Config::default()))
}

/// The findings of `report` in the file named `name`, as (rule, line).
fn findings_in(report: &Report, name: &str) -> Vec<(&'static str, usize)> {
    report
        .findings
        .iter()
        .filter(|f| report.workspace.files[f.file].name == name)
        .map(|f| {
            let line = report.workspace.files[f.file].line_col(f.span.start).line;
            (f.rule, line)
        })
        .collect()
}

#[test]
fn sql_comment_suppresses_a_rule_on_the_next_statement() {
    let sources = backend();
    let before = review_sources(sources.clone(), &Config::default());
    let name = "sql/0002_due_dates.sql";
    let found = findings_in(&before, name);
    let (rule, line) = *found.first().expect("a finding in the migration");
    let (_, after) = with_and_without(sources, |file, text| {
        if file != name {
            return text.to_string();
        }
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.insert(
            line - 1,
            format!("-- plinth-review: ignore {rule} (the table is empty in every deployment)"),
        );
        lines.join("\n") + "\n"
    });
    let remaining = findings_in(&after, name);
    assert!(
        remaining.iter().all(|(r, _)| *r != rule),
        "{rule} still reported: {remaining:?}"
    );
    let suppressed = found
        .iter()
        .filter(|(r, l)| *r == rule && *l == line)
        .count();
    assert_eq!(after.suppressed, before.suppressed + suppressed);
    assert_eq!(
        remaining.len(),
        found.len() - suppressed,
        "other findings stay"
    );
}

#[test]
fn sql_ignore_file_suppresses_a_rule_everywhere_in_the_file() {
    let sources = backend();
    let before = review_sources(sources.clone(), &Config::default());
    let name = "sql/0002_due_dates.sql";
    let found = findings_in(&before, name);
    let (rule, _) = *found.last().expect("a finding in the migration");
    let (_, after) = with_and_without(sources, |file, text| {
        if file == name {
            format!("-- plinth-review: ignore-file {rule}\n{text}")
        } else {
            text.to_string()
        }
    });
    let remaining = findings_in(&after, name);
    assert!(remaining.iter().all(|(r, _)| *r != rule), "{remaining:?}");
    let others = found.iter().filter(|(r, _)| *r != rule).count();
    assert_eq!(remaining.len(), others, "other rules stay");
}

#[test]
fn yaml_comment_suppresses_a_rule_on_its_line() {
    let sources = backend();
    let before = review_sources(sources.clone(), &Config::default());
    let name = "openapi.yaml";
    let found = findings_in(&before, name);
    let (rule, line) = *found.first().expect("a finding in the OpenAPI document");
    let (_, after) = with_and_without(sources, |file, text| {
        if file != name {
            return text.to_string();
        }
        text.lines()
            .enumerate()
            .map(|(index, content)| {
                if index + 1 == line {
                    format!("{content}  # plinth-review: ignore {rule}\n")
                } else {
                    format!("{content}\n")
                }
            })
            .collect()
    });
    let remaining = findings_in(&after, name);
    assert!(
        !remaining.contains(&(rule, line)),
        "{rule} on line {line} still reported"
    );
    assert!(after.suppressed > before.suppressed);
}

/// JSON has no comments: `x-plinth-review-ignore` on the object, or on any object around it.
#[test]
fn x_plinth_review_ignore_suppresses_a_rule_in_a_json_document() {
    let document = json!({
        "openapi": "3.0.3",
        "info": {"title": "Tasks", "version": "1.0.0"},
        "servers": [{"url": "http://api.example.com"}],
        "paths": {
            "/tasks": {
                "get": {
                    "operationId": "listTasks",
                    "responses": {"200": {"description": "The tasks.", "content": {
                        "application/json": {"schema": {"type": "array", "items": {"type": "string"}}}
                    }}}
                },
                "post": {
                    "operationId": "createTask",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"201": {"description": "Created."}}
                }
            }
        }
    });
    let review_json = |document: &Value| {
        review_sources(
            vec![(
                "openapi.json".to_string(),
                serde_json::to_string_pretty(document).expect("JSON"),
            )],
            &Config::default(),
        )
    };
    let before = review_json(&document);
    let pointed: Vec<(&str, String)> = before
        .findings
        .iter()
        .filter_map(|f| Some((f.rule, f.pointer.clone()?)))
        .collect();
    let (rule, pointer) = pointed
        .iter()
        .find(|(_, pointer)| pointer.starts_with("/paths/"))
        .cloned()
        .expect("a finding inside an operation");

    // On the operation (or path item) the pointer leads into.
    let mut on_operation = document.clone();
    let segments: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let depth = segments.len().min(3);
    let mut node = &mut on_operation;
    for segment in &segments[..depth] {
        node = node
            .get_mut(segment.as_str())
            .expect("the pointer resolves");
    }
    node["x-plinth-review-ignore"] = json!([rule]);
    let after = review_json(&on_operation);
    assert!(
        !after
            .findings
            .iter()
            .any(|f| f.rule == rule && f.pointer.as_deref() == Some(pointer.as_str())),
        "{rule} at {pointer} still reported"
    );
    assert!(after.suppressed > 0);

    // At the root, for the whole document, as a single string.
    let mut at_root = document.clone();
    at_root["x-plinth-review-ignore"] = json!(rule);
    let after = review_json(&at_root);
    assert!(after.findings.iter().all(|f| f.rule != rule));

    // Another rule's id suppresses nothing of this one.
    let other = registry::all()
        .map(|r| r.id)
        .find(|id| *id != rule)
        .expect("a second rule");
    let mut unrelated = document;
    unrelated["x-plinth-review-ignore"] = json!([other]);
    let after = review_json(&unrelated);
    assert!(after.findings.iter().any(|f| f.rule == rule));
}

// --- the rules index -------------------------------------------------------------------------

/// `docs/rules/README.md` is generated from the catalogue; `PLINTH_BLESS=1` rewrites it.
#[test]
fn the_rules_index_is_generated_from_the_catalogue() {
    let path = manifest_dir().join("../../docs/rules/README.md");
    let expected = registry::index_markdown();
    if std::env::var("PLINTH_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("docs/rules")).expect("docs/rules/");
        std::fs::write(&path, &expected).expect("docs/rules/README.md is writable");
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/rules/README.md differs from the catalogue; regenerate it with \
         PLINTH_BLESS=1 cargo test -p plinth-review --test outputs"
    );
    for rule in registry::all() {
        assert!(expected.contains(&format!("| [`{}`]({}.md) |", rule.id, rule.id)));
    }
}

/// Reviewing an empty workspace finds nothing and says so.
#[test]
fn an_empty_review_is_clean() {
    let report = review(load_sources(Vec::new()), &Config::default());
    assert!(report.findings.is_empty());
    assert!(!report.fails(Severity::Note));
    assert_eq!(
        output::summary(&report),
        "reviewed 0 files: 0 errors, 0 warnings, 0 notes"
    );
}
