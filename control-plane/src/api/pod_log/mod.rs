//! pods/log: the request is checked as the Kubernetes API server checks it (the options,
//! the container, the node) and as the kubelet would (a container that has not run has
//! no logs), so that those answers need no node; then it is proxied to the log endpoint
//! of the agent of the pod's node and streamed back.

mod node_proxy;
mod options;

use std::sync::Arc;

use axum::response::Response;
use serde_json::Value;

pub(crate) use node_proxy::node_endpoint;
pub use node_proxy::{NodeClient, node_client};

use super::ApiState;
use super::get_list::read_object;
use super::query::Query;
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use options::LogOptions;

/// The annotation that names the container kubectl picks when a pod has several.
const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// The waiting reason a container has before the kubelet has said anything about it.
const DEFAULT_WAITING_REASON: &str = "ContainerCreating";

pub async fn log(
    state: &Arc<ApiState>,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let options = LogOptions::from_query(query, name)?;
    let stored = read_object(state, target)?;
    let pod = &stored.object;
    let container = choose_container(pod, name, options.container.as_deref())?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    check_container_has_logs(pod, name, &container, options.previous)?;
    let endpoint = node_proxy::node_endpoint(state, node)?;
    let namespace = target.namespace.as_deref().unwrap_or_default();
    let mut path = format!("/containerLogs/{namespace}/{name}/{container}");
    let node_query = options.node_query();
    if !node_query.is_empty() {
        path = format!("{path}?{node_query}");
    }
    node_proxy::proxy_get(&state.node_client, node, &endpoint, &path).await
}

fn container_names<'pod>(pod: &'pod Value, list: &str) -> Vec<&'pod str> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(|containers| {
            containers
                .iter()
                .filter_map(|container| container.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The container whose logs are asked for, defaulted as `ValidateContainer` does: the
/// only container, else the one the default-container annotation names.
fn choose_container(pod: &Value, pod_name: &str, requested: Option<&str>) -> ApiResult<String> {
    let containers = container_names(pod, "containers");
    let init_containers = container_names(pod, "initContainers");
    if let Some(requested) = requested {
        let known = containers
            .iter()
            .chain(&init_containers)
            .chain(&container_names(pod, "ephemeralContainers"))
            .any(|name| *name == requested);
        if !known {
            return Err(ApiError::bad_request(format!(
                "container {requested} is not valid for pod {pod_name}"
            )));
        }
        return Ok(requested.to_owned());
    }
    if let [only] = containers.as_slice() {
        return Ok((*only).to_owned());
    }
    let annotated = pod
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(DEFAULT_CONTAINER_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|annotated| containers.contains(annotated));
    if let Some(annotated) = annotated {
        return Ok(annotated.to_owned());
    }
    let mut message = format!(
        "a container name must be specified for pod {pod_name}, choose one of: [{}]",
        containers.join(" ")
    );
    if !init_containers.is_empty() {
        message.push_str(&format!(
            " or one of the init containers: [{}]",
            init_containers.join(" ")
        ));
    }
    Err(ApiError::bad_request(message))
}

/// The container's status, whichever kind of container it is.
fn container_status<'pod>(pod: &'pod Value, container: &str) -> Option<&'pod Value> {
    [
        "containerStatuses",
        "initContainerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|list| pod.pointer(&format!("/status/{list}")))
    .filter_map(Value::as_array)
    .flatten()
    .find(|status| status.get("name").and_then(Value::as_str) == Some(container))
}

fn present<'value>(value: &'value Value, pointer: &str) -> Option<&'value Value> {
    value.pointer(pointer).filter(|found| !found.is_null())
}

