//! Applets about the process itself: its arguments, environment, directory, exit code
//! and lifetime.

use std::io::Write;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use crate::arguments::{AppletError, exactly, parse_seconds};

/// `echo ARGS...`: the arguments joined by spaces.
pub fn echo(arguments: &[String]) -> Result<ExitCode, AppletError> {
    println!("{}", arguments.join(" "));
    Ok(ExitCode::SUCCESS)
}

/// `env`: every environment variable as `K=V`, sorted by name so that output compares.
pub fn env(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("env", arguments)?;
    let mut variables: Vec<(String, String)> = std::env::vars_os()
        .map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        })
        .collect();
    variables.sort();
    for (name, value) in variables {
        println!("{name}={value}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `pwd`: the current directory, which a container's `workingDir` sets.
pub fn pwd(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("pwd", arguments)?;
    let directory = std::env::current_dir().map_err(|error| {
        AppletError::Failed(format!("cannot tell the current directory: {error}"))
    })?;
    println!("{}", directory.display());
    Ok(ExitCode::SUCCESS)
}

/// `exit N`: ends at once with exit code N.
pub fn exit(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [code] = exactly("exit N", arguments)?;
    let code: i32 = code
        .parse()
        .map_err(|_| AppletError::Usage(format!("{code:?} is not an exit code")))?;
    std::process::exit(code)
}

/// `exit-with-code N`: ends at once with exit code N, which a wasm32-wasip2 build can
/// report only through `wasi:cli/exit-with-code`.
pub fn exit_with_code(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [code] = exactly("exit-with-code N", arguments)?;
    let code: u8 = code
        .parse()
        .map_err(|_| AppletError::Usage(format!("{code:?} is not an exit code from 0 to 255")))?;
    wasip2::cli::exit::exit_with_code(code);
    Ok(ExitCode::from(code))
}

/// `copy-stdin`: copies standard input to standard output until its end, so that a test
/// sees what reached the container's stdin (`kubectl attach`, `kubectl run -i`).
pub fn copy_stdin(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("copy-stdin", arguments)?;
    let mut stdout = std::io::stdout().lock();
    std::io::copy(&mut std::io::stdin().lock(), &mut stdout)
        .and_then(|_| stdout.flush())
        .map_err(|error| AppletError::Failed(format!("cannot copy stdin: {error}")))?;
    Ok(ExitCode::SUCCESS)
}

/// `sleep SECONDS`: waits, then exits successfully.
pub fn sleep(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [seconds] = exactly("sleep SECONDS", arguments)?;
    thread::sleep(parse_seconds(seconds)?);
    Ok(ExitCode::SUCCESS)
}

/// `sleep-forever`: waits until it is stopped, the way a long-running service idles.
pub fn sleep_forever(arguments: &[String]) -> Result<ExitCode, AppletError> {
    exactly::<0>("sleep-forever", arguments)?;
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}
