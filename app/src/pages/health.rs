//! A product's measured health: the Health section of its page (rates, last event,
//! freshness against the declared SLA, valid share and rule pass rates, dead letters, the
//! viewer's consumer lag, and a server-drawn SVG chart of the last hour), refreshed every
//! five seconds once hydrated; and `/products/{slug}/samples`, the newest records the
//! checker kept, for owners, admins and active subscribers (masked for subscribers).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::ApiError;
use crate::api::health::{
    CHART_HEIGHT, CHART_WIDTH, HealthView, SamplesView, product_health, product_samples,
};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

/// Seconds between refreshes of a hydrated Health section.
const REFRESH_SECONDS: u64 = 5;

fn verdict_label(verdict: &str) -> &'static str {
    match verdict {
        "met" => "met",
        "at_risk" => "at risk",
        "breached" => "breached",
        "no_data" => "no data",
        "not_declared" => "not declared",
        _ => "not evaluated",
    }
}

fn status_label(status: &str) -> &'static str {
    match status {
        "fresh" => "fresh",
        "stale" => "stale",
        _ => "no data",
    }
}

/// The Health section's data, made by the page outside its `<Transition>`: a resource
/// made inside one is made again each time Leptos re-runs the children on the server,
/// and every query behind it ran twice per page.
pub type HealthData = Resource<Result<HealthView, ApiError>>;

/// The health of product `slug`, for [`HealthSection`].
pub fn health_data(slug: Signal<String>) -> HealthData {
    // Blocking: the section is in the server's HTML, so it reads without JavaScript.
    Resource::new_blocking(move || slug.get(), product_health)
}

