//! `/register`: domain owners (and admins) paste or write an ODCS contract; it is validated
//! as they type (problems listed with line/column or JSON pointer) and published with one
//! click. People who own no domain see why there is no form.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::catalog::VersionDiff;
use crate::api::contracts::{
    PublishContract, current_contract, publishable_domains, validate_contract,
};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem, ProblemList};
use crate::pages::catalog::DiffView;

/// A complete starter: every part a reader of the product page looks for, commented.
const STARTER: &str =
    "# An ODCS v3 data contract: https://bitol-io.github.io/open-data-contract-standard/
# Change the names, keep the shape; the checks below say what is wrong and where.
apiVersion: v3.1.0
kind: DataContract
id: DOMAIN-my-event-stream        # stable id of the contract, never reused
version: 1.0.0                     # a new version for every change; old ones stay readable
status: active                     # draft | active | deprecated | retired
name: MyEventHappened              # the event type people search for
dataProduct: my-event-happened     # the product's slug, in its address
domain: DOMAIN
description:
  purpose: What happened, who publishes it and when.
  usage: What subscribers use it for, and what they should not.
team:
  name: My team
  members:
    - username: you@example.com
      name: Your Name
      role: owner
schema:
  - name: MyEventHappened
    physicalName: DOMAIN.my-event-happened.v1   # the Kafka topic
    physicalType: topic
    description: One record per event.
    properties:
      - name: eventId
        logicalType: string
        required: true
        classification: public        # public | internal | confidential | restricted
        description: Unique id of the event (UUID)
      - name: occurredAt
        logicalType: timestamp
        required: true
        classification: public
        description: When it happened (UTC)
slaProperties:
  - property: latency                # produce to readable
    value: 5
    unit: s
  - property: retention
    value: 7
    unit: d
  - property: supportHours
    value: business hours CET
support:
  - channel: '#my-team-data'
    tool: slack
servers:
  - server: local
    type: kafka
    host: 127.0.0.1:19092
    format: json                     # json (JSON Schema) or avro
";

/// The registration page.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let domains = Resource::new(|| (), |_| publishable_domains());
    // `?from=<slug>`: a new version of that product, starting from its current contract.
    let query = use_query_map();
    let from = Memo::new(move |_| query.with(|q| q.get("from").filter(|s| !s.is_empty())));
    let current = Resource::new(
        move || from.get(),
        |from| async move {
            match from {
                Some(slug) => current_contract(slug).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <Title text="Register a data product"/>
        <h1>"Register a data product"</h1>
        <Transition fallback=Loading>
            {move || {
                domains
                    .get()
                    .map(|result| match result {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <p class="register-denied" role="alert">
                                    "Only owners of a domain (and admins) register data products. "
                                    "Ask an admin to make you an owner of your team's domain."
                                </p>
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <Transition fallback=Loading>
                                    {move || {
                                        let list = list.clone();
                                        current
                                            .get()
                                            .map(move |found| match found {
                                                Ok(start) => view! { <Editor domains=list start/> }.into_any(),
                                                Err(error) => view! { <PageProblem error/> }.into_any(),
                                            })
                                    }}
                                </Transition>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Editor(
    domains: Vec<(String, String)>,
    /// The contract to start from (a product's current one), else the starter.
    start: Option<String>,
) -> impl IntoView {
    let first = domains
        .first()
        .map(|(slug, _)| slug.clone())
        .unwrap_or_default();
    let new_version = start.is_some();
    let text = RwSignal::new(start.unwrap_or_else(|| STARTER.replace("DOMAIN", &first)));
    let validate = Action::new(|yaml: &String| validate_contract(yaml.clone()));
    let publish = ServerAction::<PublishContract>::new();
    let generation = StoredValue::new(0u64);

    // Validate as the owner types, 300 ms after the last keystroke.
    let on_input = move |ev| {
        text.set(event_target_value(&ev));
        let mine = generation.get_value() + 1;
        generation.set_value(mine);
        set_timeout(
            move || {
                if generation.get_value() == mine {
                    validate.dispatch(text.get_untracked());
                }
            },
            std::time::Duration::from_millis(300),
        );
    };
    Effect::new(move |_| {
        if let Some(Ok(slug)) = publish.value().get() {
            let _ = window().location().set_href(&format!("/products/{slug}"));
        }
    });

    let problems = move || match validate.value().get() {
        Some(Ok(report)) if report.problems.is_empty() => report.summary.map(|summary| {
            view! {
                <p class="register-ok" role="status">"Valid contract: " {summary}</p>
                {report.changes.map(|diff| view! { <PublishPreview diff/> })}
            }
            .into_any()
        }),
        Some(Ok(report)) => Some(view! { <ProblemList problems=report.problems/> }.into_any()),
        Some(Err(error)) => Some(view! { <ErrorMessage error/> }.into_any()),
        None => None,
    };
    let publish_error = move || {
        publish
            .value()
            .get()
            .and_then(Result::err)
            .map(|error| view! { <ErrorMessage error prefix="Not published: "/> })
    };

    view! {
        {new_version.then(|| view! {
            <p class="notice" data-testid="new-version">
                "This is the product's current contract: raise its " <code>"version"</code>
                ", make the change and publish. The product page shows what changed between versions."
            </p>
        })}
        <p class="muted">
            "Write or paste an ODCS v3 contract ("
            <a href="https://bitol-io.github.io/open-data-contract-standard/" rel="external">"the standard"</a>
            "). It is checked against the ODCS schema as you type; publishing creates the product "
            "(or a new contract version) and its topics. The starter below has every part a "
            "product page shows: description, team, schema with classifications, service levels, "
            "support and the broker."
        </p>
        <ActionForm action=publish attr:class="register-form">
            <label>
                "Contract (ODCS YAML)"
                <textarea
                    name="yaml"
                    rows="24"
                    spellcheck="false"
                    class="register-editor"
                    prop:value=move || text.get()
                    on:input=on_input
                ></textarea>
            </label>
            <div class="register-feedback" aria-live="polite">{problems}</div>
            <label>
                "Domain, if the contract names none"
                <select name="domain">
                    <option value="">"(as in the contract)"</option>
                    {domains
                        .into_iter()
                        .map(|(slug, name)| view! { <option value=slug>{name}</option> })
                        .collect_view()}
                </select>
            </label>
            {publish_error}
            // With JavaScript, publishing waits for a contract the checks accept; without
            // it, the server checks on publish and says what is wrong.
            <button
                type="submit"
                disabled=move || {
                    publish.pending().get()
                        || matches!(
                            validate.value().get(),
                            Some(Ok(report)) if !report.problems.is_empty()
                                || report.changes.as_ref().is_some_and(VersionDiff::same_version)
                        )
                }
            >
                "Publish"
            </button>
        </ActionForm>
    }
}

/// What publishing would change in an existing product, before it is published.
#[component]
fn PublishPreview(diff: VersionDiff) -> impl IntoView {
    let same_version = diff.same_version();
    view! {
        <div class="register-preview" data-testid="publish-preview">
            {same_version
                .then(|| {
                    view! {
                        <p class="form-error" role="alert">
                            {format!(
                                "The version is still {}, the product's current one: contracts are immutable, so raise the version to publish a change.",
                                diff.from,
                            )}
                        </p>
                    }
                })}
            <DiffView diff/>
        </div>
    }
}
