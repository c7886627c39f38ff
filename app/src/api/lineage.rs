//! Server functions for lineage in the browser: the laid-out graph of
//! `/products/{slug}/lineage` and the small upstream/downstream summary on the product page.
//!
//! The graph is laid out on the server with `rust-sugiyama` (layered, Sugiyama method), left
//! to right, so the page is plain SVG that works without JavaScript. Big neighbourhoods
//! start collapsed: a node with more than [`NEIGHBOURHOOD_LIMIT`] hidden neighbours on its
//! side shows a "+N more" node instead, which expands it (`?expand=<node id>`, repeatable).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::ApiError;
#[cfg(feature = "ssr")]
use domain::policy::Permission;

/// Neighbours a node shows before its neighbourhood is collapsed.
pub const NEIGHBOURHOOD_LIMIT: usize = 12;
/// The most nodes one page lays out (the rest stays collapsed).
pub const VISIBLE_LIMIT: usize = 400;

/// A node as drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    pub id: String,
    /// `port`, `processor`, `consumer`, or `more` for a collapsed neighbourhood.
    pub kind: String,
    pub label: String,
    pub sublabel: String,
    /// What hovering or focusing the node tells in full ("CustomerSignedUp — topic …").
    #[serde(default)]
    pub full: String,
    /// Where clicking goes: the product's lineage, or (for `more`) the expanded page.
    pub href: Option<String>,
    pub root: bool,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// An edge as drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeView {
    pub source: String,
    pub target: String,
    /// `contract`, `subscription`, `openlineage`, or `more`.
    pub origin: String,
    /// SVG path data, from the source's right side to the target's left side.
    pub path: String,
}

/// A laid-out lineage page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineageView {
    pub product: String,
    pub product_name: String,
    pub direction: String,
    pub depth: u32,
    pub expanded: Vec<String>,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    pub width: f64,
    pub height: f64,
    /// Nodes in the lineage (within the depth), shown or not.
    pub total: usize,
    /// Nodes behind "+N more" nodes.
    pub collapsed: usize,
    /// The traversal stopped at its node cap.
    pub truncated: bool,
}

/// Upstream and downstream neighbours of a product, for its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageSummary {
    pub upstream: Vec<(String, Option<String>)>,
    pub downstream: Vec<(String, Option<String>)>,
    pub upstream_total: usize,
    pub downstream_total: usize,
}

#[cfg(feature = "ssr")]
pub mod layout {
    //! Choosing what is visible (collapsing big neighbourhoods) and laying it out.

    use std::collections::{BTreeSet, HashMap, VecDeque};

    use domain::lineage::{Graph, NodeKind};

    use super::*;

    const NODE_W: f64 = 190.0;
    const NODE_H: f64 = 44.0;
    const MORE_W: f64 = 120.0;
    const LAYER_GAP: f64 = 90.0;
    const MARGIN: f64 = 20.0;

