//! `apply -f`: client-side apply like kubectl's, creating absent objects with the
//! last-applied annotation and patching present ones with a three-way patch. Every
//! object is first sent as a server-side dry run, so a file applies all or nothing as
//! far as the server's admission is concerned.

use std::io::{Read, Write};

use serde_json::Value;

use crate::api::{self, WriteMode};
use crate::apply_patch::{
    config_with_last_applied, last_applied_of, supports_strategic_merge, three_way_patch,
};
use crate::error::ClientError;
use crate::manifests::{ManifestObject, load_manifests};
use crate::options::Connection;
use crate::resolve::{DiscoveredResource, KindNotServed, ResolveError, ResourceCatalog};

#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// The files, directories or `-` (standard input) that contain the configuration to apply.
    #[arg(short = 'f', long = "filename", required = true)]
    pub filenames: Vec<String>,
}

/// One manifest object matched to its resource and target namespace, ready to send.
pub struct PlannedObject<'catalog> {
    pub manifest: ManifestObject,
    pub resource: &'catalog DiscoveredResource,
    pub namespace: Option<String>,
}

/// Matches every object to a served resource and fills in its namespace. Fails on the
/// first problem so that nothing is sent when any document is unusable.
pub fn plan_objects<'catalog>(
    catalog: &'catalog ResourceCatalog,
    manifests: Vec<ManifestObject>,
    default_namespace: &str,
    namespace_was_explicit: bool,
) -> Result<Vec<PlannedObject<'catalog>>, ClientError> {
    let mut planned = Vec::with_capacity(manifests.len());
    for mut manifest in manifests {
        let Some(resource) = catalog.resolve_kind(manifest.api_version(), manifest.kind()) else {
            return Err(ResolveError::NoKindMatch(Box::new(KindNotServed {
                name: manifest.name().to_string(),
                namespace: manifest.namespace().to_string(),
                source_name: manifest.source.clone(),
                location: manifest.location(),
                kind: manifest.kind().to_string(),
                api_version: manifest.api_version().to_string(),
            }))
            .into());
        };
        if manifest.name().is_empty() {
            return Err(ClientError::Usage(format!(
                "error when retrieving current configuration of {} from \"{}\" ({}): resource name may not be empty",
                resource.qualified_kind(),
                manifest.source,
                manifest.location()
            )));
        }
        let namespace = if resource.namespaced {
            let object_namespace = manifest.namespace().to_string();
            if namespace_was_explicit
                && !object_namespace.is_empty()
                && object_namespace != default_namespace
            {
                return Err(ClientError::Usage(format!(
                    "the namespace from the provided object \"{object_namespace}\" does not match the namespace \"{default_namespace}\". You must pass '--namespace={object_namespace}' to perform this operation."
                )));
            }
            let namespace = if object_namespace.is_empty() {
                default_namespace.to_string()
            } else {
                object_namespace
            };
            if let Some(metadata) = manifest
                .object
                .get_mut("metadata")
                .and_then(Value::as_object_mut)
            {
                metadata.insert("namespace".to_string(), Value::String(namespace.clone()));
            }
            Some(namespace)
        } else {
            None
        };
        planned.push(PlannedObject {
            manifest,
            resource,
            namespace,
        });
    }
    Ok(planned)
}

/// What applying one object did, printed as `kind.group/name <outcome>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Created,
    Configured,
    Unchanged,
}

impl ApplyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

pub async fn run_apply(
    connection: &Connection,
    args: ApplyArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let manifests = load_manifests(&args.filenames, stdin)?;
    if manifests.is_empty() {
        return Err(ClientError::Usage("no objects passed to apply".to_string()));
    }
    let catalog = ResourceCatalog::discover(&connection.client).await?;
    let planned = plan_objects(
        &catalog,
        manifests,
        &connection.namespace,
        connection.namespace_was_explicit,
    )?;
    if !admits_every_object(connection, &planned, err).await? {
        return Ok(1);
    }
    let mut exit_code = 0;
    for object in &planned {
        match apply_one(connection, object, WriteMode::Store).await {
            Ok(outcome) => writeln!(
                out,
                "{}/{} {}",
                object.resource.qualified_kind(),
                object.manifest.name(),
                outcome.as_str()
            )?,
            Err(error) => {
                exit_code = 1;
                writeln!(err, "{}", error.with_context(&failure_context(object)))?;
            }
        }
    }
    Ok(exit_code)
}

/// "error when applying "app.yaml" (document 2)", which precedes an object's error.
fn failure_context(object: &PlannedObject<'_>) -> String {
    format!(
        "error when applying \"{}\" ({})",
        object.manifest.source,
        object.manifest.location()
    )
}

