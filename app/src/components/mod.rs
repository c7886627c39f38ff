//! Pieces shared by several pages.

pub mod layout;
pub mod loading;
pub mod theme;

use leptos::prelude::*;

/// Shown where a page needs a signed-in user.
#[component]
pub fn SignInNotice() -> impl IntoView {
    view! {
        <section class="message-page">
            <h2>"Sign in to see this page"</h2>
            <p><a href="/login">"Sign in"</a></p>
        </section>
    }
}
