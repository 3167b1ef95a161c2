//! Every real-world schema in the shared corpus parses without a single diagnostic.

mod support;

#[test]
fn every_corpus_schema_parses_without_errors() {
    let Some(files) = support::corpus_files() else {
        return;
    };
    assert!(!files.is_empty(), "the corpus folder holds no schemas");
    for path in files {
        let source = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
        let (file, diagnostics) = plinth_syntax::parse(&source);
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let rendered = plinth_diagnostics::render_text(
            &plinth_diagnostics::SourceFile::new(name.to_string(), source.as_str()),
            &diagnostics,
        );
        assert!(diagnostics.is_empty(), "{name}:\n{rendered}");
        assert!(!file.items.is_empty(), "{name}: no items parsed");
    }
}
