//! Running testbox straight on a guest runtime, without a cluster, for the measurements
//! of the CPU mechanism itself (fuel metering's cost, the CPU limit's accuracy): no API
//! server or pod worker shares the CPU with the guest.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use wasmkube_container_logs::{LogRoot, LogRotation};
use wasmkube_runtime::guest::{
    CompiledGuest, EngineSettings, FuelMetering, GuestLaunch, GuestRuntime, HostBudget, PoolSizing,
};
use wasmkube_runtime::limits::cpu::{CpuQuota, CpuUsage};

/// The memory limit of a benchmark guest: far more than a spinning loop needs.
const GUEST_MEMORY_LIMIT_BYTES: u64 = 64 << 20;

/// A guest runtime with testbox compiled, in its own temporary directory.
pub struct DirectRuntime {
    runtime: Arc<GuestRuntime>,
    testbox: Arc<CompiledGuest>,
    runs: AtomicU32,
    directory: tempfile::TempDir,
}

/// How one run went.
pub struct DirectRun {
    pub wall: Duration,
    /// The guest's CPU time, as the runtime accounts it for the CPU limit.
    pub cpu: Duration,
    pub throttled_periods: u64,
    /// What the guest wrote to stdout and stderr, as CRI log lines.
    pub log: String,
}

impl DirectRuntime {
    /// Builds an engine metered as asked and compiles testbox on it.
    pub async fn start(testbox: &Path, metering: FuelMetering) -> anyhow::Result<DirectRuntime> {
        let address_space_bytes = HostBudget::of_this_host().address_space_bytes;
        DirectRuntime::start_within(testbox, metering, address_space_bytes).await
    }

    /// Like [`DirectRuntime::start`], with a memory pool that may reserve
    /// `address_space_bytes`: a budget too small for 4 GiB slots gives smaller ones, whose
    /// compiled code checks bounds, as on a node with more containers than fit at 4 GiB.
    pub async fn start_within(
        testbox: &Path,
        metering: FuelMetering,
        address_space_bytes: u64,
    ) -> anyhow::Result<DirectRuntime> {
        let directory = tempfile::tempdir().context("cannot create a temporary directory")?;
        let mut settings = EngineSettings::for_containers(
            directory.path().join("compiled"),
            4,
            GUEST_MEMORY_LIMIT_BYTES,
        );
        settings.budget.address_space_bytes = address_space_bytes;
        let runtime = Arc::new(GuestRuntime::with_fuel_metering(&settings, metering)?);
        let compiled = runtime
            .compile("testbox", testbox)
            .await
            .with_context(|| format!("cannot compile {}", testbox.display()))?;
        Ok(DirectRuntime {
            runtime,
            testbox: compiled,
            runs: AtomicU32::new(0),
            directory,
        })
    }

    /// How the engine's memory pool was laid out.
    pub fn pool_sizing(&self) -> &PoolSizing {
        self.runtime.pool_sizing()
    }

    /// Runs testbox with `argv` (its first element is the program's name) under `quota`
    /// until it exits, which must be with code 0.
    pub async fn run(&self, argv: &[String], quota: Option<CpuQuota>) -> anyhow::Result<DirectRun> {
        let run = self.runs.fetch_add(1, Ordering::Relaxed);
        let name = format!("run-{run}");
        let log_dir = self.directory.path().join(&name);
        let logs = LogRoot::open(&log_dir, LogRotation::default())
            .with_context(|| format!("cannot open the logs in {}", log_dir.display()))?;
        let usage = Arc::new(CpuUsage::default());
        let launch = GuestLaunch {
            argv: argv.to_vec(),
            env: Vec::new(),
            working_dir: None,
            mounts: Vec::new(),
            output: logs
                .create_writer("bench", &name, &name, "guest", 0)
                .context("cannot create the guest's log")?
                .into(),
            memory_limit_bytes: GUEST_MEMORY_LIMIT_BYTES,
            cpu_quota: quota,
            cpu_usage: Arc::clone(&usage),
            memory_usage: Arc::default(),
            network: None,
            http_port: None,
            stdin: None,
        };
        let runtime = Arc::clone(&self.runtime);
        let testbox = Arc::clone(&self.testbox);
        let started = Instant::now();
        let exit = tokio::spawn(async move { runtime.run(&testbox, launch).await })
            .await
            .context("the guest's task failed")?;
        let wall = started.elapsed();
        let log = read_logs(&log_dir)?;
        anyhow::ensure!(
            exit.exit_code == 0,
            "testbox {} exited with {} ({}): {}; its log: {log}",
            argv.get(1..).unwrap_or_default().join(" "),
            exit.exit_code,
            exit.reason,
            exit.message.as_deref().unwrap_or("no message"),
        );
        Ok(DirectRun {
            wall,
            cpu: usage.used(),
            throttled_periods: usage.throttled_periods(),
            log,
        })
    }
}

/// Every log file under `directory` (a root holds one pod's directory, which holds one
/// directory per container), concatenated.
fn read_logs(directory: &Path) -> anyhow::Result<String> {
    let mut pending: Vec<PathBuf> = vec![directory.to_path_buf()];
    let mut text = String::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
            {
                pending.push(entry?.path());
            }
        } else {
            text.push_str(
                &std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
        }
    }
    Ok(text)
}
