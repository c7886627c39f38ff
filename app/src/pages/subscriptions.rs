//! The subscription pages: "Request access" on a product page (with the owners'
//! auto-approval setting), `/subscriptions` (the caller's requests: state, provisioning
//! progress, connection details and client config once active, replay a consumer group,
//! revoke) and `/approvals`
//! (requests the caller decides, approve or reject with a comment).
//!
//! Forms are `ActionForm`s: with JavaScript they update the page in place; without it the
//! browser posts to the server function and comes back to the page.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::ApiError;
use crate::api::subscriptions::{
    DecideSubscription, MarkNotificationsRead, ReplaySubscription, RequestAccess, RequestForm,
    RevokeSubscription, SetAutoApprove, SubscriptionView, approvals, my_subscriptions,
    subscription_form,
};
use crate::components::confirm::Confirm;
use crate::components::layout::refresh_header_after;
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

/// "Request access" on the product page of `slug`.
/// The access section's actions and form, made by the page outside its `<Transition>`
/// (see [`crate::pages::health::HealthData`]).
#[derive(Clone, Copy)]
pub struct AccessData {
    request: ServerAction<RequestAccess>,
    auto: ServerAction<SetAutoApprove>,
    form: Resource<Result<RequestForm, ApiError>>,
}

impl AccessData {
    pub fn new(slug: Signal<String>) -> Self {
        let request = ServerAction::<RequestAccess>::new();
        let auto = ServerAction::<SetAutoApprove>::new();
        let form = Resource::new_blocking(
            move || (slug.get(), request.version().get(), auto.version().get()),
            |(slug, _, _)| subscription_form(slug),
        );
        Self {
            request,
            auto,
            form,
        }
    }
}

