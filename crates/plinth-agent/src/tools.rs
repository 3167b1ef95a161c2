//! The tools the model may call: Plinth's own commands as functions, and files confined to the
//! project folder.
//!
//! Every tool answers text for the model (diagnostics as `plinth check` prints them, findings as
//! `plinth review` prints them) and a flag saying whether it succeeded. A tool never touches a
//! path outside the project: absolute paths, `..` and symbolic links that lead out are refused.

use crate::conversation::ToolSpec;
use plinth_diagnostics::{has_errors, render_text, SourceFile};
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// The default schema file of a project.
pub const SCHEMA_FILE: &str = "schema.plinth";

/// Largest file the model may read or write, so one call cannot flood the context or the disk.
const MAX_FILE_BYTES: usize = 256 * 1024;

/// The folder the agent works in.
#[derive(Clone, Debug)]
pub struct Project {
    root: PathBuf,
}

/// What a tool answered.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    pub ok: bool,
    pub text: String,
}

impl ToolOutput {
    fn ok(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            ok: true,
            text: text.into(),
        }
    }

    fn failed(text: impl Into<String>) -> ToolOutput {
        ToolOutput {
            ok: false,
            text: text.into(),
        }
    }
}

/// The state of the schema on disk, as the gate before presenting a draft judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftStatus {
    /// The schema compiles without errors.
    pub compiles: bool,
    /// Review errors in the schema.
    pub review_errors: usize,
    /// What to tell the model when the draft is not ready: rendered diagnostics and findings.
    pub report: String,
}

impl DraftStatus {
    pub fn is_ready(&self) -> bool {
        self.compiles && self.review_errors == 0
    }
}

/// Which tools a loop offers: the main loop gets all of them; sub-agents only read and judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toolset {
    Full,
    ReadOnly,
}

