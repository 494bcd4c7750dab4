//! hog's command line, read the way Go's `flag` package reads vish/stress's: `-name value`,
//! `-name=value`, or with two dashes, and worded errors that name the flag.

use std::fmt;
use std::time::Duration;

use crate::duration::parse_duration;
use crate::quantity::parse_quantity;

/// The usage text, laid out as Go's `flag.PrintDefaults` lays it out.
pub const USAGE: &str = "\
Usage of hog:
  -cpus int
    \tnumber of CPUs to keep busy (a wasm guest has one thread, so at most 1 is burned)
  -duration duration
    \thow long to run before exiting (default: run forever)
  -mem-alloc-size string
    \tamount of memory to allocate at a time (default \"4Ki\")
  -mem-alloc-sleep duration
    \ttime to sleep between allocations (default 1ms)
  -mem-total string
    \ttotal memory to allocate (default \"0\")
";

/// The flags hog has, besides `-h` and `-help`.
const FLAG_NAMES: [&str; 5] = [
    "mem-total",
    "mem-alloc-size",
    "mem-alloc-sleep",
    "cpus",
    "duration",
];

/// What hog was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `-h` or `-help`: print the usage and exit successfully, as Go programs do.
    Help,
    /// Stress memory and CPU as the settings say.
    Run(StressSettings),
}

/// The amounts and pace of the stress, with vish/stress's defaults.
#[derive(Debug, PartialEq, Eq)]
pub struct StressSettings {
    /// Bytes to allocate in all.
    pub mem_total: u64,
    /// Bytes to allocate at a time.
    pub mem_alloc_size: u64,
    /// Pause between two allocations.
    pub mem_alloc_sleep: Duration,
    /// Busy loops asked for; a wasm guest runs at most one.
    pub cpus: u32,
    /// How long to run before exiting; `None` runs until killed.
    pub duration: Option<Duration>,
}

impl Default for StressSettings {
    fn default() -> Self {
        Self {
            mem_total: 0,
            mem_alloc_size: 4 * 1024,
            mem_alloc_sleep: Duration::from_millis(1),
            cpus: 0,
            duration: None,
        }
    }
}

/// A command line hog cannot run, worded as Go's `flag` package words it.
#[derive(Debug, PartialEq, Eq)]
pub enum FlagError {
    /// A flag hog does not have.
    NotDefined(String),
    /// A flag at the end of the line with no value after it.
    NeedsArgument(String),
    /// A value the flag cannot take.
    InvalidValue {
        flag: String,
        value: String,
        reason: String,
    },
    /// Something like `---x` or `-=x` that is not a flag at all.
    BadSyntax(String),
    /// A word that is not a flag: hog takes flags only, so this is most likely a flag
    /// whose dash was forgotten.
    UnexpectedArgument(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotDefined(flag) => write!(formatter, "flag provided but not defined: -{flag}"),
            Self::NeedsArgument(flag) => write!(formatter, "flag needs an argument: -{flag}"),
            Self::InvalidValue {
                flag,
                value,
                reason,
            } => write!(
                formatter,
                "invalid value {value:?} for flag -{flag}: {reason}"
            ),
            Self::BadSyntax(argument) => write!(formatter, "bad flag syntax: {argument}"),
            Self::UnexpectedArgument(argument) => write!(
                formatter,
                "unexpected argument {argument:?}: hog takes only flags"
            ),
        }
    }
}

impl std::error::Error for FlagError {}

/// Reads hog's arguments (without the program name).
pub fn parse_arguments(arguments: &[String]) -> Result<Command, FlagError> {
    let mut settings = StressSettings::default();
    let mut remaining = arguments.iter();
    while let Some(argument) = remaining.next() {
        if argument == "--" {
            return match remaining.next() {
                Some(extra) => Err(FlagError::UnexpectedArgument(extra.clone())),
                None => break,
            };
        }
        let Some(without_dashes) = argument
            .strip_prefix("--")
            .or_else(|| argument.strip_prefix('-'))
            .filter(|_| argument.len() > 1)
        else {
            return Err(FlagError::UnexpectedArgument(argument.clone()));
        };
        if without_dashes.is_empty() || without_dashes.starts_with(['-', '=']) {
            return Err(FlagError::BadSyntax(argument.clone()));
        }
        let (name, inline_value) = match without_dashes.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (without_dashes, None),
        };
        if name == "h" || name == "help" {
            return Ok(Command::Help);
        }
        if !FLAG_NAMES.contains(&name) {
            return Err(FlagError::NotDefined(name.to_owned()));
        }
        let value = match inline_value {
            Some(value) => value,
            None => remaining
                .next()
                .ok_or_else(|| FlagError::NeedsArgument(name.to_owned()))?,
        };
        apply_flag(&mut settings, name, value)?;
    }
    if settings.mem_total > 0 && settings.mem_alloc_size == 0 {
        return Err(FlagError::InvalidValue {
            flag: "mem-alloc-size".to_owned(),
            value: "0".to_owned(),
            reason: "must be greater than zero when -mem-total is not zero".to_owned(),
        });
    }
    Ok(Command::Run(settings))
}

