//! The HTML report of a real run in a real headless Chromium: `plinth_verify::run` against the
//! flawed notes API (`flawed/app.rs`) with several flaws switched on and a short load phase, the
//! page written to `target/test-artifacts/verify-report.html`, its DOM dumped by Chromium (the
//! switched-on flaws' rule ids and both latency plots must be in it) and a screenshot kept as
//! `target/test-artifacts/verify-report.png` so a person can see what a reader sees.
//!
//! Chromium comes from `PLINTH_TEST_CHROMIUM` (default `/usr/bin/chromium`); without it the
//! browser half prints a skip message, unless `PLINTH_REQUIRE_SERVICES=1`, when it fails.

#[path = "flawed/app.rs"]
mod app;

use app::Flaws;
use plinth_verify::{authz, contract, report, security, tokens, LoadSettings, VerifyConfig};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM_VARIABLE: &str = "PLINTH_TEST_CHROMIUM";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const REQUIRE_SERVICES_VARIABLE: &str = "PLINTH_REQUIRE_SERVICES";

/// A wedged browser must fail the test, not hang the suite.
const CHROMIUM_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The PNG file signature.
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// A blank page of this size compresses to a few kilobytes; findings, code and plots do not.
const MINIMUM_SCREENSHOT_BYTES: usize = 40 * 1024;

/// Tall enough that the load section and its plots below the findings are in the picture.
const WINDOW_WIDTH: u32 = 1280;
const WINDOW_HEIGHT: u32 = 6000;

/// The flaws switched on, and the rule id each must be reported under.
fn planted() -> (Flaws, Vec<&'static str>) {
    let flaws = Flaws {
        object_read_unchecked: true,
        write_without_auth: true,
        mass_assignment_role: true,
        sql_injection: true,
        schema_drift: true,
        alg_none_accepted: true,
        no_login_rate_limit: true,
        cors_reflects_origin: true,
        ..Flaws::default()
    };
    let rules = vec![
        authz::AUTHZ_OBJECT_READ,
        tokens::AUTH_MISSING,
        authz::AUTHZ_MASS_ASSIGNMENT,
        security::INJECTION_SQL,
        contract::RESPONSE_SCHEMA,
        tokens::AUTH_ALG_NONE,
        security::RATE_LIMIT_MISSING_ON_AUTH,
        security::EXPOSURE_CORS_REFLECTS_ORIGIN,
    ];
    (flaws, rules)
}

