//! Impersonation, as kube-apiserver's filter (`endpoints/filters/impersonation.go`): the
//! `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-*`
//! headers (kubectl's `--as`, `--as-group`, `--as-uid`) ask to act as another user. Each
//! thing asked for is authorized, verb `impersonate`, against the real requester; when
//! all are allowed, the request goes on as the impersonated user.

use std::collections::BTreeMap;

use http::HeaderMap;

use super::user::{ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP};
use super::{Attributes, Authorizer, Decision, RequestScope, UserInfo};

pub const IMPERSONATE_USER_HEADER: &str = "impersonate-user";
pub const IMPERSONATE_GROUP_HEADER: &str = "impersonate-group";
pub const IMPERSONATE_UID_HEADER: &str = "impersonate-uid";
/// Followed by the extra's key, %-encoded.
pub const IMPERSONATE_EXTRA_HEADER_PREFIX: &str = "impersonate-extra-";

/// Why a request may not impersonate what it asks for.
#[derive(Debug, thiserror::Error)]
pub enum ImpersonationError {
    /// Groups, extras or a uid without a user: Kubernetes answers 500 with this text.
    #[error("requested [{0}] without impersonating a user")]
    WithoutUser(String),
    /// The requester may not impersonate this; the attributes name what was refused.
    #[error("{}", .attributes.forbidden_message(.reason))]
    Forbidden {
        attributes: Box<Attributes>,
        reason: String,
    },
}

/// One thing a request asks to impersonate, as Kubernetes' ObjectReference of it.
#[derive(Debug)]
struct ImpersonationRequest {
    kind: &'static str,
    namespace: String,
    name: String,
    api_version: &'static str,
    /// The extra's key, for a UserExtra.
    field_path: String,
}

impl ImpersonationRequest {
    fn new(kind: &'static str, name: &str) -> Self {
        Self {
            kind,
            namespace: String::new(),
            name: name.to_owned(),
            api_version: "",
            field_path: String::new(),
        }
    }

    /// Go's `%v` of an ObjectReference, which Kubernetes' error message shows.
    fn go_text(&self) -> String {
        format!(
            "{{{} {} {}  {}  {}}}",
            self.kind, self.namespace, self.name, self.api_version, self.field_path
        )
    }
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
}

/// `system:serviceaccount:<namespace>:<name>` split, as serviceaccount.SplitUsername.
fn service_account_of(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix(super::user::SERVICE_ACCOUNT_USER_PREFIX)?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// A %-encoded extra key decoded; a malformed one is kept as it is.
fn unescape_extra_key(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = encoded
                .get(index + 1..index + 3)
                .and_then(|digits| u8::from_str_radix(digits, 16).ok());
            let Some(byte) = hex else {
                return encoded.to_owned();
            };
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).unwrap_or_else(|_| encoded.to_owned())
}

fn impersonation_requests(
    headers: &HeaderMap,
) -> Result<Vec<ImpersonationRequest>, ImpersonationError> {
    let mut requests = Vec::new();
    let user = header_values(headers, IMPERSONATE_USER_HEADER)
        .next()
        .filter(|user| !user.is_empty());
    if let Some(user) = user {
        requests.push(match service_account_of(user) {
            Some((namespace, name)) => ImpersonationRequest {
                namespace: namespace.to_owned(),
                ..ImpersonationRequest::new("ServiceAccount", name)
            },
            None => ImpersonationRequest::new("User", user),
        });
    }
    let mut others = false;
    for group in header_values(headers, IMPERSONATE_GROUP_HEADER) {
        others = true;
        requests.push(ImpersonationRequest::new("Group", group));
    }
    for (name, value) in headers {
        let Some(encoded_key) = name.as_str().strip_prefix(IMPERSONATE_EXTRA_HEADER_PREFIX) else {
            continue;
        };
        others = true;
        if let Ok(value) = value.to_str() {
            requests.push(ImpersonationRequest {
                api_version: "authentication.k8s.io/v1",
                field_path: unescape_extra_key(encoded_key),
                ..ImpersonationRequest::new("UserExtra", value)
            });
        }
    }
    if let Some(uid) = header_values(headers, IMPERSONATE_UID_HEADER)
        .next()
        .filter(|uid| !uid.is_empty())
    {
        others = true;
        requests.push(ImpersonationRequest {
            api_version: "authentication.k8s.io/v1",
            ..ImpersonationRequest::new("UID", uid)
        });
    }
    if others && user.is_none() {
        let listed: Vec<String> = requests.iter().map(ImpersonationRequest::go_text).collect();
        return Err(ImpersonationError::WithoutUser(listed.join(" ")));
    }
    Ok(requests)
}

