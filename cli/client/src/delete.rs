//! `delete`: by type and names, by `-f` manifests, or by `-l` selector / `--all`.

use std::io::{Read, Write};

use serde_json::Value;

use crate::api::{self, ListScope};
use crate::apply::plan_objects;
use crate::error::{ClientError, format_server_error};
use crate::get::{no_resources_message, parse_targets};
use crate::manifests::{load_manifests, metadata_string};
use crate::options::Connection;
use crate::resolve::{DiscoveredResource, ResourceCatalog};

#[derive(Debug, Clone, clap::Args)]
pub struct DeleteArgs {
    /// TYPE NAME... or TYPE/NAME...
    pub resources: Vec<String>,
    /// Files, directories or `-` naming the objects to delete.
    #[arg(short = 'f', long = "filename")]
    pub filenames: Vec<String>,
    /// Delete the objects of the type that match this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Delete all objects of the type in the namespace.
    #[arg(long)]
    pub all: bool,
    /// Treat "resource not found" as a successful delete.
    #[arg(long)]
    pub ignore_not_found: bool,
}

/// One object to delete.
struct DeleteTarget<'catalog> {
    resource: &'catalog DiscoveredResource,
    namespace: Option<String>,
    name: String,
}

/// The line kubectl prints after deleting: `deployment.apps "web" deleted`.
pub fn deleted_message(resource: &DiscoveredResource, name: &str) -> String {
    format!("{} \"{name}\" deleted", resource.qualified_kind())
}

pub async fn run_delete(
    connection: &Connection,
    args: DeleteArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    if !args.filenames.is_empty() && !args.resources.is_empty() {
        return Err(ClientError::Usage(
            "resources can not be specified together with -f".to_string(),
        ));
    }
    let catalog = ResourceCatalog::discover(&connection.client).await?;
    let targets = if args.filenames.is_empty() {
        match collect_named_targets(connection, &catalog, &args).await? {
            Some(targets) => targets,
            None => {
                writeln!(err, "{}", no_resources_message(Some(&connection.namespace)))?;
                return Ok(0);
            }
        }
    } else {
        let manifests = load_manifests(&args.filenames, stdin)?;
        plan_objects(
            &catalog,
            manifests,
            &connection.namespace,
            connection.namespace_was_explicit,
        )?
        .into_iter()
        .map(|planned| DeleteTarget {
            resource: planned.resource,
            name: planned.manifest.name().to_string(),
            namespace: planned.namespace,
        })
        .collect()
    };
    let mut exit_code = 0;
    for target in targets {
        let deleted = api::delete_object(
            &connection.client,
            target.resource,
            target.namespace.as_deref(),
            &target.name,
        )
        .await;
        match deleted {
            Ok(()) => writeln!(out, "{}", deleted_message(target.resource, &target.name))?,
            Err(error) if error.is_not_found() && args.ignore_not_found => {}
            Err(ClientError::Server(status)) => {
                exit_code = 1;
                writeln!(err, "{}", format_server_error(&status))?;
            }
            Err(other) => return Err(other),
        }
    }
    Ok(exit_code)
}

/// Resolves `TYPE NAME...`, `TYPE/NAME...` or `TYPE -l SELECTOR|--all` into objects;
/// `None` when a selector matched nothing.
async fn collect_named_targets<'catalog>(
    connection: &Connection,
    catalog: &'catalog ResourceCatalog,
    args: &DeleteArgs,
) -> Result<Option<Vec<DeleteTarget<'catalog>>>, ClientError> {
    if args.resources.is_empty() {
        return Err(ClientError::Usage(
            "You must provide one or more resources by argument or filename.".to_string(),
        ));
    }
    let mut targets = Vec::new();
    for target in parse_targets(&args.resources)? {
        let resource = catalog.resolve_type_name(&target.type_name)?;
        let namespace = resource.namespaced.then(|| connection.namespace.clone());
        if !target.names.is_empty() {
            targets.extend(target.names.into_iter().map(|name| DeleteTarget {
                resource,
                namespace: namespace.clone(),
                name,
            }));
            continue;
        }
        if args.selector.is_none() && !args.all {
            return Err(ClientError::Usage(
                "resource(s) were provided, but no name was specified".to_string(),
            ));
        }
        let scope = ListScope {
            namespace: namespace.clone(),
            label_selector: args.selector.clone(),
            field_selector: None,
        };
        let list = api::list_objects(&connection.client, resource, &scope).await?;
        let items = list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        targets.extend(items.iter().map(|item| DeleteTarget {
            resource,
            namespace: namespace.clone(),
            name: metadata_string(item, "name").to_string(),
        }));
    }
    Ok((!targets.is_empty()).then_some(targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::sample_catalog;

    #[test]
    fn deleted_messages_use_the_qualified_kind() {
        let catalog = sample_catalog();
        let messages: Vec<String> = ["po", "deploy", "ns"]
            .iter()
            .filter_map(|name| catalog.resolve_type_name(name).ok())
            .map(|resource| deleted_message(resource, "x"))
            .collect();
        assert_eq!(
            messages,
            vec![
                "pod \"x\" deleted",
                "deployment.apps \"x\" deleted",
                "namespace \"x\" deleted"
            ]
        );
    }
}
