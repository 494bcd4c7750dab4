//! The machine's real `kubectl` against the in-process API server's real address, driving
//! a Deployment through what users do with one: create, scale, set image, rollout status,
//! history, undo (to the previous and to a chosen revision), pause, resume and restart.
//! kubectl does all of these on the client from the Deployment's and its ReplicaSets'
//! fields, so they work only if the controller keeps those as Kubernetes does.

mod support;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use support::{TestControlPlane, eventually};
use wasmkube_controllers::owners;

const TIMEOUT: Duration = Duration::from_secs(15);
const REVISION: &str = "deployment.kubernetes.io/revision";

/// kubectl with its own kubeconfig and cache directory, never the user's.
struct Kubectl {
    directory: tempfile::TempDir,
}

impl Kubectl {
    fn new(cluster: &TestControlPlane) -> Kubectl {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let config = cluster
            .control_plane
            .admin_kubeconfig()
            .expect("the admin's kubeconfig");
        std::fs::write(directory.path().join("kubeconfig"), config)
            .expect("the kubeconfig is written");
        Kubectl { directory }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.directory.path().join(name)
    }

    async fn run(&self, arguments: &[&str]) -> Output {
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.path("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .args(arguments)
            .env_remove("KUBECONFIG")
            .output()
            .await
            .expect("kubectl runs")
    }

    /// Runs kubectl, failing the test unless it succeeds; answers its standard output.
    async fn ok(&self, arguments: &[&str]) -> String {
        let output = self.run(arguments).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "kubectl {arguments:?} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    async fn rollout_status(&self) {
        let output = self
            .ok(&["rollout", "status", "deployment/web", "--timeout=20s"])
            .await;
        assert!(
            output.contains("deployment \"web\" successfully rolled out"),
            "{output}"
        );
    }

    async fn image(&self) -> String {
        self.ok(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ])
        .await
    }
}

async fn deployment(client: &Client) -> Deployment {
    Api::<Deployment>::namespaced(client.clone(), "default")
        .get("web")
        .await
        .expect("the deployment")
}

async fn replica_sets(client: &Client) -> Vec<ReplicaSet> {
    let uid = deployment(client).await.uid().unwrap_or_default();
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .expect("the replica sets")
        .items
        .into_iter()
        .filter(|replica_set| owners::is_controlled_by(&replica_set.metadata, &uid))
        .collect()
}

fn revision(deployment: &Deployment) -> Option<String> {
    deployment.annotations().get(REVISION).cloned()
}

/// The rows of `kubectl rollout history`: revision and change cause.
fn history_rows(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .skip_while(|line| !line.starts_with("REVISION"))
        .skip(1)
        .filter_map(|line| {
            let (revision, cause) = line.trim().split_once(char::is_whitespace)?;
            Some((revision.to_owned(), cause.trim().to_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_a_deployment_through_its_rollouts() {
    let cluster = TestControlPlane::start().await;
    let _node = cluster.hollow_node("hollow-1").await;
    let kubectl = Kubectl::new(&cluster);

    kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=hollow/run",
            "--replicas=3",
        ])
        .await;
    kubectl.rollout_status().await;
    kubectl
        .ok(&["scale", "deployment", "web", "--replicas=4"])
        .await;
    kubectl.rollout_status().await;
    assert_eq!(
        kubectl
            .ok(&[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.status.readyReplicas}"
            ])
            .await,
        "4"
    );

    // kubectl named the container after the image: "run".
    kubectl
        .ok(&["set", "image", "deployment/web", "run=hollow/run-v2"])
        .await;
    kubectl
        .ok(&[
            "annotate",
            "deployment",
            "web",
            "kubernetes.io/change-cause=image v2",
        ])
        .await;
    kubectl.rollout_status().await;
    let history = eventually("the change cause in the history", TIMEOUT, || async {
        let rows = history_rows(&kubectl.ok(&["rollout", "history", "deployment/web"]).await);
        let expected = vec![
            ("1".to_owned(), "<none>".to_owned()),
            ("2".to_owned(), "image v2".to_owned()),
        ];
        if rows == expected {
            Ok(rows)
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await;
    assert_eq!(history.len(), 2);
    let first_revision = kubectl
        .ok(&["rollout", "history", "deployment/web", "--revision=1"])
        .await;
    assert!(
        first_revision.contains("Image:\thollow/run\n"),
        "{first_revision}"
    );

    let undone = kubectl.ok(&["rollout", "undo", "deployment/web"]).await;
    assert!(undone.contains("rolled back"), "{undone}");
    kubectl.rollout_status().await;
    assert_eq!(kubectl.image().await, "hollow/run");
    eventually("revision 3", TIMEOUT, || async {
        let found = revision(&deployment(&cluster.client).await);
        if found.as_deref() == Some("3") {
            Ok(())
        } else {
            Err(format!("{found:?}"))
        }
    })
    .await;
    assert_eq!(replica_sets(&cluster.client).await.len(), 2);

    kubectl
        .ok(&["rollout", "undo", "deployment/web", "--to-revision=2"])
        .await;
    kubectl.rollout_status().await;
    assert_eq!(kubectl.image().await, "hollow/run-v2");
    eventually("revision 4", TIMEOUT, || async {
        let found = revision(&deployment(&cluster.client).await);
        if found.as_deref() == Some("4") {
            Ok(())
        } else {
            Err(format!("{found:?}"))
        }
    })
    .await;
    let rows = history_rows(&kubectl.ok(&["rollout", "history", "deployment/web"]).await);
    let revisions: Vec<&str> = rows.iter().map(|(revision, _)| revision.as_str()).collect();
    assert_eq!(revisions, ["3", "4"]);

    kubectl.ok(&["rollout", "pause", "deployment/web"]).await;
    kubectl
        .ok(&["set", "image", "deployment/web", "run=hollow/run-v3"])
        .await;
    eventually(
        "the paused deployment to observe the new template",
        TIMEOUT,
        || async {
            let current = deployment(&cluster.client).await;
            let status = current.status.clone().unwrap_or_default();
            let paused_reason = status
                .conditions
                .iter()
                .flatten()
                .any(|condition| condition.reason.as_deref() == Some("DeploymentPaused"));
            if status.observed_generation == current.metadata.generation && paused_reason {
                Ok(())
            } else {
                Err(format!("{status:?}"))
            }
        },
    )
    .await;
    assert_eq!(
        replica_sets(&cluster.client).await.len(),
        2,
        "no rollout while paused"
    );
    kubectl.ok(&["rollout", "resume", "deployment/web"]).await;
    kubectl.rollout_status().await;
    assert_eq!(replica_sets(&cluster.client).await.len(), 3);

    kubectl.ok(&["rollout", "restart", "deployment/web"]).await;
    kubectl.rollout_status().await;
    let restarted = deployment(&cluster.client).await;
    let template_annotations = restarted
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|metadata| metadata.annotations.clone())
        .unwrap_or_default();
    assert!(template_annotations.contains_key("kubectl.kubernetes.io/restartedAt"));
    assert_eq!(replica_sets(&cluster.client).await.len(), 4);
    assert_eq!(revision(&restarted).as_deref(), Some("6"));
}
