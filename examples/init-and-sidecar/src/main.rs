//! init-and-sidecar: one image, four roles in one pod, chosen by the first argument:
//!
//! - `write-page DIR`: the first init container writes the web page into the shared
//!   volume;
//! - `check-page DIR`: the second init container checks that the first one ran (the page
//!   is there) and stamps the page, so the order shows in what is served;
//! - `serve DIR PORT`: the app serves the page over HTTP/1.1 and appends every request to
//!   `DIR/logs/access.log`;
//! - `ship-logs DIR PORT`: the sidecar asks the app for the page over the pod's loopback
//!   every few seconds and ships the access log's new lines to its own stdout, as a log
//!   shipper would send them on.
//!
//! Plain std, one connection at a time, since a wasm32-wasip2 guest has no threads.

mod roles;
mod server;
mod shipper;

use std::process::ExitCode;

const USAGE: &str = "usage: init-and-sidecar write-page DIR | check-page DIR | serve DIR PORT | ship-logs DIR PORT\n";

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let outcome = match arguments.as_slice() {
        ["write-page", directory] => roles::write_page(directory),
        ["check-page", directory] => roles::check_page(directory),
        ["serve", directory, port] => {
            roles::port(port).and_then(|port| server::serve(directory, port))
        }
        ["ship-logs", directory, port] => {
            roles::port(port).and_then(|port| shipper::ship_logs(directory, port))
        }
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("init-and-sidecar: {message}");
            ExitCode::FAILURE
        }
    }
}
