//! Rendering a [`Report`](crate::Report): compiler-style text, JSON, and SARIF 2.1.0.

mod json;
mod sarif;
mod text;

pub use json::render_json;
pub use sarif::{render_sarif, render_sarif_with_root};
pub use text::{render_text, summary};
