//! The recursive-descent parser: tokens → [`SchemaFile`], recovering from every error.
//!
//! Recovery works by lines, the way people write schemas: a bad field line is skipped up to the
//! next line or `}`, a bad top-level token up to the next top-level keyword at the start of a line.
//! Inside one line, the first error sets `bail`, which makes every enclosing rule return at once,
//! so one typo yields one diagnostic instead of a cascade.

use crate::ast::*;
use crate::diagnostics;
use crate::lexer::{self, Token, TokenKind};
use plinth_diagnostics::{Diagnostic, Span};

/// Deeper expressions than this are reported instead of parsed, so the stack never overflows.
const MAX_NESTING_DEPTH: u32 = 256;

/// Words that start a top-level declaration.
pub(crate) const TOP_LEVEL_KEYWORDS: [&str; 9] = [
    "datasource",
    "generator",
    "plugin",
    "model",
    "abstract",
    "type",
    "view",
    "enum",
    "import",
];

pub(crate) fn parse(source: &str) -> (SchemaFile, Vec<Diagnostic>) {
    // Spans are u32 byte offsets; a larger file is cut (and said so) rather than mis-spanned.
    parse_with_limit(source, u32::MAX as usize - 1)
}

/// [`parse`] with the size limit as a parameter, so the limit itself can be tested.
pub(crate) fn parse_with_limit(source: &str, limit: usize) -> (SchemaFile, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let source = if source.len() > limit {
        let mut cut = limit;
        while !source.is_char_boundary(cut) {
            cut -= 1;
        }
        diagnostics.push(diagnostics::file_too_large(Span::new(
            cut as u32, cut as u32,
        )));
        &source[..cut]
    } else {
        source
    };
    let lexed = lexer::lex(source, &mut diagnostics);
    let mut parser = Parser {
        source,
        attached_docs: vec![false; lexed.tokens.len()],
        tokens: lexed.tokens,
        position: 0,
        diagnostics,
        nesting: 0,
        open_delimiters: 0,
        depth: 0,
        bail: false,
        previous_end: 0,
        after_last: 0,
    };
    let items = parser.parse_file();
    let mut comments = lexed.comments;
    // Doc comments that documented nothing are still comments: the formatter must keep them.
    for (index, token) in parser.tokens.iter().enumerate() {
        if matches!(token.kind, TokenKind::DocLine | TokenKind::DocBlock)
            && !parser.attached_docs[index]
        {
            comments.push(Comment {
                text: source[token.span.range()].to_string(),
                span: token.span,
            });
        }
    }
    comments.sort_by_key(|comment| comment.span.start);
    let mut diagnostics = parser.diagnostics;
    plinth_diagnostics::sort(&mut diagnostics);
    (SchemaFile { items, comments }, diagnostics)
}

struct Parser<'source> {
    source: &'source str,
    tokens: Vec<Token>,
    /// Index of the current token; never past the final `Eof`.
    position: usize,
    diagnostics: Vec<Diagnostic>,
    /// Inside `(`/`[` newlines do not end the line.
    nesting: u32,
    /// `(` and `[` opened and not yet closed on the current line, for recovery.
    open_delimiters: u32,
    /// Expression recursion depth.
    depth: u32,
    /// Set by the first error in a line: every rule returns at once until recovery.
    bail: bool,
    /// End of the last consumed token, for spans.
    previous_end: u32,
    /// Index just after the last consumed token: where to rewind to when a line turns out to
    /// have ended (peeking may have skipped newlines past it).
    after_last: usize,
    /// Which doc tokens were attached to something.
    attached_docs: Vec<bool>,
}

impl<'source> Parser<'source> {
    // ----- token access -------------------------------------------------------------------

