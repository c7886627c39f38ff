//! The authorization matrix: every plain route, every server function and every page,
//! called as anonymous, an analyst, the owner of domain A, the owner of domain B and an
//! admin, with the outcome each must get. A route or server function that is not in the
//! matrix fails the test, so none can be added without deciding who may call it.

use std::collections::BTreeSet;

use reqwest::Method;
use sqlx::PgPool;

use crate::helpers::spawn_app;

/// Who calls.
#[derive(Clone, Copy, Debug)]
enum Persona {
    Anonymous,
    Analyst,
    OwnerA,
    OwnerB,
    Admin,
}

const PERSONAS: [Persona; 5] = [
    Persona::Anonymous,
    Persona::Analyst,
    Persona::OwnerA,
    Persona::OwnerB,
    Persona::Admin,
];

impl Persona {
    fn email(self) -> Option<&'static str> {
        match self {
            Persona::Anonymous => None,
            Persona::Analyst => Some("analyst1@meshmart.local"),
            Persona::OwnerA => Some("owner.customer-management@meshmart.local"),
            Persona::OwnerB => Some("owner.sales@meshmart.local"),
            Persona::Admin => Some("admin@meshmart.local"),
        }
    }
}

/// Who may call a route: everyone, anyone signed in, owners of domain A (and admins), or
/// admins only.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Public,
    SignedIn,
    OwnerOfA,
    AdminOnly,
}

impl Rule {
    fn allows(self, persona: Persona) -> bool {
        match (self, persona) {
            (Rule::Public, _) => true,
            (_, Persona::Anonymous) => false,
            (Rule::SignedIn, _) => true,
            (Rule::OwnerOfA, p) => matches!(p, Persona::OwnerA | Persona::Admin),
            (Rule::AdminOnly, p) => matches!(p, Persona::Admin),
        }
    }
}

