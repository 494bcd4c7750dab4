//! Raw JSON requests against a discovered resource. Objects stay `serde_json::Value`
//! so that `-o json|yaml` prints exactly what the server sent.

use http::header::{ACCEPT, HeaderValue};
use kube::Client;
use kube::core::Request;
use kube::core::params::{DeleteParams, GetParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::error::ClientError;
use crate::resolve::DiscoveredResource;

/// The field manager kubectl's client-side apply and create use.
const FIELD_MANAGER: &str = "kubectl-client-side-apply";

/// Kubernetes' limit on a request body (3 MiB), which the API server enforces.
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The Accept header that asks the server to render a list or object as a `Table`.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;g=meta.k8s.io;v=v1,application/json";

fn request_for(resource: &DiscoveredResource, namespace: Option<&str>) -> Request {
    Request::new(resource.collection_path(namespace))
}

pub async fn get_object(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ClientError> {
    let request = request_for(resource, namespace).get(name, &GetParams::default())?;
    Ok(client.request::<Value>(request).await?)
}

/// Like [`get_object`] but a 404 is `Ok(None)`.
pub async fn get_object_if_exists(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, ClientError> {
    match get_object(client, resource, namespace, name).await {
        Ok(object) => Ok(Some(object)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

/// Whether a write is stored or only admitted (`dryRun=All`: defaulted, validated and
/// answered as if stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Store,
    DryRun,
}

/// Refuses a body the API server would refuse. The server answers 413 as soon as the
/// body passes its limit and closes the connection while the body is still being sent,
/// which leaves the client with a bare transport error instead of the answer.
fn check_body_size(body_bytes: usize) -> Result<(), ClientError> {
    if body_bytes > MAX_REQUEST_BODY_BYTES {
        return Err(ClientError::TooLarge {
            bytes: body_bytes,
            limit: MAX_REQUEST_BODY_BYTES,
        });
    }
    Ok(())
}

pub async fn create_object(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    object: &Value,
    mode: WriteMode,
) -> Result<Value, ClientError> {
    let parameters = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: mode == WriteMode::DryRun,
    };
    let body =
        serde_json::to_vec(object).map_err(|error| ClientError::Transport(error.to_string()))?;
    check_body_size(body.len())?;
    let request = request_for(resource, namespace).create(&parameters, body)?;
    Ok(client.request::<Value>(request).await?)
}

/// Sends a strategic merge patch for built-in kinds and a JSON merge patch otherwise.
pub async fn patch_object(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    name: &str,
    patch: Value,
    strategic: bool,
    mode: WriteMode,
) -> Result<Value, ClientError> {
    let parameters = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: mode == WriteMode::DryRun,
        ..PatchParams::default()
    };
    let body_bytes = serde_json::to_vec(&patch)
        .map_err(|error| ClientError::Transport(error.to_string()))?
        .len();
    check_body_size(body_bytes)?;
    let patch = if strategic {
        Patch::Strategic(patch)
    } else {
        Patch::Merge(patch)
    };
    let request = request_for(resource, namespace).patch(name, &parameters, &patch)?;
    Ok(client.request::<Value>(request).await?)
}

pub async fn delete_object(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ClientError> {
    let request = request_for(resource, namespace).delete(name, &DeleteParams::background())?;
    client.request::<Value>(request).await?;
    Ok(())
}

/// Selectors and scope of a list request; `namespace: None` lists across all namespaces.
#[derive(Debug, Clone, Default)]
pub struct ListScope {
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

impl ListScope {
    fn list_parameters(&self) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            ..ListParams::default()
        }
    }
}

pub async fn list_objects(
    client: &Client,
    resource: &DiscoveredResource,
    scope: &ListScope,
) -> Result<Value, ClientError> {
    let request =
        request_for(resource, scope.namespace.as_deref()).list(&scope.list_parameters())?;
    Ok(client.request::<Value>(request).await?)
}

/// Lists as a server-rendered `Table` (rows carry object metadata for the NAMESPACE column).
pub async fn list_table(
    client: &Client,
    resource: &DiscoveredResource,
    scope: &ListScope,
) -> Result<Value, ClientError> {
    let mut request =
        request_for(resource, scope.namespace.as_deref()).list(&scope.list_parameters())?;
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static(TABLE_ACCEPT));
    Ok(client.request::<Value>(request).await?)
}

/// Gets one object as a server-rendered `Table` with a single row.
pub async fn get_table(
    client: &Client,
    resource: &DiscoveredResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Value, ClientError> {
    let mut request = request_for(resource, namespace).get(name, &GetParams::default())?;
    request
        .headers_mut()
        .insert(ACCEPT, HeaderValue::from_static(TABLE_ACCEPT));
    Ok(client.request::<Value>(request).await?)
}

/// Starts a watch from `resource_version`, as objects or (with `as_table`) as Table rows.
pub async fn watch_events(
    client: &Client,
    resource: &DiscoveredResource,
    scope: &ListScope,
    resource_version: &str,
    as_table: bool,
) -> Result<
    impl futures::Stream<Item = Result<kube::core::WatchEvent<Value>, kube::Error>> + use<>,
    ClientError,
> {
    let parameters = kube::core::params::WatchParams {
        label_selector: scope.label_selector.clone(),
        field_selector: scope.field_selector.clone(),
        ..kube::core::params::WatchParams::default()
    };
    let mut request =
        request_for(resource, scope.namespace.as_deref()).watch(&parameters, resource_version)?;
    if as_table {
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static(TABLE_ACCEPT));
    }
    Ok(client.request_events::<Value>(request).await?)
}
