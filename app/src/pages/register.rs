//! `/register`: domain owners (and admins) paste or write an ODCS contract; it is validated
//! as they type (problems listed with line/column or JSON pointer) and published with one
//! click. People who own no domain see why there is no form.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::contracts::{PublishContract, publishable_domains, validate_contract};
use crate::components::loading::Loading;
use crate::components::problem::{ErrorMessage, PageProblem, ProblemList};

const STARTER: &str = "apiVersion: v3.1.0
kind: DataContract
id: my-event-stream
version: 1.0.0
status: active
name: My Event Stream
dataProduct: my event stream
domain: DOMAIN
schema:
  - name: MyEvent
    physicalName: DOMAIN.my-event.v1
    properties:
      - name: eventId
        logicalType: string
        required: true
";

/// The registration page.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let domains = Resource::new(|| (), |_| publishable_domains());
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
                        Ok(list) => view! { <Editor domains=list/> }.into_any(),
                        Err(error) => view! { <PageProblem error/> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn Editor(domains: Vec<(String, String)>) -> impl IntoView {
    let first = domains
        .first()
        .map(|(slug, _)| slug.clone())
        .unwrap_or_default();
    let text = RwSignal::new(STARTER.replace("DOMAIN", &first));
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
            view! { <p class="register-ok" role="status">"Valid contract: " {summary}</p> }
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
        <p class="muted">
            "Write or paste an ODCS v3 contract. It is checked against the ODCS schema as you type; "
            "publishing creates the product (or a new contract version) and its topics."
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
            <button type="submit" disabled=move || publish.pending().get()>"Publish"</button>
        </ActionForm>
    }
}
