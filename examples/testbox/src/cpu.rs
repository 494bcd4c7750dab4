//! Applets that burn CPU, for tests of CPU limits and of a runtime that must stay
//! responsive while a guest never calls the host.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use crate::arguments::{AppletError, exactly, parse_seconds};

/// Iterations between two looks at the clock in `spin-for`.
const ITERATIONS_PER_CLOCK_CHECK: u64 = 1 << 20;

/// `spin`: loops forever without calling the host: no I/O and no clock, only a counter
/// kept alive by black_box so that the loop is not optimised away. Only the runtime's
/// preemption can take the CPU back.
pub fn spin(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("spin", arguments)?;
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// `spin-for SECONDS`: burns CPU for that many wall-clock seconds, then prints how many
/// iterations it managed, which is how a test measures the share of CPU it was given.
pub fn spin_for(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [seconds] = exactly("spin-for SECONDS", arguments)?;
    let duration = parse_seconds(seconds)?;
    let started = Instant::now();
    let mut iterations: u64 = 0;
    while started.elapsed() < duration {
        for _ in 0..ITERATIONS_PER_CLOCK_CHECK {
            iterations = black_box(iterations.wrapping_add(1));
        }
    }
    println!("iterations: {iterations}");
    Ok(ExitCode::SUCCESS)
}
