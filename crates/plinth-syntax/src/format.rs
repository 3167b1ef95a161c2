//! The formatter: a parsed schema printed back in one canonical layout, in the style of
//! `prisma format`, keeping every comment.
//!
//! Layout rules: two-space indent; within a block, consecutive lines are aligned in columns
//! (field name, type, attributes; config key and `=`; enum value and attributes) until a blank
//! line; block attributes come after the fields, after a blank line; one blank line between
//! top-level declarations; at most one blank line kept where the author left some.
//!
//! Comments are placed by their source position: a comment on the same line as a field (or inside
//! it) stays at the end of that field's line; any other comment stays before whatever followed it.

use crate::ast::*;
use plinth_diagnostics::Span;
use std::fmt::Write;

pub(crate) fn format_file(source: &str, file: &SchemaFile) -> String {
    let formatter = Formatter { source };
    formatter.file(file)
}

struct Formatter<'source> {
    source: &'source str,
}

/// One output line of a block body (or of the file).
enum Line {
    Blank,
    /// An own-line comment or doc comment, printed as is.
    Text(String),
    /// A member's line: cells aligned with neighbouring rows of the same `table`, then the
    /// trailing comments.
    Row {
        cells: Vec<String>,
        /// Rows align only with rows of the same table (fields never align with `@@` lines).
        table: u8,
        trailing: Vec<String>,
    },
}

/// What a body member (field, block attribute, enum value, config entry, top-level item) has to
/// say about itself for placement.
struct Member<'tree> {
    span: Span,
    docs: &'tree [DocComment],
    lines: Vec<Line>,
    /// Members of a later section (block attributes) are printed after the others.
    section: u8,
}

/// A member with its comments attached.
struct Chunk {
    /// Lines before the member (comments, docs, blank lines between them).
    leading: Vec<Line>,
    /// Whether the source had a blank line before the chunk's first line.
    blank_before: bool,
    lines: Vec<Line>,
    section: u8,
}

/// Where an item's own comments end up.
struct Placed {
    /// Comments on the header line (`model A { // here`).
    header: Vec<String>,
    chunks: Vec<Chunk>,
    /// Comments after the last member.
    end: Vec<Line>,
    end_blank_before: bool,
}

