//! Request authentication and cross-site request protection, as middleware:
//! - `resolve_caller` turns an API token (Bearer, or the Basic password) or the session cookie into a [`Caller`]
//!   in the request extensions (enforcing the session's absolute lifetime), plus the
//!   client address for throttling and audit;
//! - `cross_site_guard` refuses state-changing browser requests that come from another
//!   site (`Sec-Fetch-Site`, else `Origin` against `Host`), on top of SameSite=Lax cookies.
//!   Requests with an API token carry no ambient credentials and are not checked, unless
//!   they also carry the session cookie: then the cookie could be what authenticates a
//!   forged request, so the check applies.
//!
//! No CORS layer exists. If one is ever added, it must not allow credentials
//! (`Access-Control-Allow-Credentials`) for other origins, or a page elsewhere could send
//! both an `Authorization` header and the cookie.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::identity::session::{AUTH_KEY, ClientIp, SessionAuth};
use domain::identity::{Caller, Via, tokens, users};
use ipnet::IpNet;
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;

/// The API token of an `Authorization` header ([`tokens::from_authorization`]).
fn api_token(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    tokens::from_authorization(value)
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: the peer's, unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` entry that is not a trusted proxy (entries further left
/// were written by the client and prove nothing). A malformed entry stops the walk at the
/// last trusted hop, so a garbled header never yields an address the client chose.
fn client_address<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(address) if is_trusted(&address) => client = address,
            Ok(address) => return address,
            Err(_) => return client,
        }
    }
    client
}

/// Reads who is signed in, as the header shows them, before a page renders
/// (`app::api::auth::HeaderMe`), so that the header's menu is in the page's HTML rather
/// than streamed out of order into a `<template>` only a script places. Layered on the
/// page routes (which carry the server functions too: those are left alone) and the
/// not-found page, inside [`resolve_caller`]. A failed read is kept too: the header then
/// offers to sign in, as it did when its own read failed.
pub async fn read_header(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let page = request.method() == Method::GET
        && !request
            .uri()
            .path()
            .starts_with(crate::http::forms::SERVER_FNS);
    if page {
        let caller = request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_default();
        let me = app::api::auth::me_of(&state.pool, &state.policy, &caller).await;
        request
            .extensions_mut()
            .insert(app::api::auth::HeaderMe(me));
    }
    next.run(request).await
}

