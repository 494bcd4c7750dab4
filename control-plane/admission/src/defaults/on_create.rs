//! What Kubernetes fills in when an object is created, beyond the per-field defaults:
//! the ServiceAccount admission plugin's default account for pods, and the Job
//! strategy's generated selector. Both need the object's name and uid, which the API
//! server assigns just before admission.

use serde_json::{Map, Value, json};

use crate::json::child_object;

/// The label that ties a Job's pods to that one Job; its selector matches only it.
pub(crate) const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub(crate) const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub(crate) const LEGACY_JOB_NAME_LABEL: &str = "job-name";

pub fn apply_create_time_defaults(kind: &str, object: &mut Value) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    match kind {
        "Pod" => default_service_account(object),
        "Job" => generate_job_selector(object),
        _ => {}
    }
}

/// A pod without a service account runs as its namespace's `default` account; the v1
/// API also shows it in the deprecated `serviceAccount` field.
fn default_service_account(pod: &mut Map<String, Value>) {
    let Some(spec) = child_object(pod, "spec") else {
        return;
    };
    let name = match spec.get("serviceAccountName").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => "default".to_owned(),
    };
    spec.insert("serviceAccountName".into(), json!(name));
    spec.insert("serviceAccount".into(), json!(name));
}

fn metadata_string(object: &Map<String, Value>, key: &str) -> String {
    object
        .get("metadata")
        .and_then(|metadata| metadata.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Unless the Job asks for a manual selector, its pods get the job-name and
/// controller-uid labels and the selector matches the controller-uid one, so two Jobs
/// with the same template labels never adopt each other's pods.
fn generate_job_selector(job: &mut Map<String, Value>) {
    let name = metadata_string(job, "name");
    let uid = metadata_string(job, "uid");
    let Some(spec) = child_object(job, "spec") else {
        return;
    };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(template) = child_object(spec, "template")
        && let Some(metadata) = child_object(template, "metadata")
        && let Some(labels) = child_object(metadata, "labels")
    {
        for (label, value) in [
            (LEGACY_JOB_NAME_LABEL, &name),
            (JOB_NAME_LABEL, &name),
            (LEGACY_CONTROLLER_UID_LABEL, &uid),
            (CONTROLLER_UID_LABEL, &uid),
        ] {
            labels.entry(label).or_insert_with(|| json!(value));
        }
    }
    if let Some(selector) = child_object(spec, "selector")
        && let Some(match_labels) = child_object(selector, "matchLabels")
    {
        match_labels
            .entry(CONTROLLER_UID_LABEL)
            .or_insert_with(|| json!(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_run_as_the_default_service_account_unless_they_name_one() {
        let mut pod = json!({"spec": {"containers": []}});
        apply_create_time_defaults("Pod", &mut pod);
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        assert_eq!(pod["spec"]["serviceAccount"], "default");
        let mut pod = json!({"spec": {"serviceAccountName": "builder"}});
        apply_create_time_defaults("Pod", &mut pod);
        assert_eq!(pod["spec"]["serviceAccount"], "builder");
    }

    #[test]
    fn jobs_get_a_selector_on_their_own_uid() {
        let mut job = json!({
            "metadata": {"name": "pi", "uid": "1234"},
            "spec": {"template": {"metadata": {"labels": {"app": "pi"}}, "spec": {}}},
        });
        apply_create_time_defaults("Job", &mut job);
        assert_eq!(
            job["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}})
        );
        assert_eq!(
            job["spec"]["template"]["metadata"]["labels"],
            json!({
                "app": "pi",
                "job-name": "pi",
                "batch.kubernetes.io/job-name": "pi",
                "controller-uid": "1234",
                "batch.kubernetes.io/controller-uid": "1234",
            })
        );
    }

    #[test]
    fn a_manual_selector_is_left_alone() {
        let mut job = json!({
            "metadata": {"name": "pi", "uid": "1234"},
            "spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}},
                     "template": {"metadata": {"labels": {"app": "pi"}}}},
        });
        let before = job.clone();
        apply_create_time_defaults("Job", &mut job);
        assert_eq!(job, before);
    }
}
