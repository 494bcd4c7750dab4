//! The CronJob controller against the real API server with hollow nodes, on a clock the
//! test advances: runs on schedule, Forbid and Replace, history limits, suspension and
//! time zones, without waiting for real minutes.

mod batch_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use batch_support::{wait_for_condition, wait_for_event};
use futures::StreamExt;
use futures::stream::BoxStream;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::{HollowNode, TestControlPlane, eventually};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wasmkube_controllers::ControllerManagerOptions;
use wasmkube_controllers::cronjob::Clock;

const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// A clock that stands still until the test moves it.
struct TestClock {
    time: watch::Sender<Timestamp>,
}

impl TestClock {
    fn set(&self, time: Timestamp) {
        self.time.send_replace(time);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.time.borrow()
    }

    fn jumps(&self) -> BoxStream<'static, ()> {
        futures::stream::unfold(self.time.subscribe(), |mut receiver| async move {
            receiver.changed().await.ok()?;
            Some(((), receiver))
        })
        .boxed()
    }
}

/// The control plane with the CronJob controller on a test clock and the Job controller.
struct Bench {
    cluster: TestControlPlane,
    clock: Arc<TestClock>,
    _node: HollowNode,
    controllers: Vec<JoinHandle<()>>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        for controller in &self.controllers {
            controller.abort();
        }
    }
}

impl Bench {
    async fn start() -> Bench {
        let mut cluster = TestControlPlane::start().await;
        cluster.stop_controller_manager().await;
        let client = cluster.client.clone();
        let (time, _) = watch::channel(Timestamp::now());
        let clock = Arc::new(TestClock { time });
        let controllers = vec![
            tokio::spawn(wasmkube_controllers::cronjob::run_with_clock(
                client.clone(),
                clock.clone(),
            )),
            tokio::spawn(wasmkube_controllers::job::run(
                client,
                Arc::new(ControllerManagerOptions::default()),
            )),
        ];
        let node = cluster.hollow_node("hollow-1").await;
        Bench {
            cluster,
            clock,
            _node: node,
            controllers,
        }
    }

    fn client(&self) -> Client {
        self.cluster.client.clone()
    }

    fn cron_jobs(&self) -> Api<CronJob> {
        Api::namespaced(self.client(), "default")
    }

    async fn create(&self, name: &str, image: &str, spec: Value) -> CronJob {
        let mut full = json!({
            "schedule": "* * * * *",
            "jobTemplate": {"spec": {"backoffLimit": 0, "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": image}]},
            }}},
        });
        if let (Some(full), Some(extra)) = (full.as_object_mut(), spec.as_object()) {
            full.extend(extra.clone());
        }
        let cron_job: CronJob =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": full}))
                .expect("a cronjob");
        self.cron_jobs()
            .create(&PostParams::default(), &cron_job)
            .await
            .expect("the cronjob is created")
    }

    /// The names of the CronJob's Jobs, sorted.
    async fn jobs_of(&self, cron_job: &str) -> Vec<String> {
        let mut names: Vec<String> = Api::<Job>::namespaced(self.client(), "default")
            .list(&ListParams::default())
            .await
            .expect("the jobs are listed")
            .items
            .into_iter()
            .filter(|job| {
                job.owner_references()
                    .iter()
                    .any(|owner| owner.kind == "CronJob" && owner.name == cron_job)
            })
            .map(|job| job.name_any())
            .collect();
        names.sort();
        names
    }

    async fn wait_for_jobs(&self, cron_job: &str, expected: &[String]) {
        eventually(
            &format!("{cron_job}'s jobs to be {expected:?}"),
            Duration::from_secs(10),
            || async {
                let jobs = self.jobs_of(cron_job).await;
                if jobs == expected {
                    Ok(())
                } else {
                    Err(format!("{jobs:?}"))
                }
            },
        )
        .await;
    }

    /// Waits until the CronJob's status lists exactly these active Jobs.
    async fn wait_for_active(&self, cron_job: &str, expected: &[String]) -> CronJob {
        eventually(
            &format!("{cron_job}'s active jobs"),
            Duration::from_secs(10),
            || async {
                let found = self
                    .cron_jobs()
                    .get(cron_job)
                    .await
                    .map_err(|error| error.to_string())?;
                let mut active: Vec<String> = found
                    .status
                    .as_ref()
                    .and_then(|status| status.active.as_ref())
                    .into_iter()
                    .flatten()
                    .filter_map(|reference| reference.name.clone())
                    .collect();
                active.sort();
                if active == expected {
                    Ok(found)
                } else {
                    Err(format!("{active:?}"))
                }
            },
        )
        .await
    }
}

