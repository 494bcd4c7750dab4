//! Service validation (`ValidateService`, the parts that do not need the IP allocators).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::immutable_field;
use super::pod::validate_enumerated;
use crate::field_error::FieldError;
use crate::names::{dns1123_label_problems, port_name_problems, port_number_problems};

pub fn validate_service(service: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let spec = service.get("spec").unwrap_or(&Value::Null);
    let mut errors = Vec::new();
    let service_type = spec.get("type").and_then(Value::as_str).unwrap_or_default();
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let is_headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    if service_type != "ExternalName" && ports.is_empty() && !is_headless {
        errors.push(FieldError::required("spec.ports", ""));
    }
    if service_type == "ExternalName"
        && spec
            .get("externalName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        errors.push(FieldError::required("spec.externalName", ""));
    }
    let require_name = ports.len() > 1;
    let mut names = BTreeSet::new();
    for (index, port) in ports.iter().enumerate() {
        let path = format!("spec.ports[{index}]");
        let name = port.get("name").and_then(Value::as_str).unwrap_or_default();
        if require_name && name.is_empty() {
            errors.push(FieldError::required(format!("{path}.name"), ""));
        } else if !name.is_empty() {
            for problem in dns1123_label_problems(name) {
                errors.push(FieldError::invalid(
                    format!("{path}.name"),
                    json!(name),
                    problem,
                ));
            }
            if !names.insert(name) {
                errors.push(FieldError::duplicate(format!("{path}.name"), json!(name)));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or_default();
        for problem in port_number_problems(number) {
            errors.push(FieldError::invalid(
                format!("{path}.port"),
                json!(number),
                problem,
            ));
        }
        errors.extend(validate_enumerated(
            port,
            "protocol",
            &path,
            &["SCTP", "TCP", "UDP"],
        ));
        match port.get("targetPort") {
            Some(Value::Number(target)) => {
                let target = target.as_i64().unwrap_or_default();
                for problem in port_number_problems(target) {
                    errors.push(FieldError::invalid(
                        format!("{path}.targetPort"),
                        json!(target),
                        problem,
                    ));
                }
            }
            Some(Value::String(target)) => {
                for problem in port_name_problems(target) {
                    errors.push(FieldError::invalid(
                        format!("{path}.targetPort"),
                        json!(target),
                        problem,
                    ));
                }
            }
            _ => {}
        }
        let node_port = port
            .get("nodePort")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        if service_type == "ClusterIP" && node_port != 0 {
            errors.push(FieldError::forbidden(
                format!("{path}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ));
        }
    }
    if !service_type.is_empty()
        && !["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"].contains(&service_type)
    {
        errors.push(FieldError::not_supported(
            "spec.type",
            json!(service_type),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    let affinity = spec
        .get("sessionAffinity")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !affinity.is_empty() && affinity != "None" && affinity != "ClientIP" {
        errors.push(FieldError::not_supported(
            "spec.sessionAffinity",
            json!(affinity),
            &["ClientIP", "None"],
        ));
    }
    if let Some(old) = old {
        let old_cluster_ip = old
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let new_cluster_ip = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // An assigned cluster IP stays for the Service's life, unless the type becomes
        // ExternalName (which drops it).
        if !old_cluster_ip.is_empty()
            && !new_cluster_ip.is_empty()
            && service_type != "ExternalName"
        {
            errors.extend(immutable_field(
                service,
                old,
                "/spec/clusterIP",
                "spec.clusterIP",
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(service: Value, old: Option<Value>) -> Vec<String> {
        validate_service(&service, old.as_ref())
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn valid_and_invalid_services() {
        assert!(messages(json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}), None).is_empty());
        assert_eq!(
            messages(json!({"spec": {"type": "ClusterIP"}}), None),
            vec!["spec.ports: Required value".to_string()]
        );
        assert!(messages(json!({"spec": {"clusterIP": "None"}}), None).is_empty());
        assert_eq!(
            messages(json!({"spec": {"type": "Magic", "ports": [
                {"port": 80, "protocol": "TCP", "name": "web"},
                {"port": 0, "protocol": "TCP", "name": "web"},
                {"port": 81, "protocol": "TCP"}
            ]}}), None),
            vec![
                "spec.ports[1].name: Duplicate value: \"web\"".to_string(),
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive".to_string(),
                "spec.ports[2].name: Required value".to_string(),
                "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"".to_string(),
            ]
        );
    }

    #[test]
    fn cluster_ip_is_immutable() {
        let old =
            json!({"spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80, "protocol": "TCP"}]}});
        let new =
            json!({"spec": {"clusterIP": "10.0.0.2", "ports": [{"port": 80, "protocol": "TCP"}]}});
        assert_eq!(
            messages(new, Some(old)),
            vec!["spec.clusterIP: Invalid value: \"10.0.0.2\": field is immutable".to_string()]
        );
    }
}
