//! The effective policy on `/admin`, read-only: every permission row Casbin holds.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::api::admin::PermissionRow;
use crate::components::problem::ErrorMessage;

#[component]
pub(super) fn PolicySection(
    policy: Resource<Result<Vec<PermissionRow>, ApiError>>,
) -> impl IntoView {
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
