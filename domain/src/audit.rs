//! The audit log: an append-only record (the database refuses updates and deletes) of every
//! decision and change — logins, role changes, tokens, and later products, contracts,
//! subscriptions and ACLs — with actor, time, target and before/after. Entries are written
//! in the same transaction as the change they describe.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};

/// Whether the recorded attempt succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// Who did something, as the audit log names them. Every entry's actor is made here, so
/// one person is always written the same way (`user:<email>`) whoever records it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A person or automation with a Meshmart login (by email, or the email a failed
    /// sign-in claimed).
    User(String),
    /// A request nobody signed in to.
    Anonymous,
    /// The `meshmart` command line (user, token and contract commands).
    Cli,
    /// `meshmart seed-demo`.
    SeedDemo,
    /// A background job of the server: `reconciler`, `provisioner`, `expiry`,
    /// `auto-approve (<role>)`.
    System(String),
}

impl Actor {
    /// A background job of the server.
    pub fn system(job: impl Into<String>) -> Self {
        Actor::System(job.into())
    }

    /// Whoever a sign-in attempt claims to be (normalised as emails are stored).
    pub fn claimed(email: &str) -> Self {
        Actor::User(email.trim().to_lowercase())
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::User(email) => write!(f, "user:{email}"),
            Actor::Anonymous => f.write_str("anonymous"),
            Actor::Cli => f.write_str("cli"),
            Actor::SeedDemo => f.write_str("seed-demo"),
            Actor::System(job) => write!(f, "system:{job}"),
        }
    }
}

/// One thing to record.
#[derive(Clone, Debug)]
pub struct Event {
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub domain: Option<String>,
    pub outcome: Outcome,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub client_ip: Option<String>,
}

impl Event {
    /// A successful `action` by `actor` on `target`.
    pub fn new(actor: &Actor, action: &'static str, target: impl Into<String>) -> Self {
        Self {
            actor: actor.to_string(),
            action,
            target: target.into(),
            domain: None,
            outcome: Outcome::Success,
            before: None,
            after: None,
            client_ip: None,
        }
    }

    pub fn failed(mut self) -> Self {
        self.outcome = Outcome::Failure;
        self
    }

    pub fn in_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    pub fn before(mut self, value: impl Serialize) -> Self {
        self.before = serde_json::to_value(value).ok();
        self
    }

    pub fn after(mut self, value: impl Serialize) -> Self {
        self.after = serde_json::to_value(value).ok();
        self
    }

    pub fn from_ip(mut self, ip: Option<impl ToString>) -> Self {
        self.client_ip = ip.map(|ip| ip.to_string());
        self
    }
}

/// Appends `event`, in the caller's transaction.
pub async fn record(conn: &mut PgConnection, event: Event) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into audit_log (actor, action, target, domain, outcome, before, after, client_ip)
           values ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        event.actor,
        event.action,
        event.target,
        event.domain,
        event.outcome.as_str(),
        event.before,
        event.after,
        event.client_ip,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A recorded entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub domain: Option<String>,
    pub outcome: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub client_ip: Option<String>,
}

/// Which entries to return; text filters match substrings, case-insensitively.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only entries older than this id (for paging).
    pub before_id: Option<i64>,
    pub limit: Option<i64>,
}

/// The most entries one query returns.
pub const MAX_LIMIT: i64 = 10_000;

/// Entries matching `filter`, newest first.
pub async fn search(pool: &PgPool, filter: &Filter) -> Result<Vec<Entry>, sqlx::Error> {
    // Built, not a `query_as!`: each filter given adds its condition, and only the given
    // ones; every value is a bind.
    let mut query = QueryBuilder::<Postgres>::new(
        "select id, occurred_at, actor, action, target, domain, outcome, before, after, client_ip \
         from audit_log where true",
    );
    for (column, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("target", &filter.target),
    ] {
        if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            query
                .push(format!(" and {column} ilike "))
                .push_bind(format!("%{}%", escape_like(value)));
        }
    }
    if let Some(from) = filter.from {
        query.push(" and occurred_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" and occurred_at < ").push_bind(to);
    }
    if let Some(before_id) = filter.before_id {
        query.push(" and id < ").push_bind(before_id);
    }
    let limit = filter.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    query.push(" order by id desc limit ").push_bind(limit);
    query.build_query_as::<Entry>().fetch_all(pool).await
}

/// Every action the log holds, for a filter's choice.
pub async fn actions(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("select distinct action from audit_log order by action")
        .fetch_all(pool)
        .await
}

fn escape_like(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The entries as CSV (RFC 4180), with a header row; JSON columns as compact JSON text.
pub fn to_csv(entries: &[Entry]) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "id",
        "occurred_at",
        "actor",
        "action",
        "target",
        "domain",
        "outcome",
        "before",
        "after",
        "client_ip",
    ])?;
    let json = |value: &Option<serde_json::Value>| {
        value.as_ref().map(ToString::to_string).unwrap_or_default()
    };
    for entry in entries {
        writer.write_record([
            entry.id.to_string(),
            entry.occurred_at.to_rfc3339(),
            entry.actor.clone(),
            entry.action.clone(),
            entry.target.clone(),
            entry.domain.clone().unwrap_or_default(),
            entry.outcome.clone(),
            json(&entry.before),
            json(&entry.after),
            entry.client_ip.clone().unwrap_or_default(),
        ])?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn entries_are_filtered_and_cannot_be_changed(pool: PgPool) {
        let mut conn = pool.acquire().await.expect("conn");
        record(
            &mut conn,
            Event::new(
                &Actor::User("ana@example.com".into()),
                "login",
                "user:ana@example.com",
            ),
        )
        .await
        .expect("record");
        record(
            &mut conn,
            Event::new(
                &Actor::User("root@example.com".into()),
                "role.grant",
                "user:ana@example.com",
            )
            .in_domain("sales")
            .after(serde_json::json!({"role": "owner", "domain": "sales"})),
        )
        .await
        .expect("record");

        let all = search(&pool, &Filter::default()).await.expect("search");
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].action, "role.grant", "newest first");

        let grants = search(
            &pool,
            &Filter {
                actor: Some("ROOT".into()),
                ..Filter::default()
            },
        )
        .await
        .expect("search");
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].domain.as_deref(), Some("sales"));

        let none = search(
            &pool,
            &Filter {
                action: Some("%".into()),
                ..Filter::default()
            },
        )
        .await
        .expect("search");
        assert!(none.is_empty(), "wildcards in filters are literal");

        let update = sqlx::query!("update audit_log set actor = 'someone else'",)
            .execute(&pool)
            .await;
        assert!(update.is_err(), "the log is append-only");
        let delete = sqlx::query!("delete from audit_log").execute(&pool).await;
        assert!(delete.is_err(), "the log is append-only");

        let csv = to_csv(&all).expect("csv");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("id,occurred_at,actor,action,target,domain,outcome,before,after,client_ip")
        );
        assert!(
            csv.contains(r#""{""domain"":""sales"",""role"":""owner""}""#),
            "{csv}"
        );
    }
}
