//! What kind of program an image is, read from the binary itself: Kubernetes images say
//! what to run in their config; a wasm binary says it in its exports.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::GuestError;

/// The binary's layer, from its header: `\0asm` then a version, 1 for core modules and
/// 0x0d (with layer 1) for components.
pub enum BinaryFormat {
    CoreModule,
    Component,
}

pub fn binary_format(bytes: &[u8]) -> Result<BinaryFormat, GuestError> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Ok(BinaryFormat::CoreModule),
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(BinaryFormat::Component),
        _ => Err(GuestError::UnsupportedBinary(
            "the image is not a WebAssembly module or component (no \\0asm header)".to_owned(),
        )),
    }
}

/// What a component runs as.
#[derive(Debug, PartialEq, Eq)]
pub enum ComponentKind {
    /// A WASI command (it exports `wasi:cli/run`): run once, to its exit.
    Command,
    /// A wasi:http component (it exports `wasi:http/incoming-handler@0.2.x`): served on
    /// the pod network, one instance per request (`guest/http`).
    HttpProxy,
}

/// Tells a WASI command from a wasi:http component, the two kinds of component this node
/// runs as a container. A component exporting both is a command: its `run` is the
/// program, and the handler a library it happens to carry.
pub fn component_kind(engine: &Engine, component: &Component) -> Result<ComponentKind, GuestError> {
    let component_type = component.component_type();
    let exports: Vec<String> = component_type
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let exports_interface = |interface: &str| {
        exports
            .iter()
            .any(|name| name.split('@').next() == Some(interface))
    };
    if exports_interface("wasi:cli/run") {
        Ok(ComponentKind::Command)
    } else if exports
        .iter()
        .any(|name| super::http::is_served_handler(name))
    {
        Ok(ComponentKind::HttpProxy)
    } else if exports_interface("wasi:http/incoming-handler") {
        Err(GuestError::UnsupportedBinary(format!(
            "the component exports a wasi:http/incoming-handler of a version this node does not serve (it exports: [{}]); only wasi:http 0.2.x handlers are served",
            exports.join(", ")
        )))
    } else {
        Err(GuestError::UnsupportedBinary(format!(
            "the component exports neither wasi:cli/run nor wasi:http/incoming-handler, so it cannot run as a container (it exports: [{}])",
            exports.join(", ")
        )))
    }
}

/// A p1 module runs as a command only if it exports `_start`; a reactor (`_initialize`
/// only) is a library, not a program.
pub fn check_core_module(module: &wasmtime::Module) -> Result<(), GuestError> {
    let has_start = module
        .exports()
        .any(|export| export.name() == "_start" && export.ty().func().is_some());
    if has_start {
        Ok(())
    } else {
        Err(GuestError::UnsupportedBinary(
            "the core module exports no `_start` function, so it is not a WASI command".to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        Engine::new(&config).unwrap()
    }

    #[test]
    fn the_header_tells_modules_components_and_other_files_apart() {
        assert!(matches!(
            binary_format(b"\0asm\x01\0\0\0"),
            Ok(BinaryFormat::CoreModule)
        ));
        assert!(matches!(
            binary_format(b"\0asm\x0d\0\x01\0"),
            Ok(BinaryFormat::Component)
        ));
        let error = binary_format(b"#!/bin/sh\n").err().unwrap();
        assert!(
            error
                .to_string()
                .contains("not a WebAssembly module or component")
        );
    }

    #[test]
    fn a_module_without_start_or_a_component_without_run_is_refused_with_the_reason() {
        let engine = engine();
        let reactor =
            wasmtime::Module::new(&engine, r#"(module (func (export "_initialize")))"#).unwrap();
        assert!(
            check_core_module(&reactor)
                .unwrap_err()
                .to_string()
                .contains("no `_start`")
        );
        let command =
            wasmtime::Module::new(&engine, r#"(module (func (export "_start")))"#).unwrap();
        assert!(check_core_module(&command).is_ok());
        let library = Component::new(&engine, "(component)").unwrap();
        let error = component_kind(&engine, &library).unwrap_err().to_string();
        assert!(
            error.contains("exports neither wasi:cli/run nor wasi:http/incoming-handler"),
            "{error}"
        );
    }

    #[test]
    fn a_component_exporting_a_wasi_http_0_2_handler_is_served() {
        let engine = engine();
        let exporting = |name: &str| {
            let text =
                format!(r#"(component (instance $handler) (export "{name}" (instance $handler)))"#);
            Component::new(&engine, text).unwrap()
        };
        let handler = exporting("wasi:http/incoming-handler@0.2.4");
        assert_eq!(
            component_kind(&engine, &handler).unwrap(),
            ComponentKind::HttpProxy
        );
        let command = exporting("wasi:cli/run@0.2.4");
        assert_eq!(
            component_kind(&engine, &command).unwrap(),
            ComponentKind::Command
        );
        let next = exporting("wasi:http/incoming-handler@0.3.0");
        let error = component_kind(&engine, &next).unwrap_err().to_string();
        assert!(
            error.contains("only wasi:http 0.2.x handlers are served"),
            "{error}"
        );
    }
}
