//! Every diagnostic the checker can report, as named constructors, so the list of codes lives in
//! one place. Errors are `E0100`–`E0999`, warnings `W0100`–`W0999`, notes `N0100`+.
//!
//! Messages follow rustc's style: lowercase start, no trailing period, names in backticks.

use plinth_diagnostics::{did_you_mean, Diagnostic, Span};

/// Every code this crate can emit. A test checks that each one has a fixture under
/// `test_data/err/` whose snapshot contains it.
pub const ALL_CODES: &[&str] = &[
    "E0100", "E0101", "E0102", "E0103", "E0104", "E0105", "E0106", "E0107", "E0108", "E0109",
    "E0110", "E0111", "E0112", "E0113", "E0114", "E0115", "E0116", "E0117", "E0118", "E0119",
    "E0120", "E0121", "E0122", "E0123", "E0124", "E0125", "E0126", "E0127", "E0128", "E0129",
    "E0130", "E0131", "E0132", "E0133", "E0134", "E0135", "E0136", "E0137", "E0138", "E0139",
    "E0140", "E0141", "E0142", "E0143", "E0144", "E0145", "E0146", "E0147", "E0148", "E0150",
    "E0151", "E0152", "W0100", "W0101", "W0102", "W0103", "W0104", "W0105", "W0106", "W0107",
    "W0108", "W0109", "N0100", "N0101", "N0102",
];

/// "a" or "an" before a name (backticks ignored): "an `Int` value", "a `String` value".
pub fn article(name: &str) -> &'static str {
    let first = name.trim_start_matches('`').chars().next().unwrap_or('x');
    if "AEIOUaeiou".contains(first) {
        "an"
    } else {
        "a"
    }
}

fn with_suggestion<'a>(
    diagnostic: Diagnostic,
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    match did_you_mean(name, candidates) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{suggestion}`?")),
        None => diagnostic,
    }
}

// ---------------------------------------------------------------------------------------------
// Names and declarations
// ---------------------------------------------------------------------------------------------

/// E0100: two top-level declarations share a name.
pub fn duplicate_declaration(kind: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0100",
        span,
        format!("the name `{name}` is defined more than once"),
    )
    .with_span_label(format!("{kind} `{name}` redefined here"))
    .with_label(first, "first defined here")
    .with_help("rename or remove one of the declarations")
}

/// E0101: a field's type is not a scalar, model or enum.
pub fn unknown_type<'a>(
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error("E0101", span, format!("unknown type `{name}`"))
        .with_span_label("not a scalar type, model or enum");
    with_suggestion(diagnostic, name, candidates)
}

/// E0102: two fields of one model share a name.
pub fn duplicate_field(model: &str, field: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0102",
        span,
        format!("field `{field}` is defined more than once in `{model}`"),
    )
    .with_span_label("second definition")
    .with_label(first, "first defined here")
    .with_help("rename or remove one of them")
}

/// E0103: two values of one enum share a name.
pub fn duplicate_enum_value(enum_name: &str, value: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0103",
        span,
        format!("value `{value}` is defined more than once in enum `{enum_name}`"),
    )
    .with_span_label("second definition")
    .with_label(first, "first defined here")
}

/// E0104: a declaration uses a reserved name.
pub fn reserved_name(kind: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0104",
        span,
        format!("`{name}` is a reserved name and cannot name a {kind}"),
    )
    .with_span_label("reserved")
    .with_help(format!("choose another name, for example `{name}Record`"))
}

/// E0105: more than one `datasource` block.
pub fn duplicate_datasource(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error("E0105", span, "a schema can have only one `datasource`")
        .with_span_label("second datasource")
        .with_label(first, "first datasource here")
        .with_help("remove one of the datasource blocks")
}

/// E0106: the datasource's `provider` is missing or not a string.
pub fn missing_provider(span: Span) -> Diagnostic {
    Diagnostic::error("E0106", span, "the datasource needs a `provider` string")
        .with_help("add `provider = \"sqlite\"` or `provider = \"postgresql\"`")
}

