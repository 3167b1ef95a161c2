//! The processes of the cluster test: the services it needs (found, or the test is skipped),
//! a throwaway PostgreSQL database, redis-server, the `plinth serve` nodes and nginx running
//! deploy/nginx.conf. Every process is held by a [`ChildGuard`] that kills it when dropped, so
//! nothing outlives the test, also when it panics.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const POSTGRES_URL_VARIABLE: &str = "PLINTH_TEST_POSTGRES_URL";
pub const REDIS_SERVER_VARIABLE: &str = "PLINTH_TEST_REDIS_SERVER";
pub const NGINX_VARIABLE: &str = "PLINTH_TEST_NGINX";
pub const REQUIRE_SERVICES_VARIABLE: &str = "PLINTH_REQUIRE_SERVICES";

/// What the cluster test needs from the machine.
pub struct Services {
    pub postgres_url: String,
    pub redis_server: PathBuf,
    pub nginx: PathBuf,
}

impl Services {
    /// The services, or `None` (after saying why) when one is missing and the run does not
    /// require them; with `PLINTH_REQUIRE_SERVICES=1` a missing one fails the test.
    pub fn locate() -> Option<Services> {
        let postgres_url = std::env::var(POSTGRES_URL_VARIABLE)
            .ok()
            .filter(|url| !url.trim().is_empty());
        let redis_server = executable(REDIS_SERVER_VARIABLE, "redis-server", "/usr/bin");
        let nginx = executable(NGINX_VARIABLE, "nginx", "/usr/sbin");
        let mut missing = Vec::new();
        if postgres_url.is_none() {
            missing.push(format!(
                "{POSTGRES_URL_VARIABLE} (e.g. postgres://postgres@127.0.0.1:55432/postgres)"
            ));
        }
        if redis_server.is_none() {
            missing.push(format!("redis-server ({REDIS_SERVER_VARIABLE} or PATH)"));
        }
        if nginx.is_none() {
            missing.push(format!("nginx ({NGINX_VARIABLE}, PATH or /usr/sbin)"));
        }
        match (postgres_url, redis_server, nginx) {
            (Some(postgres_url), Some(redis_server), Some(nginx)) => Some(Services {
                postgres_url,
                redis_server,
                nginx,
            }),
            _ => {
                let message = format!(
                    "the multi-node test needs {}; bash scripts/test provides them",
                    missing.join(", ")
                );
                if std::env::var(REQUIRE_SERVICES_VARIABLE).is_ok_and(|value| value == "1") {
                    panic!("{message} ({REQUIRE_SERVICES_VARIABLE}=1)");
                }
                eprintln!("skipping the multi-node test: {message}");
                None
            }
        }
    }
}

/// The program named by `variable`, else `name` on PATH, else in `fallback_directory`.
fn executable(variable: &str, name: &str, fallback_directory: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path_directories = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_directories)
        .chain(std::iter::once(PathBuf::from(fallback_directory)))
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// A free loopback port (bound, then released: another process could take it in between, but
/// nothing else on a test machine hands out ports this way).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, within: Duration, what: &str, child: &ChildGuard) {
    let deadline = Instant::now() + within;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return;
        }
        if !child.is_running() {
            panic!(
                "{what} exited before it listened on {port}: {}",
                child.log_tail(30)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on {port} within {within:?}: {}",
        child.log_tail(30)
    );
}

/// A child process that is killed (SIGKILL) and reaped when dropped or [`ChildGuard::kill`]ed.
pub struct ChildGuard {
    pub name: String,
    child: Mutex<Option<Child>>,
    /// Where its output goes, for failure messages.
    pub log: PathBuf,
}

impl ChildGuard {
    pub fn new(name: impl Into<String>, child: Child, log: PathBuf) -> ChildGuard {
        ChildGuard {
            name: name.into(),
            child: Mutex::new(Some(child)),
            log,
        }
    }

