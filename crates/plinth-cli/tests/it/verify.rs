//! `plinth verify` against every example served by the real `plinth serve`, on SQLite and — when
//! `PLINTH_TEST_POSTGRES_URL` is set — on PostgreSQL: a registered user's token, the example's
//! schema (`--schema`, so the probes expect what its access rules say), the JSON report on
//! stdout, JUnit and HTML files beside it — and no finding at all, because every check must be
//! precise about what the contract and the rules promise (no false positives).

use crate::{example_name, example_schemas, scratch_directory};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "verify-test-secret-0123456789abcdef-0123";

/// `plinth serve` on a free port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database on `PLINTH_TEST_POSTGRES_URL`, dropped when the test ends.
struct PostgresDatabase {
    admin_url: String,
    name: String,
}

impl PostgresDatabase {
    /// `None` (said on stderr) when no PostgreSQL is configured, unless the test script
    /// requires one (`PLINTH_REQUIRE_SERVICES=1`).
    fn create(label: &str) -> Option<PostgresDatabase> {
        let Ok(admin_url) = std::env::var("PLINTH_TEST_POSTGRES_URL") else {
            if std::env::var("PLINTH_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("PLINTH_TEST_POSTGRES_URL is not set but PLINTH_REQUIRE_SERVICES=1");
            }
            eprintln!("skipping verify on PostgreSQL: PLINTH_TEST_POSTGRES_URL is not set");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!("plinth_verify_{label}_{}_{nanos}", std::process::id());
        admin(&admin_url, &format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        Some(PostgresDatabase { admin_url, name })
    }

    /// The URL of this database: the admin URL with its database name replaced.
    fn url(&self) -> String {
        let (without_query, query) = match self.admin_url.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (self.admin_url.as_str(), None),
        };
        let scheme_end = without_query.find("://").map_or(0, |index| index + 3);
        let base = match without_query[scheme_end..].find('/') {
            Some(slash) => &without_query[..scheme_end + slash],
            None => without_query,
        };
        match query {
            Some(query) => format!("{base}/{}?{query}", self.name),
            None => format!("{base}/{}", self.name),
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = admin(&self.admin_url, &statement) {
            eprintln!("warning: could not drop {}: {error}", self.name);
        }
    }
}

/// Runs one statement on the admin connection, on a runtime of its own.
fn admin(url: &str, statement: &str) -> Result<(), tokio_postgres::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute(statement).await
    })
}

