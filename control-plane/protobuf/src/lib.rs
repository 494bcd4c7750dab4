//! Kubernetes' protobuf wire formats, as far as wasmkube speaks them.
//!
//! kubectl's typed verbs (`create namespace`, `create configmap`, `run`, …) and many
//! controllers written with client-go send request bodies as
//! `application/vnd.kubernetes.protobuf`: the four bytes `k8s\0`, then a
//! `runtime.Unknown` message that names the object's apiVersion and kind and carries the
//! object itself as protobuf. [`decode_object`] turns such a body into the same JSON a
//! JSON client would have sent, so everything after decoding (admission, validation,
//! storage) stays JSON-only. The layouts of the kinds kubectl's typed `create` verbs send
//! (from a Namespace or a Secret up to a Deployment, Job, CronJob or Service with its
//! whole pod template), and `kubectl autoscale`'s HorizontalPodAutoscaler in both
//! `autoscaling/v2` and `autoscaling/v1`, are in `schema`; other kinds are refused with
//! an error that says to send JSON instead.
//!
//! kubectl 1.27 also insists on fetching the OpenAPI v2 document as protobuf (gnostic's
//! `openapi.v2.Document`); [`openapi_v2`] encodes the subset of it this server publishes.

mod decode;
mod envelope;
pub mod openapi_v2;
mod schema;
pub mod wire;

pub use envelope::{PROTOBUF_MAGIC, decode_object};

/// Why a protobuf body could not be turned into an object.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("the protobuf body does not start with the Kubernetes magic number \"k8s\\x00\"")]
    MissingMagic,
    #[error("the protobuf envelope is malformed: {0}")]
    MalformedEnvelope(String),
    #[error("the protobuf envelope does not name the object's apiVersion and kind")]
    MissingTypeMeta,
    #[error(
        "{kind} ({api_version}) cannot be sent as protobuf to this server; send it as JSON or YAML instead"
    )]
    UnsupportedKind { api_version: String, kind: String },
    #[error("the {kind} in the protobuf body is malformed: {detail}")]
    MalformedObject { kind: String, detail: String },
}
