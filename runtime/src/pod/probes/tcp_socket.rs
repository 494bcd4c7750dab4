//! tcpSocket probes: the check passes if a connection to the port can be opened within
//! the timeout, and it is closed again at once.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::results::ProbeOutcome;
use super::spec::TcpSocketProbe;
use super::{NO_POD_NETWORK, PodPortConnector, join_host_port, probe_host};

pub async fn run_tcp_socket_probe(
    probe: &TcpSocketProbe,
    connector: Option<&dyn PodPortConnector>,
    timeout: Duration,
) -> ProbeOutcome {
    let Some(connector) = connector else {
        return ProbeOutcome::Errored(NO_POD_NETWORK.to_owned());
    };
    let port = match &probe.port {
        Ok(port) => *port,
        Err(error) => return ProbeOutcome::Errored(error.clone()),
    };
    let host = match probe_host(probe.host.as_deref(), connector) {
        Ok(host) => host,
        Err(error) => return ProbeOutcome::Errored(error),
    };
    let address = join_host_port(&host, port);
    // The kubelet turns every dial error, a timeout included, into a failure with Go's
    // wording for it.
    match tokio::time::timeout(timeout, connector.connect(port)).await {
        Err(_) => ProbeOutcome::Failure(format!("dial tcp {address}: i/o timeout")),
        Ok(Err(error)) => ProbeOutcome::Failure(format!("dial tcp {address}: connect: {error}")),
        Ok(Ok(mut connection)) => {
            // Whether the close is clean does not matter: the port answered.
            let _ = connection.shutdown().await;
            ProbeOutcome::Success
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod::probes::test_connectors::LoopbackConnector;

    fn probe(port: u16) -> TcpSocketProbe {
        TcpSocketProbe {
            host: None,
            port: Ok(port),
        }
    }

    #[tokio::test]
    async fn a_listening_port_passes_and_a_closed_one_fails_with_the_dial_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a listener");
        let open = listener.local_addr().expect("an address").port();
        let connector = LoopbackConnector;
        let timeout = Duration::from_secs(1);
        assert_eq!(
            run_tcp_socket_probe(&probe(open), Some(&connector), timeout).await,
            ProbeOutcome::Success
        );
        drop(listener);
        match run_tcp_socket_probe(&probe(open), Some(&connector), timeout).await {
            ProbeOutcome::Failure(message) => assert!(
                message.starts_with(&format!("dial tcp 127.0.0.1:{open}: connect: "))
                    && message.contains("refused"),
                "{message}"
            ),
            other => panic!("a closed port passed: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_connection_that_never_completes_fails_with_an_io_timeout() {
        let connector = crate::pod::probes::test_connectors::StalledConnector;
        let outcome =
            run_tcp_socket_probe(&probe(9), Some(&connector), Duration::from_millis(200)).await;
        assert_eq!(
            outcome,
            ProbeOutcome::Failure("dial tcp 127.0.0.1:9: i/o timeout".to_owned())
        );
    }

    #[tokio::test]
    async fn without_a_pod_network_or_with_a_foreign_host_the_probe_errors() {
        assert_eq!(
            run_tcp_socket_probe(&probe(80), None, Duration::from_secs(1)).await,
            ProbeOutcome::Errored(NO_POD_NETWORK.to_owned())
        );
        let foreign = TcpSocketProbe {
            host: Some("10.9.9.9".into()),
            port: Ok(80),
        };
        let outcome =
            run_tcp_socket_probe(&foreign, Some(&LoopbackConnector), Duration::from_secs(1)).await;
        assert!(
            matches!(&outcome, ProbeOutcome::Errored(message) if message.contains("10.9.9.9")),
            "{outcome:?}"
        );
        let unresolved = TcpSocketProbe {
            host: None,
            port: Err("strconv.Atoi: parsing \"db\": invalid syntax".into()),
        };
        assert_eq!(
            run_tcp_socket_probe(
                &unresolved,
                Some(&LoopbackConnector),
                Duration::from_secs(1)
            )
            .await,
            ProbeOutcome::Errored("strconv.Atoi: parsing \"db\": invalid syntax".into())
        );
    }
}
