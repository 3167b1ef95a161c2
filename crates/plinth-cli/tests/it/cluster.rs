//! Three `plinth serve` processes on one PostgreSQL database and one Redis, behind nginx running
//! deploy/nginx.conf, behave as one server: shared rate limits, idempotency, refresh-token and
//! logout revocation, realtime events across nodes, `kill -9` of a node under load, Redis and
//! the database going away and coming back.
//!
//! Needs PostgreSQL (`PLINTH_TEST_POSTGRES_URL`), redis-server and nginx (`bash scripts/test`
//! provides all three); skipped with a message when one is missing, unless
//! `PLINTH_REQUIRE_SERVICES=1`. The nodes reach PostgreSQL through a proxy in this test, so a
//! scenario can cut the database off. Each scenario is a named step; every step runs (a failed
//! one does not hide the others) and the test fails at the end listing the failed steps.
//! Each scenario speaks from its own loopback address (127.0.0.N), so the strict limit on
//! `/api/v1/auth/*` (5 per minute per client IP) never leaks from one scenario into another.

mod http;
mod processes;
mod proxy;

use crate::{scratch_directory, workspace_root};
use http::{client_from, send, streaming_client_from, try_send, with_token, EventStream, Reply};
use processes::{ChildGuard, NodeSettings, Services, TestDatabase};
use proxy::DatabaseProxy;
use serde_json::{json, Value};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Identical on every node (at least 32 bytes), as the operations guide requires.
const JWT_SECRET: &str = "plinth-cluster-test-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery staple";
/// The login limit every node runs with: `--rate-limit-auth-per-ip 5/m`.
const AUTH_LIMIT: usize = 5;
const NODE_COUNT: usize = 3;
/// No scenario may take longer than this.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// One `plinth serve` process.
struct Node {
    number: usize,
    url: String,
    process: ChildGuard,
}

/// Everything the scenarios share. Fields drop in order: nginx, the nodes, Redis, the proxy,
/// and last the database.
struct Cluster {
    nginx: ChildGuard,
    nodes: Vec<Node>,
    redis: Mutex<Option<ChildGuard>>,
    redis_port: u16,
    redis_binary: PathBuf,
    proxy: DatabaseProxy,
    database: TestDatabase,
    directory: PathBuf,
    nginx_url: String,
    /// The last byte of the next client address handed out (127.0.0.N).
    next_client_address: AtomicU8,
    /// Unique user names.
    next_user: AtomicUsize,
    /// What went wrong while the nodes started together (empty: nothing).
    bootstrap_problems: Vec<String>,
}

/// A signed-in user.
#[derive(Clone, Debug)]
struct Session {
    access_token: String,
    refresh_token: String,
    user_id: String,
}

impl Cluster {
    async fn start(services: Services) -> Cluster {
        let directory = scratch_directory("cluster");
        let database = TestDatabase::create(&services.postgres_url).await;
        let proxy =
            DatabaseProxy::start(processes::postgres_host_and_port(&services.postgres_url)).await;
        let redis_port = processes::free_port();
        let redis = processes::start_redis(&services.redis_server, redis_port, &directory);

        let schema = workspace_root().join("examples/todo/schema.plinth");
        let database_url = database.url_through(proxy.address);
        let redis_url = format!("redis://127.0.0.1:{redis_port}");
        let settings = NodeSettings {
            schema: &schema,
            database_url: &database_url,
            redis_url: &redis_url,
            jwt_secret: JWT_SECRET,
            directory: &directory,
            pool_size: NODE_POOL_SIZE,
            request_timeout: NODE_REQUEST_TIMEOUT,
        };
        // All nodes at the same moment, on the empty database: they race to create the schema.
        let spawned: Vec<_> = (1..=NODE_COUNT)
            .map(|number| processes::spawn_node(number, &settings))
            .collect();
        let mut bootstrap_problems = Vec::new();
        let mut nodes = Vec::new();
        for (index, (process, stdout)) in spawned.into_iter().enumerate() {
            let number = index + 1;
            match processes::wait_for_listening(stdout, Duration::from_secs(60)) {
                Ok(url) => nodes.push(Node {
                    number,
                    url,
                    process,
                }),
                Err(error) => {
                    bootstrap_problems.push(format!(
                        "node {number} did not start with the others: {error}{}",
                        process.log_tail(15)
                    ));
                    drop(process);
                    // Start it again alone, so the other scenarios still get three nodes.
                    let (process, stdout) = processes::spawn_node(number, &settings);
                    let url = processes::wait_for_listening(stdout, Duration::from_secs(60))
                        .unwrap_or_else(|error| {
                            panic!(
                                "node {number} does not start even alone: {error}{}",
                                process.log_tail(30)
                            )
                        });
                    nodes.push(Node {
                        number,
                        url,
                        process,
                    });
                }
            }
        }
        let probe = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for node in &nodes {
            if let Err(problem) = wait_until_ready(&probe, &node.url, Duration::from_secs(30)).await
            {
                bootstrap_problems.push(format!(
                    "node {} is not ready: {problem}{}",
                    node.number,
                    node.process.log_tail(15)
                ));
            }
        }

        let nginx_port = processes::free_port();
        let node_ports: Vec<u16> = nodes
            .iter()
            .map(|node| {
                node.url
                    .rsplit(':')
                    .next()
                    .and_then(|port| port.parse().ok())
                    .unwrap_or_else(|| panic!("no port in the node URL {}", node.url))
            })
            .collect();
        let template = std::fs::read_to_string(workspace_root().join("deploy/nginx.conf"))
            .expect("deploy/nginx.conf exists");
        let config =
            processes::nginx_config_for_test(&template, &directory, nginx_port, &node_ports);
        let nginx = processes::start_nginx(&services.nginx, &config, &directory, nginx_port);
        let nginx_url = format!("http://127.0.0.1:{nginx_port}");
        if let Err(problem) = wait_until_ready(&probe, &nginx_url, Duration::from_secs(10)).await {
            bootstrap_problems.push(format!(
                "nginx does not answer /readyz: {problem}{}",
                nginx.log_tail(15)
            ));
        }

        Cluster {
            nginx,
            nodes,
            redis: Mutex::new(Some(redis)),
            redis_port,
            redis_binary: services.redis_server,
            proxy,
            database,
            directory,
            nginx_url,
            // 127.0.0.1 belongs to the rate-limit scenario (and to nginx's own connections).
            next_client_address: AtomicU8::new(2),
            next_user: AtomicUsize::new(1),
            bootstrap_problems,
        }
    }

