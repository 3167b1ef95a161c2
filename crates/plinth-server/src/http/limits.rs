//! Rate limits (governor token buckets): per client IP on every route, stricter per IP on
//! `/api/v1/auth/*`, and per authenticated user. A refusal is a 429 problem with `Retry-After`.

use crate::config::{RateLimit, ServeConfig};
use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;

pub struct Limiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    auth_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_user: Option<DefaultKeyedRateLimiter<String>>,
}

fn limiter<K: Hash + Eq + Clone>(limit: Option<RateLimit>) -> Option<DefaultKeyedRateLimiter<K>> {
    let limit = limit?;
    let requests = limit.requests.max(1);
    let period = limit.period / requests;
    let burst = std::num::NonZeroU32::new(requests)?;
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(RateLimiter::keyed(quota))
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
        ApiError::too_many_requests(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    })
}

impl Limiters {
    pub fn new(config: &ServeConfig) -> Limiters {
        Limiters {
            per_ip: limiter(config.rate_limit_per_ip),
            auth_per_ip: limiter(config.rate_limit_auth_per_ip),
            per_user: limiter(config.rate_limit_per_user),
        }
    }

    pub fn check_ip(&self, ip: IpAddr, auth_route: bool) -> Result<(), ApiError> {
        check(&self.per_ip, &ip)?;
        if auth_route {
            check(&self.auth_per_ip, &ip)?;
        }
        Ok(())
    }

    pub fn check_user(&self, subject: &str) -> Result<(), ApiError> {
        if self.per_user.is_none() {
            return Ok(());
        }
        check(&self.per_user, &subject.to_string())
    }

    /// Forgets keys whose buckets are full again, so memory stays bounded.
    pub fn shrink(&self) {
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.auth_per_ip {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_with_retry_after() {
        let config = ServeConfig {
            rate_limit_auth_per_ip: Some(RateLimit {
                requests: 2,
                period: std::time::Duration::from_secs(60),
            }),
            ..ServeConfig::default()
        };
        let limiters = Limiters::new(&config);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limiters.check_ip(ip, true).is_ok());
        assert!(limiters.check_ip(ip, true).is_ok());
        let refused = limiters.check_ip(ip, true).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(refused.retry_after.unwrap() >= 1);
        // Other routes and other clients are unaffected.
        assert!(limiters.check_ip(ip, false).is_ok());
        assert!(limiters.check_ip("10.0.0.2".parse().unwrap(), true).is_ok());
    }
}
