//! The CPU half of the stress: a busy loop that reports its pace once a second, so that
//! a CPU limit shows in the logs as fewer iterations per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Iterations between two looks at the clock: enough that reading the clock costs
/// nothing next to the loop, few enough that a slice lasts milliseconds even when the
/// guest is held to a small share of a core.
const ITERATIONS_PER_SLICE: u64 = 1 << 20;

/// How often the pace is reported.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// A busy loop's counters.
pub struct CpuBurner {
    counter: u64,
    iterations_since_report: u64,
    report_started: Instant,
}

impl CpuBurner {
    pub fn new(started: Instant) -> Self {
        Self {
            counter: 0,
            iterations_since_report: 0,
            report_started: started,
        }
    }

    /// Spins for one slice, then prints the pace if a report is due. The pace is scaled
    /// to one second, since a throttled slice can end well past the second.
    pub fn burn_slice(&mut self) {
        for _ in 0..ITERATIONS_PER_SLICE {
            self.counter = black_box(self.counter.wrapping_add(1));
        }
        self.iterations_since_report += ITERATIONS_PER_SLICE;
        let elapsed = self.report_started.elapsed();
        if elapsed >= REPORT_INTERVAL {
            let per_second = self.iterations_since_report as f64 / elapsed.as_secs_f64();
            println!("cpu: {per_second:.0} iterations in the last second");
            self.iterations_since_report = 0;
            self.report_started = Instant::now();
        }
    }
}
