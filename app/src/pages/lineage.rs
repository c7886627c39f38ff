//! `/products/{slug}/lineage`: where a product's data comes from and where it goes, as a
//! left-to-right layered graph laid out on the server (`api::lineage`) and drawn as SVG.
//!
//! Without JavaScript it is a complete page: nodes link to their products' lineage, "+N
//! more" nodes link to the page with that neighbourhood expanded (`?expand=`), direction and
//! depth are a GET form, and the kind filters are checkboxes that CSS (`:has`) applies.
//! Once hydrated: zoom (buttons, wheel) and pan (drag), and "path" mode — click two nodes to
//! highlight the path between them. Links are `rel="external"` so this page is always
//! rendered by the server (the SVG is never rebuilt in the browser).

use std::collections::{HashMap, HashSet, VecDeque};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::ApiError;
use crate::api::lineage::{
    EdgeView, LineageSummary, LineageView, NodeView, lineage_graph, lineage_neighbours,
};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

#[component]
pub fn LineagePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let slug = Memo::new(move |_| params.with(|p| p.get("slug").unwrap_or_default()));
    let ask = Memo::new(move |_| {
        query.with(|q| {
            let expand = q.get_all("expand").unwrap_or_default().join("|");
            (
                q.get("direction"),
                q.get("depth").and_then(|d| d.parse::<u32>().ok()),
                (!expand.is_empty()).then_some(expand),
            )
        })
    });
    let graph = Resource::new_blocking(
        move || (slug.get(), ask.get()),
        |(slug, (direction, depth, expand))| lineage_graph(slug, direction, depth, expand),
    );
    view! {
        <div class="catalog-page lineage-page">
            <Transition fallback=Loading>
                {move || {
                    graph
                        .get()
                        .map(|found| match found {
                            Ok(view) => view! { <LineageGraph view/> }.into_any(),
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

/// The shortest path along the data's direction from one node to the other (whichever
/// way round it exists): its node ids and `source→target` edge keys; empty when the data
/// does not flow between them.
fn path_between(edges: &[EdgeView], a: &str, b: &str) -> HashSet<String> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for edge in edges {
        next.entry(&edge.source).or_default().push(&edge.target);
    }
    for (from, to) in [(a, b), (b, a)] {
        let mut came: HashMap<&str, &str> = HashMap::from([(from, from)]);
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            if node == to {
                break;
            }
            for &n in next.get(node).map(Vec::as_slice).unwrap_or_default() {
                if !came.contains_key(n) {
                    came.insert(n, node);
                    queue.push_back(n);
                }
            }
        }
        if !came.contains_key(to) {
            continue;
        }
        let mut on_path = HashSet::from([to.to_string()]);
        let mut node = to;
        while node != from {
            let Some(&previous) = came.get(node) else {
                break;
            };
            on_path.insert(format!("{previous}→{node}"));
            on_path.insert(previous.to_string());
            node = previous;
        }
        return on_path;
    }
    HashSet::new()
}

#[component]
fn LineageGraph(view: LineageView) -> impl IntoView {
    let LineageView {
        product,
        product_name,
        direction,
        depth,
        expanded,
        nodes,
        edges,
        width,
        height,
        total,
        collapsed,
        truncated,
    } = view;
    let full = (0.0, 0.0, width.max(400.0), height.max(200.0));
    let view_box = RwSignal::new(full);
    let path_mode = RwSignal::new(false);
    let selected = RwSignal::new(Vec::<String>::new());
    let edges_for_path = edges.clone();
    let on_path = Memo::new(move |_| {
        let chosen = selected.get();
        match chosen.as_slice() {
            [a, b] => path_between(&edges_for_path, a, b),
            _ => HashSet::new(),
        }
    });
    let zoom = move |factor: f64| {
        view_box.update(|(x, y, w, h)| {
            let (cx, cy) = (*x + *w / 2.0, *y + *h / 2.0);
            *w = (*w * factor).clamp(100.0, full.2 * 4.0);
            *h = (*h * factor).clamp(60.0, full.3 * 4.0);
            *x = cx - *w / 2.0;
            *y = cy - *h / 2.0;
        });
    };
    let dragging = RwSignal::new(None::<(f64, f64)>);
    let svg_width = width.max(400.0);
    let directions = ["both", "down", "up"]
        .map(|d| view! { <option value=d selected=direction == d>{d}</option> });
    let depths = (1..=10u32)
        .map(|d| view! { <option value=d.to_string() selected=depth == d>{d}</option> })
        .collect_view();
    // A truncated traversal knows a lower bound of the lineage's size, not its size.
    let summary = format!(
        "{} shown of {}{total}{}{}",
        crate::words::counted(
            nodes.iter().filter(|n| n.kind != "more").count(),
            "node",
            "nodes"
        ),
        if truncated { "at least " } else { "" },
        if collapsed > 0 {
            format!(", {collapsed} behind “+N more”")
        } else {
            String::new()
        },
        if truncated {
            " (the lineage goes on past the traversal's limit)"
        } else {
            ""
        }
    );
    let expanded_note = (!expanded.is_empty()).then(|| {
        view! {
            <a rel="external" href=format!("/products/{product}/lineage?direction={direction}&depth={depth}")>
                "Collapse all"
            </a>
        }
    });
    let kinds: HashMap<String, String> = nodes
        .iter()
        .map(|n| (n.id.clone(), n.kind.clone()))
        .collect();
    let edge_views = edges
        .into_iter()
        .map(|edge| {
            let key = format!("{}→{}", edge.source, edge.target);
            let ends = format!(
                "from-{} to-{}",
                kinds.get(&edge.source).map_or("none", String::as_str),
                kinds.get(&edge.target).map_or("none", String::as_str)
            );
            let class = move || {
                let mut class = format!("lineage-edge edge-{} {ends}", edge.origin);
                if on_path.with(|p| p.contains(&key)) {
                    class.push_str(" on-path");
                }
                class
            };
            view! {
                <path
                    class=class
                    d=edge.path.clone()
                    data-source=edge.source.clone()
                    data-target=edge.target.clone()
                ></path>
            }
        })
        .collect_view();
    let node_views = nodes
        .into_iter()
        .map(|node| node_view(node, path_mode, selected, on_path))
        .collect_view();
    view! {
        <Title text=format!("Lineage of {product_name}")/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href=format!("/products/{product}") rel="external">{product_name.clone()}</a>
            " / lineage"
        </nav>
        <h1>"Lineage of " {product_name.clone()}</h1>
        <form class="inline-form lineage-controls" method="get" action=format!("/products/{product}/lineage")>
            <label>"Direction " <select name="direction">{directions}</select></label>
            <label>"Depth " <select name="depth">{depths}</select></label>
            <button type="submit">"Show"</button>
            {expanded_note}
        </form>
        <div class="lineage">
            <fieldset class="lineage-filters">
                <legend>"Show"</legend>
                <label><input type="checkbox" id="show-port" checked/> " topics"</label>
                <label><input type="checkbox" id="show-processor" checked/> " processors"</label>
                <label><input type="checkbox" id="show-consumer" checked/> " consumers"</label>
                <label class="js-only">
                    <input type="checkbox" prop:checked=move || path_mode.get() on:change=move |_| {
                        path_mode.update(|m| *m = !*m);
                        selected.set(Vec::new());
                    }/>
                    " path: click two nodes"
                </label>
                <span class="js-only muted" role="status">
                    {move || match (selected.with(Vec::len), on_path.with(HashSet::is_empty)) {
                        (2, true) => "no data flows between these two",
                        (1, _) => "now the second node",
                        _ => "",
                    }}
                </span>
                <span class="js-only zoom-buttons">
                    <button type="button" aria-label="Zoom in" on:click=move |_| zoom(0.8)>"+"</button>
                    <button type="button" aria-label="Zoom out" on:click=move |_| zoom(1.25)>"−"</button>
                    <button type="button" on:click=move |_| view_box.set(full)>"Fit to screen"</button>
                </span>
            </fieldset>
            <p class="muted" data-testid="lineage-summary">{summary}</p>
            <div class="lineage-canvas">
                // A group, not an image: its nodes are links the keyboard reaches.
                <svg
                    xmlns="http://www.w3.org/2000/svg"
                    role="group"
                    aria-label=format!("Lineage graph of {product_name}")
                    // Fit to the box by default: the whole graph scaled to its width;
                    // zoom and drag look closer.
                    width="100%"
                    preserveAspectRatio="xMinYMin meet"
                    viewBox=move || {
                        let (x, y, w, h) = view_box.get();
                        format!("{x:.0} {y:.0} {w:.0} {h:.0}")
                    }
                    on:wheel=move |ev: leptos::ev::WheelEvent| {
                        ev.prevent_default();
                        zoom(if ev.delta_y() > 0.0 { 1.1 } else { 0.9 });
                    }
                    on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                        dragging.set(Some((f64::from(ev.client_x()), f64::from(ev.client_y()))));
                    }
                    on:pointerup=move |_| dragging.set(None)
                    on:pointerleave=move |_| dragging.set(None)
                    on:pointermove=move |ev: leptos::ev::PointerEvent| {
                        if let Some((px, py)) = dragging.get_untracked() {
                            let (cx, cy) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
                            // Layout units per screen pixel, at the width the graph is drawn.
                            let drawn = ev
                                .current_target()
                                .map(|target| {
                                    use leptos::wasm_bindgen::JsCast;
                                    f64::from(target.unchecked_into::<web_sys::Element>().client_width())
                                })
                                .filter(|width| *width > 0.0)
                                .unwrap_or(svg_width);
                            let scale = view_box.get_untracked().2 / drawn;
                            view_box.update(|(x, y, _, _)| {
                                *x -= (cx - px) * scale;
                                *y -= (cy - py) * scale;
                            });
                            dragging.set(Some((cx, cy)));
                        }
                    }
                >
                    <defs>
                        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M 0 0 L 10 5 L 0 10 z"></path>
                        </marker>
                    </defs>
                    <g class="lineage-edges">{edge_views}</g>
                    <g class="lineage-nodes">{node_views}</g>
                </svg>
            </div>
        </div>
    }
}

fn node_view(
    node: NodeView,
    path_mode: RwSignal<bool>,
    selected: RwSignal<Vec<String>>,
    on_path: Memo<HashSet<String>>,
) -> impl IntoView {
    let id = node.id.clone();
    let class = {
        let id = id.clone();
        let base = format!(
            "lineage-node node-{}{}",
            node.kind,
            if node.root { " root" } else { "" }
        );
        move || {
            let mut class = base.clone();
            if selected.with(|s| s.contains(&id)) {
                class.push_str(" selected");
            }
            if on_path.with(|p| p.contains(&id)) {
                class.push_str(" on-path");
            }
            class
        }
    };
    // In path mode a node is picked by a click, or by Enter or Space where it has the focus
    // (a link's Enter is a click; a node without a link takes the focus only in path mode).
    let pick = {
        let id = id.clone();
        move || {
            selected.update(|s| {
                if s.len() == 2 {
                    s.clear();
                }
                if !s.contains(&id) {
                    s.push(id.clone());
                }
            })
        }
    };
    let choose = {
        let pick = pick.clone();
        move |ev: leptos::ev::MouseEvent| {
            if path_mode.get_untracked() {
                ev.prevent_default();
                pick();
            }
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if path_mode.get_untracked() && matches!(ev.key().as_str(), "Enter" | " ") {
            ev.prevent_default();
            pick();
        }
    };
    let picked = {
        let id = id.clone();
        move || {
            path_mode
                .get()
                .then(|| selected.with(|s| s.contains(&id)).to_string())
        }
    };
    let (x, y, w, h) = (node.x, node.y, node.w, node.h);
    let label = truncate(&node.label, if node.kind == "more" { 16 } else { 26 });
    // Topics differ at their end (…enriched-customer-signed-up.v1): keep the end.
    let sublabel = truncate_start(&node.sublabel, 30);
    let full = if node.full.is_empty() {
        format!("{} ({})", node.label, node.kind)
    } else {
        node.full.clone()
    };
    let body = view! {
        <rect x=x y=y width=w height=h rx="6"></rect>
        <text x=x + 10.0 y=y + 18.0 class="label">{label}</text>
        <text x=x + 10.0 y=y + 34.0 class="sublabel">{sublabel}</text>
        <title>{full.clone()}</title>
    };
    match node.href {
        Some(href) => view! {
            <g class=class data-node=id.clone() data-kind=node.kind.clone() on:click=choose>
                <a href=href rel="external" aria-label=full>{body}</a>
            </g>
        }
        .into_any(),
        None => view! {
            <g
                class=class
                data-node=id.clone()
                data-kind=node.kind.clone()
                on:click=choose
                on:keydown=on_key
                tabindex=move || path_mode.get().then_some("0")
                role=move || path_mode.get().then_some("button")
                aria-label=full
                aria-pressed=picked
            >
                {body}
            </g>
        }
        .into_any(),
    }
}

/// `text`, or its last `max - 1` characters after an ellipsis.
fn truncate_start(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        text.to_string()
    } else {
        let tail: String = text.chars().skip(count - max.saturating_sub(1)).collect();
        format!("…{tail}")
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// The upstream/downstream summary on a product page.
/// The lineage summary's data, made by the page outside its `<Transition>` (see
/// [`crate::pages::health::HealthData`]).
pub type LineageSummaryData = Resource<Result<LineageSummary, ApiError>>;

/// The nearest upstream and downstream of product `slug`, for [`LineageSummarySection`].
pub fn lineage_summary_data(slug: Signal<String>) -> LineageSummaryData {
    Resource::new_blocking(move || slug.get(), lineage_neighbours)
}

#[component]
pub fn LineageSummarySection(slug: String, summary: LineageSummaryData) -> impl IntoView {
    let href = format!("/products/{slug}/lineage");
    view! {
        <section class="catalog-section" aria-labelledby="lineage-heading">
            <h2 id="lineage-heading">"Lineage"</h2>
            <Transition fallback=|| ()>
                {move || {
                    summary
                        .get()
                        .map(|found| match found {
                            Ok(summary) => {
                                let list = |items: Vec<(String, Option<String>)>, total: usize| {
                                    if items.is_empty() {
                                        return view! { <span class="muted">"none"</span> }.into_any();
                                    }
                                    let more = total.saturating_sub(items.len());
                                    view! {
                                        <span class="chips">
                                        {items
                                            .into_iter()
                                            .map(|(name, product)| match product {
                                                Some(slug) => {
                                                    view! { <a class="tag" href=format!("/products/{slug}")>{name}</a> }
                                                        .into_any()
                                                }
                                                None => view! { <span class="tag">{name}</span> }.into_any(),
                                            })
                                            .collect_view()}
                                        </span>
                                        {(more > 0).then(|| view! { <span class="muted">{format!(" and {more} more")}</span> })}
                                    }
                                        .into_any()
                                };
                                view! {
                                    <dl class="facts" data-testid="lineage-summary">
                                        <dt>"Upstream"</dt>
                                        <dd>{list(summary.upstream, summary.upstream_total)}</dd>
                                        <dt>"Downstream"</dt>
                                        <dd>{list(summary.downstream, summary.downstream_total)}</dd>
                                    </dl>
                                }
                                    .into_any()
                            }
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
            <p><a href=href.clone() rel="external">"Open the lineage graph"</a></p>
        </section>
    }
}
