//! A product's output ports and the schema of each: the field table with nested fields.

use leptos::prelude::*;

use crate::api::catalog::{FieldRow, PortRow};

#[component]
pub(super) fn PortsSection(ports: Vec<PortRow>) -> impl IntoView {
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
pub(super) fn SchemaSection(ports: Vec<PortRow>) -> impl IntoView {
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
