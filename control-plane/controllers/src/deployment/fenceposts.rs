//! A rolling update's bounds: `maxSurge` (how many pods above `replicas` may exist) and
//! `maxUnavailable` (how many below it may be unavailable), each a number or a percentage
//! of `replicas`. Percentages round the surge up and the unavailability down, and when both
//! come to zero one pod may be unavailable, so that a rollout can always move
//! (`ResolveFenceposts`).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const ROLLING_UPDATE: &str = "RollingUpdate";
pub const RECREATE: &str = "Recreate";

/// apimachinery's `GetScaledValueFromIntOrPercent` errors, worded as there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FencepostError {
    #[error("invalid type: string is not a percentage")]
    NotAPercentage,
    #[error("invalid value {0:?}")]
    InvalidPercentage(String),
}

/// `value` of `total`: the number itself, or the percentage of `total` rounded up or down.
pub fn scaled_value(
    value: &IntOrString,
    total: i32,
    round_up: bool,
) -> Result<i32, FencepostError> {
    match value {
        IntOrString::Int(number) => Ok(*number),
        IntOrString::String(text) => {
            let Some(percent) = text.strip_suffix('%') else {
                return Err(FencepostError::NotAPercentage);
            };
            let percent: i32 = percent
                .parse()
                .map_err(|_| FencepostError::InvalidPercentage(text.clone()))?;
            let scaled = f64::from(percent) * f64::from(total) / 100.0;
            let rounded = if round_up {
                scaled.ceil()
            } else {
                scaled.floor()
            };
            // A percentage of an i32 count fits an i32 for any percentage validation allows.
            #[allow(clippy::cast_possible_truncation)]
            let rounded = rounded as i32;
            Ok(rounded)
        }
    }
}

/// `(maxSurge, maxUnavailable)` for `desired` replicas; a missing bound counts as zero.
pub fn resolve_fenceposts(
    max_surge: Option<&IntOrString>,
    max_unavailable: Option<&IntOrString>,
    desired: i32,
) -> Result<(i32, i32), FencepostError> {
    let zero = IntOrString::Int(0);
    let surge = scaled_value(max_surge.unwrap_or(&zero), desired, true)?;
    let mut unavailable = scaled_value(max_unavailable.unwrap_or(&zero), desired, false)?;
    if surge == 0 && unavailable == 0 {
        // Validation refuses both being zero, but rounding a percentage down can make
        // them so; rolling one pod at a time is then the safest way to move.
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// `spec.replicas`, which defaulting sets to 1.
pub fn desired_replicas(deployment: &Deployment) -> i32 {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

pub fn strategy_type(deployment: &Deployment) -> &str {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.type_.as_deref())
        .unwrap_or(ROLLING_UPDATE)
}

pub fn is_rolling_update(deployment: &Deployment) -> bool {
    strategy_type(deployment) == ROLLING_UPDATE
}

fn fenceposts(deployment: &Deployment) -> (i32, i32) {
    let rolling_update = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.strategy.as_ref())
        .and_then(|strategy| strategy.rolling_update.as_ref());
    let max_surge = rolling_update.and_then(|rolling| rolling.max_surge.as_ref());
    let max_unavailable = rolling_update.and_then(|rolling| rolling.max_unavailable.as_ref());
    // Validation refuses malformed bounds, so an error here cannot come from a stored
    // Deployment; Kubernetes ignores it the same way.
    resolve_fenceposts(max_surge, max_unavailable, desired_replicas(deployment)).unwrap_or((0, 0))
}

/// How many pods above `replicas` a rolling update may run (`MaxSurge`); none for Recreate.
pub fn max_surge(deployment: &Deployment) -> i32 {
    if !is_rolling_update(deployment) {
        return 0;
    }
    fenceposts(deployment).0
}

/// How many of `replicas` may be unavailable during a rolling update (`MaxUnavailable`),
/// never more than `replicas`; none for Recreate.
pub fn max_unavailable(deployment: &Deployment) -> i32 {
    let desired = desired_replicas(deployment);
    if !is_rolling_update(deployment) || desired == 0 {
        return 0;
    }
    fenceposts(deployment).1.min(desired)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(value: &str) -> IntOrString {
        IntOrString::String(value.to_owned())
    }

    #[test]
    fn percentages_round_surge_up_and_unavailability_down() {
        assert_eq!(
            resolve_fenceposts(Some(&text("25%")), Some(&text("25%")), 10),
            Ok((3, 2))
        );
        assert_eq!(
            resolve_fenceposts(Some(&IntOrString::Int(2)), Some(&text("50%")), 3),
            Ok((2, 1))
        );
    }

    #[test]
    fn both_zero_allow_one_unavailable() {
        assert_eq!(
            resolve_fenceposts(Some(&text("0%")), Some(&text("10%")), 5),
            Ok((0, 1))
        );
        assert_eq!(resolve_fenceposts(None, None, 5), Ok((0, 1)));
    }

    #[test]
    fn malformed_values_are_errors() {
        assert_eq!(
            scaled_value(&text("5"), 10, true),
            Err(FencepostError::NotAPercentage)
        );
        assert_eq!(
            scaled_value(&text("x%"), 10, true),
            Err(FencepostError::InvalidPercentage("x%".to_owned()))
        );
    }

    #[test]
    fn a_deployment_s_bounds() {
        let rolling: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 4,
                "selector": {},
                "template": {},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 9}},
            },
        }))
        .expect("a deployment");
        assert_eq!(max_surge(&rolling), 1);
        // Never more than replicas.
        assert_eq!(max_unavailable(&rolling), 4);
        let recreate: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": 4, "selector": {}, "template": {}, "strategy": {"type": "Recreate"}},
        }))
        .expect("a deployment");
        assert_eq!((max_surge(&recreate), max_unavailable(&recreate)), (0, 0));
    }
}
