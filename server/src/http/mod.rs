//! Plain axum routes (everything that is not a Leptos page or server function), one
//! `routes()` per feature, merged here. Routes are declared through [`Routes`], which keeps
//! a list of every method and path next to the router: the authorization matrix test
//! compares that list with its own, so no route goes unchecked.

mod api;
pub mod forms;
pub use api::MAX_JSON_BODY_BYTES;
mod health;
pub mod metrics;
mod registry;

pub use registry::not_found as registry_not_found;

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};

use crate::state::AppState;

/// One declared route.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
}

/// A router that remembers what it routes.
pub struct Routes {
    router: Router<AppState>,
    listed: Vec<RouteSpec>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            listed: Vec::new(),
        }
    }

    fn add<H, T>(
        mut self,
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.listed.push(RouteSpec { method, path });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, MethodFilter::GET, path, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, MethodFilter::POST, path, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, MethodFilter::PUT, path, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        handler: H,
    ) -> Self {
        self.add(Method::DELETE, MethodFilter::DELETE, path, handler)
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.listed.extend(other.listed);
        self
    }

    /// Every declared method and path.
    pub fn listed(&self) -> &[RouteSpec] {
        &self.listed
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Every plain route of the application.
pub fn routes() -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(api::routes())
        .merge(registry::routes())
}
