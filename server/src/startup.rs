//! Builds the application from settings — pool, broker admin, metrics, the router with
//! pages, plain routes, static files and middleware — and runs it until a shutdown signal.
//! Binding happens in `build`, so port 0 works and tests can ask for the port.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use app::{App, shell};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::handler::Handler as _;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::middleware;
use axum::serve::ListenerExt as _;
use domain::broker::BrokerAdmin;
use domain::identity::throttle::{LoginThrottle, ThrottleConfig};
use domain::policy::Policy;
use domain::search::{Opened, SearchIndex};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use secrecy::ExposeSecret;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::auth;
use crate::configuration::Settings;
use crate::http;
use crate::state::AppState;

/// Name of the wasm-bindgen output in `<site_root>/pkg` (`meshmart.js`, `meshmart_bg.wasm`).
const OUTPUT_NAME: &str = "meshmart";

/// How long start-up waits for a new search index to fill before serving anyway.
const INITIAL_INDEX_WAIT: Duration = Duration::from_secs(3);

/// A bound, ready-to-run Meshmart server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    replication_factor: i32,
    search_sync_every: Duration,
    provisioning: crate::configuration::ProvisioningSettings,
    checker: Option<crate::checker::CheckerConfig>,
}

impl Application {
    /// Builds the application with a pool made from the settings.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = settings.database.pool();
        Self::build_with_pool(settings, pool).await
    }

    /// Builds the application around an existing pool (tests bring a fresh database).
    pub async fn build_with_pool(settings: Settings, pool: PgPool) -> anyhow::Result<Self> {
        let broker = BrokerAdmin::new(&settings.kafka.broker_config())
            .context("failed to create the broker admin client")?;
        let policy = Policy::new(pool.clone());
        if let Err(error) = policy.reload().await {
            // The watcher loads it as soon as the database answers; until then, deny.
            tracing::warn!(%error, "policy not loaded at start-up; denying until it is");
        }
        let search = open_search_index(&settings.search.index_dir).await?;
        if !search.is_ready() {
            // A small catalog indexes in moments: serve it complete from the first request.
            // A big one keeps building in the feed while /readyz says so.
            // A task of its own, so that giving up waiting does not stop the build; the
            // feed's own first sync then waits for it and finds the index in step.
            let mut first_fill = tokio::spawn({
                let (search, pool) = (Arc::clone(&search), pool.clone());
                async move { domain::search::feed::sync(&search, &pool).await }
            });
            match tokio::time::timeout(INITIAL_INDEX_WAIT, &mut first_fill).await {
                Ok(Ok(Ok(report))) => tracing::info!(
                    products = report.updated,
                    elapsed_ms = report.elapsed.as_millis() as u64,
                    "search index built"
                ),
                Ok(Ok(Err(error))) => {
                    tracing::warn!(%error, "search index not built yet; retrying in the background")
                }
                Ok(Err(error)) => {
                    tracing::error!(%error, "search index build failed; retrying in the background")
                }
                Err(_) => tracing::info!("search index still building in the background"),
            }
        }
        let auth = &settings.auth;
        let throttle = Arc::new(LoginThrottle::new(ThrottleConfig {
            per_account_burst: auth.login_burst_per_account,
            per_ip_burst: auth.login_burst_per_ip,
            refill_every: Duration::from_secs(u64::from(auth.login_refill_seconds)),
        }));
        let metrics = http::metrics::recorder().context("failed to install metrics")?;
        let address = settings.listen_addr();
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("failed to listen on {address}"))?;
        let local_addr = listener.local_addr()?;
        let leptos_options = LeptosOptions::builder()
            .output_name(OUTPUT_NAME)
            .site_root(settings.server.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        let state = AppState {
            pool,
            broker,
            policy,
            search,
            throttle,
            tokens: Arc::new(domain::identity::token_cache::TokenCache::new()),
            auth: Arc::new(settings.auth.clone()),
            trusted_proxies: settings.server.trusted_proxies().into(),
            metrics,
            metrics_access: http::metrics::MetricsAccess::new(
                settings
                    .metrics
                    .token
                    .as_ref()
                    .map(|token| token.expose_secret()),
            ),
            leptos_options,
            clients: Arc::new(domain::subscriptions::ClientAccess {
                bootstrap_servers: settings.kafka.bootstrap_servers.clone(),
                security_protocol: settings.kafka.security_protocol.clone(),
                sasl_mechanism: settings.kafka.sasl_mechanism.clone(),
                registry_url: format!(
                    "{}/registry",
                    settings.server.public_url.trim_end_matches('/')
                ),
            }),
            webhooks_allow_private: settings.webhooks.allow_private_targets,
        };
        let router = router(state.clone(), settings.server.secure_cookies());
        Ok(Self {
            listener,
            router,
            state,
            replication_factor: settings.kafka.replication_factor,
            search_sync_every: Duration::from_secs(settings.search.sync_interval_seconds),
            provisioning: settings.provisioning.clone(),
            checker: settings
                .checker
                .enabled
                .then(|| crate::checker::CheckerConfig {
                    broker: settings.kafka.broker_config(),
                    group: settings.checker.group.clone(),
                    max_record_bytes: settings.checker.max_record_bytes,
                    consumers: settings.checker.consumers,
                    client: settings.checker.client.clone(),
                }),
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |addr| addr.port())
    }

    /// The application's connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let metrics = self.state.metrics.clone();
        let pool = self.state.pool.clone();
        let upkeep = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                metrics.run_upkeep();
                if let Err(error) = LoginThrottle::forget_idle(&pool).await {
                    tracing::warn!(%error, "refilled login budgets not deleted");
                }
            }
        });
        let policy_watch = self.state.policy.watch();
        let token_watch = self.state.tokens.watch(self.state.pool.clone());
        let search_feed = domain::search::feed::spawn(
            Arc::clone(&self.state.search),
            self.state.pool.clone(),
            self.search_sync_every,
        );
        let outbox = crate::workers::spawn_outbox(
            self.state.pool.clone(),
            self.state.broker.clone(),
            self.replication_factor,
        );
        let webhooks = crate::workers::spawn_webhooks(
            self.state.pool.clone(),
            self.state.webhooks_allow_private,
        );
        let reconciler = crate::workers::spawn_reconciler(
            self.state.pool.clone(),
            self.state.broker.clone(),
            Duration::from_secs(self.provisioning.reconcile_interval_seconds),
            self.provisioning.reconcile_dry_run,
        );
        let sessions = PostgresStore::new(self.state.pool.clone());
        let session_cleanup = tokio::spawn(async move {
            if let Err(error) = sessions
                .continuously_delete_expired(Duration::from_secs(600))
                .await
            {
                tracing::warn!(%error, "session cleanup stopped");
            }
        });
        // Background work ends with the server, also when this future is dropped mid-flight.
        let mut workers = vec![
            upkeep,
            policy_watch,
            token_watch,
            search_feed,
            outbox,
            reconciler,
            session_cleanup,
            webhooks,
        ];
        if let Some(checker) = &self.checker {
            workers.push(crate::workers::spawn_health(
                self.state.pool.clone(),
                checker.broker.clone(),
            ));
            workers.push(crate::detector::spawn(
                &self.state.pool,
                self.state.broker.clone(),
                checker.broker.clone(),
            ));
        }
        let checker = self
            .checker
            .map(|config| crate::checker::spawn(self.state.pool.clone(), config));
        let _workers = AbortOnDrop(workers);
        tracing::info!(address = %self.listener.local_addr()?, "meshmart is serving");
        // Without TCP_NODELAY, the last small write of a streamed page waits for the
        // client's delayed ACK on a kept-alive connection: ~40 ms added to most product
        // pages under a load tool, and to a browser's second request on a connection.
        let listener = self.listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY not set on a connection");
            }
        });
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        if let Some(checker) = checker {
            checker.stop().await;
        }
        served.context("server error")?;
        tracing::info!("meshmart stopped");
        Ok(())
    }
}

