//! The scraper: every resolution interval it reads `/metrics/resource` from the agent of
//! every Ready node (all at once, each within 90% of the interval, as metrics-server
//! does) and stores what each answered. A node that fails its scrape has no metrics
//! until it answers again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use jiff::Timestamp;
use serde_json::Value;

use super::decode::{NodeBatch, decode};
use crate::api::{ApiState, Selectors, read_list};
use crate::store::key_prefix;

/// The largest answer read from a node: a few hundred bytes per container.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error("{0}")]
    Endpoint(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the agent answered {0}")]
    Status(http::StatusCode),
    #[error("cannot read the answer: {0}")]
    Body(String),
    #[error(transparent)]
    Decode(#[from] super::decode::DecodeError),
}

/// Whether the node's Ready condition is True.
fn is_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|condition| {
                condition.get("type").and_then(Value::as_str) == Some("Ready")
                    && condition.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// The names of the Ready nodes.
fn ready_nodes(state: &ApiState) -> Vec<String> {
    let everything = Selectors::default();
    match read_list(
        state,
        &key_prefix("nodes", None),
        &everything,
        None,
        None,
        None,
    ) {
        Ok(listed) => listed
            .items
            .iter()
            .filter(|node| is_ready(node))
            .filter_map(|node| node.pointer("/metadata/name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        Err(error) => {
            tracing::warn!(error = %error.message, "cannot list the nodes to scrape");
            Vec::new()
        }
    }
}

async fn scrape_node(
    state: &ApiState,
    node: &str,
    timeout: Duration,
) -> Result<NodeBatch, ScrapeError> {
    let endpoint = crate::api::node_endpoint(state, node)
        .map_err(|error| ScrapeError::Endpoint(error.message))?;
    let uri = format!("https://{}/metrics/resource", endpoint.authority);
    let request = http::Request::get(&uri)
        .body(Empty::<Bytes>::new())
        .map_err(|error| ScrapeError::Request(error.to_string()))?;
    let scraped_at = Timestamp::now();
    let fetch = async {
        let response = state
            .node_client
            .request(request)
            .await
            .map_err(|error| ScrapeError::Request(error.to_string()))?;
        if !response.status().is_success() {
            return Err(ScrapeError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| ScrapeError::Body(error.to_string()))?;
        Ok(body.to_bytes())
    };
    let body = tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| ScrapeError::Timeout(timeout))??;
    Ok(decode(&String::from_utf8_lossy(&body), scraped_at)?)
}

/// Scrapes every Ready node once and stores the answers.
async fn scrape_once(state: &ApiState, resolution: Duration) {
    let timeout = resolution.mul_f64(0.9);
    let nodes = ready_nodes(state);
    let scrapes = nodes
        .iter()
        .map(|node| async move { (node, scrape_node(state, node, timeout).await) });
    let mut scraped = BTreeSet::new();
    for (node, result) in futures::future::join_all(scrapes).await {
        match result {
            Ok(batch) => {
                state.resource_metrics.store(node, batch);
                scraped.insert(node.clone());
            }
            Err(error) => {
                tracing::info!(%node, %error, "cannot scrape the node's resource metrics");
            }
        }
    }
    state.resource_metrics.retain_nodes(&scraped);
}

/// Scrapes every resolution interval, for as long as the API server runs.
pub async fn scrape_periodically(state: Arc<ApiState>, resolution: Duration) {
    let mut ticker = tokio::time::interval(resolution.max(Duration::from_millis(100)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        scrape_once(&state, resolution).await;
    }
}
