//! The page for any path no route matches; it also sets the HTTP status to 404.

use leptos::prelude::*;
use leptos_meta::Title;

/// "Not found", with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }

    view! {
        <Title text="Page not found"/>
        <section class="message-page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link is mistyped."</p>
            <p><a href="/">"Back to the catalog"</a></p>
        </section>
    }
}