/// E0106: the datasource's `provider` is not a string.
pub fn invalid_provider(span: Span) -> Diagnostic {
    Diagnostic::error("E0106", span, "the datasource `provider` must be a string")
        .with_span_label("expected a string such as \"sqlite\" or \"postgresql\"")
}

/// E0107: `import` (ZModel) is not supported.
pub fn import_unsupported(path: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0107",
        span,
        format!("imports are not supported: `{path}` is not loaded"),
    )
    .with_help("put every declaration in one schema file")
}

/// E0108: `extends` or `with` names something that cannot be inherited from.
pub fn invalid_base(keyword: &str, name: &str, span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error(
        "E0108",
        span,
        format!("cannot use `{name}` after `{keyword}`: {reason}"),
    )
    .with_help(match keyword {
        "with" => "`with` takes `type` declarations (mixins)",
        _ => "`extends` takes `abstract model` declarations",
    })
}

/// E0109: inheritance (`extends` / `with`) forms a cycle.
pub fn inheritance_cycle(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error("E0109", span, format!("`{name}` inherits from itself"))
        .with_span_label("this makes a cycle")
        .with_help("remove one of the `extends` or `with` links")
}

// ---------------------------------------------------------------------------------------------
// Attributes and arguments
// ---------------------------------------------------------------------------------------------

/// E0110: an attribute nobody knows.
pub fn unknown_attribute<'a>(
    prefix: &str,
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic =
        Diagnostic::error("E0110", span, format!("unknown attribute `{prefix}{name}`"));
    match did_you_mean(name, candidates) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{prefix}{suggestion}`?")),
        None => diagnostic,
    }
}

/// E0111: an attribute that does not apply to this field (wrong type, relation, list...).
pub fn attribute_not_applicable(attribute: &str, span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error(
        "E0111",
        span,
        format!("`{attribute}` cannot be used here: {reason}"),
    )
}

/// E0112: an argument that is not what the attribute takes.
pub fn invalid_argument(attribute: &str, span: Span, message: &str) -> Diagnostic {
    Diagnostic::error(
        "E0112",
        span,
        format!("invalid argument to `{attribute}`: {message}"),
    )
}

/// E0112: a named argument the attribute does not take.
pub fn unknown_argument(attribute: &str, name: &str, span: Span, known: &[&str]) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0112",
        span,
        format!("`{attribute}` has no argument named `{name}`"),
    );
    match did_you_mean(name, known.iter().copied()) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{suggestion}`?")),
        None if known.is_empty() => {
            diagnostic.with_help(format!("`{attribute}` takes no arguments"))
        }
        None => diagnostic.with_help(format!(
            "`{attribute}` takes {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// E0113: a required argument is missing.
pub fn missing_argument(attribute: &str, argument: &str, span: Span, example: &str) -> Diagnostic {
    Diagnostic::error(
        "E0113",
        span,
        format!("`{attribute}` needs the argument `{argument}`"),
    )
    .with_help(format!("for example `{example}`"))
}

/// E0114: the same attribute twice where only one makes sense.
pub fn duplicate_attribute(attribute: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0114",
        span,
        format!("`{attribute}` is used more than once"),
    )
    .with_span_label("repeated here")
    .with_label(first, "first used here")
}

/// E0115: a default function that does not fit the field's type.
pub fn default_function_mismatch(
    function: &str,
    field_type: &str,
    span: Span,
    fits: &str,
) -> Diagnostic {
    Diagnostic::error(
        "E0115",
        span,
        format!("`{function}()` cannot be the default of a `{field_type}` field"),
    )
    .with_span_label(format!("`{function}()` only fits {fits} fields"))
}

/// E0116: a default literal whose type does not match the field.
pub fn default_type_mismatch(field_type: &str, span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0116",
        span,
        format!("default value does not match the field type `{field_type}`"),
    )
    .with_span_label(format!(
        "expected {} `{field_type}` value, found {found}",
        article(field_type)
    ))
}

