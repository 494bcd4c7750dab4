//! Sizing the instance pool from what the host allows a process: address space for the
//! memory slots, and memory mappings (`vm.max_map_count`) for the stacks and the memories
//! in use.
//!
//! What the pool costs, from wasmtime 48's pooling allocator:
//!
//! - Address space: every memory slot is `memory_reservation` (4 GiB by default, which is
//!   what lets compiled code skip bounds checks on a 32-bit memory) plus a guard region,
//!   reserved when the engine is built, used or not.
//! - Mappings: the stack pool makes every stack's guard page inaccessible when it is
//!   built, which splits its one mapping into two per stack, used or not. A memory slot in
//!   use (or kept warm for reuse) splits the slab's reservation around its accessible
//!   part: two more mappings, or four when its initial contents come from a
//!   copy-on-write image, which sits between the anonymous memory below and above it.
//!
//! The largest free range of a process's 128 TiB is the one below the executable, about
//! 85 TiB on x86-64, and Linux allows 65,530 mappings by default. A node of 10,000 pods,
//! sized the way a small node is (two containers per pod, two memories per container,
//! 4 GiB each, images mapped copy-on-write), would need 160 TiB and 80,000 mappings.

use std::path::Path;

/// Wasmtime's default reservation per memory on 64-bit hosts: with it, a 32-bit memory's
/// accesses need no bounds checks.
pub const FULL_MEMORY_RESERVATION_BYTES: u64 = 4 << 30;
/// Wasmtime's default guard region after each memory (and once before the slab).
const MEMORY_GUARD_BYTES: u64 = 32 << 20;
/// Memory sizes are whole wasm pages.
const WASM_PAGE_BYTES: u64 = 64 << 10;
/// Below this a memory slot is too small to be worth running a container in.
const SMALLEST_MEMORY_RESERVATION_BYTES: u64 = 64 << 20;

/// Linux's default `vm.max_map_count`, assumed where it cannot be read.
pub const DEFAULT_MAX_MAP_COUNT: u64 = 65_530;
/// Mappings left to the rest of the process: the executable and libraries, every
/// thread's stack and guard (up to 512 blocking threads), malloc's arenas, and each
/// compiled module's code.
const MAPPINGS_FOR_THE_REST_OF_THE_PROCESS: u64 = 4_096;
/// Each pooled stack is two mappings from the moment the pool exists: its guard page
/// and the stack.
const MAPPINGS_PER_STACK: u64 = 2;
/// A memory slot in use adds its accessible part and splits the reservation around it.
const MAPPINGS_PER_COPIED_MEMORY: u64 = 2;
/// With a copy-on-write image, the image's mapping sits in the middle of the accessible
/// part, between the anonymous memory below and above it.
const MAPPINGS_PER_IMAGED_MEMORY: u64 = 4;
/// Freed slots kept with their image for the next instance of the same module (wasmtime's
/// default); they keep their mappings too.
pub const WARM_MEMORY_SLOTS: u32 = 100;

/// A container is usually one memory (a Rust `wasm32-wasip2` command is); the pool has
/// room for two per container when the address space allows.
pub const MEMORIES_PER_CONTAINER: u32 = 2;

/// What the host allows one engine's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBudget {
    /// Address space the memory pool may reserve. Its slab is one mapping, so this must fit
    /// in the process's largest free range with room to spare.
    pub address_space_bytes: u64,
    /// The kernel's limit on the process's memory mappings.
    pub max_map_count: u64,
}

impl HostBudget {
    /// 64 TiB of address space: three quarters of the largest free range, so that the
    /// rest of the process (and a small second engine, as benchmarks build) still fits.
    pub const DEFAULT_ADDRESS_SPACE_BYTES: u64 = 64 << 40;

    /// This host's budget: the default address space and the kernel's `vm.max_map_count`.
    pub fn of_this_host() -> HostBudget {
        HostBudget {
            address_space_bytes: HostBudget::DEFAULT_ADDRESS_SPACE_BYTES,
            max_map_count: read_max_map_count(Path::new("/proc/sys/vm/max_map_count"))
                .unwrap_or(DEFAULT_MAX_MAP_COUNT),
        }
    }
}

