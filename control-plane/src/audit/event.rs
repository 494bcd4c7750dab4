//! The audit.k8s.io/v1 Event, as kube-apiserver writes one per line at the Metadata
//! level, and how one is made from a request and its response.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{HeaderMap, Request, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::request_info::request_info;
use crate::auth::{RequestScope, UserInfo};
use crate::listener::ConnectionInfo;

pub const EVENT_KIND: &str = "Event";
pub const AUDIT_API_VERSION: &str = "audit.k8s.io/v1";
/// Only the request's metadata is recorded: who, what, when and the result, never the
/// bodies (which may hold Secrets).
pub const LEVEL_METADATA: &str = "Metadata";
pub const STAGE_RESPONSE_COMPLETE: &str = "ResponseComplete";

/// kube-apiserver cuts user agents longer than this and marks the cut with
/// [`USER_AGENT_TRUNCATED_SUFFIX`], so that a client cannot bloat every line.
const MAX_USER_AGENT_LENGTH: usize = 1024;
const USER_AGENT_TRUNCATED_SUFFIX: &str = "...TRUNCATED";

/// One audit event. Field names, order and omissions are those of Kubernetes'
/// `audit.k8s.io/v1` Event, so that tools reading kube-apiserver's audit log read ours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: String,
    pub api_version: String,
    pub level: String,
    #[serde(rename = "auditID")]
    pub audit_id: String,
    pub stage: String,
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    pub verb: String,
    pub user: AuditUser,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impersonated_user: Option<AuditUser>,
    #[serde(rename = "sourceIPs", default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<ResponseStatus>,
    pub request_received_timestamp: String,
    pub stage_timestamp: String,
}

/// The user as authentication.k8s.io/v1 UserInfo serializes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditUser {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, Vec<String>>,
}

impl From<&UserInfo> for AuditUser {
    fn from(user: &UserInfo) -> Self {
        Self {
            username: user.username.clone(),
            uid: user.uid.clone(),
            groups: user.groups.clone(),
            extra: user.extra.clone(),
        }
    }
}

/// What a resource request addressed, from its path (every field omitted when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// The response's metav1.Status; at the Metadata level only its code is recorded.
/// `metadata` is always written (as `{}`), as Go's non-omitempty ListMeta is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseStatus {
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub code: u16,
}

/// Formats a time as Kubernetes' MicroTime: RFC 3339 in UTC with microseconds.
pub fn micro_time(timestamp: jiff::Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Event {
    /// The event of a request whose response is not known yet: its stage timestamp is
    /// the time it was received until [`Event::with_response`] completes it.
    pub fn for_request<B>(
        request: &Request<B>,
        audit_id: String,
        received: jiff::Timestamp,
    ) -> Self {
        let uri = request.uri();
        let info = request_info(request.method(), uri.path(), uri.query());
        let object_ref = match info.scope {
            RequestScope::Resource {
                api_group,
                api_version,
                resource,
                subresource,
                namespace,
                name,
            } => Some(ObjectReference {
                resource,
                namespace,
                name,
                api_group,
                api_version,
                subresource,
            }),
            RequestScope::NonResource { .. } => None,
        };
        // Authentication runs before this and always sets a user; a request that
        // somehow has none is recorded as the anonymous user it then is.
        let user = request
            .extensions()
            .get::<UserInfo>()
            .map_or_else(|| AuditUser::from(&UserInfo::anonymous()), AuditUser::from);
        let request_uri = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), |path| path.as_str().to_owned());
        let received = micro_time(received);
        Self {
            kind: EVENT_KIND.to_owned(),
            api_version: AUDIT_API_VERSION.to_owned(),
            level: LEVEL_METADATA.to_owned(),
            audit_id,
            stage: STAGE_RESPONSE_COMPLETE.to_owned(),
            request_uri,
            verb: info.verb,
            user,
            impersonated_user: None,
            source_ips: source_ips(request.headers(), remote_address(request)),
            user_agent: user_agent(request.headers()),
            object_ref,
            response_status: None,
            stage_timestamp: received.clone(),
            request_received_timestamp: received,
        }
    }

    /// Completes the event with the response's code and the time its head was ready.
    pub fn with_response(mut self, code: StatusCode, completed: jiff::Timestamp) -> Self {
        self.response_status = Some(ResponseStatus {
            metadata: serde_json::Map::new(),
            code: code.as_u16(),
        });
        self.stage_timestamp = micro_time(completed);
        self
    }
}

