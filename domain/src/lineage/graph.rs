//! Walking the lineage graph. The edges — stored edges aggregated over their origins'
//! declarations, plus the subscription edges derived from live subscriptions — go into an
//! in-memory adjacency list, which is walked breadth-first with a visited set per
//! direction, so cycles end the walk instead of looping, bounded by depth and by a node
//! cap. A bounded walk loads only the neighbourhood it can reach, hop by hop (what the
//! product and lineage pages need does not grow with the catalog); the unbounded impact
//! walk loads every edge.
//!
//! A plain adjacency list over interned ids is all a bounded BFS needs; petgraph would add
//! a dependency and a conversion for no algorithm we use.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    Direction, Edge, Graph, Impact, ImpactedConsumer, ImpactedProcessor, ImpactedProduct,
    ImpactedSubscription, LineageError, MAX_DEPTH, MAX_NODES, Node, NodeKind, port_id,
};
use crate::contracts::Member;
use crate::db::Timestamp;
use crate::subscriptions::State;

/// Lineage edges (all of them, or the neighbourhood a walk can reach), indexed for walking.
#[derive(Clone, Debug, Default)]
pub struct EdgeSet {
    ids: Vec<String>,
    index: HashMap<String, usize>,
    edges: Vec<Stored>,
    outgoing: Vec<Vec<usize>>,
    incoming: Vec<Vec<usize>>,
    /// The team of each subscribing principal's consumer node, where it has one.
    teams: HashMap<String, String>,
}

/// An edge as queried, with the subscribing team of a subscription edge.
struct EdgeRow {
    source: String,
    target: String,
    origin: String,
    first_seen: Timestamp,
    last_seen: Timestamp,
    team: Option<String>,
}

/// One edge, its ends by node index.
#[derive(Clone, Debug)]
struct Stored {
    source: usize,
    target: usize,
    origin: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// What a walk reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reached {
    /// Node index → hops from the nearest root.
    pub depth: BTreeMap<usize, u32>,
    pub truncated: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Up,
    Down,
}

impl Way {
    /// The ways a walk in `direction` goes.
    fn of(direction: Direction) -> &'static [Way] {
        match direction {
            Direction::Up => &[Way::Up],
            Direction::Down => &[Way::Down],
            Direction::Both => &[Way::Up, Way::Down],
        }
    }
}

impl EdgeSet {
    /// Loads every stored and derived edge.
    pub async fn load(pool: &PgPool) -> Result<EdgeSet, sqlx::Error> {
        let rows = sqlx::query_as!(
            EdgeRow,
            r#"select source as "source!", target as "target!", origin as "origin!",
                      min(first_seen) as "first_seen!: Timestamp",
                      max(last_seen) as "last_seen!: Timestamp", null::text as team
               from lineage_edges group by source, target, origin
               union all
               select source, target, origin, first_seen, last_seen, team
               from lineage_subscription_edges"#,
        )
        .fetch_all(pool)
        .await?;
        let mut set = EdgeSet::default();
        for row in rows {
            set.add_row(row);
        }
        set.settle_order();
        Ok(set)
    }

