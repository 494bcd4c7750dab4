//! The project's own kubectl-shaped client verbs (`wasmkube apply/get/describe/delete/
//! create namespace/logs`) against a real `wasmkube up`: apply from a file, a directory
//! and standard input, every `get` output format and scope, `get -w`, describe with
//! events, the three ways to delete, logs of a pod no node runs, both ways to name the
//! kubeconfig, and (in `client/bad_input.rs`) bad manifests refused as a whole.

mod support;

#[path = "client/bad_input.rs"]
mod bad_input;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use support::{Cluster, KubeconfigBy, fails, ok, run, text};

/// A namespace and objects in it, as multi-document YAML.
const SHOP: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels: {tier: config}
data:
  greeting: hello
---
apiVersion: v1
kind: Pod
metadata:
  name: hello
  namespace: shop
  labels: {app: hello}
spec:
  # No scheduler of this name exists, so the pod stays Pending on no node and what
  # the verbs print of it does not change while a test runs.
  schedulerName: manual
  containers:
  - name: hello
    image: hello:1.0
"#;

/// Runs `wasmkube ARGUMENTS` until it succeeds with what `done` accepts, for what a
/// controller makes shortly after a change, and returns that output; fails with the last
/// output after a while.
fn wasmkube_eventually(
    cluster: &Cluster,
    arguments: &[&str],
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = cluster.wasmkube(arguments);
        let (stdout, stderr) = text(&output);
        if output.status.success() && done(&stdout) {
            return stdout;
        }
        assert!(
            Instant::now() < deadline,
            "wasmkube {arguments:?} never printed what the test waits for; last: {stdout:?} {stderr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_lines(output: &str, expected: &[&str]) {
    for line in expected {
        assert!(
            output.lines().any(|printed| printed == *line),
            "no line {line:?} in:\n{output}"
        );
    }
}

#[test]
fn apply_from_a_file_a_directory_and_stdin_creates_then_configures_or_leaves_unchanged() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let manifests = tempfile::tempdir().expect("temp dir");

    let file = manifests.path().join("shop.yaml");
    std::fs::write(&file, SHOP).expect("write manifest");
    let file = file.to_str().expect("utf-8 path");
    let created = ok(cluster.wasmkube(&["apply", "-f", file]));
    assert_lines(
        &created,
        &[
            "namespace/shop created",
            "configmap/settings created",
            "pod/hello created",
        ],
    );
    let again = ok(cluster.wasmkube(&["apply", "-f", file]));
    assert_lines(
        &again,
        &[
            "namespace/shop unchanged",
            "configmap/settings unchanged",
            "pod/hello unchanged",
        ],
    );
    std::fs::write(file, SHOP.replace("greeting: hello", "greeting: howdy")).expect("rewrite");
    let changed = ok(cluster.wasmkube(&["apply", "-f", file]));
    assert_lines(
        &changed,
        &[
            "namespace/shop unchanged",
            "configmap/settings configured",
            "pod/hello unchanged",
        ],
    );
    let greeting = ok(cluster.wasmkube(&[
        "get",
        "configmap",
        "settings",
        "-n",
        "shop",
        "-o",
        "jsonpath={.data.greeting}",
    ]));
    assert_eq!(greeting, "howdy");

    // A directory: its YAML and JSON files in name order; other files are not manifests.
    let directory = manifests.path().join("dir");
    std::fs::create_dir(&directory).expect("create dir");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml, namespace: shop}\ndata: {a: '1'}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: from-yaml, namespace: shop}\ndata: {token: dA==}\n";
    let json = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json", "namespace": "shop"}, "data": {"b": "2"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "from-json", "namespace": "shop"}}]}"#;
    std::fs::write(directory.join("a.yaml"), yaml).expect("write a.yaml");
    std::fs::write(directory.join("b.json"), json).expect("write b.json");
    std::fs::write(directory.join("notes.txt"), "not: [a manifest").expect("write notes");
    let directory = directory.to_str().expect("utf-8 path");
    let from_directory = ok(cluster.wasmkube(&["apply", "-f", directory]));
    assert_eq!(
        from_directory,
        "configmap/from-yaml created\nsecret/from-yaml created\nconfigmap/from-json created\nserviceaccount/from-json created\n"
    );
    std::fs::write(
        manifests.path().join("dir").join("a.yaml"),
        yaml.replace("a: '1'", "a: '2'"),
    )
    .expect("rewrite a.yaml");
    let from_directory = ok(cluster.wasmkube(&["apply", "-f", directory]));
    assert_eq!(
        from_directory,
        "configmap/from-yaml configured\nsecret/from-yaml unchanged\nconfigmap/from-json unchanged\nserviceaccount/from-json unchanged\n"
    );

    // Standard input: a stream of JSON objects without a namespace goes to `-n`'s.
    let stream = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "piped"}, "data": {"c": "3"}}
{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
 "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
          "template": {"metadata": {"labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "web", "image": "web:1.0"}]}}}}
"#;
    let piped = ok(cluster.wasmkube_with_input(&["apply", "-n", "shop", "-f", "-"], stream));
    assert_eq!(
        piped,
        "configmap/piped created\ndeployment.apps/web created\n"
    );
    let scaled = stream.replace("\"replicas\": 1", "\"replicas\": 3");
    let piped = ok(cluster.wasmkube_with_input(&["apply", "-n", "shop", "-f", "-"], &scaled));
    assert_eq!(
        piped,
        "configmap/piped unchanged\ndeployment.apps/web configured\n"
    );
    let replicas = ok(cluster.wasmkube(&[
        "get",
        "deployment",
        "web",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.replicas}",
    ]));
    assert_eq!(replicas, "3");
}

#[test]
fn get_prints_every_output_format_in_every_scope() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], SHOP));
    let elsewhere = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, labels: {tier: other}}\ndata: {x: y}\n";
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], elsewhere));

    let table = ok(cluster.wasmkube(&["get", "pods", "-n", "shop"]));
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("hello ") && row.contains("Pending")),
        "{table}"
    );
    let wide = ok(cluster.wasmkube(&["get", "pods", "-n", "shop", "-o", "wide"]));
    assert!(
        wide.lines()
            .next()
            .is_some_and(|header| header.contains("IP") && header.contains("NODE")),
        "{wide}"
    );

    let yaml = ok(cluster.wasmkube(&["get", "configmap", "settings", "-n", "shop", "-o", "yaml"]));
    let object: serde_yaml::Value = serde_yaml::from_str(&yaml).expect("yaml output");
    assert_eq!(object["kind"], "ConfigMap");
    assert_eq!(object["data"]["greeting"], "hello");
    assert_eq!(object["metadata"]["namespace"], "shop");
    let json = ok(cluster.wasmkube(&["get", "configmaps", "-n", "shop", "-o", "json"]));
    let list: serde_json::Value = serde_json::from_str(&json).expect("json output");
    assert_eq!(list["kind"], "List");
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"settings") && !names.contains(&"elsewhere"),
        "{names:?}"
    );
    let name = ok(cluster.wasmkube(&["get", "pod", "hello", "-n", "shop", "-o", "name"]));
    assert_eq!(name, "pod/hello\n");
    let image = ok(cluster.wasmkube(&[
        "get",
        "pods",
        "-n",
        "shop",
        "-o",
        r#"jsonpath={range .items[*]}{.metadata.name}={.spec.containers[0].image}{"\n"}{end}"#,
    ]));
    assert_eq!(image, "hello=hello:1.0\n");

    // Without -n the kubeconfig context's namespace (default) is listed.
    let default = ok(cluster.wasmkube(&["get", "configmaps", "-o", "name"]));
    assert!(default.contains("configmap/elsewhere"), "{default}");
    assert!(!default.contains("configmap/settings"), "{default}");
    let everywhere = ok(cluster.wasmkube(&["get", "configmaps", "-A"]));
    assert!(everywhere.starts_with("NAMESPACE"), "{everywhere}");
    assert!(
        everywhere
            .lines()
            .any(|row| row.split_whitespace().take(2).eq(["shop", "settings"]))
            && everywhere
                .lines()
                .any(|row| row.split_whitespace().take(2).eq(["default", "elsewhere"])),
        "{everywhere}"
    );
    let labelled =
        ok(cluster.wasmkube(&["get", "configmaps", "-A", "-l", "tier=config", "-o", "name"]));
    assert_eq!(labelled, "configmap/settings\n");
    let none = cluster.wasmkube(&["get", "configmaps", "-n", "shop", "-l", "tier=none"]);
    let (stdout, stderr) = text(&none);
    assert!(none.status.success() && stdout.is_empty(), "{stdout}");
    assert_eq!(stderr, "No resources found in shop namespace.\n");
    let missing = fails(cluster.wasmkube(&["get", "pod", "nope", "-n", "shop"]));
    assert_eq!(
        missing,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
}