/// The first multiple of `minutes` minutes after `after`.
fn next_boundary(after: Timestamp, minutes: i64) -> Timestamp {
    let period = minutes * 60;
    Timestamp::from_second((after.as_second().div_euclid(period) + 1) * period).expect("a time")
}

fn just_after(time: Timestamp) -> Timestamp {
    time + jiff::SignedDuration::from_secs(1)
}

fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second() / 60)
}

/// Go's RFC 3339 layout, as the scheduled-timestamp annotation is written.
fn rfc3339(time: Timestamp, zone: &TimeZone) -> String {
    let zoned = time.to_zoned(zone.clone());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

#[tokio::test]
async fn a_cronjob_runs_on_schedule_with_the_test_clock() {
    let bench = Bench::start().await;
    let cron_job = bench
        .create(
            "ticker",
            "hollow/succeed",
            json!({"schedule": "*/5 * * * *"}),
        )
        .await;
    let first = next_boundary(bench.clock.now(), 5);
    bench.clock.set(just_after(first));
    let first_job = job_name("ticker", first);
    bench
        .wait_for_jobs("ticker", std::slice::from_ref(&first_job))
        .await;

    let job = wait_for_condition(
        &bench.client(),
        &first_job,
        "Complete",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        job.annotations().get(SCHEDULED_TIMESTAMP),
        Some(&rfc3339(first, &TimeZone::UTC)),
        "without a time zone the scheduled time is written in UTC"
    );
    let owner = &job.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("CronJob", Some(true))
    );
    assert_eq!(Some(&owner.uid), cron_job.metadata.uid.as_ref());
    wait_for_event(
        &bench.client(),
        "ticker",
        "SuccessfulCreate",
        &format!("Created job {first_job}"),
    )
    .await;
    wait_for_event(
        &bench.client(),
        "ticker",
        "SawCompletedJob",
        &format!("Saw completed job: {first_job}, condition: Complete"),
    )
    .await;
    let status = bench
        .wait_for_active("ticker", &[])
        .await
        .status
        .expect("a status");
    assert_eq!(status.last_schedule_time.map(|time| time.0), Some(first));
    assert!(status.last_successful_time.is_some());

    let second = first + jiff::SignedDuration::from_mins(5);
    bench.clock.set(just_after(second));
    bench
        .wait_for_jobs("ticker", &[first_job, job_name("ticker", second)])
        .await;
}

#[tokio::test]
async fn forbid_skips_while_a_job_runs_and_replace_replaces_it() {
    let bench = Bench::start().await;
    bench
        .create(
            "forbid",
            "hollow/run",
            json!({"concurrencyPolicy": "Forbid"}),
        )
        .await;
    bench
        .create(
            "replace",
            "hollow/run",
            json!({"concurrencyPolicy": "Replace"}),
        )
        .await;
    let first = next_boundary(bench.clock.now(), 1);
    bench.clock.set(just_after(first));
    for name in ["forbid", "replace"] {
        bench.wait_for_active(name, &[job_name(name, first)]).await;
    }

    let second = first + jiff::SignedDuration::from_mins(1);
    bench.clock.set(just_after(second));
    wait_for_event(
        &bench.client(),
        "forbid",
        "JobAlreadyActive",
        "Not starting job because prior execution is running and concurrency policy is Forbid",
    )
    .await;
    assert_eq!(bench.jobs_of("forbid").await, [job_name("forbid", first)]);

    let replacement = job_name("replace", second);
    bench
        .wait_for_jobs("replace", std::slice::from_ref(&replacement))
        .await;
    wait_for_event(
        &bench.client(),
        "replace",
        "SuccessfulDelete",
        &format!("Deleted job {}", job_name("replace", first)),
    )
    .await;
    bench.wait_for_active("replace", &[replacement]).await;
}

