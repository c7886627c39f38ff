//! Browser entry point. The server renders every page; this crate only hydrates it so the
//! same components become interactive once the wasm bundle has loaded.

use leptos::prelude::document;
use wasm_bindgen::prelude::wasm_bindgen;

/// Hydrates the server-rendered `<body>` with the Meshmart app. Most pages are lazy routes
/// (`app/src/routes.rs`) whose code arrives in chunks of their own, so hydration is
/// asynchronous: it waits for the current page's chunk (`hydrate_body` cannot). Once all of
/// the page is live, `<html data-hydrated>` says so, for browser tests and benchmarks (and
/// curious people) to tell a hydrated page from server-rendered HTML.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = document().body() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