    fn kind_name(kind: NodeKind) -> &'static str {
        match kind {
            NodeKind::Port => "port",
            NodeKind::Processor => "processor",
            NodeKind::Consumer => "consumer",
        }
    }

    /// Which way a visible node grows: away from the roots.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Side {
        Root,
        Up,
        Down,
    }

    struct Visible {
        shown: Vec<String>,
        /// (node whose neighbourhood is collapsed, how many, downstream, expandable)
        more: Vec<(String, usize, bool, bool)>,
    }

    fn choose(graph: &Graph, expanded: &BTreeSet<String>, limit: usize) -> Visible {
        let mut outgoing: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut incoming: HashMap<&str, Vec<&str>> = HashMap::new();
        for edge in &graph.edges {
            outgoing.entry(&edge.source).or_default().push(&edge.target);
            incoming.entry(&edge.target).or_default().push(&edge.source);
        }
        let mut side: HashMap<&str, Side> = HashMap::new();
        let mut queue = VecDeque::new();
        let mut shown = Vec::new();
        for node in graph.nodes.iter().filter(|n| n.root) {
            side.insert(&node.id, Side::Root);
            queue.push_back(node.id.as_str());
            shown.push(node.id.clone());
        }
        let mut more = Vec::new();
        while let Some(id) = queue.pop_front() {
            let here = side.get(id).copied().unwrap_or(Side::Root);
            let mut directions = Vec::new();
            if matches!(here, Side::Root | Side::Down) {
                directions.push((Side::Down, outgoing.get(id)));
            }
            if matches!(here, Side::Root | Side::Up) {
                directions.push((Side::Up, incoming.get(id)));
            }
            for (next_side, neighbours) in directions {
                let Some(neighbours) = neighbours else {
                    continue;
                };
                let hidden: Vec<&str> = neighbours
                    .iter()
                    .copied()
                    .filter(|n| !side.contains_key(n))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if hidden.is_empty() {
                    continue;
                }
                let room = VISIBLE_LIMIT.saturating_sub(shown.len());
                if hidden.len() > limit && !expanded.contains(id) {
                    more.push((id.to_string(), hidden.len(), next_side == Side::Down, true));
                    continue;
                }
                // Expanded (or small) but over the page's limit: as many as fit, and the
                // rest as a count that cannot be expanded further on this page.
                let fits = hidden.len().min(room);
                if fits < hidden.len() {
                    more.push((
                        id.to_string(),
                        hidden.len() - fits,
                        next_side == Side::Down,
                        false,
                    ));
                }
                for n in hidden.into_iter().take(fits) {
                    side.insert(n, next_side);
                    shown.push(n.to_string());
                    queue.push_back(n);
                }
            }
        }
        Visible { shown, more }
    }

    /// The visible part of `graph`, laid out left to right.
    pub fn view(
        graph: &Graph,
        product: &str,
        product_name: &str,
        direction: &str,
        depth: u32,
        expanded: &BTreeSet<String>,
        running: &HashMap<String, (String, String)>,
    ) -> Result<LineageView, String> {
        let visible = choose(graph, expanded, NEIGHBOURHOOD_LIMIT);
        let by_id: HashMap<&str, &domain::lineage::Node> =
            graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let expanded_list: Vec<String> = expanded.iter().cloned().collect();
        let expand_href = |id: &str| {
            let mut all = expanded_list.clone();
            all.push(id.to_string());
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("direction", direction)
                .append_pair("depth", &depth.to_string())
                .extend_pairs(all.iter().map(|e| ("expand", e.as_str())))
                .finish();
            format!("/products/{product}/lineage?{query}")
        };

        // Vertices: shown nodes, then one "+N more" per collapsed neighbourhood.
        let mut nodes: Vec<NodeView> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        for id in &visible.shown {
            let Some(node) = by_id.get(id.as_str()) else {
                continue;
            };
            let mut href = node
                .product
                .as_ref()
                .map(|slug| format!("/products/{slug}/lineage"));
            // A product's port reads as the product (topics look alike once cut short);
            // the topic is the second line, in full on hover and focus.
            let (label, mut sublabel, full) = match (node.kind, &node.product_name) {
                (NodeKind::Port, Some(name)) => (
                    name.clone(),
                    node.name.clone(),
                    format!("{name} — topic {}", node.name),
                ),
                (NodeKind::Port, None) => (
                    node.name.clone(),
                    "topic".to_string(),
                    format!("topic {}", node.name),
                ),
                (NodeKind::Processor, _) => (
                    node.name.clone(),
                    "processor".to_string(),
                    format!("processor {}", node.name),
                ),
                (NodeKind::Consumer, _) => (
                    node.name.clone(),
                    "consumer".to_string(),
                    format!("consumer {}", node.name),
                ),
            };
            // A processor Meshmart runs: its state and rate, and its page.
            if let Some((status, page)) = running.get(id.as_str()) {
                sublabel = status.clone();
                href = Some(page.clone());
            }
            index.insert(id.clone(), nodes.len() as u32);
            nodes.push(NodeView {
                id: id.clone(),
                kind: kind_name(node.kind).to_string(),
                label,
                sublabel,
                full,
                href,
                root: node.root,
                x: 0.0,
                y: 0.0,
                w: NODE_W,
                h: NODE_H,
            });
        }
        let shown: BTreeSet<&str> = visible.shown.iter().map(String::as_str).collect();
        // One edge per pair of nodes: a declared edge that runs also show as observed (a
        // node Meshmart runs reports OpenLineage events) is drawn once, as declared.
        let mut drawn: HashMap<(&str, &str), usize> = HashMap::new();
        let mut edges: Vec<EdgeView> = Vec::new();
        for e in graph
            .edges
            .iter()
            .filter(|e| shown.contains(e.source.as_str()) && shown.contains(e.target.as_str()))
        {
            match drawn.get(&(e.source.as_str(), e.target.as_str())) {
                Some(&at) => {
                    if e.origin == "contract" {
                        edges[at].origin = e.origin.clone();
                    }
                }
                None => {
                    drawn.insert((e.source.as_str(), e.target.as_str()), edges.len());
                    edges.push(EdgeView {
                        source: e.source.clone(),
                        target: e.target.clone(),
                        origin: e.origin.clone(),
                        path: String::new(),
                    });
                }
            }
        }
        let mut collapsed = 0;
        for (owner, count, downstream, expandable) in &visible.more {
            collapsed += count;
            let id = format!("more:{owner}:{}", if *downstream { "down" } else { "up" });
            index.insert(id.clone(), nodes.len() as u32);
            nodes.push(NodeView {
                id: id.clone(),
                kind: "more".to_string(),
                label: format!("+{count} more"),
                sublabel: if !expandable {
                    "page limit reached"
                } else if *downstream {
                    "downstream"
                } else {
                    "upstream"
                }
                .to_string(),
                full: format!("{count} more nodes, collapsed"),
                href: expandable.then(|| expand_href(owner)),
                root: false,
                x: 0.0,
                y: 0.0,
                w: MORE_W,
                h: NODE_H,
            });
            let (source, target) = if *downstream {
                (owner.clone(), id)
            } else {
                (id, owner.clone())
            };
            edges.push(EdgeView {
                source,
                target,
                origin: "more".to_string(),
                path: String::new(),
            });
        }

        // rust-sugiyama lays out top to bottom; sizes are given turned by 90° and the
        // coordinates turned back, for a left-to-right graph.
        let vertices: Vec<(u32, (f64, f64))> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, (n.h, n.w)))
            .collect();
        let pairs: Vec<(u32, u32)> = edges
            .iter()
            .filter_map(|e| Some((*index.get(&e.source)?, *index.get(&e.target)?)))
            .filter(|(a, b)| a != b)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let config = rust_sugiyama::configure::Config {
            vertex_spacing: 24.0,
            transpose: nodes.len() <= 150,
            ..Default::default()
        };
        let layouts = std::panic::catch_unwind(|| {
            rust_sugiyama::from_vertices_and_edges(&vertices, &pairs, &config)
        })
        .map_err(|_| "the layout engine failed on this graph".to_string())?;

        // Components are stacked below each other.
        let mut offset_y = MARGIN;
        let mut width: f64 = 0.0;
        for (positions, _, _) in layouts {
            // The engine's x runs along a layer (our vertical), its y across layers.
            let (mut min_x, mut max_x, mut min_y) = (f64::MAX, f64::MIN, f64::MAX);
            for (_, (x, y)) in &positions {
                min_x = min_x.min(*x);
                max_x = max_x.max(*x);
                min_y = min_y.min(*y);
            }
            // Layers (the engine's y) become columns.
            let layers: BTreeSet<i64> = positions
                .iter()
                .map(|(_, (_, y))| (*y - min_y).round() as i64)
                .collect();
            let columns: HashMap<i64, f64> = layers
                .iter()
                .enumerate()
                .map(|(i, layer)| (*layer, MARGIN + i as f64 * (NODE_W + LAYER_GAP)))
                .collect();
            for (i, (x, y)) in positions {
                let Some(node) = nodes.get_mut(i) else {
                    continue;
                };
                let layer = (y - min_y).round() as i64;
                node.x = columns.get(&layer).copied().unwrap_or(MARGIN);
                node.y = offset_y + (x - min_x);
                width = width.max(node.x + node.w);
            }
            offset_y += (max_x - min_x) + NODE_H + 40.0;
        }
        let height = nodes.iter().map(|n| n.y + n.h).fold(0.0_f64, f64::max) + MARGIN;
        let centre: HashMap<&str, (f64, f64, f64, f64)> = nodes
            .iter()
            .map(|n| (n.id.as_str(), (n.x, n.y, n.w, n.h)))
            .collect();
        for edge in &mut edges {
            let (Some(a), Some(b)) = (
                centre.get(edge.source.as_str()),
                centre.get(edge.target.as_str()),
            ) else {
                continue;
            };
            let (x1, y1) = (a.0 + a.2, a.1 + a.3 / 2.0);
            let (x2, y2) = (b.0, b.1 + b.3 / 2.0);
            let bend = ((x2 - x1).abs() / 2.0).max(30.0);
            edge.path = format!(
                "M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}",
                x1 + bend,
                x2 - bend
            );
        }
        Ok(LineageView {
            product: product.to_string(),
            product_name: product_name.to_string(),
            direction: direction.to_string(),
            depth,
            expanded: expanded_list,
            nodes,
            edges,
            width: width + MARGIN,
            height,
            total: graph.nodes.len(),
            collapsed,
            truncated: graph.truncated,
        })
    }
}

