//! Layouts of HorizontalPodAutoscaler, which `kubectl autoscale` sends: `autoscaling/v2`
//! from kubectl 1.33, `autoscaling/v1` from older kubectls and as 1.33's fallback. Their
//! statuses are listed because Go writes a status's replica counts even when the client
//! set none.

use super::FieldKind::{Integer, Message, Quantity, String, Time};
use super::meta::{LABEL_SELECTOR, METADATA};
use super::{MessageSchema, many, one};

static CROSS_VERSION_OBJECT_REFERENCE: MessageSchema = MessageSchema {
    name: "CrossVersionObjectReference",
    fields: &[
        one(1, "kind", String),
        one(2, "name", String),
        one(3, "apiVersion", String),
    ],
};

static METRIC_IDENTIFIER: MessageSchema = MessageSchema {
    name: "MetricIdentifier",
    fields: &[
        one(1, "name", String),
        one(2, "selector", Message(&LABEL_SELECTOR)),
    ],
};

static METRIC_TARGET: MessageSchema = MessageSchema {
    name: "MetricTarget",
    fields: &[
        one(1, "type", String),
        one(2, "value", Quantity),
        one(3, "averageValue", Quantity),
        one(4, "averageUtilization", Integer),
    ],
};

static METRIC_VALUE_STATUS: MessageSchema = MessageSchema {
    name: "MetricValueStatus",
    fields: &[
        one(1, "value", Quantity),
        one(2, "averageValue", Quantity),
        one(3, "averageUtilization", Integer),
    ],
};

