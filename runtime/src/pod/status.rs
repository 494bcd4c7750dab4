//! A pod's status from its containers' records: phase and conditions computed as the
//! kubelet computes them.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::PodCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::container_record::{ContainerPhase, ContainerRecord};

/// The pod's restart policy, parsed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

impl Restart {
    pub fn from_spec(policy: Option<&str>) -> Restart {
        match policy {
            Some("Never") => Restart::Never,
            Some("OnFailure") => Restart::OnFailure,
            _ => Restart::Always,
        }
    }

    /// Whether a container that exited with this code is started again.
    pub fn restarts(self, exit_code: i32) -> bool {
        match self {
            Restart::Always => true,
            Restart::OnFailure => exit_code != 0,
            Restart::Never => false,
        }
    }
}

/// The kubelet's phase rules (`getPhase`).
pub fn pod_phase(
    init_containers: &[ContainerRecord],
    containers: &[ContainerRecord],
    restart: Restart,
) -> &'static str {
    let initialized = init_containers.iter().all(|record| record.succeeded());
    if !initialized {
        let failed_for_good = restart == Restart::Never
            && init_containers.iter().any(|record| {
                record
                    .terminated()
                    .is_some_and(|terminated| terminated.exit_code != 0)
            });
        return if failed_for_good { "Failed" } else { "Pending" };
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for record in containers {
        match &record.phase {
            ContainerPhase::Running { .. } => running += 1,
            ContainerPhase::Terminated(terminated) => {
                stopped += 1;
                if terminated.exit_code == 0 {
                    succeeded += 1;
                }
            }
            ContainerPhase::Waiting { .. } if record.last_terminated.is_some() => stopped += 1,
            ContainerPhase::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        match restart {
            Restart::Always => "Running",
            _ if stopped == succeeded => "Succeeded",
            Restart::Never => "Failed",
            Restart::OnFailure => "Running",
        }
    } else {
        "Pending"
    }
}

fn condition(
    kind: &str,
    satisfied: bool,
    reason: Option<&str>,
    message: Option<String>,
    previous: &[PodCondition],
) -> PodCondition {
    let status = if satisfied { "True" } else { "False" };
    // The transition time changes only when the condition's status does.
    let last_transition_time = previous
        .iter()
        .find(|condition| condition.type_ == kind && condition.status == status)
        .and_then(|condition| condition.last_transition_time.clone())
        .unwrap_or(Time(Timestamp::now()));
    PodCondition {
        type_: kind.to_owned(),
        status: status.to_owned(),
        reason: if satisfied {
            None
        } else {
            reason.map(str::to_owned)
        },
        message: if satisfied { None } else { message },
        last_transition_time: Some(last_transition_time),
        ..Default::default()
    }
}

fn names(records: &[&ContainerRecord]) -> String {
    let names: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
    format!("[{}]", names.join(" "))
}

/// PodScheduled, Initialized, ContainersReady and Ready.
pub fn pod_conditions(
    init_containers: &[ContainerRecord],
    containers: &[ContainerRecord],
    phase: &str,
    previous: &[PodCondition],
) -> Vec<PodCondition> {
    let incomplete: Vec<&ContainerRecord> = init_containers
        .iter()
        .filter(|record| !record.succeeded())
        .collect();
    let unready: Vec<&ContainerRecord> = containers
        .iter()
        .filter(|record| !record.is_ready())
        .collect();
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let ready = unready.is_empty() && !terminal;
    let unready_reason = if terminal {
        "PodCompleted"
    } else {
        "ContainersNotReady"
    };
    let unready_message =
        (!terminal).then(|| format!("containers with unready status: {}", names(&unready)));
    vec![
        condition("PodScheduled", true, None, None, previous),
        condition(
            "Initialized",
            incomplete.is_empty(),
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: {}",
                names(&incomplete)
            )),
            previous,
        ),
        condition(
            "ContainersReady",
            ready,
            Some(unready_reason),
            unready_message.clone(),
            previous,
        ),
        condition(
            "Ready",
            ready,
            Some(unready_reason),
            unready_message,
            previous,
        ),
    ]
}