/// Aborts its tasks when dropped.
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Opens this process's search index, creating or replacing it when it is missing or
/// unusable. An existing index serves at once (the feed then catches it up); a new one
/// reports not ready until the feed has filled it from the database.
pub async fn open_search_index(dir: &Path) -> anyhow::Result<Arc<SearchIndex>> {
    let path = dir.to_path_buf();
    let (index, opened) = tokio::task::spawn_blocking(move || SearchIndex::open(&path))
        .await
        .context("search index task failed")?
        .with_context(|| format!("failed to open the search index in {}", dir.display()))?;
    match opened {
        Opened::Existing => index.mark_ready(),
        Opened::Created => {
            tracing::info!(dir = %dir.display(), "no search index yet; building it from the database")
        }
        Opened::Replaced(reason) => {
            tracing::warn!(dir = %dir.display(), %reason, "search index unusable; rebuilding it from the database")
        }
    }
    Ok(Arc::new(index))
}

fn router(state: AppState, secure_cookies: bool) -> Router {
    let options = state.leptos_options.clone();
    let site_root = Path::new(options.site_root.as_ref()).to_path_buf();
    let services = state.services();
    let fallback_services = services.clone();
    let leptos_routes = generate_route_list(App);
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.pool.clone()))
        .with_name(auth::SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::minutes(i64::from(
                state.auth.session_idle_minutes,
            )),
        ));

    Router::new()
        .leptos_routes_with_context(
            &state,
            leptos_routes,
            move || {
                provide_context(services.clone());
                provide_context(app::ssr::RequestMemo::default());
            },
            move || shell(options.clone()),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::read_header,
        ))
        .merge(http::routes().into_router())
        .route("/registry", axum::routing::any(http::registry_not_found))
        .route(
            "/registry/{*rest}",
            axum::routing::any(http::registry_not_found),
        )
        // The bundle's names carry no hash, so browsers revalidate it (cheap 304s).
        .nest_service("/pkg", static_files(site_root.join("pkg"), "no-cache"))
        .nest_service(
            "/assets",
            static_files(site_root.join("assets"), "public, max-age=86400"),
        )
        // Unknown addresses render the app's 404 page with the same services as every
        // other page, so its header knows who is signed in.
        .fallback(
            leptos_axum::file_and_error_handler_with_context::<AppState, _>(
                move || provide_context(fallback_services.clone()),
                shell,
            )
            .layer(middleware::from_fn_with_state(
                state.clone(),
                auth::read_header,
            )),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::resolve_caller,
        ))
        .layer(middleware::from_fn(auth::cross_site_guard))
        .layer(middleware::from_fn(http::forms::limit_declared_length))
        .layer(DefaultBodyLimit::max(http::forms::MAX_FORM_BODY_BYTES))
        .layer(sessions)
        .layer(middleware::from_fn(http::metrics::track))
        .layer(compression())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// Response compression, chosen for a server whose responses are small and many: level 1
