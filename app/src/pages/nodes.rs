//! The processor page (`/nodes/:name`): a stream node Meshmart runs — what it reads and
//! writes and as whom, its processes as they last reported themselves (partitions owned,
//! records written, dead letters, rate, lag, errors), and, for owners of its product and
//! admins, pause, resume and restart. Every number is one a process measured and reported;
//! a process that stopped reporting shows as gone, not with stale numbers passed off as live.
//!
//! Forms are `ActionForm`s, so they also work as plain posts without JavaScript; with it, the
//! page refreshes itself every few seconds.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::nodes::{InstanceRow, NodePageView, RestartNode, SetNodePaused, node_page};
use crate::components::attribution::IpDataAttribution;
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};
use crate::pages::incidents::{OpenIncidents, OpenIncidentsSection, open_incidents};

/// How often the page asks again, with JavaScript.
const REFRESH_MS: u64 = 3_000;

#[component]
pub fn NodePage() -> impl IntoView {
    let params = use_params_map();
    let name = Memo::new(move |_| params.with(|p| p.get("name").unwrap_or_default()));
    let set = ServerAction::<SetNodePaused>::new();
    let restart = ServerAction::<RestartNode>::new();
    // Blocking: the page is in the server's HTML, so it reads without JavaScript.
    let node = Resource::new_blocking(
        move || (name.get(), set.version().get(), restart.version().get()),
        |(name, ..)| node_page(name),
    );
    // Asked once, outside the refreshing view, so refreshes do not ask again.
    let open = open_incidents(move || (None, Some(name.get())));
    // Live numbers once hydrated: refetch every few seconds (no timer on the server).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || node.refetch(),
            std::time::Duration::from_millis(REFRESH_MS),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    view! {
        <div class="catalog-page node-page">
            <Transition fallback=Loading>
                {move || {
                    node.get()
                        .map(|result| match result {
                            Ok(view) => view! { <NodeView view set restart open/> }.into_any(),
                            Err(error) => {
                                let not_found = format!("No stream node “{}”", name.get());
                                view! { <PageProblem error whole_page=true not_found/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

/// Records per second as people read them.
fn rate(value: f64) -> String {
    if value >= 100.0 {
        format!("{:.0}", value)
    } else {
        format!("{:.1}", value)
    }
}

fn count(value: i64) -> String {
    let digits = value.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0 { format!("-{out}") } else { out }
}

#[component]
fn NodeView(
    view: NodePageView,
    set: ServerAction<SetNodePaused>,
    restart: ServerAction<RestartNode>,
    open: OpenIncidents,
) -> impl IntoView {
    let live: Vec<&InstanceRow> = view
        .instances
        .iter()
        .filter(|i| matches!(i.state.as_str(), "running" | "paused" | "restarting"))
        .collect();
    let throughput: f64 = live.iter().map(|i| i.rate).sum();
    let lag: Option<i64> = if live.is_empty() {
        None
    } else {
        live.iter().map(|i| i.lag).sum()
    };
    let dead_letters: i64 = live.iter().map(|i| i.dead_letters).sum();
    let any_live = !live.is_empty();
    let state = match (live.len(), view.paused) {
        (0, _) => "not running".to_string(),
        (_, true) => "paused".to_string(),
        (n, false) => format!(
            "running ({n} {})",
            if n == 1 { "process" } else { "processes" }
        ),
    };
    let input = match &view.input_product {
        Some(slug) => view! {
            <a href=format!("/products/{slug}")><code>{view.input_topic.clone()}</code></a>
        }
        .into_any(),
        None => view! { <code>{view.input_topic.clone()}</code> }.into_any(),
    };
    let errors: Vec<(i32, String, String)> = view
        .instances
        .iter()
        .filter_map(|i| Some((i.instance, i.last_error_at.clone()?, i.last_error.clone()?)))
        .collect();
    let rerouted_since: Option<String> = live.iter().filter_map(|i| i.rerouted_since.clone()).min();
    let enrichment = view.kind == "customer-enrichment";
    let NodePageView {
        name,
        kind,
        domain,
        product,
        output_topic,
        principal,
        group,
        transactional_prefix,
        dead_letter_topic,
        detour_topic,
        paused,
        can_operate,
        instances,
        ..
    } = view;
    view! {
        <Title text=format!("{name} (stream node)")/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href="/domains">"Domains"</a>
            " / "
            <a href=format!("/domains/{domain}")>{domain.clone()}</a>
            " / "
            <a href=format!("/products/{product}")>{product.clone()}</a>
        </nav>
        <h1>{name.clone()}</h1>
        <p class="catalog-description">
            "A " <strong>{kind.clone()}</strong> " stream node Meshmart runs: it reads " {input}
            " and writes " <a href=format!("/products/{product}")><code>{output_topic}</code></a>
            " exactly once (Kafka transactions), as its own principal."
        </p>
        <dl class="node-status" data-testid="node-status">
            <Tile label="State" testid="node-state" value=state/>
            <Tile
                label="Throughput"
                testid="node-throughput"
                value=if any_live { format!("{} records/s", rate(throughput)) } else { "—".to_string() }
            />
            <Tile
                label="Lag"
                testid="node-lag"
                value=lag
                    .map(|lag| format!("{} {}", count(lag), if lag == 1 { "record" } else { "records" }))
                    .unwrap_or_else(|| "—".into())
            />
            <Tile
                label="Dead letters"
                testid="node-dead-letters"
                value=if any_live {
                    format!("{} since the processes started", count(dead_letters))
                } else {
                    "—".to_string()
                }
            />
        </dl>
        {rerouted_since.map(|since| view! {
            <p class="notice" role="status" data-testid="node-rerouted">
                "The output topic refuses writes. Since " <time>{since}</time>
                " the node parks its output on " <code>{detour_topic.clone()}</code>
                " (in the same transactions as its input offsets) and tries the output again every 5 s; once the output takes writes it drains the detour in order, then writes the output directly again. Nothing is lost or written twice."
            </p>
        })}
        <OpenIncidentsSection open/>
        {can_operate.then(|| view! { <Operate name=name.clone() paused set restart/> })}
        <section class="catalog-section" aria-labelledby="instances-heading">
            <h2 id="instances-heading">"Processes"</h2>
            <p class="muted">
                "Each process is a member of the consumer group " <code>{group}</code>
                "; the group splits the input's partitions between them. Start another with "
                <code>{format!("meshmart node run {name} --instance N")}</code> "."
            </p>
            <InstanceTable instances/>
        </section>
        {(!errors.is_empty()).then(|| view! {
            <section class="catalog-section" aria-labelledby="errors-heading">
                <h2 id="errors-heading">"Recent errors"</h2>
                <ul class="node-errors">
                    {errors
                        .into_iter()
                        .map(|(instance, at, message)| view! {
                            <li>"Process " {instance} ", " {at} ": " <code>{message}</code></li>
                        })
                        .collect_view()}
                </ul>
            </section>
        })}
        <section class="catalog-section" aria-labelledby="definition-heading">
            <h2 id="definition-heading">"Definition"</h2>
            <dl class="facts node-facts">
                <dt>"Kind"</dt>
                <dd>{kind}</dd>
                <dt>"Principal"</dt>
                <dd><code>{principal}</code></dd>
                <dt>"Transactional ids"</dt>
                <dd><code>{format!("{transactional_prefix}-<instance>")}</code></dd>
                <dt>"Dead-letter topic"</dt>
                <dd><code>{dead_letter_topic}</code></dd>
                <dt>"Detour topic"</dt>
                <dd><code>{detour_topic}</code>" (while the output refuses writes)"</dd>
                <dt>"Declared by"</dt>
                <dd>
                    "the contract of " <a href=format!("/products/{product}")>{product.clone()}</a>
                    " (" <code>"processor"</code> ", " <code>"inputPorts"</code> ", "
                    <code>"nodeKind"</code> ")"
                </dd>
            </dl>
            {enrichment.then(|| view! {
                <p class="muted" data-testid="geo-attribution">
                    <IpDataAttribution/>
                    " The risk score comes from a logistic model trained on generated sign-ups: it shows the wiring, not a claim about real fraud."
                </p>
            })}
        </section>
    }
}

#[component]
fn Operate(
    name: String,
    paused: bool,
    set: ServerAction<SetNodePaused>,
    restart: ServerAction<RestartNode>,
) -> impl IntoView {
    let failed = move || {
        set.value()
            .get()
            .and_then(Result::err)
            .or_else(|| restart.value().get().and_then(Result::err))
            .map(|error| view! { <ErrorMessage error/> })
    };
    let (label, next) = if paused {
        ("Resume", "false")
    } else {
        ("Pause", "true")
    };
    let restart_name = name.clone();
    view! {
        <section class="catalog-section" aria-labelledby="operate-heading">
            <h2 id="operate-heading">"Operate"</h2>
            <p class="muted">
                "Pausing stops every process reading within a few seconds; resuming goes on from where they stopped. A restart starts each process again in place, reading the definition, schemas and model anew. Each is recorded in the audit log."
            </p>
            {failed}
            <div class="node-actions">
                <ActionForm action=set attr:class="admin-inline">
                    <input type="hidden" name="name" value=name.clone()/>
                    <input type="hidden" name="paused" value=next/>
                    <button type="submit" data-testid="node-pause">{label}</button>
                </ActionForm>
                <ActionForm action=restart attr:class="admin-inline">
                    <input type="hidden" name="name" value=restart_name.clone()/>
                    <button type="submit" data-testid="node-restart">"Restart"</button>
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
fn InstanceTable(instances: Vec<InstanceRow>) -> impl IntoView {
    if instances.is_empty() {
        return view! {
            <p class="muted" data-testid="no-instances">"No process of this node has reported yet."</p>
        }
        .into_any();
    }
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table node-instances" data-testid="node-instances">
                <thead>
                    <tr>
                        <th scope="col">"Process"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Partitions"</th>
                        <th scope="col">"Records written"</th>
                        <th scope="col">"Dead letters"</th>
                        <th scope="col">"Records/s"</th>
                        <th scope="col">"Lag"</th>
                        <th scope="col">"Last heartbeat"</th>
                        <th scope="col">"Host, PID"</th>
                    </tr>
                </thead>
                <tbody>
                    {instances
                        .into_iter()
                        .map(|i| {
                            let live = matches!(i.state.as_str(), "running" | "paused" | "restarting");
                            let partitions = if i.partitions.is_empty() || !live {
                                "none".to_string()
                            } else {
                                i.partitions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
                            };
                            let dash = |text: String| if live { text } else { "—".to_string() };
                            view! {
                                <tr data-instance=i.instance data-state=i.state.clone()>
                                    <td>{i.instance}</td>
                                    <td>
                                        {i.state.clone()}
                                        {(live && i.rerouted_since.is_some()).then_some(", output on the detour")}
                                    </td>
                                    <td data-testid="instance-partitions">{partitions}</td>
                                    <td data-testid="instance-records">{count(i.records)}</td>
                                    <td>{count(i.dead_letters)}</td>
                                    <td>{dash(rate(i.rate))}</td>
                                    <td>{dash(i.lag.map(count).unwrap_or_else(|| "—".into()))}</td>
                                    <td>
                                        <time>{i.heartbeat_at.clone()}</time>
                                        " (" {i.heartbeat_age} " s before this page)"
                                    </td>
                                    <td>{format!("{}, {}", i.host, i.pid)}</td>
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

/// One figure of the node's status line.
#[component]
fn Tile(label: &'static str, testid: &'static str, value: String) -> impl IntoView {
    view! {
        <div>
            <dt>{label}</dt>
            <dd data-testid=testid>{value}</dd>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_thousands_and_rates_keep_a_decimal_below_a_hundred() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1_000), "-1,000");
        assert_eq!(rate(2.04), "2.0");
        assert_eq!(rate(20_123.4), "20123");
    }
}
