//! Durations written the way Go's `time.ParseDuration` reads them (`1s`, `100ms`, `1m30s`,
//! `1.5s`), since vish/stress takes its `-mem-alloc-sleep` flag in that form.

use std::fmt;
use std::time::Duration;

/// The units Go accepts, in nanoseconds.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Why a duration could not be read, worded as Go's `time` package words it.
#[derive(Debug, PartialEq, Eq)]
pub enum DurationError {
    /// The text is not a sequence of numbers with units.
    Invalid(String),
    /// A number has no unit after it.
    MissingUnit(String),
    /// A number is followed by something that is not one of Go's units.
    UnknownUnit { unit: String, text: String },
}

impl fmt::Display for DurationError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(text) => write!(formatter, "time: invalid duration {text:?}"),
            Self::MissingUnit(text) => {
                write!(formatter, "time: missing unit in duration {text:?}")
            }
            Self::UnknownUnit { unit, text } => {
                write!(
                    formatter,
                    "time: unknown unit {unit:?} in duration {text:?}"
                )
            }
        }
    }
}

impl std::error::Error for DurationError {}

/// Reads a Go duration such as `1m30s`. Signs are refused: hog has no use for a
/// negative sleep or run time.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() || text.starts_with(['-', '+']) {
        return Err(DurationError::Invalid(text.to_owned()));
    }
    let mut total_nanoseconds: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|character: char| !character.is_ascii_digit() && character != '.')
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_end);
        let unit_end = after_number
            .find(|character: char| character.is_ascii_digit() || character == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_end);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(text.to_owned()));
        }
        let unit_nanoseconds = UNITS
            .iter()
            .find(|(known_unit, _)| *known_unit == unit)
            .map(|(_, nanoseconds)| *nanoseconds)
            .ok_or_else(|| DurationError::UnknownUnit {
                unit: unit.to_owned(),
                text: text.to_owned(),
            })?;
        let nanoseconds = scale_decimal(number, unit_nanoseconds)
            .ok_or_else(|| DurationError::Invalid(text.to_owned()))?;
        total_nanoseconds = total_nanoseconds
            .checked_add(nanoseconds)
            .ok_or_else(|| DurationError::Invalid(text.to_owned()))?;
        rest = after_unit;
    }
    let nanoseconds =
        u64::try_from(total_nanoseconds).map_err(|_| DurationError::Invalid(text.to_owned()))?;
    Ok(Duration::from_nanos(nanoseconds))
}

/// Multiplies a decimal number such as `1.5` by a unit, in whole nanoseconds, or `None`
/// when the number is malformed or too large.
fn scale_decimal(number: &str, unit_nanoseconds: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanoseconds = whole_value.checked_mul(unit_nanoseconds)?;
    let mut place = unit_nanoseconds;
    for digit in fraction.chars() {
        let digit_value = u128::from(digit.to_digit(10)?);
        place /= 10;
        nanoseconds = nanoseconds.checked_add(digit_value * place)?;
    }
    Some(nanoseconds)
}

/// Writes a duration briefly for log lines: `1s`, `100ms`, `2m`, or `1.5s`.
pub fn format_duration(duration: Duration) -> String {
    let milliseconds = duration.as_millis();
    if duration.is_zero() {
        "0s".to_owned()
    } else if !duration.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}µs", duration.as_micros())
    } else if milliseconds.is_multiple_of(60_000) {
        format!("{}m", milliseconds / 60_000)
    } else if milliseconds.is_multiple_of(1_000) {
        format!("{}s", milliseconds / 1_000)
    } else if milliseconds < 1_000 {
        format!("{milliseconds}ms")
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_go_refuses_with_go_messages() {
        assert_eq!(
            parse_duration("10").unwrap_err().to_string(),
            "time: missing unit in duration \"10\""
        );
        assert_eq!(
            parse_duration("10x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"10x\""
        );
        assert_eq!(
            parse_duration("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration(".s").unwrap_err().to_string(),
            "time: invalid duration \".s\""
        );
        assert_eq!(
            parse_duration("-1s"),
            Err(DurationError::Invalid("-1s".to_owned()))
        );
        assert!(matches!(
            parse_duration("99999999999h"),
            Err(DurationError::Invalid(_))
        ));
    }

    #[test]
    fn formats_briefly() {
        assert_eq!(format_duration(Duration::from_secs(1)), "1s");
        assert_eq!(format_duration(Duration::from_millis(100)), "100ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(250)), "250µs");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
