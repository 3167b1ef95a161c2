//! Splitting a migration script into the parts that run inside a transaction and the single
//! statements marked to run outside one.

/// The line comment that marks the next statement as one that must run outside a transaction
/// (`CREATE INDEX CONCURRENTLY` on PostgreSQL). It covers exactly one statement: from the line
/// after the marker to the first line that ends in `;`.
pub const NO_TRANSACTION_MARKER: &str = "-- plinth:no-transaction";

/// A run of SQL that executes as one unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub sql: String,
    /// False for a statement under [`NO_TRANSACTION_MARKER`].
    pub transactional: bool,
}

/// The script cut at its marked statements, in order; segments with only blank lines or
/// comments are dropped.
pub fn segments(script: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut lines = script.lines();
    while let Some(line) = lines.next() {
        if line.trim() != NO_TRANSACTION_MARKER {
            current.push_str(line);
            current.push('\n');
            continue;
        }
        push_segment(&mut segments, std::mem::take(&mut current), true);
        let mut statement = String::new();
        for next in lines.by_ref() {
            statement.push_str(next);
            statement.push('\n');
            if code_of(next).trim_end().ends_with(';') {
                break;
            }
        }
        push_segment(&mut segments, statement, false);
    }
    push_segment(&mut segments, current, true);
    segments
}

/// The line without a trailing `--` comment (good enough for generated SQL: no `--` inside
/// string literals on a statement's last line).
fn code_of(line: &str) -> &str {
    match line.find("--") {
        Some(position) => &line[..position],
        None => line,
    }
}

fn push_segment(segments: &mut Vec<Segment>, sql: String, transactional: bool) {
    if has_code(&sql) {
        segments.push(Segment { sql, transactional });
    }
}

/// True when the text holds something other than blank lines and `--` comments.
pub fn has_code(sql: &str) -> bool {
    sql.lines().any(|line| !code_of(line).trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_statement_runs_alone_between_transactional_parts() {
        let script = "-- first\nALTER TABLE a ADD b INT;\n-- plinth:no-transaction\nCREATE INDEX CONCURRENTLY i\n  ON a (b);\nALTER TABLE a ADD c INT;\n";
        let parts = segments(script);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].transactional && parts[0].sql.contains("ADD b"));
        assert!(!parts[1].transactional);
        assert_eq!(parts[1].sql, "CREATE INDEX CONCURRENTLY i\n  ON a (b);\n");
        assert!(parts[2].transactional && parts[2].sql.contains("ADD c"));
    }

    #[test]
    fn a_script_without_markers_is_one_segment_and_comments_alone_are_none() {
        assert_eq!(segments("CREATE TABLE a (b INT);\n").len(), 1);
        assert!(segments("-- nothing\n\n").is_empty());
    }
}
