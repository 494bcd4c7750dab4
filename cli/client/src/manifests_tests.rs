use std::io::Cursor;

use serde_json::json;

use super::*;

fn parse(text: &str) -> Result<Vec<ManifestObject>, ManifestError> {
    parse_manifest_text("app.yaml", text)
}

fn error_text(result: Result<Vec<ManifestObject>, ManifestError>) -> String {
    match result {
        Ok(objects) => format!("unexpectedly parsed {} objects", objects.len()),
        Err(error) => error.to_string(),
    }
}

#[test]
fn multi_document_yaml_skips_empty_documents_and_keeps_positions() {
    let text = "---\n# only a comment\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
    let objects = parse(text).expect("valid manifest");
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0].document, 2);
    assert_eq!(
        objects[0].object,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}})
    );
    assert_eq!(objects[1].document, 4);
    assert_eq!(objects[1].kind(), "Deployment");
    assert_eq!(objects[1].name(), "web");
}

#[test]
fn a_list_document_is_flattened_into_its_items() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: two, namespace: x}\n";
    let objects = parse(text).expect("valid list");
    let names: Vec<&str> = objects.iter().map(ManifestObject::name).collect();
    assert_eq!(names, vec!["one", "two"]);
    assert_eq!(objects[1].namespace(), "x");
    assert_eq!(objects[1].list_item, Some(2));
    assert_eq!(objects[1].location(), "document 1, list item 2");
}

#[test]
fn a_json_stream_holds_several_objects() {
    let text = r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}"#;
    let objects = parse_manifest_text("ns.json", text).expect("valid json");
    assert_eq!(
        objects.iter().map(ManifestObject::name).collect::<Vec<_>>(),
        vec!["a", "b"]
    );
    assert_eq!(objects[1].document, 2);
}

#[test]
fn malformed_yaml_names_the_file_document_and_line() {
    let text = "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: [\n";
    let message = error_text(parse(text));
    assert!(
        message.starts_with(
            "error parsing app.yaml: document 2: error converting YAML to JSON: yaml: "
        ),
        "{message}"
    );
    assert!(message.contains("line 8"), "{message}");
}

#[test]
fn malformed_json_names_the_file_and_document() {
    let message = error_text(parse_manifest_text(
        "x.json",
        "{\"apiVersion\": \"v1\", \"kind\": }",
    ));
    assert!(
        message.starts_with("error parsing x.json: document 1: error converting JSON: "),
        "{message}"
    );
}

#[test]
fn missing_kind_or_api_version_is_rejected_with_its_position() {
    let missing_kind = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nmetadata: {name: b}\n";
    assert_eq!(
        error_text(parse(missing_kind)),
        "error validating \"app.yaml\": document 2: kind not set"
    );
    assert_eq!(
        error_text(parse("kind: Pod\n")),
        "error validating \"app.yaml\": document 1: apiVersion not set"
    );
    assert_eq!(
        error_text(parse("metadata: {name: a}\n")),
        "error validating \"app.yaml\": document 1: apiVersion not set, kind not set"
    );
}

#[test]
fn a_scalar_document_is_not_an_object() {
    assert_eq!(
        error_text(parse("just a string\n")),
        "error validating \"app.yaml\": document 1: expected an object (a YAML mapping or JSON object)"
    );
}

#[test]
fn a_yaml_alias_bomb_is_rejected_instead_of_expanded() {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        text.push_str(&format!("{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"));
    }
    let message = error_text(parse(&text));
    assert!(
        message.starts_with("error parsing app.yaml: document 1:"),
        "{message}"
    );
    assert!(message.contains("repetition limit exceeded"), "{message}");
}

#[test]
fn directories_contribute_their_manifest_files_in_name_order() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let write =
        |name: &str, body: &str| std::fs::write(directory.path().join(name), body).expect("write");
    write(
        "b.yml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: second}\n",
    );
    write(
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: first}\n",
    );
    write(
        "c.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"third\"}}",
    );
    write("notes.txt", "not a manifest");
    let path = directory.path().display().to_string();
    let objects = load_manifests(&[path], &mut Cursor::new(Vec::new())).expect("valid directory");
    assert_eq!(
        objects.iter().map(ManifestObject::name).collect::<Vec<_>>(),
        vec!["first", "second", "third"]
    );
    assert!(objects[0].source.ends_with("a.yaml"));
}

#[test]
fn a_dash_reads_standard_input() {
    let mut stdin =
        Cursor::new(b"apiVersion: v1\nkind: Namespace\nmetadata: {name: from-stdin}\n".to_vec());
    let objects = load_manifests(&["-".to_string()], &mut stdin).expect("valid stdin");
    assert_eq!(objects[0].source, "STDIN");
    assert_eq!(objects[0].name(), "from-stdin");
}

#[test]
fn a_missing_path_reads_like_kubectl() {
    let result = load_manifests(
        &["/nonexistent/app.yaml".to_string()],
        &mut Cursor::new(Vec::new()),
    );
    assert_eq!(
        error_text(result),
        "the path \"/nonexistent/app.yaml\" does not exist"
    );
}
