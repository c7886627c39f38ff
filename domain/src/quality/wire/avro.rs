//! Avro binary read straight into the JSON the quality rules read, for the record checker's
//! hot path.
//!
//! Apache Avro's reader builds its own value tree (a `String` per field name, per record)
//! and resolves the schema's names again on every call; converting that tree to JSON then
//! builds a second one. Together that was most of the checker's time per Avro record. This
//! reader walks the writer's schema over the bytes once, following the Avro specification's
//! binary encoding, and yields exactly what `serde_json::Value::try_from(apache_avro::Value)`
//! yields (a property test in `wire/tests.rs` holds the two together).
//!
//! It covers the primitive types, records, enums, arrays, maps, unions, fixed and the
//! integer-backed logical types. A schema with a decimal, big-decimal, uuid or duration
//! anywhere is left to Apache Avro ([`Fast::new`] answers `None`). Recursive schemas and
//! arrays of zero-width items never reach here (`wire::unbounded` refuses them), so the
//! walk's depth is the schema's and every item costs at least one byte of payload.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;
use serde_json::{Number, Value};

use super::reuse;

/// A schema this reader can decode, with its named types.
pub(super) struct Fast {
    root: Schema,
    names: HashMap<Name, Schema>,
}

impl Fast {
    /// The reader for `schema`, or `None` when it holds a type left to Apache Avro.
    pub(super) fn new(schema: &Schema) -> Option<Self> {
        let mut names = HashMap::new();
        let mut refs = Vec::new();
        collect(schema, &mut names, &mut refs)?;
        // A name this walk cannot place (a namespace rule it does not follow) is left to
        // Apache Avro too, rather than failing records that are fine.
        if refs.iter().any(|name| !names.contains_key(name)) {
            return None;
        }
        Some(Self {
            root: schema.clone(),
            names,
        })
    }

    /// Decodes one payload; an error says what was wrong. Trailing bytes are an error.
    #[cfg(test)]
    pub(super) fn decode(&self, payload: &[u8]) -> Result<Value, String> {
        let mut value = Value::Null;
        self.decode_into(payload, &mut value)?;
        Ok(value)
    }

    /// Decodes one payload over `out` (see `wire::reuse`); on an error `out` holds a
    /// partial value.
    pub(super) fn decode_into(&self, payload: &[u8], out: &mut Value) -> Result<(), String> {
        let mut input = payload;
        self.read(&self.root, &mut input, out)?;
        if !input.is_empty() {
            return Err(format!("{} bytes follow the record", input.len()));
        }
        Ok(())
    }

    fn read(&self, schema: &Schema, input: &mut &[u8], out: &mut Value) -> Result<(), String> {
        match schema {
            Schema::Null => *out = Value::Null,
            Schema::Boolean => match take(input, 1)? {
                [0] => *out = Value::Bool(false),
                [1] => *out = Value::Bool(true),
                [other] => return Err(format!("{other} is not a boolean")),
                _ => return Err(END.to_string()),
            },
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let n = long(input)?;
                let n = i32::try_from(n).map_err(|_| format!("{n} is out of an int's range"))?;
                *out = Value::Number(n.into());
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => *out = Value::Number(long(input)?.into()),
            Schema::Float => {
                let bytes: [u8; 4] = take(input, 4)?.try_into().map_err(|_| END)?;
                *out = number(f64::from(f32::from_le_bytes(bytes)))?;
            }
            Schema::Double => {
                let bytes: [u8; 8] = take(input, 8)?.try_into().map_err(|_| END)?;
                *out = number(f64::from_le_bytes(bytes))?;
            }
            Schema::Bytes => {
                let len = length(input)?;
                bytes(take(input, len)?, out);
            }
            Schema::String => {
                let len = length(input)?;
                let text = std::str::from_utf8(take(input, len)?)
                    .map_err(|e| format!("a string is not UTF-8 ({e})"))?;
                reuse::set_str(out, text);
            }
            Schema::Fixed(fixed) => bytes(take(input, fixed.size)?, out),
            Schema::Enum(e) => {
                let index = long(input)?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| e.symbols.get(i))
                    .ok_or_else(|| format!("enum index {index} is not a symbol of `{}`", e.name))?;
                reuse::set_str(out, symbol);
            }
            Schema::Union(union) => {
                let index = long(input)?;
                let variant = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| format!("union index {index} is not one of its branches"))?;
                self.read(variant, input, out)?;
            }
            Schema::Array(array) => {
                let items = reuse::array(out);
                let mut len = 0;
                self.blocks(input, |reader, input| {
                    reader.read(&array.items, input, reuse::next_item(items, len))?;
                    len += 1;
                    Ok(())
                })?;
                reuse::keep_first(items, len);
            }
            Schema::Map(map) => {
                let entries = reuse::object(out);
                let mut keys = Vec::new();
                self.blocks(input, |reader, input| {
                    let len = length(input)?;
                    let key = std::str::from_utf8(take(input, len)?)
                        .map_err(|e| format!("a map key is not UTF-8 ({e})"))?;
                    reuse::write_entry(entries, key, |out| reader.read(&map.types, input, out))?;
                    keys.push(key);
                    Ok(())
                })?;
                reuse::keep_only(entries, &keys);
            }
            Schema::Record(record) => {
                // The fields of the record before are looked up by name and written over:
                // a stream's records share them, so nothing is allocated for the names.
                let fields = reuse::object(out);
                for field in &record.fields {
                    reuse::write_entry(fields, &field.name, |out| {
                        self.read(&field.schema, input, out)
                    })?;
                }
                // Apache Avro refuses a record naming a field twice, so the names are
                // distinct and this only removes what a record of another type left.
                if fields.len() != record.fields.len() {
                    reuse::keep_only(
                        fields,
                        &record
                            .fields
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>(),
                    );
                }
            }
            Schema::Ref { name } => {
                let named = self
                    .names
                    .get(name)
                    .ok_or_else(|| format!("the schema names `{name}` without defining it"))?;
                self.read(named, input, out)?;
            }
            Schema::Decimal(_) | Schema::BigDecimal | Schema::Uuid(_) | Schema::Duration(_) => {
                return Err("the schema has a type this reader leaves to Apache Avro".into());
            }
        }
        Ok(())
    }

    /// Reads the blocks of an array or a map: a count, then that many items; a negative
    /// count is followed by the block's size in bytes; a zero count ends it.
    fn blocks<'i>(
        &self,
        input: &mut &'i [u8],
        mut item: impl FnMut(&Self, &mut &'i [u8]) -> Result<(), String>,
    ) -> Result<(), String> {
        loop {
            let count = long(input)?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                long(input)?;
            }
            let count = count.unsigned_abs();
            // Every item costs at least a byte, so a count beyond the bytes left is a lie.
            if count > input.len() as u64 {
                return Err(format!(
                    "a block claims {count} items in {} bytes",
                    input.len()
                ));
            }
            for _ in 0..count {
                item(self, input)?;
            }
        }
    }
}

