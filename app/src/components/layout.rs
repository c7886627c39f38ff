//! The frame around every page: header (brand, search box, navigation, theme switch) and
//! footer.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

use super::theme::ThemeToggle;
use crate::api::auth::{Logout, current_user};

/// Bumped whenever someone signs in or out, or acts on what the header counts (decides a
/// request, dismisses notifications), so the header asks again who is signed in and how
/// many things wait for them.
#[derive(Clone, Copy)]
pub struct AuthEpoch(pub RwSignal<u64>);

/// Makes the header count again after each completed run of an action whose `version`
/// this reads (approving, rejecting, dismissing notifications).
pub fn refresh_header_after(version: impl Fn() -> usize + Send + Sync + 'static) {
    let Some(epoch) = use_context::<AuthEpoch>() else {
        return;
    };
    Effect::new(move |_| {
        if version() > 0 {
            epoch.0.update(|n| *n += 1);
        }
    });
}

/// Brand, catalog search and navigation, on every page.
#[component]
pub fn Header() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.with(|q| q.get("q").unwrap_or_default());
    let location = use_location();
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "Meshmart"
            </a>
            // The search page has its own, bigger box.
            <Show when=move || location.pathname.get() != "/">
                <form class="header-search" method="get" action="/" role="search">
                    <input
                        type="search"
                        name="q"
                        // Set once, not bound: hydrating must not wipe what was typed
                        // before the script arrived (the box only shows off `/`, where
                        // there is no query to reflect).
                        value=q()
                        placeholder="Search the catalog"
                        aria-label="Search the catalog"
                    />
                </form>
            </Show>
            <nav class="site-nav" aria-label="Main">
                <a href="/">"Catalog"</a>
                <a href="/domains">"Domains"</a>
                <a href="/schemas">"Schemas"</a>
                <a href="/incidents">"Incidents"</a>
            </nav>
            <UserMenu/>
            <ThemeToggle/>
        </header>
    }
}

/// The signed-in person (name, admin link, sign out), or a sign-in link.
#[component]
fn UserMenu() -> impl IntoView {
    let epoch = use_context::<AuthEpoch>()
        .map(|e| e.0)
        .unwrap_or_else(|| RwSignal::new(0));
    let logout = ServerAction::<Logout>::new();
    let location = use_location();
    let me = Resource::new(
        move || (epoch.get(), logout.version().get(), location.pathname.get()),
        |_| current_user(),
    );
    // No <Transition> around it: the server reads who is signed in before it renders a page
    // (`HeaderMe`), so the menu is there at once and goes into the page's HTML. A Suspense
    // boundary would stream it out of order into a <template> only a script puts in place.
    // While a later read runs (another page, after signing out), the menu shows the last one.
    // Debug builds warn about reading a resource outside a Suspense boundary; here the
    // value is on both sides from the start (the server's read, then its serialized copy).
    view! {
        <div class="user-menu">
            {move || {
                me.get()
                    .map(|result| match result {
                        Ok(Some(me)) => {
                            let publisher = me.is_admin
                                || me.roles.iter().any(|role| role.starts_with("owner of"));
                            let pending = me.approvals_pending;
                            let unread = me.notifications;
                            view! {
                                <a href="/subscriptions" data-notifications=unread.to_string()>
                                    "Subscriptions"
                                    {(unread > 0)
                                        .then(|| {
                                            view! {
                                                <span class="badge" title="Notifications">
                                                    {unread}
                                                </span>
                                            }
                                        })}
                                </a>
                                {publisher
                                    .then(|| {
                                        view! {
                                            <a href="/approvals" data-pending=pending.to_string()>
                                                "Approvals"
                                                <span
                                                    class="badge"
                                                    aria-label=format!("{pending} waiting")
                                                >
                                                    {pending}
                                                </span>
                                            </a>
                                        }
                                    })}
                                {publisher
                                    .then(|| view! { <a href="/register">"Register product"</a> })}
                                {me
                                    .is_admin
                                    .then(|| view! { <a href="/admin">"Admin"</a> })}
                                <a class="user-name" href="/account">
                                    {me.display_name}
                                </a>
                                <ActionForm action=logout>
                                    <button type="submit" class="link-button">
                                        "Sign out"
                                    </button>
                                </ActionForm>
                            }
                                .into_any()
                        }
                        _ => view! { <a href="/login">"Sign in"</a> }.into_any(),
                    })
            }}
        </div>
    }
}

/// Version and operational links, on every page.
#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <span>"Meshmart " {env!("CARGO_PKG_VERSION")}</span>
            <span aria-hidden="true">" · "</span>
            // Served by the server, not the app: the browser loads it, the router does not.
            <a href="/readyz" rel="external">"Service status"</a>
        </footer>
    }
}