/// The Chromium to run, or `None` (after printing why) when the browser half is skipped.
fn chromium_binary() -> Option<PathBuf> {
    let required = std::env::var(REQUIRE_SERVICES_VARIABLE).is_ok_and(|value| value == "1");
    let configured = std::env::var(CHROMIUM_VARIABLE)
        .ok()
        .filter(|value| !value.trim().is_empty());
    let candidate = PathBuf::from(configured.as_deref().unwrap_or(DEFAULT_CHROMIUM));
    if candidate.is_file() {
        return Some(candidate);
    }
    // A path set explicitly that does not exist is a broken setup, not a machine without one.
    if required || configured.is_some() {
        panic!(
            "Chromium not found at {} (set {CHROMIUM_VARIABLE} to a Chromium binary; \
             {REQUIRE_SERVICES_VARIABLE}={})",
            candidate.display(),
            if required { "1" } else { "unset" }
        );
    }
    eprintln!(
        "skipping the headless-browser half of the verify report test: no Chromium at \
         {DEFAULT_CHROMIUM} (install Debian's `chromium` or set {CHROMIUM_VARIABLE})"
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

/// Chromium refuses to run as root with its sandbox on. `/proc/self` belongs to the process's
/// user, which tells without any system call of our own.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

/// A fresh, empty profile directory for one Chromium run; removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn new() -> Profile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "plinth-verify-chromium-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Profile(path)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one Chromium run printed.
struct ChromiumOutput {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium with a fresh profile and `extra_arguments`, killed after
/// [`CHROMIUM_TIME_LIMIT`]. Panics when it fails or times out.
fn run_chromium(binary: &Path, extra_arguments: &[String]) -> ChromiumOutput {
    let profile = Profile::new();
    let mut command = Command::new(binary);
    command.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]);
    if running_as_root() {
        command.arg("--no-sandbox");
    }
    command
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .args(extra_arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group, so a timeout ends the browser's helper processes with it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));

    // Both pipes are read while waiting: a full pipe would stall the browser.
    let read_all = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
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
                // The group id is the child's pid (`process_group(0)` above).
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

/// `file://` URL of an absolute path (the artefact directory's path has no characters that
/// need escaping on the machines this runs on; spaces are escaped anyway).
fn file_url(path: &Path) -> String {
    let absolute = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    format!(
        "file://{}",
        absolute.display().to_string().replace(' ', "%20")
    )
}

/// Width and height from a PNG's IHDR chunk (the first chunk: length, type, then both sizes).
fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&PNG_SIGNATURE) || bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let height = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    Some((width, height))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_html_report_renders_findings_and_plots_in_chromium() {
    let (flaws, expected_rules) = planted();
    let base_url = app::start(flaws).await;
    let mut config = VerifyConfig::new(&base_url);
    config.contract.max_duration = Duration::from_secs(60);
    config.load = Some(LoadSettings {
        connections: 4,
        rate: None,
        duration: Duration::from_secs(2),
        progress: false,
    });
    let verify_report = plinth_verify::run(&config).await.expect("verify runs");

    // The run itself found every planted flaw and measured the load, before any browser.
    let found: Vec<&str> = verify_report
        .findings
        .iter()
        .map(|finding| finding.rule)
        .collect();
    for rule in &expected_rules {
        assert!(found.contains(rule), "{rule} not among {found:?}");
    }
    assert_eq!(verify_report.plots.len(), 2, "two latency plots");
    assert!(verify_report.load.is_some(), "the load phase ran");

    let html = report::html::render(&verify_report);
    let page = artifact_directory().join("verify-report.html");
    std::fs::write(&page, &html)
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", page.display()));
    eprintln!("HTML report kept at {}", page.display());

    let Some(chromium) = chromium_binary() else {
        return;
    };
    let url = file_url(&page);

    // The DOM as the browser built it: proof that the page parses into what a reader sees.
    let arguments = vec!["--dump-dom".to_string(), url.clone()];
    let binary = chromium.clone();
    let output = tokio::task::spawn_blocking(move || run_chromium(&binary, &arguments))
        .await
        .expect("the Chromium task ran");
    let dom = output.stdout;
    assert!(
        dom.contains("<h1>plinth verify</h1>"),
        "no heading in the rendered report:\n{}\nstderr:\n{}",
        &dom[..dom.len().min(2000)],
        tail(&output.stderr)
    );
    for rule in &expected_rules {
        let shown = format!("<span class=\"rule\">{rule}</span>");
        assert!(dom.contains(&shown), "the rendered report lacks {shown}");
    }
    // Both plots are inline SVG the browser parsed (as elements, not escaped text), each with
    // its title and a drawn line, not the "no answers" placeholder.
    let figures: Vec<&str> = dom.split("<figure class=\"plot\"").skip(1).collect();
    assert_eq!(figures.len(), 2, "two plot figures in the DOM");
    for (figure, title) in figures
        .iter()
        .zip(["Latency by percentile", "Latency over time"])
    {
        let figure = figure.split("</figure>").next().unwrap_or("");
        assert!(
            figure.contains("<svg") && figure.contains("</svg>"),
            "{title}: no SVG element"
        );
        assert!(
            figure.contains(&format!("<title>{title}")),
            "{title}: the SVG has another title"
        );
        // The title shows once: the SVG's own heading (and its `<title>` for tooltips), with
        // no caption repeating it.
        assert!(
            !figure.contains("<figcaption"),
            "{title}: a caption repeats it"
        );
        assert_eq!(
            figure.matches(&format!(">{title}")).count(),
            2,
            "{title}: shown more than once"
        );
        assert!(figure.contains("<polyline"), "{title}: nothing drawn");
        assert!(
            !figure.contains("no answers were measured"),
            "{title}: no data plotted"
        );
    }
    assert!(!dom.contains("&lt;svg"), "an SVG shown as text");
    assert!(!dom.to_ascii_lowercase().contains("<script"), "no scripts");

    // The screenshot, kept for a person to look at.
    let screenshot = artifact_directory().join("verify-report.png");
    if screenshot.exists() {
        // A stale file from an earlier run must not pass for this run's screenshot.
        std::fs::remove_file(&screenshot)
            .unwrap_or_else(|error| panic!("cannot remove {}: {error}", screenshot.display()));
    }
    let arguments = vec![
        format!("--screenshot={}", screenshot.display()),
        format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
        "--hide-scrollbars".to_string(),
        url,
    ];
    let output = tokio::task::spawn_blocking(move || run_chromium(&chromium, &arguments))
        .await
        .expect("the Chromium task ran");
    let bytes = std::fs::read(&screenshot).unwrap_or_else(|error| {
        panic!(
            "Chromium wrote no screenshot at {} ({error}); stderr:\n{}",
            screenshot.display(),
            tail(&output.stderr)
        )
    });
    assert_eq!(
        png_size(&bytes),
        Some((WINDOW_WIDTH, WINDOW_HEIGHT)),
        "{} is a PNG of the window's size",
        screenshot.display()
    );
    assert!(
        bytes.len() > MINIMUM_SCREENSHOT_BYTES,
        "the screenshot is {} bytes: a blank or nearly empty page",
        bytes.len()
    );
    eprintln!(
        "screenshot of the verify report kept at {} ({} bytes)",
        screenshot.display(),
        bytes.len()
    );
}
