//! Container resource requirements (`ValidateContainerResourceRequirements`): standard names,
//! non-negative quantities, and requests no larger than limits.

use serde_json::{Value, json};

use crate::field_error::FieldError;
use crate::quantity::Quantity;

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Resources whose requests must equal their limits (`!IsOvercommitAllowed`).
fn overcommit_forbidden(name: &str) -> bool {
    name.starts_with("hugepages-") || (name.contains('/') && !name.contains("kubernetes.io/"))
}

fn parse_resource_value(
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Quantity> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => other.to_string(),
    };
    match Quantity::parse(&text) {
        Ok(quantity) => {
            if quantity.is_negative() {
                errors.push(FieldError::invalid(
                    path,
                    json!(quantity.to_string()),
                    "must be greater than or equal to 0",
                ));
            }
            Some(quantity)
        }
        Err(error) => {
            errors.push(FieldError::invalid(path, json!(text), error.to_string()));
            None
        }
    }
}

/// `ValidateContainerResourceRequirements`.
pub fn validate_resources(resources: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let empty = serde_json::Map::new();
    let limits = resources
        .get("limits")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let requests = resources
        .get("requests")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let check_name = |name: &str, field: &str, errors: &mut Vec<FieldError>| {
        if !name.contains('/') && !is_standard_container_resource(name) {
            errors.push(FieldError::invalid(
                field,
                json!(name),
                "must be a standard resource for containers",
            ));
        }
    };
    let mut limit_values = std::collections::BTreeMap::new();
    for (name, value) in limits {
        let field = format!("{path}.limits[{name}]");
        check_name(name, &field, &mut errors);
        if let Some(quantity) = parse_resource_value(value, &field, &mut errors) {
            limit_values.insert(name.as_str(), quantity);
        }
    }
    for (name, value) in requests {
        let field = format!("{path}.requests[{name}]");
        check_name(name, &field, &mut errors);
        let Some(request) = parse_resource_value(value, &field, &mut errors) else {
            continue;
        };
        match limit_values.get(name.as_str()) {
            Some(limit) if request != *limit && overcommit_forbidden(name) => {
                errors.push(FieldError::invalid(
                    format!("{path}.requests"),
                    json!(request.to_string()),
                    format!("must be equal to {name} limit of {limit}"),
                ))
            }
            Some(limit) if request > *limit => errors.push(FieldError::invalid(
                format!("{path}.requests"),
                json!(request.to_string()),
                format!("must be less than or equal to {name} limit of {limit}"),
            )),
            None if overcommit_forbidden(name) && !limits.contains_key(name) => {
                errors.push(FieldError::required(
                    format!("{path}.limits"),
                    "Limit must be set for non overcommitable resources",
                ))
            }
            _ => {}
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::super::pod::tests::{container, messages, spec_with};
    use serde_json::json;

    #[test]
    fn resources_requests_may_not_exceed_limits() {
        let spec = spec_with(json!([container(
            json!({"resources": {"limits": {"cpu": "1", "gpu": "1"}, "requests": {"cpu": "2", "memory": "-1"}}})
        )]));
        assert_eq!(
            messages(spec),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers".to_string(),
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1".to_string(),
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0".to_string(),
            ]
        );
    }
}
