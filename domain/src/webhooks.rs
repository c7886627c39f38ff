//! Per-user webhooks: each user may register one URL; whatever Meshmart tells them in-app
//! about incidents is also POSTed there as JSON, signed with HMAC-SHA256 under a secret
//! shown once when the webhook is set, and retried with backoff until it is delivered or
//! [`MAX_ATTEMPTS`] fail. Deliveries are rows (`webhook_deliveries`) queued in the same
//! transaction as the notification, so none is lost; the server's worker sends them.
//!
//! A delivery carries `X-Meshmart-Event`, `X-Meshmart-Delivery` (its id),
//! `X-Meshmart-Timestamp` (Unix seconds) and `X-Meshmart-Signature:
//! sha256=<hex HMAC of "<timestamp>.<body>">`; [`sign`] is the reference.
//!
//! Targets must be `http` or `https` URLs; addresses on loopback, private, link-local or
//! unspecified networks are refused unless the deployment allows them (a local demo), so a
//! webhook cannot be pointed at Meshmart's own network.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::Timestamp;
use crate::identity::Caller;
use crate::policy::{GLOBAL, Permission, Policy};

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i32 = 8;
/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// What can go wrong setting a webhook.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("url: {0}")]
    InvalidUrl(String),
    #[error(transparent)]
    Denied(#[from] crate::policy::Denied),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A user's webhook as they see it (never the secret, after it was shown).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Webhook {
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub delivered: i64,
    pub failing: i64,
    pub last_error: Option<String>,
}

/// A webhook just set: its secret is shown this once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
}

/// The signature of a delivery: `sha256=` and the hex HMAC-SHA256 of
/// `"<timestamp>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `ip` is on a network a webhook may not reach by default.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// Checks a webhook URL's form: `http(s)://host[:port]/path`, no credentials; its host
/// and port.
pub fn check_url(url: &str) -> Result<(String, u16), WebhookError> {
    let bad = |why: &str| WebhookError::InvalidUrl(why.to_owned());
    if url.len() > MAX_URL_LEN {
        return Err(bad("at most 2000 characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("an absolute http:// or https:// URL"))?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("the scheme must be http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("credentials in the URL are not accepted"));
    }
    if authority.chars().any(char::is_whitespace) || authority.is_empty() {
        return Err(bad("the URL names no host"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an unclosed IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => port.parse().map_err(|_| bad("the port is not a number"))?,
                None => default_port,
            };
            (host.to_owned(), port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse().map_err(|_| bad("the port is not a number"))?,
            ),
            None => (authority.to_owned(), default_port),
        },
    };
    if host.is_empty() {
        return Err(bad("the URL names no host"));
    }
    Ok((host, port))
}

/// Resolves the URL's host and refuses it when any address is private (unless the
/// deployment allows it: `allow_private`).
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), WebhookError> {
    let (host, port) = check_url(url)?;
    if allow_private {
        return Ok(());
    }
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| WebhookError::InvalidUrl(format!("the host `{host}` does not resolve")))?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.iter().copied().any(is_private) {
        return Err(WebhookError::InvalidUrl(format!(
            "`{host}` is on a private or loopback network"
        )));
    }
    Ok(())
}

/// Sets the caller's webhook to `url` (replacing any), with a new secret shown once.
pub async fn set(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
    url: &str,
    allow_private: bool,
) -> Result<NewWebhook, WebhookError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    let url = url.trim();
    check_target(url, allow_private).await?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| WebhookError::InvalidUrl(e.to_string()))?;
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = format!("whsec_{secret}");
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into webhooks (user_id, url, secret) values ($1, $2, $3)
         on conflict (user_id) do update set url = excluded.url, secret = excluded.secret,
             updated_at = now()",
        user.id,
        url,
        secret,
    )
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        crate::audit::Event::new(
            &caller.audit_actor(),
            "webhook.set",
            crate::identity::user_target(user),
        )
        .after(serde_json::json!({ "url": url })),
    )
    .await?;
    tx.commit().await?;
    Ok(NewWebhook {
        url: url.to_owned(),
        secret,
    })
}

/// The caller's webhook, if set.
pub async fn get(
    pool: &PgPool,
    policy: &Policy,
    caller: &Caller,
) -> Result<Option<Webhook>, WebhookError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    Ok(sqlx::query_as!(
        Webhook,
        r#"select w.url, w.created_at as "created_at: Timestamp",
                count(d.id) filter (where d.delivered_at is not null) as "delivered!",
                count(d.id) filter (where d.delivered_at is null and d.attempts > 0)
                    as "failing!",
                (array_agg(d.last_error order by d.id desc)
                    filter (where d.last_error is not null))[1] as last_error
         from webhooks w left join webhook_deliveries d on d.user_id = w.user_id
         where w.user_id = $1 group by w.url, w.created_at"#,
        user.id,
    )
    .fetch_optional(pool)
    .await?)
}

