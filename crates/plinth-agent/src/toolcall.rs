//! Tool calls from small and local models: calls written as text instead of the tool channel,
//! near-JSON arguments, coercion to the tool's schema, and a model repeating itself.
//!
//! Small models served by Ollama or llama.cpp (SmolLM2, Qwen 0.5B, Llama 3.2 1B) often ignore the
//! native tool-call channel and write the format of their training instead (`<tool_call>`,
//! `<function=…>`, a bare JSON object), with single quotes, Python literals, and a closing brace
//! missing where the token limit cut them off. Everything here is best effort and never panics:
//! what cannot be read as a call to a known tool stays text, and arguments that do not fit come
//! back as plain-English problems the loop sends to the model.
//!
//! - `text.rs`: calls written as text ([`extract_text_tool_calls`]);
//! - `near_json.rs`: the tolerant reader of arguments ([`parse_arguments`]);
//! - `coerce.rs`: arguments fitted to the tool's JSON Schema ([`coerce()`]);
//! - `repetition.rs`: the same call made again ([`RepetitionDetector`]).

mod coerce;
mod near_json;
mod repetition;
mod text;

pub use coerce::coerce;
pub use near_json::parse_arguments;
pub use repetition::RepetitionDetector;
pub use text::extract_text_tool_calls;

/// Positions of `{` or `[` tried when the JSON has words around it: plenty for a real answer, few
/// enough that a text full of braces stays cheap.
const MAX_CANDIDATES: usize = 64;

fn skip_whitespace(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() && bytes[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

fn skip_spaces(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
        at += 1;
    }
    at
}
