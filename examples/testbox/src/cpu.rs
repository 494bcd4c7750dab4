//! Applets that burn CPU, for tests of CPU limits and of a runtime that must stay
//! responsive while a guest never calls the host.

use std::hash::{DefaultHasher, Hasher};
use std::hint::black_box;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crate::arguments::{AppletError, exactly, parse_count, parse_seconds};

/// Iterations between two looks at the clock in `spin-for`.
const ITERATIONS_PER_CLOCK_CHECK: u64 = 1 << 20;

/// What `hash-count` hashes each round: a page, like a block of a file being checksummed.
const HASHED_BYTES: usize = 4096;

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
    let iterations = burn_for(parse_seconds(seconds)?);
    println!("iterations: {iterations}");
    Ok(ExitCode::SUCCESS)
}

/// `spin-then-sleep SECONDS`: burns CPU as `spin-for` does, then idles until stopped: a
/// service whose load comes and goes, which an autoscaler must follow up and back down.
pub fn spin_then_sleep(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [seconds] = exactly("spin-then-sleep SECONDS", arguments)?;
    let iterations = burn_for(parse_seconds(seconds)?);
    println!("iterations: {iterations}");
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

/// Spins for `duration` of wall-clock time and returns how many iterations it managed.
fn burn_for(duration: Duration) -> u64 {
    let started = Instant::now();
    let mut iterations: u64 = 0;
    while started.elapsed() < duration {
        for _ in 0..ITERATIONS_PER_CLOCK_CHECK {
            iterations = black_box(iterations.wrapping_add(1));
        }
    }
    iterations
}

/// `spin-count ITERATIONS`: runs the loop of `spin-for` exactly that many times, then
/// prints the count. A fixed amount of work, unlike `spin-for`'s fixed time, so that two
/// runtimes can be timed on the same work.
pub fn spin_count(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [count] = exactly("spin-count ITERATIONS", arguments)?;
    let count = parse_count(count)?;
    let mut iterations: u64 = 0;
    for _ in 0..count {
        iterations = black_box(iterations.wrapping_add(1));
    }
    println!("iterations: {iterations}");
    Ok(ExitCode::SUCCESS)
}

/// `hash-count ROUNDS`: hashes a 4 KiB buffer with std's SipHash that many times, each
/// round's hash written into the buffer for the next, then prints the last hash. A fixed
/// amount of ordinary compute (arithmetic over memory, in long straight-line runs),
/// where `spin-count` is the shortest loop there is.
pub fn hash_count(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [rounds] = exactly("hash-count ROUNDS", arguments)?;
    let rounds = parse_count(rounds)?;
    let mut buffer = [0_u8; HASHED_BYTES];
    for (byte, value) in buffer.iter_mut().zip((0..=u8::MAX).cycle()) {
        *byte = value;
    }
    let mut hash: u64 = 0;
    for _ in 0..rounds {
        let mut hasher = DefaultHasher::new();
        hasher.write(&buffer);
        hash = hasher.finish();
        buffer[..8].copy_from_slice(&hash.to_le_bytes());
    }
    println!("hash: {hash:016x}");
    Ok(ExitCode::SUCCESS)
}
