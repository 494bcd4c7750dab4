//! Starting a real `wasmkube up` (or `wasmkube server` and `wasmkube node`) process on a
//! free loopback port with its own data directory, and driving it with the machine's
//! real kubectl or with the `wasmkube` client verbs.

// Each test crate includes this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use wasmkube_wasm_guests::{WasmTarget, guest};

/// A Deployment of four sleeping testbox pods (image `testbox:1`) with CPU requests, so
/// that the scheduler spreads them over the nodes: the tests that kill nodes use it.
pub const SPREAD_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: spread
spec:
  replicas: 4
  selector:
    matchLabels: {app: spread}
  template:
    metadata:
      labels: {app: spread}
    spec:
      containers:
      - name: app
        image: testbox:1
        args: [sleep-forever]
        resources:
          requests: {cpu: 100m}
"#;

pub struct Cluster {
    process: Child,
    pub data_dir: PathBuf,
    /// The API server's address, `127.0.0.1:PORT`; a restart keeps it.
    pub address: String,
    /// `up` or `server`, and the flags it was started with, for restarts.
    verb: &'static str,
    arguments: Vec<String>,
    /// The lines the process printed on stdout after it said it was up.
    later_output: Mutex<Receiver<String>>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Starts `wasmkube VERB` and waits until it says it is up; the receiver gets the lines it
/// prints after that.
fn spawn_control_plane(
    verb: &str,
    data_dir: &Path,
    address: &str,
    arguments: &[String],
) -> (Child, Receiver<String>) {
    let mut process = Command::new(env!("CARGO_BIN_EXE_wasmkube"))
        .arg(verb)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", address])
        .args(arguments)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("start wasmkube {verb}: {error}"));
    let stdout = process.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "wasmkube {verb} did not get ready in time"
        );
        match lines.next() {
            Some(Ok(line)) if line.starts_with("wasmkube is up") => break,
            Some(Ok(_)) => {}
            _ => panic!(
                "wasmkube {verb} exited before it was ready: {:?}",
                process.wait()
            ),
        }
    }
    // The rest of its output is always read, so that it never blocks on a full pipe, and
    // kept for the tests that look for a line.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    (process, receiver)
}

impl Cluster {
    pub fn start(data_dir: &Path) -> Cluster {
        Cluster::start_with_arguments(data_dir, &[])
    }

    /// Starts `wasmkube up` with more arguments (node agent settings, say).
    pub fn start_with_arguments(data_dir: &Path, arguments: &[&str]) -> Cluster {
        Cluster::start_verb("up", data_dir, arguments)
    }

    /// Starts `wasmkube server`: the control plane alone, which nodes join.
    pub fn start_server(data_dir: &Path, arguments: &[&str]) -> Cluster {
        Cluster::start_verb("server", data_dir, arguments)
    }

    fn start_verb(verb: &'static str, data_dir: &Path, arguments: &[&str]) -> Cluster {
        let address = format!("127.0.0.1:{}", free_port());
        let arguments: Vec<String> = arguments
            .iter()
            .map(|&argument| argument.to_owned())
            .collect();
        let (process, later_output) = spawn_control_plane(verb, data_dir, &address, &arguments);
        Cluster {
            process,
            data_dir: data_dir.to_path_buf(),
            address,
            verb,
            arguments,
            later_output: Mutex::new(later_output),
        }
    }

