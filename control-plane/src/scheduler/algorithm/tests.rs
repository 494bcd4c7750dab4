use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use super::*;
use crate::scheduler::pod_info::PodKey;

fn merge(target: &mut Value, extra: &Value) {
    match (target, extra) {
        (Value::Object(target), Value::Object(extra)) => {
            for (key, value) in extra {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, extra) => *target = extra.clone(),
    }
}

fn node(name: &str, cpu: &str, extra: Value) -> Node {
    let mut node = json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "2"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    });
    merge(&mut node, &extra);
    serde_json::from_value(node).expect("a node")
}

fn pod(cpu: &str, spec: Value) -> Pod {
    let mut pod = json!({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]},
    });
    merge(&mut pod["spec"], &spec);
    serde_json::from_value(pod).expect("a pod")
}

fn bound(name: &str, node: &str, cpu: &str, spec: Value) -> Pod {
    let mut placed = pod(cpu, spec);
    placed.metadata.name = Some(name.to_owned());
    placed.spec.as_mut().expect("a spec").node_name = Some(node.to_owned());
    placed
}

fn cache_of(nodes: &[Node]) -> ClusterCache {
    let mut cache = ClusterCache::default();
    for node in nodes {
        cache.set_node(node);
    }
    cache
}

fn decide(pod: &Pod, cache: &ClusterCache) -> Result<String, String> {
    let incoming = IncomingPod::of(pod)
        .expect("a spec")
        .expect("valid requests");
    schedule(&incoming, cache, 0, &mut TieBreaker::seeded(7))
        .result
        .map_err(|error| error.to_string())
}

fn assume(cache: &mut ClusterCache, name: &str, node: &str, placed: &Pod) {
    let incoming = IncomingPod::of(placed)
        .expect("a spec")
        .expect("valid requests");
    let key = PodKey {
        namespace: "default".to_owned(),
        name: name.to_owned(),
    };
    cache.assume(key, node, incoming.requests, Arc::clone(&incoming.facts));
}

