//! Global flags shared by every verb and the connection they lead to.

use std::path::PathBuf;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::error::ClientError;

/// Flags every client verb accepts, like kubectl's global flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalOptions {
    /// Path to the kubeconfig file to use for CLI requests. Without it the files listed
    /// in KUBECONFIG are merged (missing ones skipped), else ~/.kube/config is used.
    #[arg(long, global = true)]
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
    /// The API server's URL, as the kubeconfig names it.
    pub server_url: String,
    /// The CA certificates (DER) the kubeconfig trusts for the API server.
    pub authority_certificates_der: Vec<Vec<u8>>,
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
    let server_url = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_owned();
    let authority_certificates_der = config.root_cert.clone().unwrap_or_default();
    let client =
        Client::try_from(config).map_err(|error| ClientError::Configuration(error.to_string()))?;
    Ok(Connection {
        client,
        namespace: global.namespace.clone().unwrap_or(context_namespace),
        namespace_was_explicit: global.namespace.is_some(),
        server_url,
        authority_certificates_der,
    })
}

/// Where the kubeconfig comes from, in kubectl's order of precedence.
#[derive(Debug, PartialEq)]
enum KubeconfigSource {
    /// `--kubeconfig`: every file named must exist.
    Flag(Vec<PathBuf>),
    /// `KUBECONFIG`: a list in which missing files are skipped, as kubectl does.
    Environment(Vec<PathBuf>),
    /// `$HOME/.kube/config`.
    Home(PathBuf),
}

impl KubeconfigSource {
    fn choose(
        flag: Option<&str>,
        environment: Option<&str>,
        home: Option<PathBuf>,
    ) -> Option<Self> {
        let paths = |list: &str| -> Vec<PathBuf> {
            std::env::split_paths(list)
                .filter(|path| !path.as_os_str().is_empty())
                .collect()
        };
        match (flag, environment) {
            (Some(flag), _) if !flag.trim().is_empty() => Some(Self::Flag(paths(flag))),
            (_, Some(list)) if !list.trim().is_empty() => Some(Self::Environment(paths(list))),
            _ => home.map(|home| Self::Home(home.join(".kube").join("config"))),
        }
    }
}

/// Reads and merges the kubeconfig files the flag, `KUBECONFIG` or the home directory
/// name, like kubectl's loading rules.
fn read_kubeconfig(flag: Option<&str>) -> Result<Kubeconfig, ClientError> {
    let environment = std::env::var("KUBECONFIG").ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let source = KubeconfigSource::choose(flag, environment.as_deref(), home);
    let (paths, skip_missing) = match source {
        Some(KubeconfigSource::Flag(paths)) => (paths, false),
        Some(KubeconfigSource::Environment(paths)) => (paths, true),
        Some(KubeconfigSource::Home(path)) => (vec![path], false),
        None => (Vec::new(), false),
    };
    let present: Vec<PathBuf> = paths
        .into_iter()
        .filter(|path| !skip_missing || path.exists())
        .collect();
    if present.is_empty() {
        return Err(ClientError::Configuration(
            "no kubeconfig found: set --kubeconfig or KUBECONFIG, or create ~/.kube/config"
                .to_string(),
        ));
    }
    let mut merged = Kubeconfig::default();
    for path in present {
        let next = Kubeconfig::read_from(&path).map_err(|error| {
            ClientError::Configuration(format!("loading kubeconfig {}: {error}", path.display()))
        })?;
        merged = merged
            .merge(next)
            .map_err(|error| ClientError::Configuration(error.to_string()))?;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_home() {
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            KubeconfigSource::choose(Some("/a/config"), Some("/b/config"), home.clone()),
            Some(KubeconfigSource::Flag(vec![PathBuf::from("/a/config")]))
        );
        assert_eq!(
            KubeconfigSource::choose(None, Some("/a/config::/b/config"), home.clone()),
            Some(KubeconfigSource::Environment(vec![
                PathBuf::from("/a/config"),
                PathBuf::from("/b/config")
            ]))
        );
        assert_eq!(
            KubeconfigSource::choose(Some(""), Some(" "), home),
            Some(KubeconfigSource::Home(PathBuf::from(
                "/home/u/.kube/config"
            )))
        );
        assert_eq!(KubeconfigSource::choose(None, None, None), None);
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