    /// Node `number`'s URL (1-based).
    fn node(&self, number: usize) -> &str {
        &self.nodes[number - 1].url
    }

    /// The nodes whose process still runs.
    fn live_nodes(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|node| node.process.is_running())
            .collect()
    }

    /// A client from an address no other scenario uses.
    fn fresh_client(&self) -> reqwest::Client {
        client_from(self.fresh_address())
    }

    fn fresh_address(&self) -> IpAddr {
        let last = self.next_client_address.fetch_add(1, Ordering::SeqCst);
        assert!(last < 250, "out of loopback client addresses");
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
    }

    /// Registers a new user through `base`; one call to `/api/v1/auth/*`.
    async fn register(&self, client: &reqwest::Client, base: &str, label: &str) -> Session {
        let number = self.next_user.fetch_add(1, Ordering::SeqCst);
        let reply = send(
            client
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({
                    "email": format!("{label}-{number}@example.com"),
                    "password": PASSWORD,
                    "name": label,
                })),
        )
        .await;
        assert_eq!(
            reply.status,
            201,
            "register on {base}: {}",
            reply.describe()
        );
        session_from(&reply)
    }

    fn stop_redis(&self) {
        let taken = self
            .redis
            .lock()
            .map(|mut redis| redis.take())
            .unwrap_or(None);
        drop(taken);
    }

    /// Starts Redis again on the same port (a no-op when it runs).
    fn start_redis(&self) {
        let Ok(mut redis) = self.redis.lock() else {
            return;
        };
        if redis.as_ref().is_some_and(ChildGuard::is_running) {
            return;
        }
        *redis = Some(processes::start_redis(
            &self.redis_binary,
            self.redis_port,
            &self.directory,
        ));
    }

    /// The last lines of every log, for a failure report.
    fn log_tails(&self) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            text.push_str(&node.process.log_tail(25));
        }
        text.push_str(&self.nginx.log_tail(15));
        text
    }
}

fn session_from(reply: &Reply) -> Session {
    let text = |pointer: &str| {
        reply
            .json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {pointer} in {}", reply.describe()))
            .to_string()
    };
    Session {
        access_token: text("/access_token"),
        refresh_token: text("/refresh_token"),
        user_id: text("/user/id"),
    }
}

/// Polls `base/readyz` until it answers 200; the last answer when it never does.
async fn wait_until_ready(
    client: &reqwest::Client,
    base: &str,
    within: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        match try_send(client.get(format!("{base}/readyz"))).await {
            Ok(reply) if reply.status == 200 => return Ok(()),
            Ok(reply) => last = reply.describe(),
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("not ready within {within:?}; last answer: {last}"))
}

/// Polls `base/readyz` until its JSON `status` is `wanted` with HTTP `status`.
async fn wait_for_readiness(
    client: &reqwest::Client,
    base: &str,
    status: u16,
    wanted: &str,
    within: Duration,
) -> Result<Duration, String> {
    let started = Instant::now();
    let mut last = String::from("no answer");
    while started.elapsed() < within {
        match try_send(client.get(format!("{base}/readyz"))).await {
            Ok(reply) if reply.status == status && reply.json["status"] == wanted => {
                return Ok(started.elapsed())
            }
            Ok(reply) => last = reply.describe(),
            Err(error) => last = error,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "{base}/readyz did not say {status} `{wanted}` within {within:?}; last answer: {last}"
    ))
}

/// A failed login (unknown user): counts against the auth limit like a password guess.
async fn failed_login(client: &reqwest::Client, base: &str) -> Reply {
    failed_login_with(client.post(format!("{base}/api/v1/auth/login"))).await
}

async fn failed_login_with(request: reqwest::RequestBuilder) -> Reply {
    send(request.json(&json!({ "email": "nobody@example.com", "password": "not the password" })))
        .await
}

fn assert_refused_by_limit(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 429, "{context}: {}", reply.describe());
    let retry_after: Option<u64> = reply
        .header("retry-after")
        .and_then(|value| value.trim().parse().ok());
    assert!(
        retry_after.is_some_and(|seconds| seconds > 0),
        "{context}: a 429 needs Retry-After in seconds, got {:?}",
        reply.header("retry-after")
    );
    assert!(
        reply.content_type().starts_with("application/problem+json"),
        "{context}: a 429 is problem+json, got `{}`",
        reply.content_type()
    );
}

async fn create_task(client: &reqwest::Client, base: &str, token: &str, title: &str) -> Value {
    let reply = send(
        with_token(client.post(format!("{base}/api/v1/tasks")), token)
            .json(&json!({ "title": title })),
    )
    .await;
    assert_eq!(reply.status, 201, "create on {base}: {}", reply.describe());
    reply.json
}

async fn read_task(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let reply = send(with_token(
        client.get(format!("{base}/api/v1/tasks/{id}")),
        token,
    ))
    .await;
    assert_eq!(
        reply.status,
        200,
        "GET task {id} on {base}: {}",
        reply.describe()
    );
    reply.json
}

fn id_of(row: &Value) -> String {
    row["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a row without an id: {row}"))
        .to_string()
}

// --- a. rate limits ------------------------------------------------------------------------------

