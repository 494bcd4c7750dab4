//! httpGet probes, as the kubelet's HTTP prober runs them: a GET with `Connection: close`
//! over a connection to the pod's port, TLS without certificate checks for `HTTPS`,
//! redirects followed while they stay on the same host, and the result from the status
//! code: 200 to 399 pass (a redirect that was not followed passes with a warning),
//! anything else fails with "HTTP probe failed with statuscode: N".

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use super::results::ProbeOutcome;
use super::spec::{HttpGetProbe, HttpScheme};
use super::tls::start_tls;
use super::{NO_POD_NETWORK, PodPortConnector, join_host_port, probe_host};

/// How much of a response body is read (it only shows in a redirect warning).
const MAX_RESPONSE_BODY_BYTES: usize = 10 * 1024;
/// Go's HTTP client gives up after this many redirects.
const MAX_REDIRECTS: usize = 10;

/// The `User-Agent` of the kubelet's probes: `kube-probe/<major>.<minor>` of the
/// Kubernetes version the node reports.
fn user_agent() -> String {
    let version = crate::kubelet_version();
    let mut parts = version.trim_start_matches('v').split(['.', '+', '-']);
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or_default();
    format!("kube-probe/{major}.{minor}")
}

/// Where one request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RequestTarget {
    scheme: HttpScheme,
    host: String,
    port: u16,
    path_and_query: String,
    host_header: String,
}

impl RequestTarget {
    /// The URL as Go prints it in the kubelet's messages.
    fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme.as_str(),
            join_host_port(&self.host, self.port),
            self.path_and_query
        )
    }

    /// Where a redirect's `Location` points, resolved against this request. A custom
    /// Host header survives only a relative redirect, as in Go's client.
    fn redirected(&self, location: &str) -> Option<RequestTarget> {
        let absolute = if location.starts_with("//") {
            Some(format!("{}:{location}", self.scheme.as_str()))
        } else if location.contains("://") {
            Some(location.to_owned())
        } else {
            None
        };
        let Some(absolute) = absolute else {
            let path_and_query = if location.starts_with('/') {
                location.to_owned()
            } else {
                let path = self.path_and_query.split('?').next().unwrap_or("/");
                let directory = path.rsplit_once('/').map_or("", |(directory, _)| directory);
                format!("{directory}/{location}")
            };
            return Some(RequestTarget {
                path_and_query,
                ..self.clone()
            });
        };
        let uri: Uri = absolute.parse().ok()?;
        let scheme = match uri.scheme_str()? {
            scheme if scheme.eq_ignore_ascii_case("http") => HttpScheme::Http,
            scheme if scheme.eq_ignore_ascii_case("https") => HttpScheme::Https,
            _ => return None,
        };
        let host = uri
            .host()?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        Some(RequestTarget {
            scheme,
            host_header: join_host_port(&host, port),
            host,
            port,
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |path| path.as_str().to_owned()),
        })
    }
}

/// The request's headers, from the probe's `httpHeaders` and the kubelet's defaults: a
/// `User-Agent` and `Accept: */*` unless the probe sets them (an empty `Accept` removes
/// it), and a `Host` header taken out to replace the URL's host. Go refuses invalid
/// names and values when it sends the request; so does this, with Go's words.
fn request_headers(probe: &HttpGetProbe) -> Result<(HeaderMap, Option<String>), String> {
    let mut headers = HeaderMap::new();
    let mut host_header = None;
    for (name, value) in &probe.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("net/http: invalid header field name {name:?}"))?;
        if header_name == header::HOST {
            host_header.get_or_insert_with(|| value.clone());
            continue;
        }
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| format!("net/http: invalid header field value for {name:?}"))?;
        headers.append(header_name, header_value);
    }
    if !headers.contains_key(header::USER_AGENT) {
        let agent = HeaderValue::from_str(&user_agent())
            .map_err(|_| "net/http: invalid header field value for \"User-Agent\"".to_owned())?;
        headers.insert(header::USER_AGENT, agent);
    }
    match headers.get(header::ACCEPT) {
        None => {
            headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        }
        Some(accept) if accept.is_empty() => {
            headers.remove(header::ACCEPT);
        }
        Some(_) => {}
    }
    // The kubelet's transport disables keep-alive: one request per connection.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    Ok((headers, host_header))
}

/// A response as far as the probe cares.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

