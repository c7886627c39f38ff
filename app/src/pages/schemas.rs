//! The schema registry's section of the product page: per output port, the subject, its
//! compatibility mode, every registered version, the live subscriptions that read the
//! port, a side-by-side comparison of two versions (fields added, removed, changed; the
//! verdict with each breaking change), and — for the product's owners — a box to paste a
//! proposed schema and see the verdict and the consumers it would break before publishing.
//!
//! Like the rest of the product page it works without JavaScript: comparing and checking
//! are GET forms (`?port=&schema_from=&schema_to=`, `?port=&proposed=`), so the server
//! renders every state and the URL can be shared.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::ApiError;
use crate::api::registry::{
    AnnounceSchema, ConsumerRow, PortSchemas, SchemaDiffView, SchemaVersionRow, VersionLink,
    check_schema, product_schemas, schema_diff,
};
use crate::components::loading::Loading;
use crate::components::problem::ErrorMessage;

/// What the page's query asks the section to show.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ask {
    Nothing,
    Compare { port: String, from: i32, to: i32 },
    Check { port: String, schema: String },
}

fn ask_from_query(get: impl Fn(&str) -> Option<String>) -> Ask {
    let Some(port) = get("port").filter(|p| !p.is_empty()) else {
        return Ask::Nothing;
    };
    if let Some(schema) = get("proposed") {
        return Ask::Check { port, schema };
    }
    let number = |name: &str| get(name).and_then(|v| v.trim().parse::<i32>().ok());
    match (number("schema_from"), number("schema_to")) {
        (Some(from), Some(to)) => Ask::Compare { port, from, to },
        _ => Ask::Nothing,
    }
}

/// The registry section's data: the page's ask, the product's ports and the answer to the
/// ask. The product page creates it where the page starts, before the product arrives: a
/// resource created only once an earlier one resolved gets its serialization id in the
/// order the server's resources happened to resolve, which the browser, hydrating in
/// document order, may not repeat (issue 18, defect 2).
#[derive(Clone, Copy)]
pub struct RegistryData {
    ask: Memo<Ask>,
    ports: Resource<Result<Vec<PortSchemas>, ApiError>>,
    result: Resource<Result<Option<SchemaDiffView>, ApiError>>,
}

impl RegistryData {
    pub fn new(slug: Signal<String>) -> Self {
        let query = use_query_map();
        let ask = Memo::new(move |_| query.with(|q| ask_from_query(|name| q.get(name))));
        let ports = Resource::new_blocking(move || slug.get(), product_schemas);
        let result = Resource::new_blocking(
            move || (slug.get(), ask.get()),
            |(slug, ask)| async move {
                match ask {
                    Ask::Nothing => Ok(None),
                    Ask::Compare { port, from, to } => {
                        let subject = format!("{port}-value");
                        schema_diff(subject, from, to).await.map(Some)
                    }
                    Ask::Check { port, schema } => check_schema(slug, port, schema).await.map(Some),
                }
            },
        );
        Self { ask, ports, result }
    }
}

