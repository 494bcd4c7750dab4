//! shop-front-end: the shop's page and JSON API on `$PORT` (8080), calling the catalogue
//! (`$CATALOGUE_URL`, http://catalogue), the cart (`$CART_URL`, http://cart) and the
//! orders (`$ORDERS_URL`, http://127.0.0.1:8001, the ambassador in the same pod).

use std::process::ExitCode;

use shop::http::server::{listen_on_port_setting, serve};
use shop::services::front_end::{Backends, FrontEnd};
use shop::storage::setting;

fn main() -> ExitCode {
    let backends = Backends::new(
        &setting("CATALOGUE_URL", "http://catalogue"),
        &setting("CART_URL", "http://cart"),
        &setting("ORDERS_URL", "http://127.0.0.1:8001"),
    )
    .map_err(|error| error.to_string());
    let started =
        backends.and_then(|backends| Ok((backends, listen_on_port_setting("front-end")?)));
    let (backends, listener) = match started {
        Ok(started) => started,
        Err(problem) => {
            eprintln!("front-end: {problem}");
            return ExitCode::FAILURE;
        }
    };
    println!("front-end: {}", backends.describe());
    let front_end = FrontEnd {
        backends,
        // The node sets HOSTNAME to the pod's name, as a kubelet does.
        pod_name: setting("HOSTNAME", "unknown-pod"),
    };
    serve("front-end", &listener, |request| front_end.handle(request));
    ExitCode::SUCCESS
}
