//! The demo catalog: twelve domains of an online retailer, each publishing the event
//! streams such a company has, as ODCS contracts registered through the normal path
//! (validation, versions, outbox rows for the topics, audit). It includes the flow the
//! product is built around: `CustomerSignedUp` → enrichment node →
//! `EnrichedCustomerSignedUp` → marketing campaigns, and `OrderPlaced` in sales.

use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::domains::{self, Domain};

/// (slug, name, description, team channel).
pub const DOMAINS: [(&str, &str, &str); 12] = [
    (
        "customer-management",
        "Customer Management",
        "Sign-ups, profiles and consent of our customers",
    ),
    (
        "sales",
        "Sales",
        "Orders from checkout to fulfilment hand-off",
    ),
    (
        "marketing",
        "Marketing",
        "Campaigns, audiences and their engagement",
    ),
    (
        "payments",
        "Payments",
        "Authorisations, captures, refunds and payouts",
    ),
    (
        "logistics",
        "Logistics",
        "Shipments, carriers and deliveries",
    ),
    (
        "inventory",
        "Inventory",
        "Stock levels and movements across warehouses",
    ),
    (
        "product-catalog",
        "Product Catalog",
        "Products, prices and assortments",
    ),
    (
        "customer-support",
        "Customer Support",
        "Tickets, conversations and satisfaction",
    ),
    (
        "finance",
        "Finance",
        "Invoices, ledger postings and settlements",
    ),
    (
        "fraud-and-risk",
        "Fraud and Risk",
        "Risk scores, reviews and chargebacks",
    ),
    ("loyalty", "Loyalty", "Points, tiers and rewards"),
    (
        "customer-intelligence",
        "Customer Intelligence",
        "Enrichment and segmentation of customer events",
    ),
];

/// Creates the demo domains, or brings their names and descriptions back.
pub async fn upsert_domains(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    for (slug, name, description) in DOMAINS {
        let domain = Domain {
            slug: slug.to_string(),
            name: name.to_string(),
            description: description.to_string(),
        };
        domains::upsert(&mut *conn, &domain)
            .await
            .map_err(|error| match error {
                domains::DomainError::Database(error) => error,
                other => sqlx::Error::Protocol(format!("demo domain {slug}: {other}")),
            })?;
    }
    Ok(())
}

/// A field: (name, logical type, required, description, classification).
type F = (&'static str, &'static str, bool, &'static str, &'static str);

const EVENT_ID: F = (
    "eventId",
    "string",
    true,
    "Unique id of the event (UUID)",
    "public",
);
const OCCURRED_AT: F = (
    "occurredAt",
    "timestamp",
    true,
    "When it happened (UTC)",
    "public",
);

