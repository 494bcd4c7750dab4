//! echo-client's command line: `URL [--count N] [--interval-ms MS] [--data TEXT]
//! [--expect-status CODE] [--wait-for-server-ms MS]`, each flag also as `--name=value`.

use std::fmt;
use std::time::Duration;

use crate::url::{HttpUrl, UrlError, parse_http_url};

pub const USAGE: &str = "\
Usage: echo-client URL [--count N] [--interval-ms MS] [--data TEXT] [--expect-status CODE]
                  [--wait-for-server-ms MS]
  URL                   http://host[:port][/path]; the host is resolved before each request
  --count N             requests to send, each over a new connection (default 1; 0: forever)
  --interval-ms MS      pause between requests (default 1000)
  --data TEXT           send a POST with TEXT as its body instead of a GET
  --expect-status CODE  count only CODE as success (default: any 2xx)
  --wait-for-server-ms MS
                        before the first request, retry a refused connection for up to
                        MS (a sidecar starts beside its server, which may not listen yet)
Prints `<status> <first line of the body>` per request, or the error with the address
tried; exits 0 when every request succeeded, 1 otherwise, 2 on a bad command line.
";

/// Requests sent when `--count` names no number.
const DEFAULT_COUNT: u64 = 1;

/// The pause between requests when `--interval-ms` names none.
const DEFAULT_INTERVAL: Duration = Duration::from_millis(1000);

/// What echo-client was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Call(Settings),
}

/// The requests to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    pub url: HttpUrl,
    /// How many requests; 0 sends them until the program is stopped.
    pub count: u64,
    pub interval: Duration,
    /// A POST body; `None` sends a GET.
    pub data: Option<String>,
    /// The one status that counts as success; `None` accepts any 2xx.
    pub expected_status: Option<u16>,
    /// How long the first request may retry a refused connection.
    pub wait_for_server: Duration,
}

impl Settings {
    /// Whether an answer with `status` counts as a success.
    pub fn accepts(&self, status: u16) -> bool {
        match self.expected_status {
            Some(expected) => status == expected,
            None => (200..300).contains(&status),
        }
    }
}

/// A command line echo-client cannot run.
#[derive(Debug, PartialEq, Eq)]
pub enum SettingsError {
    UnknownFlag(String),
    MissingValue(String),
    InvalidNumber { flag: String, value: String },
    MissingUrl,
    ExtraArgument(String),
    Url(UrlError),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(formatter, "unknown flag {flag}"),
            Self::MissingValue(flag) => write!(formatter, "the flag {flag} needs a value"),
            Self::InvalidNumber { flag, value } => {
                write!(formatter, "{flag} {value:?} is not a number it can take")
            }
            Self::MissingUrl => formatter.write_str("no URL given"),
            Self::ExtraArgument(argument) => {
                write!(formatter, "unexpected argument {argument:?}: give one URL")
            }
            Self::Url(error) => error.fmt(formatter),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Reads echo-client's arguments (without the program name).
pub fn parse_arguments(arguments: &[String]) -> Result<Command, SettingsError> {
    let mut url = None;
    let mut count = DEFAULT_COUNT;
    let mut interval = DEFAULT_INTERVAL;
    let mut data = None;
    let mut expected_status = None;
    let mut wait_for_server = Duration::ZERO;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        if argument == "-h" || argument == "--help" {
            return Ok(Command::Help);
        }
        if !argument.starts_with('-') {
            if url.is_some() {
                return Err(SettingsError::ExtraArgument(argument.clone()));
            }
            url = Some(parse_http_url(argument).map_err(SettingsError::Url)?);
            continue;
        }
        let (flag, inline_value) = match argument.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (argument.as_str(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| remaining.next().cloned())
                .ok_or_else(|| SettingsError::MissingValue(flag.to_owned()))
        };
        match flag {
            "--count" => count = parse_number(flag, &value()?)?,
            "--interval-ms" => interval = Duration::from_millis(parse_number(flag, &value()?)?),
            "--data" => data = Some(value()?),
            "--wait-for-server-ms" => {
                wait_for_server = Duration::from_millis(parse_number(flag, &value()?)?);
            }
            "--expect-status" => {
                let status = parse_number(flag, &value()?)?;
                expected_status = Some(
                    u16::try_from(status)
                        .ok()
                        .filter(|status| (100..=999).contains(status))
                        .ok_or_else(|| SettingsError::InvalidNumber {
                            flag: flag.to_owned(),
                            value: status.to_string(),
                        })?,
                );
            }
            _ => return Err(SettingsError::UnknownFlag(flag.to_owned())),
        }
    }
    Ok(Command::Call(Settings {
        url: url.ok_or(SettingsError::MissingUrl)?,
        count,
        interval,
        data,
        expected_status,
        wait_for_server,
    }))
}

