//! The Event printer (core/v1 Event). Unlike other kinds it leads with LAST SEEN and keeps
//! the event's own name as a wide column at the end.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{column, wide_column};
use crate::descriptions::{
    EVENT_COUNT, EVENT_FIRST_TIMESTAMP, EVENT_INVOLVED_OBJECT, EVENT_LAST_TIMESTAMP, EVENT_MESSAGE,
    EVENT_REASON, EVENT_SOURCE, EVENT_TYPE, OBJECT_META_NAME, OBJECT_REFERENCE_FIELD_PATH,
};
use crate::object_fields::{integer_at, object_name, string_at, value_at};
use crate::time_formatting::{time_since, timestamp_at};

pub(crate) fn columns() -> Vec<ColumnDefinition> {
    vec![
        column("Last Seen", "string", EVENT_LAST_TIMESTAMP),
        column("Type", "string", EVENT_TYPE),
        column("Reason", "string", EVENT_REASON),
        column("Object", "string", EVENT_INVOLVED_OBJECT),
        wide_column("Subobject", "string", OBJECT_REFERENCE_FIELD_PATH),
        wide_column("Source", "string", EVENT_SOURCE),
        column("Message", "string", EVENT_MESSAGE),
        wide_column("First Seen", "string", EVENT_FIRST_TIMESTAMP),
        wide_column("Count", "string", EVENT_COUNT),
        ColumnDefinition {
            format: "name",
            ..wide_column("Name", "string", OBJECT_META_NAME)
        },
    ]
}

/// "component, host", falling back to the reporting controller and instance that events
/// from the events.k8s.io API carry instead of a source.
fn event_source(event: &Value) -> String {
    let first_non_empty = |preferred: &'static [&'static str],
                           fallback: &'static [&'static str]| {
        let preferred = string_at(event, preferred);
        if preferred.is_empty() {
            string_at(event, fallback)
        } else {
            preferred
        }
    };
    let component = first_non_empty(&["source", "component"], &["reportingComponent"]);
    let instance = first_non_empty(&["source", "host"], &["reportingInstance"]);
    if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    }
}

/// "kind/name" in lower-case kind, or just the kind when the object has no name.
fn involved_object(event: &Value) -> String {
    let kind = string_at(event, &["involvedObject", "kind"]).to_lowercase();
    let name = string_at(event, &["involvedObject", "name"]);
    if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    }
}

pub(crate) fn cells(event: &Value, now: Timestamp) -> Vec<Value> {
    // Events from the newer API only have `eventTime`; older ones have first/last timestamps.
    let first_seen = match timestamp_at(event, &["firstTimestamp"]) {
        Some(first) => time_since(Some(first), now),
        None => time_since(timestamp_at(event, &["eventTime"]), now),
    };
    let mut last_seen = match timestamp_at(event, &["lastTimestamp"]) {
        Some(last) => time_since(Some(last), now),
        None => first_seen.clone(),
    };
    let mut count = integer_at(event, &["count"]);
    let series = value_at(event, &["series"]).filter(|series| series.is_object());
    if let Some(series) = series {
        last_seen = time_since(timestamp_at(series, &["lastObservedTime"]), now);
        count = integer_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events of the newer API have no count: they happened once.
        count = 1;
    }
    vec![
        Value::from(last_seen),
        Value::from(string_at(event, &["type"])),
        Value::from(string_at(event, &["reason"])),
        Value::from(involved_object(event)),
        Value::from(string_at(event, &["involvedObject", "fieldPath"])),
        Value::from(event_source(event)),
        Value::from(string_at(event, &["message"]).trim()),
        Value::from(first_seen),
        Value::from(count),
        Value::from(object_name(event)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn pulled_image_event() {
        let event = json!({
            "kind": "Event",
            "metadata": {"name": "foo.17c8d5e3a1b2c3d4", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "foo", "namespace": "default",
                               "fieldPath": "spec.containers{app}"},
            "reason": "Pulled",
            "message": "Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-05-01T09:50:00Z",
            "lastTimestamp": "2024-05-01T09:58:00Z",
            "count": 4,
            "type": "Normal"
        });
        assert_eq!(
            cells(&event, now()),
            [
                json!("2m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/foo"),
                json!("spec.containers{app}"),
                json!("kubelet, node-1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(4),
                json!("foo.17c8d5e3a1b2c3d4")
            ]
        );
    }

    #[test]
    fn new_api_event_uses_event_time_series_and_reporting_controller() {
        let singleton = json!({
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "Node"},
            "eventTime": "2024-05-01T09:59:30.123456Z",
            "reportingComponent": "scheduler",
            "type": "Warning",
            "reason": "FailedScheduling"
        });
        let cells_of_singleton = cells(&singleton, now());
        assert_eq!(cells_of_singleton[0], json!("29s"));
        assert_eq!(cells_of_singleton[3], json!("node"));
        assert_eq!(cells_of_singleton[5], json!("scheduler"));
        assert_eq!(cells_of_singleton[7], json!("29s"));
        assert_eq!(cells_of_singleton[8], json!(1));

        let mut repeated = singleton.clone();
        repeated["series"] = json!({"count": 7, "lastObservedTime": "2024-05-01T09:59:50.000000Z"});
        repeated["reportingInstance"] = json!("scheduler-abc");
        let cells_of_repeated = cells(&repeated, now());
        assert_eq!(cells_of_repeated[0], json!("10s"));
        assert_eq!(cells_of_repeated[5], json!("scheduler, scheduler-abc"));
        assert_eq!(cells_of_repeated[8], json!(7));
    }

    #[test]
    fn empty_event_prints_unknown_times() {
        assert_eq!(
            cells(&json!({}), now()),
            [
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!(""),
                json!("<unknown>"),
                json!(1),
                json!("")
            ]
        );
    }

    #[test]
    fn columns_lead_with_last_seen_and_end_with_wide_name() {
        let summary: Vec<(&str, &str, i32)> = columns()
            .iter()
            .map(|column| (column.name, column.format, column.priority))
            .collect();
        assert_eq!(
            summary,
            [
                ("Last Seen", "", 0),
                ("Type", "", 0),
                ("Reason", "", 0),
                ("Object", "", 0),
                ("Subobject", "", 1),
                ("Source", "", 1),
                ("Message", "", 0),
                ("First Seen", "", 1),
                ("Count", "", 1),
                ("Name", "name", 1)
            ]
        );
    }
}
