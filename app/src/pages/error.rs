//! What a page shows when rendering it failed. It never shows internal error text: the
//! server logs the details, the reader gets a short explanation and a way on.

use leptos::prelude::*;
use leptos_meta::Title;

/// The error boundary's fallback.
#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let count = move || errors.with(|errors| errors.iter().count());
    view! {
        <Title text="Something went wrong"/>
        <section class="message-page" role="alert">
            <h1>"Something went wrong"</h1>
            <p>
                "This page could not be shown ("
                {count}
                " error(s)). Try again in a moment; if it keeps happening, tell the platform team."
            </p>
            <p><a href="/">"Back to the catalog"</a></p>
        </section>
    }
}
