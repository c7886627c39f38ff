//! Search benchmark (`make bench`): the catalog in `DATABASE_URL` (100,000 synthetic products
//! plus the demo catalog) searched by Tantivy and, side by side in the same run, by a
//! PostgreSQL full-text baseline (weighted tsvector + GIN + ts_rank) over the same products.
//! Reports build times, p50/p99 latency per engine and query category, QPS with 1 and 2
//! threads, and nDCG@10 on the labelled query set in `bench/search/judgments.tsv`.
//!
//! The baseline gets the same words (camelCase split, English stemming) and the same
//! filters as SQL predicates, and answers what the search API answers, in one statement:
//! the top 10 by ts_rank, the total, and facet counts (domain, status, tag, format, owner).
//! It runs in two variants:
//! - **same features**: what the search box promises, built the way PostgreSQL's manual
//!   suggests (pg_trgm, "Text Search Integration"): a word missing from the lexicon is
//!   replaced by its closest lexicon words by trigram similarity, the word being typed
//!   matches as a prefix (`:*`), and when all words find nothing, any word is enough;
//! - **plain**: `plainto_tsquery` of the words — no typo tolerance, no prefixes, no
//!   fallback — which answers a different, easier question, reported for comparison.
//!
//! Tantivy answers through `SearchIndex::search` as the API does: the top 10, the total,
//! six facet dimensions, highlights and (for empty results) a spelling suggestion.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::search::{FilterKey, SearchIndex, SearchRequest, feed};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

type Error = Box<dyn std::error::Error + Send + Sync>;
/// Judged queries with the grade of each relevant product.
type Judgments = Vec<(String, HashMap<String, u32>)>;

/// How long each throughput run lasts.
const QPS_WINDOW: Duration = Duration::from_secs(5);
/// Timed passes over the query set per engine.
const ROUNDS: usize = 3;