const END: &str = "the record ends early";

fn take<'a>(input: &mut &'a [u8], len: usize) -> Result<&'a [u8], String> {
    if input.len() < len {
        return Err(END.to_string());
    }
    let (head, rest) = input.split_at(len);
    *input = rest;
    Ok(head)
}

/// A zig-zag variable-length long (Avro's `long`, and Protobuf's message indexes in
/// Confluent's wire format).
pub(super) fn long(input: &mut &[u8]) -> Result<i64, String> {
    let mut raw: u64 = 0;
    for shift in (0..64).step_by(7) {
        let [byte, rest @ ..] = *input else {
            return Err(END.to_string());
        };
        *input = rest;
        raw |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err("a variable-length integer is longer than 10 bytes".to_string())
}

/// A non-negative length that the rest of the input can hold.
fn length(input: &mut &[u8]) -> Result<usize, String> {
    let len = long(input)?;
    usize::try_from(len)
        .ok()
        .filter(|len| *len <= input.len())
        .ok_or_else(|| format!("a length of {len} does not fit the record"))
}

fn number(n: f64) -> Result<Value, String> {
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| format!("{n} has no JSON form"))
}

/// Bytes as JSON: an array of numbers, as Apache Avro's conversion gives them.
fn bytes(bytes: &[u8], out: &mut Value) {
    let items = reuse::array(out);
    items.clear();
    items.extend(bytes.iter().map(|b| Value::Number((*b).into())));
}

/// Gathers the named types of `schema` and the names it refers to; `None` when it holds a
/// type left to Apache Avro.
fn collect(schema: &Schema, names: &mut HashMap<Name, Schema>, refs: &mut Vec<Name>) -> Option<()> {
    match schema {
        Schema::Decimal(_) | Schema::BigDecimal | Schema::Uuid(_) | Schema::Duration(_) => {
            return None;
        }
        Schema::Record(record) => {
            names.insert(record.name.clone(), schema.clone());
            for field in &record.fields {
                collect(&field.schema, names, refs)?;
            }
        }
        Schema::Enum(e) => {
            names.insert(e.name.clone(), schema.clone());
        }
        Schema::Fixed(fixed) => {
            names.insert(fixed.name.clone(), schema.clone());
        }
        Schema::Array(array) => collect(&array.items, names, refs)?,
        Schema::Map(map) => collect(&map.types, names, refs)?,
        Schema::Union(union) => {
            for variant in union.variants() {
                collect(variant, names, refs)?;
            }
        }
        Schema::Ref { name } => refs.push(name.clone()),
        _ => {}
    }
    Some(())
}
