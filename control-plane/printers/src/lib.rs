//! The columns kubectl shows for each built-in kind, as server-side Table rows.
//!
//! kubectl asks the API server for `application/json;as=Table;g=meta.k8s.io;v=v1` and prints
//! whatever columns the server sends. This crate is the server side of that: for each built-in
//! kind it gives the same column definitions and the same cell contents as Kubernetes'
//! `pkg/printers/internalversion/printers.go`. Like kube-apiserver, the rows always carry the
//! wide (`-o wide`, priority 1) cells too; kubectl hides those unless asked.
//!
//! Kinds without a dedicated printer in Kubernetes (Role, ClusterRole, LimitRange and any
//! unknown kind) use the default table convertor's "Name" and "Created At" columns.

mod apps;
mod autoscaling;
mod batch;
mod certificates;
mod columns;
mod core;
mod default_table;
mod descriptions;
mod events;
mod labels;
mod networking;
mod object_fields;
mod pod;
mod policy;
mod rbac;
mod time_formatting;

use jiff::Timestamp;
use serde_json::Value;

pub use time_formatting::human_duration;

/// One column of a Table, as in `metav1.TableColumnDefinition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnDefinition {
    /// The column header, such as "Name" (kubectl upper-cases it).
    pub name: &'static str,
    /// The OpenAPI type of the cells: "string", "integer", "boolean", "date" ...
    pub column_type: &'static str,
    /// "name" for the column that holds the object's name, "" otherwise.
    pub format: &'static str,
    /// A human-readable description of the column.
    pub description: &'static str,
    /// 0 for columns always shown, 1 for columns only shown with `-o wide`.
    pub priority: i32,
}

/// Gives the column definitions of one kind.
type ColumnsFunction = fn() -> Vec<ColumnDefinition>;
/// Fills one row of a kind from an object and the current time.
type CellsFunction = fn(&Value, Timestamp) -> Vec<Value>;

/// The printer of one kind: its columns and how to fill a row.
struct KindPrinter {
    columns: ColumnsFunction,
    cells: CellsFunction,
}

/// Finds the printer for a kind, falling back to the default table convertor.
fn printer_for_kind(kind: &str) -> KindPrinter {
    let (columns, cells): (ColumnsFunction, CellsFunction) = match kind {
        "Pod" => (pod::columns, pod::cells),
        "Namespace" => (core::namespace_columns, core::namespace_cells),
        "Node" => (core::node_columns, core::node_cells),
        "ConfigMap" => (core::config_map_columns, core::config_map_cells),
        "Secret" => (core::secret_columns, core::secret_cells),
        "ServiceAccount" => (core::service_account_columns, core::service_account_cells),
        "Event" => (events::columns, events::cells),
        "Service" => (networking::service_columns, networking::service_cells),
        "Endpoints" => (networking::endpoints_columns, networking::endpoints_cells),
        "EndpointSlice" => (
            networking::endpoint_slice_columns,
            networking::endpoint_slice_cells,
        ),
        "Deployment" => (apps::deployment_columns, apps::deployment_cells),
        "ReplicaSet" => (apps::replica_set_columns, apps::replica_set_cells),
        "DaemonSet" => (apps::daemon_set_columns, apps::daemon_set_cells),
        "StatefulSet" => (apps::stateful_set_columns, apps::stateful_set_cells),
        "Job" => (batch::job_columns, batch::job_cells),
        "CronJob" => (batch::cron_job_columns, batch::cron_job_cells),
        "RoleBinding" => (rbac::role_binding_columns, rbac::role_binding_cells),
        "ClusterRoleBinding" => (rbac::cluster_role_binding_columns, rbac::role_binding_cells),
        "Lease" => (policy::lease_columns, policy::lease_cells),
        "ResourceQuota" => (policy::resource_quota_columns, policy::resource_quota_cells),
        "HorizontalPodAutoscaler" => (
            autoscaling::horizontal_pod_autoscaler_columns,
            autoscaling::horizontal_pod_autoscaler_cells,
        ),
        "PriorityClass" => (policy::priority_class_columns, policy::priority_class_cells),
        "CertificateSigningRequest" => (
            certificates::certificate_signing_request_columns,
            certificates::certificate_signing_request_cells,
        ),
        // Kubernetes has no printer for Role, ClusterRole and LimitRange either, so
        // they (and every unknown kind) get the default "Name" / "Created At" table.
        _ => (default_table::columns, default_table::cells),
    };
    KindPrinter { columns, cells }
}

/// The columns for a kind (by Kind name, e.g. "Pod", "Deployment").
///
/// Every kind has a column with format "name"; unknown kinds get the default table
/// convertor's "Name" and "Created At" columns.
pub fn column_definitions(kind: &str) -> Vec<ColumnDefinition> {
    (printer_for_kind(kind).columns)()
}

/// The cells of one row, in the same order as [`column_definitions`], as JSON values
/// (strings, integers and booleans). Missing fields never fail: they print the way
/// Kubernetes prints a zero value ("<none>", "<unknown>", 0 ...).
pub fn row_cells(kind: &str, object: &Value, now: Timestamp) -> Vec<Value> {
    (printer_for_kind(kind).cells)(object, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL_KINDS: [&str; 26] = [
        "Namespace",
        "Pod",
        "Node",
        "Service",
        "Endpoints",
        "EndpointSlice",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Event",
        "Lease",
        "Deployment",
        "ReplicaSet",
        "DaemonSet",
        "StatefulSet",
        "Job",
        "CronJob",
        "LimitRange",
        "ResourceQuota",
        "HorizontalPodAutoscaler",
        "PriorityClass",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "CertificateSigningRequest",
    ];

    #[test]
    fn every_kind_has_a_name_column_and_one_cell_per_column() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let empty_objects = [
            json!({}),
            json!(null),
            json!([1, 2]),
            json!({"metadata": 7}),
        ];
        for kind in ALL_KINDS {
            let columns = column_definitions(kind);
            assert_eq!(
                columns
                    .iter()
                    .filter(|column| column.format == "name")
                    .count(),
                1,
                "{kind} has exactly one name column"
            );
            for object in &empty_objects {
                assert_eq!(
                    row_cells(kind, object, now).len(),
                    columns.len(),
                    "{kind} row width for {object}"
                );
            }
        }
    }

    #[test]
    fn every_kind_except_event_has_a_name_and_an_age_column() {
        for kind in ALL_KINDS.iter().filter(|kind| **kind != "Event") {
            let names: Vec<&str> = column_definitions(kind)
                .iter()
                .map(|column| column.name)
                .collect();
            assert_eq!(names.first(), Some(&"Name"), "{kind}");
            assert!(
                names.contains(&"Age") || names.contains(&"Created At"),
                "{kind} has an age column: {names:?}"
            );
        }
    }

    #[test]
    fn unknown_kinds_use_the_default_table_convertor() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let names: Vec<&str> = column_definitions("Widget")
            .iter()
            .map(|column| column.name)
            .collect();
        assert_eq!(names, ["Name", "Created At"]);
        let object =
            json!({"metadata": {"name": "w1", "creationTimestamp": "2024-04-30T08:00:00Z"}});
        assert_eq!(
            row_cells("Widget", &object, now),
            [json!("w1"), json!("2024-04-30T08:00:00Z")]
        );
    }
}
