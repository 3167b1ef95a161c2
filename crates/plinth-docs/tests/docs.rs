//! ER diagrams and API references of the test schemas and the workspace examples: snapshots plus
//! structural checks that hold for any schema.

use std::path::{Path, PathBuf};

/// Compiles a schema file, failing the test with rendered diagnostics when it has errors.
fn compile_clean(path: &Path) -> plinth_model::Schema {
    let source = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let (schema, diagnostics) = plinth_model::compile(&source);
    if plinth_diagnostics::has_errors(&diagnostics) {
        let file = plinth_diagnostics::SourceFile::new(path.display().to_string(), source);
        panic!(
            "{} has errors:\n{}",
            path.display(),
            plinth_diagnostics::render_text(&file, &diagnostics)
        );
    }
    schema
}

/// `examples/<name>/schema.plinth` that exist right now, by name, sorted.
fn example_schemas() -> Vec<(String, PathBuf)> {
    let mut examples = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let Ok(entries) = std::fs::read_dir(root) else {
        return examples;
    };
    for entry in entries.flatten() {
        let schema = entry.path().join("schema.plinth");
        if schema.is_file() {
            examples.push((entry.file_name().to_string_lossy().into_owned(), schema));
        }
    }
    examples.sort();
    examples
}

#[test]
fn erd_snapshots_of_test_data() {
    insta::glob!("../test_data", "*.plinth", |path| {
        let schema = compile_clean(path);
        let diagram = plinth_docs::erd(&schema);
        check_erd_structure(&diagram);
        insta::assert_snapshot!(diagram);
    });
}

#[test]
fn api_reference_snapshots_of_test_data() {
    insta::glob!("../test_data", "*.plinth", |path| {
        let schema = compile_clean(path);
        insta::assert_snapshot!(plinth_docs::api_reference(&schema));
    });
}

#[test]
fn snapshots_of_examples() {
    let examples = example_schemas();
    if examples.is_empty() {
        println!("skipping: no examples/*/schema.plinth in the workspace yet");
    }
    for (name, path) in examples {
        let schema = compile_clean(&path);
        let diagram = plinth_docs::erd(&schema);
        check_erd_structure(&diagram);
        insta::assert_snapshot!(format!("example_{name}_erd"), diagram);
        insta::assert_snapshot!(
            format!("example_{name}_api_reference"),
            plinth_docs::api_reference(&schema)
        );
    }
}

/// What Mermaid's `erDiagram` grammar needs: a header, balanced entity blocks with
/// `type name [keys] ["comment"]` attributes, and relationship lines between declared entities.
fn check_erd_structure(diagram: &str) {
    let mut lines = diagram.lines();
    assert_eq!(lines.next(), Some("erDiagram"));
    let mut entities = Vec::new();
    let mut inside: Option<String> = None;
    let word = |text: &str| {
        !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-[]".contains(c))
    };
    for line in lines {
        let trimmed = line.trim();
        if let Some(entity) = &inside {
            if trimmed == "}" {
                entities.push(entity.clone());
                inside = None;
                continue;
            }
            let (declaration, comment) = match trimmed.find('"') {
                Some(at) => (&trimmed[..at], Some(&trimmed[at..])),
                None => (trimmed, None),
            };
            let parts: Vec<&str> = declaration.split_whitespace().collect();
            assert!(
                parts.len() >= 2,
                "attribute line `{line}` needs a type and a name"
            );
            assert!(word(parts[0]) && word(parts[1]), "bad attribute `{line}`");
            let keys = parts[2..].join(" ");
            for key in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                assert!(
                    ["PK", "FK", "UK"].contains(&key),
                    "bad key marker in `{line}`"
                );
            }
            if let Some(comment) = comment {
                assert!(
                    comment.len() >= 2
                        && comment.ends_with('"')
                        && comment[1..comment.len() - 1].find('"').is_none(),
                    "bad comment in `{line}`"
                );
            }
        } else if let Some(name) = trimmed.strip_suffix(" {") {
            assert!(word(name), "bad entity name `{name}`");
            inside = Some(name.to_string());
        } else {
            let parts: Vec<&str> = trimmed.splitn(4, ' ').collect();
            assert_eq!(parts.len(), 4, "bad relationship `{line}`");
            assert!(
                entities.contains(&parts[0].to_string()),
                "undeclared entity in `{line}`"
            );
            assert!(
                entities.contains(&parts[2].to_string()),
                "undeclared entity in `{line}`"
            );
            let cardinality = parts[1];
            assert_eq!(cardinality.len(), 6, "bad cardinality in `{line}`");
            assert!(
                ["||", "|o", "}o", "}|"].contains(&&cardinality[..2]),
                "bad left end in `{line}`"
            );
            assert!(
                ["--", ".."].contains(&&cardinality[2..4]),
                "bad line in `{line}`"
            );
            assert!(
                ["||", "o|", "o{", "|{"].contains(&&cardinality[4..]),
                "bad right end in `{line}`"
            );
            assert!(
                parts[3].starts_with(": \"") && parts[3].ends_with('"'),
                "bad label in `{line}`"
            );
        }
    }
    assert!(inside.is_none(), "unclosed entity block");
}

#[test]
fn erd_cardinalities_follow_the_relation_kinds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/relations.plinth");
    let diagram = plinth_docs::erd(&compile_clean(&path));
    // One-to-one with a required foreign key: exactly one account, zero or one profile.
    assert!(
        diagram.contains("    Account ||..o| Profile : \"profile / account\"\n"),
        "{diagram}"
    );
    // One-to-many.
    assert!(
        diagram.contains("    Account ||..o{ Post : \"posts / author\"\n"),
        "{diagram}"
    );
    // Optional self-relation.
    assert!(
        diagram.contains("    Account |o..o{ Account : \"mentees / mentor\"\n"),
        "{diagram}"
    );
    // Implicit many-to-many.
    assert!(diagram.contains("}o..o{"), "{diagram}");
    assert!(
        diagram.contains("        String accountId FK, UK\n"),
        "{diagram}"
    );
    assert!(diagram.contains("        String team PK\n"), "{diagram}");
}

#[test]
fn api_reference_shows_rules_and_hides_nothing_it_should_not() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/tasks.plinth");
    let reference = plinth_docs::api_reference(&compile_clean(&path));
    assert!(reference.contains("## Task\n"));
    assert!(reference.contains("Path: `/api/v1/tasks`"));
    assert!(
        reference.contains("| `password` | `String` | no |"),
        "{reference}"
    );
    assert!(reference.contains("`status[in]`"));
    assert!(reference.contains("## Authentication"));
}
