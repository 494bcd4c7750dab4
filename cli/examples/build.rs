//! Builds the example guests (a `cargo build --release --target wasm32-wasip2` over
//! examples/, through tests/wasm-guests) and writes `images.rs` into OUT_DIR: one
//! `include_bytes!` per image, so that the binary carries them.

use std::path::Path;

use wasmkube_wasm_guests::{WasmTarget, examples_dir, guest, test_suite};

/// The guests the demo pushes, and the image references the examples' manifests use.
const IMAGES: &[(&str, &str)] = &[
    ("hello", "hello:1.0"),
    ("hog", "hog:1.0"),
    ("echo", "echo:1.0"),
    ("echo-client", "echo-client:1.0"),
    ("http", "http-echo:1.0"),
    ("shop-front-end", "shop-front-end:1.0"),
    ("shop-catalogue", "shop-catalogue:1.0"),
    ("shop-cart", "shop-cart:1.0"),
    ("shop-orders", "shop-orders:1.0"),
    ("shop-logger", "shop-logger:1.0"),
    ("shop-ambassador", "shop-ambassador:1.0"),
    ("init-and-sidecar", "init-and-sidecar:1.0"),
];

fn main() {
    let examples = examples_dir();
    watch_sources(&examples);
    let mut generated =
        String::from("/// Every example image, in the order the demo pushes them.\n");
    generated.push_str("pub const IMAGES: &[ExampleImage] = &[\n");
    for (guest_name, reference) in IMAGES {
        generated.push_str(&image_entry(reference, &guest(guest_name, WasmTarget::P2)));
    }
    // The ci example's test suite, as its Job manifest names it.
    generated.push_str(&image_entry("ci-tests:1.0", &test_suite("ci")));
    generated.push_str("];\n");
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    std::fs::write(Path::new(&out_dir).join("images.rs"), generated)
        .expect("write the generated list of images");
}

fn image_entry(reference: &str, path: &Path) -> String {
    format!(
        "    ExampleImage {{ reference: {reference:?}, wasm: include_bytes!({:?}) }},\n",
        path.display().to_string()
    )
}

/// Reruns this script when anything in the examples workspace changes but its target dir
/// (which the build itself writes).
fn watch_sources(examples: &Path) {
    let entries = std::fs::read_dir(examples).expect("read the examples directory");
    for entry in entries.flatten() {
        if entry.file_name() != "target" {
            println!("cargo::rerun-if-changed={}", entry.path().display());
        }
    }
}
