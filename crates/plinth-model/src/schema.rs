//! The validated model: the API boundary between the language and everything that uses a schema
//! (SQL, OpenAPI, docs, the server). Nothing past this point reads the syntax tree.
//!
//! Names are resolved into indices ([`ModelId`], [`EnumId`], [`FieldId`], [`RelationId`]),
//! relations are paired, defaults and referential actions are filled in the way Prisma fills
//! them, and policy conditions are typed expressions over those indices.

use plinth_diagnostics::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationId(pub usize);

/// A field of a model: the model and the field's index in [`Model::fields`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId {
    pub model: ModelId,
    pub index: usize,
}

/// A whole schema after checking. Built even when there are errors (best effort), but consumers
/// other than the checker should only use a schema whose diagnostics have no errors.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub datasource: Option<Datasource>,
    /// Concrete models only: `abstract` models and `type` mixins are folded into them, views and
    /// composite types are warned about and left out.
    pub models: Vec<Model>,
    pub enums: Vec<Enum>,
    pub relations: Vec<Relation>,
    /// The model marked `@@auth`; when none is marked, a model named `User` is used if it exists.
    pub auth_model: Option<ModelId>,
}

#[derive(Clone, Debug)]
pub struct Datasource {
    pub name: String,
    pub provider: Provider,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    Sqlite,
    Postgresql,
    /// mysql, sqlserver, mongodb, cockroachdb...: accepted (with a warning), SQL is generated for
    /// SQLite and PostgreSQL only.
    Other(String),
}

