//! The Job controller against the real API server with hollow nodes: Indexed Jobs within
//! their parallelism, the back-off limit with its delays, the active deadline, suspension,
//! TTL after finished, the generated selector, and a status write that conflicts.

mod batch_support;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use batch_support::{
    condition, create_job, events_about, is_active, job, phase, pods_of, template,
    wait_for_condition, wait_for_event,
};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use support::{TestControlPlane, eventually};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wasmkube_controllers::job::{JobSettings, PodFailureBackoff};

const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// What a watch of the Job's pods saw: the most pods active at once, and when each pod
/// was first seen and first seen failed.
#[derive(Default)]
struct PodHistory {
    most_active: usize,
    first_seen: BTreeMap<String, Instant>,
    failed_at: BTreeMap<String, Instant>,
}

fn watch_pods(client: &Client, job_name: &str) -> (Arc<Mutex<PodHistory>>, JoinHandle<()>) {
    let history = Arc::new(Mutex::new(PodHistory::default()));
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let config =
        watcher::Config::default().labels(&format!("batch.kubernetes.io/job-name={job_name}"));
    let recorded = Arc::clone(&history);
    let task = tokio::spawn(async move {
        let mut active: HashMap<String, bool> = HashMap::new();
        let mut events = std::pin::pin!(watcher(pods, config).default_backoff().touched_objects());
        while let Some(Ok(pod)) = events.next().await {
            let name = pod.name_any();
            let now = Instant::now();
            let mut history = recorded.lock().expect("the history");
            history.first_seen.entry(name.clone()).or_insert(now);
            if phase(&pod) == "Failed" {
                history.failed_at.entry(name.clone()).or_insert(now);
            }
            active.insert(name, is_active(&pod));
            let now_active = active.values().filter(|active| **active).count();
            history.most_active = history.most_active.max(now_active);
        }
    });
    (history, task)
}

#[tokio::test]
async fn an_indexed_job_runs_every_index_once_within_its_parallelism() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    let (history, watch) = watch_pods(&client, "indexed");
    let created = create_job(
        &client,
        &job(
            "indexed",
            json!({"completionMode": "Indexed", "completions": 8, "parallelism": 4,
                   "template": template("hollow/succeed", 300)}),
        ),
    )
    .await;

    // The API server generated the selector and the template's labels from the uid.
    let uid = created.uid().expect("a uid");
    let spec = created.spec.clone().expect("a spec");
    assert_eq!(
        spec.selector.and_then(|selector| selector.match_labels),
        Some(BTreeMap::from([(
            "batch.kubernetes.io/controller-uid".to_owned(),
            uid.clone()
        )]))
    );
    let template_labels = spec
        .template
        .metadata
        .and_then(|m| m.labels)
        .unwrap_or_default();
    for (label, value) in [
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", "indexed"),
        ("job-name", "indexed"),
    ] {
        assert_eq!(
            template_labels.get(label).map(String::as_str),
            Some(value),
            "{label}"
        );
    }

    let finished =
        wait_for_condition(&client, "indexed", "Complete", Duration::from_secs(20)).await;
    watch.abort();
    let status = finished.status.clone().expect("a status");
    assert_eq!(status.succeeded, Some(8));
    assert_eq!(status.failed.unwrap_or(0), 0);
    assert_eq!(status.active.unwrap_or(0), 0);
    assert_eq!(status.completed_indexes.as_deref(), Some("0-7"));
    assert!(status.completion_time.is_some() && status.start_time.is_some());
    let met = condition(&finished, "SuccessCriteriaMet").expect("SuccessCriteriaMet");
    let complete = condition(&finished, "Complete").expect("Complete");
    for condition in [met, complete] {
        assert_eq!(condition.reason.as_deref(), Some("CompletionsReached"));
        assert_eq!(
            condition.message.as_deref(),
            Some("Reached expected number of succeeded pods")
        );
    }
    assert_eq!(history.lock().expect("the history").most_active, 4);

    let pods = pods_of(&client, "indexed").await;
    assert_eq!(pods.len(), 8, "one pod per index, none repeated");
    let mut succeeded_per_index: BTreeMap<i32, usize> = BTreeMap::new();
    for pod in &pods {
        let index: i32 = pod.annotations()[COMPLETION_INDEX]
            .parse()
            .expect("an index");
        assert_eq!(pod.labels()[COMPLETION_INDEX], index.to_string());
        assert!(pod.name_any().starts_with(&format!("indexed-{index}-")));
        let spec = pod.spec.as_ref().expect("a pod spec");
        assert_eq!(
            spec.hostname.as_deref(),
            Some(format!("indexed-{index}").as_str())
        );
        for container in &spec.containers {
            let variable = container
                .env
                .iter()
                .flatten()
                .find(|variable| variable.name == "JOB_COMPLETION_INDEX")
                .expect("JOB_COMPLETION_INDEX in every container");
            let field = variable
                .value_from
                .as_ref()
                .and_then(|source| source.field_ref.as_ref());
            assert_eq!(
                field.map(|field| field.field_path.as_str()),
                Some("metadata.labels['batch.kubernetes.io/job-completion-index']")
            );
        }
        assert!(
            pod.finalizers().is_empty(),
            "the tracking finalizer is removed once counted"
        );
        assert_eq!(phase(pod), "Succeeded");
        *succeeded_per_index.entry(index).or_default() += 1;
    }
    assert_eq!(
        succeeded_per_index,
        (0..8).map(|index| (index, 1)).collect()
    );

    wait_for_event(&client, "indexed", "Completed", "Job completed").await;
    let events = events_about(&client, "indexed").await;
    let created_pods = events
        .iter()
        .filter(|(reason, _)| reason == "SuccessfulCreate")
        .count();
    assert_eq!(created_pods, 8);
}

