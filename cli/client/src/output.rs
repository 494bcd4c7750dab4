//! The `-o` formats shared by get and its watch: how objects print as YAML, JSON, names
//! or a jsonpath template.

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::ClientError;
use crate::jsonpath::render_jsonpath;
use crate::manifests::metadata_string;
use crate::resolve::DiscoveredResource;

/// The parsed `-o` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Wide,
    Yaml,
    Json,
    Name,
    JsonPath(String),
}

impl OutputFormat {
    pub fn parse(flag: Option<&str>) -> Result<Self, ClientError> {
        let Some(flag) = flag else {
            return Ok(OutputFormat::Table);
        };
        if let Some(template) = flag.strip_prefix("jsonpath=") {
            return Ok(OutputFormat::JsonPath(
                strip_matching_quotes(template).to_string(),
            ));
        }
        match flag {
            "" => Ok(OutputFormat::Table),
            "wide" => Ok(OutputFormat::Wide),
            "yaml" => Ok(OutputFormat::Yaml),
            "json" => Ok(OutputFormat::Json),
            "name" => Ok(OutputFormat::Name),
            other => Err(ClientError::Usage(format!(
                "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,jsonpath,name,wide,yaml"
            ))),
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, OutputFormat::Table | OutputFormat::Wide)
    }
}

/// Shells pass `jsonpath='{...}'` through unchanged when quoted oddly; kubectl strips one
/// pair of surrounding quotes too.
fn strip_matching_quotes(template: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = template
            .strip_prefix(quote)
            .and_then(|text| text.strip_suffix(quote))
        {
            return inner;
        }
    }
    template
}

/// JSON the way kubectl prints it: four-space indentation and a final newline.
pub fn to_kubectl_json(value: &Value) -> String {
    let mut buffer = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffer, formatter);
    // Serializing a Value into memory cannot fail: its keys are always strings.
    let _ = value.serialize(&mut serializer);
    let mut text = String::from_utf8_lossy(&buffer).into_owned();
    text.push('\n');
    text
}

pub fn to_kubectl_yaml(value: &Value) -> Result<String, ClientError> {
    serde_yaml::to_string(value)
        .map_err(|error| ClientError::Usage(format!("printing YAML: {error}")))
}

/// `deployment.apps/web`, the `-o name` form.
pub fn object_reference(resource: &DiscoveredResource, object: &Value) -> String {
    format!(
        "{}/{}",
        resource.qualified_kind(),
        metadata_string(object, "name")
    )
}

/// Wraps objects in the `kind: List` kubectl prints for several objects.
pub fn list_of(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

/// List responses leave `apiVersion` and `kind` off their items; kubectl fills them in.
pub fn with_type_meta(resource: &DiscoveredResource, mut object: Value) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(resource.api_version()));
        map.entry("kind")
            .or_insert_with(|| Value::String(resource.kind.clone()));
    }
    object
}

/// Prints one value (an object or a List) in a non-table format.
pub fn render_value(format: &OutputFormat, value: &Value) -> Result<String, ClientError> {
    match format {
        OutputFormat::Json => Ok(to_kubectl_json(value)),
        OutputFormat::Yaml => to_kubectl_yaml(value),
        OutputFormat::JsonPath(template) => {
            render_jsonpath(template, value).map_err(|error| ClientError::Usage(error.to_string()))
        }
        OutputFormat::Table | OutputFormat::Wide | OutputFormat::Name => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::sample_catalog;

    #[test]
    fn output_flags_parse_like_kubectl() {
        assert_eq!(OutputFormat::parse(None).ok(), Some(OutputFormat::Table));
        assert_eq!(
            OutputFormat::parse(Some("wide")).ok(),
            Some(OutputFormat::Wide)
        );
        assert_eq!(
            OutputFormat::parse(Some("jsonpath='{.metadata.name}'")).ok(),
            Some(OutputFormat::JsonPath("{.metadata.name}".to_string()))
        );
        assert_eq!(
            OutputFormat::parse(Some("xml"))
                .err()
                .map(|error| error.to_string())
                .as_deref(),
            Some(
                "error: unable to match a printer suitable for the output format \"xml\", allowed formats are: json,jsonpath,name,wide,yaml"
            )
        );
    }

    #[test]
    fn name_output_uses_the_lower_case_kind_and_group() {
        let catalog = sample_catalog();
        let object = json!({"metadata": {"name": "web"}});
        let deployment = catalog
            .resolve_type_name("deploy")
            .map(|resource| object_reference(resource, &object));
        assert_eq!(deployment.ok().as_deref(), Some("deployment.apps/web"));
        let pod = catalog
            .resolve_type_name("po")
            .map(|resource| object_reference(resource, &object));
        assert_eq!(pod.ok().as_deref(), Some("pod/web"));
    }

    #[test]
    fn json_uses_four_spaces_and_lists_get_type_meta_on_items() {
        let catalog = sample_catalog();
        let items: Vec<Value> = catalog
            .resolve_type_name("cm")
            .map(|resource| vec![with_type_meta(resource, json!({"metadata": {"name": "a"}}))])
            .unwrap_or_default();
        assert_eq!(
            to_kubectl_json(&list_of(items)),
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        {\n            \"apiVersion\": \"v1\",\n            \"kind\": \"ConfigMap\",\n            \"metadata\": {\n                \"name\": \"a\"\n            }\n        }\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        );
    }

    #[test]
    fn yaml_lists_are_not_indented_under_their_key_like_kubectl() {
        let value = json!({"kind": "Pod", "spec": {"containers": [{"name": "c", "image": "x"}]}});
        assert_eq!(
            to_kubectl_yaml(&value).ok().as_deref(),
            Some("kind: Pod\nspec:\n  containers:\n  - image: x\n    name: c\n")
        );
    }
}
