//! pods/attach: `kubectl attach` and `kubectl run -i`. The request is checked as the API
//! server checks it (the pod, its container, its node), then upgraded to the WebSocket
//! channel protocol (`v5.channel.k8s.io`, which kubectl 1.30 and later use, or
//! `v4.channel.k8s.io`): channel 0 is stdin, 1 stdout, 2 stderr, 3 the error channel
//! (a Status when the attach ends), 4 resize; in v5 the client's `[255, 0]` closes stdin.
//! The API server opens one upgraded connection to the node's agent
//! (`runtime/src/attach.rs`), which carries stdin one way and the container's output
//! the other until the container exits.
//!
//! kubectl before 1.30 asks for SPDY/3.1 instead, with the same channels as SPDY
//! streams (`spdy`).

mod spdy;

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::ApiState;
use super::get_list::read_object;
use super::pod_log::node_endpoint;
use super::port_forward::node_tunnel::open_node_tunnel;
use super::port_forward::websocket::frame::{
    self, Message, MessageReader, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PONG,
};
use super::port_forward::websocket::{accept_key, start_writer};
use super::port_forward::{header_values, upgrades_to};
use super::status::{ApiError, ApiResult};
use super::target::ResourceTarget;

/// The `Upgrade` protocol of the node endpoint's attach route (the runtime crate's
/// `attach::ATTACH_UPGRADE`).
const NODE_ATTACH_UPGRADE: &str = "wasmkube-attach";
/// The channel protocols served, most preferred first.
const CHANNEL_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDIN_CHANNEL: u8 = 0;
const STDOUT_CHANNEL: u8 = 1;
const STDERR_CHANNEL: u8 = 2;
const ERROR_CHANNEL: u8 = 3;
/// v5's signal channel: `[255, N]` closes the client's stream N.
const CLOSE_CHANNEL: u8 = 255;
const READ_BUFFER_BYTES: usize = 32 * 1024;

/// What the query asks of an attach.
#[derive(Debug, PartialEq)]
struct AttachOptions {
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

fn attach_options(query: Option<&str>) -> ApiResult<AttachOptions> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|error| ApiError::bad_request(format!("invalid query: {error}")))?;
    let flag = |name: &str| {
        pairs
            .iter()
            .any(|(key, value)| key == name && matches!(value.as_str(), "true" | "1"))
    };
    Ok(AttachOptions {
        container: pairs
            .iter()
            .find(|(key, value)| key == "container" && !value.is_empty())
            .map(|(_, value)| value.clone()),
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
    })
}

/// The container to attach to, chosen as the API server's `streamLocation` does.
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

/// The protocol an attach is upgraded to.
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

pub async fn attach(
    state: &Arc<ApiState>,
    mut request: Request,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let method = request.method();
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource: {method}"
        )));
    }
    let name = target.name.as_deref().unwrap_or_default();
    let options = attach_options(request.uri().query())?;
    let stored = read_object(state, target)?;
    let pod = &stored.object;
    let container = chosen_container(pod, name, options.container.as_deref())?;
    let text = |pointer: &str| {
        pod.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let node = text("/spec/nodeName");
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    // A completed pod is not refused here (kubectl refuses it itself): a pod that
    // completed just after kubectl saw it running still gets its output from the node.
    let protocol = negotiate(&request)?;
    let authority = node_endpoint(state, &node)?.authority;
    let uri = format!(
        "https://{authority}/attach/{}/{name}/{}/{container}?stdin={}",
        target.namespace.as_deref().unwrap_or_default(),
        text("/metadata/uid"),
        options.stdin
    );
    let client = state.node_client.clone();
    let upgrade = hyper::upgrade::on(&mut request);
    let output_channel = if options.stdout {
        Some(STDOUT_CHANNEL)
    } else if options.stderr {
        Some(STDERR_CHANNEL)
    } else {
        None
    };
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
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(error) => {
                tracing::debug!(%error, "an attach connection was not upgraded");
                return;
            }
        };
        let node_stream =
            open_node_tunnel(&client, &node, &authority, &uri, NODE_ATTACH_UPGRADE).await;
        match protocol {
            Protocol::Spdy => spdy::serve(upgraded, node_stream, options).await,
            Protocol::WebSocket { .. } => {
                serve_channels(upgraded, node_stream, output_channel).await;
            }
        }
    });
    Ok(response)
}

fn channel_message(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(payload.len() + 1);
    message.push(channel);
    message.extend_from_slice(payload);
    frame::frame(OPCODE_BINARY, &message)
}