/// L = 5 login attempts per minute per client IP hold for the cluster, not per node: five
/// spread over the three nodes and nginx pass, the sixth is refused wherever it goes.
async fn rate_limit_holds_across_nodes(cluster: Arc<Cluster>) {
    let client = client_from(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let targets = [
        cluster.node(1),
        cluster.node(2),
        cluster.node(3),
        cluster.nginx_url.as_str(),
        cluster.node(1),
    ];
    assert_eq!(targets.len(), AUTH_LIMIT);
    for (attempt, base) in targets.iter().enumerate() {
        let reply = failed_login(&client, base).await;
        assert_eq!(
            reply.status,
            401,
            "attempt {} of {AUTH_LIMIT} (to {base}) is within the limit: {}",
            attempt + 1,
            reply.describe()
        );
    }
    // Node 3 saw one attempt itself: only a shared count refuses this one.
    let sixth = failed_login(&client, cluster.node(3)).await;
    assert_refused_by_limit(
        &sixth,
        "attempt 6 on node 3 (one attempt seen there itself)",
    );
    let on_node_2 = failed_login(&client, cluster.node(2)).await;
    assert_refused_by_limit(&on_node_2, "attempt 7 on node 2");
    let through_nginx = failed_login(&client, &cluster.nginx_url).await;
    assert_refused_by_limit(&through_nginx, "attempt 8 through nginx");
}

/// Behind nginx each client is counted under its own address (nginx's X-Forwarded-For, from a
/// trusted proxy), and a client cannot pick another one by sending its own X-Forwarded-For.
async fn clients_behind_nginx_are_told_apart(cluster: Arc<Cluster>) {
    let guesser = cluster.fresh_client();
    for attempt in 1..=AUTH_LIMIT {
        let reply = failed_login_with(
            guesser
                .post(format!("{}/api/v1/auth/login", cluster.nginx_url))
                .header("x-forwarded-for", format!("198.51.100.{attempt}")),
        )
        .await;
        assert_eq!(
            reply.status,
            401,
            "guess {attempt} through nginx (forged X-Forwarded-For): {}",
            reply.describe()
        );
    }
    let refused = failed_login_with(
        guesser
            .post(format!("{}/api/v1/auth/login", cluster.nginx_url))
            .header("x-forwarded-for", "198.51.100.99"),
    )
    .await;
    assert_refused_by_limit(
        &refused,
        "guess 6 through nginx, with yet another forged address",
    );
    // Neither nginx's own address nor the guesser's count is shared with another client.
    let neighbour = cluster.fresh_client();
    let reply = failed_login(&neighbour, &cluster.nginx_url).await;
    assert_eq!(
        reply.status,
        401,
        "another client through nginx has a count of its own: {}",
        reply.describe()
    );
}

// --- b. idempotency ------------------------------------------------------------------------------

/// A create with an Idempotency-Key on node 1, replayed on node 2 (and 3): the first result
/// comes back, marked as a replay, and there is one row.
async fn idempotency_key_replays_on_another_node(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster
        .register(&client, cluster.node(1), "idempotency")
        .await;
    let title = "written once through node 1, replayed on node 2";
    let key = "cluster-idempotency-key-0001";
    let post = |base: &str| {
        with_token(
            client.post(format!("{base}/api/v1/tasks")),
            &user.access_token,
        )
        .header("idempotency-key", key)
        .json(&json!({ "title": title }))
    };
    let first = send(post(cluster.node(1))).await;
    assert_eq!(first.status, 201, "first create: {}", first.describe());
    assert_eq!(first.header("idempotent-replayed"), None);
    let location = first
        .header("location")
        .expect("a 201 has a Location")
        .to_string();
    for number in [2, 3] {
        let replay = send(post(cluster.node(number))).await;
        assert_eq!(
            replay.status,
            201,
            "replay on node {number}: {}",
            replay.describe()
        );
        assert_eq!(
            replay.header("idempotent-replayed"),
            Some("true"),
            "replay on node {number} is marked"
        );
        assert_eq!(replay.header("location"), Some(location.as_str()));
        assert_eq!(
            replay.json, first.json,
            "replay on node {number}: same body"
        );
    }
    let database = processes::connect(&cluster.database.direct_url()).await;
    let rows: i64 = database
        .query_one(
            r#"SELECT count(*) FROM "Task" WHERE "title" = $1"#,
            &[&title],
        )
        .await
        .expect("the task count query runs")
        .get(0);
    assert_eq!(rows, 1, "one row for one Idempotency-Key");
}

// --- c. refresh tokens and logout ----------------------------------------------------------------

async fn refresh(client: &reqwest::Client, base: &str, token: &str) -> Reply {
    send(
        client
            .post(format!("{base}/api/v1/auth/refresh"))
            .json(&json!({ "refresh_token": token })),
    )
    .await
}

/// Rotating on node 1, then presenting the old token on node 2, revokes the family: the new
/// token is dead on node 3 too.
async fn reused_refresh_token_kills_the_family_everywhere(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "refresh").await;
    let rotated = refresh(&client, cluster.node(1), &user.refresh_token).await;
    assert_eq!(
        rotated.status,
        200,
        "rotation on node 1: {}",
        rotated.describe()
    );
    let new_token = session_from(&rotated).refresh_token;
    assert_ne!(new_token, user.refresh_token);
    let reused = refresh(&client, cluster.node(2), &user.refresh_token).await;
    assert_eq!(
        reused.status,
        401,
        "the rotated-away token on node 2: {}",
        reused.describe()
    );
    let family = refresh(&client, cluster.node(3), &new_token).await;
    assert_eq!(
        family.status,
        401,
        "after the reuse, the family's newest token on node 3: {}",
        family.describe()
    );
}

