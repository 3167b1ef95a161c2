//! Every example under `examples/` checks clean, is formatted, builds, and (when the validator is
//! installed, as `scripts/test` does) its OpenAPI document passes a real OpenAPI 3.1 validator.

use crate::{example_name, example_schemas, plinth_in, scratch_directory, workspace_root};
use std::process::Command;

#[test]
fn there_are_four_examples() {
    let names: Vec<String> = example_schemas().iter().map(|s| example_name(s)).collect();
    assert_eq!(names, ["blog", "catalog", "saas", "todo"]);
}

#[test]
fn every_example_checks_without_errors_or_warnings() {
    let mut transcripts = String::new();
    for schema in example_schemas() {
        let relative = format!("examples/{}/schema.plinth", example_name(&schema));
        let run = plinth_in(&workspace_root(), &["check", &relative], None);
        assert_eq!(run.code, 0, "{}", run.transcript());
        // Notes are fine (blog's `generator` block is there to show one); warnings are not.
        assert!(
            !run.stderr.contains("warning["),
            "examples should check without warnings: {}",
            run.stderr
        );
        transcripts.push_str(&run.transcript());
    }
    insta::assert_snapshot!(transcripts);
}

#[test]
fn every_example_is_formatted() {
    for schema in example_schemas() {
        let relative = format!("examples/{}/schema.plinth", example_name(&schema));
        let run = plinth_in(&workspace_root(), &["fmt", "--check", &relative], None);
        assert_eq!(
            run.code,
            0,
            "run `plinth fmt {relative}`: {}",
            run.transcript()
        );
    }
}

#[test]
fn every_example_has_a_readme_that_says_how_to_run_it() {
    for schema in example_schemas() {
        let name = example_name(&schema);
        let readme = std::fs::read_to_string(schema.with_file_name("README.md"))
            .unwrap_or_else(|_| panic!("examples/{name}/README.md exists"));
        let first_line = readme.lines().next().unwrap_or_default();
        assert!(
            first_line.contains(&format!("plinth check examples/{name}/schema.plinth")),
            "examples/{name}/README.md: {first_line}"
        );
    }
}

#[test]
fn every_example_builds_and_its_openapi_document_is_valid() {
    let validator = std::env::var_os("PLINTH_TEST_OPENAPI_VALIDATOR");
    if validator.is_none() {
        assert!(
            std::env::var_os("PLINTH_REQUIRE_SERVICES").is_none(),
            "PLINTH_REQUIRE_SERVICES is set but PLINTH_TEST_OPENAPI_VALIDATOR is not"
        );
        println!("PLINTH_TEST_OPENAPI_VALIDATOR not set: building without validating OpenAPI");
    }
    for schema in example_schemas() {
        let name = example_name(&schema);
        let directory = scratch_directory(&format!("build-example-{name}"));
        let schema = schema.to_string_lossy();
        let run = plinth_in(&directory, &["build", &schema, "--out", "out"], None);
        assert_eq!(run.code, 0, "{name}: {}", run.transcript());
        let Some(validator) = &validator else {
            continue;
        };
        let output = Command::new(validator)
            .arg(directory.join("out/openapi.json"))
            .output()
            .expect("the OpenAPI validator runs");
        assert!(
            output.status.success(),
            "{name}: openapi.json is not valid OpenAPI:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
