//! Meshmart's user interface: the HTML shell, the router and every page. Compiled twice:
//! with `ssr` into the server, which renders each page, and with `hydrate` into the wasm
//! bundle, which makes the same components interactive in the browser.
//!
//! Pages live in `pages/`, shared pieces in `components/`, server functions (thin adapters
//! over the `domain` crate) in `api/` with one module per feature.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

pub mod api;
mod components;
mod pages;
mod routes;
#[cfg(feature = "ssr")]
pub mod ssr;
mod words;

use components::layout::{Footer, Header};
use components::problem::ErrorPage;
use components::theme::THEME_BOOT_SCRIPT;
use pages::home::HomePage;
use pages::not_found::NotFound;

/// The HTML document around the app, rendered on the server for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/assets/favicon.svg"/>
                // Applies the stored theme before first paint, so there is no flash.
                <script inner_html=THEME_BOOT_SCRIPT></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: header, routed page, footer.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(components::layout::AuthEpoch(RwSignal::new(0)));

    view! {
        <Stylesheet id="leptos" href="/pkg/meshmart.css"/>
        // With a text of its own: leptos_meta writes the title as soon as this hydrates, and
        // with no text anywhere yet (the page's own `<Title>` hydrates later, once its route's
        // code and data are in) it wrote an empty one, which axe-core caught in between.
        <Title
            text=""
            formatter=|page: String| {
                if page.is_empty() { "Meshmart".to_string() } else { format!("{page} · Meshmart") }
            }
        />
        <Router>
            // The first stop of the keyboard. External to the router: the browser's own
            // jump to the fragment is what moves the focus.
            <a class="skip-link" href="#main" rel="external">
                "Skip to content"
            </a>
            <Header/>
            <main id="main" tabindex="-1">
                <ErrorBoundary fallback=|errors| {
                    view! { <ErrorPage errors/> }
                }>
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=HomePage/>
                        <Route path=path!("/login") view={Lazy::<routes::Login>::new()}/>
                        <Route path=path!("/account") view={Lazy::<routes::Account>::new()}/>
                        <Route path=path!("/admin") view={Lazy::<routes::Admin>::new()}/>
                        <Route path=path!("/admin/audit") view={Lazy::<routes::Audit>::new()}/>
                        <Route path=path!("/domains") view={Lazy::<routes::Domains>::new()}/>
                        // Whole (SsrMode::Async), like the product page below: its
                        // producers section and its title come from data read once the
                        // domain arrived, and streamed out of order they waited in
                        // <template>s, or missed the head, about half the time.
                        <Route path=path!("/domains/:slug") view={Lazy::<routes::Domain>::new()} ssr=SsrMode::Async/>
                        // Whole: the page's later sections (health, lineage, registry)
                        // stand where they belong in the HTML, so it reads without
                        // JavaScript (out of order they would wait in <template>s), and
                        // it leaves as one piece. Streamed in order, the response
                        // compressor flushed a block at every wait for a section's query.
                        <Route path=path!("/products/:slug") view={Lazy::<routes::Product>::new()} ssr=SsrMode::Async/>
                        // Whole, so the title (set from the graph) is in the head.
                        <Route path=path!("/products/:slug/lineage") view={Lazy::<routes::Lineage>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/products/:slug/samples") view={Lazy::<routes::Samples>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/nodes/:name") view={Lazy::<routes::Node>::new()}/>
                        <Route path=path!("/incidents") view={Lazy::<routes::Incidents>::new()}/>
                        <Route path=path!("/incidents/:id") view={Lazy::<routes::IncidentDetail>::new()}/>
                        <Route path=path!("/register") view={Lazy::<routes::Register>::new()}/>
                        <Route path=path!("/schemas") view={Lazy::<routes::Registry>::new()}/>
                        <Route path=path!("/subscriptions") view={Lazy::<routes::MySubscriptions>::new()}/>
                        <Route path=path!("/approvals") view={Lazy::<routes::Approvals>::new()}/>
                    </Routes>
                </ErrorBoundary>
            </main>
            <Footer/>
        </Router>
    }
}
