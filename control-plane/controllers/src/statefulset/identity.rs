//! A StatefulSet pod's identity: its name `<set>-<ordinal>`, the labels that carry its name,
//! ordinal and revision, and its hostname and subdomain.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;

use crate::owners::controller_reference;
use crate::pods::pod_from_template;

/// `apps.StatefulSetPodNameLabel`.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// `apps.PodIndexLabel` (the PodIndexLabel feature, on since Kubernetes 1.28).
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// `apps.StatefulSetRevisionLabel`: the name of the revision the pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// `getParentNameAndOrdinal`: a name ending in `-<digits>` splits into the set's name and
/// the ordinal; any other name has no ordinal.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// The pod's ordinal, if it is a member of `set` (`isMemberOf` and `getOrdinal`).
pub fn member_ordinal(set: &StatefulSet, pod: &Pod) -> Option<i32> {
    let name = pod.metadata.name.as_deref()?;
    let (parent, ordinal) = parent_and_ordinal(name)?;
    (parent == set.name_any()).then_some(ordinal)
}

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

/// The revision a pod was made from, from its label.
pub fn pod_revision(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(REVISION_LABEL))
        .map_or("", String::as_str)
}

/// `identityMatches`: the name, namespace and name label a member of the set must have.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ordinal) = member_ordinal(set, pod) else {
        return false;
    };
    let name = pod_name(set, ordinal);
    pod.metadata.name.as_deref() == Some(name.as_str())
        && pod.metadata.namespace == set.metadata.namespace
        && pod
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(POD_NAME_LABEL))
            == Some(&name)
}

/// `updateIdentity`: the name and index labels set to the pod's own.
pub fn update_identity(pod: &mut Pod, ordinal: i32) {
    let name = pod.name_any();
    let labels = pod.labels_mut();
    labels.insert(POD_NAME_LABEL.to_owned(), name);
    labels.insert(POD_INDEX_LABEL.to_owned(), ordinal.to_string());
}

/// `newStatefulSetPod` with `initIdentity` and `setPodRevision`: the template's pod named
/// for its ordinal, controlled by the set, with its hostname and, when the set names a
/// governing service, its subdomain.
pub fn new_stateful_pod(
    set: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Pod {
    let name = pod_name(set, ordinal);
    let mut pod = pod_from_template(
        template,
        &set.namespace().unwrap_or_default(),
        Some(name.clone()),
        "",
        controller_reference(set),
    );
    update_identity(&mut pod, ordinal);
    pod.labels_mut()
        .insert(REVISION_LABEL.to_owned(), revision.to_owned());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|spec| spec.service_name.clone())
        .filter(|service| !service.is_empty());
    pod
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {
                "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "hollow/run"}]}},
            },
        }))
        .expect("a stateful set")
    }

    #[test]
    fn names_split_into_parent_and_ordinal() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-x1"), None);
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-99999999999"), None);
    }

    #[test]
    fn a_new_pod_has_the_stable_identity_and_revision() {
        let set = set();
        let template = set.spec.as_ref().expect("a spec").template.clone();
        let pod = new_stateful_pod(&set, &template, 2, "web-abc");
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        let labels = pod.metadata.labels.clone().expect("labels");
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        assert_eq!(labels["app"], "web");
        let spec = pod.spec.clone().expect("a spec");
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        assert_eq!(member_ordinal(&set, &pod), Some(2));
        assert!(identity_matches(&set, &pod));
        let mut relabelled = pod.clone();
        relabelled.labels_mut().remove(POD_NAME_LABEL);
        assert!(!identity_matches(&set, &relabelled));
    }
}
