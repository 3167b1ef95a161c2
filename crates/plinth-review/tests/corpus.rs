//! The review over real inputs: every file of `../shared/corpus/` (OpenAPI documents of public
//! services, hundreds of PostgreSQL migrations of public projects, Prisma and ZenStack schemas)
//! is read and reviewed without a panic and within a time budget. Each migration folder is
//! reviewed as one input, as `plinth review DIR` would, and each of its files alone too.
//!
//! Runs whenever the corpus folder exists beside the repository and says it skipped otherwise.
//! The findings per rule and the slowest inputs are printed and written to
//! `target/test-artifacts/review-corpus.txt`, with a few findings of each rule to check by hand
//! in `review-corpus-samples.txt`.

use plinth_review::{load_sources, output, review, Config, Report};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the issue asks of every input: under two seconds, in the build users run. The tests run
/// unoptimised (dependencies at opt-level 1), where the largest document (OpenAI's, 3 MB) takes
/// about 1.5 s alone and 2 s on a busy machine, against 0.5 s in release; there the budget is
/// wider, still far below what quadratic work on that document would take.
const BUDGET: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(5)
} else {
    Duration::from_secs(2)
};

/// Findings of each rule written to the samples file, spread over the corpus.
const SAMPLES_PER_RULE: usize = 5;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// The reviewable files under `dir`, sorted, with their text and their name relative to the
/// corpus root (`sql/harbor-migrations/0001_initial_schema.up.sql`). Files that are not UTF-8
/// are left out and counted.
fn files_under(root: &Path, dir: &Path, out: &mut Vec<(String, String)>, not_utf8: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_under(root, &path, out, not_utf8);
        } else if plinth_review::input::kind_of(&path).is_some() {
            let name = path
                .strip_prefix(root)
                .expect("under the corpus root")
                .to_string_lossy()
                .replace('\\', "/");
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push((name, text)),
                Err(_) => *not_utf8 += 1,
            }
        }
    }
}

/// One review of the corpus: its inputs, named like the corpus files.
struct Unit {
    name: String,
    sources: Vec<(String, String)>,
    /// Counted in the per-rule totals: each file once, in the context a user would review it
    /// (a migration in its folder, not alone).
    counted: bool,
}

struct Outcome {
    name: String,
    elapsed: Duration,
    /// Loading (parsing, the catalogue), the rules, rendering.
    steps: [Duration; 3],
    files: usize,
    bytes: usize,
    findings: usize,
    counted: bool,
}

