//! Who may do what, decided in one place: a Casbin enforcer with the "RBAC with domains"
//! model, where a domain is a data-mesh domain (`sales`) or `*` for all of them. Policy rows
//! live in PostgreSQL (`casbin_rule`); Meshmart writes them in its own transactions, and a
//! trigger's NOTIFY makes every server process reload its enforcer when they commit.
//!
//! Subjects are `user:<uuid>` and `role:<name>`. Roles: `admin` (everything, everywhere),
//! `owner` of a domain (its products, approvals and service accounts), `analyst` (every
//! user: read the catalog, request access, manage their own account). What can be asked is
//! a [`Permission`], never a pair of strings.
//!
//! Where checks live: a domain operation that is handed the [`Caller`] (and this policy)
//! makes every check it needs itself, because it alone knows the data the decision depends
//! on (the domain of a subscription's product, the product owning a registry subject, the
//! domain a contract names); the adapter calling it asks nothing more. Adapters (REST
//! handlers, server functions) check only in front of domain functions that take no caller
//! (plain reads and writes given a pool), and an adapter that must refuse before reading a
//! large body does so with the domain operation's own check function, which returns the
//! proof the operation takes, so nothing is checked twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use casbin::{CoreApi, DefaultModel, Enforcer, MgmtApi};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use sqlx_adapter::SqlxAdapter;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::identity::roles::user_subject;
pub use crate::identity::roles::{GLOBAL, Role, grant, grants, revoke, roles_of};
use crate::identity::{Caller, User};

/// The Casbin model: RBAC with domains, plus global (`*`) role grants and permissions.
/// The matcher is checked against every policy row until one allows, and most rows are
/// Kafka grants (`topic:…` objects) that no page permission names: the cheap comparisons
/// of object, action and domain come first, so those rows fail before the role lookup.
const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (p.obj == "*" || r.obj == p.obj) && (p.act == "*" || r.act == p.act) && (p.dom == "*" || r.dom == p.dom) && (g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*"))
"#;

/// The NOTIFY channel the `casbin_rule` trigger signals on.
const CHANNEL: &str = "casbin_policy_changed";

/// What a caller may be allowed to do, in a domain or everywhere: one (object, action) pair
/// of the Casbin model each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the catalog, its contracts, lineage and the schema registry.
    ReadCatalog,
    /// Manage one's own account (sign out, tokens).
    ManageOwnAccount,
    ReadAudit,
    /// Create a domain (by pushing a contract that names a new one).
    CreateDomain,
    /// Report observed lineage (OpenLineage events).
    ReportLineage,
    /// Read the effective policy.
    ReadPolicy,
    /// Register and publish a domain's data products (and write their registry subjects).
    WriteProduct,
    /// Set the registry's global or a subject-less configuration.
    ConfigureRegistry,
    /// Write registry subjects that belong to no data product.
    WriteRegistry,
    ManageRoles,
    ManageServiceAccounts,
    ReadServiceAccounts,
    /// Decide access requests (and set auto-approval) for a domain's products.
    ApproveSubscriptions,
    RequestSubscriptions,
    ManageUsers,
}

impl Permission {
    /// The Casbin object and action.
    pub fn object_action(self) -> (&'static str, &'static str) {
        match self {
            Permission::ReadCatalog => ("catalog", "read"),
            Permission::ManageOwnAccount => ("account", "manage"),
            Permission::ReadAudit => ("audit", "read"),
            Permission::CreateDomain => ("domain", "create"),
            Permission::ReportLineage => ("lineage", "write"),
            Permission::ReadPolicy => ("policy", "read"),
            Permission::WriteProduct => ("product", "write"),
            Permission::ConfigureRegistry => ("registry", "config"),
            Permission::WriteRegistry => ("registry", "write"),
            Permission::ManageRoles => ("role", "manage"),
            Permission::ManageServiceAccounts => ("service-account", "manage"),
            Permission::ReadServiceAccounts => ("service-account", "read"),
            Permission::ApproveSubscriptions => ("subscription", "approve"),
            Permission::RequestSubscriptions => ("subscription", "request"),
            Permission::ManageUsers => ("user", "manage"),
        }
    }
}

/// Errors loading or evaluating the policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy engine error: {0}")]
    Casbin(#[from] casbin::Error),
}

/// Why a request was not allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("sign in first")]
    Unauthenticated,
    #[error("missing permission: {action} {object}{}", scope(domain))]
    Forbidden {
        domain: String,
        object: String,
        action: String,
    },
}

