//! The ports by topic a consumer judges records against, with their schema cache: rebuilt
//! when the catalog changes, and judging one record.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::health::store::{self, CheckedPort};
use domain::health::{FastMap, Incoming, Judged, PortCheck, Wanted};
use domain::registry::ParsedSchema;
use sqlx::PgPool;
use tokio::runtime::Handle;

use super::{MAX_LABELLED_PRODUCTS, lock};

/// Schema ids remembered (found or not) between refreshes.
const MAX_CACHED_SCHEMAS: usize = 10_000;

/// Ports by topic, with the schema cache they share.
pub(super) struct Ports {
    pub(super) by_topic: FastMap<Arc<str>, PortCheck>,
    pub(super) loaded: HashMap<Arc<str>, CheckedPort>,
    pub(super) schemas: HashMap<u32, Option<ParsedSchema>>,
    /// When each topic's subject ids were last read again for an unexpected id.
    pub(super) reread: HashMap<Arc<str>, Instant>,
}

/// Rebuilds the port checkers whose contract or subject changed; keeps the others (and
/// their windows) as they are.
pub(super) fn refresh(
    ports: &mut Ports,
    loaded: &[CheckedPort],
    max_record_bytes: usize,
    labels: &Mutex<HashMap<uuid::Uuid, (String, String)>>,
) {
    let mut seen = HashSet::new();
    let mut names = lock(labels);
    for port in loaded {
        let topic: Arc<str> = Arc::from(port.quality.topic.as_str());
        seen.insert(Arc::clone(&topic));
        let unchanged = ports
            .loaded
            .get(&topic)
            .is_some_and(|old| old.port_id == port.port_id && old.quality == port.quality);
        if unchanged {
            if let Some(check) = ports.by_topic.get_mut(&topic) {
                check.subject_ids = port.subject_ids.clone();
            }
        } else {
            ports.by_topic.insert(
                Arc::clone(&topic),
                PortCheck::new(
                    port.port_id,
                    &port.quality,
                    port.subject_ids.clone(),
                    max_record_bytes,
                ),
            );
        }
        if names.len() < MAX_LABELLED_PRODUCTS || names.contains_key(&port.port_id) {
            names.insert(port.port_id, (port.product.clone(), port.domain.clone()));
        }
        ports.loaded.insert(topic, port.clone());
    }
    ports.by_topic.retain(|topic, _| seen.contains(topic));
    ports.loaded.retain(|topic, _| seen.contains(topic));
    if ports.schemas.len() > MAX_CACHED_SCHEMAS {
        ports.schemas.clear();
    }
    // Ids not found before may have been registered since.
    ports.schemas.retain(|_, schema| schema.is_some());
}

/// Judges a record, reading a schema id it has not seen from the registry, and the
/// subject's ids again when a record names one outside them (a version registered since
/// the last refresh), at most once a second per topic. `None` for a topic no port has.
pub(super) fn judge(
    pool: &PgPool,
    handle: &Handle,
    ports: &mut Ports,
    topic: &Arc<str>,
    record: &Incoming<'_>,
    now: DateTime<Utc>,
    wanted: Wanted,
) -> Option<Judged> {
    let id = record
        .payload
        .and_then(|bytes| domain::quality::wire::split(bytes).ok())
        .map(|(id, _)| id);
    if let Some(id) = id {
        if !ports.schemas.contains_key(&id) && ports.schemas.len() < MAX_CACHED_SCHEMAS * 2 {
            let schema = handle
                .block_on(domain::registry::stored_schema(pool, id as i32))
                .ok();
            ports.schemas.insert(id, schema);
        }
        let outside = ports
            .by_topic
            .get(topic)
            .is_some_and(|port| !port.subject_ids.contains(&id));
        let due = || {
            ports
                .reread
                .get(topic)
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        };
        if outside && due() && matches!(ports.schemas.get(&id), Some(Some(_))) {
            ports.reread.insert(Arc::clone(topic), Instant::now());
            if let Ok(ids) = handle.block_on(store::subject_ids(pool, topic))
                && let Some(port) = ports.by_topic.get_mut(topic)
            {
                port.subject_ids = ids;
            }
        }
    }
    let schemas = &ports.schemas;
    let lookup = |id: u32| schemas.get(&id).cloned().flatten();
    ports
        .by_topic
        .get_mut(topic)
        .map(|port| port.judge(record, now, &lookup, wanted))
}
