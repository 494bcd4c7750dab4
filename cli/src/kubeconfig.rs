//! The admin kubeconfig that `up` and `server` write for kubectl and the client verbs.

use std::path::Path;

use wasmkube_control_plane::server::ControlPlane;

/// Writes the admin's kubeconfig (a client certificate in group system:masters and the
/// cluster CA), readable by its owner only, whole or not at all.
pub fn write_admin_kubeconfig(path: &Path, control_plane: &ControlPlane) -> anyhow::Result<()> {
    let kubeconfig = control_plane.admin_kubeconfig()?;
    wasmkube_pki::authority::write_file_atomically(path, &kubeconfig, true)?;
    Ok(())
}
