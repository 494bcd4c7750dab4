//! The on-disk form of an event in the history table: a type byte, then the key, the
//! object and the previous object, each with a length prefix.

use std::sync::Arc;

use serde_json::Value;

use super::{Event, EventType, StoreError};

fn type_byte(event_type: EventType) -> u8 {
    match event_type {
        EventType::Added => 1,
        EventType::Modified => 2,
        EventType::Deleted => 3,
    }
}

fn push_section(buffer: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    buffer.extend_from_slice(&length.to_le_bytes());
    buffer.extend_from_slice(bytes);
}

/// `object_json` and `previous_json` are the encodings the writer already made, so an
/// event costs no second serialization.
pub(super) fn encode_event(
    event_type: EventType,
    key: &str,
    object_json: &[u8],
    previous_json: Option<&[u8]>,
) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(
        1 + 12 + key.len() + object_json.len() + previous_json.map_or(0, <[u8]>::len),
    );
    buffer.push(type_byte(event_type));
    push_section(&mut buffer, key.as_bytes());
    push_section(&mut buffer, object_json);
    if let Some(previous) = previous_json {
        push_section(&mut buffer, previous);
    }
    buffer
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn section(&mut self) -> Option<&'a [u8]> {
        let length_bytes: [u8; 4] = self.bytes.get(..4)?.try_into().ok()?;
        let length = u32::from_le_bytes(length_bytes) as usize;
        let section = self.bytes.get(4..4 + length)?;
        self.bytes = &self.bytes[4 + length..];
        Some(section)
    }
}

pub(super) fn decode_event(revision: u64, bytes: &[u8]) -> Result<Event, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: format!("event {revision}"),
        reason: reason.to_owned(),
    };
    let (&type_byte, rest) = bytes.split_first().ok_or_else(|| corrupt("empty record"))?;
    let event_type = match type_byte {
        1 => EventType::Added,
        2 => EventType::Modified,
        3 => EventType::Deleted,
        _ => return Err(corrupt("unknown event type")),
    };
    let mut reader = Reader { bytes: rest };
    let key = reader.section().ok_or_else(|| corrupt("truncated key"))?;
    let key = std::str::from_utf8(key)
        .map_err(|_| corrupt("key is not UTF-8"))?
        .to_owned();
    let object_json = reader
        .section()
        .ok_or_else(|| corrupt("truncated object"))?;
    let object: Value =
        serde_json::from_slice(object_json).map_err(|error| corrupt(&error.to_string()))?;
    let previous = match reader.section() {
        Some(previous) => Some(Arc::new(
            serde_json::from_slice::<Value>(previous)
                .map_err(|error| corrupt(&error.to_string()))?,
        )),
        None => None,
    };
    Ok(Event {
        revision,
        event_type,
        key,
        object: Arc::new(object),
        object_json: bytes::Bytes::copy_from_slice(object_json),
        previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_a_round_trip_with_and_without_a_previous_object() {
        let encoded = encode_event(
            EventType::Modified,
            "pods/default/a",
            br#"{"a":2}"#,
            Some(br#"{"a":1}"#),
        );
        let event = decode_event(7, &encoded).unwrap();
        assert_eq!(event.revision, 7);
        assert_eq!(event.event_type, EventType::Modified);
        assert_eq!(event.key, "pods/default/a");
        assert_eq!(*event.object, serde_json::json!({"a": 2}));
        assert_eq!(
            event.previous.as_deref(),
            Some(&serde_json::json!({"a": 1}))
        );

        let encoded = encode_event(EventType::Added, "k", b"{}", None);
        assert!(decode_event(1, &encoded).unwrap().previous.is_none());
    }

    #[test]
    fn truncated_records_are_reported_as_corrupt_not_panics() {
        let encoded = encode_event(EventType::Added, "pods/default/a", b"{}", None);
        for cut in 0..encoded.len() {
            assert!(decode_event(1, &encoded[..cut]).is_err(), "cut at {cut}");
        }
    }
}