/// E0117: a function in `@default(...)` that does not exist.
pub fn unknown_default_function<'a>(
    name: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0117",
        span,
        format!("unknown function `{name}()` in `@default`"),
    );
    with_suggestion(diagnostic, name, candidates)
}

/// E0118: a value that is not in the enum.
pub fn unknown_enum_value<'a>(
    enum_name: &str,
    value: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0118",
        span,
        format!("`{value}` is not a value of enum `{enum_name}`"),
    );
    with_suggestion(diagnostic, value, candidates)
}

/// E0119: `@regex` pattern that does not compile.
pub fn invalid_regex(span: Span, error: &str) -> Diagnostic {
    let first_line = error
        .lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("the pattern does not compile")
        .trim_start_matches("error:")
        .trim();
    Diagnostic::error("E0119", span, "invalid regular expression in `@regex`")
        .with_span_label(first_line.to_string())
        .with_help("the pattern uses the syntax of Rust's `regex` crate (no look-around or backreferences)")
}

/// E0120: `@length` bounds that cannot hold.
pub fn invalid_length_bounds(span: Span, min: u32, max: u32) -> Diagnostic {
    Diagnostic::error(
        "E0120",
        span,
        format!("`@length` minimum {min} is larger than its maximum {max}"),
    )
    .with_help("swap the two bounds")
}

/// E0121: `@db.X` that the provider does not have.
pub fn unknown_native_type<'a>(
    prefix: &str,
    name: &str,
    provider: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0121",
        span,
        format!("`@{prefix}.{name}` is not a native type of {provider}"),
    );
    match did_you_mean(name, candidates) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `@{prefix}.{suggestion}`?")),
        None => diagnostic,
    }
}

/// E0122: a field list names a field the model does not have.
pub fn unknown_field_in_list<'a>(
    model: &str,
    field: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0122",
        span,
        format!("`{model}` has no field named `{field}`"),
    );
    with_suggestion(diagnostic, field, candidates)
}

/// E0123: a relation field where a scalar field is needed (keys, indexes, foreign keys).
pub fn relation_field_in_list(field: &str, span: Span, context: &str) -> Diagnostic {
    Diagnostic::error(
        "E0123",
        span,
        format!("`{field}` is a relation field and cannot be used in {context}"),
    )
    .with_help("use the scalar foreign key field instead")
}

/// E0124: more than one primary key in a model.
pub fn multiple_ids(model: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0124",
        span,
        format!("model `{model}` has more than one primary key"),
    )
    .with_span_label("second primary key")
    .with_label(first, "first primary key here")
    .with_help("use `@@id([a, b])` for a composite primary key")
}

/// E0125: a model without `@id`, `@@id`, or a unique required field.
pub fn missing_identifier(model: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0125",
        span,
        format!("model `{model}` has no unique identifier"),
    )
    .with_span_label("needs `@id`, `@@id`, or a required `@unique` field")
    .with_help("add `id Int @id @default(autoincrement())`")
}

// ---------------------------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------------------------

/// E0126: a relation field with no field on the other side.
pub fn missing_back_relation(
    model: &str,
    field: &str,
    target: &str,
    span: Span,
    suggested_line: &str,
) -> Diagnostic {
    Diagnostic::error(
        "E0126",
        span,
        format!(
            "relation field `{field}` on `{model}` has no opposite relation field on `{target}`"
        ),
    )
    .with_span_label("both sides of a relation must be declared")
    .with_help(format!("add to model `{target}`: {suggested_line}"))
}

/// E0127: more than two fields claim the same relation.
pub fn ambiguous_relation(model: &str, target: &str, span: Span, others: &[Span]) -> Diagnostic {
    let mut diagnostic = Diagnostic::error(
        "E0127",
        span,
        format!("ambiguous relation between `{model}` and `{target}`"),
    )
    .with_span_label("cannot tell which field is the other side of this one");
    for other in others {
        diagnostic = diagnostic.with_label(*other, "also part of this relation");
    }
    diagnostic
        .with_help("give each relation a name on both sides, for example `@relation(\"Author\")`")
}

