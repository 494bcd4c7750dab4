//! shop-orders: the placed orders, kept in `$ORDERS_DATA_FILE` (in an emptyDir volume),
//! on `$PORT` (8080).

use std::path::PathBuf;
use std::process::ExitCode;

use shop::http::server::{listen_on_port_setting, serve};
use shop::services::orders::{DEFAULT_DATA_FILE, Orders};
use shop::storage::setting;

fn main() -> ExitCode {
    let started = Orders::load(PathBuf::from(setting(
        "ORDERS_DATA_FILE",
        DEFAULT_DATA_FILE,
    )))
    .and_then(|orders| Ok((orders, listen_on_port_setting("orders")?)));
    let (mut orders, listener) = match started {
        Ok(started) => started,
        Err(problem) => {
            eprintln!("orders: {problem}");
            return ExitCode::FAILURE;
        }
    };
    serve("orders", &listener, |request| orders.handle(request));
    ExitCode::SUCCESS
}
