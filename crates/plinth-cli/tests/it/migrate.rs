//! `plinth migrate`: diff, up, status and down through the real binary on a SQLite file, exit
//! codes and output snapshotted (durations and timestamps redacted).

use crate::{plinth_in, scratch_directory, workspace_root, Run};

/// The transcript with the parts that change from run to run replaced.
fn redacted(run: &Run) -> String {
    run.transcript()
        .lines()
        .map(|line| {
            if let Some(start) = line.find("(applied ") {
                format!("{}(applied <time>)", &line[..start])
            } else if line.ends_with(" ms)") {
                match line.rfind('(') {
                    Some(start) => format!("{}(<duration> ms)", &line[..start]),
                    None => line.to_string(),
                }
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn diff_up_status_and_drift_on_sqlite() {
    let directory = scratch_directory("migrate-walk");
    let original = std::fs::read_to_string(workspace_root().join("examples/todo/schema.plinth"))
        .expect("the todo example exists");
    std::fs::write(directory.join("schema.plinth"), &original).expect("the schema is written");
    let plinth = |arguments: &[&str]| plinth_in(&directory, arguments, None);

    let first = plinth(&["migrate", "diff", "schema.plinth"]);
    let again = plinth(&["migrate", "diff", "schema.plinth"]);
    let status_before = plinth(&["migrate", "status", "schema.plinth"]);
    let up = plinth(&["migrate", "up", "schema.plinth"]);
    let status_after = plinth(&["migrate", "status", "schema.plinth"]);
    insta::assert_snapshot!(
        "first_diff_up_and_status",
        [&first, &again, &status_before, &up, &status_after]
            .iter()
            .map(|run| redacted(run))
            .collect::<Vec<_>>()
            .join("\n=====\n")
    );
    assert_eq!(
        [
            first.code,
            again.code,
            status_before.code,
            up.code,
            status_after.code
        ],
        [0, 0, 0, 0, 0]
    );

    // A new optional field: the planner writes 0002, up applies it, status is clean.
    let extended = original.replacen(
        "  notes      String?",
        "  notes      String?\n  colour     String?",
        1,
    );
    assert_ne!(extended, original, "the example still has a `notes` field");
    std::fs::write(directory.join("schema.plinth"), &extended).expect("the schema is written");
    let second = plinth(&["migrate", "diff", "schema.plinth", "--name", "Add colour"]);
    assert_eq!(second.code, 0, "{}", second.transcript());
    assert!(
        second
            .stdout
            .starts_with("wrote migrations/0002_add_colour\n"),
        "{}",
        second.stdout
    );
    let up_second = plinth(&["migrate", "up", "schema.plinth"]);
    assert_eq!(up_second.code, 0, "{}", up_second.transcript());

    // Dropping it again loses data: refused without the flag, nothing written.
    std::fs::write(directory.join("schema.plinth"), &original).expect("the schema is written");
    let destructive = plinth(&["migrate", "diff", "schema.plinth"]);
    insta::assert_snapshot!("destructive_diff_refused", redacted(&destructive));
    assert_eq!(destructive.code, 1);
    assert!(!directory.join("migrations/0003_change").exists());

    // Edited after being applied, and changed by hand: both are drift (exit 1).
    let up_sql = directory.join("migrations/0001_init/up.sql");
    let text = std::fs::read_to_string(&up_sql).expect("up.sql exists");
    std::fs::write(&up_sql, format!("{text}-- edited\n")).expect("up.sql is written");
    let database = rusqlite::Connection::open(directory.join("schema.db")).expect("opens");
    database
        .execute_batch("ALTER TABLE \"Category\" ADD COLUMN \"icon\" TEXT")
        .expect("the hand-made change applies");
    let drift = plinth(&["migrate", "status", "schema.plinth"]);
    insta::assert_snapshot!("status_reports_drift", redacted(&drift));
    assert_eq!(drift.code, 1);

    // Down rolls back the newest migration only.
    std::fs::write(&up_sql, text).expect("up.sql is restored");
    let down = plinth(&["migrate", "down", "schema.plinth"]);
    assert_eq!(down.code, 0, "{}", down.transcript());
    assert!(
        down.stdout.starts_with("rolled back 0002_add_colour"),
        "{}",
        down.stdout
    );
}

#[test]
fn a_missing_schema_or_a_bad_count_cannot_run() {
    let directory = scratch_directory("migrate-bad-arguments");
    let missing = plinth_in(&directory, &["migrate", "up", "nowhere.plinth"], None);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
    std::fs::write(directory.join("schema.plinth"), "").expect("written");
    let bad_count = plinth_in(&directory, &["migrate", "down", "x", "schema.plinth"], None);
    assert_eq!(bad_count.code, 2, "{}", bad_count.transcript());
    assert!(
        bad_count.stderr.contains("is not a number"),
        "{}",
        bad_count.stderr
    );
}

/// A schema before a change that loses data in four ways at once.
const BEFORE_LOSSES: &str = r#"datasource db {
  provider = "sqlite"
  url      = "file:./losses.db"
}

enum Status {
  DRAFT
  PUBLISHED
  ARCHIVED
}

model Post {
  id       Int     @id @default(autoincrement())
  title    String
  subtitle String?
  status   Status  @default(DRAFT)
  views    BigInt  @default(0)

  @@allow("all", true)
}

model Legacy {
  id   Int    @id @default(autoincrement())
  note String

  @@allow("all", true)
}
"#;

#[test]
fn a_destructive_diff_lists_everything_it_would_lose_in_both_dialects() {
    let directory = scratch_directory("migrate-losses");
    std::fs::write(directory.join("schema.plinth"), BEFORE_LOSSES).expect("the schema is written");
    let plinth = |arguments: &[&str]| plinth_in(&directory, arguments, None);
    let first = plinth(&["migrate", "diff", "schema.plinth", "--dialect", "all"]);
    assert_eq!(first.code, 0, "{}", first.transcript());

    // A dropped model, a dropped field, a narrowed type and a removed enum value.
    let after = BEFORE_LOSSES
        .replacen("  ARCHIVED\n", "", 1)
        .replacen("  subtitle String?\n", "", 1)
        .replacen("BigInt  @default(0)", "Int     @default(0)", 1)
        .replacen(
            "model Legacy {\n  id   Int    @id @default(autoincrement())\n  note String\n\n  @@allow(\"all\", true)\n}\n",
            "",
            1,
        );
    assert!(
        !after.contains("ARCHIVED")
            && !after.contains("subtitle")
            && !after.contains("BigInt")
            && !after.contains("Legacy"),
        "every change applies"
    );
    std::fs::write(directory.join("schema.plinth"), &after).expect("the schema is written");
    for dialect in ["sqlite", "postgres"] {
        let refused = plinth(&["migrate", "diff", "schema.plinth", "--dialect", dialect]);
        assert_eq!(refused.code, 1, "{}", refused.transcript());
        insta::assert_snapshot!(
            format!("destructive_diff_lists_losses_{dialect}"),
            redacted(&refused)
        );
    }
    assert!(!directory.join("migrations/0002_change").exists());

    let allowed = plinth(&[
        "migrate",
        "diff",
        "schema.plinth",
        "--dialect",
        "all",
        "--allow-destructive",
    ]);
    assert_eq!(allowed.code, 0, "{}", allowed.transcript());
    for dialect in ["sqlite", "postgres"] {
        let folder = directory.join("migrations/0002_change").join(dialect);
        let up = std::fs::read_to_string(folder.join("up.sql")).expect("up.sql is written");
        let down = std::fs::read_to_string(folder.join("down.sql")).expect("down.sql is written");
        assert!(
            up.contains("-- WARNING: this migration loses data:"),
            "{up}"
        );
        assert!(down.contains("-- IRREVERSIBLE:"), "{down}");
        for lost in ["Legacy", "Post.subtitle", "Post.views", "ARCHIVED"] {
            assert!(
                up.contains(lost),
                "{dialect} up.sql does not name {lost}:\n{up}"
            );
        }
    }
}
