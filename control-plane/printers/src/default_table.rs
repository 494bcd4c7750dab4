//! The default table convertor of k8s.io/apiserver (`rest.DefaultTableConvertor`), used for
//! kinds that have no printer of their own, such as Role, ClusterRole and LimitRange.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{column, name_column};
use crate::descriptions::OBJECT_META_CREATION_TIMESTAMP;
use crate::object_fields::object_name;
use crate::time_formatting::{rfc3339_seconds, timestamp_at};

pub(crate) fn columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Created At", "date", OBJECT_META_CREATION_TIMESTAMP),
    ]
}

/// The name and the creation time in RFC 3339 (kubectl shows it as is, not as an age).
pub(crate) fn cells(object: &Value, _now: Timestamp) -> Vec<Value> {
    vec![
        Value::from(object_name(object)),
        Value::from(rfc3339_seconds(timestamp_at(
            object,
            &["metadata", "creationTimestamp"],
        ))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_prints_name_and_created_at() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let role = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": "default", "creationTimestamp": "2024-03-02T04:05:06Z"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
        });
        assert_eq!(
            cells(&role, now),
            [json!("pod-reader"), json!("2024-03-02T04:05:06Z")]
        );
        assert_eq!(crate::row_cells("Role", &role, now), cells(&role, now));
        assert_eq!(
            crate::row_cells("ClusterRole", &role, now),
            cells(&role, now)
        );
        assert_eq!(
            crate::row_cells("LimitRange", &role, now),
            cells(&role, now)
        );
    }

    #[test]
    fn missing_metadata_prints_go_zero_values() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            cells(&json!({}), now),
            [json!(""), json!("0001-01-01T00:00:00Z")]
        );
    }

    #[test]
    fn columns_are_name_and_created_at_date() {
        let columns = columns();
        assert_eq!(columns[0].name, "Name");
        assert_eq!(columns[0].format, "name");
        assert_eq!(columns[1].name, "Created At");
        assert_eq!(columns[1].column_type, "date");
        assert_eq!(columns[1].priority, 0);
    }
}
