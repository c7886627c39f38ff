//! The incident pages: `/incidents` (the open and recent incidents the caller may see,
//! filtered by state) and `/incidents/:id` (what went wrong, the signal's chart against the
//! band its model expected, the diagnosis and its evidence, the recovery actions offered and
//! taken, the timeline, and who downstream is affected), plus the "Open incidents" section
//! that product and processor pages carry when they have any.
//!
//! Everything is in the server's HTML: the chart is inline SVG drawn by [`plot`], the
//! filter is plain links and each action is an `ActionForm`, which also works as a plain
//! post without JavaScript. Only measured numbers are shown; where nothing was measured or
//! recorded, the page says so instead.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::ApiError;
use crate::api::incidents::{
    ActOnIncident, ActionView, AffectedView, ChannelView, ChartView, EvidenceView, IncidentPage,
    IncidentRow, OfferView, TimelineView, incident, incidents,
};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

/// The state filters of `/incidents`: query value and link text.
const FILTERS: [(&str, &str); 3] = [("", "All"), ("open", "Open"), ("resolved", "Resolved")];

/// `/incidents`: open and recent incidents, newest first.
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let query = use_query_map();
    // Only the filters offered; anything else reads as "all".
    let state = Memo::new(move |_| {
        query
            .with(|q| q.get("state"))
            .filter(|s| s == "open" || s == "resolved")
    });
    let items = Resource::new_blocking(move || state.get(), |state| incidents(state, None, None));
    view! {
        <Title text="Incidents"/>
        <div class="catalog-page incidents-page">
            <h1>"Incidents"</h1>
            <p class="catalog-description">
                "An incident opens when a channel's signal leaves the band its model learned from the channel's own history, or when its lag is forecast to breach the freshness SLA. Each names its most likely cause and the evidence for it."
            </p>
            <nav class="incident-filters" aria-label="Filter by state">
                {move || {
                    let current = state.get().unwrap_or_default();
                    FILTERS
                        .into_iter()
                        .map(|(value, text)| {
                            let href = if value.is_empty() {
                                "/incidents".to_string()
                            } else {
                                format!("/incidents?state={value}")
                            };
                            let here = (current == value).then_some("page");
                            view! { <a href=href aria-current=here>{text}</a> }
                        })
                        .collect_view()
                }}
            </nav>
            <Transition fallback=Loading>
                {move || {
                    items
                        .get()
                        .map(|result| match result {
                            Ok(rows) => view! { <IncidentTable rows state=state.get()/> }.into_any(),
                            Err(error) => view! { <PageProblem error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn IncidentTable(rows: Vec<IncidentRow>, state: Option<String>) -> impl IntoView {
    if rows.is_empty() {
        let which = match state.as_deref() {
            Some("open") => "No incident is open",
            Some("resolved") => "No incident has been resolved yet",
            _ => "No incidents",
        };
        return view! {
            <p class="incident-empty" data-testid="incidents-empty">
                {which} " on the channels you may see. Nothing has left its expected band."
            </p>
        }
        .into_any();
    }
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table incident-table" data-testid="incidents">
                <caption class="visually-hidden">"Incidents, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Cause"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Signal"</th>
                        <th scope="col">"Opened"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Confidence"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr data-incident=row.id.clone() data-state=row.state.clone()>
                                    <td data-label="Cause">
                                        <a href=format!("/incidents/{}", row.id)>{row.cause_text.clone()}</a>
                                        {row.predicted.then(|| view! { " " <Predicted/> })}
                                        <span class="incident-summary">{row.summary.clone()}</span>
                                    </td>
                                    <td data-label="Channel"><Channel channel=row.channel.clone()/></td>
                                    <td data-label="Signal">{row.signal_label.clone()}</td>
                                    <td data-label="Opened"><time>{row.opened_at.clone()}</time></td>
                                    <td data-label="State"><StateBadge state=row.state.clone()/></td>
                                    <td data-label="Confidence">{format!("{}%", row.confidence)}</td>
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

#[component]
fn StateBadge(state: String) -> impl IntoView {
    view! { <span class=format!("incident-state incident-state-{state}")>{state.clone()}</span> }
}

#[component]
fn Predicted() -> impl IntoView {
    view! {
        <span class="incident-predicted" title="Opened on a forecast, before the SLA was breached">
            "predicted"
        </span>
    }
}

#[component]
fn Channel(channel: ChannelView) -> impl IntoView {
    match channel.href {
        Some(href) => view! { <a href=href>{channel.label}</a> }.into_any(),
        None => view! { <span>{channel.label}</span> }.into_any(),
    }
}

/// `/incidents/:id`: one incident.
#[component]
pub fn IncidentDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    let act = ServerAction::<ActOnIncident>::new();
    let detail = Resource::new_blocking(
        move || (id.get(), act.version().get()),
        |(id, _)| incident(id),
    );
    view! {
        <div class="catalog-page incident-page">
            <Transition fallback=Loading>
                {move || {
                    detail
                        .get()
                        .map(|result| match result {
                            Ok(page) => view! { <Incident page act/> }.into_any(),
                            Err(error) => {
                                view! { <PageProblem error whole_page=true not_found="No such incident"/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn Incident(page: IncidentPage, act: ServerAction<ActOnIncident>) -> impl IntoView {
    let IncidentPage {
        incident,
        evidence,
        offered,
        taken,
        timeline,
        chart,
        affected,
    } = page;
    let IncidentRow {
        id,
        state,
        opened_at,
        resolved_at,
        started_at,
        last_seen_at,
        channel,
        signal_label,
        cause_text,
        confidence,
        summary,
        predicted,
        ..
    } = incident;
    view! {
        <Title text=format!("Incident: {cause_text}")/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href="/incidents">"Incidents"</a>
        </nav>
        <header class="catalog-product-head">
            <h1>{cause_text.clone()}</h1>
            <StateBadge state=state.clone()/>
            {predicted.then(|| view! { <Predicted/> })}
        </header>
        <section class="catalog-overview" aria-label="Summary">
            <p class="catalog-description" data-testid="incident-summary">{summary}</p>
            <dl class="facts incident-facts">
                <dt>"Channel"</dt>
                <dd><Channel channel/></dd>
                <dt>"Signal"</dt>
                <dd>{signal_label}</dd>
                <dt>"Most likely cause"</dt>
                <dd data-testid="incident-cause">
                    {cause_text} <span class="muted">{format!(" ({confidence}% confidence)")}</span>
                </dd>
                <dt>"Fault started"</dt>
                <dd><time>{started_at}</time> <span class="muted">" (when the signal left its band)"</span></dd>
                <dt>"Opened"</dt>
                <dd><time>{opened_at}</time></dd>
                <dt>"Last seen"</dt>
                <dd><time>{last_seen_at}</time></dd>
                <dt>"Resolved"</dt>
                <dd>
                    {match resolved_at {
                        Some(at) => view! { <time>{at}</time> }.into_any(),
                        None => view! { <span class="muted">"not yet"</span> }.into_any(),
                    }}
                </dd>
            </dl>
        </section>
        <section class="catalog-section" aria-labelledby="signal-heading">
            <h2 id="signal-heading">"Signal"</h2>
            <SignalChart chart/>
        </section>
        <section class="catalog-section" aria-labelledby="evidence-heading">
            <h2 id="evidence-heading">"Diagnosis and evidence"</h2>
            <EvidenceList evidence/>
        </section>
        <section class="catalog-section" aria-labelledby="actions-heading">
            <h2 id="actions-heading">"Recovery actions"</h2>
            <Offers id open=state == "open" offered act/>
            <h3>"Taken"</h3>
            <Taken taken/>
        </section>
        <section class="catalog-section" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            <Timeline timeline/>
        </section>
        <section class="catalog-section" aria-labelledby="affected-heading">
            <h2 id="affected-heading">"Affected products and subscribers"</h2>
            <Affected affected/>
        </section>
    }
}

/// The chart's drawing area, in SVG units (the SVG stretches to the page's width).
const CHART_WIDTH: f64 = 600.0;
const CHART_HEIGHT: f64 = 200.0;

/// The SVG geometry of a chart: path data for the measured line, the expected band (a
/// closed shape) and the forecast, where the limit and the fault's start cross, and the
/// values at the top and bottom of the scale.
#[derive(Debug, PartialEq)]
struct Plot {
    measured: String,
    band: String,
    forecast: String,
    /// The limit's height.
    limit: Option<f64>,
    /// The fault's start, across.
    start: Option<f64>,
    top: f64,
    bottom: f64,
}

/// Draws `chart` into a `CHART_WIDTH` × `CHART_HEIGHT` box: time across (0 to `span`),
/// values up, on one scale that holds every value, the band and the limit, from zero (or
/// the lowest value, when below zero) to 5% above the highest.
fn plot(chart: &ChartView) -> Plot {
    let values = chart
        .points
        .iter()
        .map(|(_, v)| *v)
        .chain(chart.band.iter().flat_map(|(_, lo, hi)| [*lo, *hi]))
        .chain(chart.forecast.iter().map(|(_, v)| *v))
        .chain(chart.limit);
    let (low, high) = values.fold((0.0_f64, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let high = if high > low { high } else { low + 1.0 };
    let top = high + (high - low) * 0.05;
    let x = |t: f64| {
        if chart.span > 0.0 {
            t / chart.span * CHART_WIDTH
        } else {
            CHART_WIDTH / 2.0
        }
    };
    let y = |v: f64| CHART_HEIGHT - (v - low) / (top - low) * CHART_HEIGHT;
    let line = |points: &[(f64, f64)]| path(points.iter().map(|&(t, v)| (x(t), y(v))));
    let band = if chart.band.len() < 2 {
        String::new()
    } else {
        let upper = chart.band.iter().map(|&(t, _, hi)| (x(t), y(hi)));
        let lower = chart.band.iter().rev().map(|&(t, lo, _)| (x(t), y(lo)));
        format!("{} Z", path(upper.chain(lower)))
    };
    Plot {
        measured: line(&chart.points),
        band,
        forecast: line(&chart.forecast),
        limit: chart.limit.map(y),
        start: chart.start.map(x),
        top,
        bottom: low,
    }
}

/// SVG path data through `points`: `M x y L x y …`, to a tenth of a unit.
fn path(points: impl Iterator<Item = (f64, f64)>) -> String {
    points
        .enumerate()
        .map(|(i, (x, y))| format!("{}{x:.1} {y:.1}", if i == 0 { "M" } else { " L" }))
        .collect()
}

/// A value on the chart's scale, as people read it.
fn figure(value: f64) -> String {
    let text = if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[component]
fn SignalChart(chart: ChartView) -> impl IntoView {
    if chart.points.is_empty() {
        return view! {
            <p class="muted" data-testid="chart-empty">
                "No measurements of this signal were kept for this incident, so there is nothing to chart."
            </p>
        }
        .into_any();
    }
    let plot = plot(&chart);
    let summary = format!(
        "{}: {} measurements from {} to {}{}{}",
        chart.label,
        chart.points.len(),
        chart.from,
        chart.to,
        if chart.band.len() >= 2 {
            ", with the band the model expected"
        } else {
            ""
        },
        if chart.forecast.is_empty() {
            ""
        } else {
            " and the forecast"
        },
    );
    let has_band = !plot.band.is_empty();
    let has_forecast = !plot.forecast.is_empty();
    let limit = plot.limit;
    let limit_value = chart.limit;
    let start = plot.start;
    view! {
        <figure class="incident-chart" data-testid="incident-chart">
            <div class="incident-chart-scale" aria-hidden="true">
                <span>{figure(plot.top)}</span>
                <span>{figure(plot.bottom)}</span>
            </div>
            <svg
                viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label=summary.clone()
            >
                {has_band.then(|| view! { <path class="incident-band" d=plot.band.clone()/> })}
                {limit.map(|y| view! {
                    <line class="incident-limit" x1="0" x2=CHART_WIDTH y1=y y2=y/>
                })}
                {start.map(|x| view! {
                    <line class="incident-start" x1=x x2=x y1="0" y2=CHART_HEIGHT/>
                })}
                {has_forecast.then(|| view! {
                    <path class="incident-forecast" d=plot.forecast.clone() fill="none"/>
                })}
                <path class="incident-measured" d=plot.measured.clone() fill="none"/>
            </svg>
            <div class="incident-chart-axis" aria-hidden="true">
                <span>{chart.from.clone()}</span>
                <span>{chart.to.clone()}</span>
            </div>
            <figcaption>
                <p>{summary}</p>
                <ul class="incident-legend">
                    <li><span class="swatch swatch-measured" aria-hidden="true"></span>"measured"</li>
                    {has_band.then(|| view! {
                        <li><span class="swatch swatch-band" aria-hidden="true"></span>"expected band"</li>
                    })}
                    {has_forecast.then(|| view! {
                        <li><span class="swatch swatch-forecast" aria-hidden="true"></span>"forecast"</li>
                    })}
                    {limit_value.map(|v| view! {
                        <li>
                            <span class="swatch swatch-limit" aria-hidden="true"></span>
                            {format!("limit ({})", figure(v))}
                        </li>
                    })}
                    {start.map(|_| view! {
                        <li><span class="swatch swatch-start" aria-hidden="true"></span>"fault start"</li>
                    })}
                </ul>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[component]
fn EvidenceList(evidence: Vec<EvidenceView>) -> impl IntoView {
    if evidence.is_empty() {
        return view! { <p class="muted">"No evidence was recorded for this diagnosis."</p> }
            .into_any();
    }
    view! {
        <ul class="incident-evidence" data-testid="incident-evidence">
            {evidence
                .into_iter()
                .map(|e| {
                    view! {
                        <li data-kind=e.kind.clone()>
                            <span class="incident-evidence-label">{e.label}</span>
                            ": "
                            <strong>{e.value}</strong>
                            {e.at.map(|at| view! { " " <span class="muted">"at " <time>{at}</time></span> })}
                            {e.points_to.map(|cause| view! {
                                <span class="incident-points-to">"points to: " {cause}</span>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Offers(
    id: String,
    open: bool,
    offered: Vec<OfferView>,
    act: ServerAction<ActOnIncident>,
) -> impl IntoView {
    let result = move || {
        act.value().get().map(|done| match done {
            Ok(record) => view! {
                <p role="status" class="admin-ok" data-testid="action-result">
                    {format!("{}: {}", record.label, record.outcome)}
                    {(!record.detail.is_empty()).then(|| format!(". {}", record.detail))}
                </p>
            }
            .into_any(),
            Err(error) => view! { <ErrorMessage error prefix="Not done: "/> }.into_any(),
        })
    };
    if offered.is_empty() {
        let why = if open {
            "No recovery action is offered to you for this incident."
        } else {
            "The incident is resolved: no recovery action is offered."
        };
        return view! {
            {result}
            <p class="muted" data-testid="no-offers">{why}</p>
        }
        .into_any();
    }
    view! {
        {result}
        <ul class="incident-offers" data-testid="incident-offers">
            {offered
                .into_iter()
                .map(|offer| {
                    let replay = offer.action == "replay";
                    let id = id.clone();
                    let field = format!("replay-to-{id}");
                    view! {
                        <li>
                            <ActionForm action=act attr:class="incident-offer">
                                <input type="hidden" name="id" value=id/>
                                <input type="hidden" name="action" value=offer.action.clone()/>
                                <p class="incident-consequence">{offer.consequence}</p>
                                {replay.then(|| view! {
                                    <label for=field.clone()>
                                        "From (UTC, or " <code>"earliest"</code>
                                        "; blank: when the incident started)"
                                    </label>
                                    <input
                                        type="text"
                                        id=field.clone()
                                        name="to"
                                        placeholder="2026-12-05T01:00:00Z"
                                    />
                                })}
                                <button type="submit" data-testid=format!("offer-{}", offer.action)>
                                    {offer.label}
                                </button>
                            </ActionForm>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn Taken(taken: Vec<ActionView>) -> impl IntoView {
    if taken.is_empty() {
        return view! { <p class="muted">"No action has been taken yet."</p> }.into_any();
    }
    view! {
        <ul class="incident-taken" data-testid="incident-taken">
            {taken
                .into_iter()
                .map(|a| {
                    view! {
                        <li data-outcome=a.outcome.clone()>
                            <strong>{a.label}</strong> ", " <time>{a.at}</time> " by " {a.actor} ": "
                            <span class=format!("incident-outcome incident-outcome-{}", a.outcome)>
                                {a.outcome.clone()}
                            </span>
                            {(!a.detail.is_empty()).then(|| view! {
                                <span class="incident-detail">{a.detail}</span>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// A timeline entry's kind as people read it.
fn happened(kind: &str) -> &str {
    match kind {
        "opened" => "Opened",
        "diagnosed" => "Diagnosed",
        "action" => "Action",
        "notified" => "Notified",
        "resolved" => "Resolved",
        other => other,
    }
}

#[component]
fn Timeline(timeline: Vec<TimelineView>) -> impl IntoView {
    if timeline.is_empty() {
        return view! { <p class="muted">"Nothing has been recorded on this incident yet."</p> }
            .into_any();
    }
    view! {
        <ol class="incident-timeline" data-testid="incident-timeline">
            {timeline
                .into_iter()
                .map(|entry| {
                    view! {
                        <li data-kind=entry.kind.clone()>
                            <time>{entry.at}</time>
                            " "
                            <strong>{happened(&entry.kind).to_string()}</strong>
                            {entry.action.map(|action| format!(": {action}"))}
                            {format!(" by {}", entry.actor)}
                            {entry.outcome.map(|outcome| format!(" ({outcome})"))}
                            {(!entry.detail.is_empty()).then(|| view! {
                                <span class="incident-detail">{entry.detail}</span>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}

#[component]
fn Affected(affected: Vec<AffectedView>) -> impl IntoView {
    if affected.is_empty() {
        return view! {
            <p class="muted" data-testid="affected-empty">
                "Lineage shows no product or live subscription downstream of this channel."
            </p>
        }
        .into_any();
    }
    view! {
        <ul class="incident-affected" data-testid="incident-affected">
            {affected
                .into_iter()
                .map(|a| {
                    view! {
                        <li>
                            <a href=format!("/products/{}", a.product)>{a.name}</a>
                            ": "
                            {if a.subscribers.is_empty() {
                                view! { <span class="muted">"no live subscribers"</span> }.into_any()
                            } else {
                                view! {
                                    <span class="chips">
                                        {a.subscribers
                                            .into_iter()
                                            .map(|s| view! { <code class="catalog-tag">{s}</code> })
                                            .collect_view()}
                                    </span>
                                }
                                .into_any()
                            }}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
    .into_any()
}

/// The open incidents of a product or node, as the "Open incidents" section reads them.
pub type OpenIncidents = Resource<Result<Vec<IncidentRow>, ApiError>>;

/// Asks for the open incidents of the product (slug) or node that `about` names, as
/// `(product, node)`. Made by the page, not the section, so a page that re-renders its
/// content (the processor page refreshes itself) keeps the answer instead of asking again.
pub fn open_incidents(
    about: impl Fn() -> (Option<String>, Option<String>) + Send + Sync + 'static,
) -> OpenIncidents {
    Resource::new_blocking(about, |(product, node)| {
        incidents(Some("open".to_string()), product, node)
    })
}

/// "Open incidents" on a product or processor page: shown only when the caller may see
/// at least one open incident there.
#[component]
pub fn OpenIncidentsSection(open: OpenIncidents) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || {
                open.get()
                    .map(|result| match result {
                        Ok(rows) if rows.is_empty() => ().into_any(),
                        Ok(rows) => view! { <OpenIncidentList rows/> }.into_any(),
                        // Where the page shows more, seeing no incident needs no message.
                        Err(ApiError::Unauthenticated | ApiError::Forbidden(_) | ApiError::NotFound) => {
                            ().into_any()
                        }
                        Err(error) => view! {
                            <section class="catalog-section incident-open" aria-labelledby="open-incidents-heading">
                                <h2 id="open-incidents-heading">"Open incidents"</h2>
                                <ErrorMessage error/>
                            </section>
                        }
                        .into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn OpenIncidentList(rows: Vec<IncidentRow>) -> impl IntoView {
    view! {
        <section
            class="catalog-section incident-open"
            aria-labelledby="open-incidents-heading"
            data-testid="open-incidents"
        >
            <h2 id="open-incidents-heading">"Open incidents"</h2>
            <ul>
                {rows
                    .into_iter()
                    .map(|row| {
                        view! {
                            <li>
                                <a href=format!("/incidents/{}", row.id)>{row.cause_text}</a>
                                {row.predicted.then(|| view! { " " <Predicted/> })}
                                <span class="muted">
                                    {format!(
                                        " · {} · since {} · {}% confidence",
                                        row.signal_label,
                                        row.started_at,
                                        row.confidence,
                                    )}
                                </span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> ChartView {
        ChartView {
            label: "consumer lag (s)".into(),
            points: vec![(0.0, 0.0), (50.0, 10.0), (100.0, 20.0)],
            band: vec![(0.0, 0.0, 4.0), (100.0, 2.0, 6.0)],
            forecast: vec![(100.0, 20.0), (200.0, 40.0)],
            limit: Some(30.0),
            start: Some(50.0),
            span: 200.0,
            from: "2026-12-05 10:00 UTC".into(),
            to: "2026-12-05 10:03 UTC".into(),
        }
    }

    #[test]
    fn the_plot_puts_time_across_and_every_value_on_one_scale() {
        let plot = plot(&chart());
        // 0..40 plus 5% headroom: 42 at the top, 0 at the bottom (y = 200).
        assert_eq!(plot.top, 42.0);
        assert_eq!(plot.bottom, 0.0);
        assert_eq!(plot.measured, "M0.0 200.0 L150.0 152.4 L300.0 104.8");
        assert_eq!(plot.forecast, "M300.0 104.8 L600.0 9.5");
        // Upper edge forwards, lower edge back, closed.
        assert_eq!(
            plot.band,
            "M0.0 181.0 L300.0 171.4 L300.0 190.5 L0.0 200.0 Z"
        );
        assert_eq!(plot.start, Some(150.0));
        let limit = plot.limit;
        assert!(
            limit.is_some_and(|y| (y - 57.142857).abs() < 1e-4),
            "{limit:?}"
        );
    }

    #[test]
    fn a_flat_or_single_point_chart_still_has_a_scale_and_no_band() {
        let chart = ChartView {
            points: vec![(0.0, 0.0)],
            band: vec![(0.0, 0.0, 0.0)],
            forecast: vec![],
            limit: None,
            start: None,
            span: 0.0,
            ..chart()
        };
        let plot = plot(&chart);
        assert_eq!(plot.top, 1.05);
        assert_eq!(plot.measured, "M300.0 200.0");
        assert_eq!(plot.band, "");
        assert_eq!(plot.forecast, "");
        assert_eq!(plot.limit, None);
    }

    #[test]
    fn scale_figures_drop_useless_decimals() {
        assert_eq!(figure(42.0), "42");
        assert_eq!(figure(1.05), "1.1");
        assert_eq!(figure(0.125), "0.125");
        assert_eq!(figure(0.5), "0.5");
        assert_eq!(figure(1234.4), "1234");
    }
}
