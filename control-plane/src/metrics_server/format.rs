//! How metrics.k8s.io writes its numbers: CPU as a decimal quantity scaled to nanocores,
//! memory as a binary quantity of bytes (both in the canonical form of Kubernetes'
//! `Quantity.String()`, which the admission crate's quantities print), the window as Go
//! prints a duration, and timestamps with second precision as `metav1.Time` marshals
//! them.

use std::time::Duration;

use jiff::Timestamp;
use wasmkube_admission::quantity::{Quantity, QuantityFormat};

/// A CPU rate in nanocores as Kubernetes writes it: "123456n", "250m", "2", "0".
pub fn nanocores(value: u64) -> String {
    Quantity::parse(&format!("{value}n"))
        .map_or_else(|_| format!("{value}n"), |quantity| quantity.to_string())
}

/// A number of bytes as a binary quantity, as Kubernetes writes one: the largest power of
/// 1024 that divides it ("64Ki", "20Mi", "1000000"), and below 1024 the decimal form.
pub fn bytes(value: u64) -> String {
    Quantity::from_units(
        i64::try_from(value).unwrap_or(i64::MAX),
        QuantityFormat::BinarySi,
    )
    .to_string()
}

/// The digits of `fraction` (of `width` digits) without trailing zeros, after a point.
fn fraction_text(fraction: u64, width: usize) -> String {
    if fraction == 0 {
        return String::new();
    }
    let digits = format!("{fraction:0width$}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// A duration as Go's `time.Duration.String()` writes it ("15s", "5.012s", "1m0.5s",
/// "500ms"), which is how `metav1.Duration` marshals.
pub fn go_duration(duration: Duration) -> String {
    let nanoseconds = duration.as_nanos();
    if nanoseconds == 0 {
        return "0s".to_owned();
    }
    if nanoseconds < 1_000 {
        return format!("{nanoseconds}ns");
    }
    if nanoseconds < 1_000_000 {
        let fraction = u64::try_from(nanoseconds % 1_000).unwrap_or_default();
        return format!("{}{}µs", nanoseconds / 1_000, fraction_text(fraction, 3));
    }
    if nanoseconds < 1_000_000_000 {
        let fraction = u64::try_from(nanoseconds % 1_000_000).unwrap_or_default();
        return format!(
            "{}{}ms",
            nanoseconds / 1_000_000,
            fraction_text(fraction, 6)
        );
    }
    let total_seconds = duration.as_secs();
    let seconds = format!(
        "{}{}s",
        total_seconds % 60,
        fraction_text(u64::from(duration.subsec_nanos()), 9)
    );
    let minutes = total_seconds / 60;
    if minutes == 0 {
        return seconds;
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{minutes}m{seconds}");
    }
    format!("{hours}h{}m{seconds}", minutes % 60)
}

/// A time as `metav1.Time` marshals it: RFC 3339 in UTC, whole seconds.
pub fn rfc3339_seconds(time: Timestamp) -> String {
    Timestamp::from_second(time.as_second())
        .unwrap_or(time)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_takes_the_largest_suffix_that_keeps_it_whole() {
        assert_eq!(nanocores(0), "0");
        assert_eq!(nanocores(123_456), "123456n");
        assert_eq!(nanocores(1_234_000), "1234u");
        assert_eq!(nanocores(250_000_000), "250m");
        assert_eq!(nanocores(1_500_000_000), "1500m");
        assert_eq!(nanocores(2_000_000_000), "2");
    }

    #[test]
    fn memory_is_binary_when_it_can_be() {
        assert_eq!(bytes(0), "0");
        assert_eq!(bytes(512), "512");
        assert_eq!(bytes(1000), "1k");
        assert_eq!(bytes(65_536), "64Ki");
        assert_eq!(bytes(20 * 1024 * 1024), "20Mi");
        assert_eq!(bytes(25_231_360), "24640Ki");
        assert_eq!(bytes(1_000_000), "1000000");
        assert_eq!(bytes(1_000_001), "1000001");
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(15)), "15ns");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(15)), "15s");
        assert_eq!(go_duration(Duration::from_millis(5012)), "5.012s");
        assert_eq!(go_duration(Duration::from_millis(60_500)), "1m0.5s");
        assert_eq!(go_duration(Duration::from_secs(3605)), "1h0m5s");
    }

    #[test]
    fn times_have_whole_seconds() {
        let time = Timestamp::from_millisecond(1_700_000_000_987).expect("a time");
        assert_eq!(rfc3339_seconds(time), "2023-11-14T22:13:20Z");
    }
}
