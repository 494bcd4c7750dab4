//! Bad manifests given to `wasmkube apply -f`: in each file a later document is bad, and
//! the apply must fail with an error naming the file, the document and the problem,
//! without panicking and without applying any of the file's documents.

use std::path::Path;

use crate::fails;
use crate::support::{Cluster, ok};

/// The document that spoils a file, and what the error must say about it.
struct BadDocument {
    /// Names the case and the objects of its good documents.
    case: &'static str,
    /// YAML, or JSON when the file is a JSON stream.
    text: String,
    json: bool,
    /// Expected in stderr; `{file}` stands for the file's name as the error gives it.
    problems: Vec<&'static str>,
}

/// The two good documents that precede every bad one: a ConfigMap in the default
/// namespace and a new Namespace, both named after the case.
fn good_documents(case: &str, json: bool) -> String {
    if json {
        format!(
            "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"{case}\"}}, \"data\": {{\"a\": \"b\"}}}}\n\
             {{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {{\"name\": \"{case}\"}}}}\n"
        )
    } else {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {case}}}\ndata: {{a: b}}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {{name: {case}}}\n---\n"
        )
    }
}

fn yaml(case: &'static str, text: &str, problems: Vec<&'static str>) -> BadDocument {
    BadDocument {
        case,
        text: text.to_string(),
        json: false,
        problems,
    }
}

/// A YAML document whose nine levels of nine aliases expand to 9^9 strings.
fn alias_bomb() -> String {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in levels.windows(2) {
        let (previous, level) = (pair[0], pair[1]);
        let aliases = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("  {level}: &{level} [{aliases}]\n"));
    }
    text
}

fn bad_documents() -> Vec<BadDocument> {
    let big_value = "x".repeat(3 * 1024 * 1024 + 512 * 1024);
    vec![
        yaml(
            "malformed-yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken\ndata: [\n",
            vec![
                "error: error parsing {file}: document 3: error converting YAML to JSON: yaml: did not find expected ',' or '}'",
            ],
        ),
        BadDocument {
            case: "malformed-json",
            text: r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "broken"},}"#
                .to_string(),
            json: true,
            problems: vec![
                "error: error parsing {file}: document 3: error converting JSON: trailing comma",
            ],
        },
        yaml(
            "not-an-object",
            "- apiVersion: v1\n- kind: ConfigMap\n",
            vec![
                "error: error validating \"{file}\": document 3: expected an object (a YAML mapping or JSON object)",
            ],
        ),
        yaml(
            "missing-kind",
            "apiVersion: v1\nmetadata: {name: kindless}\n",
            vec!["error: error validating \"{file}\": document 3: kind not set"],
        ),
        yaml(
            "unknown-kind",
            "apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n",
            vec![
                "error: resource mapping not found for name: \"g\" namespace: \"\" from \"{file}\" (document 3): no matches for kind \"Gizmo\" in version \"v1\"",
            ],
        ),
        yaml(
            "unserved-version",
            "apiVersion: apps/v9\nkind: Deployment\nmetadata: {name: d}\n",
            vec![
                "from \"{file}\" (document 3): no matches for kind \"Deployment\" in version \"apps/v9\"",
            ],
        ),
        yaml(
            "wrong-group",
            "apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n",
            vec![
                "from \"{file}\" (document 3): no matches for kind \"Deployment\" in version \"v1\"",
            ],
        ),
        yaml(
            "wrong-field-type",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: 5}\n",
            vec![
                "Error from server (BadRequest): error when applying \"{file}\" (document 3): Pod in version \"v1\" cannot be handled as a Pod: invalid type: integer `5`, expected a sequence",
            ],
        ),
        yaml(
            "invalid-pod",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: []}\n",
            vec![
                "Error from server (Invalid): error when applying \"{file}\" (document 3): Pod \"Bad_Name\" is invalid:",
                "metadata.name: Invalid value: \"Bad_Name\"",
                "spec.containers: Required value",
            ],
        ),
        // The pod goes into the namespace the second document creates.
        yaml(
            "invalid-in-new-namespace",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: invalid-in-new-namespace}\nspec: {containers: []}\n",
            vec![
                "Error from server (Invalid): error when applying \"{file}\" (document 3): Pod \"p\" is invalid: spec.containers: Required value",
            ],
        ),
        yaml(
            "missing-namespace",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: nowhere}\n",
            vec![
                "Error from server (NotFound): error when applying \"{file}\" (document 3): namespaces \"nowhere\" not found",
            ],
        ),
        BadDocument {
            case: "too-large",
            text: format!(
                "{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"big\"}}, \"data\": {{\"blob\": \"{big_value}\"}}}}"
            ),
            json: true,
            problems: vec![
                "error: error when applying \"{file}\" (document 3): Request entity too large:",
                "the limit is 3145728",
            ],
        },
        BadDocument {
            case: "alias-bomb",
            text: alias_bomb(),
            json: false,
            problems: vec![
                "error: error parsing {file}: document 3: error converting YAML to JSON: yaml: repetition limit exceeded",
            ],
        },
    ]
}

