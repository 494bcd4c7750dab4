//! Cron schedules as the CronJob controller reads them: robfig/cron v3's `ParseStandard`
//! (five fields with names, ranges, steps and `?`, the `@hourly`-style descriptors and
//! `@every <duration>`), and its `Next`, which walks the calendar in the schedule's time
//! zone. Across daylight-saving changes this behaves exactly as robfig/cron does: a time
//! that does not exist that day (02:30 when clocks jump from 02:00 to 03:00) is skipped,
//! and a time that happens twice (01:30 when clocks fall back) runs twice.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp, Zoned};

/// Set in a field parsed from `*` or `?` (without a step above one): day-of-month and
/// day-of-week then combine with AND instead of OR, as in robfig/cron.
const STAR_BIT: u64 = 1 << 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty spec string")]
    Empty,
    #[error("expected exactly 5 fields, found {found}: [{fields}]")]
    FieldCount { found: usize, fields: String },
    #[error("unrecognized descriptor: {0}")]
    UnknownDescriptor(String),
    #[error("failed to parse duration {descriptor}: time: invalid duration \"{duration}\"")]
    InvalidDuration {
        descriptor: String,
        duration: String,
    },
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),
    #[error("too many slashes: {0}")]
    TooManySlashes(String),
    #[error("failed to parse int from {0}: strconv.Atoi: parsing \"{0}\": invalid syntax")]
    NotANumber(String),
    #[error("negative number ({number}) not allowed: {expression}")]
    Negative { number: i64, expression: String },
    #[error("beginning of range ({start}) below minimum ({minimum}): {expression}")]
    BelowMinimum {
        start: i64,
        minimum: i64,
        expression: String,
    },
    #[error("end of range ({end}) above maximum ({maximum}): {expression}")]
    AboveMaximum {
        end: i64,
        maximum: i64,
        expression: String,
    },
    #[error("beginning of range ({start}) beyond end of range ({end}): {expression}")]
    BeyondEnd {
        start: i64,
        end: i64,
        expression: String,
    },
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
}

struct Bounds {
    minimum: i64,
    maximum: i64,
    names: &'static [(&'static str, i64)],
}

const MINUTES: Bounds = Bounds {
    minimum: 0,
    maximum: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    minimum: 0,
    maximum: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    minimum: 1,
    maximum: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    minimum: 1,
    maximum: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    minimum: 0,
    maximum: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Fields {
    minute: u64,
    hour: u64,
    day_of_month: u64,
    month: u64,
    day_of_week: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Fields(Fields),
    /// `@every`: a fixed delay, whole seconds and at least one.
    Every(SignedDuration),
}

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    kind: Kind,
}

fn has(bits: u64, value: impl Into<i64>) -> bool {
    u32::try_from(value.into()).is_ok_and(|value| value < 63 && bits & (1 << value) != 0)
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if let Some(descriptor) = text.strip_prefix('@') {
            return Schedule::parse_descriptor(descriptor, text);
        }
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(ScheduleError::FieldCount {
                found: fields.len(),
                fields: fields.join(" "),
            });
        };
        let fields = Fields {
            minute: parse_field(minute, &MINUTES)?,
            hour: parse_field(hour, &HOURS)?,
            day_of_month: parse_field(day_of_month, &DAYS_OF_MONTH)?,
            month: parse_field(month, &MONTHS)?,
            day_of_week: parse_field(day_of_week, &DAYS_OF_WEEK)?,
        };
        Ok(Schedule {
            kind: Kind::Fields(fields),
        })
    }

    fn parse_descriptor(descriptor: &str, text: &str) -> Result<Schedule, ScheduleError> {
        let standard = match descriptor {
            "yearly" | "annually" => "0 0 1 1 *",
            "monthly" => "0 0 1 * *",
            "weekly" => "0 0 * * 0",
            "daily" | "midnight" => "0 0 * * *",
            "hourly" => "0 * * * *",
            _ => {
                let Some(duration) = descriptor.strip_prefix("every ") else {
                    return Err(ScheduleError::UnknownDescriptor(text.to_owned()));
                };
                let delay =
                    parse_go_duration(duration).ok_or_else(|| ScheduleError::InvalidDuration {
                        descriptor: text.to_owned(),
                        duration: duration.to_owned(),
                    })?;
                // robfig/cron's Every: at least a second, rounded down to whole seconds.
                let seconds = delay.as_secs().max(1);
                return Ok(Schedule {
                    kind: Kind::Every(SignedDuration::from_secs(seconds)),
                });
            }
        };
        Schedule::parse(standard)
    }

    /// The first activation strictly after `after`, or `None` when there is none within
    /// five years (a schedule such as February 30th), as robfig/cron's zero time.
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(delay) => {
                let subsecond = SignedDuration::from_nanos(i64::from(after.subsec_nanosecond()));
                after.checked_add(*delay - subsecond).ok()
            }
            Kind::Fields(fields) => fields.next_after(after, zone),
        }
    }
}

fn parse_field(field: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    field
        .split(',')
        .filter(|range| !range.is_empty())
        .try_fold(0, |bits, range| Ok(bits | parse_range(range, bounds)?))
}

