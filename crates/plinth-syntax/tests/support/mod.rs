//! Test support: a compact, span-free rendering of a syntax tree that shows its structure
//! (expressions as S-expressions, so precedence is visible). Two trees with the same meaning
//! render the same, which is how the formatter tests compare parses.

#![allow(dead_code)]

use plinth_syntax::*;
use std::fmt::Write;
use std::path::PathBuf;

pub fn render_tree(file: &SchemaFile) -> String {
    let mut out = String::new();
    for item in &file.items {
        render_item(&mut out, item);
    }
    if !file.comments.is_empty() {
        out.push_str("comments\n");
        for comment in &file.comments {
            let _ = writeln!(out, "  {}", comment.text);
        }
    }
    out
}

/// The tree without comment placement details: comments compared as a sorted list of their
/// trimmed texts (the formatter may move a comment, never drop or change one).
pub fn render_meaning(file: &SchemaFile) -> String {
    let mut out = String::new();
    for item in &file.items {
        render_item(&mut out, item);
    }
    let mut comments: Vec<&str> = file.comments.iter().map(|c| c.text.trim_end()).collect();
    comments.sort_unstable();
    for comment in comments {
        let _ = writeln!(out, "comment {comment}");
    }
    out
}

fn render_docs(out: &mut String, indent: &str, docs: &[DocComment]) {
    for doc in docs {
        let _ = writeln!(out, "{indent}doc {:?}", doc.text);
    }
}

fn render_item(out: &mut String, item: &Item) {
    match item {
        Item::Datasource(block) => render_config(out, "datasource", block),
        Item::Generator(block) => render_config(out, "generator", block),
        Item::Plugin(block) => render_config(out, "plugin", block),
        Item::Import(import) => {
            let _ = writeln!(out, "import {:?}", import.path);
        }
        Item::Model(model) => {
            render_docs(out, "", &model.docs);
            let keyword = match model.keyword {
                ModelKeyword::Model => "model",
                ModelKeyword::Type => "type",
                ModelKeyword::View => "view",
            };
            let abstract_word = if model.is_abstract { "abstract " } else { "" };
            let _ = write!(out, "{abstract_word}{keyword} {}", model.name.name);
            if !model.extends.is_empty() {
                let names: Vec<&str> = model.extends.iter().map(|n| n.name.as_str()).collect();
                let _ = write!(out, " extends {}", names.join(", "));
            }
            if !model.mixins.is_empty() {
                let names: Vec<&str> = model.mixins.iter().map(|n| n.name.as_str()).collect();
                let _ = write!(out, " with {}", names.join(", "));
            }
            out.push('\n');
            for field in &model.fields {
                render_docs(out, "  ", &field.docs);
                let _ = write!(out, "  field {}: ", field.name.name);
                match &field.ty {
                    Some(ty) => {
                        out.push_str(&ty.name.name);
                        if !ty.args.is_empty() {
                            out.push_str(&render_args(&ty.args));
                        }
                        out.push_str(match ty.arity {
                            Arity::Required => "",
                            Arity::Optional => "?",
                            Arity::List => "[]",
                        });
                    }
                    None => out.push_str("<missing>"),
                }
                for attribute in &field.attributes {
                    let _ = write!(out, " {}", render_attribute(attribute));
                }
                out.push('\n');
            }
            for attribute in &model.attributes {
                let _ = writeln!(out, "  {}", render_attribute(attribute));
            }
        }
        Item::Enum(decl) => {
            render_docs(out, "", &decl.docs);
            let _ = writeln!(out, "enum {}", decl.name.name);
            for value in &decl.values {
                render_docs(out, "  ", &value.docs);
                let _ = write!(out, "  value {}", value.name.name);
                for attribute in &value.attributes {
                    let _ = write!(out, " {}", render_attribute(attribute));
                }
                out.push('\n');
            }
            for attribute in &decl.attributes {
                let _ = writeln!(out, "  {}", render_attribute(attribute));
            }
        }
    }
}

