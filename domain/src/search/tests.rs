//! Ranking, filtering, facets and explanations on a small hand-made catalog, in memory.

use chrono::{TimeZone, Utc};

use super::*;

fn product(slug: &str, name: &str, domain: &str, description: &str, fields: &[&str]) -> ProductDoc {
    ProductDoc {
        slug: slug.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        domain: domain.to_string(),
        domain_name: text::split_words(domain),
        status: "active".to_string(),
        tags: vec!["gold".to_string()],
        owners: vec![Owner {
            username: format!("owner.{domain}@meshmart.local"),
            name: format!("{} Owner", text::split_words(domain)),
        }],
        classification: Some("internal".to_string()),
        sla_tier: Some("gold".to_string()),
        ports: vec![PortDoc {
            topic: format!("{domain}.{slug}.v1"),
            event_type: name.to_string(),
            format: "avro".to_string(),
            description: None,
            fields: fields
                .iter()
                .map(|f| FieldDoc {
                    name: (*f).to_string(),
                    description: None,
                })
                .collect(),
        }],
        subscribers: 0,
        updated_at: Utc
            .with_ymd_and_hms(2026, 11, 1, 12, 0, 0)
            .single()
            .unwrap_or_default(),
        health: "no_data".into(),
        health_changed_at: None,
    }
}

fn catalog() -> Vec<ProductDoc> {
    vec![
        product(
            "customer-signed-up",
            "CustomerSignedUp",
            "customer-management",
            "A customer completed sign-up.",
            &["customerID", "signupTimestamp", "sourceChannel"],
        ),
        product(
            "enriched-customer-signed-up",
            "EnrichedCustomerSignedUp",
            "customer-intelligence",
            "Sign-ups with geolocation and a risk score.",
            &[
                "customerID",
                "signupTimestamp",
                "signupRiskScore",
                "geolocation",
            ],
        ),
        product(
            "customer-profile-updated",
            "CustomerProfileUpdated",
            "customer-management",
            "A customer changed their profile; sign up data is not included.",
            &["customerID", "changedFields"],
        ),
        product(
            "order-placed",
            "OrderPlaced",
            "sales",
            "An order was placed by a customer.",
            &["orderID", "customerID", "totalValue"],
        ),
        product(
            "order-placed-daily-report",
            "DailyOrderReport",
            "finance",
            "Every order placed, order placed again, order placed totals per day: order placed.",
            &["day", "orderPlacedCount"],
        ),
        product(
            "shipment-dispatched",
            "ShipmentDispatched",
            "logistics",
            "A parcel left the warehouse.",
            &["shipmentID", "carrier"],
        ),
    ]
}

fn index_with(products: &[ProductDoc]) -> SearchIndex {
    let index = SearchIndex::in_memory().expect("index");
    index.apply(products, &[]).expect("indexed");
    index.mark_ready();
    index
}

fn search(index: &SearchIndex, q: &str) -> SearchResults {
    index
        .search(&SearchRequest {
            q: q.to_string(),
            limit: 10,
            ..SearchRequest::default()
        })
        .expect("search")
}

fn slugs(results: &SearchResults) -> Vec<&str> {
    results.hits.iter().map(|h| h.slug.as_str()).collect()
}

#[test]
fn a_misspelt_query_ranks_the_customer_signed_up_products_first() {
    let index = index_with(&catalog());
    let results = search(&index, "custmer signup");
    let top: Vec<&str> = slugs(&results).into_iter().take(2).collect();
    assert!(top.contains(&"customer-signed-up"), "{:?}", slugs(&results));
    assert!(
        top.contains(&"enriched-customer-signed-up"),
        "{:?}",
        slugs(&results)
    );
}

#[test]
fn an_exact_name_is_the_first_hit_even_against_a_noisy_description() {
    let index = index_with(&catalog());
    for q in [
        "OrderPlaced",
        "orderplaced",
        "order placed",
        "sales.order-placed.v1",
    ] {
        let results = search(&index, q);
        assert_eq!(
            slugs(&results).first(),
            Some(&"order-placed"),
            "{q}: {:?}",
            slugs(&results)
        );
    }
}

#[test]
fn field_filters_find_products_by_schema_field() {
    let index = index_with(&catalog());
    let results = search(&index, "field:signupRiskScore");
    assert_eq!(slugs(&results), vec!["enriched-customer-signed-up"]);
    let results = search(&index, "field:customerid domain:sales");
    assert_eq!(slugs(&results), vec!["order-placed"]);
    let results = search(&index, "owner:sales");
    assert_eq!(slugs(&results), vec!["order-placed"]);
    let results = search(&index, "owner:owner.logistics@meshmart.local");
    assert_eq!(slugs(&results), vec!["shipment-dispatched"]);
}

