//! `get`: lists or fetches objects and prints them as a server-rendered table or in one of
//! the `-o` formats, optionally followed by a watch (`-w`).

use std::io::Write;

use serde_json::Value;

use crate::api::{self, ListScope};
use crate::error::{ClientError, format_server_error};
use crate::options::Connection;
use crate::output::{OutputFormat, list_of, object_reference, render_value, with_type_meta};
use crate::resolve::{DiscoveredResource, ResourceCatalog};
use crate::table::{TableOptions, render_table, row_count};
use crate::watch::{WatchRequest, watch_and_print};

#[derive(Debug, Clone, clap::Args)]
pub struct GetArgs {
    /// TYPE[.VERSION][.GROUP] [NAME...] or TYPE/NAME...
    #[arg(required = true)]
    pub resources: Vec<String>,
    /// Output format: wide, yaml, json, name or jsonpath=TEMPLATE.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// List the requested objects across all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Selector (label query) to filter on, e.g. -l key1=value1,key2=value2.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Selector (field query) to filter on, e.g. --field-selector status.phase=Running.
    #[arg(long)]
    pub field_selector: Option<String>,
    /// After listing/getting the requested objects, watch for changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

/// One resource type with the names asked for (empty: list them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetTarget {
    pub type_name: String,
    pub names: Vec<String>,
}

/// Splits `get` arguments like kubectl: `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
pub fn parse_targets(arguments: &[String]) -> Result<Vec<GetTarget>, ClientError> {
    let Some(first) = arguments.first() else {
        return Err(ClientError::Usage(
            "You must specify the type of resource to get.".to_string(),
        ));
    };
    if first.contains('/') {
        let mut targets: Vec<GetTarget> = Vec::new();
        for argument in arguments {
            let Some((type_name, name)) = argument
                .split_once('/')
                .filter(|(t, n)| !t.is_empty() && !n.is_empty())
            else {
                return Err(ClientError::Usage(format!(
                    "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'): {argument}"
                )));
            };
            match targets.last_mut() {
                Some(last) if last.type_name == type_name => last.names.push(name.to_string()),
                _ => targets.push(GetTarget {
                    type_name: type_name.to_string(),
                    names: vec![name.to_string()],
                }),
            }
        }
        return Ok(targets);
    }
    let names: Vec<String> = arguments[1..].to_vec();
    if let Some(slashed) = names.iter().find(|name| name.contains('/')) {
        return Err(ClientError::Usage(format!(
            "arguments in resource/name form must have a single resource and name: {slashed}"
        )));
    }
    Ok(first
        .split(',')
        .filter(|type_name| !type_name.is_empty())
        .map(|type_name| GetTarget {
            type_name: type_name.to_string(),
            names: names.clone(),
        })
        .collect())
}

/// The message kubectl prints on stderr when a list is empty.
pub fn no_resources_message(namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("No resources found in {namespace} namespace."),
        None => "No resources found".to_string(),
    }
}

pub async fn run_get(
    connection: &Connection,
    args: GetArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let format = OutputFormat::parse(args.output.as_deref())?;
    let targets = parse_targets(&args.resources)?;
    let catalog = ResourceCatalog::discover(&connection.client).await?;
    let mut resolved: Vec<(&DiscoveredResource, Vec<String>)> = Vec::new();
    for target in targets {
        resolved.push((catalog.resolve_type_name(&target.type_name)?, target.names));
    }
    if args.watch && resolved.len() != 1 {
        return Err(ClientError::Usage(
            "you may only specify a single resource type".to_string(),
        ));
    }
    let several_types = resolved.len() > 1;
    let mut printer = GetPrinter {
        connection,
        args: &args,
        format: &format,
        exit_code: 0,
        printed_anything: false,
        collected: Vec::new(),
        last_resource_version: String::new(),
        empty_list_namespace: None,
    };
    for (resource, names) in &resolved {
        let kind_prefix = several_types.then(|| resource.qualified_kind());
        printer
            .print_target(resource, names, kind_prefix, out, err)
            .await?;
    }
    if !format.is_table() && format != OutputFormat::Name {
        let single_object =
            resolved.len() == 1 && resolved[0].1.len() == 1 && printer.collected.len() == 1;
        let collected_count = printer.collected.len();
        let value = if single_object {
            printer.collected.pop().unwrap_or(Value::Null)
        } else {
            list_of(std::mem::take(&mut printer.collected))
        };
        // When every named object failed, kubectl prints only the errors.
        if collected_count > 0 || printer.exit_code == 0 {
            write!(out, "{}", render_value(&format, &value)?)?;
        }
    }
    let reports_empty = format.is_table() || format == OutputFormat::Name;
    if !printer.printed_anything && printer.exit_code == 0 && reports_empty {
        writeln!(
            err,
            "{}",
            no_resources_message(printer.empty_list_namespace.as_deref())
        )?;
    }
    if let (true, Some((resource, names))) = (args.watch, resolved.first()) {
        let request = WatchRequest {
            resource,
            scope: printer.scope_for(resource, names),
            resource_version: printer.last_resource_version.clone(),
            format: &format,
            namespace_column: args.all_namespaces,
        };
        watch_and_print(&connection.client, request, out).await?;
    }
    Ok(printer.exit_code)
}

