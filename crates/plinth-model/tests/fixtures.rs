//! Fixture tests: `test_data/ok` schemas compile cleanly and their checked model is snapshotted;
//! `test_data/err/<CODE>_<name>.plinth` produce their code, with the rendered diagnostics
//! snapshotted; every code in `ALL_CODES` has such a fixture; the shared corpus compiles.

use plinth_diagnostics::{has_errors, render_text, Severity, SourceFile};
use std::path::{Path, PathBuf};

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn rendered(path: &Path, text: &str) -> String {
    let (_, diagnostics) = plinth_model::compile(text);
    render_text(&SourceFile::new(file_name(path), text), &diagnostics)
}

#[test]
fn ok_fixtures_compile_and_match_their_snapshot() {
    insta::glob!("../test_data/ok", "*.plinth", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let (schema, diagnostics) = plinth_model::compile(&text);
        let file = SourceFile::new(file_name(path), text.as_str());
        let errors: Vec<_> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        assert!(
            errors.is_empty(),
            "{} has errors:\n{}",
            path.display(),
            render_text(&file, &errors)
        );
        let mut snapshot = plinth_model::dump(&schema);
        let other: Vec<_> = diagnostics
            .iter()
            .filter(|d| !d.is_error())
            .cloned()
            .collect();
        if !other.is_empty() {
            snapshot.push_str("\n--- diagnostics ---\n");
            snapshot.push_str(&render_text(&file, &other));
        }
        insta::assert_snapshot!(snapshot);
    });
}

/// The code a fixture is named after: `E0101_unknown_type.plinth` → `E0101`.
fn code_of(path: &Path) -> String {
    file_name(path)
        .split('_')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn err_fixtures_report_their_code() {
    insta::glob!("../test_data/err", "*.plinth", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let output = rendered(path, &text);
        let code = code_of(path);
        assert!(
            output.contains(&format!("[{code}]")),
            "{} does not report {code}:\n{output}",
            path.display()
        );
        insta::assert_snapshot!(output);
    });
}

#[test]
fn every_code_has_a_fixture() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/err");
    let mut outputs = Vec::new();
    for entry in std::fs::read_dir(&folder).expect("test_data/err exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "plinth") {
            let text = std::fs::read_to_string(&path).expect("fixture is readable");
            outputs.push((code_of(&path), rendered(&path, &text)));
        }
    }
    let missing: Vec<&str> = plinth_model::ALL_CODES
        .iter()
        .copied()
        .filter(|code| {
            !outputs
                .iter()
                .any(|(named, output)| named == code && output.contains(&format!("[{code}]")))
        })
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    // And no fixture is named after a code that does not exist.
    for (code, _) in &outputs {
        assert!(
            plinth_model::ALL_CODES.contains(&code.as_str()),
            "fixture named after unknown code {code}"
        );
    }
}

fn corpus_folder(kind: &str) -> Option<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(kind);
    if folder.is_dir() {
        Some(folder)
    } else {
        println!("skipping: corpus folder {} is absent", folder.display());
        None
    }
}

fn corpus_files(folder: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn assert_compiles_without_errors(files: &[PathBuf]) {
    let mut failures = String::new();
    for path in files {
        let text = std::fs::read_to_string(path).expect("corpus file is readable");
        let (schema, diagnostics) = plinth_model::compile(&text);
        if has_errors(&diagnostics) {
            let errors: Vec<_> = diagnostics
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            failures.push_str(&render_text(
                &SourceFile::new(file_name(path), text.as_str()),
                &errors,
            ));
        } else {
            assert!(
                !schema.models.is_empty(),
                "{} has no models",
                path.display()
            );
        }
    }
    assert!(failures.is_empty(), "corpus files with errors:\n{failures}");
}

#[test]
fn prisma_corpus_compiles_without_errors() {
    let Some(folder) = corpus_folder("prisma") else {
        return;
    };
    let files = corpus_files(&folder, "prisma");
    assert!(!files.is_empty(), "no .prisma files in the corpus");
    assert_compiles_without_errors(&files);
}

#[test]
fn zmodel_corpus_compiles_without_errors() {
    let Some(folder) = corpus_folder("zmodel") else {
        return;
    };
    let files = corpus_files(&folder, "zmodel");
    assert!(!files.is_empty(), "no .zmodel files in the corpus");
    assert_compiles_without_errors(&files);
}

/// A schema of `count` models, each with about ten fields, a relation to its neighbour and a
/// couple of policies.
fn generated_schema(count: usize) -> String {
    let mut text = String::from(
        "datasource db {\n  provider = \"sqlite\"\n  url = \"file:dev.db\"\n}\n\nenum Status {\n  DRAFT\n  LIVE\n}\n\n",
    );
    text.push_str(
        "model User {\n  id Int @id @default(autoincrement())\n  email String @unique @email\n  password String @password\n  items0 Model0[]\n  @@auth\n  @@allow('read', auth() == this)\n}\n\n",
    );
    for i in 0..count {
        text.push_str(&format!("model Model{i} {{\n"));
        text.push_str("  id Int @id @default(autoincrement())\n");
        text.push_str("  name String @length(1, 100)\n");
        text.push_str("  slug String @unique\n");
        text.push_str("  count Int @default(0) @gte(0)\n");
        text.push_str("  price Decimal?\n");
        text.push_str("  status Status @default(DRAFT)\n");
        text.push_str("  createdAt DateTime @default(now())\n");
        text.push_str("  updatedAt DateTime @updatedAt\n");
        if i == 0 {
            text.push_str(
                "  owner User @relation(fields: [ownerId], references: [id])\n  ownerId Int\n",
            );
        } else {
            let previous = i - 1;
            text.push_str(&format!(
                "  parent Model{previous} @relation(fields: [parentId], references: [id], onDelete: Cascade)\n  parentId Int\n"
            ));
        }
        if i + 1 < count {
            text.push_str(&format!("  children Model{}[]\n", i + 1));
        }
        text.push_str("  @@index([createdAt])\n");
        text.push_str("  @@allow('read', status == LIVE || auth() != null)\n");
        text.push_str("  @@deny('delete', count > 0 && name != '')\n");
        text.push_str("}\n\n");
    }
    text
}

#[test]
fn generated_500_model_schema_compiles_without_errors() {
    let text = generated_schema(500);
    let started = std::time::Instant::now();
    let (schema, diagnostics) = plinth_model::compile(&text);
    // Printed, not asserted: timing in tests is flaky; the benchmark measures it.
    println!("compiled {} bytes in {:?}", text.len(), started.elapsed());
    let file = SourceFile::new("generated.plinth", text.as_str());
    assert!(
        !has_errors(&diagnostics),
        "{}",
        render_text(&file, &diagnostics)
    );
    assert_eq!(schema.models.len(), 501);
    assert_eq!(schema.relations.len(), 500);
}

/// The checker must not panic on broken input: every prefix of every fixture is compiled.
#[test]
fn truncated_fixtures_never_panic() {
    for folder in ["test_data/ok", "test_data/err"] {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        for entry in std::fs::read_dir(&folder).expect("fixture folder exists") {
            let path = entry.expect("readable entry").path();
            let text = std::fs::read_to_string(&path).expect("fixture is readable");
            let mut cut = 0;
            while cut < text.len() {
                if text.is_char_boundary(cut) {
                    let _ = plinth_model::compile(&text[..cut]);
                }
                cut += 7;
            }
        }
    }
}
