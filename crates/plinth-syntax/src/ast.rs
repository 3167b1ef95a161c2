//! The syntax tree of a schema file: what was written, with spans, before any meaning is given.
//!
//! The tree is lossless enough to format: every `//` and `/* */` comment is kept in
//! [`SchemaFile::comments`] with its span, and `///` doc comments are attached to the declaration,
//! field or enum value they document. Parts that failed to parse are left out or replaced by
//! [`ExprKind::Error`]; the parser reports them as diagnostics.

use plinth_diagnostics::Span;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SchemaFile {
    pub items: Vec<Item>,
    /// Every ordinary comment (`//`, `/* */`), in source order. Doc comments (`///`) are not here:
    /// they live in the `docs` of what they document.
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    /// The comment's full text, including `//` or `/* */`.
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `datasource db { provider = "sqlite" ... }`
    Datasource(ConfigBlock),
    /// `generator client { ... }`: accepted and ignored.
    Generator(ConfigBlock),
    /// `plugin name { ... }` (ZModel): accepted and ignored.
    Plugin(ConfigBlock),
    /// `model`, `type` (composite or mixin), `view`.
    Model(ModelDecl),
    Enum(EnumDecl),
    /// `import "other"` (ZModel): not supported, kept so the checker can say so.
    Import(Import),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Datasource(b) | Item::Generator(b) | Item::Plugin(b) => b.span,
            Item::Model(m) => m.span,
            Item::Enum(e) => e.span,
            Item::Import(i) => i.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: String,
    pub span: Span,
}

/// A `key = value` block: datasource, generator, plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigBlock {
    pub name: Ident,
    pub docs: Vec<DocComment>,
    pub entries: Vec<ConfigEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigEntry {
    pub key: Ident,
    pub value: Expr,
    pub docs: Vec<DocComment>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKeyword {
    Model,
    /// `type`: a composite type (Prisma, MongoDB) or a mixin (ZModel).
    Type,
    View,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelDecl {
    pub keyword: ModelKeyword,
    pub keyword_span: Span,
    /// `abstract model Base { ... }` (ZModel): fields and rules inherited by `extends`.
    pub is_abstract: bool,
    pub name: Ident,
    /// `model Post extends Base, Other` (ZModel).
    pub extends: Vec<Ident>,
    /// `model Post with Timestamps` (ZModel mixins).
    pub mixins: Vec<Ident>,
    pub docs: Vec<DocComment>,
    pub fields: Vec<Field>,
    /// Block attributes: `@@id`, `@@unique`, `@@index`, `@@map`, `@@allow`, ...
    pub attributes: Vec<Attribute>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    /// `None` when the type is missing (a parse error was reported).
    pub ty: Option<TypeRef>,
    pub attributes: Vec<Attribute>,
    pub docs: Vec<DocComment>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TypeRef {
    /// `String`, `User`, `Unsupported`.
    pub name: Ident,
    /// Arguments of `Unsupported("polygon")`; empty otherwise.
    pub args: Vec<Arg>,
    pub arity: Arity,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    Required,
    /// `Type?`
    Optional,
    /// `Type[]`
    List,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDecl {
    pub name: Ident,
    pub docs: Vec<DocComment>,
    pub values: Vec<EnumValue>,
    /// `@@map`, `@@schema`.
    pub attributes: Vec<Attribute>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumValue {
    pub name: Ident,
    /// `@map("...")`.
    pub attributes: Vec<Attribute>,
    pub docs: Vec<DocComment>,
    pub span: Span,
}

/// `@name(args)` on a field or enum value, or `@@name(args)` on a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    /// Without the `@`/`@@`; dotted names keep their dots: `db.VarChar`.
    pub name: Ident,
    pub is_block: bool,
    /// Empty both for `@id` and `@id()`.
    pub args: Vec<Arg>,
    /// Whether the attribute was written with parentheses.
    pub has_parens: bool,
    pub span: Span,
}

/// An argument: positional (`[a, b]`) or named (`fields: [a, b]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A `///` line (text after the slashes, with one leading space removed) or a `/** */` block.
#[derive(Clone, Debug, PartialEq)]
pub struct DocComment {
    pub text: String,
    pub span: Span,
}

/// One expression grammar serves attribute arguments, config values and policy conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `"text"` or `'text'`, escapes resolved.
    String(String),
    /// The number as written (`-1`, `3.14`), so no precision is lost before the checker reads it.
    Number(String),
    Bool(bool),
    Null,
    /// `this`
    This,
    /// A bare name: a field, an enum value, a function name, a referential action.
    Ident(String),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// `auth()`, `now()`, `env("URL")`, `dbgenerated("...")`, `title(sort: Desc)`.
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `object.member`: `auth().id`, `owner.org`, `future().owner`.
    Member {
        object: Box<Expr>,
        member: Ident,
    },
    /// `object?[predicate]` (some), `object![predicate]` (all), `object^[predicate]` (none).
    Collection {
        object: Box<Expr>,
        quantifier: Quantifier,
        predicate: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `(expr)`, kept so the formatter can print what was written.
    Paren(Box<Expr>),
    /// Placeholder where an expression failed to parse (already reported).
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantifier {
    /// `?[...]`: some element satisfies the predicate.
    Some,
    /// `![...]`: every element satisfies it.
    All,
    /// `^[...]`: no element satisfies it.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    /// `-` before a non-literal (a literal `-1` is a [`ExprKind::Number`]).
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    In,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::In => "in",
        }
    }
}

impl Expr {
    /// The name if this is a bare identifier.
    pub fn as_ident(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Ident(name) => Some(name),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::String(s) => Some(s),
            _ => None,
        }
    }
}

impl Attribute {
    /// The first positional argument, or the named argument `name`.
    pub fn arg(&self, name: &str) -> Option<&Arg> {
        self.args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
    }

    pub fn positional(&self, index: usize) -> Option<&Arg> {
        self.args.iter().filter(|a| a.name.is_none()).nth(index)
    }
}
