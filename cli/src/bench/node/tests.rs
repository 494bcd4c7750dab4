//! The node benchmark's machinery on small numbers, with a real control plane, node
//! agent and testbox: it must count what the node did. Timings are checked only where
//! the mechanism guarantees a bound.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use wasmkube_runtime::guest::{FuelMetering, HostBudget};
use wasmkube_runtime::limits::cpu::CpuQuota;
use wasmkube_wasm_guests::{WasmTarget, guest};

use super::cluster::{BenchCluster, ControlPlaneHome, NODE_NAME};
use super::direct::DirectRuntime;
use super::running_watch::RunningWatch;
use super::{cpu_limits, file_image, fuel, idle_pods, startup, testbox};

fn testbox_wasm() -> PathBuf {
    guest("testbox", WasmTarget::P2)
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_and_idle_pods_are_counted_as_the_node_runs_them() {
    let cluster = BenchCluster::start(10, ControlPlaneHome::ThisProcess)
        .await
        .unwrap();
    let watch = RunningWatch::start(cluster.pods.clone()).await.unwrap();
    let image = file_image(&testbox_wasm());
    let load = startup::StartupLoad {
        concurrency: 2,
        pods: 3,
        name_prefix: "s-".to_owned(),
        image: image.clone(),
    };
    let report = startup::run(&cluster.pods, &watch, &load).await.unwrap();
    assert_eq!((report.concurrency, report.pods), (2, 3));
    assert_eq!(report.to_running.count, 3);
    assert!(report.to_acknowledged.p50 > 0);
    assert!(report.to_running.p50 >= report.to_acknowledged.p50);
    assert!(report.to_running.max <= report.elapsed.as_nanos() as i64);

    let mut checkpoints = Vec::new();
    let idle = idle_pods::IdleLoad {
        target: 5,
        batch: 2,
        report_every: 2,
        name_prefix: "i-".to_owned(),
        image,
    };
    let report = idle_pods::run(&cluster, &watch, &idle, |checkpoint| {
        checkpoints.push(checkpoint.running);
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(report.stopped_by, None);
    assert_eq!(report.last.running, 5);
    assert_eq!(checkpoints, [1, 3, 5]);
    // The control plane shares this process: there is no server process to measure.
    assert_eq!(report.last.memory.server_bytes, None);
    assert!(report.last.baseline.agent_bytes > 0);

    let pods = cluster
        .pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={NODE_NAME}")))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 8);
    assert!(
        pods.items.iter().all(|pod| phase(pod) == Some("Running")),
        "every pod the benchmark counted is Running"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_cannot_run_stops_the_idle_pods_with_its_reason() {
    let cluster = BenchCluster::start(4, ControlPlaneHome::ThisProcess)
        .await
        .unwrap();
    let watch = RunningWatch::start(cluster.pods.clone()).await.unwrap();
    let idle = idle_pods::IdleLoad {
        target: 3,
        batch: 1,
        report_every: 1,
        name_prefix: "missing-".to_owned(),
        image: "file:///nonexistent/testbox.wasm".to_owned(),
    };
    let error = idle_pods::run(&cluster, &watch, &idle, |_| Ok(()))
        .await
        .err()
        .expect("a pod whose image is missing does not run");
    let message = format!("{error:#}");
    assert!(
        message.contains("pod missing-0 does not run: container idle is waiting: ErrImagePull"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuel_is_compared_on_the_same_finished_work() {
    let runtimes =
        fuel::FuelRuntimes::start(&testbox_wasm(), HostBudget::DEFAULT_ADDRESS_SPACE_BYTES)
            .await
            .unwrap();
    let spin = fuel::FuelLoad {
        work: fuel::FuelWork::Spin {
            iterations: 20_000_000,
        },
        rounds: 2,
    };
    let report = fuel::run(&runtimes, &spin).await.unwrap();
    assert_eq!(report.output, "iterations: 20000000");
    let hash = fuel::FuelLoad {
        work: fuel::FuelWork::Hash { rounds: 500 },
        rounds: 1,
    };
    let report = fuel::run(&runtimes, &hash).await.unwrap();
    assert!(report.output.starts_with("hash: "), "{}", report.output);
    assert_eq!(report.output.len(), "hash: ".len() + 16);
    for times in [report.metered, report.unmetered] {
        assert!(times.cpu > Duration::ZERO);
        assert!(times.wall >= times.cpu.mul_f64(0.9), "{times:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engines_with_bounds_checked_memory_slots_do_the_same_work() {
    // Eight memory slots in 16 GiB: under 2 GiB each, so compiled code checks bounds.
    let runtimes = fuel::FuelRuntimes::start(&testbox_wasm(), 16 << 30)
        .await
        .unwrap();
    let sizing = runtimes.pool_sizing();
    assert!(sizing.bounds_checked(), "{sizing:?}");
    assert!(sizing.memory_reservation_bytes < 2 << 30, "{sizing:?}");
    let hash = fuel::FuelLoad {
        work: fuel::FuelWork::Hash { rounds: 500 },
        rounds: 1,
    };
    let checked = fuel::run(&runtimes, &hash).await.unwrap();
    let unchecked =
        fuel::FuelRuntimes::start(&testbox_wasm(), HostBudget::DEFAULT_ADDRESS_SPACE_BYTES)
            .await
            .unwrap();
    assert!(!unchecked.pool_sizing().bounds_checked());
    let report = fuel::run(&unchecked, &hash).await.unwrap();
    assert_eq!(checked.output, report.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmetered_guest_runs_but_a_cpu_limit_needs_fuel() {
    let testbox = testbox_wasm();
    let metered = DirectRuntime::start(&testbox, FuelMetering::YieldEverySlice)
        .await
        .unwrap();
    let report = cpu_limits::run(&metered, 500, Duration::from_millis(600))
        .await
        .unwrap();
    assert_eq!(report.quota, Some(CpuQuota { millicores: 500 }));
    assert!(report.throttled_periods > 0);
    assert!(report.share() <= 0.6, "500m got {:.3}", report.share());

    // Without fuel the guest never yields, so the quota cannot throttle it.
    let unmetered = DirectRuntime::start(&testbox, FuelMetering::Unmetered)
        .await
        .unwrap();
    let argv = ["testbox", "spin-for", "0.3"].map(str::to_owned).to_vec();
    let run = unmetered
        .run(&argv, Some(CpuQuota { millicores: 100 }))
        .await
        .unwrap();
    assert_eq!(run.throttled_periods, 0);
    assert!(run.log.contains(" iterations: "), "{}", run.log);
}

#[test]
fn a_missing_guest_names_the_build_to_run() {
    let directory = tempfile::tempdir().unwrap();
    let error = testbox(directory.path()).unwrap_err().to_string();
    assert!(
        error.contains("testbox.wasm does not exist: build the example guests first with `cargo build --release --manifest-path examples/Cargo.toml --target wasm32-wasip2`"),
        "{error}"
    );
}
