//! metrics.k8s.io/v1beta1 over HTTP, answered as metrics-server answers it: NodeMetrics
//! and PodMetrics for the nodes and pods that match the request's selectors and have
//! metrics (the others are left out of a list, and a get of one is 404), as JSON, YAML
//! or a Table for `kubectl get`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::decode::PodKey;
use super::format::{bytes, go_duration, nanocores, rfc3339_seconds};
use super::storage::{TimeInfo, Usage};
use super::{API_VERSION, GROUP};
use crate::api::{
    ApiError, ApiResult, ApiState, Query, ResponseForm, encode, read_list, request_selectors,
    response_form,
};
use crate::resources::{ResourceType, find_by_plural};
use crate::store::{ObjectKey, key_prefix};

fn core_resource(plural: &str) -> ApiResult<&'static ResourceType> {
    find_by_plural("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("the core resource {plural} is not served")))
}

/// A metrics object's metadata: the object's name, namespace and labels, and "now" as
/// its creation time, as metrics-server makes it.
fn metadata(object: &Value) -> Value {
    let mut metadata = json!({
        "name": object.pointer("/metadata/name"),
        "creationTimestamp": rfc3339_seconds(Timestamp::now()),
    });
    if let Some(namespace) = object.pointer("/metadata/namespace") {
        metadata["namespace"] = namespace.clone();
    }
    if let Some(labels) = object.pointer("/metadata/labels") {
        metadata["labels"] = labels.clone();
    }
    metadata
}

fn usage_json(usage: Usage) -> Value {
    json!({"cpu": nanocores(usage.cpu_nanocores), "memory": bytes(usage.memory_bytes)})
}

fn time_fields(object: &mut Value, time: TimeInfo) {
    object["timestamp"] = json!(rfc3339_seconds(time.timestamp));
    object["window"] = json!(go_duration(time.window));
}

/// A metrics object and its total usage, which a Table row shows.
struct Metrics {
    object: Value,
    total: Usage,
}

fn node_metrics(state: &ApiState, node: &Value) -> Option<Metrics> {
    let name = node.pointer("/metadata/name").and_then(Value::as_str)?;
    let (usage, time) = state.resource_metrics.node_usage(name)?;
    let mut object = json!({"metadata": metadata(node), "usage": usage_json(usage)});
    time_fields(&mut object, time);
    Some(Metrics {
        object,
        total: usage,
    })
}

fn pod_metrics(state: &ApiState, pod: &Value) -> Option<Metrics> {
    let text = |pointer: &str| {
        pod.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let key = PodKey {
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
    };
    let usage = state.resource_metrics.pod_usage(&key)?;
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .map(|(name, usage)| json!({"name": name, "usage": usage_json(*usage)}))
        .collect();
    let total = usage.containers.iter().fold(
        Usage {
            cpu_nanocores: 0,
            memory_bytes: 0,
        },
        |total, (_, usage)| Usage {
            cpu_nanocores: total.cpu_nanocores.saturating_add(usage.cpu_nanocores),
            memory_bytes: total.memory_bytes.saturating_add(usage.memory_bytes),
        },
    );
    let mut object = json!({"metadata": metadata(pod), "containers": containers});
    time_fields(&mut object, usage.time);
    Some(Metrics { object, total })
}

/// metrics-server's Table: Name, cpu, memory and Window.
fn table(metrics: &[Metrics]) -> Value {
    let column = |name: &str, format: &str, description: &str| json!({"name": name, "type": "string", "format": format, "description": description, "priority": 0});
    let rows: Vec<Value> = metrics
        .iter()
        .map(|Metrics { object, total }| {
            json!({
                "cells": [
                    object.pointer("/metadata/name"),
                    nanocores(total.cpu_nanocores),
                    bytes(total.memory_bytes),
                    object.get("window"),
                ],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object.get("metadata")},
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": [
            column("Name", "name", "Name of the resource"),
            column("cpu", "quantity", ""),
            column("memory", "quantity", ""),
            column("Window", "duration", ""),
        ],
        "rows": rows,
    })
}

fn answer(
    headers: &HeaderMap,
    kind: &str,
    metrics: Vec<Metrics>,
    single: bool,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    if form == ResponseForm::Table {
        return Ok(encode(form, StatusCode::OK, &table(&metrics)));
    }
    let mut objects = metrics.into_iter().map(|metrics| metrics.object);
    let body = if single {
        let mut object = objects.next().unwrap_or_default();
        object["kind"] = json!(kind);
        object["apiVersion"] = json!(API_VERSION);
        object
    } else {
        json!({
            "kind": format!("{kind}List"),
            "apiVersion": API_VERSION,
            "metadata": {},
            "items": objects.collect::<Vec<_>>(),
        })
    };
    Ok(encode(form, StatusCode::OK, &body))
}

fn parse_query(query: Option<&str>) -> ApiResult<Query> {
    let query = Query::parse(query)?;
    if query.watch {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource: watch",
        ));
    }
    Ok(query)
}

