//! SQL files: split into statements by a small lexer, each statement parsed on its own.
//!
//! Splitting first means a statement sqlparser cannot read (a `DO $$ … $$` block, a templated
//! name in a migration) is kept as raw text with its position, and the statements around it are
//! still reviewed. The lexer knows what can hide a `;`: quotes, `E'…'` escapes, quoted
//! identifiers, dollar quotes and both comment forms.

use crate::config::Dialect;
use crate::FileId;
use plinth_diagnostics::Span;
use sqlparser::dialect::{PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;

/// What a SQL file is for, from its name and its neighbours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A schema as a whole (`schema.sql`, a dump): reviewed as a design.
    Schema,
    /// A forward migration: reviewed as a design (replayed in order) and as an operation on a
    /// live database.
    Up,
    /// A rollback: replayed by nothing and reviewed by no rule; destructive by nature.
    Down,
}

pub struct SqlFile {
    pub file: FileId,
    pub role: Role,
    pub dialect: Dialect,
    pub statements: Vec<Statement>,
}

pub struct Statement {
    /// The statement's text without leading comments and the closing `;`.
    pub span: Span,
    pub text: String,
    /// The comments just before it (directives such as `-- plinth:no-transaction` live here).
    pub comments: String,
    /// The parsed statement, when sqlparser reads it.
    pub ast: Option<sqlparser::ast::Statement>,
    /// Why sqlparser could not read it, when it could not.
    pub parse_error: Option<String>,
}

impl Statement {
    /// The first keywords, uppercased and single-spaced (`CREATE UNIQUE INDEX`), for rules
    /// that must also judge statements sqlparser could not read.
    pub fn head(&self, words: usize) -> String {
        self.text
            .split_whitespace()
            .take(words)
            .map(str::to_ascii_uppercase)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl SqlFile {
    pub fn parse(file: FileId, text: &str, role: Role, dialect: Dialect) -> SqlFile {
        let statements = split(text)
            .into_iter()
            .map(|(span, comments)| {
                let body = &text[span.range()];
                let parsed = match dialect {
                    Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, body),
                    Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, body),
                };
                let (ast, parse_error) = match parsed {
                    Ok(mut statements) if statements.len() == 1 => (statements.pop(), None),
                    Ok(_) => (None, Some("not exactly one statement".to_string())),
                    Err(e) => (None, Some(e.to_string())),
                };
                Statement {
                    span,
                    text: body.to_string(),
                    comments,
                    ast,
                    parse_error,
                }
            })
            .collect();
        SqlFile {
            file,
            role,
            dialect,
            statements,
        }
    }
}

/// Prefix of the identifiers that stand in for template placeholders (see
/// [`Statement::ast_with_placeholders`]).
pub const PLACEHOLDER_PREFIX: &str = "__tpl";

/// True for an identifier that [`Statement::ast_with_placeholders`] put in place of a template
/// placeholder: its real name is unknown (a schema chosen at deploy time, say).
pub fn is_placeholder(identifier: &str) -> bool {
    identifier.starts_with(&PLACEHOLDER_PREFIX[..4])
}

impl Statement {
    /// The parsed statement; when sqlparser could not read it because it holds template
    /// placeholders (`{{ index .Options "Namespace" }}.users` in Go-templated migrations), the
    /// statement parsed with each placeholder replaced by an identifier of the same byte length
    /// (see [`is_placeholder`]), so byte offsets still hold. Returns the text that was parsed,
    /// for mapping sqlparser's line/column positions back to offsets.
    pub fn ast_with_placeholders(
        &self,
        dialect: Dialect,
    ) -> Option<(
        std::borrow::Cow<'_, sqlparser::ast::Statement>,
        std::borrow::Cow<'_, str>,
    )> {
        use std::borrow::Cow;
        if let Some(ast) = &self.ast {
            return Some((Cow::Borrowed(ast), Cow::Borrowed(self.text.as_str())));
        }
        if !self.text.contains("{{") {
            return None;
        }
        let mut text = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        while let Some(open) = rest.find("{{") {
            let close = rest[open..].find("}}")? + open + 2;
            text.push_str(&rest[..open]);
            let width = close - open;
            text.extend(
                PLACEHOLDER_PREFIX
                    .chars()
                    .chain(std::iter::repeat('_'))
                    .take(width),
            );
            rest = &rest[close..];
        }
        text.push_str(rest);
        let parsed = match dialect {
            Dialect::Postgres => Parser::parse_sql(&PostgreSqlDialect {}, &text),
            Dialect::Sqlite => Parser::parse_sql(&SQLiteDialect {}, &text),
        };
        match parsed {
            Ok(mut statements) if statements.len() == 1 => {
                Some((Cow::Owned(statements.pop()?), Cow::Owned(text)))
            }
            _ => None,
        }
    }
}

