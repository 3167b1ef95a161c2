//! The migrations folder on disk: listing `<version>_<name>/` folders in order, reading their
//! SQL for a dialect, their schema snapshot and their metadata, and writing a new one.

use crate::error::MigrateError;
use crate::fingerprint::sha256_hex;
use plinth_sql::Dialect;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The snapshot file in every migration folder.
pub const SNAPSHOT_FILE: &str = "schema.plinth";
/// The metadata file in every migration folder.
pub const METADATA_FILE: &str = "migration.json";
/// Digits of the version sequence.
pub const VERSION_DIGITS: usize = 4;

/// `migration.json`: what the folder holds, for tools and reviewers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    pub version: String,
    pub name: String,
    /// Folder names of the dialects written: `["sqlite"]`, or `["sqlite", "postgres"]` (then in
    /// sub-folders).
    pub dialects: Vec<String>,
    /// True when `up` loses data (it was written with `--allow-destructive`).
    #[serde(default)]
    pub destructive: bool,
}

/// One migration folder.
#[derive(Clone, Debug)]
pub struct Migration {
    /// `0001`.
    pub version: String,
    /// `init`.
    pub name: String,
    pub path: PathBuf,
}

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn file_name(self) -> &'static str {
        match self {
            Direction::Up => "up.sql",
            Direction::Down => "down.sql",
        }
    }
}

impl Migration {
    /// `0001_init`.
    pub fn id(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }

    /// Where this migration's SQL for `dialect` lives: `<dialect>/up.sql` when the folder has
    /// per-dialect sub-folders, else `up.sql` when the folder was written for that dialect.
    pub fn sql_path(
        &self,
        dialect: Dialect,
        direction: Direction,
    ) -> Result<PathBuf, MigrateError> {
        let nested = self
            .path
            .join(dialect.directory_name())
            .join(direction.file_name());
        if nested.is_file() {
            return Ok(nested);
        }
        let flat = self.path.join(direction.file_name());
        let written_for = self.metadata()?.map(|metadata| metadata.dialects);
        let matches = written_for
            .as_ref()
            .is_none_or(|dialects| dialects.iter().any(|d| d == dialect.directory_name()));
        if flat.is_file() && matches {
            return Ok(flat);
        }
        Err(MigrateError::MissingDialect {
            migration: self.id(),
            dialect: dialect.display_name(),
            detail: match written_for {
                Some(dialects) => format!(
                    "it was written for {}; regenerate it with `plinth migrate diff --dialect all`",
                    dialects.join(", ")
                ),
                None => format!("`{}` is missing", flat.display()),
            },
        })
    }

    /// The SQL text of one direction for `dialect`.
    pub fn sql(&self, dialect: Dialect, direction: Direction) -> Result<String, MigrateError> {
        let path = self.sql_path(dialect, direction)?;
        std::fs::read_to_string(&path).map_err(|error| MigrateError::io(path, error))
    }

    /// SHA-256 of the up.sql for `dialect`: the checksum recorded in the history table.
    pub fn checksum(&self, dialect: Dialect) -> Result<String, MigrateError> {
        Ok(sha256_hex(self.sql(dialect, Direction::Up)?.as_bytes()))
    }

    /// The schema source this migration leads to.
    pub fn snapshot(&self) -> Result<String, MigrateError> {
        let path = self.path.join(SNAPSHOT_FILE);
        std::fs::read_to_string(&path).map_err(|error| MigrateError::io(path, error))
    }

    /// The snapshot compiled; its errors are a malformed folder.
    pub fn snapshot_schema(&self) -> Result<plinth_model::Schema, MigrateError> {
        compile_snapshot(&self.id(), &self.snapshot()?)
    }

    /// `migration.json`, when present.
    pub fn metadata(&self) -> Result<Option<Metadata>, MigrateError> {
        let path = self.path.join(METADATA_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            MigrateError::Folder(format!("`{}` is not valid: {error}", path.display()))
        })
    }
}

/// Compiles a snapshot, failing when it has errors.
pub fn compile_snapshot(migration: &str, text: &str) -> Result<plinth_model::Schema, MigrateError> {
    let (schema, diagnostics) = plinth_model::compile(text);
    if plinth_diagnostics::has_errors(&diagnostics) {
        let file = plinth_diagnostics::SourceFile::new(
            format!("{migration}/{SNAPSHOT_FILE}"),
            text.to_string(),
        );
        return Err(MigrateError::Snapshot {
            migration: migration.to_string(),
            diagnostics: plinth_diagnostics::render_text(&file, &diagnostics),
        });
    }
    Ok(schema)
}

