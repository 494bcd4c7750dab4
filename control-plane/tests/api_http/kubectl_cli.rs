//! Running the machine's real kubectl binaries (`kubectl.1.33`, `kubectl.1.27`, which sit
//! beside the `kubectl` on PATH) against a test cluster with the admin's kubeconfig.

use std::path::{Path, PathBuf};
use std::process::Output;

use wasmkube_control_plane::kubeconfig::{KubeconfigCredential, kubeconfig_yaml};
use wasmkube_control_plane::server::ControlPlane;
use wasmkube_pki::{Subject, Usage};

/// A kubectl binary and the kubeconfig it uses.
pub struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
}

/// What one kubectl run printed, and whether it succeeded.
pub struct KubectlRun {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl KubectlRun {
    /// The output of a run that must succeed.
    pub fn expect_success(self, what: &str) -> String {
        assert!(
            self.success,
            "{what} failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self.stdout
    }
}

impl Kubectl {
    /// `binary` is a name beside kubectl's real location, like `kubectl.1.27`.
    pub fn new(binary: &str, directory: &Path, plane: &ControlPlane) -> Self {
        let kubeconfig = directory.join("kubeconfig");
        let config = plane.admin_kubeconfig().expect("the admin's kubeconfig");
        std::fs::write(&kubeconfig, config).expect("the kubeconfig is written");
        Self {
            binary: kubectl_directory().join(binary),
            kubeconfig,
        }
    }

    /// `binary` acting as the user `subject` names, with a client certificate of the
    /// cluster CA.
    pub fn as_user(
        binary: &str,
        directory: &Path,
        plane: &ControlPlane,
        subject: &Subject,
    ) -> Self {
        let identity = crate::tls::identity(plane, subject, Usage::Client, &[]);
        let kubeconfig = directory.join(format!("kubeconfig-{}", subject.common_name));
        let config = kubeconfig_yaml(
            &plane.url(),
            plane.authority.certificate_pem(),
            "wasmkube",
            &subject.common_name,
            KubeconfigCredential::ClientCertificate(&identity),
            "default",
        );
        std::fs::write(&kubeconfig, config).expect("the kubeconfig is written");
        Self {
            binary: kubectl_directory().join(binary),
            kubeconfig,
        }
    }

    pub async fn run(&self, arguments: &[&str]) -> KubectlRun {
        let output: Output = tokio::process::Command::new(&self.binary)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(arguments)
            .output()
            .await
            .unwrap_or_else(|error| panic!("{} runs: {error}", self.binary.display()));
        KubectlRun {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

fn kubectl_directory() -> PathBuf {
    let kubectl = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|directory| directory.join("kubectl"))
                .find(|path| path.is_file())
        })
        .expect("kubectl on PATH");
    let real = std::fs::canonicalize(&kubectl).unwrap_or(kubectl);
    real.parent().expect("kubectl's directory").to_path_buf()
}
