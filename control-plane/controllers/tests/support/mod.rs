//! The controllers' test bench: a real API server (in-process, on a temporary store) with
//! its scheduler, the controller manager, and hollow nodes (kubemark's idea): nodes that
//! register, renew their Lease and report the pods bound to them as a kubelet would,
//! without running anything. What a hollow pod does is chosen by its first container's
//! image:
//!
//! - `hollow/run` (or anything else): Running and Ready;
//! - `hollow/not-ready`: Running, never Ready;
//! - `hollow/succeed`: Succeeded with exit code 0;
//! - `hollow/fail`: Failed with exit code 1.
//!
//! The annotation `hollow.wasmkube.dev/finish-after-ms` delays succeeding or failing.
//! A pod marked for deletion is removed at once, as a kubelet confirms a deletion.
//! Once the node IPAM controller has given the node a podCIDR, each pod it reports
//! Running gets the next address of that block as its podIP (from .2 on, as the CNI
//! host-local plugin hands them out); before that, pods are reported without one.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::task::JoinHandle;
use wasmkube_control_plane::api::ApiOptions;
use wasmkube_control_plane::server::{ControlPlane, ControlPlaneOptions, start};
use wasmkube_controllers::{ControllerManager, ControllerManagerOptions};

pub const FINISH_AFTER_ANNOTATION: &str = "hollow.wasmkube.dev/finish-after-ms";

pub struct TestControlPlane {
    pub client: Client,
    pub control_plane: ControlPlane,
    options: ControllerManagerOptions,
    manager: Option<ControllerManager>,
    _directory: tempfile::TempDir,
}

impl TestControlPlane {
    pub async fn start() -> TestControlPlane {
        TestControlPlane::start_with(ControllerManagerOptions::default()).await
    }

    pub async fn start_with(options: ControllerManagerOptions) -> TestControlPlane {
        TestControlPlane::start_with_api(options, ApiOptions::default()).await
    }

    /// Starts with the API server's settings too (admission plugins' flags, say).
    pub async fn start_with_api(
        options: ControllerManagerOptions,
        api: ApiOptions,
    ) -> TestControlPlane {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let control_plane = start(ControlPlaneOptions {
            data_dir: directory.path().join("server"),
            listen: "127.0.0.1:0".parse().expect("an address"),
            api,
            compaction_interval: Duration::from_secs(300),
            tls_subject_alternative_names: Vec::new(),
            audit: wasmkube_control_plane::server::AuditOptions::default(),
        })
        .await
        .expect("the control plane starts");
        let client = control_plane.client.clone();
        let manager = ControllerManager::start(client.clone(), options.clone());
        TestControlPlane {
            client,
            control_plane,
            options,
            manager: Some(manager),
            _directory: directory,
        }
    }

    /// Stops the controller manager (as a crash would) and starts a new one, which knows
    /// only what it lists and watches.
    pub async fn restart_controller_manager(&mut self) {
        self.stop_controller_manager().await;
        self.manager = Some(ControllerManager::start(
            self.client.clone(),
            self.options.clone(),
        ));
    }

    pub async fn stop_controller_manager(&mut self) {
        if let Some(manager) = self.manager.take() {
            manager.stop().await;
        }
    }

    pub fn start_controller_manager(&mut self) {
        assert!(
            self.manager.is_none(),
            "the controller manager already runs"
        );
        self.manager = Some(ControllerManager::start(
            self.client.clone(),
            self.options.clone(),
        ));
    }

    pub async fn hollow_node(&self, name: &str) -> HollowNode {
        HollowNode::start(self.client.clone(), name, HollowNodeCapacity::default()).await
    }

    /// A hollow node that reports `internal_ip` as its InternalIP address.
    pub async fn hollow_node_with_internal_ip(&self, name: &str, internal_ip: &str) -> HollowNode {
        HollowNode::start_with_internal_ip(
            self.client.clone(),
            name,
            HollowNodeCapacity::default(),
            Some(internal_ip),
        )
        .await
    }

    /// Waits until the node IPAM controller has given the node a podCIDR, and returns it.
    pub async fn pod_cidr_of(&self, node: &str) -> String {
        let nodes: Api<Node> = Api::all(self.client.clone());
        eventually(
            &format!("node {node} to get a podCIDR"),
            Duration::from_secs(10),
            || async {
                let found = nodes.get(node).await.map_err(|error| error.to_string())?;
                found
                    .spec
                    .and_then(|spec| spec.pod_cidr)
                    .ok_or_else(|| "no podCIDR".to_owned())
            },
        )
        .await
    }
}

#[derive(Clone, Debug)]
pub struct HollowNodeCapacity {
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
}