/// The product `slug`'s registry section; with `only`, just that subject's port, whose
/// forms stay on the registry browser's page of the subject.
#[component]
pub fn RegistrySection(
    slug: String,
    #[prop(optional)] only: Option<String>,
    /// Made by the page (see [`RegistryData`]); else made here.
    #[prop(optional)]
    data: Option<RegistryData>,
) -> impl IntoView {
    let RegistryData { ask, ports, result } =
        data.unwrap_or_else(|| RegistryData::new(Signal::stored(slug.clone())));
    view! {
        <section class="catalog-section" id="schema-registry" aria-labelledby="registry-heading">
            <h2 id="registry-heading">"Schema registry"</h2>
            <Transition fallback=Loading>
                {move || {
                    let slug = slug.clone();
                    let only = only.clone();
                    ports
                        .get()
                        .map(move |found| match found {
                            Ok(ports) if ports.is_empty() => {
                                view! { <p class="muted">"No output ports, so no schemas."</p> }
                                    .into_any()
                            }
                            Ok(ports) => {
                                ports
                                    .into_iter()
                                    .filter(|port| only.as_ref().is_none_or(|s| *s == port.subject))
                                    .map(|port| {
                                        view! {
                                            <PortRegistry
                                                slug=slug.clone()
                                                port
                                                ask=ask.get_untracked()
                                                result
                                                only=only.is_some()
                                            />
                                        }
                                    })
                                    .collect_view()
                                    .into_any()
                            }
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn PortRegistry(
    slug: String,
    port: PortSchemas,
    ask: Ask,
    result: Resource<Result<Option<SchemaDiffView>, ApiError>>,
    /// Shown alone on the registry browser's page of its subject.
    only: bool,
) -> impl IntoView {
    let PortSchemas {
        event_type,
        topic,
        subject,
        mode,
        versions,
        consumers,
        can_propose,
    } = port;
    // GET forms: on the browser's subject page, the subject rides along as a field.
    let action = if only {
        "/schemas".to_string()
    } else {
        format!("/products/{slug}#schema-registry")
    };
    let stay = only.then(|| subject.clone());
    let hidden = move |stay: Option<String>| {
        stay.map(|subject| view! { <input type="hidden" name="subject" value=subject/> })
    };
    let (ask_from, ask_to, proposed) = match &ask {
        Ask::Compare { port, from, to } if *port == topic => (Some(*from), Some(*to), None),
        Ask::Check { port, schema } if *port == topic => (None, None, Some(schema.clone())),
        _ => (None, None, None),
    };
    let mine = ask_from.is_some() || proposed.is_some();
    // Defaults compare the previous version with the latest.
    let to = ask_to.or_else(|| versions.first().map(|v| v.version));
    let from = ask_from.or_else(|| versions.get(1).or(versions.first()).map(|v| v.version));
    let options = |selected: Option<i32>| {
        versions
            .iter()
            .map(|v| {
                view! {
                    <option value=v.version.to_string() selected=selected == Some(v.version)>
                        {format!("v{}", v.version)}
                    </option>
                }
            })
            .collect_view()
    };
    let rows = versions
        .iter()
        .map(|v| {
            view! {
                <tr data-schema-version=v.version.to_string()>
                    <td><code>{format!("v{}", v.version)}</code></td>
                    <td><code>{v.id}</code></td>
                    <td>{v.schema_type.clone()}</td>
                    <td>{v.registered_by.clone()}</td>
                    <td class="catalog-nowrap">{v.registered_at.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let latest = versions
        .first()
        .map(|v| v.schema.clone())
        .unwrap_or_default();
    let latest_links = versions.first().cloned();
    let comparable = versions.len() > 1;
    let from_options = options(from);
    let to_options = options(to);
    view! {
        <div class="registry-port" data-subject=subject.clone()>
            <h3>
                {event_type} " " <span class="muted">"subject "</span> <code>{subject.clone()}</code>
            </h3>
            <p class="muted">
                "Compatibility " <strong data-mode=mode.clone()>{mode.clone()}</strong>
                " · " {crate::words::counted(versions.len(), "version", "versions")}
            </p>
            {if versions.is_empty() {
                view! { <p class="muted">"No schema registered yet."</p> }.into_any()
            } else {
                view! {
                    <div class="catalog-scroll" tabindex="0">
                        <table class="data-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Version"</th>
                                    <th scope="col">"Schema id"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Registered by"</th>
                                    <th scope="col">"Registered"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                    {latest_links.map(|v| view! { <ReferenceLinks version=v/> })}
                    <details class="registry-latest">
                        <summary>"Latest schema"</summary>
                        <pre tabindex="0"><code>{latest}</code></pre>
                    </details>
                }
                    .into_any()
            }}
            <Consumers consumers/>
            {comparable
                .then(|| {
                    view! {
                        <form class="inline-form registry-compare" method="get" action=action.clone()>
                            {hidden(stay.clone())}
                            <input type="hidden" name="port" value=topic.clone()/>
                            <label>"From" <select name="schema_from">{from_options}</select></label>
                            <label>"To" <select name="schema_to">{to_options}</select></label>
                            <button type="submit">"Compare versions"</button>
                        </form>
                    }
                })}
            {can_propose
                .then(|| {
                    view! {
                        <form class="registry-propose" method="get" action=action.clone()>
                            {hidden(stay.clone())}
                            <input type="hidden" name="port" value=topic.clone()/>
                            <label for=format!("proposed-{topic}")>
                                "Check a proposed schema before publishing"
                            </label>
                            <textarea
                                id=format!("proposed-{topic}")
                                name="proposed"
                                rows="8"
                                spellcheck="false"
                                placeholder="Paste the new schema (JSON)"
                            >
                                {proposed.clone().unwrap_or_default()}
                            </textarea>
                            <button type="submit">"Check compatibility"</button>
                        </form>
                    }
                })}
            {mine
                .then(|| {
                    view! {
                        <Transition fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                            {move || {
                                result
                                    .get()
                                    .map(|found| match found {
                                        Ok(Some(diff)) => {
                                            view! { <SchemaDiffBox diff slug=slug.clone() topic=topic.clone()/> }
                                                .into_any()
                                        }
                                        Ok(None) => ().into_any(),
                                        Err(error) => view! { <ErrorMessage error/> }.into_any(),
                                    })
                            }}
                        </Transition>
                    }
                })}
        </div>
    }
}

#[component]
fn Consumers(consumers: Vec<ConsumerRow>) -> impl IntoView {
    if consumers.is_empty() {
        return view! { <p class="muted">"No live subscriptions read this port."</p> }.into_any();
    }
    let rows = consumers.into_iter().map(consumer_row).collect_view();
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table registry-consumers">
                <caption>"Live subscriptions (approved, provisioning, active) reading this port"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Principal"</th>
                        <th scope="col">"Team"</th>
                        <th scope="col">"Requested by"</th>
                        <th scope="col">"State"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn consumer_row(consumer: ConsumerRow) -> impl IntoView {
    let key = consumer.principal.clone();
    view! {
        <tr data-principal=key>
            <td><code>{consumer.principal}</code></td>
            <td>{consumer.team.unwrap_or_else(|| "—".to_string())}</td>
            <td>
                {if consumer.requested_by.is_empty() {
                    "—".to_string()
                } else {
                    consumer.requested_by
                }}
            </td>
            <td>{consumer.state}</td>
        </tr>
    }
}

#[component]
fn SchemaDiffBox(diff: SchemaDiffView, slug: String, topic: String) -> impl IntoView {
    let SchemaDiffView {
        subject,
        from,
        to,
        from_schema,
        to_schema,
        mode,
        compatible,
        fields,
        breaking,
        consumers_at_risk,
        proposal,
        announced_at,
    } = diff;
    let at_risk_count = consumers_at_risk.len();
    let verdict = if compatible && proposal && at_risk_count > 0 {
        // The subject's mode lets it through, yet today's readers cannot read its data: say
        // that one thing, not "allowed" in green above a list of broken subscriptions.
        view! {
            <p class="registry-verdict registry-warning" data-verdict="breaks-readers" role="alert">
                {format!(
                    "Registrable under {mode}, but it breaks {at_risk_count} live {}: today's schema cannot read data written with the proposal.",
                    if at_risk_count == 1 { "subscription" } else { "subscriptions" },
                )}
            </p>
        }
        .into_any()
    } else if compatible {
        view! {
            <p class="registry-verdict registry-ok" data-verdict="compatible" role="status">
                {if mode == "NONE" {
                    format!("Allowed: the subject's mode is NONE, so {from} → {to} is not checked.")
                } else {
                    format!("Allowed under {mode}: {from} → {to} passes the subject's compatibility check.")
                }}
            </p>
        }
        .into_any()
    } else {
        view! {
            <div class="registry-verdict registry-breaking" data-verdict="breaking" role="alert">
                <p>{format!("Breaking under {mode}: {from} → {to}")}</p>
                <ul>{breaking.into_iter().map(|b| view! { <li><code>{b}</code></li> }).collect_view()}</ul>
            </div>
        }
        .into_any()
    };
    let changes = if fields.is_empty() {
        view! { <p class="muted">"No field changes."</p> }.into_any()
    } else {
        let rows = fields
            .into_iter()
            .map(|f| {
                let class = format!("registry-{}", f.change);
                let key = f.path.clone();
                view! {
                    <tr class=class data-field=key>
                        <td><code>{f.path}</code></td>
                        <td>{f.change}</td>
                        <td>{f.before.unwrap_or_default()}</td>
                        <td>{f.after.unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <div class="catalog-scroll" tabindex="0">
                <table class="data-table registry-fields">
                    <thead>
                        <tr>
                            <th scope="col">"Field"</th>
                            <th scope="col">"Change"</th>
                            <th scope="col">{from.clone()}</th>
                            <th scope="col">{to.clone()}</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let at_risk = proposal.then(|| {
        if consumers_at_risk.is_empty() {
            view! { <p class="muted">"No live subscription would break: none reads this port, or today's schema reads the proposal's data."</p> }
                .into_any()
        } else {
            view! {
                <div class="registry-impact">
                    <p>
                        <strong>
                            {format!(
                                "{} live {} this port with today's schema and would break:",
                                consumers_at_risk.len(),
                                if consumers_at_risk.len() == 1 { "subscription reads" } else { "subscriptions read" },
                            )}
                        </strong>
                    </p>
                    <ul>
                        {consumers_at_risk
                            .into_iter()
                            .map(|c| {
                                let team = c.team.map(|t| format!(" ({t})")).unwrap_or_default();
                                let via = c
                                    .via
                                    .map(|p| format!(" — reads {p}, computed from this port"))
                                    .unwrap_or_default();
                                let team = format!("{team}{via}");
                                let key = c.principal.clone();
                                view! { <li data-principal=key><code>{c.principal}</code>{team}</li> }
                            })
                            .collect_view()}
                    </ul>
                    <Announce slug=slug.clone() topic=topic.clone() schema=to_schema.clone() announced_at/>
                </div>
            }
            .into_any()
        }
    });
    view! {
        <div class="registry-diff" data-subject=subject>
            {verdict}
            {at_risk}
            {changes}
            <div class="registry-side-by-side">
                <figure>
                    <figcaption>{from}</figcaption>
                    <pre tabindex="0"><code>{from_schema}</code></pre>
                </figure>
                <figure>
                    <figcaption>{to}</figcaption>
                    <pre tabindex="0"><code>{to_schema}</code></pre>
                </figure>
            </div>
        </div>
    }
}

/// Telling the subscribers a proposal would break, before publishing it: once per
/// proposal, in the app and through their webhooks.
#[component]
fn Announce(
    slug: String,
    topic: String,
    schema: String,
    announced_at: Option<String>,
) -> impl IntoView {
    let announce = ServerAction::<AnnounceSchema>::new();
    let result = move || {
        announce.value().get().map(|result| match result {
            Ok(done) if done.already => view! {
                <p role="status">"They were told about this proposal before; no one was told twice."</p>
            }
            .into_any(),
            Ok(done) => view! {
                <p role="status" data-testid="announced">
                    {format!(
                        "Told {} {} in the app and by webhook.",
                        done.told,
                        if done.told == 1 { "person" } else { "people" },
                    )}
                </p>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error/> }.into_any(),
        })
    };
    match announced_at {
        Some(at) => view! {
            <p class="muted" data-testid="announced">
                "Their requesters were told about this proposal on " {at}
                " (in the app and by webhook)."
            </p>
        }
        .into_any(),
        None => view! {
            <ActionForm action=announce attr:class="inline-form">
                <input type="hidden" name="slug" value=slug/>
                <input type="hidden" name="topic" value=topic/>
                <input type="hidden" name="schema" value=schema/>
                <button type="submit">"Tell their requesters before publishing"</button>
            </ActionForm>
            {result}
        }
        .into_any(),
    }
}

/// The subject versions a schema version uses through references, and those that use it,
/// each a link to its subject's page; nothing when there are neither.
#[component]
pub fn ReferenceLinks(version: SchemaVersionRow) -> impl IntoView {
    let link = |link: VersionLink| {
        let href = format!(
            "/schemas?subject={}",
            form_urlencoded::byte_serialize(link.subject.as_bytes()).collect::<String>()
        );
        view! {
            <li>
                <a href=href>{format!("{} v{}", link.subject, link.version)}</a>
                {link.name.map(|name| view! { " as " <code>{name}</code> })}
            </li>
        }
    };
    let uses = (!version.references.is_empty()).then(|| {
        let items = version.references.into_iter().map(link).collect_view();
        view! {
            <div class="registry-references" data-references=version.version.to_string()>
                <p><strong>{format!("v{} uses", version.version)}</strong></p>
                <ul>{items}</ul>
            </div>
        }
    });
    let used_by = (!version.referenced_by.is_empty()).then(|| {
        let items = version.referenced_by.into_iter().map(link).collect_view();
        view! {
            <div class="registry-references" data-referenced-by=version.version.to_string()>
                <p><strong>{format!("v{} is used by", version.version)}</strong></p>
                <ul>{items}</ul>
            </div>
        }
    });
    view! {
        {uses}
        {used_by}
    }
}