/// State carried across the targets of one `get`.
struct GetPrinter<'run> {
    connection: &'run Connection,
    args: &'run GetArgs,
    format: &'run OutputFormat,
    exit_code: i32,
    printed_anything: bool,
    /// Objects gathered for yaml/json/jsonpath, printed together at the end.
    collected: Vec<Value>,
    /// The list's resourceVersion, where a following watch starts.
    last_resource_version: String,
    /// The namespace named in "No resources found in ... namespace." (None: cluster-wide).
    empty_list_namespace: Option<String>,
}

impl GetPrinter<'_> {
    fn namespace_for(&self, resource: &DiscoveredResource, listing: bool) -> Option<String> {
        if !resource.namespaced || (listing && self.args.all_namespaces) {
            None
        } else {
            Some(self.connection.namespace.clone())
        }
    }

    fn scope_for(&self, resource: &DiscoveredResource, names: &[String]) -> ListScope {
        let name_selector = match names {
            [name] => Some(format!("metadata.name={name}")),
            _ => None,
        };
        let field_selector = match (name_selector, &self.args.field_selector) {
            (Some(by_name), Some(given)) => Some(format!("{by_name},{given}")),
            (by_name, given) => by_name.or_else(|| given.clone()),
        };
        ListScope {
            namespace: self.namespace_for(resource, names.is_empty()),
            label_selector: self.args.selector.clone(),
            field_selector,
        }
    }

    async fn print_target(
        &mut self,
        resource: &DiscoveredResource,
        names: &[String],
        kind_prefix: Option<String>,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), ClientError> {
        let client = &self.connection.client;
        let namespace = self.namespace_for(resource, false);
        if names.is_empty() {
            let scope = self.scope_for(resource, names);
            self.empty_list_namespace = scope.namespace.clone();
            let list = if self.format.is_table() {
                api::list_table(client, resource, &scope).await?
            } else {
                api::list_objects(client, resource, &scope).await?
            };
            self.last_resource_version = list
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if self.format.is_table() {
                return self.print_table(&list, kind_prefix, out);
            }
            let items = list
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                self.print_object(resource, item, out)?;
            }
            return Ok(());
        }
        let mut merged_table: Option<Value> = None;
        for name in names {
            let fetched = if self.format.is_table() {
                api::get_table(client, resource, namespace.as_deref(), name).await
            } else {
                api::get_object(client, resource, namespace.as_deref(), name).await
            };
            if let Ok(value) = &fetched {
                self.remember_resource_version(value);
            }
            match fetched {
                Ok(value) if self.format.is_table() => merge_table_rows(&mut merged_table, value),
                Ok(object) => self.print_object(resource, object, out)?,
                Err(ClientError::Server(status)) => {
                    self.exit_code = 1;
                    writeln!(err, "{}", format_server_error(&status))?;
                }
                Err(other) => return Err(other),
            }
        }
        if let Some(table) = merged_table {
            self.print_table(&table, kind_prefix, out)?;
        }
        Ok(())
    }

    /// A watch after `get NAME` starts from the object's own resourceVersion, found in
    /// the object or in the metadata of a Table row.
    fn remember_resource_version(&mut self, fetched: &Value) {
        let version = fetched
            .pointer("/metadata/resourceVersion")
            .or_else(|| fetched.pointer("/rows/0/object/metadata/resourceVersion"))
            .and_then(Value::as_str);
        if let Some(version) = version {
            self.last_resource_version = version.to_string();
        }
    }

    fn print_table(
        &mut self,
        table: &Value,
        kind_prefix: Option<String>,
        out: &mut dyn Write,
    ) -> Result<(), ClientError> {
        if row_count(table) == 0 {
            return Ok(());
        }
        if self.printed_anything {
            writeln!(out)?;
        }
        let options = TableOptions {
            wide: *self.format == OutputFormat::Wide,
            namespace_column: self.args.all_namespaces,
            kind_prefix,
            headers: true,
        };
        write!(out, "{}", render_table(table, &options))?;
        self.printed_anything = true;
        Ok(())
    }

    fn print_object(
        &mut self,
        resource: &DiscoveredResource,
        object: Value,
        out: &mut dyn Write,
    ) -> Result<(), ClientError> {
        self.printed_anything = true;
        if *self.format == OutputFormat::Name {
            writeln!(out, "{}", object_reference(resource, &object))?;
        } else {
            self.collected.push(with_type_meta(resource, object));
        }
        Ok(())
    }
}

