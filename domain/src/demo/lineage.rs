//! A synthetic lineage for benchmarks (`meshmart seed-demo --lineage-nodes N`): about N
//! observed (`openlineage`) nodes downstream of one demo product — wide near it (a job
//! writing hundreds of topics, a topic read by dozens of jobs), fanning out below, with
//! joins and a few cycles, every node within 10 hops of the product. The plan is
//! deterministic, and each run replaces the previous synthetic lineage, so the same N
//! always gives the same graph.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::db::Timestamp;
use crate::lineage::{self, LineageError};

/// The namespace of synthetic processors (`processor:synthetic/job-…`).
pub const PROCESSOR_NAMESPACE: &str = "synthetic";
/// The dataset namespace of synthetic topics.
pub const TOPIC_NAMESPACE: &str = "kafka://synthetic:9092";
/// The product the benchmark lineage grows from by default.
pub const DEFAULT_ROOT: &str = "customer-signed-up";

/// What [`generate`] created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The root product's topic the lineage grows from.
    pub root_topic: String,
    pub nodes: usize,
    pub edges: usize,
    /// Edges that close a cycle.
    pub cycles: usize,
    /// The most neighbours of one node.
    pub widest: usize,
}

/// A small deterministic generator (SplitMix64), so every run plans the same graph.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The planned graph: nodes (id, kind, name, namespace) and edges (source, target).
#[derive(Default)]
struct Plan {
    nodes: Vec<(String, &'static str, String, &'static str)>,
    edges: Vec<(String, String)>,
    cycles: usize,
}

/// One topic of the plan: node id, hops from the root, the topic it was computed from.
struct Topic {
    id: String,
    level: u32,
    parent: Option<usize>,
}

impl Plan {
    fn topic(&mut self, topics: &mut Vec<Topic>, level: u32, parent: usize) -> usize {
        let name = format!("synthetic.lineage.t{:05}", topics.len());
        let id = lineage::port_id(&name);
        self.nodes.push((id.clone(), "port", name, TOPIC_NAMESPACE));
        topics.push(Topic {
            id,
            level,
            parent: Some(parent),
        });
        topics.len() - 1
    }

    fn processor(&mut self, count: &mut usize) -> String {
        let name = format!("job-{:05}", *count);
        *count += 1;
        let id = lineage::processor_id(PROCESSOR_NAMESPACE, &name);
        self.nodes
            .push((id.clone(), "processor", name, PROCESSOR_NAMESPACE));
        id
    }
}

/// Plans about `nodes` nodes downstream of `root` (a port node id).
fn plan(root: &str, nodes: usize) -> Plan {
    // Topics a new job may read: at most 8 hops down, so its outputs stay within 10.
    const DEEPEST_SOURCE: u32 = 8;
    let mut mix = Mix(0x6c69_6e65_6167_6531);
    let mut plan = Plan::default();
    let mut topics = vec![Topic {
        id: root.to_string(),
        level: 0,
        parent: None,
    }];
    let mut jobs = 0;
    let left = |plan: &Plan| nodes.saturating_sub(plan.nodes.len());

    // Near the root, the big neighbourhoods a page must collapse: one job writing many
    // topics, and many jobs reading the root.
    let hub = plan.processor(&mut jobs);
    plan.edges.push((root.to_string(), hub.clone()));
    for _ in 0..(nodes / 10).clamp(1, 300).min(left(&plan)) {
        let topic = plan.topic(&mut topics, 2, 0);
        plan.edges.push((hub.clone(), topics[topic].id.clone()));
    }
    for _ in 0..(nodes / 33).clamp(1, 300) {
        if left(&plan) < 2 {
            break;
        }
        let job = plan.processor(&mut jobs);
        plan.edges.push((root.to_string(), job.clone()));
        let topic = plan.topic(&mut topics, 2, 0);
        plan.edges.push((job, topics[topic].id.clone()));
    }

    // Below: jobs reading a random shallow-enough topic, writing a few topics (now and
    // then a great many), sometimes joining a second input, a few writing back upstream.
    while left(&plan) >= 2 {
        let eligible: Vec<usize> = (0..topics.len())
            .filter(|&t| topics[t].level <= DEEPEST_SOURCE)
            .collect();
        let source = eligible[mix.below(eligible.len())];
        let job = plan.processor(&mut jobs);
        plan.edges.push((topics[source].id.clone(), job.clone()));
        if mix.below(100) < 15 {
            let other = eligible[mix.below(eligible.len())];
            if other != source {
                plan.edges.push((topics[other].id.clone(), job.clone()));
            }
        }
        let wide = mix.below(100) < 3;
        let outputs = if wide {
            50 + mix.below(251)
        } else {
            1 + mix.below(4)
        };
        let level = topics[source].level + 2;
        for _ in 0..outputs.min(left(&plan)) {
            let topic = plan.topic(&mut topics, level, source);
            plan.edges.push((job.clone(), topics[topic].id.clone()));
        }
        // A cycle: back into the topic this one was computed from (never the root).
        if jobs % 25 == 7 {
            let back = topics[source].parent.filter(|&p| p != 0).unwrap_or(source);
            if back != 0 {
                plan.edges.push((job.clone(), topics[back].id.clone()));
                plan.cycles += 1;
            }
        }
    }
    plan
}

