//! `plinth review`: exit codes (0 clean, 1 findings at or above `--fail-on`, 2 could not run),
//! the three formats on stdout or in a file, the config file and `--rule`, and `--list-rules`.

use crate::{plinth_in, scratch_directory, Run};
use std::path::{Path, PathBuf};

/// A migration folder whose second migration adds a NOT NULL column with no default to a table
/// that already exists: `add-not-null-column-without-default`, an error by default.
fn migrations(name: &str) -> PathBuf {
    let directory = scratch_directory(name);
    write(
        &directory,
        "migrations/0001_init.sql",
        "CREATE TABLE notes (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  \
         body text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now(),\n  \
         updated_at timestamptz NOT NULL DEFAULT now()\n);\n",
    );
    write(
        &directory,
        "migrations/0002_pinned.sql",
        "SET lock_timeout = '5s';\nALTER TABLE notes ADD COLUMN pinned boolean NOT NULL;\n",
    );
    directory
}

const RULE: &str = "add-not-null-column-without-default";

fn write(directory: &Path, name: &str, text: &str) {
    let path = directory.join(name);
    std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("a folder");
    std::fs::write(path, text).expect("a writable file");
}

fn review(directory: &Path, arguments: &[&str]) -> Run {
    let mut all = vec!["review"];
    all.extend_from_slice(arguments);
    plinth_in(directory, &all, None)
}

