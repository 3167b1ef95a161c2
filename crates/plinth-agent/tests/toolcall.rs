//! Tool calls from small and local models: calls written as text, near-JSON arguments, coercion
//! to the tool's schema and repeated calls, on answers written the way small models write them.

use plinth_agent::toolcall::{
    coerce, extract_text_tool_calls, parse_arguments, RepetitionDetector,
};
use plinth_agent::{ToolCall, ToolSpec};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Tools shaped like the agent's own (a path with a default, a required path, two required
/// strings, no parameters); written out here so these tests do not move when the real list does.
fn tools() -> Vec<ToolSpec> {
    let spec = |name: &str, parameters: Value| ToolSpec {
        name: name.to_string(),
        description: format!("the {name} tool"),
        parameters,
    };
    let path_with_default = json!({
        "type": "object",
        "properties": {"path": {"type": "string", "default": "schema.plinth"}},
        "required": [],
    });
    vec![
        spec(
            "read_file",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        ),
        spec(
            "list_files",
            json!({"type": "object", "properties": {}, "required": []}),
        ),
        spec("check", path_with_default.clone()),
        spec("review", path_with_default.clone()),
        spec("build", path_with_default),
        spec(
            "write_file",
            json!({
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"],
            }),
        ),
    ]
}

fn names_and_arguments(calls: &[ToolCall]) -> Vec<(&str, &Value)> {
    calls
        .iter()
        .map(|call| (call.name.as_str(), &call.arguments))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fenced_json_block_with_explanations_around_it() {
    let answer = "Sure! To see whether the schema compiles, I will run the check tool.\n\n\
                  ```json\n{\"name\": \"check\", \"arguments\": {\"path\": \"schema.plinth\"}}\n```\n\n\
                  Once I have the diagnostics I will fix any errors.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("check", &json!({"path": "schema.plinth"}))]
    );
    assert_eq!(calls[0].id, "text-call-1");
    assert_eq!(
        text,
        "Sure! To see whether the schema compiles, I will run the check tool.\n\n\
         Once I have the diagnostics I will fix any errors."
    );
}

#[test]
fn fences_labelled_tool_call_or_unlabelled_and_the_other_argument_keys() {
    let answer = "I'll read the file first.\n```tool_call\n{\"name\": \"read_file\", \"parameters\": {\"path\": \"schema.plinth\"}}\n```\n\
                  Then list the files:\n```\n{\"tool\": \"list_files\", \"args\": {}}\n```\n\
                  And review:\n```json\n{\"function\": {\"name\": \"review\", \"arguments\": \"{\\\"path\\\": \\\"schema.plinth\\\"}\"}}\n```\n\
                  And build:\n```json\n{\"name\": \"build\", \"input\": {\"path\": \"schema.plinth\"}}\n```";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("read_file", &json!({"path": "schema.plinth"})),
            ("list_files", &json!({})),
            // the arguments came as an encoded string, as on OpenAI's wire
            ("review", &json!({"path": "schema.plinth"})),
            ("build", &json!({"path": "schema.plinth"})),
        ]
    );
    let ids: Vec<&str> = calls.iter().map(|call| call.id.as_str()).collect();
    assert_eq!(
        ids,
        ["text-call-1", "text-call-2", "text-call-3", "text-call-4"]
    );
    assert_eq!(
        text,
        "I'll read the file first.\nThen list the files:\nAnd review:\nAnd build:"
    );
}

#[test]
fn a_json_array_of_calls_in_one_fence() {
    let answer = "Let me do both:\n```json\n[\n  {\"name\": \"check\", \"arguments\": {}},\n  {\"name\": \"review\", \"arguments\": {\"path\": \"schema.plinth\"}}\n]\n```";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("check", &json!({})),
            ("review", &json!({"path": "schema.plinth"}))
        ]
    );
    assert_eq!(text, "Let me do both:");
}

