//! Defaulting of the workload kinds: ReplicationController, Deployment, ReplicaSet, DaemonSet,
//! StatefulSet (`pkg/apis/apps/v1/defaults.go`), Job and CronJob (`pkg/apis/batch/v1`), and the
//! pod templates inside them.

use serde_json::{Map, Value, json};

use crate::defaults::apply_pod_spec_defaults;
use crate::json::{child_object, default_field, default_text, existing_child_object};

/// Defaults the pod template found by following `path` (e.g. `spec.template`).
pub fn apply_template_defaults_at(object: &mut Map<String, Value>, path: &[&str]) {
    let mut current = object;
    for key in path {
        let Some(next) = existing_child_object(current, key) else {
            return;
        };
        current = next;
    }
    if let Some(spec) = child_object(current, "spec") {
        apply_pod_spec_defaults(spec);
    }
}

fn template_labels(spec: &Map<String, Value>) -> Option<Value> {
    spec.get("template")
        .and_then(|template| template.pointer("/metadata/labels"))
        .filter(|labels| labels.as_object().is_some_and(|labels| !labels.is_empty()))
        .cloned()
}

/// Copies the template's labels onto the object when it has none (`len(obj.Labels) == 0`).
fn default_object_labels(object: &mut Map<String, Value>, labels: Value) {
    let Some(metadata) = child_object(object, "metadata") else {
        return;
    };
    let has_labels = metadata
        .get("labels")
        .and_then(Value::as_object)
        .is_some_and(|labels| !labels.is_empty());
    if !has_labels {
        metadata.insert("labels".to_string(), labels);
    }
}

/// `SetDefaults_ReplicationController`: selector and labels from the template, one replica.
pub fn apply_replication_controller_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    let labels = template_labels(spec);
    if let Some(labels) = &labels {
        let has_selector = spec
            .get("selector")
            .and_then(Value::as_object)
            .is_some_and(|selector| !selector.is_empty());
        if !has_selector {
            spec.insert("selector".to_string(), labels.clone());
        }
    }
    default_field(spec, "replicas", json!(1));
    if let Some(labels) = labels {
        default_object_labels(object, labels);
    }
    apply_template_defaults_at(object, &["spec", "template"]);
}

/// `SetDefaults_Deployment`.
pub fn apply_deployment_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_field(spec, "replicas", json!(1));
    if let Some(strategy) = child_object(spec, "strategy") {
        default_text(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling_update) = child_object(strategy, "rollingUpdate")
        {
            default_field(rolling_update, "maxUnavailable", json!("25%"));
            default_field(rolling_update, "maxSurge", json!("25%"));
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
    apply_template_defaults_at(object, &["spec", "template"]);
}

/// `SetDefaults_ReplicaSet`.
pub fn apply_replica_set_defaults(object: &mut Map<String, Value>) {
    if let Some(spec) = child_object(object, "spec") {
        default_field(spec, "replicas", json!(1));
    }
    apply_template_defaults_at(object, &["spec", "template"]);
}

/// `SetDefaults_DaemonSet`.
pub fn apply_daemon_set_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    if let Some(strategy) = child_object(spec, "updateStrategy") {
        default_text(strategy, "type", "RollingUpdate");
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling_update) = child_object(strategy, "rollingUpdate")
        {
            default_field(rolling_update, "maxUnavailable", json!(1));
            default_field(rolling_update, "maxSurge", json!(0));
        }
    }
    default_field(spec, "revisionHistoryLimit", json!(10));
    apply_template_defaults_at(object, &["spec", "template"]);
}

/// `SetDefaults_StatefulSet` (with the StatefulSetAutoDeletePVC gate on, as in 1.33), plus the
/// claim-template spec defaults.
pub fn apply_stateful_set_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_text(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = child_object(spec, "updateStrategy") {
        let type_was_unset = strategy
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if type_was_unset {
            strategy.insert("type".to_string(), json!("RollingUpdate"));
            default_field(strategy, "rollingUpdate", json!({}));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(rolling_update) = existing_child_object(strategy, "rollingUpdate")
        {
            default_field(rolling_update, "partition", json!(0));
        }
    }
    if let Some(policy) = child_object(spec, "persistentVolumeClaimRetentionPolicy") {
        default_text(policy, "whenDeleted", "Retain");
        default_text(policy, "whenScaled", "Retain");
    }
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    if let Some(claims) = spec
        .get_mut("volumeClaimTemplates")
        .and_then(Value::as_array_mut)
    {
        for claim in claims.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(claim_spec) = child_object(claim, "spec") {
                default_text(claim_spec, "volumeMode", "Filesystem");
            }
            if let Some(status) = child_object(claim, "status") {
                default_text(status, "phase", "Pending");
            }
        }
    }
    apply_template_defaults_at(object, &["spec", "template"]);
}

