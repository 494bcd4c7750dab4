//! httpGet probes against real HTTP servers on 127.0.0.1, reached through a connector
//! that stands in for the pod network.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use k8s_openapi::api::core::v1::Container;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::pod::probes::spec::{ContainerProbeSpecs, ProbeHandler};
use crate::pod::probes::test_connectors::{LoopbackConnector, StalledConnector};

const TIMEOUT: Duration = Duration::from_secs(2);

/// The request headers the last `/headers` request carried.
type SeenHeaders = Arc<Mutex<Option<HeaderMap>>>;

/// An HTTP server on a free port of 127.0.0.1; its port and what `/headers` saw.
async fn server() -> (u16, SeenHeaders) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let port = listener.local_addr().expect("an address").port();
    let seen: SeenHeaders = Arc::default();
    let recorded = Arc::clone(&seen);
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move {
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/headers",
            get(move |headers: HeaderMap| {
                let recorded = Arc::clone(&recorded);
                async move {
                    *recorded.lock().expect("the lock") = Some(headers);
                    "seen"
                }
            }),
        )
        .route("/relative", get(|| async { redirect("healthz") }))
        .route("/absolute", get(|| async { redirect("/status/204") }))
        .route(
            "/elsewhere",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://example.test/")],
                    "moved away",
                )
            }),
        )
        .route("/loop", get(|| async { redirect("/loop") }))
        .route(
            "/not-modified",
            get(|| async { (StatusCode::NOT_MODIFIED, "") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, router)
            .await
            .expect("the server runs");
    });
    (port, seen)
}

fn redirect(location: &'static str) -> impl IntoResponse {
    (StatusCode::FOUND, [(header::LOCATION, location)], "")
}

fn probe(port: u16, path: &str) -> HttpGetProbe {
    HttpGetProbe {
        scheme: HttpScheme::Http,
        host: None,
        port: Ok(port),
        path: path.to_owned(),
        headers: Vec::new(),
    }
}

async fn run(probe: &HttpGetProbe) -> ProbeOutcome {
    run_http_get_probe(probe, Some(&LoopbackConnector), TIMEOUT).await
}

#[tokio::test]
async fn statuses_from_200_to_399_pass_and_others_fail_with_the_code() {
    let (port, _) = server().await;
    assert_eq!(run(&probe(port, "/healthz")).await, ProbeOutcome::Success);
    assert_eq!(
        run(&probe(port, "/status/204")).await,
        ProbeOutcome::Success
    );
    for code in [503, 404, 400] {
        assert_eq!(
            run(&probe(port, &format!("/status/{code}"))).await,
            ProbeOutcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
        );
    }
    assert_eq!(
        run(&probe(port, "/not-modified")).await,
        ProbeOutcome::Warning("Probe terminated redirects, Response body: ".to_owned())
    );
}

