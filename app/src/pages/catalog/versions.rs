//! A product's contract versions and the diff between two of them (a GET form, so it
//! works without JavaScript); the register page shows the same diff.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::api::catalog::{DiffLine, DiffTag, VersionDiff, VersionRow};
use crate::components::loading::Loading;
use crate::components::problem::ErrorMessage;

#[component]
pub(super) fn VersionsSection(
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