#[test]
fn hermes_and_qwen_tool_call_tags() {
    // Qwen2.5 0.5B through Ollama, with its habit of two calls in one answer
    let answer = "<tool_call>\n{\"name\": \"write_file\", \"arguments\": {\"path\": \"schema.plinth\", \"content\": \"model Task {\\n  id Int @id\\n}\\n\"}}\n</tool_call>\n\
                  <tool_call>\n{\"name\": \"check\", \"arguments\": {\"path\": \"schema.plinth\"}}\n</tool_call>";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            (
                "write_file",
                &json!({"path": "schema.plinth", "content": "model Task {\n  id Int @id\n}\n"})
            ),
            ("check", &json!({"path": "schema.plinth"})),
        ]
    );
    assert_eq!(text, "");
}

#[test]
fn a_tool_call_tag_cut_off_by_the_token_limit() {
    let answer = "I will check it.\n<tool_call>\n{\"name\": \"check\", \"arguments\": {\"path\": \"schema.plinth\"";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("check", &json!({"path": "schema.plinth"}))]
    );
    assert_eq!(text, "I will check it.");
}

#[test]
fn a_fence_inside_a_tool_call_tag() {
    let answer =
        "<tool_call>\n```json\n{\"name\": \"list_files\", \"arguments\": {}}\n```\n</tool_call>";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(names_and_arguments(&calls), [("list_files", &json!({}))]);
    assert_eq!(text, "");
}

#[test]
fn llama_function_tags() {
    let answer = "To check the schema I need to call a function.\n\
                  <function=check>{\"path\": \"schema.plinth\"}</function>\n\
                  <function=list_files>{}</function>";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("check", &json!({"path": "schema.plinth"})),
            ("list_files", &json!({}))
        ]
    );
    assert_eq!(text, "To check the schema I need to call a function.");
}

#[test]
fn a_function_tag_with_unreadable_arguments_is_still_a_call() {
    // the tag names a real tool, so the loop gets the raw text and tells the model what is wrong
    let answer = "<function=read_file>path is schema.plinth</function>";
    let (_, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("read_file", &json!("path is schema.plinth"))]
    );
}

#[test]
fn functions_prefix_lines() {
    let answer = "First I list the files.\nfunctions.list_files:{}\n\
                  Then I read the schema.\nfunctions.read_file({\"path\": \"schema.plinth\"})\n\
                  functions.check()\nDone for now.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("list_files", &json!({})),
            ("read_file", &json!({"path": "schema.plinth"})),
            ("check", &json!({})),
        ]
    );
    assert_eq!(
        text,
        "First I list the files.\nThen I read the schema.\nDone for now."
    );
}

#[test]
fn a_bare_json_call_as_llama_3_2_writes_it() {
    let answer =
        "<|python_tag|>{\"name\": \"review\", \"parameters\": {\"path\": \"schema.plinth\"}}";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("review", &json!({"path": "schema.plinth"}))]
    );
    assert_eq!(text, "");

    let answer = "I'll compile the schema now. {\"name\": \"check\", \"parameters\": {}} Let's see what it says.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(names_and_arguments(&calls), [("check", &json!({}))]);
    assert_eq!(
        text,
        "I'll compile the schema now.  Let's see what it says."
    );
}

#[test]
fn a_bare_call_after_a_long_unfenced_draft() {
    let draft: String = (0..200)
        .map(|index| format!("model M{index} {{\n  id Int @id\n}}\n"))
        .collect();
    let answer = format!("{draft}\nNow I check it: {{\"name\": \"check\", \"arguments\": {{}}}}");
    let (text, calls) = extract_text_tool_calls(&answer, &tools());
    assert_eq!(names_and_arguments(&calls), [("check", &json!({}))]);
    assert_eq!(text, format!("{}\n\nNow I check it:", draft.trim_end()));
}

#[test]
fn python_style_calls_as_llama_3_2_is_prompted_to_write_them() {
    let answer = "[read_file(path=\"schema.plinth\"), list_files()]";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("read_file", &json!({"path": "schema.plinth"})),
            ("list_files", &json!({}))
        ]
    );
    assert_eq!(text, "");

    let answer = "I'll save the draft.\nwrite_file(path='schema.plinth', content=\"\"\"model Task {\n  id Int @id\n  done Boolean @default(false)\n}\"\"\")\ncheck(\"schema.plinth\")\nThen I'll look at the diagnostics.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            (
                "write_file",
                &json!({"path": "schema.plinth", "content": "model Task {\n  id Int @id\n  done Boolean @default(false)\n}"})
            ),
            // a positional value, placed in the only parameter
            ("check", &json!({"path": "schema.plinth"})),
        ]
    );
    assert_eq!(
        text,
        "I'll save the draft.\nThen I'll look at the diagnostics."
    );

    // in a sentence it is prose
    let answer = "Run check() first, then review(path) if it compiles.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty());
    assert_eq!(text, answer);
}

