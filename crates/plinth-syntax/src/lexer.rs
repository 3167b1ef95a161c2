//! The lexer: source text → a flat `Vec` of tokens with byte spans, plus the ordinary comments.
//!
//! Newlines are tokens because a field ends at the end of its line. Ordinary comments never reach
//! the parser (they go straight to the comment list); own-line doc comments do, because the parser
//! attaches them to what follows. The lexer never fails: bad characters are reported and skipped.

use crate::ast::Comment;
use crate::diagnostics;
use plinth_diagnostics::{Diagnostic, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    Number,
    /// A quoted string, quotes included in the span (possibly unterminated, already reported).
    String,
    /// `@name` or `@db.Name`.
    FieldAttribute,
    /// `@@name`.
    BlockAttribute,
    LeftBrace,
    RightBrace,
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    Dot,
    Assign,
    EqualEqual,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    AndAnd,
    OrOr,
    Bang,
    Question,
    Caret,
    Minus,
    Newline,
    /// A `///` comment on its own line.
    DocLine,
    /// A `/** ... */` comment on its own line.
    DocBlock,
    Eof,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    pub comments: Vec<Comment>,
}

pub(crate) fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_'
}

pub(crate) fn is_ident_continue(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Lexes `source`, which the caller has already limited to `u32::MAX` bytes.
pub(crate) fn lex(source: &str, diagnostics: &mut Vec<Diagnostic>) -> Lexed {
    let bytes = source.as_bytes();
    let mut tokens = Vec::with_capacity(source.len() / 4 + 1);
    let mut comments = Vec::new();
    let mut position = 0usize;
    // Whether a token has been emitted on the current line: a comment after one is a trailing
    // comment, never a doc comment.
    let mut line_has_token = false;

    let span = |start: usize, end: usize| Span::new(start as u32, end as u32);

    while position < bytes.len() {
        let start = position;
        let byte = bytes[position];
        let single = |kind: TokenKind| Some((kind, start + 1));
        let two = |next: u8, long: TokenKind, short: Option<TokenKind>| {
            if bytes.get(start + 1) == Some(&next) {
                Some((long, start + 2))
            } else {
                short.map(|kind| (kind, start + 1))
            }
        };
        let token: Option<(TokenKind, usize)> = match byte {
            b'\n' => {
                tokens.push(Token {
                    kind: TokenKind::Newline,
                    span: span(start, start + 1),
                });
                line_has_token = false;
                position += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => {
                position += 1;
                continue;
            }
            b'/' if bytes.get(start + 1) == Some(&b'/') => {
                let end = source[start..]
                    .find('\n')
                    .map_or(bytes.len(), |offset| start + offset);
                let text = source[start..end].trim_end_matches('\r');
                let end = start + text.len();
                // `////` banners are ordinary comments, not documentation.
                if text.starts_with("///") && !text.starts_with("////") && !line_has_token {
                    tokens.push(Token {
                        kind: TokenKind::DocLine,
                        span: span(start, end),
                    });
                } else {
                    comments.push(Comment {
                        text: text.to_string(),
                        span: span(start, end),
                    });
                }
                position = end;
                continue;
            }
            b'/' if bytes.get(start + 1) == Some(&b'*') => {
                let end = match source[start + 2..].find("*/") {
                    Some(offset) => start + 2 + offset + 2,
                    None => {
                        diagnostics.push(diagnostics::unterminated_block_comment(span(
                            start,
                            start + 2,
                        )));
                        bytes.len()
                    }
                };
                let text = &source[start..end];
                let is_doc = text.starts_with("/**")
                    && !text.starts_with("/**/")
                    && !text.starts_with("/***")
                    && text.ends_with("*/")
                    && text.len() >= 5;
                if is_doc && !line_has_token {
                    tokens.push(Token {
                        kind: TokenKind::DocBlock,
                        span: span(start, end),
                    });
                } else {
                    comments.push(Comment {
                        text: text.to_string(),
                        span: span(start, end),
                    });
                }
                position = end;
                continue;
            }
            b'{' => single(TokenKind::LeftBrace),
            b'}' => single(TokenKind::RightBrace),
            b'(' => single(TokenKind::LeftParen),
            b')' => single(TokenKind::RightParen),
            b'[' => single(TokenKind::LeftBracket),
            b']' => single(TokenKind::RightBracket),
            b',' => single(TokenKind::Comma),
            b':' => single(TokenKind::Colon),
            b'.' => single(TokenKind::Dot),
            b'?' => single(TokenKind::Question),
            b'^' => single(TokenKind::Caret),
            b'=' => two(b'=', TokenKind::EqualEqual, Some(TokenKind::Assign)),
            b'!' => two(b'=', TokenKind::NotEqual, Some(TokenKind::Bang)),
            b'<' => two(b'=', TokenKind::LessEqual, Some(TokenKind::Less)),
            b'>' => two(b'=', TokenKind::GreaterEqual, Some(TokenKind::Greater)),
            b'&' => two(b'&', TokenKind::AndAnd, None),
            b'|' => two(b'|', TokenKind::OrOr, None),
            b'-' if bytes.get(start + 1).is_some_and(u8::is_ascii_digit) => {
                Some((TokenKind::Number, lex_number(bytes, start + 1)))
            }
            b'-' => single(TokenKind::Minus),
            b'0'..=b'9' => Some((TokenKind::Number, lex_number(bytes, start))),
            b'"' | b'\'' => Some((TokenKind::String, lex_string(source, start, diagnostics))),
            b'@' => {
                let (kind, name_start) = if bytes.get(start + 1) == Some(&b'@') {
                    (TokenKind::BlockAttribute, start + 2)
                } else {
                    (TokenKind::FieldAttribute, start + 1)
                };
                if bytes.get(name_start).copied().is_some_and(is_ident_start) {
                    Some((kind, lex_dotted_name(bytes, name_start)))
                } else {
                    // Still a token (with an empty name), so the parser skips its arguments
                    // quietly instead of reporting them again.
                    diagnostics.push(diagnostics::missing_attribute_name(span(start, name_start)));
                    Some((kind, name_start))
                }
            }
            _ if is_ident_start(byte) => {
                let mut end = start + 1;
                while end < bytes.len() && is_ident_continue(bytes[end]) {
                    end += 1;
                }
                Some((TokenKind::Ident, end))
            }
            _ => None,
        };
        match token {
            Some((kind, end)) => {
                tokens.push(Token {
                    kind,
                    span: span(start, end),
                });
                line_has_token = true;
                position = end;
            }
            None => {
                // Not a token: report the whole character (never split a UTF-8 sequence).
                let character = source[start..].chars().next().unwrap_or('\u{fffd}');
                let end = start + character.len_utf8();
                diagnostics.push(diagnostics::unexpected_character(
                    span(start, end),
                    character,
                ));
                position = end;
            }
        }
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        span: span(bytes.len(), bytes.len()),
    });
    Lexed { tokens, comments }
}

fn lex_number(bytes: &[u8], mut position: usize) -> usize {
    let digits = |bytes: &[u8], mut position: usize| {
        while position < bytes.len() && bytes[position].is_ascii_digit() {
            position += 1;
        }
        position
    };
    position = digits(bytes, position);
    if bytes.get(position) == Some(&b'.') && bytes.get(position + 1).is_some_and(u8::is_ascii_digit)
    {
        position = digits(bytes, position + 1);
    }
    if matches!(bytes.get(position), Some(b'e' | b'E')) {
        let mut exponent = position + 1;
        if matches!(bytes.get(exponent), Some(b'+' | b'-')) {
            exponent += 1;
        }
        if bytes.get(exponent).is_some_and(u8::is_ascii_digit) {
            position = digits(bytes, exponent);
        }
    }
    position
}

/// `name` or `name.other.more`: a dot continues the name only when a name character follows.
fn lex_dotted_name(bytes: &[u8], mut position: usize) -> usize {
    loop {
        while position < bytes.len() && is_ident_continue(bytes[position]) {
            position += 1;
        }
        if bytes.get(position) == Some(&b'.')
            && bytes.get(position + 1).copied().is_some_and(is_ident_start)
        {
            position += 1;
        } else {
            return position;
        }
    }
}

/// Finds the end of a string starting at the quote at `start`, reporting bad escapes and a
/// missing closing quote (the string then ends at the end of its line).
fn lex_string(source: &str, start: usize, diagnostics: &mut Vec<Diagnostic>) -> usize {
    let bytes = source.as_bytes();
    let quote = bytes[start];
    let mut position = start + 1;
    while position < bytes.len() {
        match bytes[position] {
            byte if byte == quote => return position + 1,
            b'\n' => break,
            b'\\' => {
                let escape_start = position;
                position += 1;
                match bytes.get(position) {
                    Some(b'u') => {
                        position += 1;
                        match unicode_escape(source, position) {
                            Ok((_, end)) => position = end,
                            Err(end) => {
                                let end = end.max(position).min(bytes.len());
                                diagnostics.push(diagnostics::invalid_unicode_escape(Span::new(
                                    escape_start as u32,
                                    end as u32,
                                )));
                                position = end;
                            }
                        }
                    }
                    Some(b'\n') | None => {}
                    Some(_) => {
                        // Skip the escaped character whole, even when it is not ASCII.
                        let character = source[position..].chars().next().map_or(1, char::len_utf8);
                        position += character;
                    }
                }
            }
            _ => {
                let character = source[position..].chars().next().map_or(1, char::len_utf8);
                position += character;
            }
        }
    }
    let end = position.min(bytes.len());
    let end = source[start..end].trim_end_matches('\r').len() + start;
    diagnostics.push(diagnostics::unterminated_string(Span::new(
        start as u32,
        end as u32,
    )));
    end
}

/// Reads the part after `\u`: `{1F600}` or four hex digits. Returns the character and the end
/// offset, or the offset where reading stopped.
fn unicode_escape(source: &str, position: usize) -> Result<(char, usize), usize> {
    let bytes = source.as_bytes();
    let (digits_start, digits_end, end) = if bytes.get(position) == Some(&b'{') {
        let mut end = position + 1;
        while end < bytes.len() && bytes[end].is_ascii_hexdigit() && end - position <= 7 {
            end += 1;
        }
        if bytes.get(end) != Some(&b'}') {
            return Err(end);
        }
        (position + 1, end, end + 1)
    } else {
        let mut end = position;
        while end < bytes.len() && bytes[end].is_ascii_hexdigit() && end - position < 4 {
            end += 1;
        }
        if end - position != 4 {
            return Err(end);
        }
        (position, end, end)
    };
    let digits = &source[digits_start..digits_end];
    u32::from_str_radix(digits, 16)
        .ok()
        .and_then(char::from_u32)
        .map(|character| (character, end))
        .ok_or(end)
}

/// The value of a string token (quotes included in `raw`), escapes resolved. Lenient: the lexer
/// has already reported every problem, so bad escapes are kept as written.
pub(crate) fn string_value(raw: &str) -> String {
    let quote = raw.chars().next().unwrap_or('"');
    let mut body = raw.get(1..).unwrap_or("");
    if body.ends_with(quote) && !body.is_empty() && !ends_with_escaped_quote(body) {
        body = &body[..body.len() - 1];
    }
    let mut value = String::with_capacity(body.len());
    let mut characters = body.char_indices();
    while let Some((index, character)) = characters.next() {
        if character != '\\' {
            value.push(character);
            continue;
        }
        match characters.next() {
            Some((_, 'n')) => value.push('\n'),
            Some((_, 't')) => value.push('\t'),
            Some((_, 'r')) => value.push('\r'),
            Some((_, '0')) => value.push('\0'),
            Some((_, 'u')) => match unicode_escape(body, index + 2) {
                Ok((decoded, end)) => {
                    value.push(decoded);
                    while characters
                        .clone()
                        .next()
                        .is_some_and(|(next_index, _)| next_index < end)
                    {
                        characters.next();
                    }
                }
                Err(_) => value.push_str("\\u"),
            },
            Some((_, escaped @ ('"' | '\'' | '\\' | '/' | '\n'))) => value.push(escaped),
            // Unknown escapes (`\d` in a regex) keep their backslash: what the user meant.
            Some((_, other)) => {
                value.push('\\');
                value.push(other);
            }
            None => value.push('\\'),
        }
    }
    value
}

/// Whether a string token (quotes included) has its closing quote.
pub(crate) fn is_terminated_string(raw: &str) -> bool {
    let Some(quote) = raw.chars().next() else {
        return false;
    };
    let body = &raw[quote.len_utf8()..];
    body.ends_with(quote) && !ends_with_escaped_quote(body)
}

/// Whether the last character of `body` is a quote escaped by an odd run of backslashes.
fn ends_with_escaped_quote(body: &str) -> bool {
    let without_quote = &body[..body.len() - 1];
    let backslashes = without_quote
        .bytes()
        .rev()
        .take_while(|&b| b == b'\\')
        .count();
    backslashes % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        let mut diagnostics = Vec::new();
        lex(source, &mut diagnostics)
            .tokens
            .iter()
            .map(|t| t.kind)
            .collect()
    }

    #[test]
    fn lexes_attributes_numbers_and_operators() {
        use TokenKind::*;
        assert_eq!(
            kinds("@db.VarChar(-1.5) @@map x?[a != b]"),
            vec![
                FieldAttribute,
                LeftParen,
                Number,
                RightParen,
                BlockAttribute,
                Ident,
                Question,
                LeftBracket,
                Ident,
                NotEqual,
                Ident,
                RightBracket,
                Eof
            ]
        );
    }

    #[test]
    fn resolves_string_escapes() {
        assert_eq!(string_value(r#""a\"b\\c\n\u{41}\u0042""#), "a\"b\\c\nAB");
        assert_eq!(string_value(r"'it\'s'"), "it's");
        assert_eq!(string_value(r"'^\d+$'"), r"^\d+$");
        assert_eq!(string_value("\"unterminated"), "unterminated");
        assert_eq!(string_value(r#""ends in \""#), "ends in \"");
    }

    #[test]
    fn doc_comments_only_on_their_own_line() {
        let mut diagnostics = Vec::new();
        let lexed = lex("/// doc\nid Int /// trailing\n", &mut diagnostics);
        assert_eq!(lexed.tokens[0].kind, TokenKind::DocLine);
        assert_eq!(lexed.comments.len(), 1);
        assert_eq!(lexed.comments[0].text, "/// trailing");
    }
}
