//! The catalog's browsing pages: `/domains` (every domain and how many data products it
//! owns), `/domains/{slug}` (a page of its products) and `/products/{slug}` (one data
//! product: overview, output ports, schemas, SLAs, owners and support, contract versions
//! and a diff between two of them).
//!
//! Everything works without JavaScript: paging is plain links (`?page=`) and the version
//! comparison is a GET form (`?from=&to=`), so the server renders every state. The server
//! functions decide who may read; their `Unauthenticated` and `NotFound` errors (with the
//! HTTP status they set) become the page's sign-in notice or "not found" message.
//!
//! The resources are blocking: the server holds the response until they resolve, so the
//! status (401, 404) and `<title>` are known before the first byte goes out and the data is
//! in the HTML itself rather than streamed in by script.
//!
//! `domains` holds the domain pages, `product` the product page with its overview, SLAs
//! and owners, `ports` its ports and schemas, `versions` its contract versions and diff;
//! the badges and query helpers they share are here.

mod domains;
mod ports;
mod product;
mod versions;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

pub use domains::{DomainPage, DomainsPage};
pub use product::ProductPage;
pub use versions::DiffView;

/// Products per page of a domain.
const PAGE_SIZE: i64 = 20;

/// The route parameter `name`, or "" (a route without it never renders these pages).
fn param(name: &'static str) -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.with(|p| p.get(name).unwrap_or_default()))
}

/// The query parameter `name`, when given and not blank.
fn query(name: &'static str) -> Memo<Option<String>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| {
            q.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    })
}

/// A product's lifecycle status as a coloured badge.
#[component]
fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("catalog-status catalog-status-{status}");
    view! { <span class=class>{status}</span> }
}

#[component]
fn Tags(tags: Vec<String>) -> impl IntoView {
    view! {
        <ul class="catalog-tags" aria-label="Tags">
            {tags.into_iter().map(|tag| view! { <li class="catalog-tag">{tag}</li> }).collect_view()}
        </ul>
    }
}

/// A product's sensitivity, from its most sensitive field: `restricted` and
/// `confidential` stand out; the title says where it comes from.
#[component]
pub fn ClassificationBadge(class: String) -> impl IntoView {
    let style = format!("classification-badge classification-{class}");
    view! {
        <span class=style title="The most sensitive classification of any of its fields" data-classification=class.clone()>
            {class.clone()}
        </span>
    }
}