/// Resolves who is calling and puts a [`Caller`] and a [`ClientIp`] into the request.
pub async fn resolve_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(address)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let forwarded = request
            .headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok());
        let ip = ClientIp(client_address(
            address.ip(),
            forwarded,
            &state.trusted_proxies,
        ));
        request.extensions_mut().insert(ip);
    }
    // The metrics endpoint has its own scrape token (see `http::metrics`), not an API token.
    let scrape = request.uri().path() == crate::http::metrics::PATH;
    let caller = match api_token(&request).filter(|_| !scrape) {
        Some(token) => match tokens::authenticate(&state.pool, &state.tokens, &token).await {
            Ok(Some((user, prefix))) => Caller::User {
                user,
                via: Via::Token { prefix },
            },
            Ok(None) => {
                return AppError::Unauthorized.into_response();
            }
            Err(error) => return AppError::Database(error).into_response(),
        },
        None => match request.extensions().get::<Session>().cloned() {
            Some(session) => match session_caller(&state, &session).await {
                Ok(caller) => caller,
                Err(response) => return response,
            },
            None => Caller::Anonymous,
        },
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

async fn session_caller(state: &AppState, session: &Session) -> Result<Caller, Response> {
    let auth = match session.get::<SessionAuth>(AUTH_KEY).await {
        Ok(Some(auth)) => auth,
        Ok(None) => return Ok(Caller::Anonymous),
        Err(error) => {
            tracing::warn!(%error, "unreadable session; treating the request as anonymous");
            return Ok(Caller::Anonymous);
        }
    };
    let lifetime = chrono::Duration::hours(i64::from(state.auth.session_absolute_hours));
    let user = if outlived(&auth, lifetime, chrono::Utc::now()) {
        None
    } else {
        users::find(&state.pool, auth.user_id)
            .await
            .map_err(|error| AppError::Database(error).into_response())?
            .filter(|user| !user.disabled)
    };
    match user {
        Some(user) => Ok(Caller::User {
            user,
            via: Via::Session,
        }),
        None => {
            // Expired, deleted or disabled: end the session for good.
            if let Err(error) = session.flush().await {
                tracing::warn!(%error, "could not end an expired session");
            }
            Ok(Caller::Anonymous)
        }
    }
}

/// Whether a session signed in at `auth.authenticated_at` has outlived its absolute
/// lifetime at `now`, however active it was.
fn outlived(
    auth: &SessionAuth,
    lifetime: chrono::Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    auth.authenticated_at + lifetime <= now
}

/// Refuses cross-site state-changing requests that could carry the session cookie.
pub async fn cross_site_guard(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let token_only = api_token(&request).is_some() && !carries_session_cookie(&request);
    if safe || token_only || is_same_site(&request) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
    (
        StatusCode::FORBIDDEN,
        axum::Json(serde_json::json!({
            "error": {
                "code": "cross_site",
                "message": "cross-site request refused: send it from Meshmart's own pages or with an API token"
            }
        })),
    )
        .into_response()
}

/// The name of the session cookie (set in `startup`).
pub const SESSION_COOKIE: &str = "meshmart_session";

/// Whether the request carries Meshmart's session cookie (ambient credentials).
fn carries_session_cookie(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .any(|cookie| {
            cookie
                .trim()
                .split_once('=')
                .is_some_and(|(name, _)| name.trim() == SESSION_COOKIE)
        })
}

fn is_same_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Neither header: not a browser (curl, scripts), which sends no ambient cookies
        // unless told to.
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method("POST").uri("/api/fn/logout");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).expect("request")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address_behind_a_trusted_proxy() {
        let balancer = ip("10.0.0.2");
        // One proxy by its address, the others by their network.
        let trusted: [IpNet; 2] = [balancer.into(), "10.0.0.0/30".parse().expect("a network")];
        // A client may write anything left of what the proxies append.
        let header = ["203.0.113.9, 198.51.100.4", "10.0.0.3"];
        assert_eq!(
            client_address(balancer, header.into_iter(), &trusted),
            ip("198.51.100.4")
        );
        // Not from a trusted proxy: the header is the client's own word, ignored.
        assert_eq!(
            client_address(ip("192.0.2.1"), header.into_iter(), &trusted),
            ip("192.0.2.1")
        );
        // No proxies configured (the default): the peer, whatever the header says.
        assert_eq!(client_address(balancer, header.into_iter(), &[]), balancer);
        // A garbled hop stops the walk at the last trusted one.
        assert_eq!(
            client_address(balancer, ["1.2.3.4, not-an-ip"].into_iter(), &trusted),
            balancer
        );
        // Only proxies in the chain, or no header: the nearest proxy.
        assert_eq!(
            client_address(balancer, ["10.0.0.3"].into_iter(), &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_address(balancer, std::iter::empty(), &trusted),
            balancer
        );
    }

    #[test]
    fn sessions_end_after_their_absolute_lifetime() {
        let signed_in = chrono::Utc::now();
        let auth = SessionAuth {
            user_id: uuid::Uuid::nil(),
            authenticated_at: signed_in,
        };
        let twelve_hours = chrono::Duration::hours(12);
        assert!(!outlived(
            &auth,
            twelve_hours,
            signed_in + chrono::Duration::hours(11)
        ));
        assert!(outlived(&auth, twelve_hours, signed_in + twelve_hours));
        assert!(outlived(
            &auth,
            twelve_hours,
            signed_in + chrono::Duration::days(2)
        ));
    }

    #[test]
    fn same_site_rules() {
        assert!(is_same_site(&request(&[("sec-fetch-site", "same-origin")])));
        assert!(!is_same_site(&request(&[("sec-fetch-site", "cross-site")])));
        assert!(!is_same_site(&request(&[("sec-fetch-site", "same-site")])));
        assert!(is_same_site(&request(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_site(&request(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_site(&request(&[
            ("origin", "null"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(is_same_site(&request(&[])), "non-browser clients");
    }

    async fn guarded(headers: &[(&str, &str)]) -> StatusCode {
        use tower::ServiceExt as _;

        let app = axum::Router::new()
            .route("/api/fn/logout", axum::routing::post(|| async { "ok" }))
            .layer(axum::middleware::from_fn(cross_site_guard));
        app.oneshot(request(headers))
            .await
            .expect("infallible")
            .status()
    }

    #[tokio::test]
    async fn an_authorization_header_exempts_only_requests_without_the_session_cookie() {
        let token = ("authorization", "Bearer mmt_x");
        let cross = ("sec-fetch-site", "cross-site");
        assert_eq!(guarded(&[token, cross]).await, StatusCode::OK);
        for cookie in [
            "meshmart_session=abc",
            "theme=dark; meshmart_session=abc",
            "theme=dark;meshmart_session = abc",
        ] {
            assert_eq!(
                guarded(&[token, cross, ("cookie", cookie)]).await,
                StatusCode::FORBIDDEN,
                "{cookie}"
            );
        }
        assert_eq!(
            guarded(&[token, cross, ("cookie", "theme=dark")]).await,
            StatusCode::OK,
            "another cookie is no session"
        );
        assert_eq!(
            guarded(&[
                token,
                ("sec-fetch-site", "same-origin"),
                ("cookie", "meshmart_session=abc")
            ])
            .await,
            StatusCode::OK,
            "our own pages still work"
        );
    }
}
