//! `/docs` in a real headless Chromium: the rendered DOM lists the API, and a full-page
//! screenshot is kept as a test artefact (`target/test-artifacts/docs-todo.png`) so a person can
//! see what a reader sees.
//!
//! Chromium comes from `PLINTH_TEST_CHROMIUM` (default `/usr/bin/chromium`); without it the
//! tests print a skip message, unless `PLINTH_REQUIRE_SERVICES=1`, when they fail.

use crate::harness::{Backend, TestServer};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM_VARIABLE: &str = "PLINTH_TEST_CHROMIUM";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const REQUIRE_SERVICES_VARIABLE: &str = "PLINTH_REQUIRE_SERVICES";

/// A hung browser (a page that never finishes loading, a wedged GPU process) must fail the test,
/// not hang the suite.
const CHROMIUM_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The PNG file signature.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A blank 1280×2000 page compresses to a few kilobytes; text, tables and code blocks do not.
const MINIMUM_SCREENSHOT_BYTES: usize = 30 * 1024;

const WINDOW_WIDTH: u32 = 1280;
const WINDOW_HEIGHT: u32 = 2000;

/// The Chromium to run, or `None` (after printing why) when the test should be skipped.
fn chromium_binary() -> Option<PathBuf> {
    let required = std::env::var(REQUIRE_SERVICES_VARIABLE).is_ok_and(|value| value == "1");
    let configured = std::env::var(CHROMIUM_VARIABLE)
        .ok()
        .filter(|value| !value.trim().is_empty());
    let candidate = PathBuf::from(configured.as_deref().unwrap_or(DEFAULT_CHROMIUM));
    if candidate.is_file() {
        return Some(candidate);
    }
    // A path set explicitly that does not exist is a broken setup, not a machine without Chromium.
    if required || configured.is_some() {
        panic!(
            "Chromium not found at {} (set {CHROMIUM_VARIABLE} to a Chromium binary; \
             {REQUIRE_SERVICES_VARIABLE}={})",
            candidate.display(),
            if required { "1" } else { "unset" }
        );
    }
    eprintln!(
        "skipping the headless-browser test of /docs: no Chromium at {DEFAULT_CHROMIUM} \
         (install Debian's `chromium` or set {CHROMIUM_VARIABLE})"
    );
    None
}

/// `target/test-artifacts/` of the workspace, created if needed.
fn artifact_directory() -> PathBuf {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&directory)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", directory.display()));
    directory
}

/// What one Chromium run printed.
struct ChromiumOutput {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with a fresh profile and `extra_arguments`, killed after
/// [`CHROMIUM_TIME_LIMIT`]. Panics when it fails or times out.
fn run_chromium(binary: &Path, extra_arguments: &[String]) -> ChromiumOutput {
    let profile = tempfile::tempdir().expect("temp dir for the Chromium profile");
    let mut command = Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra_arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout can end the browser's helper processes with it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));

    // Read both pipes while waiting: a full pipe would stall the browser.
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout_reader = read_all(child.stdout.take().map(|pipe| Box::new(pipe) as _));
    let stderr_reader = read_all(child.stderr.take().map(|pipe| Box::new(pipe) as _));

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < CHROMIUM_TIME_LIMIT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(None) => {
                // The group id is the child's pid (process_group(0) above).
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr_reader.join().unwrap_or_default();
                panic!(
                    "Chromium did not finish within {}s; killed. stderr:\n{}",
                    CHROMIUM_TIME_LIMIT.as_secs(),
                    tail(&stderr)
                );
            }
            Err(error) => panic!("cannot wait for Chromium: {error}"),
        }
    };
    let stdout = stdout_reader.join().unwrap_or_default();
    let stderr = stderr_reader.join().unwrap_or_default();
    assert!(
        status.success(),
        "Chromium exited with {status}; stderr:\n{}",
        tail(&stderr)
    );
    ChromiumOutput { stdout, stderr }
}

/// The last lines of a (noisy) Chromium log, enough to see why it failed.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Starts the todo example on SQLite (the page does not depend on the database).
async fn todo_server() -> TestServer {
    TestServer::start("todo", Backend::Sqlite)
        .await
        .expect("SQLite is always available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_renders_the_api_reference() {
    let Some(chromium) = chromium_binary() else {
        return;
    };
    let server = todo_server().await;
    let url = format!("{}/docs", server.base_url);
    let arguments = vec!["--dump-dom".to_string(), url.clone()];
    let output = tokio::task::spawn_blocking(move || run_chromium(&chromium, &arguments))
        .await
        .expect("the Chromium task ran");
    let dom = output.stdout;

    // The DOM as the browser built it, not the bytes the server sent: proof that the page
    // parses into what a reader sees.
    assert!(
        dom.contains("<h1"),
        "no heading in the rendered page from {url}:\n{}\nstderr:\n{}",
        &dom[..dom.len().min(2000)],
        tail(&output.stderr)
    );
    for expected in [
        "/api/v1/tasks",
        "/api/v1/categories",
        "/api/v1/users",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/me",
        "/openapi.json",
    ] {
        assert!(
            dom.contains(expected),
            "the rendered /docs does not mention `{expected}`:\n{}",
            &dom[..dom.len().min(4000)]
        );
    }
    // Field names of a model made it into the page (a table of fields, not just paths).
    assert!(dom.contains("title") && dom.contains("dueAt"), "{dom}");
    // Several rules share a table cell one per line: a line break, not the text `<br>`.
    assert!(
        !dom.contains("&lt;br"),
        "markup shown as text in the rendered /docs"
    );
    // A static page: nothing for a browser to run, and the styles are inline (the CSP allows no
    // other source).
    assert!(!dom.to_ascii_lowercase().contains("<script"), "{dom}");
    assert!(dom.contains("<style"), "the page carries its own styles");
    server.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_screenshot_is_kept_as_an_artefact() {
    let Some(chromium) = chromium_binary() else {
        return;
    };
    let server = todo_server().await;
    let screenshot = artifact_directory().join("docs-todo.png");
    // A stale file from an earlier run must not pass for this run's screenshot.
    if screenshot.exists() {
        std::fs::remove_file(&screenshot)
            .unwrap_or_else(|error| panic!("cannot remove {}: {error}", screenshot.display()));
    }
    let arguments = vec![
        format!("--screenshot={}", screenshot.display()),
        format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
        "--hide-scrollbars".to_string(),
        format!("{}/docs", server.base_url),
    ];
    let output = tokio::task::spawn_blocking(move || run_chromium(&chromium, &arguments))
        .await
        .expect("the Chromium task ran");
    server.finish().await;

    let bytes = std::fs::read(&screenshot).unwrap_or_else(|error| {
        panic!(
            "Chromium wrote no screenshot at {} ({error}); stderr:\n{}",
            screenshot.display(),
            tail(&output.stderr)
        )
    });
    assert!(
        bytes.starts_with(&PNG_SIGNATURE),
        "{} is not a PNG",
        screenshot.display()
    );
    // IHDR is the first chunk: length (4), type (4), then width and height, big-endian.
    assert!(
        bytes.len() > 24 && &bytes[12..16] == b"IHDR",
        "PNG without IHDR"
    );
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    assert_eq!(
        (width, height),
        (WINDOW_WIDTH, WINDOW_HEIGHT),
        "the screenshot has the window's size"
    );
    assert!(
        bytes.len() > MINIMUM_SCREENSHOT_BYTES,
        "the screenshot is {} bytes: a blank or nearly empty page",
        bytes.len()
    );
    eprintln!(
        "screenshot of /docs kept at {} ({} bytes)",
        screenshot.display(),
        bytes.len()
    );
}
