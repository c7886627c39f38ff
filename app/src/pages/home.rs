//! `/`: the catalog search, where analysts start. Everything the page shows follows from its
//! URL (query, filters, sort, page), so results are shareable and the back button works; the
//! server renders them, so the page is a plain GET form without JavaScript. Once hydrated,
//! results follow the box as you type (debounced, replacing the history entry), facets and
//! pages are client-side links, `/` focuses the box, ↑/↓ pick a result and Enter opens it.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::ApiError;
use crate::api::search::{FACETS, Mark, SORTS, SearchHit, SearchPage, SearchState, search_catalog};
use crate::components::problem::{Alert, ErrorMessage};
use crate::pages::catalog::ClassificationBadge;

/// How long typing pauses before the results follow.
const DEBOUNCE: Duration = Duration::from_millis(180);

/// The search page.
#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let state = Memo::new(move |_| query.with(|q| SearchState::from_query(|k| q.get(k))));
    let results = Resource::new_blocking(
        move || state.with(SearchState::href),
        |href| search_catalog(href.strip_prefix("/?").unwrap_or_default().to_string()),
    );
    // The hits on screen and the one picked with the keyboard; `Results` sets them.
    let slugs = RwSignal::new(Vec::<String>::new());
    let active = RwSignal::new(None::<usize>);
    let input = NodeRef::<leptos::html::Input>::new();
    keyboard(input, slugs, active);

    let empty = move || state.with(|s| s.q.is_empty() && s.filters.is_empty());
    view! {
        <Title text=""/>
        <section class="search-page">
            <Show
                when=empty
                fallback=|| view! { <h1 class="visually-hidden">"Search results"</h1> }
            >
                <div class="hero">
                    <h1>"Find event streams you can trust"</h1>
                    <p class="lede">
                        "Domains publish their event streams here as data products, each with an "
                        "immutable data contract: schema, SLAs and owners. Find one, read its "
                        "contract and lineage, and request access: approval turns into real "
                        "broker ACLs."
                    </p>
                    <p class="hero-browse">
                        <a href="/domains">"Browse the catalog by domain →"</a>
                    </p>
                </div>
            </Show>
            <SearchBar state input active/>
            // What the box controls, whatever it shows (hits, a sign-in line, a problem).
            <div id="search-results">
            <Transition fallback=|| view! { <p class="search-summary">"Searching…"</p> }>
                {move || {
                    results
                        .get()
                        .map(|result| match result {
                            Ok(Some(page)) => {
                                view! { <Results page state slugs active/> }.into_any()
                            }
                            Ok(None) | Err(ApiError::Unauthenticated) => {
                                view! {
                                    <p class="search-signin">
                                        <a href="/login">"Sign in"</a>
                                        " to search the catalog and request access."
                                    </p>
                                }
                                    .into_any()
                            }
                            // A query mistake: the message alone reads better than "q: …".
                            Err(ApiError::Invalid { message, .. }) => {
                                view! {
                                    <Alert>{message}</Alert>
                                    <SearchHelp/>
                                }
                                    .into_any()
                            }
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
            </div>
        </section>
    }
}

/// The search box (results follow it as you type), sort, and the filters as hidden fields
/// so the plain form keeps them.
#[component]
fn SearchBar(
    state: Memo<SearchState>,
    input: NodeRef<leptos::html::Input>,
    active: RwSignal<Option<usize>>,
) -> impl IntoView {
    let navigate = use_navigate();
    let text = RwSignal::new(state.with_untracked(|s| s.q.clone()));
    // The text last sent to the URL: URL changes that did not come from typing (back
    // button, links) replace what the box shows.
    let sent = StoredValue::new(state.with_untracked(|s| s.q.clone()));
    Effect::new(move |_| {
        let q = state.with(|s| s.q.clone());
        if q != sent.get_value() {
            sent.set_value(q.clone());
            text.set(q);
        }
    });
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // Leaving the page cancels a pending update, so it cannot navigate back here.
    on_cleanup(move || {
        if let Some(handle) = timer.try_get_value().flatten() {
            handle.clear();
        }
    });
    let go = {
        let navigate = navigate.clone();
        move |href: String, replace: bool| {
            navigate(
                &href,
                NavigateOptions {
                    replace,
                    scroll: false,
                    ..Default::default()
                },
            );
        }
    };
    let on_input = {
        let go = go.clone();
        move |event: ev::Event| {
            let value = event_target_value(&event);
            text.set(value.clone());
            // The results on screen are about to change: nothing is picked.
            active.set(None);
            if let Some(handle) = timer.get_value() {
                handle.clear();
            }
            let go = go.clone();
            let handle = set_timeout_with_handle(
                move || {
                    // The page may be gone by now; then there is nothing to update.
                    if let Some(href) = state.try_with_untracked(|s| s.with_query(&value).href()) {
                        sent.set_value(value.clone());
                        go(href, true);
                    }
                },
                DEBOUNCE,
            )
            .ok();
            timer.set_value(handle);
        }
    };
    let on_submit = {
        let go = go.clone();
        move |event: ev::SubmitEvent| {
            event.prevent_default();
            if let Some(handle) = timer.get_value() {
                handle.clear();
            }
            let value = text.get_untracked();
            sent.set_value(value.clone());
            go(state.with_untracked(|s| s.with_query(&value).href()), false);
        }
    };
    let on_sort = move |event: ev::Event| {
        let sort = event_target_value(&event);
        let next = state.with_untracked(|s| SearchState {
            sort: if sort == "relevance" {
                String::new()
            } else {
                sort
            },
            page: 1,
            ..s.clone()
        });
        go(next.href(), false);
    };
    let current_sort = move || state.with(|s| s.sort.clone());
    view! {
        <form class="search-bar" method="get" action="/" role="search" on:submit=on_submit>
            <input
                node_ref=input
                type="search"
                name="q"
                // The attribute is what the server renders (the box without JavaScript);
                // the property follows typing and the back button once hydrated.
                value=text.get_untracked()
                prop:value=move || text.get()
                on:input=on_input
                placeholder="Search data products, topics, fields…  (press / to focus)"
                aria-label="Search data products"
                aria-controls="search-results"
                autocomplete="off"
                spellcheck="false"
            />
            <For
                each=move || state.with(|s| s.filters.clone())
                key=|(key, values)| format!("{key}={}", values.join(","))
                let((key, values))
            >
                <input type="hidden" name=key value=values.join(",")/>
            </For>
            <label class="search-sort">
                <span class="visually-hidden">"Sort by"</span>
                <select
                    name="sort"
                    on:change=on_sort
                    aria-label="Sort by"
                    prop:value=move || {
                        let sort = current_sort();
                        if sort.is_empty() { "relevance".to_string() } else { sort }
                    }
                >
                    {SORTS
                        .iter()
                        .map(|(value, label)| {
                            let value = *value;
                            let selected = move || {
                                let current = current_sort();
                                current == value || (current.is_empty() && value == "relevance")
                            };
                            view! {
                                <option value=value selected=selected>
                                    {*label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Search"</button>
        </form>
    }
}

/// Facets beside the hits, the summary, a spelling suggestion and paging.
#[component]
fn Results(
    page: SearchPage,
    state: Memo<SearchState>,
    slugs: RwSignal<Vec<String>>,
    active: RwSignal<Option<usize>>,
) -> impl IntoView {
    let current = state.get_untracked();
    // New results: the keyboard walks these, and nothing is picked yet.
    slugs.set(page.hits.iter().map(|h| h.slug.clone()).collect());
    active.set(None);
    let summary = match page.total {
        0 => "No data products match".to_string(),
        1 => "1 data product".to_string(),
        n => format!("{n} data products"),
    };
    let took = format!("{:.1} ms", page.took_ms);
    // Nothing found: a way back — drop the filters, or the words.
    let empty = (page.total == 0).then(|| {
        let without_filters = SearchState {
            filters: Vec::new(),
            page: 1,
            ..current.clone()
        }
        .href();
        let everything = SearchState {
            q: String::new(),
            filters: Vec::new(),
            page: 1,
            ..current.clone()
        }
        .href();
        view! {
            <p class="search-empty" data-testid="search-empty">
                {(!current.filters.is_empty()).then(|| view! {
                    <a href=without_filters>"Clear the filters"</a> " · "
                })}
                <a href=everything>"Show every data product"</a>
            </p>
        }
    });
    let suggestion = page.suggestion.clone().map(|s| {
        let href = current.with_query(&s).href();
        view! {
            <p class="search-suggestion">
                "Did you mean " <a href=href>{s}</a> "?"
            </p>
        }
    });
    let relaxed = page.relaxed.then(|| {
        view! {
            <p class="search-note">"No product matches every word; showing those that match some."</p>
        }
    });
    let selected_filters = page
        .facets
        .iter()
        .flat_map(|(key, options)| options.iter().filter(|o| current.has(key, &o.value)))
        .count();
    let facets = page
        .facets
        .iter()
        .filter(|(_, options)| !options.is_empty())
        .map(|(key, options)| {
            let label = FACETS
                .iter()
                .find(|(k, _)| k == key)
                .map_or(key.as_str(), |(_, l)| l);
            let items = options
                .iter()
                .map(|option| {
                    let selected = current.has(key, &option.value);
                    let href = current.toggled(key, &option.value).href();
                    view! {
                        <li>
                            <a
                                href=href
                                class="facet-option"
                                class:selected=selected
                                aria-current=selected.then_some("true")
                                data-facet=key.clone()
                                data-value=option.value.clone()
                            >
                                <span class="facet-check" aria-hidden="true"></span>
                                <span class="facet-value" title=option.value.clone()>{option.label.clone()}</span>
                                <span class="facet-count">{option.count}</span>
                            </a>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <div class="facet-group">
                    <h3>{label.to_string()}</h3>
                    <ul>{items}</ul>
                </div>
            }
        })
        .collect_view();
    let hits = page
        .hits
        .into_iter()
        .enumerate()
        .map(|(i, hit)| view! { <HitCard hit index=i active/> })
        .collect_view();
    let pager = (page.pages > 1).then(|| {
        let previous = (page.page > 1).then(|| current.with_page(page.page - 1).href());
        let next = (page.page < page.pages).then(|| current.with_page(page.page + 1).href());
        view! {
            <nav class="pager" aria-label="Pages">
                {previous.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
                <span>{format!("Page {} of {}", page.page, page.pages)}</span>
                {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
            </nav>
        }
    });
    view! {
        // On a phone the filters fold away behind a button (a checkbox, so it works without
        // JavaScript), and the results come first.
        <input type="checkbox" id="facets-switch" class="facets-switch visually-hidden" aria-controls="facets"/>
        <label for="facets-switch" class="facets-button">
            {if selected_filters > 0 {
                format!("Filters ({selected_filters} on)")
            } else {
                "Filters".to_string()
            }}
        </label>
        <div class="search-layout">
            <aside class="facets" id="facets" aria-label="Filters">{facets}</aside>
            <div class="search-results">
                // Announced on change, without reading every hit on each keystroke.
                <p class="search-summary" aria-live="polite">
                    <strong>{summary}</strong>
                    <span class="search-took">{took}</span>
                </p>
                {suggestion}
                {relaxed}
                {empty}
                <ol class="hits">{hits}</ol>
                {pager}
            </div>
        </div>
    }
}

#[component]
fn HitCard(hit: SearchHit, index: usize, active: RwSignal<Option<usize>>) -> impl IntoView {
    let href = format!("/products/{}", hit.slug);
    let is_active = move || active.get() == Some(index);
    let status_class = format!("catalog-status catalog-status-{}", hit.status);
    let fields = (!hit.fields.is_empty()).then(|| {
        view! { <p class="hit-fields">"Fields: " {marks(hit.fields)}</p> }
    });
    let topic = hit
        .topics
        .first()
        .cloned()
        .map(|t| view! { <code class="hit-topic">{t}</code> });
    let sla = hit.sla_tier.map(|tier| {
        let class = format!("sla-badge sla-{tier}");
        view! { <span class=class title="SLA tier">{tier}</span> }
    });
    let classification = hit.classification.map(|class| {
        view! { <ClassificationBadge class/> }
    });
    let owner = hit
        .owner
        .map(|o| view! { <span class="hit-owner">{o}</span> });
    let domain_href = format!("/domains/{}", hit.domain);
    view! {
        <li
            class="hit"
            class:active=is_active
            id=format!("hit-{index}")
            aria-current=move || is_active().then_some("true")
        >
            <h2 class="hit-name">
                <a href=href>{marks(hit.name)}</a>
            </h2>
            <p class="hit-meta">
                <a href=domain_href class="hit-domain">{hit.domain_name}</a>
                {owner}
                <span class=status_class>{hit.status}</span>
                <StreamStatus health=hit.health/>
                {sla}
                {classification}
                <span class="hit-updated">{format!("updated {}", hit.updated)}</span>
            </p>
            <p class="hit-description">{marks(hit.description)}</p>
            {fields}
            {topic}
        </li>
    }
}

/// A product's live stream status, small: fresh, stale or no data.
#[component]
pub fn StreamStatus(health: String) -> impl IntoView {
    let label = match health.as_str() {
        "fresh" => "live",
        "stale" => "stale",
        _ => "no data",
    };
    view! {
        <span class=format!("stream-status stream-{health}") title="Stream health, measured">
            {label}
        </span>
    }
}

/// Text with its matched words marked.
fn marks(marks: Vec<Mark>) -> impl IntoView {
    marks
        .into_iter()
        .map(|m| {
            if m.hit {
                view! { <mark>{m.text}</mark> }.into_any()
            } else {
                view! { <span>{m.text}</span> }.into_any()
            }
        })
        .collect_view()
}

/// What the query language offers, shown next to a query error.
#[component]
fn SearchHelp() -> impl IntoView {
    view! {
        <p class="search-help">
            "Search words (typos are forgiven), " <code>"\"exact phrases\""</code>
            " and filters: " <code>"domain:sales"</code> " " <code>"tag:pii"</code> " "
            <code>"owner:alice"</code> " " <code>"status:active"</code> " "
            <code>"field:customerID"</code> " " <code>"format:avro"</code> " "
            <code>"sla:gold"</code> " " <code>"health:stale"</code> "."
        </p>
    }
}

/// Page-wide keys: `/` focuses the box; ↑/↓ move through the hits; Enter opens the one
/// picked.
fn keyboard(
    input: NodeRef<leptos::html::Input>,
    slugs: RwSignal<Vec<String>>,
    active: RwSignal<Option<usize>>,
) {
    let navigate = use_navigate();
    // Effects run only in the browser, so the listener is never set up during SSR.
    Effect::new(move |_| {
        let navigate = navigate.clone();
        let handle = window_event_listener(ev::keydown, move |event| {
            let key = event.key();
            let target = event_target::<web_sys::Element>(&event);
            let in_field = target.tag_name().to_ascii_lowercase();
            let typing = matches!(in_field.as_str(), "input" | "textarea" | "select");
            let in_box = input.get_untracked().is_some_and(|search_box| {
                let element: &web_sys::Element = search_box.as_ref();
                *element == target
            });
            // Arrows and Enter belong to the search box (or the page itself): a focused
            // link, button or select keeps its own keys; so do shortcuts and IME input.
            let on_page = matches!(in_field.as_str(), "body" | "html");
            if event.is_composing() || event.ctrl_key() || event.meta_key() || event.alt_key() {
                return;
            }
            match key.as_str() {
                "/" if !typing => {
                    event.prevent_default();
                    if let Some(input) = input.get_untracked() {
                        let _ = input.focus();
                        input.select();
                    }
                }
                "ArrowDown" | "ArrowUp" if in_box || on_page => {
                    let count = slugs.with_untracked(Vec::len);
                    if count == 0 {
                        return;
                    }
                    event.prevent_default();
                    let down = key == "ArrowDown";
                    let next = match active.get_untracked() {
                        None if down => 0,
                        None => count - 1,
                        Some(i) if down => (i + 1).min(count - 1),
                        Some(i) => i.saturating_sub(1),
                    };
                    active.set(Some(next));
                    if let Some(card) = document().get_element_by_id(&format!("hit-{next}")) {
                        card.scroll_into_view_with_bool(false);
                    }
                }
                "Enter" if in_box || on_page => {
                    let picked = active
                        .get_untracked()
                        .and_then(|i| slugs.with_untracked(|s| s.get(i).cloned()));
                    if let Some(slug) = picked {
                        event.prevent_default();
                        navigate(&format!("/products/{slug}"), NavigateOptions::default());
                    }
                }
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    });
}