fn units(root: &Path) -> (Vec<Unit>, usize) {
    let mut units = Vec::new();
    let mut not_utf8 = 0;
    for folder in ["openapi", "prisma", "zmodel"] {
        let mut files = Vec::new();
        files_under(root, &root.join(folder), &mut files, &mut not_utf8);
        for file in files {
            units.push(Unit {
                name: file.0.clone(),
                sources: vec![file],
                counted: true,
            });
        }
    }
    let mut sets: Vec<PathBuf> = std::fs::read_dir(root.join("sql"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    for set in sets {
        let mut files = Vec::new();
        files_under(root, &set, &mut files, &mut not_utf8);
        let name = set
            .strip_prefix(root)
            .expect("under the corpus root")
            .to_string_lossy()
            .replace('\\', "/");
        for file in &files {
            units.push(Unit {
                name: file.0.clone(),
                sources: vec![file.clone()],
                counted: false,
            });
        }
        units.push(Unit {
            name: format!("{name}/"),
            sources: files,
            counted: true,
        });
    }
    (units, not_utf8)
}

/// Loads, reviews and renders in all three formats (output is part of what a user waits for);
/// the time of each step.
fn run(sources: Vec<(String, String)>) -> (Report, [Duration; 3]) {
    let started = Instant::now();
    let workspace = load_sources(sources);
    let loaded = started.elapsed();
    let report = review(workspace, &Config::default());
    let reviewed = started.elapsed();
    let _ = output::render_text(&report);
    let _ = output::render_json(&report);
    let _ = output::render_sarif(&report);
    let rendered = started.elapsed();
    (report, [loaded, reviewed - loaded, rendered - reviewed])
}

#[test]
fn every_corpus_input_is_reviewed_without_a_panic_within_the_budget() {
    let root = corpus();
    if !root.is_dir() {
        eprintln!(
            "skipping the corpus review: {} does not exist",
            root.display()
        );
        return;
    }
    let (units, not_utf8) = units(&root);
    assert!(!units.is_empty(), "the corpus has no reviewable file");

    let mut problems = Vec::new();
    let mut outcomes = Vec::new();
    let mut per_rule: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut samples: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut skipped = Vec::new();
    // The panic message is what the test should show, not one backtrace per input.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for unit in units {
        let files = unit.sources.len();
        let bytes = unit.sources.iter().map(|(_, text)| text.len()).sum();
        let started = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| run(unit.sources)));
        let elapsed = started.elapsed();
        let (report, steps) = match result {
            Ok(done) => done,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                problems.push(format!("{}: panicked: {message}", unit.name));
                continue;
            }
        };
        if elapsed > BUDGET {
            problems.push(format!(
                "{}: took {:.2} s (budget {:.0} s)",
                unit.name,
                elapsed.as_secs_f64(),
                BUDGET.as_secs_f64()
            ));
        }
        if unit.counted {
            for finding in &report.findings {
                *per_rule.entry(finding.rule).or_default() += 1;
                let file = &report.workspace.files[finding.file];
                let at = file.line_col(finding.span.start);
                samples.entry(finding.rule).or_default().push(format!(
                    "{}:{}:{}: {}\n    | {}\n    = help: {}",
                    file.name,
                    at.line,
                    at.column,
                    finding.message,
                    file.line_text(at.line).trim(),
                    finding.help
                ));
            }
            skipped.extend(
                report
                    .workspace
                    .skipped
                    .iter()
                    .map(|s| format!("{}: {}", s.path, s.reason)),
            );
        }
        outcomes.push(Outcome {
            name: unit.name,
            elapsed,
            steps,
            files,
            bytes,
            findings: report.findings.len(),
            counted: unit.counted,
        });
    }
    std::panic::set_hook(hook);

    let summary = summary(&outcomes, &per_rule, &skipped, not_utf8);
    println!("{summary}");
    write_artifact("review-corpus.txt", &summary);
    let mut sample_text =
        String::from("# A few findings of each rule over the corpus, to check by hand.\n");
    for (rule, kept) in &samples {
        let _ = writeln!(sample_text, "\n## {rule} ({} in all)\n", per_rule[rule]);
        // Spread over the corpus rather than the first few of one input.
        let step = kept.len().div_ceil(SAMPLES_PER_RULE).max(1);
        for sample in kept.iter().step_by(step) {
            let _ = writeln!(sample_text, "{sample}");
        }
    }
    write_artifact("review-corpus-samples.txt", &sample_text);

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn summary(
    outcomes: &[Outcome],
    per_rule: &BTreeMap<&'static str, usize>,
    skipped: &[String],
    not_utf8: usize,
) -> String {
    let mut out = String::from("plinth review over ../shared/corpus\n");
    let alone = outcomes.iter().filter(|o| o.files == 1).count();
    let folders = outcomes.iter().filter(|o| o.name.ends_with('/')).count();
    let total: Duration = outcomes.iter().map(|o| o.elapsed).sum();
    let _ = writeln!(
        out,
        "{} reviews ({alone} single files, {folders} migration folders), {:.1} s in all \
         ({} build); {not_utf8} files not UTF-8 left out",
        outcomes.len(),
        total.as_secs_f64(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let mut slowest: Vec<&Outcome> = outcomes.iter().collect();
    slowest.sort_by_key(|outcome| std::cmp::Reverse(outcome.elapsed));
    let _ = writeln!(
        out,
        "\nslowest reviews: total = load + rules + text, JSON and SARIF output (seconds)"
    );
    for outcome in slowest.iter().take(12) {
        let [load, rules, render] = outcome.steps.map(|step| step.as_secs_f64());
        let _ = writeln!(
            out,
            "  {:>6.3} = {load:.3} + {rules:.3} + {render:.3}  {:>5} KB  {:>4} files  {:>5} \
             findings  {}",
            outcome.elapsed.as_secs_f64(),
            outcome.bytes / 1024,
            outcome.files,
            outcome.findings,
            outcome.name
        );
    }

    let counted: Vec<&Outcome> = outcomes.iter().filter(|o| o.counted).collect();
    let _ = writeln!(
        out,
        "\nfindings per input (each file once: migrations in their folder):"
    );
    for outcome in &counted {
        let _ = writeln!(out, "  {:>5}  {}", outcome.findings, outcome.name);
    }

    let mut rules: Vec<(&&str, &usize)> = per_rule.iter().collect();
    rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let all: usize = per_rule.values().sum();
    let _ = writeln!(out, "\nfindings per rule ({all} in all):");
    for (rule, count) in rules {
        let _ = writeln!(out, "  {count:>5}  {rule}");
    }
    let silent: Vec<&str> = plinth_review::registry::all()
        .map(|r| r.id)
        .filter(|id| !per_rule.contains_key(id))
        .collect();
    let _ = writeln!(
        out,
        "\nrules with no finding ({}): {}",
        silent.len(),
        silent.join(", ")
    );
    if !skipped.is_empty() {
        let _ = writeln!(out, "\ninputs skipped by the loader ({}):", skipped.len());
        for line in skipped {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// Writes `target/test-artifacts/<name>` of the workspace (a note for people; failing to
/// write it is not a failure of the review).
fn write_artifact(name: &str, text: &str) {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    if std::fs::create_dir_all(&directory).is_ok() {
        let _ = std::fs::write(directory.join(name), text);
    }
}