/// metrics-server's 404 for an object that exists but has no metrics yet.
fn no_metrics(resource: &str, name: &str) -> ApiError {
    ApiError {
        code: StatusCode::NOT_FOUND,
        reason: "NotFound",
        message: format!("{resource}.{GROUP} \"{name}\" not found"),
        details: Some(json!({"name": name, "group": GROUP, "kind": resource})),
    }
}

async fn list_nodes(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let query = parse_query(query.as_deref())?;
    let nodes = core_resource("nodes")?;
    let selectors = request_selectors(nodes, &query)?;
    let listed = read_list(
        &state,
        &key_prefix(&nodes.storage_name(), None),
        &selectors,
        None,
        None,
        None,
    )?;
    let objects = listed
        .items
        .iter()
        .filter_map(|node| node_metrics(&state, node))
        .collect();
    answer(&headers, "NodeMetrics", objects, false)
}

async fn get_node(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    parse_query(query.as_deref())?;
    let nodes = core_resource("nodes")?;
    let node = state
        .storage
        .get(&ObjectKey::new(&nodes.storage_name(), "", &name))
        .map_err(|error| ApiError::from_store(error, nodes, &name))?
        // The node lister's own words: its resource is singular.
        .ok_or_else(|| ApiError {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: format!("node \"{name}\" not found"),
            details: Some(json!({"name": name, "kind": "node"})),
        })?;
    let object =
        node_metrics(&state, &node.object).ok_or_else(|| no_metrics("nodemetrics", &name))?;
    answer(&headers, "NodeMetrics", vec![object], true)
}

async fn pods_in(
    state: &ApiState,
    headers: &HeaderMap,
    namespace: Option<&str>,
    query: Option<&str>,
) -> ApiResult<Response> {
    let query = parse_query(query)?;
    let pods = core_resource("pods")?;
    let selectors = request_selectors(pods, &query)?;
    let listed = read_list(
        state,
        &key_prefix(&pods.storage_name(), namespace),
        &selectors,
        None,
        None,
        None,
    )?;
    let objects = listed
        .items
        .iter()
        .filter_map(|pod| pod_metrics(state, pod))
        .collect();
    answer(headers, "PodMetrics", objects, false)
}

async fn list_all_pods(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    pods_in(&state, &headers, None, query.as_deref()).await
}

async fn list_pods(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    pods_in(&state, &headers, Some(&namespace), query.as_deref()).await
}

async fn get_pod(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    parse_query(query.as_deref())?;
    let pods = core_resource("pods")?;
    let pod = state
        .storage
        .get(&ObjectKey::new(&pods.storage_name(), &namespace, &name))
        .map_err(|error| ApiError::from_store(error, pods, &name))?
        .ok_or_else(|| ApiError::not_found(pods, &name))?;
    let object = pod_metrics(&state, &pod.object)
        .ok_or_else(|| no_metrics("podmetrics", &format!("{namespace}/{name}")))?;
    answer(&headers, "PodMetrics", vec![object], true)
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("the server does not allow this method on the requested resource")
}

fn read_only(method_router: MethodRouter<Arc<ApiState>>) -> MethodRouter<Arc<ApiState>> {
    method_router.fallback(method_not_allowed)
}

pub fn routes() -> Router<Arc<ApiState>> {
    let base = format!("/apis/{API_VERSION}");
    Router::new()
        .route(&format!("{base}/nodes"), read_only(get(list_nodes)))
        .route(&format!("{base}/nodes/{{name}}"), read_only(get(get_node)))
        .route(&format!("{base}/pods"), read_only(get(list_all_pods)))
        .route(
            &format!("{base}/namespaces/{{namespace}}/pods"),
            read_only(get(list_pods)),
        )
        .route(
            &format!("{base}/namespaces/{{namespace}}/pods/{{name}}"),
            read_only(get(get_pod)),
        )
}
