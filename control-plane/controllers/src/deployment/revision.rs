//! The annotations a Deployment keeps on its ReplicaSets: the revision that orders them
//! (what `kubectl rollout history` lists and `undo` goes back to), the revisions a reused
//! ReplicaSet had before, the Deployment's own annotations (`kubernetes.io/change-cause`
//! among them), and the replicas and maximum pods the Deployment wanted when it last
//! scaled the ReplicaSet (which tell a scaling event from a rollout).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::fenceposts;

pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
const LAST_APPLIED_CONFIGURATION_ANNOTATION: &str =
    "kubectl.kubernetes.io/last-applied-configuration";
const DEPRECATED_ROLLBACK_TO_ANNOTATION: &str = "deprecated.deployment.rollback.to";

/// The revision history annotation is kept to about a hundred revisions.
const MAXIMUM_REVISION_HISTORY_CHARACTERS: usize = 2000;

/// Annotations that belong to the ReplicaSet (or to `kubectl apply`) and are never copied
/// from the Deployment.
const ANNOTATIONS_NOT_COPIED: [&str; 6] = [
    LAST_APPLIED_CONFIGURATION_ANNOTATION,
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    DEPRECATED_ROLLBACK_TO_ANNOTATION,
];

fn annotation<'a>(replica_set: &'a ReplicaSet, key: &str) -> Option<&'a String> {
    replica_set.metadata.annotations.as_ref()?.get(key)
}

/// The ReplicaSet's revision: 0 without the annotation, `None` when it is not a number.
pub fn revision(replica_set: &ReplicaSet) -> Option<i64> {
    match annotation(replica_set, REVISION_ANNOTATION) {
        None => Some(0),
        Some(text) => text.parse().ok(),
    }
}

/// The highest revision among `replica_sets` (`MaxRevision`), ignoring malformed ones.
pub fn max_revision<'a>(replica_sets: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    replica_sets
        .into_iter()
        .filter_map(revision)
        .max()
        .unwrap_or(0)
        .max(0)
}

fn integer_annotation(replica_set: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(replica_set, key)?.parse().ok()
}

/// The replicas the Deployment wanted when it last scaled this ReplicaSet.
pub fn desired_replicas_annotation(replica_set: &ReplicaSet) -> Option<i32> {
    integer_annotation(replica_set, DESIRED_REPLICAS_ANNOTATION)
}

/// `replicas + maxSurge` when the Deployment last scaled this ReplicaSet.
pub fn max_replicas_annotation(replica_set: &ReplicaSet) -> Option<i32> {
    integer_annotation(replica_set, MAX_REPLICAS_ANNOTATION)
}

/// Whether the desired and maximum replicas annotations differ from these.
pub fn replicas_annotations_need_update(
    replica_set: &ReplicaSet,
    desired: i32,
    maximum: i32,
) -> bool {
    annotation(replica_set, DESIRED_REPLICAS_ANNOTATION) != Some(&desired.to_string())
        || annotation(replica_set, MAX_REPLICAS_ANNOTATION) != Some(&maximum.to_string())
}

/// Sets the desired and maximum replicas annotations; answers whether they changed.
pub fn set_replicas_annotations(replica_set: &mut ReplicaSet, desired: i32, maximum: i32) -> bool {
    let annotations = replica_set
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired.to_string()),
        (MAX_REPLICAS_ANNOTATION, maximum.to_string()),
    ] {
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_owned(), value);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations, except those that belong to the ReplicaSet, onto
/// it; answers whether any changed.
fn copy_deployment_annotations(deployment: &Deployment, replica_set: &mut ReplicaSet) -> bool {
    let annotations = replica_set
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in deployment.metadata.annotations.iter().flatten() {
        if ANNOTATIONS_NOT_COPIED.contains(&key.as_str()) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }
    changed
}

/// Brings the new ReplicaSet's annotations up to date (`SetNewReplicaSetAnnotations`):
/// the Deployment's annotations are copied; the revision is raised to `new_revision` if it
/// is lower, and the revision it had goes into the revision history (a rollback reuses an
/// old ReplicaSet and gives it the newest revision); a ReplicaSet about to be created
/// (`exists` false) also gets the replicas annotations. Answers whether anything changed.
pub fn set_new_replica_set_annotations(
    deployment: &Deployment,
    replica_set: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_deployment_annotations(deployment, replica_set);
    let annotations = replica_set
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new);
    let old_revision_text = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision = match old_revision_text.as_deref() {
        None | Some("") => 0,
        Some(text) => match text.parse::<i64>() {
            Ok(number) => number,
            Err(error) => {
                tracing::info!(%error, "the replica set's revision is not a number; leaving it");
                return false;
            }
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION_ANNOTATION.to_owned(), new_revision.to_string());
        changed = true;
        if let Some(old_revision_text) = old_revision_text {
            record_revision_history(annotations, &old_revision_text);
        }
    }
    if !exists {
        let desired = fenceposts::desired_replicas(deployment);
        let maximum = desired + fenceposts::max_surge(deployment);
        changed |= set_replicas_annotations(replica_set, desired, maximum);
    }
    changed
}

