//! shop-logger: a sidecar that prints the lines another container appends to the file
//! `$LOG_FILE` (in a shared emptyDir volume) to its own stdout.

use std::path::PathBuf;

use shop::services::logger::follow;
use shop::storage::setting;

fn main() {
    let path = PathBuf::from(setting("LOG_FILE", "/var/log/cart/cart.log"));
    follow(&path)
}
