//! echo's command line: `--port N` (default `$PORT`, else 8080) and `--listen ADDRESS`
//! (default 0.0.0.0), each also as `--name=value`.

use std::fmt;

pub const USAGE: &str = "\
Usage: echo [--port N] [--listen ADDRESS]
  --port N           the TCP port to listen on (default $PORT, else 8080)
  --listen ADDRESS   the address to listen on (default 0.0.0.0; :: for IPv6)
";

/// The port listened on when neither `--port` nor `$PORT` names one.
const DEFAULT_PORT: u16 = 8080;

/// The address listened on when `--listen` names none: every IPv4 interface.
const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0";

/// What echo was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Serve(Settings),
}

/// Where echo listens.
#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    pub port: u16,
    pub listen_address: String,
}

/// A command line echo cannot run.
#[derive(Debug, PartialEq, Eq)]
pub enum SettingsError {
    UnknownFlag(String),
    MissingValue(String),
    InvalidPort { source: String, value: String },
    UnexpectedArgument(String),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFlag(flag) => write!(formatter, "unknown flag {flag}"),
            Self::MissingValue(flag) => write!(formatter, "the flag {flag} needs a value"),
            Self::InvalidPort { source, value } => {
                write!(
                    formatter,
                    "{source} {value:?} is not a port from 0 to 65535"
                )
            }
            Self::UnexpectedArgument(argument) => {
                write!(
                    formatter,
                    "unexpected argument {argument:?}: echo takes only flags"
                )
            }
        }
    }
}

impl std::error::Error for SettingsError {}

/// Reads echo's arguments (without the program name); `port_variable` is `$PORT`.
pub fn parse_arguments(
    arguments: &[String],
    port_variable: Option<&str>,
) -> Result<Command, SettingsError> {
    let mut port = None;
    let mut listen_address = None;
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        if argument == "-h" || argument == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline_value) = match argument.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (argument.as_str(), None),
        };
        if !flag.starts_with("--") {
            return Err(SettingsError::UnexpectedArgument(argument.clone()));
        }
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| remaining.next().cloned())
                .ok_or_else(|| SettingsError::MissingValue(flag.to_owned()))
        };
        match flag {
            "--port" => port = Some(parse_port("--port", &value()?)?),
            "--listen" => listen_address = Some(value()?),
            _ => return Err(SettingsError::UnknownFlag(flag.to_owned())),
        }
    }
    let port = match (port, port_variable) {
        (Some(port), _) => port,
        (None, Some(variable)) => parse_port("$PORT", variable)?,
        (None, None) => DEFAULT_PORT,
    };
    Ok(Command::Serve(Settings {
        port,
        listen_address: listen_address.unwrap_or_else(|| DEFAULT_LISTEN_ADDRESS.to_owned()),
    }))
}

fn parse_port(source: &str, value: &str) -> Result<u16, SettingsError> {
    value
        .trim()
        .parse()
        .map_err(|_| SettingsError::InvalidPort {
            source: source.to_owned(),
            value: value.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str], port_variable: Option<&str>) -> Result<Command, SettingsError> {
        let arguments: Vec<String> = arguments
            .iter()
            .map(|&argument| argument.to_owned())
            .collect();
        parse_arguments(&arguments, port_variable)
    }

    fn serve(port: u16, listen_address: &str) -> Result<Command, SettingsError> {
        Ok(Command::Serve(Settings {
            port,
            listen_address: listen_address.to_owned(),
        }))
    }

    #[test]
    fn the_port_comes_from_the_flag_then_port_then_the_default() {
        assert_eq!(parse(&[], None), serve(8080, "0.0.0.0"));
        assert_eq!(parse(&[], Some("9000")), serve(9000, "0.0.0.0"));
        assert_eq!(
            parse(&["--port", "7000"], Some("9000")),
            serve(7000, "0.0.0.0")
        );
        assert_eq!(
            parse(&["--port=7001", "--listen=::"], None),
            serve(7001, "::")
        );
        assert_eq!(
            parse(&["--listen", "127.0.0.1"], None),
            serve(8080, "127.0.0.1")
        );
    }

    #[test]
    fn bad_command_lines_are_named() {
        assert_eq!(
            parse(&["--port", "http"], None),
            Err(SettingsError::InvalidPort {
                source: "--port".to_owned(),
                value: "http".to_owned()
            })
        );
        assert_eq!(
            parse(&[], Some("70000")),
            Err(SettingsError::InvalidPort {
                source: "$PORT".to_owned(),
                value: "70000".to_owned()
            })
        );
        assert_eq!(
            parse(&["--port"], None),
            Err(SettingsError::MissingValue("--port".to_owned()))
        );
        assert_eq!(
            parse(&["--verbose"], None),
            Err(SettingsError::UnknownFlag("--verbose".to_owned()))
        );
        assert_eq!(
            parse(&["8080"], None),
            Err(SettingsError::UnexpectedArgument("8080".to_owned()))
        );
        assert_eq!(parse(&["--port", "1", "--help"], None), Ok(Command::Help));
    }
}
