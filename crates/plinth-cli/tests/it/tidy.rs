//! Architecture invariants checked over the source tree (rust-analyzer's "tidy" tests):
//! crate dependencies run one way, and every Rust file says what it is for on its first line.

use crate::workspace_root;
use std::path::{Path, PathBuf};

/// Each workspace crate and the workspace crates it may depend on. The pipeline order is
/// diagnostics → syntax → model → {api, sql} → {openapi, docs, migrate} → server → cli (migrate
/// before server: serve applies and checks migrations through it);
/// nothing past the model reads the syntax tree, and sql, api, openapi and docs stay independent of each other
/// except that openapi and docs are built on api (one source for the API surface).
/// Review stands apart like verify: it reads OpenAPI and SQL as text and schemas through the
/// model (plus the syntax tree's positions), so it reviews backends Plinth did not write.
const ALLOWED_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("plinth-diagnostics", &[]),
    ("plinth-syntax", &["plinth-diagnostics"]),
    ("plinth-model", &["plinth-diagnostics", "plinth-syntax"]),
    ("plinth-api", &["plinth-diagnostics", "plinth-model"]),
    ("plinth-sql", &["plinth-diagnostics", "plinth-model"]),
    (
        "plinth-openapi",
        &["plinth-diagnostics", "plinth-model", "plinth-api"],
    ),
    (
        "plinth-docs",
        &["plinth-diagnostics", "plinth-model", "plinth-api"],
    ),
    (
        "plinth-migrate",
        &["plinth-diagnostics", "plinth-model", "plinth-sql"],
    ),
    (
        "plinth-verify",
        &["plinth-diagnostics", "plinth-model", "plinth-api"],
    ),
    (
        "plinth-review",
        &["plinth-diagnostics", "plinth-syntax", "plinth-model"],
    ),
    (
        "plinth-agent",
        &[
            "plinth-diagnostics",
            "plinth-model",
            "plinth-server",
            "plinth-verify",
            "plinth-review",
        ],
    ),
    (
        "plinth-server",
        &[
            "plinth-diagnostics",
            "plinth-model",
            "plinth-api",
            "plinth-sql",
            "plinth-openapi",
            "plinth-docs",
            "plinth-migrate",
        ],
    ),
    (
        "plinth-cli",
        &[
            "plinth-diagnostics",
            "plinth-syntax",
            "plinth-model",
            "plinth-api",
            "plinth-sql",
            "plinth-openapi",
            "plinth-docs",
            "plinth-server",
            "plinth-migrate",
            "plinth-verify",
            "plinth-review",
            "plinth-agent",
        ],
    ),
];

fn crate_directories() -> Vec<PathBuf> {
    let mut directories: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("crates"))
        .expect("crates/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    directories.sort();
    directories
}

/// Workspace crates named in the `[dependencies]` and `[build-dependencies]` tables of a
/// manifest (dev-dependencies may reach further: a test may use any stage to build its input).
fn runtime_workspace_dependencies(manifest: &str) -> Vec<String> {
    let mut dependencies = Vec::new();
    let mut in_runtime_table = false;
    for line in manifest.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            // `[dependencies]`, `[build-dependencies]`, `[target.'cfg(..)'.dependencies]`, and
            // the one-table-per-crate form `[dependencies.plinth-model]`.
            let (table, single_crate) = match header.split_once("dependencies.") {
                Some((before, name)) => (format!("{before}dependencies"), Some(name)),
                None => (header.to_string(), None),
            };
            let kind = table.rsplit('.').next().unwrap_or_default();
            let is_runtime = kind == "dependencies" || kind == "build-dependencies";
            in_runtime_table = is_runtime && single_crate.is_none();
            if let Some(name) = single_crate {
                let name = name.trim_matches('"');
                if is_runtime && name.starts_with("plinth-") {
                    dependencies.push(name.to_string());
                }
            }
            continue;
        }
        if !in_runtime_table {
            continue;
        }
        let name = line
            .split(['=', '.', ' '])
            .next()
            .unwrap_or_default()
            .trim_matches('"');
        if name.starts_with("plinth-") {
            dependencies.push(name.to_string());
        }
    }
    dependencies
}

#[test]
fn manifest_parser_reads_every_table_form() {
    let manifest =
        "[package]\nname = \"plinth-x\"\n[dependencies]\nplinth-model.workspace = true\n\
        serde = \"1\"\n\"plinth-sql\" = { path = \"../plinth-sql\" }\n[dev-dependencies]\n\
        plinth-syntax.workspace = true\n[dependencies.plinth-docs]\npath = \"x\"\n\
        [build-dependencies]\nplinth-api = { path = \"y\" }\n";
    assert_eq!(
        runtime_workspace_dependencies(manifest),
        ["plinth-model", "plinth-sql", "plinth-docs", "plinth-api"]
    );
}

#[test]
fn crate_dependencies_run_one_way() {
    let mut problems = Vec::new();
    for directory in crate_directories() {
        let name = directory
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let manifest = std::fs::read_to_string(directory.join("Cargo.toml"))
            .expect("the manifest is readable");
        if !manifest.contains(&format!("name = \"{name}\"")) {
            problems.push(format!(
                "crates/{name}: the package name must be the folder name"
            ));
        }
        let Some((_, allowed)) = ALLOWED_DEPENDENCIES
            .iter()
            .find(|(crate_name, _)| *crate_name == name)
        else {
            problems.push(format!(
                "crates/{name} has no place in the dependency order: add it to ALLOWED_DEPENDENCIES in {}",
                file!()
            ));
            continue;
        };
        for dependency in runtime_workspace_dependencies(&manifest) {
            if !allowed.contains(&dependency.as_str()) {
                problems.push(format!("{name} must not depend on {dependency}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Crates under `benches/` (the hand-written baselines Plinth is measured against) are leaves:
/// they stand for code written without Plinth, so they may depend on no Plinth crate at all.
#[test]
fn benchmark_baselines_depend_on_no_plinth_crate() {
    let Ok(entries) = std::fs::read_dir(workspace_root().join("benches")) else {
        return;
    };
    let mut problems = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let manifest_path = entry.path().join("Cargo.toml");
        let Ok(manifest) = std::fs::read_to_string(&manifest_path) else {
            continue;
        };
        for dependency in runtime_workspace_dependencies(&manifest) {
            problems.push(format!(
                "benches/{} must not depend on {dependency}: a baseline is written without Plinth",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            // Build output and fuzzing corpora are not source.
            if name != "target" && name != "snapshots" {
                rust_files(&path, files);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc_line() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("crates"), &mut files);
    rust_files(&workspace_root().join("benches"), &mut files);
    assert!(files.len() > 10, "found only {} Rust files", files.len());
    let root = workspace_root();
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|path| {
            path.strip_prefix(&root)
                .unwrap_or(path)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "these files must start with a `//!` line saying what they are for:\n{}",
        offenders.join("\n")
    );
}
