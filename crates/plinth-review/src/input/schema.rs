//! Prisma and Plinth schemas (`.prisma`, `.plinth`, `.zmodel`), read by Plinth's own compiler.
//!
//! The checked [`Schema`] is built best-effort even when the file has errors, so a schema with a
//! feature Plinth does not support is still reviewed; its compile errors are kept for rules that
//! want to be careful around them.

use crate::FileId;
use plinth_diagnostics::Diagnostic;
use plinth_model::Schema;

pub struct SchemaDoc {
    pub file: FileId,
    pub schema: Schema,
    /// The compiler's own diagnostics (not findings: `plinth check` reports those).
    pub diagnostics: Vec<Diagnostic>,
}

impl SchemaDoc {
    pub fn parse(file: FileId, text: &str) -> SchemaDoc {
        let (schema, diagnostics) = plinth_model::compile(text);
        SchemaDoc {
            file,
            schema,
            diagnostics,
        }
    }

    /// True when the schema writes any access policy: a plain Prisma schema has none, and its
    /// access control lives in application code the review cannot see.
    pub fn has_policies(&self) -> bool {
        self.schema.models.iter().any(|m| !m.policies.is_empty())
            || self
                .schema
                .models
                .iter()
                .flat_map(|m| &m.fields)
                .any(|f| !f.policies.is_empty())
    }
}