/// E0128: neither side of a one-to-one / the to-one side of a one-to-many has `fields`.
pub fn missing_relation_fields(field: &str, span: Span, help: &str) -> Diagnostic {
    Diagnostic::error(
        "E0128",
        span,
        format!("relation field `{field}` needs `fields` and `references`"),
    )
    .with_span_label("the foreign key is not defined on either side")
    .with_help(help.to_string())
}

/// E0129: `fields`/`references` on the wrong side (a list side, or both sides).
pub fn relation_fields_on_wrong_side(field: &str, span: Span, reason: &str) -> Diagnostic {
    Diagnostic::error(
        "E0129",
        span,
        format!("relation field `{field}` must not define `fields` and `references`: {reason}"),
    )
    .with_help("keep `fields` and `references` on the side that stores the foreign key")
}

/// E0130: `fields` and `references` differ in length (or one is missing).
pub fn relation_fields_length_mismatch(span: Span, fields: usize, references: usize) -> Diagnostic {
    Diagnostic::error(
        "E0130",
        span,
        format!("`fields` has {fields} field(s) but `references` has {references}"),
    )
    .with_help("list one referenced field for every foreign key field, in the same order")
}

/// E0131: `references` does not point at an id or unique set.
pub fn references_not_unique(target: &str, fields: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0131",
        span,
        format!("`references: [{fields}]` is not a unique key of `{target}`"),
    )
    .with_help(format!(
        "reference the primary key of `{target}`, or mark the fields `@unique` / `@@unique`"
    ))
}

/// E0132: a foreign key field's type differs from the field it references.
pub fn foreign_key_type_mismatch(
    field: &str,
    field_type: &str,
    referenced: &str,
    referenced_type: &str,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0132",
        span,
        format!(
            "foreign key `{field}` is `{field_type}` but references `{referenced}` of type `{referenced_type}`"
        ),
    )
    .with_help(format!("change `{field}` to type `{referenced_type}`"))
}

/// E0133: a one-to-one relation whose foreign key is not unique.
pub fn one_to_one_not_unique(field: &str, fk: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0133",
        span,
        format!("the foreign key of one-to-one relation `{field}` must be unique"),
    )
    .with_help(format!(
        "add `@unique` to `{fk}` (or `@@unique` over the foreign key fields), or make the other side a list for one-to-many"
    ))
}

/// E0134: `SetNull` on a required foreign key.
pub fn set_null_on_required(action: &str, span: Span, fields: &str) -> Diagnostic {
    Diagnostic::error(
        "E0134",
        span,
        format!("`{action}: SetNull` needs an optional foreign key, but `{fields}` is required"),
    )
    .with_help(
        "make the foreign key field optional (`?`) or choose another action such as `Cascade`",
    )
}

