//! The admin kubeconfig that `up` and `server` write for kubectl and the client verbs.

use std::net::SocketAddr;
use std::path::Path;

pub fn write_admin_kubeconfig(path: &Path, address: SocketAddr) -> anyhow::Result<()> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "wasmkube", "cluster": {"server": format!("http://{address}")}}],
        "users": [{"name": "admin", "user": {}}],
        "contexts": [{"name": "wasmkube", "context": {"cluster": "wasmkube", "user": "admin", "namespace": "default"}}],
        "current-context": "wasmkube",
        "preferences": {},
    });
    // Written beside and renamed, so a reader never sees half a file.
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, serde_yaml::to_string(&config)?)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}
