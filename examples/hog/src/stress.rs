//! The stress run: allocate memory at the asked pace while burning CPU if asked, on the
//! guest's one thread, until the run time is up or forever.

use std::process::{self, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

use crate::cpu::CpuBurner;
use crate::duration::format_duration;
use crate::flags::StressSettings;
use crate::memory::MemoryHog;
use crate::quantity::format_quantity;

/// How long an idle hog sleeps at a time once it has nothing left to do but wait.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// Runs the stress and returns the exit code once `-duration` has passed; without
/// `-duration` it never returns.
pub fn run(settings: &StressSettings) -> ExitCode {
    println!(
        "Allocating {} memory, in {} chunks, with a {} sleep between allocations",
        format_quantity(settings.mem_total),
        format_quantity(settings.mem_alloc_size),
        format_duration(settings.mem_alloc_sleep)
    );
    match settings.cpus {
        0 => {}
        1 => println!("Burning 1 CPU in a busy loop"),
        asked => println!(
            "Asked to burn {asked} CPUs, but a wasm guest has one thread: burning 1 CPU in a busy loop"
        ),
    }
    let started = Instant::now();
    let deadline = settings
        .duration
        .and_then(|duration| started.checked_add(duration));
    let run_time = settings.duration.zip(deadline);
    let mut memory = MemoryHog::new(settings.mem_total, settings.mem_alloc_size);
    let mut cpu = (settings.cpus > 0).then(|| CpuBurner::new(started));
    let mut next_allocation = started;
    let mut reported_allocated = false;
    loop {
        let now = Instant::now();
        if let Some((duration, deadline)) = run_time
            && now >= deadline
        {
            println!("Ran for {}: exiting", format_duration(duration));
            return ExitCode::SUCCESS;
        }
        if !memory.is_done() && now >= next_allocation {
            allocate_or_abort(&mut memory);
            next_allocation = Instant::now() + settings.mem_alloc_sleep;
            continue;
        }
        if memory.is_done() && !reported_allocated {
            println!("Allocated {} memory", format_quantity(memory.allocated()));
            reported_allocated = true;
        }
        match cpu.as_mut() {
            Some(burner) => burner.burn_slice(),
            None => {
                let pending_allocation = (!memory.is_done()).then_some(next_allocation);
                let wake = [pending_allocation, deadline].into_iter().flatten().min();
                thread::sleep(wake.map_or(IDLE_SLEEP, |wake| wake.saturating_duration_since(now)));
            }
        }
    }
}

/// Allocates the next chunk and reports it. When the allocator has no more memory the
/// guest aborts, as a process the kernel's OOM killer picks would die: the runtime
/// reports the container as OOMKilled.
fn allocate_or_abort(memory: &mut MemoryHog) {
    match memory.allocate_next_chunk() {
        Ok(size) => println!(
            "Allocated {} (total {})",
            format_quantity(size),
            format_quantity(memory.allocated())
        ),
        Err(error) => {
            eprintln!("hog: {error}");
            process::abort();
        }
    }
}
