//! Layouts of a pod's containers: their ports, environment, resources, mounts, probes
//! and lifecycle hooks. Security contexts are in `security`.

use super::FieldKind::{Bool, Inline, IntOrString, Integer, Message, Quantity, String};
use super::core::LOCAL_OBJECT_REFERENCE;
use super::security::SECURITY_CONTEXT;
use super::{MessageSchema, QUANTITY_MAP, many, one};

static CONTAINER_PORT: MessageSchema = MessageSchema {
    name: "ContainerPort",
    fields: &[
        one(1, "name", String),
        one(2, "hostPort", Integer),
        one(3, "containerPort", Integer),
        one(4, "protocol", String),
        one(5, "hostIP", String),
    ],
};

pub static OBJECT_FIELD_SELECTOR: MessageSchema = MessageSchema {
    name: "ObjectFieldSelector",
    fields: &[one(1, "apiVersion", String), one(2, "fieldPath", String)],
};

pub static RESOURCE_FIELD_SELECTOR: MessageSchema = MessageSchema {
    name: "ResourceFieldSelector",
    fields: &[
        one(1, "containerName", String),
        one(2, "resource", String),
        one(3, "divisor", Quantity),
    ],
};

static CONFIG_MAP_KEY_SELECTOR: MessageSchema = MessageSchema {
    name: "ConfigMapKeySelector",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        one(2, "key", String),
        one(3, "optional", Bool),
    ],
};

static SECRET_KEY_SELECTOR: MessageSchema = MessageSchema {
    name: "SecretKeySelector",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        one(2, "key", String),
        one(3, "optional", Bool),
    ],
};

static ENV_VAR_SOURCE: MessageSchema = MessageSchema {
    name: "EnvVarSource",
    fields: &[
        one(1, "fieldRef", Message(&OBJECT_FIELD_SELECTOR)),
        one(2, "resourceFieldRef", Message(&RESOURCE_FIELD_SELECTOR)),
        one(3, "configMapKeyRef", Message(&CONFIG_MAP_KEY_SELECTOR)),
        one(4, "secretKeyRef", Message(&SECRET_KEY_SELECTOR)),
    ],
};

static ENV_VAR: MessageSchema = MessageSchema {
    name: "EnvVar",
    fields: &[
        one(1, "name", String),
        one(2, "value", String),
        one(3, "valueFrom", Message(&ENV_VAR_SOURCE)),
    ],
};

static CONFIG_MAP_ENV_SOURCE: MessageSchema = MessageSchema {
    name: "ConfigMapEnvSource",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        one(2, "optional", Bool),
    ],
};

static SECRET_ENV_SOURCE: MessageSchema = MessageSchema {
    name: "SecretEnvSource",
    fields: &[
        one(1, "localObjectReference", Inline(&LOCAL_OBJECT_REFERENCE)),
        one(2, "optional", Bool),
    ],
};

static ENV_FROM_SOURCE: MessageSchema = MessageSchema {
    name: "EnvFromSource",
    fields: &[
        one(1, "prefix", String),
        one(2, "configMapRef", Message(&CONFIG_MAP_ENV_SOURCE)),
        one(3, "secretRef", Message(&SECRET_ENV_SOURCE)),
    ],
};

static RESOURCE_CLAIM: MessageSchema = MessageSchema {
    name: "ResourceClaim",
    fields: &[one(1, "name", String), one(2, "request", String)],
};

pub static RESOURCE_REQUIREMENTS: MessageSchema = MessageSchema {
    name: "ResourceRequirements",
    fields: &[
        one(1, "limits", QUANTITY_MAP),
        one(2, "requests", QUANTITY_MAP),
        many(3, "claims", Message(&RESOURCE_CLAIM)),
    ],
};

static CONTAINER_RESIZE_POLICY: MessageSchema = MessageSchema {
    name: "ContainerResizePolicy",
    fields: &[
        one(1, "resourceName", String),
        one(2, "restartPolicy", String),
    ],
};

static VOLUME_MOUNT: MessageSchema = MessageSchema {
    name: "VolumeMount",
    fields: &[
        one(1, "name", String),
        one(2, "readOnly", Bool),
        one(3, "mountPath", String),
        one(4, "subPath", String),
        one(5, "mountPropagation", String),
        one(6, "subPathExpr", String),
        one(7, "recursiveReadOnly", String),
    ],
};

static VOLUME_DEVICE: MessageSchema = MessageSchema {
    name: "VolumeDevice",
    fields: &[one(1, "name", String), one(2, "devicePath", String)],
};

