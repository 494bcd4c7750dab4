//! pods/attach and pods/exec, Kubernetes' remote commands: `kubectl attach`, `kubectl run
//! -i` and `kubectl exec`. The request is checked as the API server checks it (the pod,
//! its container, its node), then upgraded to the WebSocket channel protocol
//! (`v5.channel.k8s.io`, which kubectl 1.30 and later use, or `v4.channel.k8s.io`):
//! channel 0 is stdin, 1 stdout, 2 stderr, 3 the error channel (a Status when the
//! session ends), 4 resize; in v5 the client's `[255, 0]` closes stdin. kubectl before
//! 1.30 asks for SPDY/3.1 instead, with the same channels as SPDY streams (`spdy`).
//!
//! The API server opens one upgraded connection to the node's agent, which carries stdin
//! one way and the output the other (`node_stream`): an attach's is the container's log
//! (`runtime/src/attach.rs`), an exec's the command's stdout and stderr apart and its
//! Status (`runtime/src/exec`).
//!
//! A WebSocket handshake is a GET, which the authorizer sees as `get`; as with
//! Kubernetes' AuthorizePodWebsocketUpgradeCreatePermission, the user must also be
//! allowed to `create` the subresource, as the SPDY clients' POST requires.
//!
//! Terminals: a guest has none, so `tty=true` is accepted (kubectl -it sends it) and
//! the session runs without one: resizes are ignored, and the command's stderr comes on
//! stdout, as a terminal would merge them.

mod attach;
mod exec;
mod node_stream;
mod spdy;
mod websocket;

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

pub use attach::attach;
pub use exec::exec;

use super::ApiState;
use super::access::forbidden;
use super::get_list::read_object;
use super::pod_log::node_endpoint;
use super::port_forward::node_tunnel::open_node_tunnel;
use super::port_forward::websocket::accept_key;
use super::port_forward::{assigned_node, header_values, pod_text, upgrades_to};
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;
use crate::auth::{Attributes, Authorizer, Decision, RequestScope, UserInfo};
use node_stream::{NodeFraming, Routing};

/// The channel protocols served, most preferred first.
const CHANNEL_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// What the query asks of a session (PodAttachOptions, PodExecOptions).
#[derive(Debug, Default, PartialEq)]
struct StreamOptions {
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    /// exec's argv, one `command` parameter per word.
    command: Vec<String>,
}

impl StreamOptions {
    fn from_query(query: Option<&str>) -> ApiResult<StreamOptions> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
            .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))?;
        let flag = |name: &str| {
            pairs
                .iter()
                .any(|(key, value)| key == name && matches!(value.as_str(), "true" | "1"))
        };
        Ok(StreamOptions {
            container: pairs
                .iter()
                .find(|(key, value)| key == "container" && !value.is_empty())
                .map(|(_, value)| value.clone()),
            stdin: flag("stdin"),
            stdout: flag("stdout"),
            stderr: flag("stderr"),
            tty: flag("tty"),
            command: pairs
                .iter()
                .filter(|(key, _)| key == "command")
                .map(|(_, value)| value.clone())
                .collect(),
        })
    }

    /// Where the node's output goes. A session with a tty gets its stderr on stdout.
    fn routing(&self, merged: bool) -> Routing {
        Routing {
            stdout: self.stdout,
            stderr: self.stderr,
            merged: merged || self.tty,
        }
    }
}

/// The container to attach to or exec in, chosen as the API server's `streamLocation`
/// does.
fn chosen_container(pod: &Value, name: &str, asked: Option<&str>) -> ApiResult<String> {
    let containers: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .chain(
            pod.pointer("/spec/initContainers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        )
        .filter_map(|container| container.get("name").and_then(Value::as_str))
        .collect();
    let annotated = pod
        .pointer("/metadata/annotations/kubectl.kubernetes.io~1default-container")
        .and_then(Value::as_str);
    let chosen = match (asked, containers.as_slice()) {
        (Some(asked), _) => asked,
        (None, [only]) => only,
        (None, _) => annotated.ok_or_else(|| {
            ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            ))
        })?,
    };
    if !containers.contains(&chosen) {
        return Err(ApiError::bad_request(format!(
            "container {chosen} is not valid for pod {name}"
        )));
    }
    Ok(chosen.to_owned())
}

/// The pod and container a session is for, checked.
struct SessionTarget {
    options: StreamOptions,
    namespace: String,
    name: String,
    uid: String,
    node: String,
    container: String,
}

/// Checks the method, reads the query and the pod, and chooses the container.
fn session_target(
    state: &Arc<ApiState>,
    request: &Request,
    target: &ResourceTarget,
) -> ApiResult<SessionTarget> {
    let method = request.method();
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        )));
    }
    let name = target.name.clone().unwrap_or_default();
    let options = StreamOptions::from_query(request.uri().query())?;
    let stored = read_object(state, target)?;
    let pod = &stored.object;
    let container = chosen_container(pod, &name, options.container.as_deref())?;
    let node = assigned_node(pod, &name)?;
    Ok(SessionTarget {
        options,
        namespace: target.namespace.clone().unwrap_or_default(),
        uid: pod_text(pod, "/metadata/uid"),
        name,
        node,
        container,
    })
}