fn read_max_map_count(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// How the pool is laid out for a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSizing {
    /// Containers (component instances, and async stacks) that can run at once.
    pub containers: u32,
    /// Memory slots, shared by all containers.
    pub memories: u32,
    /// Address space reserved per memory; below 4 GiB, compiled code checks bounds.
    pub memory_reservation_bytes: u64,
    /// The largest any one memory may grow.
    pub max_memory_bytes: u64,
    /// Whether memories start as copy-on-write mappings of the module's image (shared
    /// pages, two more mappings per memory) or as copies of its data.
    pub copy_on_write_images: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PoolSizingError {
    #[error(
        "{required} containers at once need more memory mappings than vm.max_map_count ({max_map_count}) allows: at most {possible} fit (raise vm.max_map_count, or lower the node's max pods)"
    )]
    TooManyMappings {
        required: u32,
        possible: u32,
        max_map_count: u64,
    },
    #[error(
        "{memories} memory slots do not fit in {address_space_gib} GiB of address space with at least {smallest_mib} MiB each"
    )]
    TooLittleAddressSpace {
        memories: u32,
        address_space_gib: u64,
        smallest_mib: u64,
    },
}

/// What the node asks of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolDemand {
    /// Containers that must be able to run at once (one per pod).
    pub required_containers: u32,
    /// Containers the pool holds when the budget allows (two per pod, for sidecars).
    pub wanted_containers: u32,
    /// The largest memory limit a container may have.
    pub max_container_memory_bytes: u64,
}

/// How many containers fit in the mapping budget, each with one memory in use, when each
/// memory in use costs `mappings_per_memory`.
fn containers_within_mappings(budget: &HostBudget, mappings_per_memory: u64) -> u32 {
    let usable = budget
        .max_map_count
        .saturating_sub(MAPPINGS_FOR_THE_REST_OF_THE_PROCESS)
        .saturating_sub(mappings_per_memory * u64::from(WARM_MEMORY_SLOTS));
    u32::try_from(usable / (MAPPINGS_PER_STACK + mappings_per_memory)).unwrap_or(u32::MAX)
}

fn round_down_to_wasm_pages(bytes: u64) -> u64 {
    bytes - bytes % WASM_PAGE_BYTES
}

impl PoolSizing {
    /// Sizes the pool for `demand` within `budget`. In order of preference:
    ///
    /// 1. Copy-on-write images (an instance's unwritten data pages are shared, and it
    ///    starts with one mapping call) while the wanted containers fit the mapping
    ///    budget with them; otherwise copied data, which halves what a memory costs in
    ///    mappings, with as many containers as fit, at least the required ones.
    /// 2. Full 4 GiB reservations (no bounds checks in compiled code) with two memories
    ///    per container while they fit the address space; otherwise as many full slots
    ///    as fit, while that is at least one per container; otherwise two smaller slots
    ///    per container, whose compiled code checks bounds.
    pub fn plan(demand: &PoolDemand, budget: &HostBudget) -> Result<PoolSizing, PoolSizingError> {
        let required = demand.required_containers.max(1);
        let wanted = demand.wanted_containers.max(required);
        let with_images = containers_within_mappings(budget, MAPPINGS_PER_IMAGED_MEMORY);
        let (copy_on_write_images, containers) = if wanted <= with_images {
            (true, wanted)
        } else {
            let copied = containers_within_mappings(budget, MAPPINGS_PER_COPIED_MEMORY);
            (false, wanted.min(copied))
        };
        if containers < required {
            return Err(PoolSizingError::TooManyMappings {
                required,
                possible: containers,
                max_map_count: budget.max_map_count,
            });
        }

        let wanted_memories = containers.saturating_mul(MEMORIES_PER_CONTAINER);
        let full_slot_bytes = FULL_MEMORY_RESERVATION_BYTES + MEMORY_GUARD_BYTES;
        let slab_bytes = budget
            .address_space_bytes
            .saturating_sub(MEMORY_GUARD_BYTES);
        let full_slots = u32::try_from(slab_bytes / full_slot_bytes).unwrap_or(u32::MAX);
        let (memories, memory_reservation_bytes) = if full_slots >= containers {
            (
                wanted_memories.min(full_slots),
                FULL_MEMORY_RESERVATION_BYTES,
            )
        } else {
            let slot_bytes = slab_bytes / u64::from(wanted_memories);
            let reservation =
                round_down_to_wasm_pages(slot_bytes.saturating_sub(MEMORY_GUARD_BYTES));
            if reservation < SMALLEST_MEMORY_RESERVATION_BYTES {
                return Err(PoolSizingError::TooLittleAddressSpace {
                    memories: wanted_memories,
                    address_space_gib: budget.address_space_bytes >> 30,
                    smallest_mib: SMALLEST_MEMORY_RESERVATION_BYTES >> 20,
                });
            }
            (wanted_memories, reservation)
        };
        Ok(PoolSizing {
            containers,
            memories,
            memory_reservation_bytes,
            max_memory_bytes: round_down_to_wasm_pages(
                demand
                    .max_container_memory_bytes
                    .min(memory_reservation_bytes)
                    .max(WASM_PAGE_BYTES),
            ),
            copy_on_write_images,
        })
    }

