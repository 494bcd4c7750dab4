//! What every applet shares: its error, and reading its arguments.

use std::fmt;
use std::time::Duration;

/// Why an applet did not do its job.
#[derive(Debug, PartialEq)]
pub enum AppletError {
    /// The applet was called wrongly; testbox exits with 2, like a shell builtin.
    Usage(String),
    /// The applet was called rightly but its work failed; testbox exits with 1.
    Failed(String),
}

impl fmt::Display for AppletError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Failed(message) => formatter.write_str(message),
        }
    }
}

impl std::error::Error for AppletError {}

/// Takes exactly `COUNT` arguments, or explains the applet's usage (such as
/// `write PATH TEXT`) when there are more or fewer.
pub fn exactly<'a, const COUNT: usize>(
    usage: &str,
    arguments: &'a [String],
) -> Result<[&'a str; COUNT], AppletError> {
    let wrong_count = || {
        AppletError::Usage(format!(
            "expected {COUNT} argument(s), got {}: usage: testbox {usage}",
            arguments.len()
        ))
    };
    let taken: [&String; COUNT] = arguments
        .iter()
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| wrong_count())?;
    Ok(taken.map(String::as_str))
}

/// Reads a number of seconds, fractions allowed, such as `0.25`.
pub fn parse_seconds(text: &str) -> Result<Duration, AppletError> {
    text.parse::<f64>()
        .ok()
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| {
            AppletError::Usage(format!(
                "{text:?} is not a number of seconds (zero or more, fractions allowed)"
            ))
        })
}

/// Reads a whole number of times or things, such as `1000000`.
pub fn parse_count(text: &str) -> Result<u64, AppletError> {
    text.parse::<u64>().map_err(|_| {
        AppletError::Usage(format!(
            "{text:?} is not a count (a whole number, zero or more)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(arguments: &[&str]) -> Vec<String> {
        arguments
            .iter()
            .map(|argument| (*argument).to_owned())
            .collect()
    }

    #[test]
    fn takes_exactly_the_arguments_asked_for() {
        let arguments = owned(&["a.txt", "hello world"]);
        assert_eq!(
            exactly::<2>("write PATH TEXT", &arguments),
            Ok(["a.txt", "hello world"])
        );
        assert_eq!(
            exactly::<1>("cat PATH", &arguments),
            Err(AppletError::Usage(
                "expected 1 argument(s), got 2: usage: testbox cat PATH".to_owned()
            ))
        );
    }

    #[test]
    fn reads_fractional_seconds_and_refuses_the_rest() {
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_seconds("3"), Ok(Duration::from_secs(3)));
        for text in ["-1", "NaN", "inf", "soon", ""] {
            assert!(parse_seconds(text).is_err(), "{text}");
        }
    }

    #[test]
    fn reads_whole_counts_and_refuses_the_rest() {
        assert_eq!(parse_count("1000000"), Ok(1_000_000));
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(
            parse_count("1.5"),
            Err(AppletError::Usage(
                "\"1.5\" is not a count (a whole number, zero or more)".to_owned()
            ))
        );
        for text in ["-1", "many", ""] {
            assert!(parse_count(text).is_err(), "{text}");
        }
    }
}