/// Tells a migration from a schema by its name and by the other SQL files given with it:
/// `*.up.sql`, `up.sql` and Prisma's `migration.sql` are migrations, `*.down.sql` and `down.sql`
/// rollbacks; any other file is a migration when it sits in a folder of several numbered SQL
/// files or a folder named like `migrations`.
pub fn role_of(name: &str, all: &[&str]) -> Role {
    let lower = name.to_ascii_lowercase();
    let file_name = lower.rsplit('/').next().unwrap_or(&lower);
    if file_name.ends_with(".down.sql") || file_name == "down.sql" {
        return Role::Down;
    }
    if file_name.ends_with(".up.sql") || file_name == "up.sql" || file_name == "migration.sql" {
        return Role::Up;
    }
    let parent = lower.rsplit_once('/').map_or("", |(dir, _)| dir);
    if parent.split('/').any(|part| part.contains("migration")) {
        return Role::Up;
    }
    let numbered = |n: &str| {
        n.rsplit('/')
            .next()
            .is_some_and(|f| f.starts_with(|c: char| c.is_ascii_digit()))
    };
    let siblings = all
        .iter()
        .filter(|other| {
            let other = other.to_ascii_lowercase();
            other.rsplit_once('/').map_or("", |(dir, _)| dir) == parent && numbered(&other)
        })
        .count();
    if numbered(&lower) && siblings >= 2 {
        Role::Up
    } else {
        Role::Schema
    }
}

/// SQLite when the path says so or the text uses SQLite-only syntax; otherwise `default`.
pub fn dialect_of(name: &str, text: &str, default: Dialect) -> Dialect {
    let lower = name.to_ascii_lowercase();
    if lower.contains("sqlite") {
        return Dialect::Sqlite;
    }
    if lower.contains("postgres") || lower.contains("pgsql") {
        return Dialect::Postgres;
    }
    let upper = text.to_ascii_uppercase();
    if upper.contains("AUTOINCREMENT")
        || upper.contains("PRAGMA ")
        || upper.contains("WITHOUT ROWID")
    {
        return Dialect::Sqlite;
    }
    default
}