fn scope(domain: &str) -> String {
    if domain == GLOBAL {
        String::new()
    } else {
        format!(" in domain {domain}")
    }
}

/// Decisions remembered per loaded policy. A page asks the same few questions many times
/// (every section of a product page asks whether the viewer may read the catalog), and one
/// Casbin evaluation runs a Rhai script: a fifth of a product page's server time went to
/// them. When full, the memo starts again empty.
const MEMO_CAPACITY: usize = 10_000;

/// A loaded policy and the decisions it has given. Both are replaced together on reload, so
/// a remembered decision never outlives the policy that made it.
struct Loaded {
    enforcer: Enforcer,
    /// Exact questions (user, domain, permission), not hashes: no two can share an answer.
    decisions: Mutex<HashMap<(Uuid, String, Permission), bool>>,
}

/// The process's enforcer; cheap to clone. Until the first successful load (the database
/// may still be starting) it denies everything.
#[derive(Clone)]
pub struct Policy {
    enforcer: Arc<RwLock<Option<Loaded>>>,
    pool: PgPool,
}

impl Policy {
    /// A policy that denies everything until [`Policy::reload`] succeeds.
    pub fn new(pool: PgPool) -> Self {
        Self {
            enforcer: Arc::new(RwLock::new(None)),
            pool,
        }
    }

    /// A policy with every row loaded.
    pub async fn load(pool: &PgPool) -> Result<Self, PolicyError> {
        let policy = Self::new(pool.clone());
        policy.reload().await?;
        Ok(policy)
    }

    /// Re-reads every policy row through the adapter (after a change, here or in another
    /// process).
    #[tracing::instrument(skip_all)]
    pub async fn reload(&self) -> Result<(), PolicyError> {
        // A fresh enforcer, swapped in only once it has loaded: a reload that fails (the
        // database busy or away) keeps the last good policy instead of an empty one.
        let model = DefaultModel::from_str(MODEL).await?;
        let adapter = SqlxAdapter::new_with_pool(self.pool.clone()).await?;
        let fresh = Enforcer::new(model, adapter).await?;
        *self.enforcer.write().await = Some(Loaded {
            enforcer: fresh,
            decisions: Mutex::new(HashMap::new()),
        });
        Ok(())
    }

    /// Whether `user` has `permission` in `domain` (`GLOBAL` for none).
    pub async fn allows(&self, user: &User, domain: &str, permission: Permission) -> bool {
        let slot = self.enforcer.read().await;
        let Some(loaded) = slot.as_ref() else {
            tracing::warn!("policy not loaded yet; denying");
            return false;
        };
        let question = (user.id, domain.to_string(), permission);
        let remembered = loaded
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&question)
            .copied();
        if let Some(allowed) = remembered {
            return allowed;
        }
        let subject = user_subject(user.id);
        let (object, action) = permission.object_action();
        match loaded
            .enforcer
            .enforce((subject.as_str(), domain, object, action))
        {
            Ok(allowed) => {
                let mut decisions = loaded
                    .decisions
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if decisions.len() >= MEMO_CAPACITY {
                    decisions.clear();
                }
                decisions.insert(question, allowed);
                allowed
            }
            // Not remembered: the next question evaluates again.
            Err(error) => {
                tracing::error!(%error, "policy evaluation failed; denying");
                false
            }
        }
    }

    /// The roles `user_id` holds in the loaded policy — what [`Policy::allows`] decides
    /// with, without asking PostgreSQL (the policy reloads on every change, in any
    /// process). None until the first load.
    pub async fn roles_held(&self, user_id: Uuid) -> Vec<Role> {
        let slot = self.enforcer.read().await;
        let Some(loaded) = slot.as_ref() else {
            return Vec::new();
        };
        let mut roles: Vec<Role> = loaded
            .enforcer
            .get_filtered_grouping_policy(0, vec![user_subject(user_id)])
            .iter()
            .filter_map(|rule| Role::from_row(rule.get(1)?, rule.get(2)?))
            .collect();
        roles.sort_by_cached_key(ToString::to_string);
        roles.dedup();
        roles
    }

    /// Whether `user` may have `permission` in some domain: whether any rule of the user
    /// or of a role they hold (directly or through other roles, in any domain) grants it.
    /// When not, [`Policy::allows`] says no in every domain, so a caller can skip reading
    /// what it would have asked about per domain.
    pub async fn may_somewhere(&self, user: &User, permission: Permission) -> bool {
        let slot = self.enforcer.read().await;
        let Some(loaded) = slot.as_ref() else {
            return false;
        };
        let (object, action) = permission.object_action();
        let grants = |rule: &Vec<String>| {
            let matches = |granted: Option<&String>, asked: &str| {
                granted.is_some_and(|granted| granted == "*" || granted == asked)
            };
            matches(rule.get(2), object) && matches(rule.get(3), action)
        };
        // Casbin's `get_implicit_permissions_for_user` looks in one domain; this walks the
        // user's roles held in any.
        let mut subjects = vec![user_subject(user.id)];
        let mut seen: HashSet<String> = subjects.iter().cloned().collect();
        while let Some(subject) = subjects.pop() {
            if loaded
                .enforcer
                .get_filtered_policy(0, vec![subject.clone()])
                .iter()
                .any(grants)
            {
                return true;
            }
            for rule in loaded
                .enforcer
                .get_filtered_grouping_policy(0, vec![subject])
            {
                if let Some(role) = rule.get(1)
                    && seen.insert(role.clone())
                {
                    subjects.push(role.clone());
                }
            }
        }
        false
    }

    /// The one authorization check: the signed-in user when allowed, else why not.
    pub async fn authorize<'a>(
        &self,
        caller: &'a Caller,
        domain: &str,
        permission: Permission,
    ) -> Result<&'a User, Denied> {
        let user = caller.user().ok_or(Denied::Unauthenticated)?;
        if self.allows(user, domain, permission).await {
            Ok(user)
        } else {
            let (object, action) = permission.object_action();
            Err(Denied::Forbidden {
                domain: domain.to_string(),
                object: object.to_string(),
                action: action.to_string(),
            })
        }
    }

    /// Keeps this enforcer in step with the database: reloads on every NOTIFY from the
    /// `casbin_rule` trigger, and after each (re)connection in case one was missed.
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let policy = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(error) = policy.follow().await {
                    tracing::warn!(%error, "policy listener lost its connection; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn follow(&self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        loop {
            if let Err(error) = self.reload().await {
                tracing::error!(%error, "policy reload failed");
            }
            // `None`: the connection dropped and was re-established; reload to be safe.
            listener.try_recv().await?;
        }
    }
}

