//! The node's one wasmtime engine: how guests are compiled, pooled and metered.

use std::path::PathBuf;

use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, OptLevel,
    PoolingAllocationConfig,
};

use super::GuestError;

/// The settings a node's engine is built with. Changing any of them changes the
/// compilation cache's key (wasmtime hashes the engine's settings into it).
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Where compiled modules are kept between runs of the node agent.
    pub compilation_cache_dir: PathBuf,
    /// How many containers may run at once; the instance pool is sized for this.
    pub max_containers: u32,
    /// The largest memory one container may be given; the pool's memory slots are this
    /// big (as address space reservations, not committed memory).
    pub max_container_memory_bytes: u64,
}

/// Whether guests are metered with fuel. Fuel is what preempts a guest: without it a
/// guest that never calls the host cannot be throttled to its CPU limit nor stopped, so a
/// node always meters. Running unmetered exists to measure what metering costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuelMetering {
    /// Guests consume fuel and yield every [`crate::limits::cpu::FUEL_PER_SLICE`] units.
    YieldEverySlice,
    /// Guests run without fuel and never yield on their own.
    Unmetered,
}

/// Per-component pool limits. A Rust `wasm32-wasip2` command is a handful of core
/// instances (the program, the WASI adapter and shims) with one or two memories.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const MEMORIES_PER_CONTAINER: u32 = 2;
const TABLES_PER_CONTAINER: u32 = 8;

/// Builds the engine: fuel metering (the CPU quota's preemption points) unless asked not
/// to, the pooling allocator (instances come from pre-reserved slots, so a pod starts
/// without mapping fresh memory), and the on-disk compilation cache.
pub fn build_engine(
    settings: &EngineSettings,
    metering: FuelMetering,
) -> Result<Engine, GuestError> {
    let mut pool = PoolingAllocationConfig::new();
    let containers = settings.max_containers.max(1);
    pool.total_component_instances(containers)
        .total_core_instances(containers.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(containers.saturating_mul(MEMORIES_PER_CONTAINER))
        .total_tables(containers.saturating_mul(TABLES_PER_CONTAINER))
        .total_stacks(containers)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_CONTAINER)
        .max_memories_per_module(MEMORIES_PER_CONTAINER)
        .max_tables_per_component(TABLES_PER_CONTAINER)
        .max_tables_per_module(TABLES_PER_CONTAINER)
        .max_memory_size(
            usize::try_from(settings.max_container_memory_bytes).unwrap_or(usize::MAX),
        );

    let mut cache_config = CacheConfig::new();
    cache_config.with_directory(&settings.compilation_cache_dir);
    let cache = Cache::new(cache_config).map_err(|error| GuestError::Engine(error.to_string()))?;

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(metering == FuelMetering::YieldEverySlice)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .cache(Some(cache));
    Engine::new(&config).map_err(|error| GuestError::Engine(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(directory: &tempfile::TempDir, metering: FuelMetering) -> Engine {
        let settings = EngineSettings {
            compilation_cache_dir: directory.path().to_path_buf(),
            max_containers: 1,
            max_container_memory_bytes: 1 << 20,
        };
        build_engine(&settings, metering).unwrap()
    }

    #[test]
    fn only_a_metered_engine_gives_stores_fuel() {
        let directory = tempfile::tempdir().unwrap();
        let mut metered =
            wasmtime::Store::new(&engine(&directory, FuelMetering::YieldEverySlice), ());
        metered.set_fuel(1000).unwrap();
        assert_eq!(metered.get_fuel().unwrap(), 1000);
        let mut unmetered = wasmtime::Store::new(&engine(&directory, FuelMetering::Unmetered), ());
        assert!(unmetered.set_fuel(1000).is_err());
        assert!(unmetered.get_fuel().is_err());
    }
}