impl Default for HollowNodeCapacity {
    fn default() -> Self {
        HollowNodeCapacity {
            cpu: "4".to_owned(),
            memory: "8Gi".to_owned(),
            pods: 110,
        }
    }
}

/// A node that acts the kubelet's part in the API without running anything. Dropping it
/// stops it: its Lease is no longer renewed and its pods are no longer reported.
pub struct HollowNode {
    pub name: String,
    client: Client,
    addresses: Arc<PodAddresses>,
    heartbeat: JoinHandle<()>,
    pods: JoinHandle<()>,
}

/// The pod IPs a hollow node has handed out: one per pod uid, so that a pod reported
/// twice keeps its address.
#[derive(Default)]
struct PodAddresses {
    given: Mutex<HashMap<String, Ipv4Addr>>,
}

impl PodAddresses {
    /// The pod's address in `pod_cidr` ("a.b.c.d/n"), or none when the block is full or
    /// does not parse.
    fn address_for(&self, pod_uid: &str, pod_cidr: &str) -> Option<Ipv4Addr> {
        let (network, prefix_length) = pod_cidr.split_once('/')?;
        let network = u32::from(network.parse::<Ipv4Addr>().ok()?);
        let prefix_length: u32 = prefix_length.parse().ok().filter(|length| *length <= 30)?;
        let size = 1u32 << (32 - prefix_length);
        let mut given = self
            .given
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(address) = given.get(pod_uid) {
            return Some(*address);
        }
        let index = u32::try_from(given.len()).ok()? + 2;
        if index >= size - 1 {
            return None;
        }
        let address = Ipv4Addr::from(network + index);
        given.insert(pod_uid.to_owned(), address);
        Some(address)
    }
}

impl Drop for HollowNode {
    fn drop(&mut self) {
        self.heartbeat.abort();
        self.pods.abort();
    }
}

impl HollowNode {
    pub async fn start(client: Client, name: &str, capacity: HollowNodeCapacity) -> HollowNode {
        HollowNode::start_with_internal_ip(client, name, capacity, None).await
    }

    pub async fn start_with_internal_ip(
        client: Client,
        name: &str,
        capacity: HollowNodeCapacity,
        internal_ip: Option<&str>,
    ) -> HollowNode {
        register(&client, name, &capacity, internal_ip).await;
        let addresses = Arc::new(PodAddresses::default());
        let heartbeat = tokio::spawn(renew_lease_forever(client.clone(), name.to_owned()));
        let pods = tokio::spawn(report_pods_forever(
            client.clone(),
            name.to_owned(),
            Arc::clone(&addresses),
        ));
        HollowNode {
            name: name.to_owned(),
            client,
            addresses,
            heartbeat,
            pods,
        }
    }

    /// Stops renewing the Lease (and reporting pods), as a machine that lost power.
    pub fn stop(&self) {
        self.heartbeat.abort();
        self.pods.abort();
    }

    /// Starts again after `stop`, as a machine powered back on: the Lease is renewed and
    /// pods are reported again, and the node re-posts Ready=True whenever its Ready
    /// condition is not True, as a kubelet (and wasmkube's node agent) does when it finds
    /// the node controller marked it Unknown.
    pub fn resume(&mut self) {
        self.stop();
        self.heartbeat = tokio::spawn(renew_lease_and_post_ready_forever(
            self.client.clone(),
            self.name.clone(),
        ));
        self.pods = tokio::spawn(report_pods_forever(
            self.client.clone(),
            self.name.clone(),
            Arc::clone(&self.addresses),
        ));
    }
}

fn ready_condition(status: &str, now: &str) -> serde_json::Value {
    json!({"type": "Ready", "status": status, "reason": "KubeletReady", "message": "hollow node", "lastHeartbeatTime": now, "lastTransitionTime": now})
}

async fn register(
    client: &Client,
    name: &str,
    capacity: &HollowNodeCapacity,
    internal_ip: Option<&str>,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "type": "hollow"}},
    }))
    .expect("a node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("the hollow node registers");
    let resources =
        json!({"cpu": capacity.cpu, "memory": capacity.memory, "pods": capacity.pods.to_string()});
    let now = Timestamp::now().to_string();
    let mut addresses = Vec::new();
    if let Some(internal_ip) = internal_ip {
        addresses.push(json!({"type": "InternalIP", "address": internal_ip}));
    }
    addresses.push(json!({"type": "Hostname", "address": name}));
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {
                "capacity": resources,
                "allocatable": resources,
                "conditions": [ready_condition("True", &now)],
                "addresses": addresses,
            }})),
        )
        .await
        .expect("the hollow node reports its status");
}

async fn renew_lease_forever(client: Client, name: String) {
    loop {
        renew_lease(&client, &name).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn renew_lease(client: &Client, name: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let spec = json!({"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": Timestamp::now().to_string()});
    let renewed = leases
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await;
    if renewed.is_err() {
        let lease: Lease =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec}))
                .expect("a lease");
        let _ = leases.create(&PostParams::default(), &lease).await;
    }
}

