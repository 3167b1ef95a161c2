//! `plinth serve` killed with SIGKILL mid-burst loses no acknowledged write: the real binary on
//! a SQLite file, creates from several threads, `kill -9` while they run, the binary started
//! again on the same file — every create that was answered 201 is there.
//!
//! HTTP is spoken over plain `TcpStream`s (one request per connection), so this test needs no
//! client library.

use crate::{scratch_directory, workspace_root};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "serve-kill-test-secret-0123456789abcdef";

/// One HTTP/1.1 exchange; `None` when the connection fails (the server is gone).
fn http(
    address: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Option<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body_text = body.map(|value| value.to_string()).unwrap_or_default();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if body.is_some() {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body_text.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body_text);
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_string()
    };
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    Some((status, json))
}

/// Decodes a chunked body.
fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size_line, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}

/// Starts `plinth serve` and answers the child with its `host:port`.
fn start_server(schema: &std::path::Path, database: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .arg("serve")
        .arg(schema)
        .arg("--db")
        .arg(format!("sqlite://{}", database.display()))
        .args(["--listen", "127.0.0.1:0"])
        .args(["--rate-limit-per-ip", "off"])
        .args(["--rate-limit-per-user", "off"])
        .args(["--rate-limit-auth-per-ip", "off"])
        .env("PLINTH_JWT_SECRET", SECRET)
        .env("PLINTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("plinth serve starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else {
            break;
        };
        if let Some(position) = line.find("http://") {
            let address = line[position + "http://".len()..]
                .split(|character: char| character.is_whitespace() || character == '/')
                .next()
                .unwrap_or_default()
                .to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return (child, address);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("plinth serve printed no URL");
}

#[test]
fn acknowledged_creates_survive_kill_9() {
    let directory = scratch_directory("serve-kill");
    let schema = workspace_root().join("examples/todo/schema.plinth");
    let database = directory.join("todo.db");
    let (mut child, address) = start_server(&schema, &database);

    let register = http(
        &address,
        "POST",
        "/api/v1/auth/register",
        None,
        Some(&serde_json::json!({ "email": "ada@example.com", "password": "correct horse battery", "name": "Ada" })),
    )
    .expect("register answers");
    assert_eq!(register.0, 201, "{}", register.1);
    let token = register.1["access_token"]
        .as_str()
        .expect("an access token")
        .to_string();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (address, token) = (address.clone(), token.clone());
        let (acknowledged, count, stop) = (acknowledged.clone(), count.clone(), stop.clone());
        writers.push(std::thread::spawn(move || {
            for index in 0..500 {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let body = serde_json::json!({ "title": format!("writer {writer} task {index}") });
                match http(&address, "POST", "/api/v1/tasks", Some(&token), Some(&body)) {
                    Some((201, row)) => {
                        if let Some(id) = row["id"].as_str() {
                            acknowledged.lock().expect("lock").push(id.to_string());
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL: no graceful shutdown, no flushing.
    child.kill().expect("the server is killed");
    let _ = child.wait();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        let _ = writer.join();
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 40,
        "writes were acknowledged before the kill: {}",
        acknowledged.len()
    );

    let (mut child, address) = start_server(&schema, &database);
    let mut lost = Vec::new();
    for id in &acknowledged {
        match http(
            &address,
            "GET",
            &format!("/api/v1/tasks/{id}"),
            Some(&token),
            None,
        ) {
            Some((200, _)) => {}
            other => lost.push((id.clone(), other.map(|(status, _)| status))),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&directory);
    assert!(
        lost.is_empty(),
        "acknowledged creates lost after kill -9: {lost:?}"
    );
}
