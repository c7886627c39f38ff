//! Decoding a record over the value of the record before it, so that a stream of records
//! of one shape is decoded without building a new tree each time.
//!
//! A JSON record parsed into a fresh [`serde_json::Value`] allocates every field name and
//! every string, and inserts each field into a new map: measured on the record checker's
//! hot path, that was a third of its time per JSON record and most of its allocations
//! (the tree was then dropped as soon as the rules had read it). The records of a stream
//! share their field names, so here each field is looked up in the previous record's map
//! and its value written in place: strings reuse their buffers, arrays their items, maps
//! their names. The result is exactly what `serde_json::from_slice` yields for the same
//! bytes, whatever the value held before (a property test in `wire/tests.rs` holds them
//! together), including a name given twice (the last one wins) and names the record
//! before had and this one has not (they are removed).
//!
//! serde_json still does the parsing (and its nesting limit still holds); this module is
//! only the visitor that decides where each parsed value goes. The Avro reader
//! (`wire::avro`) writes through the same helpers.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A kept buffer larger than this (and than twice what is written into it) is let go, so
/// one large record does not keep its memory for every record after it.
const KEEP_BYTES: usize = 4096;
/// Above this many names, an object's repeated or missing names are found with a set
/// rather than by comparing each pair.
const PAIRWISE_NAMES: usize = 32;

/// Parses JSON documents over values ([`JsonReader::read_into`]), keeping the room it
/// needs for the names of an object from one document to the next.
#[derive(Debug, Default)]
pub(super) struct JsonReader {
    /// Empty between documents; only its allocation is kept.
    names: Vec<Cow<'static, str>>,
}

impl JsonReader {
    /// Parses a JSON document over `out`. On an error `out` holds a partial value.
    pub(super) fn read_into(
        &mut self,
        text: &str,
        out: &mut Value,
    ) -> Result<(), serde_json::Error> {
        let mut seen = recycle(std::mem::take(&mut self.names));
        // From text already known to be UTF-8: parsing bytes would check each string again.
        let mut parser = serde_json::Deserializer::from_str(text);
        let read = InPlace {
            out,
            seen: &mut seen,
        }
        .deserialize(&mut parser)
        .and_then(|()| parser.end());
        if seen.capacity() <= KEEP_NAMES {
            self.names = recycle(seen);
        }
        read
    }
}

/// Names a [`JsonReader`] keeps room for between documents.
const KEEP_NAMES: usize = 256;

/// Empties `names` and hands back its allocation for names that live as long as another
/// document (the standard library collects a mapped `Vec` into the same allocation when
/// the item types have one layout, as these do).
fn recycle<'a>(mut names: Vec<Cow<'_, str>>) -> Vec<Cow<'a, str>> {
    names.clear();
    names.into_iter().map(|_| unreachable!("emptied")).collect()
}

/// Writes `text` over `out`, reusing its buffer when it is a string.
pub(super) fn set_str(out: &mut Value, text: &str) {
    match out {
        Value::String(kept) if kept.capacity() <= KEEP_BYTES.max(2 * text.len()) => {
            kept.clear();
            kept.push_str(text);
        }
        _ => *out = Value::String(text.to_owned()),
    }
}

/// Makes `out` an array (keeping its items when it was one) and returns its items.
pub(super) fn array(out: &mut Value) -> &mut Vec<Value> {
    if !out.is_array() {
        *out = Value::Array(Vec::new());
    }
    match out {
        Value::Array(items) => items,
        _ => unreachable!("`out` was made an array above"),
    }
}

/// Makes `out` an object (keeping its entries when it was one) and returns its map.
pub(super) fn object(out: &mut Value) -> &mut Map<String, Value> {
    if !out.is_object() {
        *out = Value::Object(Map::new());
    }
    match out {
        Value::Object(map) => map,
        _ => unreachable!("`out` was made an object above"),
    }
}

/// The next item of `items` to write over, the `len`-th (the items before it are
/// written): appended as `null` when the array is no longer.
pub(super) fn next_item(items: &mut Vec<Value>, len: usize) -> &mut Value {
    if len == items.len() {
        items.push(Value::Null);
    }
    &mut items[len]
}