/// Asserts that none of the good documents of `case` was applied.
fn assert_nothing_applied(cluster: &Cluster, case: &str) {
    for kind in ["configmap", "namespace"] {
        let found = fails(cluster.wasmkube(&["get", kind, case, "-n", "default"]));
        assert!(
            found.contains(&format!("\"{case}\" not found")),
            "{case}: the {kind} of a refused file was applied: {found}"
        );
    }
}

fn assert_problems(case: &str, stderr: &str, file: &str, problems: &[&str]) {
    for problem in problems {
        let expected = problem.replace("{file}", file);
        assert!(
            stderr.contains(&expected),
            "{case}: stderr does not say {expected:?}:\n{stderr}"
        );
    }
}

#[test]
fn a_bad_later_document_refuses_the_whole_file_and_says_why() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let manifests = tempfile::tempdir().expect("temp dir");
    for bad in bad_documents() {
        let separator = if bad.json { "\n" } else { "" };
        let text = format!(
            "{}{separator}{}",
            good_documents(bad.case, bad.json),
            bad.text
        );
        let extension = if bad.json { "json" } else { "yaml" };
        let file = manifests.path().join(format!("{}.{extension}", bad.case));
        std::fs::write(&file, &text).expect("write manifest");
        let file = file.to_str().expect("utf-8 path");
        let stderr = fails(cluster.wasmkube(&["apply", "-f", file]));
        assert_problems(bad.case, &stderr, file, &bad.problems);
        assert_nothing_applied(&cluster, bad.case);

        // The same text on standard input is refused the same way, naming STDIN.
        let stderr = fails(cluster.wasmkube_with_input(&["apply", "-f", "-"], &text));
        assert_problems(bad.case, &stderr, "STDIN", &bad.problems);
        assert_nothing_applied(&cluster, bad.case);
    }
}

#[test]
fn a_bad_file_in_a_directory_refuses_the_other_files_too() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let directory = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        directory.path().join("a.yaml"),
        good_documents("from-a", false),
    )
    .expect("write a.yaml");
    let spoiled = format!(
        "{}apiVersion: v1\nkind: Gizmo\nmetadata: {{name: g}}\n",
        good_documents("from-b", false)
    );
    std::fs::write(directory.path().join("b.yaml"), spoiled).expect("write b.yaml");
    let path = directory.path().to_str().expect("utf-8 path");
    let stderr = fails(cluster.wasmkube(&["apply", "-f", path]));
    let file = Path::new(path).join("b.yaml");
    let expected = format!(
        "from \"{}\" (document 3): no matches for kind \"Gizmo\"",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_nothing_applied(&cluster, "from-a");
    assert_nothing_applied(&cluster, "from-b");
}

#[test]
fn a_refused_update_leaves_the_earlier_documents_unchanged() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::start(data_dir.path());
    let frozen = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {k: before}\n";
    let first = format!("{}{frozen}", good_documents("update", false));
    ok(cluster.wasmkube_with_input(&["apply", "-f", "-"], &first));

    let second = first
        .replace("a: b", "a: changed")
        .replace("k: before", "k: after");
    let stderr = fails(cluster.wasmkube_with_input(&["apply", "-f", "-"], &second));
    assert!(
        stderr.contains("Error from server (Invalid): error when applying \"STDIN\" (document 3): ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"),
        "{stderr}"
    );
    let data = ok(cluster.wasmkube(&[
        "get",
        "configmaps",
        "update",
        "frozen",
        "-o",
        "jsonpath={.items[*].data}",
    ]));
    assert_eq!(data, r#"{"a":"b"} {"k":"before"}"#);
}