#[derive(Clone, Debug)]
pub struct Model {
    pub id: ModelId,
    pub name: String,
    /// Table name: `@@map` or the model name.
    pub db_name: String,
    /// `@@schema("...")` (PostgreSQL multi-schema).
    pub db_schema: Option<String>,
    /// `///` doc comments joined by newlines.
    pub docs: Option<String>,
    pub fields: Vec<Field>,
    /// Indices into `fields`; composite for `@@id([a, b])`. Empty only when the model has no
    /// identifier, which is an error.
    pub primary_key: PrimaryKey,
    /// Every unique constraint, both `@unique` fields and `@@unique` blocks.
    pub unique_constraints: Vec<UniqueConstraint>,
    /// `@@index` blocks (not the indexes Plinth adds behind foreign keys; SQL generation adds those).
    pub indexes: Vec<Index>,
    /// Model-level `@@allow` / `@@deny`, inherited ones included. Empty = nothing is allowed.
    pub policies: Vec<Policy>,
    /// This is the `@@auth` model.
    pub is_auth: bool,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct PrimaryKey {
    pub fields: Vec<usize>,
    /// `@@id(name: ...)` / `map: ...`.
    pub name: Option<String>,
    pub db_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct UniqueConstraint {
    pub fields: Vec<IndexField>,
    /// Prisma's client name (`name:`).
    pub name: Option<String>,
    /// Constraint name in the database (`map:`).
    pub db_name: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Index {
    pub fields: Vec<IndexField>,
    pub name: Option<String>,
    pub db_name: Option<String>,
    /// `type: Hash` etc. (PostgreSQL index method), as written.
    pub method: Option<String>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct IndexField {
    /// Index into the model's fields.
    pub field: usize,
    pub sort: Option<SortOrder>,
    /// `length:` (MySQL), kept for completeness.
    pub length: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    /// Column name: `@map` or the field name. Meaningless for relation fields.
    pub db_name: String,
    pub docs: Option<String>,
    pub ty: FieldType,
    pub arity: Arity,
    pub default: Option<DefaultValue>,
    /// `@id` on this field (also reflected in [`Model::primary_key`]).
    pub is_id: bool,
    /// `@unique` on this field (also in [`Model::unique_constraints`]).
    pub is_unique: bool,
    /// `@updatedAt`: set to now on every update.
    pub is_updated_at: bool,
    /// `@ignore`: exists in the database, not in the API.
    pub is_ignored: bool,
    /// `@db.VarChar(255)` and friends.
    pub native_type: Option<NativeType>,
    /// `@email`, `@length`, `@regex`, `@gt`...
    pub validations: Vec<Validation>,
    /// `@omit`: never returned by the API.
    pub is_omitted: bool,
    /// `@password`: hashed with argon2id on write, never returned.
    pub is_password: bool,
    /// Field-level `@allow` / `@deny`.
    pub policies: Vec<Policy>,
    pub span: Span,
    pub name_span: Span,
}

impl Field {
    pub fn is_relation(&self) -> bool {
        matches!(self.ty, FieldType::Relation(_))
    }

    pub fn is_optional(&self) -> bool {
        self.arity == Arity::Optional
    }

    pub fn is_list(&self) -> bool {
        self.arity == Arity::List
    }

    /// Stored as a column (scalar, enum or unsupported; not a relation, list relation or ignored).
    pub fn is_column(&self) -> bool {
        !self.is_relation()
    }

    /// Never sent to clients.
    pub fn is_hidden(&self) -> bool {
        self.is_omitted || self.is_password || self.is_ignored
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    Required,
    Optional,
    List,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldType {
    Scalar(ScalarType),
    Enum(EnumId),
    Relation(RelationField),
    /// `Unsupported("polygon")`: kept in the database, not exposed by the API.
    Unsupported(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    String,
    Boolean,
    Int,
    BigInt,
    Float,
    Decimal,
    DateTime,
    Json,
    Bytes,
}

impl ScalarType {
    pub const ALL: [ScalarType; 9] = [
        ScalarType::String,
        ScalarType::Boolean,
        ScalarType::Int,
        ScalarType::BigInt,
        ScalarType::Float,
        ScalarType::Decimal,
        ScalarType::DateTime,
        ScalarType::Json,
        ScalarType::Bytes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScalarType::String => "String",
            ScalarType::Boolean => "Boolean",
            ScalarType::Int => "Int",
            ScalarType::BigInt => "BigInt",
            ScalarType::Float => "Float",
            ScalarType::Decimal => "Decimal",
            ScalarType::DateTime => "DateTime",
            ScalarType::Json => "Json",
            ScalarType::Bytes => "Bytes",
        }
    }

    pub fn from_name(name: &str) -> Option<ScalarType> {
        ScalarType::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ScalarType::Int | ScalarType::BigInt | ScalarType::Float | ScalarType::Decimal
        )
    }
}

/// The relation side of a relation field (`author User @relation(...)`, `posts Post[]`).
#[derive(Clone, Debug, PartialEq)]
pub struct RelationField {
    pub target: ModelId,
    pub relation: RelationId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NativeType {
    /// Without the datasource prefix: `VarChar`, `Timestamptz`, `Uuid`.
    pub name: String,
    /// Arguments as written: `["255"]`, `["10", "2"]`.
    pub args: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    Autoincrement,
    /// `uuid()` / `uuid(7)`.
    Uuid {
        version: u8,
    },
    /// `cuid()` / `cuid(2)`.
    Cuid {
        version: u8,
    },
    /// `nanoid()` / `nanoid(length)`.
    Nanoid {
        length: Option<u32>,
    },
    /// `ulid()`.
    Ulid,
    Now,
    /// `dbgenerated("expr")`: the database computes it; the SQL is passed through.
    DbGenerated(Option<String>),
    /// `auth().field`: the caller's value, filled in by the server.
    Auth {
        field: FieldId,
    },
    Value(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Int(i64),
    /// Kept as written, so `Decimal` defaults lose no precision.
    Float(String),
    Boolean(bool),
    Enum {
        enum_id: EnumId,
        value: usize,
    },
    /// `@default([])`, `@default([1, 2])` for scalar lists.
    List(Vec<Value>),
    Null,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Validation {
    Email,
    Url,
    /// `@length(min, max)`: character counts; either may be absent.
    Length {
        min: Option<u32>,
        max: Option<u32>,
    },
    /// `@regex("...")`, in the syntax of Rust's `regex` crate (checked at compile time).
    Regex(String),
    StartsWith(String),
    EndsWith(String),
    Contains(String),
    /// `@gt` / `@gte` / `@lt` / `@lte`: the bound as written (numbers).
    Compare {
        op: CompareOp,
        value: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CompareOp {
    pub fn sql(self) -> &'static str {
        match self {
            CompareOp::Gt => ">",
            CompareOp::Gte => ">=",
            CompareOp::Lt => "<",
            CompareOp::Lte => "<=",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Enum {
    pub id: EnumId,
    pub name: String,
    /// `@@map` or the name.
    pub db_name: String,
    pub docs: Option<String>,
    pub values: Vec<EnumValue>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct EnumValue {
    pub name: String,
    /// `@map` or the name: what the database stores and the API shows.
    pub db_name: String,
    pub docs: Option<String>,
    pub span: Span,
}

/// A relation between two models, paired from its two relation fields the way Prisma pairs them.
#[derive(Clone, Debug)]
pub struct Relation {
    pub id: RelationId,
    /// `@relation("Name")`, or Prisma's default: the two model names sorted and joined by "To".
    pub name: String,
    pub kind: RelationKind,
    /// For one-to-one and one-to-many: the field whose model holds the foreign key (the side with
    /// `fields:`/`references:`). For implicit many-to-many: the side whose model sorts first.
    pub referencing: FieldId,
    /// The other side (the back-relation). For a one-to-many, this is the list field.
    pub referenced: FieldId,
    /// Foreign key columns in the referencing model (indices into its fields); empty for
    /// implicit many-to-many.
    pub fk_fields: Vec<usize>,
    /// Columns they reference in the referenced model, in the same order.
    pub references: Vec<usize>,
    pub on_delete: ReferentialAction,
    pub on_update: ReferentialAction,
    /// Whether the foreign key is optional (all its fields optional).
    pub is_optional: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelationKind {
    OneToOne,
    OneToMany,
    /// Implicit many-to-many: Prisma's join table `_<Name>` with columns `A` and `B`, where `A`
    /// references the model whose name sorts first.
    ManyToMany {
        join_table: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReferentialAction {
    Cascade,
    Restrict,
    NoAction,
    SetNull,
    SetDefault,
}

impl ReferentialAction {
    pub fn sql(self) -> &'static str {
        match self {
            ReferentialAction::Cascade => "CASCADE",
            ReferentialAction::Restrict => "RESTRICT",
            ReferentialAction::NoAction => "NO ACTION",
            ReferentialAction::SetNull => "SET NULL",
            ReferentialAction::SetDefault => "SET DEFAULT",
        }
    }
}

/// One `@@allow` / `@@deny` (or field-level `@allow` / `@deny`) rule.
///
/// Semantics (ZenStack's): an operation is permitted when no `deny` rule for it holds and at
/// least one `allow` rule for it holds. No rule at all = denied.
#[derive(Clone, Debug)]
pub struct Policy {
    pub effect: Effect,
    pub operations: Operations,
    pub condition: PolicyExpr,
    /// The rule as written, for messages and docs.
    pub source: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A set of operations: `'create,update'`, `'all'`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Operations {
    pub create: bool,
    pub read: bool,
    pub update: bool,
    pub delete: bool,
}

impl Operations {
    pub const ALL: Operations = Operations {
        create: true,
        read: true,
        update: true,
        delete: true,
    };

    pub fn contains(self, operation: Operation) -> bool {
        match operation {
            Operation::Create => self.create,
            Operation::Read => self.read,
            Operation::Update => self.update,
            Operation::Delete => self.delete,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Read,
    Update,
    Delete,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::Create,
        Operation::Read,
        Operation::Update,
        Operation::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Read => "read",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }
}

/// A type-checked policy condition. Field references are resolved; every node's type is known.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyExpr {
    Literal(Value),
    /// A path from a root through fields: `owner.org.name`, `auth().role`, `future().owner`.
    /// An empty `fields` is the root itself: `this`, `auth()`.
    Path(Path),
    Not(Box<PolicyExpr>),
    And(Box<PolicyExpr>, Box<PolicyExpr>),
    Or(Box<PolicyExpr>, Box<PolicyExpr>),
    Compare {
        op: ComparisonOp,
        lhs: Box<PolicyExpr>,
        rhs: Box<PolicyExpr>,
    },
    /// `x in [a, b]` or `x in listField`.
    In {
        lhs: Box<PolicyExpr>,
        rhs: Box<PolicyExpr>,
    },
    Array(Vec<PolicyExpr>),
    /// `relation?[pred]` / `![pred]` / `^[pred]`: `collection` is a path ending in a to-many
    /// relation; inside `predicate`, [`PathRoot::Scope`] paths start at the collection's element.
    Collection {
        quantifier: Quantifier,
        collection: Path,
        predicate: Box<PolicyExpr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComparisonOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantifier {
    Some,
    All,
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub root: PathRoot,
    /// Fields walked from the root, each in the model reached by the previous step.
    pub fields: Vec<FieldId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// The row the rule is about, or inside a collection predicate the element being tested.
    /// `this` and bare field names start here.
    Scope,
    /// `future()`: the row as it will be after an update (only in `update` rules).
    Future,
    /// `auth()`: the caller, a row of the auth model, or null when anonymous.
    Auth,
}

impl Schema {
    pub fn model(&self, id: ModelId) -> &Model {
        &self.models[id.0]
    }

    pub fn enum_(&self, id: EnumId) -> &Enum {
        &self.enums[id.0]
    }

    pub fn relation(&self, id: RelationId) -> &Relation {
        &self.relations[id.0]
    }

    pub fn field(&self, id: FieldId) -> &Field {
        &self.models[id.model.0].fields[id.index]
    }

    pub fn model_by_name(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn enum_by_name(&self, name: &str) -> Option<&Enum> {
        self.enums.iter().find(|e| e.name == name)
    }

    pub fn auth(&self) -> Option<&Model> {
        self.auth_model.map(|id| self.model(id))
    }
}

impl Model {
    pub fn field_by_name(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Fields stored as columns, in declaration order.
    pub fn columns(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_column())
    }

    /// Whether any rule allows any operation: models without one are not exposed by the API.
    pub fn has_allow_rule(&self) -> bool {
        self.policies.iter().any(|p| p.effect == Effect::Allow)
    }

    pub fn primary_key_fields(&self) -> impl Iterator<Item = &Field> {
        self.primary_key.fields.iter().map(|&i| &self.fields[i])
    }
}
