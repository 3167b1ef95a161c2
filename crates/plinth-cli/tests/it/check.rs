//! `plinth check`: exit codes, text and JSON output.

use crate::{plinth, plinth_in, scratch_directory};

#[test]
fn clean_schema_exits_zero_with_a_summary() {
    let run = plinth(&["check", "clean.plinth"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 0);
}

#[test]
fn warnings_alone_exit_zero() {
    let run = plinth(&["check", "warnings.plinth"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("warning["), "{}", run.stderr);
}

#[test]
fn errors_exit_one_and_are_all_reported() {
    let run = plinth(&["check", "errors.plinth"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 1);
    // The unknown type, the missing back-relation and the unknown field in a policy: one run.
    assert!(run.stderr.matches("error[").count() >= 3, "{}", run.stderr);
}

#[test]
fn json_format_prints_one_document() {
    let run = plinth(&["check", "errors.plinth", "--format", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr, "");
    let document: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    insta::assert_json_snapshot!(document);
    let errors = document["errors"].as_u64().expect("errors is a count");
    let listed = document["diagnostics"]
        .as_array()
        .expect("diagnostics is a list")
        .iter()
        .filter(|diagnostic| diagnostic["severity"] == "error")
        .count();
    assert_eq!(errors as usize, listed);
    assert_eq!(document["file"], "errors.plinth");
}

#[test]
fn json_format_of_a_clean_schema_has_no_diagnostics() {
    let run = plinth(&["check", "--format", "json", "clean.plinth"]);
    assert_eq!(run.code, 0);
    let document: serde_json::Value =
        serde_json::from_str(&run.stdout).expect("stdout is one JSON document");
    assert_eq!(
        document,
        serde_json::json!({"file": "clean.plinth", "diagnostics": [], "errors": 0, "warnings": 0})
    );
}

#[test]
fn missing_file_exits_two() {
    let run = plinth(&["check", "no-such-file.plinth"]);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 2);
}

#[test]
fn bad_flags_exit_two() {
    let run = plinth(&["check", "clean.plinth", "--format", "xml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--format"), "{}", run.stderr);
    let run = plinth(&["check"]);
    assert_eq!(run.code, 2);
    let run = plinth(&["frobnicate"]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_prisma_file_and_other_extensions_load_too() {
    let directory = scratch_directory("check-extensions");
    let text = std::fs::read_to_string(crate::fixtures().join("clean.plinth"))
        .expect("the fixture exists");
    for name in ["schema.prisma", "schema.txt"] {
        std::fs::write(directory.join(name), &text).expect("the scratch file is written");
        let run = plinth_in(&directory, &["check", name], None);
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_eq!(
            run.stdout,
            format!("checked {name}: 0 errors, 0 warnings\n")
        );
    }
}

#[test]
fn binary_input_exits_two() {
    let directory = scratch_directory("check-binary");
    std::fs::write(directory.join("binary.plinth"), [0xff, 0xfe, 0x00, 0x81])
        .expect("the scratch file is written");
    let run = plinth_in(&directory, &["check", "binary.plinth"], None);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let text = std::fs::read_to_string(crate::fixtures().join("errors.plinth"))
        .expect("the fixture exists");
    let run = plinth_in(&crate::fixtures(), &["check", "-"], Some(&text));
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("--> -:"), "{}", run.stderr);
}

#[test]
fn hostile_input_never_crashes_the_binary() {
    let deep_nesting = format!(
        "model A {{\n  id Int @id\n  @@allow(\"read\", {}true{})\n}}\n",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let inputs = [
        String::new(),
        "}}}{{{".to_string(),
        "model".to_string(),
        "model A { id Int @id @default(".to_string(),
        "model 🦀 { naïve String\u{0} @id }".to_string(),
        "\u{feff}model A {\r\n  id Int @id\r\n}\r\n".to_string(),
        deep_nesting,
    ];
    for input in &inputs {
        for arguments in [&["check", "-"][..], &["fmt", "-"][..]] {
            let run = plinth_in(&crate::fixtures(), arguments, Some(input));
            assert!(
                run.code == 0 || run.code == 1,
                "{arguments:?} on {:?} gave {}",
                input.chars().take(60).collect::<String>(),
                run.transcript()
            );
        }
    }
}
