//! The users on `/admin`: the table (disable or enable, reset a password, grant or revoke
//! a role, each row with its own messages) and the form that creates a user.

use leptos::form::ActionForm;
use leptos::html;
use leptos::prelude::*;

use super::{ActionOutcome, Changes, DomainOptions, Domains, on_success, reset_form};
use crate::api::ApiError;
use crate::api::admin::{CreateUser, ResetPassword, SetRole, SetUserDisabled, UserRow};
use crate::components::confirm::Confirm;

#[component]
pub(super) fn UsersSection(
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
pub(super) fn CreateUserSection(changes: Changes) -> impl IntoView {
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