fn parse_number(flag: &str, value: &str) -> Result<u64, SettingsError> {
    value.parse().map_err(|_| SettingsError::InvalidNumber {
        flag: flag.to_owned(),
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Command, SettingsError> {
        let arguments: Vec<String> = arguments
            .iter()
            .map(|&argument| argument.to_owned())
            .collect();
        parse_arguments(&arguments)
    }

    fn settings(arguments: &[&str]) -> Settings {
        match parse(arguments) {
            Ok(Command::Call(settings)) => settings,
            other => panic!("{arguments:?} gave {other:?}"),
        }
    }

    #[test]
    fn defaults_send_one_get() {
        let defaults = settings(&["http://echo"]);
        assert_eq!(defaults.count, 1);
        assert_eq!(defaults.interval, Duration::from_secs(1));
        assert_eq!(defaults.data, None);
        assert!(defaults.accepts(200) && defaults.accepts(299));
        assert!(!defaults.accepts(199) && !defaults.accepts(301) && !defaults.accepts(503));
    }

    #[test]
    fn flags_come_before_or_after_the_url_in_either_form() {
        let parsed = settings(&[
            "--count=0",
            "http://localhost:8080/",
            "--interval-ms",
            "250",
            "--data",
            "a=b",
            "--expect-status=503",
        ]);
        assert_eq!(parsed.url.port, 8080);
        assert_eq!(parsed.count, 0);
        assert_eq!(parsed.interval, Duration::from_millis(250));
        assert_eq!(parsed.data.as_deref(), Some("a=b"));
        assert!(parsed.accepts(503));
        assert!(!parsed.accepts(200));
        assert_eq!(parsed.wait_for_server, Duration::ZERO);
        let waiting = settings(&["http://a", "--wait-for-server-ms", "3000"]);
        assert_eq!(waiting.wait_for_server, Duration::from_secs(3));
    }

    #[test]
    fn bad_command_lines_are_named() {
        assert_eq!(parse(&[]), Err(SettingsError::MissingUrl));
        assert_eq!(
            parse(&["http://a", "http://b"]),
            Err(SettingsError::ExtraArgument("http://b".to_owned()))
        );
        assert_eq!(
            parse(&["http://a", "--count", "-1"]),
            Err(SettingsError::InvalidNumber {
                flag: "--count".to_owned(),
                value: "-1".to_owned()
            })
        );
        assert_eq!(
            parse(&["http://a", "--expect-status", "1000"]),
            Err(SettingsError::InvalidNumber {
                flag: "--expect-status".to_owned(),
                value: "1000".to_owned()
            })
        );
        assert_eq!(
            parse(&["http://a", "--data"]),
            Err(SettingsError::MissingValue("--data".to_owned()))
        );
        assert_eq!(
            parse(&["http://a", "--verbose"]),
            Err(SettingsError::UnknownFlag("--verbose".to_owned()))
        );
        assert!(matches!(parse(&["ftp://a"]), Err(SettingsError::Url(_))));
        assert_eq!(parse(&["http://a", "-h"]), Ok(Command::Help));
    }
}
