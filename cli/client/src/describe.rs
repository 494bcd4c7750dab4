//! `describe TYPE NAME...`: a readable summary of an object plus the events about it.

use std::io::Write;

use jiff::Timestamp;
use serde_json::Value;

use crate::api::{self, ListScope};
use crate::describe_format::{DescribeWriter, age_since, describe_time, generic_fields, text_at};
use crate::describe_kinds::describe_kind_body;
use crate::error::{ClientError, format_server_error};
use crate::get::parse_targets;
use crate::options::Connection;
use crate::resolve::ResourceCatalog;

#[derive(Debug, Clone, clap::Args)]
pub struct DescribeArgs {
    /// TYPE NAME... or TYPE/NAME...
    #[arg(required = true)]
    pub resources: Vec<String>,
}

pub async fn run_describe(
    connection: &Connection,
    args: DescribeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, ClientError> {
    let catalog = ResourceCatalog::discover(&connection.client).await?;
    let events_resource = catalog.resolve_kind("v1", "Event").cloned();
    let mut exit_code = 0;
    let mut printed = 0;
    for target in parse_targets(&args.resources)? {
        let resource = catalog.resolve_type_name(&target.type_name)?;
        let namespace = resource.namespaced.then(|| connection.namespace.clone());
        let objects = if target.names.is_empty() {
            let scope = ListScope {
                namespace: namespace.clone(),
                ..ListScope::default()
            };
            let list = api::list_objects(&connection.client, resource, &scope).await?;
            list.get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        } else {
            let mut found = Vec::new();
            for name in &target.names {
                match api::get_object(&connection.client, resource, namespace.as_deref(), name)
                    .await
                {
                    Ok(object) => found.push(object),
                    Err(ClientError::Server(status)) => {
                        exit_code = 1;
                        writeln!(err, "{}", format_server_error(&status))?;
                    }
                    Err(other) => return Err(other),
                }
            }
            found
        };
        for object in objects {
            let events = match &events_resource {
                Some(events_resource) => {
                    let scope = ListScope {
                        namespace: namespace.clone(),
                        field_selector: Some(event_field_selector(&object)),
                        ..ListScope::default()
                    };
                    let list =
                        api::list_objects(&connection.client, events_resource, &scope).await?;
                    list.get("items")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                }
                None => Vec::new(),
            };
            if printed > 0 {
                writeln!(out)?;
                writeln!(out)?;
            }
            write!(
                out,
                "{}",
                describe_object(&resource.kind, &object, &events, Timestamp::now())
            )?;
            printed += 1;
        }
    }
    Ok(exit_code)
}

/// The field selector that finds the events whose involvedObject is `object`.
pub fn event_field_selector(object: &Value) -> String {
    let mut selector = format!("involvedObject.name={}", text_at(object, "/metadata/name"));
    let namespace = text_at(object, "/metadata/namespace");
    if !namespace.is_empty() {
        selector.push_str(&format!(",involvedObject.namespace={namespace}"));
    }
    let uid = text_at(object, "/metadata/uid");
    if !uid.is_empty() {
        selector.push_str(&format!(",involvedObject.uid={uid}"));
    }
    selector
}

/// The whole describe text of one object.
pub fn describe_object(kind: &str, object: &Value, events: &[Value], now: Timestamp) -> String {
    let mut writer = DescribeWriter::default();
    writer.field(0, "Name", &text_at(object, "/metadata/name"));
    if object.pointer("/metadata/namespace").is_some() {
        writer.field(0, "Namespace", &text_at(object, "/metadata/namespace"));
    }
    writer.string_map(0, "Labels", object.pointer("/metadata/labels"));
    writer.string_map(0, "Annotations", object.pointer("/metadata/annotations"));
    if !describe_kind_body(kind, object, &mut writer) {
        describe_generic(object, &mut writer);
    }
    describe_events(events, now, &mut writer);
    writer.finish()
}

/// For kinds without a dedicated describer: API version, kind, then spec, status and
/// any other top-level data with titled field names.
fn describe_generic(object: &Value, writer: &mut DescribeWriter) {
    writer.field(0, "API Version", &text_at(object, "/apiVersion"));
    writer.field(0, "Kind", &text_at(object, "/kind"));
    let Some(map) = object.as_object() else {
        return;
    };
    let mut rest = map.clone();
    for key in ["apiVersion", "kind", "metadata"] {
        rest.remove(key);
    }
    generic_fields(writer, 0, &rest);
}

/// The `Events:` table, oldest first, or `Events:  <none>`.
fn describe_events(events: &[Value], now: Timestamp, writer: &mut DescribeWriter) {
    if events.is_empty() {
        writer.field(0, "Events", "<none>");
        return;
    }
    let last_seen = |event: &Value| {
        [
            "/lastTimestamp",
            "/eventTime",
            "/firstTimestamp",
            "/metadata/creationTimestamp",
        ]
        .iter()
        .map(|pointer| text_at(event, pointer))
        .find(|text| !text.is_empty())
        .unwrap_or_default()
    };
    let mut sorted: Vec<&Value> = events.iter().collect();
    sorted.sort_by_key(|event| last_seen(event).parse::<Timestamp>().ok());
    writer.line(0, "Events:");
    writer.line(1, "Type\tReason\tAge\tFrom\tMessage");
    writer.line(1, "----\t------\t----\t----\t-------");
    for event in sorted {
        let count = event.get("count").and_then(Value::as_i64).unwrap_or(1);
        let mut age = age_since(&last_seen(event), now);
        let first_seen = text_at(event, "/firstTimestamp");
        if count > 1 && !first_seen.is_empty() {
            age = format!("{age} (x{count} over {})", age_since(&first_seen, now));
        }
        let mut source = text_at(event, "/source/component");
        if source.is_empty() {
            source = text_at(event, "/reportingComponent");
        }
        let host = text_at(event, "/source/host");
        if !host.is_empty() {
            source = format!("{source}, {host}");
        }
        let message = text_at(event, "/message");
        writer.line(
            1,
            &format!(
                "{}\t{}\t{age}\t{source}\t{}",
                text_at(event, "/type"),
                text_at(event, "/reason"),
                message.trim()
            ),
        );
    }
}

/// Shared by the kind describers: `Creation Timestamp` style lines.
pub fn describe_timestamp(writer: &mut DescribeWriter, label: &str, object: &Value, pointer: &str) {
    writer.field(0, label, &describe_time(&text_at(object, pointer)));
}

#[cfg(test)]
#[path = "describe_tests.rs"]
mod tests;
