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

use leptos::form::ActionForm;
use leptos::html;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::api::ApiError;
use crate::api::admin::{
    AuditRow, CreateServiceAccount, CreateUser, IssueServiceAccountCredential, PermissionRow,
    ResetPassword, ServiceAccountRow, SetRole, SetUserDisabled, UserRow, effective_policy,
    list_domains, list_service_accounts, list_users, search_audit,
};
use crate::components::confirm::Confirm;
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

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

#[component]
fn UsersSection(
    users: Resource<Result<Vec<UserRow>, ApiError>>,
    domains: Domains,
    changes: Changes,
) -> impl IntoView {
    let rows = move || users.get().and_then(Result::ok).unwrap_or_default();
    view! {
        <section class="admin-section" aria-labelledby="admin-users-heading">
            <h2 id="admin-users-heading">"Users"</h2>
            <div class="admin-scroll" tabindex="0">
                <table class="admin-table">
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Display name"</th>
                            <th scope="col">"Kafka principal"</th>
                            <th scope="col">"Roles"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        // Keyed on what the row shows, so a changed user gets a fresh row.
                        <For
                            each=rows
                            key=|user| (user.id.clone(), user.disabled, user.roles.clone())
                            children=move |user| view! { <UserTableRow user domains changes/> }
                        />
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn UserTableRow(user: UserRow, domains: Domains, changes: Changes) -> impl IntoView {
    let UserRow {
        id,
        email,
        display_name,
        kafka_principal,
        disabled,
        roles,
    } = user;
    let row_email = email.clone();
    view! {
        <tr data-email=row_email class:admin-row-disabled=disabled>
            <td>{email.clone()}</td>
            <td>{display_name}</td>
            <td>
                <code>{kafka_principal}</code>
            </td>
            <td>
                <RoleBadges roles/>
            </td>
            <td>
                <span class="admin-status" class:admin-status-disabled=disabled>
                    {if disabled { "disabled" } else { "active" }}
                </span>
            </td>
            // One "Manage" per row: the controls open on demand, grouped by what they change.
            <td class="admin-row-actions">
                <details class="row-manage">
                    <summary aria-label=format!("Manage {email}")>"Manage…"</summary>
                    <div class="row-manage-body">
                        <h3>"Roles"</h3>
                        <RoleForm id=id.clone() email=email.clone() domains changes/>
                        <h3>"Password"</h3>
                        <ResetPasswordForm id=id.clone() email=email.clone()/>
                        <h3>"Access"</h3>
                        <ToggleForm id disabled changes/>
                    </div>
                </details>
            </td>
        </tr>
    }
}

/// "admin", "owner of sales", "analyst".
#[component]
fn RoleBadges(roles: Vec<(String, Option<String>)>) -> impl IntoView {
    if roles.is_empty() {
        return view! { <span class="admin-muted">"none"</span> }.into_any();
    }
    roles
        .into_iter()
        .map(|(role, domain)| {
            let text = match domain {
                Some(domain) => format!("{role} of {domain}"),
                None => role,
            };
            view! { <span class="admin-badge">{text}</span> }
        })
        .collect_view()
        .into_any()
}

#[component]
fn ToggleForm(id: String, disabled: bool, changes: Changes) -> impl IntoView {
    let action = ServerAction::<SetUserDisabled>::new();
    changes.follow(action.value().into());
    let (label, next) = if disabled {
        ("Enable", "false")
    } else {
        ("Disable", "true")
    };
    let form = move || {
        view! {
            <ActionForm action=action attr:class="admin-inline">
                <input type="hidden" name="id" value=id.clone()/>
                <input type="hidden" name="disabled" value=next/>
                <button
                    type="submit"
                    class=if disabled { "" } else { "danger" }
                    disabled=move || action.pending().get()
                >
                    {if disabled { label.to_string() } else { "Yes, disable".to_string() }}
                </button>
            </ActionForm>
        }
    };
    // Disabling ends sign-in, tokens and own subscriptions: it asks first.
    view! {
        {if disabled {
            form().into_any()
        } else {
            view! {
                <Confirm
                    label=label.to_string()
                    consequence="They can no longer sign in; their API tokens are revoked and the subscriptions of their own Kafka principal end, with their ACLs.".to_string()
                >
                    {form()}
                </Confirm>
            }
                .into_any()
        }}
        <ActionOutcome value=action.value()/>
    }
}

#[component]
fn ResetPasswordForm(id: String, email: String) -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let form = NodeRef::<html::Form>::new();
    on_success(action.value().into(), move || reset_form(form));
    view! {
        <ActionForm action=action node_ref=form attr:class="admin-inline">
            <input type="hidden" name="id" value=id/>
            <input
                type="password"
                name="password"
                required
                autocomplete="new-password"
                placeholder="New password"
                aria-label=format!("New password for {email}")
            />
            <button type="submit" disabled=move || action.pending().get()>
                "Reset password"
            </button>
        </ActionForm>
        <ActionOutcome value=action.value() success="Password changed"/>
    }
}

#[component]
fn RoleForm(id: String, email: String, domains: Domains, changes: Changes) -> impl IntoView {
    let action = ServerAction::<SetRole>::new();
    changes.follow(action.value().into());
    let pending = move || action.pending().get();
    view! {
        <ActionForm action=action attr:class="admin-inline">
            <input type="hidden" name="id" value=id/>
            // No role is preselected: granting admin takes a deliberate choice.
            <select name="role" required aria-label=format!("Role for {email}")>
                <option value="" selected>"Choose a role"</option>
                <option value="analyst">"analyst"</option>
                <option value="owner">"owner of a domain"</option>
                <option value="admin">"admin (everything)"</option>
            </select>
            // Only an owner role uses the domain; the server ignores it for the others.
            <select name="domain" aria-label=format!("Domain for {email}")>
                <option value="">"(no domain)"</option>
                <DomainOptions domains/>
            </select>
            <button type="submit" name="grant" value="true" disabled=pending>
                "Grant"
            </button>
            <button type="submit" name="grant" value="false" disabled=pending>
                "Revoke"
            </button>
        </ActionForm>
        <ActionOutcome value=action.value()/>
    }
}

#[component]
fn CreateUserSection(changes: Changes) -> impl IntoView {
    let action = ServerAction::<CreateUser>::new();
    let form = NodeRef::<html::Form>::new();
    changes.follow(action.value().into());
    on_success(action.value().into(), move || reset_form(form));
    view! {
        <section class="admin-section" aria-labelledby="admin-new-user-heading">
            <h2 id="admin-new-user-heading">"New user"</h2>
            <p class="admin-muted">
                "New users are analysts; grant more roles in the table above. Without a Kafka "
                "principal one is derived from the email address."
            </p>
            <ActionForm action=action node_ref=form attr:class="admin-form">
                <label for="admin-new-email">"Email"</label>
                <input id="admin-new-email" type="email" name="email" required autocomplete="off"/>
                <label for="admin-new-name">"Display name"</label>
                <input id="admin-new-name" type="text" name="display_name" required/>
                <label for="admin-new-password">"Password"</label>
                <input
                    id="admin-new-password"
                    type="password"
                    name="password"
                    required
                    autocomplete="new-password"
                />
                <label for="admin-new-principal">"Kafka principal (optional)"</label>
                <input
                    id="admin-new-principal"
                    type="text"
                    name="kafka_principal"
                    placeholder="User:name"
                />
                <div class="admin-form-actions">
                    <button type="submit" disabled=move || action.pending().get()>
                        "Create user"
                    </button>
                </div>
            </ActionForm>
            <ActionOutcome value=action.value() success="User created"/>
        </section>
    }
}

#[component]
fn ServiceAccountsSection(
    accounts: Resource<Result<Vec<ServiceAccountRow>, ApiError>>,
    domains: Domains,
    changes: Changes,
) -> impl IntoView {
    let action = ServerAction::<CreateServiceAccount>::new();
    let form = NodeRef::<html::Form>::new();
    changes.follow(action.value().into());
    on_success(action.value().into(), move || reset_form(form));
    let list = move || {
        accounts.get().map(|result| match result {
            Ok(rows) if rows.is_empty() => {
                view! { <p class="admin-muted">"No service accounts yet."</p> }.into_any()
            }
            Ok(rows) => view! { <ServiceAccountTable rows/> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    view! {
        <section class="admin-section" aria-labelledby="admin-accounts-heading">
            <h2 id="admin-accounts-heading">"Service accounts"</h2>
            {list}
            <h3>"New service account"</h3>
            <ActionForm action=action node_ref=form attr:class="admin-form">
                <label for="admin-account-domain">"Domain"</label>
                <select id="admin-account-domain" name="domain" required>
                    <option value="">"Choose a domain"</option>
                    <DomainOptions domains/>
                </select>
                <label for="admin-account-name">"Name"</label>
                <input
                    id="admin-account-name"
                    type="text"
                    name="name"
                    required
                    placeholder="svc-marketing-campaigns"
                />
                <label for="admin-account-description">"Description"</label>
                <input id="admin-account-description" type="text" name="description"/>
                <div class="admin-form-actions">
                    <button type="submit" disabled=move || action.pending().get()>
                        "Create service account"
                    </button>
                </div>
            </ActionForm>
            <ActionOutcome value=action.value() success="Service account created"/>
        </section>
    }
}

#[component]
fn ServiceAccountTable(rows: Vec<ServiceAccountRow>) -> impl IntoView {
    let issue = ServerAction::<IssueServiceAccountCredential>::new();
    let issued = move || {
        issue.value().get().map(|result| match result {
            Ok(credential) => view! {
                <div class="token-secret" role="status">
                    <p>
                        {format!(
                            "{} credential for {} — copy the password now; it is not shown again:",
                            credential.mechanism,
                            credential.principal,
                        )}
                    </p>
                    <code data-testid="scram-password">{credential.password}</code>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    view! {
        {issued}
        <div class="admin-scroll" tabindex="0">
            <table class="admin-table">
                <thead>
                    <tr>
                        <th scope="col">"Domain"</th>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Kafka principal"</th>
                        <th scope="col">"Description"</th>
                        <th scope="col">"Broker credential"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            let key = row.name.clone();
                                    let (form_domain, form_name) = (row.domain.clone(), row.name.clone());
                            view! {
                                <tr data-account=key>
                                    <td>{row.domain}</td>
                                    <td>{row.name}</td>
                                    <td>
                                        <code>{row.kafka_principal}</code>
                                    </td>
                                    <td>{row.description}</td>
                                    <td>
                                        <ActionForm action=issue attr:class="admin-inline">
                                            <input type="hidden" name="domain" value=form_domain/>
                                            <input type="hidden" name="name" value=form_name/>
                                            <button type="submit">"New SCRAM password"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn PolicySection(policy: Resource<Result<Vec<PermissionRow>, ApiError>>) -> impl IntoView {
    let table = move || {
        policy.get().map(|result| match result {
            Ok(rows) => view! { <PolicyTable rows/> }.into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    view! {
        <section class="admin-section" aria-labelledby="admin-policy-heading">
            <h2 id="admin-policy-heading">"Effective policy"</h2>
            <p class="admin-muted">
                "Every permission the policy grants, read-only. It follows from the roles above."
            </p>
            {table}
        </section>
    }
}

#[component]
fn PolicyTable(rows: Vec<PermissionRow>) -> impl IntoView {
    view! {
        <div class="admin-scroll admin-policy" tabindex="0">
            <table class="admin-table">
                <thead>
                    <tr>
                        <th scope="col">"Subject"</th>
                        <th scope="col">"Domain"</th>
                        <th scope="col">"Object"</th>
                        <th scope="col">"Action"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr>
                                    <td>{row.subject}</td>
                                    <td>{row.domain}</td>
                                    <td>{row.object}</td>
                                    <td>{row.action}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The audit log filters, as they appear in the page's query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AuditFilters {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Older than this entry id (a page further back).
    before: Option<i64>,
}

impl AuditFilters {
    /// Reads the filters from a query map; blank values mean "no filter".
    fn from_query(query: &ParamsMap) -> Self {
        let get = |name: &str| {
            query
                .get(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        Self {
            actor: get("actor"),
            action: get("action"),
            target: get("target"),
            from: get("from"),
            to: get("to"),
            before: get("before").and_then(|id| id.parse().ok()),
        }
    }

    /// This page's address with the same filters, from `before` back.
    fn page_href(&self, before: Option<i64>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.fields() {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(before) = before {
            query.append_pair("before", &before.to_string());
        }
        format!("/admin/audit?{}", query.finish())
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("actor", self.actor.as_deref()),
            ("action", self.action.as_deref()),
            ("target", self.target.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
        ]
    }

    /// The value of the filter `name`, or an empty string.
    fn value(&self, name: &str) -> String {
        self.fields()
            .into_iter()
            .find(|(field, _)| *field == name)
            .and_then(|(_, value)| value.map(str::to_string))
            .unwrap_or_default()
    }

    /// The REST API's CSV export of the same entries.
    fn csv_href(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("format", "csv")
            .append_pair("limit", "10000");
        for (name, value) in self.fields() {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        format!("/api/v1/audit?{}", query.finish())
    }
}

/// The audit log: filters in the query string, results, CSV export.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| query.with(AuditFilters::from_query));
    // Keyed on the query, so a plain GET of the filter form renders the results on the server.
    let entries = Resource::new(
        move || filters.get(),
        |f| search_audit(f.actor, f.action, f.target, f.from, f.to, f.before),
    );
    view! {
        <Title text="Audit log"/>
        <div class="admin-page">
            <header class="admin-head">
                <h1>"Audit log"</h1>
                <a href="/admin">"Administration"</a>
            </header>
            <Transition fallback=Loading>
                {move || {
                    entries
                        .get()
                        .map(|result| match result {
                            Ok(page) => {
                                let older = page.older.map(|id| filters.with(|f| f.page_href(Some(id))));
                                let newest = filters
                                    .with(|f| f.before.is_some().then(|| f.page_href(None)));
                                view! {
                                    <AuditFilterForm filters actions=page.actions/>
                                    <p class="audit-export">
                                        <a href=move || filters.with(AuditFilters::csv_href) download="audit.csv">
                                            "Export CSV"
                                        </a>
                                    </p>
                                    <AuditTable rows=page.rows/>
                                    <nav class="pager" aria-label="Audit pages">
                                        {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
                                        {older.map(|href| view! { <a href=href rel="next">"Older entries →"</a> })}
                                    </nav>
                                }
                                    .into_any()
                            }
                            Err(error @ (ApiError::Unauthenticated | ApiError::Forbidden(_))) => {
                                view! { <PageProblem error forbidden=ONLY_ADMINS/> }.into_any()
                            }
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn AuditFilterForm(filters: Memo<AuditFilters>, actions: Vec<String>) -> impl IntoView {
    let chosen = filters.with_untracked(|f| f.action.clone().unwrap_or_default());
    let options = actions
        .into_iter()
        .map(|action| {
            let selected = action == chosen;
            view! { <option value=action.clone() selected=selected>{action.clone()}</option> }
        })
        .collect_view();
    let field = move |name: &'static str| {
        Signal::derive(move || filters.with(|filters| filters.value(name)))
    };
    view! {
        <form class="audit-filters" method="get" action="/admin/audit" role="search">
            <AuditInput
                name="actor"
                label="Actor"
                hint="user:ana@example.com"
                value=field("actor")
            />
            <div class="audit-field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name="action">
                    <option value="">"Any action"</option>
                    {options}
                </select>
            </div>
            <AuditInput
                name="target"
                label="Target"
                hint="user:bob@example.com"
                value=field("target")
            />
            <AuditInput name="from" label="From (UTC)" kind="datetime-local" value=field("from")/>
            <AuditInput name="to" label="To (UTC)" kind="datetime-local" value=field("to")/>
            <div class="audit-filter-actions">
                <button type="submit">"Filter"</button>
                <a href="/admin/audit">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn AuditInput(
    name: &'static str,
    label: &'static str,
    /// An example value, shown as the placeholder.
    #[prop(optional)]
    hint: &'static str,
    /// The input's type (`text` by default).
    #[prop(optional)]
    kind: Option<&'static str>,
    #[prop(into)] value: Signal<String>,
) -> impl IntoView {
    let id = format!("audit-{name}");
    view! {
        <div class="audit-field">
            <label for=id.clone()>{label}</label>
            // `value` for the server-rendered page, `prop:value` for client-side navigation.
            <input
                id=id
                type=kind.unwrap_or("text")
                name=name
                placeholder=hint
                value=value
                prop:value=value
            />
        </div>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="admin-muted">"No audit entries match these filters."</p> }
            .into_any();
    }
    let count = match rows.len() {
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    };
    view! {
        <p class="admin-muted">{count} ", newest first."</p>
        <div class="admin-scroll" tabindex="0">
            <table class="admin-table audit-table">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Domain"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Before → after"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr data-audit-id=row.id.to_string()>
                                    <td class="audit-time">{row.occurred_at}</td>
                                    <td>{row.actor}</td>
                                    <td>
                                        <code>{row.action}</code>
                                    </td>
                                    <td>{row.target}</td>
                                    <td>{row.domain.unwrap_or_default()}</td>
                                    <td>
                                        <span class="admin-badge audit-outcome">{row.outcome}</span>
                                    </td>
                                    <td>
                                        <Change before=row.before after=row.after/>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The before and after JSON of an entry, compact.
#[component]
fn Change(before: Option<String>, after: Option<String>) -> impl IntoView {
    if before.is_none() && after.is_none() {
        return view! { <span class="admin-muted">"—"</span> }.into_any();
    }
    // The first line reads at a glance; the whole JSON opens in place.
    let part = |label: &'static str, json: Option<String>| {
        json.map(|json| {
            let glance: String = json.split_whitespace().collect::<Vec<_>>().join(" ");
            let glance = if glance.chars().count() > 60 {
                format!("{}…", glance.chars().take(60).collect::<String>())
            } else {
                glance
            };
            view! {
                <details class="audit-change">
                    <summary>
                        <span class="audit-change-label">{label}</span>
                        <code>{glance}</code>
                    </summary>
                    <pre class="audit-json" tabindex="0">{json}</pre>
                </details>
            }
        })
    };
    view! {
        {part("before", before)}
        {part("after", after)}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_link_carries_the_filters_encoded() {
        let filters = AuditFilters {
            actor: Some("user:ana@example.com".into()),
            from: Some("2026-11-26T10:00+01:00".into()),
            ..AuditFilters::default()
        };
        assert_eq!(
            filters.csv_href(),
            "/api/v1/audit?format=csv&limit=10000\
             &actor=user%3Aana%40example.com&from=2026-11-26T10%3A00%2B01%3A00"
        );
    }

    #[test]
    fn csv_link_without_filters_exports_everything() {
        assert_eq!(
            AuditFilters::default().csv_href(),
            "/api/v1/audit?format=csv&limit=10000"
        );
    }

    #[test]
    fn spaces_ampersands_and_unicode_reach_the_export_unchanged() {
        let filters = AuditFilters {
            actor: Some("user:é@example.com".into()),
            target: Some("a b&c=d+e".into()),
            ..AuditFilters::default()
        };
        let href = filters.csv_href();
        let query = href.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("actor"), Some("user:é@example.com"));
        assert_eq!(value("target"), Some("a b&c=d+e"));
        assert_eq!(pairs.len(), 4, "{pairs:?}");
    }

    #[test]
    fn blank_query_values_are_no_filter() {
        let mut query = ParamsMap::new();
        query.insert("actor", " ".to_string());
        query.insert("action", " role.grant ".to_string());
        let filters = AuditFilters::from_query(&query);
        assert_eq!(filters.actor, None);
        assert_eq!(filters.action.as_deref(), Some("role.grant"));
    }
}
