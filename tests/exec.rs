//! `kubectl exec` against a real `wasmkube up`, with kubectl 1.33 (WebSocket) and 1.27
//! (SPDY): the command runs as the container's image run again in the container's
//! sandbox (its volumes and environment), stdout and stderr stay apart, stdin reaches
//! it with `-i`, its exit code becomes kubectl's; a user without pods/exec (or with only
//! `get` on it) is refused, and a container the pod does not have is Kubernetes' error.

mod support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use support::{Cluster, kubectl_as, mint, ok, text};
use wasmkube_wasm_guests::{WasmTarget, guest};

const KUBECTLS: [&str; 2] = ["kubectl.1.33", "kubectl.1.27"];

/// A running testbox pod with a ConfigMap volume, an emptyDir and an environment
/// variable.
const POD: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
data:
  greeting.txt: "hello from the volume\n"
---
apiVersion: v1
kind: Pod
metadata:
  name: box
spec:
  containers:
  - name: app
    image: testbox:1
    args: ["sleep-forever"]
    env:
    - name: GREETING
      value: hi
    volumeMounts:
    - name: config
      mountPath: /config
    - name: scratch
      mountPath: /scratch
  volumes:
  - name: config
    configMap:
      name: greeting
  - name: scratch
    emptyDir: {}
"#;

/// Starts a cluster with testbox pushed and the pod running.
fn cluster_with_running_box(directory: &Path) -> Cluster {
    let cluster = Cluster::start(directory);
    let path = guest("testbox", WasmTarget::P2).display().to_string();
    ok(cluster.wasmkube(&["image", "push", &path, "testbox:1"]));
    ok(cluster.kubectl_with_input("kubectl", &["apply", "-f", "-"], Some(POD)));
    cluster.wait_for_jsonpath(
        &["pod", "box"],
        "{.status.phase}",
        Duration::from_secs(20),
        |phase| phase == "Running",
    );
    cluster
}

fn exec(cluster: &Cluster, kubectl: &str, arguments: &[&str], input: Option<&str>) -> Output {
    let mut all_arguments = vec!["exec"];
    all_arguments.extend_from_slice(arguments);
    cluster.kubectl_with_input(kubectl, &all_arguments, input)
}

