//! `plinth review PATH…`: the architect's review of a backend that already exists.
//!
//! The inputs are OpenAPI documents, SQL schema files and migration folders, and Prisma/Plinth
//! schemas. [`input`] reads each into a form that keeps source positions (a JSON pointer or a SQL
//! statement always maps back to a line), [`catalog`] replays every SQL file and schema into one
//! picture of the tables, and the rules in `rules/` report [`Finding`]s against the documented
//! catalogue in [`registry`]. [`review`] runs them, applies the configuration and inline
//! suppressions, and [`output`] renders the result as text, JSON or SARIF.

pub mod catalog;
pub mod config;
pub mod input;
pub mod output;
pub mod registry;
mod rules;
mod suppress;

pub use config::{Config, Level};
pub use input::{load_paths, load_sources, Workspace};
pub use plinth_diagnostics::{Severity, SourceFile, Span};
pub use registry::{Category, RuleInfo};

/// Index of a file in [`Workspace::files`].
pub type FileId = usize;

/// One thing a reviewer would flag, at a place in one of the inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule's stable kebab-case id (`docs/rules/<id>.md`).
    pub rule: &'static str,
    pub severity: Severity,
    pub file: FileId,
    pub span: Span,
    /// For findings in an OpenAPI document: the JSON pointer of the node, for inline suppression.
    pub pointer: Option<String>,
    /// What is wrong, in a plain sentence (rustc style: lowercase, no final period).
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// Other places that explain the finding ("the table is defined here"), maybe in other files.
    pub related: Vec<Related>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

impl Finding {
    pub fn with_related(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            file,
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }
}

/// Where rules put their findings. The severity comes from the catalogue; the configuration
/// re-levels or drops findings afterwards, so rules never look at it.
#[derive(Default)]
pub struct Sink {
    findings: Vec<Finding>,
}

impl Sink {
    /// Reports a finding of `rule` (which must be in the catalogue) and returns it for
    /// `with_related`/`with_pointer` through [`Sink::push`].
    pub fn finding(
        rule: &'static str,
        file: FileId,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Finding {
        let severity = registry::find(rule).map_or_else(
            || {
                debug_assert!(false, "rule `{rule}` is not in the catalogue");
                Severity::Warning
            },
            |info| info.severity,
        );
        Finding {
            rule,
            severity,
            file,
            span,
            pointer: None,
            message: message.into(),
            help: help.into(),
            related: Vec::new(),
        }
    }

    pub fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Shorthand for a finding with no related places.
    pub fn report(
        &mut self,
        rule: &'static str,
        file: FileId,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Sink::finding(rule, file, span, message, help));
    }

    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

/// The result of a review: the inputs, and what was found in them.
pub struct Report {
    pub workspace: Workspace,
    /// Sorted by file, position and rule.
    pub findings: Vec<Finding>,
    /// Findings dropped by inline suppressions (counted, so a summary can say so).
    pub suppressed: usize,
}

impl Report {
    /// True when a finding is at or above `threshold` (the `--fail-on` severity).
    pub fn fails(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity <= threshold)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// Runs every enabled rule over `workspace`, then applies `config` (levels, disabled rules) and
/// the inline suppressions in the inputs.
pub fn review(workspace: Workspace, config: &Config) -> Report {
    let mut sink = Sink::default();
    rules::check_all(&workspace, &mut sink);
    let mut findings = sink.into_findings();
    findings.retain_mut(|finding| match config.level(finding.rule) {
        Some(Level::Off) => false,
        Some(level) => {
            finding.severity = level.severity().unwrap_or(finding.severity);
            true
        }
        None => true,
    });
    let before = findings.len();
    findings.retain(|finding| !suppress::is_suppressed(&workspace, finding));
    let suppressed = before - findings.len();
    findings.sort_by(|a, b| {
        (a.file, a.span.start, a.span.end, a.rule, &a.message).cmp(&(
            b.file,
            b.span.start,
            b.span.end,
            b.rule,
            &b.message,
        ))
    });
    findings.dedup();
    Report {
        workspace,
        findings,
        suppressed,
    }
}
