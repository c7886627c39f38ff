//! The Tantivy schema, defined once: which product attributes are searched as text (and
//! with what weight), which are exact filters, facets or sort keys, and how a
//! [`ProductDoc`] becomes a Tantivy document.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};
use tantivy::{Index, TantivyDocument};

use super::document::ProductDoc;
use super::text;

/// The analyzer of the text fields; words are split before they reach it.
pub const ANALYZER: &str = "meshmart";

/// A group of text fields scored together, with its weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// The product name.
    Name,
    /// Topics, event types and the slug.
    Identifiers,
    /// Schema field names.
    SchemaFields,
    /// Domain, tags, owners, SLA tier, classification.
    Metadata,
    /// Product, port and field descriptions.
    Description,
}

impl Group {
    /// Every group, strongest first.
    pub const ALL: [Group; 5] = [
        Group::Name,
        Group::Identifiers,
        Group::SchemaFields,
        Group::Metadata,
        Group::Description,
    ];

    /// How much a match in this group counts relative to a description match.
    pub fn weight(self) -> f32 {
        match self {
            Group::Name => 5.0,
            Group::Identifiers | Group::SchemaFields => 3.0,
            Group::Metadata => 1.5,
            Group::Description => 1.0,
        }
    }

    /// The name of the group's field.
    pub fn field_name(self) -> &'static str {
        match self {
            Group::Name => "name",
            Group::Identifiers => "identifiers",
            Group::SchemaFields => "schema_fields",
            Group::Metadata => "metadata",
            Group::Description => "description",
        }
    }

    /// The name explanations use.
    pub fn label(self) -> &'static str {
        match self {
            Group::Name => "name",
            Group::Identifiers => "topic or event type",
            Group::SchemaFields => "schema field names",
            Group::Metadata => "domain, tags, owners",
            Group::Description => "descriptions",
        }
    }
}

/// Handles of every field.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    pub slug: Field,
    /// What a hit shows of the product: the [`ProductDoc`] as JSON, without the
    /// descriptions of its ports and schema fields (searched, never shown). Stored as text,
    /// which the document store reads back in one copy (bytes are read one by one).
    pub card: Field,
    pub name: Field,
    pub identifiers: Field,
    pub schema_fields: Field,
    pub metadata: Field,
    pub description: Field,
    /// Exact keys of the name, slug, topics and event types ([`text::exact_key`]).
    pub exact: Field,
    pub domain: Field,
    pub tag: Field,
    pub owner: Field,
    pub owner_words: Field,
    pub status: Field,
    pub health: Field,
    pub format: Field,
    pub sla: Field,
    pub topic: Field,
    pub field_key: Field,
    pub classification: Field,
    pub name_sort: Field,
    pub status_rank: Field,
    pub subscribers: Field,
    pub updated: Field,
}

impl Fields {
    /// The exact-value field a filter matches (owners also match words of their names,
    /// see the engine).
    pub fn filter(&self, key: super::query::FilterKey) -> Field {
        use super::query::FilterKey;
        match key {
            FilterKey::Domain => self.domain,
            FilterKey::Tag => self.tag,
            FilterKey::Owner => self.owner,
            FilterKey::Status => self.status,
            FilterKey::Health => self.health,
            FilterKey::Field => self.field_key,
            FilterKey::Format => self.format,
            FilterKey::Sla => self.sla,
            FilterKey::Topic => self.topic,
            FilterKey::Classification => self.classification,
        }
    }

    /// The text fields of `group`.
    pub fn group(&self, group: Group) -> Field {
        match group {
            Group::Name => self.name,
            Group::Identifiers => self.identifiers,
            Group::SchemaFields => self.schema_fields,
            Group::Metadata => self.metadata,
            Group::Description => self.description,
        }
    }
}

