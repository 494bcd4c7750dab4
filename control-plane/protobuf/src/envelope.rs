//! The envelope around every Kubernetes protobuf body: a magic number, then a
//! `runtime.Unknown` holding the type and the encoded object.

use serde_json::{Map, Value};

use crate::ProtobufError;
use crate::decode::message_to_json;
use crate::schema::{TYPE_META, message_for};
use crate::wire::{FieldReader, WireValue};

/// The four bytes every Kubernetes protobuf body starts with.
pub const PROTOBUF_MAGIC: &[u8; 4] = b"k8s\0";

struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
}

/// Reads `runtime.Unknown`: its type (field 1), the encoded object (field 2) and the
/// content encoding (field 3), which must be empty.
fn open_envelope(body: &[u8]) -> Result<Envelope<'_>, ProtobufError> {
    let encoded = body
        .strip_prefix(PROTOBUF_MAGIC)
        .ok_or(ProtobufError::MissingMagic)?;
    let mut type_meta = Map::new();
    let mut raw: &[u8] = &[];
    for field in FieldReader::new(encoded) {
        match field.map_err(ProtobufError::MalformedEnvelope)? {
            (1, WireValue::LengthDelimited(bytes)) => {
                type_meta =
                    message_to_json(&TYPE_META, bytes).map_err(ProtobufError::MalformedEnvelope)?;
            }
            (2, WireValue::LengthDelimited(bytes)) => raw = bytes,
            (3, WireValue::LengthDelimited(encoding)) if !encoding.is_empty() => {
                return Err(ProtobufError::MalformedEnvelope(format!(
                    "content encoding {:?} is not supported",
                    String::from_utf8_lossy(encoding)
                )));
            }
            _ => {}
        }
    }
    let string = |name: &str| {
        type_meta
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ProtobufError::MissingTypeMeta)
    };
    Ok(Envelope {
        api_version: string("apiVersion")?,
        kind: string("kind")?,
        raw,
    })
}

/// Decodes an `application/vnd.kubernetes.protobuf` body into the JSON object a JSON
/// client would have sent, with `apiVersion` and `kind` set from the envelope.
pub fn decode_object(body: &[u8]) -> Result<Value, ProtobufError> {
    let Envelope {
        api_version,
        kind,
        raw,
    } = open_envelope(body)?;
    let schema =
        message_for(&api_version, &kind).ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: api_version.clone(),
            kind: kind.clone(),
        })?;
    let fields = message_to_json(schema, raw).map_err(|detail| ProtobufError::MalformedObject {
        kind: kind.clone(),
        detail,
    })?;
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    object.extend(fields);
    Ok(Value::Object(object))
}
