//! End-to-end tests of the `plinth` binary: real invocations, exit code and output snapshotted.
//!
//! One integration test binary for the crate (each file under `tests/` would be linked
//! separately, which is slow); the modules group the tests by command.

mod bench_schema;
mod build;
mod check;
mod cluster;
mod corpus;
mod design;
mod examples;
mod format;
mod migrate;
mod review;
mod serve_kill;
mod tidy;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This crate's fixture folder; tests run the binary from here so paths in output stay short.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// What one invocation did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code and both streams, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `plinth` with `arguments` in `directory`, feeding `stdin` when given.
pub fn plinth_in(directory: &Path, arguments: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plinth"));
    command
        .args(arguments)
        .current_dir(directory)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the plinth binary starts");
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes())
            .expect("stdin accepts the text");
    }
    let output = child
        .wait_with_output()
        .expect("the plinth binary finishes");
    Run {
        // A missing code means the process was killed by a signal (a crash): never expected.
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `plinth` in the fixture folder.
pub fn plinth(arguments: &[&str]) -> Run {
    plinth_in(&fixtures(), arguments, None)
}

/// A fresh, empty scratch directory for one test.
pub fn scratch_directory(name: &str) -> PathBuf {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plinth-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("the scratch directory can be created");
    directory
}

/// The `schema.plinth` of every example, sorted by name.
pub fn example_schemas() -> Vec<PathBuf> {
    let mut schemas: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("examples"))
        .expect("examples/ exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("schema.plinth"))
        .filter(|path| path.is_file())
        .collect();
    schemas.sort();
    schemas
}

/// The example's folder name (`todo`).
pub fn example_name(schema: &Path) -> String {
    schema
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
