//! The audit log over real HTTP: a small router behind the middleware on a loopback
//! port, a real client, and the log file read back.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post, put};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::*;
use crate::auth::UserInfo;

/// Stands in for authentication: the user named by this header, or none.
const TEST_USER_HEADER: &str = "x-test-user";

async fn as_test_user(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get(TEST_USER_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|name| UserInfo::authenticated(name, &["developers"]));
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

/// Answers fixed statuses; the audit middleware sits inside the "authentication" layer,
/// as it does in the API server.
fn router(log: AuditLog) -> Router {
    Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/configmaps",
            post(|| async { StatusCode::CREATED })
                .get(|| async { StatusCode::OK })
                .delete(|| async { StatusCode::OK }),
        )
        .route(
            "/api/v1/namespaces/{namespace}/configmaps/{name}",
            put(|| async { StatusCode::OK }),
        )
        .route(
            "/api/v1/namespaces/{namespace}/secrets/{name}",
            put(|| async { StatusCode::FORBIDDEN }),
        )
        .route(
            "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            post(|| async { StatusCode::CREATED }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .layer(from_fn_with_state(log, audit_mutations))
        .layer(from_fn(as_test_user))
}

async fn serve(log: AuditLog) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let service = router(log).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    Ok(address)
}

struct TestClient {
    address: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl TestClient {
    fn new(address: SocketAddr) -> Self {
        Self {
            address,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request and answers its status and Audit-Id header.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.address))
            .header("user-agent", "audit-test/1.0");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .client
            .request(request.body(Full::new(Bytes::new()))?)
            .await?;
        let audit_id = response
            .headers()
            .get(AUDIT_ID_HEADER)
            .ok_or_else(|| anyhow::anyhow!("{path}: no Audit-Id header"))?
            .to_str()?
            .to_owned();
        Ok((response.status(), audit_id))
    }
}

/// The log's lines, each parsed as JSON into `T`.
fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = fs::read_to_string(path)?;
    text.lines()
        .map(|line| Ok(serde_json::from_str(line)?))
        .collect()
}

