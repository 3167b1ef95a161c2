//! Sessions ended before their access tokens expire. An access token is a signed JWT checked
//! without a database round trip, so logging out (or a detected refresh-token reuse) would leave
//! it valid until `exp`. Every access token names its session (`sid`, the refresh-token family);
//! ending a session records it in `_plinth_revoked_sessions` until the last token it issued has
//! expired, and on PostgreSQL sends `NOTIFY plinth_bus` in the same transaction, so every node
//! adds it to this in-memory set at once (see `cluster`). The check per request is a hash lookup.

use crate::auth::{placeholder, unix_now};
use crate::error::ApiError;
use crate::sql::{Decode, Dialect, SqlValue};
use crate::store::Executor;
use std::collections::HashMap;
use std::sync::Mutex;

pub const REVOKED_SESSIONS_TABLE: &str = "_plinth_revoked_sessions";

/// The NOTIFY channel of the cluster bus and the prefix of a revocation message on it.
pub const BUS_CHANNEL: &str = "plinth_bus";
pub const REVOKE_PREFIX: &str = "revoke ";

pub struct RevokedSessions {
    /// Session id → unix time after which no token of it can be valid any more.
    until: Mutex<HashMap<String, u64>>,
    /// Bumped on every revocation heard on the bus, so a logout can wait for its own echo.
    heard: tokio::sync::Notify,
    /// Bumped on every change, so open event streams of an ended session can close.
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for RevokedSessions {
    fn default() -> Self {
        RevokedSessions {
            until: Mutex::default(),
            heard: tokio::sync::Notify::new(),
            changed: tokio::sync::watch::channel(0).0,
        }
    }
}

impl RevokedSessions {
    pub fn is_revoked(&self, session: &str) -> bool {
        self.until
            .lock()
            .map(|until| until.get(session).is_some_and(|&end| end >= unix_now()))
            .unwrap_or(false)
    }

    pub fn revoke(&self, session: &str, until: u64) {
        if let Ok(mut map) = self.until.lock() {
            map.insert(session.to_string(), until);
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Changes whenever a session is revoked (or the set is reloaded).
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A revocation heard on the bus (possibly sent by this node).
    pub fn revoke_from_bus(&self, session: &str, until: u64) {
        self.revoke(session, until);
        self.heard.notify_waiters();
    }

    /// Waits (bounded) until the bus has delivered the revocation of `session` to this node:
    /// PostgreSQL delivers a NOTIFY to every listening node in the same pass, so once this node
    /// heard it, the others have been sent it too.
    pub async fn wait_heard(&self, session: &str, bound: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let heard = self.heard.notified();
            if self.is_heard(session) {
                return true;
            }
            if tokio::time::timeout_at(deadline, heard).await.is_err() {
                return self.is_heard(session);
            }
        }
    }

    fn is_heard(&self, session: &str) -> bool {
        // Local revocations are recorded only after the commit, bus ones as they arrive; both
        // land in the same map, so "heard" is approximated by presence. The bus path calls
        // `revoke_from_bus`, which also wakes waiters.
        self.is_revoked(session)
    }

    /// Replaces the set with what the database holds (at start and after the bus reconnects,
    /// when notifications may have been missed).
    pub fn replace(&self, sessions: Vec<(String, u64)>) {
        if let Ok(mut map) = self.until.lock() {
            map.clear();
            map.extend(sessions);
        }
        self.changed.send_modify(|version| *version += 1);
    }

    /// Forgets sessions whose tokens have all expired.
    pub fn shrink(&self) {
        let now = unix_now();
        if let Ok(mut map) = self.until.lock() {
            map.retain(|_, end| *end >= now);
        }
    }
}

/// Parses a bus message `revoke <session> <until>`.
pub fn parse_revocation(payload: &str) -> Option<(String, u64)> {
    let rest = payload.strip_prefix(REVOKE_PREFIX)?;
    let (session, until) = rest.rsplit_once(' ')?;
    Some((session.to_string(), until.parse().ok()?))
}

/// Records the end of `session` (in the caller's transaction) and, on PostgreSQL, tells every
/// node when that transaction commits. Returns when its last access token expires.
pub fn record_revocation(
    executor: &mut dyn Executor,
    session: &str,
    access_token_lifetime: u64,
) -> Result<u64, ApiError> {
    let dialect = executor.dialect();
    // Leeway: tokens are accepted up to 5 s past `exp`.
    let until = unix_now() + access_token_lifetime + 5;
    let sql = format!(
        "INSERT INTO \"{REVOKED_SESSIONS_TABLE}\" (session_id, expires_at) VALUES ({}, {}) ON CONFLICT (session_id) DO UPDATE SET expires_at = excluded.expires_at",
        placeholder(dialect, 1),
        placeholder(dialect, 2)
    );
    executor.execute(
        &sql,
        &[
            SqlValue::Text(session.to_string()),
            SqlValue::Int(until as i64),
        ],
    )?;
    if dialect == Dialect::Postgres {
        executor.query(
            "SELECT pg_notify($1, $2)",
            &[
                SqlValue::Text(BUS_CHANNEL.to_string()),
                SqlValue::Text(format!("{REVOKE_PREFIX}{session} {until}")),
            ],
            &[Decode::Text],
        )?;
    }
    Ok(until)
}

/// Sessions still worth remembering.
pub fn load(executor: &mut dyn Executor) -> Result<Vec<(String, u64)>, ApiError> {
    let sql = format!(
        "SELECT session_id, expires_at FROM \"{REVOKED_SESSIONS_TABLE}\" WHERE expires_at >= {}",
        placeholder(executor.dialect(), 1)
    );
    let rows = executor.query(
        &sql,
        &[SqlValue::Int(unix_now() as i64)],
        &[Decode::Text, Decode::Int],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [SqlValue::Text(session), SqlValue::Int(until)] => {
                Some((session.clone(), u64::try_from(*until).unwrap_or(0)))
            }
            _ => None,
        })
        .collect())
}

/// Deletes records whose tokens have all expired.
pub fn purge(executor: &mut dyn Executor) -> Result<u64, ApiError> {
    let sql = format!(
        "DELETE FROM \"{REVOKED_SESSIONS_TABLE}\" WHERE expires_at < {}",
        placeholder(executor.dialect(), 1)
    );
    Ok(executor.execute(&sql, &[SqlValue::Int(unix_now() as i64)])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_messages_round_trip() {
        assert_eq!(
            parse_revocation("revoke 3f2a-99 1700000000"),
            Some(("3f2a-99".to_string(), 1_700_000_000))
        );
        assert_eq!(parse_revocation("forget x"), None);
        assert_eq!(parse_revocation("revoke x notanumber"), None);
    }

    #[test]
    fn revoked_sessions_expire() {
        let sessions = RevokedSessions::default();
        sessions.revoke("a", unix_now() + 60);
        sessions.revoke("b", unix_now().saturating_sub(10));
        assert!(sessions.is_revoked("a"));
        assert!(!sessions.is_revoked("b"));
        assert!(!sessions.is_revoked("c"));
        sessions.shrink();
        sessions.replace(vec![("c".into(), unix_now() + 5)]);
        assert!(!sessions.is_revoked("a"));
        assert!(sessions.is_revoked("c"));
    }
}
