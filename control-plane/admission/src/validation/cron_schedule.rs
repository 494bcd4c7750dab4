//! CronJob schedule syntax, checked like `cron.ParseStandard` from robfig/cron v3 (which the
//! CronJob validation uses), with its exact error texts.

/// The allowed range and names of one schedule field.
struct FieldBounds {
    minimum: i64,
    maximum: i64,
    names: &'static [(&'static str, i64)],
}

const MONTH_NAMES: &[(&str, i64)] = &[
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
];
const DAY_NAMES: &[(&str, i64)] = &[
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
];

const FIELD_BOUNDS: [FieldBounds; 5] = [
    FieldBounds {
        minimum: 0,
        maximum: 59,
        names: &[],
    },
    FieldBounds {
        minimum: 0,
        maximum: 23,
        names: &[],
    },
    FieldBounds {
        minimum: 1,
        maximum: 31,
        names: &[],
    },
    FieldBounds {
        minimum: 1,
        maximum: 12,
        names: MONTH_NAMES,
    },
    FieldBounds {
        minimum: 0,
        maximum: 6,
        names: DAY_NAMES,
    },
];

const DESCRIPTORS: &[&str] = &[
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// Checks a standard five-field schedule (or a descriptor such as `@hourly`); the error is the
/// text robfig/cron returns.
pub fn check_schedule(schedule: &str) -> Result<(), String> {
    if schedule.is_empty() {
        return Err("empty spec string".to_string());
    }
    let mut spec = schedule;
    if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
        // Time zone names are not checked here: Kubernetes forbids TZ in schedules anyway.
        let location_start = spec.find('=').map_or(0, |index| index + 1);
        let Some(space) = spec.find(' ') else {
            let location = &spec[location_start..];
            return Err(format!(
                "provided bad location {location}: unknown time zone {location}"
            ));
        };
        spec = spec[space..].trim();
    }
    if spec.starts_with('@') {
        return check_descriptor(spec);
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    for (field, bounds) in fields.iter().zip(FIELD_BOUNDS.iter()) {
        for range in field.split(',').filter(|range| !range.is_empty()) {
            check_range(range, bounds)?;
        }
    }
    Ok(())
}

fn check_descriptor(descriptor: &str) -> Result<(), String> {
    if DESCRIPTORS.contains(&descriptor) {
        return Ok(());
    }
    if let Some(duration) = descriptor.strip_prefix("@every ") {
        return check_go_duration(duration)
            .map_err(|error| format!("failed to parse duration {descriptor}: {error}"));
    }
    Err(format!("unrecognized descriptor: {descriptor}"))
}

/// `getRange`: one `a`, `a-b`, `*`, optionally with `/step`.
fn check_range(expression: &str, bounds: &FieldBounds) -> Result<(), String> {
    let range_and_step: Vec<&str> = expression.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single_value = low_and_high.len() == 1;
    let (start, mut end) = if low_and_high[0] == "*" || low_and_high[0] == "?" {
        (bounds.minimum, bounds.maximum)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds.names)?;
        match low_and_high.len() {
            1 => (start, start),
            2 => (start, parse_int_or_name(low_and_high[1], bounds.names)?),
            _ => return Err(format!("too many hyphens: {expression}")),
        }
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_non_negative_int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single_value {
                end = bounds.maximum;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expression}")),
    };
    if start < bounds.minimum {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expression}",
            bounds.minimum
        ));
    }
    if end > bounds.maximum {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expression}",
            bounds.maximum
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expression}"
        ));
    }
    if step == 0 {
        return Err(format!(
            "step of range should be a positive number: {expression}"
        ));
    }
    Ok(())
}

fn parse_int_or_name(expression: &str, names: &[(&str, i64)]) -> Result<i64, String> {
    let lowercase = expression.to_lowercase();
    if let Some((_, value)) = names.iter().find(|(name, _)| *name == lowercase) {
        return Ok(*value);
    }
    parse_non_negative_int(expression)
}

/// `mustParseInt`, with Go's `strconv.Atoi` error texts.
fn parse_non_negative_int(expression: &str) -> Result<i64, String> {
    let number = expression.parse::<i64>().map_err(|error| {
        let reason = match error.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        format!("failed to parse int from {expression}: strconv.Atoi: parsing \"{expression}\": {reason}")
    })?;
    if number < 0 {
        return Err(format!(
            "negative number ({number}) not allowed: {expression}"
        ));
    }
    Ok(number)
}

/// Checks Go `time.ParseDuration` syntax: signed sequences of decimal numbers with units.
fn check_go_duration(text: &str) -> Result<(), String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let mut rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_length = rest
            .find(|character: char| !character.is_ascii_digit() && character != '.')
            .unwrap_or(rest.len());
        if number_length == 0 || rest[..number_length] == *"." {
            return Err(invalid());
        }
        rest = &rest[number_length..];
        let unit_length = rest
            .find(|character: char| character.is_ascii_digit() || character == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_length];
        if unit.is_empty() {
            return Err(format!("time: missing unit in duration \"{text}\""));
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return Err(format!(
                "time: unknown unit \"{unit}\" in duration \"{text}\""
            ));
        }
        rest = &rest[unit_length..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_schedules() {
        for schedule in [
            "* * * * *",
            "*/5 * * * *",
            "0 0 1 jan-dec mon-fri",
            "5,10 1-3/2 * * 0",
            "@hourly",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
        ] {
            assert_eq!(check_schedule(schedule), Ok(()), "{schedule}");
        }
    }

    #[test]
    fn invalid_schedules_give_robfig_messages() {
        let cases = [
            ("foo", "expected exactly 5 fields, found 1: [foo]"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            (
                "x * * * *",
                "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                "*/0 * * * *",
                "step of range should be a positive number: */0",
            ),
            (
                "5-1 * * * *",
                "beginning of range (5) beyond end of range (1): 5-1",
            ),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            (
                "@every 5x",
                "failed to parse duration @every 5x: time: unknown unit \"x\" in duration \"5x\"",
            ),
            ("", "empty spec string"),
        ];
        for (schedule, expected) in cases {
            assert_eq!(
                check_schedule(schedule),
                Err(expected.to_string()),
                "{schedule}"
            );
        }
    }
}
