//! Applets about files, for tests of volumes: write and read them, list directories,
//! and wait for another container to create a file.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use crate::arguments::{AppletError, exactly, parse_seconds};

/// How often `wait-for` looks for its file.
const WAIT_FOR_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// `write PATH TEXT`: creates or truncates the file and writes TEXT, without a newline
/// of its own, so that `cat` shows exactly what was written.
pub fn write(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [path, text] = exactly("write PATH TEXT", arguments)?;
    fs::write(path, text).map_err(|error| failed(path, &error))?;
    println!("wrote {path}");
    Ok(ExitCode::SUCCESS)
}

/// `append PATH TEXT`: adds TEXT at the end of the file, creating it if needed.
pub fn append(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [path, text] = exactly("append PATH TEXT", arguments)?;
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|error| failed(path, &error))?;
    println!("appended {path}");
    Ok(ExitCode::SUCCESS)
}

/// `cat PATH`: prints the file's bytes as they are, plus a newline if the file does not
/// end with one, so that the next log line starts on a line of its own.
pub fn cat(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [path] = exactly("cat PATH", arguments)?;
    let content = fs::read(path).map_err(|error| failed(path, &error))?;
    let mut stdout = io::stdout().lock();
    let written = stdout.write_all(&content).and_then(|()| {
        if content.last().is_some_and(|byte| *byte != b'\n') {
            stdout.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    written
        .and_then(|()| stdout.flush())
        .map_err(|error| AppletError::Failed(format!("cannot write to stdout: {error}")))?;
    Ok(ExitCode::SUCCESS)
}

/// `ls PATH`: the directory's entry names, sorted, one per line.
pub fn ls(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [path] = exactly("ls PATH", arguments)?;
    let mut names = fs::read_dir(path)
        .and_then(|entries| {
            entries
                .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
                .collect::<io::Result<Vec<String>>>()
        })
        .map_err(|error| failed(path, &error))?;
    names.sort();
    for name in names {
        println!("{name}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `wait-for PATH TIMEOUT_SECONDS`: succeeds as soon as the file exists, fails when it
/// has not appeared within the timeout. Tests use it to order containers of a pod.
pub fn wait_for(arguments: &[String]) -> Result<ExitCode, AppletError> {
    let [path, timeout] = exactly("wait-for PATH TIMEOUT_SECONDS", arguments)?;
    let timeout = parse_seconds(timeout)?;
    let started = Instant::now();
    loop {
        if Path::new(path).exists() {
            println!("found {path}");
            return Ok(ExitCode::SUCCESS);
        }
        if started.elapsed() >= timeout {
            return Err(AppletError::Failed(format!(
                "{path} did not appear within {} seconds",
                timeout.as_secs_f64()
            )));
        }
        thread::sleep(WAIT_FOR_POLL_INTERVAL);
    }
}

/// An I/O failure on a path, worded as `PATH: error`.
fn failed(path: &str, error: &io::Error) -> AppletError {
    AppletError::Failed(format!("{path}: {error}"))
}
