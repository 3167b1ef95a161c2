//! Plinth's schema checker: syntax tree → validated [`Schema`].
//!
//! Checking does no IO and cannot fail: [`check`] always returns a best-effort schema and every
//! problem it found, so one run reports everything. Consumers other than the checker should use
//! a schema only when its diagnostics hold no errors.

mod check;
pub mod diagnostics;
pub mod dump;
pub mod print;
pub mod schema;

pub use diagnostics::ALL_CODES;
pub use dump::{dump, policy_text};
pub use schema::*;

use plinth_diagnostics::Diagnostic;
use plinth_syntax::SchemaFile;

/// Checks a parsed schema: names, types, attributes, relations and policies.
///
/// Without the source text, [`Policy::source`] is printed from the tree; use [`compile`] to keep
/// the rule exactly as written.
pub fn check(file: &SchemaFile) -> (Schema, Vec<Diagnostic>) {
    check::check_file(file, None)
}

/// Parses and checks `source`; syntax and semantic diagnostics together, sorted by position.
pub fn compile(source: &str) -> (Schema, Vec<Diagnostic>) {
    let (file, mut diagnostics) = plinth_syntax::parse(source);
    let (schema, semantic) = check::check_file(&file, Some(source));
    diagnostics.extend(semantic);
    plinth_diagnostics::sort(&mut diagnostics);
    (schema, diagnostics)
}

impl Model {
    /// The single-field primary key, if the key is one field (`@id`, or `@@id([x])`).
    pub fn id_field(&self) -> Option<(usize, &Field)> {
        match self.primary_key.fields.as_slice() {
            [index] => self.fields.get(*index).map(|f| (*index, f)),
            _ => None,
        }
    }

    /// Relation fields with their index.
    pub fn relation_fields(&self) -> impl Iterator<Item = (usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_relation())
    }

    /// Whether the fields (in any order) are the primary key or a unique constraint.
    pub fn is_unique_key(&self, fields: &[usize]) -> bool {
        let mut wanted = fields.to_vec();
        wanted.sort_unstable();
        let mut primary = self.primary_key.fields.clone();
        primary.sort_unstable();
        if !wanted.is_empty() && primary == wanted {
            return true;
        }
        self.unique_constraints.iter().any(|u| {
            let mut candidate: Vec<usize> = u.fields.iter().map(|f| f.field).collect();
            candidate.sort_unstable();
            candidate == wanted
        })
    }
}

impl Relation {
    /// The other side of the relation from `side` (for a self-relation, the other field).
    pub fn opposite(&self, side: FieldId) -> FieldId {
        if side == self.referencing {
            self.referenced
        } else {
            self.referencing
        }
    }

    pub fn is_many_to_many(&self) -> bool {
        matches!(self.kind, RelationKind::ManyToMany { .. })
    }
}

impl Schema {
    /// The relation a relation field belongs to.
    pub fn relation_of(&self, field: &Field) -> Option<&Relation> {
        match &field.ty {
            FieldType::Relation(r) => self.relations.get(r.relation.0),
            _ => None,
        }
    }
}
