//! `plinth build`: the files it writes, and its refusal to build a schema with errors.

use crate::{fixtures, plinth_in, scratch_directory};
use std::path::Path;

/// Every file under `directory`, relative, sorted, with its size.
fn listing(directory: &Path) -> Vec<(String, u64)> {
    fn walk(root: &Path, directory: &Path, files: &mut Vec<(String, u64)>) {
        let Ok(entries) = std::fs::read_dir(directory) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).unwrap_or(&path);
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                files.push((relative.display().to_string(), size));
            }
        }
    }
    let mut files = Vec::new();
    walk(directory, directory, &mut files);
    files.sort();
    files
}

#[test]
fn writes_every_deliverable() {
    let directory = scratch_directory("build-clean");
    let schema = fixtures().join("clean.plinth");
    let schema = schema.to_string_lossy();
    let run = plinth_in(&directory, &["build", &schema, "--out", "out"], None);
    insta::assert_snapshot!(run.transcript());
    assert_eq!(run.code, 0);

    let files = listing(&directory.join("out"));
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "API.md",
            "erd.mmd",
            "openapi.json",
            "postgres/0001_init.sql",
            "sqlite/0001_init.sql"
        ]
    );
    for (name, size) in &files {
        assert!(*size > 0, "{name} is empty");
    }
    let openapi = std::fs::read_to_string(directory.join("out/openapi.json"))
        .expect("openapi.json was written");
    assert!(
        openapi.ends_with("}\n"),
        "pretty JSON with a trailing newline"
    );
    let document: serde_json::Value = serde_json::from_str(&openapi).expect("openapi.json is JSON");
    assert!(document["openapi"]
        .as_str()
        .is_some_and(|version| version.starts_with("3.1")));
}

#[test]
fn building_twice_gives_the_same_bytes() {
    let directory = scratch_directory("build-deterministic");
    let schema = fixtures().join("clean.plinth");
    let schema = schema.to_string_lossy();
    for out in ["first", "second"] {
        let run = plinth_in(&directory, &["build", &schema, "--out", out], None);
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    for (name, _) in listing(&directory.join("first")) {
        let first = std::fs::read(directory.join("first").join(&name)).expect("file exists");
        let second = std::fs::read(directory.join("second").join(&name)).expect("file exists");
        assert!(first == second, "{name} differs between two builds");
    }
}

#[test]
fn refuses_a_schema_with_errors_and_writes_nothing() {
    let directory = scratch_directory("build-errors");
    let text = std::fs::read_to_string(fixtures().join("errors.plinth")).expect("fixture exists");
    std::fs::write(directory.join("errors.plinth"), text).expect("the scratch file is written");
    let run = plinth_in(
        &directory,
        &["build", "errors.plinth", "--out", "out"],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(run.stderr.contains("error["), "{}", run.stderr);
    assert!(
        run.stderr.contains("not built errors.plinth"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert!(!directory.join("out").exists());
}

#[test]
fn requires_an_output_directory() {
    let run = plinth_in(&fixtures(), &["build", "clean.plinth"], None);
    assert_eq!(run.code, 2, "{}", run.transcript());
}
