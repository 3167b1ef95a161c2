//! Property tests: `parse` and `format` never panic, whatever the input, every diagnostic span
//! lies inside the source on character boundaries, and whatever formats is a fixed point.

use proptest::prelude::*;

const VALID_SCHEMAS: [&str; 4] = [
    include_str!("../test_data/ok/prisma_basics.plinth"),
    include_str!("../test_data/ok/policies.plinth"),
    include_str!("../test_data/ok/comments.plinth"),
    include_str!("../test_data/ok/strings.plinth"),
];

/// Tokens whose insertion or loss tends to break structure.
const TOKENS: [&str; 24] = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "@",
    "@@",
    "\"",
    "'",
    "\n",
    ",",
    ":",
    "=",
    "?",
    "!",
    "^",
    ".",
    "//",
    "///",
    "/*",
    "*/",
    "model X {",
    "é",
];

fn check(source: &str) {
    let (_, diagnostics) = plinth_syntax::parse(source);
    for diagnostic in &diagnostics {
        let spans =
            std::iter::once(diagnostic.span).chain(diagnostic.labels.iter().map(|l| l.span));
        for span in spans {
            let (start, end) = (span.start as usize, span.end as usize);
            assert!(
                start <= end && end <= source.len(),
                "{diagnostic:?} out of bounds"
            );
            assert!(
                source.is_char_boundary(start) && source.is_char_boundary(end),
                "{diagnostic:?} not on char boundaries"
            );
        }
    }
    // Rendering must not panic either.
    let file = plinth_diagnostics::SourceFile::new("fuzz.plinth", source);
    let _ = plinth_diagnostics::render_text(&file, &diagnostics);
    if let Ok(formatted) = plinth_syntax::format(source) {
        let again = plinth_syntax::format(&formatted);
        assert_eq!(
            again.as_deref(),
            Ok(formatted.as_str()),
            "format is not idempotent"
        );
    }
}

/// Applies edits to a valid schema: each edit deletes a short range or inserts a token.
fn mutate(source: &str, edits: &[(bool, usize, usize, usize)]) -> String {
    let mut text = source.to_string();
    for &(insert, position, length, token) in edits {
        let mut at = position % (text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        if insert {
            text.insert_str(at, TOKENS[token % TOKENS.len()]);
        } else {
            let mut end = (at + length % 8).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            text.replace_range(at..end, "");
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,300}") {
        check(&source);
    }

    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(
        prop::sample::select(vec![
            "model", "enum", "type", "datasource", "abstract", "extends", "with", "import", " ",
            "\n", "{", "}", "(", ")", "[", "]", "@id", "@@map", "@", "\"s\"", "'x", "1", "-2.5",
            "&&", "||", "==", "?[", "![", "^[", "!", "-", "in", ",", ":", "=", ".", "auth()",
            "Int", "String?", "Post[]", "// c", "/// d", "/* b */", "/**", "*/", "\\", "é",
        ]),
        0..80,
    )) {
        check(&parts.concat());
    }

    #[test]
    fn mutated_schemas_never_panic(
        schema in 0usize..VALID_SCHEMAS.len(),
        edits in prop::collection::vec((any::<bool>(), any::<usize>(), any::<usize>(), any::<usize>()), 1..6),
    ) {
        check(&mutate(VALID_SCHEMAS[schema], &edits));
    }
}
