//! Parsing a REST path into what it addresses: `/api/v1/namespaces/default/pods/p/log`
//! becomes (pods, namespace "default", name "p", subresource "log").

use crate::resources::{ResourceType, find_by_plural};

#[derive(Debug)]
pub enum Target {
    /// `/api` or `/apis`: the group lists.
    LegacyVersions,
    GroupList,
    Group(String),
    /// `/api/v1`, `/apis/apps/v1`: the resource list of a group version.
    ResourceList {
        group: String,
        version: String,
    },
    Resource(ResourceTarget),
}

#[derive(Debug)]
pub struct ResourceTarget {
    pub resource: &'static ResourceType,
    /// For namespaced resources: the request's namespace, or None for all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    match segments.as_slice() {
        ["api"] => Some(Target::LegacyVersions),
        ["apis"] => Some(Target::GroupList),
        ["api", version] => Some(Target::ResourceList {
            group: String::new(),
            version: (*version).to_owned(),
        }),
        ["apis", group] => Some(Target::Group((*group).to_owned())),
        ["apis", group, version] => Some(Target::ResourceList {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        ["api", version, rest @ ..] => parse_resource("", version, rest),
        ["apis", group, version, rest @ ..] => parse_resource(group, version, rest),
        _ => None,
    }
}

fn parse_resource(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let resource_target =
        |plural: &str, namespace: Option<&str>, name: Option<&str>, subresource: Option<&str>| {
            let resource = find_by_plural(group, version, plural)?;
            if namespace.is_some() && !resource.namespaced {
                return None;
            }
            if let Some(subresource) = subresource
                && !resource.has_subresource(subresource)
            {
                return None;
            }
            Some(Target::Resource(ResourceTarget {
                resource,
                namespace: namespace.map(str::to_owned),
                name: name.map(str::to_owned),
                subresource: subresource.map(str::to_owned),
            }))
        };
    // `namespaces/{ns}/{resource}` lists a namespaced resource, while `namespaces/{name}/status`
    // is the namespace's own subresource: the third segment decides.
    let is_namespaced_resource = |plural: &str| {
        find_by_plural(group, version, plural).is_some_and(|resource| resource.namespaced)
    };
    match rest {
        ["namespaces", namespace, plural, tail @ ..] if is_namespaced_resource(plural) => {
            match tail {
                [] => resource_target(plural, Some(namespace), None, None),
                [name] => resource_target(plural, Some(namespace), Some(name), None),
                [name, subresource] => {
                    resource_target(plural, Some(namespace), Some(name), Some(subresource))
                }
                _ => None,
            }
        }
        [plural] => resource_target(plural, None, None, None),
        [plural, name] => resource_target(plural, None, Some(name), None),
        [plural, name, subresource] => resource_target(plural, None, Some(name), Some(subresource)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> (&'static str, Option<String>, Option<String>, Option<String>) {
        match parse(path) {
            Some(Target::Resource(target)) => (
                target.resource.plural,
                target.namespace,
                target.name,
                target.subresource,
            ),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_name_resources_namespaces_names_and_subresources() {
        assert_eq!(resource("/api/v1/pods"), ("pods", None, None, None));
        assert_eq!(
            resource("/api/v1/namespaces/default/pods"),
            ("pods", Some("default".into()), None, None)
        );
        assert_eq!(
            resource("/api/v1/namespaces/default/pods/p/log"),
            (
                "pods",
                Some("default".into()),
                Some("p".into()),
                Some("log".into())
            )
        );
        assert_eq!(
            resource("/api/v1/namespaces/default"),
            ("namespaces", None, Some("default".into()), None)
        );
        assert_eq!(
            resource("/api/v1/namespaces/default/status"),
            (
                "namespaces",
                None,
                Some("default".into()),
                Some("status".into())
            )
        );
        assert_eq!(
            resource("/apis/apps/v1/namespaces/x/deployments/web/scale"),
            (
                "deployments",
                Some("x".into()),
                Some("web".into()),
                Some("scale".into())
            )
        );
        assert_eq!(
            resource("/api/v1/nodes/n1"),
            ("nodes", None, Some("n1".into()), None)
        );
    }

    #[test]
    fn unknown_resources_and_scopes_are_not_found() {
        assert!(parse("/api/v1/widgets").is_none());
        assert!(parse("/apis/apps/v2/deployments").is_none());
        assert!(parse("/api/v1/namespaces/default/nodes/n1").is_none());
        assert!(parse("/api/v1/namespaces/default/pods/p/exec-nope").is_none());
        assert!(parse("/elsewhere").is_none());
    }
}