static EXEC_ACTION: MessageSchema = MessageSchema {
    name: "ExecAction",
    fields: &[many(1, "command", String)],
};

static HTTP_HEADER: MessageSchema = MessageSchema {
    name: "HTTPHeader",
    fields: &[one(1, "name", String), one(2, "value", String)],
};

static HTTP_GET_ACTION: MessageSchema = MessageSchema {
    name: "HTTPGetAction",
    fields: &[
        one(1, "path", String),
        one(2, "port", IntOrString),
        one(3, "host", String),
        one(4, "scheme", String),
        many(5, "httpHeaders", Message(&HTTP_HEADER)),
    ],
};

static TCP_SOCKET_ACTION: MessageSchema = MessageSchema {
    name: "TCPSocketAction",
    fields: &[one(1, "port", IntOrString), one(2, "host", String)],
};

static GRPC_ACTION: MessageSchema = MessageSchema {
    name: "GRPCAction",
    fields: &[one(1, "port", Integer), one(2, "service", String)],
};

static PROBE_HANDLER: MessageSchema = MessageSchema {
    name: "ProbeHandler",
    fields: &[
        one(1, "exec", Message(&EXEC_ACTION)),
        one(2, "httpGet", Message(&HTTP_GET_ACTION)),
        one(3, "tcpSocket", Message(&TCP_SOCKET_ACTION)),
        one(4, "grpc", Message(&GRPC_ACTION)),
    ],
};

static PROBE: MessageSchema = MessageSchema {
    name: "Probe",
    fields: &[
        one(1, "handler", Inline(&PROBE_HANDLER)),
        one(2, "initialDelaySeconds", Integer),
        one(3, "timeoutSeconds", Integer),
        one(4, "periodSeconds", Integer),
        one(5, "successThreshold", Integer),
        one(6, "failureThreshold", Integer),
        one(7, "terminationGracePeriodSeconds", Integer),
    ],
};

static SLEEP_ACTION: MessageSchema = MessageSchema {
    name: "SleepAction",
    fields: &[one(1, "seconds", Integer)],
};

static LIFECYCLE_HANDLER: MessageSchema = MessageSchema {
    name: "LifecycleHandler",
    fields: &[
        one(1, "exec", Message(&EXEC_ACTION)),
        one(2, "httpGet", Message(&HTTP_GET_ACTION)),
        one(3, "tcpSocket", Message(&TCP_SOCKET_ACTION)),
        one(4, "sleep", Message(&SLEEP_ACTION)),
    ],
};

static LIFECYCLE: MessageSchema = MessageSchema {
    name: "Lifecycle",
    fields: &[
        one(1, "postStart", Message(&LIFECYCLE_HANDLER)),
        one(2, "preStop", Message(&LIFECYCLE_HANDLER)),
        one(3, "stopSignal", String),
    ],
};

/// A container of a pod; an ephemeral container's `EphemeralContainerCommon` has the
/// same layout.
pub static CONTAINER: MessageSchema = MessageSchema {
    name: "Container",
    fields: &[
        one(1, "name", String),
        one(2, "image", String),
        many(3, "command", String),
        many(4, "args", String),
        one(5, "workingDir", String),
        many(6, "ports", Message(&CONTAINER_PORT)),
        many(7, "env", Message(&ENV_VAR)),
        one(8, "resources", Message(&RESOURCE_REQUIREMENTS)),
        many(9, "volumeMounts", Message(&VOLUME_MOUNT)),
        one(10, "livenessProbe", Message(&PROBE)),
        one(11, "readinessProbe", Message(&PROBE)),
        one(12, "lifecycle", Message(&LIFECYCLE)),
        one(13, "terminationMessagePath", String),
        one(14, "imagePullPolicy", String),
        one(15, "securityContext", Message(&SECURITY_CONTEXT)),
        one(16, "stdin", Bool),
        one(17, "stdinOnce", Bool),
        one(18, "tty", Bool),
        many(19, "envFrom", Message(&ENV_FROM_SOURCE)),
        one(20, "terminationMessagePolicy", String),
        many(21, "volumeDevices", Message(&VOLUME_DEVICE)),
        one(22, "startupProbe", Message(&PROBE)),
        many(23, "resizePolicy", Message(&CONTAINER_RESIZE_POLICY)),
        one(24, "restartPolicy", String),
    ],
};

pub static EPHEMERAL_CONTAINER: MessageSchema = MessageSchema {
    name: "EphemeralContainer",
    fields: &[
        one(1, "ephemeralContainerCommon", Inline(&CONTAINER)),
        one(2, "targetContainerName", String),
    ],
};
