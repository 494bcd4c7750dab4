//! Printers for RBAC bindings: RoleBinding and ClusterRoleBinding. Role and ClusterRole
//! have no printer in Kubernetes and use the default table.

use jiff::Timestamp;
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column, wide_column};
use crate::descriptions::{CLUSTER_ROLE_BINDING_ROLE_REF, ROLE_BINDING_ROLE_REF};
use crate::object_fields::{array_at, object_name, string_at};
use crate::time_formatting::age_cell;

pub(crate) fn role_binding_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Role", "string", ROLE_BINDING_ROLE_REF),
        age_column(),
        wide_column("Users", "string", "Users in the roleBinding"),
        wide_column("Groups", "string", "Groups in the roleBinding"),
        wide_column(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the roleBinding",
        ),
    ]
}

pub(crate) fn cluster_role_binding_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        column("Role", "string", CLUSTER_ROLE_BINDING_ROLE_REF),
        age_column(),
        wide_column("Users", "string", "Users in the clusterRoleBinding"),
        wide_column("Groups", "string", "Groups in the clusterRoleBinding"),
        wide_column(
            "ServiceAccounts",
            "string",
            "ServiceAccounts in the clusterRoleBinding",
        ),
    ]
}

/// The subjects split into users, groups and "namespace/name" service accounts, like
/// `rbac.SubjectsStrings`; subjects of other kinds are not shown.
fn subjects_by_kind(binding: &Value) -> [String; 3] {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut service_accounts = Vec::new();
    for subject in array_at(binding, &["subjects"]) {
        let name = string_at(subject, &["name"]);
        match string_at(subject, &["kind"]) {
            "User" => users.push(name.to_string()),
            "Group" => groups.push(name.to_string()),
            "ServiceAccount" => {
                service_accounts.push(format!("{}/{name}", string_at(subject, &["namespace"])));
            }
            _ => {}
        }
    }
    [
        users.join(", "),
        groups.join(", "),
        service_accounts.join(", "),
    ]
}

/// The cells of both binding kinds, which print the same way.
pub(crate) fn role_binding_cells(binding: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        string_at(binding, &["roleRef", "kind"]),
        string_at(binding, &["roleRef", "name"])
    );
    let [users, groups, service_accounts] = subjects_by_kind(binding);
    vec![
        Value::from(object_name(binding)),
        Value::from(role),
        age_cell(binding, now),
        Value::from(users),
        Value::from(groups),
        Value::from(service_accounts),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_binding_shows_role_and_subjects() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        let binding = json!({
            "kind": "RoleBinding",
            "metadata": {"name": "read-pods", "namespace": "default", "creationTimestamp": "2024-05-01T09:59:15Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
            "subjects": [
                {"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"},
                {"kind": "User", "name": "joe"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
                {"kind": "Robot", "name": "r2"}
            ]
        });
        assert_eq!(
            role_binding_cells(&binding, now),
            [
                json!("read-pods"),
                json!("Role/pod-reader"),
                json!("45s"),
                json!("jane, joe"),
                json!("devs"),
                json!("ci/builder")
            ]
        );
    }

    #[test]
    fn empty_binding_prints_a_bare_slash() {
        let now: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        assert_eq!(
            role_binding_cells(&json!({}), now),
            [
                json!(""),
                json!("/"),
                json!("<unknown>"),
                json!(""),
                json!(""),
                json!("")
            ]
        );
    }

    #[test]
    fn binding_columns_differ_only_in_descriptions() {
        let role_columns = role_binding_columns();
        let cluster_columns = cluster_role_binding_columns();
        let names = |columns: &[ColumnDefinition]| -> Vec<(&'static str, i32)> {
            columns
                .iter()
                .map(|column| (column.name, column.priority))
                .collect()
        };
        assert_eq!(
            names(&role_columns),
            [
                ("Name", 0),
                ("Role", 0),
                ("Age", 0),
                ("Users", 1),
                ("Groups", 1),
                ("ServiceAccounts", 1)
            ]
        );
        assert_eq!(names(&role_columns), names(&cluster_columns));
        assert_eq!(
            cluster_columns[3].description,
            "Users in the clusterRoleBinding"
        );
    }
}
