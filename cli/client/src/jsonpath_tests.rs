use serde_json::json;

use super::*;

fn pod_list() -> Value {
    json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"metadata": {"name": "a", "labels": {"app": "web"},
                          "annotations": {"kubectl.kubernetes.io/restartedAt": "now"}},
             "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "True"}]}},
            {"metadata": {"name": "b", "labels": {"app": "db"}},
             "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
        ]
    })
}

fn render(template: &str) -> String {
    render_jsonpath(template, &pod_list()).unwrap_or_else(|error| format!("ERROR {error}"))
}

#[test]
fn a_simple_field_prints_its_value() {
    assert_eq!(render("{.kind}"), "List");
    assert_eq!(render("{.items[0].metadata.name}"), "a");
    assert_eq!(render("{.items[-1].metadata.name}"), "b");
}

#[test]
fn several_results_are_joined_with_spaces() {
    assert_eq!(render("{.items[*].metadata.name}"), "a b");
}

#[test]
fn range_repeats_its_body_with_relative_paths() {
    assert_eq!(
        render("{range .items[*]}{.metadata.name}{\"\\t\"}{.metadata.labels.app}{\"\\n\"}{end}"),
        "a\tweb\nb\tdb\n"
    );
}

#[test]
fn literal_text_around_actions_is_kept() {
    assert_eq!(
        render("names: {.items[0].metadata.name}, {.items[1].metadata.name}!"),
        "names: a, b!"
    );
}

#[test]
fn filters_and_escaped_dots_work() {
    assert_eq!(
        render("{.items[*].status.conditions[?(@.type==\"Ready\")].status}"),
        "True False"
    );
    assert_eq!(
        render("{.items[0].metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}"),
        "now"
    );
}

#[test]
fn maps_print_as_json_and_missing_keys_print_nothing() {
    assert_eq!(render("{.items[0].metadata.labels}"), "{\"app\":\"web\"}");
    assert_eq!(render("[{.items[0].spec.nodeName}]"), "[]");
}

#[test]
fn recursive_descent_finds_every_name() {
    assert_eq!(render("{..app}"), "web db");
}

#[test]
fn template_errors_are_reported() {
    assert_eq!(
        render("{.kind"),
        "ERROR error parsing jsonpath {.kind, unclosed action"
    );
    assert_eq!(
        render("{end}"),
        "ERROR error parsing jsonpath {end}, not in range, nothing to end"
    );
    assert_eq!(
        render("{range .items[*]}x"),
        "ERROR error parsing jsonpath {range .items[*]}x, unclosed range"
    );
    assert!(render("{.items[?(@.x==}").starts_with("ERROR error parsing jsonpath"));
}

#[test]
fn translation_to_rfc_9535() {
    assert_eq!(translate_path(".a.b[0]").as_deref(), Ok("$['a']['b'][0]"));
    assert_eq!(
        translate_path(".items[*].x").as_deref(),
        Ok("$['items'][*]['x']")
    );
    assert_eq!(translate_path(".a.*").as_deref(), Ok("$['a'][*]"));
    assert_eq!(translate_path("..name").as_deref(), Ok("$..['name']"));
    assert_eq!(translate_path(".it's").as_deref(), Ok("$['it\\'s']"));
}