#[test]
fn the_word_being_typed_matches_as_a_prefix() {
    let index = index_with(&catalog());
    let results = search(&index, "shipm");
    assert_eq!(slugs(&results).first(), Some(&"shipment-dispatched"));
    let results = search(&index, "shipm ");
    assert!(results.hits.is_empty(), "a finished word is not a prefix");
}

#[test]
fn name_matches_rank_above_description_matches() {
    let index = index_with(&catalog());
    let results = search(&index, "profile");
    assert_eq!(slugs(&results).first(), Some(&"customer-profile-updated"));
    let results = search(&index, "warehouse parcel");
    assert_eq!(slugs(&results), vec!["shipment-dispatched"]);
}

#[test]
fn active_products_rank_above_deprecated_ones_and_subscribers_help_mildly() {
    let mut products = vec![
        product("a-deprecated", "ParcelTracked", "logistics", "", &[]),
        product("b-active", "ParcelTracked", "logistics", "", &[]),
    ];
    products[0].status = "deprecated".to_string();
    products[0].ports[0].topic = "logistics.parcel-tracked.v0".to_string();
    let index = index_with(&products);
    let results = search(&index, "parcel tracked");
    assert_eq!(slugs(&results), vec!["b-active", "a-deprecated"]);

    let mut products = vec![
        product("quiet", "InvoiceIssued", "finance", "", &[]),
        product("popular", "InvoiceIssued", "finance", "", &[]),
    ];
    products[1].subscribers = 40;
    let index = index_with(&products);
    let results = search(&index, "invoice");
    assert_eq!(slugs(&results), vec!["popular", "quiet"]);
    let ratio = results.hits[0].score.unwrap_or(0.0) / results.hits[1].score.unwrap_or(1.0);
    assert!(ratio < 1.3, "the subscriber boost is mild: {ratio}");
}

#[test]
fn explanations_add_up_to_the_score() {
    let index = index_with(&catalog());
    let results = index
        .search(&SearchRequest {
            q: "OrderPlaced".to_string(),
            limit: 3,
            explain: true,
            ..SearchRequest::default()
        })
        .expect("search");
    for hit in results.hits.iter() {
        let explanation = hit.explanation.as_ref().expect("explained");
        let score = hit.score.expect("scored");
        assert!(
            (explanation.total - score).abs() < 1e-3 * score.max(1.0),
            "{}: {explanation:?} vs {score}",
            hit.slug
        );
    }
    let first = results.hits[0].explanation.as_ref().expect("explained");
    assert!(first.components.iter().any(|c| c.name.starts_with("exact")));
    assert!(first.components.iter().any(|c| c.name.starts_with("name")));
}

#[test]
fn a_search_counts_only_the_facets_asked_for_and_ranks_the_same() {
    let index = index_with(&catalog());
    let asked = |facets: [bool; FACETS.len()], highlights: bool| {
        index
            .search(&SearchRequest {
                q: "customer".into(),
                filters: vec![(FilterKey::Domain, "customer-management".into())],
                limit: 10,
                facets,
                highlights,
                ..SearchRequest::default()
            })
            .expect("search")
    };
    let full = asked([true; FACETS.len()], true);
    let bare = asked([false; FACETS.len()], false);
    let slugs = |r: &SearchResults| r.hits.iter().map(|h| h.slug.clone()).collect::<Vec<_>>();
    assert_eq!(slugs(&bare), slugs(&full));
    assert_eq!(bare.total, full.total);
    assert!(bare.facets.is_empty(), "{:?}", bare.facets);
    assert!(bare.hits.iter().all(|h| h.highlights.is_empty()));
    assert!(full.hits.iter().any(|h| !h.highlights.is_empty()));
    let mut domain_only = [false; FACETS.len()];
    domain_only[0] = true;
    let one = asked(domain_only, false);
    assert_eq!(one.facets.keys().collect::<Vec<_>>(), ["domain"]);
    assert_eq!(one.facets["domain"], full.facets["domain"]);
}

