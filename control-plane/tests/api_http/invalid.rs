//! 422 Invalid: objects that decode but fail validation, reported field by field as
//! Kubernetes does, with nothing stored.

use serde_json::{Value, json};

use super::support::*;

fn causes(status: &Value) -> &Vec<Value> {
    status["details"]["causes"]
        .as_array()
        .unwrap_or_else(|| panic!("an Invalid status lists its causes: {status}"))
}

fn cause_for<'a>(status: &'a Value, field: &str) -> &'a Value {
    causes(status)
        .iter()
        .find(|cause| cause["field"] == field)
        .unwrap_or_else(|| panic!("no cause for {field}: {status}"))
}

#[tokio::test]
async fn a_pod_without_containers_is_invalid_and_not_stored() {
    let cluster = start_cluster().await;
    let mut empty = pod("empty");
    empty["spec"]["containers"] = json!([]);
    let status = cluster
        .post(PODS, &empty)
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        status["message"],
        r#"Pod "empty" is invalid: spec.containers: Required value"#
    );
    assert_eq!(status["details"]["name"], "empty");
    assert_eq!(status["details"]["kind"], "Pod");
    assert!(status["details"].get("group").is_none(), "{status}");
    assert_eq!(
        cause_for(&status, "spec.containers")["reason"],
        "FieldValueRequired"
    );
    cluster
        .get(&format!("{PODS}/empty"))
        .await
        .expect_failure(404, "NotFound");
    assert!(cluster.list_names(PODS).await.is_empty());
}

#[tokio::test]
async fn a_config_map_with_an_invalid_name_is_invalid_and_not_stored() {
    let cluster = start_cluster().await;
    let status = cluster
        .post(CONFIG_MAPS, &config_map("Bad_Name", json!({})))
        .await
        .expect_failure(422, "Invalid");
    let message = text(&status, "/message");
    assert!(
        message.starts_with(
            r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of"#
        ),
        "{message}"
    );
    assert_eq!(status["details"]["name"], "Bad_Name");
    assert_eq!(status["details"]["kind"], "ConfigMap");
    assert_eq!(
        cause_for(&status, "metadata.name")["reason"],
        "FieldValueInvalid"
    );
    assert_eq!(cluster.list_names(CONFIG_MAPS).await, [ROOT_CA]);
}

#[tokio::test]
async fn an_invalid_object_of_a_named_group_is_reported_with_its_qualified_kind() {
    let cluster = start_cluster().await;
    let mut mismatched = deployment("web");
    mismatched["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let status = cluster
        .post(DEPLOYMENTS, &mismatched)
        .await
        .expect_failure(422, "Invalid");
    // Kubernetes names the kind with its group in the message (GroupKind.String()), and
    // splits them in the details.
    let message = text(&status, "/message");
    assert!(
        message.starts_with(r#"Deployment.apps "web" is invalid: "#),
        "{message}"
    );
    assert_eq!(status["details"]["group"], "apps");
    assert_eq!(status["details"]["kind"], "Deployment");
    assert!(
        causes(&status)
            .iter()
            .any(|cause| cause["field"] == "spec.template.metadata.labels"),
        "{status}"
    );
    assert!(cluster.list_names(DEPLOYMENTS).await.is_empty());
}

/// Kubernetes builds each cause from `field.Error`: the field goes in `field` and the
/// message is `ErrorBody()`, the text without the field path, while the top-level message
/// keeps `field: body`.
#[tokio::test]

async fn invalid_causes_carry_the_error_body_without_the_field_path() {
    let cluster = start_cluster().await;
    let mut empty = pod("empty");
    empty["spec"]["containers"] = json!([]);
    let status = cluster
        .post(PODS, &empty)
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        causes(&status),
        &vec![json!({
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers",
        })]
    );

    let status = cluster
        .post(CONFIG_MAPS, &config_map("Bad_Name", json!({})))
        .await
        .expect_failure(422, "Invalid");
    let cause = cause_for(&status, "metadata.name");
    let cause_message = text(cause, "/message");
    assert!(
        cause_message.starts_with(
            r#"Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of"#
        ),
        "{cause_message}"
    );
    assert!(
        text(&status, "/message").ends_with(&format!("metadata.name: {cause_message}")),
        "{status}"
    );
}
