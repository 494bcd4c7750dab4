//! Encoded messages to Kubernetes JSON, guided by the layouts in `schema`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::schema::{FieldKind, INT_OR_STRING, MessageSchema};
use crate::wire::{FieldReader, WireValue};

/// Converts one message to a JSON object.
///
/// Strings that are empty and timestamps that are zero are left out, as Go's JSON
/// encoding leaves those fields out while its protobuf encoding always writes them. A
/// field the layout does not know is an error unless it is empty, so nothing a client
/// sent is silently dropped.
pub fn message_to_json(schema: &MessageSchema, bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut object = Map::new();
    for field in FieldReader::new(bytes) {
        let (number, value) = field?;
        let Some(field) = schema.field(number) else {
            if value.is_empty() {
                continue;
            }
            return Err(format!(
                "field {number} of {} is not supported over protobuf",
                schema.name
            ));
        };
        let context = || format!("{}.{}", schema.name, field.name);
        if let FieldKind::Inline(embedded) = field.kind {
            let fields = length_delimited(value)
                .and_then(|bytes| message_to_json(embedded, bytes))
                .map_err(|error| format!("{}: {error}", context()))?;
            object.extend(fields);
            continue;
        }
        if let FieldKind::MapOf(value_kind) = field.kind {
            let (key, entry) =
                map_entry(value_kind, value).map_err(|error| format!("{}: {error}", context()))?;
            let map = object
                .entry(field.name)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                map.insert(key, entry);
            }
            continue;
        }
        let converted = scalar_or_message(&field.kind, value)
            .map_err(|error| format!("{}: {error}", context()))?;
        if field.repeated {
            let items = object
                .entry(field.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = items {
                items.push(converted.unwrap_or_else(|| Value::String(String::new())));
            }
        } else if let Some(converted) = converted {
            object.insert(field.name.to_owned(), converted);
        }
    }
    Ok(object)
}

fn length_delimited<'a>(value: WireValue<'a>) -> Result<&'a [u8], String> {
    match value {
        WireValue::LengthDelimited(bytes) => Ok(bytes),
        other => Err(format!("expected a length-delimited field, got {other:?}")),
    }
}

fn varint(value: WireValue) -> Result<u64, String> {
    match value {
        WireValue::Varint(number) => Ok(number),
        other => Err(format!("expected a varint field, got {other:?}")),
    }
}

fn text(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not valid UTF-8".to_owned())
}

/// The JSON for one value, or None for a value Go's JSON would leave out.
fn scalar_or_message(kind: &FieldKind, value: WireValue) -> Result<Option<Value>, String> {
    let json = match kind {
        FieldKind::String => {
            let text = text(length_delimited(value)?)?;
            if text.is_empty() {
                return Ok(None);
            }
            Value::String(text)
        }
        FieldKind::Bytes => Value::String(BASE64.encode(length_delimited(value)?)),
        FieldKind::Bool => Value::Bool(varint(value)? != 0),
        // Go writes negative int32 and int64 values as ten-byte two's complement.
        FieldKind::Integer => Value::from(varint(value)? as i64),
        // `message_to_json` merges an embedded struct into its parent before it gets
        // here; anywhere else it is an ordinary message.
        FieldKind::Message(schema) | FieldKind::Inline(schema) => {
            Value::Object(message_to_json(schema, length_delimited(value)?)?)
        }
        FieldKind::Time => return timestamp(length_delimited(value)?),
        FieldKind::Quantity => {
            let quantity = length_delimited(value)?;
            let mut string = String::new();
            for field in FieldReader::new(quantity) {
                if let (1, text_value) = field? {
                    string = text(length_delimited(text_value)?)?;
                }
            }
            Value::String(string)
        }
        FieldKind::IntOrString => int_or_string(length_delimited(value)?)?,
        FieldKind::MapOf(_) => return Err("a map cannot be nested in a map".into()),
    };
    Ok(Some(json))
}

/// An `intstr.IntOrString`: its string when its type is 1, its number otherwise. An
/// empty one is the number 0, as Go's JSON writes it; Kubernetes' defaulting reads 0
/// as unset (a Service's targetPort becomes its port).
fn int_or_string(bytes: &[u8]) -> Result<Value, String> {
    let mut parts = message_to_json(&INT_OR_STRING, bytes)?;
    let value = if parts.get("type").and_then(Value::as_i64) == Some(1) {
        parts
            .remove("strVal")
            .unwrap_or_else(|| Value::String(String::new()))
    } else {
        parts.remove("intVal").unwrap_or_else(|| Value::from(0))
    };
    Ok(value)
}

/// A `meta.v1.Time`: seconds since the epoch (field 1); an empty message is the zero
/// time, which Kubernetes' JSON writes as null.
fn timestamp(bytes: &[u8]) -> Result<Option<Value>, String> {
    let mut seconds = None;
    for field in FieldReader::new(bytes) {
        if let (1, value) = field? {
            seconds = Some(varint(value)? as i64);
        }
    }
    let Some(seconds) = seconds else {
        return Ok(None);
    };
    let instant = Timestamp::from_second(seconds)
        .map_err(|error| format!("the timestamp {seconds}s is out of range: {error}"))?;
    Ok(Some(Value::String(
        instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )))
}

/// One entry of a map field: a message whose field 1 is the key and field 2 the value.
fn map_entry(value_kind: &FieldKind, value: WireValue) -> Result<(String, Value), String> {
    let mut key = String::new();
    let mut entry = None;
    for field in FieldReader::new(length_delimited(value)?) {
        match field? {
            (1, key_value) => key = text(length_delimited(key_value)?)?,
            (2, value) => entry = Some(value),
            _ => {}
        }
    }
    let entry = match (value_kind, entry) {
        // In a map an empty string is a value of its own, not an absent field.
        (FieldKind::String, entry) => Value::String(match entry {
            Some(entry) => text(length_delimited(entry)?)?,
            None => String::new(),
        }),
        (_, Some(entry)) => scalar_or_message(value_kind, entry)?.unwrap_or(Value::Null),
        (FieldKind::Bytes | FieldKind::Quantity, None) => Value::String(String::new()),
        (_, None) => Value::Null,
    };
    Ok((key, entry))
}