#[test]
fn the_message_counts_each_reason_over_the_nodes_like_kube_scheduler() {
    let cache = cache_of(&[
        node("a", "1", json!({})),
        node("b", "1", json!({})),
        node("c", "8", json!({"metadata": {"labels": {"zone": "west"}}})),
        node("d", "8", json!({"spec": {"unschedulable": true}})),
        node(
            "e",
            "8",
            json!({"spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}}),
        ),
        node(
            "f",
            "8",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
        ),
    ]);
    let picky = pod(
        "2",
        json!({"nodeSelector": {"kubernetes.io/hostname": "a"}}),
    );
    assert_eq!(
        decide(&picky, &cache),
        Err("0/6 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector, 2 node(s) had untolerated taint(s). preemption: 0/6 nodes are available: 1 No preemption victims found for incoming pod, 5 Preemption is not helpful for scheduling..".to_owned())
    );
    let tolerant = pod(
        "2",
        json!({"tolerations": [{"operator": "Exists"}], "nodeSelector": {"kubernetes.io/hostname": "d"}}),
    );
    assert_eq!(
        decide(&tolerant, &cache),
        Ok("d".to_owned()),
        "tolerating everything includes cordons"
    );
    assert_eq!(
        decide(&pod("1", json!({})), &ClusterCache::default()),
        Err("no nodes available to schedule pods".to_owned())
    );
}

#[test]
fn resources_fit_against_what_bound_pods_request() {
    let mut cache = cache_of(&[node("a", "1", json!({}))]);
    let mut first = bound("bound", "a", "600m", json!({}));
    first.spec.as_mut().expect("a spec").containers[0].resources = Some(
        serde_json::from_value(json!({"requests": {"cpu": "600m", "memory": "1Gi"}}))
            .expect("resources"),
    );
    cache.observe_pod(&first);
    let mut big = pod("500m", json!({}));
    big.spec.as_mut().expect("a spec").containers[0].resources = Some(
        serde_json::from_value(json!({"requests": {"cpu": "500m", "memory": "1"}}))
            .expect("resources"),
    );
    assert_eq!(
        decide(&big, &cache),
        Err("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..".to_owned())
    );
    assert_eq!(decide(&pod("400m", json!({})), &cache), Ok("a".to_owned()));
    cache.observe_pod(&bound("second", "a", "0", json!({})));
    assert_eq!(
        decide(&pod("0", json!({})), &cache),
        Err("0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..".to_owned())
    );
}

#[test]
fn preemption_reports_what_evicting_lower_priority_pods_would_not_fix() {
    let mut cache = cache_of(&[
        node("a", "1", json!({})),
        node("b", "4", json!({"spec": {"unschedulable": true}})),
    ]);
    cache.observe_pod(&bound("low", "a", "300m", json!({"priority": 10})));
    let huge = pod("2", json!({"priority": 100}));
    assert_eq!(
        decide(&huge, &cache),
        Err("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 Preemption is not helpful for scheduling..".to_owned()),
        "even without the low-priority pod, 2 cpus do not fit on node a"
    );
    let never = pod("2", json!({"priority": 100, "preemptionPolicy": "Never"}));
    assert_eq!(
        decide(&never, &cache),
        Err("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: not eligible due to preemptionPolicy=Never..".to_owned())
    );
    let would_preempt = pod("800m", json!({"priority": 100}));
    assert_eq!(
        decide(&would_preempt, &cache),
        Err(
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable.".to_owned()
        ),
        "Kubernetes would evict the low-priority pod here and add nothing to the message"
    );
}

#[test]
fn the_least_allocated_node_wins() {
    let mut cache = cache_of(&[node("b", "2", json!({})), node("a", "2", json!({}))]);
    let first = decide(&pod("500m", json!({})), &cache).expect("a node");
    assume(&mut cache, "first", &first, &pod("500m", json!({})));
    let second = decide(&pod("500m", json!({})), &cache).expect("a node");
    assert_ne!(first, second, "the emptier node wins");
    cache.set_node(&node("c", "4", json!({})));
    assert_eq!(decide(&pod("500m", json!({})), &cache), Ok("c".to_owned()));
}

#[test]
fn equal_nodes_share_the_pods_at_random() {
    // A pod of 10m on 32-cpu nodes changes no integer score for the first 30 pods or so:
    // only the random choice among equals spreads them.
    let nodes: Vec<Node> = (0..4)
        .map(|index| {
            node(
                &format!("n{index}"),
                "32",
                json!({"status": {"allocatable": {"pods": "500", "memory": "256Gi"}}}),
            )
        })
        .collect();
    let mut cache = cache_of(&nodes);
    let mut ties = TieBreaker::seeded(1);
    let small = pod("10m", json!({}));
    let incoming = IncomingPod::of(&small)
        .expect("a spec")
        .expect("valid requests");
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for index in 0..200 {
        let node = schedule(&incoming, &cache, 0, &mut ties)
            .result
            .expect("a node");
        *counts.entry(node.clone()).or_default() += 1;
        assume(&mut cache, &format!("p{index}"), &node, &small);
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|count| *count >= 30), "{counts:?}");
}

#[test]
fn balanced_allocation_breaks_what_least_allocated_leaves_even() {
    // With the pod, a would use 3/4 of its cpu and 1/4 of its memory, b half of each:
    // least-allocated scores both 50, balanced allocation gives a 75 and b 100.
    let mut cache = cache_of(&[
        node(
            "a",
            "4",
            json!({"status": {"allocatable": {"memory": "4Gi"}}}),
        ),
        node(
            "b",
            "4",
            json!({"status": {"allocatable": {"memory": "4Gi"}}}),
        ),
    ]);
    let memory_heavy = |cpu: &str, memory: &str| json!({"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]});
    cache.observe_pod(&bound("cpu-user", "a", "2", memory_heavy("2", "0")));
    cache.observe_pod(&bound("even-user", "b", "1", memory_heavy("1", "1Gi")));
    let incoming = pod("1", memory_heavy("1", "1Gi"));
    assert_eq!(decide(&incoming, &cache), Ok("b".to_owned()));
}

#[test]
fn preferred_node_affinity_and_prefer_no_schedule_taints_weigh_in() {
    let cache = cache_of(&[
        node(
            "a",
            "2",
            json!({"spec": {"taints": [{"key": "spot", "effect": "PreferNoSchedule"}]}, "metadata": {"labels": {"disk": "ssd"}}}),
        ),
        node("b", "2", json!({"metadata": {"labels": {"disk": "hdd"}}})),
    ]);
    let mut wants_ssd = json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
    ]}}});
    // TaintToleration weighs 3, NodeAffinity 2: the untolerated taint wins.
    assert_eq!(
        decide(&pod("100m", wants_ssd.clone()), &cache),
        Ok("b".to_owned())
    );
    wants_ssd["tolerations"] = json!([{"key": "spot", "operator": "Exists"}]);
    assert_eq!(decide(&pod("100m", wants_ssd), &cache), Ok("a".to_owned()));
    let wants_hdd = json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["hdd"]}]}},
    ]}}});
    assert_eq!(decide(&pod("100m", wants_hdd), &cache), Ok("b".to_owned()));
}

