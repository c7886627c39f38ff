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

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::ApiError;
use crate::api::catalog::{
    DiffLine, DiffTag, DomainSummary, FieldRow, PortRow, ProductItem, ProductList, ProductView,
    SlaRow, VersionDiff, VersionRow, contract_diff, list_domain_summaries, list_products,
    product_detail,
};
use crate::components::attribution::IpDataAttribution;
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};
use crate::pages::health::{HealthData, HealthSection, health_data};
use crate::pages::home::StreamStatus;
use crate::pages::incidents::{OpenIncidents, OpenIncidentsSection, open_incidents};
use crate::pages::lineage::{LineageSummaryData, LineageSummarySection, lineage_summary_data};
use crate::pages::producers::ProducersSection;
use crate::pages::schemas::{RegistryData, RegistrySection};
use crate::pages::subscriptions::{AccessData, RequestAccessSection};

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

/// `/products/{slug}`: one data product and its contract.
#[component]
pub fn ProductPage() -> impl IntoView {
    let slug = param("slug");
    let from = query("from");
    let to = query("to");
    let product = Resource::new_blocking(move || slug.get(), product_detail);
    // Every section's data is made here, outside the `<Transition>` below, so it loads
    // alongside the product and once: Leptos re-runs a Transition's children on the
    // server, and a resource made in them is made (and fetched) again.
    let sections = Sections {
        open: open_incidents(move || (Some(slug.get()), None)),
        access: AccessData::new(slug.into()),
        health: health_data(slug.into()),
        lineage: lineage_summary_data(slug.into()),
        registry: RegistryData::new(slug.into()),
    };
    // Only asked for when the comparison form was submitted.
    let diff = Resource::new_blocking(
        move || (slug.get(), from.get(), to.get()),
        |(slug, from, to)| async move {
            match (from, to) {
                (Some(from), Some(to)) => contract_diff(slug, from, to).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    view! {
        <div class="catalog-page catalog-product">
            <Transition fallback=Loading>
                {move || {
                    product
                        .get()
                        .map(|result| match result {
                            Ok(detail) => {
                                view! { <Product detail from=from.get() to=to.get() diff sections/> }
                                    .into_any()
                            }
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

/// Which stream node computes the product, and the attribution its data sources ask for.
#[component]
fn ComputedBy(node: String, kind: String) -> impl IntoView {
    let enrichment = kind == "customer-enrichment";
    view! {
        <p class="computed-by" data-testid="computed-by">
            "Computed by the " {kind} " stream node "
            <a href=format!("/nodes/{node}")>{node.clone()}</a> ", which Meshmart runs."
            {enrichment.then(|| view! { " " <IpDataAttribution/> })}
        </p>
    }
}

/// The data of the product page's sections, made by [`ProductPage`].
#[derive(Clone, Copy)]
struct Sections {
    open: OpenIncidents,
    access: AccessData,
    health: HealthData,
    lineage: LineageSummaryData,
    registry: RegistryData,
}

#[component]
fn Product(
    detail: ProductView,
    from: Option<String>,
    to: Option<String>,
    diff: Resource<Result<Option<VersionDiff>, ApiError>>,
    sections: Sections,
) -> impl IntoView {
    let Sections {
        open,
        access,
        health,
        lineage,
        registry,
    } = sections;
    let ProductView {
        product,
        domain_name,
        contract_id,
        ports,
        slas,
        team,
        support,
        versions,
        computed_by,
        classification,
        can_publish,
    } = detail;
    let slug = product.slug.clone();
    let download = format!("/api/v1/products/{slug}/contract");
    view! {
        <Title text=product.name.clone()/>
        <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
            <a href="/domains">"Domains"</a>
            " / "
            <a href=format!("/domains/{}", product.domain)>{domain_name.clone()}</a>
        </nav>
        <header class="catalog-product-head">
            <h1>{product.name.clone()}</h1>
            <StatusBadge status=product.status.clone()/>
            {classification.map(|class| view! { <ClassificationBadge class/> })}
            <a class="catalog-download" href=download.clone() download="">
                "Download contract"
            </a>
            {can_publish.then(|| view! {
                <a class="catalog-download" href=format!("/register?from={slug}") data-testid="new-version-link">
                    "Publish a new version"
                </a>
            })}
        </header>
        <section class="catalog-overview" aria-label="Overview">
            <dl class="facts">
                <dt>"Domain"</dt>
                <dd><a href=format!("/domains/{}", product.domain)>{domain_name}</a></dd>
                <dt>"Version"</dt>
                <dd><code>{product.version.clone()}</code></dd>
                <dt>"Contract id"</dt>
                <dd><code>{contract_id}</code></dd>
                <dt>"Updated"</dt>
                <dd>{product.updated_at.clone()}</dd>
                <dt>"Tags"</dt>
                <dd>
                    {if product.tags.is_empty() {
                        view! { <span class="muted">"none"</span> }.into_any()
                    } else {
                        view! { <Tags tags=product.tags.clone()/> }.into_any()
                    }}
                </dd>
            </dl>
            {(!product.description.is_empty())
                .then(|| view! { <p class="catalog-description">{product.description.clone()}</p> })}
            {computed_by.map(|(node, kind)| view! { <ComputedBy node kind/> })}
        </section>
        <OpenIncidentsSection open/>
        <RequestAccessSection data=access/>
        <HealthSection health/>
        <PortsSection ports=ports.clone()/>
        <SchemaSection ports/>
        <LineageSummarySection slug=slug.clone() summary=lineage/>
        <RegistrySection slug=slug.clone() data=registry/>
        <SlaSection slas/>
        <OwnersSection team support/>
        <VersionsSection slug versions from to diff/>
    }
}

/// Kafka's retention as people read it: "7 days", "12 hours", "forever".
fn retention(ms: i64) -> String {
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match ms {
        ms if ms < 0 => "forever".to_string(),
        ms if ms % DAY == 0 => plural(ms / DAY, "day"),
        ms if ms % HOUR == 0 => plural(ms / HOUR, "hour"),
        ms => format!("{:.1} days", ms as f64 / DAY as f64),
    }
}

#[component]
fn PortsSection(ports: Vec<PortRow>) -> impl IntoView {
    let body = if ports.is_empty() {
        view! { <p class="muted">"This data product has no output ports."</p> }.into_any()
    } else {
        view! {
            <div class="catalog-scroll" tabindex="0">
                <table class="data-table">
                    <thead>
                        <tr>
                            <th scope="col">"Topic"</th>
                            <th scope="col">"Event type"</th>
                            <th scope="col">"Format"</th>
                            <th scope="col">"Partitions"</th>
                            <th scope="col">"Retention"</th>
                            <th scope="col">"Description"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {ports
                            .into_iter()
                            .map(|port| {
                                let key = port.topic.clone();
                                view! {
                                    <tr data-topic=key>
                                        <td><code>{port.topic}</code></td>
                                        <td>{port.event_type}</td>
                                        <td>{port.format}</td>
                                        <td>{port.partitions}</td>
                                        <td class="catalog-nowrap">{retention(port.retention_ms)}</td>
                                        <td>{port.description.unwrap_or_default()}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="catalog-section" aria-labelledby="catalog-ports">
            <h2 id="catalog-ports">"Output ports"</h2>
            {body}
        </section>
    }
}

#[component]
fn SchemaSection(ports: Vec<PortRow>) -> impl IntoView {
    let body = if ports.is_empty() {
        view! { <p class="muted">"No schema: there are no output ports."</p> }.into_any()
    } else {
        ports
            .into_iter()
            .map(|port| {
                let fields = if port.fields.is_empty() {
                    view! { <p class="muted">"This event type declares no fields."</p> }.into_any()
                } else {
                    field_table(port.fields, "")
                };
                let key = port.event_type.clone();
                view! {
                    <div class="catalog-schema" data-port=key>
                        <h3>
                            {port.event_type} " " <span class="muted">"on "</span>
                            <code>{port.topic}</code>
                        </h3>
                        {fields}
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <section class="catalog-section" aria-labelledby="catalog-schema">
            <h2 id="catalog-schema">"Schema"</h2>
            {body}
        </section>
    }
}

/// A schema table. A field with nested fields is followed by a full-width row holding a
/// `<details>` with their table; every field row has `data-field` with its dotted path
/// (`shipping.city`).
fn field_table(fields: Vec<FieldRow>, parent: &str) -> AnyView {
    let rows = fields
        .into_iter()
        .map(|field| field_rows(field, parent))
        .collect_view();
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table catalog-fields">
                <thead>
                    <tr>
                        <th scope="col">"Field"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Required"</th>
                        <th scope="col">"Description"</th>
                        <th scope="col">"Classification"</th>
                        <th scope="col">"Examples"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

fn field_rows(field: FieldRow, parent: &str) -> AnyView {
    let path = if parent.is_empty() {
        field.name.clone()
    } else {
        format!("{parent}.{}", field.name)
    };
    let kind = match (field.logical_type, field.physical_type) {
        (Some(logical), Some(physical)) if logical != physical => view! {
            {logical} " " <code class="catalog-physical">{physical}</code>
        }
        .into_any(),
        (Some(kind), _) | (None, Some(kind)) => kind.into_any(),
        (None, None) => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let count = field.fields.len();
    let has_nested = count > 0;
    let nested = has_nested.then(|| {
        let label = format!(
            "{count} nested field{} of {}",
            if count == 1 { "" } else { "s" },
            field.name
        );
        let table = field_table(field.fields, &path);
        view! {
            <tr class="catalog-nested-row">
                <td colspan="6">
                    <details class="catalog-nested">
                        <summary>{label}</summary>
                        {table}
                    </details>
                </td>
            </tr>
        }
    });
    let examples = field
        .examples
        .into_iter()
        .map(|example| view! { <code class="catalog-example">{example}</code> " " })
        .collect_view();
    view! {
        <tr data-field=path class:catalog-has-nested=has_nested>
            <td><code>{field.name}</code></td>
            <td>{kind}</td>
            <td>{if field.required { "yes" } else { "no" }}</td>
            <td>{field.description.unwrap_or_default()}</td>
            <td>{field.classification.unwrap_or_default()}</td>
            <td>{examples}</td>
        </tr>
        {nested}
    }
    .into_any()
}

#[component]
fn SlaSection(slas: Vec<SlaRow>) -> impl IntoView {
    // Columns no service level fills are left out.
    let elements = slas
        .iter()
        .any(|s| s.element.as_deref().is_some_and(|e| !e.is_empty()));
    let drivers = slas
        .iter()
        .any(|s| s.driver.as_deref().is_some_and(|d| !d.is_empty()));
    let body = if slas.is_empty() {
        view! { <p class="muted">"The contract states no service levels."</p> }.into_any()
    } else {
        view! {
            <div class="catalog-scroll" tabindex="0">
                <table class="data-table">
                    <thead>
                        <tr>
                            <th scope="col">"Property"</th>
                            <th scope="col">"Value"</th>
                            {elements.then(|| view! { <th scope="col">"Element"</th> })}
                            {drivers.then(|| view! { <th scope="col">"Driver"</th> })}
                        </tr>
                    </thead>
                    <tbody>
                        {slas
                            .into_iter()
                            .map(|sla| {
                                let value = match sla.unit {
                                    Some(unit) => format!("{} {unit}", sla.value),
                                    None => sla.value,
                                };
                                let key = sla.property.clone();
                                let element = sla.element.unwrap_or_default();
                                let driver = sla.driver.unwrap_or_default();
                                view! {
                                    <tr data-sla=key>
                                        <td title=sla.property.clone()>
                                            {crate::words::humane_key(&sla.property)}
                                        </td>
                                        <td>{value}</td>
                                        {elements.then(|| view! { <td>{element}</td> })}
                                        {drivers.then(|| view! { <td>{driver}</td> })}
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="catalog-section" aria-labelledby="catalog-slas">
            <h2 id="catalog-slas">"Service levels"</h2>
            {body}
        </section>
    }
}

/// `url` when it is safe as a link target (contracts are user input: no `javascript:`).
fn safe_link(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme))
        .then(|| url.trim().to_string())
}

#[component]
fn OwnersSection(
    team: Vec<crate::api::catalog::MemberRow>,
    support: Vec<crate::api::catalog::SupportRow>,
) -> impl IntoView {
    let team = if team.is_empty() {
        view! { <p class="muted">"The contract names no team members."</p> }.into_any()
    } else {
        view! {
            <ul class="catalog-people">
                {team
                    .into_iter()
                    .map(|member| {
                        let key = member.username.clone();
                        let name = member.name.unwrap_or_else(|| member.username.clone());
                        view! {
                            <li data-member=key>
                                {name} " "
                                <span class="muted">"(" {member.username} ")"</span>
                                {member.role.map(|role| view! { " — " {role} })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let support = if support.is_empty() {
        view! { <p class="muted">"The contract names no support channels."</p> }.into_any()
    } else {
        view! {
            <ul class="catalog-people">
                {support
                    .into_iter()
                    .map(|channel| {
                        let link = channel.url.as_deref().and_then(safe_link);
                        let label = channel.channel.clone();
                        view! {
                            <li data-channel=channel.channel>
                                {match link {
                                    Some(href) => view! { <a href=href>{label}</a> }.into_any(),
                                    None => label.into_any(),
                                }}
                                {channel.tool.map(|tool| view! { " " <span class="muted">"(" {tool} ")"</span> })}
                                {channel
                                    .url
                                    .filter(|url| safe_link(url).is_none())
                                    .map(|url| view! { " " <code>{url}</code> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <section class="catalog-section catalog-owners" aria-labelledby="catalog-owners">
            <h2 id="catalog-owners">"Owners and support"</h2>
            <div class="catalog-columns">
                <div>
                    <h3>"Team"</h3>
                    {team}
                </div>
                <div>
                    <h3>"Support"</h3>
                    {support}
                </div>
            </div>
        </section>
    }
}

#[component]
fn VersionsSection(
    slug: String,
    versions: Vec<VersionRow>,
    from: Option<String>,
    to: Option<String>,
    diff: Resource<Result<Option<VersionDiff>, ApiError>>,
) -> impl IntoView {
    let download = format!("/api/v1/products/{slug}/contract");
    // Defaults compare the previous version with the current one.
    let to = to.or_else(|| versions.first().map(|v| v.version.clone()));
    let from = from.or_else(|| {
        versions
            .get(1)
            .or(versions.first())
            .map(|v| v.version.clone())
    });
    let options = |selected: Option<String>| {
        versions
            .iter()
            .map(|v| {
                let is_selected = selected.as_deref() == Some(v.version.as_str());
                view! { <option value=v.version.clone() selected=is_selected>{v.version.clone()}</option> }
            })
            .collect_view()
    };
    let rows = versions
        .iter()
        .map(|v| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("version", &v.version)
                .finish();
            let href = format!("{download}?{query}");
            view! {
                <tr data-version=v.version.clone()>
                    <td><code>{v.version.clone()}</code></td>
                    <td>{v.published_by.clone()}</td>
                    <td class="catalog-nowrap">{v.published_at.clone()}</td>
                    <td><a href=href download="">"Download"</a></td>
                </tr>
            }
        })
        .collect_view();
    let comparable = versions.len() > 1;
    let from_options = options(from);
    let to_options = options(to);
    view! {
        <section class="catalog-section" id="contract-versions" aria-labelledby="catalog-versions">
            <h2 id="catalog-versions">"Contract versions"</h2>
            <div class="catalog-scroll" tabindex="0">
                <table class="data-table">
                    <thead>
                        <tr>
                            <th scope="col">"Version"</th>
                            <th scope="col">"Published by"</th>
                            <th scope="col">"Published"</th>
                            <th scope="col">"Contract"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {if comparable {
                view! {
                    <form
                        class="inline-form catalog-compare"
                        method="get"
                        action=format!("/products/{slug}#contract-versions")
                    >
                        <label>"From" <select name="from">{from_options}</select></label>
                        <label>"To" <select name="to">{to_options}</select></label>
                        <button type="submit">"Compare"</button>
                    </form>
                }
                    .into_any()
            } else {
                view! { <p class="muted">"There is one version so far: nothing to compare."</p> }
                    .into_any()
            }}
            <Transition fallback=Loading>
                {move || {
                    diff.get()
                        .map(|result| match result {
                            Ok(Some(diff)) => view! { <DiffView diff/> }.into_any(),
                            Ok(None) => ().into_any(),
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

/// A line diff between two contract versions, with its counts.
#[component]
pub fn DiffView(diff: VersionDiff) -> impl IntoView {
    let VersionDiff {
        from,
        to,
        lines,
        inserted,
        deleted,
    } = diff;
    let heading = format!("Changes from {from} to {to}");
    let body = if lines.is_empty() {
        view! { <p class="muted">"The two versions' contracts are identical."</p> }.into_any()
    } else {
        view! {
            <p class="catalog-diff-stats">
                <span class="catalog-diff-added">{format!("+{inserted}")}</span>
                " "
                <span class="catalog-diff-removed">{format!("−{deleted}")}</span>
                " lines"
            </p>
            <div class="catalog-scroll" tabindex="0">
                <table class="catalog-diff">
                    <tbody>{lines.into_iter().map(diff_line).collect_view()}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <div class="catalog-diff-box" data-from=from.clone() data-to=to.clone()>
            <h3>{heading}</h3>
            {body}
        </div>
    }
}

fn diff_line(line: DiffLine) -> AnyView {
    if line.tag == DiffTag::Skip {
        return view! {
            <tr class="catalog-diff-skip" data-diff="skip">
                <td colspan="4">"⋯ " {line.text}</td>
            </tr>
        }
        .into_any();
    }
    let tag = line.tag.as_str();
    let marker = match tag {
        "insert" => "+",
        "delete" => "−",
        _ => " ",
    };
    let number = |n: Option<usize>| n.map(|n| n.to_string()).unwrap_or_default();
    view! {
        <tr class=format!("catalog-diff-{tag}") data-diff=tag>
            <td class="catalog-diff-num">{number(line.old_line)}</td>
            <td class="catalog-diff-num">{number(line.new_line)}</td>
            <td class="catalog-diff-marker">{marker}</td>
            <td class="catalog-diff-text"><code>{line.text}</code></td>
        </tr>
    }
    .into_any()
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
