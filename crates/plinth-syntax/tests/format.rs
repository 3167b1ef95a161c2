//! Formatter properties on real schemas: formatting is idempotent and keeps the meaning (the
//! parse of the output renders the same as the parse of the input) and every comment.

mod support;

#[test]
fn formatting_the_corpus_is_idempotent_and_keeps_meaning() {
    let Some(files) = support::corpus_files() else {
        return;
    };
    for path in files {
        let source = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        support::check_format_properties(&name, &source);
    }
}

#[test]
fn block_attributes_move_after_fields_with_their_comments() {
    let source = "model A {\n  id Int @id\n  // why the index\n  @@index([name])\n  name String // trailing\n\n\n  age Int\n}\n";
    let formatted = support::check_format_properties("interleaved", source);
    assert_eq!(
        formatted,
        "model A {\n  id   Int    @id\n  name String // trailing\n\n  age Int\n\n  // why the index\n  @@index([name])\n}\n"
    );
}

#[test]
fn broken_schemas_are_not_formatted() {
    let Err(diagnostics) = plinth_syntax::format("model A {\n  id Int @id(\n}\n") else {
        panic!("a schema with syntax errors must not format");
    };
    assert_eq!(diagnostics[0].code, "E0041");
}