#[test]
fn smollm2_writes_a_list_inside_the_tag() {
    let answer = "<tool_call>[{\"name\": \"check\", \"arguments\": {\"path\": \"schema.plinth\"}}]</tool_call>";
    let (_, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("check", &json!({"path": "schema.plinth"}))]
    );
    let answer = "```json\n{\"type\": \"function\", \"function\": {\"name\": \"check\", \"arguments\": {}}}\n```";
    let (_, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(names_and_arguments(&calls), [("check", &json!({}))]);
}

#[test]
fn mistral_tool_calls_marker() {
    let answer =
        "[TOOL_CALLS] [{\"name\": \"read_file\", \"arguments\": {\"path\": \"schema.plinth\"}}]";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("read_file", &json!({"path": "schema.plinth"}))]
    );
    assert_eq!(text, "");
}

#[test]
fn broken_json_in_a_call_is_repaired() {
    // SmolLM2 style: single quotes, Python literals, a trailing comma, no closing fence
    let answer = "Calling the tool:\n```json\n{'name': 'write_file', 'arguments': {'path': 'schema.plinth', 'content': 'model Tag {\\n  id Int @id\\n}',},}\n";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [(
            "write_file",
            &json!({"path": "schema.plinth", "content": "model Tag {\n  id Int @id\n}"})
        )]
    );
    assert_eq!(text, "Calling the tool:");
}

#[test]
fn a_single_value_for_the_arguments_fills_the_only_parameter() {
    // the loop reads a string argument as raw JSON, so the value is placed here
    let answer = "```json\n{\"name\": \"read_file\", \"arguments\": \"schema.plinth\"}\n```\n\
                  <function=check>\"app.plinth\"</function>\n<tool_call>{\"name\": \"review\", \"arguments\": null}</tool_call>";
    let (_, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [
            ("read_file", &json!({"path": "schema.plinth"})),
            ("check", &json!({"path": "app.plinth"})),
            ("review", &json!({})),
        ]
    );
}

#[test]
fn the_arguments_beside_the_name_count_only_when_they_are_parameters() {
    let answer = "```json\n{\"tool\": \"read_file\", \"path\": \"schema.plinth\"}\n```";
    let (_, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(
        names_and_arguments(&calls),
        [("read_file", &json!({"path": "schema.plinth"}))]
    );

    // a record that happens to have a `name` equal to a tool's name is not a call
    let answer = "A finding looks like:\n```json\n{\"name\": \"review\", \"severity\": \"error\", \"rule\": \"secret-exposed\"}\n```";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty());
    assert_eq!(text, answer);
}

// ---------------------------------------------------------------------------------------------
// What must not be taken for a call
// ---------------------------------------------------------------------------------------------

#[test]
fn a_json_example_naming_an_unknown_tool_stays_text() {
    let answer = "In another framework you would write {\"name\": \"deploy\", \"arguments\": {\"env\": \"prod\"}} \
                  to deploy, but Plinth has no such tool.\n\n```json\n{\"name\": \"send_email\", \"arguments\": {\"to\": \"a@b.c\"}}\n```\n\
                  <tool_call>{\"name\": \"delete_database\", \"arguments\": {}}</tool_call>";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(text, answer);
}

#[test]
fn a_schema_snippet_in_a_json_fence_stays_text() {
    let answer = "The `check` tool takes these arguments:\n\n```json\n{\n  \"type\": \"object\",\n  \"properties\": {\"path\": {\"type\": \"string\"}},\n  \"required\": []\n}\n```\n\nIt returns the diagnostics.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty());
    assert_eq!(text, answer);
}

#[test]
fn a_block_mixing_a_known_and_an_unknown_tool_stays_text() {
    let answer = "```json\n[{\"name\": \"check\", \"arguments\": {}}, {\"name\": \"deploy\", \"arguments\": {}}]\n```";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty());
    assert_eq!(text, answer);
}