    /// Loads the edges a walk from a product's ports (both ways as `direction` says) and
    /// from its processors (upstream only) can meet within `depth` hops: one query per hop,
    /// each for every edge touching the nodes first reached at that hop. Edges are loaded
    /// both ways round every reached node, so [`EdgeSet::edges_within`] and the walk's
    /// "stopped short" check see what they would in the whole set; the frontier only moves
    /// the way the walk does.
    pub(crate) async fn load_around(
        pool: &PgPool,
        from: &Roots,
        direction: Direction,
        depth: u32,
    ) -> Result<EdgeSet, sqlx::Error> {
        let (roots, upstream_roots) = (&from.ports, &from.processors);
        let ways = Way::of(direction);
        let (up, down) = (ways.contains(&Way::Up), ways.contains(&Way::Down));
        let mut up_frontier: Vec<String> = if up {
            roots.iter().chain(upstream_roots).cloned().collect()
        } else {
            Vec::new()
        };
        let mut down_frontier: Vec<String> = if down { roots.to_vec() } else { Vec::new() };
        let mut up_seen: HashSet<String> = up_frontier.iter().cloned().collect();
        let mut down_seen: HashSet<String> = down_frontier.iter().cloned().collect();
        let mut queried: HashSet<String> = HashSet::new();
        let mut loaded: HashSet<(String, String, String)> = HashSet::new();
        let mut set = EdgeSet::default();
        for _ in 0..=depth {
            if up_frontier.is_empty() && down_frontier.is_empty() {
                break;
            }
            // A node first reached both ways is in both frontiers; it is asked about once.
            let ask: Vec<&String> = up_frontier
                .iter()
                .chain(&down_frontier)
                .filter(|id| !queried.contains(*id))
                .collect();
            let rows = Self::touching(pool, &ask).await?;
            queried.extend(ask.into_iter().cloned());
            for row in rows {
                if loaded.insert((row.source.clone(), row.target.clone(), row.origin.clone())) {
                    set.add_row(row);
                }
            }
            let next = |frontier: &[String], seen: &mut HashSet<String>, way: Way| {
                let mut next = Vec::new();
                for id in frontier {
                    let Some(&node) = set.index.get(id) else {
                        continue;
                    };
                    for neighbour in set.neighbours(node, way) {
                        let neighbour = &set.ids[neighbour];
                        if seen.insert(neighbour.clone()) {
                            next.push(neighbour.clone());
                        }
                    }
                }
                next
            };
            up_frontier = next(&up_frontier, &mut up_seen, Way::Up);
            down_frontier = next(&down_frontier, &mut down_seen, Way::Down);
        }
        set.settle_order();
        Ok(set)
    }

