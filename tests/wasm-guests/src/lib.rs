//! Builds the example guests for the wasm32 targets so that tests can run them.
//!
//! The guests (hello, hog, testbox, echo, echo-client, http) live in `examples/`, a cargo
//! workspace of their own with its own target dir, so that building them never waits on
//! the main workspace's build lock. The first call for a target builds every guest for it
//! once per process; test processes running at the same time are kept apart by cargo's
//! lock on `examples/target`. This is test support: a failed build panics with cargo's output,
//! which fails the test that asked for the guest. `test_suite` builds an example's test
//! binary (the ci example's, which wasmkube runs sharded) the same way.
//!
//! rust-toolchain.toml names both wasm32 targets; where the installed toolchain lacks one
//! (it was installed before the file named them), `rustup target add` fetches it first.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The WASI target a guest is built for, which decides what kind of binary it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WasmTarget {
    /// `wasm32-wasip1`: a core module exporting `_start`. Only hello is built for it.
    P1,
    /// `wasm32-wasip2`: a component exporting `wasi:cli/run` (http, a library, exports
    /// `wasi:http/incoming-handler` instead). Every guest is built for it.
    P2,
}

impl WasmTarget {
    /// The Rust target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Self::P1 => "wasm32-wasip1",
            Self::P2 => "wasm32-wasip2",
        }
    }

    /// The cargo arguments that choose the guests built for this target.
    fn package_arguments(self) -> &'static [&'static str] {
        match self {
            Self::P1 => &["-p", "hello"],
            Self::P2 => &[],
        }
    }

    /// Set once this process has built the guests for this target.
    fn built(self) -> &'static OnceLock<()> {
        static P1_BUILT: OnceLock<()> = OnceLock::new();
        static P2_BUILT: OnceLock<()> = OnceLock::new();
        match self {
            Self::P1 => &P1_BUILT,
            Self::P2 => &P2_BUILT,
        }
    }
}

/// The `examples/` directory: the guests' cargo workspace.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("this crate lives at tests/wasm-guests inside the repository")
        .join("examples")
}

/// The path of the release build of the guest `name` for `target`, building the guests
/// for that target first if this process has not yet done so.
pub fn guest(name: &str, target: WasmTarget) -> PathBuf {
    target.built().get_or_init(|| build_guests(target));
    let path = examples_dir()
        .join("target")
        .join(target.triple())
        .join("release")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "the guest {name} was not built for {}: {} does not exist",
        target.triple(),
        path.display()
    );
    path
}

/// Builds every guest for one target with `cargo build --release` over the examples
/// workspace.
fn build_guests(target: WasmTarget) {
    run(
        examples_cargo(target, &["build", "--release"]).args(target.package_arguments()),
        target,
    );
}

/// `cargo SUBCOMMAND` over the examples workspace for `target`, naming the examples' own
/// target dir (so that a `CARGO_TARGET_DIR` set for the main workspace cannot send the
/// build there). A toolchain that lacks the target's standard library gets it first from
/// rustup, as rust-toolchain.toml asks.
fn examples_cargo(target: WasmTarget, subcommand: &[&str]) -> Command {
    let examples = examples_dir();
    if !toolchain_has_standard_library(&examples, target) {
        run(
            Command::new("rustup")
                .current_dir(&examples)
                .args(["target", "add", target.triple()]),
            target,
        );
    }
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut command = Command::new(cargo);
    command
        .current_dir(&examples)
        // Run from a build script, cargo hands down the host's compiler flags and
        // clippy's compiler wrapper; neither belongs to a wasm32 build of other crates.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .args(subcommand)
        .arg("--manifest-path")
        .arg(examples.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(examples.join("target"))
        .args(["--target", target.triple()]);
    command
}

/// The unit-test binary of the example crate `package` (its library's `#[test]`s), built
/// for wasm32-wasip2 with `cargo test --no-run --release`: a component exporting
/// `wasi:cli/run` that takes libtest's usual flags. Cargo names it with a hash
/// (`deps/ci-0123abcd.wasm`), so its path is read from cargo's `compiler-artifact`
/// message for the library's test profile. Each call asks cargo, which does nothing when
/// the binary is fresh.
pub fn test_suite(package: &str) -> PathBuf {
    let target = WasmTarget::P2;
    let output = run(
        examples_cargo(target, &["test", "--no-run", "--release"]).args([
            "-p",
            package,
            "--lib",
            "--message-format",
            "json",
        ]),
        target,
    );
    String::from_utf8_lossy(&output)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["profile"]["test"] == true)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no test binary for the example {package}"))
}

/// Runs a build step and returns what it printed on stdout; a failure panics with its
/// stderr.
fn run(command: &mut Command, target: WasmTarget) -> Vec<u8> {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not start {command:?}: {error}"));
    assert!(
        output.status.success(),
        "building the example guests for {} failed ({}) with {command:?}:\n{}",
        target.triple(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Whether the Rust toolchain that builds the examples (the one the repository's
/// rust-toolchain.toml names) has the standard library for `target`.
fn toolchain_has_standard_library(examples: &Path, target: WasmTarget) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .current_dir(examples)
        .args(["--print", "target-libdir", "--target", target.triple()])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .is_some_and(|library_dir| library_dir.is_dir())
}