#[tokio::test]
async fn a_failing_job_stops_at_its_backoff_limit_after_backing_off() {
    let mut cluster = TestControlPlane::start().await;
    // The Job controller alone, with a back-off short enough for a test.
    cluster.stop_controller_manager().await;
    let settings = JobSettings {
        pod_failure_backoff: PodFailureBackoff {
            base: Duration::from_secs(2),
            maximum: Duration::from_secs(3),
        },
    };
    let controller = tokio::spawn(wasmkube_controllers::job::run_with_settings(
        cluster.client.clone(),
        settings,
    ));
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    let (history, watch) = watch_pods(&client, "failing");
    create_job(
        &client,
        &job(
            "failing",
            json!({"backoffLimit": 2, "template": template("hollow/fail", 0)}),
        ),
    )
    .await;

    let failed = wait_for_condition(&client, "failing", "Failed", Duration::from_secs(20)).await;
    let status = failed.status.clone().expect("a status");
    assert_eq!(status.failed, Some(3));
    assert_eq!(status.active.unwrap_or(0), 0);
    assert!(status.completion_time.is_none());
    for condition_type in ["FailureTarget", "Failed"] {
        let condition = condition(&failed, condition_type).expect(condition_type);
        assert_eq!(condition.reason.as_deref(), Some("BackoffLimitExceeded"));
        assert_eq!(
            condition.message.as_deref(),
            Some("Job has reached the specified backoff limit")
        );
    }
    let pods = pods_of(&client, "failing").await;
    assert_eq!(pods.len(), 3, "backoffLimit + 1 pods, no more");
    assert!(pods.iter().all(|pod| phase(pod) == "Failed"));

    // Each replacement waited for the back-off after the previous failure (2 s, then
    // 4 s capped at 3 s), less up to a second: finish times are kept to the second.
    {
        let history = history.lock().expect("the history");
        let mut order: Vec<(&Instant, &String)> = history
            .first_seen
            .iter()
            .map(|(name, seen)| (seen, name))
            .collect();
        order.sort();
        for (position, minimum) in [(1, Duration::from_secs(1)), (2, Duration::from_secs(2))] {
            let previous = order[position - 1].1;
            let waited = order[position]
                .0
                .duration_since(history.failed_at[previous]);
            assert!(
                waited >= minimum,
                "replacement {position} came after {waited:?}"
            );
        }
    }
    watch.abort();
    wait_for_event(
        &client,
        "failing",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    .await;
    controller.abort();
}

#[tokio::test]
async fn the_active_deadline_fails_the_job_and_deletes_its_pods() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    create_job(
        &client,
        &job(
            "deadline",
            json!({"activeDeadlineSeconds": 2, "parallelism": 2, "completions": 4,
                   "template": template("hollow/run", 0)}),
        ),
    )
    .await;
    eventually("two running pods", Duration::from_secs(10), || async {
        let running = pods_of(&client, "deadline")
            .await
            .iter()
            .filter(|pod| phase(pod) == "Running")
            .count();
        if running == 2 {
            Ok(())
        } else {
            Err(format!("{running} running"))
        }
    })
    .await;

    let failed = wait_for_condition(&client, "deadline", "Failed", Duration::from_secs(15)).await;
    let status = failed.status.clone().expect("a status");
    for condition_type in ["FailureTarget", "Failed"] {
        let condition = condition(&failed, condition_type).expect(condition_type);
        assert_eq!(condition.reason.as_deref(), Some("DeadlineExceeded"));
        assert_eq!(
            condition.message.as_deref(),
            Some("Job was active longer than specified deadline")
        );
    }
    assert_eq!(status.active.unwrap_or(0), 0);
    assert_eq!(status.terminating, Some(0));
    assert_eq!(
        status.failed,
        Some(2),
        "the deleted running pods count as failed"
    );
    // The deleted pods were let go once counted.
    assert!(pods_of(&client, "deadline").await.is_empty());
    wait_for_event(
        &client,
        "deadline",
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    .await;
    let events = events_about(&client, "deadline").await;
    assert_eq!(
        events
            .iter()
            .filter(|(reason, _)| reason == "SuccessfulDelete")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_suspended_job_starts_when_resumed() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    create_job(
        &client,
        &job(
            "later",
            json!({"suspend": true, "completions": 2, "template": template("hollow/succeed", 100)}),
        ),
    )
    .await;
    let suspended =
        wait_for_condition(&client, "later", "Suspended", Duration::from_secs(10)).await;
    let condition = condition(&suspended, "Suspended").expect("Suspended");
    assert_eq!(condition.reason.as_deref(), Some("JobSuspended"));
    assert!(
        suspended
            .status
            .as_ref()
            .and_then(|status| status.start_time.as_ref())
            .is_none()
    );
    assert!(pods_of(&client, "later").await.is_empty());

    jobs.patch(
        "later",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .expect("the job is resumed");
    let complete = wait_for_condition(&client, "later", "Complete", Duration::from_secs(15)).await;
    let suspended_condition = complete
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Suspended")
        })
        .expect("the Suspended condition stays");
    assert_eq!(suspended_condition.status, "False");
    assert_eq!(suspended_condition.reason.as_deref(), Some("JobResumed"));
    assert_eq!(complete.status.and_then(|status| status.succeeded), Some(2));
    wait_for_event(&client, "later", "Suspended", "Job suspended").await;
    wait_for_event(&client, "later", "Resumed", "Job resumed").await;
}

#[tokio::test]
async fn ttl_after_finished_deletes_the_job_and_its_pods() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    create_job(
        &client,
        &job(
            "short-lived",
            json!({"ttlSecondsAfterFinished": 1, "completions": 2, "parallelism": 2,
                                    "template": template("hollow/succeed", 0)}),
        ),
    )
    .await;
    wait_for_condition(&client, "short-lived", "Complete", Duration::from_secs(10)).await;
    assert_eq!(pods_of(&client, "short-lived").await.len(), 2);
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    eventually(
        "the finished job to be deleted",
        Duration::from_secs(10),
        || async {
            match jobs
                .get_opt("short-lived")
                .await
                .map_err(|error| error.to_string())?
            {
                None => Ok(()),
                Some(job) => Err(format!("still there: {:?}", job.status)),
            }
        },
    )
    .await;
    eventually(
        "its pods to be deleted",
        Duration::from_secs(10),
        || async {
            let left = pods_of(&client, "short-lived").await.len();
            if left == 0 {
                Ok(())
            } else {
                Err(format!("{left} pods left"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn the_running_pods_of_a_deleted_job_are_released_and_removed() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    create_job(
        &client,
        &job(
            "abandoned",
            json!({"parallelism": 2, "completions": 2, "template": template("hollow/run", 0)}),
        ),
    )
    .await;
    eventually("two running pods", Duration::from_secs(10), || async {
        let pods = pods_of(&client, "abandoned").await;
        let tracked = pods
            .iter()
            .filter(|pod| phase(pod) == "Running" && !pod.finalizers().is_empty())
            .count();
        if tracked == 2 {
            Ok(())
        } else {
            Err(format!("{tracked} tracked running pods"))
        }
    })
    .await;
    let background = kube::api::DeleteParams::background();
    Api::<Job>::namespaced(client.clone(), "default")
        .delete("abandoned", &background)
        .await
        .expect("the job is deleted");
    // No Job counts them any more, so their tracking finalizer goes and the garbage
    // collector's deletion completes.
    eventually("the pods to be gone", Duration::from_secs(15), || async {
        let left = pods_of(&client, "abandoned").await;
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{:?}",
                left.iter()
                    .map(|pod| (pod.name_any(), pod.finalizers().to_vec()))
                    .collect::<Vec<_>>()
            ))
        }
    })
    .await;
}

/// How many PUTs on jobs the API server answered with 409 Conflict so far.
async fn job_write_conflicts(client: &Client) -> u64 {
    let request = kube::core::Request::new("/metrics")
        .list(&ListParams::default())
        .expect("a request");
    let metrics = client.request_text(request).await.expect("the metrics");
    metrics
        .lines()
        .filter(|line| {
            line.starts_with("apiserver_request_total{verb=\"PUT\",resource=\"jobs\",code=\"409\"}")
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_conflicting_status_write_is_retried_and_the_job_ends_right() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let client = cluster.client.clone();
    let conflicts_before = job_write_conflicts(&client).await;
    create_job(
        &client,
        &job("contended", json!({"completions": 6, "parallelism": 2, "template": template("hollow/succeed", 200)})),
    )
    .await;
    // Another writer keeps changing the Job, so the controller's status writes, made with
    // the resourceVersion it read, keep meeting a newer Job.
    let writer_client = client.clone();
    let writer = tokio::spawn(async move {
        let jobs: Api<Job> = Api::namespaced(writer_client, "default");
        for tick in 0u64.. {
            let patch =
                json!({"metadata": {"annotations": {"example.com/tick": tick.to_string()}}});
            let _ = jobs
                .patch("contended", &PatchParams::default(), &Patch::Merge(patch))
                .await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let finished =
        wait_for_condition(&client, "contended", "Complete", Duration::from_secs(20)).await;
    writer.abort();
    assert!(
        job_write_conflicts(&client).await > conflicts_before,
        "the controller's status writes met conflicts"
    );
    let status = finished.status.expect("a status");
    assert_eq!(status.succeeded, Some(6));
    assert_eq!(status.failed.unwrap_or(0), 0);
    let uncounted = status.uncounted_terminated_pods.unwrap_or_default();
    assert!(
        uncounted.succeeded.unwrap_or_default().is_empty()
            && uncounted.failed.unwrap_or_default().is_empty()
    );
    let pods = pods_of(&client, "contended").await;
    assert_eq!(pods.len(), 6, "no pod was created twice");
    assert!(
        pods.iter()
            .all(|pod| phase(pod) == "Succeeded" && pod.finalizers().is_empty())
    );
}
