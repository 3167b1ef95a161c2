//! `plinth design` and `plinth chat`: a person describes a backend in plain words, and an LLM
//! drafts it through a tool-calling loop whose tools are Plinth's own commands (check, build,
//! review, a sandboxed serve + verify, and files confined to the project folder).
//!
//! The model never has the last word: a draft is presented only once it checks clean and review
//! has no errors; until then the diagnostics go back to the model, within a bounded budget of
//! steps, tokens and time. [`provider`] speaks to OpenAI-compatible endpoints and Anthropic's
//! Messages API; [`toolcall`] makes small local models usable (tool calls written as text,
//! near-JSON arguments, repeated calls).

pub mod agent;
pub mod conversation;
pub mod provider;
pub mod record;
pub mod toolcall;
pub mod tools;

pub use conversation::{ChatRequest, ChatResponse, Message, Role, ToolCall, ToolSpec, Usage};
