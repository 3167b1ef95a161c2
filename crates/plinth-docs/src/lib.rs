//! Human-facing deliverables of a schema: the Mermaid ER diagram ([`erd`]) and the Markdown API
//! reference ([`api_reference`]). Both are deterministic so they can be snapshot-tested and
//! committed next to the schema.

mod erd;
mod reference;

pub use erd::erd;
pub use reference::api_reference;
