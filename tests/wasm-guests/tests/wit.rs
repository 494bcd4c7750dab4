//! The worlds in `wit/`, which guest authors point wit-bindgen at: they parse and resolve,
//! they are the WASI worlds the node links (`wasi:cli/command` and `wasi:http/proxy` at
//! the WASI release that wasmtime-wasi implements), the vendored WASI packages are byte for
//! byte those the runtime's wasmtime-wasi carries, and the example guests import nothing
//! that the `command` world does not offer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use wasmkube_wasm_guests::{WasmTarget, guest};
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{InterfaceId, PackageId, Resolve, WorldId, WorldItem, WorldKey};

/// The WASI 0.2 release whose interfaces wasmtime-wasi 48 implements, and so the one the
/// packages in `wit/deps` are at.
const WASI_VERSION: &str = "0.2.12";

fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("this crate lives at tests/wasm-guests inside the repository")
}

/// `wit/`, resolved with its `deps/`.
struct Worlds {
    resolve: Resolve,
    package: PackageId,
}

impl Worlds {
    fn load() -> Worlds {
        let mut resolve = Resolve::new();
        let wit = repository_root().join("wit");
        let (package, _) = resolve
            .push_dir(&wit)
            .unwrap_or_else(|error| panic!("{} does not resolve: {error:#}", wit.display()));
        Worlds { resolve, package }
    }

    /// A world by its name in `wasmkube:container`, or by a fully qualified name such as
    /// `wasi:cli/command@0.2.12` for a world of a vendored package.
    fn world(&self, name: &str) -> WorldId {
        self.resolve
            .select_world(&[self.package], Some(name))
            .unwrap_or_else(|error| panic!("no world {name} in wit/: {error:#}"))
    }

    fn import_names(&self, world: WorldId) -> BTreeSet<String> {
        key_names(&self.resolve, self.resolve.worlds[world].imports.keys())
    }

    fn export_names(&self, world: WorldId) -> BTreeSet<String> {
        key_names(&self.resolve, self.resolve.worlds[world].exports.keys())
    }
}

fn key_names<'a>(resolve: &Resolve, keys: impl Iterator<Item = &'a WorldKey>) -> BTreeSet<String> {
    keys.map(|key| resolve.name_world_key(key)).collect()
}

fn versioned(name: &str) -> String {
    format!("{name}@{WASI_VERSION}")
}

#[test]
fn the_command_world_is_wasi_cli_command() {
    let worlds = Worlds::load();
    let command = worlds.world("command");
    let wasi_command = worlds.world(&versioned("wasi:cli/command"));

    assert_eq!(
        worlds.export_names(command),
        BTreeSet::from([versioned("wasi:cli/run")])
    );
    let imports = worlds.import_names(command);
    assert_eq!(imports, worlds.import_names(wasi_command));
    for expected in [
        "wasi:cli/environment",
        "wasi:cli/exit",
        "wasi:cli/stdout",
        "wasi:filesystem/preopens",
        "wasi:sockets/tcp-create-socket",
        "wasi:sockets/ip-name-lookup",
        "wasi:random/random",
        "wasi:clocks/wall-clock",
    ] {
        assert!(
            imports.contains(&versioned(expected)),
            "{expected} is not imported by the command world: {imports:?}"
        );
    }
    assert!(
        !imports.iter().any(|name| name.starts_with("wasi:http/")),
        "the command world imports no HTTP: {imports:?}"
    );
}

#[test]
fn the_http_proxy_world_is_wasi_http_proxy() {
    let worlds = Worlds::load();
    let http_proxy = worlds.world("http-proxy");
    let wasi_proxy = worlds.world(&versioned("wasi:http/proxy"));

    assert_eq!(
        worlds.export_names(http_proxy),
        BTreeSet::from([versioned("wasi:http/incoming-handler")])
    );
    let imports = worlds.import_names(http_proxy);
    assert_eq!(imports, worlds.import_names(wasi_proxy));
    assert!(imports.contains(&versioned("wasi:http/outgoing-handler")));
    assert!(imports.contains(&versioned("wasi:http/types")));
    assert!(
        !imports.contains(&versioned("wasi:filesystem/preopens")),
        "an HTTP proxy has no filesystem: {imports:?}"
    );
}