/// The connection's peer: the API server's TLS listener gives a [`ConnectionInfo`],
/// a plain `into_make_service_with_connect_info::<SocketAddr>()` a `SocketAddr`.
fn remote_address<B>(request: &Request<B>) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<ConnectInfo<ConnectionInfo>>()
        .map(|ConnectInfo(connection)| connection.remote_address.ip())
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip())
        })
}

/// Kubernetes' SourceIPs: the X-Forwarded-For chain, then X-Real-Ip unless already in
/// it, then the connection's peer unless it is already the last, as it is the one
/// address a client cannot forge.
fn source_ips(headers: &HeaderMap, remote: Option<IpAddr>) -> Vec<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let mut addresses: Vec<IpAddr> = header("x-forwarded-for")
        .split(',')
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    if let Ok(real_ip) = header("x-real-ip").trim().parse::<IpAddr>()
        && !addresses.contains(&real_ip)
    {
        addresses.push(real_ip);
    }
    if let Some(remote) = remote
        && addresses.last() != Some(&remote)
    {
        addresses.push(remote);
    }
    addresses.iter().map(IpAddr::to_string).collect()
}

fn user_agent(headers: &HeaderMap) -> String {
    let agent = headers
        .get(http::header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    if agent.len() <= MAX_USER_AGENT_LENGTH {
        return agent;
    }
    let mut cut = MAX_USER_AGENT_LENGTH;
    while !agent.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{USER_AGENT_TRUNCATED_SUFFIX}", &agent[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    fn received() -> jiff::Timestamp {
        "2025-03-08T07:56:35.436443Z".parse().expect("timestamp")
    }

    fn event(method: &str, uri: &str) -> Event {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .expect("request");
        Event::for_request(&request, "id".to_owned(), received())
    }

    fn object_ref(event: &Event) -> serde_json::Value {
        serde_json::to_value(&event.object_ref).expect("objectRef")
    }

    #[test]
    fn a_create_is_written_as_kube_apiserver_writes_it() {
        let mut user = UserInfo::authenticated("alice", &["developers"]);
        user.uid = "u-1".to_owned();
        user.extra
            .insert("scopes".to_owned(), vec!["view".to_owned()]);
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/v1/namespaces/default/pods?fieldManager=kubectl-create")
            .header("user-agent", "kubectl/v1.33.0 (linux/amd64)")
            .body(())
            .expect("request");
        request.extensions_mut().insert(user);
        let address: SocketAddr = "192.0.2.7:50123".parse().expect("address");
        request.extensions_mut().insert(ConnectInfo(address));
        let completed: jiff::Timestamp = "2025-03-08T07:56:35.45295Z".parse().expect("time");
        let event = Event::for_request(&request, "5e1a".to_owned(), received())
            .with_response(StatusCode::CREATED, completed);

        let line = serde_json::to_string(&event).expect("serialize");
        assert_eq!(
            line,
            concat!(
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"5e1a","#,
                r#""stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?fieldManager=kubectl-create","#,
                r#""verb":"create","user":{"username":"alice","uid":"u-1","groups":["developers","system:authenticated"],"extra":{"scopes":["view"]}},"#,
                r#""sourceIPs":["192.0.2.7"],"userAgent":"kubectl/v1.33.0 (linux/amd64)","#,
                r#""objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},"#,
                r#""responseStatus":{"metadata":{},"code":201},"#,
                r#""requestReceivedTimestamp":"2025-03-08T07:56:35.436443Z","stageTimestamp":"2025-03-08T07:56:35.452950Z"}"#
            )
        );
        let read_back: Event = serde_json::from_str(&line).expect("deserialize");
        assert_eq!(read_back, event);
    }

    #[test]
    fn a_named_update_names_its_object_and_group() {
        let update = event("PUT", "/apis/apps/v1/namespaces/web/deployments/frontend");
        assert_eq!(update.verb, "update");
        assert_eq!(
            object_ref(&update),
            json!({"resource": "deployments", "namespace": "web", "name": "frontend",
                   "apiGroup": "apps", "apiVersion": "v1"})
        );
        let patch = event("PATCH", "/api/v1/nodes/n1/status");
        assert_eq!(patch.verb, "patch");
        assert_eq!(
            object_ref(&patch),
            json!({"resource": "nodes", "name": "n1", "apiVersion": "v1", "subresource": "status"})
        );
    }

    #[test]
    fn a_post_to_a_named_subresource_is_a_create() {
        for subresource in ["binding", "eviction", "portforward"] {
            let audited = event(
                "POST",
                &format!("/api/v1/namespaces/ns/pods/p/{subresource}"),
            );
            assert_eq!(audited.verb, "create", "{subresource}");
            assert_eq!(
                object_ref(&audited),
                json!({"resource": "pods", "namespace": "ns", "name": "p",
                       "apiVersion": "v1", "subresource": subresource})
            );
        }
    }

    #[test]
    fn a_delete_without_a_name_is_a_deletecollection_and_keeps_its_query() {
        let audited = event(
            "DELETE",
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb",
        );
        assert_eq!(audited.verb, "deletecollection");
        assert_eq!(
            audited.request_uri,
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Dweb"
        );
        assert_eq!(
            object_ref(&audited),
            json!({"resource": "pods", "namespace": "ns", "apiVersion": "v1"})
        );
        let named = event("DELETE", "/api/v1/namespaces/ns");
        assert_eq!(named.verb, "delete");
        assert_eq!(
            object_ref(&named),
            json!({"resource": "namespaces", "namespace": "ns", "name": "ns", "apiVersion": "v1"})
        );
    }

    #[test]
    fn a_non_resource_post_has_the_lowercased_method_and_no_object() {
        let post = event("POST", "/wasmkube/v1/images/hello/blobs");
        assert_eq!(post.verb, "post");
        assert_eq!(post.object_ref, None);
        let line = serde_json::to_value(&post).expect("serialize");
        assert!(line.get("objectRef").is_none(), "{line}");
    }

    #[test]
    fn a_request_without_a_user_is_the_anonymous_user() {
        let anonymous = event("POST", "/api/v1/namespaces/ns/configmaps");
        assert_eq!(anonymous.user.username, "system:anonymous");
        assert_eq!(
            anonymous.user.groups,
            vec!["system:unauthenticated".to_owned()]
        );
        // No connection information and no forwarding headers: no source IPs at all.
        assert!(anonymous.source_ips.is_empty());
    }

    #[test]
    fn source_ips_follow_forwarding_headers_then_the_peer() {
        let peer: IpAddr = "10.0.0.1".parse().expect("address");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.5, bogus, 10.0.0.9"),
        );
        headers.insert("x-real-ip", HeaderValue::from_static("203.0.113.5"));
        assert_eq!(
            source_ips(&headers, Some(peer)),
            ["203.0.113.5", "10.0.0.9", "10.0.0.1"]
        );
        headers.insert("x-real-ip", HeaderValue::from_static("198.51.100.2"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        assert_eq!(
            source_ips(&headers, Some(peer)),
            ["10.0.0.1", "198.51.100.2", "10.0.0.1"]
        );
        headers.remove("x-real-ip");
        assert_eq!(source_ips(&headers, Some(peer)), ["10.0.0.1"]);
    }

    #[test]
    fn long_user_agents_are_cut_as_kube_apiserver_cuts_them() {
        let mut headers = HeaderMap::new();
        let long = "a".repeat(MAX_USER_AGENT_LENGTH + 10);
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_str(&long).expect("header"),
        );
        let agent = user_agent(&headers);
        assert_eq!(
            agent.len(),
            MAX_USER_AGENT_LENGTH + USER_AGENT_TRUNCATED_SUFFIX.len()
        );
        assert!(agent.ends_with("a...TRUNCATED"));
    }
}