impl Project {
    /// A project rooted at `root`, which is created if missing.
    pub fn open(root: &Path) -> std::io::Result<Project> {
        std::fs::create_dir_all(root)?;
        Ok(Project {
            root: root.canonicalize()?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a path the model gave, relative to the project, refusing anything that would
    /// leave it. The check is on components first (no absolute paths, no `..`), then on the
    /// real path of the nearest existing ancestor, so a symbolic link cannot lead out either.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, String> {
        let refused = || format!("refused: `{relative}` is outside the project folder");
        let path = Path::new(relative.trim());
        if relative.trim().is_empty() {
            return Err("refused: the path is empty".to_string());
        }
        let mut joined = self.root.clone();
        for component in path.components() {
            match component {
                Component::Normal(part) => joined.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(refused())
                }
            }
        }
        let mut existing = joined.as_path();
        while !existing.exists() {
            existing = existing.parent().ok_or_else(refused)?;
        }
        let real = existing.canonicalize().map_err(|_| refused())?;
        if !real.starts_with(&self.root) {
            return Err(refused());
        }
        Ok(joined)
    }

    /// The tools offered to the model.
    pub fn specs(toolset: Toolset) -> Vec<ToolSpec> {
        let path_only = |description: &str| {
            json!({
                "type": "object",
                "properties": {"path": {"type": "string", "description": description, "default": SCHEMA_FILE}},
                "required": [],
            })
        };
        let mut specs = vec![
            ToolSpec {
                name: "read_file".into(),
                description: "Read a text file of the project.".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {"path": {"type": "string", "description": "Path relative to the project folder."}},
                    "required": ["path"],
                }),
            },
            ToolSpec {
                name: "list_files".into(),
                description: "List the files of the project.".into(),
                parameters: json!({"type": "object", "properties": {}, "required": []}),
            },
            ToolSpec {
                name: "check".into(),
                description: "Compile a Plinth schema (Prisma schema language with access policies) and return its diagnostics: errors must be fixed before a draft can be shown.".into(),
                parameters: path_only("The schema file."),
            },
            ToolSpec {
                name: "review".into(),
                description: "Review a schema like a senior backend architect (access policies, secrets, indexes, money types); returns findings with rule ids. Errors must be fixed.".into(),
                parameters: path_only("The schema file."),
            },
        ];
        if toolset == Toolset::Full {
            specs.extend([
                ToolSpec {
                    name: "write_file".into(),
                    description: "Create or replace a text file of the project (the schema is schema.plinth).".into(),
                    parameters: json!({
                        "type": "object",
                        "properties": {
                            "path": {"type": "string", "description": "Path relative to the project folder."},
                            "content": {"type": "string", "description": "The whole new content."},
                        },
                        "required": ["path", "content"],
                    }),
                },
                ToolSpec {
                    name: "build".into(),
                    description: "Build the schema's deliverables into build/: SQL for SQLite and PostgreSQL, the OpenAPI document, an ER diagram and API docs.".into(),
                    parameters: path_only("The schema file."),
                },
                ToolSpec {
                    name: "serve_and_verify".into(),
                    description: "Serve the schema on a throwaway SQLite database and run plinth verify against it (contract, authorization, token and security probes); returns the findings.".into(),
                    parameters: path_only("The schema file."),
                },
            ]);
        }
        specs
    }

    /// Runs one tool call (its arguments already coerced to the tool's schema).
    pub async fn call(&self, name: &str, arguments: &Value) -> ToolOutput {
        let path = arguments
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or(SCHEMA_FILE)
            .to_string();
        match name {
            "read_file" => self.read_file(&path),
            "list_files" => self.list_files(),
            "write_file" => {
                let content = arguments
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                self.write_file(&path, content)
            }
            "check" => self.check(&path),
            "review" => self.review(&path),
            "build" => self.build(&path),
            "serve_and_verify" => self.serve_and_verify(&path).await,
            other => ToolOutput::failed(format!(
                "there is no tool `{other}`; the tools are: {}",
                Project::specs(Toolset::Full)
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    pub fn read_file(&self, path: &str) -> ToolOutput {
        let resolved = match self.resolve(path) {
            Ok(resolved) => resolved,
            Err(refusal) => return ToolOutput::failed(refusal),
        };
        match std::fs::read(&resolved) {
            Ok(bytes) if bytes.len() > MAX_FILE_BYTES => ToolOutput::failed(format!(
                "`{path}` is {} bytes, more than the {MAX_FILE_BYTES} a tool may read",
                bytes.len()
            )),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => ToolOutput::ok(text),
                Err(_) => ToolOutput::failed(format!("`{path}` is not a text file")),
            },
            Err(error) => ToolOutput::failed(format!("cannot read `{path}`: {error}")),
        }
    }

    pub fn write_file(&self, path: &str, content: &str) -> ToolOutput {
        if content.len() > MAX_FILE_BYTES {
            return ToolOutput::failed(format!(
                "refused: the content is {} bytes, more than the {MAX_FILE_BYTES} a tool may write",
                content.len()
            ));
        }
        let resolved = match self.resolve(path) {
            Ok(resolved) => resolved,
            Err(refusal) => return ToolOutput::failed(refusal),
        };
        if let Some(parent) = resolved.parent() {
            if let Err(error) = std::fs::create_dir_all(parent) {
                return ToolOutput::failed(format!(
                    "cannot create the folder of `{path}`: {error}"
                ));
            }
        }
        match std::fs::write(&resolved, content) {
            Ok(()) => ToolOutput::ok(format!("wrote `{path}` ({} bytes)", content.len())),
            Err(error) => ToolOutput::failed(format!("cannot write `{path}`: {error}")),
        }
    }

    pub fn list_files(&self) -> ToolOutput {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            let mut entries: Vec<_> = entries.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(relative) = path.strip_prefix(root) {
                    out.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.root, &self.root, &mut files);
        if files.is_empty() {
            ToolOutput::ok("the project is empty")
        } else {
            ToolOutput::ok(files.join("\n"))
        }
    }

    fn schema_source(&self, path: &str) -> Result<SourceFile, ToolOutput> {
        let read = self.read_file(path);
        if !read.ok {
            return Err(read);
        }
        Ok(SourceFile::new(path.to_string(), read.text))
    }

    pub fn check(&self, path: &str) -> ToolOutput {
        let file = match self.schema_source(path) {
            Ok(file) => file,
            Err(failed) => return failed,
        };
        let (_, diagnostics) = plinth_model::compile(&file.text);
        let rendered = render_text(&file, &diagnostics);
        if has_errors(&diagnostics) {
            ToolOutput::failed(format!("the schema has errors:\n{rendered}"))
        } else if diagnostics.is_empty() {
            ToolOutput::ok(format!("`{path}` checks clean"))
        } else {
            ToolOutput::ok(format!(
                "`{path}` checks with no errors; warnings:\n{rendered}"
            ))
        }
    }

    pub fn review(&self, path: &str) -> ToolOutput {
        let file = match self.schema_source(path) {
            Ok(file) => file,
            Err(failed) => return failed,
        };
        let workspace = plinth_review::load_sources(vec![(file.name.clone(), file.text)]);
        let report = plinth_review::review(workspace, &plinth_review::Config::default());
        let errors = report.count(plinth_review::Severity::Error);
        let text = plinth_review::output::render_text(&report);
        if errors > 0 {
            ToolOutput::failed(text)
        } else {
            ToolOutput::ok(text)
        }
    }

    /// The gate a draft must pass before it is shown: it compiles, and review has no errors.
    pub fn draft_status(&self, path: &str) -> DraftStatus {
        let check = self.check(path);
        if !check.ok {
            return DraftStatus {
                compiles: false,
                review_errors: 0,
                report: check.text,
            };
        }
        let file = match self.schema_source(path) {
            Ok(file) => file,
            Err(failed) => {
                return DraftStatus {
                    compiles: false,
                    review_errors: 0,
                    report: failed.text,
                }
            }
        };
        let workspace = plinth_review::load_sources(vec![(file.name.clone(), file.text)]);
        let report = plinth_review::review(workspace, &plinth_review::Config::default());
        DraftStatus {
            compiles: true,
            review_errors: report.count(plinth_review::Severity::Error),
            report: plinth_review::output::render_text(&report),
        }
    }

    /// Writes the deliverables `plinth build` writes, under `build/`.
    pub fn build(&self, path: &str) -> ToolOutput {
        let file = match self.schema_source(path) {
            Ok(file) => file,
            Err(failed) => return failed,
        };
        let (schema, diagnostics) = plinth_model::compile(&file.text);
        if has_errors(&diagnostics) {
            return ToolOutput::failed(format!(
                "not built: the schema has errors:\n{}",
                render_text(&file, &diagnostics)
            ));
        }
        let outputs = plinth_server::build_outputs(&schema);
        let mut written = Vec::new();
        for (relative, contents) in &outputs {
            let target = format!("build/{relative}");
            let result = self.write_file(&target, contents);
            if !result.ok {
                return result;
            }
            written.push(target);
        }
        ToolOutput::ok(format!("built:\n{}", written.join("\n")))
    }

    /// Serves the schema in-process on a throwaway SQLite database in a temporary folder and
    /// runs verify against it. Bounded in time; the server and its files are gone afterwards.
    pub async fn serve_and_verify(&self, path: &str) -> ToolOutput {
        let file = match self.schema_source(path) {
            Ok(file) => file,
            Err(failed) => return failed,
        };
        match tokio::time::timeout(Duration::from_secs(240), serve_and_verify(file)).await {
            Ok(Ok(text)) => ToolOutput::ok(text),
            Ok(Err(text)) => ToolOutput::failed(text),
            Err(_) => ToolOutput::failed("serve + verify did not finish within 240 s"),
        }
    }
}

async fn serve_and_verify(file: SourceFile) -> Result<String, String> {
    use rand::distributions::{Alphanumeric, DistString};
    let sandbox = tempfile::tempdir().map_err(|e| format!("cannot create a sandbox: {e}"))?;
    let database = format!(
        "sqlite://{}",
        sandbox.path().join("sandbox.db").to_string_lossy()
    );
    let config = plinth_server::ServeConfig {
        listen: "127.0.0.1:0".parse().expect("a literal address"),
        database: Some(database),
        jwt_secret: Some(Alphanumeric.sample_string(&mut rand::thread_rng(), 48)),
        // Verify's own traffic must fit in the auth budget; the rate-limit probe still needs
        // one to find.
        rate_limit_auth_per_ip: plinth_server::RateLimit::parse("90/m").ok().flatten(),
        rate_limit_per_ip: None,
        rate_limit_per_user: None,
        handle_signals: false,
        ..plinth_server::ServeConfig::default()
    };
    let source = plinth_server::SchemaSource::Text {
        name: file.name.clone(),
        text: file.text.clone(),
    };
    let server = plinth_server::start(config, source)
        .await
        .map_err(|e| format!("the schema does not serve: {e}"))?;
    let mut verify = plinth_verify::VerifyConfig::new(&server.url());
    verify.schema = Some(plinth_verify::SchemaSource {
        name: file.name,
        text: file.text,
    });
    let outcome = plinth_verify::run(&verify).await;
    let _ = server.shutdown().await;
    let report = outcome.map_err(|e| format!("verify could not run: {e}"))?;
    let mut text = format!(
        "verify sent {} requests to {} operations: {} findings\n",
        report.requests_sent,
        report.operations_tested,
        report.findings.len()
    );
    for finding in &report.findings {
        text.push_str(&format!(
            "- [{}] {}: {} (fix: {})\n",
            finding.rule, finding.title, finding.detail, finding.fix
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_project_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::open(&dir.path().join("p")).unwrap();
        for path in ["../x", "/etc/passwd", "a/../../x", "", "a/../../../etc"] {
            assert!(project.resolve(path).is_err(), "{path} was accepted");
        }
        assert!(project.resolve("a/b.txt").is_ok());
        assert!(!project.write_file("../escape.txt", "x").ok);
        assert!(!dir.path().join("escape.txt").exists());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path(), project.root().join("link")).unwrap();
            assert!(project.resolve("link/escape.txt").is_err());
            assert!(!project.write_file("link/escape.txt", "x").ok);
        }
    }

    #[test]
    fn write_read_check_and_build() {
        let dir = tempfile::tempdir().unwrap();
        let project = Project::open(dir.path()).unwrap();
        assert!(
            project
                .write_file(
                    SCHEMA_FILE,
                    "model Task {\n  id Int @id\n  title Strin\n}\n"
                )
                .ok
        );
        let check = project.check(SCHEMA_FILE);
        assert!(!check.ok);
        assert!(check.text.contains("Strin"), "{}", check.text);
        assert!(!project.draft_status(SCHEMA_FILE).is_ready());
        let good = "model Task {\n  id Int @id @default(autoincrement())\n  title String\n  @@allow('read', true)\n}\n";
        assert!(project.write_file(SCHEMA_FILE, good).ok);
        assert!(project.check(SCHEMA_FILE).ok);
        let built = project.build(SCHEMA_FILE);
        assert!(built.ok, "{}", built.text);
        assert!(project
            .read_file("build/openapi.json")
            .text
            .contains("/api/v1/tasks"));
        assert!(project.list_files().text.contains("build/erd.mmd"));
    }
}