#[test]
fn every_vendored_package_is_at_the_same_wasi_release() {
    let worlds = Worlds::load();
    let packages: BTreeSet<String> = worlds
        .resolve
        .packages
        .iter()
        .map(|(_, package)| package.name.to_string())
        .collect();
    let mut expected: BTreeSet<String> = [
        "wasi:cli",
        "wasi:clocks",
        "wasi:filesystem",
        "wasi:http",
        "wasi:io",
        "wasi:random",
        "wasi:sockets",
    ]
    .into_iter()
    .map(versioned)
    .collect();
    expected.insert("wasmkube:container@0.1.0".to_owned());
    assert_eq!(packages, expected);
}

/// The directory of the wasmtime-wasi crate the workspace builds the runtime with, as
/// `cargo metadata` reports it.
fn runtime_wasmtime_wasi_dir() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .arg("--manifest-path")
        .arg(repository_root().join("Cargo.toml"))
        .output()
        .unwrap_or_else(|error| panic!("cannot run cargo metadata: {error}"));
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("cargo metadata printed no JSON: {error}"));
    let manifests: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages")
        .iter()
        .filter(|package| package["name"] == "wasmtime-wasi")
        .filter_map(|package| package["manifest_path"].as_str())
        .collect();
    let [manifest] = manifests[..] else {
        panic!("the workspace should build exactly one wasmtime-wasi, not {manifests:?}");
    };
    Path::new(manifest)
        .parent()
        .expect("a manifest path names a file in the crate's directory")
        .to_path_buf()
}

fn wit_files(directory: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", directory.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wit"))
        .map(|path| {
            let name = path.file_name().expect("a file name").to_string_lossy();
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
            (name.into_owned(), bytes)
        })
        .collect()
}

#[test]
fn the_vendored_packages_are_those_the_runtime_links() {
    let linked = wit_files(&runtime_wasmtime_wasi_dir().join("src/p2/wit/deps"));
    let vendored = wit_files(&repository_root().join("wit/deps"));
    assert!(
        !linked.is_empty(),
        "wasmtime-wasi carries its WASI packages"
    );
    for (name, bytes) in &linked {
        assert!(
            vendored.get(name) == Some(bytes),
            "wit/deps/{name} differs from wasmtime-wasi's: copy it again (see wit/deps/README.md)"
        );
    }
    let only_vendored: Vec<&String> = vendored
        .keys()
        .filter(|name| !linked.contains_key(*name))
        .collect();
    assert_eq!(only_vendored, ["http.wit"]);
}

/// Why a guest's imports would not link against what `host_world` offers, one line per
/// problem. An import is offered when the world imports the same interface at a
/// semver-compatible version no older than the guest's (as wasmtime's linker matches them)
/// and has every function and type the guest uses.
fn unoffered_imports(
    guest: &Resolve,
    guest_world: WorldId,
    host: &Resolve,
    host_world: WorldId,
) -> Vec<String> {
    let offered: BTreeMap<String, InterfaceId> = host.worlds[host_world]
        .imports
        .iter()
        .filter_map(|(_, item)| match item {
            WorldItem::Interface { id, .. } => Some((unversioned_name(host, *id)?, *id)),
            _ => None,
        })
        .collect();
    let mut problems = Vec::new();
    for (key, item) in &guest.worlds[guest_world].imports {
        let import = guest.name_world_key(key);
        let WorldItem::Interface { id, .. } = item else {
            problems.push(format!("{import} is not an interface"));
            continue;
        };
        let Some(host_id) =
            unversioned_name(guest, *id).and_then(|name| offered.get(&name).copied())
        else {
            problems.push(format!("{import} is not offered"));
            continue;
        };
        if !versions_are_compatible(guest, *id, host, host_id) {
            problems.push(format!(
                "{import} is offered only as {}",
                host.id_of(host_id).unwrap_or_default()
            ));
        }
        let (wanted, have) = (&guest.interfaces[*id], &host.interfaces[host_id]);
        for function in wanted.functions.keys() {
            if !have.functions.contains_key(function) {
                problems.push(format!("{import} has no function {function}"));
            }
        }
        for type_name in wanted.types.keys() {
            if !have.types.contains_key(type_name) {
                problems.push(format!("{import} has no type {type_name}"));
            }
        }
    }
    problems
}

/// `namespace:package/interface`, without the version, or nothing for an unnamed one.
fn unversioned_name(resolve: &Resolve, interface: InterfaceId) -> Option<String> {
    let interface_name = resolve.interfaces[interface].name.as_ref()?;
    let package = &resolve.packages[resolve.interfaces[interface].package?].name;
    Some(format!(
        "{}:{}/{interface_name}",
        package.namespace, package.name
    ))
}

