//! The example guests and the shop's manifests, built from examples/ by this crate's
//! build script and embedded, so that `wasmkube up --demo` needs nothing but the binary.

/// One example guest, ready to push into the cluster's image store.
#[derive(Debug, Clone, Copy)]
pub struct ExampleImage {
    /// NAME:TAG, as the examples' manifests name it.
    pub reference: &'static str,
    /// The WebAssembly binary (a wasm32-wasip2 component).
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/images.rs"));

/// The shop's manifests (examples/shop/manifests/shop.yaml), which `up --demo` applies.
pub const SHOP_MANIFESTS: &str = include_str!("../../../examples/shop/manifests/shop.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_is_a_webassembly_component_with_a_tagged_name() {
        assert!(!IMAGES.is_empty());
        for image in IMAGES {
            assert!(
                image.wasm.starts_with(b"\0asm"),
                "{} is not WebAssembly",
                image.reference
            );
            assert!(
                image.reference.contains(':'),
                "{} has no tag",
                image.reference
            );
        }
    }
}
