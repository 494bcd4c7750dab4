//! The WebSocket channel protocol (`v4.channel.k8s.io`), as kube-rs's `Api::portforward`
//! speaks it, driven by hand over a raw connection: ports in the query, each port's
//! first message its number, data on channel 2i and errors on 2i+1.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
type TcpStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

use super::kubectl::{closed_port, start_echo_server};
use super::{create_pod, register_node, start_node_agent};
use crate::support::start_cluster;

const PATIENCE: Duration = Duration::from_secs(20);

/// A masked binary frame, as a client sends it.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0xa1, 0xb2, 0xc3, 0xd4];
    let mut frame = vec![0x82];
    match payload.len() {
        short @ 0..=125 => frame.push(0x80 | short as u8),
        medium => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(medium as u16).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(
        payload
            .iter()
            .enumerate()
            .map(|(index, byte)| byte ^ mask[index % 4]),
    );
    frame
}

/// The next frame from the server: its opcode and payload.
async fn server_frame(connection: &mut TcpStream) -> (u8, Vec<u8>) {
    let read = async {
        let mut head = [0u8; 2];
        connection.read_exact(&mut head).await?;
        assert_eq!(head[1] & 0x80, 0, "the server's frames are not masked");
        let length = match head[1] & 0x7f {
            126 => u64::from(connection.read_u16().await?),
            127 => connection.read_u64().await?,
            short => u64::from(short),
        };
        let mut payload = vec![0u8; length as usize];
        connection.read_exact(&mut payload).await?;
        Ok::<_, std::io::Error>((head[0] & 0x0f, payload))
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("a frame in time")
        .expect("a readable frame")
}

#[tokio::test]
async fn the_channel_protocol_forwards_each_port_and_reports_errors_on_its_channel() {
    let cluster = start_cluster().await;
    let agent_port = start_node_agent(&cluster).await;
    register_node(&cluster, "node-1", agent_port).await;
    let uid = create_pod(&cluster, "web", "node-1", "Running").await;
    let echo_port = start_echo_server().await;
    let nowhere = closed_port();

    let mut connection = crate::tls::admin_connection(&cluster.plane).await;
    let request = format!(
        "GET /api/v1/namespaces/default/pods/web/portforward?ports={echo_port}%2C{nowhere} HTTP/1.1\r\n\
         Host: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n",
        cluster.plane.address
    );
    connection
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(PATIENCE, connection.read_u8())
            .await
            .expect("the answer in time")
            .expect("the answer reads");
        head.push(byte);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-protocol: v4.channel.k8s.io\r\n"),
        "{head}"
    );

    // Each channel's first message names its port.
    let mut initial = Vec::new();
    for _ in 0..4 {
        initial.push(server_frame(&mut connection).await);
    }
    let port_message = |channel: u8, port: u16| {
        let [low, high] = port.to_le_bytes();
        (0x2, vec![channel, low, high])
    };
    assert_eq!(
        initial,
        vec![
            port_message(0, echo_port),
            port_message(1, echo_port),
            port_message(2, nowhere),
            port_message(3, nowhere),
        ]
    );

    connection
        .write_all(&client_frame(b"\x00hello over channels"))
        .await
        .expect("data is sent");
    let (mut echoed, mut error) = (Vec::new(), String::new());
    while echoed.len() < b"hello over channels".len() || error.is_empty() {
        let (opcode, payload) = server_frame(&mut connection).await;
        assert_eq!(opcode, 0x2, "binary messages only");
        match payload.split_first() {
            Some((0, data)) => echoed.extend_from_slice(data),
            Some((3, message)) => error.push_str(&String::from_utf8_lossy(message)),
            other => panic!("unexpected message {other:?}"),
        }
    }
    assert_eq!(echoed, b"hello over channels");
    let expected = format!("error forwarding port {nowhere} to pod {uid}, uid : ");
    assert!(error.starts_with(&expected), "{error}");

    // A close from the client ends the forwarding; the server closes too.
    let mut close = client_frame(&1000u16.to_be_bytes());
    close[0] = 0x88;
    connection
        .write_all(&close)
        .await
        .expect("the close is sent");
    let (opcode, payload) = server_frame(&mut connection).await;
    assert_eq!((opcode, payload), (0x8, 1000u16.to_be_bytes().to_vec()));
}