/// The user the request acts as: None when it asks to impersonate no one, else the
/// impersonated user once `requester` may impersonate every part of it.
pub fn impersonated_user(
    headers: &HeaderMap,
    requester: &UserInfo,
    authorizer: &dyn Authorizer,
) -> Result<Option<UserInfo>, ImpersonationError> {
    let requests = impersonation_requests(headers)?;
    if requests.is_empty() {
        return Ok(None);
    }
    // Groups given are the authority; otherwise a ServiceAccount gets its fixed groups.
    let groups_specified = headers.contains_key(IMPERSONATE_GROUP_HEADER);
    let mut impersonated = UserInfo::default();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for request in &requests {
        let (api_group, resource, subresource) = match request.kind {
            "ServiceAccount" => {
                impersonated.username = format!(
                    "{}{}:{}",
                    super::user::SERVICE_ACCOUNT_USER_PREFIX,
                    request.namespace,
                    request.name
                );
                if !groups_specified {
                    impersonated.groups = vec![
                        super::user::SERVICE_ACCOUNTS_GROUP.to_owned(),
                        format!(
                            "{}:{}",
                            super::user::SERVICE_ACCOUNTS_GROUP,
                            request.namespace
                        ),
                    ];
                }
                ("", "serviceaccounts", "")
            }
            "User" => {
                impersonated.username = request.name.clone();
                ("", "users", "")
            }
            "Group" => {
                impersonated.groups.push(request.name.clone());
                ("", "groups", "")
            }
            "UserExtra" => {
                extra
                    .entry(request.field_path.clone())
                    .or_default()
                    .push(request.name.clone());
                (
                    "authentication.k8s.io",
                    "userextras",
                    request.field_path.as_str(),
                )
            }
            _ => {
                impersonated.uid = request.name.clone();
                ("authentication.k8s.io", "uids", "")
            }
        };
        let attributes = Attributes {
            user: requester.clone(),
            verb: "impersonate".to_owned(),
            scope: RequestScope::Resource {
                api_group: api_group.to_owned(),
                api_version: "v1".to_owned(),
                resource: resource.to_owned(),
                subresource: subresource.to_owned(),
                namespace: request.namespace.clone(),
                name: request.name.clone(),
            },
            field_selector: None,
        };
        match authorizer.authorize(&attributes) {
            Decision::Allow => {}
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                return Err(ImpersonationError::Forbidden {
                    attributes: Box::new(attributes),
                    reason,
                });
            }
        }
    }
    impersonated.extra = extra;
    // A named user is authenticated unless the groups say otherwise; the anonymous
    // user is unauthenticated.
    let has = |group: &str| impersonated.groups.iter().any(|member| member == group);
    if impersonated.username != ANONYMOUS_USER {
        if !has(AUTHENTICATED_GROUP) && !has(UNAUTHENTICATED_GROUP) {
            impersonated.groups.push(AUTHENTICATED_GROUP.to_owned());
        }
    } else if !has(UNAUTHENTICATED_GROUP) {
        impersonated.groups.push(UNAUTHENTICATED_GROUP.to_owned());
    }
    Ok(Some(impersonated))
}
