//! When a pod on a node with NoExecute taints must go: at once if some taint is not
//! tolerated, after the shortest `tolerationSeconds` of the tolerations used otherwise,
//! never if every taint is tolerated forever (the taint eviction controller's
//! `processPodOnNode`).

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Taint, Toleration};

use super::NO_EXECUTE;
use crate::taints::tolerates;

/// A NoExecute taint and the moment it started to count for the pod.
pub struct CountingTaint<'a> {
    pub taint: &'a Taint,
    pub since: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eviction {
    Never,
    /// Due at this moment (the past or now: at once).
    At(Timestamp),
}

/// When the pod with `tolerations` must be deleted because of `taints` (its node's
/// NoExecute taints). Each taint is matched with the first toleration that tolerates it,
/// as `GetMatchingTolerations` does; the pod goes at the earliest moment one of those
/// tolerations runs out, counted from the moment its taint started to count.
pub fn eviction_time(tolerations: &[Toleration], taints: &[CountingTaint<'_>]) -> Eviction {
    let mut earliest: Option<Timestamp> = None;
    for counting in taints {
        if counting.taint.effect != NO_EXECUTE {
            continue;
        }
        let Some(toleration) = tolerations
            .iter()
            .find(|toleration| tolerates(toleration, counting.taint))
        else {
            return Eviction::At(Timestamp::MIN);
        };
        let Some(seconds) = toleration.toleration_seconds else {
            continue;
        };
        let due = counting
            .since
            .checked_add(SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(Timestamp::MAX);
        earliest = Some(earliest.map_or(due, |earliest| earliest.min(due)));
    }
    earliest.map_or(Eviction::Never, Eviction::At)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.to_owned(),
            effect: effect.to_owned(),
            ..Default::default()
        }
    }

    fn tolerations(value: serde_json::Value) -> Vec<Toleration> {
        serde_json::from_value(value).expect("tolerations")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    #[test]
    fn tolerations_match_key_operator_value_and_effect() {
        let dedicated = Taint {
            value: Some("gpu".to_owned()),
            ..taint("dedicated", NO_EXECUTE)
        };
        for (toleration, expected) in [
            (json!({"key": "dedicated", "value": "gpu"}), true),
            (
                json!({"key": "dedicated", "operator": "Equal", "value": "cpu"}),
                false,
            ),
            (
                json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}),
                true,
            ),
            (
                json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}),
                false,
            ),
            (json!({"operator": "Exists"}), true),
            (json!({"key": "dedicated", "operator": "Like"}), false),
        ] {
            let toleration: Toleration =
                serde_json::from_value(toleration.clone()).expect("a toleration");
            assert_eq!(
                tolerates(&toleration, &dedicated),
                expected,
                "{toleration:?}"
            );
        }
    }

    #[test]
    fn an_untolerated_taint_evicts_at_once_and_no_taints_never() {
        let unreachable = taint("node.kubernetes.io/unreachable", NO_EXECUTE);
        let counting = [CountingTaint {
            taint: &unreachable,
            since: at("2025-01-01T00:00:00Z"),
        }];
        assert_eq!(eviction_time(&[], &counting), Eviction::At(Timestamp::MIN));
        assert_eq!(eviction_time(&[], &[]), Eviction::Never);
        let no_schedule = taint("dedicated", "NoSchedule");
        let only_no_schedule = [CountingTaint {
            taint: &no_schedule,
            since: at("2025-01-01T00:00:00Z"),
        }];
        assert_eq!(eviction_time(&[], &only_no_schedule), Eviction::Never);
    }

    #[test]
    fn the_shortest_toleration_counts_from_its_taints_start_and_forever_never_ends() {
        let unreachable = taint("node.kubernetes.io/unreachable", NO_EXECUTE);
        let dedicated = taint("dedicated", NO_EXECUTE);
        let counting = [
            CountingTaint {
                taint: &unreachable,
                since: at("2025-01-01T00:00:00Z"),
            },
            CountingTaint {
                taint: &dedicated,
                since: at("2025-01-01T00:10:00Z"),
            },
        ];
        let bounded = tolerations(json!([
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 900},
            {"key": "dedicated", "operator": "Exists", "tolerationSeconds": 60},
        ]));
        assert_eq!(
            eviction_time(&bounded, &counting),
            Eviction::At(at("2025-01-01T00:11:00Z"))
        );
        let negative = tolerations(json!([{"operator": "Exists", "tolerationSeconds": -5}]));
        assert_eq!(
            eviction_time(&negative, &counting),
            Eviction::At(at("2025-01-01T00:00:00Z"))
        );
        let forever = tolerations(json!([
            {"operator": "Exists"},
            {"key": "dedicated", "operator": "Exists", "tolerationSeconds": 1},
        ]));
        assert_eq!(eviction_time(&forever, &counting), Eviction::Never);
    }
}