/// Appends the rows of `table` to `merged`, keeping the first table's columns.
fn merge_table_rows(merged: &mut Option<Value>, table: Value) {
    match merged {
        None => *merged = Some(table),
        Some(existing) => {
            let new_rows = table
                .get("rows")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(rows) = existing.get_mut("rows").and_then(Value::as_array_mut) {
                rows.extend(new_rows);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn targets(arguments: &[&str]) -> Result<Vec<(String, Vec<String>)>, String> {
        let owned: Vec<String> = arguments
            .iter()
            .map(|argument| argument.to_string())
            .collect();
        parse_targets(&owned)
            .map(|targets| {
                targets
                    .into_iter()
                    .map(|target| (target.type_name, target.names))
                    .collect()
            })
            .map_err(|error| error.to_string())
    }

    #[test]
    fn type_then_names_and_comma_separated_types() {
        assert_eq!(targets(&["po"]), Ok(vec![("po".to_string(), vec![])]));
        assert_eq!(
            targets(&["deploy", "a", "b"]),
            Ok(vec![(
                "deploy".to_string(),
                vec!["a".to_string(), "b".to_string()]
            )])
        );
        assert_eq!(
            targets(&["po,svc"]),
            Ok(vec![
                ("po".to_string(), vec![]),
                ("svc".to_string(), vec![])
            ])
        );
    }

    #[test]
    fn type_slash_name_arguments_group_by_type() {
        assert_eq!(
            targets(&["po/a", "po/b", "svc/c"]),
            Ok(vec![
                ("po".to_string(), vec!["a".to_string(), "b".to_string()]),
                ("svc".to_string(), vec!["c".to_string()])
            ])
        );
    }

    #[test]
    fn mixing_forms_is_a_usage_error() {
        assert!(targets(&["po/a", "b"]).is_err_and(|error| error.contains("resource/name form")));
        assert!(
            targets(&["po", "svc/b"])
                .is_err_and(|error| error.contains("single resource and name"))
        );
        assert_eq!(
            targets(&[]),
            Err("error: You must specify the type of resource to get.".to_string())
        );
    }

    #[test]
    fn empty_list_messages_name_the_namespace() {
        assert_eq!(
            no_resources_message(Some("default")),
            "No resources found in default namespace."
        );
        assert_eq!(no_resources_message(None), "No resources found");
    }

    #[test]
    fn single_object_tables_merge_into_one() {
        let mut merged = None;
        merge_table_rows(
            &mut merged,
            json!({"columnDefinitions": [{"name": "Name"}], "rows": [{"cells": ["a"]}]}),
        );
        merge_table_rows(
            &mut merged,
            json!({"columnDefinitions": [{"name": "Name"}], "rows": [{"cells": ["b"]}]}),
        );
        assert_eq!(
            merged,
            Some(
                json!({"columnDefinitions": [{"name": "Name"}], "rows": [{"cells": ["a"]}, {"cells": ["b"]}]})
            )
        );
    }
}
