//! The "Producers" section of a domain page, for its owners and admins: the domain's
//! producer principal, which topics it may write (one grant per product), and the two
//! things an owner does with it: rotate the credential (the new password is shown once,
//! here) and revoke or restore a product's grant. Others see nothing: the server function
//! answers them with no section rather than an error, so the page itself stays readable.
//!
//! Forms are `ActionForm`s, so they also work as plain posts without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::producers::{
    ProducerGrantRow, ProducerGrantsView, RotateProducerCredential, SetProducerGrant,
    producer_grants,
};
use crate::components::problem::ErrorMessage;

/// The section for domain `domain`; empty for callers who may not manage it.
#[component]
pub fn ProducersSection(domain: String) -> impl IntoView {
    let rotate = ServerAction::<RotateProducerCredential>::new();
    let set = ServerAction::<SetProducerGrant>::new();
    let grants = Resource::new_blocking(
        {
            let domain = domain.clone();
            move || (domain.clone(), rotate.version().get(), set.version().get())
        },
        |(domain, _, _)| producer_grants(domain),
    );
    view! {
        <Suspense>
            {move || {
                grants
                    .get()
                    .map(|result| match result {
                        Ok(Some(view)) => {
                            view! { <ProducersView view domain=domain.clone() rotate set/> }
                                .into_any()
                        }
                        Ok(None) => ().into_any(),
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

#[component]
fn ProducersView(
    view: ProducerGrantsView,
    domain: String,
    rotate: ServerAction<RotateProducerCredential>,
    set: ServerAction<SetProducerGrant>,
) -> impl IntoView {
    let ProducerGrantsView {
        principal,
        username,
        mechanism,
        generation,
        rotated_at,
        grants,
    } = view;
    let rotated = move || {
        rotate.value().get().map(|result| match result {
            Ok(credential) => view! {
                <div class="token-secret" role="status">
                    <p>
                        {format!(
                            "New {} password for {} (generation {}) — copy it now; it is not shown again. The old one stops working within seconds:",
                            credential.mechanism,
                            credential.principal,
                            credential.generation,
                        )}
                    </p>
                    <code data-testid="producer-password">{credential.password}</code>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    let set_error = move || {
        set.value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <ErrorMessage error/> })
    };
    view! {
        <section class="catalog-section" id="producers" aria-labelledby="producers-heading">
            <h2 id="producers-heading">"Producers"</h2>
            <p>
                "This domain's products are produced by " <code>{principal}</code> " ("
                {mechanism} " user " <code>{username}</code> ", credential generation "
                {generation} ", set " {rotated_at}
                "). It may write each granted product's topics (WRITE, DESCRIBE, and idempotent writes on the cluster) and nothing else."
            </p>
            {rotated}
            <ActionForm action=rotate attr:class="admin-inline">
                <input type="hidden" name="domain" value=domain/>
                <button type="submit" disabled=move || rotate.pending().get()>
                    "Rotate credential"
                </button>
            </ActionForm>
            {set_error}
            <GrantTable grants set/>
        </section>
    }
}

#[component]
fn GrantTable(grants: Vec<ProducerGrantRow>, set: ServerAction<SetProducerGrant>) -> impl IntoView {
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table producer-grants">
                <thead>
                    <tr>
                        <th scope="col">"Product"</th>
                        <th scope="col">"Topics it may write"</th>
                        <th scope="col">"Grant"</th>
                        <th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {grants
                        .into_iter()
                        .map(|grant| {
                            let href = format!("/products/{}", grant.product);
                            let live = grant.revoked_at.is_none();
                            let key = grant.product.clone();
                            let state = match &grant.revoked_at {
                                None => format!("granted since {}", grant.granted_at),
                                Some(at) => format!("revoked {at}"),
                            };
                            let (label, next) = if live {
                                ("Revoke", "false")
                            } else {
                                ("Grant again", "true")
                            };
                            view! {
                                <tr data-product=key data-granted=live.to_string()>
                                    <td>
                                        <a href=href>{grant.product_name}</a>
                                    </td>
                                    <td>
                                        {grant
                                            .topics
                                            .into_iter()
                                            .map(|topic| view! { <code>{topic}</code> " " })
                                            .collect_view()}
                                    </td>
                                    <td>{state}</td>
                                    <td>
                                        <ActionForm action=set attr:class="admin-inline">
                                            <input type="hidden" name="slug" value=grant.product/>
                                            <input type="hidden" name="granted" value=next/>
                                            <button type="submit">{label}</button>
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
