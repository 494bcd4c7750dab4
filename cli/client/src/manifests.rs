//! Reading the objects named by `-f`: files, directories, standard input; multi-document
//! YAML, JSON streams and `kind: List` wrappers. Every document is parsed and checked
//! before a verb acts on any of them, so one bad document stops the whole invocation.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// One object read from a manifest, with where it came from for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    /// The file name as the user wrote it, or `STDIN`.
    pub source: String,
    /// The 1-based position of the document in its file.
    pub document: usize,
    /// The 1-based position inside a `kind: List` document, if the object came from one.
    pub list_item: Option<usize>,
    pub object: Value,
}

impl ManifestObject {
    pub fn api_version(&self) -> &str {
        self.object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        metadata_string(&self.object, "name")
    }

    pub fn namespace(&self) -> &str {
        metadata_string(&self.object, "namespace")
    }

    /// "document 2" or "document 2, list item 1", for error messages.
    pub fn location(&self) -> String {
        describe_location(self.document, self.list_item)
    }
}

fn describe_location(document: usize, list_item: Option<usize>) -> String {
    match list_item {
        Some(item) => format!("document {document}, list item {item}"),
        None => format!("document {document}"),
    }
}

/// Reads a string field of `metadata`, empty when absent.
pub fn metadata_string<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Why the manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the path \"{path}\" does not exist")]
    PathDoesNotExist { path: String },
    #[error("error reading {path}: {message}")]
    Read { path: String, message: String },
    #[error("error parsing {source_name}: document {document}: {message}")]
    Parse {
        source_name: String,
        document: usize,
        message: String,
    },
    #[error("error validating \"{source_name}\": {location}: {problem}")]
    Invalid {
        source_name: String,
        location: String,
        problem: String,
    },
}

/// Loads every object named by the `-f` arguments, in order. `-` reads `stdin`.
pub fn load_manifests(
    paths: &[String],
    stdin: &mut dyn Read,
) -> Result<Vec<ManifestObject>, ManifestError> {
    let mut objects = Vec::new();
    for path in paths {
        if path == "-" {
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .map_err(|error| ManifestError::Read {
                    path: "STDIN".to_string(),
                    message: error.to_string(),
                })?;
            objects.extend(parse_manifest_text("STDIN", &text)?);
            continue;
        }
        for file in files_for_path(path)? {
            let source_name = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|error| ManifestError::Read {
                path: source_name.clone(),
                message: error.to_string(),
            })?;
            objects.extend(parse_manifest_text(&source_name, &text)?);
        }
    }
    Ok(objects)
}

/// A file is itself; a directory is its `.yaml`, `.yml` and `.json` files sorted by name
/// (not recursive, like kubectl without `-R`).
fn files_for_path(path: &str) -> Result<Vec<PathBuf>, ManifestError> {
    let path_buf = PathBuf::from(path);
    let metadata = std::fs::metadata(&path_buf).map_err(|_| ManifestError::PathDoesNotExist {
        path: path.to_string(),
    })?;
    if !metadata.is_dir() {
        return Ok(vec![path_buf]);
    }
    let entries = std::fs::read_dir(&path_buf).map_err(|error| ManifestError::Read {
        path: path.to_string(),
        message: error.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| ManifestError::Read {
            path: path.to_string(),
            message: error.to_string(),
        })?;
        let file = entry.path();
        if file.is_file() && has_manifest_extension(&file) {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

fn has_manifest_extension(file: &Path) -> bool {
    matches!(
        file.extension().and_then(|extension| extension.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Parses one file's text: a JSON stream when it starts with `{` (kubectl's
/// YAMLOrJSONDecoder sniffs the same way), otherwise multi-document YAML. Empty documents
/// are skipped; List documents are flattened; every object is validated.
pub fn parse_manifest_text(
    source_name: &str,
    text: &str,
) -> Result<Vec<ManifestObject>, ManifestError> {
    let documents = if text.trim_start().starts_with('{') {
        parse_json_stream(source_name, text)?
    } else {
        parse_yaml_documents(source_name, text)?
    };
    let mut objects = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let document_number = index + 1;
        if document.is_null() {
            continue;
        }
        let candidates = flatten_list(source_name, document_number, document)?;
        for candidate in candidates {
            validate_object(source_name, &candidate)?;
            objects.push(candidate);
        }
    }
    Ok(objects)
}

fn parse_json_stream(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut documents = Vec::new();
    for (index, document) in serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .enumerate()
    {
        documents.push(document.map_err(|error| ManifestError::Parse {
            source_name: source_name.to_string(),
            document: index + 1,
            message: format!("error converting JSON: {error}"),
        })?);
    }
    Ok(documents)
}

/// serde_yaml enforces a limit on alias expansion, so "billion laughs" documents fail
/// here with an error instead of exhausting memory.
fn parse_yaml_documents(source_name: &str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut documents = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document).map_err(|error| ManifestError::Parse {
            source_name: source_name.to_string(),
            document: index + 1,
            message: format!("error converting YAML to JSON: yaml: {error}"),
        })?;
        documents.push(value);
    }
    Ok(documents)
}

/// A `kind: List` (or any `...List` with `items`) stands for its items.
fn flatten_list(
    source_name: &str,
    document: usize,
    value: Value,
) -> Result<Vec<ManifestObject>, ManifestError> {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        return Ok(vec![ManifestObject {
            source: source_name.to_string(),
            document,
            list_item: None,
            object: value,
        }]);
    }
    let items = match value {
        Value::Object(mut map) => map.remove("items"),
        _ => None,
    };
    let Some(Value::Array(items)) = items else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| ManifestObject {
            source: source_name.to_string(),
            document,
            list_item: Some(index + 1),
            object: item,
        })
        .collect())
}

fn validate_object(source_name: &str, candidate: &ManifestObject) -> Result<(), ManifestError> {
    let invalid = |problem: &str| ManifestError::Invalid {
        source_name: source_name.to_string(),
        location: candidate.location(),
        problem: problem.to_string(),
    };
    if !candidate.object.is_object() {
        return Err(invalid(
            "expected an object (a YAML mapping or JSON object)",
        ));
    }
    match (
        candidate.api_version().is_empty(),
        candidate.kind().is_empty(),
    ) {
        (true, true) => Err(invalid("apiVersion not set, kind not set")),
        (true, false) => Err(invalid("apiVersion not set")),
        (false, true) => Err(invalid("kind not set")),
        (false, false) => Ok(()),
    }
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;
