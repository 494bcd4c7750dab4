//! Turning the metrics' proposal into the count the autoscaler sets, as Kubernetes does:
//! the recommendation is stabilized over its window (the highest recent one before a
//! scale down, the lowest before a scale up), then held to minReplicas/maxReplicas and to
//! the scaling policies' rates, which count the changes made within each policy's
//! period. Without a `behavior`, the old rules apply: the downscale stabilization window,
//! and a scale up of at most double (or 4) at a time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscalerBehavior,
};

/// Kubernetes' limit on a scale up without a behavior: at most this factor ...
const SCALE_UP_LIMIT_FACTOR: f64 = 2.0;
/// ... or this many replicas, whichever is more.
const SCALE_UP_LIMIT_MINIMUM: f64 = 4.0;

#[derive(Clone, Copy, Debug)]
struct Recommendation {
    replicas: i32,
    timestamp: Timestamp,
}

#[derive(Clone, Copy, Debug)]
struct ScaleEvent {
    /// How many replicas were added (on the scale-up list) or removed (scale-down list).
    change: i32,
    timestamp: Timestamp,
    outdated: bool,
}

/// What the autoscaler remembers of one HorizontalPodAutoscaler between evaluations:
/// its recent recommendations and the changes it made.
#[derive(Debug, Default)]
pub struct AutoscalerHistory {
    recommendations: Vec<Recommendation>,
    scale_up_events: Vec<ScaleEvent>,
    scale_down_events: Vec<ScaleEvent>,
}

/// A condition the normalization decided: its reason and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionReason {
    pub reason: &'static str,
    pub message: &'static str,
}

/// The normalized count, the AbleToScale reason, and whether (and why) the count was
/// limited (ScalingLimited).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub replicas: i32,
    pub able_to_scale: ConditionReason,
    pub limited: bool,
    pub scaling_limited: ConditionReason,
}

const READY_FOR_NEW_SCALE: ConditionReason = ConditionReason {
    reason: "ReadyForNewScale",
    message: "recommended size matches current size",
};
const SCALE_DOWN_STABILIZED: ConditionReason = ConditionReason {
    reason: "ScaleDownStabilized",
    message: "recent recommendations were higher than current one, applying the highest recent recommendation",
};
const SCALE_UP_STABILIZED: ConditionReason = ConditionReason {
    reason: "ScaleUpStabilized",
    message: "recent recommendations were lower than current one, applying the lowest recent recommendation",
};
const DESIRED_WITHIN_RANGE: ConditionReason = ConditionReason {
    reason: "DesiredWithinRange",
    message: "the desired count is within the acceptable range",
};
const SCALE_UP_LIMIT: ConditionReason = ConditionReason {
    reason: "ScaleUpLimit",
    message: "the desired replica count is increasing faster than the maximum scale rate",
};
const TOO_MANY_REPLICAS: ConditionReason = ConditionReason {
    reason: "TooManyReplicas",
    message: "the desired replica count is more than the maximum replica count",
};
const SCALE_DOWN_LIMIT: ConditionReason = ConditionReason {
    reason: "ScaleDownLimit",
    message: "the desired replica count is decreasing faster than the maximum scale rate",
};
const TOO_FEW_REPLICAS: ConditionReason = ConditionReason {
    reason: "TooFewReplicas",
    message: "the desired replica count is less than the minimum replica count",
};

fn seconds(count: i32) -> SignedDuration {
    SignedDuration::from_secs(i64::from(count))
}

/// The scale-up rules with Kubernetes' defaults filled in where the object has none:
/// no stabilization, and the larger of +4 pods or +100% per 15 s.
pub fn scale_up_rules(behavior: Option<&HorizontalPodAutoscalerBehavior>) -> HPAScalingRules {
    let given = behavior
        .and_then(|behavior| behavior.scale_up.clone())
        .unwrap_or_default();
    HPAScalingRules {
        stabilization_window_seconds: given.stabilization_window_seconds.or(Some(0)),
        select_policy: given.select_policy.or_else(|| Some("Max".to_owned())),
        policies: given
            .policies
            .or_else(|| Some(vec![policy("Pods", 4, 15), policy("Percent", 100, 15)])),
        ..given
    }
}

/// The scale-down rules with the defaults filled in: the controller's downscale
/// stabilization window, and up to -100% per 15 s.
pub fn scale_down_rules(
    behavior: Option<&HorizontalPodAutoscalerBehavior>,
    downscale_stabilization: Duration,
) -> HPAScalingRules {
    let given = behavior
        .and_then(|behavior| behavior.scale_down.clone())
        .unwrap_or_default();
    let default_window = i32::try_from(downscale_stabilization.as_secs()).unwrap_or(i32::MAX);
    HPAScalingRules {
        stabilization_window_seconds: given.stabilization_window_seconds.or(Some(default_window)),
        select_policy: given.select_policy.or_else(|| Some("Max".to_owned())),
        policies: given
            .policies
            .or_else(|| Some(vec![policy("Percent", 100, 15)])),
        ..given
    }
}

