//! shop-catalogue: the products, from the JSON file `$CATALOGUE_FILE` (a ConfigMap
//! mounted as a volume), on `$PORT` (8080).

use std::path::PathBuf;
use std::process::ExitCode;

use shop::http::server::{listen_on_port_setting, serve};
use shop::services::catalogue::{DEFAULT_CATALOGUE_FILE, handle, load_catalogue};
use shop::storage::setting;

fn main() -> ExitCode {
    let catalogue_file = PathBuf::from(setting("CATALOGUE_FILE", DEFAULT_CATALOGUE_FILE));
    // A broken catalogue is reported at once, but the service still starts: its
    // readiness probe keeps it out of the Service until the ConfigMap is fixed.
    match load_catalogue(&catalogue_file) {
        Ok(products) => println!(
            "catalogue: {} product(s) in {}",
            products.len(),
            catalogue_file.display()
        ),
        Err(problem) => eprintln!("catalogue: {problem}"),
    }
    let listener = match listen_on_port_setting("catalogue") {
        Ok(listener) => listener,
        Err(problem) => {
            eprintln!("catalogue: {problem}");
            return ExitCode::FAILURE;
        }
    };
    serve("catalogue", &listener, |request| {
        handle(request, &catalogue_file)
    });
    ExitCode::SUCCESS
}