    /// Every edge with an end among `ids`.
    async fn touching(pool: &PgPool, ids: &[&String]) -> Result<Vec<EdgeRow>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Each id's edges come from the source and target indexes, and the ids go through
        // `array(select unnest(..))` (see `details`): with `any($1)` the statement was
        // planned anew on every call (0.23 ms, nine times its execution), and a generic
        // plan for it scanned the whole table.
        sqlx::query_as!(
            EdgeRow,
            r#"select e.source as "source!", e.target as "target!", e.origin as "origin!",
                      min(e.first_seen) as "first_seen!: Timestamp",
                      max(e.last_seen) as "last_seen!: Timestamp", null::text as team
               from unnest(array(select unnest($1::text[]))) as i(id),
               lateral (select source, target, origin, first_seen, last_seen
                        from lineage_edges where source = i.id
                        union all
                        select source, target, origin, first_seen, last_seen
                        from lineage_edges where target = i.id) e
               group by e.source, e.target, e.origin
               union all
               select source, target, origin, first_seen, last_seen, team
               from lineage_subscription_edges
               where source = any(array(select unnest($1::text[])))
                  or target = any(array(select unnest($1::text[])))"#,
            ids as &[&String],
        )
        .fetch_all(pool)
        .await
    }

    /// Orders every node's edges by the node at their other end (then origin), so that a
    /// walk is the same whichever order the edges were loaded in: under a node cap, which
    /// nodes make it depends on the order neighbours are met.
    fn settle_order(&mut self) {
        let Self {
            ids,
            edges,
            outgoing,
            incoming,
            ..
        } = self;
        for list in outgoing.iter_mut() {
            list.sort_by(|&a, &b| {
                (&ids[edges[a].target], &edges[a].origin)
                    .cmp(&(&ids[edges[b].target], &edges[b].origin))
            });
        }
        for list in incoming.iter_mut() {
            list.sort_by(|&a, &b| {
                (&ids[edges[a].source], &edges[a].origin)
                    .cmp(&(&ids[edges[b].source], &edges[b].origin))
            });
        }
    }

    /// The index of a node, adding it (without edges) when it is new.
    pub fn intern(&mut self, id: &str) -> usize {
        if let Some(&index) = self.index.get(id) {
            return index;
        }
        let index = self.ids.len();
        self.ids.push(id.to_string());
        self.index.insert(id.to_string(), index);
        self.outgoing.push(Vec::new());
        self.incoming.push(Vec::new());
        index
    }

    /// Adds an edge (and its nodes).
    /// Adds a queried edge, and the subscribing team of a subscription edge.
    fn add_row(&mut self, row: EdgeRow) {
        if let Some(team) = row.team {
            self.teams.insert(row.target.clone(), team);
        }
        self.add(
            &row.source,
            &row.target,
            &row.origin,
            row.first_seen,
            row.last_seen,
        );
    }

    pub fn add(
        &mut self,
        source: &str,
        target: &str,
        origin: &str,
        first_seen: DateTime<Utc>,
        last_seen: DateTime<Utc>,
    ) {
        let from = self.intern(source);
        let to = self.intern(target);
        let edge = self.edges.len();
        self.edges.push(Stored {
            source: from,
            target: to,
            origin: origin.to_string(),
            first_seen,
            last_seen,
        });
        self.outgoing[from].push(edge);
        self.incoming[to].push(edge);
    }

    /// How many nodes have an edge (or were interned).
    pub fn node_count(&self) -> usize {
        self.ids.len()
    }

    fn neighbours(&self, node: usize, way: Way) -> impl Iterator<Item = usize> + '_ {
        let list = match way {
            Way::Up => &self.incoming[node],
            Way::Down => &self.outgoing[node],
        };
        list.iter().map(move |&edge| match way {
            Way::Up => self.edges[edge].source,
            Way::Down => self.edges[edge].target,
        })
    }

    /// Breadth-first from `roots` (walked in `direction`) and `upstream_roots` (walked up
    /// only: a product's own job leads to its inputs, not to the other products it writes),
    /// at most `max_depth` hops and `max_nodes` nodes. Each direction keeps its own visited
    /// set, so a cycle is walked once.
    pub(crate) fn walk(
        &self,
        roots: &[usize],
        upstream_roots: &[usize],
        direction: Direction,
        max_depth: u32,
        max_nodes: usize,
    ) -> Reached {
        let ways = Way::of(direction);
        let mut depth: BTreeMap<usize, u32> = BTreeMap::new();
        let mut visited = [
            vec![false; self.ids.len()], // up
            vec![false; self.ids.len()], // down
        ];
        let slot = |way: Way| usize::from(way == Way::Down);
        let mut queue = VecDeque::new();
        let mut truncated = false;
        for &root in roots.iter().chain(upstream_roots) {
            if depth.len() >= max_nodes && !depth.contains_key(&root) {
                truncated = true;
                continue;
            }
            depth.insert(root, 0);
        }
        for &root in roots {
            for &way in ways {
                if depth.contains_key(&root) && !visited[slot(way)][root] {
                    visited[slot(way)][root] = true;
                    queue.push_back((root, way, 0_u32));
                }
            }
        }
        if ways.contains(&Way::Up) {
            for &root in upstream_roots {
                if depth.contains_key(&root) && !visited[slot(Way::Up)][root] {
                    visited[slot(Way::Up)][root] = true;
                    queue.push_back((root, Way::Up, 0));
                }
            }
        }
        while let Some((node, way, hops)) = queue.pop_front() {
            if hops >= max_depth {
                if self
                    .neighbours(node, way)
                    .any(|next| !depth.contains_key(&next))
                {
                    truncated = true;
                }
                continue;
            }
            for next in self.neighbours(node, way) {
                if visited[slot(way)][next] {
                    continue;
                }
                if !depth.contains_key(&next) {
                    if depth.len() >= max_nodes {
                        truncated = true;
                        continue;
                    }
                    // Breadth-first: the first visit is the nearest.
                    depth.insert(next, hops + 1);
                }
                visited[slot(way)][next] = true;
                queue.push_back((next, way, hops + 1));
            }
        }
        Reached { depth, truncated }
    }

    /// Every edge whose ends were both reached, as graph edges.
    fn edges_within(&self, reached: &BTreeMap<usize, u32>) -> Vec<Edge> {
        let mut edges: Vec<Edge> = reached
            .keys()
            .flat_map(|&node| self.outgoing[node].iter())
            .map(|&edge| &self.edges[edge])
            .filter(|edge| reached.contains_key(&edge.target))
            .map(|edge| Edge {
                source: self.ids[edge.source].clone(),
                target: self.ids[edge.target].clone(),
                origin: edge.origin.clone(),
                first_seen: edge.first_seen,
                last_seen: edge.last_seen,
            })
            .collect();
        edges.sort_by(|a, b| {
            (&a.source, &a.target, &a.origin).cmp(&(&b.source, &b.target, &b.origin))
        });
        edges
    }
}

