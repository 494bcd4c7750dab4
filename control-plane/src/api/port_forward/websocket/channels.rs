//! The WebSocket channel protocol of port forwarding (`v4.channel.k8s.io`, binary), as
//! the kubelet serves it and kube-rs's `Api::portforward` speaks it: the ports are in
//! the request's query; port i has data channel 2i and error channel 2i+1; every message
//! starts with its channel's number; the server's first message on each channel is the
//! port, two bytes little-endian. Each port gets one connection to the pod, opened at
//! once; the WebSocket closes when all of them have ended.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::frame::{self, Message, MessageReader, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PONG};
use super::{READ_BUFFER_BYTES, start_writer};
use crate::api::port_forward::node_tunnel::{PodTunnels, Tunnel};

/// Messages from the client waiting for the pod; a slow pod holds the client back.
const INBOUND_QUEUE: usize = 16;

fn data_channel(index: usize) -> u8 {
    u8::try_from(index * 2).unwrap_or(u8::MAX)
}

fn error_channel(index: usize) -> u8 {
    data_channel(index).saturating_add(1)
}

fn channel_message(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(payload.len() + 1);
    message.push(channel);
    message.extend_from_slice(payload);
    frame::frame(OPCODE_BINARY, &message)
}

/// The most ports one request may forward: each takes two of the 256 channels.
pub const MAX_PORTS: usize = 128;

/// Serves the channel protocol for `ports` (at most [`MAX_PORTS`]).
pub async fn serve<Io>(io: Io, tunnels: Arc<PodTunnels>, ports: Vec<u16>)
where
    Io: AsyncRead + AsyncWrite + Send + 'static,
{
    let (reader, writer) = tokio::io::split(io);
    let outgoing = start_writer(writer);
    for (index, port) in ports.iter().enumerate() {
        for channel in [data_channel(index), error_channel(index)] {
            let _ = outgoing
                .send(channel_message(channel, &port.to_le_bytes()))
                .await;
        }
    }
    let mut to_pods = Vec::new();
    let mut forwarders = JoinSet::new();
    for (index, port) in ports.into_iter().enumerate() {
        let (to_pod, from_client) = mpsc::channel(INBOUND_QUEUE);
        to_pods.push(to_pod);
        forwarders.spawn(forward(
            Arc::clone(&tunnels),
            outgoing.clone(),
            index,
            port,
            from_client,
        ));
    }
    let reading = async {
        let mut messages = MessageReader::new(tokio::io::BufReader::new(reader));
        loop {
            match messages.next().await {
                Ok(Some(Message::Binary(message))) => {
                    // Only the data channels go to the pod; the error channels are the
                    // server's to write.
                    let to_pod = message
                        .first()
                        .filter(|channel| *channel % 2 == 0)
                        .and_then(|channel| to_pods.get(usize::from(*channel / 2)));
                    if let Some(to_pod) = to_pod
                        && message.len() > 1
                    {
                        // A forwarder that has finished no longer reads.
                        let _ = to_pod.send(message.slice(1..)).await;
                    }
                }
                Ok(Some(Message::Ping(payload))) => {
                    let _ = outgoing.send(frame::frame(OPCODE_PONG, &payload)).await;
                }
                Ok(Some(Message::Pong | Message::Text(_))) => {}
                Ok(Some(Message::Close(_)) | None) => return,
                Err(error) => {
                    tracing::debug!(%error, "a port-forward WebSocket broke the protocol");
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = reading => {}
        () = async { while forwarders.join_next().await.is_some() {} } => {}
    }
    // Status 1000: a normal closure.
    let _ = outgoing
        .send(frame::frame(OPCODE_CLOSE, &1000u16.to_be_bytes()))
        .await;
}

/// Forwards one port until the pod's side ends or the client goes away.
async fn forward(
    tunnels: Arc<PodTunnels>,
    outgoing: mpsc::Sender<Vec<u8>>,
    index: usize,
    port: u16,
    from_client: mpsc::Receiver<Bytes>,
) {
    match tunnels.open(port).await {
        Ok(tunnel) => pump(tunnel, &outgoing, data_channel(index), from_client).await,
        Err(message) => {
            tracing::debug!(port, %message, "port forward failed");
            let _ = outgoing
                .send(channel_message(error_channel(index), message.as_bytes()))
                .await;
        }
    }
}

async fn pump(
    tunnel: Tunnel,
    outgoing: &mpsc::Sender<Vec<u8>>,
    channel: u8,
    mut from_client: mpsc::Receiver<Bytes>,
) {
    let (mut from_pod, mut to_pod) = tokio::io::split(tunnel);
    let upstream = async {
        while let Some(data) = from_client.recv().await {
            if to_pod.write_all(&data).await.is_err() {
                break;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; READ_BUFFER_BYTES];
        loop {
            match from_pod.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
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
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_port_has_a_data_and_an_error_channel() {
        assert_eq!((data_channel(0), error_channel(0)), (0, 1));
        assert_eq!((data_channel(3), error_channel(3)), (6, 7));
        assert_eq!(
            channel_message(1, &8080u16.to_le_bytes()),
            vec![0x82, 3, 1, 0x90, 0x1f]
        );
    }
}
