//! The control plane in a process of its own (`wasmkube server`, this very binary), so
//! that the memory of the node agent's process and the API server's can be told apart.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to say it is up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What `wasmkube server` prints once it listens, before its address.
const UP_LINE_PREFIX: &str = "wasmkube is up: API server at https://";

/// A running `wasmkube server`; it is killed when this is dropped.
pub struct ServerProcess {
    pub address: SocketAddr,
    pub pid: u32,
    _child: Child,
}

impl ServerProcess {
    /// The URL its clients reach it at.
    pub fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}

/// Starts `wasmkube server` on a free loopback port with its store in `data_dir`, and
/// waits until it listens.
pub async fn start(data_dir: &Path) -> anyhow::Result<ServerProcess> {
    let executable =
        std::env::current_exe().context("cannot find this program to start its server")?;
    let mut child = Command::new(&executable)
        .arg("server")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir)
        .env("WASMKUBE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {} server", executable.display()))?;
    let pid = child
        .id()
        .context("the server exited as soon as it started")?;
    let stdout = child
        .stdout
        .take()
        .context("the server's output is not readable")?;
    let address = tokio::time::timeout(START_TIMEOUT, async {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(address) = listening_address(&line) {
                return Ok(address);
            }
        }
        anyhow::bail!("the server exited before it said where it listens")
    })
    .await
    .map_err(|_| {
        anyhow::anyhow!(
            "the server did not say where it listens within {} s",
            START_TIMEOUT.as_secs()
        )
    })??;
    Ok(ServerProcess {
        address,
        pid,
        _child: child,
    })
}

/// The address in the server's "wasmkube is up" line.
fn listening_address(line: &str) -> Option<SocketAddr> {
    line.strip_prefix(UP_LINE_PREFIX)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_read_from_the_servers_up_line() {
        assert_eq!(
            listening_address("wasmkube is up: API server at https://127.0.0.1:40123"),
            Some(SocketAddr::from(([127, 0, 0, 1], 40123)))
        );
        assert_eq!(
            listening_address("try: kubectl --kubeconfig /tmp/x get namespaces"),
            None
        );
        assert_eq!(
            listening_address("wasmkube is up: API server at https://nowhere"),
            None
        );
    }
}