/// Where on the node a session goes: the node endpoint's route (a path and query) and
/// its `Upgrade` protocol, and how the node's answer is framed.
struct NodeRoute {
    path_and_query: String,
    upgrade: &'static str,
    framing: NodeFraming,
}

/// The protocol a session is upgraded to.
#[derive(Debug, PartialEq)]
enum Protocol {
    WebSocket {
        accept: String,
        subprotocol: &'static str,
    },
    Spdy,
}

/// The SPDY stream protocol served (`X-Stream-Protocol-Version`).
const SPDY_STREAM_PROTOCOL: &str = "v4.channel.k8s.io";

/// The protocol to speak: SPDY with the v4 stream protocol, or a WebSocket with the
/// most preferred channel protocol the client offers.
fn negotiate(request: &Request) -> ApiResult<Protocol> {
    let headers = request.headers();
    if upgrades_to(headers, "SPDY/3.1") {
        let offered: Vec<&str> = header_values(headers, "x-stream-protocol-version").collect();
        if !offered.contains(&SPDY_STREAM_PROTOCOL) {
            return Err(ApiError {
                code: StatusCode::FORBIDDEN,
                reason: "Forbidden",
                message: format!(
                    "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{SPDY_STREAM_PROTOCOL}]",
                    offered.join(" ")
                ),
                details: Some(json!({})),
            });
        }
        return Ok(Protocol::Spdy);
    }
    if !upgrades_to(headers, "websocket") {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let accept = headers
        .get("sec-websocket-key")
        .and_then(|key| key.to_str().ok())
        .filter(|key| !key.trim().is_empty())
        .map(accept_key)
        .ok_or_else(|| ApiError::bad_request("unable to upgrade: Sec-WebSocket-Key is required"))?;
    let offered: Vec<&str> = header_values(headers, "sec-websocket-protocol").collect();
    let subprotocol = CHANNEL_PROTOCOLS
        .into_iter()
        .find(|protocol| offered.contains(protocol))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
                offered.join(" "),
                CHANNEL_PROTOCOLS.join(" ")
            ))
        })?;
    Ok(Protocol::WebSocket {
        accept,
        subprotocol,
    })
}

/// A WebSocket upgrade (a GET) must also be allowed to `create` the subresource.
fn authorize_websocket_create(
    state: &ApiState,
    request: &Request,
    session: &SessionTarget,
    subresource: &str,
) -> ApiResult<()> {
    if request.method() != Method::GET {
        return Ok(());
    }
    let Some(user) = request.extensions().get::<UserInfo>().cloned() else {
        return Err(ApiError::unauthorized());
    };
    let attributes = Attributes {
        user,
        verb: "create".to_owned(),
        scope: RequestScope::Resource {
            api_group: String::new(),
            api_version: "v1".to_owned(),
            resource: "pods".to_owned(),
            subresource: subresource.to_owned(),
            namespace: session.namespace.clone(),
            name: session.name.clone(),
        },
        field_selector: None,
    };
    match state.authorizer.authorize(&attributes) {
        Decision::Allow => Ok(()),
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            Err(forbidden(&attributes, &reason))
        }
    }
}

/// Upgrades the client's connection and, once upgraded, joins it to the node's.
async fn upgrade(
    state: &Arc<ApiState>,
    mut request: Request,
    session: SessionTarget,
    subresource: &'static str,
    route: NodeRoute,
) -> ApiResult<Response> {
    authorize_websocket_create(state, &request, &session, subresource)?;
    let protocol = negotiate(&request)?;
    let authority = node_endpoint(state, &session.node)?.authority;
    let uri = format!("https://{authority}{}", route.path_and_query);
    let client = state.node_client.clone();
    let upgrade = hyper::upgrade::on(&mut request);
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    match &protocol {
        Protocol::Spdy => {
            headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            headers.insert(
                "x-stream-protocol-version",
                HeaderValue::from_static(SPDY_STREAM_PROTOCOL),
            );
        }
        Protocol::WebSocket {
            accept,
            subprotocol,
        } => {
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let accept = HeaderValue::from_str(accept)
                .map_err(|error| ApiError::internal(format!("the accept key: {error}")))?;
            headers.insert("sec-websocket-accept", accept);
            headers.insert(
                "sec-websocket-protocol",
                HeaderValue::from_static(subprotocol),
            );
        }
    }
    let node = session.node;
    let options = session.options;
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(error) => {
                tracing::debug!(%error, "a {subresource} connection was not upgraded");
                return;
            }
        };
        let node_stream = open_node_tunnel(&client, &node, &authority, &uri, route.upgrade).await;
        let routing = options.routing(route.framing == NodeFraming::Merged);
        let framing = route.framing;
        match protocol {
            Protocol::Spdy => spdy::serve(upgraded, node_stream, options, routing, framing).await,
            Protocol::WebSocket { .. } => {
                websocket::serve(upgraded, node_stream, routing, framing).await;
            }
        }
    });
    Ok(response)
}

/// The Status the kubelet writes on the error channel when a session ends: the node's
/// (an exec's), or Success, or the session's failure (the node unreachable, say).
fn final_status(end: Result<Option<Value>, String>) -> Value {
    match end {
        Err(message) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "code": 500,
        }),
        Ok(Some(status)) => status,
        Ok(None) => json!({"metadata": {}, "status": "Success"}),
    }
}

#[cfg(test)]
mod tests;