/// Removes the caller's webhook (and its pending deliveries); whether there was one.
pub async fn remove(pool: &PgPool, policy: &Policy, caller: &Caller) -> Result<bool, WebhookError> {
    let user = policy
        .authorize(caller, GLOBAL, Permission::ManageOwnAccount)
        .await?;
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "delete from webhook_deliveries where user_id = $1 and delivered_at is null",
        user.id,
    )
    .execute(&mut *tx)
    .await?;
    let removed = sqlx::query!("delete from webhooks where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        > 0;
    if removed {
        crate::audit::record(
            &mut tx,
            crate::audit::Event::new(
                &caller.audit_actor(),
                "webhook.remove",
                crate::identity::user_target(user),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(removed)
}

/// Queues `payload` as event `event` for every user of `users` who has a webhook, in the
/// caller's transaction; how many were queued.
pub async fn enqueue(
    conn: &mut PgConnection,
    users: &[Uuid],
    event: &str,
    payload: &serde_json::Value,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!(
        "insert into webhook_deliveries (user_id, event, payload)
         select w.user_id, $2, $3 from webhooks w where w.user_id = any($1)",
        users,
        event,
        payload,
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Tells `users` in the app (a notification of `event` with `message` and `link`) and, for
/// those with a webhook, by a delivery of `payload` — in the caller's transaction, so the
/// telling commits with the change it is about.
pub async fn tell(
    conn: &mut PgConnection,
    users: &[Uuid],
    event: &str,
    message: &str,
    link: &str,
    payload: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into notifications (user_id, kind, message, link)
         select u, $2, $3, $4 from unnest($1::uuid[]) as u",
        users,
        event,
        message,
        link,
    )
    .execute(&mut *conn)
    .await?;
    enqueue(conn, users, event, payload).await?;
    Ok(())
}

/// A delivery to send now.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub event: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
}

/// Up to `limit` deliveries due now, leased for a minute (another worker skips them).
pub async fn due(pool: &PgPool, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    sqlx::query_as!(
        Due,
        "update webhook_deliveries d set next_at = now() + interval '1 minute'
         from webhooks w
         where d.id in (select id from webhook_deliveries
                        where delivered_at is null and given_up_at is null and next_at <= now()
                        order by id limit $1 for update skip locked)
           and w.user_id = d.user_id
         returning d.id, w.url, w.secret, d.event, d.payload, d.attempts",
        limit,
    )
    .fetch_all(pool)
    .await
}

/// Records a delivery's outcome: delivered, or retried after a backoff (2^attempts
/// seconds, at most 10 minutes), or given up after [`MAX_ATTEMPTS`].
pub async fn outcome(
    pool: &PgPool,
    id: i64,
    result: Result<u16, String>,
) -> Result<(), sqlx::Error> {
    match result {
        Ok(status) => {
            sqlx::query!(
                "update webhook_deliveries set delivered_at = now(), attempts = attempts + 1,
                     last_status = $2, last_error = null where id = $1",
                id,
                i32::from(status),
            )
            .execute(pool)
            .await?;
        }
        Err(error) => {
            sqlx::query!(
                "update webhook_deliveries set attempts = attempts + 1, last_error = $2,
                     next_at = now() + least(interval '10 minutes',
                                              interval '1 second' * power(2, attempts + 1)),
                     given_up_at = case when attempts + 1 >= $3 then now() end
                 where id = $1",
                id,
                error,
                MAX_ATTEMPTS,
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Reference value: printf '1733380000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            sign("whsec_test", 1_733_380_000, br#"{"a":1}"#),
            "sha256=74de91cf8d991e2cd9a53a57d237e80ee36173e7e524443bdd4a1ba0624b5201"
        );
        assert_ne!(
            sign("whsec_test", 1_733_380_001, br#"{"a":1}"#),
            sign("whsec_test", 1_733_380_000, br#"{"a":1}"#)
        );
    }

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert_eq!(
            check_url("https://hooks.example.com/meshmart").ok(),
            Some(("hooks.example.com".to_owned(), 443))
        );
        assert_eq!(
            check_url("http://[::1]:8080/x").ok(),
            Some(("::1".to_owned(), 8080))
        );
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "https:///path",
            "http://example.com:port/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_and_loopback_networks_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.9",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "100.64.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(private.parse().expect("ip")), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_private(public.parse().expect("ip")), "{public}");
        }
    }
}
