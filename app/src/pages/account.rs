//! `/account`: who I am (roles, Kafka principal), my personal API tokens — create one
//! (its secret is shown once), see when each was last used, revoke — and my webhook, where
//! incident notifications are also POSTed, signed (its secret is shown once too).

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::account::{
    CreateToken, RemoveWebhook, RevokeToken, SetWebhook, TokenView, list_tokens, my_webhook,
};
use crate::api::auth::current_user;
use crate::components::confirm::Confirm;
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem, SignInNotice};

/// The account page.
#[component]
pub fn AccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_user());
    view! {
        <Title text="My account"/>
        <h1>"My account"</h1>
        <Transition fallback=Loading>
            {move || {
                me.get()
                    .map(|result| match result {
                        Ok(Some(me)) => {
                            view! {
                                <dl class="facts">
                                    <dt>"Name"</dt>
                                    <dd>{me.display_name}</dd>
                                    <dt>"Email"</dt>
                                    <dd>{me.email}</dd>
                                    <dt>"Kafka principal"</dt>
                                    <dd><code>{me.kafka_principal}</code></dd>
                                    <dt>"Roles"</dt>
                                    <dd>{me.roles.join(", ")}</dd>
                                </dl>
                                <Tokens/>
                                <Webhook/>
                            }
                                .into_any()
                        }
                        Ok(None) => view! { <SignInNotice/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let created = move || {
        create.value().get().map(|result| match result {
            Ok(created) => view! {
                <div class="token-secret" role="status">
                    <p>"Copy this token now; it is not shown again:"</p>
                    <code data-testid="new-token">{created.token}</code>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };

    view! {
        <h2>"API tokens"</h2>
        <p class="muted">
            "Use a token as " <code>"Authorization: Bearer <token>"</code>
            " for the REST API under /api/v1."
        </p>
        <ActionForm action=create attr:class="inline-form">
            <label>"Token name" <input type="text" name="name" required maxlength="100"/></label>
            <button type="submit">"Create token"</button>
        </ActionForm>
        {created}
        <Transition fallback=Loading>
            {move || {
                tokens
                    .get()
                    .map(|result| match result {
                        Ok(list) if list.is_empty() => {
                            view! { <p class="muted">"No tokens yet."</p> }.into_any()
                        }
                        Ok(list) => view! { <TokenTable tokens=list revoke/> }.into_any(),
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Webhook() -> impl IntoView {
    let set = ServerAction::<SetWebhook>::new();
    let remove = ServerAction::<RemoveWebhook>::new();
    let current = Resource::new(
        move || (set.version().get(), remove.version().get()),
        |_| my_webhook(),
    );
    let secret = move || {
        set.value().get().map(|result| match result {
            Ok(set) => view! {
                <div class="token-secret" role="status">
                    <p>"Deliveries to " {set.url} " are signed with this secret; copy it now, it is not shown again:"</p>
                    <code data-testid="webhook-secret">{set.secret}</code>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    view! {
        <h2>"Webhook"</h2>
        <p class="muted">
            "Incidents you are told about here are also POSTed as JSON to your URL, with "
            <code>"X-Meshmart-Signature: sha256=<HMAC-SHA256 of \"timestamp.body\">"</code>
            " and " <code>"X-Meshmart-Timestamp"</code>
            ". Failed deliveries are retried with backoff, 8 times."
        </p>
        <ActionForm action=set attr:class="inline-form">
            <label>
                "Webhook URL"
                <input type="url" name="url" required maxlength="2000" placeholder="https://hooks.example.com/meshmart"/>
            </label>
            <button type="submit">"Set webhook"</button>
        </ActionForm>
        {secret}
        <Transition fallback=Loading>
            {move || {
                current
                    .get()
                    .map(|result| match result {
                        Ok(None) => view! { <p class="muted">"No webhook set."</p> }.into_any(),
                        Ok(Some(hook)) => view! {
                            <dl class="facts">
                                <dt>"URL"</dt>
                                <dd><code>{hook.url}</code></dd>
                                <dt>"Set"</dt>
                                <dd>{hook.created_at}</dd>
                                <dt>"Delivered"</dt>
                                <dd>{hook.delivered}</dd>
                                <dt>"Failing"</dt>
                                <dd>{hook.failing}</dd>
                                {hook.last_error.map(|e| view! { <dt>"Last error"</dt><dd>{e}</dd> })}
                            </dl>
                            <Confirm
                                label="Remove webhook".to_string()
                                consequence="Notifications stop reaching this URL; deliveries not yet sent are dropped.".to_string()
                            >
                                <ActionForm action=remove>
                                    <button type="submit" class="danger">"Yes, remove it"</button>
                                </ActionForm>
                            </Confirm>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table">
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Token"</th>
                        <th>"Created"</th>
                        <th>"Last used"</th>
                        <th>"State"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    {tokens
                        .into_iter()
                        .map(|token| {
                            let revoked = token.revoked;
                            let name = token.name.clone();
                            view! {
                                <tr data-token=name>
                                    <td>{token.name}</td>
                                    <td><code>{token.prefix} "…"</code></td>
                                    <td>{token.created_at}</td>
                                    <td>{token.last_used_at.unwrap_or_else(|| "never".into())}</td>
                                    <td>{if revoked { "revoked" } else { "active" }}</td>
                                    <td>
                                        {(!revoked)
                                            .then(|| {
                                                view! {
                                                    <Confirm
                                                        label="Revoke".to_string()
                                                        consequence="Scripts using this token are refused from now on.".to_string()
                                                    >
                                                        <ActionForm action=revoke>
                                                            <input type="hidden" name="id" value=token.id/>
                                                            <button type="submit" class="danger">"Yes, revoke"</button>
                                                        </ActionForm>
                                                    </Confirm>
                                                }
                                            })}
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
