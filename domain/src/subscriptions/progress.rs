//! The progress the provisioner records on a subscription: its state, a failed attempt
//! (kept for the retry), the ACLs in place (active), and access removed after it ended.

use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Action, Stage, State};
use crate::audit::{self, Actor, Event};
use crate::db::Timestamp;

/// The provisioner's view of a subscription: its state and principal.
pub async fn provisioning_state(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(State, String)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select state as "state: State", principal from subscriptions where id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|row| (row.state, row.principal)))
}

/// Locks a subscription row for the provisioner and says where `action` leads from its
/// stage: `None` when the row is gone or the action does not apply (it ended, or was
/// settled, meanwhile).
async fn lock_for_provisioner(
    conn: &mut PgConnection,
    id: Uuid,
    action: Action,
) -> Result<Option<Stage>, sqlx::Error> {
    let row = sqlx::query!(
        r#"select state as "state: State", access_removed_at as "access_removed_at: Timestamp"
           from subscriptions where id = $1 for update"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|row| {
        Stage::of(row.state, row.access_removed_at)
            .after(action)
            .ok()
    }))
}

/// Records a failed provisioning attempt (the subscription shows `provisioning — attempt n,
/// last error …`).
pub async fn record_attempt_failed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
    error: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(next) = lock_for_provisioner(&mut tx, id, Action::ProvisioningFailed).await? else {
        return Ok(());
    };
    sqlx::query!(
        r#"update subscriptions
           set state = $2, provision_attempts = $3, last_error = $4, updated_at = now()
           where id = $1"#,
        id,
        next.state.as_str(),
        attempt,
        error,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks a subscription active once its ACLs are on the broker; false when it had ended
/// meanwhile (or was active already).
pub async fn record_active(pool: &PgPool, id: Uuid, attempt: i32) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let Some(next) = lock_for_provisioner(&mut tx, id, Action::Provisioned).await? else {
        return Ok(false);
    };
    sqlx::query!(
        r#"update subscriptions set state = $2, activated_at = now(),
               provision_attempts = $3, last_error = null, updated_at = now()
           where id = $1"#,
        id,
        next.state.as_str(),
        attempt,
    )
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut tx,
        Event::new(
            &Actor::system("provisioner"),
            "subscription.activate",
            format!("subscription:{id}"),
        )
        .after(json!({ "state": next.state, "attempts": attempt })),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records that the broker holds none of an ended subscription's access any more (the
/// worker's sync for its principal succeeded). Returns whether this changed anything.
pub async fn record_access_removed(
    pool: &PgPool,
    id: Uuid,
    attempt: i32,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if lock_for_provisioner(&mut tx, id, Action::AccessRemoved)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    sqlx::query!(
        r#"update subscriptions set access_removed_at = now(), provision_attempts = $2,
               last_error = null, updated_at = now()
           where id = $1"#,
        id,
        attempt,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{self, Part};
    use crate::subscriptions::store::load;

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_stored_state_outside_the_known_ones_is_an_error_not_pending(pool: PgPool) {
        demo::seed_parts(
            &pool,
            &[Part::Identities, Part::Catalog, Part::Subscriptions],
            false,
        )
        .await
        .expect("demo");
        let id: Uuid = sqlx::query_scalar!("select id from subscriptions limit 1")
            .fetch_one(&pool)
            .await
            .expect("the demo subscription");
        assert!(
            provisioning_state(&pool, id)
                .await
                .expect("reads")
                .is_some()
        );

        sqlx::raw_sql(
            r#"alter table subscriptions drop constraint subscriptions_state_check;
               update subscriptions set state = 'paused'"#,
        )
        .execute(&pool)
        .await
        .expect("corrupt the row");
        assert!(
            matches!(
                provisioning_state(&pool, id).await,
                Err(sqlx::Error::ColumnDecode { .. })
            ),
            "an unknown state is an error the provisioner logs, not a missing subscription"
        );
        let mut conn = pool.acquire().await.expect("conn");
        assert!(load(&mut conn, id).await.is_err(), "nor read as pending");
    }
}