impl Formatter<'_> {
    fn has_blank_line(&self, from: u32, to: u32) -> bool {
        let (from, to) = (from.min(to) as usize, to as usize);
        let gap = self.source.get(from..to).unwrap_or("");
        gap.matches('\n').count() >= 2
    }

    fn same_line(&self, from: u32, to: u32) -> bool {
        let (from, to) = (from.min(to) as usize, to as usize);
        !self.source.get(from..to).unwrap_or("\n").contains('\n')
    }

    /// Attaches `comments` (all inside the block spanning `block`) to `members` (in source order).
    fn place(&self, block: Option<Span>, members: Vec<Member>, comments: &[&Comment]) -> Placed {
        let mut header = Vec::new();
        let mut trailing: Vec<Vec<String>> = members.iter().map(|_| Vec::new()).collect();
        // Leading comments per member; index `members.len()` holds the comments at the end.
        let mut leading: Vec<Vec<&Comment>> = (0..=members.len()).map(|_| Vec::new()).collect();
        for comment in comments {
            let start = comment.span.start;
            let owner = members.iter().rposition(|m| m.span.start <= start);
            match owner {
                Some(index)
                    if start < members[index].span.end
                        || self.same_line(members[index].span.end, start) =>
                {
                    trailing[index].push(comment.text.trim_end().to_string());
                }
                None if block.is_some_and(|block| self.same_line(block.start, start)) => {
                    header.push(comment.text.trim_end().to_string());
                }
                _ => {
                    let next = owner.map_or(0, |index| index + 1);
                    leading[next].push(comment);
                }
            }
        }

        let mut previous_end = None::<u32>;
        let mut chunks = Vec::new();
        for (index, member) in members.into_iter().enumerate() {
            // Leading comments and docs, in source order.
            let mut before: Vec<(Span, String)> = leading[index]
                .iter()
                .map(|c| (c.span, c.text.trim_end().to_string()))
                .collect();
            before.extend(
                member
                    .docs
                    .iter()
                    .map(|doc| (doc.span, doc_line(&doc.text))),
            );
            before.sort_by_key(|(span, _)| span.start);
            let mut lines = Vec::new();
            let mut blank_before = false;
            let mut last = previous_end;
            for (position, (span, text)) in before.iter().enumerate() {
                let blank = last.is_some_and(|end| self.has_blank_line(end, span.start));
                if position == 0 {
                    blank_before = blank;
                } else if blank {
                    lines.push(Line::Blank);
                }
                lines.push(Line::Text(text.clone()));
                last = Some(last.map_or(span.end, |end| end.max(span.end)));
            }
            let blank = last.is_some_and(|end| self.has_blank_line(end, member.span.start));
            if before.is_empty() {
                blank_before = blank;
            } else if blank {
                lines.push(Line::Blank);
            }
            let mut member_lines = member.lines;
            if let Some(Line::Row {
                trailing: row_trailing,
                ..
            }) = member_lines.last_mut()
            {
                row_trailing.append(&mut trailing[index]);
            }
            // Trailing comments may run past the member's end.
            let end = comments
                .iter()
                .filter(|c| {
                    c.span.start >= member.span.start
                        && (c.span.start < member.span.end
                            || self.same_line(member.span.end, c.span.start))
                })
                .map(|c| c.span.end)
                .fold(member.span.end, u32::max);
            previous_end = Some(end);
            chunks.push(Chunk {
                leading: lines,
                blank_before,
                lines: member_lines,
                section: member.section,
            });
        }

        let mut end = Vec::new();
        let mut end_blank_before = false;
        let mut last = previous_end;
        for (position, comment) in leading[leading.len() - 1].iter().enumerate() {
            let blank = last.is_some_and(|end| self.has_blank_line(end, comment.span.start));
            if position == 0 {
                end_blank_before = blank;
            } else if blank {
                end.push(Line::Blank);
            }
            end.push(Line::Text(comment.text.trim_end().to_string()));
            last = Some(comment.span.end);
        }
        Placed {
            header,
            chunks,
            end,
            end_blank_before,
        }
    }

    /// The lines of a block body: chunks of section 0, then (after a blank line) section 1, then
    /// the end comments.
    fn body_lines(&self, placed: Placed) -> Vec<Line> {
        let mut lines = Vec::new();
        for section in [0u8, 1] {
            let mut first_in_section = true;
            for chunk in placed.chunks.iter().filter(|c| c.section == section) {
                if first_in_section {
                    if section == 1 && !lines.is_empty() {
                        lines.push(Line::Blank);
                    }
                    first_in_section = false;
                } else if chunk.blank_before {
                    lines.push(Line::Blank);
                }
                lines.extend(chunk.leading.iter().map(clone_line));
                lines.extend(chunk.lines.iter().map(clone_line));
            }
        }
        if !placed.end.is_empty() {
            if placed.end_blank_before && !lines.is_empty() {
                lines.push(Line::Blank);
            }
            lines.extend(placed.end);
        }
        lines
    }

    fn file(&self, file: &SchemaFile) -> String {
        let mut items: Vec<&Item> = file.items.iter().collect();
        items.sort_by_key(|item| item.span().start);
        let item_spans: Vec<Span> = items.iter().map(|item| item.span()).collect();

        // Comments inside an item belong to that item; the rest are top-level.
        let mut inside: Vec<Vec<&Comment>> = items.iter().map(|_| Vec::new()).collect();
        let mut top_level = Vec::new();
        for comment in &file.comments {
            let index = item_spans.partition_point(|span| span.start <= comment.span.start);
            match index.checked_sub(1) {
                Some(owner) if comment.span.start < item_spans[owner].end => {
                    inside[owner].push(comment)
                }
                _ => top_level.push(comment),
            }
        }

        let members: Vec<Member> = items
            .iter()
            .zip(inside)
            .map(|(item, comments)| Member {
                span: item.span(),
                docs: item_docs(item),
                lines: self.item(item, &comments),
                section: 0,
            })
            .collect();
        let placed = self.place(None, members, &top_level);

        let mut out = String::new();
        let mut first = true;
        for chunk in &placed.chunks {
            if !first {
                // One blank line between top-level items, always.
                out.push('\n');
            }
            first = false;
            write_lines(&mut out, "", &chunk.leading);
            write_lines(&mut out, "", &chunk.lines);
        }
        if !placed.end.is_empty() {
            if placed.end_blank_before && !first {
                out.push('\n');
            }
            write_lines(&mut out, "", &placed.end);
        }
        out
    }

    fn item(&self, item: &Item, comments: &[&Comment]) -> Vec<Line> {
        match item {
            Item::Import(import) => {
                let mut trailing = Vec::new();
                trailing.extend(comments.iter().map(|c| c.text.trim_end().to_string()));
                vec![Line::Row {
                    cells: vec![format!("import {}", quote(&import.path))],
                    table: 0,
                    trailing,
                }]
            }
            Item::Datasource(block) => self.config_block("datasource", block, comments),
            Item::Generator(block) => self.config_block("generator", block, comments),
            Item::Plugin(block) => self.config_block("plugin", block, comments),
            Item::Model(model) => self.model(model, comments),
            Item::Enum(decl) => self.enumeration(decl, comments),
        }
    }

    fn block(
        &self,
        header: String,
        span: Span,
        members: Vec<Member>,
        comments: &[&Comment],
    ) -> Vec<Line> {
        let placed = self.place(Some(span), members, comments);
        let mut lines = vec![Line::Row {
            cells: vec![header],
            table: 0,
            trailing: placed.header.clone(),
        }];
        let body = self.body_lines(placed);
        lines.push(Line::Text(render_body(&body)));
        lines.push(Line::Row {
            cells: vec!["}".to_string()],
            table: 0,
            trailing: Vec::new(),
        });
        lines
    }

    fn config_block(&self, keyword: &str, block: &ConfigBlock, comments: &[&Comment]) -> Vec<Line> {
        let members = block
            .entries
            .iter()
            .map(|entry| Member {
                span: entry.span,
                docs: &entry.docs,
                lines: vec![Line::Row {
                    cells: vec![entry.key.name.clone(), format!("= {}", expr(&entry.value))],
                    table: 1,
                    trailing: Vec::new(),
                }],
                section: 0,
            })
            .collect();
        self.block(
            format!("{keyword} {} {{", block.name.name),
            block.span,
            members,
            comments,
        )
    }

    fn model(&self, model: &ModelDecl, comments: &[&Comment]) -> Vec<Line> {
        let keyword = match model.keyword {
            ModelKeyword::Model => "model",
            ModelKeyword::Type => "type",
            ModelKeyword::View => "view",
        };
        let mut header = String::new();
        if model.is_abstract {
            header.push_str("abstract ");
        }
        let _ = write!(header, "{keyword} {}", model.name.name);
        if !model.extends.is_empty() {
            let _ = write!(header, " extends {}", names(&model.extends));
        }
        if !model.mixins.is_empty() {
            let _ = write!(header, " with {}", names(&model.mixins));
        }
        header.push_str(" {");

        let mut members: Vec<Member> = model
            .fields
            .iter()
            .map(|field| {
                let ty = field.ty.as_ref().map_or(String::new(), type_ref);
                let mut cells = vec![field.name.name.clone(), ty];
                let attributes = attribute_list(&field.attributes);
                if !attributes.is_empty() {
                    cells.push(attributes);
                }
                Member {
                    span: field.span,
                    docs: &field.docs,
                    lines: vec![Line::Row {
                        cells,
                        table: 1,
                        trailing: Vec::new(),
                    }],
                    section: 0,
                }
            })
            .collect();
        members.extend(model.attributes.iter().map(|attribute_node| Member {
            span: attribute_node.span,
            docs: &[],
            lines: vec![Line::Row {
                cells: vec![attribute(attribute_node)],
                table: 2,
                trailing: Vec::new(),
            }],
            section: 1,
        }));
        members.sort_by_key(|member| member.span.start);
        self.block(header, model.span, members, comments)
    }

    fn enumeration(&self, decl: &EnumDecl, comments: &[&Comment]) -> Vec<Line> {
        let mut members: Vec<Member> = decl
            .values
            .iter()
            .map(|value| {
                let mut cells = vec![value.name.name.clone()];
                let attributes = attribute_list(&value.attributes);
                if !attributes.is_empty() {
                    cells.push(attributes);
                }
                Member {
                    span: value.span,
                    docs: &value.docs,
                    lines: vec![Line::Row {
                        cells,
                        table: 1,
                        trailing: Vec::new(),
                    }],
                    section: 0,
                }
            })
            .collect();
        members.extend(decl.attributes.iter().map(|attribute_node| Member {
            span: attribute_node.span,
            docs: &[],
            lines: vec![Line::Row {
                cells: vec![attribute(attribute_node)],
                table: 2,
                trailing: Vec::new(),
            }],
            section: 1,
        }));
        members.sort_by_key(|member| member.span.start);
        self.block(
            format!("enum {} {{", decl.name.name),
            decl.span,
            members,
            comments,
        )
    }
}

