//! `/admin/audit`: the audit log searched by actor, action, target, domain and time (a GET
//! form, so every search is a link), with the link to its CSV export.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use super::ONLY_ADMINS;
use crate::api::ApiError;
use crate::api::admin::{AuditRow, search_audit};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem};

/// The audit log filters, as they appear in the page's query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct AuditFilters {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// Older than this entry id (a page further back).
    before: Option<i64>,
}

impl AuditFilters {
    /// Reads the filters from a query map; blank values mean "no filter".
    fn from_query(query: &ParamsMap) -> Self {
        let get = |name: &str| {
            query
                .get(name)
                .map(|value| value.trim().to_string())
                .filter(|value| !value.is_empty())
        };
        Self {
            actor: get("actor"),
            action: get("action"),
            target: get("target"),
            from: get("from"),
            to: get("to"),
            before: get("before").and_then(|id| id.parse().ok()),
        }
    }

    /// This page's address with the same filters, from `before` back.
    fn page_href(&self, before: Option<i64>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in self.fields() {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(before) = before {
            query.append_pair("before", &before.to_string());
        }
        format!("/admin/audit?{}", query.finish())
    }

    fn fields(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("actor", self.actor.as_deref()),
            ("action", self.action.as_deref()),
            ("target", self.target.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
        ]
    }

    /// The value of the filter `name`, or an empty string.
    fn value(&self, name: &str) -> String {
        self.fields()
            .into_iter()
            .find(|(field, _)| *field == name)
            .and_then(|(_, value)| value.map(str::to_string))
            .unwrap_or_default()
    }

    /// The REST API's CSV export of the same entries.
    fn csv_href(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("format", "csv")
            .append_pair("limit", "10000");
        for (name, value) in self.fields() {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        format!("/api/v1/audit?{}", query.finish())
    }
}

/// The audit log: filters in the query string, results, CSV export.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| query.with(AuditFilters::from_query));
    // Keyed on the query, so a plain GET of the filter form renders the results on the server.
    let entries = Resource::new(
        move || filters.get(),
        |f| search_audit(f.actor, f.action, f.target, f.from, f.to, f.before),
    );
    view! {
        <Title text="Audit log"/>
        <div class="admin-page">
            <header class="admin-head">
                <h1>"Audit log"</h1>
                <a href="/admin">"Administration"</a>
            </header>
            <Transition fallback=Loading>
                {move || {
                    entries
                        .get()
                        .map(|result| match result {
                            Ok(page) => {
                                let older = page.older.map(|id| filters.with(|f| f.page_href(Some(id))));
                                let newest = filters
                                    .with(|f| f.before.is_some().then(|| f.page_href(None)));
                                view! {
                                    <AuditFilterForm filters actions=page.actions/>
                                    <p class="audit-export">
                                        <a href=move || filters.with(AuditFilters::csv_href) download="audit.csv">
                                            "Export CSV"
                                        </a>
                                    </p>
                                    <AuditTable rows=page.rows/>
                                    <nav class="pager" aria-label="Audit pages">
                                        {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
                                        {older.map(|href| view! { <a href=href rel="next">"Older entries →"</a> })}
                                    </nav>
                                }
                                    .into_any()
                            }
                            Err(error @ (ApiError::Unauthenticated | ApiError::Forbidden(_))) => {
                                view! { <PageProblem error forbidden=ONLY_ADMINS/> }.into_any()
                            }
                            Err(error) => view! { <ErrorMessage error/> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn AuditFilterForm(filters: Memo<AuditFilters>, actions: Vec<String>) -> impl IntoView {
    let chosen = filters.with_untracked(|f| f.action.clone().unwrap_or_default());
    let options = actions
        .into_iter()
        .map(|action| {
            let selected = action == chosen;
            view! { <option value=action.clone() selected=selected>{action.clone()}</option> }
        })
        .collect_view();
    let field = move |name: &'static str| {
        Signal::derive(move || filters.with(|filters| filters.value(name)))
    };
    view! {
        <form class="audit-filters" method="get" action="/admin/audit" role="search">
            <AuditInput
                name="actor"
                label="Actor"
                hint="user:ana@example.com"
                value=field("actor")
            />
            <div class="audit-field">
                <label for="audit-action">"Action"</label>
                <select id="audit-action" name="action">
                    <option value="">"Any action"</option>
                    {options}
                </select>
            </div>
            <AuditInput
                name="target"
                label="Target"
                hint="user:bob@example.com"
                value=field("target")
            />
            <AuditInput name="from" label="From (UTC)" kind="datetime-local" value=field("from")/>
            <AuditInput name="to" label="To (UTC)" kind="datetime-local" value=field("to")/>
            <div class="audit-filter-actions">
                <button type="submit">"Filter"</button>
                <a href="/admin/audit">"Clear"</a>
            </div>
        </form>
    }
}

#[component]
fn AuditInput(
    name: &'static str,
    label: &'static str,
    /// An example value, shown as the placeholder.
    #[prop(optional)]
    hint: &'static str,
    /// The input's type (`text` by default).
    #[prop(optional)]
    kind: Option<&'static str>,
    #[prop(into)] value: Signal<String>,
) -> impl IntoView {
    let id = format!("audit-{name}");
    view! {
        <div class="audit-field">
            <label for=id.clone()>{label}</label>
            // `value` for the server-rendered page, `prop:value` for client-side navigation.
            <input
                id=id
                type=kind.unwrap_or("text")
                name=name
                placeholder=hint
                value=value
                prop:value=value
            />
        </div>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="admin-muted">"No audit entries match these filters."</p> }
            .into_any();
    }
    let count = match rows.len() {
        1 => "1 entry".to_string(),
        n => format!("{n} entries"),
    };
    view! {
        <p class="admin-muted">{count} ", newest first."</p>
        <div class="admin-scroll" tabindex="0">
            <table class="admin-table audit-table">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Actor"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Domain"</th>
                        <th scope="col">"Outcome"</th>
                        <th scope="col">"Before → after"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|row| {
                            view! {
                                <tr data-audit-id=row.id.to_string()>
                                    <td class="audit-time">{row.occurred_at}</td>
                                    <td>{row.actor}</td>
                                    <td>
                                        <code>{row.action}</code>
                                    </td>
                                    <td>{row.target}</td>
                                    <td>{row.domain.unwrap_or_default()}</td>
                                    <td>
                                        <span class="admin-badge audit-outcome">{row.outcome}</span>
                                    </td>
                                    <td>
                                        <Change before=row.before after=row.after/>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The before and after JSON of an entry, compact.
#[component]
fn Change(before: Option<String>, after: Option<String>) -> impl IntoView {
    if before.is_none() && after.is_none() {
        return view! { <span class="admin-muted">"—"</span> }.into_any();
    }
    // The first line reads at a glance; the whole JSON opens in place.
    let part = |label: &'static str, json: Option<String>| {
        json.map(|json| {
            let glance: String = json.split_whitespace().collect::<Vec<_>>().join(" ");
            let glance = if glance.chars().count() > 60 {
                format!("{}…", glance.chars().take(60).collect::<String>())
            } else {
                glance
            };
            view! {
                <details class="audit-change">
                    <summary>
                        <span class="audit-change-label">{label}</span>
                        <code>{glance}</code>
                    </summary>
                    <pre class="audit-json" tabindex="0">{json}</pre>
                </details>
            }
        })
    };
    view! {
        {part("before", before)}
        {part("after", after)}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_link_carries_the_filters_encoded() {
        let filters = AuditFilters {
            actor: Some("user:ana@example.com".into()),
            from: Some("2026-11-26T10:00+01:00".into()),
            ..AuditFilters::default()
        };
        assert_eq!(
            filters.csv_href(),
            "/api/v1/audit?format=csv&limit=10000\
             &actor=user%3Aana%40example.com&from=2026-11-26T10%3A00%2B01%3A00"
        );
    }

    #[test]
    fn csv_link_without_filters_exports_everything() {
        assert_eq!(
            AuditFilters::default().csv_href(),
            "/api/v1/audit?format=csv&limit=10000"
        );
    }

    #[test]
    fn spaces_ampersands_and_unicode_reach_the_export_unchanged() {
        let filters = AuditFilters {
            actor: Some("user:é@example.com".into()),
            target: Some("a b&c=d+e".into()),
            ..AuditFilters::default()
        };
        let href = filters.csv_href();
        let query = href.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("actor"), Some("user:é@example.com"));
        assert_eq!(value("target"), Some("a b&c=d+e"));
        assert_eq!(pairs.len(), 4, "{pairs:?}");
    }

    #[test]
    fn blank_query_values_are_no_filter() {
        let mut query = ParamsMap::new();
        query.insert("actor", " ".to_string());
        query.insert("action", " role.grant ".to_string());
        let filters = AuditFilters::from_query(&query);
        assert_eq!(filters.actor, None);
        assert_eq!(filters.action.as_deref(), Some("role.grant"));
    }
}
