//! Rules of the `schema` category: Prisma, ZenStack (`.zmodel`) and Plinth schemas, read through
//! Plinth's own compiler into a [`Schema`].
//!
//! What a schema means for access depends on who runs it: a `.plinth` schema is served by
//! Plinth (deny by default, `@@allow` opens operations, foreign keys get indexes), a `.zmodel`
//! with policies by ZenStack's enhanced client (same policy semantics), and a schema without any
//! policy by a plain ORM client that returns every column and checks nothing. Each rule says in
//! its docs which of these it applies to.
//!
//! A model with a compile error inside it is skipped by the policy rules: a rule the compiler
//! could not read is missing from the model, and judging the rest would be judging half of it.

use super::money::{MONEY_WORDS, NOT_MONEY_WORDS};
use crate::input::schema::SchemaDoc;
use crate::registry::{Category, RuleInfo};
use crate::{Sink, Workspace};
use plinth_diagnostics::Severity;
use plinth_model::{
    ComparisonOp, DefaultValue, Effect, Field, FieldId, FieldType, Model, ModelId, Operation, Path,
    PathRoot, Policy, PolicyExpr, Provider, RelationKind, ScalarType, Schema, Value,
};
use std::collections::HashSet;

pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "model-without-policy",
        severity: Severity::Warning,
        category: Category::Schema,
        summary: "a model has no access policy (unreachable, or forgotten), or a schema declares no access control at all",
    },
    RuleInfo {
        id: "allow-all-true",
        severity: Severity::Error,
        category: Category::Schema,
        summary: "`@@allow(\"all\", true)` or another unconditional rule lets anyone update or delete every row",
    },
    RuleInfo {
        id: "password-not-protected",
        severity: Severity::Error,
        category: Category::Schema,
        summary: "a password, token or secret field without `@password`/`@omit` is returned by the API",
    },
    RuleInfo {
        id: "relation-without-index",
        severity: Severity::Warning,
        category: Category::Schema,
        summary: "the foreign key fields of a relation have no index (Prisma Migrate creates none)",
    },
    RuleInfo {
        id: "policy-on-writable-field",
        severity: Severity::Error,
        category: Category::Schema,
        summary: "an access rule depends on a field the constrained user can change themselves",
    },
    RuleInfo {
        id: "float-for-money",
        severity: Severity::Error,
        category: Category::Schema,
        summary: "a money field (price, amount, balance, …) is a `Float`",
    },
    RuleInfo {
        id: "model-without-timestamps",
        severity: Severity::Note,
        category: Category::Schema,
        summary: "a model has no field recording when each row was created",
    },
];

pub(crate) fn check(workspace: &Workspace, sink: &mut Sink) {
    for doc in &workspace.schemas {
        let Some(file) = workspace.files.get(doc.file) else {
            continue;
        };
        let context = Context::new(doc, &file.name, &file.text);
        model_without_policy(&context, sink);
        allow_all_true(&context, sink);
        password_not_protected(&context, sink);
        relation_without_index(&context, sink);
        writable_auth_fields(&context, sink);
        relations_moved_by_update(&context, sink);
        float_for_money(&context, sink);
        model_without_timestamps(&context, sink);
    }
}

/// Who runs the schema, from its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    /// `.plinth`: served by Plinth.
    Plinth,
    /// `.zmodel`: ZenStack.
    ZenStack,
    /// `.prisma`: Prisma Client and Prisma Migrate.
    Prisma,
}

struct Context<'a> {
    doc: &'a SchemaDoc,
    schema: &'a Schema,
    text: &'a str,
    flavour: Flavour,
    /// The schema writes access policies, so they decide what the API exposes.
    policies: bool,
    /// Models with a compile error inside them.
    broken: Vec<bool>,
}

impl<'a> Context<'a> {
    fn new(doc: &'a SchemaDoc, name: &str, text: &'a str) -> Context<'a> {
        let lower = name.to_ascii_lowercase();
        let flavour = if lower.ends_with(".plinth") {
            Flavour::Plinth
        } else if lower.ends_with(".zmodel") {
            Flavour::ZenStack
        } else {
            Flavour::Prisma
        };
        let schema = &doc.schema;
        let broken = schema
            .models
            .iter()
            .map(|model| {
                doc.diagnostics.iter().any(|d| {
                    d.severity == Severity::Error
                        && d.span.start >= model.span.start
                        && d.span.start < model.span.end
                })
            })
            .collect();
        Context {
            doc,
            schema,
            text,
            flavour,
            policies: doc.has_policies(),
            broken,
        }
    }

    fn file(&self) -> crate::FileId {
        self.doc.file
    }

    /// Models whose policies can be judged: no compile error inside them.
    fn sound_models(&self) -> impl Iterator<Item = &'a Model> + '_ {
        self.schema
            .models
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.broken.get(*i).copied().unwrap_or(true))
            .map(|(_, model)| model)
    }

    fn field(&self, id: FieldId) -> Option<&'a Field> {
        self.schema.models.get(id.model.0)?.fields.get(id.index)
    }

    fn model(&self, id: ModelId) -> Option<&'a Model> {
        self.schema.models.get(id.0)
    }
}

// ---------------------------------------------------------------------------------------------
// model-without-policy

