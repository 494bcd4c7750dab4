//! echo-client: calls an HTTP URL a number of times, each time over a new connection
//! (so that a Service balances every request afresh) after resolving the host again,
//! and prints `<status> <first line of the body>` per answer. With echo behind the URL,
//! the first line names the pod that answered.

mod exchange;
mod settings;
mod url;

use std::process::ExitCode;

use settings::{Command, USAGE};

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    let settings = match settings::parse_arguments(&arguments) {
        Ok(Command::Help) => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Call(settings)) => settings,
        Err(error) => {
            eprintln!("echo-client: {error}");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut every_request_succeeded = true;
    let mut requests_sent: u64 = 0;
    loop {
        requests_sent += 1;
        let outcome = if requests_sent == 1 {
            first_exchange(&settings)
        } else {
            exchange::exchange(&settings.url, settings.data.as_deref())
        };
        match outcome {
            Ok(answer) => {
                every_request_succeeded &= settings.accepts(answer.status);
                let first_line = answer.first_body_line();
                if first_line.is_empty() {
                    println!("{}", answer.status);
                } else {
                    println!("{} {first_line}", answer.status);
                }
            }
            Err(error) => {
                every_request_succeeded = false;
                println!("error: {error}");
            }
        }
        if settings.count != 0 && requests_sent >= settings.count {
            break;
        }
        std::thread::sleep(settings.interval);
    }
    if every_request_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The first request, retried while the connection is refused for up to
/// `--wait-for-server-ms`: a sidecar's server may not listen yet.
fn first_exchange(
    settings: &settings::Settings,
) -> Result<exchange::Answer, exchange::ExchangeError> {
    let started = std::time::Instant::now();
    loop {
        match exchange::exchange(&settings.url, settings.data.as_deref()) {
            Err(error) if error.is_refused() && started.elapsed() < settings.wait_for_server => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            outcome => return outcome,
        }
    }
}