/// Per domain: entity fields and the events about them, (event, description, extra fields).
fn events(domain: &str) -> Vec<(&'static str, &'static str, Vec<F>)> {
    let customer: F = (
        "customerID",
        "string",
        true,
        "Customer identifier",
        "internal",
    );
    let order: F = ("orderID", "string", true, "Order identifier", "internal");
    let amount: F = (
        "amount",
        "number",
        true,
        "Amount in minor units",
        "confidential",
    );
    let currency: F = (
        "currency",
        "string",
        true,
        "ISO 4217 currency code",
        "public",
    );
    let sku: F = ("sku", "string", true, "Stock keeping unit", "public");
    let warehouse: F = (
        "warehouseId",
        "string",
        true,
        "Warehouse identifier",
        "internal",
    );
    let shipment: F = (
        "shipmentId",
        "string",
        true,
        "Shipment identifier",
        "internal",
    );
    let reason: F = (
        "reason",
        "string",
        false,
        "Why, in the words of the source system",
        "internal",
    );
    let campaign: F = (
        "campaignId",
        "string",
        true,
        "Campaign identifier",
        "internal",
    );
    let ticket: F = (
        "ticketId",
        "string",
        true,
        "Support ticket identifier",
        "internal",
    );
    let email: F = ("email", "string", false, "Email address", "restricted");
    let points: F = ("points", "integer", true, "Loyalty points", "internal");
    match domain {
        "customer-management" => vec![
            (
                "CustomerSignedUp",
                "A new customer account was created",
                vec![
                    customer,
                    (
                        "signupTimestamp",
                        "timestamp",
                        true,
                        "When the sign-up completed",
                        "public",
                    ),
                    (
                        "sourceChannel",
                        "string",
                        true,
                        "web, ios, android or store",
                        "public",
                    ),
                    (
                        "country",
                        "string",
                        false,
                        "Country the customer gave at sign-up (ISO 3166-1 alpha-2)",
                        "public",
                    ),
                    (
                        "ipAddress",
                        "string",
                        false,
                        "Client IP at sign-up",
                        "restricted",
                    ),
                    email,
                ],
            ),
            (
                "CustomerProfileUpdated",
                "Name, addresses or preferences changed",
                vec![
                    customer,
                    (
                        "changedFields",
                        "array",
                        true,
                        "Names of the changed fields",
                        "internal",
                    ),
                ],
            ),
            (
                "CustomerEmailVerified",
                "The customer confirmed their email address",
                vec![customer, email],
            ),
            (
                "CustomerAddressAdded",
                "A shipping or billing address was added",
                vec![
                    customer,
                    (
                        "addressId",
                        "string",
                        true,
                        "Address identifier",
                        "internal",
                    ),
                    ("country", "string", true, "ISO 3166 country", "public"),
                ],
            ),
            (
                "CustomerConsentChanged",
                "Marketing or tracking consent was given or withdrawn",
                vec![
                    customer,
                    (
                        "purpose",
                        "string",
                        true,
                        "marketing, analytics or personalisation",
                        "public",
                    ),
                    (
                        "granted",
                        "boolean",
                        true,
                        "Whether consent is now given",
                        "internal",
                    ),
                ],
            ),
            (
                "CustomerPasswordReset",
                "The customer reset their password",
                vec![customer],
            ),
            (
                "CustomerAccountClosed",
                "The customer closed their account",
                vec![customer, reason],
            ),
            (
                "CustomerMerged",
                "Two duplicate accounts were merged",
                vec![
                    customer,
                    (
                        "mergedCustomerID",
                        "string",
                        true,
                        "The account merged into this one",
                        "internal",
                    ),
                ],
            ),
            (
                "CustomerLoggedIn",
                "The customer signed in",
                vec![
                    customer,
                    (
                        "sourceChannel",
                        "string",
                        true,
                        "web, ios, android",
                        "public",
                    ),
                ],
            ),
            (
                "CustomerDataExportRequested",
                "A GDPR data export was requested",
                vec![customer],
            ),
            (
                "CustomerErasureRequested",
                "A GDPR erasure was requested",
                vec![customer],
            ),
            (
                "CustomerSegmentAssigned",
                "Customer service assigned a service segment",
                vec![
                    customer,
                    ("segment", "string", true, "Service segment", "internal"),
                ],
            ),
            (
                "CustomerPhoneVerified",
                "The customer confirmed their phone number",
                vec![
                    customer,
                    ("phone", "string", false, "Phone number", "restricted"),
                ],
            ),
        ],
        "sales" => vec![
            (
                "OrderPlaced",
                "A customer placed an order",
                vec![
                    order,
                    customer,
                    (
                        "productDetails",
                        "array",
                        true,
                        "Ordered products: sku, quantity, unit price",
                        "internal",
                    ),
                    (
                        "totalValue",
                        "number",
                        true,
                        "Order total incl. tax",
                        "confidential",
                    ),
                    currency,
                ],
            ),
            (
                "OrderConfirmed",
                "Payment and stock checks passed",
                vec![order, customer],
            ),
            (
                "OrderCancelled",
                "The order was cancelled before shipping",
                vec![order, customer, reason],
            ),
            (
                "OrderLineAdded",
                "A line was added while the order was editable",
                vec![
                    order,
                    sku,
                    ("quantity", "integer", true, "Quantity", "public"),
                ],
            ),
            (
                "OrderLineRemoved",
                "A line was removed while the order was editable",
                vec![order, sku],
            ),
            (
                "CartCreated",
                "A shopping cart was created",
                vec![
                    ("cartId", "string", true, "Cart identifier", "internal"),
                    customer,
                ],
            ),
            (
                "CartAbandoned",
                "A cart saw no activity for 24 hours",
                vec![
                    ("cartId", "string", true, "Cart identifier", "internal"),
                    customer,
                    (
                        "cartValue",
                        "number",
                        false,
                        "Value of the cart",
                        "confidential",
                    ),
                ],
            ),
            (
                "CheckoutStarted",
                "The customer began checkout",
                vec![
                    ("cartId", "string", true, "Cart identifier", "internal"),
                    customer,
                ],
            ),
            (
                "DiscountApplied",
                "A voucher or promotion was applied",
                vec![
                    order,
                    ("code", "string", true, "Voucher code", "internal"),
                    amount,
                ],
            ),
            (
                "OrderReturned",
                "Items of an order were returned",
                vec![order, sku, reason],
            ),
            (
                "OrderHandedToFulfilment",
                "The order left sales for the warehouse",
                vec![order, warehouse],
            ),
            (
                "QuoteRequested",
                "A business customer asked for a quote",
                vec![
                    customer,
                    ("quoteId", "string", true, "Quote identifier", "internal"),
                ],
            ),
            (
                "SubscriptionRenewed",
                "A subscription order renewed",
                vec![
                    customer,
                    (
                        "subscriptionId",
                        "string",
                        true,
                        "Subscription identifier",
                        "internal",
                    ),
                    amount,
                    currency,
                ],
            ),
        ],
        "marketing" => vec![
            (
                "CampaignLaunched",
                "A campaign went live",
                vec![
                    campaign,
                    (
                        "channel",
                        "string",
                        true,
                        "email, push, social or display",
                        "public",
                    ),
                ],
            ),
            ("CampaignEnded", "A campaign ended", vec![campaign]),
            (
                "EmailSent",
                "A campaign email was sent",
                vec![campaign, customer],
            ),
            (
                "EmailOpened",
                "A campaign email was opened",
                vec![campaign, customer],
            ),
            (
                "EmailClicked",
                "A link in a campaign email was clicked",
                vec![
                    campaign,
                    customer,
                    ("url", "string", true, "Clicked URL", "internal"),
                ],
            ),
            (
                "EmailUnsubscribed",
                "The customer unsubscribed from emails",
                vec![customer, campaign],
            ),
            (
                "PushNotificationSent",
                "A push notification was sent",
                vec![campaign, customer],
            ),
            (
                "AdImpressionRecorded",
                "An ad was shown",
                vec![
                    campaign,
                    (
                        "placement",
                        "string",
                        true,
                        "Where the ad was shown",
                        "public",
                    ),
                ],
            ),
            (
                "AdClicked",
                "An ad was clicked",
                vec![
                    campaign,
                    (
                        "placement",
                        "string",
                        true,
                        "Where the ad was shown",
                        "public",
                    ),
                ],
            ),
            (
                "AudienceSegmentBuilt",
                "An audience segment was (re)computed",
                vec![
                    (
                        "segmentId",
                        "string",
                        true,
                        "Segment identifier",
                        "internal",
                    ),
                    ("size", "integer", true, "Members", "internal"),
                ],
            ),
            (
                "WelcomeJourneyStarted",
                "A new customer entered the welcome journey",
                vec![customer, campaign],
            ),
            (
                "CouponIssued",
                "A coupon was issued to a customer",
                vec![
                    customer,
                    ("code", "string", true, "Coupon code", "internal"),
                ],
            ),
            (
                "LandingPageVisited",
                "A campaign landing page was visited",
                vec![
                    campaign,
                    ("utmSource", "string", false, "UTM source", "public"),
                ],
            ),
        ],
        "payments" => vec![
            (
                "PaymentAuthorised",
                "The issuer authorised the payment",
                vec![
                    order,
                    amount,
                    currency,
                    ("method", "string", true, "card, paypal, klarna …", "public"),
                ],
            ),
            (
                "PaymentDeclined",
                "The issuer declined the payment",
                vec![order, amount, currency, reason],
            ),
            (
                "PaymentCaptured",
                "An authorised payment was captured",
                vec![order, amount, currency],
            ),
            (
                "RefundIssued",
                "Money was returned to the customer",
                vec![order, amount, currency, reason],
            ),
            (
                "ChargebackReceived",
                "The issuer reported a chargeback",
                vec![order, amount, currency, reason],
            ),
            (
                "PayoutSettled",
                "A payout to our account settled",
                vec![
                    ("payoutId", "string", true, "Payout identifier", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "PaymentMethodAdded",
                "The customer stored a payment method",
                vec![
                    customer,
                    ("method", "string", true, "Kind of method", "public"),
                ],
            ),
            (
                "PaymentMethodExpired",
                "A stored card expired",
                vec![customer],
            ),
            (
                "ThreeDSChallenged",
                "The issuer asked for 3-D Secure",
                vec![order],
            ),
            (
                "InstalmentPlanCreated",
                "A buy-now-pay-later plan was created",
                vec![
                    order,
                    amount,
                    currency,
                    (
                        "instalments",
                        "integer",
                        true,
                        "Number of instalments",
                        "internal",
                    ),
                ],
            ),
            (
                "PaymentRetried",
                "A failed payment was retried",
                vec![
                    order,
                    ("attempt", "integer", true, "Attempt number", "internal"),
                ],
            ),
            (
                "CurrencyConverted",
                "An amount was converted for settlement",
                vec![
                    amount,
                    currency,
                    ("rate", "number", true, "Exchange rate", "internal"),
                ],
            ),
            (
                "GiftCardRedeemed",
                "A gift card paid for (part of) an order",
                vec![order, amount, currency],
            ),
        ],
        "logistics" => vec![
            (
                "ShipmentCreated",
                "A parcel was created for an order",
                vec![shipment, order, warehouse],
            ),
            (
                "ShipmentPickedUp",
                "The carrier collected the parcel",
                vec![shipment, ("carrier", "string", true, "Carrier", "public")],
            ),
            (
                "ShipmentInTransit",
                "The parcel passed a hub",
                vec![shipment, ("hub", "string", true, "Hub code", "public")],
            ),
            (
                "ShipmentDelivered",
                "The parcel was delivered",
                vec![shipment, order],
            ),
            (
                "DeliveryFailed",
                "A delivery attempt failed",
                vec![shipment, reason],
            ),
            (
                "DeliveryRescheduled",
                "The customer chose another delivery slot",
                vec![shipment, ("slot", "string", true, "New slot", "internal")],
            ),
            (
                "ReturnLabelCreated",
                "A return label was issued",
                vec![shipment, order],
            ),
            (
                "ReturnReceived",
                "A returned parcel arrived at the warehouse",
                vec![shipment, warehouse],
            ),
            (
                "CarrierRateUpdated",
                "A carrier changed its rates",
                vec![
                    ("carrier", "string", true, "Carrier", "public"),
                    amount,
                    currency,
                ],
            ),
            (
                "RouteOptimised",
                "Tomorrow's delivery routes were planned",
                vec![
                    ("routeId", "string", true, "Route identifier", "internal"),
                    ("stops", "integer", true, "Stops", "internal"),
                ],
            ),
            (
                "ParcelDamaged",
                "A parcel was reported damaged",
                vec![shipment, reason],
            ),
            (
                "CustomsCleared",
                "A cross-border parcel cleared customs",
                vec![
                    shipment,
                    ("country", "string", true, "Destination country", "public"),
                ],
            ),
        ],
        "inventory" => vec![
            (
                "StockReceived",
                "Goods arrived at a warehouse",
                vec![
                    sku,
                    warehouse,
                    ("quantity", "integer", true, "Units", "internal"),
                ],
            ),
            (
                "StockReserved",
                "Units were reserved for an order",
                vec![sku, warehouse, order],
            ),
            (
                "StockReleased",
                "A reservation was released",
                vec![sku, warehouse, order],
            ),
            (
                "StockAdjusted",
                "A count corrected the stock level",
                vec![
                    sku,
                    warehouse,
                    ("delta", "integer", true, "Change in units", "internal"),
                    reason,
                ],
            ),
            (
                "StockDepleted",
                "A SKU ran out in a warehouse",
                vec![sku, warehouse],
            ),
            (
                "StockTransferred",
                "Units moved between warehouses",
                vec![
                    sku,
                    ("fromWarehouseId", "string", true, "Source", "internal"),
                    ("toWarehouseId", "string", true, "Destination", "internal"),
                ],
            ),
            (
                "ReorderPointReached",
                "Stock fell below the reorder point",
                vec![sku, warehouse],
            ),
            (
                "PurchaseOrderIssued",
                "A purchase order went to a supplier",
                vec![
                    (
                        "purchaseOrderId",
                        "string",
                        true,
                        "PO identifier",
                        "internal",
                    ),
                    ("supplierId", "string", true, "Supplier", "internal"),
                ],
            ),
            (
                "CycleCountCompleted",
                "A cycle count finished",
                vec![
                    warehouse,
                    ("skusCounted", "integer", true, "SKUs counted", "internal"),
                ],
            ),
            (
                "StockWrittenOff",
                "Units were written off",
                vec![sku, warehouse, reason],
            ),
            (
                "BinLocationChanged",
                "A SKU moved to another bin",
                vec![
                    sku,
                    warehouse,
                    ("bin", "string", true, "Bin code", "internal"),
                ],
            ),
            (
                "ExpiryDateApproaching",
                "Perishable stock nears its expiry",
                vec![
                    sku,
                    warehouse,
                    ("expiresOn", "date", true, "Expiry date", "internal"),
                ],
            ),
        ],
        "product-catalog" => vec![
            (
                "ProductCreated",
                "A product was added to the catalog",
                vec![sku, ("title", "string", true, "Product title", "public")],
            ),
            (
                "ProductUpdated",
                "Product content changed",
                vec![
                    sku,
                    ("changedFields", "array", true, "Changed fields", "public"),
                ],
            ),
            (
                "ProductDiscontinued",
                "A product will not be sold again",
                vec![sku, reason],
            ),
            (
                "PriceChanged",
                "A selling price changed",
                vec![sku, amount, currency],
            ),
            (
                "PromotionScheduled",
                "A promotion was scheduled",
                vec![
                    (
                        "promotionId",
                        "string",
                        true,
                        "Promotion identifier",
                        "internal",
                    ),
                    ("startsAt", "timestamp", true, "Start", "public"),
                ],
            ),
            (
                "CategoryCreated",
                "A category was created",
                vec![(
                    "categoryId",
                    "string",
                    true,
                    "Category identifier",
                    "public",
                )],
            ),
            (
                "ProductCategorised",
                "A product was put in a category",
                vec![
                    sku,
                    (
                        "categoryId",
                        "string",
                        true,
                        "Category identifier",
                        "public",
                    ),
                ],
            ),
            (
                "ProductImageAdded",
                "An image was added to a product",
                vec![sku, ("imageUrl", "string", true, "Image URL", "public")],
            ),
            (
                "ProductReviewed",
                "A customer reviewed a product",
                vec![
                    sku,
                    customer,
                    ("rating", "integer", true, "1 to 5", "public"),
                ],
            ),
            (
                "BundleCreated",
                "A product bundle was created",
                vec![("bundleSku", "string", true, "Bundle SKU", "public")],
            ),
            (
                "AssortmentPublished",
                "A market's assortment was published",
                vec![("market", "string", true, "Market code", "public")],
            ),
            (
                "SupplierLinked",
                "A supplier was linked to a product",
                vec![sku, ("supplierId", "string", true, "Supplier", "internal")],
            ),
        ],
        "customer-support" => vec![
            (
                "TicketOpened",
                "A support ticket was opened",
                vec![
                    ticket,
                    customer,
                    ("channel", "string", true, "email, chat or phone", "public"),
                ],
            ),
            (
                "TicketAssigned",
                "A ticket was assigned to an agent",
                vec![ticket, ("agentId", "string", true, "Agent", "internal")],
            ),
            (
                "TicketEscalated",
                "A ticket was escalated",
                vec![ticket, reason],
            ),
            ("TicketResolved", "A ticket was resolved", vec![ticket]),
            (
                "TicketReopened",
                "The customer reopened a ticket",
                vec![ticket],
            ),
            (
                "ChatStarted",
                "A live chat began",
                vec![
                    ("chatId", "string", true, "Chat identifier", "internal"),
                    customer,
                ],
            ),
            (
                "ChatEnded",
                "A live chat ended",
                vec![("chatId", "string", true, "Chat identifier", "internal")],
            ),
            (
                "CallRecorded",
                "A support call was recorded",
                vec![
                    ticket,
                    ("durationSeconds", "integer", true, "Duration", "internal"),
                ],
            ),
            (
                "SatisfactionSurveyAnswered",
                "The customer rated the support",
                vec![ticket, ("score", "integer", true, "1 to 5", "internal")],
            ),
            (
                "ComplaintLogged",
                "A formal complaint was logged",
                vec![ticket, customer, reason],
            ),
            (
                "GoodwillCreditIssued",
                "A goodwill credit was granted",
                vec![ticket, customer, amount, currency],
            ),
            (
                "KnowledgeArticleViewed",
                "A help article was viewed",
                vec![("articleId", "string", true, "Article", "public")],
            ),
            (
                "CallbackRequested",
                "The customer asked to be called back",
                vec![
                    customer,
                    ("phone", "string", false, "Phone number", "restricted"),
                ],
            ),
        ],
        "finance" => vec![
            (
                "InvoiceIssued",
                "An invoice was issued",
                vec![
                    ("invoiceId", "string", true, "Invoice number", "internal"),
                    order,
                    amount,
                    currency,
                ],
            ),
            (
                "InvoicePaid",
                "An invoice was paid",
                vec![
                    ("invoiceId", "string", true, "Invoice number", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "CreditNoteIssued",
                "A credit note was issued",
                vec![
                    (
                        "creditNoteId",
                        "string",
                        true,
                        "Credit note number",
                        "internal",
                    ),
                    amount,
                    currency,
                ],
            ),
            (
                "LedgerEntryPosted",
                "A journal entry was posted",
                vec![
                    ("account", "string", true, "Ledger account", "confidential"),
                    amount,
                    currency,
                ],
            ),
            (
                "PeriodClosed",
                "An accounting period was closed",
                vec![("period", "string", true, "YYYY-MM", "internal")],
            ),
            (
                "TaxReportFiled",
                "A tax report was filed",
                vec![
                    ("period", "string", true, "YYYY-MM", "internal"),
                    ("country", "string", true, "Country", "public"),
                ],
            ),
            (
                "SettlementReconciled",
                "A payment settlement was reconciled",
                vec![
                    ("payoutId", "string", true, "Payout identifier", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "VendorBillReceived",
                "A supplier bill arrived",
                vec![
                    ("billId", "string", true, "Bill identifier", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "VendorPaymentSent",
                "A supplier was paid",
                vec![
                    ("billId", "string", true, "Bill identifier", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "BudgetApproved",
                "A budget was approved",
                vec![
                    ("costCentre", "string", true, "Cost centre", "internal"),
                    amount,
                    currency,
                ],
            ),
            (
                "ExpenseSubmitted",
                "An employee submitted an expense",
                vec![
                    (
                        "expenseId",
                        "string",
                        true,
                        "Expense identifier",
                        "internal",
                    ),
                    amount,
                    currency,
                ],
            ),
            (
                "RevenueRecognised",
                "Revenue was recognised",
                vec![order, amount, currency],
            ),
        ],
        "fraud-and-risk" => vec![
            (
                "OrderRiskScored",
                "An order received a fraud score",
                vec![
                    order,
                    (
                        "riskScore",
                        "number",
                        true,
                        "0 (safe) to 1 (fraud)",
                        "confidential",
                    ),
                ],
            ),
            (
                "OrderHeldForReview",
                "An order was held for manual review",
                vec![order, reason],
            ),
            (
                "ReviewDecided",
                "An analyst decided on a held order",
                vec![
                    order,
                    ("decision", "string", true, "approve or reject", "internal"),
                ],
            ),
            (
                "AccountTakeoverSuspected",
                "Sign-in patterns suggest account takeover",
                vec![
                    customer,
                    (
                        "signals",
                        "array",
                        true,
                        "Signals that fired",
                        "confidential",
                    ),
                ],
            ),
            (
                "DeviceFingerprinted",
                "A device was fingerprinted",
                vec![
                    (
                        "deviceId",
                        "string",
                        true,
                        "Device identifier",
                        "restricted",
                    ),
                    customer,
                ],
            ),
            (
                "BlocklistUpdated",
                "An identifier was added to a blocklist",
                vec![(
                    "identifierType",
                    "string",
                    true,
                    "email, card, device, ip",
                    "internal",
                )],
            ),
            (
                "VelocityLimitExceeded",
                "Too many attempts in a short time",
                vec![customer, ("rule", "string", true, "Rule name", "internal")],
            ),
            (
                "ChargebackDisputed",
                "We disputed a chargeback",
                vec![order, amount, currency],
            ),
            (
                "IdentityVerified",
                "A customer passed identity verification",
                vec![customer],
            ),
            (
                "RiskModelDeployed",
                "A new risk model version went live",
                vec![("modelVersion", "string", true, "Model version", "internal")],
            ),
            (
                "PromoAbuseDetected",
                "A promotion was abused",
                vec![
                    customer,
                    ("code", "string", true, "Voucher code", "internal"),
                ],
            ),
            (
                "SanctionsScreened",
                "A customer was screened against sanction lists",
                vec![
                    customer,
                    (
                        "hit",
                        "boolean",
                        true,
                        "Whether a list matched",
                        "confidential",
                    ),
                ],
            ),
        ],
        "loyalty" => vec![
            (
                "MemberEnrolled",
                "A customer joined the loyalty programme",
                vec![customer],
            ),
            (
                "PointsEarned",
                "Points were earned",
                vec![customer, points, order],
            ),
            (
                "PointsRedeemed",
                "Points were redeemed",
                vec![customer, points],
            ),
            ("PointsExpired", "Points expired", vec![customer, points]),
            (
                "TierUpgraded",
                "A member reached a higher tier",
                vec![customer, ("tier", "string", true, "New tier", "internal")],
            ),
            (
                "TierDowngraded",
                "A member fell to a lower tier",
                vec![customer, ("tier", "string", true, "New tier", "internal")],
            ),
            (
                "RewardClaimed",
                "A member claimed a reward",
                vec![customer, ("rewardId", "string", true, "Reward", "internal")],
            ),
            (
                "ReferralCompleted",
                "A referred friend made a first order",
                vec![
                    customer,
                    (
                        "referredCustomerID",
                        "string",
                        true,
                        "The friend",
                        "internal",
                    ),
                ],
            ),
            (
                "BirthdayBonusGranted",
                "A birthday bonus was granted",
                vec![customer, points],
            ),
            (
                "PartnerPointsTransferred",
                "Points moved to a partner programme",
                vec![
                    customer,
                    points,
                    ("partner", "string", true, "Partner", "internal"),
                ],
            ),
            (
                "MemberOptedOut",
                "A member left the programme",
                vec![customer, reason],
            ),
            (
                "ChallengeCompleted",
                "A member completed a challenge",
                vec![
                    customer,
                    ("challengeId", "string", true, "Challenge", "internal"),
                ],
            ),
        ],
        "customer-intelligence" => vec![
            (
                "EnrichedCustomerSignedUp",
                "CustomerSignedUp enriched with geolocation from the IP address and a sign-up risk score",
                vec![
                    customer,
                    (
                        "signupTimestamp",
                        "timestamp",
                        true,
                        "When the sign-up completed",
                        "public",
                    ),
                    (
                        "sourceChannel",
                        "string",
                        true,
                        "web, ios, android or store",
                        "public",
                    ),
                    (
                        "country",
                        "string",
                        false,
                        "Country the customer gave at sign-up (ISO 3166-1 alpha-2)",
                        "public",
                    ),
                    (
                        "emailDomain",
                        "string",
                        false,
                        "Domain of the sign-up e-mail address (the address itself is not copied)",
                        "internal",
                    ),
                    (
                        "geolocation",
                        "object",
                        false,
                        "Location of the sign-up IP (DB-IP City Lite) and its network: asn, asnOrganization, asnType hosting or isp (RouteViews / DB-IP IP to ASN Lite); absent when geolocationStatus says why",
                        "internal",
                    ),
                    (
                        "geolocationStatus",
                        "string",
                        true,
                        "located, or why not: no-address, private, reserved or unknown",
                        "internal",
                    ),
                    (
                        "signupRiskScore",
                        "number",
                        true,
                        "0 (trusted) to 1 (likely fraud), from the sign-up risk model",
                        "confidential",
                    ),
                    (
                        "riskModelVersion",
                        "string",
                        true,
                        "Version of the model that computed signupRiskScore",
                        "internal",
                    ),
                ],
            ),
            (
                "CustomerSegmented",
                "A customer was assigned to marketing segments",
                vec![
                    customer,
                    ("segments", "array", true, "Segment ids", "internal"),
                ],
            ),
            (
                "ChurnRiskScored",
                "A customer's churn risk was scored",
                vec![
                    customer,
                    ("churnRisk", "number", true, "0 to 1", "confidential"),
                ],
            ),
            (
                "LifetimeValueEstimated",
                "A customer's lifetime value was estimated",
                vec![customer, amount, currency],
            ),
            (
                "NextBestOfferComputed",
                "The next best offer for a customer was computed",
                vec![customer, sku],
            ),
            (
                "HouseholdLinked",
                "Customers were linked to one household",
                vec![
                    customer,
                    ("householdId", "string", true, "Household", "restricted"),
                ],
            ),
            (
                "ProductAffinityUpdated",
                "Category affinities were updated",
                vec![
                    customer,
                    ("categories", "array", true, "Category ids", "internal"),
                ],
            ),
            (
                "EnrichedOrderPlaced",
                "OrderPlaced enriched with customer segment and margin",
                vec![
                    order,
                    customer,
                    ("segment", "string", true, "Segment", "internal"),
                    (
                        "margin",
                        "number",
                        true,
                        "Contribution margin",
                        "confidential",
                    ),
                ],
            ),
            (
                "SessionSummarised",
                "A browsing session was summarised",
                vec![
                    customer,
                    ("pagesViewed", "integer", true, "Pages", "internal"),
                ],
            ),
            (
                "SearchQueryEnriched",
                "A site search query was classified",
                vec![
                    ("query", "string", true, "Search text", "internal"),
                    ("intent", "string", true, "Classified intent", "internal"),
                ],
            ),
            (
                "CustomerIdentityResolved",
                "Anonymous activity was matched to a customer",
                vec![
                    customer,
                    ("deviceId", "string", true, "Device", "restricted"),
                ],
            ),
            (
                "PriceSensitivityScored",
                "A customer's price sensitivity was scored",
                vec![
                    customer,
                    ("score", "number", true, "0 to 1", "confidential"),
                ],
            ),
            (
                "RecommendationServed",
                "Recommendations were shown to a customer",
                vec![
                    customer,
                    ("skus", "array", true, "Recommended SKUs", "public"),
                ],
            ),
        ],
        _ => Vec::new(),
    }
}

/// A demo event's declared lineage: (event, processor, inputs as (domain, event)).
type Declared = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Demo lineage declared in contracts. The flow the product is built around comes first:
/// the enrichment node computes `EnrichedCustomerSignedUp` from `CustomerSignedUp`; the
/// rest gives the graph depth.
const DECLARED_LINEAGE: [Declared; 6] = [
    (
        "EnrichedCustomerSignedUp",
        "customer-enrichment",
        &[("customer-management", "CustomerSignedUp")],
    ),
    (
        "CustomerSegmented",
        "customer-segmentation",
        &[("customer-intelligence", "EnrichedCustomerSignedUp")],
    ),
    (
        "ChurnRiskScored",
        "churn-model",
        &[
            ("customer-intelligence", "EnrichedCustomerSignedUp"),
            ("customer-support", "TicketOpened"),
        ],
    ),
    (
        "EnrichedOrderPlaced",
        "order-enrichment",
        &[
            ("sales", "OrderPlaced"),
            ("customer-intelligence", "CustomerSegmented"),
        ],
    ),
    (
        "WelcomeJourneyStarted",
        "welcome-journey",
        &[("customer-intelligence", "EnrichedCustomerSignedUp")],
    ),
    (
        "AudienceSegmentBuilt",
        "audience-builder",
        &[
            ("customer-intelligence", "CustomerSegmented"),
            ("customer-intelligence", "ChurnRiskScored"),
        ],
    ),
];

/// The topic of a demo event.
pub fn topic(domain: &str, event: &str) -> String {
    format!("{domain}.{}.v1", kebab(event))
}

/// The lineage custom properties of a demo event's contract, if it declares any.
fn lineage_properties(event: &str) -> Option<Value> {
    let (_, processor, inputs) = DECLARED_LINEAGE.iter().find(|(e, ..)| *e == event)?;
    let inputs: Vec<String> = inputs.iter().map(|(d, e)| topic(d, e)).collect();
    let mut properties = vec![
        json!({"property": "inputPorts", "value": inputs}),
        json!({"property": "processor", "value": processor}),
    ];
    // The one processor Meshmart runs itself (`meshmart node run customer-enrichment`).
    if *processor == SEED_NODE.0 {
        properties.push(json!({"property": crate::nodes::KIND_PROPERTY, "value": SEED_NODE.1}));
    }
    Some(Value::Array(properties))
}

/// The seed flow's node: (processor name, nodeKind).
pub const SEED_NODE: (&str, &str) = ("customer-enrichment", "customer-enrichment");

/// `CustomerSignedUp` → `customer-signed-up`.
pub fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn property((name, logical, required, description, classification): F) -> Value {
    let mut property = json!({
        "name": name,
        "logicalType": logical,
        "required": required,
        "description": description,
        "classification": classification,
    });
    if name == "geolocation" {
        property["properties"] = json!([
            {"name": "country", "logicalType": "string", "required": true, "description": "ISO 3166 country"},
            {"name": "region", "logicalType": "string", "required": false, "description": "Region or state"},
            {"name": "city", "logicalType": "string", "required": false, "description": "City"},
            {"name": "latitude", "logicalType": "number", "required": false, "description": "Latitude"},
            {"name": "longitude", "logicalType": "number", "required": false, "description": "Longitude"},
            {"name": "asn", "logicalType": "integer", "required": false, "description": "Autonomous system number of the IP's network"},
            {"name": "asnOrganization", "logicalType": "string", "required": false, "description": "Who runs that network"},
            {"name": "asnType", "logicalType": "string", "required": false, "description": "hosting (a cloud or hosting provider) or isp"}
        ]);
    }
    if name == "productDetails" {
        property["items"] = json!({
            "logicalType": "object",
            "properties": [
                {"name": "sku", "logicalType": "string", "required": true},
                {"name": "quantity", "logicalType": "integer", "required": true},
                {"name": "unitPrice", "logicalType": "number", "required": true}
            ]
        });
    }
    property
}

/// Every demo contract, as ODCS documents.
pub fn contracts() -> Vec<Value> {
    let mut all = Vec::new();
    for (domain, name, _) in DOMAINS {
        for (index, (event, description, fields)) in events(domain).into_iter().enumerate() {
            let topic = topic(domain, event);
            let tier = ["gold", "silver", "bronze"][index % 3];
            let latency = [5, 30, 300][index % 3];
            let availability = [99.9, 99.5, 99.0][index % 3];
            let support_hours = ["24/7", "business hours CET", "business hours CET"][index % 3];
            let mut properties = vec![property(EVENT_ID), property(OCCURRED_AT)];
            properties.extend(fields.into_iter().map(property));
            let mut document = json!({
                "apiVersion": "v3.1.0",
                "kind": "DataContract",
                "id": format!("{domain}-{}", kebab(event)),
                "version": "1.0.0",
                "status": if index % 11 == 10 { "deprecated" } else { "active" },
                "name": event,
                "dataProduct": kebab(event),
                "domain": domain,
                "tenant": "Meshmart Retail",
                "description": {
                    "purpose": format!("{description}. Published by {name} as it happens."),
                    "usage": "Subscribe to react to it in real time or to build analytics on it.",
                },
                // No pii/non-pii tag: the product's classification badge is derived from
                // its fields' classifications, which a hand-made tag would drift from.
                "tags": [domain, tier],
                "schema": [{
                    "name": event,
                    "physicalName": topic,
                    "physicalType": "topic",
                    "businessName": event,
                    "description": description,
                    "properties": properties,
                }],
                "slaProperties": [
                    {"property": "latency", "value": latency, "unit": "s"},
                    {"property": "availability", "value": availability, "unit": "%"},
                    {"property": "retention", "value": 7, "unit": "d"},
                    {"property": "frequency", "value": "continuous"},
                    {"property": "supportHours", "value": support_hours},
                ],
                "team": {"name": name, "members": [
                    {"username": format!("owner.{domain}@meshmart.local"), "role": "owner", "name": format!("{name} Owner")}
                ]},
                "support": [
                    {"channel": format!("#{domain}-data"), "tool": "slack", "url": format!("https://chat.meshmart.local/{domain}-data")}
                ],
                "servers": [{"server": "local", "type": "kafka", "host": "127.0.0.1:19092", "format": "json"}],
            });
            if let Some(properties) = lineage_properties(event) {
                document["customProperties"] = properties;
            }
            all.push(document);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts;

    #[test]
    fn the_demo_catalog_is_big_enough_and_every_contract_is_valid() {
        let all = contracts();
        assert!(all.len() >= 150, "{} demo products", all.len());
        let mut slugs = std::collections::HashSet::new();
        for document in all {
            contracts::validate(&document)
                .unwrap_or_else(|e| panic!("{}: {:?}", document["id"], e.problems()));
            let contract = contracts::Contract::from_document(document).expect("maps");
            assert!(
                slugs.insert(contract.slug.clone()),
                "duplicate {}",
                contract.slug
            );
        }
        for flow in [
            "customer-signed-up",
            "enriched-customer-signed-up",
            "order-placed",
        ] {
            assert!(slugs.contains(flow), "{flow}");
        }
    }

    #[test]
    fn declared_lineage_names_existing_demo_topics() {
        let all = contracts();
        let topics: std::collections::HashSet<String> = all
            .iter()
            .map(|d| {
                d["schema"][0]["physicalName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        let mut declaring = 0;
        for document in &all {
            let contract = contracts::Contract::from_document(document.clone()).expect("maps");
            let own: Vec<String> = contract.ports.iter().map(|p| p.topic.clone()).collect();
            let Some(declared) =
                crate::contracts::declaration::declaration(document, &contract.slug, &own)
                    .expect("valid")
            else {
                continue;
            };
            declaring += 1;
            for input in &declared.inputs {
                assert!(topics.contains(input), "{}: {input}", contract.slug);
            }
            if contract.slug == "enriched-customer-signed-up" {
                assert_eq!(declared.processor, "customer-enrichment");
                assert_eq!(
                    declared.inputs,
                    vec!["customer-management.customer-signed-up.v1"]
                );
            }
        }
        assert_eq!(declaring, DECLARED_LINEAGE.len());
    }
}
