//! Light/dark theme switch. The choice lives in `localStorage` and in the `data-theme`
//! attribute of `<html>`; a tiny script in the document head applies it before first paint,
//! and the switch button works once the wasm bundle has hydrated the page.

use leptos::prelude::*;

const STORAGE_KEY: &str = "meshmart-theme";

/// Runs in `<head>` before the body renders.
pub const THEME_BOOT_SCRIPT: &str = "try{var t=localStorage.getItem('meshmart-theme');\
if(t==='dark'||t==='light'){document.documentElement.dataset.theme=t}}catch(e){}";

/// The button that switches between light and dark.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);
    // Effects run only in the browser, after hydration: pick up what the boot script applied.
    Effect::new(move |_| dark.set(current_theme().as_deref() == Some("dark")));

    let toggle = move |_| {
        let next = !dark.get_untracked();
        dark.set(next);
        apply_theme(if next { "dark" } else { "light" });
    };

    view! {
        <button
            type="button"
            class="theme-toggle"
            aria-pressed=move || dark.get().to_string()
            title="Switch between light and dark theme"
            on:click=toggle
        >
            {move || if dark.get() { "☀ Light" } else { "☾ Dark" }}
        </button>
    }
}

fn current_theme() -> Option<String> {
    document().document_element()?.get_attribute("data-theme")
}

fn apply_theme(theme: &str) {
    if let Some(root) = document().document_element() {
        // Failing to set an attribute or to store the choice only loses the preference.
        let _ = root.set_attribute("data-theme", theme);
    }
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(STORAGE_KEY, theme);
    }
}