#[test]
fn kubectl_exec_runs_commands_in_the_containers_sandbox() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = cluster_with_running_box(directory.path());

    for kubectl in KUBECTLS {
        let read = exec(
            &cluster,
            kubectl,
            &["box", "--", "testbox", "cat", "/config/greeting.txt"],
            None,
        );
        let (stdout, stderr) = text(&read);
        assert_eq!(read.status.code(), Some(0), "{kubectl}: {stdout}\n{stderr}");
        assert_eq!(stdout, "hello from the volume\n", "{kubectl}: {stderr}");
        assert!(!stderr.contains("falling back"), "{kubectl}: {stderr}");

        let environment = ok(exec(
            &cluster,
            kubectl,
            &["box", "-c", "app", "--", "testbox", "env"],
            None,
        ));
        assert!(
            environment.lines().any(|line| line == "GREETING=hi"),
            "{kubectl}: {environment}"
        );

        // stderr is its own stream: the failure's message is there, not on stdout.
        let missing = exec(
            &cluster,
            kubectl,
            &["box", "--", "testbox", "cat", "/config/nope"],
            None,
        );
        let (stdout, stderr) = text(&missing);
        assert_eq!(
            missing.status.code(),
            Some(1),
            "{kubectl}: {stdout}\n{stderr}"
        );
        assert_eq!(stdout, "", "{kubectl}");
        assert!(
            stderr.starts_with("testbox cat: /config/nope: "),
            "{kubectl}: {stderr}"
        );
        assert!(
            stderr.ends_with("command terminated with exit code 1\n"),
            "{kubectl}: {stderr}"
        );

        let three = exec(
            &cluster,
            kubectl,
            &["box", "--", "testbox", "exit-with-code", "3"],
            None,
        );
        let (stdout, stderr) = text(&three);
        assert_eq!(
            three.status.code(),
            Some(3),
            "{kubectl}: {stdout}\n{stderr}"
        );
        assert_eq!(stderr, "command terminated with exit code 3\n", "{kubectl}");

        let copied = exec(
            &cluster,
            kubectl,
            &["-i", "box", "--", "testbox", "copy-stdin"],
            Some("hi\nthere\n"),
        );
        let (stdout, stderr) = text(&copied);
        assert_eq!(
            copied.status.code(),
            Some(0),
            "{kubectl}: {stdout}\n{stderr}"
        );
        assert_eq!(stdout, "hi\nthere\n", "{kubectl}: {stderr}");

        // WASI has no PATH: the first word is argv[0] of the image's program, as a
        // container's `command` is; testbox skips it and reads its applet from the next.
        let no_path = exec(
            &cluster,
            kubectl,
            &["box", "--", "cat", "/config/greeting.txt"],
            None,
        );
        let (_, stderr) = text(&no_path);
        // A p2 guest's usage exit (2) reaches the host as wasi:cli/exit's error: 1.
        assert_eq!(no_path.status.code(), Some(1), "{kubectl}: {stderr}");
        assert!(
            stderr.starts_with("testbox: unknown applet \"/config/greeting.txt\""),
            "{kubectl}: {stderr}"
        );

        // A container the pod does not have is the API server's error.
        let nowhere = exec(
            &cluster,
            kubectl,
            &["box", "-c", "nope", "--", "testbox", "env"],
            None,
        );
        let (_, stderr) = text(&nowhere);
        assert_eq!(nowhere.status.code(), Some(1), "{kubectl}: {stderr}");
        assert!(
            stderr.contains("container nope is not valid for pod box"),
            "{kubectl}: {stderr}"
        );
    }

    // Commands share the pod's volumes: what one writes, the next reads.
    let wrote = ok(exec(
        &cluster,
        "kubectl.1.33",
        &["box", "--", "testbox", "write", "/scratch/note", "kept"],
        None,
    ));
    assert_eq!(wrote, "wrote /scratch/note\n");
    let note = ok(exec(
        &cluster,
        "kubectl.1.27",
        &["box", "--", "testbox", "cat", "/scratch/note"],
        None,
    ));
    assert_eq!(note, "kept\n");
}

#[test]
fn exec_needs_create_on_pods_exec() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = cluster_with_running_box(directory.path());
    let viewer = mint(
        &cluster,
        directory.path(),
        "viewer",
        &["--user", "viewer", "--clusterrole", "view", "-n", "default"],
    );
    // `get` on pods/exec is what a WebSocket handshake (a GET) asks for; it is not
    // enough, as with Kubernetes' AuthorizePodWebsocketUpgradeCreatePermission.
    ok(cluster.kubectl(
        "kubectl",
        &[
            "create",
            "role",
            "exec-getter",
            "--verb=get",
            "--resource=pods,pods/exec",
        ],
    ));
    let getter = mint(
        &cluster,
        directory.path(),
        "getter",
        &["--user", "getter", "--role", "exec-getter", "-n", "default"],
    );
    for (user, kubeconfig) in [("viewer", &viewer), ("getter", &getter)] {
        for kubectl in KUBECTLS {
            let refused = kubectl_as(
                kubeconfig,
                kubectl,
                &["exec", "box", "--", "testbox", "env"],
            );
            let (stdout, stderr) = text(&refused);
            assert_eq!(refused.status.code(), Some(1), "{user} {kubectl}: {stdout}");
            assert_eq!(stdout, "", "{user} {kubectl}");
            assert!(
                stderr.contains(&format!(
                    "User \"{user}\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
                )) || stderr.contains(&format!(
                    "User \"{user}\" cannot get resource \"pods/exec\" in API group \"\" in the namespace \"default\""
                )),
                "{user} {kubectl}: {stderr}"
            );
        }
    }
    let editor = mint(
        &cluster,
        directory.path(),
        "editor",
        &["--user", "editor", "--clusterrole", "edit", "-n", "default"],
    );
    let allowed = ok(kubectl_as(
        &editor,
        "kubectl.1.33",
        &["exec", "box", "--", "testbox", "echo", "allowed"],
    ));
    assert_eq!(allowed, "allowed\n");
}
