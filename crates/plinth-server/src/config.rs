//! Server settings: defaults, then a config file (TOML or JSON), then `PLINTH_*` environment
//! variables, then command-line flags — each layer overriding the one before. Raw layers become
//! one validated [`ServeConfig`] in [`ServeConfig::resolve`], so the rest of the server never
//! parses a setting.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default address: loopback only, so a first `plinth serve` is never exposed by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Every setting of a running server, validated.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to bind; port 0 picks a free port (see [`crate::RunningServer::local_addr`]).
    pub listen: SocketAddr,
    /// `sqlite://PATH`, `sqlite::memory:`, or `postgres://…`. `None`: a SQLite file next to the
    /// schema (`<schema stem>.db`), or an in-memory database for a schema given as text.
    pub database: Option<String>,
    /// HS256 signing secret; `None`: generated once and stored (beside the SQLite file, or in
    /// `_plinth_meta` on PostgreSQL).
    pub jwt_secret: Option<String>,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    /// Requests per client IP address, all routes.
    pub rate_limit_per_ip: Option<RateLimit>,
    /// Requests per authenticated user, all routes.
    pub rate_limit_per_user: Option<RateLimit>,
    /// Requests per client IP address to `/api/v1/auth/*` (stricter: guesses at passwords).
    pub rate_limit_auth_per_ip: Option<RateLimit>,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Origins allowed to call the API from a browser; empty = no cross-origin access.
    /// `*` allows any origin (without credentials).
    pub cors_origins: Vec<String>,
    /// SQLite's `synchronous` pragma: `FULL` (default) makes every acknowledged write survive
    /// power loss or `kill -9`; `NORMAL` in WAL mode survives `kill -9` of the process but may
    /// lose the last commits on power loss.
    pub sqlite_synchronous: SqliteSynchronous,
    /// Reader connections for SQLite (the writer is one more).
    pub sqlite_readers: usize,
    /// Connections in the PostgreSQL pool (per node: the database sees nodes × this).
    pub postgres_pool_size: usize,
    /// PostgreSQL's `statement_timeout` on every pooled connection: a runaway query is
    /// cancelled instead of holding a connection and its locks.
    pub postgres_statement_timeout: Duration,
    /// `redis://…`: rate limits counted across every node. `None`: limits are per node.
    pub redis_url: Option<String>,
    /// How long realtime events stay in the outbox for clients resuming with `Last-Event-ID`.
    pub events_retention: Duration,
    /// Event-stream subscribers one node accepts at once; more get a 503.
    pub events_max_subscribers: usize,
    /// Events a node buffers for its subscribers; one that falls further behind reads the
    /// rest from the outbox instead of holding the others up.
    pub events_buffer: usize,
    /// Load balancers whose `X-Forwarded-For` names the real client (for per-IP limits).
    /// Empty: the connection's address is the client.
    pub trusted_proxies: Vec<IpRange>,
    /// Stop on SIGINT / SIGTERM (the CLI); tests stop through [`crate::RunningServer::shutdown`].
    pub handle_signals: bool,
    /// The migrations folder (`plinth migrate`'s format). `None`: `migrations/` beside the
    /// schema file, used only when it exists. A folder given here must exist.
    pub migrations_directory: Option<PathBuf>,
    /// Apply pending non-destructive migrations at start (development); without it, pending
    /// migrations make the start fail with the command to run.
    pub apply_migrations: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database: None,
            jwt_secret: None,
            access_token_lifetime: Duration::from_secs(15 * 60),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 60 * 60),
            rate_limit_per_ip: Some(RateLimit::per_second(1000)),
            rate_limit_per_user: Some(RateLimit::per_second(500)),
            rate_limit_auth_per_ip: Some(RateLimit {
                requests: 60,
                period: Duration::from_secs(60),
            }),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: Duration::from_secs(30),
            cors_origins: Vec::new(),
            sqlite_synchronous: SqliteSynchronous::Full,
            sqlite_readers: 4,
            postgres_pool_size: 16,
            postgres_statement_timeout: Duration::from_secs(10),
            redis_url: None,
            events_retention: Duration::from_secs(60 * 60),
            events_max_subscribers: 10_000,
            events_buffer: 4096,
            trusted_proxies: Vec::new(),
            handle_signals: false,
            migrations_directory: None,
            apply_migrations: false,
        }
    }
}

