//! Guests: compiling an image into something instantiable, and running one container's
//! guest to its exit under its limits (or, for a wasi:http component, serving its
//! requests until the container is stopped).

mod engine;
mod http;
mod kind;
mod linking;
mod output;
mod run;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use engine::{
    EngineSettings, FuelMetering, HostBudget, PoolDemand, PoolSizing, PoolSizingError,
};
pub use http::{DEFAULT_HTTP_PORT, container_http_port};
pub use output::{CapturedOutput, GuestLogOutput, GuestOutput};
pub use run::{GuestExit, GuestLaunch, GuestMount};

use crate::limits::node_memory::NodeMemory;
use run::{P1GuestState, P2GuestState};
use wasmtime::Engine;

#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    #[error("cannot set up the wasmtime engine: {0}")]
    Engine(String),
    #[error("cannot read the image file {path}: {source}")]
    ReadImage {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    UnsupportedBinary(String),
    #[error("cannot compile the image: {0}")]
    Compile(String),
    #[error("the image's imports cannot be satisfied: {0}")]
    Link(String),
    #[error("cannot prepare the container's sandbox: {0}")]
    Sandbox(String),
}

/// A compiled image, pre-linked so that each container start is only an instantiation.
pub enum CompiledGuest {
    /// A WASI p2 command component (exports `wasi:cli/run`).
    P2Command(wasmtime_wasi::p2::bindings::CommandPre<P2GuestState>),
    /// A WASI p1 core module (exports `_start`).
    P1Command(wasmtime::InstancePre<P1GuestState>),
    /// A wasi:http component (exports `wasi:http/incoming-handler@0.2.x`), served on the
    /// pod network with an instance per request.
    HttpProxy(wasmtime_wasi_http::p2::bindings::ProxyPre<P2GuestState>),
}

/// The node's engine, its linkers and the images compiled so far, by digest.
pub struct GuestRuntime {
    engine: Engine,
    component_linker: wasmtime::component::Linker<P2GuestState>,
    module_linker: wasmtime::Linker<P1GuestState>,
    compiled: Mutex<HashMap<String, Arc<CompiledGuest>>>,
    fuel_metering: FuelMetering,
    pool_sizing: PoolSizing,
    /// The node's memory, which all guests' memories share.
    node_memory: Arc<NodeMemory>,
}

impl GuestRuntime {
    /// The node's runtime: its guests are metered with fuel.
    pub fn new(settings: &EngineSettings) -> Result<GuestRuntime, GuestError> {
        GuestRuntime::with_fuel_metering(settings, FuelMetering::YieldEverySlice)
    }

    /// A runtime whose guests are metered as asked; only a benchmark that compares the
    /// two wants [`FuelMetering::Unmetered`].
    pub fn with_fuel_metering(
        settings: &EngineSettings,
        fuel_metering: FuelMetering,
    ) -> Result<GuestRuntime, GuestError> {
        let (engine, pool_sizing) = engine::build_engine(settings, fuel_metering)?;
        let link_error = |error: wasmtime::Error| GuestError::Engine(error.to_string());
        let mut component_linker = wasmtime::component::Linker::new(&engine);
        linking::add_wasi_to_linker(&mut component_linker).map_err(link_error)?;
        let mut module_linker = wasmtime::Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut module_linker, |state: &mut P1GuestState| {
            &mut state.wasi
        })
        .map_err(link_error)?;
        Ok(GuestRuntime {
            engine,
            component_linker,
            module_linker,
            compiled: Mutex::new(HashMap::new()),
            fuel_metering,
            pool_sizing,
            node_memory: Arc::new(NodeMemory::unlimited()),
        })
    }

    /// The runtime with its guests' memories sharing `node_memory` (by default nothing
    /// bounds their sum).
    pub fn with_node_memory(mut self, node_memory: Arc<NodeMemory>) -> GuestRuntime {
        self.node_memory = node_memory;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How the engine's instance pool was sized for this host.
    pub fn pool_sizing(&self) -> &PoolSizing {
        &self.pool_sizing
    }

    /// The compiled form of the image with this digest, compiling it (or loading it from
    /// the on-disk cache) the first time. Compilation runs on a blocking thread: it is
    /// CPU-bound and may take a second for a large component.
    pub async fn compile(
        self: &Arc<Self>,
        digest: &str,
        image_file: &Path,
    ) -> Result<Arc<CompiledGuest>, GuestError> {
        if let Some(compiled) = self.lookup(digest) {
            return Ok(compiled);
        }
        let runtime = Arc::clone(self);
        let path = image_file.to_path_buf();
        let compiled = tokio::task::spawn_blocking(move || runtime.compile_blocking(&path))
            .await
            .map_err(|error| GuestError::Compile(error.to_string()))??;
        let compiled = Arc::new(compiled);
        self.compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(digest.to_owned(), Arc::clone(&compiled));
        Ok(compiled)
    }

    fn lookup(&self, digest: &str) -> Option<Arc<CompiledGuest>> {
        self.compiled
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(digest)
            .cloned()
    }

    fn compile_blocking(&self, path: &Path) -> Result<CompiledGuest, GuestError> {
        let bytes = std::fs::read(path).map_err(|source| GuestError::ReadImage {
            path: path.display().to_string(),
            source,
        })?;
        let compile_error = |error: wasmtime::Error| GuestError::Compile(format!("{error:#}"));
        let link_error = |error: wasmtime::Error| GuestError::Link(format!("{error:#}"));
        match kind::binary_format(&bytes)? {
            kind::BinaryFormat::Component => {
                let component = wasmtime::component::Component::new(&self.engine, &bytes)
                    .map_err(compile_error)?;
                let component_kind = kind::component_kind(&self.engine, &component)?;
                let pre = self
                    .component_linker
                    .instantiate_pre(&component)
                    .map_err(link_error)?;
                Ok(match component_kind {
                    kind::ComponentKind::Command => CompiledGuest::P2Command(
                        wasmtime_wasi::p2::bindings::CommandPre::new(pre).map_err(link_error)?,
                    ),
                    kind::ComponentKind::HttpProxy => CompiledGuest::HttpProxy(
                        wasmtime_wasi_http::p2::bindings::ProxyPre::new(pre).map_err(link_error)?,
                    ),
                })
            }
            kind::BinaryFormat::CoreModule => {
                let module = wasmtime::Module::new(&self.engine, &bytes).map_err(compile_error)?;
                kind::check_core_module(&module)?;
                let pre = self
                    .module_linker
                    .instantiate_pre(&module)
                    .map_err(link_error)?;
                Ok(CompiledGuest::P1Command(pre))
            }
        }
    }
}
