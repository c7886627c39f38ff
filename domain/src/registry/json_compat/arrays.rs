//! Array keywords: the array model ([`ArrayModel`]); `items` as one schema for every
//! element; tuples (`items` as an array, or `prefixItems`) with items added or removed
//! against the other side's content model; `additionalItems`, `unevaluatedItems`,
//! `contains`, `maxItems`, `minItems`, `uniqueItems`, `maxContains` and `minContains`.

use serde_json::Value;

use super::content::{Additional, MemberKinds, Rest, additional, rest_of};
use super::diff::{Diff, extend_prefixed};
use super::model::{Loc, seg};
use super::numbers::bound;
use super::{ChangeKind, Comparator};

struct ArrayModel<'a> {
    all_items: Option<Loc<'a>>,
    tuple: Vec<Loc<'a>>,
    tuple_keyword: Option<&'static str>,
    additional: Additional<'a>,
    additional_keyword: &'static str,
    unevaluated: Option<Loc<'a>>,
    contains: Option<Loc<'a>>,
}

impl<'a> ArrayModel<'a> {
    fn new(loc: &Loc<'a>) -> ArrayModel<'a> {
        let tuple_of = |keyword: &'static str| -> Option<Vec<Loc<'a>>> {
            let items = loc.get(keyword)?.as_array()?;
            Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| loc.child(&seg(&[keyword, &i.to_string()]), v))
                    .collect(),
            )
        };
        let (all_items, tuple, tuple_keyword, additional, additional_keyword) =
            if let Some(tuple) = tuple_of("prefixItems") {
                (
                    None,
                    tuple,
                    Some("prefixItems"),
                    additional(loc, "items"),
                    "items",
                )
            } else if let Some(tuple) = tuple_of("items") {
                (
                    None,
                    tuple,
                    Some("items"),
                    additional(loc, "additionalItems"),
                    "additionalItems",
                )
            } else {
                (
                    loc.restricting_schema_at("items"),
                    Vec::new(),
                    None,
                    additional(loc, "additionalItems"),
                    "additionalItems",
                )
            };
        ArrayModel {
            all_items,
            tuple,
            tuple_keyword,
            additional,
            additional_keyword,
            unevaluated: loc.restricting_schema_at("unevaluatedItems"),
            contains: loc.schema_at("contains"),
        }
    }

    fn rest(&self) -> Rest<'a> {
        match (&self.all_items, self.tuple.is_empty()) {
            (Some(all), true) => Rest::Partial(all.clone()),
            _ => rest_of(&self.additional, self.unevaluated.as_ref()),
        }
    }
}

impl<'a> Comparator<'a> {
    pub(super) fn compare_array(&mut self, o: &Loc<'a>, u: &Loc<'a>, out: &mut Vec<Diff>) {
        use ChangeKind as K;
        let om = ArrayModel::new(o);
        let um = ArrayModel::new(u);

        // `items` as one schema for every element.
        let found = self.compare_opt(om.all_items.as_ref(), um.all_items.as_ref(), "items");
        extend_prefixed(out, &seg(&["items"]), found);

        // Tuples (`items` as an array, or `prefixItems`).
        let tuple_keyword = om.tuple_keyword.or(um.tuple_keyword).unwrap_or("items");
        let common = om.tuple.len().min(um.tuple.len());
        for (i, (ol, ul)) in om.tuple.iter().zip(um.tuple.iter()).enumerate() {
            let found = self.compare_locs(ol, ul);
            extend_prefixed(out, &seg(&[tuple_keyword, &i.to_string()]), found);
        }
        let kinds = MemberKinds {
            removed_from_open: K::ItemRemovedFromOpenContentModel,
            removed_covered: K::ItemRemovedIsCoveredByPartiallyOpenContentModel,
            removed_not_covered: K::ItemRemovedNotCoveredByPartiallyOpenContentModel,
            false_removed_from_closed: K::ItemWithFalseRemovedFromClosedContentModel,
            removed_from_closed: K::ItemRemovedFromClosedContentModel,
            empty_added_to_open: K::ItemWithEmptySchemaAddedToOpenContentModel,
            added_to_open: K::ItemAddedToOpenContentModel,
            added_covered: K::ItemAddedIsCoveredByPartiallyOpenContentModel,
            added_not_covered: K::ItemAddedNotCoveredByPartiallyOpenContentModel,
            added_to_closed: K::ItemAddedToClosedContentModel,
            additional: "items",
        };
        for (i, ol) in om.tuple.iter().enumerate().skip(common) {
            let path = seg(&[tuple_keyword, &i.to_string()]);
            let what = format!("tuple item {i}");
            self.member_removed(&kinds, &what, path, ol, um.rest(), out);
        }
        for (i, ul) in um.tuple.iter().enumerate().skip(common) {
            let path = seg(&[tuple_keyword, &i.to_string()]);
            let what = format!("tuple item {i}");
            self.member_added(&kinds, &what, path, ul, om.rest(), out);
        }

        let additional_keyword = if om.additional.present || !um.additional.present {
            om.additional_keyword
        } else {
            um.additional_keyword
        };
        self.compare_additional(
            additional_keyword,
            &om.additional,
            &um.additional,
            [
                K::AdditionalItemsAdded,
                K::AdditionalItemsRemoved,
                K::AdditionalItemsExtended,
                K::AdditionalItemsNarrowed,
            ],
            out,
        );
        self.compare_unevaluated(
            "unevaluatedItems",
            om.unevaluated.as_ref(),
            um.unevaluated.as_ref(),
            [
                K::UnevaluatedItemsAdded,
                K::UnevaluatedItemsRemoved,
                K::UnevaluatedItemsExtended,
                K::UnevaluatedItemsNarrowed,
            ],
            out,
        );
        let found = self.compare_opt(om.contains.as_ref(), um.contains.as_ref(), "contains");
        extend_prefixed(out, &seg(&["contains"]), found);

        bound(out, "maxItems", o.get("maxItems"), u.get("maxItems"));
        bound(out, "minItems", o.get("minItems"), u.get("minItems"));
        let unique = |l: &Loc<'a>| l.get("uniqueItems") == Some(&Value::Bool(true));
        match (unique(o), unique(u)) {
            (true, false) => out.push(Diff::new(
                K::UniqueItemsRemoved,
                seg(&["uniqueItems"]),
                "uniqueItems removed".to_string(),
            )),
            (false, true) => out.push(Diff::new(
                K::UniqueItemsAdded,
                seg(&["uniqueItems"]),
                "uniqueItems added".to_string(),
            )),
            _ => {}
        }
        bound(
            out,
            "maxContains",
            o.get("maxContains"),
            u.get("maxContains"),
        );
        bound(
            out,
            "minContains",
            o.get("minContains"),
            u.get("minContains"),
        );
    }
}
