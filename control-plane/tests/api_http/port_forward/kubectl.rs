//! Running the real kubectl's `port-forward` in tests, and the small servers its
//! connections reach: shared by the API server's tests and the runtime's, which include
//! this file.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use std::process::Stdio;
use std::time::Duration;
use wasmkube_control_plane::server::ControlPlane;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStderr, Command};

/// How long kubectl may take to start forwarding, and a forwarded exchange to finish.
const PATIENCE: Duration = Duration::from_secs(20);

/// A TCP echo server: each connection gets back what it sent, and is closed once the
/// client has finished sending.
pub async fn start_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let port = listener.local_addr().expect("the echo address").port();
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reading, mut writing) = connection.split();
                let _ = tokio::io::copy(&mut reading, &mut writing).await;
                let _ = writing.shutdown().await;
            });
        }
    });
    port
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("its address").port()
}

fn kubectl_path(binary: &str) -> PathBuf {
    let kubectl = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|directory| directory.join("kubectl"))
                .find(|path| path.is_file())
        })
        .expect("kubectl on PATH");
    let real = std::fs::canonicalize(&kubectl).unwrap_or(kubectl);
    real.parent()
        .map(|directory| directory.join(binary))
        .expect("kubectl's directory")
}

pub fn write_kubeconfig(directory: &Path, plane: &ControlPlane) -> PathBuf {
    let path = directory.join("kubeconfig");
    let config = plane.admin_kubeconfig().expect("the admin's kubeconfig");
    std::fs::write(&path, config).expect("the kubeconfig is written");
    path
}

/// A running `kubectl port-forward`, with the local port it listens on.
pub struct PortForward {
    process: Child,
    pub local_port: u16,
    stderr: ChildStderr,
}

impl PortForward {
    pub async fn start(kubectl: &str, kubeconfig: &Path, pod: &str, remote_port: u16) -> Self {
        Self::start_with(kubectl, &[], kubeconfig, pod, remote_port).await
    }

    pub async fn start_with(
        kubectl: &str,
        environment: &[(&str, &str)],
        kubeconfig: &Path,
        pod: &str,
        remote_port: u16,
    ) -> Self {
        let mut process = Command::new(kubectl_path(kubectl))
            .envs(environment.iter().copied())
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args([
                "port-forward",
                &format!("pod/{pod}"),
                &format!("0:{remote_port}"),
            ])
            .args(["--address", "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl starts");
        let stdout = process.stdout.take().expect("kubectl's output");
        let mut stderr = process.stderr.take().expect("kubectl's errors");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.expect("kubectl's output reads") {
                // "Forwarding from 127.0.0.1:40123 -> 8080"
                let local_port = line
                    .strip_prefix("Forwarding from 127.0.0.1:")
                    .and_then(|rest| rest.split_once(' '))
                    .and_then(|(port, _)| port.parse().ok());
                if local_port.is_some() {
                    return local_port;
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(local_port) = ready else {
            let mut errors = String::new();
            let _ = stderr.read_to_string(&mut errors).await;
            panic!("{kubectl} port-forward did not start forwarding: {errors}");
        };
        // Later "Handling connection" lines are not needed, but the pipe must not fill.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            process,
            local_port,
            stderr,
        }
    }

    /// Sends `message` through the forward, ends sending, and answers all that came back.
    pub async fn round_trip(&self, message: &[u8]) -> std::io::Result<Vec<u8>> {
        let exchange = async {
            let mut connection = TcpStream::connect(("127.0.0.1", self.local_port)).await?;
            connection.write_all(message).await?;
            connection.shutdown().await?;
            let mut answer = Vec::new();
            connection.read_to_end(&mut answer).await?;
            Ok::<_, std::io::Error>(answer)
        };
        tokio::time::timeout(PATIENCE, exchange)
            .await
            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }

    /// Stops kubectl and answers what it wrote on stderr.
    pub async fn stop(mut self) -> String {
        let _ = self.process.start_kill();
        let mut errors = String::new();
        let _ = tokio::time::timeout(PATIENCE, self.stderr.read_to_string(&mut errors)).await;
        errors
    }
}
