//! `plinth verify URL`: proves a running HTTP API keeps its contract and its promises, using
//! only HTTP and the API's OpenAPI document — never the server's internals — so it works on any
//! API, not only Plinth's.
//!
//! The pieces, in the order a run uses them:
//! - [`document`]: the OpenAPI 3.0/3.1 document, loaded and flattened into operations;
//! - [`findings`]: what a run reports — a rule id, a severity, the request that shows it (as a
//!   curl command) and what to do;
//! - contract, authorization and security checks, and the load generator, each producing
//!   findings or measurements;
//! - reports: terminal text, JSON, JUnit XML and a self-contained HTML page.

pub mod client;
pub mod document;
pub mod findings;

pub use findings::{Finding, RecordedRequest, Severity};
