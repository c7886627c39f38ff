//! `GET /api/v1/search`: the catalog search for scripts — the same index, query language
//! and ranking as the search page. Filters come in the query text (`domain:sales`) or as
//! parameters, each parameter taking comma-separated alternatives. Facets and highlights
//! are counted and written only when asked for (`facets=`, `highlight=true`), and
//! `fields=` chooses each hit's attributes ([`domain::search::response`]). A question asked
//! again on unchanged index contents is answered from the kept answers (`"cached": true`)
//! unless the request says `Cache-Control: no-cache`.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use domain::policy::GLOBAL;
use domain::search::response::{self, HitFields};
use domain::search::{FACETS, FilterKey, Reuse, SearchRequest, Sort};
use serde::Deserialize;

use super::{CallerExt, caller};
use crate::error::AppError;
use crate::http::Routes;
use crate::state::AppState;
use domain::policy::Permission;

pub fn routes() -> Routes {
    Routes::new().get("/api/v1/search", search)
}

/// Hits per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 20;

#[derive(Debug, Default, Deserialize)]
struct Params {
    #[serde(default)]
    q: String,
    domain: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
    status: Option<String>,
    format: Option<String>,
    sla: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    explain: Option<String>,
    facets: Option<String>,
    highlight: Option<String>,
    fields: Option<String>,
}

/// A request as the engine runs it, and how its answer is written.
struct Asked {
    request: SearchRequest,
    fields: HitFields,
    facets: bool,
}

// What people search for stays out of the logs.
#[tracing::instrument(skip_all)]
async fn search(
    State(state): State<AppState>,
    caller_ext: CallerExt,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    let caller = caller(caller_ext);
    state
        .policy
        .authorize(&caller, GLOBAL, Permission::ReadCatalog)
        .await?;
    let asked = request(params)?;
    let results = state
        .search
        .search_async_with(asked.request, reuse(&headers))
        .await?;
    Ok(Json(response::Response::new(
        &results,
        asked.fields,
        asked.facets,
    ))
    .into_response())
}

/// `Cache-Control: no-cache` asks for an answer computed now rather than one kept for the
/// index's current contents (which would be the same answer, only found faster).
fn reuse(headers: &HeaderMap) -> Reuse {
    let no_cache = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"));
    if no_cache {
        Reuse::Compute
    } else {
        Reuse::Kept
    }
}

/// Validates the parameters into a search request.
fn request(params: Params) -> Result<Asked, AppError> {
    let mut filters = Vec::new();
    for (key, values) in [
        (FilterKey::Domain, &params.domain),
        (FilterKey::Tag, &params.tag),
        (FilterKey::Owner, &params.owner),
        (FilterKey::Status, &params.status),
        (FilterKey::Format, &params.format),
        (FilterKey::Sla, &params.sla),
    ] {
        for value in values.iter().flat_map(|v| v.split(',')) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let name = key.name();
            if value.chars().count() > domain::search::MAX_FILTER_CHARS {
                return Err(bad(
                    name,
                    format!(
                        "values are at most {} characters",
                        domain::search::MAX_FILTER_CHARS
                    ),
                ));
            }
            if filters.len() >= domain::search::MAX_TERMS {
                return Err(bad(
                    name,
                    format!(
                        "at most {} filter values apply at once",
                        domain::search::MAX_TERMS
                    ),
                ));
            }
            if key == FilterKey::Status
                && !domain::search::STATUSES.contains(&value.to_lowercase().as_str())
            {
                return Err(bad(
                    "status",
                    format!("use one of {}", domain::search::STATUSES.join(", ")),
                ));
            }
            filters.push((key, value.to_string()));
        }
    }
    let sort = match params.sort.as_deref() {
        None => Sort::Relevance,
        Some(name) => Sort::parse(name)
            .ok_or_else(|| bad("sort", "use relevance, name, updated or subscribers"))?,
    };
    let limit = number(params.limit.as_deref(), "limit", DEFAULT_LIMIT)?;
    if !(1..=domain::search::MAX_LIMIT).contains(&limit) {
        return Err(bad(
            "limit",
            format!("must be 1 to {}", domain::search::MAX_LIMIT),
        ));
    }
    let offset = number(params.offset.as_deref(), "offset", 0)?;
    if offset > domain::search::MAX_OFFSET {
        return Err(bad(
            "offset",
            format!(
                "must be at most {}; narrow the query instead",
                domain::search::MAX_OFFSET
            ),
        ));
    }
    let explain = flag(params.explain.as_deref(), "explain")?;
    let highlights = flag(params.highlight.as_deref(), "highlight")?;
    let mut facets = [false; FACETS.len()];
    for name in params.facets.iter().flat_map(|v| v.split(',')) {
        match name.trim() {
            "" => {}
            "all" => facets = [true; FACETS.len()],
            name => match FACETS.iter().position(|d| *d == name) {
                Some(at) => facets[at] = true,
                None => {
                    return Err(bad(
                        "facets",
                        format!("use any of {}, or all", FACETS.join(", ")),
                    ));
                }
            },
        }
    }
    let mut fields = match params.fields.as_deref() {
        None => HitFields::ALL,
        Some(list) => HitFields::parse(list).map_err(|message| bad("fields", message))?,
    };
    if !highlights {
        fields = fields.without("highlights");
    }
    Ok(Asked {
        request: SearchRequest {
            q: params.q,
            filters,
            sort,
            limit,
            offset,
            explain,
            facets,
            highlights,
        },
        fields,
        facets: facets.contains(&true),
    })
}

/// A yes-or-no parameter, no by default.
fn flag(value: Option<&str>, field: &str) -> Result<bool, AppError> {
    match value {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(_) => Err(bad(field, "use true or false")),
    }
}

fn number(value: Option<&str>, field: &str, default: usize) -> Result<usize, AppError> {
    match value {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| bad(field, "must be a non-negative whole number")),
    }
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::BadRequest {
        field: field.to_string(),
        message: message.into(),
    }
}