#[tokio::test]
async fn mutating_requests_are_logged_with_who_what_when_and_result() -> anyhow::Result<()> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("audit.log");
    let log = AuditLog::open(&path, 0, 0)?;
    let client = TestClient::new(serve(log.clone()).await?);
    let alice = [(TEST_USER_HEADER, "alice")];

    let before = jiff::Timestamp::now();
    let (status, list_id) = client
        .send(Method::GET, "/api/v1/namespaces/ns/configmaps", &alice)
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (_, health_id) = client.send(Method::GET, "/healthz", &[]).await?;
    let path_create = "/api/v1/namespaces/ns/configmaps?fieldManager=kubectl-create";
    let (status, create_id) = client.send(Method::POST, path_create, &alice).await?;
    assert_eq!(status, StatusCode::CREATED);
    let (_, update_id) = client
        .send(
            Method::PUT,
            "/api/v1/namespaces/ns/configmaps/settings",
            &alice,
        )
        .await?;
    let (status, refused_id) = client
        .send(Method::PUT, "/api/v1/namespaces/ns/secrets/token", &alice)
        .await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, binding_id) = client
        .send(Method::POST, "/api/v1/namespaces/ns/pods/p/binding", &[])
        .await?;
    let forwarded = [
        (TEST_USER_HEADER, "bob"),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    let (_, collection_id) = client
        .send(
            Method::DELETE,
            "/api/v1/namespaces/ns/configmaps",
            &forwarded,
        )
        .await?;
    let own_id = [(TEST_USER_HEADER, "alice"), (AUDIT_ID_HEADER, "my-own-id")];
    let (_, echoed_id) = client
        .send(Method::POST, "/api/v1/namespaces/other/configmaps", &own_id)
        .await?;
    assert_eq!(echoed_id, "my-own-id");
    // Every response carries an audit ID, reads included; generated ones are uuids.
    for id in [&list_id, &health_id, &create_id, &binding_id] {
        uuid::Uuid::parse_str(id)?;
    }
    log.flush().await?;

    let events = read_lines::<Event>(&path)?;
    let summary: Vec<(&str, &str, &str, u16)> = events
        .iter()
        .map(|event| {
            let code = event
                .response_status
                .as_ref()
                .map_or(0, |status| status.code);
            (
                event.audit_id.as_str(),
                event.verb.as_str(),
                event.user.username.as_str(),
                code,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (create_id.as_str(), "create", "alice", 201),
            (update_id.as_str(), "update", "alice", 200),
            (refused_id.as_str(), "update", "alice", 403),
            (binding_id.as_str(), "create", "system:anonymous", 201),
            (collection_id.as_str(), "deletecollection", "bob", 200),
            ("my-own-id", "create", "alice", 201),
        ]
    );

    let create = &events[0];
    assert_eq!(create.kind, "Event");
    assert_eq!(create.api_version, "audit.k8s.io/v1");
    assert_eq!(create.level, "Metadata");
    assert_eq!(create.stage, "ResponseComplete");
    assert_eq!(create.request_uri, path_create);
    assert_eq!(create.user.groups, ["developers", "system:authenticated"]);
    assert_eq!(create.source_ips, ["127.0.0.1"]);
    assert_eq!(create.user_agent, "audit-test/1.0");
    let received: jiff::Timestamp = create.request_received_timestamp.parse()?;
    let completed: jiff::Timestamp = create.stage_timestamp.parse()?;
    assert!(before <= received && received <= completed, "{create:?}");
    assert_eq!(
        create.stage_timestamp.len(),
        "2025-03-08T07:56:35.436443Z".len()
    );

    let binding = &events[3];
    assert_eq!(binding.user.groups, ["system:unauthenticated"]);
    let binding_object = binding.object_ref.as_ref().expect("objectRef");
    assert_eq!(
        (
            binding_object.name.as_str(),
            binding_object.subresource.as_str()
        ),
        ("p", "binding")
    );
    assert_eq!(events[4].source_ips, ["203.0.113.9", "127.0.0.1"]);
    Ok(())
}

#[tokio::test]
async fn the_log_rotates_at_its_size_limit_and_keeps_its_newest_backups() -> anyhow::Result<()> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("audit.log");
    // An event here is about 575 bytes: three fit in a file.
    let max_size = 1800;
    let log = AuditLog::open(&path, max_size, 2)?;
    let client = TestClient::new(serve(log.clone()).await?);
    let mut audit_ids = Vec::new();
    for number in 0..21 {
        let (status, audit_id) = client
            .send(
                Method::PUT,
                &format!("/api/v1/namespaces/ns/configmaps/c{number}"),
                &[(TEST_USER_HEADER, "alice")],
            )
            .await?;
        assert_eq!(status, StatusCode::OK);
        audit_ids.push(audit_id);
    }
    log.flush().await?;

    let mut backups: Vec<_> = fs::read_dir(directory.path())?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    backups.retain(|file| file != &path);
    backups.sort();
    assert_eq!(backups.len(), 2, "{backups:?}");
    // What is kept is the newest events, in order: the backups, older first, then the
    // current file.
    let mut kept = Vec::new();
    for file in backups.iter().chain([&path]) {
        assert!(fs::metadata(file)?.len() <= max_size, "{}", file.display());
        kept.extend(
            read_lines::<Event>(file)?
                .into_iter()
                .map(|event| event.audit_id),
        );
    }
    assert_eq!(kept.len(), 9, "{kept:?}");
    assert_eq!(kept, audit_ids[audit_ids.len() - kept.len()..]);
    Ok(())
}

#[tokio::test]
async fn events_dropped_while_the_buffer_is_full_are_counted_in_the_log() -> anyhow::Result<()> {
    let directory = tempfile::tempdir()?;
    let path = directory.path().join("audit.log");
    let file = RotatingFile::open(&path, 0, 0)?;
    // The writer starts only after the buffer of two has overflowed.
    let (log, receiver) = AuditLog::channel(2);
    let request = http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/namespaces/ns/configmaps")
        .body(())?;
    let event = |id: &str| {
        Event::for_request(&request, id.to_owned(), jiff::Timestamp::now())
            .with_response(StatusCode::CREATED, jiff::Timestamp::now())
    };
    for id in ["e1", "e2", "e3", "e4", "e5"] {
        log.record(event(id));
    }
    writer::start(file, receiver, Arc::clone(&log.dropped))?;
    log.flush().await?;
    log.record(event("e6"));
    log.flush().await?;

    let lines: Vec<serde_json::Value> = read_lines(&path)?;
    let ids: Vec<&str> = lines
        .iter()
        .map(|line| {
            line["auditID"]
                .as_str()
                .unwrap_or_else(|| line["kind"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(ids, ["e1", "e2", "DroppedEvents", "e6"]);
    assert_eq!(lines[2]["apiVersion"], DROPPED_EVENTS_API_VERSION);
    assert_eq!(lines[2]["count"], 3);
    assert_eq!(
        lines[2]["message"],
        "3 audit events were dropped because the audit log's buffer was full"
    );
    Ok(())
}
