//! Browser entry point. The server renders every page; this crate only hydrates it so the
//! same components become interactive once the wasm bundle has loaded.

use wasm_bindgen::prelude::wasm_bindgen;

/// Hydrates the server-rendered `<body>` with the Meshmart app.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
