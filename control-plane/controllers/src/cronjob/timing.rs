//! Which scheduled time a CronJob should run now and when to look again
//! (`mostRecentScheduleTime`, `nextScheduleTime` and `nextScheduleTimeDuration` in
//! kube-controller-manager's cronjob `utils.go`), including the "too many missed start
//! times" estimate that keeps a CronJob whose clock is far off from walking decades of
//! schedule one activation at a time.

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::schedule::Schedule;

/// More missed activations than this are reported (TooManyMissedTimes).
const MANY_MISSED_SCHEDULES: i64 = 100;

/// Requeues aim this far past the next activation, to absorb small clock skews.
const NEXT_SCHEDULE_DELTA: SignedDuration = SignedDuration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissedSchedules {
    None,
    Few,
    Many,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    /// A schedule that parses but never fires, such as February 30th.
    #[error("time difference between two schedules is less than 1 second")]
    SchedulesTooClose,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleTimes {
    /// The last schedule time, or the CronJob's creation when it never ran.
    pub earliest: Timestamp,
    /// The latest activation at or before now and after `earliest`, if any.
    pub most_recent: Option<Timestamp>,
    pub missed: MissedSchedules,
}

/// What the timing of one CronJob depends on.
pub struct CronJobTiming<'a> {
    pub created: Timestamp,
    pub last_schedule: Option<Timestamp>,
    pub starting_deadline_seconds: Option<i64>,
    pub schedule: &'a Schedule,
    pub zone: &'a TimeZone,
}

