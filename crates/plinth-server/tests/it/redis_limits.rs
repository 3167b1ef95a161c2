//! Rate limits shared through Redis: two in-process servers count one limit together (L across
//! nodes, not L per node); with redis-server killed both keep serving with local limits and say
//! `degraded` on `/readyz`; with it restarted on the same port shared limits resume.
//!
//! Starts its own `redis-server` (from `PLINTH_TEST_REDIS_SERVER` or PATH) on a free loopback
//! port; skips with a message when there is none, unless `PLINTH_REQUIRE_SERVICES=1`.

use crate::harness::{Backend, Reply, TestServer};
use plinth_server::config::RateLimit;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REDIS_SERVER_VARIABLE: &str = "PLINTH_TEST_REDIS_SERVER";
const REQUIRE_SERVICES_VARIABLE: &str = "PLINTH_REQUIRE_SERVICES";

/// The `redis-server` to run, or `None` (after printing why) when the test should be skipped.
fn redis_server_binary() -> Option<PathBuf> {
    let configured = std::env::var_os(REDIS_SERVER_VARIABLE)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from);
    let found = configured.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|directory| directory.join("redis-server"))
                .find(|candidate| candidate.is_file())
        })
    });
    if found.is_none() {
        if std::env::var(REQUIRE_SERVICES_VARIABLE).is_ok_and(|value| value == "1") {
            panic!(
                "no redis-server ({REDIS_SERVER_VARIABLE} or PATH) \
                 but {REQUIRE_SERVICES_VARIABLE}=1"
            );
        }
        eprintln!(
            "skipping the Redis rate-limit test: \
             install redis-server or set {REDIS_SERVER_VARIABLE}"
        );
    }
    found
}

fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A redis-server process of this test, killed on drop.
struct RedisProcess {
    binary: PathBuf,
    port: u16,
    directory: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisProcess {
    async fn start(binary: PathBuf) -> RedisProcess {
        let mut process = RedisProcess {
            binary,
            port: free_loopback_port(),
            directory: tempfile::tempdir().expect("temp dir"),
            child: None,
        };
        process.launch().await;
        process
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts redis-server on this port (again) and waits until it answers PING.
    async fn launch(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.directory.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(&self.url()).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {} within 10 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL, as a crash would.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(url: &str) -> bool {
    let attempt = async {
        let client = redis::Client::open(url).ok()?;
        let mut connection = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(answer)) if answer == "PONG"
    )
}

/// Runs one command on a fresh connection.
async fn redis_command<T: redis::FromRedisValue>(url: &str, command: &redis::Cmd) -> T {
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects to Redis");
    command
        .query_async(&mut connection)
        .await
        .expect("Redis runs the command")
}

/// The limiter's keys carry the prefix and a TTL, so Redis memory stays bounded.
async fn assert_keys_expire(url: &str) {
    let keys: Vec<String> = redis_command(url, redis::cmd("KEYS").arg("*")).await;
    assert!(!keys.is_empty(), "the shared limits wrote keys");
    for key in keys {
        assert!(key.starts_with("plinth:rl:"), "key {key} has the prefix");
        let ttl_ms: i64 = redis_command(url, redis::cmd("PTTL").arg(&key)).await;
        assert!(
            (1..=60_000).contains(&ttl_ms),
            "key {key} expires within the period (PTTL {ttl_ms})"
        );
    }
}

async fn login(server: &TestServer) -> Reply {
    server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "nobody@example.com", "password": "guess" }),
        )
        .await
}

/// Asserts a 429 problem with a numeric `Retry-After` within the limit's period.
#[track_caller]
fn assert_limited(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 429, "{context}: {}", reply.text);
    reply.problem(429);
    let retry_after: u64 = reply
        .header("retry-after")
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "{context}: 429 has a numeric Retry-After: {:?}",
                reply.headers
            )
        });
    assert!(
        (1..=60).contains(&retry_after),
        "{context}: Retry-After {retry_after}"
    );
}

