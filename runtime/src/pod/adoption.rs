//! Taking over a pod this node already ran before the agent restarted. Guests live in
//! the agent's process, so none survived: a container the old agent left Running ended
//! with it, and its restart policy decides what happens next. A container that had
//! already finished stays finished, so nothing runs twice.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus};

use super::container_record::{ContainerPhase, ContainerRecord, TerminatedRecord};

/// The exit a container gets when the agent that ran it stopped: killed, as by SIGKILL.
const AGENT_RESTART_EXIT_CODE: i32 = 137;

fn terminated_record(state: &ContainerState) -> Option<TerminatedRecord> {
    let terminated = state.terminated.as_ref()?;
    Some(TerminatedRecord {
        exit_code: terminated.exit_code,
        reason: terminated
            .reason
            .clone()
            .unwrap_or_else(|| "Error".to_owned()),
        message: terminated.message.clone(),
        started_at: terminated.started_at.as_ref().map(|time| time.0),
        finished_at: terminated
            .finished_at
            .as_ref()
            .map_or_else(Timestamp::now, |time| time.0),
        container_id: terminated.container_id.clone(),
    })
}

/// Brings a fresh record up to date with the status the previous agent published.
pub fn adopt_container_status(record: &mut ContainerRecord, status: &ContainerStatus) {
    record.restart_count = status.restart_count;
    record.ever_started = status.container_id.is_some() || status.restart_count > 0;
    record.image_id = Some(status.image_id.clone()).filter(|id| !id.is_empty());
    record.last_terminated = status.last_state.as_ref().and_then(terminated_record);
    let Some(state) = &status.state else {
        return;
    };
    if let Some(terminated) = terminated_record(state) {
        record.phase = ContainerPhase::Terminated(terminated);
    } else if let Some(running) = &state.running {
        record.phase = ContainerPhase::Terminated(TerminatedRecord {
            exit_code: AGENT_RESTART_EXIT_CODE,
            reason: "Error".to_owned(),
            message: Some("the node agent restarted while the container was running".to_owned()),
            started_at: running.started_at.as_ref().map(|time| time.0),
            finished_at: Timestamp::now(),
            container_id: status.container_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::backoff::BackoffSettings;
    use k8s_openapi::api::core::v1::{ContainerStateRunning, ContainerStateTerminated};

    #[test]
    fn a_container_left_running_ended_with_the_old_agent() {
        let mut record = ContainerRecord::new("app", "hello:1", BackoffSettings::default());
        let status = ContainerStatus {
            name: "app".to_owned(),
            restart_count: 2,
            container_id: Some("wasmkube://u-app-2".to_owned()),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        adopt_container_status(&mut record, &status);
        assert_eq!(record.restart_count, 2);
        assert!(record.ever_started);
        assert_eq!(record.terminated().map(|t| t.exit_code), Some(137));
    }

    #[test]
    fn a_finished_container_stays_finished() {
        let mut record = ContainerRecord::new("init", "hello:1", BackoffSettings::default());
        let status = ContainerStatus {
            name: "init".to_owned(),
            container_id: Some("wasmkube://u-init-0".to_owned()),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        adopt_container_status(&mut record, &status);
        assert_eq!(
            record.terminated().map(|t| t.reason.as_str()),
            Some("Completed")
        );
    }
}
