use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use kube::ResourceExt;
use serde_json::json;

use super::*;

fn service() -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "service-uid", "labels": {"app": "web"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
    }))
    .expect("a service")
}

fn http() -> Vec<EndpointPort> {
    vec![EndpointPort {
        name: Some("http".to_owned()),
        port: Some(8080),
        protocol: Some("TCP".to_owned()),
        app_protocol: None,
    }]
}

fn endpoint(index: usize) -> Endpoint {
    serde_json::from_value(json!({
        "addresses": [format!("10.244.{}.{}", index / 200, index % 200 + 2)],
        "conditions": {"ready": true, "serving": true, "terminating": false},
        "nodeName": "node-1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": format!("web-{index}"), "uid": format!("uid-{index}")},
    }))
    .expect("an endpoint")
}

fn wanted(
    ports: Vec<EndpointPort>,
    indexes: impl IntoIterator<Item = usize>,
) -> BTreeMap<PortKey, PortGroup> {
    let endpoints = indexes
        .into_iter()
        .map(endpoint)
        .map(|endpoint| (endpoint_key(&endpoint), endpoint))
        .collect();
    BTreeMap::from([(port_key(&ports), PortGroup { ports, endpoints })])
}

/// A slice as the API server returns one made from `planned`.
fn stored(mut planned: EndpointSlice, name: &str) -> EndpointSlice {
    planned.metadata.name = Some(name.to_owned());
    planned.metadata.resource_version = Some("7".to_owned());
    planned.metadata.uid = Some(format!("{name}-uid"));
    planned
}

fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
    slices.iter().map(|slice| slice.endpoints.len()).collect()
}

#[test]
fn endpoints_are_split_into_slices_of_at_most_the_maximum() {
    let plan = plan_address_type(&service(), "IPv4", Vec::new(), wanted(http(), 0..250), 100);
    assert_eq!(sizes(&plan.create), vec![100, 100, 50]);
    assert!(plan.update.is_empty() && plan.delete.is_empty());
    let slice = &plan.create[0];
    assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.ports, Some(http()));
    assert_eq!(
        slice.labels().clone(),
        BTreeMap::from([
            ("app".to_owned(), "web".to_owned()),
            (SERVICE_NAME_LABEL.to_owned(), "web".to_owned()),
            (MANAGED_BY_LABEL.to_owned(), CONTROLLER_NAME.to_owned()),
        ])
    );
    let owner = &slice.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Service", "service-uid", Some(true))
    );
}

#[test]
fn an_unchanged_state_plans_nothing_and_a_changed_endpoint_is_updated_in_place() {
    let service = service();
    let first = plan_address_type(&service, "IPv4", Vec::new(), wanted(http(), 0..3), 100);
    let existing = vec![stored(first.create[0].clone(), "web-abc")];
    let again = plan_address_type(
        &service,
        "IPv4",
        existing.clone(),
        wanted(http(), 0..3),
        100,
    );
    assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());

    let mut desired = wanted(http(), 0..3);
    for group in desired.values_mut() {
        for endpoint in group.endpoints.values_mut() {
            if endpoint.target_ref.as_ref().and_then(|r| r.name.as_deref()) == Some("web-1") {
                endpoint.conditions = serde_json::from_value(
                    json!({"ready": false, "serving": true, "terminating": true}),
                )
                .ok();
            }
        }
    }
    let changed = plan_address_type(&service, "IPv4", existing, desired, 100);
    assert!(changed.create.is_empty() && changed.delete.is_empty());
    assert_eq!(changed.update.len(), 1);
    assert_eq!(changed.update[0].name_any(), "web-abc");
    let terminating: Vec<_> = changed.update[0]
        .endpoints
        .iter()
        .filter(|endpoint| endpoint.conditions.as_ref().and_then(|c| c.terminating) == Some(true))
        .collect();
    assert_eq!(terminating.len(), 1);
}

#[test]
fn a_removed_endpoint_leaves_room_that_a_new_one_fills_in_the_same_slice() {
    let service = service();
    let first = plan_address_type(&service, "IPv4", Vec::new(), wanted(http(), 0..100), 100);
    let existing = vec![stored(first.create[0].clone(), "web-abc")];
    let plan = plan_address_type(
        &service,
        "IPv4",
        existing,
        wanted(http(), (1..100).chain([500])),
        100,
    );
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(sizes(&plan.update), vec![100]);
}

#[test]
fn leftover_endpoints_go_into_the_unchanged_slice_they_fill_best() {
    let service = service();
    let planned = plan_address_type(&service, "IPv4", Vec::new(), wanted(http(), 0..150), 100);
    let existing = vec![
        stored(planned.create[0].clone(), "web-full"),
        stored(planned.create[1].clone(), "web-half"),
    ];
    let plan = plan_address_type(&service, "IPv4", existing, wanted(http(), 0..160), 100);
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(plan.update.len(), 1);
    assert_eq!(plan.update[0].name_any(), "web-half");
    assert_eq!(plan.update[0].endpoints.len(), 60);
}

#[test]
fn a_service_without_endpoints_keeps_one_placeholder_slice() {
    let service = service();
    let plan = plan_address_type(&service, "IPv4", Vec::new(), BTreeMap::new(), 100);
    assert_eq!(sizes(&plan.create), vec![0]);
    assert_eq!(plan.create[0].ports, Some(Vec::new()));
    let existing = vec![stored(plan.create[0].clone(), "web-placeholder")];
    let again = plan_address_type(&service, "IPv4", existing, BTreeMap::new(), 100);
    assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty());
}

#[test]
fn a_slice_of_ports_no_longer_wanted_is_reused_for_the_new_ports() {
    let service = service();
    let planned = plan_address_type(&service, "IPv4", Vec::new(), wanted(http(), 0..3), 100);
    let existing = vec![stored(planned.create[0].clone(), "web-abc")];
    let mut metrics = http();
    metrics[0].port = Some(9090);
    let plan = plan_address_type(
        &service,
        "IPv4",
        existing,
        wanted(metrics.clone(), 0..3),
        100,
    );
    assert!(plan.create.is_empty() && plan.delete.is_empty());
    assert_eq!(plan.update.len(), 1);
    assert_eq!(plan.update[0].name_any(), "web-abc");
    assert_eq!(
        plan.update[0].metadata.resource_version.as_deref(),
        Some("7")
    );
    assert_eq!(plan.update[0].ports, Some(metrics));
}

#[test]
fn slices_not_owned_by_the_service_are_deleted() {
    let service = service();
    let planned = plan_address_type(&service, "IPv4", Vec::new(), wanted(http(), 0..3), 100);
    let mut foreign = stored(planned.create[0].clone(), "web-old");
    foreign.metadata.owner_references = None;
    let plan = plan_address_type(&service, "IPv4", vec![foreign], wanted(http(), 0..3), 100);
    assert_eq!(sizes(&plan.create), vec![3]);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.delete[0].name_any(), "web-old");
}