/// Polls `/readyz` until it answers 200 with `status` (and the matching redis check).
async fn wait_for_readiness(server: &TestServer, status: &str, redis: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = server.get("/readyz", None).await;
        assert_eq!(reply.status, 200, "/readyz stays 200: {}", reply.text);
        let body: &Value = reply.json();
        if body["status"] == status && body["checks"]["redis"] == redis {
            assert_eq!(body["checks"]["database"], "ok", "{}", reply.text);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz did not become {status} (redis {redis}) within 15 s: {}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Five login attempts spread over both nodes pass the shared limit; the sixth is refused on
/// either node.
async fn shared_limit_holds_across(first: &TestServer, second: &TestServer, context: &str) {
    for attempt in 0..5 {
        let node = if attempt % 2 == 0 { first } else { second };
        let reply = login(node).await;
        assert_eq!(
            reply.status,
            401,
            "{context}: attempt {} of 5 passes the limiter: {}",
            attempt + 1,
            reply.text
        );
    }
    assert_limited(&login(second).await, &format!("{context}: 6th on node 2"));
    assert_limited(&login(first).await, &format!("{context}: 7th on node 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_shared_and_degrade_safely() {
    let Some(binary) = redis_server_binary() else {
        return;
    };
    let mut redis = RedisProcess::start(binary).await;
    let redis_url = redis.url();
    let adjust = |config: &mut plinth_server::config::ServeConfig| {
        config.redis_url = Some(redis_url.clone());
        config.rate_limit_auth_per_ip = Some(RateLimit {
            requests: 5,
            period: Duration::from_secs(60),
        });
    };
    let Some(first) = TestServer::start_with("todo", Backend::Sqlite, adjust).await else {
        return;
    };
    let Some(second) = TestServer::start_with("todo", Backend::Sqlite, adjust).await else {
        return;
    };
    wait_for_readiness(&first, "ready", "ok").await;
    wait_for_readiness(&second, "ready", "ok").await;

    shared_limit_holds_across(&first, &second, "Redis up").await;
    assert_keys_expire(&redis.url()).await;
    let metrics = first.get("/metrics", None).await;
    for name in ["plinth_redis_calls_total", "plinth_rate_limit_degraded"] {
        assert!(metrics.text.contains(name), "/metrics has {name}");
    }

    // Redis dies: both nodes notice (by the background probe or the next call), keep serving,
    // and count on their own — a local limit still refuses.
    redis.kill();
    wait_for_readiness(&first, "degraded", "unavailable").await;
    wait_for_readiness(&second, "degraded", "unavailable").await;
    for attempt in 0..5 {
        let reply = login(&first).await;
        assert_eq!(
            reply.status,
            401,
            "Redis down: attempt {} of 5 on node 1 passes its local limit: {}",
            attempt + 1,
            reply.text
        );
    }
    assert_limited(
        &login(&first).await,
        "Redis down: 6th on node 1 (local limit)",
    );
    assert_eq!(
        login(&second).await.status,
        401,
        "Redis down: node 2 counts on its own"
    );
    assert_eq!(second.get("/healthz", None).await.status, 200);
    let degraded_metrics = second.get("/metrics", None).await;
    assert!(
        degraded_metrics.text.contains("plinth_redis_errors_total"),
        "/metrics counts Redis errors"
    );

    // Redis is back (empty, on the same port): both nodes return to shared limits.
    redis.launch().await;
    wait_for_readiness(&first, "ready", "ok").await;
    wait_for_readiness(&second, "ready", "ok").await;
    // The nodes loaded the script again on their way back; forget it once more to see the
    // EVALSHA → NOSCRIPT → EVAL fallback keep the shared count (not degrade to local limits).
    let _: String = redis_command(&redis.url(), redis::cmd("SCRIPT").arg("FLUSH")).await;
    shared_limit_holds_across(&first, &second, "Redis back").await;
    wait_for_readiness(&first, "ready", "ok").await;

    first.finish().await;
    second.finish().await;
}
