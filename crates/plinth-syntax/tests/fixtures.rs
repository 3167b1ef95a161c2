//! Parser and formatter fixtures: `test_data/ok/*.plinth` parse cleanly (tree and formatted
//! output snapshotted), `test_data/err/*.plinth` each show one syntax diagnostic code (named by
//! the file) with the rendered diagnostics snapshotted.

mod support;

use plinth_diagnostics::{render_text, SourceFile};
use std::path::Path;

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string()
}

#[test]
fn ok_fixtures_parse_cleanly() {
    insta::glob!("../test_data/ok", "*.plinth", |path| {
        let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let (file, diagnostics) = plinth_syntax::parse(&source);
        let rendered = render_text(
            &SourceFile::new(file_name(path), source.as_str()),
            &diagnostics,
        );
        assert!(diagnostics.is_empty(), "{}:\n{rendered}", file_name(path));
        insta::assert_snapshot!(support::render_tree(&file));
    });
}

#[test]
fn ok_fixtures_format_canonically() {
    insta::glob!("../test_data/ok", "*.plinth", |path| {
        let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let formatted = support::check_format_properties(&file_name(path), &source);
        insta::assert_snapshot!(formatted);
    });
}

#[test]
fn err_fixtures_report_their_code() {
    insta::glob!("../test_data/err", "*.plinth", |path| {
        let source = std::fs::read_to_string(path).expect("fixture is UTF-8");
        let name = file_name(path);
        let code = name.split('_').next().unwrap_or_default();
        let (_, diagnostics) = plinth_syntax::parse(&source);
        let rendered = render_text(
            &SourceFile::new(name.clone(), source.as_str()),
            &diagnostics,
        );
        assert!(
            diagnostics.iter().any(|d| d.code == code),
            "{name} does not report {code}:\n{rendered}"
        );
        assert!(
            plinth_syntax::format(&source).is_err(),
            "{name} formats despite errors"
        );
        insta::assert_snapshot!(rendered);
    });
}

/// Every code constructed in `src/diagnostics.rs` has an err fixture (except the 4 GiB limit,
/// tested by a unit test).
#[test]
fn every_diagnostic_code_has_a_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let constructors = std::fs::read_to_string(root.join("src/diagnostics.rs")).expect("readable");
    let fixtures: Vec<String> = std::fs::read_dir(root.join("test_data/err"))
        .expect("err fixtures folder")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .collect();
    let mut codes: Vec<&str> = constructors
        .split('"')
        .filter(|part| part.len() == 5 && part.starts_with("E00"))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    assert!(codes.len() > 20, "found only {codes:?}");
    for code in codes {
        if code == "E0099" {
            continue;
        }
        assert!(
            fixtures.iter().any(|f| f.starts_with(&format!("{code}_"))),
            "no fixture for {code}"
        );
    }
}
