//! Strategic merge patches on kinds other than Pod: pod templates in
//! workloads, Service ports, Node lists, metadata merge lists and unknown kinds.

use serde_json::{Value, json};
use wasmkube_patch::strategic_merge_patch;

fn template_with_containers(containers: Value) -> Value {
    json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}})
}

#[test]
fn deployment_template_containers_merge_by_name() {
    let original = json!({
        "kind": "Deployment",
        "spec": {
            "replicas": 1,
            "template": template_with_containers(json!([
                {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]},
                {"name": "proxy", "image": "proxy:1"}
            ]))
        }
    });
    let patch = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "2"}]}
    ]}}}});
    let result = strategic_merge_patch("Deployment", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({
            "kind": "Deployment",
            "spec": {
                "replicas": 3,
                "template": template_with_containers(json!([
                    {"name": "app", "image": "app:2", "env": [{"name": "A", "value": "2"}]},
                    {"name": "proxy", "image": "proxy:1"}
                ]))
            }
        })
    );
}

#[test]
fn cron_job_job_template_containers_merge_by_name() {
    let original = json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template":
        template_with_containers(json!([
            {"name": "worker", "image": "worker:1", "args": ["--once"]},
            {"name": "logger", "image": "logger:1"}
        ]))
    }}}});
    let patch = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
        {"name": "worker", "image": "worker:2"},
        {"name": "logger", "$patch": "delete"}
    ]}}}}}});
    let result = strategic_merge_patch("CronJob", &original, &patch).expect("patch applies");
    assert_eq!(
        result["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"],
        json!([{"name": "worker", "image": "worker:2", "args": ["--once"]}])
    );
}

#[test]
fn stateful_set_and_job_templates_merge_and_status_conditions_merge_by_type() {
    for kind in ["StatefulSet", "DaemonSet", "ReplicaSet", "Job"] {
        let original = json!({
            "spec": {"template": template_with_containers(json!([{"name": "a"}, {"name": "b"}]))},
            "status": {"conditions": [{"type": "Complete", "status": "False"}]}
        });
        let patch = json!({
            "spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}]}}},
            "status": {"conditions": [{"type": "Failed", "status": "True"}]}
        });
        let result = strategic_merge_patch(kind, &original, &patch).expect("patch applies");
        assert_eq!(
            result,
            json!({
                "spec": {"template": template_with_containers(json!([{"name": "a"}, {"name": "b", "image": "b:2"}]))},
                "status": {"conditions": [
                    {"type": "Failed", "status": "True"},
                    {"type": "Complete", "status": "False"}
                ]}
            }),
            "{kind}"
        );
    }
}

#[test]
fn service_ports_merge_by_port() {
    let original = json!({"spec": {"ports": [
        {"name": "http", "port": 80, "targetPort": 80},
        {"name": "https", "port": 443}
    ]}});
    let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
    let result = strategic_merge_patch("Service", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {"ports": [
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443}
        ]}})
    );
}

#[test]
fn node_addresses_merge_by_type_and_taints_are_replaced() {
    let original = json!({
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.0.0.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}]}
    });
    let patch = json!({
        "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}]}
    });
    let result = strategic_merge_patch("Node", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}], "podCIDRs": ["10.0.0.0/24"]},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}]}
        })
    );
}

#[test]
fn owner_references_merge_by_uid_in_any_kind() {
    let original = json!({"metadata": {"ownerReferences": [
        {"uid": "1", "kind": "ReplicaSet", "name": "rs-a"},
        {"uid": "2", "kind": "ReplicaSet", "name": "rs-b"}
    ]}});
    let patch = json!({"metadata": {"ownerReferences": [{"uid": "2", "controller": true}]}});
    let result = strategic_merge_patch("ConfigMap", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"metadata": {"ownerReferences": [
            {"uid": "1", "kind": "ReplicaSet", "name": "rs-a"},
            {"uid": "2", "kind": "ReplicaSet", "name": "rs-b", "controller": true}
        ]}})
    );
}

#[test]
fn service_account_secrets_merge_by_name() {
    let original = json!({"secrets": [{"name": "token-a"}]});
    let patch = json!({"secrets": [{"name": "token-b"}]});
    let result = strategic_merge_patch("ServiceAccount", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"secrets": [{"name": "token-b"}, {"name": "token-a"}]})
    );
}

#[test]
fn lists_of_a_kind_without_merge_lists_are_replaced() {
    let original = json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    let patch =
        json!({"rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["list"]}]});
    let result = strategic_merge_patch("ClusterRole", &original, &patch).expect("patch applies");
    assert_eq!(result, patch);
}

#[test]
fn unknown_kinds_replace_lists_but_honour_map_directives() {
    let original = json!({"spec": {
        "items": [{"name": "a"}],
        "settings": {"x": 1, "y": 2},
        "extra": {"keep": true}
    }});
    let patch = json!({"spec": {
        "items": [{"name": "b"}],
        "settings": {"$patch": "replace", "z": 3},
        "extra": {"more": null, "added": 1}
    }});
    let result = strategic_merge_patch("Widget", &original, &patch).expect("patch applies");
    assert_eq!(
        result,
        json!({"spec": {
            "items": [{"name": "b"}],
            "settings": {"z": 3},
            "extra": {"keep": true, "added": 1}
        }})
    );
}