#[test]
fn pods_pinned_by_node_name_affinity_count_the_other_nodes_as_left_out() {
    let cache = cache_of(&[
        node("a", "1", json!({})),
        node("b", "1", json!({})),
        node("c", "1", json!({})),
    ]);
    let daemon = |cpu: &str, names: Value| {
        pod(
            cpu,
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": names}]}],
            }}}}),
        )
    };
    assert_eq!(
        decide(&daemon("100m", json!(["b"])), &cache),
        Ok("b".to_owned())
    );
    assert_eq!(
        decide(&daemon("2", json!(["b"])), &cache),
        Err("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling..".to_owned())
    );
    let conflicting = pod(
        "100m",
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["a"]},
                {"key": "metadata.name", "operator": "In", "values": ["b"]},
            ]}],
        }}}}),
    );
    assert_eq!(
        decide(&conflicting, &cache),
        Err("0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..".to_owned())
    );
}

#[test]
fn required_anti_affinity_spreads_replicas_and_says_why_when_it_cannot() {
    let mut cache = cache_of(&[node("a", "2", json!({})), node("b", "2", json!({}))]);
    let replica = || {
        let mut replica = pod(
            "100m",
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"},
            ]}}}),
        );
        replica.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
        replica
    };
    let first = decide(&replica(), &cache).expect("a node");
    assume(&mut cache, "web-1", &first, &replica());
    let second = decide(&replica(), &cache).expect("the other node");
    assert_ne!(first, second);
    assume(&mut cache, "web-2", &second, &replica());
    assert_eq!(
        decide(&replica(), &cache),
        Err("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..".to_owned())
    );
    // The placed replicas' anti-affinity keeps away any pod it selects, terms or not.
    let mut plain = pod("100m", json!({}));
    plain.metadata.labels = Some([("app".to_owned(), "web".to_owned())].into());
    assert_eq!(
        decide(&plain, &cache),
        Err("0/2 nodes are available: 2 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..".to_owned())
    );
    plain.metadata.labels = Some([("app".to_owned(), "db".to_owned())].into());
    assert!(
        decide(&plain, &cache).is_ok(),
        "a pod the terms do not select goes anywhere"
    );
}

#[test]
fn large_clusters_look_at_a_share_of_the_nodes_from_a_rotating_start() {
    assert_eq!(feasible_nodes_to_find(50), 50);
    assert_eq!(feasible_nodes_to_find(100), 100);
    assert_eq!(feasible_nodes_to_find(1000), 420);
    assert_eq!(feasible_nodes_to_find(5000), 500);
    assert_eq!(feasible_nodes_to_find(10_000), 500);
    let nodes: Vec<Node> = (0..300)
        .map(|index| node(&format!("n{index:03}"), "2", json!({})))
        .collect();
    let cache = cache_of(&nodes);
    let incoming_pod = pod("100m", json!({}));
    let incoming = IncomingPod::of(&incoming_pod)
        .expect("a spec")
        .expect("valid requests");
    let mut ties = TieBreaker::seeded(3);
    let first = schedule(&incoming, &cache, 0, &mut ties);
    assert_eq!(first.processed_nodes, 144, "(50 - 300/125)% of 300 nodes");
    let chosen = first.result.expect("a node");
    assert!(chosen.as_str() < "n144", "{chosen} is among the first 144");
    let next = schedule(&incoming, &cache, 144, &mut ties)
        .result
        .expect("a node");
    assert!(
        ("n144".."n288").contains(&next.as_str()),
        "{next} is among the next 144"
    );
}