/// The migrations in `directory`, in version order. A missing folder has none. Entries that are
/// not directories are ignored; a directory not named `<digits>_<name>`, or two with one
/// version, make the folder malformed.
pub fn list(directory: &Path) -> Result<Vec<Migration>, MigrateError> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(MigrateError::io(directory, error)),
    };
    let mut migrations = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| MigrateError::io(directory, error))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let folder = entry.file_name().to_string_lossy().into_owned();
        let parsed = folder.split_once('_').filter(|(version, name)| {
            !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
        let Some((version, name)) = parsed else {
            return Err(MigrateError::Folder(format!(
                "`{}` is not named `<version>_<name>` (like `0001_init`)",
                path.display()
            )));
        };
        migrations.push(Migration {
            version: version.to_string(),
            name: name.to_string(),
            path,
        });
    }
    migrations.sort_by_key(|migration| (version_number(&migration.version), migration.id()));
    for pair in migrations.windows(2) {
        if version_number(&pair[0].version) == version_number(&pair[1].version) {
            return Err(MigrateError::Folder(format!(
                "`{}` and `{}` have the same version",
                pair[0].id(),
                pair[1].id()
            )));
        }
    }
    Ok(migrations)
}

fn version_number(version: &str) -> u128 {
    version.parse().unwrap_or(u128::MAX)
}

/// The version after the last one: `0001` for an empty folder.
pub fn next_version(migrations: &[Migration]) -> String {
    let next = migrations
        .last()
        .map(|migration| version_number(&migration.version).saturating_add(1))
        .unwrap_or(1);
    format!("{next:0width$}", width = VERSION_DIGITS)
}

/// A migration name reduced to `[a-z0-9_]`, never empty.
pub fn sanitize_name(name: &str) -> String {
    let mut sanitized = String::new();
    for character in name.trim().chars() {
        if character.is_ascii_alphanumeric() {
            sanitized.push(character.to_ascii_lowercase());
        } else if !sanitized.ends_with('_') {
            sanitized.push('_');
        }
    }
    let sanitized = sanitized.trim_matches('_').to_string();
    if sanitized.is_empty() {
        "migration".to_string()
    } else {
        sanitized
    }
}

/// The SQL of one dialect for a new migration.
#[derive(Clone, Debug)]
pub struct DialectSql {
    pub dialect: Dialect,
    pub up: String,
    pub down: String,
}

/// Writes a new migration folder (into a temporary name first, renamed at the end, so a failure
/// leaves no half-written migration). Returns the folder and the files written, relative to it.
pub fn write(
    directory: &Path,
    metadata: &Metadata,
    snapshot: &str,
    sql: &[DialectSql],
) -> Result<(PathBuf, Vec<String>), MigrateError> {
    let folder_name = format!("{}_{}", metadata.version, metadata.name);
    let target = directory.join(&folder_name);
    if target.exists() {
        return Err(MigrateError::Folder(format!(
            "`{}` already exists",
            target.display()
        )));
    }
    let staging = directory.join(format!(".{folder_name}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    let nested = sql.len() > 1;
    let mut files: Vec<(String, String)> = Vec::new();
    for part in sql {
        for (direction, text) in [(Direction::Up, &part.up), (Direction::Down, &part.down)] {
            let relative = if nested {
                format!(
                    "{}/{}",
                    part.dialect.directory_name(),
                    direction.file_name()
                )
            } else {
                direction.file_name().to_string()
            };
            files.push((relative, text.clone()));
        }
    }
    let metadata_text = serde_json::to_string_pretty(metadata)
        .map_err(|error| MigrateError::Folder(error.to_string()))?;
    files.push((METADATA_FILE.to_string(), format!("{metadata_text}\n")));
    files.push((SNAPSHOT_FILE.to_string(), snapshot.to_string()));
    for (relative, text) in &files {
        let path = staging.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| MigrateError::io(parent, error))?;
        }
        std::fs::write(&path, text).map_err(|error| MigrateError::io(&path, error))?;
    }
    std::fs::rename(&staging, &target).map_err(|error| MigrateError::io(&target, error))?;
    let mut names: Vec<String> = files.into_iter().map(|(relative, _)| relative).collect();
    names.sort();
    Ok((target, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_versions_are_zero_padded() {
        assert_eq!(sanitize_name("Add Posts!"), "add_posts");
        assert_eq!(sanitize_name("  "), "migration");
        assert_eq!(next_version(&[]), "0001");
        let migration = Migration {
            version: "0009".into(),
            name: "x".into(),
            path: PathBuf::new(),
        };
        assert_eq!(next_version(&[migration]), "0010");
    }
}
