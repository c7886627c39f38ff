//! Object keywords: the object model ([`ObjectModel`]); `properties` compared, added or
//! removed against the other side's content model; `required` (and defaults); `dependencies`,
//! `dependentRequired` and `dependentSchemas`; `patternProperties` (a Meshmart addition);
//! `additionalProperties`, `unevaluatedProperties`, `propertyNames`, `maxProperties` and
//! `minProperties`.

use serde_json::Value;

use super::content::{Additional, MemberKinds, Rest, additional, rest_of};
use super::diff::{Diff, all_compatible, extend_prefixed};
use super::model::{Loc, is_schema, seg};
use super::numbers::bound;
use super::pattern;
use super::{ChangeKind, Comparator};

struct ObjectModel<'a> {
    props: Vec<(&'a str, Loc<'a>)>,
    required: Vec<&'a str>,
    patterns: Vec<(&'a str, Loc<'a>)>,
    additional: Additional<'a>,
    unevaluated: Option<Loc<'a>>,
    rest: Rest<'a>,
    prop_deps: Vec<(&'a str, &'static str, Vec<&'a str>)>,
    schema_deps: Vec<(&'a str, &'static str, Loc<'a>)>,
    property_names: Option<Loc<'a>>,
}

impl<'a> ObjectModel<'a> {
    fn new(loc: &Loc<'a>) -> ObjectModel<'a> {
        let schemas_under = |keyword: &'static str| -> Vec<(&'a str, Loc<'a>)> {
            loc.get(keyword)
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter(|(_, v)| is_schema(v))
                        .map(|(k, v)| (k.as_str(), loc.child(&seg(&[keyword, k]), v)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let props = schemas_under("properties");
        let patterns = schemas_under("patternProperties");
        let required = loc
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let additional = additional(loc, "additionalProperties");
        let unevaluated = loc.restricting_schema_at("unevaluatedProperties");
        let rest = rest_of(&additional, unevaluated.as_ref());
        let mut prop_deps = Vec::new();
        let mut schema_deps = Vec::new();
        for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
            let Some(map) = loc.get(keyword).and_then(Value::as_object) else {
                continue;
            };
            for (key, value) in map {
                match value {
                    Value::Array(names) if keyword != "dependentSchemas" => prop_deps.push((
                        key.as_str(),
                        keyword,
                        names.iter().filter_map(Value::as_str).collect(),
                    )),
                    value if is_schema(value) && keyword != "dependentRequired" => schema_deps
                        .push((
                            key.as_str(),
                            keyword,
                            loc.child(&seg(&[keyword, key]), value),
                        )),
                    _ => {}
                }
            }
        }
        ObjectModel {
            props,
            required,
            patterns,
            additional,
            unevaluated,
            rest,
            prop_deps,
            schema_deps,
            property_names: loc.restricting_schema_at("propertyNames"),
        }
    }

    fn prop(&self, key: &str) -> Option<&Loc<'a>> {
        self.props.iter().find(|(k, _)| *k == key).map(|(_, l)| l)
    }

    fn pattern(&self, pattern: &str) -> Option<&Loc<'a>> {
        self.patterns
            .iter()
            .find(|(p, _)| *p == pattern)
            .map(|(_, l)| l)
    }

    fn is_required(&self, key: &str) -> bool {
        self.required.contains(&key)
    }
}

impl<'a> Comparator<'a> {
    pub(super) fn compare_object(&mut self, o: &Loc<'a>, u: &Loc<'a>, out: &mut Vec<Diff>) {
        let om = ObjectModel::new(o);
        let um = ObjectModel::new(u);
        self.compare_required(&om, &um, out);
        self.compare_properties(&om, &um, out);
        self.compare_dependencies(&om, &um, out);
        self.compare_additional(
            "additionalProperties",
            &om.additional,
            &um.additional,
            [
                ChangeKind::AdditionalPropertiesAdded,
                ChangeKind::AdditionalPropertiesRemoved,
                ChangeKind::AdditionalPropertiesExtended,
                ChangeKind::AdditionalPropertiesNarrowed,
            ],
            out,
        );
        self.compare_unevaluated(
            "unevaluatedProperties",
            om.unevaluated.as_ref(),
            um.unevaluated.as_ref(),
            [
                ChangeKind::UnevaluatedPropertiesAdded,
                ChangeKind::UnevaluatedPropertiesRemoved,
                ChangeKind::UnevaluatedPropertiesExtended,
                ChangeKind::UnevaluatedPropertiesNarrowed,
            ],
            out,
        );
        self.compare_pattern_properties(&om, &um, out);
        let found = self.compare_opt(
            om.property_names.as_ref(),
            um.property_names.as_ref(),
            "propertyNames",
        );
        extend_prefixed(out, &seg(&["propertyNames"]), found);
        bound(
            out,
            "maxProperties",
            o.get("maxProperties"),
            u.get("maxProperties"),
        );
        bound(
            out,
            "minProperties",
            o.get("minProperties"),
            u.get("minProperties"),
        );
    }

    fn compare_required(&self, om: &ObjectModel<'a>, um: &ObjectModel<'a>, out: &mut Vec<Diff>) {
        for (key, _) in &om.props {
            let Some(ul) = um.prop(key) else {
                continue;
            };
            let path = seg(&["required", key]);
            match (om.is_required(key), um.is_required(key)) {
                (true, false) => out.push(Diff::new(
                    ChangeKind::RequiredAttributeRemoved,
                    path,
                    format!("property `{key}` is no longer required"),
                )),
                (false, true) if self.has_default(ul) => out.push(Diff::new(
                    ChangeKind::RequiredAttributeWithDefaultAdded,
                    path,
                    format!("property `{key}` is now required (it has a default)"),
                )),
                (false, true) => out.push(Diff::new(
                    ChangeKind::RequiredAttributeAdded,
                    path,
                    format!("property `{key}` is now required"),
                )),
                _ => {}
            }
        }
    }

    /// What governs `key` in an object when `properties` does not name it.
    fn governing(&mut self, model: &ObjectModel<'a>, key: &str) -> Rest<'a> {
        for (pattern, schema) in &model.patterns {
            if self.pattern_matches(pattern, key) {
                return Rest::Partial(schema.clone());
            }
        }
        model.rest.clone()
    }

    fn compare_properties(
        &mut self,
        om: &ObjectModel<'a>,
        um: &ObjectModel<'a>,
        out: &mut Vec<Diff>,
    ) {
        use ChangeKind as K;
        for (key, ol) in &om.props {
            let path = seg(&["properties", key]);
            if let Some(ul) = um.prop(key) {
                let found = self.compare_locs(ol, ul);
                extend_prefixed(out, &path, found);
                continue;
            }
            // Removed: whatever governs the key in the update must accept the old values.
            match self.governing(um, key) {
                Rest::Open => out.push(Diff::new(
                    K::PropertyRemovedFromOpenContentModel,
                    path,
                    format!("property `{key}` removed from an open content model"),
                )),
                Rest::Partial(schema) => {
                    let found = self.compare_locs(ol, &schema);
                    let covered = all_compatible(&found);
                    extend_prefixed(out, &path, found);
                    out.push(if covered {
                        Diff::new(
                            K::PropertyRemovedIsCoveredByPartiallyOpenContentModel,
                            path,
                            format!("property `{key}` removed; its values are still accepted as additional properties"),
                        )
                    } else {
                        Diff::new(
                            K::PropertyRemovedNotCoveredByPartiallyOpenContentModel,
                            path,
                            format!("property `{key}` removed; the partially open content model rejects its old values"),
                        )
                    });
                }
                Rest::Closed => out.push(if self.is_false_schema(ol) {
                    Diff::new(
                        K::PropertyWithFalseRemovedFromClosedContentModel,
                        path,
                        format!(
                            "property `{key}` (schema false) removed from a closed content model"
                        ),
                    )
                } else {
                    Diff::new(
                        K::PropertyRemovedFromClosedContentModel,
                        path,
                        format!("property `{key}` removed from a closed content model"),
                    )
                }),
            }
        }
        for (key, ul) in &um.props {
            if om.prop(key).is_some() {
                continue;
            }
            let path = seg(&["properties", key]);
            let required = um.is_required(key);
            let with_default = required && self.has_default(ul);
            // Added: the new schema must accept whatever the original let through under `key`.
            match self.governing(om, key) {
                Rest::Open => out.push(if required && with_default {
                    Diff::new(
                        K::RequiredPropertyWithDefaultAddedToOpenContentModel,
                        path,
                        format!("required property `{key}` (with a default) added to an open content model"),
                    )
                } else if required {
                    Diff::new(
                        K::RequiredPropertyAddedToOpenContentModel,
                        path,
                        format!("required property `{key}` added to an open content model"),
                    )
                } else if self.is_empty_schema(ul) {
                    Diff::new(
                        K::PropertyWithEmptySchemaAddedToOpenContentModel,
                        path,
                        format!("property `{key}` with an empty schema added to an open content model"),
                    )
                } else {
                    Diff::new(
                        K::OptionalPropertyAddedToOpenContentModel,
                        path,
                        format!("optional property `{key}` added to an open content model (old data may hold any value there)"),
                    )
                }),
                governed => {
                    if let Rest::Partial(schema) = governed {
                        let found = self.compare_locs(&schema, ul);
                        let covered = all_compatible(&found);
                        extend_prefixed(out, &path, found);
                        out.push(if covered {
                            Diff::new(
                                K::PropertyAddedIsCoveredByPartiallyOpenContentModel,
                                path.clone(),
                                format!("property `{key}` added; it accepts what the partially open content model accepted"),
                            )
                        } else {
                            Diff::new(
                                K::PropertyAddedNotCoveredByPartiallyOpenContentModel,
                                path.clone(),
                                format!("property `{key}` added; it rejects values the partially open content model accepted"),
                            )
                        });
                    }
                    out.push(if with_default {
                        Diff::new(
                            K::RequiredPropertyWithDefaultAddedToUnopenContentModel,
                            path,
                            format!("required property `{key}` added with a default"),
                        )
                    } else if required {
                        Diff::new(
                            K::RequiredPropertyAddedToUnopenContentModel,
                            path,
                            format!("required property `{key}` added"),
                        )
                    } else {
                        Diff::new(
                            K::OptionalPropertyAddedToUnopenContentModel,
                            path,
                            format!("optional property `{key}` added"),
                        )
                    });
                }
            }
        }
    }

    fn compare_dependencies(
        &mut self,
        om: &ObjectModel<'a>,
        um: &ObjectModel<'a>,
        out: &mut Vec<Diff>,
    ) {
        use ChangeKind as K;
        for (key, keyword, od) in &om.prop_deps {
            let path = seg(&[keyword, key]);
            let Some((_, _, ud)) = um.prop_deps.iter().find(|(k, _, _)| k == key) else {
                out.push(Diff::new(
                    K::DependencyArrayRemoved,
                    path,
                    format!("dependency of `{key}` on {od:?} removed"),
                ));
                continue;
            };
            let u_has_all = od.iter().all(|d| ud.contains(d));
            let o_has_all = ud.iter().all(|d| od.contains(d));
            let kind = match (u_has_all, o_has_all) {
                (true, true) => continue,
                (true, false) => K::DependencyArrayExtended,
                (false, true) => K::DependencyArrayNarrowed,
                (false, false) => K::DependencyArrayChanged,
            };
            out.push(Diff::new(
                kind,
                path,
                format!("dependencies of `{key}` changed {od:?} → {ud:?}"),
            ));
        }
        for (key, keyword, ud) in &um.prop_deps {
            if !om.prop_deps.iter().any(|(k, _, _)| k == key) {
                out.push(Diff::new(
                    K::DependencyArrayAdded,
                    seg(&[keyword, key]),
                    format!("dependency of `{key}` on {ud:?} added"),
                ));
            }
        }
        for (key, keyword, ol) in &om.schema_deps {
            let path = seg(&[keyword, key]);
            match um.schema_deps.iter().find(|(k, _, _)| k == key) {
                Some((_, _, ul)) => {
                    let found = self.compare_locs(ol, ul);
                    extend_prefixed(out, &path, found);
                }
                None => out.push(Diff::new(
                    K::DependencySchemaRemoved,
                    path,
                    format!("schema dependency of `{key}` removed"),
                )),
            }
        }
        for (key, keyword, _) in &um.schema_deps {
            if !om.schema_deps.iter().any(|(k, _, _)| k == key) {
                out.push(Diff::new(
                    K::DependencySchemaAdded,
                    seg(&[keyword, key]),
                    format!("schema dependency of `{key}` added"),
                ));
            }
        }
    }

    /// Meshmart addition: `patternProperties` entries compared by their pattern text.
    fn compare_pattern_properties(
        &mut self,
        om: &ObjectModel<'a>,
        um: &ObjectModel<'a>,
        out: &mut Vec<Diff>,
    ) {
        use ChangeKind as K;
        // Only `additionalProperties` / `unevaluatedProperties` are consulted here: whether two
        // patterns overlap is not decided.
        let kinds = MemberKinds {
            removed_from_open: K::PatternPropertyRemovedFromOpenContentModel,
            removed_covered: K::PatternPropertyRemovedIsCoveredByPartiallyOpenContentModel,
            removed_not_covered: K::PatternPropertyRemovedNotCoveredByPartiallyOpenContentModel,
            false_removed_from_closed: K::PatternPropertyWithFalseRemovedFromClosedContentModel,
            removed_from_closed: K::PatternPropertyRemovedFromClosedContentModel,
            empty_added_to_open: K::PatternPropertyWithEmptySchemaAddedToOpenContentModel,
            added_to_open: K::PatternPropertyAddedToOpenContentModel,
            added_covered: K::PatternPropertyAddedIsCoveredByPartiallyOpenContentModel,
            added_not_covered: K::PatternPropertyAddedNotCoveredByPartiallyOpenContentModel,
            added_to_closed: K::PatternPropertyAddedToClosedContentModel,
            additional: "properties",
        };
        for (pattern, ol) in &om.patterns {
            let path = seg(&["patternProperties", pattern]);
            if let Some(ul) = um.pattern(pattern) {
                let found = self.compare_locs(ol, ul);
                extend_prefixed(out, &path, found);
                continue;
            }
            let what = format!("pattern property `{pattern}`");
            self.member_removed(&kinds, &what, path, ol, um.rest.clone(), out);
        }
        for (pattern, ul) in &um.patterns {
            if om.pattern(pattern).is_some() {
                continue;
            }
            let path = seg(&["patternProperties", pattern]);
            let what = format!("pattern property `{pattern}`");
            self.member_added(&kinds, &what, path, ul, om.rest.clone(), out);
        }
    }

    fn has_default(&self, loc: &Loc<'a>) -> bool {
        self.resolve(loc).is_ok_and(|l| l.get("default").is_some())
    }

    fn pattern_matches(&mut self, pattern: &str, key: &str) -> bool {
        let compiled = self
            .regexes
            .entry(pattern.to_string())
            .or_insert_with(|| pattern::compile(pattern));
        // A pattern this engine cannot read is assumed to match: the property is then checked
        // against that pattern's schema, which errs towards reporting a change.
        compiled.as_ref().is_none_or(|regex| regex.is_match(key))
    }
}
