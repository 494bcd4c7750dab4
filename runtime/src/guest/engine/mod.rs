//! The node's one wasmtime engine: how guests are compiled, pooled and metered.

mod pool;

use std::path::PathBuf;

use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, OptLevel,
    PoolingAllocationConfig,
};

use super::GuestError;

pub use pool::{HostBudget, PoolDemand, PoolSizing, PoolSizingError};

/// The settings a node's engine is built with. Changing any of them changes the
/// compilation cache's key (wasmtime hashes the engine's settings into it).
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Where compiled modules are kept between runs of the node agent.
    pub compilation_cache_dir: PathBuf,
    /// What the instance pool must hold, and would like to.
    pub demand: PoolDemand,
    /// What the host allows the pool (address space, memory mappings).
    pub budget: HostBudget,
}

impl EngineSettings {
    /// Settings for a pool of exactly `containers` containers within this host's budget,
    /// each limited to `max_container_memory_bytes`.
    pub fn for_containers(
        compilation_cache_dir: PathBuf,
        containers: u32,
        max_container_memory_bytes: u64,
    ) -> EngineSettings {
        EngineSettings {
            compilation_cache_dir,
            demand: PoolDemand {
                required_containers: containers,
                wanted_containers: containers,
                max_container_memory_bytes,
            },
            budget: HostBudget::of_this_host(),
        }
    }
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
/// instances (the program, the WASI adapter and shims) with one memory.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;
const TABLES_PER_CONTAINER: u32 = 8;

/// Builds the engine: fuel metering (the CPU quota's preemption points) unless asked not
/// to, the pooling allocator sized by [`PoolSizing::plan`] (instances come from
/// pre-reserved slots, so a pod starts without mapping fresh memory), and the on-disk
/// compilation cache.
pub fn build_engine(
    settings: &EngineSettings,
    metering: FuelMetering,
) -> Result<(Engine, PoolSizing), GuestError> {
    let sizing = PoolSizing::plan(&settings.demand, &settings.budget)
        .map_err(|error| GuestError::Engine(error.to_string()))?;
    let containers = sizing.containers;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(containers)
        .total_core_instances(containers.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .total_memories(sizing.memories)
        .total_tables(containers.saturating_mul(TABLES_PER_CONTAINER))
        .total_stacks(containers)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(pool::MEMORIES_PER_CONTAINER)
        .max_memories_per_module(pool::MEMORIES_PER_CONTAINER)
        .max_tables_per_component(TABLES_PER_CONTAINER)
        .max_tables_per_module(TABLES_PER_CONTAINER)
        .max_memory_size(usize::try_from(sizing.max_memory_bytes).unwrap_or(usize::MAX))
        .max_unused_warm_slots(pool::WARM_MEMORY_SLOTS);

    let mut cache_config = CacheConfig::new();
    cache_config.with_directory(&settings.compilation_cache_dir);
    let cache = Cache::new(cache_config).map_err(|error| GuestError::Engine(error.to_string()))?;

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(metering == FuelMetering::YieldEverySlice)
        .cranelift_opt_level(OptLevel::Speed)
        .memory_reservation(sizing.memory_reservation_bytes)
        .memory_init_cow(sizing.copy_on_write_images)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .cache(Some(cache));
    let engine = Engine::new(&config).map_err(|error| GuestError::Engine(format!("{error:#}")))?;
    Ok((engine, sizing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(directory: &tempfile::TempDir, pods: u32) -> EngineSettings {
        EngineSettings {
            compilation_cache_dir: directory.path().to_path_buf(),
            demand: PoolDemand {
                required_containers: pods,
                wanted_containers: pods * 2,
                max_container_memory_bytes: 4 << 30,
            },
            budget: HostBudget::of_this_host(),
        }
    }

    fn engine(directory: &tempfile::TempDir, metering: FuelMetering) -> Engine {
        build_engine(&settings(directory, 1), metering).unwrap().0
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

    /// A memory of one page whose data segment the guest reads back, out-of-bounds loads,
    /// and growth.
    const PROBE: &str = r#"(module
        (memory 1)
        (data (i32.const 1024) "wasmkube")
        (func (export "load") (param i32) (result i64) (i64.load (local.get 0)))
        (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;

    /// Instantiates the probe on `engine` and checks what every layout must give a guest:
    /// its data, a trap past the end of its memory, and growth up to the pool's largest
    /// memory and no further.
    fn probe(engine: &Engine, sizing: &PoolSizing) {
        let module = wasmtime::Module::new(engine, PROBE).unwrap();
        let mut store = wasmtime::Store::new(engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        let load = instance
            .get_typed_func::<i32, i64>(&mut store, "load")
            .unwrap();
        let grow = instance
            .get_typed_func::<i32, i32>(&mut store, "grow")
            .unwrap();
        let data = i64::from_le_bytes(*b"wasmkube");
        assert_eq!(load.call(&mut store, 1024).unwrap(), data, "{sizing:?}");
        assert_eq!(load.call(&mut store, 65_536 - 8).unwrap(), 0, "{sizing:?}");
        let trap = load.call(&mut store, 65_536 - 4).unwrap_err();
        assert_eq!(
            trap.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::MemoryOutOfBounds),
            "{sizing:?}"
        );
        let pages = i32::try_from(sizing.max_memory_bytes / 65_536).unwrap();
        assert_eq!(grow.call(&mut store, pages).unwrap(), -1, "{sizing:?}");
        assert_eq!(grow.call(&mut store, pages - 1).unwrap(), 1, "{sizing:?}");
        assert_eq!(load.call(&mut store, 65_536).unwrap(), 0, "{sizing:?}");
        assert_eq!(grow.call(&mut store, 1).unwrap(), -1, "{sizing:?}");
    }

    #[test]
    fn every_pool_layout_gives_guests_their_data_bounds_and_growth() {
        let directory = tempfile::tempdir().unwrap();
        let (small_node, sizing) =
            build_engine(&settings(&directory, 1), FuelMetering::Unmetered).unwrap();
        assert!(sizing.copy_on_write_images && !sizing.bounds_checked());
        probe(&small_node, &sizing);

        // Built once in this test process: two would not fit its address space.
        let (large_node, sizing) =
            build_engine(&settings(&directory, 10_000), FuelMetering::Unmetered).unwrap();
        assert!(sizing.containers >= 10_000);
        assert!(!sizing.copy_on_write_images && !sizing.bounds_checked());
        probe(&large_node, &sizing);
        drop(large_node);

        let mut checked = settings(&directory, 1);
        checked.budget.address_space_bytes = 8 << 30;
        let (checked_node, sizing) = build_engine(&checked, FuelMetering::Unmetered).unwrap();
        assert!(sizing.bounds_checked(), "{sizing:?}");
        assert!(sizing.max_memory_bytes < 2 << 30, "{sizing:?}");
        probe(&checked_node, &sizing);
    }

    #[test]
    fn an_engine_the_host_cannot_hold_is_refused_before_mapping_anything() {
        let directory = tempfile::tempdir().unwrap();
        let Err(error) = build_engine(&settings(&directory, 1_000_000), FuelMetering::Unmetered)
        else {
            panic!("a pool of a million containers was built");
        };
        assert!(
            error
                .to_string()
                .starts_with("cannot set up the wasmtime engine: "),
            "{error}"
        );
    }
}
