//! Ages and durations, formatted like apimachinery's `duration.HumanDuration`.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::object_fields::value_at;

/// Shown for a timestamp that is unset, like Kubernetes' `translateTimestampSince`.
pub(crate) const UNKNOWN: &str = "<unknown>";

/// Formats a duration the way kubectl shows ages: about two significant figures, such as
/// "45s", "3m2s", "5h10m", "2d3h" or "3y20d".
pub fn human_duration(duration: SignedDuration) -> String {
    // Go truncates the seconds toward zero and tolerates up to two seconds of clock skew
    // (a slightly negative duration) as "now".
    let seconds = duration.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let remaining_seconds = seconds % 60;
        if remaining_seconds == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{remaining_seconds}s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let remaining_minutes = minutes % 60;
        if remaining_minutes == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{remaining_minutes}m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let remaining_hours = hours % 24;
        if remaining_hours == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{remaining_hours}h", hours / 24);
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let remaining_days = (hours / 24) % 365;
        if remaining_days == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{remaining_days}d", hours / 24 / 365);
    }
    format!("{}y", hours / 24 / 365)
}

/// Reads an RFC 3339 timestamp from the JSON field at `path`.
///
/// A missing, null or unparsable value, or Go's zero time ("0001-01-01T00:00:00Z"), is `None`:
/// Kubernetes treats all of those as an unset `metav1.Time`.
pub(crate) fn timestamp_at(object: &Value, path: &[&str]) -> Option<Timestamp> {
    let timestamp: Timestamp = value_at(object, path)?.as_str()?.parse().ok()?;
    let go_zero_time_seconds = -62_135_596_800;
    (timestamp.as_second() != go_zero_time_seconds || timestamp.subsec_nanosecond() != 0)
        .then_some(timestamp)
}

/// The human duration from `timestamp` to `now`, or "<unknown>" when the timestamp is unset.
pub(crate) fn time_since(timestamp: Option<Timestamp>, now: Timestamp) -> String {
    match timestamp {
        Some(timestamp) => human_duration(now.duration_since(timestamp)),
        None => UNKNOWN.to_string(),
    }
}

/// The AGE cell: the time since `metadata.creationTimestamp`.
pub(crate) fn age_cell(object: &Value, now: Timestamp) -> Value {
    Value::from(time_since(
        timestamp_at(object, &["metadata", "creationTimestamp"]),
        now,
    ))
}

/// Formats a timestamp like Go's `time.RFC3339` in UTC, which the default table convertor
/// uses for its "Created At" column; an unset timestamp prints as Go's zero time.
pub(crate) fn rfc3339_seconds(timestamp: Option<Timestamp>) -> String {
    match timestamp {
        Some(timestamp) => timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seconds(count: i64) -> SignedDuration {
        SignedDuration::from_secs(count)
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let cases = [
            (-3, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (182, "3m2s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 10 * 60 + 7, "5h10m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 59 * 60, "47h"),
            (48 * 3600, "2d"),
            (2 * 86400 + 3 * 3600, "2d3h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (750 * 86400, "2y20d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (input, expected) in cases {
            assert_eq!(human_duration(seconds(input)), expected, "for {input}s");
        }
    }

    #[test]
    fn sub_second_durations_truncate_toward_zero() {
        assert_eq!(human_duration(SignedDuration::from_millis(-1900)), "0s");
        assert_eq!(human_duration(SignedDuration::from_millis(1900)), "1s");
    }

    #[test]
    fn timestamps_that_are_missing_zero_or_invalid_are_unset() {
        let object = json!({
            "good": "2024-05-01T10:00:00Z",
            "zero": "0001-01-01T00:00:00Z",
            "bad": "yesterday",
            "null": null
        });
        assert!(timestamp_at(&object, &["good"]).is_some());
        assert_eq!(timestamp_at(&object, &["zero"]), None);
        assert_eq!(timestamp_at(&object, &["bad"]), None);
        assert_eq!(timestamp_at(&object, &["null"]), None);
        assert_eq!(timestamp_at(&object, &["missing"]), None);
    }

    #[test]
    fn age_is_unknown_without_a_creation_timestamp() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        assert_eq!(age_cell(&json!({}), now), json!("<unknown>"));
        let object = json!({"metadata": {"creationTimestamp": "2024-05-01T09:55:00Z"}});
        assert_eq!(age_cell(&object, now), json!("5m"));
    }

    #[test]
    fn rfc3339_drops_fractions_and_defaults_to_go_zero_time() {
        let timestamp: Timestamp = "2024-05-01T10:00:00.123456Z".parse().unwrap();
        assert_eq!(rfc3339_seconds(Some(timestamp)), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_seconds(None), "0001-01-01T00:00:00Z");
    }
}