/// Refuses, in the kubelet's words, logs that cannot exist: those of a container that
/// has never run, and the previous instance of one that has not terminated before.
fn check_container_has_logs(
    pod: &Value,
    pod_name: &str,
    container: &str,
    previous: bool,
) -> ApiResult<()> {
    let status = container_status(pod, container);
    let last_terminated = status.and_then(|status| present(status, "/lastState/terminated"));
    if previous {
        return match last_terminated {
            Some(_) => Ok(()),
            None => Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            ))),
        };
    }
    let has_run = status.is_some_and(|status| {
        present(status, "/state/running").is_some()
            || present(status, "/state/terminated").is_some()
            || last_terminated.is_some()
            || status
                .get("restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0
    });
    if has_run {
        return Ok(());
    }
    let reason = status
        .and_then(|status| status.pointer("/state/waiting/reason"))
        .and_then(Value::as_str)
        .filter(|reason| !reason.is_empty())
        .unwrap_or(DEFAULT_WAITING_REASON);
    // The kubelet explains the two image pull failures instead of naming them.
    let explanation = match reason {
        "ErrImagePull" => "image can't be pulled",
        "ImagePullBackOff" => "trying and failing to pull image",
        reason => reason,
    };
    Err(ApiError::bad_request(format!(
        "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {explanation}"
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(containers: &[&str], init_containers: &[&str], annotations: Value) -> Value {
        let named = |names: &[&str]| -> Vec<Value> {
            names
                .iter()
                .map(|name| json!({"name": name, "image": "app:1"}))
                .collect()
        };
        json!({
            "metadata": {"name": "web", "annotations": annotations},
            "spec": {"containers": named(containers), "initContainers": named(init_containers)},
        })
    }

    fn message(result: ApiResult<impl std::fmt::Debug>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => error.message,
        }
    }

    #[test]
    fn the_container_defaults_to_the_only_one_or_the_annotated_one() {
        let single = pod(&["app"], &["setup"], json!({}));
        assert_eq!(
            choose_container(&single, "web", None).ok().as_deref(),
            Some("app")
        );
        assert_eq!(
            choose_container(&single, "web", Some("setup"))
                .ok()
                .as_deref(),
            Some("setup")
        );
        let annotated = pod(
            &["app", "sidecar"],
            &[],
            json!({DEFAULT_CONTAINER_ANNOTATION: "sidecar"}),
        );
        assert_eq!(
            choose_container(&annotated, "web", None).ok().as_deref(),
            Some("sidecar")
        );
    }

    #[test]
    fn an_ambiguous_or_unknown_container_is_refused_as_kubernetes_words_it() {
        let several = pod(&["app", "sidecar"], &["setup", "migrate"], json!({}));
        assert_eq!(
            message(choose_container(&several, "web", None)),
            "a container name must be specified for pod web, choose one of: [app sidecar] or one of the init containers: [setup migrate]"
        );
        let no_init = pod(
            &["app", "sidecar"],
            &[],
            json!({DEFAULT_CONTAINER_ANNOTATION: "gone"}),
        );
        assert_eq!(
            message(choose_container(&no_init, "web", None)),
            "a container name must be specified for pod web, choose one of: [app sidecar]"
        );
        assert_eq!(
            message(choose_container(&several, "web", Some("db"))),
            "container db is not valid for pod web"
        );
    }

    fn with_status(status: Value) -> Value {
        let mut pod = pod(&["app"], &[], json!({}));
        pod["status"] = json!({"containerStatuses": [status]});
        pod
    }

    #[test]
    fn a_container_that_never_ran_is_waiting_to_start() {
        let unreported = pod(&["app"], &[], json!({}));
        assert_eq!(
            message(check_container_has_logs(&unreported, "web", "app", false)),
            "container \"app\" in pod \"web\" is waiting to start: ContainerCreating"
        );
        let pulling = with_status(
            json!({"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}, "lastState": {}}),
        );
        assert_eq!(
            message(check_container_has_logs(&pulling, "web", "app", false)),
            "container \"app\" in pod \"web\" is waiting to start: image can't be pulled"
        );
        let running = with_status(
            json!({"name": "app", "restartCount": 0, "state": {"running": {"startedAt": "2024-05-01T10:00:00Z"}}}),
        );
        assert!(check_container_has_logs(&running, "web", "app", false).is_ok());
    }

    #[test]
    fn previous_logs_need_a_terminated_last_state() {
        let running =
            with_status(json!({"name": "app", "restartCount": 0, "state": {"running": {}}}));
        assert_eq!(
            message(check_container_has_logs(&running, "web", "app", true)),
            "previous terminated container \"app\" in pod \"web\" not found"
        );
        let crash_looping = with_status(json!({
            "name": "app", "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1}},
        }));
        assert!(check_container_has_logs(&crash_looping, "web", "app", true).is_ok());
        assert!(check_container_has_logs(&crash_looping, "web", "app", false).is_ok());
    }
}