/// The laid-out lineage of `slug`: `direction` up, down or both (default both), `depth`
/// 1–10 (default 3), `expand` the node ids whose neighbourhoods are opened (`|`-separated).
#[server(prefix = "/api/fn", endpoint = "lineage_graph")]
pub async fn lineage_graph(
    slug: String,
    direction: Option<String>,
    depth: Option<u32>,
    expand: Option<String>,
) -> Result<LineageView, ApiError> {
    use crate::ssr::{authorize, fail, internal, services, unprocessable};
    use domain::lineage::Direction;

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let pool = services()?.pool;
    let direction_name = direction
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "both".into());
    let parsed = match direction_name.as_str() {
        "up" => Direction::Up,
        "down" => Direction::Down,
        "both" => Direction::Both,
        _ => return Err(unprocessable("direction", "use up, down or both")),
    };
    let depth = depth.unwrap_or(3);
    if !(1..=10).contains(&depth) {
        return Err(unprocessable("depth", "between 1 and 10"));
    }
    let Some(detail) = domain::catalog::get(&pool, &slug).await.map_err(internal)? else {
        return Err(fail(http::StatusCode::NOT_FOUND, ApiError::NotFound));
    };
    let expanded: std::collections::BTreeSet<String> = expand
        .unwrap_or_default()
        .split('|')
        .filter(|e| !e.is_empty())
        .take(50)
        .map(str::to_string)
        .collect();
    let graph = domain::lineage::graph(&pool, &slug, parsed, depth)
        .await
        .map_err(crate::ssr::error)?;
    let name = detail.summary.name.clone();
    let running = running_nodes(&pool, &graph).await?;
    tokio::task::spawn_blocking(move || {
        layout::view(
            &graph,
            &slug,
            &name,
            &direction_name,
            depth,
            &expanded,
            &running,
        )
    })
    .await
    .map_err(internal)?
    .map_err(internal)
}

