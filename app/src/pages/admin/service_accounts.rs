//! The domains' service accounts on `/admin`: the table (with issuing a credential) and
//! the form that creates one.

use leptos::form::ActionForm;
use leptos::html;
use leptos::prelude::*;

use super::{ActionOutcome, Changes, DomainOptions, Domains, on_success, reset_form};
use crate::api::ApiError;
use crate::api::admin::{CreateServiceAccount, IssueServiceAccountCredential, ServiceAccountRow};
use crate::components::problem::ErrorMessage;

#[component]
pub(super) fn ServiceAccountsSection(
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
