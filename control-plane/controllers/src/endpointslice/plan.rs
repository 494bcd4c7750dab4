//! Which EndpointSlices to create, update and delete so that a Service's slices of one
//! address type hold the desired endpoints (Kubernetes' `reconcileByAddressType`,
//! `reconcileByPortMapping` and `finalize`), changing as few slices as it can:
//!
//! 1. in each existing slice, endpoints no longer wanted go and changed ones are updated
//!    in place; a slice left empty is deleted;
//! 2. new endpoints fill the slices already being updated, fullest first;
//! 3. what is left goes into the unchanged slice it fills best when it fits in one, else
//!    into new slices of at most `--max-endpoints-per-slice` endpoints;
//! 4. slices of port sets no longer wanted are deleted, a Service with no endpoints keeps
//!    one empty placeholder slice, and a slice to create takes the place of one to delete.
//!
//! Kubernetes picks endpoints from its sets in random order; here they go in the order of
//! their keys (addresses, hostname, pod), and slices by name, so a plan is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use kube::ResourceExt;
use kube::api::ObjectMeta;

use super::desired::{EndpointKey, PortGroup, PortKey, endpoint_key, equal_beyond_key, port_key};
use super::{MANAGED_BY_LABEL, SERVICE_NAME_LABEL};
use crate::endpoints::service_pods::{HEADLESS_SERVICE_LABEL, is_service_ip_set};
use crate::owners::controller_reference;

/// This controller's name in the managed-by label.
pub(super) const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";

#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) create: Vec<EndpointSlice>,
    pub(super) update: Vec<EndpointSlice>,
    pub(super) delete: Vec<EndpointSlice>,
}

/// The plan for one address type: `existing` are the Service's slices of that type,
/// `desired` its wanted endpoints grouped by ports.
pub(super) fn plan_address_type(
    service: &Service,
    address_type: &str,
    existing: Vec<EndpointSlice>,
    desired: BTreeMap<PortKey, PortGroup>,
    maximum_per_slice: usize,
) -> Plan {
    let mut plan = Plan::default();
    let existing_count = existing.len();
    let mut existing_by_ports: BTreeMap<PortKey, Vec<EndpointSlice>> = BTreeMap::new();
    for slice in existing {
        if is_owned_by(&slice, service) {
            let key = port_key(slice.ports.as_deref().unwrap_or_default());
            existing_by_ports.entry(key).or_default().push(slice);
        } else {
            plan.delete.push(slice);
        }
    }
    for (key, group) in desired {
        let slices = existing_by_ports.remove(&key).unwrap_or_default();
        let PortGroup { ports, endpoints } = group;
        let by_ports = plan_port_group(
            service,
            address_type,
            slices,
            &ports,
            endpoints,
            maximum_per_slice,
        );
        plan.create.extend(by_ports.create);
        plan.update.extend(by_ports.update);
        plan.delete.extend(by_ports.delete);
    }
    plan.delete
        .extend(existing_by_ports.into_values().flatten());
    if existing_count == plan.delete.len() && plan.create.is_empty() {
        let placeholder = new_slice(service, address_type, &[]);
        if plan.delete.len() == 1 && is_same_placeholder(&plan.delete[0], &placeholder) {
            // The placeholder that exists stays rather than being deleted and recreated.
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }
    reuse_deleted_slices(service, &mut plan);
    plan
}

fn plan_port_group(
    service: &Service,
    address_type: &str,
    existing: Vec<EndpointSlice>,
    ports: &[EndpointPort],
    mut desired: BTreeMap<EndpointKey, Endpoint>,
    maximum_per_slice: usize,
) -> Plan {
    let mut slices_by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    for mut slice in existing {
        let name = slice.name_any();
        let mut kept = Vec::new();
        let mut changed_in_place = false;
        for endpoint in &slice.endpoints {
            if let Some(wanted) = desired.remove(&endpoint_key(endpoint)) {
                changed_in_place |= !equal_beyond_key(&wanted, endpoint);
                kept.push(wanted);
            }
        }
        let (labels, labels_changed) = slice_labels(&slice, service);
        if changed_in_place || kept.len() != slice.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
            } else {
                slice.endpoints = kept;
                slice.metadata.labels = Some(labels);
                to_update.insert(name.clone());
            }
        } else if labels_changed {
            slice.metadata.labels = Some(labels);
            to_update.insert(name.clone());
        } else {
            unchanged.insert(name.clone());
        }
        slices_by_name.insert(name, slice);
    }

    if !desired.is_empty() && !to_update.is_empty() {
        let mut fullest_first: Vec<&String> = to_update.iter().collect();
        fullest_first.sort_by_key(|name| {
            std::cmp::Reverse(
                slices_by_name
                    .get(*name)
                    .map_or(0, |slice| slice.endpoints.len()),
            )
        });
        for name in fullest_first {
            if let Some(slice) = slices_by_name.get_mut(name) {
                fill(slice, &mut desired, maximum_per_slice);
            }
        }
    }

    let mut create = Vec::new();
    while !desired.is_empty() {
        let best_fit = if desired.len() < maximum_per_slice {
            slice_to_fill(
                &slices_by_name,
                &unchanged,
                desired.len(),
                maximum_per_slice,
            )
        } else {
            None
        };
        let mut slice = match best_fit.and_then(|name| slices_by_name.remove(&name)) {
            Some(slice) => slice,
            None => new_slice(service, address_type, ports),
        };
        fill(&mut slice, &mut desired, maximum_per_slice);
        match slice.metadata.name.clone() {
            Some(name) => {
                unchanged.remove(&name);
                to_update.insert(name.clone());
                slices_by_name.insert(name, slice);
            }
            None => create.push(slice),
        }
    }
    let take = |names: &BTreeSet<String>, slices: &BTreeMap<String, EndpointSlice>| {
        names
            .iter()
            .filter_map(|name| slices.get(name).cloned())
            .collect()
    };
    Plan {
        update: take(&to_update, &slices_by_name),
        delete: take(&to_delete, &slices_by_name),
        create,
    }
}

