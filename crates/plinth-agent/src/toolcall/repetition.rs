//! A model repeating itself: the same call, with the same arguments, again and again.

use super::near_json::parse_arguments;
use crate::conversation::ToolCall;
use serde_json::Value;
use std::collections::VecDeque;

/// Notices a model repeating itself: the same tool name + arguments (canonical JSON: keys sorted,
/// arguments sent as a string parsed first) as one of the last calls. [`observe`] returns how
/// many times this exact call has been seen within the window, itself included, so the loop can
/// warn the model at 2 and stop at 3.
///
/// [`observe`]: RepetitionDetector::observe
#[derive(Clone, Debug)]
pub struct RepetitionDetector {
    window: usize,
    recent: VecDeque<String>,
}

impl RepetitionDetector {
    /// Remembers the last `window` calls.
    pub fn new(window: usize) -> Self {
        RepetitionDetector {
            window,
            recent: VecDeque::with_capacity(window),
        }
    }

    pub fn observe(&mut self, call: &ToolCall) -> usize {
        let key = call_key(call);
        let seen = 1 + self
            .recent
            .iter()
            .filter(|earlier| **earlier == key)
            .count();
        if self.window > 0 {
            if self.recent.len() == self.window {
                self.recent.pop_front();
            }
            self.recent.push_back(key);
        }
        seen
    }
}

fn call_key(call: &ToolCall) -> String {
    let arguments = match &call.arguments {
        Value::String(raw) => parse_arguments(raw).unwrap_or_else(|_| call.arguments.clone()),
        other => other.clone(),
    };
    format!("{}\u{0}{}", call.name, canonical(&arguments))
}

/// JSON with every object's keys sorted, so that key order does not hide a repeat.
fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(object) => {
                let mut entries: Vec<(&String, &Value)> = object.iter().collect();
                entries.sort_by(|left, right| left.0.cmp(right.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.clone(), sorted(value)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}
