//! Protobuf records in Confluent's wire format: after the schema id, the *message indexes*
//! that say which message of the schema's file the payload is (a zigzag varint count, then
//! each index; a lone `0` means the first message), then the message itself. Decoded as a
//! dynamic message into its JSON form with the `.proto` field names, so the quality rules
//! name fields as the schema does.

use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::Value;

use super::avro::long;
use crate::registry::protobuf::Protobuf;

/// The most message indexes a record may carry (deeper nesting than any schema has).
const MAX_INDEXES: u64 = 64;

/// The message indexes at the start of a payload, and the message after them.
pub fn split_indexes(payload: &[u8]) -> Result<(Vec<i32>, &[u8]), String> {
    let mut rest = payload;
    let count = long(&mut rest)?;
    if count == 0 {
        return Ok((vec![0], rest));
    }
    let count = u64::try_from(count).map_err(|_| format!("{count} message indexes"))?;
    if count > MAX_INDEXES {
        return Err(format!(
            "{count} message indexes; the limit is {MAX_INDEXES}"
        ));
    }
    let mut indexes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let index = long(&mut rest)?;
        indexes.push(i32::try_from(index).map_err(|_| format!("message index {index}"))?);
    }
    Ok((indexes, rest))
}

/// The message-index prefix for `indexes` (`[0]` as the single byte 0).
pub fn indexes_prefix(indexes: &[i32]) -> Vec<u8> {
    if indexes == [0] {
        return vec![0];
    }
    let mut out = Vec::new();
    write_varint(&mut out, zigzag_encode(indexes.len() as i64));
    for index in indexes {
        write_varint(&mut out, zigzag_encode(i64::from(*index)));
    }
    out
}

/// Decodes a payload (message indexes and message) to its JSON form.
pub(super) fn decode(schema: &Protobuf, payload: &[u8]) -> Result<Value, String> {
    let (indexes, message) = split_indexes(payload)?;
    let descriptor = schema
        .message(&indexes)
        .ok_or_else(|| format!("message indexes {indexes:?} name no message of the schema"))?;
    let decoded = DynamicMessage::decode(descriptor, message)
        .map_err(|e| format!("not Protobuf of this schema ({e})"))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    decoded
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| format!("the record has no JSON form ({e})"))
}

fn zigzag_encode(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_indexes_round_trip_and_the_first_message_is_one_byte() {
        assert_eq!(indexes_prefix(&[0]), vec![0]);
        for indexes in [vec![0], vec![1], vec![0, 2], vec![3, 0, 7], vec![200]] {
            let mut bytes = indexes_prefix(&indexes);
            bytes.extend_from_slice(b"rest");
            let (read, rest) = split_indexes(&bytes).expect("reads");
            assert_eq!(read, indexes);
            assert_eq!(rest, b"rest");
        }
        assert!(split_indexes(&[]).is_err());
        assert!(
            split_indexes(&[0x02]).is_err(),
            "one index announced, none there"
        );
        assert!(split_indexes(&[0xff; 11]).is_err());
        assert!(split_indexes(&indexes_prefix(&[0; 65])).is_err());
    }
}
