//! `GET /api/v1/audit`: the audit log for admins, filtered by actor, action, target and
//! time range; JSON by default, CSV with `format=csv`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use domain::audit::{Filter, MAX_LIMIT};
use domain::policy::GLOBAL;
use serde::Deserialize;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new().get("/api/v1/audit", search)
}

#[derive(Deserialize)]
struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before_id: Option<i64>,
    limit: Option<i64>,
    format: Option<String>,
}

async fn search(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    Query(query): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadAudit)
        .await?;
    let time = |field: &str, value: Option<&str>| {
        app::api::admin::parse_time(field, value).map_err(|e| match e {
            app::api::ApiError::Invalid { field, message } => {
                AppError::unprocessable(field, message)
            }
            other => AppError::Unexpected(anyhow::anyhow!("{other}")),
        })
    };
    if query
        .limit
        .is_some_and(|limit| !(1..=MAX_LIMIT).contains(&limit))
    {
        return Err(AppError::unprocessable(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        ));
    }
    let filter = Filter {
        actor: query.actor,
        action: query.action,
        target: query.target,
        from: time("from", query.from.as_deref())?,
        to: time("to", query.to.as_deref())?,
        before_id: query.before_id,
        limit: query.limit,
    };
    let entries = domain::audit::search(&state.pool, &filter).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(serde_json::json!({ "entries": entries })).into_response()),
        Some("csv") => {
            let csv = domain::audit::to_csv(&entries)
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("csv: {e}")))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"meshmart-audit.csv\"",
                    ),
                ],
                csv,
            )
                .into_response())
        }
        Some(_) => Err(AppError::unprocessable("format", "must be json or csv")),
    }
}
