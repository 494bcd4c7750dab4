//! Latency samples and their percentiles. Samples are signed nanoseconds because a watch
//! event may reach a watcher before the create's own response reaches its client.

use std::time::{Duration, Instant};

/// The signed time from `from` to `to`, in nanoseconds.
pub fn nanoseconds_between(from: Instant, to: Instant) -> i64 {
    let nanoseconds = |duration: Duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
    match to.checked_duration_since(from) {
        Some(forward) => nanoseconds(forward),
        None => -nanoseconds(from.duration_since(to)),
    }
}

/// The distribution of a set of samples, by nearest rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub p50: i64,
    pub p99: i64,
    pub max: i64,
}

impl Summary {
    pub fn of(mut samples: Vec<i64>) -> Self {
        samples.sort_unstable();
        Self {
            count: samples.len(),
            p50: percentile(&samples, 50),
            p99: percentile(&samples, 99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

/// The smallest sample that at least `percent` percent of the samples do not exceed.
pub fn percentile(sorted: &[i64], percent: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Nanoseconds as milliseconds with two decimals, as the tables show them.
pub fn milliseconds(nanoseconds: i64) -> String {
    format!("{:.2}", nanoseconds as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let summary = Summary::of((1..=200).rev().collect());
        assert_eq!(
            summary,
            Summary {
                count: 200,
                p50: 100,
                p99: 198,
                max: 200
            }
        );
        assert_eq!(Summary::of(vec![7]).p99, 7);
        assert_eq!(
            Summary::of(Vec::new()),
            Summary {
                count: 0,
                p50: 0,
                p99: 0,
                max: 0
            }
        );
    }

    #[test]
    fn intervals_are_signed_and_shown_in_milliseconds() {
        let earlier = Instant::now();
        let later = earlier + Duration::from_micros(1500);
        assert_eq!(nanoseconds_between(earlier, later), 1_500_000);
        assert_eq!(nanoseconds_between(later, earlier), -1_500_000);
        assert_eq!(milliseconds(1_500_000), "1.50");
        assert_eq!(milliseconds(-250_000), "-0.25");
    }
}