#[tokio::test]
async fn the_request_carries_the_kubelets_headers_and_the_probes_own() {
    let (port, seen) = server().await;
    assert_eq!(run(&probe(port, "/headers")).await, ProbeOutcome::Success);
    let headers = seen.lock().expect("the lock").take().expect("a request");
    let header = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().expect("text").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(header("user-agent"), ["kube-probe/1.33"]);
    assert_eq!(header("accept"), ["*/*"]);
    assert_eq!(header("host"), [format!("127.0.0.1:{port}")]);
    assert_eq!(header("connection"), ["close"]);

    let custom = HttpGetProbe {
        headers: vec![
            ("X-Probe".into(), "one".into()),
            ("x-probe".into(), "two".into()),
            ("Host".into(), "app.example".into()),
            ("User-Agent".into(), "custom".into()),
            ("Accept".into(), String::new()),
        ],
        ..probe(port, "/headers")
    };
    assert_eq!(run(&custom).await, ProbeOutcome::Success);
    let headers = seen.lock().expect("the lock").take().expect("a request");
    let values = |name: &str| headers.get_all(name).iter().count();
    assert_eq!(
        headers.get_all("x-probe").iter().collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(
        headers.get("host").map(|value| value.as_bytes()),
        Some(&b"app.example"[..])
    );
    assert_eq!(
        headers.get("user-agent").map(|value| value.as_bytes()),
        Some(&b"custom"[..])
    );
    assert_eq!(values("accept"), 0, "an empty Accept removes it");

    let invalid = HttpGetProbe {
        headers: vec![("Bad Name".into(), "x".into())],
        ..probe(port, "/headers")
    };
    assert_eq!(
        run(&invalid).await,
        ProbeOutcome::Failure(format!(
            "Get \"http://127.0.0.1:{port}/headers\": net/http: invalid header field name \"Bad Name\""
        ))
    );
}

#[tokio::test]
async fn a_named_port_resolves_to_the_containers_port() {
    let (port, _) = server().await;
    let container: Container = serde_yaml::from_str(&format!(
        "name: app\nports: [{{name: http, containerPort: {port}}}]\nreadinessProbe: {{httpGet: {{path: /status/503, port: http}}}}\nlivenessProbe: {{httpGet: {{path: /healthz, port: metrics}}}}\n"
    ))
    .expect("a container");
    let specs = ContainerProbeSpecs::of(&container);
    let handler =
        |spec: Option<crate::pod::probes::spec::ProbeSpec>| match spec.map(|spec| spec.handler) {
            Some(ProbeHandler::HttpGet(probe)) => probe,
            other => panic!("not an httpGet probe: {other:?}"),
        };
    assert_eq!(
        run(&handler(specs.readiness)).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 503".to_owned())
    );
    assert_eq!(
        run(&handler(specs.liveness)).await,
        ProbeOutcome::Errored("strconv.Atoi: parsing \"metrics\": invalid syntax".to_owned())
    );
}

#[tokio::test]
async fn a_slow_answer_or_a_stalled_connection_fails_at_the_timeout() {
    let (port, _) = server().await;
    let started = std::time::Instant::now();
    let outcome = run_http_get_probe(
        &probe(port, "/slow"),
        Some(&LoopbackConnector),
        Duration::from_millis(300),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        outcome,
        ProbeOutcome::Failure(format!(
            "Get \"http://127.0.0.1:{port}/slow\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        ))
    );
    let stalled = run_http_get_probe(
        &probe(80, "/healthz"),
        Some(&StalledConnector),
        Duration::from_millis(300),
    )
    .await;
    assert!(
        matches!(&stalled, ProbeOutcome::Failure(message) if message.contains("context deadline exceeded")),
        "{stalled:?}"
    );
}

#[tokio::test]
async fn a_closed_port_fails_with_the_dial_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let port = listener.local_addr().expect("an address").port();
    drop(listener);
    match run(&probe(port, "/healthz")).await {
        ProbeOutcome::Failure(message) => assert!(
            message.starts_with(&format!(
                "Get \"http://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: "
            )),
            "{message}"
        ),
        other => panic!("a closed port passed: {other:?}"),
    }
}

#[tokio::test]
async fn redirects_on_the_same_host_are_followed_and_others_pass_with_a_warning() {
    let (port, _) = server().await;
    assert_eq!(run(&probe(port, "/relative")).await, ProbeOutcome::Success);
    assert_eq!(run(&probe(port, "/absolute")).await, ProbeOutcome::Success);
    assert_eq!(
        run(&probe(port, "/elsewhere")).await,
        ProbeOutcome::Warning("Probe terminated redirects, Response body: moved away".to_owned())
    );
    assert_eq!(
        run(&probe(port, "/loop")).await,
        ProbeOutcome::Failure(format!(
            "Get \"http://127.0.0.1:{port}/loop\": stopped after 10 redirects"
        ))
    );
}

#[tokio::test]
async fn https_is_spoken_without_checking_the_certificate() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let port = listener.local_addr().expect("an address").port();
    let acceptor =
        tokio_rustls::TlsAcceptor::from(crate::pod::probes::test_connectors::tls_server_config());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                continue;
            };
            let mut request = Vec::new();
            let mut buffer = [0_u8; 1024];
            while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                match tls.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(&buffer[..read]),
                }
            }
            let status = if request.starts_with(b"GET /healthz ") {
                "200 OK"
            } else {
                "500 Internal Server Error"
            };
            let response =
                format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    let secure = |path: &str| HttpGetProbe {
        scheme: HttpScheme::Https,
        ..probe(port, path)
    };
    assert_eq!(run(&secure("/healthz")).await, ProbeOutcome::Success);
    assert_eq!(
        run(&secure("/other")).await,
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".to_owned())
    );
    // Plain HTTP to a TLS port gets no HTTP answer.
    assert!(matches!(
        run(&probe(port, "/healthz")).await,
        ProbeOutcome::Failure(_)
    ));
}

#[tokio::test]
async fn without_a_pod_network_the_probe_errors() {
    assert_eq!(
        run_http_get_probe(&probe(80, "/"), None, TIMEOUT).await,
        ProbeOutcome::Errored(NO_POD_NETWORK.to_owned())
    );
}

#[test]
fn redirect_locations_resolve_against_the_request() {
    let target = RequestTarget {
        scheme: HttpScheme::Http,
        host: "10.0.0.5".into(),
        port: 8080,
        path_and_query: "/app/health?verbose=1".into(),
        host_header: "custom.example".into(),
    };
    let relative = target.redirected("ready").expect("a target");
    assert_eq!(relative.url(), "http://10.0.0.5:8080/app/ready");
    assert_eq!(relative.host_header, "custom.example");
    let absolute = target
        .redirected("https://10.0.0.5/secure")
        .expect("a target");
    assert_eq!(absolute.url(), "https://10.0.0.5:443/secure");
    assert_eq!(absolute.host_header, "10.0.0.5:443");
    assert_eq!(
        target.redirected("//[fd00::1]:81/x").map(|next| next.url()),
        Some("http://[fd00::1]:81/x".to_owned())
    );
    assert_eq!(target.redirected("ftp://10.0.0.5/file"), None);
}