/// Appends `old_revision` to the revision history, dropping the oldest entries to stay
/// within the history's length limit.
fn record_revision_history(annotations: &mut BTreeMap<String, String>, old_revision: &str) {
    let history = annotations
        .get(REVISION_HISTORY_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    if history.is_empty() {
        annotations.insert(
            REVISION_HISTORY_ANNOTATION.to_owned(),
            old_revision.to_owned(),
        );
        return;
    }
    let revisions: Vec<&str> = history.split(',').collect();
    let mut total_length = history.len() + old_revision.len() + 1;
    let mut start = 0;
    while total_length > MAXIMUM_REVISION_HISTORY_CHARACTERS && start < revisions.len() {
        total_length -= revisions[start].len() + 1;
        start += 1;
    }
    if total_length <= MAXIMUM_REVISION_HISTORY_CHARACTERS {
        let mut kept = revisions[start..].to_vec();
        kept.push(old_revision);
        annotations.insert(REVISION_HISTORY_ANNOTATION.to_owned(), kept.join(","));
    } else {
        tracing::info!("not appending a revision: the revision history is at its length limit");
    }
}

/// The Deployment's revision annotation, which mirrors its new ReplicaSet's.
pub fn deployment_revision(deployment: &Deployment) -> Option<&str> {
    deployment
        .metadata
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(annotations: serde_json::Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "annotations": annotations},
            "spec": {
                "replicas": 4,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            },
        }))
        .expect("a deployment")
    }

    fn replica_set(annotations: serde_json::Value) -> ReplicaSet {
        serde_json::from_value(json!({"metadata": {"name": "web-1", "annotations": annotations}}))
            .expect("a replica set")
    }

    fn annotations_of(replica_set: &ReplicaSet) -> BTreeMap<String, String> {
        replica_set.metadata.annotations.clone().unwrap_or_default()
    }

    #[test]
    fn a_new_replica_set_gets_the_revision_the_change_cause_and_the_replicas() {
        let deployment = deployment(json!({
            "kubernetes.io/change-cause": "kubectl set image",
            REVISION_ANNOTATION: "1",
            LAST_APPLIED_CONFIGURATION_ANNOTATION: "{}",
        }));
        let mut replica_set = replica_set(json!({}));
        assert!(set_new_replica_set_annotations(
            &deployment,
            &mut replica_set,
            2,
            false
        ));
        assert_eq!(
            annotations_of(&replica_set),
            BTreeMap::from([
                (
                    "kubernetes.io/change-cause".to_owned(),
                    "kubectl set image".to_owned()
                ),
                (REVISION_ANNOTATION.to_owned(), "2".to_owned()),
                (DESIRED_REPLICAS_ANNOTATION.to_owned(), "4".to_owned()),
                (MAX_REPLICAS_ANNOTATION.to_owned(), "5".to_owned()),
            ])
        );
        assert!(!set_new_replica_set_annotations(
            &deployment,
            &mut replica_set,
            2,
            true
        ));
    }

    #[test]
    fn a_reused_replica_set_keeps_its_old_revisions() {
        let deployment = deployment(json!({}));
        let mut replica_set = replica_set(json!({REVISION_ANNOTATION: "1"}));
        assert!(set_new_replica_set_annotations(
            &deployment,
            &mut replica_set,
            3,
            true
        ));
        assert!(set_new_replica_set_annotations(
            &deployment,
            &mut replica_set,
            5,
            true
        ));
        let annotations = annotations_of(&replica_set);
        assert_eq!(annotations[REVISION_ANNOTATION], "5");
        assert_eq!(annotations[REVISION_HISTORY_ANNOTATION], "1,3");
        // A lower revision never replaces a higher one.
        assert!(!set_new_replica_set_annotations(
            &deployment,
            &mut replica_set,
            4,
            true
        ));
    }

    #[test]
    fn the_revision_history_stays_within_its_length() {
        let long_history = vec!["1234567890"; 181].join(",");
        let mut annotations =
            BTreeMap::from([(REVISION_HISTORY_ANNOTATION.to_owned(), long_history)]);
        record_revision_history(&mut annotations, "99");
        let history = &annotations[REVISION_HISTORY_ANNOTATION];
        assert!(history.len() <= MAXIMUM_REVISION_HISTORY_CHARACTERS);
        assert!(history.ends_with(",99"));
    }

    #[test]
    fn revisions_and_the_maximum() {
        let sets = [
            replica_set(json!({REVISION_ANNOTATION: "3"})),
            replica_set(json!({REVISION_ANNOTATION: "x"})),
            replica_set(json!({})),
        ];
        assert_eq!(revision(&sets[1]), None);
        assert_eq!(revision(&sets[2]), Some(0));
        assert_eq!(max_revision(&sets), 3);
    }
}
