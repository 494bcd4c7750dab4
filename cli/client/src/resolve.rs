//! Which API resources the server serves, and how kubectl-style names (`po`, `pods`,
//! `Pod`, `deployments.apps`, `deploy.v1.apps`) and manifest kinds map onto them.

use futures::future::try_join_all;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIResource, APIResourceList};
use kube::Client;

/// One resource (not a subresource) served at one group version.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveredResource {
    pub group: String,
    pub version: String,
    /// The plural resource name used in URLs, e.g. `deployments`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// True for the group's preferred version, the only one short names resolve to.
    pub preferred_version: bool,
}

impl DiscoveredResource {
    /// Builds the resource from a discovery entry; subresources (`pods/log`) give `None`.
    pub fn from_api_resource(
        group: &str,
        version: &str,
        preferred_version: bool,
        resource: &APIResource,
    ) -> Option<Self> {
        if resource.name.contains('/') {
            return None;
        }
        let singular = if resource.singular_name.is_empty() {
            resource.kind.to_lowercase()
        } else {
            resource.singular_name.clone()
        };
        Some(DiscoveredResource {
            group: resource.group.clone().unwrap_or_else(|| group.to_string()),
            version: resource
                .version
                .clone()
                .unwrap_or_else(|| version.to_string()),
            plural: resource.name.clone(),
            singular,
            kind: resource.kind.clone(),
            namespaced: resource.namespaced,
            short_names: resource.short_names.clone().unwrap_or_default(),
            preferred_version,
        })
    }

    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The lower-case `kind.group` kubectl prints in `deployment.apps/web created`.
    pub fn qualified_kind(&self) -> String {
        let kind = self.kind.to_lowercase();
        if self.group.is_empty() {
            kind
        } else {
            format!("{kind}.{}", self.group)
        }
    }

    /// The collection URL path, e.g. `/apis/apps/v1/namespaces/default/deployments`.
    /// Cluster-scoped resources ignore the namespace.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let mut path = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if let (true, Some(namespace)) = (self.namespaced, namespace) {
            path.push_str("/namespaces/");
            path.push_str(namespace);
        }
        path.push('/');
        path.push_str(&self.plural);
        path
    }
}

/// Why a name or kind could not be mapped to a served resource.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("the server doesn't have a resource type \"{0}\"")]
    UnknownResourceType(String),
    /// Boxed because it carries many parts and every other error is small.
    #[error("{0}")]
    NoKindMatch(Box<KindNotServed>),
    #[error("discovery: {0}")]
    Discovery(String),
}

/// A manifest whose apiVersion and kind the server does not serve.
#[derive(Debug, thiserror::Error)]
#[error(
    "resource mapping not found for name: \"{name}\" namespace: \"{namespace}\" from \"{source_name}\" ({location}): no matches for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first"
)]
pub struct KindNotServed {
    pub name: String,
    pub namespace: String,
    pub source_name: String,
    /// Which document of the source, e.g. `document 2`.
    pub location: String,
    pub kind: String,
    pub api_version: String,
}

/// Every served resource, core group first, then groups in the server's order, each
/// group's preferred version before its other versions.
#[derive(Debug, Clone, Default)]
pub struct ResourceCatalog {
    resources: Vec<DiscoveredResource>,
}

impl ResourceCatalog {
    #[cfg(test)]
    pub fn new(resources: Vec<DiscoveredResource>) -> Self {
        ResourceCatalog { resources }
    }

    /// Asks the server for all groups, versions and resources.
    pub async fn discover(client: &Client) -> Result<Self, kube::Error> {
        let core_versions = client.list_core_api_versions().await?;
        let groups = client.list_api_groups().await?;
        let mut wanted: Vec<(String, String, bool)> = Vec::new();
        for (index, version) in core_versions.versions.iter().enumerate() {
            wanted.push((String::new(), version.clone(), index == 0));
        }
        for group in &groups.groups {
            let preferred = group
                .preferred_version
                .as_ref()
                .map(|version| version.version.clone());
            let mut versions: Vec<&str> = group
                .versions
                .iter()
                .map(|version| version.version.as_str())
                .collect();
            versions.sort_by_key(|version| Some(*version) != preferred.as_deref());
            for version in versions {
                wanted.push((
                    group.name.clone(),
                    version.to_string(),
                    Some(version) == preferred.as_deref(),
                ));
            }
        }
        let lists: Vec<APIResourceList> =
            try_join_all(wanted.iter().map(|(group, version, _)| async move {
                if group.is_empty() {
                    client.list_core_api_resources(version).await
                } else {
                    client
                        .list_api_group_resources(&format!("{group}/{version}"))
                        .await
                }
            }))
            .await?;
        let mut resources = Vec::new();
        for ((group, version, preferred), list) in wanted.iter().zip(lists.iter()) {
            resources.extend(list.resources.iter().filter_map(|resource| {
                DiscoveredResource::from_api_resource(group, version, *preferred, resource)
            }));
        }
        Ok(ResourceCatalog { resources })
    }

    /// Resolves a command-line resource type name the way kubectl does: plural, singular,
    /// short name or kind, optionally qualified as `name.group` or `name.version.group`.
    pub fn resolve_type_name(&self, type_name: &str) -> Result<&DiscoveredResource, ResolveError> {
        let lowered = type_name.to_lowercase();
        if let Some(found) = self.find_by_name(&lowered, None, None) {
            return Ok(found);
        }
        if let Some((name, qualifier)) = lowered.split_once('.') {
            if let Some(found) = self.find_by_name(name, None, Some(qualifier)) {
                return Ok(found);
            }
            if let Some((version, group)) = qualifier.split_once('.')
                && let Some(found) = self.find_by_name(name, Some(version), Some(group))
            {
                return Ok(found);
            }
        }
        Err(ResolveError::UnknownResourceType(type_name.to_string()))
    }

    fn find_by_name(
        &self,
        name: &str,
        version: Option<&str>,
        group: Option<&str>,
    ) -> Option<&DiscoveredResource> {
        let name_matches = |resource: &DiscoveredResource| {
            resource.plural == name
                || resource.singular == name
                || resource.kind.to_lowercase() == name
                || resource.short_names.iter().any(|short| short == name)
        };
        self.resources.iter().find(|resource| {
            let version_matches = match version {
                Some(version) => resource.version == version,
                None => resource.preferred_version,
            };
            version_matches
                && group.is_none_or(|group| resource.group == group)
                && name_matches(resource)
        })
    }

    /// Finds the resource for a manifest's `apiVersion` and `kind`.
    pub fn resolve_kind(&self, api_version: &str, kind: &str) -> Option<&DiscoveredResource> {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        self.resources.iter().find(|resource| {
            resource.group == group && resource.version == version && resource.kind == kind
        })
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