fn model_without_policy(context: &Context, sink: &mut Sink) {
    if context.schema.models.is_empty() {
        return;
    }
    if !context.policies {
        // A `.plinth` schema without policies exposes nothing: Plinth's own compiler says so
        // for every model, and the API is simply empty.
        if context.flavour == Flavour::Plinth {
            return;
        }
        let span = context
            .schema
            .datasource
            .as_ref()
            .map(|d| d.span)
            .or_else(|| context.schema.models.first().map(|m| m.name_span))
            .unwrap_or_default();
        let count = context.schema.models.len();
        let mut finding = Sink::finding(
            "model-without-policy",
            context.file(),
            span,
            format!(
                "no model in this schema declares an access policy, so who may read and write \
                 its {count} model{} is decided in application code",
                if count == 1 { "" } else { "s" }
            ),
            "Make sure every route checks the caller before it reads or writes these models, or \
             declare the rules in the schema with `@@allow`/`@@deny` (Plinth, ZenStack).",
        );
        finding.severity = Severity::Note;
        sink.push(finding);
        return;
    }
    for model in context.sound_models() {
        if !model.policies.is_empty() {
            continue;
        }
        sink.report(
            "model-without-policy",
            context.file(),
            model.name_span,
            format!(
                "model `{}` has no access policy, so the API does not expose it",
                model.name
            ),
            format!(
                "Add `@@allow` rules for the operations clients need, or `@@deny(\"all\", true)` to \
                 state that `{}` is only used by the server.",
                model.name
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// allow-all-true

fn allow_all_true(context: &Context, sink: &mut Sink) {
    for model in context.sound_models() {
        // Operations some deny rule restricts; `auth() == null` only keeps out anonymous callers.
        let mut denied = [false; 4];
        let mut anonymous_denied = [false; 4];
        for policy in model.policies.iter().filter(|p| p.effect == Effect::Deny) {
            for (i, operation) in Operation::ALL.into_iter().enumerate() {
                if policy.operations.contains(operation) {
                    if is_anonymous_check(&policy.condition) {
                        anonymous_denied[i] = true;
                    } else {
                        denied[i] = true;
                    }
                }
            }
        }
        for policy in model.policies.iter().filter(|p| {
            p.effect == Effect::Allow && p.condition == PolicyExpr::Literal(Value::Boolean(true))
        }) {
            let open: Vec<Operation> = [Operation::Update, Operation::Delete]
                .into_iter()
                .filter(|&op| policy.operations.contains(op) && !denied[op_index(op)])
                .collect();
            if open.is_empty() {
                continue;
            }
            let who = if open.iter().all(|&op| anonymous_denied[op_index(op)]) {
                "any signed-in user"
            } else {
                "anyone, even without signing in,"
            };
            let what = open
                .iter()
                .map(|op| op.as_str())
                .collect::<Vec<_>>()
                .join(" and ");
            sink.report(
                "allow-all-true",
                context.file(),
                policy.span,
                format!(
                    "`{}` lets {who} {what} every `{}`",
                    policy.source, model.name
                ),
                format!(
                    "Allow {what} only under a condition on the caller (`@@allow(\"{}\", auth() == \
                     owner)`), and keep `true` for what is public (`@@allow(\"read\", true)`).",
                    open.iter()
                        .map(|op| op.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            );
        }
    }
}

fn op_index(operation: Operation) -> usize {
    Operation::ALL
        .iter()
        .position(|&o| o == operation)
        .unwrap_or(0)
}

/// `auth() == null` (either way round).
fn is_anonymous_check(expr: &PolicyExpr) -> bool {
    let PolicyExpr::Compare {
        op: ComparisonOp::Eq,
        lhs,
        rhs,
    } = expr
    else {
        return false;
    };
    let is_auth = |e: &PolicyExpr| matches!(e, PolicyExpr::Path(Path { root: PathRoot::Auth, fields }) if fields.is_empty());
    let is_null = |e: &PolicyExpr| matches!(e, PolicyExpr::Literal(Value::Null));
    (is_auth(lhs) && is_null(rhs)) || (is_null(lhs) && is_auth(rhs))
}

// ---------------------------------------------------------------------------------------------
// password-not-protected

/// What kind of secret a field or column name says it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SecretKind {
    /// A password or its hash: never to be returned, not even to its owner.
    Password,
    /// A bearer token, API key or shared secret.
    Credential,
}

/// Splits `passwordHash`, `password_hash`, `API-Key` into lowercase words.
pub(crate) fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_lowercase() && chars[i - 1].is_ascii_uppercase()));
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a field or column name says it holds a secret. Deliberately narrow: the last word
/// decides (`passwordResetToken` is a token, `tokenType` and `passwordChangedAt` are not), a
/// hashed token is not a credential (`tokenHash`), and pagination tokens are not secrets.
pub(crate) fn secret_kind(name: &str) -> Option<SecretKind> {
    let words = words(name);
    let last = words.last()?.as_str();
    let has = |w: &str| words.iter().any(|x| x == w);
    let password_word = |w: &str| matches!(w, "password" | "passwd" | "passcode" | "pwd");
    let is_password = words.iter().any(|w| password_word(w));
    if is_password
        && (password_word(last) || matches!(last, "hash" | "hashed" | "digest" | "encrypted"))
    {
        return Some(SecretKind::Password);
    }
    if has("hash") || has("hashed") || has("digest") || has("encrypted") || has("public") {
        return None;
    }
    let harmless = [
        "page",
        "cursor",
        "sync",
        "continuation",
        "pagination",
        "next",
    ];
    if harmless.iter().any(|w| has(w)) {
        return None;
    }
    let previous = words.len().checked_sub(2).map(|i| words[i].as_str());
    let credential = match last {
        "token" | "secret" | "apikey" => true,
        "key" => matches!(
            previous,
            Some("api" | "secret" | "private" | "access" | "signing" | "encryption" | "client")
        ),
        _ => false,
    };
    credential.then_some(SecretKind::Credential)
}

fn password_not_protected(context: &Context, sink: &mut Sink) {
    // A `.plinth` schema without policies exposes nothing.
    if context.flavour == Flavour::Plinth && !context.policies {
        return;
    }
    for model in context.sound_models() {
        let readable = model
            .policies
            .iter()
            .any(|p| p.effect == Effect::Allow && p.operations.read);
        if context.policies && !readable {
            continue;
        }
        for field in &model.fields {
            let text_like = matches!(
                field.ty,
                FieldType::Scalar(ScalarType::String | ScalarType::Bytes)
            );
            if !text_like || field.is_hidden() {
                continue;
            }
            let Some(kind) = secret_kind(&field.name) else {
                continue;
            };
            // A field-level read rule is someone deciding who may see it.
            if field
                .policies
                .iter()
                .any(|p| p.operations.contains(Operation::Read))
            {
                continue;
            }
            let name = format!("{}.{}", model.name, field.name);
            if !context.policies {
                // Plain Prisma: no API to speak of, but Prisma Client returns every scalar field
                // unless a query leaves it out. Tokens there are the adapters' business (and
                // the SQL rules'); a password hash reaching a response is the classic leak.
                if kind != SecretKind::Password || !is_account_model(model) {
                    continue;
                }
                let accessor = lower_first(&model.name);
                let mut finding = Sink::finding(
                    "password-not-protected",
                    context.file(),
                    field.name_span,
                    format!(
                        "`{name}` is returned by every query that does not leave it out, so a \
                         handler that sends the row leaks it"
                    ),
                    format!(
                        "Leave it out by default (`new PrismaClient({{ omit: {{ {accessor}: {{ {}: \
                         true }} }} }})`) and select it only where the password is checked.",
                        field.name
                    ),
                );
                finding.severity = Severity::Warning;
                sink.push(finding);
                continue;
            }
            let (message, help) = match kind {
                SecretKind::Password => (
                    format!(
                        "`{name}` is readable through the API: it has neither `@password` nor \
                         `@omit`"
                    ),
                    "Mark it `@password @omit`: it is then hashed on write and never returned."
                        .to_string(),
                ),
                SecretKind::Credential => (
                    format!(
                        "`{name}` looks like a credential and is readable through the API: it has \
                         no `@omit`"
                    ),
                    "Mark it `@omit` so that it is never returned; if it is checked on sign-in, \
                     store a hash of it instead."
                        .to_string(),
                ),
            };
            sink.report(
                "password-not-protected",
                context.file(),
                field.name_span,
                message,
                help,
            );
        }
    }
}

/// A model that holds sign-in data: its name says user or account, or it has an email or
/// username. Other passwords (a share link's) are product features the owner is shown.
fn is_account_model(model: &Model) -> bool {
    let name_words = words(&model.name);
    let account_name = name_words.iter().any(|w| {
        matches!(
            w.as_str(),
            "user"
                | "users"
                | "account"
                | "accounts"
                | "member"
                | "admin"
                | "customer"
                | "credential"
        )
    });
    account_name
        || model.fields.iter().any(|f| {
            words(&f.name)
                .iter()
                .any(|w| matches!(w.as_str(), "email" | "username" | "login"))
        })
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// relation-without-index

fn relation_without_index(context: &Context, sink: &mut Sink) {
    // Plinth's DDL indexes every foreign key that no key or index already leads with.
    if context.flavour == Flavour::Plinth {
        return;
    }
    let relation_mode_prisma = relation_mode_is_prisma(context.text);
    let judged = match context.schema.datasource.as_ref().map(|d| &d.provider) {
        // InnoDB indexes every foreign key itself; with relationMode = "prisma" there is none.
        Some(Provider::Other(name)) if name.eq_ignore_ascii_case("mysql") => relation_mode_prisma,
        // MongoDB has no foreign keys; CockroachDB and others are not judged.
        Some(Provider::Other(name)) => name.eq_ignore_ascii_case("sqlserver"),
        _ => true,
    };
    if !judged {
        return;
    }
    for relation in &context.schema.relations {
        if matches!(relation.kind, RelationKind::ManyToMany { .. }) || relation.fk_fields.is_empty()
        {
            continue;
        }
        let Some(model) = context.model(relation.referencing.model) else {
            continue;
        };
        let Some(relation_field) = model.fields.get(relation.referencing.index) else {
            continue;
        };
        if covered(model, &relation.fk_fields) {
            continue;
        }
        let Some(fk_names) = relation
            .fk_fields
            .iter()
            .map(|&i| model.fields.get(i).map(|f| f.name.as_str()))
            .collect::<Option<Vec<&str>>>()
        else {
            continue;
        };
        let columns = fk_names.join(", ");
        let why = if relation_mode_prisma {
            "with `relationMode = \"prisma\"` there is no foreign key either, and every lookup \
             and cascade of this relation scans the table"
        } else {
            "PostgreSQL does not index foreign keys, and Prisma Migrate adds no index for them"
        };
        let mut finding = Sink::finding(
            "relation-without-index",
            context.file(),
            relation_field.name_span,
            format!(
                "relation `{}.{}` has no index on its foreign key `{columns}`",
                model.name, relation_field.name
            ),
            format!("Add `@@index([{columns}])` to `{}`: {why}.", model.name),
        );
        if let Some(first) = relation
            .fk_fields
            .first()
            .and_then(|&i| model.fields.get(i))
        {
            finding = finding.with_related(
                context.file(),
                first.name_span,
                "the foreign key field is declared here",
            );
        }
        sink.push(finding);
    }
}

/// `relationMode = "prisma"` in the datasource block.
fn relation_mode_is_prisma(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.split("//").next().unwrap_or("");
        let Some(rest) = line.trim().strip_prefix("relationMode") else {
            return false;
        };
        let value = rest.trim_start().trim_start_matches('=').trim();
        value.trim_matches(|c| c == '"' || c == '\'') == "prisma"
    })
}

/// The primary key, a unique constraint or an index starts with a foreign key column. For a
/// composite key one of its columns is enough (`@@index([ruleId])` serves the key
/// `[ruleId, accountId]` well: each part is an id of its own).
fn covered(model: &Model, fields: &[usize]) -> bool {
    let leads = |key: &[usize]| key.first().is_some_and(|k| fields.contains(k));
    leads(&model.primary_key.fields)
        || model
            .unique_constraints
            .iter()
            .any(|u| leads(&u.fields.iter().map(|f| f.field).collect::<Vec<_>>()))
        || model
            .indexes
            .iter()
            .any(|i| leads(&i.fields.iter().map(|f| f.field).collect::<Vec<_>>()))
}

// ---------------------------------------------------------------------------------------------
// policy-on-writable-field, part one: fields of the auth model that rules trust (`auth().role`)
// but that users can set on their own row.

fn writable_auth_fields(context: &Context, sink: &mut Sink) {
    if !context.policies {
        return;
    }
    let Some(auth_id) = context.schema.auth_model else {
        return;
    };
    let Some(auth) = context.model(auth_id) else {
        return;
    };
    if context.broken.get(auth_id.0).copied().unwrap_or(true) {
        return;
    }
    // Every auth-model column that some rule reads through `auth()`, with the first rule.
    let mut trusted: Vec<(usize, &Policy, usize)> = Vec::new();
    for model in context.sound_models() {
        let field_policies = model.fields.iter().flat_map(|f| f.policies.iter());
        for policy in model.policies.iter().chain(field_policies) {
            visit_paths(&policy.condition, false, &mut |path, _| {
                if path.root != PathRoot::Auth {
                    return;
                }
                let Some(&first) = path.fields.first() else {
                    return;
                };
                for column in auth_columns(context, auth, first) {
                    match trusted.iter_mut().find(|(c, _, _)| *c == column) {
                        Some(entry) => entry.2 += 1,
                        None => trusted.push((column, policy, 1)),
                    }
                }
            });
        }
    }
    for (column, policy, uses) in trusted {
        let Some(field) = auth.fields.get(column) else {
            continue;
        };
        if is_server_filled(context, auth, column) {
            continue;
        }
        let target = FieldId {
            model: auth_id,
            index: column,
        };
        let self_update = self_update_rule(auth, auth_id, target);
        let open_create = open_create_rule(auth, target);
        if self_update.is_none() && open_create.is_none() {
            continue;
        }
        let how = match (self_update.is_some(), open_create.is_some()) {
            (true, true) => "users can change it on their own row, and anyone who signs up sets it",
            (true, false) => "users can change it on their own row",
            _ => "anyone who signs up sets it",
        };
        let rules = if uses == 1 {
            "a rule".to_string()
        } else {
            format!("{uses} rules")
        };
        let mut finding = Sink::finding(
            "policy-on-writable-field",
            context.file(),
            field.name_span,
            format!(
                "`{}.{}` decides access (`auth().{}` in {rules}), but {how}",
                auth.name, field.name, field.name
            ),
            format!(
                "Keep users from writing `{name}`: add `@allow(\"update\", <who may change it>)` to \
                 the field{create}.",
                name = field.name,
                create = if open_create.is_some() {
                    format!(
                        ", and fix its value on sign-up (`@@allow(\"create\", {} == {})`)",
                        field.name,
                        default_literal(context.schema, field)
                    )
                } else {
                    String::new()
                }
            ),
        )
        .with_related(
            context.file(),
            policy.span,
            format!("`auth().{}` is trusted here", field.name),
        );
        if let Some(rule) = self_update {
            finding = finding.with_related(
                context.file(),
                rule.span,
                "users may update their own row here",
            );
        }
        if let Some(rule) = open_create {
            finding = finding.with_related(
                context.file(),
                rule.span,
                format!("anyone may create a `{}` here", auth.name),
            );
        }
        sink.push(finding);
    }
}

/// The field's default as a policy literal (`USER`), or a placeholder.
fn default_literal(schema: &Schema, field: &Field) -> String {
    match &field.default {
        Some(DefaultValue::Value(Value::Enum { enum_id, value })) => schema
            .enums
            .get(enum_id.0)
            .and_then(|e| e.values.get(*value))
            .map_or_else(|| "<its default>".to_string(), |v| v.name.clone()),
        Some(DefaultValue::Value(Value::Boolean(b))) => b.to_string(),
        Some(DefaultValue::Value(Value::Int(n))) => n.to_string(),
        Some(DefaultValue::Value(Value::String(text))) => format!("{text:?}"),
        _ => "<its default>".to_string(),
    }
}

/// The auth-model columns behind `auth().<field>`: the field itself, or for a to-one relation
/// the foreign key the auth model holds (`auth().org` → `orgId`). A to-many relation
/// (`auth().memberships`) is not on the user's own row.
fn auth_columns(context: &Context, auth: &Model, first: FieldId) -> Vec<usize> {
    let Some(field) = auth.fields.get(first.index) else {
        return Vec::new();
    };
    match &field.ty {
        FieldType::Relation(relation_field) => {
            let Some(relation) = context.schema.relations.get(relation_field.relation.0) else {
                return Vec::new();
            };
            if relation.referencing == first {
                relation.fk_fields.clone()
            } else {
                Vec::new()
            }
        }
        _ => vec![first.index],
    }
}

/// Columns no client writes: keys, generated and timestamp defaults, `@updatedAt`, and in Plinth
/// `@default(auth().…)`.
fn is_server_filled(context: &Context, model: &Model, column: usize) -> bool {
    let Some(field) = model.fields.get(column) else {
        return true;
    };
    let generated = matches!(
        field.default,
        Some(
            DefaultValue::Autoincrement
                | DefaultValue::Uuid { .. }
                | DefaultValue::Cuid { .. }
                | DefaultValue::Nanoid { .. }
                | DefaultValue::Ulid
                | DefaultValue::Now
        )
    );
    let plinth_auth_default = context.flavour == Flavour::Plinth
        && matches!(field.default, Some(DefaultValue::Auth { .. }));
    field.is_id
        || model.primary_key.fields.contains(&column)
        || field.is_updated_at
        || field.is_ignored
        || generated
        || plinth_auth_default
}

/// An `update` rule of the auth model that lets users update their own row (`auth() == this`)
/// without itself depending on `target`, when nothing else keeps `target` from changing.
fn self_update_rule(auth: &Model, auth_id: ModelId, target: FieldId) -> Option<&Policy> {
    let field = auth.fields.get(target.index)?;
    // Field-level update rules decide who may change the field.
    let field_rules: Vec<&Policy> = field
        .policies
        .iter()
        .filter(|p| p.operations.update)
        .collect();
    if field_rules.iter().any(|p| p.effect == Effect::Deny) {
        return None;
    }
    let grants_self = |p: &Policy| {
        p.effect == Effect::Allow
            && p.operations.update
            && is_self_check(&p.condition, auth, auth_id)
            && !references(&p.condition, target)
    };
    if !field_rules.is_empty() && !field_rules.iter().any(|p| grants_self(p)) {
        return None;
    }
    let protected = auth.policies.iter().any(|p| {
        p.effect == Effect::Deny
            && p.operations.update
            && (references(&p.condition, target)
                || p.condition == PolicyExpr::Literal(Value::Boolean(true)))
    });
    if protected {
        return None;
    }
    auth.policies.iter().find(|p| grants_self(p))
}

/// A `create` rule of the auth model that needs no privilege (`true`, `auth() == null`) and
/// says nothing about `target`, when no deny rule constrains `target` on create.
fn open_create_rule(auth: &Model, target: FieldId) -> Option<&Policy> {
    let constrained = auth.policies.iter().any(|p| {
        p.effect == Effect::Deny && p.operations.create && references(&p.condition, target)
    });
    if constrained {
        return None;
    }
    auth.policies.iter().find(|p| {
        if p.effect != Effect::Allow || !p.operations.create || references(&p.condition, target) {
            return false;
        }
        let mut privileged = false;
        visit_paths(&p.condition, false, &mut |path, _| {
            if path.root == PathRoot::Auth && !path.fields.is_empty() {
                privileged = true;
            }
        });
        !privileged
    })
}

/// `auth() == this` or `auth().id == id` (either way round), reachable through `&&`/`||`.
fn is_self_check(expr: &PolicyExpr, auth: &Model, auth_id: ModelId) -> bool {
    match expr {
        PolicyExpr::And(a, b) | PolicyExpr::Or(a, b) => {
            is_self_check(a, auth, auth_id) || is_self_check(b, auth, auth_id)
        }
        PolicyExpr::Compare {
            op: ComparisonOp::Eq,
            lhs,
            rhs,
        } => {
            let (PolicyExpr::Path(left), PolicyExpr::Path(right)) = (lhs.as_ref(), rhs.as_ref())
            else {
                return false;
            };
            let pair = |a: &Path, s: &Path| {
                if a.root != PathRoot::Auth || s.root != PathRoot::Scope {
                    return false;
                }
                match (a.fields.as_slice(), s.fields.as_slice()) {
                    ([], []) => true,
                    ([x], [y]) => {
                        x == y && x.model == auth_id && auth.primary_key.fields == [x.index]
                    }
                    _ => false,
                }
            };
            pair(left, right) || pair(right, left)
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// policy-on-writable-field, part two: an update rule that checks a to-one relation of the row
// (`auth() == owner`, `org.members?[...]`) before the update only, so that whoever passes it can
// point the row at another owner or tenant.

fn relations_moved_by_update(context: &Context, sink: &mut Sink) {
    if !context.policies {
        return;
    }
    for model in context.sound_models() {
        let mut reported: HashSet<usize> = HashSet::new();
        for policy in model
            .policies
            .iter()
            .filter(|p| p.effect == Effect::Allow && p.operations.update)
        {
            let mut relations: Vec<usize> = Vec::new();
            visit_paths(&policy.condition, false, &mut |path, in_predicate| {
                if in_predicate || path.root != PathRoot::Scope {
                    return;
                }
                if let Some(relation) = path
                    .fields
                    .first()
                    .and_then(|&first| owning_relation(context, model, first))
                {
                    if !relations.contains(&relation) {
                        relations.push(relation);
                    }
                }
            });
            for relation_index in relations {
                if reported.contains(&relation_index) {
                    continue;
                }
                let Some(relation) = context.schema.relations.get(relation_index) else {
                    continue;
                };
                if kept_on_update(context, model, relation) {
                    continue;
                }
                reported.insert(relation_index);
                let Some(relation_field) = context.field(relation.referencing) else {
                    continue;
                };
                let name = &relation_field.name;
                sink.push(
                    Sink::finding(
                        "policy-on-writable-field",
                        context.file(),
                        policy.span,
                        format!(
                            "`{}` checks `{name}` only before the update, so whoever passes it can \
                             move the `{}` to another `{name}`",
                            policy.source, model.name
                        ),
                        format!(
                            "Add `@@deny(\"update\", future().{name} != {name})` to `{}` (or check \
                             `future().{name}` in this rule).",
                            model.name
                        ),
                    )
                    .with_related(
                        context.file(),
                        relation_field.name_span,
                        "the relation is declared here",
                    ),
                );
            }
        }
    }
}

/// The relation (index into `schema.relations`) whose foreign key `model` holds, reached from
/// its first path step: the relation field itself or one of its foreign key fields.
fn owning_relation(context: &Context, model: &Model, first: FieldId) -> Option<usize> {
    if first.model != model.id {
        return None;
    }
    let field = model.fields.get(first.index)?;
    context.schema.relations.iter().position(|relation| {
        relation.referencing.model == model.id
            && !relation.fk_fields.is_empty()
            && match field.ty {
                FieldType::Relation(ref r) => {
                    relation.referencing == first && r.relation == relation.id
                }
                _ => relation.fk_fields.contains(&first.index),
            }
    })
}

/// Whether an update cannot change the relation: a rule checks `future().<relation>`, a
/// field-level update rule guards it, or a client cannot write its foreign key at all.
fn kept_on_update(context: &Context, model: &Model, relation: &plinth_model::Relation) -> bool {
    let guarded_fields: Vec<usize> = std::iter::once(relation.referencing.index)
        .chain(relation.fk_fields.iter().copied())
        .collect();
    let future_check = model
        .policies
        .iter()
        .filter(|p| p.operations.update)
        .any(|p| {
            let mut found = false;
            visit_paths(&p.condition, false, &mut |path, _| {
                if path.root == PathRoot::Future
                    && path
                        .fields
                        .first()
                        .is_some_and(|f| f.model == model.id && guarded_fields.contains(&f.index))
                {
                    found = true;
                }
            });
            found
        });
    let field_rule = guarded_fields.iter().any(|&i| {
        model
            .fields
            .get(i)
            .is_some_and(|f| f.policies.iter().any(|p| p.operations.update))
    });
    let unwritable = relation
        .fk_fields
        .iter()
        .all(|&i| is_server_filled(context, model, i));
    future_check || field_rule || unwritable
}

// ---------------------------------------------------------------------------------------------
// float-for-money (the SQL rule `money-as-float` judges SQL tables; this one judges models)

fn float_for_money(context: &Context, sink: &mut Sink) {
    for model in &context.schema.models {
        for field in &model.fields {
            let native_float = field.native_type.as_ref().is_some_and(|n| {
                matches!(
                    n.name.to_ascii_lowercase().as_str(),
                    "doubleprecision" | "real" | "float" | "double"
                )
            });
            let float = matches!(field.ty, FieldType::Scalar(ScalarType::Float))
                && (field.native_type.is_none() || native_float);
            if !float {
                continue;
            }
            let words = words(&field.name);
            let money: Vec<&String> = words
                .iter()
                .filter(|w| MONEY_WORDS.contains(&w.as_str()))
                .collect();
            // `total` alone is as often a count or a duration as a sum of money.
            if money.is_empty()
                || money.iter().all(|w| *w == "total")
                || words.iter().any(|w| NOT_MONEY_WORDS.contains(&w.as_str()))
            {
                continue;
            }
            sink.report(
                "float-for-money",
                context.file(),
                field.name_span,
                format!(
                    "money field `{}.{}` is a `Float`, a binary floating-point number",
                    model.name, field.name
                ),
                "Use `Decimal` with a scale (`Decimal @db.Decimal(12, 2)`), or an `Int` count of \
                 the smallest unit (cents), so that sums and comparisons are exact.",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// model-without-timestamps (the SQL rule `missing-timestamps` judges SQL tables)

fn model_without_timestamps(context: &Context, sink: &mut Sink) {
    // Only where the schema keeps timestamps elsewhere: then a model without one breaks its own
    // convention. A schema with none at all made a choice this rule cannot second-guess.
    let convention = context
        .schema
        .models
        .iter()
        .any(|m| m.fields.iter().any(records_creation));
    if !convention {
        return;
    }
    for model in &context.schema.models {
        let columns: Vec<(usize, &Field)> = model.columns().collect();
        if columns.is_empty()
            || columns
                .iter()
                .any(|(_, f)| records_creation(f) || f.is_updated_at)
        {
            continue;
        }
        let foreign_keys: Vec<usize> = context
            .schema
            .relations
            .iter()
            .filter(|r| r.referencing.model == model.id)
            .flat_map(|r| r.fk_fields.iter().copied())
            .collect();
        let is_key = |i: &usize| foreign_keys.contains(i) || model.primary_key.fields.contains(i);
        // A model whose key (or a unique foreign key) points at its parent extends it one-to-one
        // (settings, a profile): the parent row records the creation.
        let extension = (!model.primary_key.fields.is_empty()
            && model
                .primary_key
                .fields
                .iter()
                .all(|i| foreign_keys.contains(i)))
            || model.unique_constraints.iter().any(|u| {
                !u.fields.is_empty() && u.fields.iter().all(|f| foreign_keys.contains(&f.field))
            })
            || context
                .schema
                .relations
                .iter()
                .any(|r| r.kind == RelationKind::OneToOne && r.referenced.model == model.id);
        // Join models, and small reference data (a tag, a category, a warehouse: a few names
        // and codes), have no life of their own worth a timestamp.
        let data_columns = columns.iter().filter(|(i, _)| !is_key(i)).count();
        if extension || data_columns <= 3 {
            continue;
        }
        sink.report(
            "model-without-timestamps",
            context.file(),
            model.name_span,
            format!(
                "model `{}` has no field recording when a row was created",
                model.name
            ),
            "Add `createdAt DateTime @default(now())` (and `updatedAt DateTime @updatedAt` if rows \
             change), so support, audits and data fixes can tell when each row appeared.",
        );
    }
}

/// `createdAt DateTime @default(now())`, `inserted_at`, `dateCreated`, `timestamp`, or any
/// `DateTime` with `@default(now())`.
fn records_creation(field: &Field) -> bool {
    let temporal = matches!(field.ty, FieldType::Scalar(ScalarType::DateTime));
    let named = {
        let lower = field.name.to_ascii_lowercase();
        lower.contains("creat")
            || lower.contains("insert")
            || matches!(lower.as_str(), "timestamp" | "ts")
    };
    (temporal && (named || matches!(field.default, Some(DefaultValue::Now))))
        || (named
            && matches!(
                field.ty,
                FieldType::Scalar(ScalarType::Int | ScalarType::BigInt)
            ))
}

// ---------------------------------------------------------------------------------------------
// Walking policy conditions

/// Calls `visit(path, in_predicate)` for every path in `expr`; `in_predicate` is true inside a
/// collection predicate, where scope paths start at the collection's element.
fn visit_paths(expr: &PolicyExpr, in_predicate: bool, visit: &mut dyn FnMut(&Path, bool)) {
    match expr {
        PolicyExpr::Literal(_) => {}
        PolicyExpr::Path(path) => visit(path, in_predicate),
        PolicyExpr::Not(inner) => visit_paths(inner, in_predicate, visit),
        PolicyExpr::And(a, b) | PolicyExpr::Or(a, b) => {
            visit_paths(a, in_predicate, visit);
            visit_paths(b, in_predicate, visit);
        }
        PolicyExpr::Compare { lhs, rhs, .. } | PolicyExpr::In { lhs, rhs } => {
            visit_paths(lhs, in_predicate, visit);
            visit_paths(rhs, in_predicate, visit);
        }
        PolicyExpr::Array(items) => {
            for item in items {
                visit_paths(item, in_predicate, visit);
            }
        }
        PolicyExpr::Collection {
            collection,
            predicate,
            ..
        } => {
            visit(collection, in_predicate);
            visit_paths(predicate, true, visit);
        }
    }
}

/// Whether any path in `expr` goes through `field`.
fn references(expr: &PolicyExpr, field: FieldId) -> bool {
    let mut found = false;
    visit_paths(expr, false, &mut |path, _| {
        if path.fields.contains(&field) {
            found = true;
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_told_from_their_neighbours() {
        for (name, kind) in [
            ("password", Some(SecretKind::Password)),
            ("passwordHash", Some(SecretKind::Password)),
            ("hashed_password", Some(SecretKind::Password)),
            ("refresh_token", Some(SecretKind::Credential)),
            ("passwordResetToken", Some(SecretKind::Credential)),
            ("apiKey", Some(SecretKind::Credential)),
            ("API_KEY", Some(SecretKind::Credential)),
            ("clientSecret", Some(SecretKind::Credential)),
            ("token", Some(SecretKind::Credential)),
            ("tokenType", None),
            ("token_hash", None),
            ("hashedToken", None),
            ("nextPageToken", None),
            ("publicKey", None),
            ("passwordChangedAt", None),
            ("idempotencyKey", None),
            ("secretName", None),
        ] {
            assert_eq!(secret_kind(name), kind, "{name}");
        }
    }

    fn review(name: &str, text: &str) -> Vec<crate::Finding> {
        let workspace = crate::load_sources(vec![(name.to_string(), text.to_string())]);
        crate::review(workspace, &crate::Config::default()).findings
    }

    fn rules(findings: &[crate::Finding]) -> Vec<(&'static str, Severity)> {
        findings.iter().map(|f| (f.rule, f.severity)).collect()
    }

    const PLAIN: &str = r#"
datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}

model User {
  id       Int    @id @default(autoincrement())
  email    String @unique
  password String
  links    Link[]
}

model Link {
  id       Int    @id @default(autoincrement())
  url      String
  password String?
  user     User   @relation(fields: [userId], references: [id])
  userId   Int

  @@index([userId])
}
"#;

    #[test]
    fn a_plain_prisma_schema_gets_one_note_and_a_warning_for_the_account_password() {
        let findings = review("schema.prisma", PLAIN);
        assert_eq!(
            rules(&findings),
            [
                ("model-without-policy", Severity::Note),
                ("password-not-protected", Severity::Warning),
            ]
        );
        assert!(findings[1].message.contains("`User.password`"));
    }

    #[test]
    fn a_plinth_schema_without_policies_exposes_nothing_and_indexes_its_foreign_keys() {
        let text = PLAIN.replace("  @@index([userId])\n", "");
        assert!(review("schema.plinth", &text).is_empty());
        let prisma = review("schema.prisma", &text);
        assert!(prisma.iter().any(|f| f.rule == "relation-without-index"));
    }

    #[test]
    fn mysql_indexes_foreign_keys_unless_prisma_emulates_relations() {
        let text = PLAIN
            .replace("  @@index([userId])\n", "")
            .replace("\"postgresql\"", "\"mysql\"");
        let unindexed = |text: &str| {
            review("schema.prisma", text)
                .iter()
                .any(|f| f.rule == "relation-without-index")
        };
        assert!(!unindexed(&text));
        let emulated = text.replace(
            "  url      = env(\"DATABASE_URL\")\n",
            "  url      = env(\"DATABASE_URL\")\n  relationMode = \"prisma\"\n",
        );
        assert!(unindexed(&emulated));
    }

    #[test]
    fn denying_anonymous_callers_still_leaves_every_signed_in_user() {
        let text = r#"
model User {
  id Int @id @default(autoincrement())
  @@auth
  @@allow("read", auth() == this)
}

model Note {
  id   Int    @id @default(autoincrement())
  body String
  @@allow("all", true)
  @@deny("all", auth() == null)
}
"#;
        let findings = review("schema.plinth", text);
        let finding = findings
            .iter()
            .find(|f| f.rule == "allow-all-true")
            .unwrap();
        assert!(
            finding.message.contains("any signed-in user"),
            "{}",
            finding.message
        );
    }

    #[test]
    fn a_foreign_key_plinth_fills_from_the_caller_cannot_be_moved() {
        let text = r#"
model User {
  id    Int    @id @default(autoincrement())
  email String @unique
  notes Note[]
  @@auth
  @@allow("read", auth() == this)
}

model Note {
  id      Int    @id @default(autoincrement())
  owner   User   @relation(fields: [ownerId], references: [id])
  ownerId Int    @default(auth().id)
  @@allow("all", auth() == owner)
}
"#;
        let moved = |name: &str| {
            review(name, text)
                .iter()
                .any(|f| f.rule == "policy-on-writable-field")
        };
        // Plinth never takes `@default(auth().id)` fields from a request body; ZenStack does.
        assert!(!moved("schema.plinth"));
        assert!(moved("schema.zmodel"));
    }

    #[test]
    fn a_model_with_a_compile_error_is_not_judged() {
        let text = r#"
model Secret {
  id    Int    @id
  value String
  @@allow("read", nosuchfield == 1)
}

model Public {
  id Int @id
  @@allow("read", true)
}
"#;
        let findings = review("schema.plinth", text);
        assert!(
            !findings.iter().any(|f| f.rule == "model-without-policy"),
            "{findings:?}"
        );
    }

    #[test]
    fn words_split_camel_snake_and_acronyms() {
        assert_eq!(words("passwordHash"), ["password", "hash"]);
        assert_eq!(words("API_KEY"), ["api", "key"]);
        assert_eq!(words("userIDToken"), ["user", "id", "token"]);
    }
}