#[component]
pub fn RequestAccessSection(data: AccessData) -> impl IntoView {
    let AccessData {
        request,
        auto,
        form,
    } = data;
    view! {
        <section class="catalog-section" id="request-access" aria-labelledby="request-heading">
            <h2 id="request-heading">"Access"</h2>
            <Transition fallback=Loading>
                {move || {
                    form.get()
                        .map(|found| match found {
                            Ok(form) => view! { <RequestFormView form request auto/> }.into_any(),
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn RequestFormView(
    form: RequestForm,
    request: ServerAction<RequestAccess>,
    auto: ServerAction<SetAutoApprove>,
) -> impl IntoView {
    let RequestForm {
        product,
        ports,
        principals,
        default_group,
        max_days,
        existing,
        can_decide,
        auto_approve,
    } = form;
    // A filed request says so once: the form reloads and states the subscription it now
    // has (below); only a refusal is shown here.
    let outcome = move || {
        request
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <ErrorMessage error/> })
    };
    let slug_for_auto = product.clone();
    let body = match existing {
        Some((id, state)) => view! {
            <p data-existing=state.clone() role="status">
                {format!("You have {} {state} subscription to this product. ", crate::words::article(&state))}
                <a href=format!("/subscriptions#{id}")>"See it in My subscriptions"</a>
            </p>
        }
        .into_any(),
        None => {
            let port_options = ports
                .iter()
                .map(|topic| view! { <option value=topic.clone()>{topic.clone()}</option> })
                .collect_view();
            let principal_options = principals
                .into_iter()
                .map(|p| view! { <option value=p.principal>{p.label}</option> })
                .collect_view();
            let cap = max_days.map(|days| {
                view! { <span class="muted">{format!(" (the contract allows at most {days} days)")}</span> }
            });
            view! {
                <details class="request-access">
                    <summary>"Request access"</summary>
                    <ActionForm action=request attr:class="request-form">
                        <input type="hidden" name="product" value=product.clone()/>
                        <label>
                            "Output port"
                            <select name="port">
                                <option value="">"All output ports"</option>
                                {port_options}
                            </select>
                        </label>
                        <label>"Principal" <select name="principal">{principal_options}</select></label>
                        <label>
                            "Consumer group prefix"
                            <input type="text" name="group" placeholder=default_group.clone() maxlength="200"/>
                        </label>
                        <label>
                            "Purpose"
                            <textarea name="purpose" required maxlength="2000" rows="4"></textarea>
                        </label>
                        <label>"Until (optional)" <input type="date" name="until"/> {cap}</label>
                        <button type="submit">"Request access"</button>
                    </ActionForm>
                </details>
            }
            .into_any()
        }
    };
    let has = |role: &str| auto_approve.iter().any(|r| r == role);
    let (analyst, owner, admin) = (has("analyst"), has("owner"), has("admin"));
    let auto_form = can_decide.then(move || {
        view! {
            <ActionForm action=auto attr:class="inline-form auto-approve">
                <input type="hidden" name="slug" value=slug_for_auto/>
                <span>"Approve automatically for:"</span>
                <label><input type="checkbox" name="analyst" checked=analyst/> " analysts"</label>
                <label><input type="checkbox" name="owner" checked=owner/> " owners"</label>
                <label><input type="checkbox" name="admin" checked=admin/> " admins"</label>
                <button type="submit">"Save"</button>
            </ActionForm>
        }
    });
    view! {
        {body}
        {outcome}
        {auto_form}
    }
}

fn state_label(subscription: &SubscriptionView) -> String {
    let attempt = subscription.provision_attempts;
    if subscription.state == "provisioning" {
        match &subscription.last_error {
            Some(error) => format!("provisioning — attempt {attempt}, last error: {error}"),
            None => format!("provisioning — attempt {attempt}"),
        }
    } else if subscription.removing_access {
        let state = &subscription.state;
        match &subscription.last_error {
            Some(error) => format!(
                "{state} — access still on the broker, removal attempt {attempt}, last error: {error}"
            ),
            None => format!("{state} — removing access on the broker"),
        }
    } else {
        subscription.state.clone()
    }
}

/// `/subscriptions`: the caller's own requests.
#[component]
pub fn MySubscriptionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSubscription>::new();
    let dismiss = ServerAction::<MarkNotificationsRead>::new();
    let mine = Resource::new_blocking(
        move || (revoke.version().get(), dismiss.version().get()),
        |_| my_subscriptions(),
    );
    refresh_header_after(move || dismiss.version().get());
    view! {
        <Title text="My subscriptions"/>
        <div class="catalog-page subscriptions-page">
            <h1>"My subscriptions"</h1>
            <Transition fallback=Loading>
                {move || {
                    mine.get()
                        .map(|found| match found {
                            Ok((items, notes)) => {
                                let notes = (!notes.is_empty())
                                    .then(|| {
                                        // Exactly the notifications shown here are marked read.
                                        let shown = notes
                                            .iter()
                                            .map(|n| n.id.to_string())
                                            .collect::<Vec<_>>()
                                            .join(",");
                                        view! {
                                            <section class="notifications-box" aria-label="Notifications">
                                                <ul class="notifications">
                                                    {notes
                                                        .into_iter()
                                                        .map(|n| {
                                                            let href = n.link.unwrap_or_else(|| "/subscriptions".to_string());
                                                            view! { <li><a href=href>{n.message}</a> " " <span class="muted">{n.created_at}</span></li> }
                                                        })
                                                        .collect_view()}
                                                </ul>
                                                <ActionForm action=dismiss attr:class="inline-form">
                                                    <input type="hidden" name="ids" value=shown/>
                                                    <button type="submit">"Mark as read"</button>
                                                </ActionForm>
                                            </section>
                                        }
                                    });
                                let list = if items.is_empty() {
                                    view! {
                                        <p class="muted">
                                            "No subscriptions yet: find a product and request access on its page."
                                        </p>
                                    }
                                        .into_any()
                                } else {
                                    items
                                        .into_iter()
                                        .map(|s| view! { <SubscriptionCard subscription=s revoke/> })
                                        .collect_view()
                                        .into_any()
                                };
                                view! { {notes} {list} }.into_any()
                            }
                            Err(error) => view! { <PageProblem error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn SubscriptionCard(
    subscription: SubscriptionView,
    revoke: ServerAction<RevokeSubscription>,
) -> impl IntoView {
    let label = state_label(&subscription);
    let live = matches!(
        subscription.state.as_str(),
        "pending" | "approved" | "provisioning" | "active"
    );
    let connection = subscription.connection.clone().map(|c| {
        view! {
            <div class="connection" data-connection="">
                <dl class="facts">
                    <dt>"Bootstrap servers"</dt>
                    <dd><code>{c.bootstrap_servers}</code></dd>
                    <dt>"Principal"</dt>
                    <dd><code>{c.principal}</code></dd>
                    <dt>"Consumer group prefix"</dt>
                    <dd><code>{c.group_prefix}</code> " (e.g. " <code>{c.group_example}</code> ")"</dd>
                    <dt>"Password"</dt>
                    <dd data-testid="password-hint">{c.password_hint}</dd>
                    <dt>"Schema registry"</dt>
                    <dd>
                        <code>{c.registry_url}</code>
                        " (Confluent-compatible; authenticate with an API token from "
                        <a href="/account">"your account"</a> ")"
                    </dd>
                </dl>
                <details open>
                    <summary>"kcat"</summary>
                    <Snippet kind="kcat" text=c.kcat/>
                </details>
                <details>
                    <summary>"librdkafka properties"</summary>
                    <Snippet kind="librdkafka" text=c.librdkafka/>
                </details>
                <details>
                    <summary>"Java client properties"</summary>
                    <Snippet kind="java" text=c.java/>
                </details>
            </div>
        }
    });
    let id = subscription.id.clone();
    let anchor = id.clone();
    view! {
        <article class="subscription-card" id=anchor data-state=subscription.state.clone()>
            <h2>
                <a href=format!("/products/{}", subscription.product)>{subscription.product_name.clone()}</a>
                " "
                <span class=format!("state state-{}", subscription.state) data-testid="state">{label}</span>
            </h2>
            <dl class="facts">
                <dt>"Topics"</dt>
                <dd>{subscription.topics.join(", ")}</dd>
                <dt>"Principal"</dt>
                <dd><code>{subscription.principal.clone()}</code></dd>
                <dt>"Purpose"</dt>
                <dd>{subscription.purpose.clone()}</dd>
                <dt>"Until"</dt>
                <dd>{subscription.until.clone().unwrap_or_else(|| "no end date".to_string())}</dd>
                <dt>"Requested"</dt>
                <dd>{subscription.requested_at.clone()}</dd>
                {subscription
                    .decided_by
                    .clone()
                    .map(|who| view! { <dt>"Decided by"</dt> <dd>{who}</dd> })}
                {subscription
                    .decision_comment
                    .clone()
                    .map(|c| view! { <dt>"Comment"</dt> <dd>{c}</dd> })}
            </dl>
            {connection}
            {(subscription.state == "active")
                .then(|| view! { <ReplayForm id=id.clone() group=subscription.consumer_group.clone()/> })}
            {live
                .then(|| {
                    // A request nobody decided yet is withdrawn; a granted one is ended.
                    let (label, consequence, yes) = if subscription.state == "pending" {
                        (
                            "Withdraw request",
                            "The owners will not be asked any more. You can request access again later.",
                            "Yes, withdraw it",
                        )
                    } else {
                        (
                            "End this subscription",
                            "Its ACLs are removed from the broker at once: the principal can no longer read the product. You would have to request access again.",
                            "Yes, end it",
                        )
                    };
                    view! {
                        <Confirm label=label.to_string() consequence=consequence.to_string()>
                            <ActionForm action=revoke attr:class="inline-form">
                                <input type="hidden" name="id" value=id.clone()/>
                                <button type="submit" class="danger">{yes}</button>
                            </ActionForm>
                        </Confirm>
                    }
                })}
        </article>
    }
}

/// "Replay": move one of the subscription's consumer groups back to a time, so its
/// application reads again from there when it next starts (refused while it runs).
#[component]
fn ReplayForm(id: String, group: String) -> impl IntoView {
    let replay = ServerAction::<ReplaySubscription>::new();
    let result = move || {
        replay.value().get().map(|done| match done {
            Ok(message) => {
                view! { <p role="status" data-testid="replay-result">{message}</p> }.into_any()
            }
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    let example = format!("{group}app");
    view! {
        <details class="replay">
            <summary>"Replay a consumer group"</summary>
            <p class="muted">
                "Moves the group's committed offsets back to the first record at or after a time, on each topic, so your application reads again from there when it next starts. Stop the application first: a running group is refused."
            </p>
            <ActionForm action=replay attr:class="admin-form">
                <input type="hidden" name="id" value=id/>
                <label>
                    "Consumer group"
                    <input type="text" name="group" required value=example/>
                </label>
                <label>
                    "From (UTC; or " <code>"earliest"</code> ")"
                    <input type="text" name="to" required placeholder="2026-12-05T01:00:00Z"/>
                </label>
                <button type="submit">"Replay"</button>
            </ActionForm>
            {result}
        </details>
    }
}

/// `/approvals`: requests the caller decides.
#[component]
pub fn ApprovalsPage() -> impl IntoView {
    let decide = ServerAction::<DecideSubscription>::new();
    let revoke = ServerAction::<RevokeSubscription>::new();
    let items = Resource::new_blocking(
        move || (decide.version().get(), revoke.version().get()),
        |_| approvals(),
    );
    refresh_header_after(move || decide.version().get() + revoke.version().get());
    let outcome = move || {
        decide.value().get().map(|result| match result {
            Ok(done) => view! {
                <p class="form-success" role="status">
                    {format!("{} for {}: {}", done.product_name, done.principal, done.state)}
                </p>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    view! {
        <Title text="Approvals"/>
        <div class="catalog-page approvals-page">
            <h1>"Approvals"</h1>
            {outcome}
            <Transition fallback=Loading>
                {move || {
                    items
                        .get()
                        .map(|found| match found {
                            Ok(items) if items.is_empty() => {
                                view! { <p class="muted">"Nothing to decide."</p> }.into_any()
                            }
                            Ok(items) => {
                                view! {
                                    <div class="catalog-scroll" tabindex="0">
                                        <table class="data-table approvals">
                                            <thead>
                                                <tr>
                                                    <th scope="col">"Product"</th>
                                                    <th scope="col">"Principal"</th>
                                                    <th scope="col">"Requested by"</th>
                                                    <th scope="col">"Purpose"</th>
                                                    <th scope="col">"State"</th>
                                                    <th scope="col">"Decision"</th>
                                                </tr>
                                            </thead>
                                            <tbody>
                                                {items
                                                    .into_iter()
                                                    .map(|s| view! { <ApprovalRow subscription=s decide revoke/> })
                                                    .collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }
                                    .into_any()
                            }
                            Err(error) => view! { <PageProblem error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn ApprovalRow(
    subscription: SubscriptionView,
    decide: ServerAction<DecideSubscription>,
    revoke: ServerAction<RevokeSubscription>,
) -> impl IntoView {
    let label = state_label(&subscription);
    let pending = subscription.state == "pending";
    let key = subscription.id.clone();
    let approve_id = subscription.id.clone();
    let reject_id = subscription.id.clone();
    view! {
        <tr data-subscription=key data-state=subscription.state.clone()>
            <td>
                <a href=format!("/products/{}", subscription.product)>{subscription.product_name.clone()}</a>
                <div class="muted">{subscription.topics.join(", ")}</div>
            </td>
            <td>
                <code>{subscription.principal.clone()}</code>
                <div class="muted">
                    "group " <code>{subscription.consumer_group.clone()}</code>
                    {subscription.until.clone().map(|u| format!(" · until {u}"))}
                </div>
            </td>
            <td>{subscription.requested_by.clone()}</td>
            <td>{subscription.purpose.clone()}</td>
            <td>{label}</td>
            <td>
                {if pending {
                    view! {
                        <ActionForm action=decide attr:class="inline-form decide-form">
                            <input type="hidden" name="id" value=approve_id/>
                            <input type="hidden" name="decision" value="approve"/>
                            <input type="text" name="comment" placeholder="Comment (optional)" maxlength="2000" aria-label="Approval comment"/>
                            <button type="submit">"Approve"</button>
                        </ActionForm>
                        <Confirm
                            label="Reject".to_string()
                            consequence="The requester is told, with your reason; nothing is granted.".to_string()
                        >
                            <ActionForm action=decide attr:class="inline-form decide-form">
                                <input type="hidden" name="id" value=reject_id/>
                                <input type="hidden" name="decision" value="reject"/>
                                <input type="text" name="comment" placeholder="Why not (optional)" maxlength="2000" aria-label="Rejection comment"/>
                                <button type="submit" class="danger">"Yes, reject"</button>
                            </ActionForm>
                        </Confirm>
                    }
                        .into_any()
                } else {
                    let live = matches!(subscription.state.as_str(), "approved" | "provisioning" | "active");
                    let revoke_id = subscription.id.clone();
                    view! {
                        <span class="muted">
                            {subscription.decided_by.clone().unwrap_or_default()} " "
                            {subscription.decision_comment.clone().unwrap_or_default()}
                        </span>
                        {live
                            .then(|| {
                                view! {
                                    <Confirm
                                        label="Revoke".to_string()
                                        consequence="Its ACLs are removed from the broker at once; the requester is told.".to_string()
                                    >
                                        <ActionForm action=revoke attr:class="inline-form decide-form">
                                            <input type="hidden" name="id" value=revoke_id/>
                                            <input type="text" name="comment" placeholder="Why (optional)" maxlength="2000" aria-label="Revocation comment"/>
                                            <button type="submit" class="danger">"Yes, revoke"</button>
                                        </ActionForm>
                                    </Confirm>
                                }
                            })}
                    }
                        .into_any()
                }}
            </td>
        </tr>
    }
}

/// A configuration snippet to paste, with a copy button once the page is interactive (a
/// button that cannot work is not shown without JavaScript).
#[component]
fn Snippet(kind: &'static str, text: String) -> impl IntoView {
    let interactive = RwSignal::new(false);
    Effect::new(move |_| interactive.set(true));
    let copied = RwSignal::new(false);
    let copy = {
        let text = text.clone();
        move |_| {
            #[cfg(feature = "hydrate")]
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
                copied.set(true);
            }
            #[cfg(not(feature = "hydrate"))]
            let _ = &text;
        }
    };
    view! {
        <div class="snippet">
            <Show when=move || interactive.get()>
                <button type="button" class="copy" on:click=copy.clone() aria-label=format!("Copy the {kind} snippet")>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </Show>
            <pre tabindex="0"><code data-snippet=kind>{text}</code></pre>
        </div>
    }
}
