//! JSON output (`--format json`): one object with every finding and a summary; positions are
//! 1-based, columns count characters.

use crate::Report;
use plinth_diagnostics::Severity;
use serde_json::{json, Value};

pub fn render_json(report: &Report) -> Value {
    let files = &report.workspace.files;
    let position = |file: usize, span: plinth_diagnostics::Span| {
        let source = &files[file];
        let start = source.line_col(span.start);
        let end = source.line_col(span.end);
        json!({
            "file": source.name,
            "line": start.line,
            "column": start.column,
            "end_line": end.line,
            "end_column": end.column,
        })
    };
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut object = json!({
                "rule": f.rule,
                "category": crate::registry::find(f.rule).map(|r| r.category.as_str()),
                "severity": f.severity.as_str(),
                "message": f.message,
                "help": f.help,
                "docs": crate::registry::doc_path(f.rule),
            });
            let map = object.as_object_mut().expect("object literal");
            if let Value::Object(location) = position(f.file, f.span) {
                map.extend(location);
            }
            if let Some(pointer) = &f.pointer {
                map.insert("pointer".into(), json!(pointer));
            }
            map.insert(
                "related".into(),
                Value::Array(
                    f.related
                        .iter()
                        .map(|r| {
                            let mut related = position(r.file, r.span);
                            related["message"] = json!(r.message);
                            related
                        })
                        .collect(),
                ),
            );
            object
        })
        .collect();
    json!({
        "findings": findings,
        "skipped": report.workspace.skipped.iter().map(|s| json!({"file": s.path, "reason": s.reason})).collect::<Vec<_>>(),
        "summary": {
            "files": files.len(),
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "notes": report.count(Severity::Note),
            "suppressed": report.suppressed,
        }
    })
}
