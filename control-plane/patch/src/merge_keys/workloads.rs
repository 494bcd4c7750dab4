//! Merge lists of the apps/v1, batch/v1 and autoscaling/v2 kinds, which embed
//! a pod template.

use super::core::{OBJECT_META, POD_TEMPLATE_SPEC, STATUS_WITH_CONDITIONS};
use super::{StructPatchSchema, nested};

/// The spec of a kind that owns a pod template at `spec.template`.
static POD_TEMPLATE_OWNER_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[nested("template", &POD_TEMPLATE_SPEC)],
};

/// Deployment, ReplicaSet, DaemonSet, StatefulSet and Job: the pod template
/// at `spec.template` and `status.conditions` merged by `type`.
/// (Deployment's `spec.strategy` is tagged retainKeys, which only shapes
/// generated patches; StatefulSet's `volumeClaimTemplates` is replaced whole.)
pub(crate) static POD_TEMPLATE_OWNER: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_TEMPLATE_OWNER_SPEC),
        nested("status", &STATUS_WITH_CONDITIONS),
    ],
};

/// `JobTemplateSpec`, a CronJob's `spec.jobTemplate`.
static JOB_TEMPLATE_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_TEMPLATE_OWNER_SPEC),
    ],
};

static CRON_JOB_SPEC: StructPatchSchema = StructPatchSchema {
    fields: &[nested("jobTemplate", &JOB_TEMPLATE_SPEC)],
};

/// CronJob: the pod template is at `spec.jobTemplate.spec.template`; the
/// status has no merge lists.
pub(crate) static CRON_JOB: StructPatchSchema = StructPatchSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &CRON_JOB_SPEC),
    ],
};
