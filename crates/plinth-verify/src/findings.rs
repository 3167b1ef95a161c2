//! Findings: the one shape every check reports in. A finding names a stable rule id (kebab-case,
//! documented), a severity, what was seen, the exact request that shows it — replayable as a curl
//! command — and what to do about it.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// `info`, `low`, `medium`, `high` or `critical` (any case).
    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// A request exactly as it was sent, to show and replay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    /// The full URL, query included.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl RecordedRequest {
    /// A curl command that sends the same request (POSIX shell quoting).
    pub fn curl(&self) -> String {
        let mut command = format!("curl -g -i -X {} {}", self.method, shell_quote(&self.url));
        for (name, value) in &self.headers {
            command.push_str(" -H ");
            command.push_str(&shell_quote(&format!("{name}: {value}")));
        }
        if let Some(body) = &self.body {
            command.push_str(" --data-binary ");
            command.push_str(&shell_quote(body));
        }
        command
    }
}

/// `'text'` with every `'` written as `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// One thing a check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable kebab-case rule id, e.g. `authz-object-read`.
    pub rule: &'static str,
    pub severity: Severity,
    /// One line: what is wrong.
    pub title: String,
    /// What was seen (status, the offending part of the body, timings).
    pub detail: String,
    /// `GET /api/v1/tasks/{id}` or the operation id, when the finding is about one operation.
    pub operation: Option<String>,
    /// The request that shows it.
    pub request: Option<RecordedRequest>,
    /// What to do.
    pub fix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_commands_quote_everything() {
        let request = RecordedRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:8080/api/v1/tasks?title[contains]=a".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(r#"{"title":"it's"}"#.into()),
        };
        assert_eq!(
            request.curl(),
            r#"curl -g -i -X POST 'http://127.0.0.1:8080/api/v1/tasks?title[contains]=a' -H 'content-type: application/json' --data-binary '{"title":"it'\''s"}'"#
        );
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("urgent"), None);
    }
}
