//! `plinth fmt`: in place, `--check`, standard output, and files that do not parse.

use crate::{fixtures, plinth, plinth_in, scratch_directory};

fn copy_fixture(directory: &std::path::Path, name: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(name)).expect("the fixture exists");
    std::fs::write(directory.join(name), &text).expect("the scratch file is written");
    text
}

#[test]
fn check_lists_files_that_would_change_and_exits_one() {
    let run = plinth(&["fmt", "--check", "unformatted.plinth", "clean.plinth"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("would reformat unformatted.plinth"));
    assert!(!run.stdout.contains("clean.plinth"));
}

#[test]
fn formatting_in_place_is_idempotent_and_keeps_comments() {
    let directory = scratch_directory("fmt-in-place");
    let original = copy_fixture(&directory, "unformatted.plinth");
    let run = plinth_in(&directory, &["fmt", "unformatted.plinth"], None);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "formatted unformatted.plinth\n");
    let formatted = std::fs::read_to_string(directory.join("unformatted.plinth"))
        .expect("the formatted file exists");
    assert_ne!(formatted, original);
    assert!(formatted.contains("// kept comment"), "{formatted}");
    insta::assert_snapshot!(formatted);

    let again = plinth_in(&directory, &["fmt", "--check", "unformatted.plinth"], None);
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert_eq!(again.stdout, "");
}

#[test]
fn stdout_and_dash_print_the_formatted_text() {
    let directory = scratch_directory("fmt-stdout");
    let original = copy_fixture(&directory, "unformatted.plinth");
    let printed = plinth_in(&directory, &["fmt", "--stdout", "unformatted.plinth"], None);
    assert_eq!(printed.code, 0, "{}", printed.transcript());
    let untouched = std::fs::read_to_string(directory.join("unformatted.plinth"))
        .expect("the file still exists");
    assert_eq!(untouched, original, "--stdout must not write the file");

    let piped = plinth_in(&directory, &["fmt", "-"], Some(&original));
    assert_eq!(piped.code, 0, "{}", piped.transcript());
    assert_eq!(piped.stdout, printed.stdout);
}

#[test]
fn syntax_errors_are_reported_and_the_file_is_left_alone() {
    let directory = scratch_directory("fmt-syntax-error");
    let original = copy_fixture(&directory, "syntax_error.plinth");
    let run = plinth_in(&directory, &["fmt", "syntax_error.plinth"], None);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("error["), "{}", run.stderr);
    let after = std::fs::read_to_string(directory.join("syntax_error.plinth"))
        .expect("the file still exists");
    assert_eq!(after, original);
}

#[test]
fn missing_file_exits_two() {
    let run = plinth(&["fmt", "no-such-file.plinth"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
}
