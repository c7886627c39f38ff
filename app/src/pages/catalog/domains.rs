//! `/domains` (every domain and how many data products it owns) and `/domains/{slug}` (a
//! page of its products, paged by plain `?page=` links).

use leptos::prelude::*;
use leptos_meta::Title;

use super::{PAGE_SIZE, StatusBadge, Tags, param, query};
use crate::api::catalog::{
    DomainSummary, ProductItem, ProductList, list_domain_summaries, list_products,
};
use crate::components::loading::Loading;
use crate::components::problem::PageProblem;
use crate::pages::home::StreamStatus;
use crate::pages::producers::ProducersSection;

/// `/domains`: every domain of the mesh with its product count.
#[component]
pub fn DomainsPage() -> impl IntoView {
    let domains = Resource::new_blocking(|| (), |_| list_domain_summaries());
    view! {
        <Title text="Domains"/>
        <div class="catalog-page">
            <h1>"Domains"</h1>
            <p class="muted">"Each domain owns its data products and their contracts."</p>
            <Transition fallback=Loading>
                {move || {
                    domains
                        .get()
                        .map(|result| match result {
                            Ok(domains) if domains.is_empty() => {
                                view! { <p class="muted">"No domains yet."</p> }.into_any()
                            }
                            Ok(domains) => view! { <DomainCards domains/> }.into_any(),
                            Err(error) => {
                                view! { <PageProblem error not_found="No domains"/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn DomainCards(domains: Vec<DomainSummary>) -> impl IntoView {
    view! {
        <ul class="catalog-cards">
            {domains
                .into_iter()
                .map(|domain| {
                    let href = format!("/domains/{}", domain.slug);
                    let count = match domain.products {
                        1 => "1 data product".to_string(),
                        n => format!("{n} data products"),
                    };
                    let key = domain.slug.clone();
                    view! {
                        <li class="catalog-card" data-domain=key>
                            <h2><a href=href>{domain.name}</a></h2>
                            <p class="catalog-card-slug"><code>{domain.slug}</code></p>
                            {(!domain.description.is_empty())
                                .then(|| view! { <p>{domain.description}</p> })}
                            <p class="catalog-count">{count}</p>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// `/domains/{slug}`: a domain and a page of its data products.
#[component]
pub fn DomainPage() -> impl IntoView {
    let slug = param("slug");
    let page = query("page");
    let page = Memo::new(move |_| {
        page.get()
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
            .max(1)
    });
    let products = Resource::new_blocking(
        move || (slug.get(), page.get()),
        |(slug, page)| list_products(Some(slug), Some(PAGE_SIZE), Some((page - 1) * PAGE_SIZE)),
    );
    view! {
        <div class="catalog-page">
            <Transition fallback=Loading>
                {move || {
                    products
                        .get()
                        .map(|result| match result {
                            Ok(list) => view! { <DomainProducts list page=page.get()/> }.into_any(),
                            Err(error) => {
                                let not_found = format!("No domain “{}”", slug.get());
                                view! { <PageProblem error whole_page=true not_found/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn DomainProducts(list: ProductList, page: i64) -> impl IntoView {
    let ProductList {
        domain,
        items,
        total,
        ..
    } = list;
    let (slug, name, description) = domain
        .map(|d| (d.slug, d.name, d.description))
        .unwrap_or_default();
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let count = match total {
        1 => "1 data product".to_string(),
        n => format!("{n} data products"),
    };
    let body = if items.is_empty() && page == 1 {
        view! { <p class="muted">"This domain has no data products yet."</p> }.into_any()
    } else if items.is_empty() {
        view! {
            <p class="muted">
                "There is no page " {page} ". " <a href="?page=1">"Go to the first page"</a>
            </p>
        }
        .into_any()
    } else {
        view! { <ProductTable items/> }.into_any()
    };
    view! {
        <Title text=name.clone()/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href="/domains">"Domains"</a>
        </nav>
        <h1>{name}</h1>
        <p class="catalog-card-slug"><code>{slug.clone()}</code></p>
        {(!description.is_empty()).then(|| view! { <p class="catalog-description">{description}</p> })}
        <h2>"Data products"</h2>
        <p class="muted catalog-count">{count}</p>
        {body}
        {(pages > 1 && page <= pages).then(|| view! { <Pager page pages/> })}
        <ProducersSection domain=slug/>
    }
}

#[component]
fn ProductTable(items: Vec<ProductItem>) -> impl IntoView {
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table catalog-products">
                <thead>
                    <tr>
                        <th scope="col">"Data product"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Stream"</th>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Tags"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>
                    {items
                        .into_iter()
                        .map(|product| {
                            let href = format!("/products/{}", product.slug);
                            view! {
                                <tr data-product=product.slug.clone()>
                                    <td>
                                        <a class="catalog-product-name" href=href>{product.name}</a>
                                        {(!product.description.is_empty())
                                            .then(|| {
                                                view! {
                                                    <p class="catalog-summary">{product.description}</p>
                                                }
                                            })}
                                    </td>
                                    <td><StatusBadge status=product.status/></td>
                                    <td><StreamStatus health=product.health/></td>
                                    <td><code>{product.version}</code></td>
                                    <td><Tags tags=product.tags/></td>
                                    <td class="catalog-nowrap">{product.updated_at}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// "Previous" / "Page n of m" / "Next" as plain links.
#[component]
fn Pager(page: i64, pages: i64) -> impl IntoView {
    view! {
        <nav class="catalog-pager" aria-label="Pages">
            {(page > 1)
                .then(|| {
                    view! { <a rel="prev" href=format!("?page={}", page - 1)>"← Previous"</a> }
                })}
            <span>"Page " {page} " of " {pages}</span>
            {(page < pages)
                .then(|| view! { <a rel="next" href=format!("?page={}", page + 1)>"Next →"</a> })}
        </nav>
    }
}
