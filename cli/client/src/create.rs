//! `create namespace NAME`, the one imperative create kubectl users reach for first.

use std::io::Write;

use serde_json::{Value, json};

use crate::api;
use crate::error::ClientError;
use crate::options::Connection;
use crate::resolve::DiscoveredResource;

#[derive(Debug, Clone, clap::Args)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub what: CreateCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum CreateCommand {
    /// Create a namespace with the specified name.
    #[command(alias = "ns")]
    Namespace {
        /// The namespace's name.
        name: String,
    },
}

/// The core `namespaces` resource, fixed so that create needs no discovery round trip.
fn namespaces_resource() -> DiscoveredResource {
    DiscoveredResource {
        group: String::new(),
        version: "v1".to_string(),
        plural: "namespaces".to_string(),
        singular: "namespace".to_string(),
        kind: "Namespace".to_string(),
        namespaced: false,
        short_names: vec!["ns".to_string()],
        preferred_version: true,
    }
}

pub fn namespace_object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub async fn run_create(
    connection: &Connection,
    args: CreateArgs,
    out: &mut dyn Write,
) -> Result<i32, ClientError> {
    match args.what {
        CreateCommand::Namespace { name } => {
            let resource = namespaces_resource();
            api::create_object(
                &connection.client,
                &resource,
                None,
                &namespace_object(&name),
                api::WriteMode::Store,
            )
            .await?;
            writeln!(out, "{}/{name} created", resource.qualified_kind())?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_object_and_its_path() {
        assert_eq!(
            namespace_object("team"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
        );
        assert_eq!(
            namespaces_resource().collection_path(None),
            "/api/v1/namespaces"
        );
    }
}
