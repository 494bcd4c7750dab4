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

/// The kubelet's phase rules (`getPhase`). `initialized` says the pod has been
/// initialized before (its Initialized condition was True), after which a sidecar that
/// is restarting no longer holds the pod in Pending. Terminated sidecars count for
/// nothing: they are stopped when the app containers are done.
pub fn pod_phase(
    init_containers: &[ContainerRecord],
    containers: &[ContainerRecord],
    restart: Restart,
    initialized: bool,
) -> &'static str {
    let (mut pending_regular_init, mut pending_sidecars, mut failed_initialization) = (0, 0, 0);
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for record in init_containers {
        let last_exit_code = record.last_terminated.as_ref().map(|last| last.exit_code);
        match (&record.phase, record.sidecar) {
            (ContainerPhase::Running { .. }, false) => pending_regular_init += 1,
            (ContainerPhase::Terminated(terminated), false) => {
                if terminated.exit_code != 0 {
                    failed_initialization += 1;
                }
            }
            (ContainerPhase::Waiting { .. }, false) => match last_exit_code {
                Some(0) => {}
                Some(_) => failed_initialization += 1,
                None => pending_regular_init += 1,
            },
            (ContainerPhase::Running { .. }, true) => {
                if !record.is_started() {
                    pending_sidecars += 1;
                }
                running += 1;
            }
            (ContainerPhase::Terminated(_), true) => {}
            (ContainerPhase::Waiting { .. }, true) => {
                if last_exit_code.is_none() {
                    pending_sidecars += 1;
                }
            }
        }
    }
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
    if failed_initialization > 0 && restart == Restart::Never {
        "Failed"
    } else if pending_regular_init > 0 || (pending_sidecars > 0 && !initialized) || waiting > 0 {
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

/// PodScheduled, Initialized, ContainersReady and Ready. Once `initialized`, the pod
/// stays Initialized; sidecars count towards readiness like app containers.
pub fn pod_conditions(
    init_containers: &[ContainerRecord],
    containers: &[ContainerRecord],
    phase: &str,
    initialized: bool,
    previous: &[PodCondition],
) -> Vec<PodCondition> {
    let incomplete: Vec<&ContainerRecord> = if initialized {
        Vec::new()
    } else {
        init_containers
            .iter()
            .filter(|record| {
                if record.sidecar {
                    !record.is_started()
                } else {
                    !record.succeeded()
                }
            })
            .collect()
    };
    let unready: Vec<&ContainerRecord> = init_containers
        .iter()
        .filter(|record| record.sidecar)
        .chain(containers)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::GuestExit;
    use crate::pod::backoff::BackoffSettings;

    fn record(name: &str, sidecar: bool) -> ContainerRecord {
        let mut record = ContainerRecord::new(name, "testbox:1", BackoffSettings::default());
        record.sidecar = sidecar;
        record
    }

    fn running(mut record: ContainerRecord) -> ContainerRecord {
        record.started(tokio::spawn(async {}).abort_handle());
        record
    }

    fn exited(mut record: ContainerRecord, exit_code: i32) -> ContainerRecord {
        record.started(tokio::spawn(async {}).abort_handle());
        let reason = if exit_code == 0 { "Completed" } else { "Error" };
        record.exited(
            GuestExit {
                exit_code,
                reason,
                message: None,
            },
            "uid",
        );
        record
    }

    #[tokio::test]
    async fn a_started_sidecar_lets_the_pod_initialize_and_run() {
        let init = [running(record("proxy", true))];
        let app = [running(record("app", false))];
        assert!(init[0].initialized());
        assert_eq!(pod_phase(&init, &app, Restart::Always, true), "Running");
        let conditions = pod_conditions(&init, &app, "Running", false, &[]);
        let statuses: Vec<(&str, &str)> = conditions
            .iter()
            .map(|condition| (condition.type_.as_str(), condition.status.as_str()))
            .collect();
        assert_eq!(
            statuses,
            [
                ("PodScheduled", "True"),
                ("Initialized", "True"),
                ("ContainersReady", "True"),
                ("Ready", "True")
            ]
        );
    }

    #[tokio::test]
    async fn a_sidecar_not_yet_started_keeps_the_pod_pending_only_before_initialization() {
        let init = [record("proxy", true)];
        let app = [record("app", false)];
        assert!(!init[0].initialized());
        assert_eq!(pod_phase(&init, &app, Restart::Never, false), "Pending");
        let conditions = pod_conditions(&init, &app, "Pending", false, &[]);
        assert_eq!(
            conditions[1].message.as_deref(),
            Some("containers with incomplete status: [proxy]")
        );
        assert_eq!(
            conditions[3].message.as_deref(),
            Some("containers with unready status: [proxy app]")
        );
    }

    #[tokio::test]
    async fn a_jobs_pod_succeeds_once_its_app_is_done_and_its_sidecar_stopped() {
        let app = [exited(record("app", false), 0)];
        // While the sidecar still runs, the pod runs.
        let init = [running(record("proxy", true))];
        assert_eq!(pod_phase(&init, &app, Restart::Never, true), "Running");
        // Stopped (exit 143), it counts for nothing.
        let init = [exited(record("proxy", true), 143)];
        assert_eq!(pod_phase(&init, &app, Restart::Never, true), "Succeeded");
        let failed_app = [exited(record("app", false), 1)];
        assert_eq!(
            pod_phase(&init, &failed_app, Restart::Never, true),
            "Failed"
        );
    }

    #[tokio::test]
    async fn a_failed_regular_init_container_fails_a_pod_that_never_restarts() {
        let init = [
            running(record("proxy", true)),
            exited(record("setup", false), 1),
        ];
        let app = [record("app", false)];
        assert_eq!(pod_phase(&init, &app, Restart::Never, false), "Failed");
        assert_eq!(pod_phase(&init, &app, Restart::OnFailure, false), "Pending");
    }
}