/// Whether the host's version of an interface satisfies a guest that imports it: the same
/// semver track (the major version, or the minor one below 1.0) and no older.
fn versions_are_compatible(
    guest: &Resolve,
    guest_interface: InterfaceId,
    host: &Resolve,
    host_interface: InterfaceId,
) -> bool {
    let version = |resolve: &Resolve, interface: InterfaceId| {
        let package = resolve.interfaces[interface].package?;
        resolve.packages[package].name.version.clone()
    };
    match (
        version(guest, guest_interface),
        version(host, host_interface),
    ) {
        (Some(wanted), Some(have)) => {
            wanted.major == have.major
                && (wanted.major != 0 || wanted.minor == have.minor)
                && wanted <= have
        }
        (wanted, have) => wanted == have,
    }
}

/// The world a component binary targets, decoded from its component type.
fn component_world(path: &Path) -> (Resolve, WorldId) {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    match decode(&bytes) {
        Ok(DecodedWasm::Component(resolve, world)) => (resolve, world),
        Ok(DecodedWasm::WitPackage(..)) => panic!("{} is a WIT package", path.display()),
        Err(error) => panic!("cannot decode {}: {error:#}", path.display()),
    }
}

#[test]
fn the_example_guests_import_only_what_the_command_world_offers() {
    let worlds = Worlds::load();
    let command = worlds.world("command");
    for name in ["hello", "hog", "testbox"] {
        let (guest_resolve, guest_world) = component_world(&guest(name, WasmTarget::P2));
        let imports = key_names(
            &guest_resolve,
            guest_resolve.worlds[guest_world].imports.keys(),
        );
        assert!(
            imports
                .iter()
                .any(|import| import.starts_with("wasi:cli/stdout@0.2.")),
            "{name} prints, so it imports wasi:cli/stdout: {imports:?}"
        );
        let exports = key_names(
            &guest_resolve,
            guest_resolve.worlds[guest_world].exports.keys(),
        );
        assert!(
            exports
                .iter()
                .any(|export| export.starts_with("wasi:cli/run@0.2.")),
            "{name} is a command, so it exports wasi:cli/run: {exports:?}"
        );
        let problems = unoffered_imports(&guest_resolve, guest_world, &worlds.resolve, command);
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

#[test]
fn an_import_the_command_world_does_not_offer_is_named() {
    let mut worlds = Worlds::load();
    let package = worlds
        .resolve
        .push_str(
            "needs-more.wit",
            r#"
                package test:needs-more;

                world needs-http {
                  import wasi:cli/environment@0.2.12;
                  import wasi:http/outgoing-handler@0.2.12;
                }
            "#,
        )
        .unwrap_or_else(|error| panic!("the test world does not resolve: {error:#}"));
    let needs_http = worlds
        .resolve
        .select_world(&[package], Some("needs-http"))
        .expect("the test world exists");
    let problems = unoffered_imports(
        &worlds.resolve,
        needs_http,
        &worlds.resolve,
        worlds.world("command"),
    );
    assert_eq!(
        problems,
        [
            "wasi:http/types@0.2.12 is not offered",
            "wasi:http/outgoing-handler@0.2.12 is not offered",
        ]
    );
}

#[test]
fn a_newer_interface_with_a_function_the_command_world_lacks_is_named() {
    let mut worlds = Worlds::load();
    let package = worlds
        .resolve
        .push_str(
            "newer-cli.wit",
            r#"
                package wasi:cli@0.2.13;

                interface environment {
                  get-arguments: func() -> list<string>;
                  get-everything: func() -> list<string>;
                }

                world newer {
                  import environment;
                }
            "#,
        )
        .unwrap_or_else(|error| panic!("the test package does not resolve: {error:#}"));
    let newer = worlds
        .resolve
        .select_world(&[package], Some("newer"))
        .expect("the test world exists");
    let problems = unoffered_imports(
        &worlds.resolve,
        newer,
        &worlds.resolve,
        worlds.world("command"),
    );
    assert_eq!(
        problems,
        [
            "wasi:cli/environment@0.2.13 is offered only as wasi:cli/environment@0.2.12",
            "wasi:cli/environment@0.2.13 has no function get-everything",
        ]
    );
}