    /// Waits for the process to print a line that starts with `prefix` (after it said it
    /// was up) and returns it, with the lines before it.
    pub fn wait_for_output_line(&self, prefix: &str, timeout: Duration) -> (String, Vec<String>) {
        let receiver = self.later_output.lock().expect("the output receiver");
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return (line, before),
                Ok(line) => before.push(line),
                Err(error) => panic!(
                    "wasmkube printed no line starting with {prefix:?} ({error}); it printed {before:#?}"
                ),
            }
        }
    }

    /// Kills the control plane at once (SIGKILL), as a machine that loses power.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Starts the control plane again on the same address and data directory (after
    /// `kill`), and waits until it is up.
    pub fn restart(&mut self) {
        self.kill();
        let (process, later_output) =
            spawn_control_plane(self.verb, &self.data_dir, &self.address, &self.arguments);
        self.process = process;
        self.later_output = Mutex::new(later_output);
    }

    /// The API server's URL.
    pub fn server_url(&self) -> String {
        format!("https://{}", self.address)
    }

    /// The join token file `wasmkube server` writes.
    pub fn node_token_file(&self) -> PathBuf {
        self.data_dir.join("node-token")
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
        run(self.kubectl_command(binary, arguments), input)
    }

    /// A kubectl command against this cluster (and never the test run's KUBECONFIG), for
    /// the callers that read its output while it runs.
    pub fn kubectl_command(&self, binary: &str, arguments: &[&str]) -> Command {
        let mut command = Command::new(kubectl_path(binary));
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(arguments)
            .env_remove("KUBECONFIG");
        command
    }

    /// Starts `kubectl port-forward ARGUMENTS` (`service/web :80`, say, with a local port
    /// of kubectl's choosing) and returns it with the local port it forwards from; the
    /// caller kills it.
    pub fn port_forward(&self, arguments: &[&str]) -> (Child, String) {
        let mut all_arguments = vec!["port-forward"];
        all_arguments.extend_from_slice(arguments);
        let mut forward = self
            .kubectl_command("kubectl", &all_arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("kubectl port-forward starts");
        let stdout = forward.stdout.take().expect("its output");
        let mut lines = BufReader::new(stdout).lines();
        // "Forwarding from 127.0.0.1:40423 -> 8080"
        let local_port = loop {
            let line = lines
                .next()
                .expect("kubectl printed where it forwards from")
                .expect("a line");
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                break rest.split_whitespace().next().expect("a port").to_owned();
            }
        };
        // kubectl prints a line for every connection it forwards: its output is read to
        // the end, since a closed pipe would end it at the first one.
        std::thread::spawn(move || lines.for_each(drop));
        (forward, local_port)
    }

    /// Pushes the example guest `guest_name`, built for `target`, as `image`.
    pub fn push_guest(&self, guest_name: &str, target: WasmTarget, image: &str) {
        let path = guest(guest_name, target).display().to_string();
        ok(self.wasmkube(&["image", "push", &path, image]));
    }

    /// A `wasmkube` client command that finds this cluster's kubeconfig as `how` says
    /// (and never through the environment of the test run).
    pub fn wasmkube_command(&self, how: KubeconfigBy, arguments: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmkube"));
        command.env_remove("KUBECONFIG");
        match how {
            KubeconfigBy::Flag => {
                command.arg("--kubeconfig").arg(self.kubeconfig());
            }
            KubeconfigBy::Environment => {
                command.env("KUBECONFIG", self.kubeconfig());
            }
        }
        command.args(arguments);
        command
    }

    /// Runs `wasmkube ARGUMENTS --kubeconfig …` against this cluster.
    pub fn wasmkube(&self, arguments: &[&str]) -> Output {
        run(self.wasmkube_command(KubeconfigBy::Flag, arguments), None)
    }

    /// Like [`Cluster::wasmkube`] with `input` on standard input.
    pub fn wasmkube_with_input(&self, arguments: &[&str], input: &str) -> Output {
        run(
            self.wasmkube_command(KubeconfigBy::Flag, arguments),
            Some(input),
        )
    }

    /// Polls `kubectl get ARGUMENTS -o jsonpath=TEMPLATE` until `done` accepts its output,
    /// failing with the last output after `timeout`.
    pub fn wait_for_jsonpath(
        &self,
        arguments: &[&str],
        template: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let output_flag = format!("-o=jsonpath={template}");
        let mut all_arguments = vec!["get"];
        all_arguments.extend_from_slice(arguments);
        all_arguments.push(&output_flag);
        loop {
            let output = self.kubectl("kubectl", &all_arguments);
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            if output.status.success() && done(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "kubectl {all_arguments:?} never satisfied the test; last output: {text} {}",
                String::from_utf8_lossy(&output.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn stop(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// A `wasmkube node` process joined to a cluster with the server's join token.
pub struct NodeProcess {
    process: Child,
    pub name: String,
}

impl NodeProcess {
    /// Kills the node agent at once (SIGKILL), as a machine that loses power.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Cluster {
    /// Starts `wasmkube node` named `name`, keeping its data in `data_dir`, and waits until
    /// it has joined.
    pub fn start_node(&self, name: &str, data_dir: &Path) -> NodeProcess {
        self.start_node_with_arguments(name, data_dir, &[])
    }

    /// Starts `wasmkube node` with more flags (`--node-endpoint 127.0.0.2:0`, say, so that
    /// two nodes on one host have addresses of their own for their NodePorts).
    pub fn start_node_with_arguments(
        &self,
        name: &str,
        data_dir: &Path,
        arguments: &[&str],
    ) -> NodeProcess {
        let mut process = Command::new(env!("CARGO_BIN_EXE_wasmkube"))
            .args(["node", "--server", &self.server_url(), "--token-file"])
            .arg(self.node_token_file())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--node-name", name])
            .args(arguments)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wasmkube node");
        let stdout = process.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("joined the cluster") => break,
                Some(Ok(_)) => {}
                _ => panic!(
                    "wasmkube node exited before it joined: {:?}",
                    process.wait()
                ),
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        NodeProcess {
            process,
            name: name.to_owned(),
        }
    }

    /// A kube-rs client for this cluster, from its kubeconfig, for what a test watches.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("a client configuration");
        kube::Client::try_from(config).expect("a client")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// How a `wasmkube` client verb is told where the kubeconfig is.
#[derive(Debug, Clone, Copy)]
pub enum KubeconfigBy {
    /// `--kubeconfig PATH`.
    Flag,
    /// `KUBECONFIG=PATH`.
    Environment,
}

/// Runs `command` to completion, writing `input` to its standard input when given.
pub fn run(mut command: Command, input: Option<&str>) -> Output {
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
        .unwrap_or_else(|error| panic!("run {command:?}: {error}"));
    if let Some(input) = input {
        // Written from another thread so that a child that answers before reading all of
        // its input cannot leave both sides waiting on full pipes.
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_owned();
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    child.wait_with_output().expect("command output")
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

/// Asserts that a command failed the way the client reports errors (exit code 1, not a
/// panic) and returns its stderr.
pub fn fails(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a reported failure\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Sends one `GET path` to `address` (`127.0.0.1:PORT`) and returns the whole answer,
/// head and body.
pub fn http_get(address: &str, path: &str) -> String {
    let mut connection = TcpStream::connect(address).expect("a connection");
    connection
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    connection.write_all(request.as_bytes()).expect("a request");
    let mut answer = String::new();
    connection.read_to_string(&mut answer).expect("an answer");
    answer
}

/// `wasmkube kubeconfig ARGUMENTS -o DIRECTORY/NAME.kubeconfig` as the admin: a minted
/// user's or ServiceAccount's kubeconfig.
pub fn mint(cluster: &Cluster, directory: &Path, name: &str, arguments: &[&str]) -> PathBuf {
    let path = directory.join(format!("{name}.kubeconfig"));
    let path_text = path.display().to_string();
    let mut all_arguments = vec!["kubeconfig"];
    all_arguments.extend_from_slice(arguments);
    all_arguments.extend_from_slice(&["-o", &path_text]);
    ok(cluster.wasmkube(&all_arguments));
    path
}

/// The machine's kubectl `binary` with only the given kubeconfig.
pub fn kubectl_as(kubeconfig: &Path, binary: &str, arguments: &[&str]) -> Output {
    let mut command = Command::new(kubectl_path(binary));
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .env_remove("KUBECONFIG");
    run(command, None)
}
