//! How the UI says that something went wrong, in one place. A failed server call shows as
//! an [`ErrorMessage`] next to the form, list or section it belongs to; the problems found
//! in something the user wrote show as a [`ProblemList`]; a page that cannot show its data
//! at all shows a [`PageProblem`] instead (for someone not signed in, the
//! [`SignInNotice`]); and when rendering itself failed, the error boundary shows the
//! [`ErrorPage`].
//!
//! Every error is announced to assistive technology (`role="alert"`) and shows only the
//! [`ApiError`]'s message, which never carries internal detail: the server logs that.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::ApiError;
use crate::api::contracts::ProblemView;

/// A short message about what just went wrong, announced as an alert.
#[component]
pub fn Alert(children: Children) -> impl IntoView {
    view! { <p class="form-error" role="alert">{children()}</p> }
}

/// A failed call, next to what it is about. Not being signed in comes with a link to the
/// sign-in page.
#[component]
pub fn ErrorMessage(
    error: ApiError,
    /// Says what did not happen, before the message ("Not published: ").
    #[prop(optional)]
    prefix: Option<&'static str>,
) -> impl IntoView {
    let message = match error {
        ApiError::Unauthenticated => {
            view! { "You need to sign in. " <a href="/login">"Sign in"</a> }.into_any()
        }
        other => other.to_string().into_any(),
    };
    view! { <Alert>{prefix}{message}</Alert> }
}

/// Problems found in text the user wrote, each with where it is (a line and column, or a
/// JSON pointer).
#[component]
pub fn ProblemList(problems: Vec<ProblemView>) -> impl IntoView {
    view! {
        <ul class="problem-list" role="alert">
            {problems
                .into_iter()
                .map(|p| view! { <li><strong>{p.location}</strong> ": " {p.message}</li> })
                .collect_view()}
        </ul>
    }
}

/// Shown where a page needs a signed-in user. `whole_page`: it stands for the page (which
/// then has no heading of its own), so its heading is the page's h1.
#[component]
pub fn SignInNotice(#[prop(optional)] whole_page: bool) -> impl IntoView {
    view! {
        <Title text="Sign in"/>
        <section class="message-page">
            {heading(whole_page, "Sign in to see this page".to_string())}
            <p><a href="/login">"Sign in"</a></p>
        </section>
    }
}

/// Why a page cannot show its data, in place of the data: not signed in, nothing at this
/// address, a missing permission, or a failure (whose message is safe to show).
#[component]
pub fn PageProblem(
    error: ApiError,
    /// The heading when there is nothing at this address ("No data product “x”").
    #[prop(optional, into)]
    not_found: Option<String>,
    /// The heading when the caller lacks a permission the page needs.
    #[prop(optional)]
    forbidden: Option<&'static str>,
    /// The problem stands for the whole page, which has no h1 of its own: its heading is
    /// the page's h1 (one per page), else an h2 under the page's.
    #[prop(optional)]
    whole_page: bool,
) -> impl IntoView {
    match error {
        ApiError::Unauthenticated => view! { <SignInNotice whole_page/> }.into_any(),
        ApiError::NotFound => view! {
            <Title text="Not found"/>
            <section class="message-page" role="alert">
                {heading(whole_page, not_found.unwrap_or_else(|| "Not found".to_string()))}
                <p><a href="/domains">"Browse the domains"</a></p>
            </section>
        }
        .into_any(),
        ApiError::Forbidden(reason) => view! {
            <Title text="Not allowed"/>
            <section class="message-page" role="alert">
                {heading(whole_page, forbidden.unwrap_or("You may not use this page").to_string())}
                <p>"Your account lacks a permission this page needs (" {reason} ")."</p>
            </section>
        }
        .into_any(),
        other => view! {
            <Title text="Could not be loaded"/>
            <section class="message-page" role="alert">
                {heading(whole_page, "This page could not be loaded".to_string())}
                <p class="form-error">{other.to_string()}</p>
            </section>
        }
        .into_any(),
    }
}

fn heading(whole_page: bool, text: String) -> AnyView {
    if whole_page {
        view! { <h1>{text}</h1> }.into_any()
    } else {
        view! { <h2>{text}</h2> }.into_any()
    }
}

/// The error boundary's fallback: what a page shows when rendering it failed. It never
/// shows the errors' text; the reader gets a short explanation and a way on.
#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let count = move || errors.with(|errors| errors.iter().count());
    view! {
        <Title text="Something went wrong"/>
        <section class="message-page" role="alert">
            <h1>"Something went wrong"</h1>
            <p>
                "This page could not be shown ("
                {move || crate::words::counted(count(), "error", "errors")}
                "). Try again in a moment; if it keeps happening, tell the platform team."
            </p>
            <p><a href="/">"Back to the catalog"</a></p>
        </section>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// The server-rendered HTML, without the hydration markers (`<!>`).
    fn html(view: impl IntoView) -> String {
        let owner = Owner::new();
        owner.with(|| view.into_view().to_html().replace("<!>", ""))
    }

    #[test]
    fn an_error_message_is_an_alert_with_only_the_message() {
        let html = html(view! { <ErrorMessage error=ApiError::NotFound/> });
        assert!(html.contains(r#"role="alert""#), "{html}");
        assert!(
            html.ends_with(r#"class="form-error">not found</p>"#),
            "{html}"
        );
    }

    #[test]
    fn a_prefix_says_what_did_not_happen() {
        let error = ApiError::invalid("yaml", "bad");
        let html = html(view! { <ErrorMessage error prefix="Not published: "/> });
        assert!(html.contains(">Not published: yaml: bad</p>"), "{html}");
    }

    #[test]
    fn not_being_signed_in_links_to_the_sign_in_page() {
        let html = html(view! { <ErrorMessage error=ApiError::Unauthenticated/> });
        assert!(html.contains(r#"<a href="/login">Sign in</a>"#), "{html}");
    }

    #[test]
    fn every_problem_is_listed_in_one_alert() {
        let problems = vec![
            ProblemView {
                location: "line 3, column 1".into(),
                message: "expected a mapping".into(),
            },
            ProblemView {
                location: "/schema".into(),
                message: "is required".into(),
            },
        ];
        let html = html(view! { <ProblemList problems/> });
        assert_eq!(html.matches(r#"role="alert""#).count(), 1, "{html}");
        assert_eq!(html.matches("<li>").count(), 2, "{html}");
        assert!(html.contains("expected a mapping"), "{html}");
    }
}
