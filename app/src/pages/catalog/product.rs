//! `/products/{slug}`: one data product, its overview and the sections other pages own
//! (health, incidents, lineage, registry, producers, access), its SLAs and its owners.

use leptos::prelude::*;
use leptos_meta::Title;

use super::ports::{PortsSection, SchemaSection};
use super::versions::VersionsSection;
use super::{ClassificationBadge, StatusBadge, Tags, param, query};
use crate::api::ApiError;
use crate::api::catalog::{ProductView, SlaRow, VersionDiff, contract_diff, product_detail};
use crate::components::attribution::IpDataAttribution;
use crate::components::loading::Loading;
use crate::components::problem::PageProblem;
use crate::pages::health::{HealthData, HealthSection, health_data};
use crate::pages::incidents::{OpenIncidents, OpenIncidentsSection, open_incidents};
use crate::pages::lineage::{LineageSummaryData, LineageSummarySection, lineage_summary_data};
use crate::pages::schemas::{RegistryData, RegistrySection};
use crate::pages::subscriptions::{AccessData, RequestAccessSection};

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