/// E0135: a referential action that does not exist.
pub fn unknown_referential_action(name: &str, span: Span) -> Diagnostic {
    let actions = ["Cascade", "Restrict", "NoAction", "SetNull", "SetDefault"];
    let diagnostic = Diagnostic::error(
        "E0135",
        span,
        format!("unknown referential action `{name}`"),
    );
    match did_you_mean(name, actions) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{suggestion}`?")),
        None => diagnostic
            .with_help("use one of `Cascade`, `Restrict`, `NoAction`, `SetNull`, `SetDefault`"),
    }
}

// ---------------------------------------------------------------------------------------------
// Auth and policies
// ---------------------------------------------------------------------------------------------

/// E0136: two models marked `@@auth`.
pub fn multiple_auth_models(span: Span, first: Span) -> Diagnostic {
    Diagnostic::error("E0136", span, "only one model can be marked `@@auth`")
        .with_span_label("second `@@auth`")
        .with_label(first, "first `@@auth` here")
}

/// E0137: `auth()` without an auth model.
pub fn no_auth_model(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0137",
        span,
        "`auth()` is used but the schema has no auth model",
    )
    .with_help("mark the user model with `@@auth`, or name it `User`")
}

/// E0138: an operation name that does not exist.
pub fn unknown_operation(name: &str, span: Span) -> Diagnostic {
    let operations = ["create", "read", "update", "delete", "all"];
    let message = if name.is_empty() {
        "expected an operation name".to_string()
    } else {
        format!("unknown operation `{name}`")
    };
    let diagnostic = Diagnostic::error("E0138", span, message);
    match did_you_mean(name, operations) {
        Some(suggestion) => diagnostic.with_help(format!("did you mean `{suggestion}`?")),
        None => {
            diagnostic.with_help("operations are `create`, `read`, `update`, `delete` and `all`")
        }
    }
}

/// E0139: `future()` outside an update-only rule.
pub fn future_outside_update(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0139",
        span,
        "`future()` can only be used in `update` rules",
    )
    .with_span_label("this rule also covers other operations")
    .with_help("move the condition into its own rule: `@@allow('update', ...)`")
}

/// E0140: `?[ ]`, `![ ]`, `^[ ]` on something that is not a to-many relation.
pub fn collection_on_non_list(what: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0140",
        span,
        format!("collection predicates need a to-many relation, but this is {what}"),
    )
    .with_help("for a to-one relation, compare its fields directly: `owner.name == ...`")
}

/// E0141: two operands that cannot be compared.
pub fn incomparable(op: &str, span: Span, lhs: &str, rhs: &str) -> Diagnostic {
    Diagnostic::error(
        "E0141",
        span,
        format!("cannot compare {lhs} with {rhs} using `{op}`"),
    )
}

/// E0142: a non-boolean where a condition is needed.
pub fn not_boolean(span: Span, found: &str, context: &str) -> Diagnostic {
    Diagnostic::error(
        "E0142",
        span,
        format!("{context} must be a boolean condition"),
    )
    .with_span_label(format!("this is {found}"))
}

/// E0143: a name in a policy that is no field or enum value.
pub fn unknown_name_in_policy<'a>(
    name: &str,
    model: &str,
    span: Span,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        "E0143",
        span,
        format!("`{name}` is not a field of `{model}` or an enum value"),
    );
    with_suggestion(diagnostic, name, candidates)
}

/// E0144: a field-level rule for an operation other than read/update.
pub fn field_rule_operation(operation: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0144",
        span,
        format!("field-level rules cannot control `{operation}`"),
    )
    .with_help(
        "field-level `@allow` / `@deny` take `read` and `update` only; use `@@allow` for the model",
    )
}

/// E0145: an expression form policies do not support.
pub fn unsupported_policy_expression(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0145",
        span,
        format!("{what} is not supported in policy rules"),
    )
}

/// E0145 with a help line.
pub fn unsupported_policy_expression_with_help(span: Span, what: &str, help: &str) -> Diagnostic {
    unsupported_policy_expression(span, what).with_help(help.to_string())
}

/// E0146: `in` whose right side is not a list.
pub fn in_needs_list(span: Span, found: &str) -> Diagnostic {
    Diagnostic::error("E0146", span, "the right side of `in` must be a list")
        .with_span_label(format!("this is {found}"))
        .with_help("write an array such as `[A, B]` or use a list field")
}

/// E0147: `<`, `<=`, `>`, `>=` on values without an order.
pub fn not_orderable(op: &str, span: Span, found: &str) -> Diagnostic {
    Diagnostic::error(
        "E0147",
        span,
        format!("`{op}` needs numbers, dates or strings"),
    )
    .with_span_label(format!("this is {found}"))
}

/// E0148: `onDelete`/`onUpdate` on the side without `fields`.
pub fn action_on_wrong_side(field: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0148",
        span,
        format!(
            "referential actions on `{field}` have no effect: it does not hold the foreign key"
        ),
    )
    .with_help("move `onDelete` / `onUpdate` to the side that has `fields` and `references`")
}

/// W0109: an optional relation field over a required foreign key (Prisma accepts it; the
/// relation is in fact required).
pub fn relation_arity_mismatch(field: &str, fk: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0109",
        span,
        format!("relation field `{field}` is optional but its foreign key `{fk}` is required"),
    )
    .with_help(format!(
        "make `{fk}` optional too, or make `{field}` required"
    ))
}

/// E0150: the back side of a one-to-one must be optional.
pub fn one_to_one_back_side_required(field: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0150",
        span,
        format!("`{field}` must be optional: it is the side of a one-to-one relation without the foreign key"),
    )
    .with_help(format!("write the type of `{field}` with `?`"))
}

/// E0151: a primary key over an optional field.
pub fn optional_id(field: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0151",
        span,
        format!("primary key field `{field}` cannot be optional or a list"),
    )
    .with_help(format!("remove the `?` from `{field}`"))
}

/// E0152: an abstract model or mixin used as a field type.
pub fn abstract_as_type(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0152",
        span,
        format!("`{name}` is abstract and cannot be used as a field type"),
    )
    .with_help(format!(
        "point the field at a concrete model that `extends {name}`"
    ))
}

// ---------------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------------

/// W0100: a provider Plinth does not generate SQL for.
pub fn unsupported_provider(provider: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0100",
        span,
        format!("provider `{provider}` is accepted, but SQL is generated for SQLite and PostgreSQL only"),
    )
    .with_help("use `provider = \"sqlite\"` or `provider = \"postgresql\"`")
}

