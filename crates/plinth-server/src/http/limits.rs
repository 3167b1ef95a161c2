//! Rate limits: per client IP on every route, stricter per IP on `/api/v1/auth/*`, and per
//! authenticated user. A refusal is a 429 problem with `Retry-After`.
//!
//! Without Redis each node counts on its own (governor token buckets, GCRA in memory). With
//! `--redis`, every limit is counted in Redis so N nodes together allow what one node would.
//! The shared algorithm is GCRA in one Lua script (`limits/gcra.lua`): Redis runs a script
//! atomically, so the read-modify-write of a counter cannot interleave between nodes (no race,
//! no lost update), one `EVALSHA` checks every limit of a request in one round trip, and the
//! script reads Redis's own clock (`TIME`) so node clocks never matter. GCRA keeps one number per
//! key (the theoretical arrival time) with a TTL, so Redis memory stays bounded.
//!
//! Degraded mode: when a Redis call fails or takes longer than [`REDIS_CALL_TIMEOUT`], the node
//! falls back to its local limiters — limits are still enforced, per node, never "allow all" —
//! logs one warning, sets the `plinth_rate_limit_degraded` gauge and makes `/readyz` answer
//! `degraded` (still 200: the node serves safely). A background task pings Redis every
//! [`REDIS_PROBE_INTERVAL`] and switches back, with one info log, as soon as it answers.

use crate::config::{RateLimit, ServeConfig};
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Every key this module writes starts with this.
pub const REDIS_KEY_PREFIX: &str = "plinth:rl:";
/// The longest a request waits for Redis before the node degrades to local limits.
pub const REDIS_CALL_TIMEOUT: Duration = Duration::from_millis(200);
/// How often the background task checks that Redis answers.
pub const REDIS_PROBE_INTERVAL: Duration = Duration::from_secs(1);

const GCRA_SCRIPT: &str = include_str!("limits/gcra.lua");

/// Whether rate limits are shared through Redis, for `/readyz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisStatus {
    /// No Redis configured: limits are per node by design.
    Disabled,
    /// Redis answers: limits are counted across every node.
    Healthy,
    /// Redis is configured but does not answer: local limits until it is back.
    Unavailable,
}

impl RedisStatus {
    /// The word `/readyz` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisStatus::Disabled => "disabled",
            RedisStatus::Healthy => "ok",
            RedisStatus::Unavailable => "unavailable",
        }
    }
}

pub struct Limiters {
    local: LocalLimiters,
    shared: Option<Arc<SharedLimits>>,
}

/// The per-node limiters: the only ones without Redis, the fallback with it.
struct LocalLimiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    auth_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_user: Option<DefaultKeyedRateLimiter<String>>,
}

/// `requests` per `period` with bursts of `requests`, as governor counts it.
fn quota(limit: RateLimit) -> Option<Quota> {
    let requests = limit.requests.max(1);
    let period = limit.period / requests;
    let burst = std::num::NonZeroU32::new(requests)?;
    Some(Quota::with_period(period)?.allow_burst(burst))
}

fn limiter<K: Hash + Eq + Clone>(limit: Option<RateLimit>) -> Option<DefaultKeyedRateLimiter<K>> {
    Some(RateLimiter::keyed(quota(limit?)?))
}

/// Whole seconds to wait, rounded up (a client retrying after them is allowed).
fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

fn check<K: Hash + Eq + Clone>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), ApiError> {
    let Some(limiter) = limiter else {
        return Ok(());
    };
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(retry_after_seconds(wait))
    })
}

impl LocalLimiters {
    fn check_ip(&self, ip: IpAddr, auth_route: bool) -> Result<(), ApiError> {
        check(&self.per_ip, &ip)?;
        if auth_route {
            check(&self.auth_per_ip, &ip)?;
        }
        Ok(())
    }

    fn check_user(&self, subject: &str) -> Result<(), ApiError> {
        if self.per_user.is_none() {
            return Ok(());
        }
        check(&self.per_user, &subject.to_string())
    }
}

