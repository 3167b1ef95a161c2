//! The checker on trees the parser would not produce from valid input: missing types, error
//! expressions everywhere, and randomly mutated sources. Nothing may panic, and what can still
//! be checked still is.

use plinth_syntax::ast::{Expr, ExprKind, Item, SchemaFile};
use std::path::Path;

fn fixtures() -> Vec<String> {
    let mut texts = Vec::new();
    for folder in ["test_data/ok", "test_data/err"] {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
        let mut paths: Vec<_> = std::fs::read_dir(&folder)
            .expect("fixture folder exists")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            texts.push(std::fs::read_to_string(&path).expect("fixture is readable"));
        }
    }
    texts
}

fn parsed(text: &str) -> SchemaFile {
    plinth_syntax::parse(text).0
}

/// Applies `change` to every expression in attribute arguments, recursively.
fn map_attribute_exprs(file: &mut SchemaFile, change: &dyn Fn(&mut Expr)) {
    for item in &mut file.items {
        let Item::Model(model) = item else { continue };
        let field_attributes = model
            .fields
            .iter_mut()
            .flat_map(|f| f.attributes.iter_mut());
        for attribute in field_attributes.chain(model.attributes.iter_mut()) {
            for arg in &mut attribute.args {
                change(&mut arg.value);
            }
        }
    }
}

#[test]
fn fields_without_types_are_skipped() {
    for text in fixtures() {
        let mut file = parsed(&text);
        for item in &mut file.items {
            if let Item::Model(model) = item {
                for field in &mut model.fields {
                    field.ty = None;
                }
            }
        }
        let (schema, _) = plinth_model::check(&file);
        assert!(schema.models.iter().all(|m| m.fields.is_empty()));
    }
}

#[test]
fn error_expressions_are_not_reported_again() {
    for text in fixtures() {
        let mut file = parsed(&text);
        map_attribute_exprs(&mut file, &|expr| expr.kind = ExprKind::Error);
        let _ = plinth_model::check(&file);
    }
    // A rule whose condition failed to parse yields no policy and no second diagnostic.
    let mut file = parsed("model User {\n  id Int @id\n  @@allow('read', true)\n}\n");
    map_attribute_exprs(&mut file, &|expr| {
        if matches!(expr.kind, ExprKind::Bool(_)) {
            expr.kind = ExprKind::Error;
        }
    });
    let (schema, diagnostics) = plinth_model::check(&file);
    assert!(schema.models[0].policies.is_empty());
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
}

#[test]
fn nested_error_expressions_never_panic() {
    for text in fixtures() {
        let mut file = parsed(&text);
        map_attribute_exprs(&mut file, &|expr| {
            let span = expr.span;
            let inner = std::mem::replace(&mut expr.kind, ExprKind::Null);
            expr.kind = ExprKind::Binary {
                op: plinth_syntax::ast::BinaryOp::And,
                lhs: Box::new(Expr { kind: inner, span }),
                rhs: Box::new(Expr {
                    kind: ExprKind::Error,
                    span,
                }),
            };
        });
        let _ = plinth_model::check(&file);
    }
}

#[test]
fn check_without_source_prints_policy_sources() {
    let text = "model User {\n  id Int @id\n  @@allow('read', auth() == this && (id > 1))\n}\n";
    let (schema, _) = plinth_model::check(&parsed(text));
    assert_eq!(
        schema.models[0].policies[0].source,
        "@@allow('read', auth() == this && (id > 1))"
    );
    let (schema, _) = plinth_model::compile(text);
    assert_eq!(
        schema.models[0].policies[0].source,
        "@@allow('read', auth() == this && (id > 1))"
    );
}

/// A small deterministic generator, so failures reproduce without a seed file.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn mutated_sources_never_panic() {
    const PIECES: &[&str] = &[
        "",
        " ",
        "?",
        "[]",
        "@id",
        "@@id([a])",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "auth()",
        ".",
        "?[",
        "^[",
        "![",
        "==",
        "&&",
        "'",
        "\"",
        "@relation(fields: [x], references: [y])",
        "User",
        "Int",
        "@default(",
        "this",
        "future()",
        "@@allow('all', ",
        "\n",
        "model X {",
    ];
    let mut random = Lcg(42);
    for text in fixtures() {
        for _ in 0..40 {
            let mut mutated = text.clone();
            for _ in 0..3 {
                let mut at = random.next() % (mutated.len() + 1);
                while !mutated.is_char_boundary(at) {
                    at -= 1;
                }
                let mut end = (at + random.next() % 8).min(mutated.len());
                while !mutated.is_char_boundary(end) {
                    end -= 1;
                }
                let piece = PIECES[random.next() % PIECES.len()];
                mutated.replace_range(at..end.max(at), piece);
            }
            let _ = plinth_model::compile(&mutated);
        }
    }
}