fn policy(type_: &str, value: i32, period_seconds: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.to_owned(),
        value,
        period_seconds,
    }
}

/// The replicas added (or removed) within the last `period_seconds`.
fn change_within_period(period_seconds: i32, events: &[ScaleEvent], now: Timestamp) -> i32 {
    let cutoff = now - seconds(period_seconds);
    events
        .iter()
        .filter(|event| event.timestamp > cutoff)
        .map(|event| event.change)
        .sum()
}

/// Kubernetes' `calculateScaleUpLimitWithScalingRules`.
fn scale_up_limit(
    current: i32,
    events: &[ScaleEvent],
    rules: &HPAScalingRules,
    now: Timestamp,
) -> i32 {
    let select = rules.select_policy.as_deref().unwrap_or("Max");
    if select == "Disabled" {
        return current;
    }
    let proposals = rules.policies.iter().flatten().map(|policy| {
        let period_start = current - change_within_period(policy.period_seconds, events, now);
        match policy.type_.as_str() {
            "Pods" => period_start.saturating_add(policy.value),
            // Rounded up, or a small percentage of a few replicas would never add one.
            _ => (f64::from(period_start) * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i32,
        }
    });
    if select == "Min" {
        proposals.min().unwrap_or(i32::MAX)
    } else {
        proposals.max().unwrap_or(i32::MIN)
    }
}

/// Kubernetes' `calculateScaleDownLimitWithBehaviors`.
fn scale_down_limit(
    current: i32,
    events: &[ScaleEvent],
    rules: &HPAScalingRules,
    now: Timestamp,
) -> i32 {
    let select = rules.select_policy.as_deref().unwrap_or("Max");
    if select == "Disabled" {
        return current;
    }
    let proposals = rules.policies.iter().flatten().map(|policy| {
        let period_start = current + change_within_period(policy.period_seconds, events, now);
        match policy.type_.as_str() {
            "Pods" => period_start.saturating_sub(policy.value),
            _ => (f64::from(period_start) * (1.0 - f64::from(policy.value) / 100.0)) as i32,
        }
    });
    // For a scale down the smallest change ("Min") is the highest count.
    if select == "Min" {
        proposals.max().unwrap_or(i32::MIN)
    } else {
        proposals.min().unwrap_or(i32::MAX)
    }
}

/// The bounds and rules one normalization works within.
pub struct Bounds<'a> {
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub scale_up: &'a HPAScalingRules,
    pub scale_down: &'a HPAScalingRules,
}

impl AutoscalerHistory {
    /// Remembers the current count as the first recommendation, as Kubernetes does the
    /// first time it sees an autoscaler.
    pub fn record_initial_recommendation(&mut self, current: i32, now: Timestamp) {
        if self.recommendations.is_empty() {
            self.recommendations.push(Recommendation {
                replicas: current,
                timestamp: now,
            });
        }
    }

    /// Puts `recommendation` in place of an outdated one (or adds it).
    fn record(
        &mut self,
        replicas: i32,
        now: Timestamp,
        outdated: impl Fn(&Recommendation) -> bool,
    ) {
        let recommendation = Recommendation {
            replicas,
            timestamp: now,
        };
        match self.recommendations.iter().rposition(outdated) {
            Some(index) => self.recommendations[index] = recommendation,
            None => self.recommendations.push(recommendation),
        }
    }

    /// Kubernetes' `normalizeDesiredReplicas`, for an autoscaler without a behavior.
    pub fn normalize_without_behavior(
        &mut self,
        current: i32,
        desired: i32,
        min_replicas: i32,
        max_replicas: i32,
        downscale_stabilization: Duration,
        now: Timestamp,
    ) -> Normalized {
        let cutoff =
            now - SignedDuration::try_from(downscale_stabilization).unwrap_or(SignedDuration::MAX);
        let stabilized = self
            .recommendations
            .iter()
            .filter(|recommendation| recommendation.timestamp >= cutoff)
            .map(|recommendation| recommendation.replicas)
            .fold(desired, i32::max);
        self.record(desired, now, |recommendation| {
            recommendation.timestamp < cutoff
        });
        let able_to_scale = if stabilized == desired {
            READY_FOR_NEW_SCALE
        } else {
            SCALE_DOWN_STABILIZED
        };
        let scale_up_limit =
            (SCALE_UP_LIMIT_FACTOR * f64::from(current)).max(SCALE_UP_LIMIT_MINIMUM) as i32;
        let (maximum, over_maximum) = if max_replicas > scale_up_limit {
            (scale_up_limit, SCALE_UP_LIMIT)
        } else {
            (max_replicas, TOO_MANY_REPLICAS)
        };
        let (replicas, scaling_limited) = if stabilized < min_replicas {
            (min_replicas, TOO_FEW_REPLICAS)
        } else if stabilized > maximum {
            (maximum, over_maximum)
        } else {
            (stabilized, DESIRED_WITHIN_RANGE)
        };
        Normalized {
            replicas,
            able_to_scale,
            limited: replicas != stabilized,
            scaling_limited,
        }
    }