#[tokio::test]
async fn history_limits_delete_the_oldest_finished_jobs() {
    let bench = Bench::start().await;
    bench
        .create(
            "kept",
            "hollow/succeed",
            json!({"successfulJobsHistoryLimit": 2}),
        )
        .await;
    bench
        .create(
            "dropped",
            "hollow/fail",
            json!({"failedJobsHistoryLimit": 0}),
        )
        .await;
    let first = next_boundary(bench.clock.now(), 1);
    let runs: Vec<Timestamp> = (0..4)
        .map(|minute| first + jiff::SignedDuration::from_mins(minute))
        .collect();
    for run in &runs {
        bench.clock.set(just_after(*run));
        wait_for_condition(
            &bench.client(),
            &job_name("kept", *run),
            "Complete",
            Duration::from_secs(10),
        )
        .await;
    }
    let newest: Vec<String> = runs[2..].iter().map(|run| job_name("kept", *run)).collect();
    bench.wait_for_jobs("kept", &newest).await;
    for oldest in &runs[..2] {
        wait_for_event(
            &bench.client(),
            "kept",
            "SuccessfulDelete",
            &format!("Deleted job {}", job_name("kept", *oldest)),
        )
        .await;
    }
    // Every failed Job goes as soon as it has failed: the limit is zero.
    for run in &runs {
        wait_for_event(
            &bench.client(),
            "dropped",
            "SuccessfulDelete",
            &format!("Deleted job {}", job_name("dropped", *run)),
        )
        .await;
    }
    bench.wait_for_jobs("dropped", &[]).await;
}

#[tokio::test]
async fn a_suspended_cronjob_starts_nothing_until_resumed() {
    let bench = Bench::start().await;
    bench
        .create("sleeper", "hollow/succeed", json!({"suspend": true}))
        .await;
    bench.create("awake", "hollow/succeed", json!({})).await;
    let first = next_boundary(bench.clock.now(), 1);
    bench.clock.set(just_after(first));
    bench
        .wait_for_jobs("awake", &[job_name("awake", first)])
        .await;
    // Both were looked at on the clock's jump; nothing can show that a suspended CronJob
    // did nothing, so it is watched for a while.
    for _ in 0..10 {
        assert!(
            bench.jobs_of("sleeper").await.is_empty(),
            "a suspended cronjob started a job"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    bench
        .cron_jobs()
        .patch(
            "sleeper",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await
        .expect("the cronjob is resumed");
    // Resumed, it runs the activation it missed, as Kubernetes does without a starting
    // deadline.
    bench
        .wait_for_jobs("sleeper", &[job_name("sleeper", first)])
        .await;
}

/// The next 09:00 in `zone` after `after`.
fn next_nine_o_clock(after: Timestamp, zone: &TimeZone) -> Timestamp {
    let local = after.to_zoned(zone.clone());
    let today = local
        .date()
        .at(9, 0, 0, 0)
        .to_zoned(zone.clone())
        .expect("09:00 exists");
    let next = if today.timestamp() > after {
        today
    } else {
        today.tomorrow().expect("a next day")
    };
    next.timestamp()
}

#[tokio::test]
async fn the_time_zone_decides_when_a_cronjob_runs() {
    let bench = Bench::start().await;
    let zones = [("tokyo", "Asia/Tokyo"), ("london", "Europe/London")];
    for (name, zone) in zones {
        bench
            .create(
                name,
                "hollow/succeed",
                json!({"schedule": "0 9 * * *", "timeZone": zone}),
            )
            .await;
    }
    bench
        .create(
            "nowhere",
            "hollow/succeed",
            json!({"schedule": "0 9 * * *", "timeZone": "Mars/Olympus"}),
        )
        .await;
    let now = bench.clock.now();
    let mut activations: Vec<(Timestamp, &str, TimeZone)> = zones
        .iter()
        .map(|(name, zone)| {
            let zone = TimeZone::get(zone).expect("a known zone");
            (next_nine_o_clock(now, &zone), *name, zone)
        })
        .collect();
    activations.sort_by_key(|(time, _, _)| *time);
    for (time, name, _) in &activations {
        bench.clock.set(just_after(*time));
        bench.wait_for_jobs(name, &[job_name(name, *time)]).await;
    }
    // Each ran once, at nine in its own zone: had either run at the other's nine, its
    // Job for that time would still be there.
    for (time, name, zone) in &activations {
        let job_name = job_name(name, *time);
        assert_eq!(bench.jobs_of(name).await, std::slice::from_ref(&job_name));
        let job = Api::<Job>::namespaced(bench.client(), "default")
            .get(&job_name)
            .await
            .expect("the job");
        let scheduled = job
            .annotations()
            .get(SCHEDULED_TIMESTAMP)
            .cloned()
            .unwrap_or_default();
        assert_eq!(scheduled, rfc3339(*time, zone));
        assert!(scheduled.contains("T09:00:00"), "{scheduled}");
    }
    wait_for_event(
        &bench.client(),
        "nowhere",
        "UnknownTimeZone",
        "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus",
    )
    .await;
    assert!(bench.jobs_of("nowhere").await.is_empty());
}