/// Replaces the synthetic lineage with about `nodes` nodes downstream of the first output
/// port of product `slug`.
pub async fn generate(pool: &PgPool, slug: &str, nodes: usize) -> Result<Report, LineageError> {
    let root_topic = sqlx::query_scalar!(
        r#"select op.topic from output_ports op join products p on p.id = op.product_id
           where p.slug = $1 order by op.topic limit 1"#,
        slug,
    )
    .fetch_optional(pool)
    .await?
    .ok_or(LineageError::NotFound)?;
    let root = lineage::port_id(&root_topic);
    let plan = plan(&root, nodes);
    let widest = widest(&plan);

    let now = Utc::now();
    let seen = |i: usize| -> (DateTime<Utc>, DateTime<Utc>) {
        let first = now - Duration::days(1 + (i % 60) as i64);
        (first, now - Duration::minutes((i % 720) as i64))
    };
    let column = |f: fn(&(String, &'static str, String, &'static str)) -> String| {
        plan.nodes.iter().map(f).collect::<Vec<String>>()
    };
    let (node_first, node_last): (Vec<_>, Vec<_>) = (0..plan.nodes.len()).map(seen).unzip();
    let (edge_first, edge_last): (Vec<_>, Vec<_>) = (0..plan.edges.len()).map(seen).unzip();

    let mut tx = pool.begin().await?;
    // Edges go with their nodes (on delete cascade).
    sqlx::query!(
        "delete from lineage_nodes where namespace in ($1, $2)",
        PROCESSOR_NAMESPACE,
        TOPIC_NAMESPACE,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"insert into lineage_nodes (id, kind, name) values ($1, 'port', $2)
           on conflict (id) do nothing"#,
        root,
        root_topic,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"insert into lineage_nodes (id, kind, name, namespace, first_seen, last_seen)
           select * from unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                $5::timestamptz[], $6::timestamptz[])
           on conflict (id) do nothing"#,
        &column(|n| n.0.clone()),
        &column(|n| n.1.to_string()),
        &column(|n| n.2.clone()),
        &column(|n| n.3.to_string()),
        &node_first as &[Timestamp],
        &node_last as &[Timestamp],
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"insert into lineage_edges (source, target, origin, first_seen, last_seen)
           select source, target, 'openlineage', first_seen, last_seen
           from unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
                as e(source, target, first_seen, last_seen)
           on conflict on constraint lineage_edges_key do nothing"#,
        &plan.edges.iter().map(|e| e.0.clone()).collect::<Vec<_>>(),
        &plan.edges.iter().map(|e| e.1.clone()).collect::<Vec<_>>(),
        &edge_first as &[Timestamp],
        &edge_last as &[Timestamp],
    )
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        crate::audit::Event::new(
            &crate::audit::Actor::SeedDemo,
            "demo.synthetic-lineage",
            format!("product:{slug}"),
        )
        .after(serde_json::json!({ "nodes": plan.nodes.len(), "edges": plan.edges.len() })),
    )
    .await?;
    tx.commit().await?;
    Ok(Report {
        root_topic,
        nodes: plan.nodes.len(),
        edges: plan.edges.len(),
        cycles: plan.cycles,
        widest,
    })
}

