//! Layouts of the workload kinds `kubectl create deployment|job|cronjob` sends:
//! Deployment from `apps/v1`, Job and CronJob from `batch/v1`. Their statuses are
//! listed because Go writes a status's counters even when the client set none.

use super::FieldKind::{Bool, IntOrString, Integer, Message, String, Time};
use super::core::OBJECT_REFERENCE;
use super::meta::{LABEL_SELECTOR, METADATA};
use super::pod::POD_TEMPLATE_SPEC;
use super::{MessageSchema, many, one};

static ROLLING_UPDATE_DEPLOYMENT: MessageSchema = MessageSchema {
    name: "RollingUpdateDeployment",
    fields: &[
        one(1, "maxUnavailable", IntOrString),
        one(2, "maxSurge", IntOrString),
    ],
};

static DEPLOYMENT_STRATEGY: MessageSchema = MessageSchema {
    name: "DeploymentStrategy",
    fields: &[
        one(1, "type", String),
        one(2, "rollingUpdate", Message(&ROLLING_UPDATE_DEPLOYMENT)),
    ],
};

/// Field 8 is missing on purpose: it was `rollbackTo`, which `apps/v1` dropped.
static DEPLOYMENT_SPEC: MessageSchema = MessageSchema {
    name: "DeploymentSpec",
    fields: &[
        one(1, "replicas", Integer),
        one(2, "selector", Message(&LABEL_SELECTOR)),
        one(3, "template", Message(&POD_TEMPLATE_SPEC)),
        one(4, "strategy", Message(&DEPLOYMENT_STRATEGY)),
        one(5, "minReadySeconds", Integer),
        one(6, "revisionHistoryLimit", Integer),
        one(7, "paused", Bool),
        one(9, "progressDeadlineSeconds", Integer),
    ],
};

static DEPLOYMENT_CONDITION: MessageSchema = MessageSchema {
    name: "DeploymentCondition",
    fields: &[
        one(1, "type", String),
        one(2, "status", String),
        one(4, "reason", String),
        one(5, "message", String),
        one(6, "lastUpdateTime", Time),
        one(7, "lastTransitionTime", Time),
    ],
};

static DEPLOYMENT_STATUS: MessageSchema = MessageSchema {
    name: "DeploymentStatus",
    fields: &[
        one(1, "observedGeneration", Integer),
        one(2, "replicas", Integer),
        one(3, "updatedReplicas", Integer),
        one(4, "availableReplicas", Integer),
        one(5, "unavailableReplicas", Integer),
        many(6, "conditions", Message(&DEPLOYMENT_CONDITION)),
        one(7, "readyReplicas", Integer),
        one(8, "collisionCount", Integer),
        one(9, "terminatingReplicas", Integer),
    ],
};

pub static DEPLOYMENT: MessageSchema = MessageSchema {
    name: "Deployment",
    fields: &[
        METADATA,
        one(2, "spec", Message(&DEPLOYMENT_SPEC)),
        one(3, "status", Message(&DEPLOYMENT_STATUS)),
    ],
};

static POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT: MessageSchema = MessageSchema {
    name: "PodFailurePolicyOnExitCodesRequirement",
    fields: &[
        one(1, "containerName", String),
        one(2, "operator", String),
        many(3, "values", Integer),
    ],
};

static POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN: MessageSchema = MessageSchema {
    name: "PodFailurePolicyOnPodConditionsPattern",
    fields: &[one(1, "type", String), one(2, "status", String)],
};

static POD_FAILURE_POLICY_RULE: MessageSchema = MessageSchema {
    name: "PodFailurePolicyRule",
    fields: &[
        one(1, "action", String),
        one(
            2,
            "onExitCodes",
            Message(&POD_FAILURE_POLICY_ON_EXIT_CODES_REQUIREMENT),
        ),
        many(
            3,
            "onPodConditions",
            Message(&POD_FAILURE_POLICY_ON_POD_CONDITIONS_PATTERN),
        ),
    ],
};

static POD_FAILURE_POLICY: MessageSchema = MessageSchema {
    name: "PodFailurePolicy",
    fields: &[many(1, "rules", Message(&POD_FAILURE_POLICY_RULE))],
};

