//! `get -w`: after the initial output, one line (or document) per watch event.

use std::io::Write;

use futures::TryStreamExt;
use kube::Client;
use kube::core::WatchEvent;
use serde_json::Value;

use crate::api::{self, ListScope};
use crate::error::ClientError;
use crate::output::{OutputFormat, object_reference, render_value, with_type_meta};
use crate::resolve::DiscoveredResource;
use crate::table::{TableOptions, render_table};

/// What to watch and how to print it.
pub struct WatchRequest<'run> {
    pub resource: &'run DiscoveredResource,
    pub scope: ListScope,
    /// Where the initial list left off; events before it were already printed.
    pub resource_version: String,
    pub format: &'run OutputFormat,
    pub namespace_column: bool,
}

/// Streams events until the server closes the watch, flushing after each one.
pub async fn watch_and_print(
    client: &Client,
    request: WatchRequest<'_>,
    out: &mut dyn Write,
) -> Result<(), ClientError> {
    let events = api::watch_events(
        client,
        request.resource,
        &request.scope,
        &request.resource_version,
        request.format.is_table(),
    )
    .await?;
    let mut events = std::pin::pin!(events);
    let mut column_definitions = None;
    while let Some(event) = events.try_next().await? {
        let mut object = match event {
            WatchEvent::Added(object)
            | WatchEvent::Modified(object)
            | WatchEvent::Deleted(object) => object,
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(status) => return Err(ClientError::Server(status)),
        };
        if request.format.is_table() {
            fill_column_definitions(&mut object, &mut column_definitions);
        }
        write!(
            out,
            "{}",
            render_watch_object(
                request.format,
                request.resource,
                object,
                request.namespace_column
            )?
        )?;
        out.flush()?;
    }
    Ok(())
}

/// The API server sends a Table's column definitions with the first watch event only
/// (later events carry an empty list), so they are remembered from the first and filled
/// into the rest.
pub fn fill_column_definitions(table: &mut Value, remembered: &mut Option<Value>) {
    let Some(definitions) = table.get_mut("columnDefinitions") else {
        return;
    };
    if definitions
        .as_array()
        .is_some_and(|columns| !columns.is_empty())
    {
        *remembered = Some(definitions.clone());
    } else if let Some(columns) = remembered {
        *definitions = columns.clone();
    }
}

/// Prints one watched object: table rows without headers (the event carries a Table
/// when the watch asked for one), a name line, or a YAML/JSON/jsonpath rendering.
pub fn render_watch_object(
    format: &OutputFormat,
    resource: &DiscoveredResource,
    object: Value,
    namespace_column: bool,
) -> Result<String, ClientError> {
    match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let options = TableOptions {
                wide: *format == OutputFormat::Wide,
                namespace_column,
                kind_prefix: None,
                headers: false,
            };
            Ok(render_table(&object, &options))
        }
        OutputFormat::Name => Ok(format!("{}\n", object_reference(resource, &object))),
        OutputFormat::Yaml => Ok(format!(
            "---\n{}",
            render_value(format, &with_type_meta(resource, object))?
        )),
        OutputFormat::Json | OutputFormat::JsonPath(_) => {
            render_value(format, &with_type_meta(resource, object))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_fixtures::sample_catalog;

    fn render(format: OutputFormat, object: Value) -> String {
        let catalog = sample_catalog();
        let Ok(resource) = catalog.resolve_type_name("pods") else {
            return "pods did not resolve".to_string();
        };
        render_watch_object(&format, resource, object, false)
            .unwrap_or_else(|error| error.to_string())
    }

    #[test]
    fn table_events_print_rows_without_headers() {
        let table = json!({"columnDefinitions": [{"name": "Name", "priority": 0}, {"name": "Status", "priority": 0}],
                           "rows": [{"cells": ["web", "Running"]}]});
        assert_eq!(render(OutputFormat::Table, table), "web   Running\n");
    }

    #[test]
    fn later_table_events_reuse_the_first_events_columns() {
        let mut remembered = None;
        let mut first = json!({"columnDefinitions": [{"name": "Name", "priority": 0}, {"name": "Data", "priority": 0}],
                               "rows": [{"cells": ["a", 1]}]});
        fill_column_definitions(&mut first, &mut remembered);
        let mut later = json!({"columnDefinitions": [], "rows": [{"cells": ["b", 2]}]});
        fill_column_definitions(&mut later, &mut remembered);
        assert_eq!(render(OutputFormat::Table, first), "a   1\n");
        assert_eq!(render(OutputFormat::Table, later), "b   2\n");
    }

    #[test]
    fn object_events_print_in_the_chosen_format() {
        let pod = json!({"metadata": {"name": "web"}});
        assert_eq!(render(OutputFormat::Name, pod.clone()), "pod/web\n");
        assert_eq!(
            render(OutputFormat::Yaml, pod.clone()),
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
        );
        assert_eq!(
            render(
                OutputFormat::JsonPath("{.metadata.name}{\"\\n\"}".to_string()),
                pod
            ),
            "web\n"
        );
    }
}
