//! echo: an HTTP/1.1 server that answers every request with the name of the pod serving
//! it, the method and the target (and a POST or PUT body), for trying out the pod
//! network: Services, DNS, readiness probes. Plain std, one connection at a time, since
//! a wasm32-wasip2 guest has no threads.

mod connection;
mod request;
mod response;
mod settings;

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use settings::{Command, USAGE};

/// The pause after a failed accept, so that a lasting failure (out of file descriptors,
/// say) does not spin.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    let port_variable = std::env::var("PORT").ok();
    let settings = match settings::parse_arguments(&arguments, port_variable.as_deref()) {
        Ok(Command::Help) => {
            eprint!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Serve(settings)) => settings,
        Err(error) => {
            eprintln!("echo: {error}");
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The node sets HOSTNAME to the pod's name, as a kubelet does.
    let pod_name = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown-pod".to_owned());
    let listener = match TcpListener::bind((settings.listen_address.as_str(), settings.port)) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "echo: cannot listen on {}:{}: {error}",
                settings.listen_address, settings.port
            );
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(address) => println!("echo: pod {pod_name} listening on {address}"),
        Err(_) => println!(
            "echo: pod {pod_name} listening on {}:{}",
            settings.listen_address, settings.port
        ),
    }
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => connection::serve_connection(&stream, &pod_name),
            Err(error) => {
                eprintln!("echo: accepting a connection failed: {error}");
                std::thread::sleep(ACCEPT_RETRY_DELAY);
            }
        }
    }
    ExitCode::SUCCESS
}