/// Makes `subject`'s global permission rows (domain `*`) exactly `wanted`, as (object,
/// action) pairs, in the caller's transaction. Only rows whose action is in `actions` are
/// replaced (every action when it is `None`), so a principal's other grants stay. Returns
/// whether anything changed.
pub(crate) async fn set_global_permissions(
    conn: &mut PgConnection,
    subject: &str,
    wanted: &[(String, &str)],
    actions: Option<&[&str]>,
) -> Result<bool, sqlx::Error> {
    let objects: Vec<&str> = wanted.iter().map(|(object, _)| object.as_str()).collect();
    let wanted_actions: Vec<&str> = wanted.iter().map(|(_, action)| *action).collect();
    let removed = sqlx::query!(
        r#"delete from casbin_rule
           where ptype = 'p' and v0 = $1 and v1 = '*'
             and ($4::text[] is null or v3 = any($4))
             and (v2, v3) not in (select * from unnest($2::text[], $3::text[]))"#,
        subject,
        &objects as &[&str],
        &wanted_actions as &[&str],
        actions as Option<&[&str]>,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let added = sqlx::query!(
        r#"insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
           select 'p', $1, '*', o, a, '', '' from unnest($2::text[], $3::text[]) as t (o, a)
           on conflict do nothing"#,
        subject,
        &objects as &[&str],
        &wanted_actions as &[&str],
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(removed + added > 0)
}

/// One permission row of the effective policy, for the read-only admin view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRow {
    pub subject: String,
    pub domain: String,
    pub object: String,
    pub action: String,
}

/// Every permission (`p`) row.
pub async fn permissions(pool: &PgPool) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as!(
        PolicyRow,
        r#"select v0 as subject, v1 as domain, v2 as object, v3 as action
           from casbin_rule where ptype = 'p' order by v0, v1, v2, v3"#,
    )
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Via;
    use crate::identity::users::{self, NewUser};

    async fn user(pool: &PgPool, email: &str) -> User {
        let mut conn = pool.acquire().await.expect("conn");
        users::create(
            &mut conn,
            NewUser {
                email: email.into(),
                display_name: email.into(),
                password: "meshmart".into(),
                kafka_principal: None,
            },
        )
        .await
        .expect("user")
    }

    fn caller(user: &User) -> Caller {
        Caller::User {
            user: user.clone(),
            via: Via::Session,
        }
    }

    /// An analyst, an owner of `sales` and an admin.
    async fn three_users(pool: &PgPool) -> (User, User, User) {
        let analyst = user(pool, "analyst@example.com").await;
        let owner = user(pool, "owner@example.com").await;
        let admin = user(pool, "admin@example.com").await;
        let mut conn = pool.acquire().await.expect("conn");
        grant(&mut conn, owner.id, &Role::Owner("sales".into()))
            .await
            .expect("grant");
        grant(&mut conn, admin.id, &Role::Admin)
            .await
            .expect("grant");
        (analyst, owner, admin)
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn roles_scope_permissions_to_their_domain(pool: PgPool) {
        let (analyst, owner, admin) = three_users(&pool).await;
        let policy = Policy::load(&pool).await.expect("policy");

        let check = |u: &User, d: &'static str, permission: Permission| {
            let policy = policy.clone();
            let c = caller(u);
            async move { policy.authorize(&c, d, permission).await.is_ok() }
        };
        assert!(check(&analyst, GLOBAL, Permission::ReadCatalog).await);
        assert!(!check(&analyst, "sales", Permission::WriteProduct).await);
        assert!(check(&owner, "sales", Permission::WriteProduct).await);
        assert!(!check(&owner, "marketing", Permission::WriteProduct).await);
        assert!(
            check(&owner, "marketing", Permission::ReadCatalog).await,
            "owners are analysts too"
        );
        assert!(check(&admin, "marketing", Permission::WriteProduct).await);
        assert!(check(&admin, GLOBAL, Permission::ManageUsers).await);
        assert!(!check(&owner, GLOBAL, Permission::ManageUsers).await);

        let denied = policy
            .authorize(&caller(&owner), "marketing", Permission::WriteProduct)
            .await
            .expect_err("denied");
        assert_eq!(
            denied.to_string(),
            "missing permission: write product in domain marketing"
        );
        assert_eq!(
            policy
                .authorize(&Caller::Anonymous, GLOBAL, Permission::ReadCatalog)
                .await,
            Err(Denied::Unauthenticated)
        );
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn may_somewhere_holds_where_some_domain_allows(pool: PgPool) {
        let (analyst, owner, admin) = three_users(&pool).await;
        let policy = Policy::load(&pool).await.expect("policy");
        let manage = Permission::ManageServiceAccounts;
        assert!(!policy.may_somewhere(&analyst, manage).await);
        assert!(!policy.allows(&analyst, "sales", manage).await);
        assert!(policy.may_somewhere(&owner, manage).await);
        assert!(policy.allows(&owner, "sales", manage).await);
        assert!(policy.may_somewhere(&admin, manage).await);
        assert!(
            policy
                .may_somewhere(&analyst, Permission::ReadCatalog)
                .await
        );

        // A rule written for the user alone counts too.
        sqlx::query(
            "insert into casbin_rule (ptype, v0, v1, v2, v3, v4, v5)
             values ('p', $1, 'ops', 'service-account', 'manage', '', '')",
        )
        .bind(user_subject(analyst.id))
        .execute(&pool)
        .await
        .expect("rule");
        policy.reload().await.expect("reload");
        assert!(policy.allows(&analyst, "ops", manage).await);
        assert!(policy.may_somewhere(&analyst, manage).await);
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_grant_committed_elsewhere_reaches_a_watching_enforcer(pool: PgPool) {
        let owner = user(&pool, "owner@example.com").await;
        let policy = Policy::load(&pool).await.expect("policy");
        let watcher = policy.watch();
        assert!(
            !policy
                .allows(&owner, "sales", Permission::WriteProduct)
                .await
        );

        // Another process would do exactly this: write the row and commit.
        let mut tx = pool.begin().await.expect("tx");
        grant(&mut tx, owner.id, &Role::Owner("sales".into()))
            .await
            .expect("grant");
        tx.commit().await.expect("commit");

        let mut allowed = false;
        for _ in 0..50 {
            if policy
                .allows(&owner, "sales", Permission::WriteProduct)
                .await
            {
                allowed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        watcher.abort();
        assert!(
            allowed,
            "the NOTIFY-driven reload picked up the new grant within 5 s"
        );
        assert_eq!(
            roles_of(&pool, owner.id).await.expect("roles"),
            vec![Role::Analyst, Role::Owner("sales".into())]
        );
        // The roles the loaded policy decides with are the stored ones.
        assert_eq!(
            policy.roles_held(owner.id).await,
            vec![Role::Analyst, Role::Owner("sales".into())]
        );
    }
}
