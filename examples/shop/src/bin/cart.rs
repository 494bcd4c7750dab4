//! shop-cart: the customers' carts, kept in `$CART_DATA_FILE` (in an emptyDir volume)
//! with every change logged to `$CART_LOG_FILE`, on `$PORT` (8080).

use std::path::PathBuf;
use std::process::ExitCode;

use shop::http::server::{listen_on_port_setting, serve};
use shop::services::cart::{Carts, DEFAULT_DATA_FILE, DEFAULT_LOG_FILE};
use shop::storage::setting;

fn main() -> ExitCode {
    let carts = Carts::load(
        PathBuf::from(setting("CART_DATA_FILE", DEFAULT_DATA_FILE)),
        PathBuf::from(setting("CART_LOG_FILE", DEFAULT_LOG_FILE)),
    );
    let listener = carts.and_then(|carts| Ok((carts, listen_on_port_setting("cart")?)));
    let (mut carts, listener) = match listener {
        Ok(started) => started,
        Err(problem) => {
            eprintln!("cart: {problem}");
            return ExitCode::FAILURE;
        }
    };
    serve("cart", &listener, |request| carts.handle(request));
    // Serving ends only when asked to exit (POST /admin/exit), which is meant to look
    // like a crash: the kubelet restarts the container as restartPolicy says.
    ExitCode::FAILURE
}
