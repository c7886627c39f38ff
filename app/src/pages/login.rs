//! `/login`: email and password. Works as a plain form without JavaScript; once hydrated,
//! errors (wrong password, throttling) show inline without a page load.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use leptos::server_fn::error::ServerFnUrlError;

use crate::api::ApiError;
use crate::api::auth::Login;
use crate::components::layout::AuthEpoch;
use crate::components::problem::ErrorMessage;

/// The sign-in form.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".to_string()));
    let epoch = use_context::<AuthEpoch>();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(epoch)) = (login.value().get(), epoch) {
            epoch.0.update(|n| *n += 1);
        }
    });
    // Without JavaScript, a failed sign-in comes back here with the error in the URL.
    let url_error = move || {
        query.with(|q| {
            (q.get("__path").as_deref() == Some("/api/fn/login"))
                .then(|| q.get("__err"))
                .flatten()
                .map(|encoded| ServerFnUrlError::<ApiError>::decode_err(&encoded))
        })
    };
    let error = move || {
        login
            .value()
            .get()
            .map_or_else(url_error, Result::err)
            .map(|error| view! { <ErrorMessage error/> })
    };

    view! {
        <Title text="Sign in"/>
        <section class="narrow-page">
            <h1>"Sign in"</h1>
            <ActionForm action=login attr:class="stacked-form">
                <input type="hidden" name="next" prop:value=next/>
                <label>
                    "Email"
                    <input type="email" name="email" autocomplete="username" required/>
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                {error}
                <button type="submit" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