/// GCRA's two numbers for one limit, in microseconds (the unit of Redis's `TIME`), derived
/// from the same governor quota as the local limiter so both count alike: one request every
/// `interval_micros`, with up to `tolerance_micros` of credit (a burst of `requests`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcraParameters {
    pub interval_micros: u64,
    pub tolerance_micros: u64,
}

impl GcraParameters {
    pub fn of(limit: RateLimit) -> Option<GcraParameters> {
        let quota = quota(limit)?;
        let interval_micros = u64::try_from(quota.replenish_interval().as_micros())
            .unwrap_or(u64::MAX / 4)
            .max(1);
        let extra_requests = u64::from(quota.burst_size().get() - 1);
        Some(GcraParameters {
            interval_micros,
            tolerance_micros: interval_micros.saturating_mul(extra_requests),
        })
    }
}

/// The Redis side: a connection manager (reconnects by itself), the script, and whether the
/// node is degraded to local limits.
struct SharedLimits {
    /// `None` when the URL cannot be used or no runtime runs: degraded for good (logged).
    connection: Option<ConnectionManager>,
    script: redis::Script,
    degraded: AtomicBool,
    per_ip: Option<GcraParameters>,
    auth_per_ip: Option<GcraParameters>,
    per_user: Option<GcraParameters>,
}

/// A Redis call failed or timed out (already logged and counted).
struct RedisFailed;

fn count_call() {
    metrics::counter!("plinth_redis_calls_total").increment(1);
}

fn count_error() {
    metrics::counter!("plinth_redis_errors_total").increment(1);
}

impl SharedLimits {
    fn connect(url: &str, config: &ServeConfig) -> Arc<SharedLimits> {
        let connection = match redis::Client::open(url) {
            Ok(client) if tokio::runtime::Handle::try_current().is_ok() => {
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_CALL_TIMEOUT))
                    .set_response_timeout(Some(REDIS_CALL_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                match ConnectionManager::new_lazy_with_config(client, manager_config) {
                    Ok(manager) => Some(manager),
                    Err(error) => {
                        tracing::error!(
                            %error,
                            "cannot set up the Redis connection; rate limits stay per node"
                        );
                        None
                    }
                }
            }
            Ok(_) => {
                tracing::error!("no async runtime to reach Redis from; rate limits stay per node");
                None
            }
            Err(error) => {
                tracing::error!(%error, "the Redis URL is not usable; rate limits stay per node");
                None
            }
        };
        // Optimistic until the first probe (at once) or call says otherwise: the first requests
        // go to Redis, and a failure falls back for that very request.
        let degraded = connection.is_none();
        metrics::gauge!("plinth_rate_limit_degraded").set(if degraded { 1.0 } else { 0.0 });
        let shared = Arc::new(SharedLimits {
            connection,
            script: redis::Script::new(GCRA_SCRIPT),
            degraded: AtomicBool::new(degraded),
            per_ip: config.rate_limit_per_ip.and_then(GcraParameters::of),
            auth_per_ip: config.rate_limit_auth_per_ip.and_then(GcraParameters::of),
            per_user: config.rate_limit_per_user.and_then(GcraParameters::of),
        });
        if shared.connection.is_some() {
            tokio::spawn(supervise(Arc::downgrade(&shared)));
        }
        shared
    }

    fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    fn enter_degraded(&self, cause: &dyn std::fmt::Display) {
        if !self.degraded.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = %cause,
                "Redis does not answer: rate limits are now counted by this node alone \
                 (local limits) until it is back"
            );
            metrics::gauge!("plinth_rate_limit_degraded").set(1.0);
        }
    }

    fn leave_degraded(&self) {
        if self.degraded.swap(false, Ordering::AcqRel) {
            tracing::info!("Redis answers again: rate limits are counted across all nodes");
            metrics::gauge!("plinth_rate_limit_degraded").set(0.0);
        }
    }

    /// One Redis command with the call timeout, counted in the metrics. Failures are logged
    /// (once per transition) by the caller through [`SharedLimits::enter_degraded`].
    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, Result<redis::RedisError, tokio::time::error::Elapsed>> {
        let Some(connection) = &self.connection else {
            return Err(Ok(redis::RedisError::from((
                redis::ErrorKind::Client,
                "no Redis connection",
            ))));
        };
        let mut connection = connection.clone();
        count_call();
        let outcome =
            tokio::time::timeout(REDIS_CALL_TIMEOUT, command.query_async(&mut connection)).await;
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                count_error();
                Err(Ok(error))
            }
            Err(elapsed) => {
                count_error();
                Err(Err(elapsed))
            }
        }
    }

    /// Runs the GCRA script over `limits` (key, parameters) in one round trip: `EVALSHA`, and
    /// `EVAL` (which also caches the script) when Redis does not know it, e.g. after a restart.
    async fn check(
        &self,
        limits: &[(String, GcraParameters)],
    ) -> Result<Result<(), ApiError>, RedisFailed> {
        if limits.is_empty() {
            return Ok(Ok(()));
        }
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(self.script.get_hash());
        add_script_arguments(&mut evalsha, limits);
        let reply = match self.query::<(u64, u64)>(&evalsha).await {
            Err(Ok(error)) if is_no_script(&error) => {
                let mut eval = redis::cmd("EVAL");
                eval.arg(GCRA_SCRIPT);
                add_script_arguments(&mut eval, limits);
                self.query::<(u64, u64)>(&eval).await
            }
            other => other,
        };
        match reply {
            Ok((0, _)) => Ok(Ok(())),
            Ok((_, wait_micros)) => Ok(Err(ApiError::too_many_requests(retry_after_seconds(
                Duration::from_micros(wait_micros),
            )))),
            Err(Ok(error)) => {
                self.enter_degraded(&error);
                Err(RedisFailed)
            }
            Err(Err(_)) => {
                self.enter_degraded(&"no answer within the timeout");
                Err(RedisFailed)
            }
        }
    }

    /// Whether Redis answers a `PING` (and, when `load_script`, takes the script).
    async fn probe(&self, load_script: bool) -> bool {
        let answered = match self.query::<String>(&redis::cmd("PING")).await {
            Ok(_) => true,
            Err(Ok(error)) => {
                self.enter_degraded(&error);
                false
            }
            Err(Err(_)) => {
                self.enter_degraded(&"no answer to PING within the timeout");
                false
            }
        };
        if !answered {
            return false;
        }
        if load_script {
            let mut load = redis::cmd("SCRIPT");
            load.arg("LOAD").arg(GCRA_SCRIPT);
            if let Err(failure) = self.query::<String>(&load).await {
                match failure {
                    Ok(error) => self.enter_degraded(&error),
                    Err(_) => self.enter_degraded(&"no answer to SCRIPT LOAD within the timeout"),
                }
                return false;
            }
        }
        self.leave_degraded();
        true
    }
}