#[test]
fn facets_count_the_matching_products() {
    let index = index_with(&catalog());
    let results = search(&index, "customer");
    let domains = &results.facets["domain"];
    let count = |value: &str| domains.iter().find(|f| f.value == value).map(|f| f.count);
    assert_eq!(count("customer-management"), Some(2));
    assert_eq!(count("sales"), Some(1));
    assert_eq!(count("logistics"), None);
    assert_eq!(
        results.facets["status"],
        vec![FacetValue {
            value: "active".into(),
            count: results.total
        }]
    );
}

#[test]
fn highlights_mark_what_matched() {
    let index = index_with(&catalog());
    let results = search(&index, "custmer risk");
    let hit = &results.hits[0];
    assert_eq!(hit.slug, "enriched-customer-signed-up");
    let marked: Vec<(&str, &str)> = hit
        .highlights
        .iter()
        .flat_map(|h| {
            h.segments
                .iter()
                .filter(|s| s.hit)
                .map(move |s| (h.field.as_str(), s.text.as_str()))
        })
        .collect();
    assert!(marked.contains(&("name", "Customer")), "{marked:?}");
    assert!(marked.contains(&("description", "risk")), "{marked:?}");
    assert!(marked.contains(&("fields", "Risk")), "{marked:?}");
}

#[test]
fn nothing_found_suggests_a_spelling_that_finds_something() {
    let index = index_with(&catalog());
    let results = search(&index, "shipmemtt");
    assert_eq!(results.total, 1, "two typos in a long word still match");
    let results = search(&index, "parcle ");
    assert_eq!(results.total, 1, "a transposition is one typo");
    let results = search(&index, "wrehuse ");
    assert_eq!(results.total, 0);
    assert_eq!(results.suggestion.as_deref(), Some("warehouse"));
}

#[test]
fn some_words_matching_is_shown_when_all_words_find_nothing() {
    let index = index_with(&catalog());
    let results = search(&index, "parcel zebra ");
    assert!(results.relaxed);
    assert_eq!(slugs(&results), vec!["shipment-dispatched"]);
}

#[test]
fn sorting_and_paging() {
    let index = index_with(&catalog());
    let results = index
        .search(&SearchRequest {
            q: String::new(),
            sort: Sort::Name,
            limit: 2,
            offset: 1,
            ..SearchRequest::default()
        })
        .expect("search");
    assert_eq!(results.total, 6);
    assert_eq!(
        slugs(&results),
        vec!["customer-signed-up", "order-placed-daily-report"]
    );
    assert!(results.hits.iter().all(|h| h.score.is_none()));
}

#[test]
fn bad_queries_are_the_users_and_updates_replace_documents() {
    let index = index_with(&catalog());
    let error = index
        .search(&SearchRequest {
            q: "colour:red".to_string(),
            limit: 10,
            ..SearchRequest::default()
        })
        .expect_err("unknown filter");
    assert!(matches!(error, SearchError::Query(_)));

    let mut renamed = catalog()[5].clone();
    renamed.name = "ParcelDispatched".to_string();
    index
        .apply(&[renamed], &["order-placed".to_string()])
        .expect("applied");
    assert_eq!(index.len(), 5);
    assert_eq!(
        slugs(&search(&index, "ParcelDispatched")),
        vec!["shipment-dispatched"]
    );
    assert!(
        search(&index, "OrderPlaced")
            .hits
            .iter()
            .all(|h| h.slug != "order-placed")
    );
}

