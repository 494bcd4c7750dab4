//! Layouts of a Service, as `kubectl create service` sends it. Go writes the status's
//! load balancer even when it is empty, so the status is listed too.

use super::FieldKind::{Bool, IntOrString, Integer, Message, String};
use super::meta::{CONDITION, METADATA};
use super::{MessageSchema, STRING_MAP, many, one};

static SERVICE_PORT: MessageSchema = MessageSchema {
    name: "ServicePort",
    fields: &[
        one(1, "name", String),
        one(2, "protocol", String),
        one(3, "port", Integer),
        one(4, "targetPort", IntOrString),
        one(5, "nodePort", Integer),
        one(6, "appProtocol", String),
    ],
};

static CLIENT_IP_CONFIG: MessageSchema = MessageSchema {
    name: "ClientIPConfig",
    fields: &[one(1, "timeoutSeconds", Integer)],
};

static SESSION_AFFINITY_CONFIG: MessageSchema = MessageSchema {
    name: "SessionAffinityConfig",
    fields: &[one(1, "clientIP", Message(&CLIENT_IP_CONFIG))],
};

/// Fields 6, 15 and 16 are missing on purpose: they held `publicIPs`, `ipFamily` and
/// `topologyKeys`, which Kubernetes removed.
static SERVICE_SPEC: MessageSchema = MessageSchema {
    name: "ServiceSpec",
    fields: &[
        many(1, "ports", Message(&SERVICE_PORT)),
        one(2, "selector", STRING_MAP),
        one(3, "clusterIP", String),
        one(4, "type", String),
        many(5, "externalIPs", String),
        one(7, "sessionAffinity", String),
        one(8, "loadBalancerIP", String),
        many(9, "loadBalancerSourceRanges", String),
        one(10, "externalName", String),
        one(11, "externalTrafficPolicy", String),
        one(12, "healthCheckNodePort", Integer),
        one(13, "publishNotReadyAddresses", Bool),
        one(
            14,
            "sessionAffinityConfig",
            Message(&SESSION_AFFINITY_CONFIG),
        ),
        one(17, "ipFamilyPolicy", String),
        many(18, "clusterIPs", String),
        many(19, "ipFamilies", String),
        one(20, "allocateLoadBalancerNodePorts", Bool),
        one(21, "loadBalancerClass", String),
        one(22, "internalTrafficPolicy", String),
        one(23, "trafficDistribution", String),
    ],
};

static PORT_STATUS: MessageSchema = MessageSchema {
    name: "PortStatus",
    fields: &[
        one(1, "port", Integer),
        one(2, "protocol", String),
        one(3, "error", String),
    ],
};

static LOAD_BALANCER_INGRESS: MessageSchema = MessageSchema {
    name: "LoadBalancerIngress",
    fields: &[
        one(1, "ip", String),
        one(2, "hostname", String),
        one(3, "ipMode", String),
        many(4, "ports", Message(&PORT_STATUS)),
    ],
};

static LOAD_BALANCER_STATUS: MessageSchema = MessageSchema {
    name: "LoadBalancerStatus",
    fields: &[many(1, "ingress", Message(&LOAD_BALANCER_INGRESS))],
};

static SERVICE_STATUS: MessageSchema = MessageSchema {
    name: "ServiceStatus",
    fields: &[
        one(1, "loadBalancer", Message(&LOAD_BALANCER_STATUS)),
        many(2, "conditions", Message(&CONDITION)),
    ],
};

pub static SERVICE: MessageSchema = MessageSchema {
    name: "Service",
    fields: &[
        METADATA,
        one(2, "spec", Message(&SERVICE_SPEC)),
        one(3, "status", Message(&SERVICE_STATUS)),
    ],
};
