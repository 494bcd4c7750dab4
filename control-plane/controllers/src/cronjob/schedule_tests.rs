//! The schedule math against what robfig/cron computes: fields, descriptors, time zones
//! and daylight-saving changes.

use super::*;

fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("a time zone")
}

/// The next `count` activations after `after`, in UTC.
fn activations(schedule: &str, after: &str, zone: &TimeZone, count: usize) -> Vec<String> {
    let schedule = Schedule::parse(schedule).expect("a valid schedule");
    let mut time = at(after);
    let mut found = Vec::new();
    for _ in 0..count {
        time = schedule.next_after(time, zone).expect("a next activation");
        found.push(time.to_string());
    }
    found
}

#[test]
fn fields_with_ranges_steps_lists_and_names() {
    assert_eq!(
        activations(
            "*/20 9-10 * * mon-fri",
            "2025-01-03T10:30:00Z",
            &TimeZone::UTC,
            4
        ),
        [
            "2025-01-03T10:40:00Z",
            "2025-01-06T09:00:00Z",
            "2025-01-06T09:20:00Z",
            "2025-01-06T09:40:00Z"
        ]
    );
    assert_eq!(
        activations(
            "5,35 */12 1 jan,jul ?",
            "2025-01-01T12:05:00Z",
            &TimeZone::UTC,
            3
        ),
        [
            "2025-01-01T12:35:00Z",
            "2025-07-01T00:05:00Z",
            "2025-07-01T00:35:00Z"
        ]
    );
    // "N/step" runs from N to the field's maximum.
    assert_eq!(
        activations("50/5 0 * * *", "2025-01-01T00:00:00Z", &TimeZone::UTC, 3),
        [
            "2025-01-01T00:50:00Z",
            "2025-01-01T00:55:00Z",
            "2025-01-02T00:50:00Z"
        ]
    );
}

#[test]
fn a_restricted_day_of_month_and_day_of_week_match_either() {
    // The 13th or any Friday; 2025-06-06 is a Friday.
    assert_eq!(
        activations("0 0 13 * fri", "2025-06-01T00:00:00Z", &TimeZone::UTC, 3),
        [
            "2025-06-06T00:00:00Z",
            "2025-06-13T00:00:00Z",
            "2025-06-20T00:00:00Z"
        ]
    );
    // With a star in one of them, both must match: only Fridays.
    assert_eq!(
        activations("0 0 * * 5", "2025-06-01T00:00:00Z", &TimeZone::UTC, 2),
        ["2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z"]
    );
}

#[test]
fn descriptors_are_their_five_field_equivalents() {
    let after = "2025-05-14T10:30:00Z";
    let first = |schedule| activations(schedule, after, &TimeZone::UTC, 1).remove(0);
    assert_eq!(first("@hourly"), "2025-05-14T11:00:00Z");
    assert_eq!(first("@daily"), "2025-05-15T00:00:00Z");
    assert_eq!(first("@midnight"), "2025-05-15T00:00:00Z");
    assert_eq!(first("@weekly"), "2025-05-18T00:00:00Z");
    assert_eq!(first("@monthly"), "2025-06-01T00:00:00Z");
    assert_eq!(first("@yearly"), "2026-01-01T00:00:00Z");
    assert_eq!(first("@annually"), "2026-01-01T00:00:00Z");
}

#[test]
fn every_adds_a_whole_second_delay() {
    assert_eq!(
        activations(
            "@every 1h30m",
            "2025-01-01T00:00:00.250Z",
            &TimeZone::UTC,
            2
        ),
        ["2025-01-01T01:30:00Z", "2025-01-01T03:00:00Z"]
    );
    assert_eq!(
        activations("@every 1500ms", "2025-01-01T00:00:00Z", &TimeZone::UTC, 1),
        ["2025-01-01T00:00:01Z"]
    );
}

#[test]
fn schedules_follow_the_time_zone() {
    assert_eq!(
        activations("0 9 * * *", "2025-03-01T00:00:00Z", &zone("Asia/Tokyo"), 2),
        ["2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"]
    );
    assert_eq!(
        activations(
            "0 0 * * *",
            "2025-03-01T00:00:00Z",
            &zone("Asia/Kolkata"),
            1
        ),
        ["2025-03-01T18:30:00Z"]
    );
}

#[test]
fn a_time_skipped_by_the_spring_change_does_not_run_that_day() {
    // New York skipped 02:00-03:00 on 2024-03-10.
    assert_eq!(
        activations(
            "30 2 * * *",
            "2024-03-09T12:00:00Z",
            &zone("America/New_York"),
            2
        ),
        ["2024-03-11T06:30:00Z", "2024-03-12T06:30:00Z"]
    );
    // An hourly schedule has one activation fewer that day.
    assert_eq!(
        activations(
            "0 * * * *",
            "2024-03-10T05:30:00Z",
            &zone("America/New_York"),
            3
        ),
        [
            "2024-03-10T06:00:00Z",
            "2024-03-10T07:00:00Z",
            "2024-03-10T08:00:00Z"
        ]
    );
    // A daily midnight schedule keeps its local midnight across the change.
    assert_eq!(
        activations(
            "0 0 * * *",
            "2024-03-09T12:00:00Z",
            &zone("America/New_York"),
            2
        ),
        ["2024-03-10T05:00:00Z", "2024-03-11T04:00:00Z"]
    );
}

#[test]
fn a_time_repeated_by_the_autumn_change_runs_twice() {
    // New York repeated 01:00-02:00 on 2024-11-03: 01:30 EDT, then 01:30 EST.
    assert_eq!(
        activations(
            "30 1 * * *",
            "2024-11-02T12:00:00Z",
            &zone("America/New_York"),
            3
        ),
        [
            "2024-11-03T05:30:00Z",
            "2024-11-03T06:30:00Z",
            "2024-11-04T06:30:00Z"
        ]
    );
}

#[test]
fn a_schedule_that_never_fires_has_no_next_activation() {
    let schedule = Schedule::parse("0 0 30 2 *").expect("a valid schedule");
    assert_eq!(
        schedule.next_after(at("2025-01-01T00:00:00Z"), &TimeZone::UTC),
        None
    );
}

#[test]
fn invalid_schedules_are_refused_with_robfig_messages() {
    let cases = [
        ("", "empty spec string"),
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
        (
            "5-1 * * * *",
            "beginning of range (5) beyond end of range (1): 5-1",
        ),
        (
            "*/0 * * * *",
            "step of range should be a positive number: */0",
        ),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("1/2/3 * * * *", "too many slashes: 1/2/3"),
        (
            "x * * * *",
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        (
            "@every 5x",
            "failed to parse duration @every 5x: time: invalid duration \"5x\"",
        ),
    ];
    for (schedule, message) in cases {
        assert_eq!(
            Schedule::parse(schedule)
                .map(|_| ())
                .map_err(|error| error.to_string()),
            Err(message.to_owned()),
            "{schedule:?}"
        );
    }
}