enum Body {
    None,
    Json(&'static str),
    Form(&'static str),
    Yaml(&'static str),
}

/// `yaml=<a valid contract in domain A>`, form-encoded.
const PUBLISH_FORM: &str = "yaml=apiVersion%3A%20v3.1.0%0Akind%3A%20DataContract%0Aid%3A%20matrix-fn%0A\
version%3A%201.0.0%0Astatus%3A%20draft%0Aname%3A%20Matrix%20fn%0Adomain%3A%20customer-management%0A\
schema%3A%0A%20%20-%20name%3A%20MatrixFn%0A%20%20%20%20physicalName%3A%20matrix.fn%0A";

/// A valid contract for a product in domain A.
const MATRIX_CONTRACT: &str = "apiVersion: v3.1.0\nkind: DataContract\nid: matrix-probe\n\
version: 1.0.0\nstatus: draft\nname: Matrix probe\ndataProduct: matrix probe\n\
domain: customer-management\nschema:\n  - name: MatrixProbe\n    physicalName: matrix.probe\n";

struct Entry {
    method: Method,
    /// The declared path (with `{param}`s), as the route inventory lists it.
    route: &'static str,
    /// The path actually called.
    path: &'static str,
    body: Body,
    rule: Rule,
}

fn entry(method: Method, route: &'static str, path: &'static str, body: Body, rule: Rule) -> Entry {
    Entry {
        method,
        route,
        path,
        body,
        rule,
    }
}

fn plain(method: Method, path: &'static str, body: Body, rule: Rule) -> Entry {
    entry(method, path, path, body, rule)
}

fn server_fn(name: &'static str, form: &'static str, rule: Rule) -> Entry {
    // Leaked once per test run: the paths are 'static in the inventory too.
    let path: &'static str = Box::leak(format!("/api/fn/{name}").into_boxed_str());
    entry(Method::POST, path, path, Body::Form(form), rule)
}

fn matrix() -> Vec<Entry> {
    vec![
        // Operations endpoints are for probes and scrapers.
        plain(Method::GET, "/healthz", Body::None, Rule::Public),
        plain(Method::GET, "/readyz", Body::None, Rule::Public),
        plain(Method::GET, "/metrics", Body::None, Rule::Public),
        // The API's description is public, like any API documentation.
        plain(
            Method::GET,
            "/api/v1/openapi.json",
            Body::None,
            Rule::Public,
        ),
        // Sessions and tokens.
        plain(
            Method::POST,
            "/api/v1/session",
            Body::Json(r#"{"email":"analyst2@meshmart.local","password":"meshmart"}"#),
            Rule::Public,
        ),
        plain(Method::GET, "/api/v1/session", Body::None, Rule::SignedIn),
        plain(
            Method::DELETE,
            "/api/v1/session",
            Body::None,
            Rule::SignedIn,
        ),
        plain(
            Method::POST,
            "/api/v1/tokens",
            Body::Json(r#"{"name":"matrix"}"#),
            Rule::SignedIn,
        ),
        plain(Method::GET, "/api/v1/tokens", Body::None, Rule::SignedIn),
        entry(
            Method::DELETE,
            "/api/v1/tokens/{id}",
            "/api/v1/tokens/00000000-0000-0000-0000-000000000000",
            Body::None,
            Rule::SignedIn,
        ),
        plain(Method::GET, "/api/v1/audit", Body::None, Rule::AdminOnly),
        // The catalog: everyone signed in reads; owners of the contract's domain publish.
        plain(Method::GET, "/api/v1/products", Body::None, Rule::SignedIn),
        plain(Method::GET, "/api/v1/search", Body::None, Rule::SignedIn),
        entry(
            Method::GET,
            "/api/v1/products/{slug}",
            "/api/v1/products/no-such-product",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/api/v1/products/{slug}/contract",
            "/api/v1/products/no-such-product/contract",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::PUT,
            "/api/v1/products/{slug}/contract",
            "/api/v1/products/matrix-probe/contract",
            Body::Yaml(MATRIX_CONTRACT),
            Rule::OwnerOfA,
        ),
        entry(
            Method::GET,
            "/api/v1/domains/{domain}/service-accounts",
            "/api/v1/domains/customer-management/service-accounts",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/domains/{domain}/service-accounts",
            "/api/v1/domains/customer-management/service-accounts",
            Body::Json(r#"{"name":"svc-matrix-probe"}"#),
            Rule::OwnerOfA,
        ),
        // Server functions.
        server_fn(
            "login",
            "email=analyst2%40meshmart.local&password=meshmart",
            Rule::Public,
        ),
        server_fn("current_user", "", Rule::Public),
        // Public: visitors get no results (and the page invites them to sign in).
        server_fn("search_catalog", "query=q%3Dorder", Rule::Public),
        server_fn("logout", "", Rule::SignedIn),
        server_fn("list_tokens", "", Rule::SignedIn),
        server_fn("create_token", "name=matrix", Rule::SignedIn),
        server_fn(
            "revoke_token",
            "id=00000000-0000-0000-0000-000000000000",
            Rule::SignedIn,
        ),
        server_fn("list_domains", "", Rule::SignedIn),
        server_fn("admin_users", "", Rule::AdminOnly),
        server_fn(
            "admin_create_user",
            "email=matrix%40example.com&display_name=M&password=meshmart-matrix",
            Rule::AdminOnly,
        ),
        server_fn(
            "admin_set_disabled",
            "id=00000000-0000-0000-0000-000000000000&disabled=true",
            Rule::AdminOnly,
        ),
        server_fn(
            "admin_reset_password",
            "id=00000000-0000-0000-0000-000000000000&password=long-enough",
            Rule::AdminOnly,
        ),
        server_fn(
            "admin_set_role",
            "id=00000000-0000-0000-0000-000000000000&role=analyst&grant=true",
            Rule::AdminOnly,
        ),
        server_fn("admin_service_accounts", "", Rule::AdminOnly),
        server_fn(
            "create_service_account",
            "domain=customer-management&name=svc-matrix-fn&description=x",
            Rule::OwnerOfA,
        ),
        server_fn("admin_policy", "", Rule::AdminOnly),
        server_fn("admin_audit", "", Rule::AdminOnly),
        // Registration from the browser.
        server_fn(
            "validate_contract",
            "yaml=kind%3A%20DataContract",
            Rule::SignedIn,
        ),
        server_fn("publishable_domains", "", Rule::SignedIn),
        server_fn("publish_contract", PUBLISH_FORM, Rule::OwnerOfA),
        // Catalog reads for the browser (a 404 for an unknown product counts as allowed).
        server_fn("catalog_domains", "", Rule::SignedIn),
        server_fn("catalog_products", "domain=sales&limit=5", Rule::SignedIn),
        server_fn("catalog_product", "slug=no-such-product", Rule::SignedIn),
        server_fn(
            "catalog_contract_diff",
            "slug=no-such-product&from=1.0.0&to=1.1.0",
            Rule::SignedIn,
        ),
        // The schema registry's part of the product page.
        server_fn("product_schemas", "slug=no-such-product", Rule::SignedIn),
        server_fn(
            "schema_diff",
            "subject=nope-value&from=1&to=2",
            Rule::SignedIn,
        ),
        server_fn(
            "check_schema",
            "slug=matrix-schema&topic=matrix.schema&schema=%7B%7D",
            Rule::OwnerOfA,
        ),
        server_fn("current_contract", "slug=matrix-schema", Rule::OwnerOfA),
        server_fn(
            "announce_schema",
            "slug=matrix-schema&topic=matrix.schema&schema=%7B%7D",
            Rule::OwnerOfA,
        ),
        // The registry browser: everyone signed in; subjects no product owns, admins.
        server_fn("registry_subjects", "q=", Rule::SignedIn),
        server_fn("registry_subject", "subject=nope-value", Rule::SignedIn),
        server_fn("orphan_versions", "subject=nope-value", Rule::AdminOnly),
        // The Confluent-compatible registry: everyone signed in reads; owners of the
        // product whose topic a subject names write it; admins set the global default.
        plain(
            Method::GET,
            "/registry/subjects",
            Body::None,
            Rule::SignedIn,
        ),
        plain(
            Method::GET,
            "/registry/schemas/types",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/subjects/{subject}/versions",
            "/registry/subjects/matrix.schema-value/versions",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/subjects/{subject}/versions/{version}",
            "/registry/subjects/matrix.schema-value/versions/latest",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/subjects/{subject}/versions/{version}/schema",
            "/registry/subjects/matrix.schema-value/versions/1/schema",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/registry/subjects/{subject}",
            "/registry/subjects/matrix.schema-value",
            Body::Json(REGISTRY_SCHEMA),
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/registry/compatibility/subjects/{subject}/versions/{version}",
            "/registry/compatibility/subjects/matrix.schema-value/versions/latest",
            Body::Json(REGISTRY_SCHEMA),
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/registry/compatibility/subjects/{subject}/versions",
            "/registry/compatibility/subjects/matrix.schema-value/versions",
            Body::Json(REGISTRY_SCHEMA),
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/schemas/ids/{id}",
            "/registry/schemas/ids/1",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/schemas/ids/{id}/schema",
            "/registry/schemas/ids/1/schema",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/schemas/ids/{id}/versions",
            "/registry/schemas/ids/1/versions",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/schemas/ids/{id}/referencedby",
            "/registry/schemas/ids/1/referencedby",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/subjects/{subject}/versions/{version}/referencedby",
            "/registry/subjects/matrix.schema-value/versions/1/referencedby",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/registry/associations/resources/{namespace}/{resource}",
            "/registry/associations/resources/-/matrix.schema",
            Body::None,
            Rule::SignedIn,
        ),
        plain(Method::GET, "/registry/config", Body::None, Rule::SignedIn),
        entry(
            Method::GET,
            "/registry/config/{subject}",
            "/registry/config/matrix.schema-value",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/registry/subjects/{subject}/versions",
            "/registry/subjects/matrix.schema-value/versions",
            Body::Json(REGISTRY_SCHEMA),
            Rule::OwnerOfA,
        ),
        entry(
            Method::PUT,
            "/registry/config/{subject}",
            "/registry/config/matrix.schema-value",
            Body::Json(r#"{"compatibility":"FULL"}"#),
            Rule::OwnerOfA,
        ),
        entry(
            Method::DELETE,
            "/registry/config/{subject}",
            "/registry/config/matrix.schema-value",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::DELETE,
            "/registry/subjects/{subject}/versions/{version}",
            "/registry/subjects/matrix.schema-value/versions/99",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::DELETE,
            "/registry/subjects/{subject}",
            "/registry/subjects/matrix.schema-value?permanent=true",
            Body::None,
            Rule::OwnerOfA,
        ),
        plain(
            Method::PUT,
            "/registry/config",
            Body::Json(r#"{"compatibility":"BACKWARD"}"#),
            Rule::AdminOnly,
        ),
        plain(
            Method::DELETE,
            "/registry/config",
            Body::None,
            Rule::AdminOnly,
        ),
        // Subscriptions: everyone signed in requests and lists (their own); the owners of
        // the product's domain and admins decide (MATRIX_SUBSCRIPTION is a pending request
        // of analyst2 for a product of domain A).
        plain(
            Method::POST,
            "/api/v1/subscriptions",
            Body::Json(r#"{"product":"matrix-page","purpose":"matrix","group":"matrix-probe."}"#),
            Rule::SignedIn,
        ),
        plain(
            Method::GET,
            "/api/v1/subscriptions",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/api/v1/subscriptions/{id}",
            "/api/v1/subscriptions/00000000-0000-0000-0000-000000000000",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/api/v1/subscriptions/{id}/approve",
            "/api/v1/subscriptions/00000000-0000-0000-0000-0000000000a1/approve",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/subscriptions/{id}/reject",
            "/api/v1/subscriptions/00000000-0000-0000-0000-0000000000a1/reject",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/subscriptions/{id}/revoke",
            "/api/v1/subscriptions/00000000-0000-0000-0000-0000000000a1/revoke",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/subscriptions/{id}/replay",
            "/api/v1/subscriptions/00000000-0000-0000-0000-0000000000a1/replay",
            Body::None,
            Rule::OwnerOfA,
        ),
        server_fn("subscription_form", "slug=no-such-product", Rule::SignedIn),
        server_fn(
            "request_access",
            "product=matrix-page&purpose=matrix&group=matrix-fn.",
            Rule::SignedIn,
        ),
        server_fn("my_subscriptions", "", Rule::SignedIn),
        server_fn("mark_notifications_read", "ids=1", Rule::SignedIn),
        server_fn("approvals", "", Rule::SignedIn),
        server_fn(
            "decide_subscription",
            "id=00000000-0000-0000-0000-0000000000a1&decision=approve",
            Rule::OwnerOfA,
        ),
        server_fn(
            "revoke_subscription",
            "id=00000000-0000-0000-0000-0000000000a1",
            Rule::OwnerOfA,
        ),
        server_fn(
            "replay_subscription",
            "id=00000000-0000-0000-0000-0000000000a1&group=x&to=earliest",
            Rule::OwnerOfA,
        ),
        server_fn("set_auto_approve", "slug=matrix-schema", Rule::OwnerOfA),
        // Service-account broker credentials (SCRAM).
        entry(
            Method::POST,
            "/api/v1/domains/{domain}/service-accounts/{name}/credentials",
            "/api/v1/domains/customer-management/service-accounts/svc-matrix-probe/credentials",
            Body::None,
            Rule::OwnerOfA,
        ),
        server_fn(
            "issue_service_account_credential",
            "domain=customer-management&name=svc-matrix-fn",
            Rule::OwnerOfA,
        ),
        // Producer grants of domain A (its product `matrix-schema`): owners and admins.
        entry(
            Method::GET,
            "/api/v1/domains/{domain}/producer",
            "/api/v1/domains/customer-management/producer",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/domains/{domain}/producer/credentials",
            "/api/v1/domains/customer-management/producer/credentials",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/products/{slug}/producer/revoke",
            "/api/v1/products/matrix-schema/producer/revoke",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/products/{slug}/producer/grant",
            "/api/v1/products/matrix-schema/producer/grant",
            Body::None,
            Rule::OwnerOfA,
        ),
        // Stream nodes: the node `matrix-node` computes `matrix-schema` (domain A).
        entry(
            Method::GET,
            "/api/v1/nodes/{name}",
            "/api/v1/nodes/matrix-node",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::POST,
            "/api/v1/nodes/{name}/pause",
            "/api/v1/nodes/matrix-node/pause",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/nodes/{name}/resume",
            "/api/v1/nodes/matrix-node/resume",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::POST,
            "/api/v1/nodes/{name}/restart",
            "/api/v1/nodes/matrix-node/restart",
            Body::None,
            Rule::OwnerOfA,
        ),
        entry(
            Method::GET,
            "/api/v1/incidents",
            "/api/v1/incidents?state=open",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/api/v1/incidents/{id}",
            "/api/v1/incidents/00000000-0000-0000-0000-0000000000c1",
            Body::None,
            Rule::SignedIn,
        ),
        // The broker's incident: everyone sees it, only admins act on it.
        entry(
            Method::POST,
            "/api/v1/incidents/{id}/actions/{action}",
            "/api/v1/incidents/00000000-0000-0000-0000-0000000000c1/actions/notify",
            Body::None,
            Rule::AdminOnly,
        ),
        entry(
            Method::GET,
            "/api/v1/account/webhook",
            "/api/v1/account/webhook",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::PUT,
            "/api/v1/account/webhook",
            "/api/v1/account/webhook",
            Body::Json(r#"{"url": "ftp://example.com/hook"}"#),
            Rule::SignedIn,
        ),
        entry(
            Method::DELETE,
            "/api/v1/account/webhook",
            "/api/v1/account/webhook",
            Body::None,
            Rule::SignedIn,
        ),
        server_fn("my_webhook", "", Rule::SignedIn),
        server_fn(
            "set_webhook",
            "url=ftp%3A%2F%2Fexample.com%2F",
            Rule::SignedIn,
        ),
        server_fn("remove_webhook", "", Rule::SignedIn),
        server_fn("incidents", "state=open", Rule::SignedIn),
        server_fn(
            "incident",
            "id=00000000-0000-0000-0000-0000000000c1",
            Rule::SignedIn,
        ),
        server_fn(
            "act_on_incident",
            "id=00000000-0000-0000-0000-0000000000c1&action=notify",
            Rule::AdminOnly,
        ),
        // The domain page asks everyone signed in; those who may not manage it get no
        // section (200 with nothing), so the page stays readable.
        server_fn(
            "producer_grants",
            "domain=customer-management",
            Rule::SignedIn,
        ),
        server_fn(
            "rotate_producer_credential",
            "domain=customer-management",
            Rule::OwnerOfA,
        ),
        server_fn(
            "set_producer_grant",
            "slug=matrix-schema&granted=true",
            Rule::OwnerOfA,
        ),
        // The processor page of `matrix-node` (its product is in domain A).
        server_fn("node_page", "name=matrix-node", Rule::SignedIn),
        server_fn(
            "set_node_paused",
            "name=matrix-node&paused=true",
            Rule::OwnerOfA,
        ),
        server_fn("restart_node", "name=matrix-node", Rule::OwnerOfA),
        // The lineage page's server functions (404 for an unknown product counts as allowed).
        server_fn("lineage_graph", "slug=no-such-product", Rule::SignedIn),
        server_fn("lineage_neighbours", "slug=no-such-product", Rule::SignedIn),
        // Lineage: everyone signed in reads it and reports OpenLineage run events.
        entry(
            Method::GET,
            "/api/v1/products/{slug}/lineage",
            "/api/v1/products/matrix-page/lineage?direction=both&depth=2",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/api/v1/products/{slug}/impact",
            "/api/v1/products/matrix-page/impact",
            Body::None,
            Rule::SignedIn,
        ),
        plain(
            Method::POST,
            "/api/v1/lineage/openlineage",
            Body::Json(MATRIX_RUN_EVENT),
            Rule::SignedIn,
        ),
        // Stream health: everyone signed in reads a product's numbers; its records only
        // its owners, admins and active subscribers (nobody here subscribes to it).
        entry(
            Method::GET,
            "/api/v1/products/{slug}/health",
            "/api/v1/products/matrix-page/health?window=60",
            Body::None,
            Rule::SignedIn,
        ),
        entry(
            Method::GET,
            "/api/v1/products/{slug}/samples",
            "/api/v1/products/matrix-schema/samples?limit=5",
            Body::None,
            Rule::OwnerOfA,
        ),
        server_fn("product_health", "slug=matrix-page", Rule::SignedIn),
        server_fn(
            "product_samples",
            "slug=matrix-schema&invalid_only=false",
            Rule::OwnerOfA,
        ),
    ]
}

/// An OpenLineage run event of a job reading the page product's topic.
const MATRIX_RUN_EVENT: &str = r#"{"eventType":"COMPLETE","eventTime":"2026-11-26T10:00:00Z",
"producer":"https://example.com/matrix","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
"run":{"runId":"3f5e83fa-3480-44ff-99c5-ff943904e5e8"},"job":{"namespace":"matrix","name":"probe"},
"inputs":[{"namespace":"kafka://broker:9092","name":"matrix.page"}],"outputs":[]}"#;

/// A pending request of analyst2 for the domain-A product `matrix-schema`.
const MATRIX_SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000a1";

/// A JSON Schema to register or check (the probe product's ports are JSON).
const REGISTRY_SCHEMA: &str =
    r#"{"schemaType":"JSON","schema":"{\"type\":\"object\",\"properties\":{}}"}"#;

/// A product in domain A whose topic `matrix.schema` the registry entries write to.
const SCHEMA_CONTRACT: &str = concat!(
    "apiVersion: v3.1.0\nkind: DataContract\nid: matrix-schema\n",
    "version: 1.0.0\nstatus: active\nname: Matrix schema\ndataProduct: matrix schema\n",
    "domain: customer-management\nschema:\n  - name: MatrixSchema\n",
    "    physicalName: matrix.schema\n",
    "customProperties:\n  - property: inputPorts\n    value: [matrix.page]\n",
    "  - property: processor\n    value: matrix-node\n",
    "  - property: nodeKind\n    value: pass-through\n",
);

/// A product in domain B that the page checks read (`/products/{slug}` needs a real one).
const PAGE_CONTRACT: &str = "apiVersion: v3.1.0\nkind: DataContract\nid: matrix-page\n\
version: 1.0.0\nstatus: active\nname: Matrix page\ndataProduct: matrix page\n\
domain: sales\nschema:\n  - name: MatrixPage\n    physicalName: matrix.page\n";

/// Pages render for everyone who may see their data (the server functions above decide);
/// the others get the page's sign-in or permission message with status 401 or 403.
/// Each is (declared route, path requested, rule); paths name things that exist.
const PAGES: [(&str, &str, Rule); 17] = [
    ("/", "/", Rule::Public),
    ("/login", "/login", Rule::Public),
    ("/register", "/register", Rule::SignedIn),
    ("/account", "/account", Rule::Public),
    ("/admin", "/admin", Rule::AdminOnly),
    ("/admin/audit", "/admin/audit", Rule::AdminOnly),
    ("/domains", "/domains", Rule::SignedIn),
    ("/domains/{slug}", "/domains/sales", Rule::SignedIn),
    ("/products/{slug}", "/products/matrix-page", Rule::SignedIn),
    (
        "/products/{slug}/lineage",
        "/products/matrix-page/lineage",
        Rule::SignedIn,
    ),
    (
        "/products/{slug}/samples",
        "/products/matrix-schema/samples",
        Rule::OwnerOfA,
    ),
    ("/nodes/{name}", "/nodes/matrix-node", Rule::SignedIn),
    ("/subscriptions", "/subscriptions", Rule::SignedIn),
    ("/schemas", "/schemas", Rule::SignedIn),
    ("/approvals", "/approvals", Rule::SignedIn),
    ("/incidents", "/incidents", Rule::SignedIn),
    (
        "/incidents/{id}",
        "/incidents/00000000-0000-0000-0000-0000000000c1",
        Rule::SignedIn,
    ),
];

/// Whether `status` is what `rule` promises `persona`.
fn outcome_ok(rule: Rule, persona: Persona, status: u16) -> bool {
    if rule.allows(persona) {
        status != 401 && status != 403 && status < 500
    } else if matches!(persona, Persona::Anonymous) {
        status == 401
    } else {
        status == 403
    }
}

async fn token_for(pool: &PgPool, persona: Persona) -> Option<String> {
    let email = persona.email()?;
    Some(crate::helpers::token_for(pool, email).await)
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn every_route_and_server_function_is_in_the_matrix(pool: PgPool) {
    let _app = spawn_app(pool).await;
    let declared: BTreeSet<(String, String)> = server::http::routes()
        .listed()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .chain(
            leptos::server_fn::axum::server_fn_paths()
                .map(|(path, method)| (method.to_string(), path.to_string())),
        )
        .collect();
    let covered: BTreeSet<(String, String)> = matrix()
        .iter()
        .map(|e| (e.method.to_string(), e.route.to_string()))
        .collect();
    let missing: Vec<_> = declared.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a matrix entry: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "matrix entries for routes that do not exist: {stale:?}"
    );

    let pages: BTreeSet<String> = leptos_axum::generate_route_list(app::App)
        .iter()
        .map(|route| route.path().to_string())
        .collect();
    let listed: BTreeSet<String> = PAGES
        .iter()
        .map(|(route, _, _)| route.to_string())
        .collect();
    assert_eq!(pages, listed, "pages and the matrix's page list differ");
}

#[sqlx::test(migrator = "domain::db::MIGRATOR")]
async fn every_persona_gets_exactly_what_the_matrix_says(pool: PgPool) {
    domain::demo::seed_parts(&pool, &[domain::demo::Part::Identities], false)
        .await
        .expect("demo data");
    let contract = domain::contracts::import(PAGE_CONTRACT).expect("page contract");
    let mut conn = pool.acquire().await.expect("conn");
    domain::catalog::register(
        &mut conn,
        &domain::audit::Actor::Cli,
        &contract,
        &domain::catalog::RegisterOptions::default(),
    )
    .await
    .expect("page product");
    let schema_product = domain::contracts::import(SCHEMA_CONTRACT).expect("schema contract");
    domain::catalog::register(
        &mut conn,
        &domain::audit::Actor::Cli,
        &schema_product,
        &domain::catalog::RegisterOptions::default(),
    )
    .await
    .expect("schema product");
    sqlx::query!(
        r#"with s as (
             insert into subscriptions (id, product_id, principal, requested_by, consumer_group, purpose)
             select $1::text::uuid, p.id, 'User:analyst2', u.id, 'matrix-decide.', 'matrix'
             from products p, users u
             where p.slug = 'matrix-schema' and u.email = 'analyst2@meshmart.local'
             returning id)
           insert into subscription_ports (subscription_id, topic) select id, 'matrix.schema' from s"#,
        MATRIX_SUBSCRIPTION,
    )
    .execute(&mut *conn)
    .await
    .expect("pending subscription");
    sqlx::query!(
        "insert into incidents (id, state, channel, channel_kind, signal, cause, confidence,
             summary, started_at)
         values ('00000000-0000-0000-0000-0000000000c1', 'open', 'broker', 'broker',
             'broker_reachable', 'broker_unreachable', 0.99, 'The broker is unreachable', now())",
    )
    .execute(&mut *conn)
    .await
    .expect("broker incident");
    drop(conn);
    let app = spawn_app(pool.clone()).await;
    let mut failures = Vec::new();
    for persona in PERSONAS {
        let token = token_for(&pool, persona).await;
        for entry in matrix() {
            let mut request = app.client.request(
                entry.method.clone(),
                format!("{}{}", app.address, entry.path),
            );
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            request = match entry.body {
                Body::None => request,
                Body::Json(json) => request
                    .header("content-type", "application/json")
                    .body(json),
                Body::Yaml(yaml) => request
                    .header("content-type", "application/yaml")
                    .body(yaml),
                Body::Form(form) => request
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("accept", "application/json")
                    .body(form),
            };
            let status = request.send().await.expect("request").status().as_u16();
            if !outcome_ok(entry.rule, persona, status) {
                failures.push(format!(
                    "{persona:?} {} {} -> {status} ({:?})",
                    entry.method, entry.path, entry.rule
                ));
            }
        }
        for (_, page, rule) in PAGES {
            // As a browser asks for a page.
            let mut request = app
                .client
                .get(format!("{}{page}", app.address))
                .header("accept", "text/html,application/xhtml+xml");
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let status = request.send().await.expect("request").status().as_u16();
            let expected = if rule.allows(persona) {
                status == 200
            } else {
                outcome_ok(rule, persona, status)
            };
            if !expected {
                failures.push(format!("{persona:?} GET {page} -> {status} ({rule:?})"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "matrix violations:\n{}",
        failures.join("\n")
    );
}
