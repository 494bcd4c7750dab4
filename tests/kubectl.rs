//! The real kubectl (1.33, then 1.27) against a real `wasmkube up`: version,
//! api-resources, create namespace, apply of a multi-document file, get as table, yaml
//! and json, get -w, describe, replace with a stale resourceVersion, delete, and
//! everything surviving a restart.

mod support;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use support::{Cluster, ok, text};

const MANIFEST: &str = r#"
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
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: shop
stringData:
  token: s3cr3t
---
apiVersion: v1
kind: Pod
metadata:
  name: hello
  namespace: shop
  labels: {app: hello}
spec:
  # No scheduler of this name exists: the pod stays Pending on no node, so what
  # kubectl prints of it is the same whenever the test looks.
  schedulerName: manual
  containers:
  - name: hello
    image: hello:1.0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:1.0
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"#;

fn exercise(cluster: &Cluster, kubectl: &str) {
    let version = ok(cluster.kubectl(kubectl, &["version", "-o", "json"]));
    assert!(version.contains("\"serverVersion\""), "{version}");
    assert!(version.contains("wasmkube"), "{version}");

    let resources = ok(cluster.kubectl(kubectl, &["api-resources"]));
    for expected in [
        "pods",
        "deployments",
        "horizontalpodautoscalers",
        "clusterrolebindings",
        "leases",
        "endpointslices",
    ] {
        assert!(
            resources.contains(expected),
            "api-resources lacks {expected}:\n{resources}"
        );
    }

    // `kubectl create namespace` sends its body as protobuf.
    let created = ok(cluster.kubectl(kubectl, &["create", "namespace", "scratch"]));
    assert!(created.contains("namespace/scratch created"), "{created}");
    let scratch = ok(cluster.kubectl(
        kubectl,
        &[
            "get",
            "namespace",
            "scratch",
            "-o",
            "jsonpath={.status.phase}",
        ],
    ));
    assert_eq!(scratch, "Active");

    let applied = ok(cluster.kubectl_with_input(kubectl, &["apply", "-f", "-"], Some(MANIFEST)));
    for expected in [
        "namespace/shop created",
        "configmap/settings created",
        "secret/token created",
        "pod/hello created",
        "deployment.apps/web created",
        "service/web created",
    ] {
        assert!(applied.contains(expected), "apply said:\n{applied}");
    }
    let reapplied = ok(cluster.kubectl_with_input(
        kubectl,
        &["apply", "-f", "-"],
        Some(&MANIFEST.replace("replicas: 2", "replicas: 3")),
    ));
    assert!(
        reapplied.contains("deployment.apps/web configured"),
        "{reapplied}"
    );
    assert!(
        reapplied.contains("configmap/settings unchanged"),
        "{reapplied}"
    );
    let replicas = ok(cluster.kubectl(
        kubectl,
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    ));
    assert_eq!(replicas, "3");

    let pods = ok(cluster.kubectl(kubectl, &["get", "pods", "-n", "shop"]));
    assert!(pods.starts_with("NAME"), "{pods}");
    assert!(
        pods.contains("READY")
            && pods.contains("STATUS")
            && pods.contains("hello")
            && pods.contains("Pending"),
        "{pods}"
    );
    let services = ok(cluster.kubectl(kubectl, &["get", "svc", "-n", "shop", "-o", "wide"]));
    assert!(
        services.contains("CLUSTER-IP")
            && services.contains("80/TCP")
            && services.contains("SELECTOR"),
        "{services}"
    );
    let deployments = ok(cluster.kubectl(kubectl, &["get", "deploy", "-A"]));
    assert!(
        deployments.contains("NAMESPACE")
            && deployments.contains("web")
            && deployments.contains("UP-TO-DATE"),
        "{deployments}"
    );
    for kind in ["configmap", "secret", "namespace", "serviceaccount"] {
        let listed = ok(cluster.kubectl(kubectl, &["get", kind, "-n", "shop"]));
        assert!(listed.starts_with("NAME"), "{kind}: {listed}");
    }

    let yaml = ok(cluster.kubectl(
        kubectl,
        &["get", "configmap", "settings", "-n", "shop", "-o", "yaml"],
    ));
    assert!(
        yaml.contains("greeting: hello") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let json = ok(cluster.kubectl(
        kubectl,
        &["get", "secret", "token", "-n", "shop", "-o", "json"],
    ));
    let secret: serde_json::Value = serde_json::from_str(&json).expect("json output");
    assert_eq!(
        secret["data"]["token"], "czNjcjN0",
        "stringData is stored as base64 data"
    );

    let described = ok(cluster.kubectl(kubectl, &["describe", "pod", "hello", "-n", "shop"]));
    assert!(
        described.contains("Name:") && described.contains("hello") && described.contains("Events:"),
        "{described}"
    );

    // get -w sees a change made while it watches.
    let mut watcher = cluster
        .kubectl_command(kubectl, &["get", "configmaps", "-n", "shop", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    std::thread::sleep(Duration::from_secs(2));
    let watched_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\n  namespace: shop\ndata:\n  a: b\n";
    ok(cluster.kubectl_with_input(kubectl, &["apply", "-f", "-"], Some(watched_map)));
    std::thread::sleep(Duration::from_secs(2));
    let _ = watcher.kill();
    let mut watched = String::new();
    watcher
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut watched)
        .expect("watch output");
    let _ = watcher.wait();
    assert!(
        watched.contains("settings") && watched.contains("watched"),
        "get -w printed:\n{watched}"
    );

    // replace with a stale resourceVersion: the conflict message.
    let stale = yaml.replace("greeting: hello", "greeting: stale");
    ok(cluster.kubectl(
        kubectl,
        &[
            "patch",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-p",
            r#"{"data":{"greeting":"newer"}}"#,
        ],
    ));
    let conflict = cluster.kubectl_with_input(kubectl, &["replace", "-f", "-"], Some(&stale));
    let (_, stderr) = text(&conflict);
    assert!(!conflict.status.success());
    assert!(stderr.contains("the object has been modified; please apply your changes to the latest version and try again"), "{stderr}");

    let deleted = ok(cluster.kubectl(kubectl, &["delete", "pod", "hello", "-n", "shop"]));
    assert!(deleted.contains("pod \"hello\" deleted"), "{deleted}");
    let missing = cluster.kubectl(kubectl, &["get", "pod", "hello", "-n", "shop"]);
    assert!(text(&missing).1.contains("pods \"hello\" not found"));
}

fn clean_up(cluster: &Cluster, kubectl: &str) {
    let deleted = ok(cluster.kubectl(kubectl, &["delete", "namespace", "shop", "scratch"]));
    assert!(deleted.contains("namespace \"shop\" deleted"), "{deleted}");
    let gone = cluster.kubectl(kubectl, &["get", "configmaps", "-n", "shop"]);
    assert!(
        text(&gone).1.contains("No resources found"),
        "{:?}",
        text(&gone)
    );
}

#[test]
fn kubectl_drives_the_cluster_and_objects_survive_a_restart() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    exercise(&cluster, "kubectl.1.33");
    let uid_before = ok(cluster.kubectl(
        "kubectl.1.33",
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    ));
    cluster.stop();

    let cluster = Cluster::start(data_dir.path());
    let uid_after = ok(cluster.kubectl(
        "kubectl.1.27",
        &[
            "get",
            "deployment",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    ));
    assert_eq!(uid_before, uid_after, "the same objects after a restart");
    let config = ok(cluster.kubectl(
        "kubectl.1.27",
        &[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.greeting}",
        ],
    ));
    assert_eq!(config, "newer");
    let table = ok(cluster.kubectl(
        "kubectl.1.27",
        &["get", "deployments,services", "-n", "shop"],
    ));
    assert!(
        table.contains("deployment.apps/web") && table.contains("service/web"),
        "{table}"
    );
    // The whole exercise again with kubectl 1.27, whose apply validates on the client
    // with the protobuf OpenAPI v2 document.
    clean_up(&cluster, "kubectl.1.27");
    exercise(&cluster, "kubectl.1.27");
    clean_up(&cluster, "kubectl.1.27");
}
