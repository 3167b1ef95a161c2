//! Plinth's migration rules against squawk's own rule tests, and over the real migration sets of
//! the corpus.
//!
//! `../shared/corpus/fixtures/squawk/` holds squawk's test SQL with the outcome squawk expects
//! (`index.json`: rule, test, `ok`/`error`, file). Each file is reviewed as one up-migration, as
//! squawk reads it (a table is existing unless the file creates it). For every squawk rule that
//! one of ours covers, we count how many of squawk's `error` cases we flag with the mapped rule
//! and how many of its `ok` cases we leave alone. Every disagreement must have a written reason
//! below, so a new one fails the test until someone decides who is right. Both tests skip with a
//! message when the corpus is not there.

use plinth_review::{load_paths, load_sources, review, Config, Report};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// A squawk rule, the rules of ours that cover it, and the agreement we assert.
struct Mapping {
    squawk: &'static str,
    ours: &'static [&'static str],
    /// Minimum share of squawk's cases (error and ok together) on which we agree.
    min_agreement: f64,
}

const MAPPINGS: &[Mapping] = &[
    Mapping {
        squawk: "require-concurrent-index-creation",
        ours: &["index-without-concurrently"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "require-concurrent-index-deletion",
        ours: &["drop-index-without-concurrently"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "ban-concurrent-index-creation-in-transaction",
        ours: &["concurrent-index-in-transaction"],
        min_agreement: 0.8,
    },
    Mapping {
        squawk: "adding-required-field",
        ours: &["add-not-null-column-without-default"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "adding-field-with-default",
        ours: &["add-column-volatile-default"],
        min_agreement: 0.85,
    },
    Mapping {
        squawk: "constraint-missing-not-valid",
        ours: &["constraint-without-not-valid"],
        min_agreement: 0.8,
    },
    Mapping {
        squawk: "adding-foreign-key-constraint",
        ours: &["constraint-without-not-valid"],
        min_agreement: 0.7,
    },
    Mapping {
        squawk: "ban-alter-domain-with-add-constraint",
        ours: &["constraint-without-not-valid"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "adding-not-nullable-field",
        ours: &["set-not-null-on-existing-column"],
        min_agreement: 0.85,
    },
    Mapping {
        squawk: "disallowed-unique-constraint",
        ours: &["unique-constraint-without-index"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "adding-serial-primary-key-field",
        ours: &[
            "unique-constraint-without-index",
            "add-column-volatile-default",
        ],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "changing-column-type",
        ours: &["column-type-change"],
        min_agreement: 0.5,
    },
    Mapping {
        squawk: "renaming-column",
        ours: &["rename-column"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "renaming-table",
        ours: &["rename-table"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "ban-drop-column",
        ours: &["drop-column"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "ban-drop-table",
        ours: &["drop-table"],
        min_agreement: 1.0,
    },
    Mapping {
        squawk: "require-lock-timeout",
        ours: &["missing-lock-timeout"],
        min_agreement: 0.65,
    },
    Mapping {
        squawk: "require-timeout-settings",
        ours: &["missing-lock-timeout"],
        min_agreement: 0.5,
    },
    Mapping {
        squawk: "ban-uncommitted-transaction",
        ours: &["uncommitted-transaction"],
        min_agreement: 0.85,
    },
    Mapping {
        squawk: "transaction-nesting",
        ours: &["nested-transaction"],
        min_agreement: 0.6,
    },
];

/// Why we differ from squawk on a case, by `rule/test`.
const DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "ban-concurrent-index-creation-in-transaction/assuming_in_transaction_err",
        "squawk was run assuming a wrapping transaction; we flag only an explicit `BEGIN`, \
         because a file holding `CONCURRENTLY` is evidence its runner does not wrap it",
    ),
    (
        "adding-field-with-default/default_random_with_args_err",
        "`now(123)` does not exist in PostgreSQL (the statement fails); `now()` is stable",
    ),
    (
        "adding-field-with-default/docs_example_error_on_pg_11",
        "squawk run for PostgreSQL 11, where any default rewrote the table; we assume 12+",
    ),
    (
        "adding-foreign-key-constraint/add_column_references_lock",
        "`ADD COLUMN … REFERENCES` with no default adds an all-NULL column, so there is nothing \
         to validate: 9 ms on a 3-million-row table on PostgreSQL 15, against 444 ms for \
         `ADD CONSTRAINT … FOREIGN KEY` on a filled column",
    ),
    (
        "constraint-missing-not-valid/adding_fk_not_valid_ok",
        "we take a file without `BEGIN`/`COMMIT` to run as one transaction (most runners wrap a \
         file, or send it as one multi-statement query), so the `VALIDATE` runs under the lock \
         taken by the `ADD … NOT VALID`; squawk agrees when told so \
         (not_valid_validate_assume_transaction_err)",
    ),
    (
        "constraint-missing-not-valid/adding_check_constraint_ok",
        "as adding_fk_not_valid_ok: the `VALIDATE` shares the transaction of the `ADD … NOT \
         VALID` when the file runs as one transaction",
    ),
    (
        "adding-foreign-key-constraint/add_foreign_key_constraint_not_valid_validate",
        "the `VALIDATE` runs inside the `BEGIN … COMMIT` that added the key `NOT VALID`, so the \
         lock is held through the scan; squawk's own constraint-missing-not-valid flags this \
         (not_valid_validate_transaction_err)",
    ),
    (
        "require-lock-timeout/fix_add_statement_timeout_only",
        "a fix test for a missing `statement_timeout`: the same SQL is squawk's \
         ok_only_lock_timeout_rule_enabled case, which we agree with",
    ),
    (
        "adding-not-nullable-field/regression_gh_issue_628_pg11_with_validated_check_err",
        "squawk run for PostgreSQL 11; on 12+ the validated CHECK lets `SET NOT NULL` skip \
         its scan",
    ),
    (
        "adding-not-nullable-field/pg11_cross_migration_validate_then_set_not_null_err",
        "squawk run for PostgreSQL 11; on 12+ the validated CHECK lets `SET NOT NULL` skip \
         its scan",
    ),
    (
        "changing-column-type/err",
        "the old type is unknown (the table is not created in the inputs) and a change to `text` \
         is metadata-only from `varchar`, so we give it the benefit of the doubt",
    ),
    (
        "changing-column-type/another_err",
        "the old type is unknown; `varchar(255)` then `text` are both widenings from a `varchar`, \
         which PostgreSQL does without a rewrite",
    ),
    (
        "require-lock-timeout/fix_multiple_ddl_statements",
        "the `ALTER TABLE` is on a table the same file creates: it is empty and unused, so no \
         query can queue behind its lock",
    ),
    (
        "require-lock-timeout/fixes_preserve_cr_line_endings",
        "the fixture is a quoted string literal holding SQL with bare CR line endings, not SQL; \
         we read a `SELECT` of a string",
    ),
    (
        "require-timeout-settings/err_missing_statement_timeout",
        "we require `lock_timeout` only: a statement timeout would abort long but harmless \
         backfills, and the lock queue is what stalls traffic",
    ),
    (
        "require-timeout-settings/err_other_ddl_operations",
        "`CREATE TYPE` takes no lock on any existing table",
    ),
    (
        "require-timeout-settings/err_comment_on_explains_lock_impact",
        "`COMMENT ON` takes a SHARE UPDATE EXCLUSIVE lock, which blocks no reads or writes",
    ),
    (
        "require-timeout-settings/err_reindex_concurrently_false_uses_non_concurrent_lock",
        "`REINDEX` is not among the statements we judge",
    ),
    (
        "require-timeout-settings/err_vacuum_full_false_uses_non_full_lock",
        "a plain `VACUUM` takes a SHARE UPDATE EXCLUSIVE lock, which blocks no reads or writes",
    ),
    (
        "require-timeout-settings/err_lock_access_share_uses_correct_article",
        "`LOCK TABLE … IN ACCESS SHARE MODE` blocks only DDL, never reads or writes",
    ),
    (
        "ban-uncommitted-transaction/fix_adds_commit_with_cr_line_endings",
        "the fixture is a quoted string literal holding SQL, not SQL",
    ),
    (
        "transaction-nesting/commit_repeated_err",
        "a second `COMMIT` only draws a PostgreSQL warning; squawk counts it, we do not",
    ),
    (
        "transaction-nesting/commit_with_assume_in_transaction_err",
        "squawk was run assuming a wrapping transaction; a lone `COMMIT` is also how a migration \
         leaves the runner's transaction on purpose",
    ),
    (
        "transaction-nesting/rollback_with_assume_in_transaction_err",
        "squawk was run assuming a wrapping transaction; we judge only explicit nesting",
    ),
];

fn review_as_migration(sql: &str) -> Report {
    let sources = vec![("migrations/0002_squawk.sql".to_string(), sql.to_string())];
    review(load_sources(sources), &Config::default())
}

#[test]
fn migration_rules_agree_with_squawks_own_tests() {
    let root = corpus().join("fixtures/squawk");
    let Ok(index) = std::fs::read_to_string(root.join("index.json")) else {
        eprintln!("skipped: no squawk fixtures at {}", root.display());
        return;
    };
    let cases: Vec<Value> = serde_json::from_str(&index).expect("index.json is JSON");
    let reasons: BTreeMap<&str, &str> = DISAGREEMENTS.iter().copied().collect();
    let mut problems = Vec::new();
    let mut explained = Vec::new();
    let mut table = Vec::new();
    let (mut all_cases, mut all_agreed) = (0, 0);
    for mapping in MAPPINGS {
        let (mut errors, mut errors_flagged, mut oks, mut oks_clean) = (0, 0, 0, 0);
        for case in cases.iter().filter(|c| c["rule"] == mapping.squawk) {
            let (Some(test), Some(file), Some(expect)) = (
                case["test"].as_str(),
                case["file"].as_str(),
                case["expect"].as_str(),
            ) else {
                continue;
            };
            let Ok(sql) = std::fs::read_to_string(root.join(file)) else {
                continue;
            };
            let report = review_as_migration(&sql);
            let flagged = report
                .findings
                .iter()
                .any(|f| mapping.ours.contains(&f.rule));
            let error = expect == "error";
            if error {
                errors += 1;
                errors_flagged += usize::from(flagged);
            } else {
                oks += 1;
                oks_clean += usize::from(!flagged);
            }
            if flagged != error {
                let key = format!("{}/{test}", mapping.squawk);
                let what = if error { "missed" } else { "flagged" };
                match reasons.get(key.as_str()) {
                    Some(reason) => explained.push(format!("  {what} {key}: {reason}")),
                    None => problems.push(format!("{what} {key} with no reason given:\n{sql}")),
                }
            }
        }
        let total = errors + oks;
        all_cases += total;
        all_agreed += errors_flagged + oks_clean;
        let agreement = if total == 0 {
            1.0
        } else {
            (errors_flagged + oks_clean) as f64 / total as f64
        };
        table.push(format!(
            "  {:<46} {:<58} errors {errors_flagged}/{errors}  ok {oks_clean}/{oks}  {:.0}%",
            mapping.squawk,
            mapping.ours.join(", "),
            agreement * 100.0
        ));
        if total == 0 {
            problems.push(format!("no squawk cases for `{}`", mapping.squawk));
        } else if agreement < mapping.min_agreement {
            problems.push(format!(
                "`{}`: agreement {:.0}% is under {:.0}%",
                mapping.squawk,
                agreement * 100.0,
                mapping.min_agreement * 100.0
            ));
        }
    }
    eprintln!("agreement with squawk's tests, per squawk rule:");
    eprintln!("{}", table.join("\n"));
    let overall = all_agreed as f64 / all_cases.max(1) as f64;
    eprintln!(
        "overall: {all_agreed} of {all_cases} cases ({:.0}%)",
        overall * 100.0
    );
    eprintln!("disagreements, with reasons:\n{}", explained.join("\n"));
    if overall < 0.8 {
        problems.push(format!(
            "overall agreement {:.0}% is under 80%",
            overall * 100.0
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The five real migration sets, each reviewed as one folder: every file well under the time
/// budget, and the count of each rule's findings printed for the record.
#[test]
fn corpus_migration_sets_are_reviewed_quickly() {
    let root = corpus().join("sql");
    let Ok(entries) = std::fs::read_dir(&root) else {
        eprintln!("skipped: no corpus at {}", root.display());
        return;
    };
    let mut sets: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    sets.sort();
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    // `PLINTH_REVIEW_SHOW=<rule-id>` (or `all`) prints those findings, for checking them by hand
    // and for comparing with other tools.
    let show = std::env::var("PLINTH_REVIEW_SHOW").ok();
    for set in sets {
        let started = Instant::now();
        let workspace = load_paths(std::slice::from_ref(&set), &Config::default())
            .expect("the corpus folder loads");
        let files = workspace.files.len();
        let report = review(workspace, &Config::default());
        let elapsed = started.elapsed();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for finding in &report.findings {
            *counts.entry(finding.rule).or_default() += 1;
            *totals.entry(finding.rule).or_default() += 1;
            if show.as_deref() == Some(finding.rule) || show.as_deref() == Some("all") {
                let file = &report.workspace.files[finding.file];
                let at = file.line_col(finding.span.start);
                eprintln!(
                    "{}:{}: {}: {}",
                    file.name, at.line, finding.rule, finding.message
                );
            }
        }
        let name = set.file_name().unwrap_or_default().to_string_lossy();
        eprintln!(
            "{name}: {files} files in {} ms: {counts:?}",
            elapsed.as_millis()
        );
        assert!(
            elapsed < Duration::from_secs(2) * files.max(1) as u32,
            "{name} took {elapsed:?}"
        );
    }
    eprintln!("all sets: {totals:#?}");
}
