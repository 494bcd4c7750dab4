//! Builders for protobuf bodies shaped the way Go's encoder writes them, shared by the
//! decoding tests.

use wasmkube_protobuf::PROTOBUF_MAGIC;
use wasmkube_protobuf::wire::MessageWriter;

pub fn envelope(api_version: &str, kind: &str, object: MessageWriter) -> Vec<u8> {
    let type_meta = MessageWriter::build(|type_meta| {
        type_meta.string(1, api_version).string(2, kind);
    });
    let unknown = MessageWriter::build(|unknown| {
        unknown
            .message(1, type_meta)
            .bytes(2, &object.into_bytes())
            .string(3, "")
            .string(4, "");
    });
    let mut body = PROTOBUF_MAGIC.to_vec();
    body.extend(unknown.into_bytes());
    body
}

pub fn map_entry(key: &str, value: &[u8]) -> MessageWriter {
    MessageWriter::build(|entry| _ = entry.string(1, key).bytes(2, value))
}

/// Object metadata as Go writes it: every string field present, empty or not, and a
/// zero creation timestamp as an empty message.
pub fn go_style_metadata(name: &str, fill: impl FnOnce(&mut MessageWriter)) -> MessageWriter {
    MessageWriter::build(|metadata| {
        metadata
            .string(1, name)
            .string(2, "")
            .string(3, "")
            .string(4, "")
            .string(5, "")
            .string(6, "")
            .number(7, 0)
            .message(8, MessageWriter::default());
        fill(metadata);
    })
}