    fn text(&self, span: Span) -> &'source str {
        &self.source[span.range()]
    }

    /// The current token; inside delimiters newlines and doc comments are skipped over.
    fn peek(&mut self) -> Token {
        if self.nesting > 0 {
            while matches!(
                self.tokens[self.position].kind,
                TokenKind::Newline | TokenKind::DocLine | TokenKind::DocBlock
            ) {
                self.position += 1;
            }
        }
        self.tokens[self.position]
    }

    fn peek_kind(&mut self) -> TokenKind {
        self.peek().kind
    }

    /// The token after the current one, with the same skipping rules.
    fn peek_second(&mut self) -> Token {
        self.peek();
        let mut index = (self.position + 1).min(self.tokens.len() - 1);
        if self.nesting > 0 {
            while matches!(
                self.tokens[index].kind,
                TokenKind::Newline | TokenKind::DocLine | TokenKind::DocBlock
            ) {
                index += 1;
            }
        }
        self.tokens[index]
    }

    fn raw(&self, index: usize) -> Token {
        self.tokens[index.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek();
        if token.kind != TokenKind::Eof {
            self.position += 1;
            self.previous_end = token.span.end;
            self.after_last = self.position;
        }
        token
    }

    fn at_word(&mut self, word: &str) -> bool {
        let token = self.peek();
        token.kind == TokenKind::Ident && self.text(token.span) == word
    }

    fn ident(&self, token: Token) -> Ident {
        Ident {
            name: self.text(token.span).to_string(),
            span: token.span,
        }
    }

    /// How a token is named in messages.
    fn describe(&self, token: Token) -> String {
        match token.kind {
            TokenKind::Newline => "end of line".to_string(),
            TokenKind::Eof => "end of file".to_string(),
            TokenKind::DocLine | TokenKind::DocBlock => "doc comment".to_string(),
            _ => {
                let text = self.text(token.span);
                let short: String = text.chars().take(30).collect();
                if short.len() < text.len() {
                    format!("`{short}…`")
                } else {
                    format!("`{short}`")
                }
            }
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
        self.bail = true;
    }

    fn skip_newlines(&mut self) {
        while self.tokens[self.position].kind == TokenKind::Newline {
            self.position += 1;
        }
    }

    /// Whether a newline lies between the end of the last consumed token and `token`.
    fn newline_before(&self, token: Token) -> bool {
        let from = self.previous_end.min(token.span.start) as usize;
        self.source[from..token.span.start as usize].contains('\n')
    }

    /// Skips the rest of a bad line: up to a newline outside delimiters, or a `}`.
    fn recover_line(&mut self) {
        let mut balance = i64::from(self.open_delimiters);
        self.nesting = 0;
        self.open_delimiters = 0;
        self.depth = 0;
        self.bail = false;
        loop {
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::Eof | TokenKind::RightBrace => return,
                TokenKind::Newline if balance <= 0 || self.next_line_starts_member() => return,
                TokenKind::LeftParen | TokenKind::LeftBracket => balance += 1,
                TokenKind::RightParen | TokenKind::RightBracket => balance -= 1,
                _ => {}
            }
            self.position += 1;
        }
    }

    /// At a newline inside unbalanced delimiters: whether the next line is clearly a new member
    /// (a block attribute, or `name Type`), so recovery must stop here after all.
    fn next_line_starts_member(&self) -> bool {
        let mut index = self.position;
        while matches!(
            self.raw(index).kind,
            TokenKind::Newline | TokenKind::DocLine | TokenKind::DocBlock
        ) {
            index += 1;
        }
        let first = self.raw(index);
        let second = self.raw(index + 1);
        match first.kind {
            TokenKind::BlockAttribute | TokenKind::RightBrace => true,
            TokenKind::Ident => {
                second.kind == TokenKind::Ident && self.text(second.span) != "in"
                    || second.kind == TokenKind::FieldAttribute
            }
            _ => false,
        }
    }

    /// Whether the current token starts a line (only newlines before it since the last token).
    fn at_line_start(&self) -> bool {
        self.position == 0
            || matches!(
                self.tokens[self.position - 1].kind,
                TokenKind::Newline | TokenKind::DocLine | TokenKind::DocBlock
            )
    }

    fn is_top_level_keyword(&self, token: Token) -> bool {
        token.kind == TokenKind::Ident && TOP_LEVEL_KEYWORDS.contains(&self.text(token.span))
    }

    /// Skips a bad top-level token up to the next top-level keyword at the start of a line,
    /// stepping over any `{ ... }` block on the way.
    fn recover_top_level(&mut self) {
        self.nesting = 0;
        self.open_delimiters = 0;
        self.depth = 0;
        self.bail = false;
        let mut brace_depth = 0u32;
        // Always move at least one token so recovery makes progress.
        let mut first = true;
        loop {
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::Eof => return,
                TokenKind::LeftBrace => brace_depth += 1,
                TokenKind::RightBrace => brace_depth = brace_depth.saturating_sub(1),
                TokenKind::Ident
                    if !first
                        && brace_depth == 0
                        && self.at_line_start()
                        && self.is_top_level_keyword(token) =>
                {
                    return
                }
                _ => {}
            }
            first = false;
            self.position += 1;
        }
    }

    /// Whether a body line starting here is really the next declaration (the block was not
    /// closed): `model X {`, `enum Y {`, `type Z with A {`, `abstract model`, `import "x"`.
    fn looks_like_declaration(&self) -> bool {
        let first = self.raw(self.position);
        if !self.is_top_level_keyword(first) {
            return false;
        }
        let second = self.raw(self.position + 1);
        let third = self.raw(self.position + 2);
        match self.text(first.span) {
            "abstract" => second.kind == TokenKind::Ident && self.text(second.span) == "model",
            "import" => second.kind == TokenKind::String,
            _ => {
                second.kind == TokenKind::Ident
                    && (third.kind == TokenKind::LeftBrace
                        || (third.kind == TokenKind::Ident
                            && matches!(self.text(third.span), "extends" | "with")))
            }
        }
    }

    /// Collects the doc comments at the current position (skipping blank lines). `/** */` blocks
    /// only document top-level declarations.
    fn take_docs(&mut self, top_level: bool) -> Vec<DocComment> {
        // A new line starts: whatever state the previous line left behind is over.
        self.bail = false;
        self.nesting = 0;
        self.open_delimiters = 0;
        self.depth = 0;
        let mut docs = Vec::new();
        loop {
            self.skip_newlines();
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::DocLine => {
                    self.attached_docs[self.position] = true;
                    let text = self.text(token.span);
                    let text = text.strip_prefix("///").unwrap_or(text);
                    let text = text.strip_prefix(' ').unwrap_or(text).trim_end();
                    docs.push(DocComment {
                        text: text.to_string(),
                        span: token.span,
                    });
                    self.position += 1;
                }
                TokenKind::DocBlock => {
                    // Attach only when a declaration follows directly; otherwise it stays an
                    // ordinary comment.
                    let mut next = self.position + 1;
                    while self.raw(next).kind == TokenKind::Newline {
                        next += 1;
                    }
                    if !top_level || !self.is_top_level_keyword(self.raw(next)) {
                        self.position += 1;
                        continue;
                    }
                    self.attached_docs[self.position] = true;
                    for line in doc_block_lines(self.text(token.span)) {
                        docs.push(DocComment {
                            text: line,
                            span: token.span,
                        });
                    }
                    self.position += 1;
                }
                _ => return docs,
            }
        }
    }

    /// Forgets docs that documented nothing after all (they become ordinary comments).
    fn release_docs(&mut self, docs: &[DocComment]) {
        for doc in docs {
            for (index, token) in self.tokens.iter().enumerate() {
                if token.span == doc.span {
                    self.attached_docs[index] = false;
                }
            }
        }
    }

    // ----- top level ----------------------------------------------------------------------

    fn parse_file(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            let docs = self.take_docs(true);
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::Eof => {
                    self.release_docs(&docs);
                    return items;
                }
                TokenKind::Ident if self.is_top_level_keyword(token) => {
                    match self.parse_item(docs.clone()) {
                        Some(item) => items.push(item),
                        None => self.release_docs(&docs),
                    }
                }
                TokenKind::RightBrace => {
                    self.release_docs(&docs);
                    self.diagnostics
                        .push(diagnostics::unmatched_closing_brace(token.span));
                    self.position += 1;
                }
                _ => {
                    self.release_docs(&docs);
                    let word = (token.kind == TokenKind::Ident).then(|| self.text(token.span));
                    let suggestion = word.and_then(suggest_keyword);
                    let found = self.describe(token);
                    self.diagnostics.push(diagnostics::expected_declaration(
                        token.span, &found, suggestion,
                    ));
                    self.recover_top_level();
                }
            }
        }
    }

    fn parse_item(&mut self, docs: Vec<DocComment>) -> Option<Item> {
        let keyword = self.bump();
        let word = self.text(keyword.span).to_string();
        match word.as_str() {
            "import" => {
                let token = self.peek();
                if token.kind == TokenKind::String {
                    self.bump();
                    self.expect_line_end();
                    Some(Item::Import(Import {
                        path: lexer::string_value(self.text(token.span)),
                        span: keyword.span.to(token.span),
                    }))
                } else {
                    let found = self.describe(token);
                    self.diagnostics
                        .push(diagnostics::expected_import_path(token.span, &found));
                    self.recover_top_level();
                    None
                }
            }
            "datasource" | "generator" | "plugin" => {
                let block = self.parse_config_block(keyword, &word, docs)?;
                Some(match word.as_str() {
                    "datasource" => Item::Datasource(block),
                    "generator" => Item::Generator(block),
                    _ => Item::Plugin(block),
                })
            }
            "enum" => self.parse_enum(keyword, docs).map(Item::Enum),
            "abstract" => {
                let next = self.peek();
                if next.kind == TokenKind::Ident && self.text(next.span) == "model" {
                    let model_keyword = self.bump();
                    self.parse_model(keyword, model_keyword, ModelKeyword::Model, true, docs)
                        .map(Item::Model)
                } else {
                    let found = self.describe(next);
                    self.diagnostics
                        .push(diagnostics::abstract_without_model(next.span, &found));
                    self.recover_top_level();
                    None
                }
            }
            "type" => self
                .parse_model(keyword, keyword, ModelKeyword::Type, false, docs)
                .map(Item::Model),
            "view" => self
                .parse_model(keyword, keyword, ModelKeyword::View, false, docs)
                .map(Item::Model),
            _ => self
                .parse_model(keyword, keyword, ModelKeyword::Model, false, docs)
                .map(Item::Model),
        }
    }

    /// After a complete line: anything but a newline, `}` or the end is an error.
    fn expect_line_end(&mut self) {
        let token = self.peek();
        if !matches!(
            token.kind,
            TokenKind::Newline | TokenKind::Eof | TokenKind::RightBrace
        ) {
            let found = self.describe(token);
            self.diagnostics
                .push(diagnostics::unexpected_after_line(token.span, &found));
            self.recover_line();
        }
    }

    /// The name after a declaration keyword; `None` (reported) when it is missing.
    fn declaration_name(&mut self, keyword: &str) -> Option<Ident> {
        let token = self.peek();
        if token.kind == TokenKind::Ident {
            self.bump();
            Some(self.ident(token))
        } else {
            let found = self.describe(token);
            self.diagnostics
                .push(diagnostics::expected_declaration_name(
                    token.span, keyword, &found,
                ));
            None
        }
    }

    /// After a missing declaration name: read the body anyway when it follows (to report its
    /// problems), otherwise skip the declaration without a second error.
    fn skip_nameless_declaration(&mut self) -> bool {
        if self.peek_kind() == TokenKind::LeftBrace {
            false
        } else {
            self.recover_top_level();
            true
        }
    }

    /// Expects the `{` opening a block. On failure, reports and skips the declaration.
    fn open_block(&mut self, what: &str) -> Option<Token> {
        let token = self.peek();
        if token.kind == TokenKind::LeftBrace {
            self.bump();
            Some(token)
        } else {
            let found = self.describe(token);
            self.diagnostics
                .push(diagnostics::expected_block_open(token.span, what, &found));
            self.recover_top_level();
            None
        }
    }

    /// At the end of a block body: `Some(end)` when the block is finished (closed, or reported
    /// as unclosed), `None` to keep reading lines.
    fn block_end(&mut self, open: Token, keyword: &str, name: &str) -> Option<u32> {
        let token = self.tokens[self.position];
        match token.kind {
            TokenKind::RightBrace => {
                self.position += 1;
                self.previous_end = token.span.end;
                self.after_last = self.position;
                Some(token.span.end)
            }
            TokenKind::Eof => {
                self.diagnostics
                    .push(diagnostics::unclosed_block(open.span, keyword, name));
                Some(self.previous_end)
            }
            TokenKind::Ident if self.at_line_start() && self.looks_like_declaration() => {
                self.diagnostics
                    .push(diagnostics::unclosed_block(open.span, keyword, name));
                Some(self.previous_end)
            }
            _ => None,
        }
    }

    fn parse_config_block(
        &mut self,
        keyword: Token,
        word: &str,
        docs: Vec<DocComment>,
    ) -> Option<ConfigBlock> {
        let name = self.declaration_name(word);
        if name.is_none() && self.skip_nameless_declaration() {
            return None;
        }
        let open = self.open_block(word)?;
        let block_name = name.as_ref().map_or("", |n| n.name.as_str()).to_string();
        let mut entries = Vec::new();
        let end = loop {
            let entry_docs = self.take_docs(false);
            if let Some(end) = self.block_end(open, word, &block_name) {
                self.release_docs(&entry_docs);
                break end;
            }
            let token = self.tokens[self.position];
            if token.kind != TokenKind::Ident {
                self.release_docs(&entry_docs);
                let found = self.describe(token);
                self.diagnostics
                    .push(diagnostics::expected_config_key(token.span, &found));
                self.position += 1;
                self.recover_line();
                continue;
            }
            let key_token = self.bump();
            let key = self.ident(key_token);
            let assign = self.peek();
            if assign.kind != TokenKind::Assign {
                self.release_docs(&entry_docs);
                let found = self.describe(assign);
                self.diagnostics
                    .push(diagnostics::expected_assign(assign.span, &key.name, &found));
                self.recover_line();
                continue;
            }
            self.bump();
            let value_token = self.peek();
            if matches!(
                value_token.kind,
                TokenKind::Newline | TokenKind::Eof | TokenKind::RightBrace
            ) {
                self.release_docs(&entry_docs);
                self.diagnostics
                    .push(diagnostics::expected_config_value(assign.span, &key.name));
                self.recover_line();
                continue;
            }
            let value = self.parse_expr();
            if self.bail {
                self.recover_line();
            } else {
                self.expect_line_end();
            }
            let span = key.span.to(value.span);
            entries.push(ConfigEntry {
                key,
                value,
                docs: entry_docs,
                span,
            });
        };
        Some(ConfigBlock {
            name: name?,
            docs,
            entries,
            span: keyword.span.to(Span::new(end, end)),
        })
    }

    fn parse_name_list(&mut self, keyword: Token) -> Vec<Ident> {
        let mut names = Vec::new();
        loop {
            let token = self.peek();
            if token.kind != TokenKind::Ident {
                let found = self.describe(token);
                let word = self.text(keyword.span).to_string();
                self.diagnostics.push(diagnostics::expected_name_in_list(
                    token.span, &word, &found,
                ));
                return names;
            }
            self.bump();
            names.push(self.ident(token));
            if self.peek_kind() == TokenKind::Comma {
                self.bump();
            } else {
                return names;
            }
        }
    }

    fn parse_model(
        &mut self,
        start: Token,
        keyword: Token,
        kind: ModelKeyword,
        is_abstract: bool,
        docs: Vec<DocComment>,
    ) -> Option<ModelDecl> {
        let word = self.text(keyword.span).to_string();
        let name = self.declaration_name(&word);
        if name.is_none() && self.skip_nameless_declaration() {
            return None;
        }
        let mut extends = Vec::new();
        let mut mixins = Vec::new();
        loop {
            if self.at_word("extends") {
                let list_keyword = self.bump();
                extends.extend(self.parse_name_list(list_keyword));
            } else if self.at_word("with") {
                let list_keyword = self.bump();
                mixins.extend(self.parse_name_list(list_keyword));
            } else {
                break;
            }
        }
        let open = self.open_block(&word)?;
        let block_name = name.as_ref().map_or("", |n| n.name.as_str()).to_string();
        let mut fields = Vec::new();
        let mut attributes = Vec::new();
        let end = loop {
            let field_docs = self.take_docs(false);
            if let Some(end) = self.block_end(open, &word, &block_name) {
                self.release_docs(&field_docs);
                break end;
            }
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::BlockAttribute => {
                    self.release_docs(&field_docs);
                    let attribute = self.parse_attribute();
                    if self.bail {
                        self.recover_line();
                    } else {
                        self.expect_line_end();
                    }
                    attributes.push(attribute);
                }
                TokenKind::FieldAttribute => {
                    self.release_docs(&field_docs);
                    let name = self.text(token.span).to_string();
                    self.diagnostics
                        .push(diagnostics::field_attribute_without_field(
                            token.span, &name,
                        ));
                    self.recover_line();
                }
                TokenKind::Ident => {
                    if let Some(field) = self.parse_field(field_docs) {
                        fields.push(field);
                    }
                }
                _ => {
                    self.release_docs(&field_docs);
                    let found = self.describe(token);
                    self.diagnostics
                        .push(diagnostics::expected_field(token.span, &found));
                    self.position += 1;
                    self.recover_line();
                }
            }
        };
        Some(ModelDecl {
            keyword: kind,
            keyword_span: keyword.span,
            is_abstract,
            name: name?,
            extends,
            mixins,
            docs,
            fields,
            attributes,
            span: start.span.to(Span::new(end, end)),
        })
    }

    fn parse_field(&mut self, docs: Vec<DocComment>) -> Option<Field> {
        let name_token = self.bump();
        let name = self.ident(name_token);
        let type_token = self.peek();
        let ty = if type_token.kind == TokenKind::Ident {
            self.bump();
            let type_name = self.ident(type_token);
            let mut args = Vec::new();
            if self.peek_kind() == TokenKind::LeftParen {
                let open = self.bump();
                args = self.parse_arguments(open);
            }
            let mut arity = Arity::Required;
            if !self.bail {
                match self.peek_kind() {
                    TokenKind::Question => {
                        self.bump();
                        arity = Arity::Optional;
                    }
                    TokenKind::LeftBracket => {
                        let open = self.bump();
                        if self.peek_kind() == TokenKind::RightBracket {
                            self.bump();
                            arity = Arity::List;
                            let after = self.peek();
                            if after.kind == TokenKind::Question {
                                self.bump();
                                self.diagnostics
                                    .push(diagnostics::optional_list(after.span));
                            }
                        } else {
                            let found = self.peek();
                            let found = self.describe(found);
                            self.error(diagnostics::expected_list_close(open.span, &found));
                        }
                    }
                    _ => {}
                }
            }
            Some(TypeRef {
                name: type_name,
                args,
                arity,
                span: type_token
                    .span
                    .to(Span::new(self.previous_end, self.previous_end)),
            })
        } else {
            let found = self.describe(type_token);
            self.diagnostics.push(diagnostics::missing_field_type(
                name.span, &name.name, &found,
            ));
            if !matches!(
                type_token.kind,
                TokenKind::FieldAttribute
                    | TokenKind::Newline
                    | TokenKind::Eof
                    | TokenKind::RightBrace
            ) {
                self.recover_line();
                self.release_docs(&docs);
                return None;
            }
            None
        };
        let mut attributes = Vec::new();
        while !self.bail {
            let token = self.peek();
            match token.kind {
                TokenKind::FieldAttribute => attributes.push(self.parse_attribute()),
                TokenKind::BlockAttribute => {
                    let attribute = self.parse_attribute();
                    self.diagnostics.push(diagnostics::block_attribute_on_field(
                        token.span,
                        &attribute.name.name,
                    ));
                }
                TokenKind::Newline | TokenKind::Eof | TokenKind::RightBrace => break,
                _ => {
                    let found = self.describe(token);
                    self.error(diagnostics::unexpected_in_field(token.span, &found));
                }
            }
        }
        if self.bail {
            self.recover_line();
        }
        let span = name
            .span
            .to(Span::new(self.previous_end, self.previous_end));
        Some(Field {
            name,
            ty,
            attributes,
            docs,
            span,
        })
    }

    fn parse_enum(&mut self, keyword: Token, docs: Vec<DocComment>) -> Option<EnumDecl> {
        let name = self.declaration_name("enum");
        if name.is_none() && self.skip_nameless_declaration() {
            return None;
        }
        let open = self.open_block("enum")?;
        let block_name = name.as_ref().map_or("", |n| n.name.as_str()).to_string();
        let mut values = Vec::new();
        let mut attributes = Vec::new();
        let end = loop {
            let value_docs = self.take_docs(false);
            if let Some(end) = self.block_end(open, "enum", &block_name) {
                self.release_docs(&value_docs);
                break end;
            }
            let token = self.tokens[self.position];
            match token.kind {
                TokenKind::Comma => {
                    self.release_docs(&value_docs);
                    self.position += 1;
                }
                TokenKind::BlockAttribute => {
                    self.release_docs(&value_docs);
                    let attribute = self.parse_attribute();
                    if self.bail {
                        self.recover_line();
                    }
                    attributes.push(attribute);
                }
                TokenKind::Ident => {
                    let value_name_token = self.bump();
                    let value_name = self.ident(value_name_token);
                    let mut value_attributes = Vec::new();
                    while !self.bail && self.peek_kind() == TokenKind::FieldAttribute {
                        value_attributes.push(self.parse_attribute());
                    }
                    if self.bail {
                        self.recover_line();
                    }
                    let span = value_name
                        .span
                        .to(Span::new(self.previous_end, self.previous_end));
                    values.push(EnumValue {
                        name: value_name,
                        attributes: value_attributes,
                        docs: value_docs,
                        span,
                    });
                }
                _ => {
                    self.release_docs(&value_docs);
                    let found = self.describe(token);
                    self.diagnostics
                        .push(diagnostics::expected_enum_value(token.span, &found));
                    self.position += 1;
                    self.recover_line();
                }
            }
        };
        Some(EnumDecl {
            name: name?,
            docs,
            values,
            attributes,
            span: keyword.span.to(Span::new(end, end)),
        })
    }

    // ----- attributes and arguments -------------------------------------------------------

    fn parse_attribute(&mut self) -> Attribute {
        let token = self.bump();
        let is_block = token.kind == TokenKind::BlockAttribute;
        let prefix = if is_block { 2 } else { 1 };
        let name_span = Span::new(token.span.start + prefix, token.span.end);
        let name = Ident {
            name: self.text(name_span).to_string(),
            span: name_span,
        };
        let mut args = Vec::new();
        let mut has_parens = false;
        if self.peek_kind() == TokenKind::LeftParen {
            has_parens = true;
            let open = self.bump();
            args = self.parse_arguments(open);
        }
        if name.name.is_empty() {
            // `@` without a name: reported by the lexer; give up the rest of the line quietly.
            self.bail = true;
        }
        Attribute {
            name,
            is_block,
            args,
            has_parens,
            span: token
                .span
                .to(Span::new(self.previous_end, self.previous_end)),
        }
    }

    /// Arguments after an already consumed `(`, up to and including the `)`.
    fn parse_arguments(&mut self, open: Token) -> Vec<Arg> {
        self.parse_delimited(open, TokenKind::RightParen, Self::parse_argument)
    }

    fn parse_argument(&mut self) -> Arg {
        let first = self.peek();
        if first.kind == TokenKind::Ident && self.peek_second().kind == TokenKind::Colon {
            self.bump();
            self.bump();
            let name = self.ident(first);
            let value = self.parse_expr();
            let span = first.span.to(value.span);
            return Arg {
                name: Some(name),
                value,
                span,
            };
        }
        let value = self.parse_expr();
        Arg {
            name: None,
            span: value.span,
            value,
        }
    }

    /// A comma-separated list after the already consumed `open`, up to `close`. A trailing comma
    /// is allowed. A missing closer is reported at the opener.
    fn parse_delimited<T>(
        &mut self,
        open: Token,
        close: TokenKind,
        mut element: impl FnMut(&mut Self) -> T,
    ) -> Vec<T> {
        let mut elements = Vec::new();
        self.nesting += 1;
        self.open_delimiters += 1;
        loop {
            if self.bail {
                break;
            }
            let token = self.peek();
            if token.kind == close {
                self.bump();
                self.open_delimiters = self.open_delimiters.saturating_sub(1);
                break;
            }
            if matches!(token.kind, TokenKind::Eof | TokenKind::RightBrace) {
                self.report_unclosed(open);
                break;
            }
            let before_element = self.position;
            elements.push(element(self));
            if self.bail {
                break;
            }
            if self.position == before_element {
                // Nothing consumed (cannot happen after a reported error, but stay safe).
                self.bail = true;
                break;
            }
            let after_element = self.after_last;
            let token = self.peek();
            if token.kind == TokenKind::Comma {
                self.bump();
            } else if token.kind != close {
                if matches!(token.kind, TokenKind::RightParen | TokenKind::RightBracket) {
                    self.report_mismatched(open, token);
                } else if self.newline_before(token) || token.kind == TokenKind::Eof {
                    self.position = after_element;
                    self.report_unclosed(open);
                } else {
                    let found = self.describe(token);
                    let closer = if close == TokenKind::RightParen {
                        ")"
                    } else {
                        "]"
                    };
                    self.error(diagnostics::expected_separator(token.span, closer, &found));
                }
                break;
            }
        }
        self.nesting = self.nesting.saturating_sub(1);
        elements
    }

    /// Reports a `(` or `[` closed by the wrong delimiter (`[a, b)`); the line is given up.
    fn report_mismatched(&mut self, open: Token, closer: Token) {
        let delimiter = self.text(open.span).to_string();
        let found = self.text(closer.span).to_string();
        self.error(
            diagnostics::unclosed_delimiter(open.span, &delimiter)
                .with_label(closer.span, format!("`{found}` found here instead")),
        );
        self.open_delimiters = 0;
    }

    /// Reports a `(` or `[` that is never closed; the rest of the line is given up.
    fn report_unclosed(&mut self, open: Token) {
        let delimiter = self.text(open.span).to_string();
        self.error(diagnostics::unclosed_delimiter(open.span, &delimiter));
        // Everything opened on this line is unclosed too: recovery must not look for closers.
        self.open_delimiters = 0;
    }

    // ----- expressions --------------------------------------------------------------------

    fn error_expr(&self, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span,
        }
    }

    /// Enters one level of recursion; false (reported) when too deep.
    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            let token = self.peek();
            self.error(diagnostics::nesting_too_deep(token.span, MAX_NESTING_DEPTH));
            self.open_delimiters = 0;
            false
        } else {
            true
        }
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub(crate) fn parse_expr(&mut self) -> Expr {
        if !self.enter() {
            self.leave();
            let span = self.peek().span;
            return self.error_expr(span);
        }
        let expr = self.parse_binary(0);
        self.leave();
        expr
    }

    /// Binary operators by precedence level: 0 `||`, 1 `&&`, 2 comparisons and `in`.
    fn parse_binary(&mut self, level: u8) -> Expr {
        let mut lhs = if level < 2 {
            self.parse_binary(level + 1)
        } else {
            self.parse_unary()
        };
        while !self.bail {
            let token = self.peek();
            let op = match (level, token.kind) {
                (0, TokenKind::OrOr) => BinaryOp::Or,
                (1, TokenKind::AndAnd) => BinaryOp::And,
                (2, TokenKind::EqualEqual) => BinaryOp::Eq,
                (2, TokenKind::NotEqual) => BinaryOp::Ne,
                (2, TokenKind::Less) => BinaryOp::Lt,
                (2, TokenKind::LessEqual) => BinaryOp::Le,
                (2, TokenKind::Greater) => BinaryOp::Gt,
                (2, TokenKind::GreaterEqual) => BinaryOp::Ge,
                (2, TokenKind::Ident) if self.text(token.span) == "in" => BinaryOp::In,
                _ => break,
            };
            self.bump();
            let rhs = if level < 2 {
                self.parse_binary(level + 1)
            } else {
                self.parse_unary()
            };
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        lhs
    }

    fn parse_unary(&mut self) -> Expr {
        let token = self.peek();
        let op = match token.kind {
            TokenKind::Bang => UnaryOp::Not,
            TokenKind::Minus => UnaryOp::Neg,
            _ => return self.parse_postfix(),
        };
        self.bump();
        if !self.enter() {
            self.leave();
            return self.error_expr(token.span);
        }
        let operand = self.parse_unary();
        self.leave();
        let span = token.span.to(operand.span);
        Expr {
            kind: ExprKind::Unary {
                op,
                operand: Box::new(operand),
            },
            span,
        }
    }

    fn parse_postfix(&mut self) -> Expr {
        let mut expr = self.parse_primary();
        while !self.bail {
            let token = self.peek();
            match token.kind {
                TokenKind::Dot => {
                    self.bump();
                    let member = self.peek();
                    if member.kind != TokenKind::Ident {
                        let found = self.describe(member);
                        self.error(diagnostics::expected_member_name(member.span, &found));
                        break;
                    }
                    self.bump();
                    let member = self.ident(member);
                    let span = expr.span.to(member.span);
                    expr = Expr {
                        kind: ExprKind::Member {
                            object: Box::new(expr),
                            member,
                        },
                        span,
                    };
                }
                TokenKind::Question | TokenKind::Bang | TokenKind::Caret => {
                    let bracket = self.peek_second();
                    if bracket.kind != TokenKind::LeftBracket
                        || bracket.span.start != token.span.end
                    {
                        break;
                    }
                    let quantifier = match token.kind {
                        TokenKind::Question => Quantifier::Some,
                        TokenKind::Bang => Quantifier::All,
                        _ => Quantifier::None,
                    };
                    self.bump();
                    let open = self.bump();
                    let predicate = self.parse_bracketed(open);
                    let span = expr
                        .span
                        .to(Span::new(self.previous_end, self.previous_end));
                    expr = Expr {
                        kind: ExprKind::Collection {
                            object: Box::new(expr),
                            quantifier,
                            predicate: Box::new(predicate),
                        },
                        span,
                    };
                }
                _ => break,
            }
        }
        expr
    }

    /// One expression after an already consumed `(` or `[`, up to and including its closer.
    fn parse_bracketed(&mut self, open: Token) -> Expr {
        let close = if open.kind == TokenKind::LeftParen {
            TokenKind::RightParen
        } else {
            TokenKind::RightBracket
        };
        self.nesting += 1;
        self.open_delimiters += 1;
        let inner = self.parse_expr();
        if !self.bail {
            let after_inner = self.after_last;
            let token = self.peek();
            if token.kind == close {
                self.bump();
                self.open_delimiters = self.open_delimiters.saturating_sub(1);
            } else if matches!(token.kind, TokenKind::RightParen | TokenKind::RightBracket) {
                self.report_mismatched(open, token);
            } else if self.newline_before(token)
                || matches!(token.kind, TokenKind::Eof | TokenKind::RightBrace)
            {
                self.position = after_inner;
                self.report_unclosed(open);
            } else {
                let found = self.describe(token);
                let closer = if close == TokenKind::RightParen {
                    ")"
                } else {
                    "]"
                };
                self.error(diagnostics::expected_closer(token.span, closer, &found));
            }
        }
        self.nesting = self.nesting.saturating_sub(1);
        inner
    }

    fn parse_primary(&mut self) -> Expr {
        let token = self.peek();
        let kind = match token.kind {
            TokenKind::String => {
                self.bump();
                let raw = self.text(token.span);
                if !lexer::is_terminated_string(raw) {
                    // Already reported by the lexer; give up the line without a second error.
                    self.bail = true;
                }
                ExprKind::String(lexer::string_value(raw))
            }
            TokenKind::Number => {
                self.bump();
                ExprKind::Number(self.text(token.span).to_string())
            }
            TokenKind::Ident => {
                self.bump();
                match self.text(token.span) {
                    "true" => ExprKind::Bool(true),
                    "false" => ExprKind::Bool(false),
                    "null" => ExprKind::Null,
                    "this" => ExprKind::This,
                    name => {
                        let name = name.to_string();
                        let next = self.peek();
                        if next.kind == TokenKind::LeftParen && !self.newline_before(next) {
                            let open = self.bump();
                            if !self.enter() {
                                self.leave();
                                return self.error_expr(open.span);
                            }
                            let args = self.parse_arguments(open);
                            self.leave();
                            ExprKind::Call {
                                callee: Ident {
                                    name,
                                    span: token.span,
                                },
                                args,
                            }
                        } else {
                            ExprKind::Ident(name)
                        }
                    }
                }
            }
            TokenKind::LeftBracket => {
                let open = self.bump();
                let elements =
                    self.parse_delimited(open, TokenKind::RightBracket, Self::parse_expr);
                ExprKind::Array(elements)
            }
            TokenKind::LeftParen => {
                let open = self.bump();
                let inner = self.parse_bracketed(open);
                ExprKind::Paren(Box::new(inner))
            }
            _ => {
                let found = self.describe(token);
                self.error(diagnostics::expected_expression(token.span, &found));
                return self.error_expr(token.span);
            }
        };
        Expr {
            kind,
            span: token
                .span
                .to(Span::new(self.previous_end, self.previous_end)),
        }
    }
}

