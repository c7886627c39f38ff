//! `/admin` and `/admin/audit`: the administrators' pages. `/admin` manages users and their
//! roles, service accounts, and shows the effective policy; `/admin/audit` searches the audit
//! log and links to its CSV export.
//!
//! Every list on `/admin` is a resource keyed on a page-wide change counter that each
//! successful action bumps, so the lists refetch after any change. Actions that belong to a
//! table row (disable, reset password, grant/revoke) are created per row, so their errors
//! show next to the row that caused them; the users table is a keyed `<For>`, so a refetch
//! only rebuilds rows whose data changed and the other rows keep their messages.
//!
//! Nothing here checks permissions itself: the server functions do, and their
//! `Unauthenticated`/`Forbidden` errors become the message the page shows.
//!
//! `/admin` is composed here from its sections (`users`, `service_accounts`, `policy`),
//! which share the change counter and the action helpers below; `audit` is `/admin/audit`.

mod audit;
mod policy;
mod service_accounts;
mod users;

use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::ApiError;
use crate::api::admin::{effective_policy, list_domains, list_service_accounts, list_users};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

pub use audit::AuditPage;
use policy::PolicySection;
use service_accounts::ServiceAccountsSection;
use users::{CreateUserSection, UsersSection};

/// The heading when someone who is not an administrator opens these pages.
const ONLY_ADMINS: &str = "Only administrators can use this page";

/// What an action last returned (all actions on these pages return `()`).
type Outcome = Option<Result<(), ApiError>>;

/// The mesh domains as `(slug, name)`, for the domain selects.
type Domains = Signal<Vec<(String, String)>>;

/// Counts the changes made from this page; every list is keyed on the count.
#[derive(Clone, Copy)]
struct Changes(RwSignal<usize>);

impl Changes {
    fn count(self) -> usize {
        self.0.get()
    }

    /// Refetches the page's lists each time `outcome` turns into a success.
    fn follow(self, outcome: Signal<Outcome>) {
        on_success(outcome, move || self.0.update(|n| *n += 1));
    }
}

/// Runs `then` each time `outcome` becomes a success. Actions only complete in the browser,
/// so this never runs during server rendering.
fn on_success(outcome: Signal<Outcome>, then: impl Fn() + 'static) {
    Effect::new(move |_| {
        if matches!(outcome.get(), Some(Ok(()))) {
            then();
        }
    });
}

/// Clears a form (after it did its job).
fn reset_form(form: NodeRef<html::Form>) {
    if let Some(form) = form.get_untracked() {
        form.reset();
    }
}

/// Administration: users and roles, service accounts, the effective policy.
#[component]
pub fn AdminPage() -> impl IntoView {
    let changes = Changes(RwSignal::new(0));
    let users = Resource::new(move || changes.count(), |_| list_users());
    let accounts = Resource::new(move || changes.count(), |_| list_service_accounts());
    let policy = Resource::new(move || changes.count(), |_| effective_policy());
    let domains = Resource::new(|| (), |_| list_domains());
    let domain_list: Domains =
        Signal::derive(move || domains.get().and_then(Result::ok).unwrap_or_default());

    // The users list doubles as the page's permission check: only admins may list users.
    let problem = move || users.get().and_then(Result::err);
    let allowed = move || matches!(users.get(), Some(Ok(_)));

    view! {
        <Title text="Administration"/>
        <div class="admin-page">
            <header class="admin-head">
                <h1>"Administration"</h1>
                <a href="/admin/audit">"Audit log"</a>
            </header>
            <Transition fallback=Loading>
                {move || problem().map(|error| view! { <PageProblem error forbidden=ONLY_ADMINS/> })}
                <Show when=allowed>
                    <UsersSection users domains=domain_list changes/>
                    <CreateUserSection changes/>
                    <ServiceAccountsSection accounts domains=domain_list changes/>
                    <PolicySection policy/>
                </Show>
            </Transition>
        </div>
    }
}

/// An action's result: its error, or `success` when given and the action succeeded.
#[component]
fn ActionOutcome(
    #[prop(into)] value: Signal<Outcome>,
    #[prop(optional)] success: &'static str,
) -> impl IntoView {
    move || match value.get() {
        Some(Err(error)) => Some(view! { <ErrorMessage error/> }.into_any()),
        Some(Ok(())) if !success.is_empty() => {
            Some(view! { <p class="admin-ok" role="status">{success}</p> }.into_any())
        }
        _ => None,
    }
}

/// `<option>`s for the mesh domains; the value is the slug.
#[component]
fn DomainOptions(domains: Domains) -> impl IntoView {
    move || {
        domains
            .get()
            .into_iter()
            .map(|(slug, name)| view! { <option value=slug>{name}</option> })
            .collect_view()
    }
}