/// Sets one known flag from its value.
fn apply_flag(settings: &mut StressSettings, name: &str, value: &str) -> Result<(), FlagError> {
    let invalid = |reason: String| FlagError::InvalidValue {
        flag: name.to_owned(),
        value: value.to_owned(),
        reason,
    };
    match name {
        "mem-total" => {
            settings.mem_total =
                parse_quantity(value).map_err(|error| invalid(error.to_string()))?;
        }
        "mem-alloc-size" => {
            settings.mem_alloc_size =
                parse_quantity(value).map_err(|error| invalid(error.to_string()))?;
        }
        "mem-alloc-sleep" => {
            settings.mem_alloc_sleep =
                parse_duration(value).map_err(|error| invalid(error.to_string()))?;
        }
        "cpus" => {
            settings.cpus = value
                .parse()
                .map_err(|_| invalid("must be a whole number of CPUs, zero or more".to_owned()))?;
        }
        "duration" => {
            settings.duration =
                Some(parse_duration(value).map_err(|error| invalid(error.to_string()))?);
        }
        _ => return Err(FlagError::NotDefined(name.to_owned())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Command, FlagError> {
        let owned: Vec<String> = arguments
            .iter()
            .map(|argument| (*argument).to_owned())
            .collect();
        parse_arguments(&owned)
    }

    #[test]
    fn no_flags_gives_vish_stress_defaults() {
        assert_eq!(parse(&[]), Ok(Command::Run(StressSettings::default())));
    }

    #[test]
    fn reads_the_lab_flags_in_every_go_spelling() {
        let expected = StressSettings {
            mem_total: 950 * 1024 * 1024,
            mem_alloc_size: 100 * 1024 * 1024,
            mem_alloc_sleep: Duration::from_secs(1),
            cpus: 2,
            duration: Some(Duration::from_secs(10)),
        };
        let separate = parse(&[
            "-cpus",
            "2",
            "-mem-total",
            "950Mi",
            "-mem-alloc-size",
            "100Mi",
            "-mem-alloc-sleep",
            "1s",
            "-duration",
            "10s",
        ]);
        let joined = parse(&[
            "--cpus=2",
            "-mem-total=950Mi",
            "--mem-alloc-size",
            "100Mi",
            "-mem-alloc-sleep=1s",
            "--duration=10s",
        ]);
        assert_eq!(separate, Ok(Command::Run(expected)));
        assert_eq!(joined, separate);
    }

    #[test]
    fn help_flags_ask_for_usage() {
        assert_eq!(parse(&["-h"]), Ok(Command::Help));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            parse(&["-mem-totl", "1Mi"]).unwrap_err().to_string(),
            "flag provided but not defined: -mem-totl"
        );
        assert_eq!(
            parse(&["-mem-total"]).unwrap_err().to_string(),
            "flag needs an argument: -mem-total"
        );
        assert_eq!(
            parse(&["-mem-total", "lots"]).unwrap_err().to_string(),
            "invalid value \"lots\" for flag -mem-total: quantities must match the regular \
             expression '^[0-9]+(Ki|Mi|Gi|Ti|k|K|M|G|T)?$'"
        );
        assert_eq!(
            parse(&["-mem-alloc-sleep", "1"]).unwrap_err().to_string(),
            "invalid value \"1\" for flag -mem-alloc-sleep: time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse(&["-cpus", "-1"]).unwrap_err().to_string(),
            "invalid value \"-1\" for flag -cpus: must be a whole number of CPUs, zero or more"
        );
        assert_eq!(
            parse(&["-mem-total", "1Mi", "-mem-alloc-size", "0"])
                .unwrap_err()
                .to_string(),
            "invalid value \"0\" for flag -mem-alloc-size: must be greater than zero when \
             -mem-total is not zero"
        );
        assert_eq!(
            parse(&["mem-total", "1Mi"]),
            Err(FlagError::UnexpectedArgument("mem-total".to_owned()))
        );
        assert_eq!(
            parse(&["-"]),
            Err(FlagError::UnexpectedArgument("-".to_owned()))
        );
        assert_eq!(
            parse(&["---x"]),
            Err(FlagError::BadSyntax("---x".to_owned()))
        );
        assert_eq!(
            parse(&["--", "extra"]),
            Err(FlagError::UnexpectedArgument("extra".to_owned()))
        );
    }
}
