//! Running one container's guest: its WASI context (argv, env, working directory, the
//! preopened volumes, its log), its limits, and how it ended.

use std::path::PathBuf;
use std::sync::Arc;

use wasmkube_container_logs::LogStream;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_io::IoView;

use super::http::PodHttpHooks;
use super::{CompiledGuest, FuelMetering, GuestError, GuestLogOutput, GuestOutput, GuestRuntime};
use crate::attach::GuestStdin;
use crate::limits::cpu::{self, CpuQuota, CpuUsage, FUEL_PER_SLICE};
use crate::limits::memory::{MemoryLimiter, MemoryUsage, stop_when_oom_killed};
use crate::network::PodNetwork;
use crate::network::wasi::{PodSocketsState, PodSocketsView};

/// A host directory the guest sees at `guest_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestMount {
    pub guest_path: String,
    pub host_dir: PathBuf,
    pub read_only: bool,
}

/// Everything one run of a container needs.
pub struct GuestLaunch {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub mounts: Vec<GuestMount>,
    /// Where stdout and stderr go: the container's log, or memory for an exec probe.
    pub output: GuestOutput,
    pub memory_limit_bytes: u64,
    pub cpu_quota: Option<CpuQuota>,
    pub cpu_usage: Arc<CpuUsage>,
    pub memory_usage: Arc<MemoryUsage>,
    /// The pod's network; a container without one has every socket refused.
    pub network: Option<Arc<PodNetwork>>,
    /// The pod-network port a wasi:http component is served on (see
    /// [`super::container_http_port`]); None for a run that serves nothing (an exec
    /// probe), where an HTTP component fails to start.
    pub http_port: Option<u16>,
    /// The stdin pipe of a container with `stdin: true` (`crate::attach`); without one,
    /// stdin is at its end.
    pub stdin: Option<Arc<GuestStdin>>,
}

/// How a guest ended, in the terms of a container's `Terminated` state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestExit {
    pub exit_code: i32,
    /// Kubernetes' reason: `Completed`, `Error`, `OOMKilled` or `StartError`.
    pub reason: &'static str,
    /// What a user needs to know beyond the code, e.g. the trap that ended the guest.
    pub message: Option<String>,
}

/// The exit code of a process killed by SIGKILL, which the OOM killer sends.
pub const OOM_KILLED_EXIT_CODE: i32 = 137;
/// The exit code of a process ended by SIGABRT: a trap is a guest's abort (a Rust panic
/// in wasm is an `unreachable` trap).
pub const TRAPPED_EXIT_CODE: i32 = 134;

impl GuestExit {
    fn exited(exit_code: i32) -> GuestExit {
        GuestExit {
            exit_code,
            reason: if exit_code == 0 { "Completed" } else { "Error" },
            message: None,
        }
    }

    pub(super) fn start_error(error: &GuestError) -> GuestExit {
        GuestExit {
            exit_code: 128,
            reason: "StartError",
            message: Some(error.to_string()),
        }
    }
}

pub struct P2GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryLimiter,
    network: Option<Arc<PodNetwork>>,
    http: WasiHttpCtx,
    http_hooks: PodHttpHooks,
}

impl P2GuestState {
    /// Whether the instance tried to grow past the container's memory limit.
    pub(super) fn memory_exceeded(&self) -> bool {
        self.memory.exceeded()
    }
}

impl IoView for P2GuestState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl PodSocketsState for P2GuestState {
    fn pod_sockets(&mut self) -> PodSocketsView<'_> {
        PodSocketsView {
            table: &mut self.table,
            pod: self.network.as_ref(),
        }
    }
}

impl WasiView for P2GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for P2GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

pub struct P1GuestState {
    pub(super) wasi: WasiP1Ctx,
    memory: MemoryLimiter,
}

pub(super) fn wasi_builder(launch: &GuestLaunch) -> Result<WasiCtxBuilder, GuestError> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .args(&launch.argv)
        .envs(&launch.env)
        .stdout(GuestLogOutput::new(
            launch.output.clone(),
            LogStream::Stdout,
        ))
        .stderr(GuestLogOutput::new(
            launch.output.clone(),
            LogStream::Stderr,
        ))
        // wasi:sockets is the pod network's own implementation (network/wasi), linked in
        // place of wasmtime-wasi's; these switches keep wasmtime-wasi's host-network
        // one (which a p1 module's socket calls would reach) closed.
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(stdin) = launch.stdin.as_ref().and_then(|stdin| stdin.take_reader()) {
        builder.stdin(wasmtime_wasi::cli::AsyncStdinStream::new(stdin));
    }
    for mount in &launch.mounts {
        let permissions = if mount.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&mount.host_dir, &mount.guest_path, permissions)
            .map_err(|error| {
                GuestError::Sandbox(format!(
                    "cannot open {} for {}: {error}",
                    mount.host_dir.display(),
                    mount.guest_path
                ))
            })?;
    }
    if let Some(working_dir) = &launch.working_dir {
        builder.initial_cwd(working_dir);
    }
    Ok(builder)
}

