//! `wasmkube up --demo`: once the cluster is up, push every example image into its image
//! store, apply the shop's manifests as `kubectl apply -f` would, wait for the shop's
//! front-end to be available and print the address to open in a browser.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use wasmkube_client::{ApplyArgs, ClientCommand, GlobalOptions};
use wasmkube_control_plane::images::ImageReference;

/// The namespace, Deployment and NodePort Service of the shop's front-end, as
/// examples/shop/manifests/shop.yaml names them.
const SHOP_NAMESPACE: &str = "shop";
const FRONT_END: &str = "front-end";

/// How long the shop may take to become available: its images compile on first use,
/// which takes a few seconds per image on a slow machine.
const AVAILABILITY_TIMEOUT: Duration = Duration::from_secs(180);

/// Deploys the demo, writing progress to `out`. `node_address` is where the node agent
/// listens, and so where its NodePorts are.
pub async fn deploy(
    client: &kube::Client,
    data_dir: &Path,
    node_address: IpAddr,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for image in wasmkube_examples::IMAGES {
        let reference = ImageReference::parse_with_default_tag(image.reference)
            .with_context(|| format!("the example image name {}", image.reference))?;
        let tagged = crate::image::upload(client, image.wasm.to_vec(), &reference)
            .await
            .with_context(|| format!("cannot push the example image {}", image.reference))?;
        writeln!(out, "pushed {}:{}", tagged.name, tagged.tag)?;
    }
    let manifests = write_manifests(data_dir)?;
    apply(data_dir, &manifests, out).await?;
    writeln!(
        out,
        "waiting for deployment \"{FRONT_END}\" in namespace \"{SHOP_NAMESPACE}\" to become available..."
    )?;
    out.flush()?;
    wait_until_available(client).await?;
    let node_port = front_end_node_port(client).await?;
    let host = if node_address.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        node_address
    };
    writeln!(out, "the shop is open at http://{host}:{node_port}/")?;
    out.flush()?;
    Ok(())
}

/// The shop's manifests go into the data directory, where the user can read, edit and
/// re-apply them with kubectl.
fn write_manifests(data_dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let directory = data_dir.join("demo");
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let path = directory.join("shop.yaml");
    std::fs::write(&path, wasmkube_examples::SHOP_MANIFESTS)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Applies the manifests through the admin kubeconfig, exactly as `wasmkube apply -f`
/// does, so that a second `up --demo` reports them unchanged instead of failing.
async fn apply(data_dir: &Path, manifests: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let global = GlobalOptions {
        kubeconfig: Some(data_dir.join("kubeconfig").display().to_string()),
        ..GlobalOptions::default()
    };
    let command = ClientCommand::Apply(ApplyArgs {
        filenames: vec![manifests.display().to_string()],
    });
    let mut errors = Vec::new();
    let exit_code = wasmkube_client::run(&global, command, out, &mut errors).await?;
    anyhow::ensure!(
        exit_code == 0,
        "applying {} failed: {}",
        manifests.display(),
        String::from_utf8_lossy(&errors).trim()
    );
    Ok(())
}

async fn wait_until_available(client: &kube::Client) -> anyhow::Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), SHOP_NAMESPACE);
    let deadline = Instant::now() + AVAILABILITY_TIMEOUT;
    loop {
        let deployment = deployments.get(FRONT_END).await?;
        let available = deployment
            .status
            .and_then(|status| status.available_replicas)
            .unwrap_or(0);
        if available > 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "deployment \"{FRONT_END}\" in namespace \"{SHOP_NAMESPACE}\" did not become available within {} seconds; see `kubectl get pods -n {SHOP_NAMESPACE}`",
            AVAILABILITY_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn front_end_node_port(client: &kube::Client) -> anyhow::Result<i32> {
    let services: Api<Service> = Api::namespaced(client.clone(), SHOP_NAMESPACE);
    let service = services.get(FRONT_END).await?;
    service
        .spec
        .and_then(|spec| spec.ports)
        .and_then(|ports| ports.into_iter().find_map(|port| port.node_port))
        .with_context(|| {
            format!("service \"{FRONT_END}\" in namespace \"{SHOP_NAMESPACE}\" has no nodePort")
        })
}
