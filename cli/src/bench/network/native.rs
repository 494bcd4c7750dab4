//! The comparison's native side: echo and testbox built for the host from the same
//! crates, run as child processes on the host's TCP loopback. Each child is killed if
//! the benchmark ends before it does.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

/// The host builds of the examples.
pub struct NativeBinaries {
    pub echo: PathBuf,
    pub testbox: PathBuf,
}

impl NativeBinaries {
    pub fn find(directory: &Path) -> anyhow::Result<NativeBinaries> {
        let binary = |name: &str| -> anyhow::Result<PathBuf> {
            let path = directory.join(name);
            anyhow::ensure!(
                path.is_file(),
                "{} does not exist: build the examples for this host first with `cargo build --release --manifest-path examples/Cargo.toml -p echo -p testbox`, or pass --native-dir",
                path.display()
            );
            Ok(path)
        };
        Ok(NativeBinaries {
            echo: binary("echo")?,
            testbox: binary("testbox")?,
        })
    }
}

/// A loopback port that was free a moment ago. Another process could take it before
/// the child binds it; the child then fails to listen, which the benchmark reports.
fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .context("cannot find a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// The native echo server, listening on 127.0.0.1.
pub struct NativeEcho {
    pub address: SocketAddr,
    _child: Child,
    /// Holds echo's log (a line per request), as the node holds a container's.
    _log_directory: tempfile::TempDir,
}

impl NativeEcho {
    pub fn start(binary: &Path) -> anyhow::Result<NativeEcho> {
        let port = free_loopback_port()?;
        let log_directory = tempfile::tempdir().context("cannot create a temporary directory")?;
        let log = std::fs::File::create(log_directory.path().join("echo.log"))
            .context("cannot create the native echo's log")?;
        let child = Command::new(binary)
            .args(["--listen", "127.0.0.1", "--port", &port.to_string()])
            .env("HOSTNAME", "native-echo")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(NativeEcho {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            _child: child,
            _log_directory: log_directory,
        })
    }
}

/// `testbox tcp-source` into `testbox tcp-sink` over the host's loopback; returns the
/// sink's output.
pub async fn loopback_transfer(
    testbox: &Path,
    mebibytes: u64,
    timeout: Duration,
) -> anyhow::Result<String> {
    let port = free_loopback_port()?;
    let testbox_command = |arguments: &[String]| {
        let mut command = Command::new(testbox);
        command
            .args(arguments)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    };
    let sink = testbox_command(&["tcp-sink".to_owned(), port.to_string()])
        .spawn()
        .with_context(|| format!("cannot start {}", testbox.display()))?;
    // The source retries until the sink listens, as it does in a pod.
    let source = testbox_command(&[
        "tcp-source".to_owned(),
        format!("127.0.0.1:{port}"),
        mebibytes.to_string(),
    ])
    .output();
    let (source, sink) = tokio::time::timeout(timeout, async {
        tokio::join!(source, sink.wait_with_output())
    })
    .await
    .with_context(|| format!("the native transfer took over {} s", timeout.as_secs()))?;
    let source = source.context("the native tcp-source did not run")?;
    succeeded("tcp-source", &source)?;
    let sink = sink.context("the native tcp-sink did not run")?;
    succeeded("tcp-sink", &sink)?;
    Ok(String::from_utf8_lossy(&sink.stdout).into_owned())
}

fn succeeded(applet: &str, output: &std::process::Output) -> anyhow::Result<()> {
    anyhow::ensure!(
        output.status.success(),
        "the native testbox {applet} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