impl GuestRuntime {
    /// Runs a container's guest until it exits. Dropping the returned future stops the
    /// guest at its next yield point: that is how a container is killed.
    /// An HTTP component's run lasts as long as its container: it serves requests until
    /// the future is dropped (`guest/http`).
    pub async fn run(&self, compiled: &CompiledGuest, launch: GuestLaunch) -> GuestExit {
        let exit = match compiled {
            CompiledGuest::P2Command(command) => {
                let mut store = match self.p2_store(&launch) {
                    Ok(store) => store,
                    Err(error) => return GuestExit::start_error(&error),
                };
                let outcome = cpu::metered(
                    stop_when_oom_killed(&launch.memory_usage, async {
                        let command = command.instantiate_async(&mut store).await?;
                        command.wasi_cli_run().call_run(&mut store).await
                    }),
                    launch.cpu_quota,
                    Arc::clone(&launch.cpu_usage),
                )
                .await;
                let oom = store.data().memory.exceeded();
                classify(outcome.map(|ran| if ran.is_ok() { 0 } else { 1 }), oom)
            }
            CompiledGuest::P1Command(module) => {
                let mut builder = match wasi_builder(&launch) {
                    Ok(builder) => builder,
                    Err(error) => return GuestExit::start_error(&error),
                };
                let state = P1GuestState {
                    wasi: builder.build_p1(),
                    memory: MemoryLimiter::new(
                        launch.memory_limit_bytes,
                        Arc::clone(&launch.memory_usage),
                        Arc::clone(&self.node_memory),
                    ),
                };
                let mut store = match self.metered_store(state, |state| &mut state.memory) {
                    Ok(store) => store,
                    Err(error) => return GuestExit::start_error(&error),
                };
                let outcome = cpu::metered(
                    stop_when_oom_killed(&launch.memory_usage, async {
                        let instance = module.instantiate_async(&mut store).await?;
                        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                        start.call_async(&mut store, ()).await
                    }),
                    launch.cpu_quota,
                    Arc::clone(&launch.cpu_usage),
                )
                .await;
                let oom = store.data().memory.exceeded();
                classify(outcome.map(|()| 0), oom)
            }
            CompiledGuest::HttpProxy(proxy) => super::http::serve(self, proxy, &launch).await,
        };
        launch.output.close();
        exit
    }

    /// A store for one p2 instance of the container: its WASI context, memory limit,
    /// pod network (sockets and outgoing wasi:http) and fuel. An HTTP component gets one
    /// per request.
    pub(super) fn p2_store(&self, launch: &GuestLaunch) -> Result<Store<P2GuestState>, GuestError> {
        let mut builder = wasi_builder(launch)?;
        let state = P2GuestState {
            wasi: builder.build(),
            table: ResourceTable::new(),
            memory: MemoryLimiter::new(
                launch.memory_limit_bytes,
                Arc::clone(&launch.memory_usage),
                Arc::clone(&self.node_memory),
            ),
            network: launch.network.clone(),
            http: WasiHttpCtx::new(),
            http_hooks: PodHttpHooks::new(launch.network.clone()),
        };
        self.metered_store(state, |state| &mut state.memory)
    }

    fn metered_store<T: Send>(
        &self,
        state: T,
        mut limiter: impl FnMut(&mut T) -> &mut MemoryLimiter + Send + Sync + 'static,
    ) -> Result<Store<T>, GuestError> {
        let mut store = Store::new(self.engine(), state);
        store.limiter_async(move |state| limiter(state) as &mut dyn wasmtime::ResourceLimiterAsync);
        if self.fuel_metering == FuelMetering::YieldEverySlice {
            // Fuel is the preemption point, not a budget: the tank never runs dry.
            store
                .set_fuel(u64::MAX)
                .and_then(|()| store.fuel_async_yield_interval(Some(FUEL_PER_SLICE)))
                .map_err(|error| GuestError::Engine(error.to_string()))?;
        }
        Ok(store)
    }
}

/// Maps the guest's outcome to a container exit: a normal return, `proc_exit(n)`, a trap,
/// or the memory limit.
fn classify(outcome: wasmtime::Result<i32>, out_of_memory: bool) -> GuestExit {
    if out_of_memory {
        return GuestExit {
            exit_code: OOM_KILLED_EXIT_CODE,
            reason: "OOMKilled",
            message: None,
        };
    }
    match outcome {
        Ok(code) => GuestExit::exited(code),
        Err(error) => match error.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => GuestExit::exited(*code),
            None => GuestExit {
                exit_code: TRAPPED_EXIT_CODE,
                reason: "Error",
                message: Some(format!("{error:#}")),
            },
        },
    }
}
