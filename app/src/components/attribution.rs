//! The attribution the enrichment's IP data asks for (CC BY 4.0), in one place: the product
//! page of a product an enrichment node computes and the node's own page both show it.

use leptos::prelude::*;

/// "IP Geolocation by DB-IP", with the ASN data's sources and the licence, as inline text.
#[component]
pub fn IpDataAttribution() -> impl IntoView {
    view! {
        <a href="https://db-ip.com">"IP Geolocation by DB-IP"</a>
        " (DB-IP City Lite and IP to ASN Lite) and "
        <a href="https://www.routeviews.org/">"RouteViews"</a>
        " IP to ASN data, "
        <a href="https://creativecommons.org/licenses/by/4.0/">"CC BY 4.0"</a>
        "."
    }
}