/// `getRange`: `*`, `?`, `a` or `a-b`, optionally followed by `/step`.
fn parse_range(expression: &str, bounds: &Bounds) -> Result<u64, ScheduleError> {
    let range_and_step: Vec<&str> = expression.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let (start, mut end, mut extra) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.minimum, bounds.maximum, STAR_BIT)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds)?;
        match low_and_high.len() {
            1 => (start, start, 0),
            2 => (start, parse_int_or_name(low_and_high[1], bounds)?, 0),
            _ => return Err(ScheduleError::TooManyHyphens(expression.to_owned())),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_number(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if low_and_high.len() == 1 {
                end = bounds.maximum;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(ScheduleError::TooManySlashes(expression.to_owned())),
    };
    let expression = expression.to_owned();
    if start < bounds.minimum {
        return Err(ScheduleError::BelowMinimum {
            start,
            minimum: bounds.minimum,
            expression,
        });
    }
    if end > bounds.maximum {
        return Err(ScheduleError::AboveMaximum {
            end,
            maximum: bounds.maximum,
            expression,
        });
    }
    if start > end {
        return Err(ScheduleError::BeyondEnd {
            start,
            end,
            expression,
        });
    }
    if step == 0 {
        return Err(ScheduleError::ZeroStep(expression));
    }
    // The range is within 0..=59 here, so every value is a valid bit position.
    let bits = (start..=end)
        .step_by(usize::try_from(step).unwrap_or(usize::MAX))
        .fold(0u64, |bits, value| bits | (1u64 << value));
    Ok(bits | extra)
}

fn parse_int_or_name(expression: &str, bounds: &Bounds) -> Result<i64, ScheduleError> {
    let lowercase = expression.to_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lowercase) {
        Some((_, value)) => Ok(*value),
        None => parse_number(expression),
    }
}

fn parse_number(expression: &str) -> Result<i64, ScheduleError> {
    let number: i64 = expression
        .parse()
        .map_err(|_| ScheduleError::NotANumber(expression.to_owned()))?;
    if number < 0 {
        return Err(ScheduleError::Negative {
            number,
            expression: expression.to_owned(),
        });
    }
    Ok(number)
}

/// Go's `time.ParseDuration`: signed decimal numbers with units ns, us/µs, ms, s, m, h.
fn parse_go_duration(text: &str) -> Option<SignedDuration> {
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Some(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_nanoseconds: f64 = 0.0;
    while !rest.is_empty() {
        let number_length = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let number: f64 = rest[..number_length].parse().ok()?;
        rest = &rest[number_length..];
        let unit_length = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanoseconds_per_unit = match &rest[..unit_length] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_nanoseconds += number * nanoseconds_per_unit;
        rest = &rest[unit_length..];
    }
    if !total_nanoseconds.is_finite() || total_nanoseconds > 9.2e18 {
        return None;
    }
    // The float holds at most 2^63 nanoseconds here, so the conversion cannot wrap.
    let nanoseconds = total_nanoseconds as i64;
    Some(SignedDuration::from_nanos(if negative {
        -nanoseconds
    } else {
        nanoseconds
    }))
}

impl Fields {
    /// `dayMatches`: with `*` in either day field both must match, otherwise either.
    fn day_matches(&self, time: &Zoned) -> bool {
        let day_of_month = has(self.day_of_month, time.day());
        let day_of_week = has(self.day_of_week, time.weekday().to_sunday_zero_offset());
        if self.day_of_month & STAR_BIT != 0 || self.day_of_week & STAR_BIT != 0 {
            day_of_month && day_of_week
        } else {
            day_of_month || day_of_week
        }
    }

    /// robfig/cron's `SpecSchedule.Next`, step for step: hours, minutes and seconds advance
    /// in absolute time, days and months on the calendar.
    fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(zone.clone());
        let to_next_second =
            SignedDuration::from_nanos(1_000_000_000 - i64::from(start.subsec_nanosecond()));
        let mut time = start.checked_add(to_next_second).ok()?;
        let mut added = false;
        let year_limit = time.year() + 5;
        'wrap: loop {
            if time.year() > year_limit {
                return None;
            }
            while !has(self.month, time.month()) {
                if !added {
                    added = true;
                    time = start_of_day(time.year(), time.month(), 1, zone)?;
                }
                time = time.checked_add(Span::new().months(1)).ok()?;
                if time.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&time) {
                if !added {
                    added = true;
                    time = start_of_day(time.year(), time.month(), time.day(), zone)?;
                }
                time = time.checked_add(Span::new().days(1)).ok()?;
                // A day that does not start at midnight (a DST change at midnight) is
                // moved back onto midnight, as robfig/cron does.
                let hour = i64::from(time.hour());
                if hour != 0 {
                    let shift = if hour > 12 { 24 - hour } else { -hour };
                    time = time.checked_add(SignedDuration::from_hours(shift)).ok()?;
                }
                if time.day() == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hour, time.hour()) {
                if !added {
                    added = true;
                    time = truncate(
                        &time,
                        i64::from(time.minute()) * 60 + i64::from(time.second()),
                    )?;
                }
                time = time.checked_add(SignedDuration::from_hours(1)).ok()?;
                if time.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.minute, time.minute()) {
                if !added {
                    added = true;
                    time = truncate(&time, i64::from(time.second()))?;
                }
                time = time.checked_add(SignedDuration::from_mins(1)).ok()?;
                if time.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Standard schedules fire at second zero.
            while time.second() != 0 {
                if !added {
                    added = true;
                    time = truncate(&time, 0)?;
                }
                time = time.checked_add(SignedDuration::from_secs(1)).ok()?;
                if time.second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(time.timestamp());
        }
    }
}

fn start_of_day(year: i16, month: i8, day: i8, zone: &TimeZone) -> Option<Zoned> {
    Date::new(year, month, day)
        .ok()?
        .to_zoned(zone.clone())
        .ok()
}

/// Drops `seconds` whole seconds and the fraction from `time`, in absolute time.
fn truncate(time: &Zoned, seconds: i64) -> Option<Zoned> {
    let back = SignedDuration::from_secs(seconds)
        + SignedDuration::from_nanos(i64::from(time.subsec_nanosecond()));
    time.checked_sub(back).ok()
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
