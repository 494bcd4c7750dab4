//! The DefaultTolerationSeconds admission plugin
//! (`plugin/pkg/admission/defaulttolerationseconds`): every pod that does not already
//! tolerate the node controller's `not-ready` and `unreachable` NoExecute taints gets a
//! toleration for each, bounded by a number of seconds (300 unless kube-apiserver's
//! `--default-not-ready-toleration-seconds` and `--default-unreachable-toleration-seconds`
//! say otherwise). A pod therefore survives a short network blip of its node but is
//! evicted, and replaced by its controller, when the node stays lost.

use serde_json::{Map, Value, json};

/// The taint the node lifecycle controller puts on a node whose Ready condition is False.
pub const NOT_READY_TAINT_KEY: &str = "node.kubernetes.io/not-ready";
/// The taint the node lifecycle controller puts on a node whose Ready condition is Unknown.
pub const UNREACHABLE_TAINT_KEY: &str = "node.kubernetes.io/unreachable";
/// kube-apiserver's default for both settings.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

const NO_EXECUTE: &str = "NoExecute";

/// How long the added tolerations tolerate each taint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultTolerationSeconds {
    pub not_ready_seconds: i64,
    pub unreachable_seconds: i64,
}

impl Default for DefaultTolerationSeconds {
    fn default() -> Self {
        DefaultTolerationSeconds {
            not_ready_seconds: DEFAULT_TOLERATION_SECONDS,
            unreachable_seconds: DEFAULT_TOLERATION_SECONDS,
        }
    }
}

/// A field of a toleration as Go sees it: absent, null and anything but a string read as
/// the empty string, which for `key` and `effect` means "every key" and "every effect".
fn text<'a>(toleration: &'a Map<String, Value>, field: &str) -> &'a str {
    toleration
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Whether some toleration already covers the NoExecute taint with this key: one naming
/// the key or no key at all, with the NoExecute effect or no effect. As in Kubernetes, the
/// operator, the value and the seconds are not looked at.
fn already_tolerated(tolerations: &[Value], taint_key: &str) -> bool {
    tolerations
        .iter()
        .filter_map(Value::as_object)
        .any(|toleration| {
            let key = text(toleration, "key");
            let effect = text(toleration, "effect");
            (key == taint_key || key.is_empty()) && (effect == NO_EXECUTE || effect.is_empty())
        })
}

impl DefaultTolerationSeconds {
    /// Appends the missing default tolerations to the pod's `spec.tolerations`. A pod
    /// whose spec or tolerations have the wrong shape is left for validation to refuse.
    pub fn admit(&self, pod: &mut Value) {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        if spec.get("tolerations").is_none_or(Value::is_null) {
            spec.insert("tolerations".to_owned(), Value::Array(Vec::new()));
        }
        let Some(tolerations) = spec.get_mut("tolerations").and_then(Value::as_array_mut) else {
            return;
        };
        let tolerates_not_ready = already_tolerated(tolerations, NOT_READY_TAINT_KEY);
        let tolerates_unreachable = already_tolerated(tolerations, UNREACHABLE_TAINT_KEY);
        if !tolerates_not_ready {
            tolerations.push(toleration(NOT_READY_TAINT_KEY, self.not_ready_seconds));
        }
        if !tolerates_unreachable {
            tolerations.push(toleration(UNREACHABLE_TAINT_KEY, self.unreachable_seconds));
        }
    }
}

fn toleration(key: &str, seconds: i64) -> Value {
    json!({
        "key": key,
        "operator": "Exists",
        "effect": NO_EXECUTE,
        "tolerationSeconds": seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(tolerations: Option<Value>) -> Value {
        let mut spec = json!({"containers": [{"name": "app", "image": "hello"}]});
        if let Some(tolerations) = tolerations {
            spec["tolerations"] = tolerations;
        }
        json!({"metadata": {"name": "web"}, "spec": spec})
    }

    fn configured() -> DefaultTolerationSeconds {
        DefaultTolerationSeconds {
            not_ready_seconds: 60,
            unreachable_seconds: 120,
        }
    }

    #[test]
    fn a_pod_without_tolerations_gets_both_with_the_configured_seconds() {
        let mut admitted = pod(None);
        configured().admit(&mut admitted);
        assert_eq!(
            admitted["spec"]["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 120},
            ])
        );
    }

    #[test]
    fn kubernetes_defaults_are_three_hundred_seconds_each() {
        let mut admitted = pod(Some(Value::Null));
        DefaultTolerationSeconds::default().admit(&mut admitted);
        let seconds: Vec<&Value> = admitted["spec"]["tolerations"]
            .as_array()
            .expect("tolerations")
            .iter()
            .map(|toleration| &toleration["tolerationSeconds"])
            .collect();
        assert_eq!(seconds, [&json!(300), &json!(300)]);
    }

    #[test]
    fn existing_tolerations_are_kept_and_only_the_missing_default_is_appended() {
        let own = json!([
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
        ]);
        let mut admitted = pod(Some(own.clone()));
        configured().admit(&mut admitted);
        let mut expected = own.as_array().expect("tolerations").clone();
        expected.push(json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}));
        assert_eq!(admitted["spec"]["tolerations"], Value::Array(expected));
    }

    #[test]
    fn a_toleration_without_effect_or_without_key_covers_the_taints() {
        for covering in [
            json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}, {"key": "node.kubernetes.io/unreachable", "operator": "Exists"}]),
            json!([{"operator": "Exists"}]),
            json!([{"operator": "Exists", "effect": "NoExecute"}]),
        ] {
            let mut admitted = pod(Some(covering.clone()));
            configured().admit(&mut admitted);
            assert_eq!(admitted["spec"]["tolerations"], covering);
        }
    }

    #[test]
    fn a_toleration_for_another_effect_does_not_count() {
        let mut admitted = pod(Some(json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"},
        ])));
        configured().admit(&mut admitted);
        assert_eq!(
            admitted["spec"]["tolerations"].as_array().map(Vec::len),
            Some(3)
        );
    }

    #[test]
    fn malformed_pods_are_left_for_validation() {
        for malformed in [
            json!({"metadata": {"name": "web"}}),
            json!({"spec": "nonsense"}),
            json!({"spec": {"tolerations": "nonsense"}}),
        ] {
            let mut admitted = malformed.clone();
            configured().admit(&mut admitted);
            assert_eq!(admitted, malformed);
        }
    }
}
