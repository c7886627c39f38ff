//! The frame around every page: header (brand, search box, navigation, theme switch) and
//! footer.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::theme::ThemeToggle;

/// Brand, catalog search and navigation, on every page.
#[component]
pub fn Header() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|q| q.get("q").unwrap_or_default());
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "Meshmart"
            </a>
            <form class="header-search" method="get" action="/" role="search">
                <input
                    type="search"
                    name="q"
                    prop:value=q
                    placeholder="Search the catalog"
                    aria-label="Search the catalog"
                />
            </form>
            <nav class="site-nav" aria-label="Main">
                <a href="/">"Catalog"</a>
            </nav>
            <ThemeToggle/>
        </header>
    }
}

/// Version and operational links, on every page.
#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <span>"Meshmart " {env!("CARGO_PKG_VERSION")}</span>
            <span aria-hidden="true">" · "</span>
            <a href="/readyz">"Service status"</a>
        </footer>
    }
}
