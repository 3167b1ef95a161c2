//! Every syntax diagnostic (codes `E0001`–`E0099`), one named constructor each, so the list of
//! codes and their wording live in one place. Each code has a fixture in `test_data/err/`.

use plinth_diagnostics::{Diagnostic, Span};

// ----- lexical ----------------------------------------------------------------------------

pub(crate) fn unexpected_character(span: Span, character: char) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0001",
        span,
        format!("unexpected character `{}`", character.escape_debug()),
    )
    .with_span_label("not part of the schema language");
    match character {
        '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' => {
            diagnostic.with_help("use straight quotes `\"` or `'` around strings")
        }
        ';' => diagnostic.with_help("statements do not end with `;`: remove it"),
        _ => diagnostic,
    }
}

pub(crate) fn unterminated_string(span: Span) -> Diagnostic {
    Diagnostic::error("E0002", span, "unterminated string")
        .with_span_label("this string is never closed")
        .with_help("close the string with the same quote it opens with, on the same line")
}

pub(crate) fn unterminated_block_comment(span: Span) -> Diagnostic {
    Diagnostic::error("E0003", span, "unterminated block comment")
        .with_span_label("this comment is never closed")
        .with_help("close the comment with `*/`")
}

pub(crate) fn invalid_unicode_escape(span: Span) -> Diagnostic {
    Diagnostic::error("E0004", span, "invalid unicode escape")
        .with_span_label("not a valid character code")
        .with_help("write `\\u{1F600}` (1 to 6 hex digits in braces) or `\\u00E9` (4 hex digits)")
}

pub(crate) fn missing_attribute_name(span: Span) -> Diagnostic {
    Diagnostic::error("E0005", span, "expected an attribute name after `@`")
        .with_span_label("attribute without a name")
        .with_help(
            "write the attribute's name right after the `@`, like `@id` or `@@map(\"users\")`",
        )
}

// ----- top level --------------------------------------------------------------------------

pub(crate) fn expected_declaration(
    span: Span,
    found: &str,
    suggestion: Option<&str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0010",
        span,
        format!("expected a declaration, found {found}"),
    )
    .with_span_label("not a declaration");
    match suggestion {
        Some(keyword) => diagnostic.with_help(format!("did you mean `{keyword}`?")),
        None => diagnostic.with_help(
            "a schema holds `datasource`, `generator`, `model`, `enum`, `type`, `view`, `plugin` and `import` declarations",
        ),
    }
}

pub(crate) fn expected_declaration_name(span: Span, keyword: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0011",
        span,
        format!("expected a name after `{keyword}`, found {found}"),
    )
    .with_span_label("expected a name")
    .with_help(format!("write `{keyword} Name {{ ... }}`"))
}

pub(crate) fn expected_block_open(span: Span, keyword: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0012",
        span,
        format!("expected `{{` to open the `{keyword}` block, found {found}"),
    )
    .with_span_label("expected `{`")
    .with_help(format!(
        "write `{keyword} Name {{` with the body on the following lines"
    ))
}

pub(crate) fn unclosed_block(open: Span, keyword: &str, name: &str) -> Diagnostic {
    let message = if name.is_empty() {
        format!("unclosed `{keyword}` block")
    } else {
        format!("unclosed `{keyword}` block `{name}`")
    };
    Diagnostic::error("E0013", open, message)
        .with_span_label("this `{` is never closed")
        .with_help("blocks are closed with `}`")
}

pub(crate) fn unmatched_closing_brace(span: Span) -> Diagnostic {
    Diagnostic::error("E0014", span, "unexpected closing `}`")
        .with_span_label("no block is open here")
        .with_help("remove this `}` or open a block before it")
}

pub(crate) fn abstract_without_model(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0015",
        span,
        format!("expected `model` after `abstract`, found {found}"),
    )
    .with_span_label("expected `model`")
    .with_help("write `abstract model Name { ... }`")
}

pub(crate) fn expected_import_path(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0016",
        span,
        format!("expected a quoted path after `import`, found {found}"),
    )
    .with_span_label("expected a string")
    .with_help("write `import \"other\"`")
}

pub(crate) fn expected_name_in_list(span: Span, keyword: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0017",
        span,
        format!("expected a name after `{keyword}`, found {found}"),
    )
    .with_span_label("expected a name")
    .with_help(format!("write `{keyword} First, Second` before the `{{`"))
}

pub(crate) fn unexpected_after_line(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0018",
        span,
        format!("expected the end of the line, found {found}"),
    )
    .with_span_label("unexpected here")
    .with_help("put each entry on its own line")
}

// ----- config blocks ----------------------------------------------------------------------

pub(crate) fn expected_config_key(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0020",
        span,
        format!("expected a setting name, found {found}"),
    )
    .with_span_label("expected `name = value`")
    .with_help("settings are written `name = value`, one per line")
}