/// The processors of `graph` that are stream nodes Meshmart runs, by lineage node id: (what
/// the graph says under the name, e.g. "node · running · 2.0 records/s", the node's page).
#[cfg(feature = "ssr")]
async fn running_nodes(
    pool: &sqlx::PgPool,
    graph: &domain::lineage::Graph,
) -> Result<std::collections::HashMap<String, (String, String)>, ApiError> {
    use domain::lineage::{CONTRACT_NAMESPACE, NodeKind, processor_id};

    let names: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Processor)
        .filter(|n| n.id == processor_id(CONTRACT_NAMESPACE, &n.name))
        .map(|n| n.name.clone())
        .collect();
    if names.is_empty() {
        return Ok(Default::default());
    }
    let summaries = domain::nodes::summaries(pool, &names)
        .await
        .map_err(crate::ssr::internal)?;
    Ok(summaries
        .into_iter()
        .map(|(name, summary)| {
            let status = match summary.state.as_str() {
                "running" => format!("node · running · {:.1} records/s", summary.rate),
                other => format!("node · {other}"),
            };
            (
                processor_id(CONTRACT_NAMESPACE, &name),
                (status, format!("/nodes/{name}")),
            )
        })
        .collect())
}

/// The product's direct upstream and downstream neighbours (names, with product slugs).
#[server(prefix = "/api/fn", endpoint = "lineage_neighbours")]
pub async fn lineage_neighbours(slug: String) -> Result<LineageSummary, ApiError> {
    use crate::ssr::{authorize, services};
    use domain::lineage::NodeKind;

    authorize(domain::policy::GLOBAL, Permission::ReadCatalog).await?;
    let pool = services()?.pool;
    // Two hops (port → processor → port), so neighbouring products show, not only jobs.
    let (up, down) = domain::lineage::up_and_down(&pool, &slug, 2)
        .await
        .map_err(crate::ssr::error)?;
    let mut sides = Vec::with_capacity(2);
    for graph in [up, down] {
        let names: std::collections::BTreeSet<(String, Option<String>)> = graph
            .nodes
            .into_iter()
            .filter(|n| !n.root && n.kind != NodeKind::Processor)
            .map(|n| (n.name, n.product))
            .collect();
        sides.push(names.into_iter().collect::<Vec<_>>());
    }
    let downstream = sides.pop().unwrap_or_default();
    let upstream = sides.pop().unwrap_or_default();
    Ok(LineageSummary {
        upstream_total: upstream.len(),
        downstream_total: downstream.len(),
        upstream: upstream.into_iter().take(8).collect(),
        downstream: downstream.into_iter().take(8).collect(),
    })
}
