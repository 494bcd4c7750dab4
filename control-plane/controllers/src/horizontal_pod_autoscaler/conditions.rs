//! The autoscaler's status conditions (AbleToScale, ScalingActive, ScalingLimited), set as
//! Kubernetes' `setCondition` sets them: a condition is added when missing, and its
//! lastTransitionTime moves only when its status changes.

use jiff::Timestamp;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const ABLE_TO_SCALE: &str = "AbleToScale";
pub const SCALING_ACTIVE: &str = "ScalingActive";
pub const SCALING_LIMITED: &str = "ScalingLimited";

/// One condition to set: its type, whether it holds, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub type_: &'static str,
    pub holds: bool,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn new(
        type_: &'static str,
        holds: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Condition {
        Condition {
            type_,
            holds,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

pub fn set_condition(
    status: &mut HorizontalPodAutoscalerStatus,
    condition: Condition,
    now: Timestamp,
) {
    let conditions = status.conditions.get_or_insert_default();
    let index = match conditions
        .iter()
        .position(|existing| existing.type_ == condition.type_)
    {
        Some(index) => index,
        None => {
            conditions.push(HorizontalPodAutoscalerCondition {
                type_: condition.type_.to_owned(),
                ..Default::default()
            });
            conditions.len() - 1
        }
    };
    let existing = &mut conditions[index];
    let status_text = if condition.holds { "True" } else { "False" };
    if existing.status != status_text {
        existing.last_transition_time = Some(Time(now));
    }
    existing.status = status_text.to_owned();
    existing.reason = Some(condition.reason);
    existing.message = Some(condition.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_moves_only_when_the_status_changes() {
        let mut status = HorizontalPodAutoscalerStatus::default();
        let first = Timestamp::from_second(100).expect("a time");
        let later = Timestamp::from_second(200).expect("a time");
        set_condition(
            &mut status,
            Condition::new(ABLE_TO_SCALE, true, "SucceededGetScale", "got it"),
            first,
        );
        set_condition(
            &mut status,
            Condition::new(ABLE_TO_SCALE, true, "SucceededRescale", "scaled"),
            later,
        );
        let conditions = status.conditions.clone().expect("conditions");
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, Some(Time(first)));
        assert_eq!(conditions[0].reason.as_deref(), Some("SucceededRescale"));
        set_condition(
            &mut status,
            Condition::new(ABLE_TO_SCALE, false, "FailedGetScale", "lost it"),
            later,
        );
        let conditions = status.conditions.expect("conditions");
        assert_eq!(conditions[0].last_transition_time, Some(Time(later)));
        assert_eq!(conditions[0].status, "False");
    }
}
