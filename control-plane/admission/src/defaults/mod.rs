//! Kubernetes defaulting per kind (`SetDefaults_*` in `pkg/apis/*/v1/defaults.go`).

pub(crate) mod on_create;
mod other_kinds;
mod pod;
mod service;
mod workloads;

use serde_json::Value;

pub use on_create::apply_create_time_defaults;
pub use pod::{apply_pod_defaults, apply_pod_spec_defaults};

pub fn apply_defaults(kind: &str, object: &mut Value) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    match kind {
        "Pod" => apply_pod_defaults(object),
        "PodTemplate" => workloads::apply_template_defaults_at(object, &["template"]),
        "ReplicationController" => workloads::apply_replication_controller_defaults(object),
        "Deployment" => workloads::apply_deployment_defaults(object),
        "ReplicaSet" => workloads::apply_replica_set_defaults(object),
        "DaemonSet" => workloads::apply_daemon_set_defaults(object),
        "StatefulSet" => workloads::apply_stateful_set_defaults(object),
        "Job" => workloads::apply_job_defaults(object),
        "CronJob" => workloads::apply_cron_job_defaults(object),
        "Service" => service::apply_service_defaults(object),
        "Endpoints" => service::apply_endpoints_defaults(object),
        "Secret" => other_kinds::apply_secret_defaults(object),
        "Namespace" => other_kinds::apply_namespace_defaults(object),
        "HorizontalPodAutoscaler" => other_kinds::apply_horizontal_pod_autoscaler_defaults(object),
        "PriorityClass" => other_kinds::apply_priority_class_defaults(object),
        "PersistentVolume" => other_kinds::apply_persistent_volume_defaults(object),
        "PersistentVolumeClaim" => other_kinds::apply_persistent_volume_claim_defaults(object),
        "LimitRange" => other_kinds::apply_limit_range_defaults(object),
        "ResourceQuota" => other_kinds::apply_resource_quota_defaults(object),
        _ => {}
    }
}