pub(crate) fn expected_assign(span: Span, key: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0021",
        span,
        format!("expected `=` after `{key}`, found {found}"),
    )
    .with_span_label("expected `=`")
    .with_help(format!("write `{key} = value`"))
}

pub(crate) fn expected_config_value(span: Span, key: &str) -> Diagnostic {
    Diagnostic::error("E0022", span, format!("expected a value for `{key}`"))
        .with_span_label("nothing after this `=`")
        .with_help(format!("write `{key} = \"value\"`"))
}

// ----- models and enums -------------------------------------------------------------------

pub(crate) fn expected_field(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error("E0030", span, format!("expected a field, found {found}"))
        .with_span_label("expected a field name")
        .with_help("fields are written `name Type @attributes`, one per line")
}

pub(crate) fn missing_field_type(name_span: Span, name: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0031",
        name_span,
        format!("field `{name}` has no type, found {found}"),
    )
    .with_span_label("this field needs a type")
    .with_help("expected a field type after the field name, like `String` or `Int?`")
}

pub(crate) fn unexpected_in_field(span: Span, found: &str) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0032",
        span,
        format!("expected an attribute or the end of the field, found {found}"),
    )
    .with_span_label("unexpected here");
    if found == "`=`" {
        diagnostic.with_help("default values are written `@default(value)`")
    } else {
        diagnostic.with_help("field attributes start with `@`, like `@unique`")
    }
}

pub(crate) fn field_attribute_without_field(span: Span, attribute: &str) -> Diagnostic {
    let name = attribute.trim_start_matches('@');
    Diagnostic::error(
        "E0033",
        span,
        format!("field attribute `{attribute}` is not on a field"),
    )
    .with_span_label("expected a field before this")
    .with_help(format!(
        "put it after a field's type, or write the block attribute `@@{name}`"
    ))
}

pub(crate) fn block_attribute_on_field(span: Span, name: &str) -> Diagnostic {
    Diagnostic::error(
        "E0034",
        span,
        format!("block attribute `@@{name}` on a field line"),
    )
    .with_span_label("block attributes stand on their own line")
    .with_help(format!(
        "move `@@{name}` to its own line, or use the field attribute `@{name}`"
    ))
}

pub(crate) fn optional_list(span: Span) -> Diagnostic {
    Diagnostic::error("E0035", span, "a list field cannot be optional")
        .with_span_label("remove this `?`")
        .with_help("a list is never null: an empty list means no values")
}

pub(crate) fn expected_list_close(open: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0036",
        open,
        format!("expected `]` after `[` in a list type, found {found}"),
    )
    .with_span_label("list types are written `Type[]`")
    .with_help("write `Type[]` for a list field")
}

pub(crate) fn expected_enum_value(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0037",
        span,
        format!("expected an enum value, found {found}"),
    )
    .with_span_label("expected a name")
    .with_help("enum values are names, one per line, like `ADMIN`")
}

// ----- expressions ------------------------------------------------------------------------

pub(crate) fn expected_expression(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error("E0040", span, format!("expected a value, found {found}"))
        .with_span_label("expected a value")
        .with_help(
            "values are strings, numbers, `true`/`false`, names, lists `[a, b]` or calls `now()`",
        )
}

pub(crate) fn unclosed_delimiter(open: Span, delimiter: &str) -> Diagnostic {
    let closer = if delimiter == "(" { ")" } else { "]" };
    Diagnostic::error("E0041", open, format!("unclosed `{delimiter}`"))
        .with_span_label(format!("this `{delimiter}` is never closed"))
        .with_help(format!("add `{closer}` at the end of the list"))
}

pub(crate) fn expected_separator(span: Span, closer: &str, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0042",
        span,
        format!("expected `,` or `{closer}`, found {found}"),
    )
    .with_span_label("expected `,` or `".to_string() + closer + "`")
    .with_help("separate arguments and list elements with `,`")
}

pub(crate) fn expected_closer(span: Span, closer: &str, found: &str) -> Diagnostic {
    Diagnostic::error("E0043", span, format!("expected `{closer}`, found {found}"))
        .with_span_label(format!("expected `{closer}`"))
        .with_help("combine conditions with `&&` or `||`")
}

pub(crate) fn expected_member_name(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0044",
        span,
        format!("expected a field name after `.`, found {found}"),
    )
    .with_span_label("expected a name")
    .with_help("write a path like `owner.id` or `auth().role`")
}

pub(crate) fn nesting_too_deep(span: Span, limit: u32) -> Diagnostic {
    Diagnostic::error(
        "E0045",
        span,
        format!("expression nested more than {limit} levels deep"),
    )
    .with_span_label("too deep")
    .with_help("split the expression into simpler parts")
}

// ----- limits -----------------------------------------------------------------------------

pub(crate) fn file_too_large(span: Span) -> Diagnostic {
    Diagnostic::error("E0099", span, "schema file is larger than 4 GiB")
        .with_span_label("the rest of the file is ignored")
        .with_help("split the schema into smaller files")
}
