use serde_json::json;

use super::node_stream::{NodeEvent, NodeFraming, NodeReader, OutputStream, Routing};
use super::*;

#[test]
fn the_query_names_the_container_the_streams_and_the_command() {
    assert_eq!(
        StreamOptions::from_query(Some(
            "container=app&stdin=true&stdout=true&stderr=1&tty=false"
        ))
        .ok(),
        Some(StreamOptions {
            container: Some("app".to_owned()),
            stdin: true,
            stdout: true,
            stderr: true,
            ..StreamOptions::default()
        })
    );
    assert_eq!(
        StreamOptions::from_query(None).ok(),
        Some(StreamOptions::default())
    );
    // kubectl exec sends one `command` per word, URL-encoded, in order.
    assert_eq!(
        StreamOptions::from_query(Some(
            "command=cat&command=%2Fdata%2Fa+b&container=app&stdout=true&tty=true"
        ))
        .ok(),
        Some(StreamOptions {
            container: Some("app".to_owned()),
            stdout: true,
            tty: true,
            command: vec!["cat".to_owned(), "/data/a b".to_owned()],
            ..StreamOptions::default()
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
        Err("a container name must be specified for pod p, choose one of: [app side]".to_owned())
    );
    assert_eq!(
        chosen_container(&two, "p", Some("other")).map_err(|error| error.message),
        Err("container other is not valid for pod p".to_owned())
    );
    let annotated = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/default-container": "side"}},
        "spec": {"containers": [{"name": "app"}, {"name": "side"}]},
    });
    assert_eq!(
        chosen_container(&annotated, "p", None).ok().as_deref(),
        Some("side")
    );
}

#[test]
fn the_final_status_is_the_nodes_or_the_kubelets() {
    assert_eq!(
        final_status(Ok(None)),
        json!({"metadata": {}, "status": "Success"})
    );
    assert_eq!(final_status(Err("boom".to_owned()))["code"], json!(500));
    let exited = json!({"status": "Failure", "reason": "NonZeroExitCode"});
    assert_eq!(final_status(Ok(Some(exited.clone()))), exited);
}

#[test]
fn output_goes_where_the_client_asked_and_a_tty_merges_stderr() {
    let apart = Routing {
        stdout: true,
        stderr: false,
        merged: false,
    };
    assert_eq!(
        apart.destination(OutputStream::Stdout),
        Some(OutputStream::Stdout)
    );
    assert_eq!(apart.destination(OutputStream::Stderr), None);
    let tty = StreamOptions {
        stdout: true,
        tty: true,
        ..StreamOptions::default()
    }
    .routing(false);
    assert_eq!(
        tty.destination(OutputStream::Stderr),
        Some(OutputStream::Stdout)
    );
    // An attach asked only for stderr gets the merged log there.
    let stderr_only = StreamOptions {
        stderr: true,
        ..StreamOptions::default()
    }
    .routing(true);
    assert_eq!(
        stderr_only.destination(OutputStream::Stdout),
        Some(OutputStream::Stderr)
    );
}

fn node_frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![kind];
    frame.extend_from_slice(&u32::try_from(payload.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn the_nodes_exec_frames_are_read_in_order_up_to_the_status() {
    let status = json!({"metadata": {}, "status": "Success"});
    let mut bytes = node_frame(1, b"out");
    bytes.extend(node_frame(9, b"an unknown kind is skipped"));
    bytes.extend(node_frame(2, b"err"));
    bytes.extend(node_frame(3, status.to_string().as_bytes()));
    let mut reader = NodeReader::new(bytes.as_slice(), NodeFraming::Frames);
    assert_eq!(
        reader.next().await,
        NodeEvent::Output(OutputStream::Stdout, b"out".to_vec())
    );
    assert_eq!(
        reader.next().await,
        NodeEvent::Output(OutputStream::Stderr, b"err".to_vec())
    );
    assert_eq!(reader.next().await, NodeEvent::End(Ok(Some(status))));

    // A connection that ends before the status is a failure, never a success.
    let cut = node_frame(1, b"partial");
    let mut reader = NodeReader::new(&cut[..6], NodeFraming::Frames);
    assert!(matches!(reader.next().await, NodeEvent::End(Err(_))));

    let mut attach = NodeReader::new(&b"log"[..], NodeFraming::Merged);
    assert_eq!(
        attach.next().await,
        NodeEvent::Output(OutputStream::Stdout, b"log".to_vec())
    );
    assert_eq!(attach.next().await, NodeEvent::End(Ok(None)));
}