/// Waits (generously) for a line that `wanted` accepts; panics with what was printed.
fn wait_for_line(lines: &Receiver<String>, seen: &mut Vec<String>, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|line| wanted(line)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                panic!(
                    "get -w never printed the expected line; it printed:\n{}",
                    seen.join("\n")
                )
            }
        }
    }
}

#[test]
fn get_watch_prints_the_changes_made_while_it_watches() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], SHOP));

    let mut watcher = cluster
        .wasmkube_command(
            KubeconfigBy::Flag,
            &["get", "configmaps", "-n", "shop", "-w"],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wasmkube get -w");
    let stdout = watcher.stdout.take().expect("stdout");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let columns = |line: &str, first: [&str; 2]| line.split_whitespace().take(2).eq(first);
    let mut seen = Vec::new();
    wait_for_line(&lines, &mut seen, |line| columns(line, ["settings", "1"]));

    let added = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched, namespace: shop}\ndata: {a: b}\n";
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], added));
    wait_for_line(&lines, &mut seen, |line| columns(line, ["watched", "1"]));
    let modified = SHOP.replace("greeting: hello", "greeting: hello\n  farewell: bye");
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], &modified));
    wait_for_line(&lines, &mut seen, |line| columns(line, ["settings", "2"]));

    let _ = watcher.kill();
    let _ = watcher.wait();
}

