//! What makes a component an HTTP component, and the wasi:http imports every component
//! gets.

use wasmtime::component::Linker;
use wasmtime_wasi_http::WasiHttpView;

/// The handler interface a served component exports.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

/// Whether `export` is a `wasi:http/incoming-handler` this node can call: any 0.2.x, the
/// versions wasmtime-wasi-http's bindings accept by semver (0.3's async handler is a
/// different interface).
pub fn is_served_handler(export: &str) -> bool {
    export.split_once('@').is_some_and(|(interface, version)| {
        interface == INCOMING_HANDLER && version.starts_with("0.2.")
    })
}

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` to a linker that has the rest
/// of WASI. Commands get them too: a command may make outgoing requests, and they go
/// through the pod network as its sockets do ([`super::PodHttpHooks`]).
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wasi_http_0_2_handlers_are_served() {
        assert!(is_served_handler("wasi:http/incoming-handler@0.2.0"));
        assert!(is_served_handler("wasi:http/incoming-handler@0.2.4"));
        assert!(!is_served_handler(
            "wasi:http/incoming-handler@0.3.0-rc-2025-09-16"
        ));
        assert!(!is_served_handler("wasi:http/incoming-handler"));
        assert!(!is_served_handler("wasi:cli/run@0.2.4"));
    }
}
