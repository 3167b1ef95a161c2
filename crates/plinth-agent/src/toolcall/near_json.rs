//! The tolerant reader of tool-call arguments: strict JSON when it is, and otherwise what the
//! model meant (single quotes, unquoted keys, Python literals, comments, trailing commas, output
//! cut off by the token limit, words around the JSON, JSON encoded twice).
//!
//! A small parser rather than a dependency: `json5` reads single quotes, comments and trailing
//! commas, but not truncated output, Python literals or unescaped quotes inside a long string
//! value, which are the usual failures of small models.

use super::{skip_spaces, skip_whitespace, MAX_CANDIDATES};
use serde_json::{Map, Value};

/// How deep the tolerant parser nests before giving up: serde_json's own limit, so hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// How many times a doubly-encoded string (`"{\"a\":1}"`) is unwrapped.
const MAX_ENCODINGS: usize = 3;

/// Strict JSON first; otherwise a repair: single-quoted strings, unquoted keys, trailing commas,
/// Python literals True/False/None, comments, a missing closing brace/bracket/quote at the end
/// (truncated output), text before/after the object, a doubly-encoded JSON string
/// (`"{\"a\":1}"`). Also raw newlines and unescaped quotes inside a string value (a schema
/// written into `content`), bare words as values (`{path: schema.plinth}`), and an object
/// whose opening brace was left out (`path: "a"`).
///
/// Empty arguments are `{}`: some servers send `""` for a tool without parameters. Err when
/// nothing sensible comes out.
pub fn parse_arguments(raw: &str) -> Result<Value, String> {
    parse_encoded(raw, 0)
}

fn parse_encoded(raw: &str, encodings: usize) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    // the end is kept: a value cut off there may end in whitespace that belongs to it
    let text = raw.trim_start();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(value) => value,
        Err(strict) => repair(text).map_err(|repair| {
            if repair.is_empty() {
                format!("not JSON: {strict}")
            } else {
                repair
            }
        })?,
    };
    match value {
        Value::String(inner)
            if encodings < MAX_ENCODINGS && inner.trim_start().starts_with(['{', '[']) =>
        {
            Ok(parse_encoded(&inner, encodings + 1).unwrap_or(Value::String(inner)))
        }
        value => Ok(value),
    }
}

/// The first value the tolerant parser can read, trying the start of the text, then each `{`,
/// then each `[`, then the text as an object whose opening brace was left out (`"path": "a"}`).
/// Err with the first candidate's problem (empty if there was no candidate).
fn repair(text: &str) -> Result<Value, String> {
    let bytes = text.as_bytes();
    let mut candidates = Vec::new();
    if matches!(bytes[0], b'{' | b'[' | b'"' | b'\'') {
        candidates.push(0);
    }
    for opening in [b'{', b'['] {
        candidates.extend(
            (1..bytes.len())
                .filter(|at| bytes[*at] == opening)
                .take(MAX_CANDIDATES),
        );
    }
    let mut first_problem = None;
    for start in candidates.into_iter().take(MAX_CANDIDATES) {
        match parse_at(text, start) {
            // a string is the whole answer or it is not the answer: `"path": "a"` is no string
            Ok((Value::String(_), end)) if !text[end..].trim().is_empty() => {}
            Ok((value, _)) => return Ok(value),
            Err(problem) => {
                first_problem.get_or_insert(problem);
            }
        }
    }
    if matches!(bytes[0], b'"' | b'\'') || bytes[0].is_ascii_alphabetic() {
        let braced = format!("{{{text}");
        if let Ok((value @ Value::Object(_), _)) = parse_at(&braced, 0) {
            if value.as_object().is_some_and(|object| !object.is_empty()) {
                return Ok(value);
            }
        }
    }
    Err(first_problem.unwrap_or_default())
}

/// One near-JSON value starting at byte `start`, and the byte after it. Quotes are first taken
/// at their word; if that fails, a quote closes a string only where a delimiter follows it.
pub(super) fn parse_at(text: &str, start: usize) -> Result<(Value, usize), String> {
    let mut strict_quotes = NearJson::new(text, start, false);
    let first = match strict_quotes.value() {
        Ok(value) => return Ok((value, strict_quotes.position)),
        Err(failure) => failure,
    };
    let mut lenient_quotes = NearJson::new(text, start, true);
    match lenient_quotes.value() {
        Ok(value) => Ok((value, lenient_quotes.position)),
        Err(_) => Err(first.describe()),
    }
}

enum Failure {
    /// The text ended where a value should start.
    EndOfInput,
    Invalid(String),
}

impl Failure {
    fn describe(self) -> String {
        match self {
            Failure::EndOfInput => "the text ends before a value".to_string(),
            Failure::Invalid(problem) => problem,
        }
    }
}

