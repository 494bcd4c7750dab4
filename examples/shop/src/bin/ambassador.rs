//! shop-ambassador: listens on the pod's loopback (`$LISTEN_ADDRESS`, 127.0.0.1, and
//! `$PORT`, 8001) and forwards every request to `$UPSTREAM` (`orders:80`, the orders
//! Service), so that its pod's application reaches a remote service as a local one.

use std::process::ExitCode;

use shop::http::client::authority_of;
use shop::http::server::{listen, serve};
use shop::services::ambassador::forward;
use shop::storage::setting;

fn main() -> ExitCode {
    let address = setting("LISTEN_ADDRESS", "127.0.0.1");
    let started = authority_of(&setting("UPSTREAM", "http://orders"))
        .map_err(|error| error.to_string())
        .and_then(|upstream| {
            let port_text = setting("PORT", "8001");
            let port: u16 = port_text
                .parse()
                .map_err(|_| format!("PORT={port_text:?} is not a port"))?;
            let listener = listen("ambassador", &address, port)
                .map_err(|error| format!("cannot listen: {error}"))?;
            Ok((upstream, listener))
        });
    let (upstream, listener) = match started {
        Ok(started) => started,
        Err(problem) => {
            eprintln!("ambassador: {problem}");
            return ExitCode::FAILURE;
        }
    };
    println!("ambassador: forwarding to {upstream}");
    serve("ambassador", &listener, |request| {
        forward(request, &upstream)
    });
    ExitCode::SUCCESS
}