impl CronJobTiming<'_> {
    fn next(&self, after: Timestamp) -> Option<Timestamp> {
        self.schedule.next_after(after, self.zone)
    }

    /// `mostRecentScheduleTime`. With `include_starting_deadline`, activations older
    /// than `startingDeadlineSeconds` are not considered.
    pub fn most_recent_schedule_time(
        &self,
        now: Timestamp,
        include_starting_deadline: bool,
    ) -> Result<ScheduleTimes, TimingError> {
        let mut earliest = self.last_schedule.unwrap_or(self.created);
        if include_starting_deadline && let Some(deadline) = self.starting_deadline_seconds {
            // A deadline reaching back before the representable past excludes nothing.
            if let Ok(scheduling_deadline) = now.checked_sub(SignedDuration::from_secs(deadline))
                && scheduling_deadline > earliest
            {
                earliest = scheduling_deadline;
            }
        }
        let none_missed = |most_recent| ScheduleTimes {
            earliest,
            most_recent,
            missed: MissedSchedules::None,
        };
        let first = self.next(earliest).ok_or(TimingError::SchedulesTooClose)?;
        if now < first {
            return Ok(none_missed(None));
        }
        let second = self.next(first).ok_or(TimingError::SchedulesTooClose)?;
        if now < second {
            return Ok(none_missed(Some(first)));
        }
        let between = second.duration_since(first).round(jiff::Unit::Second);
        let between_seconds = between.map_or(0, |between| between.as_secs());
        if between_seconds < 1 {
            return Err(TimingError::SchedulesTooClose);
        }
        // A rough count of the missed activations, from the interval between the first
        // two; the walk then starts one interval before the estimated latest, so that
        // irregular schedules (30 6-16/4 * * 1-5) still find the right one.
        let elapsed_seconds = now.duration_since(first).as_secs();
        let missed_count = elapsed_seconds / between_seconds + 1;
        let potential_earliest = first
            .checked_add(SignedDuration::from_secs(
                (missed_count - 2).saturating_mul(between_seconds),
            ))
            .unwrap_or(first);
        let mut most_recent = None;
        let mut candidate = self.next(potential_earliest);
        while let Some(time) = candidate.filter(|time| *time <= now) {
            most_recent = Some(time);
            candidate = self.next(time);
        }
        let missed = if missed_count > MANY_MISSED_SCHEDULES {
            MissedSchedules::Many
        } else if missed_count > 0 {
            MissedSchedules::Few
        } else {
            MissedSchedules::None
        };
        Ok(ScheduleTimes {
            earliest,
            most_recent,
            missed,
        })
    }

    /// `nextScheduleTime`: the activation to run now, if any, and whether too many were
    /// missed to list.
    pub fn time_to_run(
        &self,
        now: Timestamp,
    ) -> Result<(Option<Timestamp>, MissedSchedules), TimingError> {
        let times = self.most_recent_schedule_time(now, true)?;
        Ok((times.most_recent.filter(|time| *time <= now), times.missed))
    }

    /// `nextScheduleTimeDuration`: how long until the activation after the most recent
    /// one, plus a small margin; `None` when the schedule never fires again.
    pub fn delay_until_next(&self, now: Timestamp) -> Option<Duration> {
        let most_recent = match self.most_recent_schedule_time(now, false) {
            Err(_) => now,
            Ok(ScheduleTimes {
                most_recent: Some(most_recent),
                ..
            }) => most_recent,
            Ok(ScheduleTimes {
                earliest,
                missed: MissedSchedules::None,
                ..
            }) => earliest,
            Ok(_) => now,
        };
        let next = self
            .next(most_recent)?
            .checked_add(NEXT_SCHEDULE_DELTA)
            .ok()?;
        Some(Duration::try_from(next.duration_since(now)).unwrap_or(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    static UTC: TimeZone = TimeZone::UTC;

    fn timing<'a>(
        schedule: &'a Schedule,
        last_schedule: Option<&str>,
        deadline: Option<i64>,
    ) -> CronJobTiming<'a> {
        CronJobTiming {
            created: at("2025-01-01T00:00:30Z"),
            last_schedule: last_schedule.map(at),
            starting_deadline_seconds: deadline,
            schedule,
            zone: &UTC,
        }
    }

    #[test]
    fn nothing_is_due_before_the_first_activation() {
        let every_minute = Schedule::parse("* * * * *").expect("a schedule");
        let timing = timing(&every_minute, None, None);
        let (due, missed) = timing
            .time_to_run(at("2025-01-01T00:00:50Z"))
            .expect("timing");
        assert_eq!((due, missed), (None, MissedSchedules::None));
        assert_eq!(
            timing.delay_until_next(at("2025-01-01T00:00:50Z")),
            Some(Duration::from_millis(10_100))
        );
    }

    #[test]
    fn the_most_recent_of_several_missed_activations_runs() {
        let hourly = Schedule::parse("@hourly").expect("a schedule");
        let timing = timing(&hourly, Some("2025-01-01T01:00:00Z"), None);
        let now = at("2025-01-01T05:30:00Z");
        let (due, missed) = timing.time_to_run(now).expect("timing");
        assert_eq!(due, Some(at("2025-01-01T05:00:00Z")));
        assert_eq!(missed, MissedSchedules::Few);
        assert_eq!(
            timing.delay_until_next(now),
            Some(Duration::from_millis(1_800_100))
        );
    }

    #[test]
    fn too_many_missed_activations_are_reported_and_the_latest_still_runs() {
        let every_minute = Schedule::parse("*/1 * * * *").expect("a schedule");
        let timing = timing(&every_minute, Some("2025-01-01T00:00:00Z"), None);
        let now = at("2025-01-02T00:00:10Z");
        let (due, missed) = timing.time_to_run(now).expect("timing");
        assert_eq!(due, Some(at("2025-01-02T00:00:00Z")));
        assert_eq!(missed, MissedSchedules::Many);
    }

    #[test]
    fn a_starting_deadline_skips_what_is_too_late_to_start() {
        let hourly = Schedule::parse("0 * * * *").expect("a schedule");
        let timing = timing(&hourly, Some("2025-01-01T01:00:00Z"), Some(600));
        let (due, _) = timing
            .time_to_run(at("2025-01-01T05:30:00Z"))
            .expect("timing");
        assert_eq!(due, None);
        let (due, missed) = timing
            .time_to_run(at("2025-01-01T05:05:00Z"))
            .expect("timing");
        assert_eq!(due, Some(at("2025-01-01T05:00:00Z")));
        assert_eq!(missed, MissedSchedules::None);
    }

    #[test]
    fn deadlines_beyond_the_representable_times_do_not_break_the_arithmetic() {
        let hourly = Schedule::parse("0 * * * *").expect("a schedule");
        let timing = timing(&hourly, Some("2025-01-01T01:00:00Z"), Some(i64::MAX));
        let (due, _) = timing
            .time_to_run(at("2025-01-01T05:30:00Z"))
            .expect("timing");
        assert_eq!(due, Some(at("2025-01-01T05:00:00Z")));
    }

    #[test]
    fn a_schedule_that_never_fires_is_an_error() {
        let february_thirtieth = Schedule::parse("0 0 30 2 *").expect("a schedule");
        let timing = timing(&february_thirtieth, None, None);
        assert_eq!(
            timing.time_to_run(at("2025-06-01T00:00:00Z")),
            Err(TimingError::SchedulesTooClose)
        );
        assert_eq!(timing.delay_until_next(at("2025-06-01T00:00:00Z")), None);
    }
}