#[test]
fn a_schema_draft_and_prose_mentions_are_not_calls() {
    let answer = "Here is the draft; I will save it with write_file and then call functions.check to see \
                  whether it compiles.\n\n```prisma\nmodel Task {\n  id    Int    @id\n  title String\n  @@allow('read', auth() != null)\n}\n```\n\n\
                  The policy `{ owner: auth() }` limits rows to their owner.";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty(), "{calls:?}");
    assert_eq!(text, answer);
}

#[test]
fn a_call_drafted_while_thinking_is_not_made() {
    let answer = "<think>Maybe {\"name\": \"write_file\", \"arguments\": {\"path\": \"x\", \"content\": \"\"}}? \
                  No, check first.</think>\n{\"name\": \"check\", \"arguments\": {}}";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert_eq!(names_and_arguments(&calls), [("check", &json!({}))]);
    assert!(text.starts_with("<think>Maybe {\"name\": \"write_file\""));
}

#[test]
fn an_answer_without_calls_comes_back_unchanged() {
    let answer = "  The schema compiles and review found nothing.\n\nHere is a summary:\n- Users own tasks.  \n";
    let (text, calls) = extract_text_tool_calls(answer, &tools());
    assert!(calls.is_empty());
    assert_eq!(text, answer);
}

// ---------------------------------------------------------------------------------------------
// Near-JSON arguments
// ---------------------------------------------------------------------------------------------

