//! The Priority admission plugin (`plugin/pkg/admission/priority`) and PriorityClass
//! validation (`pkg/apis/scheduling/validation`), as in Kubernetes 1.33.
//!
//! A new pod's `priorityClassName` is resolved to `spec.priority` and
//! `spec.preemptionPolicy`; a pod that names no class gets the global default class (the
//! lowest-valued one if several claim it), or priority 0 and `PreemptLowerPriority`. A
//! pod that names an unknown class, or sets a priority or preemption policy of its own
//! that differs from its class's, is refused. The two system classes exist in every
//! cluster; the API server creates them at start-up, and they are also resolved here
//! without a stored object so that a pod never depends on that having happened.

use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use crate::field_error::FieldError;

/// Kubernetes' `SystemClusterCritical` and `SystemNodeCritical` class names.
pub const SYSTEM_CLUSTER_CRITICAL: &str = "system-cluster-critical";
pub const SYSTEM_NODE_CRITICAL: &str = "system-node-critical";
/// Kubernetes' `SystemCriticalPriority`: the value of system-cluster-critical;
/// system-node-critical is 1000 above it.
pub const SYSTEM_CRITICAL_PRIORITY: i64 = 2_000_000_000;
/// Kubernetes' `HighestUserDefinablePriority`.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;
/// Names with this prefix are reserved to the system classes.
const SYSTEM_PREFIX: &str = "system-";

const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";
const PREEMPT_NEVER: &str = "Never";

/// A write the plugin refuses; the API server answers 403 Forbidden with these words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    #[error("no PriorityClass with name {0} was found")]
    ClassNotFound(String),
    #[error(
        "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PriorityGiven { given: i64, computed: i64 },
    #[error(
        "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
    )]
    PreemptionPolicyGiven { given: String, computed: String },
    #[error("PriorityClass {0} is already marked as default. Only one default can exist")]
    DefaultExists(String),
}

struct SystemClass {
    name: &'static str,
    value: i64,
    description: &'static str,
}

const SYSTEM_CLASSES: [SystemClass; 2] = [
    SystemClass {
        name: SYSTEM_NODE_CRITICAL,
        value: SYSTEM_CRITICAL_PRIORITY + 1000,
        description: "Used for system critical pods that must not be moved from their current node.",
    },
    SystemClass {
        name: SYSTEM_CLUSTER_CRITICAL,
        value: SYSTEM_CRITICAL_PRIORITY,
        description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    },
];

/// The system classes as the API server creates them at start-up.
pub fn system_priority_classes() -> Vec<PriorityClass> {
    SYSTEM_CLASSES
        .iter()
        .map(|class| PriorityClass {
            metadata: ObjectMeta {
                name: Some(class.name.to_owned()),
                ..Default::default()
            },
            value: i32::try_from(class.value).unwrap_or(i32::MAX),
            description: Some(class.description.to_owned()),
            global_default: Some(false),
            preemption_policy: Some(PREEMPT_LOWER_PRIORITY.to_owned()),
        })
        .collect()
}