/// A product's ports and the processors its contract declares, as node ids: where its
/// walks start.
pub(crate) struct Roots {
    ports: Vec<String>,
    processors: Vec<String>,
}

async fn roots_of(pool: &PgPool, slug: &str) -> Result<Roots, LineageError> {
    let Some(row) = sqlx::query!(
        r#"select array(select topic from output_ports where product_id = p.id
                        order by topic) as "topics!",
                  array(select distinct source from lineage_edges
                        where product_id = p.id and origin = 'contract'
                          and source like 'processor:%'
                        order by source) as "processors!"
           from products p where p.slug = $1"#,
        slug,
    )
    .fetch_optional(pool)
    .await?
    else {
        return Err(LineageError::NotFound);
    };
    Ok(Roots {
        ports: row.topics.iter().map(|topic| port_id(topic)).collect(),
        processors: row.processors,
    })
}

/// Names, kinds and products of the reached nodes.
struct Details {
    nodes: HashMap<String, (NodeKind, String, String, Option<String>)>,
    products: HashMap<String, (String, String, String)>,
}

async fn details(pool: &PgPool, ids: &[String]) -> Result<Details, sqlx::Error> {
    // One statement for both: the stored node, and for a port the product whose output it
    // is. The ids go through `array(select unnest(..))`, so the planner cannot count them:
    // given the array itself it planned the statement anew for every call (a short array
    // promised a cheaper plan than the generic one) and spent about 0.2 ms, ten times the
    // execution. Each id is looked up on its own (`offset 0` keeps the lateral subqueries
    // from being flattened into joins): as joins, the generic plan hashed the whole of
    // `lineage_nodes` for a handful of ids.
    let rows = sqlx::query!(
        r#"select i.id as "id!", n.kind as "kind?", n.name as "name?",
                  n.namespace as "namespace?", n.domain,
                  p.slug as "slug?", p.name as "product_name?", p.domain as "product_domain?"
           from unnest(array(select unnest($1::text[]))) as i(id)
           left join lateral (select kind, name, namespace, domain from lineage_nodes
                              where id = i.id offset 0) n on true
           left join lateral (select p.slug, p.name, p.domain
                              from output_ports op join products p on p.id = op.product_id
                              where i.id like 'port:%' and op.topic = substr(i.id, 6)
                              offset 0) p on true"#,
        ids,
    )
    .fetch_all(pool)
    .await?;
    let mut found = Details {
        nodes: HashMap::with_capacity(rows.len()),
        products: HashMap::new(),
    };
    for row in rows {
        if let (Some(slug), Some(name), Some(domain), Some(topic)) = (
            row.slug,
            row.product_name,
            row.product_domain,
            row.id.strip_prefix("port:"),
        ) {
            found
                .products
                .insert(topic.to_string(), (slug, name, domain));
        }
        let (Some(kind), Some(name), Some(namespace)) = (row.kind, row.name, row.namespace) else {
            continue;
        };
        if let Some(kind) = NodeKind::of_id(&row.id).filter(|k| k.as_str() == kind) {
            found
                .nodes
                .insert(row.id, (kind, name, namespace, row.domain));
        }
    }
    Ok(found)
}

