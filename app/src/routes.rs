//! The pages the browser loads only when they are visited. Each is a `#[lazy_route]`: in
//! the browser bundle its code is cut out into a chunk of its own by the build's split
//! step (`scripts/build.sh`, `tools/wasm-split`), fetched when the route is first entered
//! and preloaded with the page when the server renders it. On the server nothing changes.
//! Only the home page (the search) stays in the main bundle with the header and footer.

use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages::account::AccountPage;
use crate::pages::admin::{AdminPage, AuditPage};
use crate::pages::catalog::{DomainPage, DomainsPage, ProductPage};
use crate::pages::health::SamplesPage;
use crate::pages::incidents::{IncidentDetailPage, IncidentsPage};
use crate::pages::lineage::LineagePage;
use crate::pages::login::LoginPage;
use crate::pages::nodes::NodePage;
use crate::pages::register::RegisterPage;
use crate::pages::registry::RegistryPage;
use crate::pages::subscriptions::{ApprovalsPage, MySubscriptionsPage};

/// Declares a lazily loaded group of pages: one `#[lazy]` function whose code (every
/// page of the group) is one chunk, and one route type per page. Pages are grouped by
/// who visits them together, because each split point multiplies the small chunks of code
/// shared between splits: sixteen splits of one page each made 229 files, 134 of them
/// fetched for the product page; four groups make a handful.
macro_rules! lazy_group {
    ($loader:ident, $preload:ident, $which:ident { $($route:ident => $page:ident),* $(,)? }) => {
        #[derive(Clone, Copy)]
        enum $which {
            $($route),*
        }

        #[lazy]
        fn $loader(page: $which) -> AnyView {
            match page {
                $($which::$route => view! { <$page/> }.into_any()),*
            }
        }

        $(
            pub struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    Self
                }

                async fn view(_this: Self) -> AnyView {
                    $loader($which::$route).await
                }

                async fn preload() {
                    #[cfg(feature = "hydrate")]
                    $preload().await;
                }
            }
        )*
    };
}

// What an analyst reads about one product.
lazy_group!(product_pages, __preload_product_pages, ProductPages {
    Product => ProductPage,
    Lineage => LineagePage,
    Samples => SamplesPage,
});

// Browsing the catalog beyond search.
lazy_group!(browse_pages, __preload_browse_pages, BrowsePages {
    Domains => DomainsPage,
    Domain => DomainPage,
    Registry => RegistryPage,
});

// Signing in and what one does as oneself: account, subscriptions, products to register,
// requests to approve.
lazy_group!(account_pages, __preload_account_pages, AccountPages {
    Login => LoginPage,
    Account => AccountPage,
    MySubscriptions => MySubscriptionsPage,
    Register => RegisterPage,
    Approvals => ApprovalsPage,
});

// Running the mesh: administration, audit, stream nodes and incidents.
lazy_group!(operations_pages, __preload_operations_pages, OperationsPages {
    Admin => AdminPage,
    Audit => AuditPage,
    Node => NodePage,
    Incidents => IncidentsPage,
    IncidentDetail => IncidentDetailPage,
});
