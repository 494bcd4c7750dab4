//! Global flags shared by every verb and the connection they lead to.

use std::path::PathBuf;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::error::ClientError;

/// Flags every client verb accepts, like kubectl's global flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalOptions {
    /// Path to the kubeconfig file to use for CLI requests (a list separated by the
    /// platform's path separator is merged like kubectl does).
    #[arg(long, env = "KUBECONFIG", global = true)]
    pub kubeconfig: Option<String>,
    /// If present, the namespace scope for this CLI request.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The name of the kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
}

/// A ready client plus the namespace that namespaced objects without one go to.
pub struct Connection {
    pub client: Client,
    /// `-n`, else the kubeconfig context's namespace, else "default".
    pub namespace: String,
    /// True when the user gave `-n`, which makes a mismatching object namespace an error.
    pub namespace_was_explicit: bool,
}

/// Builds a client from the kubeconfig named by the flags (or `~/.kube/config`).
pub async fn connect(global: &GlobalOptions) -> Result<Connection, ClientError> {
    let kubeconfig = read_kubeconfig(global.kubeconfig.as_deref())?;
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|error| ClientError::Configuration(error.to_string()))?;
    let context_namespace = config.default_namespace.clone();
    let client =
        Client::try_from(config).map_err(|error| ClientError::Configuration(error.to_string()))?;
    Ok(Connection {
        client,
        namespace: global.namespace.clone().unwrap_or(context_namespace),
        namespace_was_explicit: global.namespace.is_some(),
    })
}

/// Reads and merges every file of the `--kubeconfig`/`KUBECONFIG` list, falling back to
/// `$HOME/.kube/config` when neither is set, as kubectl does.
fn read_kubeconfig(paths: Option<&str>) -> Result<Kubeconfig, ClientError> {
    let candidate_paths = kubeconfig_paths(paths, std::env::var_os("HOME").map(PathBuf::from));
    if candidate_paths.is_empty() {
        return Err(ClientError::Configuration(
            "no kubeconfig found: set --kubeconfig or KUBECONFIG, or create ~/.kube/config"
                .to_string(),
        ));
    }
    let mut merged = Kubeconfig::default();
    for path in candidate_paths {
        let next = Kubeconfig::read_from(&path).map_err(|error| {
            ClientError::Configuration(format!("loading kubeconfig {}: {error}", path.display()))
        })?;
        merged = merged
            .merge(next)
            .map_err(|error| ClientError::Configuration(error.to_string()))?;
    }
    Ok(merged)
}

/// The kubeconfig files to read: the non-empty entries of the given list, or the
/// default file under the home directory.
fn kubeconfig_paths(paths: Option<&str>, home: Option<PathBuf>) -> Vec<PathBuf> {
    match paths {
        Some(list) if !list.trim().is_empty() => std::env::split_paths(list)
            .filter(|path| !path.as_os_str().is_empty())
            .collect(),
        _ => home
            .map(|home| vec![home.join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_list_is_split_and_empty_entries_are_ignored() {
        let paths = kubeconfig_paths(Some("/a/config::/b/config"), Some(PathBuf::from("/home/u")));
        assert_eq!(
            paths,
            vec![PathBuf::from("/a/config"), PathBuf::from("/b/config")]
        );
    }

    #[test]
    fn without_a_list_the_home_directory_default_is_used() {
        assert_eq!(
            kubeconfig_paths(None, Some(PathBuf::from("/home/u"))),
            vec![PathBuf::from("/home/u/.kube/config")]
        );
        assert_eq!(kubeconfig_paths(Some(""), None), Vec::<PathBuf>::new());
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let error = read_kubeconfig(Some("/nonexistent/wasmkube/config")).err();
        let text = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(
            text.starts_with("error: loading kubeconfig /nonexistent/wasmkube/config:"),
            "{text}"
        );
    }
}