static OBJECT_METRIC_SOURCE: MessageSchema = MessageSchema {
    name: "ObjectMetricSource",
    fields: &[
        one(
            1,
            "describedObject",
            Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
        one(2, "target", Message(&METRIC_TARGET)),
        one(3, "metric", Message(&METRIC_IDENTIFIER)),
    ],
};

/// The layout Pods and External metric sources share: a metric and its target.
static IDENTIFIED_METRIC_SOURCE: MessageSchema = MessageSchema {
    name: "PodsMetricSource",
    fields: &[
        one(1, "metric", Message(&METRIC_IDENTIFIER)),
        one(2, "target", Message(&METRIC_TARGET)),
    ],
};

static RESOURCE_METRIC_SOURCE: MessageSchema = MessageSchema {
    name: "ResourceMetricSource",
    fields: &[
        one(1, "name", String),
        one(2, "target", Message(&METRIC_TARGET)),
    ],
};

static CONTAINER_RESOURCE_METRIC_SOURCE: MessageSchema = MessageSchema {
    name: "ContainerResourceMetricSource",
    fields: &[
        one(1, "name", String),
        one(2, "target", Message(&METRIC_TARGET)),
        one(3, "container", String),
    ],
};

static METRIC_SPEC: MessageSchema = MessageSchema {
    name: "MetricSpec",
    fields: &[
        one(1, "type", String),
        one(2, "object", Message(&OBJECT_METRIC_SOURCE)),
        one(3, "pods", Message(&IDENTIFIED_METRIC_SOURCE)),
        one(4, "resource", Message(&RESOURCE_METRIC_SOURCE)),
        one(5, "external", Message(&IDENTIFIED_METRIC_SOURCE)),
        one(
            7,
            "containerResource",
            Message(&CONTAINER_RESOURCE_METRIC_SOURCE),
        ),
    ],
};

static HPA_SCALING_POLICY: MessageSchema = MessageSchema {
    name: "HPAScalingPolicy",
    fields: &[
        one(1, "type", String),
        one(2, "value", Integer),
        one(3, "periodSeconds", Integer),
    ],
};

static HPA_SCALING_RULES: MessageSchema = MessageSchema {
    name: "HPAScalingRules",
    fields: &[
        one(1, "selectPolicy", String),
        many(2, "policies", Message(&HPA_SCALING_POLICY)),
        one(3, "stabilizationWindowSeconds", Integer),
        one(4, "tolerance", Quantity),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_BEHAVIOR: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerBehavior",
    fields: &[
        one(1, "scaleUp", Message(&HPA_SCALING_RULES)),
        one(2, "scaleDown", Message(&HPA_SCALING_RULES)),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_SPEC: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerSpec",
    fields: &[
        one(
            1,
            "scaleTargetRef",
            Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
        one(2, "minReplicas", Integer),
        one(3, "maxReplicas", Integer),
        many(4, "metrics", Message(&METRIC_SPEC)),
        one(5, "behavior", Message(&HORIZONTAL_POD_AUTOSCALER_BEHAVIOR)),
    ],
};

static OBJECT_METRIC_STATUS: MessageSchema = MessageSchema {
    name: "ObjectMetricStatus",
    fields: &[
        one(1, "metric", Message(&METRIC_IDENTIFIER)),
        one(2, "current", Message(&METRIC_VALUE_STATUS)),
        one(
            3,
            "describedObject",
            Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
    ],
};

/// The layout Pods and External metric statuses share: a metric and its current value.
static IDENTIFIED_METRIC_STATUS: MessageSchema = MessageSchema {
    name: "PodsMetricStatus",
    fields: &[
        one(1, "metric", Message(&METRIC_IDENTIFIER)),
        one(2, "current", Message(&METRIC_VALUE_STATUS)),
    ],
};

static RESOURCE_METRIC_STATUS: MessageSchema = MessageSchema {
    name: "ResourceMetricStatus",
    fields: &[
        one(1, "name", String),
        one(2, "current", Message(&METRIC_VALUE_STATUS)),
    ],
};

static CONTAINER_RESOURCE_METRIC_STATUS: MessageSchema = MessageSchema {
    name: "ContainerResourceMetricStatus",
    fields: &[
        one(1, "name", String),
        one(2, "current", Message(&METRIC_VALUE_STATUS)),
        one(3, "container", String),
    ],
};

static METRIC_STATUS: MessageSchema = MessageSchema {
    name: "MetricStatus",
    fields: &[
        one(1, "type", String),
        one(2, "object", Message(&OBJECT_METRIC_STATUS)),
        one(3, "pods", Message(&IDENTIFIED_METRIC_STATUS)),
        one(4, "resource", Message(&RESOURCE_METRIC_STATUS)),
        one(5, "external", Message(&IDENTIFIED_METRIC_STATUS)),
        one(
            7,
            "containerResource",
            Message(&CONTAINER_RESOURCE_METRIC_STATUS),
        ),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_CONDITION: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerCondition",
    fields: &[
        one(1, "type", String),
        one(2, "status", String),
        one(3, "lastTransitionTime", Time),
        one(4, "reason", String),
        one(5, "message", String),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_STATUS: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerStatus",
    fields: &[
        one(1, "observedGeneration", Integer),
        one(2, "lastScaleTime", Time),
        one(3, "currentReplicas", Integer),
        one(4, "desiredReplicas", Integer),
        many(5, "currentMetrics", Message(&METRIC_STATUS)),
        many(
            6,
            "conditions",
            Message(&HORIZONTAL_POD_AUTOSCALER_CONDITION),
        ),
    ],
};

/// `autoscaling/v2` HorizontalPodAutoscaler.
pub static HORIZONTAL_POD_AUTOSCALER: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscaler",
    fields: &[
        METADATA,
        one(2, "spec", Message(&HORIZONTAL_POD_AUTOSCALER_SPEC)),
        one(3, "status", Message(&HORIZONTAL_POD_AUTOSCALER_STATUS)),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_SPEC_V1: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerSpec",
    fields: &[
        one(
            1,
            "scaleTargetRef",
            Message(&CROSS_VERSION_OBJECT_REFERENCE),
        ),
        one(2, "minReplicas", Integer),
        one(3, "maxReplicas", Integer),
        one(4, "targetCPUUtilizationPercentage", Integer),
    ],
};

static HORIZONTAL_POD_AUTOSCALER_STATUS_V1: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscalerStatus",
    fields: &[
        one(1, "observedGeneration", Integer),
        one(2, "lastScaleTime", Time),
        one(3, "currentReplicas", Integer),
        one(4, "desiredReplicas", Integer),
        one(5, "currentCPUUtilizationPercentage", Integer),
    ],
};

/// `autoscaling/v1` HorizontalPodAutoscaler: CPU utilization is its only target.
pub static HORIZONTAL_POD_AUTOSCALER_V1: MessageSchema = MessageSchema {
    name: "HorizontalPodAutoscaler",
    fields: &[
        METADATA,
        one(2, "spec", Message(&HORIZONTAL_POD_AUTOSCALER_SPEC_V1)),
        one(3, "status", Message(&HORIZONTAL_POD_AUTOSCALER_STATUS_V1)),
    ],
};