/// Splits SQL text into statements: `(span of the statement, its leading comments)`.
/// Empty statements (a lone `;`) are dropped.
pub fn split(text: &str) -> Vec<(Span, String)> {
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    let mut comments = String::new();
    // BEGIN ATOMIC … END bodies (SQL-standard function bodies) contain `;`.
    let mut atomic_depth = 0usize;
    let push = |statements: &mut Vec<(Span, String)>,
                start: Option<usize>,
                end: usize,
                comments: &mut String| {
        if let Some(start) = start {
            let end = start + text[start..end].trim_end().len();
            if end > start {
                statements.push((
                    Span::new(start as u32, end as u32),
                    std::mem::take(comments),
                ));
            }
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                if start.is_none() {
                    comments.push_str(&text[i..end]);
                    comments.push('\n');
                }
                i = end;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut j = i;
                while j < bytes.len() {
                    if bytes[j] == b'/' && bytes.get(j + 1) == Some(&b'*') {
                        depth += 1;
                        j += 2;
                    } else if bytes[j] == b'*' && bytes.get(j + 1) == Some(&b'/') {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                let end = j.min(bytes.len());
                if start.is_none() {
                    comments.push_str(&text[i..end]);
                    comments.push('\n');
                }
                i = end;
                continue;
            }
            _ if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            _ => {}
        }
        if start.is_none() {
            start = Some(i);
        }
        match b {
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e') && {
                    // `E'…'` only when the E is a word of its own.
                    i < 2 || !(bytes[i - 2].is_ascii_alphanumeric() || bytes[i - 2] == b'_')
                };
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' | b'`' => i = skip_quoted(bytes, i, b, false),
            b'$' => match dollar_tag(text, i) {
                Some(tag) => {
                    let body_start = i + tag.len();
                    i = text[body_start..]
                        .find(tag)
                        .map_or(bytes.len(), |n| body_start + n + tag.len());
                }
                None => i += 1,
            },
            b';' if atomic_depth == 0 => {
                push(&mut statements, start, i, &mut comments);
                start = None;
                i += 1;
            }
            _ if b.is_ascii_alphabetic() => {
                let word_end = text[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(bytes.len(), |n| i + n);
                let word = &text[i..word_end];
                if word.eq_ignore_ascii_case("ATOMIC")
                    && text[..i].trim_end().to_ascii_uppercase().ends_with("BEGIN")
                {
                    atomic_depth += 1;
                } else if word.eq_ignore_ascii_case("END") && atomic_depth > 0 {
                    atomic_depth -= 1;
                }
                i = word_end;
            }
            _ => i += 1,
        }
    }
    push(&mut statements, start, bytes.len(), &mut comments);
    statements
}

/// Index just past the closing quote (a doubled quote is an escaped one).
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// `$$` or `$tag$` starting at `i`, if that is what is there (and not a `$1` parameter).
fn dollar_tag(text: &str, i: usize) -> Option<&str> {
    let rest = &text[i + 1..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    if !rest[end..].starts_with('$') || rest.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(&text[i..i + end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql)
            .into_iter()
            .map(|(span, _)| sql[span.range()].to_string())
            .collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_bodies() {
        let sql = "-- head; comment\nCREATE TABLE a (x text DEFAULT ';');\n/* c; /* nested; */ */ \
                   INSERT INTO a VALUES (E'it\\'s;');\nDO $body$ BEGIN PERFORM 1; END $body$;\n\
                   CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
                   SELECT \"we;ird\" FROM a WHERE x = $1;;\n";
        assert_eq!(
            texts(sql),
            vec![
                "CREATE TABLE a (x text DEFAULT ';')",
                "INSERT INTO a VALUES (E'it\\'s;')",
                "DO $body$ BEGIN PERFORM 1; END $body$",
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                "SELECT \"we;ird\" FROM a WHERE x = $1",
            ]
        );
        assert_eq!(split(sql)[0].1, "-- head; comment\n");
    }

    #[test]
    fn statements_parse_alone_and_unreadable_ones_keep_their_text() {
        let sql = "CREATE TABLE a (id int PRIMARY KEY);\nDO $$ BEGIN END $$;\nDROP TABLE a;";
        let file = SqlFile::parse(0, sql, Role::Up, Dialect::Postgres);
        assert_eq!(file.statements.len(), 3);
        assert!(file.statements[0].ast.is_some());
        assert!(file.statements[1].ast.is_none() && file.statements[1].parse_error.is_some());
        assert_eq!(file.statements[1].head(1), "DO");
        assert!(file.statements[2].ast.is_some());
    }

    #[test]
    fn roles_come_from_names_and_neighbours() {
        let all = ["m/0001_a.sql", "m/0002_b.sql", "db/schema.sql"];
        assert_eq!(role_of("m/0001_a.sql", &all), Role::Up);
        assert_eq!(role_of("db/schema.sql", &all), Role::Schema);
        assert_eq!(role_of("x/2019_drop/down.sql", &all), Role::Down);
        assert_eq!(role_of("x/1_init/migration.sql", &all), Role::Up);
        assert_eq!(role_of("prisma/migrations/1/foo.sql", &all), Role::Up);
        assert_eq!(role_of("a.up.sql", &all), Role::Up);
    }
}
