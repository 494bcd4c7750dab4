//! `wasi:http/outgoing-handler` over the pod network: the request's host is resolved by
//! the cluster's DNS (Services, headless Services' pods, `a-b-c-d.<ns>.pod`, the pod's own
//! name, `localhost`), connected as a guest's socket would be (so a Service balances it
//! and egress policy applies), and spoken to with hyper's HTTP/1.1 client.
//!
//! Only `http` is supported: the node does not originate TLS for guests, so an `https`
//! request (or any other scheme) fails with `error-code.HTTP-protocol-error`, as
//! wasmtime-wasi-http answers for a scheme its embedder does not support. A request
//! without a scheme is sent as `http`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::http::uri::Scheme;
use hyper_util::rt::TokioIo;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::network::dns::{self, Asker, Resolution};
use crate::network::{ConnectError, PodNetwork, TcpPortLease, VirtualStream};

/// The timeouts a request gets when its options set none: wasmtime-wasi-http's own
/// defaults, so that a guest sees the same behaviour as under `wasmtime serve`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The port of an `http` URL without one.
const HTTP_PORT: u16 = 80;

/// The wasi:http hooks of one store: where its outgoing requests go.
pub struct PodHttpHooks {
    /// The pod's network; a guest without one has every outgoing request denied.
    network: Option<Arc<PodNetwork>>,
}

impl PodHttpHooks {
    pub fn new(network: Option<Arc<PodNetwork>>) -> PodHttpHooks {
        PodHttpHooks { network }
    }
}

type ConnectionDriver = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendRequestFuture =
    Box<dyn Future<Output = Result<(hyper::Response<WasiBody>, ConnectionDriver), Error>> + Send>;

impl WasiHttpHooks for PodHttpHooks {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        if *scheme != Scheme::HTTP {
            tracing::debug!(%scheme, "refused an outgoing wasi:http request: only http is supported");
        }
        *scheme == Scheme::HTTP
    }

    fn default_scheme(&mut self) -> Option<Scheme> {
        Some(Scheme::HTTP)
    }

    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendRequestFuture {
        let network = self.network.clone();
        Box::new(async move {
            let pod = network.ok_or(Error::HttpRequestDenied)?;
            send_over_pod_network(&pod, request, options.unwrap_or_default()).await
        })
    }
}

async fn send_over_pod_network(
    pod: &Arc<PodNetwork>,
    mut request: hyper::Request<WasiBody>,
    options: RequestOptions,
) -> Result<(hyper::Response<WasiBody>, ConnectionDriver), Error> {
    let authority = request
        .uri()
        .authority()
        .ok_or(Error::HttpRequestUriInvalid)?
        .clone();
    let port = authority.port_u16().unwrap_or(HTTP_PORT);
    let host = authority.host();
    // An IPv6 literal comes bracketed in a URL's authority.
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    let connect_timeout = options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT);
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(DEFAULT_TIMEOUT);

    let (stream, source_port) = tokio::time::timeout(connect_timeout, async {
        let addresses = resolve(pod, host, port).await?;
        connect(pod, &addresses, port).await
    })
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Error::from)?;
    // The request line names only the path: the scheme and authority go in a request
    // line only when talking to a proxy. The Host header carries the authority.
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .parse::<hyper::Uri>()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    *request.uri_mut() = path_and_query;

    let mut connection = Box::pin(connection);
    let mut response = Box::pin(tokio::time::timeout(
        first_byte_timeout,
        sender.send_request(request),
    ));
    let mut connection_ended = false;
    let response = tokio::select! {
        biased;
        response = &mut response => response,
        ended = &mut connection => {
            ended.map_err(Error::from)?;
            // The connection ended cleanly: whatever answer it carried has been handed
            // over, so the response is ready (or the server closed without one).
            connection_ended = true;
            response.await
        }
    }
    .map_err(|_| Error::ConnectionReadTimeout)?
    .map_err(Error::from)?;
    let driver: ConnectionDriver = Box::new(async move {
        // The source port stays taken while the connection lives.
        let _source_port: TcpPortLease = source_port;
        if connection_ended {
            return Ok(());
        }
        connection.await.map_err(|error| {
            if error.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::from(error)
            }
        })
    });
    let response = response
        .map(|incoming| BetweenBytesTimeout::new(incoming, between_bytes_timeout).boxed_unsync());
    Ok((response, driver))
}

