//! A container's environment and argv: `env` (with `valueFrom`), `envFrom`, the names
//! every container gets, and `$(VAR)` expansion, as the kubelet computes them.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, EnvVar, EnvVarSource, Pod};
use wasmkube_volumes::VolumeSourceReader;

use super::downward::{field_value, resource_field_value};

/// Why a container's configuration cannot be built; the container waits with reason
/// `CreateContainerConfigError` and this message, as in Kubernetes.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContainerConfigError(pub String);

/// The environment in order (later entries override earlier ones with the same name, as
/// in a process environment), and the same as a map for `$(VAR)` lookups.
pub struct ContainerEnvironment {
    pub variables: Vec<(String, String)>,
    by_name: HashMap<String, String>,
}

impl ContainerEnvironment {
    fn set(&mut self, name: String, value: String) {
        self.by_name.insert(name.clone(), value.clone());
        self.variables.retain(|(existing, _)| *existing != name);
        self.variables.push((name, value));
    }

    pub fn as_map(&self) -> &HashMap<String, String> {
        &self.by_name
    }

    /// Kubernetes' `$(VAR)` expansion against the variables defined so far: an
    /// undefined reference is left as written.
    pub fn expand(&self, text: &str) -> String {
        wasmkube_volumes::expansion::expand(text, |name| {
            self.by_name
                .get(name)
                .cloned()
                .unwrap_or_else(|| format!("$({name})"))
        })
    }
}

/// Kubernetes' C_IDENTIFIER rule for names taken from a ConfigMap or Secret in `envFrom`;
/// other keys are skipped, as the kubelet does.
fn is_environment_variable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|character: char| character.is_ascii_digit())
        && name.chars().all(|character| {
            character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.')
        })
}

async fn config_map_data(
    sources: &dyn VolumeSourceReader,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, ContainerConfigError> {
    let config_map = sources
        .config_map(namespace, name)
        .await
        .map_err(|error| ContainerConfigError(error.to_string()))?;
    match config_map {
        Some(config_map) => Ok(Some(config_map.data.unwrap_or_default())),
        None if optional => Ok(None),
        None => Err(ContainerConfigError(format!(
            "configmap \"{name}\" not found"
        ))),
    }
}

async fn secret_data(
    sources: &dyn VolumeSourceReader,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<BTreeMap<String, String>>, ContainerConfigError> {
    let secret = sources
        .secret(namespace, name)
        .await
        .map_err(|error| ContainerConfigError(error.to_string()))?;
    match secret {
        Some(secret) => {
            let mut data: BTreeMap<String, String> = secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(key, bytes)| (key, String::from_utf8_lossy(&bytes.0).into_owned()))
                .collect();
            data.extend(secret.string_data.unwrap_or_default());
            Ok(Some(data))
        }
        None if optional => Ok(None),
        None => Err(ContainerConfigError(format!("secret \"{name}\" not found"))),
    }
}

/// Where a downward or resource reference's values come from.
pub struct EnvironmentContext<'a> {
    pub pod: &'a Pod,
    pub node_name: &'a str,
    pub sources: &'a dyn VolumeSourceReader,
    /// What `limits.*` resolve to when the container has no limit: the node's allocatable.
    pub node_allocatable:
        &'a BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    /// The Services' variables (`{SVC}_SERVICE_HOST`…), which the container's own `env`
    /// and `envFrom` override.
    pub service_links: Vec<(String, String)>,
}