#[test]
fn strict_json_is_read_as_it_is() {
    assert_eq!(
        parse_arguments(r#"{"path": "schema.plinth", "limit": 3}"#),
        Ok(json!({"path": "schema.plinth", "limit": 3}))
    );
    assert_eq!(parse_arguments("[1, 2]"), Ok(json!([1, 2])));
    assert_eq!(parse_arguments("  "), Ok(json!({})));
}

#[test]
fn repairs_of_near_json() {
    let cases = [
        // single-quoted strings
        (r#"{'path': 'schema.plinth'}"#, json!({"path": "schema.plinth"})),
        // unquoted keys
        (r#"{path: "schema.plinth", limit: 5}"#, json!({"path": "schema.plinth", "limit": 5})),
        // trailing commas
        (r#"{"paths": ["a", "b",], }"#, json!({"paths": ["a", "b"]})),
        // Python literals
        (
            r#"{"strict": True, "dry_run": False, "limit": None}"#,
            json!({"strict": true, "dry_run": false, "limit": null}),
        ),
        // comments
        (
            "{\n  // the schema\n  \"path\": \"schema.plinth\", /* default */\n  \"limit\": 2 # two\n}",
            json!({"path": "schema.plinth", "limit": 2}),
        ),
        // truncated: a missing closing quote, bracket and brace
        (r#"{"path": "schema.pli"#, json!({"path": "schema.pli"})),
        (r#"{"paths": ["a", "b"#, json!({"paths": ["a", "b"]})),
        (r#"{"a": {"b": 1"#, json!({"a": {"b": 1}})),
        // cut off after a key: the member is dropped
        (r#"{"path": "x", "content":"#, json!({"path": "x"})),
        // text before and after
        (
            "Here are the arguments: {\"path\": \"schema.plinth\"} -- hope that helps!",
            json!({"path": "schema.plinth"}),
        ),
        (
            "```json\n{\"path\": \"schema.plinth\"}\n```",
            json!({"path": "schema.plinth"}),
        ),
        // doubly encoded
        (r#""{\"a\":1}""#, json!({"a": 1})),
        (r#"'{"a": 1}'"#, json!({"a": 1})),
        // raw newlines and unescaped quotes inside a long string value
        (
            "{\"path\": \"schema.plinth\", \"content\": \"model User {\n  role String @default(\"member\")\n}\n\"}",
            json!({"path": "schema.plinth", "content": "model User {\n  role String @default(\"member\")\n}\n"}),
        ),
        // single quotes inside a single-quoted value, cut off
        (
            "{'path': 'schema.plinth', 'content': 'model Task {\n  @@allow('read', auth() != null)\n",
            json!({"path": "schema.plinth", "content": "model Task {\n  @@allow('read', auth() != null)\n"}),
        ),
        // an apostrophe inside a single-quoted string
        (r#"{'note': 'it's done'}"#, json!({"note": "it's done"})),
        // numbers as JavaScript writes them, bare words as values
        (r#"{a: +1, b: .5, c: 5.}"#, json!({"a": 1, "b": 0.5, "c": 5})),
        (r#"{path: schema.plinth, since: 2024-01-01}"#, json!({"path": "schema.plinth", "since": "2024-01-01"})),
        // Python triple quotes and a missing comma between members
        (
            "{\"path\": \"s.plinth\" \"content\": \"\"\"model A {\n  id Int @id\n}\"\"\"}",
            json!({"path": "s.plinth", "content": "model A {\n  id Int @id\n}"}),
        ),
        // the opening brace left out
        (r#""path": "schema.plinth"}"#, json!({"path": "schema.plinth"})),
        (r#"path: 'schema.plinth'"#, json!({"path": "schema.plinth"})),
        // escapes
        (r#"{"a": "\u00e9\ud83d\ude00\n", "b": "C:\temp\x"}"#, json!({"a": "é😀\n", "b": "C:\temp\\x"})),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_arguments(raw), Ok(expected), "{raw}");
    }
}

#[test]
fn nothing_sensible_is_an_error() {
    for raw in [
        "I could not decide which file to read.",
        "{the call}",
        "}",
        ": , ]",
        "True",
    ] {
        assert!(parse_arguments(raw).is_err(), "{raw}");
    }
    let problem = parse_arguments("{path schema.plinth}").unwrap_err();
    assert!(problem.contains("expected `:`"), "{problem}");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = "[".repeat(100_000);
    assert!(parse_arguments(&deep).is_err());
    let deep = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    assert!(parse_arguments(&deep).is_err());
    let (_, calls) = extract_text_tool_calls(&"{\"a\":".repeat(10_000), &tools());
    assert!(calls.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Coercion
// ---------------------------------------------------------------------------------------------

fn search_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "default": 10},
            "ratio": {"type": "number"},
            "exact": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "enum": ["fast", "thorough"]},
            "options": {
                "type": "object",
                "properties": {"depth": {"type": "integer"}},
                "required": ["depth"],
            },
        },
        "required": ["query"],
    })
}

#[test]
fn values_are_coerced_to_the_declared_types() {
    let arguments = json!({
        "query": 42,
        "limit": "3",
        "ratio": "0.25",
        "exact": "yes",
        "tags": "urgent",
        "mode": "Fast",
        "options": {"depth": 2.0},
    });
    assert_eq!(
        coerce(arguments, &search_schema()),
        Ok(json!({
            "query": "42",
            "limit": 3,
            "ratio": 0.25,
            "exact": true,
            "tags": ["urgent"],
            "mode": "fast",
            "options": {"depth": 2},
        }))
    );
    let arguments = json!({"query": true, "exact": "false", "tags": "[\"a\", 7]", "limit": "1e2"});
    assert_eq!(
        coerce(arguments, &search_schema()),
        Ok(json!({"query": "true", "exact": false, "tags": ["a", "7"], "limit": 100}))
    );
}

#[test]
fn defaults_are_filled_and_unknown_properties_kept_unless_forbidden() {
    assert_eq!(
        coerce(json!({"query": "x", "verbose": 1}), &search_schema()),
        Ok(json!({"query": "x", "verbose": 1, "limit": 10}))
    );
    let mut closed = search_schema();
    closed["additionalProperties"] = json!(false);
    assert_eq!(
        coerce(json!({"query": "x", "verbose": 1}), &closed),
        Ok(json!({"query": "x", "limit": 10}))
    );
}

#[test]
fn a_property_spelled_differently_or_null_is_read_as_meant() {
    assert_eq!(
        coerce(json!({"Query": "x", "limit": null}), &search_schema()),
        Ok(json!({"query": "x", "limit": 10}))
    );
}

#[test]
fn problems_are_listed_in_plain_english() {
    let arguments =
        json!({"limit": "many", "mode": "quick", "exact": "perhaps", "options": {"depth": "deep"}});
    let problems = coerce(arguments, &search_schema()).unwrap_err();
    assert_eq!(
        problems,
        [
            "`limit` must be an integer, got \"many\"",
            "`mode` must be one of \"fast\", \"thorough\", got \"quick\"",
            "`exact` must be true or false, got \"perhaps\"",
            "`options.depth` must be an integer, got \"deep\"",
            "missing required `query`",
        ]
    );
    let problems = coerce(json!({"query": "x", "options": {}}), &search_schema()).unwrap_err();
    assert_eq!(problems, ["missing required `options.depth`"]);
    let problems = coerce(
        json!({"query": "x", "ratio": 2.5, "limit": 2.5}),
        &search_schema(),
    )
    .unwrap_err();
    assert_eq!(problems, ["`limit` must be an integer, got 2.5"]);
}

#[test]
fn missing_required_path_for_the_real_read_file_tool() {
    let read_file = tools()
        .into_iter()
        .find(|tool| tool.name == "read_file")
        .unwrap();
    assert_eq!(
        coerce(json!({}), &read_file.parameters),
        Err(vec!["missing required `path`".to_string()])
    );
}

#[test]
fn a_bare_value_fills_the_only_parameter() {
    let specs = tools();
    let schema_of = |name: &str| {
        specs
            .iter()
            .find(|tool| tool.name == name)
            .unwrap()
            .parameters
            .clone()
    };
    // exactly one required string parameter
    assert_eq!(
        coerce(json!("schema.plinth"), &schema_of("read_file")),
        Ok(json!({"path": "schema.plinth"}))
    );
    // nothing required, one property
    assert_eq!(
        coerce(json!("app.plinth"), &schema_of("check")),
        Ok(json!({"path": "app.plinth"}))
    );
    // nothing at all, or JSON in a string, or a one-element list
    assert_eq!(
        coerce(Value::Null, &schema_of("check")),
        Ok(json!({"path": "schema.plinth"}))
    );
    assert_eq!(
        coerce(json!("{\"path\": \"a.plinth\"}"), &schema_of("review")),
        Ok(json!({"path": "a.plinth"}))
    );
    assert_eq!(
        coerce(json!([{"path": "a.plinth"}]), &schema_of("review")),
        Ok(json!({"path": "a.plinth"}))
    );
    // two required parameters: a bare string cannot be placed
    assert_eq!(
        coerce(json!("model A {}"), &schema_of("write_file")),
        Err(vec![
            "the arguments must be an object, got \"model A {}\"".to_string()
        ])
    );
}

#[test]
fn long_values_are_cut_short_in_problems() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let problems = coerce(json!({"n": "x".repeat(500)}), &schema).unwrap_err();
    assert!(problems[0].len() < 120, "{}", problems[0]);
    assert!(problems[0].ends_with('…'));
}

// ---------------------------------------------------------------------------------------------
// Repetition
// ---------------------------------------------------------------------------------------------

fn call(name: &str, arguments: Value) -> ToolCall {
    ToolCall {
        id: "any".to_string(),
        name: name.to_string(),
        arguments,
    }
}

#[test]
fn the_same_call_is_counted_whatever_its_key_order_or_encoding() {
    let mut detector = RepetitionDetector::new(6);
    assert_eq!(
        detector.observe(&call("write_file", json!({"path": "a", "content": "x"}))),
        1
    );
    assert_eq!(detector.observe(&call("check", json!({}))), 1);
    assert_eq!(
        detector.observe(&call("write_file", json!({"content": "x", "path": "a"}))),
        2
    );
    assert_eq!(
        detector.observe(&call(
            "write_file",
            json!("{\"path\": \"a\", \"content\": \"x\"}")
        )),
        3
    );
    // different arguments or another tool are another call
    assert_eq!(
        detector.observe(&call("write_file", json!({"path": "a", "content": "y"}))),
        1
    );
    assert_eq!(
        detector.observe(&call("read_file", json!({"path": "a", "content": "x"}))),
        1
    );
}

#[test]
fn calls_older_than_the_window_are_forgotten() {
    let mut detector = RepetitionDetector::new(2);
    let check = call("check", json!({}));
    assert_eq!(detector.observe(&check), 1);
    assert_eq!(detector.observe(&call("review", json!({}))), 1);
    assert_eq!(detector.observe(&call("build", json!({}))), 1);
    assert_eq!(detector.observe(&check), 1);
    assert_eq!(detector.observe(&check), 2);
    assert_eq!(detector.observe(&check), 3);
}

// ---------------------------------------------------------------------------------------------
// Never panic
// ---------------------------------------------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_\"\\\\ ]{0,8}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// What a value of a small schema must look like once coerced, checked independently of
/// `coerce`.
fn fits(value: &Value, schema: &Value) -> bool {
    let types_ok = match schema.get("type").and_then(Value::as_str) {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.as_array().is_some_and(|items| {
            schema
                .get("items")
                .is_none_or(|items_schema| items.iter().all(|item| fits(item, items_schema)))
        }),
        Some("object") => value.as_object().is_some_and(|object| {
            let properties = schema["properties"].as_object().unwrap();
            let required = schema["required"].as_array().unwrap();
            required
                .iter()
                .all(|name| object.contains_key(name.as_str().unwrap()))
                && properties
                    .iter()
                    .all(|(name, sub)| object.get(name).is_none_or(|v| fits(v, sub)))
        }),
        _ => true,
    };
    let enum_ok = schema
        .get("enum")
        .and_then(Value::as_array)
        .is_none_or(|allowed| allowed.contains(value));
    types_ok && enum_ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_arguments_never_panics(raw in ".{0,200}") {
        let _ = parse_arguments(&raw);
    }

    #[test]
    fn near_json_characters_never_panic(raw in "[{}\\[\\]\"'`:,\\\\ a-zA-Z0-9.+\\-#/*\n\u{e9}\u{1f600}]{0,120}") {
        let _ = parse_arguments(&raw);
        let _ = extract_text_tool_calls(&raw, &tools());
    }

    #[test]
    fn extraction_never_panics(
        prose in ".{0,80}",
        marker in prop::sample::select(vec![
            "```json\n", "```\n", "<tool_call>", "</tool_call>", "<function=check>", "</function>",
            "functions.check:", "functions.read_file(", "<|python_tag|>", "[TOOL_CALLS]", "<think>",
            "\n[check(", "\nwrite_file(content=\"\"\"", "\nread_file('",
            "{\"name\": \"check\", \"arguments\": ", "```", "\n",
        ]),
        tail in ".{0,80}",
    ) {
        let text = format!("{prose}{marker}{tail}");
        let _ = extract_text_tool_calls(&text, &tools());
    }

    #[test]
    fn valid_json_reads_back_and_truncations_still_give_an_object(
        members in prop::collection::vec(("[a-z]{1,6}", json_value()), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        let object = Value::Object(members.into_iter().collect());
        let text = serde_json::to_string(&object).unwrap();
        // serde_json's own reading, since without `float_roundtrip` it may differ in the last digit
        let strict: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(parse_arguments(&text), Ok(strict));
        let boundaries: Vec<usize> = text.char_indices().map(|(at, _)| at).skip(1).collect();
        let truncated = &text[..*cut.get(&boundaries)];
        let repaired = parse_arguments(truncated);
        prop_assert!(matches!(repaired, Ok(Value::Object(_))), "{} -> {:?}", truncated, repaired);
        // pretty-printed and cut off, as a model's answer would be
        let pretty = serde_json::to_string_pretty(&object).unwrap();
        let boundaries: Vec<usize> = pretty.char_indices().map(|(at, _)| at).skip(1).collect();
        let _ = extract_text_tool_calls(&pretty[..*cut.get(&boundaries)], &tools());
    }

    #[test]
    fn coerced_arguments_fit_the_schema(value in json_value()) {
        let schema = search_schema();
        match coerce(value, &schema) {
            Ok(coerced) => prop_assert!(fits(&coerced, &schema), "{}", coerced),
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }

    #[test]
    fn coerced_search_arguments_fit_the_schema(
        query in json_value(),
        limit in json_value(),
        tags in json_value(),
        mode in prop_oneof![Just(json!("FAST")), Just(json!("slow")), json_value()],
    ) {
        let schema = search_schema();
        let arguments = json!({"query": query, "limit": limit, "tags": tags, "mode": mode});
        match coerce(arguments, &schema) {
            Ok(coerced) => prop_assert!(fits(&coerced, &schema), "{}", coerced),
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }
}