    pub fn kill(&self) {
        let taken = self
            .child
            .lock()
            .map(|mut child| child.take())
            .unwrap_or(None);
        if let Some(mut child) = taken {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        let Ok(mut child) = self.child.lock() else {
            return false;
        };
        match child.as_mut() {
            Some(process) => matches!(process.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        format!(
            "\n--- last lines of {} ({})\n{}",
            self.name,
            self.log.display(),
            all[start..].join("\n")
        )
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A database of its own on the test PostgreSQL server; dropped (with FORCE) when the guard is.
pub struct TestDatabase {
    pub admin_url: String,
    pub name: String,
}

impl TestDatabase {
    pub async fn create(admin_url: &str) -> TestDatabase {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let name = format!("plinth_cluster_{}_{nanos}", std::process::id());
        let client = connect(admin_url).await;
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        TestDatabase {
            admin_url: admin_url.to_string(),
            name,
        }
    }

    /// The database's URL on the real server (bypassing the proxy).
    pub fn direct_url(&self) -> String {
        with_database_name(&self.admin_url, &self.name)
    }

    /// The database's URL through `proxy` instead of the real server's address.
    pub fn url_through(&self, proxy: SocketAddr) -> String {
        let url = self.direct_url();
        let scheme_end = url.find("://").map_or(0, |index| index + 3);
        let rest = &url[scheme_end..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        format!(
            "{}{user}{proxy}{}",
            &url[..scheme_end],
            &rest[authority_end..]
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // A runtime of its own on a plain thread: this may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
                        .await
                        .ok()?;
                tokio::spawn(connection);
                client.batch_execute(&statement).await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!(
                "warning: could not drop the cluster test's database {}",
                self.name
            );
        }
    }
}

/// A connected client (its connection task runs on the current runtime).
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {url}: {error}"));
    tokio::spawn(connection);
    client
}

/// `postgres://user@host:port/anything?query` with the database name replaced.
fn with_database_name(url: &str, name: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_start = without_query.find("://").map_or(0, |index| index + 3);
    let base = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// `host:port` of a PostgreSQL URL (default port 5432).
pub fn postgres_host_and_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host_port.starts_with('[') {
        // [::1]:5432
        if host_port.contains("]:") {
            host_port.to_string()
        } else {
            format!("{host_port}:5432")
        }
    } else if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:5432")
    }
}

/// Starts redis-server on loopback `port`, without persistence.
pub fn start_redis(binary: &Path, port: u16, directory: &Path) -> ChildGuard {
    let log = directory.join("redis.log");
    let output = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("the redis log opens");
    let child = Command::new(binary)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1"])
        .args(["--save", ""])
        .args(["--appendonly", "no"])
        .arg("--dir")
        .arg(directory)
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            output.try_clone().expect("the redis log handle clones"),
        ))
        .stderr(Stdio::from(output))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let guard = ChildGuard::new("redis-server", child, log);
    wait_for_port(port, Duration::from_secs(10), "redis-server", &guard);
    guard
}

/// The settings every node of the test cluster runs with.
pub struct NodeSettings<'a> {
    pub schema: &'a Path,
    pub database_url: &'a str,
    pub redis_url: &'a str,
    pub jwt_secret: &'a str,
    pub directory: &'a Path,
    /// `--pool-size`: PostgreSQL connections per node.
    pub pool_size: usize,
    /// `PLINTH_REQUEST_TIMEOUT`.
    pub request_timeout: Duration,
}

/// Spawns `plinth serve` node `number` on a free port chosen by the node itself (port 0).
/// Returns at once; [`wait_for_listening`] reads the address it prints.
pub fn spawn_node(
    number: usize,
    settings: &NodeSettings<'_>,
) -> (ChildGuard, std::process::ChildStdout) {
    let log = settings.directory.join(format!("node-{number}.log"));
    let output = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("the node log opens");
    let mut child = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .arg("serve")
        .arg(settings.schema)
        .args(["--db", settings.database_url])
        .args(["--redis", settings.redis_url])
        .args(["--listen", "127.0.0.1:0"])
        .args(["--pool-size", &settings.pool_size.to_string()])
        .args(["--rate-limit-auth-per-ip", "5/m"])
        .args(["--rate-limit-per-ip", "off"])
        .args(["--rate-limit-per-user", "off"])
        // nginx connects from here; its X-Forwarded-For names the client.
        .args(["--trusted-proxy", "127.0.0.1"])
        .env("PLINTH_JWT_SECRET", settings.jwt_secret)
        .env("PLINTH_POSTGRES_STATEMENT_TIMEOUT_MS", "2000")
        .env(
            "PLINTH_REQUEST_TIMEOUT",
            settings.request_timeout.as_secs().to_string(),
        )
        .env("PLINTH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(output))
        .spawn()
        .expect("plinth serve starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    (
        ChildGuard::new(format!("node {number}"), child, log),
        stdout,
    )
}

/// Reads the node's stdout until it prints its URL; answers `http://127.0.0.1:PORT`, or why not.
pub fn wait_for_listening(
    stdout: std::process::ChildStdout,
    within: Duration,
) -> Result<String, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if sent {
                continue;
            }
            if let Some(position) = line.find("http://") {
                let url: String = line[position..]
                    .split(char::is_whitespace)
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches('/')
                    .to_string();
                let _ = sender.send(Ok(url));
                sent = true;
            }
        }
        if !sent {
            let _ = sender.send(Err("the node exited without printing its URL".to_string()));
        }
        // Keep draining until the node exits so it never blocks on a full pipe.
    });
    match receiver.recv_timeout(within) {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("the node printed no URL within {within:?}")),
    }
}

