//! Quota scopes (`spec.scopes` and `spec.scopeSelector`): which pods a scoped quota counts
//! (`podMatchesScopeFunc`). Only pods have scopes; a scoped quota counts nothing else.

use serde_json::Value;

use crate::pod_resources::qos_class;

/// One `ScopedResourceSelectorRequirement`.
struct Requirement<'a> {
    scope: &'a str,
    operator: &'a str,
    values: Vec<&'a str>,
}

/// `getScopeSelectorsFromQuota`: each listed scope as an `Exists` requirement, then the
/// selector's expressions.
fn requirements(quota: &Value) -> Vec<Requirement<'_>> {
    let scopes = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|scope| Requirement {
            scope,
            operator: "Exists",
            values: Vec::new(),
        });
    let expressions = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|expression| Requirement {
            scope: expression
                .get("scopeName")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            operator: expression
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            values: expression
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect(),
        });
    scopes.chain(expressions).collect()
}

/// Whether the quota's scopes select the object; a quota without scopes selects everything.
pub fn selects(quota: &Value, resource: &str, object: &Value) -> bool {
    let requirements = requirements(quota);
    requirements.is_empty()
        || (resource == "pods"
            && requirements
                .iter()
                .all(|requirement| pod_matches(requirement, object)))
}

fn pod_matches(requirement: &Requirement<'_>, pod: &Value) -> bool {
    match requirement.scope {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => qos_class(pod) == "BestEffort",
        "NotBestEffort" => qos_class(pod) != "BestEffort",
        "PriorityClass" => priority_class_matches(requirement, pod),
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    }
}

/// A pod with an active deadline is one that will terminate on its own.
fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|seconds| seconds >= 0)
}

/// The requirement as a label selector on the single label `PriorityClass=<class>`, which a pod
/// without a priority class lacks.
fn priority_class_matches(requirement: &Requirement<'_>, pod: &Value) -> bool {
    let class = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|class| !class.is_empty());
    match (requirement.operator, class) {
        ("Exists", class) => class.is_some(),
        ("DoesNotExist", class) => class.is_none(),
        ("In", Some(class)) => requirement.values.contains(&class),
        ("NotIn", Some(class)) => !requirement.values.contains(&class),
        ("NotIn", None) => true,
        _ => false,
    }
}

/// `usesCrossNamespacePodAffinity`: an affinity or anti-affinity term that names namespaces or
/// selects them.
fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let crosses = |term: &Value| {
        term.get("namespaces")
            .and_then(Value::as_array)
            .is_some_and(|namespaces| !namespaces.is_empty())
            || term
                .get("namespaceSelector")
                .is_some_and(|selector| !selector.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let terms = |pointer: &str| {
            pod.pointer(&format!("/spec/affinity/{kind}/{pointer}"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        terms("requiredDuringSchedulingIgnoredDuringExecution")
            .iter()
            .any(crosses)
            || terms("preferredDuringSchedulingIgnoredDuringExecution")
                .iter()
                .filter_map(|weighted| weighted.get("podAffinityTerm"))
                .any(crosses)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scoped(scopes: Value, expressions: Value) -> Value {
        json!({"spec": {"hard": {"pods": "1"}, "scopes": scopes, "scopeSelector": {"matchExpressions": expressions}}})
    }

    #[test]
    fn unscoped_quotas_select_everything_and_scoped_ones_only_pods() {
        let plain = json!({"spec": {"hard": {"pods": "1"}}});
        assert!(selects(&plain, "configmaps", &json!({})));
        let best_effort = scoped(json!(["BestEffort"]), json!([]));
        assert!(!selects(&best_effort, "configmaps", &json!({})));
        let pod = json!({"spec": {"containers": [{"name": "a"}]}});
        assert!(selects(&best_effort, "pods", &pod));
        let burstable = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}});
        assert!(!selects(&best_effort, "pods", &burstable));
        assert!(selects(
            &scoped(json!(["NotBestEffort"]), json!([])),
            "pods",
            &burstable
        ));
    }

    #[test]
    fn terminating_priority_class_and_affinity_scopes() {
        let job_pod = json!({"spec": {"activeDeadlineSeconds": 60, "priorityClassName": "high"}});
        let service_pod = json!({"spec": {}});
        let terminating = scoped(json!(["Terminating"]), json!([]));
        assert!(selects(&terminating, "pods", &job_pod));
        assert!(!selects(&terminating, "pods", &service_pod));
        assert!(selects(
            &scoped(json!(["NotTerminating"]), json!([])),
            "pods",
            &service_pod
        ));

        let high = scoped(
            json!([]),
            json!([{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]),
        );
        assert!(selects(&high, "pods", &job_pod) && !selects(&high, "pods", &service_pod));
        let not_high = scoped(
            json!([]),
            json!([{"scopeName": "PriorityClass", "operator": "NotIn", "values": ["high"]}]),
        );
        assert!(!selects(&not_high, "pods", &job_pod) && selects(&not_high, "pods", &service_pod));
        let any_class = scoped(
            json!([]),
            json!([{"scopeName": "PriorityClass", "operator": "Exists"}]),
        );
        assert!(
            selects(&any_class, "pods", &job_pod) && !selects(&any_class, "pods", &service_pod)
        );
        let both = scoped(
            json!(["Terminating"]),
            json!([{"scopeName": "PriorityClass", "operator": "DoesNotExist"}]),
        );
        assert!(!selects(&both, "pods", &job_pod));

        let affine = json!({"spec": {"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "podAffinityTerm": {"topologyKey": "zone", "namespaceSelector": {}}}
        ]}}}});
        let cross = scoped(json!(["CrossNamespacePodAffinity"]), json!([]));
        assert!(selects(&cross, "pods", &affine) && !selects(&cross, "pods", &service_pod));
    }
}