#[component]
pub fn HealthSection(health: HealthData) -> impl IntoView {
    // Live numbers once hydrated: refetch every few seconds (no timer on the server).
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || health.refetch(),
            std::time::Duration::from_secs(REFRESH_SECONDS),
        );
        on_cleanup(move || {
            if let Ok(handle) = handle {
                handle.clear();
            }
        });
    });
    view! {
        <section class="catalog-section health" aria-labelledby="health-heading" data-testid="health">
            <h2 id="health-heading">"Health"</h2>
            <Transition fallback=Loading>
                {move || {
                    health
                        .get()
                        .map(|found| match found {
                            Ok(view) => view! { <Health view/> }.into_any(),
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn Health(view: HealthView) -> impl IntoView {
    let HealthView {
        slug,
        status,
        rate_now,
        rate_hour,
        rate_day,
        events_hour,
        last_event,
        freshness_declared,
        freshness_observed,
        freshness_verdict,
        valid,
        invalid_hour,
        reasons,
        rules,
        latency_p99,
        dlq_topic,
        dlq_policy,
        dlq_records,
        slas,
        lag,
        may_see_samples,
        chart_records,
        chart_invalid,
        chart_max,
    } = view;
    let measured = status != "no_data";
    let samples = format!("/products/{slug}/samples");
    let invalid_samples = format!("/products/{slug}/samples?invalid=true");
    let chart_label = format!(
        "Records per second over the last hour: {events_hour} records, {invalid_hour} invalid; top of the scale {chart_max}"
    );
    view! {
        <p>
            <span class=format!("health-status health-{status}") data-testid="health-status">
                {status_label(&status)}
            </span>
            {(!measured).then(|| view! {
                <span class="muted">" Nothing has been checked on this product's topics yet."</span>
            })}
        </p>
        <dl class="facts health-facts">
            <dt>"Events/s now"</dt>
            <dd data-testid="health-rate">{rate_now}</dd>
            <dt>"Last hour / day"</dt>
            <dd>{format!("{rate_hour} · {rate_day}")}</dd>
            <dt>"Last event"</dt>
            <dd data-testid="health-last-event">{last_event}</dd>
            <dt>"Freshness"</dt>
            <dd>
                {format!("p95 {freshness_observed} against {freshness_declared} declared — ")}
                <span class=format!("verdict verdict-{freshness_verdict}")>
                    {verdict_label(&freshness_verdict)}
                </span>
            </dd>
            <dt>"Valid (last hour)"</dt>
            <dd data-testid="health-valid">{valid}</dd>
            <dt>"Latency p99"</dt>
            <dd>{latency_p99}</dd>
            <dt>"Dead letters"</dt>
            <dd>
                {match dlq_topic {
                    Some(topic) => view! {
                        {format!("{dlq_records} in ")}<code>{topic}</code>
                        {format!(" (policy: {dlq_policy})")}
                    }.into_any(),
                    None => view! { "none" }.into_any(),
                }}
                {may_see_samples.then(|| view! {
                    " · " <a href=invalid_samples.clone() rel="external">"Failing records"</a>
                })}
            </dd>
        </dl>
        {measured.then(|| view! {
            <figure class="health-chart">
                <svg
                    viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label=chart_label.clone()
                >
                    <polyline class="health-line" points=chart_records.clone() fill="none"/>
                    <polyline class="health-line-invalid" points=chart_invalid.clone() fill="none"/>
                </svg>
                <figcaption>{chart_label.clone()}</figcaption>
            </figure>
        })}
        {(!reasons.is_empty()).then(|| view! {
            <h3>"Invalid records by reason (last hour)"</h3>
            <ul class="health-reasons">
                {reasons.into_iter().map(|(reason, n)| view! {
                    <li><code>{reason}</code>{format!(": {n}")}</li>
                }).collect_view()}
            </ul>
        })}
        {(!rules.is_empty()).then(|| view! {
            <h3>"Quality rules (last hour)"</h3>
            <div class="table-scroll" tabindex="0">
            <table class="health-rules">
                <thead><tr><th scope="col">"Rule"</th><th scope="col">"Field"</th><th scope="col">"Passed"</th><th scope="col">"Failed"</th><th scope="col">"Pass rate"</th></tr></thead>
                <tbody>
                    {rules.into_iter().map(|r| view! {
                        <tr>
                            <td><code>{r.rule}</code></td>
                            <td>{r.field.unwrap_or_else(|| "record".into())}</td>
                            <td>{r.passed}</td>
                            <td>{r.failed}</td>
                            <td>{r.rate}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        })}
        {(!slas.is_empty()).then(|| view! {
            <h3>"Service levels (last hour)"</h3>
            <div class="table-scroll" tabindex="0">
            <table class="health-slas">
                <thead><tr><th scope="col">"Property"</th><th scope="col">"Declared"</th><th scope="col">"Measured"</th><th scope="col">"Verdict"</th></tr></thead>
                <tbody>
                    {slas.into_iter().map(|s| view! {
                        <tr>
                            <td>{s.property}</td>
                            <td>{s.declared}</td>
                            <td>{s.observed}</td>
                            <td><span class=format!("verdict verdict-{}", s.verdict)>{verdict_label(&s.verdict)}</span></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        })}
        {(!lag.is_empty()).then(|| view! {
            <h3>"Your consumer lag"</h3>
            <ul class="health-lag" data-testid="health-lag">
                {lag.into_iter().map(|l| view! {
                    <li><code>{l.group}</code>{format!(": {} messages, {} behind", l.messages, l.seconds)}</li>
                }).collect_view()}
            </ul>
        })}
        {may_see_samples.then(|| view! {
            <p><a href=samples.clone() rel="external">"Sample records"</a></p>
        })}
    }
}

#[component]
pub fn SamplesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = Memo::new(move |_| params.with(|p| p.get("slug").unwrap_or_default()));
    let invalid = Memo::new(move |_| query.with(|q| q.get("invalid").as_deref() == Some("true")));
    let samples = Resource::new_blocking(
        move || (slug.get(), invalid.get()),
        |(slug, invalid)| product_samples(slug, invalid),
    );
    view! {
        <div class="catalog-page samples-page">
            <Transition fallback=Loading>
                {move || {
                    samples
                        .get()
                        .map(|found| match found {
                            Ok(view) => view! { <Samples view/> }.into_any(),
                            Err(error) => {
                                let not_found = format!("No data product “{}”", slug.get());
                                view! { <PageProblem error whole_page=true not_found/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn Samples(view: SamplesView) -> impl IntoView {
    let SamplesView {
        slug,
        masked,
        masked_fields,
        invalid_only,
        samples,
    } = view;
    let title = if invalid_only {
        "Failing records"
    } else {
        "Sample records"
    };
    let other = if invalid_only {
        (format!("/products/{slug}/samples"), "Show all kept records")
    } else {
        (
            format!("/products/{slug}/samples?invalid=true"),
            "Show failing records only",
        )
    };
    view! {
        <Title text=format!("{title} · {slug}")/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href=format!("/products/{slug}")>{slug.clone()}</a>
        </nav>
        <h1>{title}</h1>
        <p class="muted">
            "The newest records the checker kept for this product, decoded to JSON. "
            <a href=other.0 rel="external">{other.1}</a>
        </p>
        {masked.then(|| view! {
            <p class="notice" data-testid="samples-masked">
                "As a subscriber you see classified fields masked: "
                {masked_fields.join(", ")}
            </p>
        })}
        {if samples.is_empty() {
            view! { <p class="muted">"No records kept yet."</p> }.into_any()
        } else {
            view! {
                <ol class="samples" data-testid="samples">
                    {samples.into_iter().map(|s| view! {
                        <li class=if s.valid { "sample" } else { "sample sample-invalid" }>
                            <p>
                                {format!("Partition {}, offset {}, key ", s.partition, s.offset)}
                                <code>{s.key}</code>
                                {format!(" — checked {}", s.checked_at)}
                                {s.reason.map(|r| view! { " — " <strong>{r}</strong> })}
                            </p>
                            {(!s.failures.is_empty()).then(|| view! {
                                <ul>{s.failures.into_iter().map(|f| view! { <li>{f}</li> }).collect_view()}</ul>
                            })}
                            <pre tabindex="0"><code>{s.body}</code></pre>
                        </li>
                    }).collect_view()}
                </ol>
            }.into_any()
        }}
    }
}