pub async fn container_environment(
    context: &EnvironmentContext<'_>,
    container: &Container,
) -> Result<ContainerEnvironment, ContainerConfigError> {
    let pod = context.pod;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut environment = ContainerEnvironment {
        variables: Vec::new(),
        by_name: HashMap::new(),
    };
    for (name, value) in &context.service_links {
        environment.set(name.clone(), value.clone());
    }
    // A Kubernetes container's hostname is its pod's name, and HOSTNAME says so.
    environment.set(
        "HOSTNAME".to_owned(),
        pod.metadata.name.clone().unwrap_or_default(),
    );
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        let data = if let Some(reference) = &source.config_map_ref {
            config_map_data(
                context.sources,
                namespace,
                &reference.name,
                reference.optional == Some(true),
            )
            .await?
        } else if let Some(reference) = &source.secret_ref {
            secret_data(
                context.sources,
                namespace,
                &reference.name,
                reference.optional == Some(true),
            )
            .await?
        } else {
            None
        };
        for (key, value) in data.into_iter().flatten() {
            let name = format!("{prefix}{key}");
            if is_environment_variable_name(&name) {
                environment.set(name, value);
            }
        }
    }
    for variable in container.env.iter().flatten() {
        let value = variable_value(context, container, namespace, variable, &environment).await?;
        if let Some(value) = value {
            environment.set(variable.name.clone(), value);
        }
    }
    Ok(environment)
}

async fn variable_value(
    context: &EnvironmentContext<'_>,
    container: &Container,
    namespace: &str,
    variable: &EnvVar,
    environment: &ContainerEnvironment,
) -> Result<Option<String>, ContainerConfigError> {
    let Some(source) = &variable.value_from else {
        return Ok(Some(
            environment.expand(variable.value.as_deref().unwrap_or_default()),
        ));
    };
    let EnvVarSource {
        config_map_key_ref,
        secret_key_ref,
        field_ref,
        resource_field_ref,
        ..
    } = source;
    if let Some(reference) = field_ref {
        return field_value(context.pod, context.node_name, &reference.field_path)
            .map(Some)
            .map_err(ContainerConfigError);
    }
    if let Some(reference) = resource_field_ref {
        return resource_field_value(context.pod, container, reference, context.node_allocatable)
            .map(Some)
            .map_err(ContainerConfigError);
    }
    if let Some(reference) = config_map_key_ref {
        let optional = reference.optional == Some(true);
        let data = config_map_data(context.sources, namespace, &reference.name, optional).await?;
        return key_value(data, &reference.key, optional, || {
            format!("ConfigMap {namespace}/{}", reference.name)
        });
    }
    if let Some(reference) = secret_key_ref {
        let optional = reference.optional == Some(true);
        let data = secret_data(context.sources, namespace, &reference.name, optional).await?;
        return key_value(data, &reference.key, optional, || {
            format!("Secret {namespace}/{}", reference.name)
        });
    }
    Ok(None)
}

/// One key of a ConfigMap's or Secret's data; a missing source or key is nothing when
/// the reference is optional, else the kubelet's error naming `source`.
fn key_value(
    data: Option<BTreeMap<String, String>>,
    key: &str,
    optional: bool,
    source: impl FnOnce() -> String,
) -> Result<Option<String>, ContainerConfigError> {
    let Some(data) = data else {
        return Ok(None);
    };
    match data.get(key) {
        Some(value) => Ok(Some(value.clone())),
        None if optional => Ok(None),
        None => Err(ContainerConfigError(format!(
            "couldn't find key {key} in {}",
            source()
        ))),
    }
}

/// argv: `command` + `args`, each expanded. A wasm binary has no image entrypoint to
/// fall back on, so without `command` argv[0] is the container's name.
pub fn container_argv(container: &Container, environment: &ContainerEnvironment) -> Vec<String> {
    let mut argv: Vec<String> = match &container.command {
        Some(command) if !command.is_empty() => command
            .iter()
            .map(|part| environment.expand(part))
            .collect(),
        _ => vec![container.name.clone()],
    };
    argv.extend(
        container
            .args
            .iter()
            .flatten()
            .map(|argument| environment.expand(argument)),
    );
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_leaves_undefined_references_as_written() {
        let mut environment = ContainerEnvironment {
            variables: Vec::new(),
            by_name: HashMap::new(),
        };
        environment.set("A".to_owned(), "one".to_owned());
        assert_eq!(environment.expand("$(A)-$(B)-$$(A)"), "one-$(B)-$(A)");
    }

    #[test]
    fn only_identifier_like_keys_become_variables() {
        assert!(is_environment_variable_name("LOG_LEVEL"));
        assert!(is_environment_variable_name("a.b-c"));
        assert!(!is_environment_variable_name("1ST"));
        assert!(!is_environment_variable_name("with space"));
    }
}
