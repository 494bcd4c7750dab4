//! Normalization as Kubernetes' horizontal_test.go checks it: the stabilization windows,
//! the old scale-up limit, and the behavior's policies and their periods.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscalerBehavior};

use super::*;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("a time") + SignedDuration::from_secs(seconds)
}

const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[test]
fn without_a_behavior_a_scale_down_waits_for_the_window_and_a_scale_up_is_at_most_double() {
    let mut history = AutoscalerHistory::default();
    history.record_initial_recommendation(5, at(0));
    let down = history.normalize_without_behavior(5, 2, 1, 10, FIVE_MINUTES, at(10));
    assert_eq!(down.replicas, 5);
    assert_eq!(down.able_to_scale.reason, "ScaleDownStabilized");
    let later = history.normalize_without_behavior(5, 2, 1, 10, FIVE_MINUTES, at(311));
    assert_eq!(
        (later.replicas, later.able_to_scale.reason),
        (2, "ReadyForNewScale")
    );
    let up = history.normalize_without_behavior(2, 9, 1, 10, FIVE_MINUTES, at(320));
    assert_eq!(
        (up.replicas, up.limited, up.scaling_limited.reason),
        (4, true, "ScaleUpLimit")
    );
    let capped = history.normalize_without_behavior(8, 12, 1, 10, FIVE_MINUTES, at(330));
    assert_eq!(
        (capped.replicas, capped.scaling_limited.reason),
        (10, "TooManyReplicas")
    );
    let floor =
        AutoscalerHistory::default().normalize_without_behavior(3, 0, 2, 10, Duration::ZERO, at(0));
    assert_eq!(
        (floor.replicas, floor.scaling_limited.reason),
        (2, "TooFewReplicas")
    );
}

fn behavior(down_window: i32) -> HorizontalPodAutoscalerBehavior {
    HorizontalPodAutoscalerBehavior {
        scale_down: Some(HPAScalingRules {
            stabilization_window_seconds: Some(down_window),
            ..Default::default()
        }),
        scale_up: None,
    }
}

#[test]
fn the_default_policies_add_at_most_four_pods_or_double_per_fifteen_seconds() {
    let behavior = behavior(0);
    let up = scale_up_rules(Some(&behavior));
    let down = scale_down_rules(Some(&behavior), FIVE_MINUTES);
    assert_eq!(up.stabilization_window_seconds, Some(0));
    assert_eq!(down.stabilization_window_seconds, Some(0));
    let bounds = Bounds {
        min_replicas: 1,
        max_replicas: 100,
        scale_up: &up,
        scale_down: &down,
    };
    let mut history = AutoscalerHistory::default();
    history.record_initial_recommendation(1, at(0));
    let first = history.normalize_with_behavior(1, 50, &bounds, at(1));
    assert_eq!(
        (first.replicas, first.scaling_limited.reason),
        (5, "ScaleUpLimit")
    );
    history.record_scale_event(Some(&behavior), &up, &down, 1, 5, at(1));
    // Within the same 15 s the period started at 1 replica: no more than 5.
    let again = history.normalize_with_behavior(5, 50, &bounds, at(10));
    assert_eq!(again.replicas, 5);
    // After the period, doubling 5 beats adding 4.
    let next_period = history.normalize_with_behavior(5, 50, &bounds, at(17));
    assert_eq!(next_period.replicas, 10);
}

#[test]
fn a_scale_down_waits_for_its_stabilization_window_then_goes_to_the_recommendation() {
    let behavior = behavior(30);
    let up = scale_up_rules(Some(&behavior));
    let down = scale_down_rules(Some(&behavior), FIVE_MINUTES);
    let bounds = Bounds {
        min_replicas: 1,
        max_replicas: 10,
        scale_up: &up,
        scale_down: &down,
    };
    let mut history = AutoscalerHistory::default();
    history.record_initial_recommendation(6, at(0));
    let held = history.normalize_with_behavior(6, 1, &bounds, at(5));
    assert_eq!(
        (held.replicas, held.able_to_scale.reason),
        (6, "ScaleDownStabilized")
    );
    let released = history.normalize_with_behavior(6, 1, &bounds, at(40));
    assert_eq!(
        (released.replicas, released.able_to_scale.reason),
        (1, "ReadyForNewScale")
    );
}

#[test]
fn a_percent_scale_down_policy_limits_each_period_and_disabled_stops_it() {
    let behavior = HorizontalPodAutoscalerBehavior {
        scale_down: Some(HPAScalingRules {
            stabilization_window_seconds: Some(0),
            policies: Some(vec![HPAScalingPolicy {
                type_: "Percent".to_owned(),
                value: 50,
                period_seconds: 60,
            }]),
            select_policy: Some("Max".to_owned()),
            ..Default::default()
        }),
        scale_up: None,
    };
    let up = scale_up_rules(Some(&behavior));
    let down = scale_down_rules(Some(&behavior), FIVE_MINUTES);
    let bounds = Bounds {
        min_replicas: 1,
        max_replicas: 10,
        scale_up: &up,
        scale_down: &down,
    };
    let mut history = AutoscalerHistory::default();
    let halved = history.normalize_with_behavior(8, 1, &bounds, at(0));
    assert_eq!(
        (halved.replicas, halved.scaling_limited.reason),
        (4, "ScaleDownLimit")
    );
    history.record_scale_event(Some(&behavior), &up, &down, 8, 4, at(0));
    assert_eq!(
        history
            .normalize_with_behavior(4, 1, &bounds, at(30))
            .replicas,
        4
    );
    assert_eq!(
        history
            .normalize_with_behavior(4, 1, &bounds, at(61))
            .replicas,
        2
    );

    let disabled = HPAScalingRules {
        select_policy: Some("Disabled".to_owned()),
        ..down.clone()
    };
    let frozen = Bounds {
        scale_down: &disabled,
        ..bounds
    };
    assert_eq!(
        AutoscalerHistory::default()
            .normalize_with_behavior(8, 1, &frozen, at(0))
            .replicas,
        8
    );
}