#[test]
fn describe_shows_the_object_and_the_events_about_it() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], SHOP));
    let quiet = ok(cluster.wasmkube(&["describe", "pod", "hello", "-n", "shop"]));
    for line in [
        "Name:             hello",
        "Namespace:        shop",
        "Status:           Pending",
    ] {
        assert!(
            quiet.lines().any(|printed| printed == line),
            "no {line:?} in:\n{quiet}"
        );
    }
    assert!(quiet.contains("    Image:        hello:1.0"), "{quiet}");
    assert!(
        quiet
            .lines()
            .any(|line| line.split_whitespace().eq(["Events:", "<none>"])),
        "{quiet}"
    );

    let uid = ok(cluster.wasmkube(&[
        "get",
        "pod",
        "hello",
        "-n",
        "shop",
        "-o",
        "jsonpath={.metadata.uid}",
    ]));
    let event = format!(
        r#"{{"apiVersion": "v1", "kind": "Event", "metadata": {{"name": "hello.1", "namespace": "shop"}},
            "involvedObject": {{"kind": "Pod", "name": "hello", "namespace": "shop", "uid": "{uid}"}},
            "reason": "Tested", "message": "an event about hello", "type": "Warning", "count": 1,
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z",
            "source": {{"component": "e2e"}}}}"#
    );
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], &event));
    let described = ok(cluster.wasmkube(&["describe", "pods/hello", "-n", "shop"]));
    let events = described
        .split_once("\nEvents:\n")
        .map(|(_, events)| events)
        .unwrap_or_default();
    let header: Vec<&str> = events
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["Type", "Reason", "Age", "From", "Message"],
        "{described}"
    );
    assert!(
        events.lines().any(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            columns.first() == Some(&"Warning")
                && columns.get(1) == Some(&"Tested")
                && columns.get(3) == Some(&"e2e")
                && line.ends_with("an event about hello")
        }),
        "{described}"
    );
    let missing = fails(cluster.wasmkube(&["describe", "pod", "nope", "-n", "shop"]));
    assert_eq!(
        missing,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
}