impl Details {
    fn node(&self, set: &EdgeSet, id: &str, root: bool, depth: u32) -> Node {
        let (prefix, rest) = id.split_once(':').unwrap_or(("", id));
        let stored = self.nodes.get(id);
        let kind = stored
            .map(|(kind, ..)| *kind)
            .or_else(|| NodeKind::of_id(id))
            .unwrap_or(NodeKind::Processor);
        let name = stored
            .map(|(_, name, ..)| name.clone())
            .unwrap_or_else(|| match prefix {
                "processor" => rest.rsplit('/').next().unwrap_or(rest).to_string(),
                _ => rest.to_string(),
            });
        let product = (kind == NodeKind::Port)
            .then(|| self.products.get(rest))
            .flatten();
        let domain = match kind {
            NodeKind::Port => product.map(|(_, _, domain)| domain.clone()),
            NodeKind::Processor => stored.and_then(|(.., domain)| domain.clone()),
            NodeKind::Consumer => set.teams.get(id).cloned(),
        };
        Node {
            id: id.to_string(),
            kind,
            name,
            product: product.map(|(slug, ..)| slug.clone()),
            product_name: product.map(|(_, name, _)| name.clone()),
            domain,
            root,
            depth,
        }
    }
}

/// The lineage around a product: its ports and its contract's processor, and what lies
/// `depth` hops up, down or both ways from them (at most [`MAX_DEPTH`], [`MAX_NODES`]).
#[tracing::instrument(skip(pool))]
pub async fn graph(
    pool: &PgPool,
    slug: &str,
    direction: Direction,
    depth: u32,
) -> Result<Graph, LineageError> {
    graph_with_limit(pool, slug, direction, depth, MAX_NODES).await
}

/// [`graph`] with another node cap.
pub async fn graph_with_limit(
    pool: &PgPool,
    slug: &str,
    direction: Direction,
    depth: u32,
    max_nodes: usize,
) -> Result<Graph, LineageError> {
    if depth > MAX_DEPTH {
        return Err(LineageError::BadParameter {
            parameter: "depth",
            message: format!("must be 0 to {MAX_DEPTH}"),
        });
    }
    let roots = roots_of(pool, slug).await?;
    let mut set = EdgeSet::load_around(pool, &roots, direction, depth).await?;
    walked(pool, &mut set, &roots, direction, depth, max_nodes).await
}

/// What lies `depth` hops upstream of a product and what lies `depth` hops downstream,
/// from one load of the neighbourhood both ways (the product page's summary asks for both).
#[tracing::instrument(skip(pool))]
pub async fn up_and_down(
    pool: &PgPool,
    slug: &str,
    depth: u32,
) -> Result<(Graph, Graph), LineageError> {
    if depth > MAX_DEPTH {
        return Err(LineageError::BadParameter {
            parameter: "depth",
            message: format!("must be 0 to {MAX_DEPTH}"),
        });
    }
    let roots = roots_of(pool, slug).await?;
    // The neighbourhood both ways holds what each one-way walk reaches, and the edges
    // around it; the nodes of both walks are described by one read.
    let mut set = EdgeSet::load_around(pool, &roots, Direction::Both, depth).await?;
    let up = Walk::new(&mut set, &roots, Direction::Up, depth, MAX_NODES);
    let down = Walk::new(&mut set, &roots, Direction::Down, depth, MAX_NODES);
    let ids: BTreeSet<String> = up
        .reached
        .depth
        .keys()
        .chain(down.reached.depth.keys())
        .map(|&i| set.ids[i].clone())
        .collect();
    let details = details(pool, &ids.into_iter().collect::<Vec<_>>()).await?;
    Ok((up.graph(&set, &details), down.graph(&set, &details)))
}

/// The graph a walk over `set` reaches from a product's ports and processors (interned
/// into `set` when they have no edge).
async fn walked(
    pool: &PgPool,
    set: &mut EdgeSet,
    roots: &Roots,
    direction: Direction,
    depth: u32,
    max_nodes: usize,
) -> Result<Graph, LineageError> {
    let walk = Walk::new(set, roots, direction, depth, max_nodes);
    let ids: Vec<String> = walk
        .reached
        .depth
        .keys()
        .map(|&i| set.ids[i].clone())
        .collect();
    let details = details(pool, &ids).await?;
    Ok(walk.graph(set, &details))
}

