//! Layouts of a pod's spec and of the pod template workloads embed. Containers,
//! security contexts, scheduling and volumes are in files of their own.

use super::FieldKind::{Bool, Integer, Message, String};
use super::container::{CONTAINER, EPHEMERAL_CONTAINER, RESOURCE_REQUIREMENTS};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::meta::METADATA;
use super::scheduling::{AFFINITY, TOLERATION, TOPOLOGY_SPREAD_CONSTRAINT};
use super::security::POD_SECURITY_CONTEXT;
use super::volumes::VOLUME;
use super::{MessageSchema, QUANTITY_MAP, STRING_MAP, many, one};

static HOST_ALIAS: MessageSchema = MessageSchema {
    name: "HostAlias",
    fields: &[one(1, "ip", String), many(2, "hostnames", String)],
};

static POD_DNS_CONFIG_OPTION: MessageSchema = MessageSchema {
    name: "PodDNSConfigOption",
    fields: &[one(1, "name", String), one(2, "value", String)],
};

static POD_DNS_CONFIG: MessageSchema = MessageSchema {
    name: "PodDNSConfig",
    fields: &[
        many(1, "nameservers", String),
        many(2, "searches", String),
        many(3, "options", Message(&POD_DNS_CONFIG_OPTION)),
    ],
};

static POD_READINESS_GATE: MessageSchema = MessageSchema {
    name: "PodReadinessGate",
    fields: &[one(1, "conditionType", String)],
};

static POD_SCHEDULING_GATE: MessageSchema = MessageSchema {
    name: "PodSchedulingGate",
    fields: &[one(1, "name", String)],
};

static POD_OS: MessageSchema = MessageSchema {
    name: "PodOS",
    fields: &[one(1, "name", String)],
};

/// Field 2 is missing on purpose: it held the `source` that resourceClaimName and
/// resourceClaimTemplateName replaced, and Kubernetes 1.33 no longer has it.
static POD_RESOURCE_CLAIM: MessageSchema = MessageSchema {
    name: "PodResourceClaim",
    fields: &[
        one(1, "name", String),
        one(3, "resourceClaimName", String),
        one(4, "resourceClaimTemplateName", String),
    ],
};

pub static POD_SPEC: MessageSchema = MessageSchema {
    name: "PodSpec",
    fields: &[
        many(1, "volumes", Message(&VOLUME)),
        many(2, "containers", Message(&CONTAINER)),
        one(3, "restartPolicy", String),
        one(4, "terminationGracePeriodSeconds", Integer),
        one(5, "activeDeadlineSeconds", Integer),
        one(6, "dnsPolicy", String),
        one(7, "nodeSelector", STRING_MAP),
        one(8, "serviceAccountName", String),
        one(9, "serviceAccount", String),
        one(10, "nodeName", String),
        one(11, "hostNetwork", Bool),
        one(12, "hostPID", Bool),
        one(13, "hostIPC", Bool),
        one(14, "securityContext", Message(&POD_SECURITY_CONTEXT)),
        many(15, "imagePullSecrets", Message(&LOCAL_OBJECT_REFERENCE)),
        one(16, "hostname", String),
        one(17, "subdomain", String),
        one(18, "affinity", Message(&AFFINITY)),
        one(19, "schedulerName", String),
        many(20, "initContainers", Message(&CONTAINER)),
        one(21, "automountServiceAccountToken", Bool),
        many(22, "tolerations", Message(&TOLERATION)),
        many(23, "hostAliases", Message(&HOST_ALIAS)),
        one(24, "priorityClassName", String),
        one(25, "priority", Integer),
        one(26, "dnsConfig", Message(&POD_DNS_CONFIG)),
        one(27, "shareProcessNamespace", Bool),
        many(28, "readinessGates", Message(&POD_READINESS_GATE)),
        one(29, "runtimeClassName", String),
        one(30, "enableServiceLinks", Bool),
        one(31, "preemptionPolicy", String),
        one(32, "overhead", QUANTITY_MAP),
        many(
            33,
            "topologySpreadConstraints",
            Message(&TOPOLOGY_SPREAD_CONSTRAINT),
        ),
        many(34, "ephemeralContainers", Message(&EPHEMERAL_CONTAINER)),
        one(35, "setHostnameAsFQDN", Bool),
        one(36, "os", Message(&POD_OS)),
        one(37, "hostUsers", Bool),
        many(38, "schedulingGates", Message(&POD_SCHEDULING_GATE)),
        many(39, "resourceClaims", Message(&POD_RESOURCE_CLAIM)),
        one(40, "resources", Message(&RESOURCE_REQUIREMENTS)),
    ],
};

pub static POD_TEMPLATE_SPEC: MessageSchema = MessageSchema {
    name: "PodTemplateSpec",
    fields: &[METADATA, one(2, "spec", Message(&POD_SPEC))],
};