/// The lines of a `/** ... */` doc block: delimiters and each line's leading ` * ` removed,
/// blank first and last lines dropped.
fn doc_block_lines(text: &str) -> Vec<String> {
    let inner = text
        .strip_prefix("/**")
        .unwrap_or(text)
        .strip_suffix("*/")
        .unwrap_or(text);
    let mut lines: Vec<String> = inner
        .lines()
        .map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix('*').unwrap_or(line);
            let line = line.strip_prefix(' ').unwrap_or(line);
            line.trim_end().to_string()
        })
        .collect();
    while lines.first().is_some_and(String::is_empty) {
        lines.remove(0);
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// The keyword a mistyped top-level word was probably meant to be: close by edit distance, or
/// the same letters in another order (`modle`).
fn suggest_keyword(word: &str) -> Option<&'static str> {
    plinth_diagnostics::did_you_mean(word, TOP_LEVEL_KEYWORDS).or_else(|| {
        let sorted = |text: &str| {
            let mut letters: Vec<char> = text.to_lowercase().chars().collect();
            letters.sort_unstable();
            letters
        };
        let letters = sorted(word);
        TOP_LEVEL_KEYWORDS
            .into_iter()
            .find(|keyword| sorted(keyword) == letters)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_input_is_cut_and_reported() {
        let source = "model A {\n  id Int @id\n}\nmodel B {\n  id Int @id\n}\n";
        let (file, diagnostics) = parse_with_limit(source, 25);
        assert_eq!(file.items.len(), 1);
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, "E0099");
    }

    #[test]
    fn deep_nesting_is_reported_not_overflowing_the_stack() {
        for (open, close) in [("(", ")"), ("[", "]"), ("!", ""), ("-", ""), ("a?[", "]")] {
            let source = format!(
                "model A {{\n  id Int @default({}1{})\n  ok Int\n}}\n",
                open.repeat(100_000),
                close.repeat(100_000)
            );
            let (file, diagnostics) = parse(&source);
            let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
            assert_eq!(codes, ["E0045"], "for {open}");
            let Some(Item::Model(model)) = file.items.first() else {
                panic!("model lost after too deep nesting");
            };
            assert_eq!(model.fields.len(), 2, "recovery continues on the next line");
        }
    }

    #[test]
    fn suggests_keywords_for_typos() {
        assert_eq!(suggest_keyword("modle"), Some("model"));
        assert_eq!(suggest_keyword("enm"), Some("enum"));
        assert_eq!(suggest_keyword("datsource"), Some("datasource"));
        assert_eq!(suggest_keyword("banana"), None);
    }
}
