//! The echo benchmark's client: hyper's low-level HTTP/1.1 client (no pool, no
//! middleware) over whatever byte stream reaches the server, a virtual connection of the
//! pod network or a host TCP socket, so that every target is driven by the same code.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use wasmkube_runtime::network::NodeNetwork;

use super::super::samples::{Summary, nanoseconds_between};

/// What every answer of the echo server starts with.
const ECHO_BODY_PREFIX: &[u8] = b"echo from ";

/// The path asked for: echo answers any path but its probes' with the echo body.
const REQUEST_PATH: &str = "/bench";

/// A connected byte stream, whichever way it was reached.
trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for T {}

/// Which way the echo server is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EchoTarget {
    /// The Service's cluster IP, which the node load-balances over ready endpoints.
    Service,
    /// The pod's IP, straight to the pod.
    PodIp,
    /// The crate built for the host, over the host's TCP loopback.
    Native,
}

impl EchoTarget {
    pub fn label(self) -> &'static str {
        match self {
            EchoTarget::Service => "service",
            EchoTarget::PodIp => "pod-ip",
            EchoTarget::Native => "native",
        }
    }
}

/// How the requests use connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectionMode {
    /// Each request opens a connection, and the client closes it after reading the answer.
    NewConnectionPerRequest,
    /// Every request goes over one connection kept open.
    KeepAlive,
}

impl ConnectionMode {
    pub fn label(self) -> &'static str {
        match self {
            ConnectionMode::NewConnectionPerRequest => "per-request",
            ConnectionMode::KeepAlive => "keep-alive",
        }
    }
}

/// Where the echo server listens, and through what.
#[derive(Clone)]
pub enum EchoEndpoint {
    /// The Service's cluster IP and port, through the node's pod network.
    Service {
        network: NodeNetwork,
        address: SocketAddr,
    },
    /// The pod's IP and port, through the node's pod network.
    PodIp {
        network: NodeNetwork,
        ip: Ipv4Addr,
        port: u16,
    },
    /// A process on the host's TCP loopback.
    Native(SocketAddr),
}

impl EchoEndpoint {
    pub fn target(&self) -> EchoTarget {
        match self {
            EchoEndpoint::Service { .. } => EchoTarget::Service,
            EchoEndpoint::PodIp { .. } => EchoTarget::PodIp,
            EchoEndpoint::Native(_) => EchoTarget::Native,
        }
    }

