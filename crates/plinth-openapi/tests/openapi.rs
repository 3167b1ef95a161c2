//! OpenAPI documents of the test schemas and the workspace examples: snapshots, internal
//! consistency (every `$ref` resolves, every path parameter is declared, operation ids are
//! unique) and a real OpenAPI 3.1 validator.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `examples/<name>/schema.plinth` that exist right now, by name, sorted.
fn example_schemas() -> Vec<(String, PathBuf)> {
    let mut examples = Vec::new();
    let Ok(entries) = std::fs::read_dir(workspace_root().join("examples")) else {
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

fn test_data_schemas() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "plinth"))
                    .collect()
            })
            .unwrap_or_default();
    files.sort();
    files
}

/// Every schema the consistency and validator tests look at.
fn all_schemas() -> Vec<(String, PathBuf)> {
    let mut all: Vec<(String, PathBuf)> = test_data_schemas()
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (format!("test_data/{name}"), path)
        })
        .collect();
    all.extend(
        example_schemas()
            .into_iter()
            .map(|(name, path)| (format!("examples/{name}"), path)),
    );
    all
}

#[test]
fn snapshots_of_test_data() {
    insta::glob!("../test_data", "*.plinth", |path| {
        let schema = compile_clean(path);
        insta::assert_json_snapshot!(plinth_openapi::document(&schema));
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
        insta::assert_json_snapshot!(format!("example_{name}"), plinth_openapi::document(&schema));
    }
}

#[test]
fn output_is_deterministic() {
    for (name, path) in all_schemas() {
        let schema = compile_clean(&path);
        let first = serde_json::to_string(&plinth_openapi::document(&schema)).unwrap_or_default();
        let second = serde_json::to_string(&plinth_openapi::document(&schema)).unwrap_or_default();
        assert_eq!(first, second, "{name}: two runs differ");
    }
}

/// Follows a local `#/a/b` pointer.
fn resolve<'a>(document: &'a Json, reference: &str) -> Option<&'a Json> {
    let pointer = reference.strip_prefix('#')?;
    document.pointer(pointer)
}

fn collect_references(value: &Json, found: &mut Vec<String>) {
    match value {
        Json::Object(object) => {
            for (key, child) in object {
                if key == "$ref" {
                    if let Json::String(reference) = child {
                        found.push(reference.clone());
                    }
                } else {
                    collect_references(child, found);
                }
            }
        }
        Json::Array(items) => items
            .iter()
            .for_each(|item| collect_references(item, found)),
        _ => {}
    }
}

/// Parameters of an operation with `$ref`s followed.
fn parameters<'a>(document: &'a Json, list: Option<&'a Json>) -> Vec<&'a Json> {
    list.and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item.get("$ref").and_then(Json::as_str) {
                    Some(reference) => resolve(document, reference),
                    None => Some(item),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn check_consistency(name: &str, document: &Json) {
    let mut references = Vec::new();
    collect_references(document, &mut references);
    for reference in &references {
        assert!(
            resolve(document, reference).is_some(),
            "{name}: `$ref` {reference} does not resolve"
        );
    }

    let mut operation_ids = HashSet::new();
    let paths = document["paths"].as_object().expect("paths is an object");
    assert!(!paths.is_empty(), "{name}: no paths");
    for (path, item) in paths {
        let templated: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split('}').next())
            .collect();
        let shared = parameters(document, item.get("parameters"));
        for (method, operation) in item.as_object().expect("path item is an object") {
            if method == "parameters" {
                continue;
            }
            let operation_id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                !operation_id.is_empty(),
                "{name}: {method} {path} has no operationId"
            );
            assert!(
                operation_ids.insert(operation_id.to_string()),
                "{name}: operationId {operation_id} is used twice"
            );
            assert!(
                operation["summary"].is_string(),
                "{name}: {operation_id} has no summary"
            );
            assert!(
                operation["tags"].is_array(),
                "{name}: {operation_id} has no tags"
            );
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{name}: {operation_id} has no responses"
            );
            let mut declared: Vec<&Json> = shared.clone();
            declared.extend(parameters(document, operation.get("parameters")));
            let mut seen = HashSet::new();
            for parameter in &declared {
                let key = (
                    parameter["name"].as_str().unwrap_or_default(),
                    parameter["in"].as_str().unwrap_or_default(),
                );
                assert!(
                    seen.insert(key),
                    "{name}: {operation_id} declares {key:?} twice"
                );
                if key.1 == "path" {
                    assert!(
                        templated.contains(&key.0),
                        "{name}: {operation_id} declares path parameter {} not in {path}",
                        key.0
                    );
                }
            }
            for parameter in &templated {
                assert!(
                    seen.contains(&(*parameter, "path")),
                    "{name}: {operation_id} does not declare path parameter {parameter}"
                );
            }
        }
    }
}

