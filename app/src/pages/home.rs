//! `/`: where analysts start. The catalog search lands here with its own issue; until then
//! the page says what Meshmart is, offers the search form that will feed it, and leads to
//! the catalog by domain.

use leptos::prelude::*;
use leptos_meta::Title;

/// The landing page.
#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <section class="hero">
            <h1>"Find event streams you can trust"</h1>
            <p class="lede">
                "Domains publish their event streams here as data products, each with an "
                "immutable data contract: schema, SLAs and owners. Find one, read its contract "
                "and lineage, and request access: approval turns into real broker ACLs."
            </p>
            <form class="hero-search" method="get" action="/" role="search">
                <input
                    type="search"
                    name="q"
                    placeholder="Search data products, topics, fields…"
                    aria-label="Search data products"
                />
                <button type="submit">"Search"</button>
            </form>
            <p class="hero-browse">
                <a href="/domains">"Browse the catalog by domain →"</a>
            </p>
        </section>
    }
}