/// `SetDefaults_Job` as of Kubernetes 1.33 (pod replacement policy and pod failure policy
/// defaults included).
pub fn apply_job_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    apply_job_spec_defaults(spec);
    if let Some(labels) = template_labels(spec) {
        default_object_labels(object, labels);
    }
    apply_template_defaults_at(object, &["spec", "template"]);
}

fn apply_job_spec_defaults(spec: &mut Map<String, Value>) {
    // Each default below mirrors a line of SetDefaults_Job, in the same order.
    let is_unset =
        |spec: &Map<String, Value>, key: &str| matches!(spec.get(key), None | Some(Value::Null));
    if is_unset(spec, "completions") && is_unset(spec, "parallelism") {
        spec.insert("completions".to_string(), json!(1));
        spec.insert("parallelism".to_string(), json!(1));
    }
    default_field(spec, "parallelism", json!(1));
    let backoff_limit = if is_unset(spec, "backoffLimitPerIndex") {
        6
    } else {
        i64::from(i32::MAX)
    };
    default_field(spec, "backoffLimit", json!(backoff_limit));
    default_field(spec, "completionMode", json!("NonIndexed"));
    default_field(spec, "suspend", json!(false));
    let has_failure_policy = !is_unset(spec, "podFailurePolicy");
    if let Some(policy) = existing_child_object(spec, "podFailurePolicy") {
        for rule in policy
            .get_mut("rules")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            for pattern in rule
                .get_mut("onPodConditions")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                default_text(pattern, "status", "True");
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_field(spec, "podReplacementPolicy", json!(replacement));
}

/// `SetDefaults_CronJob`. The job template only gets pod-spec defaults: `SetDefaults_Job` is
/// registered for the Job kind, not for a `JobSpec`, so Jobs get theirs when they are created.
pub fn apply_cron_job_defaults(object: &mut Map<String, Value>) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_text(spec, "concurrencyPolicy", "Allow");
    default_field(spec, "suspend", json!(false));
    default_field(spec, "successfulJobsHistoryLimit", json!(3));
    default_field(spec, "failedJobsHistoryLimit", json!(1));
    apply_template_defaults_at(object, &["spec", "jobTemplate", "spec", "template"]);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn defaulted(kind: &str, object: serde_json::Value) -> serde_json::Value {
        let mut object = object;
        crate::apply_defaults(kind, &mut object);
        object
    }

    fn template() -> serde_json::Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}})
    }

    #[test]
    fn deployment_defaults() {
        let deployment = defaulted(
            "Deployment",
            json!({"spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template()}}),
        );
        let spec = &deployment["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(spec["template"]["spec"].get("enableServiceLinks"), None);
        let recreate = defaulted(
            "Deployment",
            json!({"spec": {"strategy": {"type": "Recreate"}, "replicas": 3}}),
        );
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(recreate["spec"]["replicas"], 3);
    }

    #[test]
    fn daemon_set_stateful_set_and_replica_set_defaults() {
        let daemon_set = defaulted("DaemonSet", json!({"spec": {"template": template()}}));
        assert_eq!(
            daemon_set["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        );
        assert_eq!(daemon_set["spec"]["revisionHistoryLimit"], 10);
        let stateful_set = defaulted(
            "StatefulSet",
            json!({"spec": {"template": template(), "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}]}}),
        );
        let spec = &stateful_set["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"]["phase"],
            "Pending"
        );
        let on_delete = defaulted(
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
        );
        assert_eq!(
            on_delete["spec"]["updateStrategy"],
            json!({"type": "OnDelete"})
        );
        assert_eq!(
            defaulted("ReplicaSet", json!({"spec": {}}))["spec"]["replicas"],
            1
        );
    }

    #[test]
    fn job_and_cron_job_defaults() {
        let job = defaulted(
            "Job",
            json!({"metadata": {"name": "pi"}, "spec": {"template": template()}}),
        );
        assert_eq!(job["metadata"]["labels"], json!({"app": "web"}));
        let spec = &job["spec"];
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        let parallel = defaulted(
            "Job",
            json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1, "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}}),
        );
        assert_eq!(parallel["spec"].get("completions"), None);
        assert_eq!(parallel["spec"]["backoffLimit"], 2147483647);
        assert_eq!(parallel["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            parallel["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
        let cron_job = defaulted(
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}}),
        );
        let spec = &cron_job["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        assert_eq!(spec["jobTemplate"]["spec"].get("backoffLimit"), None);
        assert_eq!(
            spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
    }

    #[test]
    fn replication_controller_takes_selector_from_template() {
        let controller = defaulted(
            "ReplicationController",
            json!({"spec": {"template": template()}}),
        );
        assert_eq!(controller["spec"]["selector"], json!({"app": "web"}));
        assert_eq!(controller["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(controller["spec"]["replicas"], 1);
    }
}