static SUCCESS_POLICY_RULE: MessageSchema = MessageSchema {
    name: "SuccessPolicyRule",
    fields: &[
        one(1, "succeededIndexes", String),
        one(2, "succeededCount", Integer),
    ],
};

static SUCCESS_POLICY: MessageSchema = MessageSchema {
    name: "SuccessPolicy",
    fields: &[many(1, "rules", Message(&SUCCESS_POLICY_RULE))],
};

static JOB_SPEC: MessageSchema = MessageSchema {
    name: "JobSpec",
    fields: &[
        one(1, "parallelism", Integer),
        one(2, "completions", Integer),
        one(3, "activeDeadlineSeconds", Integer),
        one(4, "selector", Message(&LABEL_SELECTOR)),
        one(5, "manualSelector", Bool),
        one(6, "template", Message(&POD_TEMPLATE_SPEC)),
        one(7, "backoffLimit", Integer),
        one(8, "ttlSecondsAfterFinished", Integer),
        one(9, "completionMode", String),
        one(10, "suspend", Bool),
        one(11, "podFailurePolicy", Message(&POD_FAILURE_POLICY)),
        one(12, "backoffLimitPerIndex", Integer),
        one(13, "maxFailedIndexes", Integer),
        one(14, "podReplacementPolicy", String),
        one(15, "managedBy", String),
        one(16, "successPolicy", Message(&SUCCESS_POLICY)),
    ],
};

static JOB_CONDITION: MessageSchema = MessageSchema {
    name: "JobCondition",
    fields: &[
        one(1, "type", String),
        one(2, "status", String),
        one(3, "lastProbeTime", Time),
        one(4, "lastTransitionTime", Time),
        one(5, "reason", String),
        one(6, "message", String),
    ],
};

static UNCOUNTED_TERMINATED_PODS: MessageSchema = MessageSchema {
    name: "UncountedTerminatedPods",
    fields: &[many(1, "succeeded", String), many(2, "failed", String)],
};

static JOB_STATUS: MessageSchema = MessageSchema {
    name: "JobStatus",
    fields: &[
        many(1, "conditions", Message(&JOB_CONDITION)),
        one(2, "startTime", Time),
        one(3, "completionTime", Time),
        one(4, "active", Integer),
        one(5, "succeeded", Integer),
        one(6, "failed", Integer),
        one(7, "completedIndexes", String),
        one(
            8,
            "uncountedTerminatedPods",
            Message(&UNCOUNTED_TERMINATED_PODS),
        ),
        one(9, "ready", Integer),
        one(10, "failedIndexes", String),
        one(11, "terminating", Integer),
    ],
};

pub static JOB: MessageSchema = MessageSchema {
    name: "Job",
    fields: &[
        METADATA,
        one(2, "spec", Message(&JOB_SPEC)),
        one(3, "status", Message(&JOB_STATUS)),
    ],
};

static JOB_TEMPLATE_SPEC: MessageSchema = MessageSchema {
    name: "JobTemplateSpec",
    fields: &[METADATA, one(2, "spec", Message(&JOB_SPEC))],
};

static CRON_JOB_SPEC: MessageSchema = MessageSchema {
    name: "CronJobSpec",
    fields: &[
        one(1, "schedule", String),
        one(2, "startingDeadlineSeconds", Integer),
        one(3, "concurrencyPolicy", String),
        one(4, "suspend", Bool),
        one(5, "jobTemplate", Message(&JOB_TEMPLATE_SPEC)),
        one(6, "successfulJobsHistoryLimit", Integer),
        one(7, "failedJobsHistoryLimit", Integer),
        one(8, "timeZone", String),
    ],
};

static CRON_JOB_STATUS: MessageSchema = MessageSchema {
    name: "CronJobStatus",
    fields: &[
        many(1, "active", Message(&OBJECT_REFERENCE)),
        one(4, "lastScheduleTime", Time),
        one(5, "lastSuccessfulTime", Time),
    ],
};

pub static CRON_JOB: MessageSchema = MessageSchema {
    name: "CronJob",
    fields: &[
        METADATA,
        one(2, "spec", Message(&CRON_JOB_SPEC)),
        one(3, "status", Message(&CRON_JOB_STATUS)),
    ],
};