/// (gzip 1 or brotli 1, whichever the client prefers), which costs a third of gzip's
/// default level for the search API's JSON and sends about 10 % more bytes; and nothing
/// under 1 KB, which fits in one packet either way. Static files are compressed at build
/// time (`ServeDir::precompressed_gzip`), not here.
fn compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::CompressionLevel;
    use tower_http::compression::Predicate as _;
    use tower_http::compression::predicate::{NotForContentType, SizeAbove};

    CompressionLayer::new()
        .quality(CompressionLevel::Precise(1))
        .compress_when(
            SizeAbove::new(1024)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE),
        )
}

/// Serves a folder (pre-compressed `.gz` files when the client accepts them) with a
/// `Cache-Control` header on successful responses.
fn static_files(
    dir: PathBuf,
    cache_control: &'static str,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<tower_http::services::fs::ServeFileSystemResponseBody>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ Sync
+ 'static {
    let value = HeaderValue::from_static(cache_control);
    ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            move |response: &Response<_>| {
                let status = response.status();
                (status.is_success() || status == StatusCode::NOT_MODIFIED).then(|| value.clone())
            },
        ))
        .service(ServeDir::new(dir).precompressed_gzip())
}

/// One span per request: method, path and route pattern; never the query string, which may
/// carry search terms or tokens.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        route,
    )
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
