//! Destructive actions ask twice, without JavaScript too: the first button is a
//! `<summary>` that only opens the confirmation, which says what will happen and holds
//! the form whose (red) button does it.

use leptos::prelude::*;

/// `label…` opens the confirmation: `consequence`, then `children` (the form).
#[component]
pub fn Confirm(
    /// What the first button says ("End this subscription").
    label: String,
    /// What doing it means, in one or two sentences.
    consequence: String,
    children: Children,
) -> impl IntoView {
    view! {
        <details class="confirm">
            <summary class="danger">{label} "…"</summary>
            <div class="confirm-body">
                <p>{consequence}</p>
                {children()}
            </div>
        </details>
    }
}