fn serve(schema: &std::path::Path, directory: &std::path::Path, database: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .arg("serve")
        .arg(schema)
        .arg("--db")
        .arg(database)
        .args(["--listen", "127.0.0.1:0"])
        // Verify's own traffic (contract requests to the auth routes, a second user signing
        // up) must fit in the auth budget; the login rate-limit probe still needs a limit.
        .args(["--rate-limit-auth-per-ip", "90/m"])
        .args(["--rate-limit-per-ip", "off"])
        .args(["--rate-limit-per-user", "off"])
        .env("PLINTH_JWT_SECRET", SECRET)
        .env("PLINTH_LOG", "warn")
        .current_dir(directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("plinth serve starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(position) = line.find("http://") {
            let url = line[position..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            std::thread::spawn(move || for _ in lines {});
            return Server { child, url };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("plinth serve printed no URL for {}", schema.display());
}

/// Registers a user through the API (a body generated from the documented register schema)
/// and answers its access token.
fn register(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let document: serde_json::Value = client
            .get(format!("{url}/openapi.json"))
            .send()
            .await
            .expect("the document is served")
            .json()
            .await
            .expect("the document is JSON");
        let document = plinth_verify::document::ApiDocument::from_value("openapi.json", document)
            .expect("the document loads");
        let operation = document
            .operations
            .iter()
            .find(|operation| {
                operation.method == "POST" && operation.path.ends_with("/auth/register")
            })
            .expect("the API has a register route");
        let schema = operation
            .request_body
            .clone()
            .expect("register takes a body");
        let mut generator = plinth_verify::generate::Generator::new();
        let body = generator.valid(
            &schema,
            plinth_verify::generate::Direction::Request,
            plinth_verify::generate::Fill::Required,
        );
        let answer = client
            .post(format!("{url}{}", operation.path))
            .json(&body)
            .send()
            .await
            .expect("register answers");
        let status = answer.status();
        let answer: serde_json::Value = answer.json().await.expect("register answers JSON");
        assert_eq!(status.as_u16(), 201, "register refused {body}: {answer}");
        answer["access_token"]
            .as_str()
            .expect("register answers an access token")
            .to_string()
    })
}

#[test]
fn every_example_verifies_with_no_findings_on_sqlite() {
    verify_every_example("sqlite", |directory, _| {
        let database = directory.join("verify.db");
        Some((format!("sqlite://{}", database.display()), None))
    });
}

#[test]
fn every_example_verifies_with_no_findings_on_postgres() {
    verify_every_example("postgres", |_, name| {
        let database = PostgresDatabase::create(name)?;
        Some((database.url(), Some(database)))
    });
}

/// Serves each example on the database `database` gives (its URL, and a guard that drops it),
/// verifies it with its schema, and expects a clean report.
fn verify_every_example(
    label: &str,
    database: impl Fn(&std::path::Path, &str) -> Option<(String, Option<PostgresDatabase>)>,
) {
    let mut failures = Vec::new();
    for schema in example_schemas() {
        let name = example_name(&schema);
        let directory = scratch_directory(&format!("verify-{label}-{name}"));
        let Some((database_url, _database)) = database(&directory, &name) else {
            return;
        };
        let server = serve(&schema, &directory, &database_url);
        let token = register(&server.url);
        let junit = directory.join("verify.xml");
        let html = directory.join("verify.html");
        let output = Command::new(env!("CARGO_BIN_EXE_plinth"))
            .arg("verify")
            .arg(&server.url)
            .arg("--user")
            .arg(format!("ada:{token}"))
            .arg("--schema")
            .arg(&schema)
            .args(["--json", "-"])
            .arg("--junit")
            .arg(&junit)
            .arg("--html")
            .arg(&html)
            .current_dir(&directory)
            .stdin(Stdio::null())
            .output()
            .expect("plinth verify runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let report: serde_json::Value = match serde_json::from_str(&stdout) {
            Ok(report) => report,
            Err(error) => {
                failures.push(format!(
                    "{name}: stdout is not JSON ({error}); stderr:\n{stderr}"
                ));
                continue;
            }
        };
        let findings = report["findings"].as_array().cloned().unwrap_or_default();
        if output.status.code() != Some(0) || !findings.is_empty() {
            failures.push(format!(
                "{name} on {label}: exit {:?}, {} finding(s):\n{}",
                output.status.code(),
                findings.len(),
                stderr
            ));
        }
        assert_eq!(report["format"], "plinth-verify/1");
        assert!(
            report["summary"]["operations_tested"].as_u64().unwrap_or(0) > 10,
            "{name}: too few operations tested: {}",
            report["summary"]
        );
        assert!(report["summary"]["requests_sent"].as_u64().unwrap_or(0) > 50);
        let junit_text = std::fs::read_to_string(&junit).expect("the JUnit report is written");
        assert_well_formed_junit(&junit_text, &name);
        let html_text = std::fs::read_to_string(&html).expect("the HTML report is written");
        assert!(
            html_text.starts_with("<!DOCTYPE html>") && html_text.trim_end().ends_with("</html>")
        );
        assert!(
            !html_text.contains("<script"),
            "{name}: the HTML report loads no script"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Balanced tags, a declaration, test cases for the contract rules.
fn assert_well_formed_junit(text: &str, name: &str) {
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{name}"
    );
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let end = rest[start..]
            .find('>')
            .map(|end| start + end)
            .expect("every tag closes");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.ends_with('/') {
            continue;
        }
        let tag_name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        if tag.starts_with('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(tag_name.as_str()),
                "{name}: unbalanced </{tag_name}>"
            );
        } else {
            stack.push(tag_name);
        }
    }
    assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
    assert!(
        text.contains(
            "<testcase classname=\"contract-server-error\" name=\"POST /api/v1/auth/register\"/>"
        ),
        "{name}"
    );
}

#[test]
fn unreachable_url_and_bad_arguments_exit_2() {
    let directory = scratch_directory("verify-unreachable");
    // Port 9 (discard) on localhost: nothing listens there.
    let output = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["verify", "http://127.0.0.1:9", "--timeout", "2"])
        .current_dir(&directory)
        .output()
        .expect("plinth verify runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach"));
    let output = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["verify", "http://127.0.0.1:9", "--fail-on", "urgent"])
        .current_dir(&directory)
        .output()
        .expect("plinth verify runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--fail-on urgent"));
    // A schema with errors stops the run before anything is sent, with the compiler's errors.
    let schema = directory.join("broken.plinth");
    std::fs::write(&schema, "model Task {\n  id Int @id\n  owner Nobody\n}\n")
        .expect("the schema is written");
    let output = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["verify", "http://127.0.0.1:9", "--schema"])
        .arg(&schema)
        .current_dir(&directory)
        .output()
        .expect("plinth verify runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("has errors")
            && stderr.contains("Nobody")
            && !stderr.contains("cannot reach"),
        "{stderr}"
    );
}