/// The addresses `host` stands for, as the pod's resolver would answer: cluster DNS, and
/// the host's resolver for names outside the cluster only where egress is allowed.
async fn resolve(pod: &PodNetwork, host: &str, port: u16) -> Result<Vec<IpAddr>, Error> {
    let cluster = pod
        .cluster_snapshot()
        .ok_or(Error::DestinationUnavailable)?;
    let asker = Asker {
        namespace: &pod.identity.namespace,
        pod_name: &pod.identity.name,
        pod_ip: pod.ip,
    };
    let not_found = || Error::DnsError {
        rcode: Some("NXDOMAIN".to_owned()),
        info_code: None,
    };
    match dns::resolve(host, &asker, &cluster) {
        Resolution::Addresses(addresses) => Ok(addresses),
        Resolution::NotFound => Err(not_found()),
        Resolution::External(_) if !cluster.egress.allows(&pod.identity.namespace) => {
            tracing::debug!(
                pod = %format!("{}/{}", pod.identity.namespace, pod.identity.name),
                "not resolving {host}: egress is not allowed for the pod's namespace"
            );
            Err(not_found())
        }
        Resolution::External(name) => {
            let addresses = tokio::net::lookup_host((name.as_str(), port))
                .await
                .map_err(|_| not_found())?;
            Ok(addresses.map(|address| address.ip()).collect())
        }
    }
}

/// Connects to the first of `addresses` that accepts, from an ephemeral port of the pod
/// (on loopback for a loopback destination, else on the pod IP, as a guest's socket
/// would), returning the stream and the source port's lease.
async fn connect(
    pod: &Arc<PodNetwork>,
    addresses: &[IpAddr],
    port: u16,
) -> Result<(VirtualStream, TcpPortLease), Error> {
    let mut failure = Error::DestinationNotFound;
    for address in addresses {
        let destination = SocketAddr::new(address.to_canonical(), port);
        let source_ip = if destination.ip().is_loopback() {
            destination.ip()
        } else {
            IpAddr::V4(pod.ip)
        };
        let source_port = pod
            .ephemeral_tcp_port(source_ip)
            .map_err(|_| Error::ConnectionLimitReached)?;
        let source = SocketAddr::new(source_ip, source_port.port);
        match pod.connect_from_pod(source, destination).await {
            Ok(stream) => return Ok((stream, source_port)),
            Err(error) => failure = connect_error(error),
        }
    }
    Err(failure)
}

fn connect_error(error: ConnectError) -> Error {
    match error {
        ConnectError::Refused | ConnectError::Denied => Error::ConnectionRefused,
        ConnectError::Unreachable => Error::DestinationUnavailable,
        ConnectError::EgressDenied => Error::DestinationIpProhibited,
        ConnectError::TimedOut => Error::ConnectionTimeout,
        ConnectError::InvalidAddress => Error::DestinationIpUnroutable,
    }
}

/// A response body that fails when no frame arrives for `between_bytes_timeout`
/// (`request-options.between-bytes-timeout`).
struct BetweenBytesTimeout {
    incoming: Incoming,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl BetweenBytesTimeout {
    fn new(incoming: Incoming, timeout: Duration) -> BetweenBytesTimeout {
        BetweenBytesTimeout {
            incoming,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl Body for BetweenBytesTimeout {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(context) {
            Poll::Ready(Some(Ok(frame))) => {
                let next_deadline = Instant::now() + self.timeout;
                self.deadline.as_mut().reset(next_deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(if error.is_timeout() {
                Error::HttpResponseTimeout
            } else {
                Error::from(error)
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(context) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