/// The placeholder names deploy/nginx.conf marks with `# placeholder: NAME` (its header lists
/// them too); the test fails when the file and this list disagree.
pub const NGINX_PLACEHOLDERS: &[&str] = &[
    "user",
    "pid",
    "error-log",
    "temp-path",
    "access-log",
    "upstream",
    "listen",
];

/// deploy/nginx.conf with its placeholder lines rewritten for a test run in `directory`:
/// nginx listens on `listen_port` and balances over `node_ports`.
pub fn nginx_config_for_test(
    config: &str,
    directory: &Path,
    listen_port: u16,
    node_ports: &[u16],
) -> String {
    let mut output = String::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut upstream_written = false;
    for line in config.lines() {
        let marked = if line.trim_start().starts_with('#') {
            None
        } else {
            line.split_once("# placeholder:")
        };
        let Some((directive, placeholder)) = marked else {
            output.push_str(line);
            output.push('\n');
            continue;
        };
        let placeholder = placeholder.trim();
        let name = NGINX_PLACEHOLDERS
            .iter()
            .find(|known| **known == placeholder)
            .unwrap_or_else(|| {
                panic!("deploy/nginx.conf has an unknown placeholder `{placeholder}`")
            });
        if !seen.contains(name) {
            seen.push(name);
        }
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let directive = directive.trim();
        let directive_name = directive.split_whitespace().next().unwrap_or_default();
        let rewritten = match *name {
            // nginx runs as one process here (master_process off): there are no workers whose
            // user could change.
            "user" => None,
            "pid" => Some(format!("pid {};", directory.join("nginx.pid").display())),
            "error-log" => Some(format!(
                "error_log {} info;",
                directory.join("nginx-error.log").display()
            )),
            "temp-path" => {
                let folder = directory.join("nginx-temp").join(directive_name);
                Some(format!("{directive_name} {};", folder.display()))
            }
            "access-log" => {
                // Keep the format name the file chose.
                let format_name = directive
                    .trim_end_matches(';')
                    .split_whitespace()
                    .nth(2)
                    .unwrap_or("combined");
                Some(format!(
                    "access_log {} {format_name};",
                    directory.join("nginx-access.log").display()
                ))
            }
            "upstream" => {
                if upstream_written {
                    None
                } else {
                    upstream_written = true;
                    // Keep the parameters after the address (max_fails, fail_timeout, …).
                    let parameters: Vec<&str> = directive
                        .trim_end_matches(';')
                        .split_whitespace()
                        .skip(2)
                        .collect();
                    let lines: Vec<String> = node_ports
                        .iter()
                        .map(|port| {
                            format!("server 127.0.0.1:{port} {};", parameters.join(" "))
                                .replace(" ;", ";")
                        })
                        .collect();
                    Some(lines.join(&format!("\n{indent}")))
                }
            }
            "listen" => Some(format!("listen 127.0.0.1:{listen_port};")),
            _ => unreachable!("every placeholder name is handled"),
        };
        if let Some(text) = rewritten {
            output.push_str(&indent);
            output.push_str(&text);
            output.push('\n');
        }
    }
    for name in NGINX_PLACEHOLDERS {
        assert!(
            seen.contains(name),
            "deploy/nginx.conf lost its `# placeholder: {name}` line"
        );
    }
    output
}

/// Starts nginx in the foreground, as one process, with `config` written into `directory`.
pub fn start_nginx(binary: &Path, config: &str, directory: &Path, port: u16) -> ChildGuard {
    for folder in [
        "client_body_temp_path",
        "proxy_temp_path",
        "fastcgi_temp_path",
        "uwsgi_temp_path",
        "scgi_temp_path",
    ] {
        std::fs::create_dir_all(directory.join("nginx-temp").join(folder))
            .expect("the nginx temp folders can be created");
    }
    let config_path = directory.join("nginx.conf");
    std::fs::write(&config_path, config).expect("the nginx config is written");
    let log = directory.join("nginx-error.log");
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(directory.join("nginx-stderr.log"))
        .expect("the nginx stderr log opens");
    let child = Command::new(binary)
        .arg("-p")
        .arg(directory)
        .arg("-c")
        .arg(&config_path)
        .arg("-e")
        .arg(&log)
        .args(["-g", "daemon off; master_process off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr))
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
    let guard = ChildGuard::new("nginx", child, log);
    wait_for_port(port, Duration::from_secs(10), "nginx", &guard);
    guard
}
