//! The placeholder a `Transition` or `Suspense` shows until its data arrives. One component,
//! so every page says the same thing in the same muted style while it waits.

use leptos::prelude::*;

/// "Loading…", muted. Takes no props, so it can be passed as it is: `fallback=Loading`.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="muted">"Loading…"</p> }
}
