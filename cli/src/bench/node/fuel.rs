//! What fuel metering costs a CPU-bound guest: the same fixed work on an engine that
//! meters fuel and yields every slice, as the node's does, and on one without fuel. Two
//! kinds of work: `testbox spin-count N`, the shortest loop there is (a counter, so fuel
//! is counted and checked every few instructions: the worst case), and `testbox
//! hash-count N`, ordinary compute (SipHash over a 4 KiB buffer, in long straight-line
//! runs).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use wasmkube_runtime::guest::{FuelMetering, PoolSizing};

use super::direct::{DirectRun, DirectRuntime};

/// A fixed amount of CPU-bound work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuelWork {
    /// `testbox spin-count ITERATIONS`.
    Spin { iterations: u64 },
    /// `testbox hash-count ROUNDS`.
    Hash { rounds: u64 },
}

impl FuelWork {
    pub fn argv(self) -> Vec<String> {
        let (applet, count) = match self {
            FuelWork::Spin { iterations } => ("spin-count", iterations),
            FuelWork::Hash { rounds } => ("hash-count", rounds),
        };
        vec!["testbox".to_owned(), applet.to_owned(), count.to_string()]
    }
}

pub struct FuelLoad {
    pub work: FuelWork,
    /// How many times each engine does the work; they take turns.
    pub rounds: usize,
}

/// The median of each engine's runs.
pub struct FuelReport {
    pub work: FuelWork,
    pub metered: RunTimes,
    pub unmetered: RunTimes,
    /// What the guest printed, the same on every run of both engines.
    pub output: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunTimes {
    pub wall: Duration,
    pub cpu: Duration,
}

impl FuelReport {
    /// How much longer the metered guest took, in CPU time, as a fraction.
    pub fn overhead(&self) -> f64 {
        self.metered.cpu.as_secs_f64() / self.unmetered.cpu.as_secs_f64() - 1.0
    }
}

/// The two engines, each with testbox compiled.
pub struct FuelRuntimes {
    metered: DirectRuntime,
    unmetered: DirectRuntime,
}

impl FuelRuntimes {
    /// Both engines, their memory pools within `address_space_bytes`.
    pub async fn start(testbox: &Path, address_space_bytes: u64) -> anyhow::Result<FuelRuntimes> {
        let start = |metering| DirectRuntime::start_within(testbox, metering, address_space_bytes);
        Ok(FuelRuntimes {
            metered: start(FuelMetering::YieldEverySlice).await?,
            unmetered: start(FuelMetering::Unmetered).await?,
        })
    }

    /// How both engines' memory pools are laid out (they are built alike).
    pub fn pool_sizing(&self) -> &PoolSizing {
        self.metered.pool_sizing()
    }
}

pub async fn run(runtimes: &FuelRuntimes, load: &FuelLoad) -> anyhow::Result<FuelReport> {
    let argv = load.work.argv();
    let rounds = load.rounds.max(1);
    let mut metered = Vec::new();
    let mut unmetered = Vec::new();
    let mut output: Option<String> = None;
    for round in 0..rounds {
        // Taking turns, and starting with the other engine every other round, spreads
        // whatever else the machine does evenly over both.
        let order = if round % 2 == 0 {
            [(&runtimes.metered, true), (&runtimes.unmetered, false)]
        } else {
            [(&runtimes.unmetered, false), (&runtimes.metered, true)]
        };
        for (runtime, is_metered) in order {
            let run = runtime.run(&argv, None).await?;
            let printed = guest_output(&run);
            check_output(load.work, &printed, output.as_deref())?;
            output.get_or_insert(printed);
            let times = RunTimes {
                wall: run.wall,
                cpu: run.cpu,
            };
            if is_metered {
                metered.push(times);
            } else {
                unmetered.push(times);
            }
        }
    }
    Ok(FuelReport {
        work: load.work,
        metered: median(metered).context("no metered run")?,
        unmetered: median(unmetered).context("no unmetered run")?,
        output: output.unwrap_or_default(),
    })
}

/// The messages of the guest's CRI log lines (`TIMESTAMP STREAM TAG MESSAGE`), joined.
fn guest_output(run: &DirectRun) -> String {
    run.log
        .lines()
        .filter_map(|line| line.splitn(4, ' ').nth(3))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Both engines must have done the same, whole work: spin-count prints its count, and
/// every run must print what the first one did.
fn check_output(work: FuelWork, printed: &str, first: Option<&str>) -> anyhow::Result<()> {
    if let FuelWork::Spin { iterations } = work {
        let expected = format!("iterations: {iterations}");
        anyhow::ensure!(
            printed == expected,
            "testbox printed {printed:?} instead of {expected:?}"
        );
    }
    anyhow::ensure!(!printed.is_empty(), "testbox printed nothing");
    if let Some(first) = first {
        anyhow::ensure!(
            printed == first,
            "two runs of the same work printed {first:?} and {printed:?}"
        );
    }
    Ok(())
}

/// The median wall time and the median CPU time, each on its own.
fn median(runs: Vec<RunTimes>) -> Option<RunTimes> {
    let middle = |mut values: Vec<Duration>| {
        values.sort_unstable();
        values.get(values.len() / 2).copied()
    };
    Some(RunTimes {
        wall: middle(runs.iter().map(|run| run.wall).collect())?,
        cpu: middle(runs.iter().map(|run| run.cpu).collect())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(wall_ms: u64, cpu_ms: u64) -> RunTimes {
        RunTimes {
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
        }
    }

    #[test]
    fn medians_are_taken_per_column_and_overhead_is_in_cpu_time() {
        assert_eq!(
            median(vec![times(30, 9), times(10, 11), times(20, 10)]),
            Some(times(20, 10))
        );
        assert_eq!(median(Vec::new()), None);
        let report = FuelReport {
            work: FuelWork::Hash { rounds: 1 },
            metered: times(1300, 1150),
            unmetered: times(1000, 1000),
            output: "hash: 1".to_owned(),
        };
        assert!((report.overhead() - 0.15).abs() < 1e-9);
    }

    #[test]
    fn every_run_must_print_the_same_whole_work() {
        let spin = FuelWork::Spin { iterations: 5 };
        assert!(check_output(spin, "iterations: 5", None).is_ok());
        assert_eq!(
            check_output(spin, "iterations: 4", None)
                .unwrap_err()
                .to_string(),
            "testbox printed \"iterations: 4\" instead of \"iterations: 5\""
        );
        let hash = FuelWork::Hash { rounds: 3 };
        assert!(check_output(hash, "hash: 0a", Some("hash: 0a")).is_ok());
        assert!(check_output(hash, "hash: 0b", Some("hash: 0a")).is_err());
        assert!(check_output(hash, "", None).is_err());
        assert_eq!(
            hash.argv(),
            ["testbox", "hash-count", "3"].map(str::to_owned)
        );
    }
}
