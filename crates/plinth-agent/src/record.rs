//! What a design run leaves in the project besides the schema: the architecture decision record,
//! and (under `.plinth/`) the transcript and a progress file that let a later run continue.
//!
//! The ADR's facts come from the checked schema, not from the model: which database, how users
//! sign in, how lists page, and every access rule as written. The model's own explanation of the
//! trade-offs is quoted beside them, so a reader can tell what was decided from what was argued.

use crate::agent::{Outcome, Spent};
use crate::conversation::{Message, Usage};
use plinth_model::{Provider, Schema};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const ADR_PATH: &str = "docs/adr/0001-initial-design.md";
const TRANSCRIPT: &str = ".plinth/transcript.json";
const PROGRESS: &str = ".plinth/progress.md";

/// The architecture decision record of a schema.
pub fn adr(request: &str, schema: &Schema, rationale: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ADR 0001: initial design\n");
    let _ = writeln!(
        out,
        "Status: accepted (drafted with `plinth design`, checked and reviewed)\n"
    );
    let _ = writeln!(out, "## Context\n\nThe request, as the person put it:\n");
    for line in request.lines() {
        let _ = writeln!(out, "> {line}");
    }
    let _ = writeln!(out, "\n## Decisions\n");

    let database = match schema.datasource.as_ref().map(|d| &d.provider) {
        Some(Provider::Postgresql) => "PostgreSQL, as the schema's datasource says. Plinth serves any \
            number of stateless nodes on it (with Redis for shared rate limits)."
            .to_string(),
        Some(Provider::Other(name)) => format!(
            "The datasource names `{name}`; Plinth generates SQL for SQLite and PostgreSQL only, so \
             one of those serves it."
        ),
        _ => "SQLite (embedded, WAL) to start: one file, no server to run. Move to PostgreSQL \
              (`--db postgres://…`) when one machine is no longer enough; the schema does not change."
            .to_string(),
    };
    let _ = writeln!(out, "### Database\n\n{database}\n");

    let auth = match schema.auth_model.and_then(|id| schema.models.get(id.0)) {
        Some(model) => {
            let secret = model
                .fields
                .iter()
                .find(|f| f.is_password)
                .map(|f| format!(" `{}` is hashed with argon2id and never returned.", f.name))
                .unwrap_or_default();
            format!(
                "Users are `{}` rows. They register and sign in at `/api/v1/auth/*` and get a short \
                 JWT access token and a rotating refresh token (reuse is detected and ends the \
                 session).{secret}",
                model.name
            )
        }
        None => "There is no user model, so every request is anonymous: only rules that do not \
                 use `auth()` can ever allow anything."
            .to_string(),
    };
    let _ = writeln!(out, "### Authentication\n\n{auth}\n");
    let _ = writeln!(
        out,
        "### Pagination\n\nLists use keyset (cursor) pagination with a bounded `limit`: pages stay \
         fast at any depth and do not skip or repeat rows when others write meanwhile.\n"
    );
    let _ = writeln!(
        out,
        "### Access policies\n\nDeny by default: a model without a rule is not reachable. The rules, \
         compiled into SQL so lists and counts are filtered in the database:\n"
    );
    for model in &schema.models {
        if model.policies.is_empty() {
            let _ = writeln!(
                out,
                "- `{}`: no rule (not reachable through the API)",
                model.name
            );
            continue;
        }
        let rules: Vec<String> = model
            .policies
            .iter()
            .map(|p| format!("`{}`", p.source))
            .collect();
        let _ = writeln!(out, "- `{}`: {}", model.name, rules.join(", "));
    }
    let _ = writeln!(out, "\n## Rationale (from the design conversation)\n");
    let rationale = rationale.trim();
    if rationale.is_empty() {
        let _ = writeln!(out, "The model gave no explanation.");
    } else {
        let _ = writeln!(out, "{rationale}");
    }
    let _ = writeln!(
        out,
        "\n## Consequences\n\nThe API, its OpenAPI document, the SQL and the docs are all built \
         from `schema.plinth`; change the schema and rebuild rather than editing the outputs."
    );
    out
}

/// The saved state of a conversation: enough for a later `plinth chat` to continue it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Transcript {
    pub version: u32,
    pub messages: Vec<Message>,
    pub usage: Usage,
    pub steps: u32,
}

pub fn transcript_path(root: &Path) -> PathBuf {
    root.join(TRANSCRIPT)
}

/// Saves the transcript and rewrites the progress file.
pub fn save(root: &Path, messages: &[Message], spent: &Spent, status: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(root.join(".plinth"))?;
    let transcript = Transcript {
        version: 1,
        messages: messages.to_vec(),
        usage: spent.usage,
        steps: spent.steps,
    };
    let json = serde_json::to_string_pretty(&transcript).map_err(std::io::Error::other)?;
    write_atomically(&root.join(TRANSCRIPT), &json)?;
    let first = messages
        .iter()
        .find(|m| m.role == crate::Role::User)
        .map(|m| m.content.as_str())
        .unwrap_or("");
    let progress = format!(
        "# Progress\n\n- Request: {}\n- Status: {status}\n- Messages: {}\n- Used so far: {}\n\n\
         Continue with `plinth chat --dir <this folder>`: it reads `.plinth/transcript.json`.\n",
        first.lines().next().unwrap_or(""),
        messages.len(),
        spent.describe(),
    );
    write_atomically(&root.join(PROGRESS), &progress)
}

/// Loads a saved transcript, if the project has one.
pub fn load(root: &Path) -> Result<Option<Transcript>, String> {
    let path = root.join(TRANSCRIPT);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("cannot read {TRANSCRIPT}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {TRANSCRIPT}: {e}")),
    }
}

/// A status line for the progress file.
pub fn status_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ready { .. } => "the draft checks clean and passes review".to_string(),
        Outcome::Stopped { reason, .. } => format!("stopped: {reason}"),
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a transcript.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_adr_states_facts_from_the_schema() {
        let (schema, _) = plinth_model::compile(
            "model User {\n  id Int @id @default(autoincrement())\n  email String @unique @email\n  password String @password @omit\n  @@auth\n  @@allow('read', auth() == this)\n}\nmodel Note {\n  id Int @id\n}\n",
        );
        let text = adr("a notes app", &schema, "We chose SQLite.");
        assert!(text.contains("> a notes app"));
        assert!(text.contains("SQLite"));
        assert!(text.contains("`password` is hashed"), "{text}");
        assert!(
            text.contains("`User`: `@@allow('read', auth() == this)`"),
            "{text}"
        );
        assert!(text.contains("`Note`: no rule"));
        assert!(text.contains("We chose SQLite."));
    }

    #[test]
    fn transcripts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let messages = vec![Message::user("hello"), Message::assistant("hi", Vec::new())];
        save(dir.path(), &messages, &Spent::default(), "in progress").unwrap();
        let loaded = load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded.messages, messages);
        let progress = std::fs::read_to_string(dir.path().join(PROGRESS)).unwrap();
        assert!(progress.contains("Request: hello"));
        assert!(load(&dir.path().join("nothing")).unwrap().is_none());
    }
}