/// A tolerant JSON reader: reads what a model meant where strict JSON would stop. A container
/// still open at the end of the text is closed there (truncated output).
struct NearJson<'a> {
    text: &'a str,
    position: usize,
    depth: usize,
    /// A quote ends a string only when a delimiter follows it, so `"say "hi" now"` is one string.
    lenient_quotes: bool,
}

impl<'a> NearJson<'a> {
    fn new(text: &'a str, position: usize, lenient_quotes: bool) -> NearJson<'a> {
        NearJson {
            text,
            position,
            depth: 0,
            lenient_quotes,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.position).copied()
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.position..].chars().next()
    }

    fn invalid(&self, what: &str) -> Failure {
        match self.peek_char() {
            Some(found) => {
                Failure::Invalid(format!("{what}, found `{found}` at byte {}", self.position))
            }
            None => Failure::Invalid(format!("{what} at the end")),
        }
    }

    /// Whitespace and comments: `// …`, `/* … */` and `# …`.
    fn skip_trivia(&mut self) {
        let bytes = self.text.as_bytes();
        loop {
            match bytes.get(self.position..self.position + 2) {
                Some(b"//") => self.skip_past("\n"),
                Some(b"/*") => self.skip_past("*/"),
                _ => match bytes.get(self.position) {
                    Some(b'#') => self.skip_past("\n"),
                    Some(byte) if byte.is_ascii_whitespace() => self.position += 1,
                    _ => return,
                },
            }
        }
    }

    fn skip_past(&mut self, end: &str) {
        self.position = match self.text[self.position..].find(end) {
            Some(at) => self.position + at + end.len(),
            None => self.text.len(),
        };
    }

    fn value(&mut self) -> Result<Value, Failure> {
        self.skip_trivia();
        match self.peek() {
            None => Err(Failure::EndOfInput),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"' | b'\'' | b'`') => Ok(Value::String(self.string())),
            Some(b'-' | b'+' | b'.' | b'0'..=b'9') => self.number_or_word(),
            Some(b'}' | b']' | b',' | b':' | b')') => Err(self.invalid("expected a value")),
            Some(_) => self.word(),
        }
    }

    fn enter(&mut self) -> Result<(), Failure> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Failure::Invalid(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.position += 1;
        Ok(())
    }