/// Sends every object as a server-side dry run first, so that an object the server
/// would refuse (invalid, too large, in a missing namespace) stops the whole apply
/// before anything is stored. Reports every refused object; true when none was.
async fn admits_every_object(
    connection: &Connection,
    planned: &[PlannedObject<'_>],
    err: &mut dyn Write,
) -> Result<bool, ClientError> {
    let created_namespaces: Vec<&str> = planned
        .iter()
        .filter(|object| object.resource.group.is_empty() && object.resource.kind == "Namespace")
        .map(|object| object.manifest.name())
        .collect();
    let mut all_admitted = true;
    for object in planned {
        match dry_run_one(connection, object, &created_namespaces).await {
            Ok(()) => {}
            // Without an answer from the server nothing more can be checked.
            Err(error @ ClientError::Transport(_)) => return Err(error),
            Err(error) => {
                all_admitted = false;
                writeln!(err, "{}", error.with_context(&failure_context(object)))?;
            }
        }
    }
    Ok(all_admitted)
}

/// The namespace every cluster has, where objects stand in for a dry run when their own
/// namespace is created by the same apply.
const STAND_IN_NAMESPACE: &str = "default";

async fn dry_run_one(
    connection: &Connection,
    object: &PlannedObject<'_>,
    created_namespaces: &[&str],
) -> Result<(), ClientError> {
    let error = match apply_one(connection, object, WriteMode::DryRun).await {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    let Some(namespace) = object.namespace.as_deref() else {
        return Err(error);
    };
    if !is_missing_namespace(&error, namespace) || !created_namespaces.contains(&namespace) {
        return Err(error);
    }
    // The server admits nothing into a namespace that does not exist yet, so an object
    // whose namespace this apply creates is admitted in a namespace that exists instead:
    // defaulting and validation do not depend on which namespace it is. It cannot exist
    // yet, so it would be created.
    let mut stand_in = config_with_last_applied(&object.manifest.object);
    if let Some(metadata) = stand_in.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert(
            "namespace".to_string(),
            Value::String(STAND_IN_NAMESPACE.to_string()),
        );
    }
    let admitted = api::create_object(
        &connection.client,
        object.resource,
        Some(STAND_IN_NAMESPACE),
        &stand_in,
        WriteMode::DryRun,
    )
    .await;
    match admitted {
        Ok(_) => Ok(()),
        // Without the stand-in namespace either, the object is checked when it is sent.
        Err(stand_in_error) if is_missing_namespace(&stand_in_error, STAND_IN_NAMESPACE) => Ok(()),
        Err(stand_in_error) => Err(stand_in_error),
    }
}

/// True when the server refused a write because `namespace` does not exist.
fn is_missing_namespace(error: &ClientError, namespace: &str) -> bool {
    let ClientError::Server(status) = error else {
        return false;
    };
    status.code == 404
        && status
            .details
            .as_ref()
            .is_some_and(|details| details.kind == "namespaces" && details.name == namespace)
}

/// Creates the object or patches it towards the manifest; with [`WriteMode::DryRun`] the
/// server only admits the write.
async fn apply_one(
    connection: &Connection,
    object: &PlannedObject<'_>,
    mode: WriteMode,
) -> Result<ApplyOutcome, ClientError> {
    let client = &connection.client;
    let namespace = object.namespace.as_deref();
    let name = object.manifest.name();
    let modified = config_with_last_applied(&object.manifest.object);
    let Some(live) = api::get_object_if_exists(client, object.resource, namespace, name).await?
    else {
        api::create_object(client, object.resource, namespace, &modified, mode).await?;
        return Ok(ApplyOutcome::Created);
    };
    let patch = three_way_patch(last_applied_of(&live).as_ref(), &modified, &live);
    if patch.as_object().is_some_and(serde_json::Map::is_empty) {
        return Ok(ApplyOutcome::Unchanged);
    }
    let strategic = supports_strategic_merge(&object.resource.group);
    api::patch_object(
        client,
        object.resource,
        namespace,
        name,
        patch,
        strategic,
        mode,
    )
    .await?;
    Ok(ApplyOutcome::Configured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::parse_manifest_text;
    use crate::test_fixtures::sample_catalog;

    fn plan_text(
        text: &str,
        namespace: &str,
        explicit: bool,
    ) -> Result<Vec<(String, Option<String>, Value)>, String> {
        let catalog = sample_catalog();
        let manifests = parse_manifest_text("app.yaml", text).map_err(|error| error.to_string())?;
        let planned = plan_objects(&catalog, manifests, namespace, explicit)
            .map_err(|error| error.to_string())?;
        Ok(planned
            .into_iter()
            .map(|object| {
                (
                    object.resource.qualified_kind(),
                    object.namespace,
                    object.manifest.object,
                )
            })
            .collect())
    }

    #[test]
    fn namespaced_objects_get_the_default_namespace_and_cluster_objects_none() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n";
        let planned = plan_text(text, "team", false).expect("plannable");
        assert_eq!(planned[0].0, "deployment.apps");
        assert_eq!(planned[0].1.as_deref(), Some("team"));
        assert_eq!(planned[0].2["metadata"]["namespace"], "team");
        assert_eq!(
            (planned[1].0.as_str(), planned[1].1.as_deref()),
            ("namespace", None)
        );
        assert_eq!(planned[2].1.as_deref(), Some("other"));
    }

    #[test]
    fn an_unknown_kind_anywhere_stops_the_whole_apply() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v9\nkind: Foo\nmetadata: {name: x}\n";
        assert_eq!(
            plan_text(text, "default", false).err().as_deref(),
            Some(
                "error: resource mapping not found for name: \"x\" namespace: \"\" from \"app.yaml\" (document 2): no matches for kind \"Foo\" in version \"v9\"\nensure CRDs are installed first"
            )
        );
    }

    #[test]
    fn a_conflicting_explicit_namespace_is_refused() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n";
        assert_eq!(
            plan_text(text, "b", true).err().as_deref(),
            Some(
                "error: the namespace from the provided object \"a\" does not match the namespace \"b\". You must pass '--namespace=a' to perform this operation."
            )
        );
    }

    #[test]
    fn an_object_without_a_name_is_refused() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: c-}\n";
        assert_eq!(
            plan_text(text, "default", false).err().as_deref(),
            Some(
                "error: error when retrieving current configuration of configmap from \"app.yaml\" (document 1): resource name may not be empty"
            )
        );
    }
}
