use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2024-05-01T10:00:00Z".parse().unwrap()
}

fn template() -> Value {
    json!({
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "exporter", "image": "prom/nginx-exporter"}]}
    })
}

#[test]
fn deployment_shows_ready_over_desired_up_to_date_and_available() {
    let deployment = json!({
        "kind": "Deployment",
        "metadata": {"name": "web", "creationTimestamp": "2024-04-30T10:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        deployment_cells(&deployment, now()),
        [
            json!("web"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("24h"),
            json!("nginx,exporter"),
            json!("nginx:1.25,prom/nginx-exporter"),
            json!("app=web")
        ]
    );
}

#[test]
fn deployment_without_status_or_selector() {
    let deployment = json!({"metadata": {"name": "new"}, "spec": {"replicas": 0}});
    assert_eq!(
        deployment_cells(&deployment, now()),
        [
            json!("new"),
            json!("0/0"),
            json!(0),
            json!(0),
            json!("<unknown>"),
            json!(""),
            json!(""),
            json!("")
        ]
    );
    let invalid =
        json!({"spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}});
    assert_eq!(deployment_cells(&invalid, now())[1], json!("0/0"));
    assert_eq!(deployment_cells(&invalid, now())[7], json!("<invalid>"));
}

#[test]
fn replica_set_shows_desired_current_ready_as_integers() {
    let replica_set = json!({
        "metadata": {"name": "web-5d9c7b8f4", "creationTimestamp": "2024-05-01T09:58:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d9c7b8f4"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 1}
    });
    assert_eq!(
        replica_set_cells(&replica_set, now()),
        [
            json!("web-5d9c7b8f4"),
            json!(3),
            json!(3),
            json!(1),
            json!("2m"),
            json!("nginx,exporter"),
            json!("nginx:1.25,prom/nginx-exporter"),
            json!("app=web,pod-template-hash=5d9c7b8f4")
        ]
    );
    assert_eq!(replica_set_cells(&json!({}), now())[7], json!("<none>"));
}

#[test]
fn daemon_set_shows_scheduling_counts_and_node_selector() {
    let daemon_set = json!({
        "metadata": {"name": "node-exporter", "creationTimestamp": "2024-04-21T10:00:00Z"},
        "spec": {
            "selector": {"matchLabels": {"app": "node-exporter"}},
            "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                  "containers": [{"name": "exporter", "image": "prom/node-exporter"}]}}
        },
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}
    });
    assert_eq!(
        daemon_set_cells(&daemon_set, now()),
        [
            json!("node-exporter"),
            json!(3),
            json!(3),
            json!(2),
            json!(3),
            json!(2),
            json!("kubernetes.io/os=linux"),
            json!("10d"),
            json!("exporter"),
            json!("prom/node-exporter"),
            json!("app=node-exporter")
        ]
    );
    assert_eq!(daemon_set_cells(&json!({}), now())[6], json!("<none>"));
}

#[test]
fn stateful_set_shows_ready_over_desired() {
    let stateful_set = json!({
        "metadata": {"name": "db", "creationTimestamp": "2024-05-01T09:00:00Z"},
        "spec": {"replicas": 2, "serviceName": "db", "template": {"spec": {"containers": [{"name": "postgres", "image": "postgres:16"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        stateful_set_cells(&stateful_set, now()),
        [
            json!("db"),
            json!("1/2"),
            json!("60m"),
            json!("postgres"),
            json!("postgres:16")
        ]
    );
}

#[test]
fn workload_columns_match_kubernetes() {
    let names = |columns: Vec<ColumnDefinition>| -> Vec<(&'static str, &'static str, i32)> {
        columns
            .iter()
            .map(|column| (column.name, column.column_type, column.priority))
            .collect()
    };
    assert_eq!(
        names(deployment_columns()),
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1)
        ]
    );
    assert_eq!(
        names(daemon_set_columns())
            .iter()
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>(),
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        names(stateful_set_columns()),
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1)
        ]
    );
}
