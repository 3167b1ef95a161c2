//! Reading the inputs: finding files under the given paths, telling what each one is, and
//! parsing it into a form that keeps positions.
//!
//! - `.json`, `.yaml`, `.yml` with a top-level `openapi` or `swagger` key → [`openapi`];
//!   other JSON/YAML files are skipped (a folder holds many that are not API documents).
//! - `.sql` → [`sql`]; its place in a migration folder decides whether it is a migration.
//! - `.prisma`, `.plinth`, `.zmodel` → [`schema`].

pub mod openapi;
pub mod schema;
pub mod sql;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::FileId;
use plinth_diagnostics::SourceFile;
use std::path::{Path, PathBuf};

/// Everything under review, parsed.
pub struct Workspace {
    /// Every file read, in the order given (folders sorted by path).
    pub files: Vec<SourceFile>,
    pub openapi: Vec<openapi::OpenApiDoc>,
    pub sql: Vec<sql::SqlFile>,
    pub schemas: Vec<schema::SchemaDoc>,
    /// The tables as the SQL files (replayed in order) and the schemas define them.
    pub catalog: Catalog,
    /// Inputs that could not be reviewed, and why (not findings: the tool says so and goes on).
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

/// What kind of input a file is, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OpenApi,
    Sql,
    Schema,
}

pub fn kind_of(path: &Path) -> Option<Kind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "json" | "yaml" | "yml" => Some(Kind::OpenApi),
        "sql" => Some(Kind::Sql),
        "prisma" | "plinth" | "zmodel" => Some(Kind::Schema),
        _ => None,
    }
}

/// Reads every reviewable file under `paths`. A path that does not exist, or a file given by
/// name that is not reviewable, is an error of the run (exit 2); a file in a folder that cannot
/// be read as what its name says is skipped with a reason.
pub fn load_paths(paths: &[PathBuf], config: &Config) -> Result<Workspace, String> {
    let mut sources = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        if metadata.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            found.sort();
            for file in found {
                match std::fs::read(&file) {
                    Ok(bytes) => match String::from_utf8(bytes) {
                        Ok(text) => sources.push((display(&file), text)),
                        Err(_) => sources.push((display(&file), String::from("\u{0}not-utf8"))),
                    },
                    Err(e) => return Err(format!("cannot read `{}`: {e}", file.display())),
                }
            }
        } else {
            if kind_of(path).is_none() {
                return Err(format!(
                    "cannot review `{}`: expected an OpenAPI document (.json, .yaml, .yml), SQL \
                     (.sql) or a schema (.prisma, .plinth, .zmodel)",
                    path.display()
                ));
            }
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("cannot read `{}`: not valid UTF-8", path.display()))?;
            sources.push((display(path), text));
        }
    }
    Ok(load_sources_with(sources, config))
}

/// Reviews in-memory sources `(name, text)`; the name's extension says what each one is.
pub fn load_sources(sources: Vec<(String, String)>) -> Workspace {
    load_sources_with(sources, &Config::default())
}

pub fn load_sources_with(sources: Vec<(String, String)>, config: &Config) -> Workspace {
    let mut workspace = Workspace {
        files: Vec::new(),
        openapi: Vec::new(),
        sql: Vec::new(),
        schemas: Vec::new(),
        catalog: Catalog::default(),
        skipped: Vec::new(),
    };
    let sql_names: Vec<&str> = sources
        .iter()
        .filter(|(name, _)| kind_of(Path::new(name)) == Some(Kind::Sql))
        .map(|(name, _)| name.as_str())
        .collect();
    let roles: Vec<(String, sql::Role)> = sql_names
        .iter()
        .map(|name| (name.to_string(), sql::role_of(name, &sql_names)))
        .collect();
    for (name, text) in sources {
        if text.starts_with('\u{0}') {
            workspace.skipped.push(Skipped {
                path: name,
                reason: "not valid UTF-8".to_string(),
            });
            continue;
        }
        let Some(kind) = kind_of(Path::new(&name)) else {
            continue;
        };
        let file: FileId = workspace.files.len();
        match kind {
            Kind::OpenApi => match openapi::OpenApiDoc::parse(file, &text) {
                Ok(Some(doc)) => {
                    workspace.files.push(SourceFile::new(name, text));
                    workspace.openapi.push(doc);
                }
                Ok(None) => {}
                Err(reason) => workspace.skipped.push(Skipped { path: name, reason }),
            },
            Kind::Sql => {
                let role = roles
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(sql::Role::Schema, |(_, role)| *role);
                let dialect = sql::dialect_of(&name, &text, config.dialect.unwrap_or_default());
                workspace
                    .sql
                    .push(sql::SqlFile::parse(file, &text, role, dialect));
                workspace.files.push(SourceFile::new(name, text));
            }
            Kind::Schema => {
                workspace
                    .schemas
                    .push(schema::SchemaDoc::parse(file, &text));
                workspace.files.push(SourceFile::new(name, text));
            }
        }
    }
    // Migrations run in version order, which a plain path sort gets wrong when a project
    // changed its naming (`2017-09-23-210614_x` sorts before `20170820180453_y`); every rule
    // that replays them sees the same order as the catalogue.
    let order: Vec<FileId> = crate::catalog::from_sql::in_migration_order(&workspace)
        .iter()
        .map(|file| file.file)
        .collect();
    workspace.sql.sort_by_key(|file| {
        order
            .iter()
            .position(|&id| id == file.file)
            .unwrap_or(usize::MAX)
    });
    workspace.catalog = Catalog::build(&workspace);
    workspace
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            // Dependencies, build output and VCS folders are not the user's backend.
            if name.starts_with('.') || matches!(name.as_ref(), "node_modules" | "target" | "dist")
            {
                continue;
            }
            walk(&path, found)?;
        } else if file_type.is_file() && kind_of(&path).is_some() {
            found.push(path);
        }
    }
    Ok(())
}

/// Paths are shown as given, with `/` separators, so output is the same on every OS.
fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