/// Builds the schema and its field handles.
pub fn build() -> (Schema, Fields) {
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let mut builder = Schema::builder();
    let fields = Fields {
        slug: builder.add_text_field("slug", STRING | STORED | FAST),
        card: builder.add_text_field("card", STORED),
        name: builder.add_text_field(Group::Name.field_name(), text.clone()),
        identifiers: builder.add_text_field(Group::Identifiers.field_name(), text.clone()),
        schema_fields: builder.add_text_field(Group::SchemaFields.field_name(), text.clone()),
        metadata: builder.add_text_field(Group::Metadata.field_name(), text.clone()),
        description: builder.add_text_field(Group::Description.field_name(), text.clone()),
        exact: builder.add_text_field("exact", STRING),
        domain: builder.add_text_field("domain", STRING | FAST),
        tag: builder.add_text_field("tag", STRING | FAST),
        owner: builder.add_text_field("owner", STRING | FAST),
        owner_words: builder.add_text_field("owner_words", text),
        status: builder.add_text_field("status", STRING | FAST),
        health: builder.add_text_field("health", STRING | FAST),
        format: builder.add_text_field("format", STRING | FAST),
        sla: builder.add_text_field("sla", STRING | FAST),
        topic: builder.add_text_field("topic", STRING),
        field_key: builder.add_text_field("field_key", STRING),
        classification: builder.add_text_field("classification", STRING),
        name_sort: builder.add_text_field("name_sort", STRING | FAST),
        status_rank: builder.add_u64_field("status_rank", FAST),
        subscribers: builder.add_u64_field("subscribers", FAST | INDEXED),
        updated: builder.add_i64_field("updated", FAST),
    };
    (builder.build(), fields)
}

/// Registers the analyzer the schema names on `index`.
pub fn register_analyzer(index: &Index) {
    let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build();
    index.tokenizers().register(ANALYZER, analyzer);
}

/// Facet dimensions, each the name of a fast string field.
pub const FACETS: [&str; 6] = ["domain", "tag", "owner", "format", "status", "sla"];

/// How an active product ranks against others: the score multiplier per status rank.
pub fn status_rank(status: &str) -> u64 {
    match status {
        "active" => 0,
        "draft" => 1,
        "deprecated" => 2,
        _ => 3,
    }
}

/// The stored card of `product` (see [`Fields::card`]).
fn card(product: &ProductDoc) -> String {
    let mut shown = product.clone();
    for port in &mut shown.ports {
        port.description = None;
        for field in &mut port.fields {
            field.description = None;
        }
    }
    serde_json::to_string(&shown).unwrap_or_default()
}

/// Converts a product to its Tantivy document.
pub fn to_document(fields: &Fields, product: &ProductDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.slug, &product.slug);
    doc.add_text(fields.card, card(product));
    doc.add_text(fields.name, text::split_words(&product.name));
    doc.add_text(fields.name_sort, product.name.to_lowercase());
    doc.add_text(fields.identifiers, text::split_words(&product.slug));
    for key in [
        text::exact_key(&product.name),
        text::exact_key(&product.slug),
    ] {
        doc.add_text(fields.exact, key);
    }
    for port in &product.ports {
        doc.add_text(fields.identifiers, text::split_words(&port.topic));
        doc.add_text(fields.identifiers, text::split_words(&port.event_type));
        doc.add_text(fields.exact, text::exact_key(&port.topic));
        doc.add_text(fields.exact, text::exact_key(&port.event_type));
        doc.add_text(fields.topic, &port.topic);
        doc.add_text(fields.format, port.format.to_lowercase());
        if let Some(description) = &port.description {
            doc.add_text(fields.description, text::split_words(description));
        }
    }
    for field in product.fields() {
        doc.add_text(fields.schema_fields, text::split_words(&field.name));
        doc.add_text(fields.field_key, text::exact_key(&field.name));
        // A nested field is also found by its own name (`address.city` by `city`).
        if let Some((_, leaf)) = field.name.rsplit_once('.') {
            doc.add_text(fields.field_key, text::exact_key(leaf));
        }
        if let Some(description) = &field.description {
            doc.add_text(fields.description, text::split_words(description));
        }
    }
    doc.add_text(fields.description, text::split_words(&product.description));
    doc.add_text(fields.metadata, text::split_words(&product.domain_name));
    doc.add_text(fields.metadata, text::split_words(&product.domain));
    doc.add_text(fields.domain, &product.domain);
    for tag in &product.tags {
        doc.add_text(fields.metadata, text::split_words(tag));
        doc.add_text(fields.tag, tag);
    }
    for owner in &product.owners {
        let words = format!("{} {}", owner.name, owner.username);
        doc.add_text(fields.metadata, text::split_words(&words));
        doc.add_text(fields.owner_words, text::split_words(&words));
        doc.add_text(fields.owner, owner.username.to_lowercase());
    }
    doc.add_text(fields.status, &product.status);
    doc.add_text(fields.health, &product.health);
    doc.add_u64(fields.status_rank, status_rank(&product.status));
    if let Some(tier) = &product.sla_tier {
        doc.add_text(fields.metadata, tier);
        doc.add_text(fields.sla, tier);
    }
    if let Some(class) = &product.classification {
        doc.add_text(fields.metadata, class);
        doc.add_text(fields.classification, class);
    }
    doc.add_u64(fields.subscribers, product.subscribers);
    doc.add_i64(fields.updated, product.version());
    doc
}
