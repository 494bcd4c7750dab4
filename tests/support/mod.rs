//! Starting a real `wasmkube up` process on a free loopback port with its own data
//! directory, and driving it with the machine's real kubectl.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cluster {
    process: Child,
    pub data_dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

impl Cluster {
    pub fn start(data_dir: &Path) -> Cluster {
        let address = format!("127.0.0.1:{}", free_port());
        let mut process = Command::new(env!("CARGO_BIN_EXE_wasmkube"))
            .args(["up", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &address])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wasmkube up");
        let stdout = process.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "wasmkube up did not get ready in time"
            );
            match lines.next() {
                Some(Ok(line)) if line.starts_with("wasmkube is up") => break,
                Some(Ok(_)) => {}
                _ => panic!(
                    "wasmkube up exited before it was ready: {:?}",
                    process.wait()
                ),
            }
        }
        Cluster {
            process,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("kubeconfig")
    }

    /// Runs a kubectl binary (`kubectl`, `kubectl.1.27`, …) against this cluster.
    pub fn kubectl(&self, binary: &str, arguments: &[&str]) -> Output {
        self.kubectl_with_input(binary, arguments, None)
    }

    pub fn kubectl_with_input(
        &self,
        binary: &str,
        arguments: &[&str],
        input: Option<&str>,
    ) -> Output {
        let mut command = Command::new(kubectl_path(binary));
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(arguments)
            .env_remove("KUBECONFIG");
        command
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("run {binary}: {error}"));
        if let Some(input) = input {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    pub fn stop(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// `kubectl.1.27` … sit beside the binary `kubectl` links to.
pub fn kubectl_path(binary: &str) -> PathBuf {
    let default = which("kubectl").expect("kubectl on PATH");
    if binary == "kubectl" {
        return default;
    }
    let real = std::fs::canonicalize(&default).unwrap_or(default);
    real.parent()
        .map(|directory| directory.join(binary))
        .expect("kubectl's directory")
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|directory| directory.join(binary))
            .find(|path| path.is_file())
    })
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asserts success and returns stdout.
pub fn ok(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert!(
        output.status.success(),
        "command failed: {stderr}\nstdout: {stdout}"
    );
    stdout
}