    async fn connect(&self) -> anyhow::Result<Box<dyn ByteStream>> {
        match self {
            EchoEndpoint::Service { network, address } => {
                // The node dials from its own address, as it does for a NodePort.
                let source = SocketAddr::new(network.node_address(), 0);
                let stream = network
                    .connect_from_node(*address, source)
                    .await
                    .with_context(|| format!("cannot connect to the Service at {address}"))?;
                Ok(Box::new(stream))
            }
            EchoEndpoint::PodIp { network, ip, port } => {
                let pod = network
                    .pod(*ip)
                    .with_context(|| format!("no pod of this node has the IP {ip}"))?;
                let stream = pod
                    .connect_from_node(*port)
                    .with_context(|| format!("cannot connect to the pod at {ip}:{port}"))?;
                Ok(Box::new(stream))
            }
            EchoEndpoint::Native(address) => {
                let stream = tokio::net::TcpStream::connect(address)
                    .await
                    .with_context(|| format!("cannot connect to the native echo at {address}"))?;
                // Requests are small and latency is what is measured: send each at once.
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

/// One HTTP/1.1 connection to the echo server.
struct EchoConnection {
    sender: http1::SendRequest<Empty<Bytes>>,
    driver: tokio::task::JoinHandle<hyper::Result<()>>,
}

impl EchoConnection {
    async fn open(endpoint: &EchoEndpoint) -> anyhow::Result<EchoConnection> {
        let stream = endpoint.connect().await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .context("the HTTP/1.1 handshake failed")?;
        Ok(EchoConnection {
            sender,
            driver: tokio::spawn(connection),
        })
    }

    /// Sends one GET and reads its answer to the end, checking that echo gave it.
    async fn get(&mut self) -> anyhow::Result<()> {
        let request = Request::get(REQUEST_PATH)
            .header(header::HOST, "echo")
            .body(Empty::new())?;
        self.sender.ready().await.context("the connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .context("the request failed")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the answer failed")?
            .to_bytes();
        anyhow::ensure!(
            status == StatusCode::OK && body.starts_with(ECHO_BODY_PREFIX),
            "echo answered {status} with {:?}",
            String::from_utf8_lossy(&body)
        );
        Ok(())
    }

    /// Closes the connection and waits until it is closed, so that the server (which
    /// serves one connection at a time) is free for the next one.
    async fn close(self) -> anyhow::Result<()> {
        drop(self.sender);
        self.driver
            .await
            .context("the connection's task failed")?
            .context("the connection ended with an error")
    }
}

/// What one run sends.
#[derive(Clone, Copy, Debug)]
pub struct RequestLoad {
    pub requests: usize,
    pub mode: ConnectionMode,
}

/// How long one request may take, connection included, before it counts as failed:
/// longer than echo's own 5 s idle timeout, so that a server that stopped reading shows
/// as echo closing the connection.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits for `future` for at most [`REQUEST_TIMEOUT`].
async fn within_timeout<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(REQUEST_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "no answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))
        })
}

/// A run gives up after this many failed requests: the server is not answering, and
/// each failure may have waited out echo's 5 s idle timeout.
const MAX_FAILURES_PER_RUN: usize = 5;

/// What one run measured. Latency runs from just before the request was sent (before the
/// connection was opened, with a connection per request) until its answer was read in
/// full, and only answered requests have one; the elapsed time also counts opening and
/// closing the connections, and the failures. A connection that fails to close counts
/// as a failure too.
#[derive(Clone, Debug)]
pub struct RequestReport {
    pub target: EchoTarget,
    pub mode: ConnectionMode,
    /// Requests sent, answered or not.
    pub requests: usize,
    pub failed: usize,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    pub latency: Summary,
}

impl RequestReport {
    /// Answered requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests.saturating_sub(self.failed) as f64
            / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<String>,
}

impl Failures {
    fn record(&mut self, error: &anyhow::Error) {
        self.count += 1;
        self.first.get_or_insert_with(|| format!("{error:#}"));
    }
}

/// One request on a connection of its own, closed after the answer; returns when the
/// answer had been read.
async fn request_on_a_new_connection(endpoint: &EchoEndpoint) -> anyhow::Result<Instant> {
    within_timeout(async {
        let mut connection = EchoConnection::open(endpoint).await?;
        connection.get().await?;
        let answered = Instant::now();
        connection.close().await?;
        Ok(answered)
    })
    .await
}

/// Sends `load.requests` requests one after another (echo serves one connection at a
/// time, so a second client would only queue behind the first). A failed request is
/// counted and the run goes on; on a connection kept alive, a new one replaces the failed
/// one.
pub async fn run(endpoint: &EchoEndpoint, load: RequestLoad) -> anyhow::Result<RequestReport> {
    let mut samples = Vec::with_capacity(load.requests);
    let mut failures = Failures::default();
    let mut sent_count = 0;
    let started = Instant::now();
    match load.mode {
        ConnectionMode::NewConnectionPerRequest => {
            while sent_count < load.requests && failures.count < MAX_FAILURES_PER_RUN {
                sent_count += 1;
                let sent = Instant::now();
                match request_on_a_new_connection(endpoint).await {
                    Ok(answered) => samples.push(nanoseconds_between(sent, answered)),
                    Err(error) => failures.record(&error),
                }
            }
        }
        ConnectionMode::KeepAlive => {
            let mut connection: Option<EchoConnection> = None;
            while sent_count < load.requests && failures.count < MAX_FAILURES_PER_RUN {
                sent_count += 1;
                let open = match connection.as_mut() {
                    Some(open) => open,
                    None => match within_timeout(EchoConnection::open(endpoint)).await {
                        Ok(opened) => connection.insert(opened),
                        Err(error) => {
                            failures.record(&error);
                            continue;
                        }
                    },
                };
                let sent = Instant::now();
                match within_timeout(open.get()).await {
                    Ok(()) => samples.push(nanoseconds_between(sent, Instant::now())),
                    Err(error) => {
                        failures.record(&error);
                        // The connection is in an unknown state: a new one takes over.
                        connection = None;
                    }
                }
            }
            if let Some(open) = connection
                && let Err(error) = within_timeout(open.close()).await
            {
                failures.record(&error);
            }
        }
    }
    Ok(RequestReport {
        target: endpoint.target(),
        mode: load.mode,
        requests: sent_count,
        failed: failures.count,
        first_failure: failures.first,
        elapsed: started.elapsed(),
        latency: Summary::of(samples),
    })
}

/// Waits until the endpoint answers a request, for at most `patience`: a container
/// counts as running before its program has bound its port.
pub async fn wait_until_answering(
    endpoint: &EchoEndpoint,
    patience: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        match request_on_a_new_connection(endpoint).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() >= deadline => {
                return Err(error.context(format!(
                    "the {} echo did not answer within {} s",
                    endpoint.target().label(),
                    patience.as_secs()
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