#[test]
fn documents_are_self_consistent() {
    let schemas = all_schemas();
    assert!(!schemas.is_empty(), "no test schemas found");
    for (name, path) in schemas {
        let schema = compile_clean(&path);
        check_consistency(&name, &plinth_openapi::document(&schema));
    }
}

#[test]
fn composite_key_model_has_no_item_route_and_hidden_model_no_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/relations.plinth");
    let document = plinth_openapi::document(&compile_clean(&path));
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/memberships"));
    assert!(!paths.keys().any(|p| p.starts_with("/api/v1/memberships/{")));
    assert!(!paths.keys().any(|p| p.contains("audit")));
    // Tags are read-only: only GET on the collection and the item.
    assert!(paths["/api/v1/tags"].get("post").is_none());
    assert!(paths["/api/v1/tags/{id}"].get("get").is_some());
    assert!(paths["/api/v1/tags/{id}"].get("patch").is_none());
    // The password never appears in the read shape, and is write-only in register.
    let schemas = &document["components"]["schemas"];
    assert!(schemas["Account"]["properties"].get("secret").is_none());
    assert_eq!(
        schemas["RegisterRequest"]["properties"]["secret"]["writeOnly"],
        Json::Bool(true)
    );
}

#[test]
fn security_follows_the_policies() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/tasks.plinth");
    let document = plinth_openapi::document(&compile_clean(&path));
    let paths = &document["paths"];
    let optional = serde_json::json!([{ "bearerAuth": [] }, {}]);
    let required = serde_json::json!([{ "bearerAuth": [] }]);
    // `@@allow("create", true)` on User: anonymous creation may work.
    assert_eq!(paths["/api/v1/users"]["post"]["security"], optional);
    // `auth() != null` needs a token.
    assert_eq!(paths["/api/v1/users"]["get"]["security"], required);
    // `owner == auth()` needs a token.
    assert_eq!(paths["/api/v1/tasks"]["get"]["security"], required);
    assert_eq!(
        paths["/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([])
    );
    // The auth-defaulted owner is not accepted in bodies.
    let create = &document["components"]["schemas"]["TaskCreate"];
    assert!(create["properties"].get("ownerId").is_none());
    assert_eq!(create["additionalProperties"], Json::Bool(false));
    assert_eq!(create["required"], serde_json::json!(["title"]));
}

#[test]
fn documents_pass_the_openapi_validator() {
    let validator = match std::env::var("PLINTH_TEST_OPENAPI_VALIDATOR") {
        Ok(validator) if !validator.is_empty() => validator,
        _ => {
            assert!(
                std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "PLINTH_REQUIRE_SERVICES=1 but PLINTH_TEST_OPENAPI_VALIDATOR is not set"
            );
            println!("skipping: set PLINTH_TEST_OPENAPI_VALIDATOR to the openapi-spec-validator executable");
            return;
        }
    };
    let directory =
        std::env::temp_dir().join(format!("plinth-openapi-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("create a temporary directory");
    for (name, path) in all_schemas() {
        let document = plinth_openapi::document(&compile_clean(&path));
        let file = directory.join(format!("{}.json", name.replace('/', "_")));
        let text = serde_json::to_string_pretty(&document).expect("serialize");
        std::fs::write(&file, text).expect("write the document");
        let output = std::process::Command::new(&validator)
            .arg(&file)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {validator}: {error}"));
        assert!(
            output.status.success(),
            "{name}: the validator rejects the document:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&directory);
}

/// Real schemas from `../shared/corpus` (Prisma projects and ZenStack samples with policies):
/// documents are built without panicking, even for schemas with errors, and the clean ones are
/// self-consistent.
#[test]
fn corpus_schemas_produce_consistent_documents() {
    let corpus = workspace_root().join("../shared/corpus");
    if !corpus.is_dir() {
        println!("skipping: ../shared/corpus is absent");
        return;
    }
    let mut checked = 0;
    for folder in ["prisma", "zmodel"] {
        let Ok(entries) = std::fs::read_dir(corpus.join(folder)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|ext| ext == "prisma" || ext == "zmodel")
            })
            .collect();
        files.sort();
        for path in files {
            let Ok(source) = std::fs::read_to_string(&path) else {
                continue;
            };
            let (schema, diagnostics) = plinth_model::compile(&source);
            let document = plinth_openapi::document(&schema);
            if !plinth_diagnostics::has_errors(&diagnostics) {
                check_consistency(&path.display().to_string(), &document);
                checked += 1;
            }
        }
    }
    println!("checked {checked} clean corpus schemas");
}
