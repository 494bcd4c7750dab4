//! Decoding protobuf bodies laid out as Go's encoder writes them, including the fields
//! it always writes even when they are empty. The end-to-end test with the real kubectl
//! covers the bytes kubectl itself sends.

mod support;

use serde_json::json;
use support::{envelope, go_style_metadata, map_entry};
use wasmkube_protobuf::wire::MessageWriter;
use wasmkube_protobuf::{PROTOBUF_MAGIC, ProtobufError, decode_object};

#[test]
fn decodes_a_namespace_as_kubectl_create_namespace_sends_it() {
    let namespace = MessageWriter::build(|namespace| {
        namespace
            .message(1, go_style_metadata("demo", |_| {}))
            .message(2, MessageWriter::default())
            .message(3, MessageWriter::build(|status| _ = status.string(1, "")));
    });
    let object = decode_object(&envelope("v1", "Namespace", namespace)).unwrap();
    assert_eq!(
        object,
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "demo", "generation": 0},
            "spec": {},
            "status": {},
        })
    );
}

#[test]
fn decodes_bytes_maps_and_timestamps_of_a_secret() {
    let metadata = go_style_metadata("token", |metadata| {
        metadata
            .message(11, map_entry("app", b"web"))
            .message(11, map_entry("empty", b""))
            .message(
                8,
                MessageWriter::build(|time| _ = time.number(1, 1_795_345_200)),
            );
    });
    let secret = MessageWriter::build(|secret| {
        secret
            .message(1, metadata)
            .message(2, map_entry("password", b"hunter2"))
            .string(3, "Opaque")
            .boolean(5, false);
    });
    let object = decode_object(&envelope("v1", "Secret", secret)).unwrap();
    assert_eq!(object["data"], json!({"password": "aHVudGVyMg=="}));
    assert_eq!(object["type"], "Opaque");
    assert_eq!(object["immutable"], false, "a boolean that was sent stays");
    assert_eq!(
        object["metadata"]["labels"],
        json!({"app": "web", "empty": ""})
    );
    assert_eq!(
        object["metadata"]["creationTimestamp"],
        "2026-11-22T11:00:00Z"
    );
}

#[test]
fn decodes_quantities_negative_numbers_and_lists() {
    let quantity = MessageWriter::build(|quantity| _ = quantity.string(1, "10"));
    let hard = MessageWriter::build(|entry| _ = entry.string(1, "pods").message(2, quantity));
    let spec = MessageWriter::build(|spec| _ = spec.message(1, hard).string(2, "BestEffort"));
    let quota = MessageWriter::build(|quota| {
        quota
            .message(1, go_style_metadata("pods", |_| {}))
            .message(2, spec);
    });
    let object = decode_object(&envelope("v1", "ResourceQuota", quota)).unwrap();
    assert_eq!(
        object["spec"],
        json!({"hard": {"pods": "10"}, "scopes": ["BestEffort"]})
    );

    let priority_class = MessageWriter::build(|class| {
        class
            .message(1, go_style_metadata("low", |_| {}))
            .number(2, (-5i64) as u64);
    });
    let object = decode_object(&envelope(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        priority_class,
    ))
    .unwrap();
    assert_eq!(object["value"], -5);
}

#[test]
fn keeps_empty_strings_inside_lists() {
    let rule = MessageWriter::build(|rule| {
        rule.string(1, "get").string(2, "").string(3, "pods");
    });
    let role = MessageWriter::build(|role| {
        role.message(1, go_style_metadata("reader", |_| {}))
            .message(2, rule);
    });
    let object = decode_object(&envelope(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        role,
    ))
    .unwrap();
    assert_eq!(
        object["rules"],
        json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}])
    );
}

#[test]
fn refuses_bodies_it_cannot_read_with_an_error_naming_the_problem() {
    let namespace = || {
        MessageWriter::build(|namespace| _ = namespace.message(1, go_style_metadata("x", |_| {})))
    };
    let body = envelope("v1", "Namespace", namespace());
    assert!(matches!(
        decode_object(&body[4..]),
        Err(ProtobufError::MissingMagic)
    ));

    let mut garbage = PROTOBUF_MAGIC.to_vec();
    garbage.extend([0x0a, 0xff, 0xff]);
    assert!(matches!(
        decode_object(&garbage),
        Err(ProtobufError::MalformedEnvelope(_))
    ));

    let error = decode_object(&envelope("v1", "Pod", namespace())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Pod (v1) cannot be sent as protobuf to this server; send it as JSON or YAML instead"
    );

    let unknown_field = MessageWriter::build(|namespace| _ = namespace.string(9, "surprise"));
    let error = decode_object(&envelope("v1", "Namespace", unknown_field)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the Namespace in the protobuf body is malformed: field 9 of Namespace is not supported over protobuf"
    );

    let mut truncated = envelope("v1", "Namespace", namespace());
    truncated.truncate(truncated.len() - 3);
    assert!(decode_object(&truncated).is_err());

    let wrong_type = MessageWriter::build(|namespace| _ = namespace.number(1, 7));
    let error = decode_object(&envelope("v1", "Namespace", wrong_type)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Namespace.metadata: expected a length-delimited field"),
        "{error}"
    );
}