/// What one walk from a product's roots reached.
struct Walk {
    roots: Vec<usize>,
    upstream_roots: Vec<usize>,
    reached: Reached,
}

impl Walk {
    fn new(set: &mut EdgeSet, from: &Roots, direction: Direction, depth: u32, cap: usize) -> Walk {
        let roots: Vec<usize> = from.ports.iter().map(|id| set.intern(id)).collect();
        let upstream_roots: Vec<usize> = from.processors.iter().map(|id| set.intern(id)).collect();
        let reached = set.walk(&roots, &upstream_roots, direction, depth, cap.max(1));
        Walk {
            roots,
            upstream_roots,
            reached,
        }
    }

    /// The walk's nodes, described by `details`, and the edges between them.
    fn graph(&self, set: &EdgeSet, details: &Details) -> Graph {
        let mut nodes: Vec<Node> = self
            .reached
            .depth
            .iter()
            .map(|(&index, &hops)| {
                let root = self.roots.contains(&index) || self.upstream_roots.contains(&index);
                details.node(set, &set.ids[index], root, hops)
            })
            .collect();
        nodes.sort_by(|a, b| (a.depth, &a.id).cmp(&(b.depth, &b.id)));
        Graph {
            edges: set.edges_within(&self.reached.depth),
            nodes,
            truncated: self.reached.truncated,
        }
    }
}

/// Everything downstream of a product, however far: products with their owners,
/// processors, consumers, and the subscriptions reading its ports or any downstream port.
#[tracing::instrument(skip(pool))]
pub async fn impact(pool: &PgPool, slug: &str) -> Result<Impact, LineageError> {
    let Roots { ports, .. } = roots_of(pool, slug).await?;
    let mut set = EdgeSet::load(pool).await?;
    let roots: Vec<usize> = ports.iter().map(|id| set.intern(id)).collect();
    let reached = set.walk(&roots, &[], Direction::Down, u32::MAX, usize::MAX);
    let ids: Vec<String> = reached.depth.keys().map(|&i| set.ids[i].clone()).collect();
    let details = details(pool, &ids).await?;

    let mut products: BTreeMap<String, (u32, String, String)> = BTreeMap::new();
    let mut processors = Vec::new();
    let mut consumers = Vec::new();
    let mut topics = Vec::new();
    let mut downstream_topics = Vec::new();
    for (&index, &hops) in &reached.depth {
        let id = &set.ids[index];
        let node = details.node(&set, id, hops == 0, hops);
        match node.kind {
            NodeKind::Port => {
                let topic = id.strip_prefix("port:").unwrap_or(id).to_string();
                downstream_topics.push(topic.clone());
                match (node.product, node.product_name, node.domain) {
                    (Some(product), _, _) if product == slug => {}
                    (Some(product), Some(name), Some(domain)) => {
                        let entry = products.entry(product).or_insert((hops, name, domain));
                        entry.0 = entry.0.min(hops);
                    }
                    _ => topics.push(topic),
                }
            }
            NodeKind::Processor => processors.push(ImpactedProcessor {
                namespace: details
                    .nodes
                    .get(id)
                    .map(|(_, _, namespace, _)| namespace.clone())
                    .unwrap_or_default(),
                id: node.id,
                name: node.name,
                depth: hops,
            }),
            NodeKind::Consumer => consumers.push(ImpactedConsumer {
                principal: node.name,
                team: node.domain,
                depth: hops,
            }),
        }
    }
    let slugs: Vec<&String> = products.keys().collect();
    let owners: HashMap<String, Vec<String>> = sqlx::query!(
        "select slug, team from products where slug = any($1)",
        &slugs as &[&String],
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| {
        let members: Vec<Member> = serde_json::from_value(row.team).unwrap_or_default();
        (row.slug, members.into_iter().map(|m| m.username).collect())
    })
    .collect();
    let mut products: Vec<ImpactedProduct> = products
        .into_iter()
        .map(|(slug, (depth, name, domain))| ImpactedProduct {
            owners: owners.get(&slug).cloned().unwrap_or_default(),
            slug,
            name,
            domain,
            depth,
        })
        .collect();
    products.sort_by(|a, b| (a.depth, &a.slug).cmp(&(b.depth, &b.slug)));
    processors.sort_by(|a, b| (a.depth, &a.id).cmp(&(b.depth, &b.id)));
    consumers.sort_by(|a, b| (a.depth, &a.principal).cmp(&(b.depth, &b.principal)));

    let subscriptions = sqlx::query_as!(
        ImpactedSubscription,
        r#"select s.id, p.slug as product,
                  array(select sp.topic from subscription_ports sp
                        where sp.subscription_id = s.id order by sp.topic) as "topics!",
                  s.principal, s.team, u.email as requested_by, s.state as "state: State"
           from subscriptions s
           join products p on p.id = s.product_id
           join users u on u.id = s.requested_by
           where s.state in ('approved', 'provisioning', 'active')
             and exists (select 1 from subscription_ports sp
                         where sp.subscription_id = s.id and sp.topic = any($1))
           order by p.slug, s.principal"#,
        &downstream_topics,
    )
    .fetch_all(pool)
    .await?;
    Ok(Impact {
        product: slug.to_string(),
        products,
        processors,
        consumers,
        topics,
        subscriptions,
    })
}