pub async fn run_http_get_probe(
    probe: &HttpGetProbe,
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
    let headers = request_headers(probe);
    let target = RequestTarget {
        scheme: probe.scheme,
        host_header: headers
            .as_ref()
            .ok()
            .and_then(|(_, host_header)| host_header.clone())
            .unwrap_or_else(|| join_host_port(&host, port)),
        host,
        port,
        path_and_query: probe.path.clone(),
    };
    let mut current_url = target.url();
    let headers = match headers {
        Ok((headers, _)) => headers,
        Err(error) => return ProbeOutcome::Failure(format!("Get {current_url:?}: {error}")),
    };
    let following = follow_redirects(connector, target, &headers, &mut current_url);
    match tokio::time::timeout(timeout, following).await {
        Ok(outcome) => outcome,
        // Go's client reports its overall timeout this way, whatever stage it hit.
        Err(_) => ProbeOutcome::Failure(format!(
            "Get {current_url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// Requests `target`, following same-host redirects; `current_url` is kept up to date for
/// the caller's timeout message.
async fn follow_redirects(
    connector: &dyn PodPortConnector,
    mut target: RequestTarget,
    headers: &HeaderMap,
    current_url: &mut String,
) -> ProbeOutcome {
    let first_host = target.host.clone();
    let mut requests = 0;
    loop {
        requests += 1;
        let answer = match exchange(connector, &target, headers).await {
            Ok(answer) => answer,
            Err(error) => return ProbeOutcome::Failure(format!("Get {current_url:?}: {error}")),
        };
        let status = answer.status.as_u16();
        let followed_status = matches!(status, 301 | 302 | 303 | 307 | 308);
        let next = answer
            .location
            .as_deref()
            .filter(|_| followed_status)
            .and_then(|location| target.redirected(location))
            .filter(|next| next.host.eq_ignore_ascii_case(&first_host));
        if let Some(next) = next {
            *current_url = next.url();
            if requests >= MAX_REDIRECTS {
                return ProbeOutcome::Failure(format!(
                    "Get {current_url:?}: stopped after {MAX_REDIRECTS} redirects"
                ));
            }
            target = next;
            continue;
        }
        return match status {
            200..=299 => ProbeOutcome::Success,
            300..=399 => ProbeOutcome::Warning(format!(
                "Probe terminated redirects, Response body: {}",
                answer.body
            )),
            // The body stays out of the message: it may hold anything, the kubelet says.
            _ => ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {status}")),
        };
    }
}

/// One request on a new connection.
async fn exchange(
    connector: &dyn PodPortConnector,
    target: &RequestTarget,
    headers: &HeaderMap,
) -> Result<Answer, String> {
    let address = join_host_port(&target.host, target.port);
    let connection = connector
        .connect(target.port)
        .await
        .map_err(|error| format!("dial tcp {address}: connect: {error}"))?;
    let mut request = Request::get(target.path_and_query.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|error| format!("parse {:?}: {error}", target.url()))?;
    *request.headers_mut() = headers.clone();
    let host = HeaderValue::from_str(&target.host_header)
        .map_err(|_| format!("http: invalid Host header {:?}", target.host_header))?;
    request.headers_mut().insert(header::HOST, host);
    match target.scheme {
        HttpScheme::Http => send(TokioIo::new(connection), request).await,
        HttpScheme::Https => {
            let tls = start_tls(connection, &target.host).await?;
            send(TokioIo::new(tls), request).await
        }
    }
}

async fn send<Connection>(
    connection: Connection,
    request: Request<Empty<Bytes>>,
) -> Result<Answer, String>
where
    Connection: hyper::rt::Read + hyper::rt::Write + Unpin + Send,
{
    let (mut sender, driver) = hyper::client::conn::http1::handshake(connection)
        .await
        .map_err(|error| error.to_string())?;
    let asking = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .map(str::to_owned);
        let body = read_body_prefix(response.into_body()).await;
        Ok(Answer {
            status,
            location,
            body,
        })
    };
    while_driving(driver, asking).await
}

/// Polls `work` to its end while also driving `driver` (a connection that does the
/// actual reading and writing), without spawning a task that could outlive a timeout.
async fn while_driving<Output>(driver: impl Future, work: impl Future<Output = Output>) -> Output {
    let mut driver = std::pin::pin!(driver);
    let mut work = std::pin::pin!(work);
    let mut driver_finished = false;
    std::future::poll_fn(|context| {
        if !driver_finished && driver.as_mut().poll(context).is_ready() {
            driver_finished = true;
        }
        work.as_mut().poll(context)
    })
    .await
}

/// The first bytes of a body; a body that breaks off is taken as far as it came.
async fn read_body_prefix(mut body: Incoming) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_RESPONSE_BODY_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = MAX_RESPONSE_BODY_BYTES - bytes.len();
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests;