#[test]
fn findings_at_or_above_fail_on_exit_one_and_print_like_a_compiler() {
    let directory = migrations("review-error");
    let run = review(&directory, &["migrations"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stdout.contains(&format!("error[{RULE}]")));
    assert!(run.stdout.contains(" --> migrations/0002_pinned.sql:2:"));
    assert!(run.stdout.contains("= help: "));
    assert!(run
        .stdout
        .contains(&format!("= docs: docs/rules/{RULE}.md")));
    assert!(run
        .stdout
        .trim_end()
        .lines()
        .last()
        .is_some_and(|line| line.starts_with("reviewed 2 files: 1 error")));
    assert_eq!(run.stderr, "");
}

#[test]
fn findings_below_fail_on_exit_zero_and_fail_on_lowers_the_bar() {
    let directory = migrations("review-relevel");
    let relevelled = format!("{RULE}=warning");
    let run = review(&directory, &["migrations", "--rule", &relevelled]);
    assert!(
        run.stdout.contains(&format!("warning[{RULE}]")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("error["), "{}", run.stdout);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = review(
        &directory,
        &["migrations", "--rule", &relevelled, "--fail-on", "warning"],
    );
    assert_eq!(run.code, 1, "{}", run.transcript());
}

#[test]
fn the_config_file_in_the_current_directory_applies_and_flags_override_it() {
    let directory = migrations("review-config");
    write(
        &directory,
        "plinth-review.toml",
        &format!("fail-on = \"note\"\n\n[rules]\n{RULE} = \"off\"\n"),
    );
    let run = review(&directory, &["migrations"]);
    assert!(!run.stdout.contains(RULE), "{}", run.stdout);
    // `--rule` wins over the file.
    let run = review(
        &directory,
        &["migrations", "--rule", &format!("{RULE}=error")],
    );
    assert!(
        run.stdout.contains(&format!("error[{RULE}]")),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1);
    // An explicit `--config` replaces the default file.
    write(&directory, "strict.toml", "fail-on = \"error\"\n");
    let run = review(&directory, &["migrations", "--config", "strict.toml"]);
    assert!(
        run.stdout.contains(&format!("error[{RULE}]")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_clean_review_exits_zero() {
    let directory = scratch_directory("review-clean");
    write(
        &directory,
        "db/schema.sql",
        "CREATE TABLE notes (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  \
         body text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now(),\n  \
         updated_at timestamptz NOT NULL DEFAULT now()\n);\n",
    );
    let run = review(&directory, &["db", "--fail-on", "note"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "reviewed 1 file: 0 errors, 0 warnings, 0 notes\n"
    );
}

#[test]
fn inline_suppressions_silence_one_rule_and_are_counted() {
    let directory = migrations("review-suppressed");
    write(
        &directory,
        "migrations/0002_pinned.sql",
        &format!(
            "SET lock_timeout = '5s';\n-- plinth-review: ignore {RULE} (notes is empty in every \
             deployment)\nALTER TABLE notes ADD COLUMN pinned boolean NOT NULL;\n"
        ),
    );
    let run = review(&directory, &["migrations"]);
    assert!(!run.stdout.contains(RULE), "{}", run.stdout);
    assert!(run.stdout.contains("(1 suppressed)"), "{}", run.stdout);
}

#[test]
fn json_goes_to_stdout_alone_and_the_summary_to_stderr() {
    let directory = migrations("review-json");
    let run = review(&directory, &["migrations", "--format", "json"]);
    assert_eq!(run.code, 1);
    let document: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    let findings = document["findings"].as_array().expect("findings");
    let finding = findings
        .iter()
        .find(|f| f["rule"] == RULE)
        .expect("the rule's finding");
    assert_eq!(finding["file"], "migrations/0002_pinned.sql");
    assert_eq!(finding["line"], 2);
    assert_eq!(finding["severity"], "error");
    assert!(
        run.stderr.starts_with("reviewed 2 files: 1 error"),
        "{}",
        run.stderr
    );
}

#[test]
fn sarif_names_files_relative_to_the_directory_it_ran_in() {
    let directory = migrations("review-sarif");
    let run = review(&directory, &["migrations", "--format", "sarif"]);
    assert_eq!(run.code, 1);
    let log: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one SARIF log");
    assert_eq!(log["version"], "2.1.0");
    let run_object = &log["runs"][0];
    let root = run_object["originalUriBaseIds"]["%SRCROOT%"]["uri"]
        .as_str()
        .expect("the source root");
    assert!(
        root.starts_with("file:///") && root.ends_with("/review-sarif/"),
        "{root}"
    );
    let result = run_object["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == RULE)
        .expect("the rule's result");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"],
        serde_json::json!({"uri": "migrations/0002_pinned.sql", "uriBaseId": "%SRCROOT%"})
    );
    assert_eq!(location["region"]["startLine"], 2);
}

#[test]
fn output_writes_the_report_to_a_file_and_the_summary_to_stdout() {
    let directory = migrations("review-output");
    let run = review(
        &directory,
        &[
            "migrations",
            "--format",
            "sarif",
            "--output",
            "review.sarif",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("reviewed 2 files: 1 error")
            && run.stdout.ends_with("; findings written to review.sarif\n"),
        "{}",
        run.stdout
    );
    let text = std::fs::read_to_string(directory.join("review.sarif")).expect("the file");
    let log: serde_json::Value = serde_json::from_str(&text).expect("a SARIF log");
    assert_eq!(log["version"], "2.1.0");
}

#[test]
fn what_cannot_run_exits_two() {
    let directory = migrations("review-cannot-run");
    // A path that does not exist.
    let run = review(&directory, &["no-such-folder"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: cannot read `no-such-folder`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    // A folder with nothing to review.
    write(&directory, "notes/readme.txt", "nothing here\n");
    let run = review(&directory, &["notes"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no reviewable file in `notes`"),
        "{}",
        run.stderr
    );
    // A file that is not an input.
    let run = review(&directory, &["notes/readme.txt"]);
    assert_eq!(run.code, 2);
    // A misspelt rule, in a flag and in the config file: refused, with the near id.
    let run = review(
        &directory,
        &[
            "migrations",
            "--rule",
            "add-not-null-column-witout-default=off",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("did you mean `{RULE}`?")),
        "{}",
        run.stderr
    );
    write(
        &directory,
        "bad.toml",
        "[rules]\nadd-not-null-column-witout-default = \"off\"\n",
    );
    let run = review(&directory, &["migrations", "--config", "bad.toml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`bad.toml`: unknown rule"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("did you mean `{RULE}`?")),
        "{}",
        run.stderr
    );
    // A bad level, a bad flag value, a config file that is missing or not TOML.
    let run = review(
        &directory,
        &["migrations", "--rule", &format!("{RULE}=loud")],
    );
    assert_eq!(run.code, 2);
    let run = review(&directory, &["migrations", "--fail-on", "critical"]);
    assert_eq!(run.code, 2);
    let run = review(&directory, &["migrations", "--config", "missing.toml"]);
    assert_eq!(run.code, 2);
    write(&directory, "plinth-review.toml", "fail-on = [\n");
    let run = review(&directory, &["migrations"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("plinth-review.toml"), "{}", run.stderr);
    // No path at all.
    let run = review(&directory, &[]);
    assert_eq!(run.code, 2);
}

#[test]
fn list_rules_prints_the_catalogue() {
    let directory = scratch_directory("review-list-rules");
    let run = review(&directory, &["--list-rules"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("RULE "), "{}", lines[0]);
    let rule_line = lines
        .iter()
        .find(|line| line.starts_with(&format!("{RULE} ")))
        .expect("the rule is listed");
    let columns: Vec<&str> = rule_line.split_whitespace().collect();
    assert_eq!(columns[1..3], ["error", "migration"]);
    let count = lines.len() - 2;
    assert!(
        lines
            .last()
            .is_some_and(|last| last.starts_with(&format!("{count} rules"))),
        "{}",
        run.stdout
    );

    let run = review(&directory, &["--list-rules", "--format", "json"]);
    assert_eq!(run.code, 0);
    let rules: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let rules = rules.as_array().expect("a list");
    assert_eq!(rules.len(), count);
    assert!(rules
        .iter()
        .any(|rule| rule["id"] == RULE && rule["docs"] == format!("docs/rules/{RULE}.md")));
}

/// Plinth's own deliverables pass its own review: each example's schema, reviewed together with
/// the SQL and OpenAPI document `plinth build` makes from it, has no error-level finding. The one
/// accepted exception is named with its reason.
#[test]
fn the_examples_and_their_build_output_have_no_review_errors() {
    // The saas example keeps its invitation token in plain text (`@omit`, never returned): a
    // leaked database lets its reader accept open invitations. The example documents that
    // trade-off; the review rightly reports it.
    const ACCEPTED: &[(&str, &str)] = &[("saas", "column `Invitation.token`")];
    for example in ["todo", "blog", "saas", "catalog"] {
        let directory = scratch_directory(&format!("review-example-{example}"));
        let schema = crate::workspace_root().join(format!("examples/{example}/schema.plinth"));
        let built = plinth_in(
            &directory,
            &["build", schema.to_str().unwrap(), "--out", "out"],
            None,
        );
        assert_eq!(built.code, 0, "{}", built.transcript());
        std::fs::copy(&schema, directory.join("out/schema.plinth")).unwrap();
        let run = review(&directory, &["out", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        let errors: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| format!("{}: {}", f["rule"], f["message"]))
            .filter(|text| {
                !ACCEPTED
                    .iter()
                    .any(|(name, what)| *name == example && text.contains(what))
            })
            .collect();
        assert!(errors.is_empty(), "{example}: {errors:#?}");
    }
}