fn is_no_script(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

fn add_script_arguments(command: &mut redis::Cmd, limits: &[(String, GcraParameters)]) {
    command.arg(limits.len());
    for (key, _) in limits {
        command.arg(key);
    }
    for (_, parameters) in limits {
        command
            .arg(parameters.interval_micros)
            .arg(parameters.tolerance_micros);
    }
}

/// Pings Redis every [`REDIS_PROBE_INTERVAL`] while the limiters live: a silent outage shows in
/// `/readyz` within a second, and a degraded node returns to shared limits on the first answer.
/// The script is loaded on the first answer and after every outage (a restarted Redis forgot it).
async fn supervise(shared: Weak<SharedLimits>) {
    let mut interval = tokio::time::interval(REDIS_PROBE_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut load_script = true;
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.is_degraded() {
            load_script = true;
        }
        if shared.probe(load_script).await {
            load_script = false;
        }
    }
}

fn ip_keys(ip: IpAddr) -> (String, String) {
    // One hash tag per address: both keys of a request live on one Redis Cluster slot, as a
    // multi-key script requires.
    (
        format!("{REDIS_KEY_PREFIX}{{ip:{ip}}}:all"),
        format!("{REDIS_KEY_PREFIX}{{ip:{ip}}}:auth"),
    )
}

fn user_key(subject: &str) -> String {
    format!("{REDIS_KEY_PREFIX}user:{subject}")
}

impl Limiters {
    /// The local limiters, and with `redis_url` the shared ones: the connection is made lazily
    /// and watched by a background task (spawned on the current tokio runtime).
    pub fn new(config: &ServeConfig) -> Limiters {
        Limiters {
            local: LocalLimiters {
                per_ip: limiter(config.rate_limit_per_ip),
                auth_per_ip: limiter(config.rate_limit_auth_per_ip),
                per_user: limiter(config.rate_limit_per_user),
            },
            shared: config
                .redis_url
                .as_deref()
                .map(|url| SharedLimits::connect(url, config)),
        }
    }

    /// Redis when it is configured and answering; `None`: count locally.
    fn shared_in_use(&self) -> Option<&SharedLimits> {
        self.shared
            .as_deref()
            .filter(|shared| !shared.is_degraded())
    }

    pub fn redis_status(&self) -> RedisStatus {
        match &self.shared {
            None => RedisStatus::Disabled,
            Some(shared) if shared.is_degraded() => RedisStatus::Unavailable,
            Some(_) => RedisStatus::Healthy,
        }
    }

    /// The limits of a client address (and the auth limit on `/api/v1/auth/*`).
    pub async fn check_ip(&self, ip: IpAddr, auth_route: bool) -> Result<(), ApiError> {
        if let Some(shared) = self.shared_in_use() {
            let (all_key, auth_key) = ip_keys(ip);
            let mut limits = Vec::with_capacity(2);
            if let Some(parameters) = shared.per_ip {
                limits.push((all_key, parameters));
            }
            if let (true, Some(parameters)) = (auth_route, shared.auth_per_ip) {
                limits.push((auth_key, parameters));
            }
            if let Ok(verdict) = shared.check(&limits).await {
                return verdict;
            }
        }
        self.local.check_ip(ip, auth_route)
    }

    /// The limit of an authenticated user.
    pub async fn check_user(&self, subject: &str) -> Result<(), ApiError> {
        if let Some(shared) = self.shared_in_use() {
            let Some(parameters) = shared.per_user else {
                return Ok(());
            };
            if let Ok(verdict) = shared.check(&[(user_key(subject), parameters)]).await {
                return verdict;
            }
        }
        self.local.check_user(subject)
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded. (Redis keys expire
    /// by themselves.)
    pub fn shrink(&self) {
        if let Some(limiter) = &self.local.per_ip {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.local.auth_per_ip {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.local.per_user {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[tokio::test]
    async fn bursts_then_refuses_with_retry_after() {
        let config = ServeConfig {
            rate_limit_auth_per_ip: Some(RateLimit {
                requests: 2,
                period: std::time::Duration::from_secs(60),
            }),
            ..ServeConfig::default()
        };
        let limiters = Limiters::new(&config);
        assert_eq!(limiters.redis_status(), RedisStatus::Disabled);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiters.check_ip(ip, true).await.is_ok());
        assert!(limiters.check_ip(ip, true).await.is_ok());
        let refused = limiters.check_ip(ip, true).await.unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(refused.retry_after.unwrap() >= 1);
        // Other routes and other clients are unaffected.
        assert!(limiters.check_ip(ip, false).await.is_ok());
        assert!(limiters
            .check_ip("10.0.0.2".parse().unwrap(), true)
            .await
            .is_ok());
    }

    #[test]
    fn gcra_parameters_spread_the_period_over_the_requests() {
        let five_a_minute = RateLimit {
            requests: 5,
            period: Duration::from_secs(60),
        };
        assert_eq!(
            GcraParameters::of(five_a_minute),
            Some(GcraParameters {
                interval_micros: 12_000_000,
                tolerance_micros: 48_000_000,
            })
        );
        assert_eq!(
            GcraParameters::of(RateLimit::per_second(1000)),
            Some(GcraParameters {
                interval_micros: 1_000,
                tolerance_micros: 999_000,
            })
        );
        // One request per period: no burst credit at all.
        assert_eq!(
            GcraParameters::of(RateLimit::per_second(1)),
            Some(GcraParameters {
                interval_micros: 1_000_000,
                tolerance_micros: 0,
            })
        );
        // More requests than microseconds in the period: never a zero interval.
        let ten_million_a_second = GcraParameters::of(RateLimit::per_second(10_000_000)).unwrap();
        assert_eq!(ten_million_a_second.interval_micros, 1);
    }

    /// One step of the script's algorithm, written out in Rust: the new arrival time, or the
    /// wait. (The script itself runs in the Redis integration tests.)
    fn script_step(stored: Option<u64>, now: u64, parameters: GcraParameters) -> Result<u64, u64> {
        let arrival = stored.unwrap_or(now).max(now);
        let earliest = arrival.saturating_sub(parameters.tolerance_micros);
        if now < earliest {
            Err(earliest - now)
        } else {
            Ok(arrival + parameters.interval_micros)
        }
    }

    /// The shared limiter's parameters decide exactly as the local governor limiter does, on a
    /// fake clock, for a mix of limits and request timings.
    #[test]
    fn gcra_parameters_decide_like_the_local_limiter() {
        let limits = [
            RateLimit {
                requests: 5,
                period: Duration::from_secs(60),
            },
            RateLimit::per_second(3),
            RateLimit::per_second(1),
            RateLimit {
                requests: 7,
                period: Duration::from_secs(3600),
            },
        ];
        for limit in limits {
            let parameters = GcraParameters::of(limit).unwrap();
            let clock = FakeRelativeClock::default();
            let local = RateLimiter::direct_with_clock(quota(limit).unwrap(), clock.clone());
            let mut stored = None;
            let mut now = 1_000_000_000_u64;
            // Bursts, pauses shorter and longer than the interval, and a long idle time.
            let gaps = [
                0, 0, 0, 0, 0, 0, 1, 1, 0, 3, 0, 0, 7, 0, 0, 60, 0, 0, 0, 0, 0, 0, 0,
            ];
            for (step, gap_seconds) in gaps.into_iter().enumerate() {
                let gap = Duration::from_millis(gap_seconds * 1000 + 250);
                clock.advance(gap);
                now += gap.as_micros() as u64;
                let local_verdict = local.check().map_err(|not_until| {
                    retry_after_seconds(not_until.wait_time_from(clock.now()))
                });
                let shared_verdict = match script_step(stored, now, parameters) {
                    Ok(next) => {
                        stored = Some(next);
                        Ok(())
                    }
                    Err(wait) => Err(retry_after_seconds(Duration::from_micros(wait))),
                };
                assert_eq!(
                    local_verdict.map(|_| ()),
                    shared_verdict,
                    "{limit:?}, step {step}"
                );
            }
        }
    }

    #[test]
    fn keys_carry_the_prefix_and_one_hash_tag_per_address() {
        let (all, auth) = ip_keys("2001:db8::1".parse().unwrap());
        assert_eq!(all, "plinth:rl:{ip:2001:db8::1}:all");
        assert_eq!(auth, "plinth:rl:{ip:2001:db8::1}:auth");
        assert_eq!(user_key("42"), "plinth:rl:user:42");
        assert_eq!(RedisStatus::Unavailable.as_str(), "unavailable");
    }

    /// A Redis URL nobody answers: the limiters degrade to local limits at once, and still
    /// refuse past the limit (never "allow everything").
    #[tokio::test]
    async fn unreachable_redis_degrades_to_local_limits() {
        // A port that was free a moment ago: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let config = ServeConfig {
            redis_url: Some(format!("redis://127.0.0.1:{port}")),
            rate_limit_per_user: Some(RateLimit::per_second(2)),
            ..ServeConfig::default()
        };
        let limiters = Limiters::new(&config);
        assert!(limiters.check_user("7").await.is_ok());
        assert_eq!(limiters.redis_status(), RedisStatus::Unavailable);
        assert!(limiters.check_user("7").await.is_ok());
        let refused = limiters.check_user("7").await.unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
    }
}