/// The Status the kubelet writes on the error channel when an attach ends.
fn final_status(failure: Option<&str>) -> Value {
    match failure {
        None => json!({"metadata": {}, "status": "Success"}),
        Some(message) => json!({
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": "InternalError",
            "code": 500,
        }),
    }
}

/// Carries the client's stdin to the node and the container's output back, then ends
/// with the error channel's Status and a close frame.
async fn serve_channels<Io, Node>(io: Io, node: Result<Node, String>, output_channel: Option<u8>)
where
    Io: AsyncRead + AsyncWrite + Send + 'static,
    Node: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let outgoing = start_writer(writer);
    let failure = match node {
        Ok(node) => {
            pump(reader, node, &outgoing, output_channel).await;
            None
        }
        Err(message) => Some(message),
    };
    let status = final_status(failure.as_deref()).to_string();
    let _ = outgoing
        .send(channel_message(ERROR_CHANNEL, status.as_bytes()))
        .await;
    // Status 1000: a normal closure.
    let _ = outgoing
        .send(frame::frame(OPCODE_CLOSE, &1000u16.to_be_bytes()))
        .await;
}

async fn pump<Reader, Node>(
    reader: Reader,
    node: Node,
    outgoing: &mpsc::Sender<Vec<u8>>,
    output_channel: Option<u8>,
) where
    Reader: AsyncRead + Send + Unpin,
    Node: AsyncRead + AsyncWrite + Send,
{
    let (mut from_node, mut to_node) = tokio::io::split(node);
    let inbound = async {
        let mut messages = MessageReader::new(tokio::io::BufReader::new(reader));
        loop {
            match messages.next().await {
                Ok(Some(Message::Binary(message))) => match message.first() {
                    Some(&STDIN_CHANNEL) if to_node.write_all(&message[1..]).await.is_err() => {
                        break;
                    }
                    Some(&CLOSE_CHANNEL) if message.get(1) == Some(&STDIN_CHANNEL) => {
                        let _ = to_node.shutdown().await;
                    }
                    // Resizes mean nothing to a guest, which has no terminal.
                    _ => {}
                },
                Ok(Some(Message::Ping(payload))) => {
                    let _ = outgoing.send(frame::frame(OPCODE_PONG, &payload)).await;
                }
                Ok(Some(Message::Pong | Message::Text(_))) => {}
                Ok(Some(Message::Close(_)) | None) => break,
                Err(error) => {
                    tracing::debug!(%error, "an attach WebSocket broke the protocol");
                    break;
                }
            }
        }
        // Without the client there is no more stdin.
        let _ = to_node.shutdown().await;
        std::future::pending::<()>().await;
    };
    let outbound = async {
        let mut buffer = vec![0u8; READ_BUFFER_BYTES];
        loop {
            match from_node.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    let Some(channel) = output_channel else {
                        continue;
                    };
                    if outgoing
                        .send(channel_message(channel, &buffer[..read]))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    // The container's exit ends the output, and so the attach.
    tokio::select! {
        () = inbound => {}
        () = outbound => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_the_container_and_streams() {
        assert_eq!(
            attach_options(Some(
                "container=app&stdin=true&stdout=true&stderr=1&tty=false"
            ))
            .ok(),
            Some(AttachOptions {
                container: Some("app".to_owned()),
                stdin: true,
                stdout: true,
                stderr: true,
            })
        );
        assert_eq!(
            attach_options(None).ok(),
            Some(AttachOptions {
                container: None,
                stdin: false,
                stdout: false,
                stderr: false,
            })
        );
    }

    #[test]
    fn the_container_is_chosen_as_the_api_server_chooses_it() {
        let single = json!({"spec": {"containers": [{"name": "app"}]}});
        assert_eq!(
            chosen_container(&single, "p", None).ok().as_deref(),
            Some("app")
        );
        let two = json!({"spec": {"containers": [{"name": "app"}, {"name": "side"}]}});
        assert_eq!(
            chosen_container(&two, "p", None).map_err(|error| error.message),
            Err(
                "a container name must be specified for pod p, choose one of: [app side]"
                    .to_owned()
            )
        );
        assert_eq!(
            chosen_container(&two, "p", Some("other")).map_err(|error| error.message),
            Err("container other is not valid for pod p".to_owned())
        );
    }

    #[test]
    fn the_final_status_is_the_kubelets() {
        assert_eq!(
            final_status(None),
            json!({"metadata": {}, "status": "Success"})
        );
        assert_eq!(final_status(Some("boom"))["code"], json!(500));
        assert_eq!(channel_message(3, b"x"), vec![0x82, 2, 3, b'x']);
    }
}
