//! The objects of a `plinth_sql::create_schema` script, read back from its text: enum types,
//! tables (column and constraint lines), indexes and foreign keys, each with its exact SQL.
//!
//! The planner works on these rather than re-deriving names, so every name and type a migration
//! writes is the one the DDL generator would write for a fresh database.

/// A quoted identifier or any other run of text, for renaming identifiers without touching
/// string literals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    Ident(String),
    Text(String),
}

/// Splits SQL into quoted identifiers and other text; string literals stay inside `Text`.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut text = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(character) = chars.next() {
        match character {
            '\'' => {
                text.push(character);
                while let Some(inner) = chars.next() {
                    text.push(inner);
                    if inner == '\'' {
                        if chars.peek() == Some(&'\'') {
                            text.push('\'');
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '"' => {
                if !text.is_empty() {
                    tokens.push(Token::Text(std::mem::take(&mut text)));
                }
                let mut ident = String::new();
                while let Some(inner) = chars.next() {
                    if inner == '"' {
                        if chars.peek() == Some(&'"') {
                            ident.push('"');
                            chars.next();
                        } else {
                            break;
                        }
                    } else {
                        ident.push(inner);
                    }
                }
                tokens.push(Token::Ident(ident));
            }
            other => text.push(other),
        }
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    tokens
}

/// Writes tokens back as SQL.
pub(crate) fn untokenize(tokens: &[Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Ident(name) => {
                out.push('"');
                out.push_str(&name.replace('"', "\"\""));
                out.push('"');
            }
            Token::Text(text) => out.push_str(text),
        }
    }
    out
}

/// `line` without a trailing `-- comment` (outside quotes) and trailing comma; and the comment.
fn split_comment(line: &str) -> (String, Option<String>) {
    let mut in_string = false;
    let mut in_ident = false;
    let bytes = line.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\'' if !in_ident => in_string = !in_string,
            b'"' if !in_string => in_ident = !in_ident,
            b'-' if !in_string && !in_ident && bytes.get(index + 1) == Some(&b'-') => {
                let code = line[..index].trim_end().trim_end_matches(',').to_string();
                return (code, Some(line[index + 2..].trim().to_string()));
            }
            _ => {}
        }
        index += 1;
    }
    (line.trim_end().trim_end_matches(',').to_string(), None)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnumType {
    pub name: String,
    pub values: Vec<String>,
    pub sql: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    /// The type as written (`TEXT`, `SERIAL`, `"Role"[]`).
    pub ty: String,
    pub not_null: bool,
    pub default: Option<String>,
    /// The whole line without comment and comma.
    pub line: String,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Constraint {
    pub name: String,
    /// Everything after `CONSTRAINT "name" `.
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IndexDef {
    pub name: String,
    pub unique: bool,
    /// The statement without its trailing semicolon.
    pub sql: String,
}

impl IndexDef {
    /// The statement with the index name left out: equal for the same index under two names.
    pub fn definition(&self) -> String {
        let mut tokens = tokenize(&self.sql);
        if let Some(position) = tokens.iter().position(|t| matches!(t, Token::Ident(_))) {
            tokens[position] = Token::Ident(String::new());
        }
        untokenize(&tokens)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Table {
    /// The bare table name.
    pub name: String,
    /// `"schema".` on PostgreSQL with `@@schema`, else empty.
    pub schema_prefix: String,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<IndexDef>,
    /// PostgreSQL: added by `ALTER TABLE` after the tables; SQLite keeps them in `constraints`.
    pub foreign_keys: Vec<Constraint>,
    /// Comment lines written above `CREATE TABLE`.
    pub notes: Vec<String>,
}

impl Table {
    pub fn qualified(&self) -> String {
        format!("{}{}", self.schema_prefix, quote(&self.name))
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// `CREATE TABLE` under `name` (a bare name, in the table's schema).
    pub fn create_sql(&self, name: &str) -> String {
        let mut out = String::new();
        for note in &self.notes {
            out.push_str(&format!("-- {note}\n"));
        }
        out.push_str(&format!(
            "CREATE TABLE {}{} (\n",
            self.schema_prefix,
            quote(name)
        ));
        let total = self.columns.len() + self.constraints.len();
        let lines = self
            .columns
            .iter()
            .map(|c| (&c.line, &c.comment))
            .chain(self.constraints.iter().map(|c| (&c.body, &None)));
        for (position, (line, comment)) in lines.enumerate() {
            out.push_str("    ");
            if position >= self.columns.len() {
                let constraint = &self.constraints[position - self.columns.len()];
                out.push_str(&format!("CONSTRAINT {} {}", quote(&constraint.name), line));
            } else {
                out.push_str(line);
            }
            if position + 1 < total {
                out.push(',');
            }
            if let Some(comment) = comment {
                out.push_str(&format!(" -- {comment}"));
            }
            out.push('\n');
        }
        out.push_str(");");
        out
    }

    /// The table's definition without its name and comments, to tell whether a rebuild is needed.
    pub fn body_signature(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| c.line.clone())
            .chain(
                self.constraints
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.body)),
            )
            .collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Objects {
    /// `CREATE SCHEMA` / `CREATE EXTENSION` statements.
    pub prelude: Vec<String>,
    pub enums: Vec<EnumType>,
    pub tables: Vec<Table>,
}

impl Objects {
    pub fn table(&self, qualified: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.qualified() == qualified)
    }
}

pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the table name (`"t"` or `"s"."t"`) at the start of `tokens`: (schema prefix, name,
/// tokens consumed).
fn table_name(tokens: &[Token]) -> Option<(String, String, usize)> {
    match tokens {
        [Token::Ident(schema), Token::Text(dot), Token::Ident(name), ..] if dot == "." => {
            Some((format!("{}.", quote(schema)), name.clone(), 3))
        }
        [Token::Ident(name), ..] => Some((String::new(), name.clone(), 1)),
        _ => None,
    }
}

/// Reads a `create_schema` script back into its objects. Unknown statements are ignored.
pub(crate) fn parse(script: &str) -> Objects {
    let mut objects = Objects::default();
    let mut statement = String::new();
    let mut pending_notes: Vec<String> = Vec::new();
    for line in script.lines() {
        if statement.is_empty() {
            if let Some(comment) = line.strip_prefix("--") {
                let comment = comment.trim();
                let structural = [
                    "CreateTable",
                    "CreateIndex",
                    "AddForeignKey",
                    "CreateEnum",
                    "CreateSchema",
                    "CreateExtension",
                ];
                if !structural.contains(&comment) {
                    pending_notes.push(comment.to_string());
                }
                continue;
            }
            if line.trim().is_empty() {
                pending_notes.clear();
                continue;
            }
        }
        statement.push_str(line);
        statement.push('\n');
        if line.trim_end().ends_with(';') && !line.starts_with("    ") {
            let notes = std::mem::take(&mut pending_notes);
            read_statement(&mut objects, statement.trim_end(), notes);
            statement.clear();
        }
    }
    objects
}

fn read_statement(objects: &mut Objects, statement: &str, notes: Vec<String>) {
    let sql = statement.trim_end_matches(';');
    if sql.starts_with("CREATE SCHEMA") || sql.starts_with("CREATE EXTENSION") {
        objects.prelude.push(sql.to_string());
    } else if let Some(rest) = sql.strip_prefix("CREATE TYPE ") {
        let tokens = tokenize(rest);
        if let Some(Token::Ident(name)) = tokens.first() {
            let values = rest
                .split_once("ENUM (")
                .map(|(_, list)| read_string_list(list))
                .unwrap_or_default();
            objects.enums.push(EnumType {
                name: name.clone(),
                values,
                sql: sql.to_string(),
            });
        }
    } else if let Some(rest) = sql.strip_prefix("CREATE TABLE ") {
        read_table(objects, rest, notes);
    } else if sql.starts_with("CREATE INDEX ") || sql.starts_with("CREATE UNIQUE INDEX ") {
        let tokens = tokenize(sql);
        let Some(Token::Ident(name)) = tokens.get(1) else {
            return;
        };
        let Some((prefix, table, _)) = tokens.get(3..).and_then(table_name) else {
            return;
        };
        let index = IndexDef {
            name: name.clone(),
            unique: sql.starts_with("CREATE UNIQUE"),
            sql: sql.to_string(),
        };
        if let Some(table) = objects
            .tables
            .iter_mut()
            .find(|t| t.name == table && t.schema_prefix == prefix)
        {
            table.indexes.push(index);
        }
    } else if let Some(rest) = sql.strip_prefix("ALTER TABLE ") {
        let tokens = tokenize(rest);
        let Some((prefix, table, used)) = table_name(&tokens) else {
            return;
        };
        let Some(Token::Ident(name)) = tokens.get(used + 1) else {
            return;
        };
        let body = untokenize(&tokens[used + 2..]).trim().to_string();
        if let Some(table) = objects
            .tables
            .iter_mut()
            .find(|t| t.name == table && t.schema_prefix == prefix)
        {
            table.foreign_keys.push(Constraint {
                name: name.clone(),
                body,
            });
        }
    }
}

fn read_string_list(list: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut chars = list.chars().peekable();
    while let Some(character) = chars.next() {
        if character != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(inner) = chars.next() {
            if inner == '\'' {
                if chars.peek() == Some(&'\'') {
                    value.push('\'');
                    chars.next();
                } else {
                    break;
                }
            } else {
                value.push(inner);
            }
        }
        values.push(value);
    }
    values
}

fn read_table(objects: &mut Objects, rest: &str, notes: Vec<String>) {
    let mut lines = rest.lines();
    let Some(header) = lines.next() else {
        return;
    };
    let tokens = tokenize(header);
    let Some((schema_prefix, name, _)) = table_name(&tokens) else {
        return;
    };
    let mut table = Table {
        name,
        schema_prefix,
        columns: Vec::new(),
        constraints: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        notes,
    };
    for line in lines {
        let Some(content) = line.strip_prefix("    ") else {
            continue;
        };
        let (code, comment) = split_comment(content);
        if let Some(constraint) = code.strip_prefix("CONSTRAINT ") {
            let tokens = tokenize(constraint);
            if let Some(Token::Ident(name)) = tokens.first() {
                table.constraints.push(Constraint {
                    name: name.clone(),
                    body: untokenize(&tokens[1..]).trim().to_string(),
                });
            }
        } else if let Some(column) = read_column(&code, comment) {
            table.columns.push(column);
        }
    }
    objects.tables.push(table);
}

fn read_column(code: &str, comment: Option<String>) -> Option<Column> {
    let tokens = tokenize(code);
    let Some(Token::Ident(name)) = tokens.first() else {
        return None;
    };
    let rest = untokenize(&tokens[1..]);
    let rest = rest.trim();
    let (before_default, default) = match find_outside_quotes(rest, " DEFAULT ") {
        Some(at) => (
            &rest[..at],
            Some(rest[at + " DEFAULT ".len()..].to_string()),
        ),
        None => (rest, None),
    };
    let ty_end = [" NOT NULL", " PRIMARY KEY"]
        .iter()
        .filter_map(|marker| find_outside_quotes(before_default, marker))
        .min()
        .unwrap_or(before_default.len());
    Some(Column {
        name: name.clone(),
        ty: before_default[..ty_end].trim().to_string(),
        not_null: find_outside_quotes(before_default, " NOT NULL").is_some(),
        default,
        line: code.to_string(),
        comment,
    })
}

fn find_outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let mut in_string = false;
    let mut in_ident = false;
    for (index, character) in text.char_indices() {
        match character {
            '\'' if !in_ident => in_string = !in_string,
            '"' if !in_string => in_ident = !in_ident,
            _ if !in_string && !in_ident && text[index..].starts_with(needle) => {
                return Some(index)
            }
            _ => {}
        }
    }
    None
}