fn fill(
    slice: &mut EndpointSlice,
    desired: &mut BTreeMap<EndpointKey, Endpoint>,
    maximum_per_slice: usize,
) {
    while slice.endpoints.len() < maximum_per_slice {
        let Some((_, endpoint)) = desired.pop_first() else {
            return;
        };
        slice.endpoints.push(endpoint);
    }
}

/// The unchanged slice that `count` more endpoints fill most fully without overflowing
/// (`getSliceToFill`).
fn slice_to_fill(
    slices: &BTreeMap<String, EndpointSlice>,
    unchanged: &BTreeSet<String>,
    count: usize,
    maximum_per_slice: usize,
) -> Option<String> {
    let mut closest_room = maximum_per_slice;
    let mut closest = None;
    for name in unchanged {
        let Some(slice) = slices.get(name) else {
            continue;
        };
        let Some(room) = maximum_per_slice.checked_sub(count + slice.endpoints.len()) else {
            continue;
        };
        if room < closest_room {
            closest_room = room;
            closest = Some(name.clone());
            if room == 0 {
                break;
            }
        }
    }
    closest
}

/// A slice to be created for the Service: named after it, owned by it, labelled as its
/// (`newEndpointSlice`).
fn new_slice(service: &Service, address_type: &str, ports: &[EndpointPort]) -> EndpointSlice {
    let mut slice = EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", service.name_any())),
            namespace: service.namespace(),
            owner_references: Some(vec![controller_reference(service)]),
            ..Default::default()
        },
        address_type: address_type.to_owned(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    };
    slice.metadata.labels = Some(slice_labels(&slice, service).0);
    slice
}

fn is_reserved_label(key: &str) -> bool {
    key == SERVICE_NAME_LABEL || key == MANAGED_BY_LABEL || key == HEADLESS_SERVICE_LABEL
}

/// The slice's labels: the Service's own (but for the reserved ones), the headless label
/// for a Service without a cluster IP, and the service-name and managed-by labels; with
/// whether the Service's labels differ from the slice's (`setEndpointSliceLabels`).
fn slice_labels(slice: &EndpointSlice, service: &Service) -> (BTreeMap<String, String>, bool) {
    let unreserved = |labels: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        labels
            .iter()
            .filter(|(key, _)| !is_reserved_label(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    };
    let mut labels = unreserved(service.labels());
    let changed = unreserved(slice.labels()) != labels;
    if !is_service_ip_set(service) {
        labels.insert(HEADLESS_SERVICE_LABEL.to_owned(), String::new());
    }
    labels.insert(SERVICE_NAME_LABEL.to_owned(), service.name_any());
    labels.insert(MANAGED_BY_LABEL.to_owned(), CONTROLLER_NAME.to_owned());
    (labels, changed)
}

/// Whether the Service controls the slice (`ownedBy`).
pub(super) fn is_owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let uid = service.uid().unwrap_or_default();
    slice.owner_references().iter().any(|reference| {
        reference.uid == uid && reference.kind == "Service" && reference.api_version == "v1"
    })
}

/// Kubernetes' `placeholderSliceCompare`: namespace, labels, address type, and no ports
/// or endpoints.
fn is_same_placeholder(existing: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    existing.metadata.namespace == placeholder.metadata.namespace
        && existing.labels() == placeholder.labels()
        && existing.address_type == placeholder.address_type
        && existing.endpoints.is_empty()
        && existing.ports.as_deref().unwrap_or_default().is_empty()
}

/// A slice to be created takes the name (and resourceVersion) of one to be deleted of the
/// same address type that the Service owns, and becomes an update (`finalize`).
fn reuse_deleted_slices(service: &Service, plan: &mut Plan) {
    let mut index = 0;
    while index < plan.delete.len() && !plan.create.is_empty() {
        let reusable = plan.delete[index].address_type
            == plan.create[plan.create.len() - 1].address_type
            && is_owned_by(&plan.delete[index], service);
        if !reusable {
            index += 1;
            continue;
        }
        let deleted = plan.delete.remove(index);
        if let Some(mut slice) = plan.create.pop() {
            slice.metadata.name = deleted.metadata.name;
            slice.metadata.resource_version = deleted.metadata.resource_version;
            plan.update.push(slice);
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