#[test]
fn a_damaged_index_directory_is_replaced() {
    let dir = std::env::temp_dir().join(format!("meshmart-search-test-{}", uuid::Uuid::new_v4()));
    {
        let (index, opened) = SearchIndex::open(&dir).expect("created");
        assert_eq!(opened, Opened::Created);
        index.apply(&catalog(), &[]).expect("indexed");
    }
    {
        let (index, opened) = SearchIndex::open(&dir).expect("reopened");
        assert_eq!(opened, Opened::Existing);
        assert_eq!(index.len(), 6);
        // A second owner is refused before it touches anything.
        let busy = SearchIndex::open(&dir).err().expect("busy");
        assert!(matches!(busy, SearchError::Busy(_)), "{busy}");
        assert_eq!(index.len(), 6);
    }
    std::fs::write(dir.join("meta.json"), b"{ not json").expect("damaged");
    let (index, opened) = SearchIndex::open(&dir).expect("replaced");
    assert!(matches!(opened, Opened::Replaced(_)), "{opened:?}");
    assert!(index.is_empty());
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_index_that_stores_documents_with_other_settings_is_rebuilt() {
    // As an earlier version left it: the same schema and format, 16 KB store blocks.
    let dir = std::env::temp_dir().join(format!("meshmart-search-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let older = IndexSettings {
        docstore_blocksize: 16_384,
        ..settings()
    };
    Index::builder()
        .schema(schema::build().0)
        .settings(older)
        .create_in_dir(&dir)
        .expect("older index");
    std::fs::write(dir.join(FORMAT_FILE), INDEX_FORMAT).expect("format");

    let (index, opened) = SearchIndex::open(&dir).expect("opened");
    assert_eq!(
        opened,
        Opened::Replaced("it stores documents with other settings".to_string())
    );
    assert_eq!(index.index.settings().docstore_blocksize, 2048);
    index.apply(&catalog(), &[]).expect("indexed");
    drop(index);
    let (index, opened) = SearchIndex::open(&dir).expect("reopened");
    assert_eq!(opened, Opened::Existing);
    assert_eq!(index.len(), 6);
    drop(index);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_filtered_dimension_still_counts_its_other_values_across_segments() {
    // Three commits make three segments; updating a product leaves a deleted copy behind.
    let products = catalog();
    let index = index_with(&products[..2]);
    index.apply(&products[2..4], &[]).expect("indexed");
    index.apply(&products[4..], &[]).expect("indexed");
    let mut renamed = products[3].clone();
    renamed.status = "deprecated".to_string();
    index.apply(&[renamed], &[]).expect("updated");

    let count = |results: &SearchResults, dimension: &str, value: &str| {
        results.facets[dimension]
            .iter()
            .find(|f| f.value == value)
            .map(|f| f.count)
    };
    let results = search(&index, "customer domain:sales");
    assert_eq!(slugs(&results), vec!["order-placed"]);
    assert_eq!(results.total, 1);
    // The domain facet ignores the domain filter, so other domains stay choosable...
    assert_eq!(count(&results, "domain", "customer-management"), Some(2));
    assert_eq!(count(&results, "domain", "customer-intelligence"), Some(1));
    assert_eq!(count(&results, "domain", "sales"), Some(1));
    // ...while every other dimension counts only what the filter lets through.
    assert_eq!(count(&results, "status", "deprecated"), Some(1));
    assert_eq!(count(&results, "status", "active"), None);
    assert_eq!(
        count(
            &results,
            "owner",
            "owner.customer-management@meshmart.local"
        ),
        None
    );

    let results = search(&index, "customer owner:owner.sales@meshmart.local");
    assert_eq!(slugs(&results), vec!["order-placed"]);
    assert_eq!(
        count(
            &results,
            "owner",
            "owner.customer-management@meshmart.local"
        ),
        Some(2)
    );
    assert_eq!(count(&results, "domain", "customer-management"), None);

    let results = search(&index, "status:active status:deprecated tag:gold");
    assert_eq!(results.total, 6);
    let results = index
        .search(&SearchRequest {
            sort: Sort::Name,
            limit: 10,
            ..SearchRequest::default()
        })
        .expect("search");
    let names: Vec<&str> = results.hits.iter().map(|h| h.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 6);
}

#[test]
fn rare_and_common_facet_values_are_both_counted() {
    // Enough products that a value on one of them keeps no document bitset of its own.
    let products: Vec<ProductDoc> = (0..200)
        .map(|i| {
            let domain = if i % 2 == 0 { "finance" } else { "sales" };
            let mut p = product(
                &format!("ledger-{i}"),
                "LedgerEntry",
                domain,
                "An entry.",
                &["amount"],
            );
            if i == 7 {
                p.tags.push("rare".to_string());
            }
            p
        })
        .collect();
    let index = index_with(&products);
    let count = |results: &SearchResults, dimension: &str, value: &str| {
        results.facets[dimension]
            .iter()
            .find(|f| f.value == value)
            .map(|f| f.count)
    };
    let results = search(&index, "ledger");
    assert_eq!(results.total, 200);
    assert_eq!(count(&results, "tag", "gold"), Some(200));
    assert_eq!(count(&results, "tag", "rare"), Some(1));
    assert_eq!(count(&results, "domain", "finance"), Some(100));

    let results = search(&index, "ledger tag:rare");
    assert_eq!(slugs(&results), vec!["ledger-7"]);
    assert_eq!(count(&results, "tag", "gold"), Some(200));
    assert_eq!(count(&results, "domain", "sales"), Some(1));
    assert_eq!(count(&results, "domain", "finance"), None);

    let results = search(&index, "ledger domain:finance");
    assert_eq!(results.total, 100);
    assert_eq!(count(&results, "domain", "sales"), Some(100));
    assert_eq!(count(&results, "tag", "rare"), None);
}

#[test]
fn words_too_long_to_index_match_nothing_rather_than_everything() {
    let index = index_with(&catalog());
    let results = search(&index, &"a".repeat(80));
    assert_eq!(results.total, 0);
    let results = search(&index, &"注文".repeat(30));
    assert_eq!(results.total, 0);
}

#[test]
fn a_suggestion_keeps_filters_chosen_outside_the_text() {
    let index = index_with(&catalog());
    let results = index
        .search(&SearchRequest {
            q: "wrehuse ".to_string(),
            filters: vec![(FilterKey::Domain, "logistics".to_string())],
            limit: 10,
            ..SearchRequest::default()
        })
        .expect("search");
    assert_eq!(results.total, 0);
    assert_eq!(results.suggestion.as_deref(), Some("warehouse"));
    let results = index
        .search(&SearchRequest {
            q: "wrehuse ".to_string(),
            filters: vec![(FilterKey::Domain, "sales".to_string())],
            limit: 10,
            ..SearchRequest::default()
        })
        .expect("search");
    assert_eq!(results.suggestion, None, "warehouse finds nothing in sales");
}

#[test]
fn typos_and_prefixes_expand_to_words_of_every_segment_and_group() {
    // Two commits, two segments: each word below is in one segment and one group only.
    let index = index_with(&[product(
        "parcel-shipped",
        "ParcelShipped",
        "logistics",
        "A parcel left the warehouse.",
        &["trackingNumber"],
    )]);
    index
        .apply(
            &[product(
                "courier-assigned",
                "CourierAssigned",
                "logistics",
                "A courier was assigned.",
                &["geolocation"],
            )],
            &[],
        )
        .expect("indexed");

    // Within the typo budget, in a schema field name of the second segment.
    assert_eq!(
        slugs(&search(&index, "geolocaton ")),
        vec!["courier-assigned"]
    );
    // The word being typed, completed in the other segment's name and description.
    assert_eq!(slugs(&search(&index, "parc")), vec!["parcel-shipped"]);
    // A typo and a completion in one query, from the same segment.
    assert_eq!(
        slugs(&search(&index, "geolocaton couri")),
        vec!["courier-assigned"]
    );
    // From different segments: no product has both, so either is enough.
    let either = search(&index, "trackng couri");
    assert!(either.relaxed);
    assert_eq!(either.total, 2);
    // A word no segment has anything close to finds nothing and suggests nothing.
    let none = search(&index, "zzzzzz ");
    assert!(none.hits.is_empty() && none.suggestion.is_none());
}

#[test]
fn staged_changes_are_seen_only_once_committed_and_a_rollback_drops_them() {
    let products = catalog();
    let index = index_with(&products[..2]);
    // A rebuild staged in two batches: searches keep seeing the old index meanwhile.
    index.stage_removal_of_all().expect("staged");
    index
        .stage(&products[2..4], &[], Staging::Add)
        .expect("staged");
    assert_eq!(index.len(), 2);
    index
        .stage(&products[4..], &[], Staging::Add)
        .expect("staged");
    index.commit().expect("committed");
    assert_eq!(index.len(), (products.len() - 2) as u64);
    assert!(slugs(&search(&index, "order placed")).contains(&"order-placed"));

    // A change abandoned half-way never lands with a later commit.
    index.stage_removal_of_all().expect("staged");
    index
        .stage(&products[..1], &[], Staging::Replace)
        .expect("staged");
    index.roll_back();
    index.apply(&products[..1], &[]).expect("applied");
    assert_eq!(index.len(), (products.len() - 1) as u64);
}

#[test]
fn an_answer_is_kept_until_the_index_changes() {
    let index = index_with(&catalog());
    let asked = SearchRequest {
        q: "customer".to_string(),
        limit: 10,
        ..SearchRequest::default()
    };
    let first = index.search(&asked).expect("search");
    assert!(!first.cached);
    let again = index.search(&asked).expect("search");
    assert!(
        again.cached,
        "the same question on the same contents is kept"
    );
    assert_eq!(slugs(&again), slugs(&first));
    assert_eq!(again.total, first.total);
    assert_eq!(again.facets, first.facets);
    assert_eq!(index.answers.size().0, 1);

    // Another page, another sort or other facets are other questions.
    let second_page = SearchRequest {
        offset: 2,
        ..asked.clone()
    };
    assert!(!index.search(&second_page).expect("search").cached);
    // Asked to compute, it does, and keeps the fresh answer.
    assert!(
        !index
            .search_with(&asked, Reuse::Compute)
            .expect("search")
            .cached
    );
    // Explanations are computed every time and not kept.
    let explained = SearchRequest {
        explain: true,
        ..asked.clone()
    };
    index.search(&explained).expect("search");
    assert!(!index.search(&explained).expect("search").cached);

    // A new matching product: the kept answers were computed without it.
    let newcomer = product(
        "customer-churned",
        "CustomerChurned",
        "customer-management",
        "A customer closed their account.",
        &["customerID"],
    );
    index.apply(&[newcomer], &[]).expect("applied");
    let after = index.search(&asked).expect("search");
    assert!(!after.cached);
    assert_eq!(after.total, first.total + 1);
    assert!(slugs(&after).contains(&"customer-churned"));
    assert_eq!(
        index.answers.size().0,
        1,
        "the older contents' answers are gone"
    );
    assert!(index.search(&asked).expect("search").cached);
}

#[test]
fn a_page_ranked_with_pruning_is_the_page_a_full_pass_finds() {
    // Thousands of products with the word `parcel` once to many times in descriptions of
    // varied lengths, in the name of some, with every status and subscriber counts from
    // none to many: a search counting no facet skips blocks of postings that cannot reach
    // the page (block-max WAND), one counting facets scores every match.
    let statuses = ["active", "draft", "deprecated", "retired"];
    let products: Vec<ProductDoc> = (0..3000)
        .map(|i| {
            let repeats = 1 + (i * 7919) % 9;
            let filler = "shipment ".repeat((i * 31) % 40);
            let name = if i % 97 == 0 {
                "ParcelScanned"
            } else {
                "ShipmentScanned"
            };
            let mut p = product(
                &format!("scan-{i}"),
                name,
                "logistics",
                &format!("{}{filler}", "parcel ".repeat(repeats)),
                &["scanID"],
            );
            p.status = statuses[i % statuses.len()].to_string();
            p.subscribers = ((i * 104_729) % 1000) as u64;
            p
        })
        .collect();
    let index = index_with(&products);
    // Updated products leave deleted documents behind in the first segment.
    let updated: Vec<ProductDoc> = products
        .iter()
        .step_by(11)
        .map(|p| ProductDoc {
            description: format!("{} parcel parcel", p.description),
            ..p.clone()
        })
        .collect();
    index.apply(&updated, &[]).expect("applied");
    let asked = |q: &str, offset: usize, facets: bool| {
        index
            .search_with(
                &SearchRequest {
                    q: q.to_string(),
                    limit: 20,
                    offset,
                    facets: [facets; FACETS.len()],
                    highlights: false,
                    ..SearchRequest::default()
                },
                Reuse::Compute,
            )
            .expect("search")
    };
    let ranked = |r: &SearchResults| {
        r.hits
            .iter()
            .map(|h| (h.slug.clone(), h.score.unwrap_or(0.0)))
            .collect::<Vec<_>>()
    };
    for q in ["parcel", "parcels", "parcel ", "shipment", "scanned"] {
        for offset in [0, 20, 400] {
            let pruned = asked(q, offset, false);
            let full = asked(q, offset, true);
            assert_eq!(pruned.total, full.total, "{q:?} at {offset}");
            assert_eq!(pruned.hits.len(), 20, "{q:?} at {offset}");
            // The same scores in the same places; equal scores may be summed in another
            // order, so the products sharing one may trade places.
            let (pruned, full) = (ranked(&pruned), ranked(&full));
            let near = |a: f32, b: f32| (a - b).abs() <= 1e-4 * b.abs();
            for (at, ((slug, score), (full_slug, full_score))) in
                pruned.iter().zip(&full).enumerate()
            {
                assert!(
                    near(*score, *full_score),
                    "{q:?} at {offset}+{at}: {score} vs {full_score}"
                );
                let tied = full
                    .iter()
                    .any(|(other, s)| other != full_slug && near(*s, *full_score));
                assert!(
                    slug == full_slug || tied,
                    "{q:?} at {offset}+{at}: {slug} vs {full_slug}"
                );
            }
        }
    }
    assert_eq!(asked("parcel", 0, false).total, 3000);
}