    /// Kubernetes' `normalizeDesiredReplicasWithBehaviors`.
    pub fn normalize_with_behavior(
        &mut self,
        current: i32,
        desired: i32,
        bounds: &Bounds<'_>,
        now: Timestamp,
    ) -> Normalized {
        let up_cutoff = now - seconds(bounds.scale_up.stabilization_window_seconds.unwrap_or(0));
        let down_cutoff =
            now - seconds(bounds.scale_down.stabilization_window_seconds.unwrap_or(0));
        let mut up_recommendation = desired;
        let mut down_recommendation = desired;
        for recommendation in &self.recommendations {
            if recommendation.timestamp > up_cutoff {
                up_recommendation = up_recommendation.min(recommendation.replicas);
            }
            if recommendation.timestamp > down_cutoff {
                down_recommendation = down_recommendation.max(recommendation.replicas);
            }
        }
        let stabilized = current.max(up_recommendation).min(down_recommendation);
        self.record(desired, now, |recommendation| {
            recommendation.timestamp < up_cutoff && recommendation.timestamp < down_cutoff
        });
        let able_to_scale = if stabilized == desired {
            READY_FOR_NEW_SCALE
        } else if desired >= current {
            SCALE_UP_STABILIZED
        } else {
            SCALE_DOWN_STABILIZED
        };
        let (replicas, scaling_limited) = self.limit_rate(current, stabilized, bounds, now);
        Normalized {
            replicas,
            able_to_scale,
            limited: replicas != stabilized,
            scaling_limited,
        }
    }

    /// Kubernetes' `convertDesiredReplicasWithBehaviorRate`.
    fn limit_rate(
        &self,
        current: i32,
        desired: i32,
        bounds: &Bounds<'_>,
        now: Timestamp,
    ) -> (i32, ConditionReason) {
        if desired > current {
            // No further scale up until the recent changes fall out of their periods.
            let limit =
                scale_up_limit(current, &self.scale_up_events, bounds.scale_up, now).max(current);
            let (maximum, reason) = if bounds.max_replicas > limit {
                (limit, SCALE_UP_LIMIT)
            } else {
                (bounds.max_replicas, TOO_MANY_REPLICAS)
            };
            if desired > maximum {
                return (maximum, reason);
            }
        } else if desired < current {
            let limit = scale_down_limit(current, &self.scale_down_events, bounds.scale_down, now)
                .min(current);
            let (minimum, reason) = if bounds.min_replicas < limit {
                (limit, SCALE_DOWN_LIMIT)
            } else {
                (bounds.min_replicas, TOO_FEW_REPLICAS)
            };
            if desired < minimum {
                return (minimum, reason);
            }
        }
        (desired, DESIRED_WITHIN_RANGE)
    }

    /// Kubernetes' `storeScaleEvent`: remembers a change the autoscaler made, for the
    /// policies' rates (only autoscalers with a behavior use them).
    pub fn record_scale_event(
        &mut self,
        behavior: Option<&HorizontalPodAutoscalerBehavior>,
        scale_up: &HPAScalingRules,
        scale_down: &HPAScalingRules,
        previous: i32,
        new: i32,
        now: Timestamp,
    ) {
        if behavior.is_none() {
            return;
        }
        let (events, rules, change) = if new > previous {
            (&mut self.scale_up_events, scale_up, new - previous)
        } else {
            (&mut self.scale_down_events, scale_down, previous - new)
        };
        let longest_period = rules
            .policies
            .iter()
            .flatten()
            .map(|policy| policy.period_seconds)
            .max()
            .unwrap_or(0);
        let cutoff = now - seconds(longest_period);
        for event in events.iter_mut() {
            if event.timestamp < cutoff {
                event.outdated = true;
            }
        }
        let event = ScaleEvent {
            change,
            timestamp: now,
            outdated: false,
        };
        match events.iter().rposition(|event| event.outdated) {
            Some(index) => events[index] = event,
            None => events.push(event),
        }
    }
}

#[cfg(test)]
mod tests;