/// W0101: a Prisma composite `type`.
pub fn composite_type_unsupported(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0101",
        span,
        format!("composite type `{name}` is not supported"),
    )
    .with_span_label("fields of this type are left out")
    .with_help("use a model with a relation, or a `Json` field")
}

/// W0102: a `view`.
pub fn view_unsupported(name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0102",
        span,
        format!("views are not supported: `{name}` is left out"),
    )
}

/// W0103: a known Prisma / ZenStack attribute Plinth does not implement.
pub fn unsupported_attribute(attribute: &str, span: Span, effect: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0103",
        span,
        format!("`{attribute}` is not supported by plinth: {effect}"),
    )
}

/// W0104: a field whose type is not supported is left out.
pub fn field_left_out(field: &str, type_name: &str, span: Span, why: &str) -> Diagnostic {
    Diagnostic::warning(
        "W0104",
        span,
        format!("field `{field}` of type `{type_name}` is left out: {why}"),
    )
}

/// W0105: a model no rule allows anything on.
pub fn model_not_exposed(model: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0105",
        span,
        format!("model `{model}` has no `@@allow` rule, so the API does not expose it"),
    )
    .with_help("add a rule such as `@@allow('read', true)` to expose it")
}

/// W0106: a secret-looking field that the API would return.
pub fn sensitive_field_exposed(field: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0106",
        span,
        format!("field `{field}` looks secret but the API returns it"),
    )
    .with_help("mark it `@password` (hashed, write-only) or `@omit` (never returned)")
}

/// W0107: `extends` of a concrete model (ZenStack's `@@delegate` polymorphism).
pub fn concrete_base(derived: &str, base: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0107",
        span,
        format!("extending concrete model `{base}` is not supported: `{derived}` gets a copy of its scalar fields only"),
    )
    .with_help(format!("make `{base}` an `abstract model`, or relate the two models explicitly"))
}

/// W0108: native types on SQLite.
pub fn native_type_ignored(attribute: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        "W0108",
        span,
        format!("`{attribute}` is ignored: SQLite has no native types"),
    )
}

// ---------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------

/// N0100: `generator` blocks.
pub fn generator_ignored(span: Span) -> Diagnostic {
    Diagnostic::note(
        "N0100",
        span,
        "generator blocks are ignored: plinth builds its own outputs",
    )
}

/// N0101: `plugin` blocks.
pub fn plugin_ignored(span: Span) -> Diagnostic {
    Diagnostic::note(
        "N0101",
        span,
        "plugin blocks are ignored: plinth builds its own outputs",
    )
}

/// N0102: `@@ignore` on a model.
pub fn model_ignored(model: &str, span: Span) -> Diagnostic {
    Diagnostic::note(
        "N0102",
        span,
        format!(
            "model `{model}` is marked `@@ignore` and left out, with every field that points at it"
        ),
    )
}
