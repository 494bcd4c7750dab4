//! Builds the example guests for real and checks that each target yields the kind of
//! binary the runtime expects: a component for wasm32-wasip2, a core module for
//! wasm32-wasip1.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use wasmkube_wasm_guests::{WasmTarget, examples_dir, guest};

/// `\0asm`, then the component-model layer's version (0x0d) and layer (1).
const COMPONENT_HEADER: [u8; 8] = *b"\0asm\x0d\x00\x01\x00";

/// `\0asm`, then core WebAssembly version 1.
const CORE_MODULE_HEADER: [u8; 8] = *b"\0asm\x01\x00\x00\x00";

fn header(path: &Path) -> [u8; 8] {
    let mut header = [0; 8];
    File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .unwrap_or_else(|error| panic!("cannot read the header of {}: {error}", path.display()));
    header
}

#[test]
fn hello_for_p2_is_a_component() {
    let hello = guest("hello", WasmTarget::P2);
    assert_eq!(header(&hello), COMPONENT_HEADER);
    assert_eq!(
        hello,
        examples_dir().join("target/wasm32-wasip2/release/hello.wasm")
    );
}

#[test]
fn hello_for_p1_is_a_core_module() {
    let hello = guest("hello", WasmTarget::P1);
    assert_eq!(header(&hello), CORE_MODULE_HEADER);
    assert_eq!(
        hello,
        examples_dir().join("target/wasm32-wasip1/release/hello.wasm")
    );
}

#[test]
fn hog_and_testbox_are_built_as_components() {
    for name in ["hog", "testbox"] {
        let path = guest(name, WasmTarget::P2);
        assert_eq!(header(&path), COMPONENT_HEADER, "{name}");
    }
}

#[test]
#[should_panic(expected = "the guest no-such-guest was not built for wasm32-wasip2")]
fn a_guest_that_does_not_exist_is_named_in_the_failure() {
    guest("no-such-guest", WasmTarget::P2);
}