async fn renew_lease_and_post_ready_forever(client: Client, name: String) {
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        renew_lease(&client, &name).await;
        let ready = nodes
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .is_some_and(|node| {
                node.status
                    .and_then(|status| status.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|condition| condition.type_ == "Ready" && condition.status == "True")
            });
        if !ready {
            let now = Timestamp::now().to_string();
            let conditions = json!({"status": {"conditions": [ready_condition("True", &now)]}});
            let _ = nodes
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(conditions))
                .await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn report_pods_forever(client: Client, name: String, addresses: Arc<PodAddresses>) {
    let pods: Api<Pod> = Api::all(client.clone());
    let config = watcher::Config::default().fields(&format!("spec.nodeName={name}"));
    let mut events = std::pin::pin!(watcher(pods, config).default_backoff().applied_objects());
    while let Some(event) = events.next().await {
        let Ok(pod) = event else { continue };
        tokio::spawn(report_pod(
            client.clone(),
            name.clone(),
            Arc::clone(&addresses),
            pod,
        ));
    }
}

/// The pod's IP from the node's podCIDR, if the node has one yet.
async fn pod_ip(
    client: &Client,
    node_name: &str,
    addresses: &PodAddresses,
    pod: &Pod,
) -> Option<Ipv4Addr> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get_opt(node_name).await.ok().flatten()?;
    let pod_cidr = node.spec?.pod_cidr?;
    addresses.address_for(&pod.uid()?, &pod_cidr)
}

async fn report_pod(client: Client, node_name: String, addresses: Arc<PodAddresses>, pod: Pod) {
    let namespace = pod.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    if pod.metadata.deletion_timestamp.is_some() {
        let confirm = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        let _ = pods.delete(&pod.name_any(), &confirm).await;
        return;
    }
    let phase = pod.status.as_ref().and_then(|status| status.phase.clone());
    if phase.is_some() && phase.as_deref() != Some("Pending") {
        return;
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let image = spec
        .containers
        .first()
        .and_then(|container| container.image.clone())
        .unwrap_or_default();
    let started = Timestamp::now().to_string();
    let mut running = status_patch(
        &spec,
        "Running",
        image != "hollow/not-ready",
        None,
        &started,
    );
    if let Some(ip) = pod_ip(&client, &node_name, &addresses, &pod).await {
        running["podIP"] = json!(ip.to_string());
        running["podIPs"] = json!([{"ip": ip.to_string()}]);
    }
    if patch_status(&pods, &pod, &running).await.is_err() {
        return;
    }
    let exit_code = match image.as_str() {
        "hollow/succeed" => 0,
        "hollow/fail" => 1,
        _ => return,
    };
    let delay = pod
        .annotations()
        .get(FINISH_AFTER_ANNOTATION)
        .and_then(|milliseconds| milliseconds.parse().ok())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let phase = if exit_code == 0 {
        "Succeeded"
    } else {
        "Failed"
    };
    let finished = status_patch(&spec, phase, false, Some(exit_code), &started);
    let _ = patch_status(&pods, &pod, &finished).await;
}

async fn patch_status(
    pods: &Api<Pod>,
    pod: &Pod,
    status: &serde_json::Value,
) -> Result<Pod, kube::Error> {
    pods.patch_status(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
}

fn status_patch(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    phase: &str,
    ready: bool,
    exit_code: Option<i32>,
    started: &str,
) -> serde_json::Value {
    let now = Timestamp::now().to_string();
    let ready_text = if ready { "True" } else { "False" };
    let state = match exit_code {
        None => json!({"running": {"startedAt": started}}),
        Some(code) => {
            json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }, "startedAt": started, "finishedAt": now}})
        }
    };
    let container_statuses: Vec<serde_json::Value> = spec
        .containers
        .iter()
        .map(|container| {
            json!({
                "name": container.name,
                "image": container.image,
                "imageID": "",
                "ready": ready,
                "started": exit_code.is_none(),
                "restartCount": 0,
                "state": state,
            })
        })
        .collect();
    json!({
        "phase": phase,
        "startTime": started,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            {"type": "Initialized", "status": "True", "lastTransitionTime": started},
            {"type": "ContainersReady", "status": ready_text, "lastTransitionTime": now},
            {"type": "Ready", "status": ready_text, "lastTransitionTime": now},
        ],
        "containerStatuses": container_statuses,
    })
}

/// Polls `check` every 50 ms until it answers `Some`, failing the test after `timeout`
/// with `what` and the last state seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                if tokio::time::Instant::now() >= deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The labels as a map, for building objects in tests.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}
