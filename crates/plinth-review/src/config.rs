//! The review configuration: which rules run and at what level, and what fails the run.
//!
//! ```toml
//! # plinth-review.toml
//! fail-on = "warning"          # error (default) | warning | note
//! dialect = "postgres"         # for SQL files whose dialect cannot be told: postgres | sqlite
//!
//! [rules]
//! verb-in-path = "off"         # off | error | warning | note
//! missing-429-response = "error"
//! ```
//!
//! Inline suppressions live in the inputs themselves (see `suppress.rs`).

use crate::registry;
use plinth_diagnostics::Severity;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The level a rule is set to: off, or a severity that replaces its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Error,
    Warning,
    Note,
}

impl Level {
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(Severity::Warning),
            Level::Note => Some(Severity::Note),
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "off" => Some(Level::Off),
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "note" | "info" => Some(Level::Note),
            _ => None,
        }
    }
}

/// SQL dialect of files that do not say (SQLite is told by its path or by SQLite-only syntax).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    Postgres,
    Sqlite,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    rules: BTreeMap<String, Level>,
    /// The lowest severity that makes the run fail (exit 1). `None`: errors.
    pub fail_on: Option<Severity>,
    /// Dialect of SQL files that do not say.
    pub dialect: Option<Dialect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ConfigFile {
    #[serde(default)]
    rules: BTreeMap<String, Level>,
    fail_on: Option<Level>,
    dialect: Option<Dialect>,
}

impl Config {
    /// Parses a configuration file's text. Unknown keys, levels and rule ids are errors, with a
    /// suggestion for a misspelt rule id: a typo must not silently leave a rule on.
    pub fn parse(text: &str) -> Result<Config, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut config = Config {
            fail_on: match file.fail_on {
                Some(Level::Off) => return Err("`fail-on` cannot be `off`".to_string()),
                Some(level) => level.severity(),
                None => None,
            },
            dialect: file.dialect,
            ..Config::default()
        };
        for (id, level) in file.rules {
            config.set(&id, level)?;
        }
        Ok(config)
    }

    /// Sets one rule's level (from the file or from a `--rule id=level` flag).
    pub fn set(&mut self, id: &str, level: Level) -> Result<(), String> {
        if registry::find(id).is_none() {
            let hint = plinth_diagnostics::did_you_mean(id, registry::all().map(|r| r.id))
                .map(|near| format!("; did you mean `{near}`?"))
                .unwrap_or_default();
            return Err(format!("unknown rule `{id}`{hint}"));
        }
        self.rules.insert(id.to_string(), level);
        Ok(())
    }

    /// The configured level of a rule, if the configuration mentions it.
    pub fn level(&self, id: &str) -> Option<Level> {
        self.rules.get(id).copied()
    }

    pub fn fail_on(&self) -> Severity {
        self.fail_on.unwrap_or(Severity::Error)
    }
}
