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

/// The kinds of component the runtime knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestKind {
    /// Exports `wasi:cli/run`: run once, like a process.
    P2Command,
    /// Exports `wasi:http/incoming-handler`: served per request on its containerPort.
    P2Http,
    /// Exports neither; the names it does export are kept for the error message.
    Other(Vec<String>),
}

impl GuestKind {
    pub fn unsupported_message(&self) -> String {
        match self {
            GuestKind::P2Command => "a WASI command component".to_owned(),
            GuestKind::P2Http => "the image is a wasi:http component (it exports wasi:http/incoming-handler); serving HTTP components needs the pod network, which this node does not offer yet".to_owned(),
            GuestKind::Other(exports) => format!(
                "the component exports neither wasi:cli/run nor wasi:http/incoming-handler, so it cannot run as a container (it exports: [{}])",
                exports.join(", ")
            ),
        }
    }
}

pub fn component_kind(engine: &Engine, component: &Component) -> Result<GuestKind, GuestError> {
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
    Ok(if exports_interface("wasi:cli/run") {
        GuestKind::P2Command
    } else if exports_interface("wasi:http/incoming-handler") {
        GuestKind::P2Http
    } else {
        GuestKind::Other(exports)
    })
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