struct Query {
    category: String,
    text: String,
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Error> {
    let url =
        std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL to the bench database")?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let queries = read_queries(&root.join("bench/search/queries.tsv"))?;
    let judgments = read_judgments(&root.join("bench/search/judgments.tsv"))?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await?;
    let products: i64 = sqlx::query_scalar!(r#"select count(*) as "count!" from products"#)
        .fetch_one(&pool)
        .await?;
    println!(
        "catalog: {products} products; {} queries; {} judged queries\n",
        queries.len(),
        judgments.len()
    );

    // Builds.
    let dir = std::env::temp_dir().join(format!("meshmart-bench-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (index, _) = SearchIndex::open(&dir)?;
    let index = Arc::new(index);
    let report = feed::rebuild(&index, &pool).await?;
    let tantivy_build = report.elapsed;
    let started = Instant::now();
    build_baseline(&pool).await?;
    let baseline_build = started.elapsed();
    println!(
        "index build: Tantivy {:.1} s (read from PostgreSQL + index + commit, {} docs); PostgreSQL baseline {:.1} s (tsvector table + GIN)\n",
        tantivy_build.as_secs_f64(),
        report.updated,
        baseline_build.as_secs_f64()
    );

    // Warm every engine, then time every query ROUNDS times.
    for query in &queries {
        tantivy(&index, &query.text, 10)?;
        for variant in Variant::ALL {
            baseline(&pool, query, 10, variant).await?;
        }
    }
    let mut slowest: HashMap<String, Duration> = HashMap::new();
    let mut tantivy_times: HashMap<String, Vec<Duration>> = HashMap::new();
    let mut baseline_times: [HashMap<String, Vec<Duration>>; 2] = Default::default();
    // Each round times every query on one engine, then on the next, so none runs with
    // another's work in its caches.
    for _ in 0..ROUNDS {
        for query in &queries {
            let started = Instant::now();
            tantivy(&index, &query.text, 10)?;
            let t = started.elapsed();
            let worst = slowest.entry(query.text.clone()).or_default();
            *worst = (*worst).max(t);
            record(&mut tantivy_times, &query.category, t);
        }
        for (variant, times) in Variant::ALL.into_iter().zip(&mut baseline_times) {
            for query in &queries {
                let started = Instant::now();
                baseline(&pool, query, 10, variant).await?;
                record(times, &query.category, started.elapsed());
            }
        }
    }
    println!("latency per query (ms), {ROUNDS} rounds over the query set:\n");
    println!(
        "| queries | n | Tantivy p50 | Tantivy p99 | PostgreSQL, same features p50 / p99 | p50 speed-up | PostgreSQL, plain p50 / p99 | p50 speed-up |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut categories: Vec<&String> = tantivy_times.keys().collect();
    categories.sort_by_key(|c| (c.as_str() != "all", c.to_string()));
    for category in categories {
        let t = &tantivy_times[category];
        let (t50, t99) = (percentile(t, 0.50), percentile(t, 0.99));
        let mut row = format!(
            "| {category} | {} | {:.2} | {:.2} |",
            t.len() / ROUNDS,
            ms(t50),
            ms(t99)
        );
        for times in &baseline_times {
            let b = &times[category];
            let (b50, b99) = (percentile(b, 0.50), percentile(b, 0.99));
            row.push_str(&format!(
                " {:.1} / {:.1} | {:.0}× |",
                ms(b50),
                ms(b99),
                b50.as_secs_f64() / t50.as_secs_f64().max(1e-9)
            ));
        }
        println!("{row}");
    }

    let mut slowest: Vec<(String, Duration)> = slowest.into_iter().collect();
    slowest.sort_by_key(|q| std::cmp::Reverse(q.1));
    let slowest: Vec<String> = slowest
        .iter()
        .take(6)
        .map(|(q, t)| format!("`{q}` {:.1} ms", ms(*t)))
        .collect();
    println!(
        "\nslowest Tantivy queries (worst of {ROUNDS}): {}",
        slowest.join(", ")
    );

    // Throughput.
    println!(
        "\nthroughput (queries/s over {} s, cycling through the query set):\n",
        QPS_WINDOW.as_secs()
    );
    println!("| threads | Tantivy | PostgreSQL, same features | PostgreSQL, plain |");
    println!("|---:|---:|---:|---:|");
    let queries = Arc::new(queries);
    for threads in [1, 2] {
        let t = tantivy_qps(&index, &queries, threads)?;
        let same = baseline_qps(&pool, &queries, threads, Variant::SameFeatures).await?;
        let plain = baseline_qps(&pool, &queries, threads, Variant::Plain).await?;
        println!("| {threads} | {t:.0} | {same:.0} | {plain:.0} |");
    }

    // Relevance.
    let mut tantivy_ndcg = Vec::new();
    let mut baseline_ndcg: [Vec<f64>; 2] = Default::default();
    for (text, grades) in &judgments {
        let query = Query {
            category: "judged".to_string(),
            text: text.clone(),
        };
        tantivy_ndcg.push(ndcg(&tantivy(&index, text, 10)?, grades));
        for (variant, scores) in Variant::ALL.into_iter().zip(&mut baseline_ndcg) {
            scores.push(ndcg(&baseline(&pool, &query, 10, variant).await?, grades));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "\nnDCG@10 over {} judged queries: Tantivy {:.3}, PostgreSQL same features {:.3}, PostgreSQL plain {:.3}",
        judgments.len(),
        mean(&tantivy_ndcg),
        mean(&baseline_ndcg[0]),
        mean(&baseline_ndcg[1])
    );
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn record(times: &mut HashMap<String, Vec<Duration>>, category: &str, time: Duration) {
    times.entry(category.to_string()).or_default().push(time);
    times.entry("all".to_string()).or_default().push(time);
}

fn tantivy(index: &SearchIndex, q: &str, limit: usize) -> Result<Vec<String>, Error> {
    let results = index.search(&SearchRequest {
        q: q.to_string(),
        limit,
        ..SearchRequest::default()
    })?;
    Ok(results.hits.iter().map(|h| h.slug.clone()).collect())
}

fn tantivy_qps(
    index: &Arc<SearchIndex>,
    queries: &Arc<Vec<Query>>,
    threads: usize,
) -> Result<f64, Error> {
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (index, queries, done, stop) =
                (index.clone(), queries.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = t * 7;
                while !stop.load(Ordering::Relaxed) {
                    let _ = tantivy(&index, &queries[i % queries.len()].text, 10);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(QPS_WINDOW);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    Ok(done.load(Ordering::Relaxed) as f64 / QPS_WINDOW.as_secs_f64())
}

async fn baseline_qps(
    pool: &PgPool,
    queries: &Arc<Vec<Query>>,
    threads: usize,
    variant: Variant,
) -> Result<f64, Error> {
    let deadline = Instant::now() + QPS_WINDOW;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..threads {
        let (pool, queries) = (pool.clone(), queries.clone());
        tasks.spawn(async move {
            let mut done = 0usize;
            let mut i = t * 7;
            while Instant::now() < deadline {
                let _ = baseline(&pool, &queries[i % queries.len()], 10, variant).await;
                done += 1;
                i += 1;
            }
            done
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done?;
    }
    Ok(total as f64 / QPS_WINDOW.as_secs_f64())
}

/// The baseline table: one weighted tsvector per product (name A; topics, event types and
/// field names B; domain, tags and owners C; descriptions D), camelCase split as for
/// Tantivy, with a GIN index; filters get their own columns.
async fn build_baseline(pool: &PgPool) -> Result<(), Error> {
    sqlx::raw_sql(
        r#"
        create or replace function search_baseline_split(text) returns text language sql immutable as
          $$ select regexp_replace(regexp_replace($1, '([a-z0-9])([A-Z])', '\1 \2', 'g'), '[^[:alnum:]]+', ' ', 'g') $$;
        drop table if exists search_baseline;
        create table search_baseline as
        select p.slug, p.name, p.domain, p.status, array(select lower(t) from unnest(p.tags) t) as tags,
               array(select distinct o.format from output_ports o where o.product_id = p.id) as formats,
               array(select lower(m->>'username') from jsonb_array_elements(p.team) m
                     where m->>'username' is not null) as owners,
               coalesce(array(select lower(regexp_replace(f->>'name', '[^[:alnum:]]', '', 'g'))
                              from output_ports o, jsonb_array_elements(o.fields) f
                              where o.product_id = p.id), '{}') as fields,
               setweight(to_tsvector('english', search_baseline_split(p.name)), 'A') ||
               setweight(to_tsvector('english', coalesce((
                   select string_agg(search_baseline_split(o.topic) || ' ' || search_baseline_split(o.event_type) || ' ' ||
                          coalesce((select string_agg(search_baseline_split(f->>'name'), ' ')
                                    from jsonb_array_elements(o.fields) f), ''), ' ')
                   from output_ports o where o.product_id = p.id), '')), 'B') ||
               setweight(to_tsvector('english', search_baseline_split(p.domain) || ' ' || array_to_string(p.tags, ' ') || ' ' ||
                   coalesce((select string_agg(m->>'name' || ' ' || coalesce(m->>'username', ''), ' ')
                             from jsonb_array_elements(p.team) m), '')), 'C') ||
               setweight(to_tsvector('english', p.description || ' ' || coalesce((
                   select string_agg(coalesce(o.description, '') || ' ' ||
                          coalesce((select string_agg(coalesce(f->>'description', ''), ' ')
                                    from jsonb_array_elements(o.fields) f), ''), ' ')
                   from output_ports o where o.product_id = p.id), '')), 'D') as document
        from products p;
        create index search_baseline_document on search_baseline using gin (document);
        create index search_baseline_domain on search_baseline (domain);
        create index search_baseline_tags on search_baseline using gin (tags);
        create index search_baseline_fields on search_baseline using gin (fields);
        analyze search_baseline;
        create extension if not exists pg_trgm;
        drop table if exists search_baseline_words;
        create table search_baseline_words as
            select word from ts_stat('select document from search_baseline');
        create index search_baseline_words_word on search_baseline_words (word);
        create index search_baseline_words_trgm on search_baseline_words using gin (word gin_trgm_ops);
        analyze search_baseline_words;
        "#,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Which baseline answers.
#[derive(Clone, Copy)]
enum Variant {
    SameFeatures,
    Plain,
}

impl Variant {
    const ALL: [Variant; 2] = [Variant::SameFeatures, Variant::Plain];
}

/// The baseline's answer: the query's words (camelCase split) as a tsquery, its filters as
/// predicates, ranked by ts_rank, with the total and facet counts.
async fn baseline(
    pool: &PgPool,
    query: &Query,
    limit: i64,
    variant: Variant,
) -> Result<Vec<String>, Error> {
    let parsed = domain::search::parse(&query.text)?;
    let mut words: Vec<String> = parsed.words.clone();
    words.extend(parsed.phrases.iter().flatten().cloned());
    let (top, _total) = match variant {
        Variant::Plain => {
            let text = words.join(" ");
            let tsquery = (!text.is_empty()).then_some(TsQuery::Plain(text));
            ranked(pool, &parsed, tsquery, limit).await?
        }
        Variant::SameFeatures => {
            let prefix = parsed.prefix_last && !parsed.words.is_empty();
            let last = parsed.words.len().saturating_sub(1);
            let alternatives = resolve(pool, &words).await?;
            let terms: Vec<String> = alternatives
                .iter()
                .enumerate()
                .filter(|(_, lexemes)| !lexemes.is_empty())
                .map(|(i, lexemes)| {
                    let star = if prefix && i == last { ":*" } else { "" };
                    let any: Vec<String> = lexemes
                        .iter()
                        .map(|l| format!("{}{star}", quote(l)))
                        .collect();
                    format!("({})", any.join(" | "))
                })
                .collect();
            let tsquery =
                |joiner: &str| (!terms.is_empty()).then(|| TsQuery::Lexemes(terms.join(joiner)));
            let found = ranked(pool, &parsed, tsquery(" & "), limit).await?;
            if found.1 == 0 && terms.len() > 1 {
                ranked(pool, &parsed, tsquery(" | "), limit).await?
            } else {
                found
            }
        }
    };
    Ok(top)
}

/// Per query word, the lexemes it searches for: its own stems when the catalog has them,
/// else the catalog's words closest to it by trigram similarity (none for stop words).
async fn resolve(pool: &PgPool, words: &[String]) -> Result<Vec<Vec<String>>, Error> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    // Not compile-checked: `search_baseline_words` is the benchmark's own table, built by
    // this run (`build_baseline`), not part of the migrations' schema.
    let rows = sqlx::query(
        r#"
        select t.i,
               case when s.stems = '{}' then '{}'::text[]
                    when exists (select 1 from search_baseline_words w where w.word = any(s.stems)) then s.stems
                    else coalesce(nullif(array(select w.word from search_baseline_words w
                                               where w.word % t.word
                                               order by similarity(w.word, t.word) desc, w.word limit 8), '{}'),
                                  s.stems)
               end as lexemes
        from unnest($1::text[]) with ordinality as t(word, i),
             lateral (select array(select lexeme from unnest(to_tsvector('english', t.word))) as stems) s
        order by t.i
        "#,
    )
    .bind(words)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<Vec<String>, _>("lexemes")?))
        .collect()
}

/// A tsquery for the baseline: words for `plainto_tsquery`, or tsquery syntax over lexemes.
enum TsQuery {
    Plain(String),
    Lexemes(String),
}

/// `text` as a quoted tsquery lexeme.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The top slugs and the total for `tsquery` (none matches everything)
/// under the query's filters, with facet counts, in one statement.
async fn ranked(
    pool: &PgPool,
    parsed: &domain::search::ParsedQuery,
    tsquery: Option<TsQuery>,
    limit: i64,
) -> Result<(Vec<String>, i64), Error> {
    let mut sql = QueryBuilder::<Postgres>::new(
        "with m as (select slug, name, domain, status, tags, formats, owners, ",
    );
    match tsquery {
        None => sql.push("0::real as rank from search_baseline where true"),
        Some(TsQuery::Plain(words)) => sql
            .push("ts_rank(document, q) as rank from search_baseline, plainto_tsquery('english', ")
            .push_bind(words)
            .push(") q where document @@ q"),
        Some(TsQuery::Lexemes(lexemes)) => sql
            .push("ts_rank(document, q) as rank from search_baseline, to_tsquery('simple', ")
            .push_bind(lexemes)
            .push(") q where document @@ q"),
    };
    push_filters(&mut sql, parsed);
    sql.push(
        r#")
        select (select coalesce(json_agg(slug), '[]') from (select slug from m order by rank desc, lower(name) limit "#,
    )
    .push_bind(limit)
    .push(
        r#") top) as top,
               (select count(*) from m) as total,
               (select json_agg(f) from (select domain, count(*) from m group by 1 order by 2 desc limit 20) f) as domains,
               (select json_agg(f) from (select status, count(*) from m group by 1 order by 2 desc) f) as statuses,
               (select json_agg(f) from (select t, count(*) from m, unnest(m.tags) t group by 1 order by 2 desc limit 20) f) as tags,
               (select json_agg(f) from (select t, count(*) from m, unnest(m.formats) t group by 1 order by 2 desc) f) as formats,
               (select json_agg(f) from (select t, count(*) from m, unnest(m.owners) t group by 1 order by 2 desc limit 20) f) as owners"#,
    );
    let row = sql.build().fetch_one(pool).await?;
    let top: sqlx::types::Json<Vec<String>> = row.try_get("top")?;
    let total: i64 = row.try_get("total")?;
    Ok((top.0, total))
}

fn push_filters(sql: &mut QueryBuilder<'_, Postgres>, parsed: &domain::search::ParsedQuery) {
    for key in FilterKey::ALL {
        let values: Vec<String> = parsed.values(key).map(str::to_string).collect();
        if values.is_empty() {
            continue;
        }
        match key {
            FilterKey::Domain => sql.push(" and domain = any(").push_bind(values).push(")"),
            FilterKey::Status => sql.push(" and status = any(").push_bind(values).push(")"),
            FilterKey::Tag => sql.push(" and tags && ").push_bind(values),
            FilterKey::Field => sql.push(" and fields && ").push_bind(values),
            // Owners, formats, tiers, topics, classes: not in the benchmark's query set.
            _ => sql,
        };
    }
}

fn ndcg(ranked: &[String], grades: &HashMap<String, u32>) -> f64 {
    let gain = |g: u32| f64::from((1u32 << g) - 1);
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, slug)| gain(*grades.get(slug).unwrap_or(&0)) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<u32> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, g)| gain(*g) / (i as f64 + 2.0).log2())
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let i = ((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn read_queries(path: &std::path::Path) -> Result<Vec<Query>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once('\t'))
        .map(|(category, text)| Query {
            category: category.to_string(),
            text: text.to_string(),
        })
        .collect())
}

fn read_judgments(path: &std::path::Path) -> Result<Judgments, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut judged: Judgments = Vec::new();
    for line in text.lines().skip(1) {
        let mut parts = line.split('\t');
        let (Some(query), Some(slug), Some(grade)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let grade: u32 = grade.trim().parse()?;
        match judged.iter_mut().find(|(q, _)| q == query) {
            Some((_, grades)) => {
                grades.insert(slug.to_string(), grade);
            }
            None => judged.push((
                query.to_string(),
                HashMap::from([(slug.to_string(), grade)]),
            )),
        }
    }
    Ok(judged)
}