fn widest(plan: &Plan) -> usize {
    let mut degree: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (source, target) in &plan.edges {
        *degree.entry(source.as_str()).or_default() += 1;
        *degree.entry(target.as_str()).or_default() += 1;
    }
    degree.into_values().max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineage::{Direction, EdgeSet, MAX_DEPTH};

    #[test]
    fn the_plan_is_connected_wide_cyclic_and_within_ten_hops() {
        let root = "port:customer-management.customer-signed-up.v1";
        let plan = plan(root, 2_000);
        assert!(
            (1_990..=2_000).contains(&plan.nodes.len()),
            "{}",
            plan.nodes.len()
        );
        assert!(plan.cycles >= 3, "{} cycles", plan.cycles);
        assert!(widest(&plan) >= 50, "widest {}", widest(&plan));
        let now = Utc::now();
        let mut set = EdgeSet::default();
        for (source, target) in &plan.edges {
            set.add(source, target, "openlineage", now, now);
        }
        let start = set.intern(root);
        let reached = set.walk(&[start], &[], Direction::Down, MAX_DEPTH, usize::MAX);
        assert_eq!(reached.depth.len(), plan.nodes.len() + 1, "all reachable");
        assert!(!reached.truncated, "all within {MAX_DEPTH} hops");
        let again = super::plan(root, 2_000);
        assert_eq!(again.edges, plan.edges, "deterministic");
    }

    #[sqlx::test(migrator = "crate::db::MIGRATOR")]
    async fn the_synthetic_lineage_is_walked_whole_and_replaced_on_rerun(pool: PgPool) {
        let document = crate::demo::catalog::contracts()
            .into_iter()
            .find(|d| d["dataProduct"] == DEFAULT_ROOT)
            .expect("demo root product");
        let contract = crate::contracts::Contract::from_document(document).expect("maps");
        let mut tx = pool.begin().await.expect("tx");
        crate::catalog::register(
            &mut tx,
            &crate::audit::Actor::Cli,
            &contract,
            &crate::catalog::RegisterOptions {
                may_create_domain: true,
                ..Default::default()
            },
        )
        .await
        .expect("root product");
        tx.commit().await.expect("commit");

        let report = generate(&pool, DEFAULT_ROOT, 2_000)
            .await
            .expect("generated");
        assert_eq!(
            report.root_topic,
            "customer-management.customer-signed-up.v1"
        );
        let again = generate(&pool, DEFAULT_ROOT, 2_000).await.expect("again");
        assert_eq!(again, report, "a rerun replaces, not adds");
        let started = std::time::Instant::now();
        let graph = lineage::graph(&pool, DEFAULT_ROOT, Direction::Both, MAX_DEPTH)
            .await
            .expect("graph");
        let took = started.elapsed();
        assert_eq!(graph.nodes.len(), report.nodes + 1, "{took:?}");
        assert!(!graph.truncated);
        assert!(graph.edges.len() >= report.edges);
        assert!(
            took < std::time::Duration::from_secs(2),
            "2,000 nodes in {took:?}"
        );
        assert!(matches!(
            generate(&pool, "no-such-product", 10).await,
            Err(LineageError::NotFound)
        ));
    }
}
