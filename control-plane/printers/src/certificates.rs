//! The printer for certificates.k8s.io CertificateSigningRequests (`kubectl get csr`).

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::ColumnDefinition;
use crate::columns::{age_column, column, name_column};
use crate::descriptions::{
    CERTIFICATE_SIGNING_REQUEST_SPEC_EXPIRATION_SECONDS, CERTIFICATE_SIGNING_REQUEST_SPEC_REQUEST,
    CERTIFICATE_SIGNING_REQUEST_SPEC_SIGNER_NAME, CERTIFICATE_SIGNING_REQUEST_STATUS_CONDITIONS,
};
use crate::object_fields::{array_at, object_name, optional_integer_at, string_at};
use crate::time_formatting::{age_cell, human_duration};

/// What Kubernetes prints for an unset signer name or requested duration.
const NONE: &str = "<none>";

pub(crate) fn certificate_signing_request_columns() -> Vec<ColumnDefinition> {
    vec![
        name_column(),
        age_column(),
        column(
            "SignerName",
            "string",
            CERTIFICATE_SIGNING_REQUEST_SPEC_SIGNER_NAME,
        ),
        // Kubernetes describes the requestor with the `request` field's text.
        column(
            "Requestor",
            "string",
            CERTIFICATE_SIGNING_REQUEST_SPEC_REQUEST,
        ),
        column(
            "RequestedDuration",
            "string",
            CERTIFICATE_SIGNING_REQUEST_SPEC_EXPIRATION_SECONDS,
        ),
        column(
            "Condition",
            "string",
            CERTIFICATE_SIGNING_REQUEST_STATUS_CONDITIONS,
        ),
    ]
}

/// The request's state as `extractCSRStatus` gives it: Denied over Approved over Pending,
/// then ",Failed" when the signer failed and ",Issued" once a certificate is present.
/// Conditions of other types are not shown.
fn request_condition(request: &Value) -> String {
    let has_condition = |wanted: &str| {
        array_at(request, &["status", "conditions"])
            .iter()
            .any(|condition| string_at(condition, &["type"]) == wanted)
    };
    let mut condition = String::from(if has_condition("Denied") {
        "Denied"
    } else if has_condition("Approved") {
        "Approved"
    } else {
        "Pending"
    });
    if has_condition("Failed") {
        condition.push_str(",Failed");
    }
    // The certificate is base64 in JSON; any non-empty text is a non-empty certificate.
    if !string_at(request, &["status", "certificate"]).is_empty() {
        condition.push_str(",Issued");
    }
    condition
}

pub(crate) fn certificate_signing_request_cells(request: &Value, now: Timestamp) -> Vec<Value> {
    let signer_name = match string_at(request, &["spec", "signerName"]) {
        "" => NONE,
        signer_name => signer_name,
    };
    let requested_duration = optional_integer_at(request, &["spec", "expirationSeconds"])
        .map_or_else(
            || NONE.to_owned(),
            |seconds| human_duration(SignedDuration::from_secs(seconds)),
        );
    vec![
        Value::from(object_name(request)),
        age_cell(request, now),
        Value::from(signer_name),
        Value::from(string_at(request, &["spec", "username"])),
        Value::from(requested_duration),
        Value::from(request_condition(request)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T10:00:00Z".parse().unwrap()
    }

    fn request_with_status(status: Value) -> Value {
        json!({
            "kind": "CertificateSigningRequest",
            "metadata": {"name": "csr-x", "creationTimestamp": "2024-05-01T09:58:00Z"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "admin"},
            "status": status
        })
    }

    #[test]
    fn an_issued_node_client_request_shows_its_requestor_duration_and_condition() {
        let request = json!({
            "kind": "CertificateSigningRequest",
            "metadata": {"name": "node-csr-first", "creationTimestamp": "2024-05-01T09:59:15Z"},
            "spec": {
                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                "username": "system:bootstrap:abcdef",
                "expirationSeconds": 31_536_000,
                "request": "LS0tLS1CRUdJTi=="
            },
            "status": {
                "conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved"}],
                "certificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"
            }
        });
        assert_eq!(
            certificate_signing_request_cells(&request, now()),
            [
                json!("node-csr-first"),
                json!("45s"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:bootstrap:abcdef"),
                json!("365d"),
                json!("Approved,Issued")
            ]
        );
    }

    #[test]
    fn the_condition_follows_kubernetes_precedence() {
        let condition = |status: Value| {
            certificate_signing_request_cells(&request_with_status(status), now())[5].clone()
        };
        assert_eq!(condition(json!({})), json!("Pending"));
        assert_eq!(condition(json!({"conditions": []})), json!("Pending"));
        assert_eq!(
            condition(json!({"conditions": [{"type": "Approved"}, {"type": "Denied"}]})),
            json!("Denied")
        );
        assert_eq!(
            condition(json!({"conditions": [{"type": "Approved"}, {"type": "Failed"}]})),
            json!("Approved,Failed")
        );
        assert_eq!(
            condition(json!({"conditions": [{"type": "SomethingElse"}]})),
            json!("Pending")
        );
        assert_eq!(
            condition(json!({"conditions": [{"type": "Approved"}], "certificate": ""})),
            json!("Approved")
        );
    }

    #[test]
    fn an_unset_signer_and_duration_print_none() {
        let cells =
            certificate_signing_request_cells(&json!({"metadata": {"name": "bare"}}), now());
        assert_eq!(
            cells,
            [
                json!("bare"),
                json!("<unknown>"),
                json!("<none>"),
                json!(""),
                json!("<none>"),
                json!("Pending")
            ]
        );
        let short = json!({"spec": {"expirationSeconds": 600}});
        assert_eq!(
            certificate_signing_request_cells(&short, now())[4],
            json!("10m")
        );
    }

    #[test]
    fn the_columns_are_kubectls() {
        let columns = certificate_signing_request_columns();
        let names: Vec<(&str, i32)> = columns
            .iter()
            .map(|column| (column.name, column.priority))
            .collect();
        assert_eq!(
            names,
            [
                ("Name", 0),
                ("Age", 0),
                ("SignerName", 0),
                ("Requestor", 0),
                ("RequestedDuration", 0),
                ("Condition", 0)
            ]
        );
        assert_eq!(columns[0].format, "name");
    }
}