fn render_config(out: &mut String, keyword: &str, block: &ConfigBlock) {
    render_docs(out, "", &block.docs);
    let _ = writeln!(out, "{keyword} {}", block.name.name);
    for entry in &block.entries {
        render_docs(out, "  ", &entry.docs);
        let _ = writeln!(out, "  {} = {}", entry.key.name, render_expr(&entry.value));
    }
}

fn render_attribute(attribute: &Attribute) -> String {
    let at = if attribute.is_block { "@@" } else { "@" };
    let mut text = format!("{at}{}", attribute.name.name);
    if attribute.has_parens {
        text.push_str(&render_args(&attribute.args));
    }
    text
}

fn render_args(args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|arg| match &arg.name {
            Some(name) => format!("{}: {}", name.name, render_expr(&arg.value)),
            None => render_expr(&arg.value),
        })
        .collect();
    format!("({})", parts.join(", "))
}

pub fn render_expr(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::String(text) => format!("{text:?}"),
        ExprKind::Number(number) => number.clone(),
        ExprKind::Bool(value) => value.to_string(),
        ExprKind::Null => "null".to_string(),
        ExprKind::This => "this".to_string(),
        ExprKind::Ident(name) => name.clone(),
        ExprKind::Array(elements) => {
            let parts: Vec<String> = elements.iter().map(render_expr).collect();
            format!("[{}]", parts.join(", "))
        }
        ExprKind::Call { callee, args } => format!("{}{}", callee.name, render_args(args)),
        ExprKind::Member { object, member } => {
            format!("(. {} {})", render_expr(object), member.name)
        }
        ExprKind::Collection {
            object,
            quantifier,
            predicate,
        } => {
            let symbol = match quantifier {
                Quantifier::Some => "?",
                Quantifier::All => "!",
                Quantifier::None => "^",
            };
            format!(
                "({symbol}[] {} {})",
                render_expr(object),
                render_expr(predicate)
            )
        }
        ExprKind::Unary { op, operand } => {
            let symbol = match op {
                UnaryOp::Not => "!",
                UnaryOp::Neg => "-",
            };
            format!("({symbol} {})", render_expr(operand))
        }
        ExprKind::Binary { op, lhs, rhs } => format!(
            "({} {} {})",
            op.as_str(),
            render_expr(lhs),
            render_expr(rhs)
        ),
        ExprKind::Paren(inner) => format!("(paren {})", render_expr(inner)),
        ExprKind::Error => "<error>".to_string(),
    }
}

/// Formats `source` and checks idempotence and meaning; returns the formatted text.
pub fn check_format_properties(name: &str, source: &str) -> String {
    let formatted = match plinth_syntax::format(source) {
        Ok(formatted) => formatted,
        Err(diagnostics) => panic!("{name}: format failed: {diagnostics:?}"),
    };
    let again = plinth_syntax::format(&formatted).unwrap_or_else(|diagnostics| {
        panic!("{name}: formatted output does not parse: {diagnostics:?}\n{formatted}")
    });
    assert_eq!(formatted, again, "{name}: formatting is not idempotent");
    let (before, _) = plinth_syntax::parse(source);
    let (after, _) = plinth_syntax::parse(&formatted);
    assert_eq!(
        render_meaning(&before),
        render_meaning(&after),
        "{name}: formatting changed the meaning"
    );
    formatted
}

/// The shared corpus schemas (`prisma/*.prisma`, `zmodel/*.zmodel`), or `None` (with a message)
/// when the corpus folder is absent.
pub fn corpus_files() -> Option<Vec<PathBuf>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if !root.is_dir() {
        println!("skipping: corpus folder {} is absent", root.display());
        return None;
    }
    let mut files = Vec::new();
    for (folder, extension) in [("prisma", "prisma"), ("zmodel", "zmodel")] {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == extension) {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}