    fn object(&mut self) -> Result<Value, Failure> {
        self.enter()?;
        let mut object = Map::new();
        loop {
            self.skip_trivia();
            let key = match self.peek() {
                None => break,
                Some(b'}') => {
                    self.position += 1;
                    break;
                }
                Some(b',') => {
                    self.position += 1;
                    continue;
                }
                Some(b'"' | b'\'' | b'`') => self.string(),
                Some(byte) if is_key_byte(byte) => self.bare_key(),
                Some(_) => return Err(self.invalid("expected a key")),
            };
            self.skip_trivia();
            match self.peek() {
                // cut off after the key: the member is dropped
                None => break,
                Some(b':' | b'=') => self.position += 1,
                Some(_) => return Err(self.invalid(&format!("expected `:` after key `{key}`"))),
            }
            match self.value() {
                Ok(value) => {
                    object.insert(key, value);
                }
                Err(Failure::EndOfInput) => break,
                Err(failure) => return Err(failure),
            }
            self.skip_trivia();
            match self.peek() {
                // a missing comma before the next key is forgiven
                None | Some(b',' | b'}' | b'"' | b'\'' | b'`') => {}
                Some(byte) if is_key_byte(byte) => {}
                Some(_) => return Err(self.invalid("expected `,` or `}`")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(object))
    }

    fn array(&mut self) -> Result<Value, Failure> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            match self.peek() {
                None => break,
                Some(b']') => {
                    self.position += 1;
                    break;
                }
                Some(b',') => {
                    self.position += 1;
                    continue;
                }
                Some(_) => {}
            }
            match self.value() {
                Ok(value) => items.push(value),
                Err(Failure::EndOfInput) => break,
                Err(failure) => return Err(failure),
            }
            self.skip_trivia();
            if matches!(self.peek(), Some(b'}' | b':' | b')')) {
                return Err(self.invalid("expected `,` or `]`"));
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// A string in double, single or back quotes, or Python's triple quotes. The end of the text
    /// closes it.
    fn string(&mut self) -> String {
        let quote = char::from(self.text.as_bytes()[self.position]);
        let triple = match quote {
            '"' => "\"\"\"",
            '\'' => "'''",
            _ => "",
        };
        let triple = !triple.is_empty() && self.text[self.position..].starts_with(triple);
        self.position += if triple { 3 } else { 1 };
        let mut out = String::new();
        while let Some(character) = self.peek_char() {
            if character == quote {
                if triple {
                    if self.text[self.position..].starts_with(&quote.to_string().repeat(3)) {
                        self.position += 3;
                        return out;
                    }
                } else if self.quote_closes() {
                    self.position += 1;
                    return out;
                }
            }
            self.position += character.len_utf8();
            if character == '\\' {
                self.escape(&mut out);
            } else {
                out.push(character);
            }
        }
        out
    }

    /// Whether the quote at the current position ends the string. Leniently: only where what
    /// follows continues the JSON (a closing bracket, a colon, or a comma and then something
    /// that starts a member or an item), so `'read', auth()` inside a value does not end it.
    fn quote_closes(&self) -> bool {
        if !self.lenient_quotes {
            return true;
        }
        let bytes = self.text.as_bytes();
        let after = skip_whitespace(self.text, self.position + 1);
        match bytes.get(after) {
            None | Some(b'}' | b']' | b':') => true,
            Some(b',') => {
                let next = skip_whitespace(self.text, after + 1);
                match bytes.get(next) {
                    None | Some(b'}' | b']' | b'{' | b'[' | b'"' | b'\'' | b'-') => true,
                    Some(byte) if byte.is_ascii_digit() => true,
                    Some(byte) if byte.is_ascii_alphabetic() || *byte == b'_' => {
                        // a bare key or literal: followed by `:`, `=`, `,` or a closing bracket
                        let mut at = next;
                        while bytes.get(at).is_some_and(|byte| is_key_byte(*byte)) {
                            at += 1;
                        }
                        matches!(
                            bytes.get(skip_spaces(self.text, at)),
                            None | Some(b':' | b'=' | b',' | b'}' | b']')
                        )
                    }
                    Some(_) => false,
                }
            }
            Some(_) => false,
        }
    }

    /// The character after a backslash; an escape JSON does not know is kept as written
    /// (`C:\path`).
    fn escape(&mut self, out: &mut String) {
        let Some(character) = self.peek_char() else {
            return;
        };
        self.position += character.len_utf8();
        match character {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            '"' | '\'' | '\\' | '/' | '`' => out.push(character),
            // a line continuation
            '\n' => {}
            'u' => match self.hex4() {
                Some(high @ 0xD800..=0xDBFF) => {
                    let low = self.text[self.position..]
                        .starts_with("\\u")
                        .then(|| {
                            self.position += 2;
                            self.hex4()
                        })
                        .flatten();
                    let combined = match low {
                        Some(low @ 0xDC00..=0xDFFF) => {
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                        }
                        _ => None,
                    };
                    out.push(combined.unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                Some(code) => out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
                None => out.push_str("\\u"),
            },
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.position..self.position + 4)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        self.position += 4;
        Some(code)
    }

    fn bare_key(&mut self) -> String {
        let start = self.position;
        while self.peek().is_some_and(is_key_byte) {
            self.position += 1;
        }
        self.text[start..self.position].to_string()
    }

    /// A number as JSON, JavaScript or Python write it (`+1`, `.5`, `5.`); anything else that
    /// starts like one (`2024-01-01`, `10px`) is a bare word.
    fn number_or_word(&mut self) -> Result<Value, Failure> {
        let start = self.position;
        while self
            .peek()
            .is_some_and(|byte| byte.is_ascii_digit() || b"+-.eE".contains(&byte))
        {
            self.position += 1;
        }
        let ends_here = match self.peek() {
            None => true,
            Some(byte) => byte.is_ascii_whitespace() || b",}])/#".contains(&byte),
        };
        if ends_here {
            if let Some(number) = number(&self.text[start..self.position]) {
                return Ok(number);
            }
        }
        self.position = start;
        self.word()
    }

    /// An unquoted value up to the next delimiter: a Python or JavaScript literal, or a string.
    fn word(&mut self) -> Result<Value, Failure> {
        let start = self.position;
        while self.peek().is_some_and(|byte| !b",}]\n\r".contains(&byte)) {
            self.position += 1;
        }
        let word = self.text[start..self.position].trim();
        Ok(match word {
            "" => return Err(self.invalid("expected a value")),
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            "null" | "None" | "nil" | "undefined" | "NULL" => Value::Null,
            word => Value::String(word.to_string()),
        })
    }
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_$-.".contains(&byte) || byte >= 0x80
}

/// A number token in the spellings JSON does not accept, normalised and read by serde_json.
pub(super) fn number(token: &str) -> Option<Value> {
    let token = token.strip_prefix('+').unwrap_or(token);
    let (sign, digits) = match token.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", token),
    };
    let digits = digits.strip_suffix('.').unwrap_or(digits);
    let normalised = if digits.starts_with('.') {
        format!("{sign}0{digits}")
    } else {
        format!("{sign}{digits}")
    };
    serde_json::from_str::<Value>(&normalised)
        .ok()
        .filter(Value::is_number)
}