fn class_name(class: &Value) -> &str {
    class
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn is_global_default(class: &Value) -> bool {
    class
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn class_value(class: &Value) -> i64 {
    class.get("value").and_then(Value::as_i64).unwrap_or(0)
}

/// The class every pod without one gets: among the classes marked as global default
/// (two can be, after a race), the one with the lowest value.
fn default_class(classes: &[Value]) -> Option<&Value> {
    classes
        .iter()
        .filter(|class| is_global_default(class))
        .min_by_key(|class| class_value(class))
}

/// A class by name: a stored one, or a system class.
fn find_class(classes: &[Value], name: &str) -> Option<Value> {
    classes
        .iter()
        .find(|class| class_name(class) == name)
        .cloned()
        .or_else(|| {
            SYSTEM_CLASSES
                .iter()
                .find(|class| class.name == name)
                .map(|class| {
                    json!({"metadata": {"name": class.name}, "value": class.value, "preemptionPolicy": PREEMPT_LOWER_PRIORITY})
                })
        })
}

/// The Priority plugin's admission of a pod create (`old` is `None`) or update, given
/// every stored PriorityClass.
pub fn admit_pod(
    pod: &mut Value,
    old: Option<&Value>,
    classes: &[Value],
) -> Result<(), PriorityError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    if let Some(old) = old {
        // The priority was resolved on create; an update that leaves it out keeps it
        // (validation refuses any change to it).
        for field in ["priority", "preemptionPolicy"] {
            let missing = spec.get(field).is_none_or(Value::is_null);
            if missing
                && let Some(previous) = old
                    .pointer(&format!("/spec/{field}"))
                    .filter(|value| !value.is_null())
            {
                spec.insert(field.to_owned(), previous.clone());
            }
        }
        return Ok(());
    }
    let named = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let (priority, preemption_policy) = match named {
        Some(name) => {
            let class = find_class(classes, &name).ok_or(PriorityError::ClassNotFound(name))?;
            (
                class_value(&class),
                class
                    .get("preemptionPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        }
        None => match default_class(classes) {
            Some(class) => {
                spec.insert("priorityClassName".to_owned(), json!(class_name(class)));
                (
                    class_value(class),
                    class
                        .get("preemptionPolicy")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                )
            }
            None => (0, Some(PREEMPT_LOWER_PRIORITY.to_owned())),
        },
    };
    if let Some(given) = spec.get("priority").filter(|value| !value.is_null()) {
        let given = given.as_i64().unwrap_or_default();
        if given != priority {
            return Err(PriorityError::PriorityGiven {
                given,
                computed: priority,
            });
        }
    }
    spec.insert("priority".to_owned(), json!(priority));
    if let Some(computed) = preemption_policy {
        if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str)
            && given != computed
        {
            return Err(PriorityError::PreemptionPolicyGiven {
                given: given.to_owned(),
                computed,
            });
        }
        spec.insert("preemptionPolicy".to_owned(), json!(computed));
    }
    Ok(())
}

/// The Priority plugin's check of a PriorityClass create or update: only one class may be
/// the global default.
pub fn admit_priority_class(
    class: &Value,
    old: Option<&Value>,
    classes: &[Value],
) -> Result<(), PriorityError> {
    if !is_global_default(class) {
        return Ok(());
    }
    match default_class(classes) {
        Some(existing) if old.is_none() || class_name(existing) != class_name(class) => Err(
            PriorityError::DefaultExists(class_name(existing).to_owned()),
        ),
        _ => Ok(()),
    }
}

/// `ValidatePriorityClass` and `ValidatePriorityClassUpdate` (metadata aside).
pub fn validate_priority_class(class: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = class_name(class);
    let value = class_value(class);
    if name.starts_with(SYSTEM_PREFIX) {
        let problem = match SYSTEM_CLASSES.iter().find(|system| system.name == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some(system) if system.value != value => Some(format!(
                "value of {name} PriorityClass must be {}",
                system.value
            )),
            Some(_) if is_global_default(class) => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            errors.push(FieldError::forbidden(
                "metadata.name",
                format!("priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only. error: {problem}"),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errors.push(FieldError::forbidden(
            "value",
            format!("maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"),
        ));
    }
    match class.get("preemptionPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(policy))
            if policy == PREEMPT_LOWER_PRIORITY || policy == PREEMPT_NEVER => {}
        Some(Value::String(policy)) if policy.is_empty() => {
            errors.push(FieldError::required("preemptionPolicy", ""))
        }
        Some(other) => errors.push(FieldError::not_supported(
            "preemptionPolicy",
            other.clone(),
            &[PREEMPT_LOWER_PRIORITY, PREEMPT_NEVER],
        )),
    }
    if let Some(old) = old {
        if class_value(old) != value {
            errors.push(FieldError::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        let policy = class.get("preemptionPolicy").unwrap_or(&Value::Null);
        if old.get("preemptionPolicy").unwrap_or(&Value::Null) != policy {
            errors.push(FieldError::invalid(
                "preemptionPolicy",
                policy.clone(),
                "field is immutable",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, global_default: bool, policy: &str) -> Value {
        json!({"metadata": {"name": name}, "value": value, "globalDefault": global_default, "preemptionPolicy": policy})
    }

    fn pod(spec: Value) -> Value {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "app", "image": "app"}]);
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn a_named_class_sets_priority_and_preemption_policy() {
        let classes = [class("high", 1000, false, "Never")];
        let mut named = pod(json!({"priorityClassName": "high"}));
        admit_pod(&mut named, None, &classes).expect("admitted");
        assert_eq!(named["spec"]["priority"], 1000);
        assert_eq!(named["spec"]["preemptionPolicy"], "Never");

        let mut critical = pod(json!({"priorityClassName": SYSTEM_NODE_CRITICAL}));
        admit_pod(&mut critical, None, &[]).expect("a system class needs no stored object");
        assert_eq!(critical["spec"]["priority"], 2_000_001_000);
        assert_eq!(critical["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    }

    #[test]
    fn an_unknown_class_is_refused() {
        let mut unknown = pod(json!({"priorityClassName": "missing"}));
        assert_eq!(
            admit_pod(&mut unknown, None, &[])
                .expect_err("refused")
                .to_string(),
            "no PriorityClass with name missing was found"
        );
    }

    #[test]
    fn without_a_class_the_lowest_global_default_applies_or_zero() {
        let mut plain = pod(json!({}));
        admit_pod(
            &mut plain,
            None,
            &[class("high", 1000, false, "PreemptLowerPriority")],
        )
        .expect("admitted");
        assert_eq!(plain["spec"]["priority"], 0);
        assert_eq!(plain["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        assert!(plain["spec"].get("priorityClassName").is_none());

        let classes = [
            class("a", 50, true, "Never"),
            class("b", 10, true, "PreemptLowerPriority"),
        ];
        let mut defaulted = pod(json!({}));
        admit_pod(&mut defaulted, None, &classes).expect("admitted");
        assert_eq!(defaulted["spec"]["priorityClassName"], "b");
        assert_eq!(defaulted["spec"]["priority"], 10);
    }

    #[test]
    fn a_priority_or_policy_of_the_pods_own_must_agree_with_the_class() {
        let classes = [class("high", 1000, false, "PreemptLowerPriority")];
        let mut own = pod(json!({"priority": 5}));
        assert_eq!(
            admit_pod(&mut own, None, &classes)
                .expect_err("refused")
                .to_string(),
            "the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"
        );
        let mut agreeing = pod(json!({"priorityClassName": "high", "priority": 1000}));
        admit_pod(&mut agreeing, None, &classes).expect("the same value is accepted");
        let mut policy = pod(json!({"priorityClassName": "high", "preemptionPolicy": "Never"}));
        assert_eq!(
            admit_pod(&mut policy, None, &classes)
                .expect_err("refused")
                .to_string(),
            "the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name"
        );
    }

    #[test]
    fn an_update_keeps_the_resolved_priority() {
        let old = pod(json!({"priority": 1000, "preemptionPolicy": "Never"}));
        let mut update = pod(json!({}));
        admit_pod(&mut update, Some(&old), &[]).expect("admitted");
        assert_eq!(update["spec"]["priority"], 1000);
        assert_eq!(update["spec"]["preemptionPolicy"], "Never");
    }

    #[test]
    fn only_one_class_may_be_the_global_default() {
        let existing = [class("first", 1, true, "PreemptLowerPriority")];
        let second = class("second", 2, true, "PreemptLowerPriority");
        assert_eq!(
            admit_priority_class(&second, None, &existing)
                .expect_err("refused")
                .to_string(),
            "PriorityClass first is already marked as default. Only one default can exist"
        );
        assert_eq!(
            admit_priority_class(&second, Some(&second), &existing)
                .map_err(|error| error.to_string()),
            Err(
                "PriorityClass first is already marked as default. Only one default can exist"
                    .to_owned()
            )
        );
        let first = &existing[0];
        assert_eq!(admit_priority_class(first, Some(first), &existing), Ok(()));
        assert_eq!(
            admit_priority_class(&class("plain", 1, false, "Never"), None, &existing),
            Ok(())
        );
    }

    #[test]
    fn the_system_prefix_and_high_values_are_reserved() {
        let messages = |class: &Value, old: Option<&Value>| -> Vec<String> {
            validate_priority_class(class, old)
                .iter()
                .map(FieldError::message)
                .collect()
        };
        assert_eq!(
            messages(&class("system-mine", 10, false, "Never"), None),
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
            ]
        );
        assert_eq!(
            messages(
                &class(SYSTEM_CLUSTER_CRITICAL, 10, false, "PreemptLowerPriority"),
                None
            ),
            [
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-cluster-critical PriorityClass must be 2000000000"
            ]
        );
        for system in system_priority_classes() {
            let system = serde_json::to_value(system).expect("JSON");
            assert!(messages(&system, None).is_empty(), "{system}");
        }
        assert_eq!(
            messages(&class("huge", 1_000_000_001, false, "Never"), None),
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
        assert_eq!(
            messages(&class("odd", 1, false, "Sometimes"), None),
            [
                "preemptionPolicy: Unsupported value: \"Sometimes\": supported values: \"PreemptLowerPriority\", \"Never\""
            ]
        );
        let old = class("high", 1000, false, "Never");
        assert_eq!(
            messages(
                &class("high", 2000, false, "PreemptLowerPriority"),
                Some(&old)
            ),
            [
                "value: Forbidden: may not be changed in an update.",
                "preemptionPolicy: Invalid value: \"PreemptLowerPriority\": field is immutable",
            ]
        );
    }
}
