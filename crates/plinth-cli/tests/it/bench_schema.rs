//! The benchmark's generated schema must be a valid schema, or the benchmark measures error paths.

#[path = "../../benches/support/generated_schema.rs"]
mod generated_schema;

#[test]
fn generated_benchmark_schema_checks_clean() {
    let source = generated_schema::generated_schema(20);
    let (schema, diagnostics) = plinth_model::compile(&source);
    let file = plinth_diagnostics::SourceFile::new("generated.plinth", source.as_str());
    assert!(
        diagnostics.is_empty(),
        "{}",
        plinth_diagnostics::render_text(&file, &diagnostics)
    );
    assert_eq!(schema.models.len(), 21);
    assert_eq!(schema.relations.len(), 19);
}
