//! Decoding with Kubernetes' own types (k8s-openapi). An object is accepted only if it
//! decodes as its kind; fields the type does not know are reported (for
//! `fieldValidation=Strict|Warn`) and dropped, as the Kubernetes API server drops them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An object after decoding and re-encoding with its Kubernetes type.
#[derive(Debug)]
pub struct Decoded {
    pub object: Value,
    /// Paths of fields the type does not know, like `spec.containers[0].imagePullPolice`.
    pub unknown_fields: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

pub fn decode_typed<K: Serialize + DeserializeOwned>(
    object: Value,
) -> Result<Decoded, DecodeError> {
    let typed: K =
        serde_json::from_value(object.clone()).map_err(|error| DecodeError(error.to_string()))?;
    let encoded = serde_json::to_value(&typed).map_err(|error| DecodeError(error.to_string()))?;
    let mut unknown_fields = Vec::new();
    collect_unknown_fields(&object, &encoded, "", &mut unknown_fields);
    Ok(Decoded {
        object: encoded,
        unknown_fields,
    })
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Every non-null field of `input` that `encoded` lacks. Maps with free-form keys
/// (labels, data) round-trip whole, so they never report false positives.
fn collect_unknown_fields(input: &Value, encoded: &Value, path: &str, unknown: &mut Vec<String>) {
    match (input, encoded) {
        (Value::Object(input), Value::Object(encoded)) => {
            for (key, value) in input {
                let path = child_path(path, key);
                match encoded.get(key) {
                    Some(encoded_value) => {
                        collect_unknown_fields(value, encoded_value, &path, unknown)
                    }
                    None if value.is_null() => {}
                    None => unknown.push(path),
                }
            }
        }
        (Value::Array(input), Value::Array(encoded)) => {
            for (index, (value, encoded_value)) in input.iter().zip(encoded).enumerate() {
                collect_unknown_fields(value, encoded_value, &format!("{path}[{index}]"), unknown);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_reported_with_their_paths_and_dropped() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"free-form": "kept"}, "bogus": 1},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "Always"}], "nodeName": null},
        });
        let decoded = decode_typed::<Pod>(pod).unwrap();
        assert_eq!(
            decoded.unknown_fields,
            ["metadata.bogus", "spec.containers[0].imagePullPolice"]
        );
        assert_eq!(decoded.object["metadata"]["labels"]["free-form"], "kept");
        assert!(
            decoded.object["spec"]["containers"][0]
                .get("imagePullPolice")
                .is_none()
        );
    }

    #[test]
    fn values_of_the_wrong_type_are_refused() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nope"}});
        let error = decode_typed::<Pod>(pod).unwrap_err();
        assert!(
            error
                .0
                .contains("invalid type: string \"nope\", expected a sequence"),
            "{error}"
        );
    }
}