    /// Whether compiled code must check each memory access's bounds: it does unless a
    /// 32-bit memory's whole range is reserved.
    pub fn bounds_checked(&self) -> bool {
        self.memory_reservation_bytes < FULL_MEMORY_RESERVATION_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn demand_for_pods(pods: u32) -> PoolDemand {
        PoolDemand {
            required_containers: pods,
            wanted_containers: pods * 2,
            max_container_memory_bytes: 4 * GIB,
        }
    }

    fn default_host() -> HostBudget {
        HostBudget {
            address_space_bytes: HostBudget::DEFAULT_ADDRESS_SPACE_BYTES,
            max_map_count: DEFAULT_MAX_MAP_COUNT,
        }
    }

    #[test]
    fn a_small_node_keeps_images_full_reservations_and_room_for_sidecars() {
        let sizing = PoolSizing::plan(&demand_for_pods(1000), &default_host()).unwrap();
        assert_eq!(
            sizing,
            PoolSizing {
                containers: 2000,
                memories: 4000,
                memory_reservation_bytes: 4 * GIB,
                max_memory_bytes: 4 * GIB,
                copy_on_write_images: true,
            }
        );
        assert!(!sizing.bounds_checked());
    }

    #[test]
    fn ten_thousand_pods_fit_the_default_map_count_without_bounds_checks() {
        let sizing = PoolSizing::plan(&demand_for_pods(10_000), &default_host()).unwrap();
        assert!(!sizing.copy_on_write_images);
        assert!(!sizing.bounds_checked());
        assert!(sizing.containers >= 10_000 && sizing.containers < 20_000);
        assert!(sizing.memories >= sizing.containers);
        // Every stack, every container's one memory and the warm slots, with room left.
        let mappings = u64::from(sizing.containers)
            * (MAPPINGS_PER_STACK + MAPPINGS_PER_COPIED_MEMORY)
            + u64::from(WARM_MEMORY_SLOTS) * MAPPINGS_PER_COPIED_MEMORY;
        assert!(mappings + MAPPINGS_FOR_THE_REST_OF_THE_PROCESS <= DEFAULT_MAX_MAP_COUNT);
        let slab =
            u64::from(sizing.memories) * (sizing.memory_reservation_bytes + MEMORY_GUARD_BYTES);
        assert!(slab <= HostBudget::DEFAULT_ADDRESS_SPACE_BYTES);
    }

    #[test]
    fn more_containers_than_the_address_space_holds_at_4_gib_get_smaller_checked_slots() {
        let raised = HostBudget {
            max_map_count: 1 << 20,
            ..default_host()
        };
        let sizing = PoolSizing::plan(&demand_for_pods(20_000), &raised).unwrap();
        assert_eq!(sizing.containers, 40_000);
        assert_eq!(sizing.memories, 80_000);
        assert!(sizing.bounds_checked());
        assert_eq!(sizing.memory_reservation_bytes % WASM_PAGE_BYTES, 0);
        assert_eq!(sizing.max_memory_bytes, sizing.memory_reservation_bytes);
        let slab =
            u64::from(sizing.memories) * (sizing.memory_reservation_bytes + MEMORY_GUARD_BYTES);
        assert!(slab <= raised.address_space_bytes);
        assert!(sizing.memory_reservation_bytes > 700 << 20);
    }

    #[test]
    fn a_node_beyond_the_mapping_budget_is_refused_with_the_reason() {
        let error = PoolSizing::plan(&demand_for_pods(1_000_000), &default_host()).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("need more memory mappings than vm.max_map_count (65530) allows"),
            "{error}"
        );
        let tiny = HostBudget {
            address_space_bytes: 64 * GIB,
            max_map_count: 1 << 30,
        };
        let error = PoolSizing::plan(&demand_for_pods(1_000), &tiny).unwrap_err();
        assert!(
            matches!(error, PoolSizingError::TooLittleAddressSpace { .. }),
            "{error}"
        );
    }

    #[test]
    fn the_largest_memory_is_the_node_limit_in_whole_pages() {
        let demand = PoolDemand {
            max_container_memory_bytes: 100_000_000,
            ..demand_for_pods(10)
        };
        let sizing = PoolSizing::plan(&demand, &default_host()).unwrap();
        assert_eq!(
            sizing.max_memory_bytes,
            100_000_000 / WASM_PAGE_BYTES * WASM_PAGE_BYTES
        );
    }

    #[test]
    fn the_map_count_comes_from_proc_or_defaults() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("max_map_count");
        std::fs::write(&path, "262144\n").unwrap();
        assert_eq!(read_max_map_count(&path), Some(262_144));
        assert_eq!(read_max_map_count(&directory.path().join("missing")), None);
    }
}