fn clone_line(line: &Line) -> Line {
    match line {
        Line::Blank => Line::Blank,
        Line::Text(text) => Line::Text(text.clone()),
        Line::Row {
            cells,
            table,
            trailing,
        } => Line::Row {
            cells: cells.clone(),
            table: *table,
            trailing: trailing.clone(),
        },
    }
}

/// A block body, indented by two spaces, as one multi-line text (empty when there is no body).
fn render_body(lines: &[Line]) -> String {
    let mut out = String::new();
    write_lines(&mut out, "  ", lines);
    // `write_lines` ends every line with `\n`; the caller adds its own.
    if out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Writes lines, aligning the cells of consecutive rows of the same table (a blank line ends an
/// alignment group; comment lines do not, as in `prisma format`).
fn write_lines(out: &mut String, indent: &str, lines: &[Line]) {
    let mut index = 0;
    while index < lines.len() {
        match &lines[index] {
            Line::Blank => {
                out.push('\n');
                index += 1;
            }
            Line::Text(text) => {
                write_text(out, indent, text);
                index += 1;
            }
            Line::Row { table, .. } => {
                // The alignment group: rows of this table, skipping comment lines.
                let group_table = *table;
                let mut end = index;
                while end < lines.len() {
                    match &lines[end] {
                        Line::Row { table, .. } if *table == group_table => end += 1,
                        Line::Text(_) => end += 1,
                        _ => break,
                    }
                }
                // Do not let a trailing run of comment lines belong to the group.
                while end > index && matches!(lines[end - 1], Line::Text(_)) {
                    end -= 1;
                }
                let mut widths: Vec<usize> = Vec::new();
                for line in &lines[index..end] {
                    if let Line::Row { cells, .. } = line {
                        for (column, cell) in cells.iter().enumerate() {
                            let width = cell.chars().count();
                            if widths.len() <= column {
                                widths.push(width);
                            } else {
                                widths[column] = widths[column].max(width);
                            }
                        }
                    }
                }
                for line in &lines[index..end] {
                    match line {
                        Line::Row {
                            cells, trailing, ..
                        } => {
                            let mut text = String::new();
                            for (column, cell) in cells.iter().enumerate() {
                                if column + 1 < cells.len() {
                                    let padding = widths[column] - cell.chars().count();
                                    text.push_str(cell);
                                    text.push_str(&" ".repeat(padding + 1));
                                } else {
                                    text.push_str(cell);
                                }
                            }
                            let mut text = text.trim_end().to_string();
                            for comment in trailing {
                                text.push(' ');
                                text.push_str(comment);
                            }
                            out.push_str(indent);
                            out.push_str(&text);
                            out.push('\n');
                        }
                        Line::Text(text) => write_text(out, indent, text),
                        Line::Blank => out.push('\n'),
                    }
                }
                index = end.max(index + 1);
            }
        }
    }
}

/// A comment or a rendered body: the first line indented, later lines as written (a block
/// comment's own lines, a body already indented). An empty text prints nothing.
fn write_text(out: &mut String, indent: &str, text: &str) {
    if text.is_empty() {
        return;
    }
    for (number, line) in text.split('\n').enumerate() {
        if number == 0 {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
}

fn item_docs(item: &Item) -> &[DocComment] {
    match item {
        Item::Datasource(block) | Item::Generator(block) | Item::Plugin(block) => &block.docs,
        Item::Model(model) => &model.docs,
        Item::Enum(decl) => &decl.docs,
        Item::Import(_) => &[],
    }
}

fn doc_line(text: &str) -> String {
    if text.is_empty() {
        "///".to_string()
    } else {
        format!("/// {text}")
    }
}

fn names(list: &[Ident]) -> String {
    list.iter()
        .map(|ident| ident.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn type_ref(ty: &TypeRef) -> String {
    let mut text = ty.name.name.clone();
    if !ty.args.is_empty() {
        text.push_str(&arguments(&ty.args));
    }
    text.push_str(match ty.arity {
        Arity::Required => "",
        Arity::Optional => "?",
        Arity::List => "[]",
    });
    text
}

fn attribute_list(attributes: &[Attribute]) -> String {
    attributes
        .iter()
        .map(attribute)
        .collect::<Vec<_>>()
        .join(" ")
}

fn attribute(attribute: &Attribute) -> String {
    let at = if attribute.is_block { "@@" } else { "@" };
    let mut text = format!("{at}{}", attribute.name.name);
    if attribute.has_parens || !attribute.args.is_empty() {
        text.push_str(&arguments(&attribute.args));
    }
    text
}

fn arguments(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|arg| match &arg.name {
            Some(name) => format!("{}: {}", name.name, expr(&arg.value)),
            None => expr(&arg.value),
        })
        .collect();
    format!("({})", parts.join(", "))
}

/// An expression in canonical form. Parentheses are printed only where the tree has them
/// ([`ExprKind::Paren`]), so the printed text parses back to the same tree.
pub(crate) fn expr(expression: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, expression);
    out
}

fn write_expr(out: &mut String, expression: &Expr) {
    match &expression.kind {
        ExprKind::String(text) => out.push_str(&quote(text)),
        ExprKind::Number(number) => out.push_str(number),
        ExprKind::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        ExprKind::Null => out.push_str("null"),
        ExprKind::This => out.push_str("this"),
        ExprKind::Ident(name) => out.push_str(name),
        ExprKind::Array(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_expr(out, element);
            }
            out.push(']');
        }
        ExprKind::Call { callee, args } => {
            out.push_str(&callee.name);
            out.push_str(&arguments(args));
        }
        ExprKind::Member { object, member } => {
            write_expr(out, object);
            out.push('.');
            out.push_str(&member.name);
        }
        ExprKind::Collection {
            object,
            quantifier,
            predicate,
        } => {
            write_expr(out, object);
            out.push_str(match quantifier {
                Quantifier::Some => "?[",
                Quantifier::All => "![",
                Quantifier::None => "^[",
            });
            write_expr(out, predicate);
            out.push(']');
        }
        ExprKind::Unary { op, operand } => {
            out.push(match op {
                UnaryOp::Not => '!',
                UnaryOp::Neg => '-',
            });
            write_expr(out, operand);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            write_expr(out, lhs);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            write_expr(out, rhs);
        }
        ExprKind::Paren(inner) => {
            out.push('(');
            write_expr(out, inner);
            out.push(')');
        }
        ExprKind::Error => {}
    }
}

/// A string literal in double quotes with the escapes the lexer reads back.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '"' => out.push_str("\\\""),
            // A backslash before a character with no escape meaning (`\d` in a regex) reads back
            // as itself, so it stays as the author wrote it.
            '\\' if characters.peek().is_some_and(|next| {
                (next.is_ascii_alphanumeric() || next.is_ascii_punctuation())
                    && !matches!(next, 'n' | 't' | 'r' | '0' | 'u' | '"' | '\'' | '\\' | '/')
            }) =>
            {
                out.push('\\')
            }
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            control if control.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(control));
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}
