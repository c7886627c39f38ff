//! The schema registry's browser (`/schemas`): every subject, searchable by subject,
//! product or domain, with its product, type, latest version, number of versions and
//! compatibility mode; subjects no product owns are listed apart, for those who may write
//! them. `/schemas?subject=<name>` is one subject's page: for a product's subject, its
//! versions, a comparison of any two, who reads it and (for owners) a proposal check — the
//! product page's registry section for that one port; for another subject, its versions.
//!
//! Both are GET forms and links, so they read and work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::registry::{
    SubjectRowView, SubjectsView, orphan_versions, registry_subject, registry_subjects,
};
use crate::components::loading::Loading;
use crate::components::problem::PageProblem;
use crate::pages::schemas::{ReferenceLinks, RegistrySection};
use crate::words::counted;

#[component]
pub fn RegistryPage() -> impl IntoView {
    let query = use_query_map();
    let subject = Memo::new(move |_| query.with(|q| q.get("subject").filter(|s| !s.is_empty())));
    move || match subject.get() {
        Some(subject) => view! { <SubjectPage subject/> }.into_any(),
        None => view! { <SubjectsPage/> }.into_any(),
    }
}

#[component]
fn SubjectsPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.with(|q| q.get("q").unwrap_or_default()));
    let found = Resource::new_blocking(move || q.get(), registry_subjects);
    view! {
        <Title text="Schema registry"/>
        <div class="catalog-page registry-browser">
            <h1>"Schema registry"</h1>
            <p class="muted">
                "Every subject Meshmart's Confluent-compatible registry holds ("
                <code>"/registry"</code>
                " for clients). A product's port publishes under "
                <code>"<topic>-value"</code> "."
            </p>
            <form class="inline-form registry-search" method="get" action="/schemas" role="search">
                <label>
                    <span class="visually-hidden">"Find a subject"</span>
                    <input
                        type="search"
                        name="q"
                        value=move || q.get()
                        placeholder="Subject, product or domain"
                        aria-label="Find a subject"
                    />
                </label>
                <button type="submit">"Find"</button>
            </form>
            <Transition fallback=Loading>
                {move || {
                    found
                        .get()
                        .map(|result| match result {
                            Ok(view) => view! { <Subjects view/> }.into_any(),
                            Err(error) => view! { <PageProblem error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn Subjects(view: SubjectsView) -> impl IntoView {
    let SubjectsView {
        items,
        total,
        limit,
        orphans,
    } = view;
    let shown = items.len();
    let summary = if total as usize > shown {
        format!(
            "{} of {} shown (the first {limit} by name): search to narrow them.",
            shown,
            counted(total as usize, "subject", "subjects")
        )
    } else {
        counted(shown, "subject", "subjects")
    };
    view! {
        <p data-testid="registry-summary"><strong>{summary}</strong></p>
        <SubjectTable rows=items product=true/>
        {orphans.map(|rows| {
            view! {
                <section class="catalog-section" aria-labelledby="orphans-heading">
                    <h2 id="orphans-heading">"Subjects no product owns"</h2>
                    <p class="muted">
                        "Registered by hand or left over from tests: no data product's port publishes under them. Only admins see them."
                    </p>
                    <SubjectTable rows product=false/>
                </section>
            }
        })}
    }
}

#[component]
fn SubjectTable(rows: Vec<SubjectRowView>, product: bool) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"No subject matches."</p> }.into_any();
    }
    let body = rows
        .into_iter()
        .map(|row| {
            let href = format!(
                "/schemas?subject={}",
                form_urlencoded::byte_serialize(row.subject.as_bytes()).collect::<String>()
            );
            let owner = match (&row.product, &row.product_name) {
                (Some(slug), Some(name)) => {
                    view! { <a href=format!("/products/{slug}")>{name.clone()}</a> }.into_any()
                }
                _ => view! { <span class="muted">"—"</span> }.into_any(),
            };
            let key = row.subject.clone();
            view! {
                <tr data-subject=key>
                    <td><a href=href><code>{row.subject}</code></a></td>
                    {product.then(|| view! { <td>{owner}</td> })}
                    <td>{row.schema_type}</td>
                    <td>{format!("v{}", row.latest)}</td>
                    <td>{row.versions}</td>
                    <td>{row.mode}</td>
                    <td class="catalog-nowrap">{row.updated_at}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="catalog-scroll" tabindex="0">
            <table class="data-table registry-subjects">
                <thead>
                    <tr>
                        <th scope="col">"Subject"</th>
                        {product.then(|| view! { <th scope="col">"Product"</th> })}
                        <th scope="col">"Type"</th>
                        <th scope="col">"Latest"</th>
                        <th scope="col">"Versions"</th>
                        <th scope="col">"Compatibility"</th>
                        <th scope="col">"Changed"</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn SubjectPage(subject: String) -> impl IntoView {
    let found = Resource::new_blocking(
        {
            let subject = subject.clone();
            move || subject.clone()
        },
        registry_subject,
    );
    view! {
        <Title text=format!("{subject} · schema registry")/>
        <div class="catalog-page registry-browser">
            <nav class="catalog-breadcrumbs" aria-label="Breadcrumbs">
                <a href="/schemas">"Schema registry"</a>
            </nav>
            <Transition fallback=Loading>
                {move || {
                    let subject = subject.clone();
                    found
                        .get()
                        .map(move |result| match result {
                            Ok(row) => view! { <SubjectDetail row/> }.into_any(),
                            Err(error) => {
                                let not_found = format!("No subject “{subject}”");
                                view! { <PageProblem error whole_page=true not_found/> }.into_any()
                            }
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn SubjectDetail(row: SubjectRowView) -> impl IntoView {
    let heading = view! { <h1><code>{row.subject.clone()}</code></h1> };
    let body = match (row.product.clone(), row.product_name.clone()) {
        (Some(slug), Some(name)) => view! {
            <p class="catalog-description">
                "Published by " <a href=format!("/products/{slug}")>{name}</a>
                {row.domain.map(|d| view! { " in " <a href=format!("/domains/{d}")>{d.clone()}</a> })}
                ". Compatibility " <strong>{row.mode}</strong> "."
            </p>
            <RegistrySection slug only=row.subject/>
        }
        .into_any(),
        _ => view! {
            <p class="catalog-description">
                "No data product's port publishes under this subject. Compatibility "
                <strong>{row.mode}</strong> "."
            </p>
            <OrphanVersions subject=row.subject/>
        }
        .into_any(),
    };
    view! {
        {heading}
        {body}
    }
}

#[component]
fn OrphanVersions(subject: String) -> impl IntoView {
    let versions = Resource::new_blocking(move || subject.clone(), orphan_versions);
    view! {
        <Transition fallback=Loading>
            {move || {
                versions
                    .get()
                    .map(|result| match result {
                        Ok(versions) => versions
                            .into_iter()
                            .map(|v| {
                                let summary = format!("v{} · schema id {} · {} · {} · {}", v.version, v.id, v.schema_type, v.registered_by, v.registered_at);
                                let schema = v.schema.clone();
                                let number = v.version.to_string();
                                view! {
                                    <ReferenceLinks version=v/>
                                    <details class="registry-latest" data-schema-version=number>
                                        <summary>{summary}</summary>
                                        <pre tabindex="0"><code>{schema}</code></pre>
                                    </details>
                                }
                            })
                            .collect_view()
                            .into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}
