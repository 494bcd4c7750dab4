//! A request's verb and scope, read from its method and path alone, as Kubernetes'
//! RequestInfoFactory does before authorization: `/api/v1/namespaces/ns/pods/p/log` is
//! (get, "", v1, pods, log, ns, p) whether or not such a resource is served, so that an
//! unknown resource is still refused 403, not 404, to a user who may not know it exists.

use http::Method;

use super::attributes::RequestScope;

/// The verb and scope of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    pub verb: String,
    pub scope: RequestScope,
}

fn is_true(value: &str) -> bool {
    matches!(value, "true" | "1")
}

/// Reads a query parameter's (first) value, percent-decoded.
pub fn query_value(query: Option<&str>, wanted: &str) -> Option<String> {
    let query = query?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(key, _)| key == wanted)
        .map(|(_, value)| value)
}

pub fn request_info(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
    let non_resource = || RequestInfo {
        verb: method.as_str().to_ascii_lowercase(),
        scope: RequestScope::NonResource {
            path: path.to_owned(),
        },
    };
    let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let (api_group, api_version, mut rest) = match segments.as_slice() {
        ["api", version, rest @ ..] if !rest.is_empty() => ("", *version, rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return non_resource(),
    };
    // The deprecated `/watch/` path prefix means the same as `?watch=true`.
    let mut watch_path = false;
    if rest.first() == Some(&"watch") {
        watch_path = true;
        rest = &rest[1..];
    }
    // As Kubernetes: `namespaces/<ns>` sets the namespace, and unless what follows is a
    // Namespace's own subresource (status, finalize), the rest names the resource. So
    // `namespaces/ns` is the Namespace "ns" in the namespace "ns".
    let mut namespace = "";
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = rest[1];
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let (resource, name, subresource) = match rest {
        [resource] => (*resource, "", ""),
        [resource, name] => (*resource, *name, ""),
        [resource, name, subresource, ..] => (*resource, *name, *subresource),
        [] => return non_resource(),
    };
    let watch = watch_path || query_value(query, "watch").is_some_and(|value| is_true(&value));
    let verb = match (method.as_str(), name.is_empty()) {
        ("GET" | "HEAD", _) if watch => "watch",
        ("GET" | "HEAD", true) => "list",
        ("GET" | "HEAD", false) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "deletecollection",
        ("DELETE", false) => "delete",
        (other, _) => {
            return RequestInfo {
                verb: other.to_ascii_lowercase(),
                scope: RequestScope::Resource {
                    api_group: api_group.to_owned(),
                    api_version: api_version.to_owned(),
                    resource: resource.to_owned(),
                    subresource: subresource.to_owned(),
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                },
            };
        }
    };
    RequestInfo {
        verb: verb.to_owned(),
        scope: RequestScope::Resource {
            api_group: api_group.to_owned(),
            api_version: api_version.to_owned(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> RequestInfo {
        RequestInfo {
            verb: verb.to_owned(),
            scope: RequestScope::Resource {
                api_group: group.to_owned(),
                api_version: "v1".to_owned(),
                resource: resource.to_owned(),
                subresource: subresource.to_owned(),
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            },
        }
    }

    #[test]
    fn resource_paths_read_as_kubernetes_reads_them() {
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/ns/pods",
                None,
                resource("list", "", "pods", "", "ns", ""),
            ),
            (
                Method::GET,
                "/api/v1/pods",
                Some("watch=true"),
                resource("watch", "", "pods", "", "", ""),
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/ns/pods",
                None,
                resource("watch", "", "pods", "", "ns", ""),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns/pods/p/log",
                None,
                resource("get", "", "pods", "log", "ns", "p"),
            ),
            (
                Method::POST,
                "/api/v1/namespaces/ns/pods/p/binding",
                None,
                resource("create", "", "pods", "binding", "ns", "p"),
            ),
            (
                Method::DELETE,
                "/apis/apps/v1/namespaces/ns/deployments",
                None,
                resource("deletecollection", "apps", "deployments", "", "ns", ""),
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/ns/deployments/d/scale",
                None,
                resource("patch", "apps", "deployments", "scale", "ns", "d"),
            ),
            (
                Method::GET,
                "/api/v1/namespaces",
                None,
                resource("list", "", "namespaces", "", "", ""),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/ns",
                None,
                resource("get", "", "namespaces", "", "ns", "ns"),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/ns/finalize",
                None,
                resource("update", "", "namespaces", "finalize", "ns", "ns"),
            ),
            (
                Method::GET,
                "/api/v1/nodes/n1",
                None,
                resource("get", "", "nodes", "", "", "n1"),
            ),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(
                request_info(&method, path, query),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn other_paths_are_non_resource_requests() {
        for path in [
            "/healthz",
            "/api",
            "/api/v1",
            "/apis/apps/v1",
            "/openapi/v2",
            "/wasmkube/v1/images",
        ] {
            let info = request_info(&Method::GET, path, None);
            assert_eq!(info.verb, "get");
            assert_eq!(
                info.scope,
                RequestScope::NonResource {
                    path: path.to_owned()
                }
            );
        }
    }
}