/// Cuts `items` to the `len` written this time, letting go of a much larger buffer.
pub(super) fn keep_first(items: &mut Vec<Value>, len: usize) {
    items.truncate(len);
    if items.capacity() > 2 * len + 64 {
        items.shrink_to_fit();
    }
}

/// Writes the value `read` makes over the entry `name` of `map`, or into a new entry.
pub(super) fn write_entry<E>(
    map: &mut Map<String, Value>,
    name: &str,
    read: impl FnOnce(&mut Value) -> Result<(), E>,
) -> Result<(), E> {
    // One search for a name the map has; `entry` would need an owned name for every
    // field of every record.
    match map.get_mut(name) {
        Some(slot) => read(slot),
        None => {
            let mut value = Value::Null;
            read(&mut value)?;
            map.insert(name.to_owned(), value);
            Ok(())
        }
    }
}

/// Removes the entries of `map` whose name is not among `names`, unless `map` holds
/// exactly `names` already (the common case, found without a search when no name repeats).
pub(super) fn keep_only<S: AsRef<str>>(map: &mut Map<String, Value>, names: &[S]) {
    // Every name written is in the map; with as many entries as distinct names written,
    // there is nothing else in it.
    if map.len() == names.len() && !repeats(names) {
        return;
    }
    if names.len() <= PAIRWISE_NAMES {
        map.retain(|name, _| names.iter().any(|seen| seen.as_ref() == name));
    } else {
        let names: HashSet<&str> = names.iter().map(AsRef::as_ref).collect();
        map.retain(|name, _| names.contains(name.as_str()));
    }
}

/// Whether a name occurs twice. Names of different lengths differ at the first compare,
/// so for an object's few names the pairwise check is cheap.
fn repeats<S: AsRef<str>>(names: &[S]) -> bool {
    if names.len() > PAIRWISE_NAMES {
        let mut distinct = HashSet::with_capacity(names.len());
        return !names.iter().all(|name| distinct.insert(name.as_ref()));
    }
    names.iter().enumerate().any(|(i, name)| {
        names[..i]
            .iter()
            .any(|before| before.as_ref() == name.as_ref())
    })
}

/// Writes the next JSON value over `out`; `seen` is a stack of the names read in the
/// objects being parsed (each object pops its own when it ends).
struct InPlace<'a, 'de> {
    out: &'a mut Value,
    seen: &'a mut Vec<Cow<'de, str>>,
}

impl<'de> DeserializeSeed<'de> for InPlace<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        parser.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InPlace<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        *self.out = Value::Bool(b);
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        *self.out = Value::Number(n.into());
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        *self.out = Value::Number(n.into());
        Ok(())
    }

    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        // As serde_json's own `Value` does (it never parses a non-finite number).
        *self.out = Number::from_f64(n).map_or(Value::Null, Value::Number);
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        set_str(self.out, text);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        *self.out = Value::Null;
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        *self.out = Value::Null;
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, parser: D) -> Result<(), D::Error> {
        parser.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<(), A::Error> {
        let InPlace { out, seen } = self;
        let items = array(out);
        let mut len = 0;
        loop {
            let next = InPlace {
                out: next_item(items, len),
                seen: &mut *seen,
            };
            if elements.next_element_seed(next)?.is_none() {
                break;
            }
            len += 1;
        }
        keep_first(items, len);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let InPlace { out, seen } = self;
        let map = object(out);
        let start = seen.len();
        while let Some(name) = entries.next_key_seed(Name)? {
            write_entry(map, &name, |out| {
                entries.next_value_seed(InPlace {
                    out,
                    seen: &mut *seen,
                })
            })?;
            // After the value: a nested object has popped its own names by now.
            seen.push(name);
        }
        keep_only(map, &seen[start..]);
        seen.truncate(start);
        Ok(())
    }
}

/// An object's member name, borrowed from the payload unless it had escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, parser: D) -> Result<Self::Value, D::Error> {
        parser.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(name))
    }

    fn visit_str<E>(self, name: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name.to_owned()))
    }

    fn visit_string<E>(self, name: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(name))
    }
}
