//! Login throttling, one budget per account and a larger one per client address, kept in
//! PostgreSQL so that every server process behind a load balancer spends from the same
//! budgets. Every attempt spends from both; an empty budget refills one attempt per
//! configured period, and the refusal says how long to wait.
//!
//! The budgets follow the generic cell rate algorithm (GCRA, the one governor implements in
//! memory): a key stores when its spent attempts will all have come back (`spent_until`).
//! An attempt is allowed while that lies at most `(burst - 1) × period` ahead, and moves it
//! one period further. The check and the spending are one `insert … on conflict do update`,
//! which locks the key's row, so concurrent attempts on any process are counted exactly.

use std::net::IpAddr;
use std::time::Duration;

use sqlx::PgPool;

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

/// Why an attempt could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error(transparent)]
    Throttled(#[from] Throttled),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The deployment's login budgets, as configured.
#[derive(Clone, Copy, Debug)]
pub struct LoginThrottle {
    config: ThrottleConfig,
}

impl LoginThrottle {
    /// Budgets as configured; zero values count as one.
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config: ThrottleConfig {
                per_account_burst: config.per_account_burst.max(1),
                per_ip_burst: config.per_ip_burst.max(1),
                refill_every: config.refill_every.max(Duration::from_millis(1)),
            },
        }
    }

    /// Spends one attempt for `email` from `ip`, or says how long to wait.
    pub async fn attempt(
        &self,
        pool: &PgPool,
        email: &str,
        ip: IpAddr,
    ) -> Result<(), ThrottleError> {
        let address = format!("ip:{ip}");
        self.spend(pool, &address, self.config.per_ip_burst)
            .await?
            .map_err(Throttled::Address)?;
        let account = format!("account:{}", email.trim().to_lowercase());
        self.spend(pool, &account, self.config.per_account_burst)
            .await?
            .map_err(Throttled::Account)?;
        Ok(())
    }

    /// Spends one attempt of `key`'s budget, or returns the seconds to wait (at least 1).
    async fn spend(
        &self,
        pool: &PgPool,
        key: &str,
        burst: u32,
    ) -> Result<Result<(), u64>, sqlx::Error> {
        let period = self.config.refill_every;
        let tolerance = period * (burst - 1);
        // `wait` is how far `spent_until` lies beyond what the budget tolerates: positive
        // means refused (the row is then left as it was).
        let spent = sqlx::query!(
            r#"with spent as (
                 insert into login_budgets as b (key, spent_until)
                 values ($1, now() + $2)
                 on conflict (key) do update
                     set spent_until = greatest(b.spent_until, now()) + $2
                     where b.spent_until - now() <= $3
                 returning key
             )
             select exists (select 1 from spent) as "allowed!",
                    coalesce((select extract(epoch from b.spent_until - now() - $3)::float8
                              from login_budgets b where b.key = $1), 0) as "wait!""#,
            key,
            // Overrides: std's Duration encodes as an interval; the macros would ask for
            // sqlx's own interval type.
            period as Duration,
            tolerance as Duration,
        )
        .fetch_one(pool)
        .await?;
        let (allowed, wait) = (spent.allowed, spent.wait);
        if allowed {
            Ok(Ok(()))
        } else {
            Ok(Err((wait.ceil() as u64).max(1)))
        }
    }

    /// Deletes budgets that have refilled completely, so the table stays bounded by the keys
    /// that tried to sign in within the last burst window. Returns how many went.
    pub async fn forget_idle(pool: &PgPool) -> Result<u64, sqlx::Error> {
        let done = sqlx::query!("delete from login_budgets where spent_until < now()")
            .execute(pool)
            .await?;
        Ok(done.rows_affected())
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

    fn refused(result: Result<(), ThrottleError>) -> Throttled {
        match result {
            Err(ThrottleError::Throttled(throttled)) => throttled,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[sqlx::test(migrations = "../migrations")]
    async fn an_account_is_throttled_after_its_burst_and_others_are_not(pool: PgPool) {
        let throttle = throttle(Duration::from_secs(60));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            throttle
                .attempt(&pool, "ana@example.com", ip)
                .await
                .expect("within the burst");
        }
        let refused = refused(throttle.attempt(&pool, "ANA@example.com", ip).await);
        assert!(matches!(refused, Throttled::Account(secs) if (1..=60).contains(&secs)));
        assert!(
            refused
                .to_string()
                .starts_with("too many login attempts for this account")
        );
        throttle
            .attempt(&pool, "bob@example.com", ip)
            .await
            .expect("another account is fine");
    }

    #[sqlx::test(migrations = "../migrations")]
    async fn the_budget_refills_after_the_window(pool: PgPool) {
        // One attempt back per second: after 1.2 s exactly one has come back, with 0.8 s
        // of slack for a slow machine before a second would.
        let throttle = throttle(Duration::from_secs(1));
        let ip: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            throttle
                .attempt(&pool, "ana@example.com", ip)
                .await
                .expect("burst");
        }
        refused(throttle.attempt(&pool, "ana@example.com", ip).await);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        throttle
            .attempt(&pool, "ana@example.com", ip)
            .await
            .expect("one attempt came back");
        refused(throttle.attempt(&pool, "ana@example.com", ip).await);
    }

    #[sqlx::test(migrations = "../migrations")]
    async fn processes_spend_from_one_budget_and_concurrent_attempts_are_all_counted(pool: PgPool) {
        // Two throttles on one database stand for two server processes.
        let first = throttle(Duration::from_secs(60));
        let second = throttle(Duration::from_secs(60));
        let ip: IpAddr = [10, 0, 0, 7].into();
        let mut attempts = tokio::task::JoinSet::new();
        for i in 0..8 {
            let (throttle, pool) = (if i % 2 == 0 { first } else { second }, pool.clone());
            attempts.spawn(async move { throttle.attempt(&pool, "ana@example.com", ip).await });
        }
        let results = attempts.join_all().await;
        let allowed = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(allowed, 3, "the burst is shared: {results:?}");
        refused(second.attempt(&pool, "ana@example.com", ip).await);
    }

    #[sqlx::test(migrations = "../migrations")]
    async fn refilled_budgets_are_forgotten_and_spent_ones_kept(pool: PgPool) {
        let short = throttle(Duration::from_millis(1));
        let long = throttle(Duration::from_secs(60));
        short
            .attempt(&pool, "ana@example.com", [10, 0, 0, 1].into())
            .await
            .expect("allowed");
        long.attempt(&pool, "bob@example.com", [10, 0, 0, 2].into())
            .await
            .expect("allowed");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(LoginThrottle::forget_idle(&pool).await.expect("deleted"), 2);
        let left: Vec<String> = sqlx::query_scalar!("select key from login_budgets order by key",)
            .fetch_all(&pool)
            .await
            .expect("read");
        assert_eq!(left, ["account:bob@example.com", "ip:10.0.0.2"]);
    }
}
