//! The component linker: WASI as wasmtime-wasi implements it, except wasi:sockets, which
//! is the pod network's own (`network/wasi`), plus wasi:http (`guest/http`).

use wasmtime::component::Linker;
use wasmtime_wasi::WasiView;
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_io::IoView;

use crate::network::wasi::PodSocketsState;

/// Adds every `wasi:cli/command` import, and the `wasi:http/proxy` world's, to the linker.
pub fn add_wasi_to_linker<T>(linker: &mut Linker<T>) -> wasmtime::Result<()>
where
    T: WasiView + IoView + PodSocketsState + WasiHttpView,
{
    wasmtime_wasi_io::add_to_linker_async(linker)?;
    let l = linker;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, <T as WasiClocksView>::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, <T as WasiClocksView>::clocks)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(
        l,
        <T as WasiFilesystemView>::filesystem,
    )?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(
        l,
        <T as WasiFilesystemView>::filesystem,
    )?;
    random::random::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, <T as WasiRandomView>::random)?;
    cli::exit::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, <T as WasiCliView>::cli)?;
    crate::network::wasi::add_to_linker(l)?;
    super::http::add_to_linker(l)
}