#[test]
fn delete_by_name_by_file_and_by_selector_and_create_namespace() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let created = ok(cluster.wasmkube(&["create", "namespace", "team"]));
    assert_eq!(created, "namespace/team created\n");
    let again = fails(cluster.wasmkube(&["create", "namespace", "team"]));
    assert_eq!(
        again,
        "Error from server (AlreadyExists): namespaces \"team\" already exists\n"
    );
    let phase =
        ok(cluster.wasmkube(&["get", "namespace", "team", "-o", "jsonpath={.status.phase}"]));
    assert_eq!(phase, "Active");
    // As in Kubernetes, the root CA publisher puts kube-root-ca.crt in the new namespace.
    let root_ca_uid = [
        "get",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        "team",
        "-o",
        "jsonpath={.metadata.uid}",
    ];
    let first_uid = wasmkube_eventually(&cluster, &root_ca_uid, |uid| !uid.is_empty());

    let objects = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one, labels: {batch: a}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two, labels: {batch: a}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: three, labels: {batch: b}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: four}\n";
    ok(cluster.wasmkube_with_input(&["apply", "-n", "team", "-f", "-"], objects));
    let listed = |kind: &str| ok(cluster.wasmkube(&["get", kind, "-n", "team", "-o", "name"]));

    let by_name = ok(cluster.wasmkube(&["delete", "configmap", "three", "-n", "team"]));
    assert_eq!(by_name, "configmap \"three\" deleted\n");
    let by_selector =
        ok(cluster.wasmkube(&["delete", "configmaps", "-l", "batch=a", "-n", "team"]));
    assert_lines(
        &by_selector,
        &["configmap \"one\" deleted", "configmap \"two\" deleted"],
    );
    // The selector chose only its own: the namespace's kube-root-ca.crt stays.
    assert_eq!(listed("configmaps"), "configmap/kube-root-ca.crt\n");
    assert_eq!(listed("secrets"), "secret/four\n");
    // --all means every ConfigMap, kube-root-ca.crt too, which the publisher puts back.
    let all = ok(cluster.wasmkube(&["delete", "configmaps", "--all", "-n", "team"]));
    assert_eq!(all, "configmap \"kube-root-ca.crt\" deleted\n");
    wasmkube_eventually(&cluster, &root_ca_uid, |uid| {
        !uid.is_empty() && uid != first_uid
    });
    assert_eq!(listed("configmaps"), "configmap/kube-root-ca.crt\n");

    let manifests = tempfile::tempdir().expect("temp dir");
    let file = manifests.path().join("four.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Secret\nmetadata: {name: four, namespace: team}\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8 path");
    let by_file = ok(cluster.wasmkube(&["delete", "-f", file]));
    assert_eq!(by_file, "secret \"four\" deleted\n");
    assert_eq!(listed("secrets"), "");
    let gone = fails(cluster.wasmkube(&["delete", "-f", file]));
    assert_eq!(
        gone,
        "Error from server (NotFound): secrets \"four\" not found\n"
    );
    ok(cluster.wasmkube(&["delete", "-f", file, "--ignore-not-found"]));
}

#[test]
fn logs_of_a_pod_that_no_node_runs_is_a_clear_error() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], SHOP));
    // The pod names a scheduler that does not exist, so it has no node; the server
    // answers like Kubernetes does for a pod without a node.
    let unscheduled = fails(cluster.wasmkube(&["logs", "hello", "-n", "shop"]));
    assert_eq!(
        unscheduled,
        "Error from server (BadRequest): pod hello does not have a host assigned\n"
    );
    let missing = fails(cluster.wasmkube(&["logs", "pod/nope", "-n", "shop"]));
    assert_eq!(
        missing,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
}

#[test]
fn the_kubeconfig_comes_from_the_flag_or_from_kubeconfig_in_the_environment() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let get_default = ["get", "ns", "default", "-o", "name"];
    for how in [KubeconfigBy::Flag, KubeconfigBy::Environment] {
        let found = ok(run(cluster.wasmkube_command(how, &get_default), None));
        assert_eq!(found, "namespace/default\n", "{how:?}");
    }

    // KUBECONFIG is a list: files are merged and missing ones skipped, like kubectl.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let missing = elsewhere.path().join("missing");
    let list = std::env::join_paths([missing.as_path(), cluster.kubeconfig().as_path()])
        .expect("path list");
    let mut listed = cluster.wasmkube_command(KubeconfigBy::Environment, &get_default);
    listed.env("KUBECONFIG", &list);
    assert_eq!(ok(run(listed, None)), "namespace/default\n");

    // The flag wins over the environment, and a file it names must exist.
    let mut overridden = cluster.wasmkube_command(KubeconfigBy::Flag, &get_default);
    overridden.env("KUBECONFIG", &missing);
    assert_eq!(ok(run(overridden, None)), "namespace/default\n");
    let missing = missing.to_str().expect("utf-8 path");
    let explicit = cluster.wasmkube_command(
        KubeconfigBy::Environment,
        &["--kubeconfig", missing, "get", "ns"],
    );
    let refused = fails(run(explicit, None));
    assert!(
        refused.starts_with(&format!("error: loading kubeconfig {missing}:")),
        "{refused}"
    );
}
