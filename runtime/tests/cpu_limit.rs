//! The CPU limit holds a CPU-bound guest to its share of a core while an unlimited one
//! gets a whole core. Its own test binary, so that no other test competes for the CPU.

use std::sync::Arc;
use std::time::Instant;

use wasmkube_container_logs::{LogRoot, LogRotation};
use wasmkube_runtime::guest::{EngineSettings, GuestLaunch, GuestRuntime};
use wasmkube_runtime::limits::cpu::{CpuQuota, CpuUsage};
use wasmkube_wasm_guests::{WasmTarget, guest};

const SPIN_SECONDS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_limited_to_500m_gets_half_a_core_and_an_unlimited_one_a_whole_core() {
    let directory = tempfile::tempdir().unwrap();
    let runtime = Arc::new(
        GuestRuntime::new(&EngineSettings::for_containers(
            directory.path().join("compiled"),
            4,
            1 << 30,
        ))
        .unwrap(),
    );
    let testbox = guest("testbox", WasmTarget::P2);
    let compiled = runtime.compile("testbox", &testbox).await.unwrap();
    let logs = LogRoot::open(directory.path().join("logs"), LogRotation::default()).unwrap();
    let run = |quota: Option<CpuQuota>, name: &str| {
        let usage = Arc::new(CpuUsage::default());
        let launch = GuestLaunch {
            argv: vec![
                "testbox".into(),
                "spin-for".into(),
                SPIN_SECONDS.to_string(),
            ],
            env: Vec::new(),
            working_dir: None,
            mounts: Vec::new(),
            output: logs
                .create_writer("default", name, name, "spin", 0)
                .unwrap()
                .into(),
            memory_limit_bytes: 64 << 20,
            cpu_quota: quota,
            cpu_usage: Arc::clone(&usage),
            memory_usage: Arc::default(),
            network: None,
            http_port: None,
            stdin: None,
        };
        let runtime = Arc::clone(&runtime);
        let compiled = Arc::clone(&compiled);
        tokio::spawn(async move {
            let started = Instant::now();
            let exit = runtime.run(&compiled, launch).await;
            (
                exit,
                usage.used().as_secs_f64() / started.elapsed().as_secs_f64(),
            )
        })
    };
    let limited = run(Some(CpuQuota { millicores: 500 }), "limited");
    let unlimited = run(None, "unlimited");
    let (limited_exit, limited_share) = limited.await.unwrap();
    let (unlimited_exit, unlimited_share) = unlimited.await.unwrap();
    assert_eq!((limited_exit.exit_code, unlimited_exit.exit_code), (0, 0));
    assert!(
        (0.45..=0.55).contains(&limited_share),
        "the 500m guest used {limited_share:.3} of a core"
    );
    assert!(
        (0.9..=1.05).contains(&unlimited_share),
        "the unlimited guest used {unlimited_share:.3} of a core"
    );
}