/// Logout on node 1 revokes the access token on nodes 2 and 3 within a second.
async fn logout_revokes_the_access_token_everywhere(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "logout").await;
    let list = |base: &str| {
        with_token(
            client.get(format!("{base}/api/v1/tasks")),
            &user.access_token,
        )
    };
    for number in 1..=NODE_COUNT {
        let reply = send(list(cluster.node(number))).await;
        assert_eq!(
            reply.status,
            200,
            "before logout, node {number}: {}",
            reply.describe()
        );
    }
    let logout = send(
        with_token(
            client.post(format!("{}/api/v1/auth/logout", cluster.node(1))),
            &user.access_token,
        )
        .json(&json!({ "refresh_token": user.refresh_token })),
    )
    .await;
    assert_eq!(
        logout.status,
        204,
        "logout on node 1: {}",
        logout.describe()
    );
    let logged_out = Instant::now();
    let mut delays = Vec::new();
    for number in 1..=NODE_COUNT {
        // Poll well past the 1 s budget only to report how long it really took.
        let mut observed = None;
        while logged_out.elapsed() < Duration::from_secs(5) {
            let reply = send(list(cluster.node(number))).await;
            if reply.status == 401 {
                observed = Some(logged_out.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        delays.push((number, observed));
    }
    eprintln!("cluster: access token refused after logout: {delays:?}");
    for (number, observed) in &delays {
        match observed {
            Some(delay) => assert!(
                *delay <= Duration::from_millis(1000),
                "node {number} refused the logged-out access token only after {delay:?}"
            ),
            None => panic!("node {number} still accepts the access token 5 s after logout"),
        }
    }
    let refreshed = refresh(&client, cluster.node(2), &user.refresh_token).await;
    assert_eq!(
        refreshed.status,
        401,
        "the logged-out refresh token: {}",
        refreshed.describe()
    );
}

// --- d. events -----------------------------------------------------------------------------------

fn events_url(base: &str) -> String {
    format!("{base}/api/v1/tasks/events")
}

/// A writes through node 1; A's subscriber on node 2 sees created, updated, deleted with the
/// rows GET returned; B's subscriber on node 3 sees only B's own task.
async fn events_reach_subscribers_on_other_nodes(cluster: Arc<Cluster>) {
    let client_a = cluster.fresh_client();
    let client_b = cluster.fresh_client();
    let a = cluster
        .register(&client_a, cluster.node(1), "events-a")
        .await;
    let b = cluster
        .register(&client_b, cluster.node(1), "events-b")
        .await;
    let streaming = streaming_client_from(cluster.fresh_address());
    let mut stream_a = EventStream::open(with_token(
        streaming.get(events_url(cluster.node(2))),
        &a.access_token,
    ))
    .await;
    let mut stream_b = EventStream::open(with_token(
        streaming.get(events_url(cluster.node(3))),
        &b.access_token,
    ))
    .await;
    // The same stream through nginx: deploy/nginx.conf must pass events on unbuffered.
    let mut stream_a_through_nginx = EventStream::open(with_token(
        streaming.get(events_url(&cluster.nginx_url)),
        &a.access_token,
    ))
    .await;

    let node_1 = cluster.node(1);
    let created = create_task(&client_a, node_1, &a.access_token, "an event for A").await;
    let task = id_of(&created);
    let as_created = read_task(&client_a, node_1, &a.access_token, &task).await;
    let patched = send(
        with_token(
            client_a.patch(format!("{node_1}/api/v1/tasks/{task}")),
            &a.access_token,
        )
        .json(&json!({ "title": "an event for A, updated", "done": true })),
    )
    .await;
    assert_eq!(patched.status, 200, "update: {}", patched.describe());
    let as_updated = read_task(&client_a, node_1, &a.access_token, &task).await;
    let deleted = send(with_token(
        client_a.delete(format!("{node_1}/api/v1/tasks/{task}")),
        &a.access_token,
    ))
    .await;
    assert_eq!(deleted.status, 204, "delete: {}", deleted.describe());
    let b_created = create_task(&client_b, node_1, &b.access_token, "B's own task").await;
    let b_task = id_of(&b_created);
    let b_row = read_task(&client_b, node_1, &b.access_token, &b_task).await;

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen_by_a = Vec::new();
    while seen_by_a.len() < 3 {
        match stream_a.next_event(deadline).await {
            Some(event) => seen_by_a.push(event),
            None => break,
        }
    }
    let kinds: Vec<&str> = seen_by_a.iter().map(|event| event.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["created", "updated", "deleted"],
        "A's stream on node 2: {seen_by_a:#?}"
    );
    for event in &seen_by_a {
        assert!(
            event.sequence().is_some(),
            "every event has a numeric id: {event:?}"
        );
    }
    let sequences: Vec<u64> = seen_by_a
        .iter()
        .filter_map(|event| event.sequence())
        .collect();
    assert!(
        sequences.windows(2).all(|pair| pair[0] < pair[1]),
        "ids rise in commit order: {sequences:?}"
    );
    assert_eq!(
        seen_by_a[0].json(),
        as_created,
        "the created event carries the row as GET gave it"
    );
    assert_eq!(
        seen_by_a[1].json(),
        as_updated,
        "the updated event carries the row as GET gave it"
    );
    assert_eq!(
        seen_by_a[2].json(),
        as_updated,
        "the deleted event carries the row as it was"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen_by_b = Vec::new();
    while let Some(event) = stream_b.next_event(deadline).await {
        let done = event.json()["id"] == b_task.as_str();
        seen_by_b.push(event);
        if done {
            break;
        }
    }
    assert!(
        seen_by_b
            .iter()
            .all(|event| event.json()["id"] != task.as_str()),
        "B's stream must not carry A's task: {seen_by_b:#?}"
    );
    let last = seen_by_b
        .last()
        .unwrap_or_else(|| panic!("B's stream on node 3 got nothing within 5 s"));
    assert_eq!(last.event, "created", "B's stream: {seen_by_b:#?}");
    assert_eq!(last.json(), b_row, "B's own task as GET gave it");
    assert_eq!(last.json()["ownerId"], b.user_id.as_str());
    assert_eq!(
        seen_by_b.len(),
        1,
        "B's stream carries only B's event: {seen_by_b:#?}"
    );

    let extra = stream_a
        .events_until(Instant::now() + Duration::from_millis(500))
        .await;
    assert!(
        extra.is_empty(),
        "A's stream must not carry B's task: {extra:#?}"
    );

    let through_nginx = stream_a_through_nginx
        .events_until(Instant::now() + Duration::from_secs(2))
        .await;
    assert_eq!(
        through_nginx, seen_by_a,
        "A's stream through nginx carries the same events, as they happen"
    );
}

/// A subscriber that drops off and reconnects on another node with Last-Event-ID gets exactly
/// the events it missed, in order, once each.
async fn reconnect_with_last_event_id_misses_nothing(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "resume").await;
    let streaming = streaming_client_from(cluster.fresh_address());
    let mut stream = EventStream::open(with_token(
        streaming.get(events_url(cluster.node(2))),
        &user.access_token,
    ))
    .await;
    let before = create_task(
        &client,
        cluster.node(1),
        &user.access_token,
        "before the drop",
    )
    .await;
    let first = stream
        .next_event(Instant::now() + Duration::from_secs(5))
        .await
        .expect("the subscriber on node 2 sees the first create");
    assert_eq!(first.event, "created");
    assert_eq!(first.json()["id"], before["id"]);
    let last_seen = first.id.clone().expect("the event has an id");
    drop(stream);

    let mut missed = Vec::new();
    for number in 1..=3 {
        let row = create_task(
            &client,
            cluster.node(1),
            &user.access_token,
            &format!("missed {number}"),
        )
        .await;
        missed.push(id_of(&row));
    }
    let mut resumed = EventStream::open(
        with_token(
            streaming.get(events_url(cluster.node(3))),
            &user.access_token,
        )
        .header("last-event-id", &last_seen),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut events = Vec::new();
    while events.len() < missed.len() {
        match resumed.next_event(deadline).await {
            Some(event) => events.push(event),
            None => break,
        }
    }
    // Anything more (a duplicate, an older event) would arrive right behind.
    events.extend(
        resumed
            .events_until(Instant::now() + Duration::from_millis(700))
            .await,
    );
    let ids: Vec<String> = events
        .iter()
        .map(|event| event.json()["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        ids, missed,
        "the missed creates, in order, once each: {events:#?}"
    );
    assert!(events.iter().all(|event| event.event == "created"));
    let last_seen: u64 = last_seen.trim().parse().expect("numeric event ids");
    let sequences: Vec<u64> = events.iter().filter_map(|event| event.sequence()).collect();
    assert_eq!(
        sequences.len(),
        events.len(),
        "every event has a numeric id"
    );
    assert!(
        sequences.iter().all(|sequence| *sequence > last_seen)
            && sequences.windows(2).all(|pair| pair[0] < pair[1]),
        "ids after {last_seen}, rising: {sequences:?}"
    );
}

// --- capacity -----------------------------------------------------------------------------------

/// Each node's pool size (`--pool-size`).
const NODE_POOL_SIZE: usize = 4;

/// Under concurrent load the database sees at most nodes × (pool size + 1 listener)
/// connections, the figure the capacity guide in docs/operations.md gives.
async fn database_connections_stay_within_the_pools(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "capacity").await;
    let mut requests = tokio::task::JoinSet::new();
    for round in 0..60 {
        let base = cluster.node(round % NODE_COUNT + 1).to_string();
        let request = with_token(
            client.get(format!("{base}/api/v1/tasks?limit=5")),
            &user.access_token,
        );
        requests.spawn(async move { try_send(request).await.map(|reply| reply.status) });
    }
    let admin = processes::connect(&cluster.database.admin_url).await;
    let mut most = 0i64;
    while !requests.is_empty() {
        let row = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                &[&cluster.database.name],
            )
            .await
            .expect("pg_stat_activity is readable");
        most = most.max(row.get(0));
        if let Some(joined) = requests.try_join_next() {
            let status = joined.expect("the request task ran");
            assert_eq!(status, Ok(200), "a read under load");
        } else {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let bound = NODE_COUNT * (NODE_POOL_SIZE + 1);
    eprintln!("cluster: at most {most} PostgreSQL connections under load (bound {bound})");
    assert!(
        most as usize <= bound,
        "{most} connections to the database; {NODE_COUNT} nodes × (pool {NODE_POOL_SIZE} + 1) = {bound}"
    );
}

// --- e. kill -9 under load -----------------------------------------------------------------------

/// Writers create tasks through nginx while node 2 is killed with SIGKILL: every create that
/// was answered 201 exists, and nginx keeps serving from the other nodes.
async fn kill_9_of_a_node_loses_no_acknowledged_write(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "kill").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let acknowledged_after_kill = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let client = client.clone();
        let url = format!("{}/api/v1/tasks", cluster.nginx_url);
        let token = user.access_token.clone();
        let (acknowledged, acknowledged_after_kill, failed, killed, stop) = (
            acknowledged.clone(),
            acknowledged_after_kill.clone(),
            failed.clone(),
            killed.clone(),
            stop.clone(),
        );
        writers.spawn(async move {
            let mut index = 0;
            while !stop.load(Ordering::SeqCst) {
                index += 1;
                let body = json!({ "title": format!("writer {writer} task {index}") });
                let was_killed = killed.load(Ordering::SeqCst);
                match try_send(with_token(client.post(&url), &token).json(&body)).await {
                    Ok(reply) if reply.status == 201 => {
                        if let Some(id) = reply.json["id"].as_str() {
                            if let Ok(mut ids) = acknowledged.lock() {
                                ids.push(id.to_string());
                            }
                            if was_killed {
                                acknowledged_after_kill.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    Ok(reply) => {
                        if let Ok(mut failures) = failed.lock() {
                            failures.push(reply.describe());
                        }
                    }
                    Err(error) => {
                        if let Ok(mut failures) = failed.lock() {
                            failures.push(error);
                        }
                    }
                }
            }
        });
    }
    let count = |ids: &Arc<Mutex<Vec<String>>>| ids.lock().map(|ids| ids.len()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&acknowledged) < 30 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        count(&acknowledged) >= 30,
        "the writers got going through nginx"
    );
    killed.store(true, Ordering::SeqCst);
    cluster.nodes[1].process.kill();
    let deadline = Instant::now() + Duration::from_secs(8);
    while acknowledged_after_kill.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    while writers.join_next().await.is_some() {}
    let ids = acknowledged
        .lock()
        .map(|ids| ids.clone())
        .unwrap_or_default();
    let failures = failed
        .lock()
        .map(|failures| failures.clone())
        .unwrap_or_default();
    let after_kill = acknowledged_after_kill.load(Ordering::SeqCst);
    eprintln!(
        "cluster: {} creates acknowledged through nginx, {after_kill} after node 2 was killed, \
         {} not acknowledged: {:?}",
        ids.len(),
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        after_kill >= 40,
        "nginx keeps serving creates from nodes 1 and 3 after the kill: only {after_kill}"
    );

    // Every acknowledged create is there, read back through nginx as its owner.
    let lost = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut readers = tokio::task::JoinSet::new();
    for chunk in ids.chunks(ids.len().div_ceil(8).max(1)) {
        let chunk = chunk.to_vec();
        let (client, lost) = (client.clone(), lost.clone());
        let base = cluster.nginx_url.clone();
        let token = user.access_token.clone();
        readers.spawn(async move {
            for id in chunk {
                let outcome = try_send(with_token(
                    client.get(format!("{base}/api/v1/tasks/{id}")),
                    &token,
                ))
                .await;
                let found = matches!(&outcome, Ok(reply) if reply.status == 200);
                if !found {
                    let what = match outcome {
                        Ok(reply) => reply.describe(),
                        Err(error) => error,
                    };
                    if let Ok(mut lost) = lost.lock() {
                        lost.push(format!("{id}: {what}"));
                    }
                }
            }
        });
    }
    while readers.join_next().await.is_some() {}
    let lost = lost.lock().map(|lost| lost.clone()).unwrap_or_default();
    assert!(lost.is_empty(), "acknowledged creates not found: {lost:?}");

    for attempt in 1..=20 {
        let reply = send(with_token(
            client.get(format!("{}/api/v1/tasks?limit=1", cluster.nginx_url)),
            &user.access_token,
        ))
        .await;
        assert_eq!(
            reply.status,
            200,
            "read {attempt} through nginx after the kill: {}",
            reply.describe()
        );
    }
}

// --- f. Redis down and back ----------------------------------------------------------------------

/// Redis stopped: every node keeps serving, says `degraded` on /readyz (200), and still
/// refuses past a limit of its own.
async fn without_redis_nodes_degrade_to_local_limits(cluster: Arc<Cluster>) {
    cluster.stop_redis();
    let probe = cluster.fresh_client();
    for node in cluster.live_nodes() {
        let waited =
            wait_for_readiness(&probe, &node.url, 200, "degraded", Duration::from_secs(10))
                .await
                .unwrap_or_else(|problem| panic!("node {}: {problem}", node.number));
        eprintln!(
            "cluster: node {} reported degraded {waited:?} after Redis stopped",
            node.number
        );
    }
    let client = cluster.fresh_client();
    let user = cluster.register(&client, cluster.node(1), "no-redis").await;
    for node in cluster.live_nodes() {
        let reply = send(with_token(
            client.get(format!("{}/api/v1/tasks", node.url)),
            &user.access_token,
        ))
        .await;
        assert_eq!(
            reply.status,
            200,
            "node {} without Redis: {}",
            node.number,
            reply.describe()
        );
    }
    let guesser = cluster.fresh_client();
    let mut statuses = Vec::new();
    for _ in 0..=AUTH_LIMIT {
        let reply = failed_login(&guesser, cluster.node(1)).await;
        if reply.status == 429 {
            assert_refused_by_limit(&reply, "the local limit without Redis");
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses[0], 401, "the first guess passes: {statuses:?}");
    assert!(
        statuses.contains(&429),
        "{} guesses at one node without Redis must meet a local limit: {statuses:?}",
        AUTH_LIMIT + 1
    );
}

/// Redis back on the same port: readiness returns to `ready` and limits are shared again.
async fn redis_back_restores_shared_limits(cluster: Arc<Cluster>) {
    cluster.start_redis();
    let probe = cluster.fresh_client();
    let live = cluster.live_nodes();
    for node in &live {
        let waited = wait_for_readiness(&probe, &node.url, 200, "ready", Duration::from_secs(15))
            .await
            .unwrap_or_else(|problem| panic!("node {}: {problem}", node.number));
        eprintln!(
            "cluster: node {} ready again {waited:?} after Redis restarted",
            node.number
        );
    }
    assert!(live.len() >= 2, "this scenario needs two live nodes");
    let guesser = cluster.fresh_client();
    let mut per_node = vec![0usize; live.len()];
    for attempt in 0..AUTH_LIMIT {
        let index = attempt % live.len();
        per_node[index] += 1;
        let reply = failed_login(&guesser, &live[index].url).await;
        assert_eq!(
            reply.status,
            401,
            "attempt {} (node {}) is within the shared limit: {}",
            attempt + 1,
            live[index].number,
            reply.describe()
        );
    }
    // The node that saw the fewest attempts: only the shared count can refuse there.
    let (quietest, seen) = per_node
        .iter()
        .enumerate()
        .min_by_key(|(_, count)| **count)
        .map(|(index, count)| (index, *count))
        .unwrap_or((0, 0));
    let reply = failed_login(&guesser, &live[quietest].url).await;
    assert_refused_by_limit(
        &reply,
        &format!(
            "attempt {} on node {} (which saw {seen} itself) after Redis came back",
            AUTH_LIMIT + 1,
            live[quietest].number
        ),
    );
}

// --- g. database cut and restored ----------------------------------------------------------------

/// The database unreachable: API requests answer 503 problem+json quickly, never 500 or a
/// hang; /readyz says 503.
async fn without_the_database_nodes_answer_503(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster
        .register(&client, cluster.node(1), "no-database")
        .await;
    cluster.proxy.cut();
    for node in cluster.live_nodes() {
        let base = &node.url;
        // The first may meet a pooled connection that just died; none may be anything but 503.
        for attempt in 1..=3 {
            let reply = send(with_token(
                client.get(format!("{base}/api/v1/tasks")),
                &user.access_token,
            ))
            .await;
            assert_database_unavailable(&reply, &format!("node {} list {attempt}", node.number));
        }
        let create = send(
            with_token(
                client.post(format!("{base}/api/v1/tasks")),
                &user.access_token,
            )
            .json(&json!({ "title": "while the database is away" })),
        )
        .await;
        assert_database_unavailable(&create, &format!("node {} create", node.number));
        let ready = send(client.get(format!("{base}/readyz"))).await;
        assert_eq!(
            ready.status,
            503,
            "node {} /readyz: {}",
            node.number,
            ready.describe()
        );
    }
}

fn assert_database_unavailable(reply: &Reply, context: &str) {
    assert_eq!(reply.status, 503, "{context}: {}", reply.describe());
    assert!(
        reply.content_type().starts_with("application/problem+json"),
        "{context}: problem+json, got `{}`",
        reply.content_type()
    );
    assert!(
        reply.elapsed < Duration::from_secs(6),
        "{context}: answered only after {:?}",
        reply.elapsed
    );
}

/// The database back: every node recovers by itself and serves reads and writes.
async fn nodes_recover_when_the_database_returns(cluster: Arc<Cluster>) {
    cluster.proxy.restore();
    let restored = Instant::now();
    let probe = cluster.fresh_client();
    for node in cluster.live_nodes() {
        wait_until_ready(&probe, &node.url, Duration::from_secs(20))
            .await
            .unwrap_or_else(|problem| panic!("node {}: {problem}", node.number));
    }
    eprintln!(
        "cluster: every live node ready {:?} after the database returned",
        restored.elapsed()
    );
    let client = cluster.fresh_client();
    let user = cluster
        .register(&client, cluster.node(1), "database-back")
        .await;
    let mut written_before = Vec::new();
    for node in cluster.live_nodes() {
        let row = create_task(
            &client,
            &node.url,
            &user.access_token,
            &format!("after the outage, node {}", node.number),
        )
        .await;
        read_task(&client, &node.url, &user.access_token, &id_of(&row)).await;
        written_before.push(row["id"].clone());
    }
    // The cluster bus is back too: a write on one node reaches a subscriber on another.
    let live = cluster.live_nodes();
    let (writer, listener) = (live[0], live[live.len() - 1]);
    let streaming = streaming_client_from(cluster.fresh_address());
    let mut stream = EventStream::open(with_token(
        streaming.get(events_url(&listener.url)),
        &user.access_token,
    ))
    .await;
    let row = create_task(&client, &writer.url, &user.access_token, "the bus is back").await;
    // A new stream starts after every write acknowledged before it opened: the writes above
    // never show up on it, this one does.
    let event = stream
        .next_event(Instant::now() + Duration::from_secs(5))
        .await
        .unwrap_or_else(|| {
            panic!(
                "a subscriber on node {} got no event for a write on node {} after the outage",
                listener.number, writer.number
            )
        });
    assert!(
        !written_before.contains(&event.json()["id"]),
        "a write acknowledged before the stream opened came through it: {event:#?}"
    );
    assert_eq!(event.event, "created");
    assert_eq!(event.json()["id"], row["id"]);
}

/// How long a node lets a request run (`PLINTH_REQUEST_TIMEOUT`).
const NODE_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The database hangs (a partition: nothing answers, nothing closes): requests still end, with
/// a 503 problem+json within the node's request timeout, and /readyz says 503.
async fn unresponsive_database_answers_503_within_the_timeout(cluster: Arc<Cluster>) {
    let client = cluster.fresh_client();
    let user = cluster
        .register(&client, cluster.node(1), "hung-database")
        .await;
    cluster.proxy.freeze();
    let mut requests = tokio::task::JoinSet::new();
    for node in cluster.live_nodes() {
        let list = with_token(
            client.get(format!("{}/api/v1/tasks", node.url)),
            &user.access_token,
        );
        let create = with_token(
            client.post(format!("{}/api/v1/tasks", node.url)),
            &user.access_token,
        )
        .json(&json!({ "title": "while the database hangs" }));
        let ready = client.get(format!("{}/readyz", node.url));
        for (what, request) in [("list", list), ("create", create), ("readyz", ready)] {
            let context = format!("node {} {what}", node.number);
            requests.spawn(async move { (context, try_send(request).await) });
        }
    }
    let limit = NODE_REQUEST_TIMEOUT + Duration::from_secs(2);
    while let Some(joined) = requests.join_next().await {
        let (context, outcome) = joined.expect("the request task ran");
        let reply = outcome.unwrap_or_else(|error| {
            panic!("{context}: no answer while the database hangs: {error}")
        });
        assert_eq!(reply.status, 503, "{context}: {}", reply.describe());
        assert!(
            reply.content_type().starts_with("application/problem+json"),
            "{context}: problem+json, got `{}`",
            reply.content_type()
        );
        assert!(
            reply.elapsed <= limit,
            "{context}: answered after {:?}, the node's request timeout is {NODE_REQUEST_TIMEOUT:?}",
            reply.elapsed
        );
    }
}

// --- the test ------------------------------------------------------------------------------------

type Scenario = fn(Arc<Cluster>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// In order: the destructive ones (kill, Redis, database) come last.
const SCENARIOS: &[(&str, Scenario)] = &[
    (
        "a. rate limit: 5 login attempts per minute across all nodes together",
        |cluster| Box::pin(rate_limit_holds_across_nodes(cluster)),
    ),
    (
        "a2. behind nginx: each client counted alone, forged X-Forwarded-For ignored",
        |cluster| Box::pin(clients_behind_nginx_are_told_apart(cluster)),
    ),
    (
        "b. idempotency: a key replayed on another node returns the first result",
        |cluster| Box::pin(idempotency_key_replays_on_another_node(cluster)),
    ),
    (
        "c1. refresh token: reuse on node 2 kills the family on node 3",
        |cluster| Box::pin(reused_refresh_token_kills_the_family_everywhere(cluster)),
    ),
    (
        "c2. logout on node 1: access token refused on nodes 2 and 3 within 1 s",
        |cluster| Box::pin(logout_revokes_the_access_token_everywhere(cluster)),
    ),
    (
        "d1. events: writes on node 1 reach subscribers on nodes 2 and 3, by policy",
        |cluster| Box::pin(events_reach_subscribers_on_other_nodes(cluster)),
    ),
    (
        "d2. events: reconnecting with Last-Event-ID misses nothing",
        |cluster| Box::pin(reconnect_with_last_event_id_misses_nothing(cluster)),
    ),
    (
        "h. capacity: PostgreSQL connections stay within nodes × (pool size + 1)",
        |cluster| Box::pin(database_connections_stay_within_the_pools(cluster)),
    ),
    (
        "e. kill -9 of node 2 under load: no acknowledged write lost",
        |cluster| Box::pin(kill_9_of_a_node_loses_no_acknowledged_write(cluster)),
    ),
    (
        "f1. Redis stopped: nodes serve, local limits, /readyz degraded",
        |cluster| Box::pin(without_redis_nodes_degrade_to_local_limits(cluster)),
    ),
    (
        "f2. Redis back: /readyz ready, shared limits resume",
        |cluster| Box::pin(redis_back_restores_shared_limits(cluster)),
    ),
    (
        "g1. database cut: 503 problem+json, /readyz 503",
        |cluster| Box::pin(without_the_database_nodes_answer_503(cluster)),
    ),
    (
        "g2. database restored: nodes recover by themselves",
        |cluster| Box::pin(nodes_recover_when_the_database_returns(cluster)),
    ),
    (
        "g3. database hangs: 503 problem+json within the request timeout",
        |cluster| {
            Box::pin(unresponsive_database_answers_503_within_the_timeout(
                cluster,
            ))
        },
    ),
    (
        "g4. database answers again: nodes recover by themselves",
        |cluster| Box::pin(nodes_recover_when_the_database_returns(cluster)),
    ),
];

fn panic_text(error: tokio::task::JoinError) -> String {
    if error.is_cancelled() {
        return "cancelled".to_string();
    }
    let payload = error.into_panic();
    if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else {
        "panicked".to_string()
    }
}

/// Runs every scenario; answers the report lines of those that failed.
async fn run_scenarios(services: Services) -> Vec<String> {
    let started = Instant::now();
    let cluster = Arc::new(Cluster::start(services).await);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let bootstrap = "bootstrap: three nodes start together on one empty database";
    if cluster.bootstrap_problems.is_empty() {
        report.push(format!("ok      {bootstrap} ({:.1?})", started.elapsed()));
    } else {
        let line = format!(
            "FAILED  {bootstrap}: {}",
            cluster.bootstrap_problems.join("; ")
        );
        report.push(line.clone());
        failures.push(line);
    }
    for (name, scenario) in SCENARIOS {
        let step_started = Instant::now();
        let mut handle = tokio::spawn(scenario(cluster.clone()));
        let outcome = match tokio::time::timeout(STEP_TIMEOUT, &mut handle).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(panic_text(error)),
            Err(_) => {
                handle.abort();
                let _ = handle.await;
                Err(format!("did not finish within {STEP_TIMEOUT:?}"))
            }
        };
        let elapsed = step_started.elapsed();
        match outcome {
            Ok(()) => report.push(format!("ok      {name} ({elapsed:.1?})")),
            Err(message) => {
                let line = format!("FAILED  {name} ({elapsed:.1?}): {message}");
                report.push(line.clone());
                failures.push(line);
            }
        }
    }
    eprintln!(
        "\ncluster scenarios ({:.1?} in all):\n{}",
        started.elapsed(),
        report.join("\n")
    );
    if !failures.is_empty() {
        eprintln!("{}", cluster.log_tails());
    }
    failures
}

#[test]
fn three_nodes_behind_nginx_behave_as_one() {
    let Some(services) = Services::locate() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let failures = runtime.block_on(run_scenarios(services));
    drop(runtime);
    assert!(
        failures.is_empty(),
        "{} cluster scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// docs/operations.md shows deploy/nginx.conf verbatim, so the guide cannot drift from the file
/// the test above runs.
#[test]
fn operations_guide_shows_the_tested_nginx_config() {
    let config = std::fs::read_to_string(workspace_root().join("deploy/nginx.conf"))
        .expect("deploy/nginx.conf exists");
    let guide = std::fs::read_to_string(workspace_root().join("docs/operations.md"))
        .expect("docs/operations.md exists");
    let block = format!("```nginx\n{config}```\n");
    assert!(
        guide.contains(&block),
        "docs/operations.md must include deploy/nginx.conf verbatim in a ```nginx block"
    );
}

/// deploy/nginx.conf keeps every placeholder line the cluster test rewrites, and the rewrite
/// leaves no production path behind.
#[test]
fn nginx_config_placeholders_are_all_present() {
    let config = std::fs::read_to_string(workspace_root().join("deploy/nginx.conf"))
        .expect("deploy/nginx.conf exists");
    let directory = std::path::Path::new("/scratch");
    let rewritten = processes::nginx_config_for_test(&config, directory, 18080, &[18081, 18082]);
    let directives: Vec<&str> = rewritten
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect();
    assert!(
        directives.iter().all(|line| !line.contains("placeholder:")),
        "{rewritten}"
    );
    let directive_text = directives.join("\n");
    for production_path in [
        "/var/log/",
        "/var/lib/nginx",
        "/run/",
        "www-data",
        "listen 80;",
    ] {
        assert!(
            !directive_text.contains(production_path),
            "`{production_path}` survived the rewrite:\n{rewritten}"
        );
    }
    assert!(rewritten.contains("server 127.0.0.1:18081 max_fails=3 fail_timeout=10s;"));
    assert!(rewritten.contains("server 127.0.0.1:18082 max_fails=3 fail_timeout=10s;"));
    assert!(rewritten.contains("listen 127.0.0.1:18080;"));
    assert_eq!(rewritten.matches("server 127.0.0.1:").count(), 2);
}
