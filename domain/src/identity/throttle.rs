//! Login throttling with governor's keyed rate limiters: one budget per account and a
//! larger one per client IP. Every attempt spends from both; an empty budget refills over
//! the configured period, and the refusal says how long to wait.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many attempts, refilled how fast.
#[derive(Clone, Copy, Debug)]
pub struct ThrottleConfig {
    /// Attempts one account may make in a burst.
    pub per_account_burst: u32,
    /// Attempts one client IP may make in a burst.
    pub per_ip_burst: u32,
    /// Time for one spent attempt to come back.
    pub refill_every: Duration,
}

/// Why an attempt was refused before checking the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    #[error("too many login attempts for this account; try again in {0} s")]
    Account(u64),
    #[error("too many login attempts from this address; try again in {0} s")]
    Address(u64),
}

impl Throttled {
    /// Seconds until the next attempt may succeed.
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Throttled::Account(secs) | Throttled::Address(secs) => *secs,
        }
    }
}

/// The process's login budgets.
pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LoginThrottle {
    /// Budgets as configured; zero values count as one.
    pub fn new(config: ThrottleConfig) -> Self {
        let refill = config.refill_every.max(Duration::from_millis(1));
        let quota = |burst: u32| {
            Quota::with_period(refill)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
        };
        Self {
            per_account: RateLimiter::keyed(quota(config.per_account_burst)),
            per_ip: RateLimiter::keyed(quota(config.per_ip_burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Spends one attempt for `email` from `ip`, or says how long to wait.
    pub fn attempt(&self, email: &str, ip: IpAddr) -> Result<(), Throttled> {
        let wait = |not_until: governor::NotUntil<_>| {
            not_until.wait_time_from(self.clock.now()).as_secs().max(1)
        };
        self.per_ip
            .check_key(&ip)
            .map_err(|n| Throttled::Address(wait(n)))?;
        self.per_account
            .check_key(&email.trim().to_lowercase())
            .map_err(|n| Throttled::Account(wait(n)))?;
        Ok(())
    }

    /// Drops budgets that have refilled completely, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(refill: Duration) -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            per_account_burst: 3,
            per_ip_burst: 100,
            refill_every: refill,
        })
    }

    #[test]
    fn an_account_is_throttled_after_its_burst_and_others_are_not() {
        let throttle = throttle(Duration::from_secs(60));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            throttle
                .attempt("ana@example.com", ip)
                .expect("within the burst");
        }
        let refused = throttle
            .attempt("ANA@example.com", ip)
            .expect_err("throttled");
        assert!(matches!(refused, Throttled::Account(secs) if (1..=60).contains(&secs)));
        assert!(
            refused
                .to_string()
                .starts_with("too many login attempts for this account")
        );
        throttle
            .attempt("bob@example.com", ip)
            .expect("another account is fine");
    }

    #[test]
    fn the_budget_refills_after_the_window() {
        let throttle = throttle(Duration::from_millis(50));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            throttle.attempt("ana@example.com", ip).expect("burst");
        }
        assert!(throttle.attempt("ana@example.com", ip).is_err());
        std::thread::sleep(Duration::from_millis(60));
        throttle.attempt("ana@example.com", ip).expect("refilled");
    }
}