#[cfg(test)]
mod tests {
    /// A subscription edge is last seen "now", which differs between two queries.
    fn settled(mut graph: Graph) -> Graph {
        for edge in &mut graph.edges {
            if edge.origin == "subscription" {
                edge.last_seen = DateTime::<Utc>::MIN_UTC;
            }
        }
        graph
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn a_walk_over_the_loaded_neighbourhood_sees_what_one_over_every_edge_does(
        pool: sqlx::PgPool,
    ) {
        crate::demo::seed(&pool, false).await.expect("demo");
        // A few hundred nodes with fan-out and cycles, downstream of customer-signed-up.
        crate::demo::lineage::generate(&pool, "customer-signed-up", 300)
            .await
            .expect("synthetic lineage");
        for slug in ["customer-signed-up", "enriched-customer-signed-up"] {
            for depth in [1, 2, 3] {
                let (up, down) = up_and_down(&pool, slug, depth).await.expect("both ways");
                let alone = |direction| graph(&pool, slug, direction, depth);
                assert_eq!(
                    settled(up),
                    settled(alone(Direction::Up).await.expect("up"))
                );
                assert_eq!(
                    settled(down),
                    settled(alone(Direction::Down).await.expect("down"))
                );
            }
            let roots = super::roots_of(&pool, slug).await.expect("roots");
            for direction in [Direction::Up, Direction::Down, Direction::Both] {
                for (depth, cap) in [
                    (0, MAX_NODES),
                    (1, MAX_NODES),
                    (2, MAX_NODES),
                    (4, 40),
                    (10, MAX_NODES),
                ] {
                    let near = EdgeSet::load_around(&pool, &roots, direction, depth)
                        .await
                        .expect("neighbourhood");
                    let every = EdgeSet::load(&pool).await.expect("every edge");
                    assert!(near.edges.len() <= every.edges.len());
                    let (mut near, mut every) = (near, every);
                    let walk = |set| walked(&pool, set, &roots, direction, depth, cap);
                    let near = settled(walk(&mut near).await.expect("near"));
                    let every = settled(walk(&mut every).await.expect("every"));
                    assert!(!near.nodes.is_empty());
                    assert_eq!(near, every, "{slug} {direction:?} depth {depth} cap {cap}");
                }
            }
        }
    }

    use super::*;

    fn set(edges: &[(&str, &str)]) -> EdgeSet {
        let now = Utc::now();
        let mut set = EdgeSet::default();
        for (source, target) in edges {
            set.add(source, target, "openlineage", now, now);
        }
        set
    }

    fn depths(set: &EdgeSet, reached: &Reached) -> Vec<(String, u32)> {
        reached
            .depth
            .iter()
            .map(|(&i, &d)| (set.ids[i].clone(), d))
            .collect()
    }

    #[test]
    fn cycles_in_observed_lineage_end_the_walk() {
        // a → p → b → q → a, plus a self-feeding job r on b.
        let mut set = set(&[
            ("port:a", "processor:x/p"),
            ("processor:x/p", "port:b"),
            ("port:b", "processor:x/q"),
            ("processor:x/q", "port:a"),
            ("port:b", "processor:x/r"),
            ("processor:x/r", "port:b"),
        ]);
        let root = set.intern("port:a");
        let started = std::time::Instant::now();
        let reached = set.walk(&[root], &[], Direction::Both, MAX_DEPTH, MAX_NODES);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(reached.depth.len(), 5);
        assert!(!reached.truncated, "everything was reached");
        assert_eq!(reached.depth[&root], 0);
        assert_eq!(set.edges_within(&reached.depth).len(), 6);
        let down = set.walk(&[root], &[], Direction::Down, MAX_DEPTH, MAX_NODES);
        assert_eq!(
            depths(&set, &down),
            vec![
                ("port:a".to_string(), 0),
                ("processor:x/p".to_string(), 1),
                ("port:b".to_string(), 2),
                ("processor:x/q".to_string(), 3),
                ("processor:x/r".to_string(), 3),
            ]
        );
    }

    #[test]
    fn depth_and_node_cap_truncation_are_reported() {
        // A chain a → p1 → t1 → p2 → t2 → … and a fan-out of 20 from a.
        let mut edges: Vec<(String, String)> = Vec::new();
        let mut previous = "port:a".to_string();
        for i in 1..=4 {
            let job = format!("processor:x/p{i}");
            let topic = format!("port:t{i}");
            edges.push((previous.clone(), job.clone()));
            edges.push((job, topic.clone()));
            previous = topic;
        }
        for i in 0..20 {
            edges.push(("port:a".to_string(), format!("processor:fan/{i}")));
        }
        let pairs: Vec<(&str, &str)> = edges
            .iter()
            .map(|(s, t)| (s.as_str(), t.as_str()))
            .collect();
        let mut set = set(&pairs);
        let root = set.intern("port:a");

        let shallow = set.walk(&[root], &[], Direction::Down, 2, MAX_NODES);
        assert!(shallow.truncated, "the chain goes deeper than 2");
        assert_eq!(shallow.depth.values().max(), Some(&2));
        let deep = set.walk(&[root], &[], Direction::Down, MAX_DEPTH, MAX_NODES);
        assert!(!deep.truncated);
        assert_eq!(deep.depth.len(), 1 + 8 + 20);

        let capped = set.walk(&[root], &[], Direction::Down, MAX_DEPTH, 10);
        assert!(capped.truncated, "the cap cut it short");
        assert_eq!(capped.depth.len(), 10);
        let up = set.walk(&[root], &[], Direction::Up, MAX_DEPTH, MAX_NODES);
        assert!(!up.truncated && up.depth.len() == 1, "nothing is upstream");
    }

    #[test]
    fn a_products_own_job_leads_upstream_only() {
        // in → job → mine, job → sibling: the sibling is not downstream of `mine`.
        let mut set = set(&[
            ("port:in", "processor:contract/job"),
            ("processor:contract/job", "port:mine"),
            ("processor:contract/job", "port:sibling"),
            ("port:mine", "consumer:User:x"),
        ]);
        let mine = set.intern("port:mine");
        let job = set.intern("processor:contract/job");
        let down = set.walk(&[mine], &[job], Direction::Down, 3, MAX_NODES);
        let found = depths(&set, &down);
        assert!(
            found.contains(&("consumer:User:x".to_string(), 1)),
            "{found:?}"
        );
        assert!(
            !found.iter().any(|(id, _)| id == "port:sibling"),
            "{found:?}"
        );
        let up = set.walk(&[mine], &[job], Direction::Up, 3, MAX_NODES);
        assert!(
            depths(&set, &up).contains(&("port:in".to_string(), 1)),
            "the job is a root, its input one hop away"
        );
    }
}
