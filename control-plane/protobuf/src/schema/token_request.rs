//! The layout of the TokenRequest (`authentication.k8s.io/v1`) that `kubectl create
//! token` sends to `serviceaccounts/NAME/token`.

use super::FieldKind::{Integer, Message, String, Time};
use super::meta::METADATA;
use super::{MessageSchema, many, one};

static BOUND_OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "BoundObjectReference",
    fields: &[
        one(1, "kind", String),
        one(2, "apiVersion", String),
        one(3, "name", String),
        one(4, "uid", String),
    ],
};

static TOKEN_REQUEST_SPEC: MessageSchema = MessageSchema {
    name: "TokenRequestSpec",
    fields: &[
        many(1, "audiences", String),
        one(3, "boundObjectRef", Message(&BOUND_OBJECT_REFERENCE)),
        one(4, "expirationSeconds", Integer),
    ],
};

static TOKEN_REQUEST_STATUS: MessageSchema = MessageSchema {
    name: "TokenRequestStatus",
    fields: &[one(1, "token", String), one(2, "expirationTimestamp", Time)],
};

pub static TOKEN_REQUEST: MessageSchema = MessageSchema {
    name: "TokenRequest",
    fields: &[
        METADATA,
        one(2, "spec", Message(&TOKEN_REQUEST_SPEC)),
        one(3, "status", Message(&TOKEN_REQUEST_STATUS)),
    ],
};