/// `requests` per `period`, with bursts of up to `requests` (a token bucket refilled evenly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub period: Duration,
}

impl RateLimit {
    pub fn per_second(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            period: Duration::from_secs(1),
        }
    }

    /// `100/s`, `600/m`, `1000/h`, or `off` / `0` (no limit: `None`).
    pub fn parse(text: &str) -> Result<Option<RateLimit>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text == "0" {
            return Ok(None);
        }
        let (count, unit) = text.split_once('/').unwrap_or((text, "s"));
        let requests: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a rate like `100/s`, `600/m` or `off`"))?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => return Err(format!("unknown rate unit `{other}` (use s, m or h)")),
        };
        if requests == 0 {
            return Ok(None);
        }
        Ok(Some(RateLimit { requests, period }))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

impl SqliteSynchronous {
    pub fn pragma_value(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// One layer of raw settings (file, environment or flags); absent = not set in this layer.
/// The file keys are these field names.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    #[serde(alias = "database")]
    pub db: Option<String>,
    pub jwt_secret: Option<String>,
    pub access_token_ttl_seconds: Option<u64>,
    pub refresh_token_ttl_seconds: Option<u64>,
    pub rate_limit_per_ip: Option<String>,
    pub rate_limit_per_user: Option<String>,
    pub rate_limit_auth_per_ip: Option<String>,
    pub body_limit_bytes: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
    pub cors_origins: Option<Vec<String>>,
    pub sqlite_synchronous: Option<String>,
    pub sqlite_readers: Option<usize>,
    pub postgres_pool_size: Option<usize>,
    pub postgres_statement_timeout_ms: Option<u64>,
    pub redis: Option<String>,
    pub events_retention_seconds: Option<u64>,
    pub events_max_subscribers: Option<usize>,
    /// Addresses or CIDR ranges, like `127.0.0.1` or `10.0.0.0/8`.
    pub trusted_proxies: Option<Vec<String>>,
    /// The migrations folder.
    pub migrations: Option<PathBuf>,
    /// Apply pending non-destructive migrations at start.
    pub migrate: Option<bool>,
}

/// The environment variables read, with what they set (for `--help`).
pub const ENVIRONMENT_VARIABLES: &[(&str, &str)] = &[
    ("PLINTH_CONFIG", "config file (TOML or JSON)"),
    ("PLINTH_LISTEN", "address to listen on"),
    ("PLINTH_DB", "database URL (also PLINTH_DATABASE_URL)"),
    ("PLINTH_JWT_SECRET", "secret that signs access tokens"),
    (
        "PLINTH_ACCESS_TOKEN_TTL",
        "access token lifetime in seconds",
    ),
    (
        "PLINTH_REFRESH_TOKEN_TTL",
        "refresh token lifetime in seconds",
    ),
    ("PLINTH_RATE_LIMIT_PER_IP", "e.g. 1000/s, or off"),
    ("PLINTH_RATE_LIMIT_PER_USER", "e.g. 500/s, or off"),
    ("PLINTH_RATE_LIMIT_AUTH_PER_IP", "e.g. 60/m, or off"),
    ("PLINTH_BODY_LIMIT", "largest request body in bytes"),
    ("PLINTH_REQUEST_TIMEOUT", "request timeout in seconds"),
    ("PLINTH_CORS_ORIGINS", "comma-separated allowed origins"),
    ("PLINTH_SQLITE_SYNCHRONOUS", "FULL or NORMAL"),
    (
        "PLINTH_POSTGRES_POOL_SIZE",
        "PostgreSQL connections per node",
    ),
    (
        "PLINTH_POSTGRES_STATEMENT_TIMEOUT_MS",
        "PostgreSQL statement timeout in milliseconds",
    ),
    (
        "PLINTH_REDIS_URL",
        "redis://… for limits shared by all nodes",
    ),
    (
        "PLINTH_TRUSTED_PROXIES",
        "comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed",
    ),
    (
        "PLINTH_EVENTS_RETENTION",
        "seconds events stay resumable with Last-Event-ID",
    ),
    ("PLINTH_MIGRATIONS", "migrations folder"),
    (
        "PLINTH_MIGRATE",
        "1: apply pending non-destructive migrations at start",
    ),
];

impl ConfigLayer {
    /// Reads a config file: `.json` as JSON, anything else as TOML.
    pub fn from_file(path: &Path) -> Result<ConfigLayer, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::File {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let is_json = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            serde_json::from_str(&text).map_err(|error| error.to_string())
        } else {
            toml::from_str(&text).map_err(|error| error.to_string())
        };
        parsed.map_err(|message| ConfigError::File {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Reads `PLINTH_*` variables through `lookup` (the process environment in the CLI).
    pub fn from_environment(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<ConfigLayer, ConfigError> {
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            match lookup(name) {
                None => Ok(None),
                Some(text) => text
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| ConfigError::Value {
                        setting: name.to_string(),
                        message: format!("`{text}` is not a whole number"),
                    }),
            }
        };
        Ok(ConfigLayer {
            listen: lookup("PLINTH_LISTEN"),
            db: lookup("PLINTH_DB").or_else(|| lookup("PLINTH_DATABASE_URL")),
            jwt_secret: lookup("PLINTH_JWT_SECRET").filter(|secret| !secret.is_empty()),
            access_token_ttl_seconds: number("PLINTH_ACCESS_TOKEN_TTL")?,
            refresh_token_ttl_seconds: number("PLINTH_REFRESH_TOKEN_TTL")?,
            rate_limit_per_ip: lookup("PLINTH_RATE_LIMIT_PER_IP"),
            rate_limit_per_user: lookup("PLINTH_RATE_LIMIT_PER_USER"),
            rate_limit_auth_per_ip: lookup("PLINTH_RATE_LIMIT_AUTH_PER_IP"),
            body_limit_bytes: number("PLINTH_BODY_LIMIT")?.map(|n| n as usize),
            request_timeout_seconds: number("PLINTH_REQUEST_TIMEOUT")?,
            cors_origins: lookup("PLINTH_CORS_ORIGINS").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|origin| !origin.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            sqlite_synchronous: lookup("PLINTH_SQLITE_SYNCHRONOUS"),
            sqlite_readers: None,
            postgres_pool_size: number("PLINTH_POSTGRES_POOL_SIZE")?.map(|n| n as usize),
            postgres_statement_timeout_ms: number("PLINTH_POSTGRES_STATEMENT_TIMEOUT_MS")?,
            redis: lookup("PLINTH_REDIS_URL").filter(|url| !url.trim().is_empty()),
            events_retention_seconds: number("PLINTH_EVENTS_RETENTION")?,
            events_max_subscribers: None,
            trusted_proxies: lookup("PLINTH_TRUSTED_PROXIES").map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
            migrations: lookup("PLINTH_MIGRATIONS")
                .filter(|path| !path.trim().is_empty())
                .map(PathBuf::from),
            migrate: match lookup("PLINTH_MIGRATE") {
                None => None,
                Some(text) => Some(parse_switch(&text).ok_or_else(|| ConfigError::Value {
                    setting: "PLINTH_MIGRATE".to_string(),
                    message: format!("`{text}` is not 1 or 0 (true or false)"),
                })?),
            },
        })
    }

    /// `self` with every setting that `over` sets replaced.
    pub fn overridden_by(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            listen: over.listen.or(self.listen),
            db: over.db.or(self.db),
            jwt_secret: over.jwt_secret.or(self.jwt_secret),
            access_token_ttl_seconds: over
                .access_token_ttl_seconds
                .or(self.access_token_ttl_seconds),
            refresh_token_ttl_seconds: over
                .refresh_token_ttl_seconds
                .or(self.refresh_token_ttl_seconds),
            rate_limit_per_ip: over.rate_limit_per_ip.or(self.rate_limit_per_ip),
            rate_limit_per_user: over.rate_limit_per_user.or(self.rate_limit_per_user),
            rate_limit_auth_per_ip: over.rate_limit_auth_per_ip.or(self.rate_limit_auth_per_ip),
            body_limit_bytes: over.body_limit_bytes.or(self.body_limit_bytes),
            request_timeout_seconds: over
                .request_timeout_seconds
                .or(self.request_timeout_seconds),
            cors_origins: over.cors_origins.or(self.cors_origins),
            sqlite_synchronous: over.sqlite_synchronous.or(self.sqlite_synchronous),
            sqlite_readers: over.sqlite_readers.or(self.sqlite_readers),
            postgres_pool_size: over.postgres_pool_size.or(self.postgres_pool_size),
            postgres_statement_timeout_ms: over
                .postgres_statement_timeout_ms
                .or(self.postgres_statement_timeout_ms),
            redis: over.redis.or(self.redis),
            events_retention_seconds: over
                .events_retention_seconds
                .or(self.events_retention_seconds),
            events_max_subscribers: over.events_max_subscribers.or(self.events_max_subscribers),
            trusted_proxies: over.trusted_proxies.or(self.trusted_proxies),
            migrations: over.migrations.or(self.migrations),
            migrate: over.migrate.or(self.migrate),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file `{}`: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error("invalid setting `{setting}`: {message}")]
    Value { setting: String, message: String },
}

/// The shortest HS256 signing secret accepted: 256 bits, the size of the HMAC-SHA-256 output;
/// a shorter secret can be brute-forced from any token the server hands out.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Refuses a configured signing secret (`PLINTH_JWT_SECRET` or `jwt_secret`) shorter than
/// [`MIN_JWT_SECRET_BYTES`]. The message never repeats the secret.
pub fn check_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(invalid(
            "jwt_secret",
            format!(
                "the JWT secret (PLINTH_JWT_SECRET or `jwt_secret`) is {} bytes; it must be at least {MIN_JWT_SECRET_BYTES} bytes (for example the output of `openssl rand -hex 32`)",
                secret.len()
            ),
        ));
    }
    Ok(())
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        setting: setting.to_string(),
        message: message.into(),
    }
}

impl ServeConfig {
    /// Defaults overridden by `layer` (already merged file → environment → flags).
    pub fn resolve(layer: ConfigLayer) -> Result<ServeConfig, ConfigError> {
        let mut config = ServeConfig::default();
        if let Some(listen) = layer.listen {
            config.listen = parse_listen(&listen)?;
        }
        config.database = layer.db.filter(|db| !db.trim().is_empty());
        config.jwt_secret = layer.jwt_secret.filter(|secret| !secret.is_empty());
        if let Some(secret) = &config.jwt_secret {
            check_jwt_secret(secret)?;
        }
        if let Some(seconds) = layer.access_token_ttl_seconds {
            if seconds == 0 {
                return Err(invalid("access_token_ttl_seconds", "must be at least 1"));
            }
            config.access_token_lifetime = Duration::from_secs(seconds);
        }
        if let Some(seconds) = layer.refresh_token_ttl_seconds {
            if seconds == 0 {
                return Err(invalid("refresh_token_ttl_seconds", "must be at least 1"));
            }
            config.refresh_token_lifetime = Duration::from_secs(seconds);
        }
        for (setting, value, target) in [
            (
                "rate_limit_per_ip",
                layer.rate_limit_per_ip,
                &mut config.rate_limit_per_ip,
            ),
            (
                "rate_limit_per_user",
                layer.rate_limit_per_user,
                &mut config.rate_limit_per_user,
            ),
            (
                "rate_limit_auth_per_ip",
                layer.rate_limit_auth_per_ip,
                &mut config.rate_limit_auth_per_ip,
            ),
        ] {
            if let Some(text) = value {
                *target = RateLimit::parse(&text).map_err(|message| invalid(setting, message))?;
            }
        }
        if let Some(bytes) = layer.body_limit_bytes {
            if bytes == 0 {
                return Err(invalid("body_limit_bytes", "must be at least 1"));
            }
            config.body_limit = bytes;
        }
        if let Some(seconds) = layer.request_timeout_seconds {
            if seconds == 0 {
                return Err(invalid("request_timeout_seconds", "must be at least 1"));
            }
            config.request_timeout = Duration::from_secs(seconds);
        }
        if let Some(origins) = layer.cors_origins {
            config.cors_origins = origins;
        }
        if let Some(mode) = layer.sqlite_synchronous {
            config.sqlite_synchronous = match mode.trim().to_ascii_uppercase().as_str() {
                "FULL" => SqliteSynchronous::Full,
                "NORMAL" => SqliteSynchronous::Normal,
                other => {
                    return Err(invalid(
                        "sqlite_synchronous",
                        format!("`{other}` is not FULL or NORMAL"),
                    ))
                }
            };
        }
        if let Some(readers) = layer.sqlite_readers {
            config.sqlite_readers = readers.clamp(1, 64);
        }
        if let Some(size) = layer.postgres_pool_size {
            config.postgres_pool_size = size.clamp(1, 512);
        }
        if let Some(milliseconds) = layer.postgres_statement_timeout_ms {
            config.postgres_statement_timeout = Duration::from_millis(milliseconds);
        }
        if let Some(url) = layer.redis.filter(|url| !url.trim().is_empty()) {
            let url = url.trim();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    "redis",
                    "must start with `redis://` or `rediss://`",
                ));
            }
            if let Err(error) = redis::Client::open(url) {
                return Err(invalid("redis", format!("not a usable Redis URL: {error}")));
            }
            config.redis_url = Some(url.to_string());
        }
        if let Some(seconds) = layer.events_retention_seconds {
            config.events_retention = Duration::from_secs(seconds.max(1));
        }
        if let Some(entries) = layer.trusted_proxies {
            config.trusted_proxies = entries
                .iter()
                .map(|entry| {
                    IpRange::parse(entry).ok_or_else(|| {
                        invalid(
                            "trusted_proxies",
                            format!("`{entry}` is not an IP address or CIDR range"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(subscribers) = layer.events_max_subscribers {
            config.events_max_subscribers = subscribers.max(1);
        }
        config.migrations_directory = layer.migrations.filter(|path| !path.as_os_str().is_empty());
        config.apply_migrations = layer.migrate.unwrap_or(false);
        Ok(config)
    }
}

/// An IP address range: an address with a prefix length (`10.0.0.0/8`, `::1/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: std::net::IpAddr,
    prefix: u8,
}

impl IpRange {
    /// `192.0.2.1` (a single address) or `192.0.2.0/24`; `None` for anything else.
    pub fn parse(text: &str) -> Option<IpRange> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: std::net::IpAddr = address.parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width).then_some(IpRange { network, prefix })
    }

    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// `1/true/yes/on` or `0/false/no/off` (an empty value is off).
fn parse_switch(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, ConfigError> {
    let text = text.trim();
    // `:8080` and `8080` mean loopback on that port.
    let candidate = if let Some(port) = text.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else if text.bytes().all(|byte| byte.is_ascii_digit()) && !text.is_empty() {
        format!("127.0.0.1:{text}")
    } else if let Some(port) = text.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}")
    } else {
        text.to_string()
    };
    candidate.parse().map_err(|_| {
        invalid(
            "listen",
            format!("`{text}` is not an address like 127.0.0.1:8080 or 0.0.0.0:8080"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_jwt_secrets_are_refused_from_the_environment_and_the_file() {
        let from_environment = ConfigLayer::from_environment(|name| {
            (name == "PLINTH_JWT_SECRET").then(|| "too short".to_string())
        })
        .expect("environment parses");
        let error = ServeConfig::resolve(from_environment).expect_err("a 9-byte secret");
        let message = error.to_string();
        assert!(message.contains("at least 32 bytes"), "{message}");
        assert!(
            !message.contains("too short"),
            "the secret leaks: {message}"
        );

        let from_file = ConfigLayer {
            jwt_secret: Some("x".repeat(MIN_JWT_SECRET_BYTES - 1)),
            ..ConfigLayer::default()
        };
        assert!(ServeConfig::resolve(from_file).is_err());
        let long_enough = ConfigLayer {
            jwt_secret: Some("x".repeat(MIN_JWT_SECRET_BYTES)),
            ..ConfigLayer::default()
        };
        let config = ServeConfig::resolve(long_enough).expect("a 32-byte secret");
        assert_eq!(config.jwt_secret.map(|secret| secret.len()), Some(32));
    }

    #[test]
    fn layers_override_in_order() {
        let file = ConfigLayer {
            listen: Some("0.0.0.0:9000".into()),
            db: Some("sqlite://file.db".into()),
            ..ConfigLayer::default()
        };
        let environment = ConfigLayer::from_environment(|name| match name {
            "PLINTH_LISTEN" => Some(":9100".into()),
            "PLINTH_RATE_LIMIT_PER_IP" => Some("off".into()),
            _ => None,
        })
        .expect("environment parses");
        let flags = ConfigLayer {
            db: Some("postgres://localhost/app".into()),
            ..ConfigLayer::default()
        };
        let config =
            ServeConfig::resolve(file.overridden_by(environment).overridden_by(flags)).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(config.database.as_deref(), Some("postgres://localhost/app"));
        assert_eq!(config.rate_limit_per_ip, None);
        assert_eq!(config.body_limit, DEFAULT_BODY_LIMIT);
    }

    #[test]
    fn bad_values_are_named() {
        let layer = ConfigLayer {
            rate_limit_per_user: Some("ten".into()),
            ..ConfigLayer::default()
        };
        let error = ServeConfig::resolve(layer).unwrap_err().to_string();
        assert!(error.contains("rate_limit_per_user"), "{error}");
        let layer = ConfigLayer {
            listen: Some("nowhere".into()),
            ..ConfigLayer::default()
        };
        assert!(ServeConfig::resolve(layer).is_err());
    }

    #[test]
    fn migrate_switch_comes_from_every_layer() {
        let environment = ConfigLayer::from_environment(|name| match name {
            "PLINTH_MIGRATE" => Some("1".into()),
            "PLINTH_MIGRATIONS" => Some("db/migrations".into()),
            _ => None,
        })
        .expect("environment parses");
        let config = ServeConfig::resolve(environment.clone()).unwrap();
        assert!(config.apply_migrations);
        assert_eq!(
            config.migrations_directory,
            Some(PathBuf::from("db/migrations"))
        );
        let file = ConfigLayer {
            migrate: Some(true),
            ..ConfigLayer::default()
        };
        let flags_off = ConfigLayer {
            migrate: Some(false),
            ..ConfigLayer::default()
        };
        assert!(
            !ServeConfig::resolve(file.overridden_by(flags_off))
                .unwrap()
                .apply_migrations
        );
        assert!(
            !ServeConfig::resolve(ConfigLayer::default())
                .unwrap()
                .apply_migrations
        );
        let bad = ConfigLayer::from_environment(|name| {
            (name == "PLINTH_MIGRATE").then(|| "sometimes".to_string())
        });
        assert!(bad.unwrap_err().to_string().contains("PLINTH_MIGRATE"));
        let toml_layer: ConfigLayer =
            toml::from_str("migrate = true\nmigrations = \"m\"\n").unwrap();
        assert_eq!(toml_layer.migrate, Some(true));
        assert_eq!(toml_layer.migrations, Some(PathBuf::from("m")));
    }

    #[test]
    fn rates_parse() {
        assert_eq!(
            RateLimit::parse("60/m").unwrap(),
            Some(RateLimit {
                requests: 60,
                period: Duration::from_secs(60)
            })
        );
        assert_eq!(
            RateLimit::parse("5").unwrap(),
            Some(RateLimit::per_second(5))
        );
        assert_eq!(RateLimit::parse("off").unwrap(), None);
        assert!(RateLimit::parse("5/week").is_err());
    }

    #[test]
    fn toml_and_json_files_load() {
        let directory = std::env::temp_dir().join(format!("plinth-config-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let toml_path = directory.join("plinth.toml");
        std::fs::write(
            &toml_path,
            "listen = \"127.0.0.1:7000\"\ncors_origins = [\"https://a.example\"]\n",
        )
        .unwrap();
        let layer = ConfigLayer::from_file(&toml_path).unwrap();
        assert_eq!(layer.listen.as_deref(), Some("127.0.0.1:7000"));
        let json_path = directory.join("plinth.json");
        std::fs::write(&json_path, "{\"body_limit_bytes\": 10, \"nonsense\": 1}").unwrap();
        let error = ConfigLayer::from_file(&json_path).unwrap_err().to_string();
        assert!(error.contains("nonsense"), "{error}");
        let _ = std::fs::remove_dir_all(&directory);
    }
}
