//! get and list, with selectors, paging that reads one consistent snapshot, and the
//! resourceVersion rules of Kubernetes' list.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::ApiState;
use super::negotiate::{ResponseForm, encode, response_form};
use super::query::Query;
use super::selectors::{FieldSelector, LabelSelector, Selectors};
use super::status::{ApiError, ApiResult};
use super::table::{partial_object_metadata, table};
use super::target::ResourceTarget;
use crate::resources::{ResourceType, to_served};
use crate::store::{ListRequest, ObjectKey, StoreError, StoredObject, key_prefix};

/// How long a list or watch waits for the store to reach a resourceVersion the client
/// has seen elsewhere, before answering "too large resource version".
const FUTURE_REVISION_WAIT: Duration = Duration::from_secs(3);

pub fn object_key(target: &ResourceTarget) -> ObjectKey {
    ObjectKey::new(
        &target.resource.storage_name(),
        target.namespace.as_deref().unwrap_or_default(),
        target.name.as_deref().unwrap_or_default(),
    )
}

/// The object a request addresses, or 404.
pub fn read_object(state: &ApiState, target: &ResourceTarget) -> ApiResult<StoredObject> {
    let name = target.name.as_deref().unwrap_or_default();
    state
        .storage
        .get(&object_key(target))
        .map_err(|error| ApiError::from_store(error, target.resource, name))?
        .ok_or_else(|| ApiError::not_found(target.resource, name))
}

pub fn selectors(resource: &ResourceType, query: &Query) -> ApiResult<Selectors> {
    Ok(Selectors {
        labels: LabelSelector::parse(query.label_selector.as_deref().unwrap_or_default())?,
        fields: FieldSelector::parse(
            query.field_selector.as_deref().unwrap_or_default(),
            resource.kind,
        )?,
    })
}

pub fn get(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    target: &ResourceTarget,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let stored = read_object(state, target)?;
    let body = match form {
        ResponseForm::Table => table(
            target.resource,
            &[&stored.object],
            None,
            json!({"resourceVersion": stored.revision.to_string()}),
            true,
        ),
        ResponseForm::PartialObjectMetadata => {
            partial_object_metadata(&to_served(target.resource, &stored.object))
        }
        ResponseForm::Json | ResponseForm::Yaml => {
            (*to_served(target.resource, &stored.object)).clone()
        }
    };
    Ok(encode(form, StatusCode::OK, &body))
}

/// Waits until the store has reached `revision`, as Kubernetes does for a resourceVersion
/// newer than its cache.
pub async fn wait_for_revision(state: &ApiState, revision: u64) -> ApiResult<()> {
    let deadline = tokio::time::Instant::now() + FUTURE_REVISION_WAIT;
    while state.storage.current_revision() < revision {
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {revision}, current: {}",
                state.storage.current_revision()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub fn parse_revision(text: &str) -> ApiResult<u64> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {text:?}")))
}

fn encode_continue(revision: u64, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": revision, "start": key}).to_string())
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<(u64, String)> {
    let invalid = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let revision = value
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(invalid)?;
    let key = value
        .get("start")
        .and_then(Value::as_str)
        .filter(|key| key.starts_with(prefix))
        .ok_or_else(invalid)?;
    Ok((revision, key.to_owned()))
}

/// The matching objects of one list request and the list's metadata.
pub struct Listed {
    pub items: Vec<Arc<Value>>,
    pub revision: u64,
    pub continue_token: Option<String>,
    /// How many objects the next pages hold, known (as in Kubernetes) only for a paged
    /// list without selectors.
    pub remaining_item_count: Option<usize>,
}

/// Reads a list: `at_revision` None reads the latest state. Selectors filter before the
/// limit applies, and every page of a paged list reads the same revision.
pub fn read_list(
    state: &ApiState,
    prefix: &str,
    selectors: &Selectors,
    limit: Option<usize>,
    at_revision: Option<u64>,
    after_key: Option<String>,
) -> ApiResult<Listed> {
    let paging = after_key.is_some();
    let mut request = ListRequest {
        prefix: prefix.to_owned(),
        after_key,
        limit: limit.map(|limit| limit.max(256)),
        at_revision,
        count_remaining: limit.is_some() && selectors.is_empty(),
    };
    let mut items = Vec::new();
    loop {
        let page = state.storage.list(&request).map_err(|error| match error {
            StoreError::Compacted { .. } if paging => ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ),
            StoreError::Compacted { .. } => {
                ApiError::gone("The resourceVersion for the provided list is too old.")
            }
            StoreError::FutureRevision { .. } => ApiError::timeout(format!("Too large resource version: {error}")),
            other => ApiError::internal(other.to_string()),
        })?;
        request.at_revision = Some(page.revision);
        let page_length = page.items.len();
        for (index, (key, stored)) in page.items.into_iter().enumerate() {
            if selectors.matches(&stored.object) {
                items.push(stored.object);
            }
            if limit.is_some_and(|limit| items.len() == limit) {
                // Like Kubernetes, a page that stops early promises more whenever more
                // keys follow, even if none of them would match the selectors.
                let more = index + 1 < page_length || page.more;
                let remaining = page_length - index - 1 + page.remaining;
                return Ok(Listed {
                    items,
                    revision: page.revision,
                    continue_token: more.then(|| encode_continue(page.revision, &key)),
                    remaining_item_count: (more && request.count_remaining).then_some(remaining),
                });
            }
            request.after_key = Some(key);
        }
        if !page.more {
            return Ok(Listed {
                items,
                revision: page.revision,
                continue_token: None,
                remaining_item_count: None,
            });
        }
    }
}

/// The revision a list (or the initial state of a watch) reads, from resourceVersion and
/// resourceVersionMatch.
pub async fn list_revision(state: &ApiState, query: &Query) -> ApiResult<Option<u64>> {
    let Some(version) = query.resource_version.as_deref() else {
        return Ok(None);
    };
    if version == "0" {
        return Ok(None);
    }
    let revision = parse_revision(version)?;
    match query.resource_version_match.as_deref() {
        Some("Exact") => Ok(Some(revision)),
        None | Some("NotOlderThan") => {
            wait_for_revision(state, revision).await?;
            Ok(None)
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

pub async fn list(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let resource = target.resource;
    let selectors = selectors(resource, query)?;
    let prefix = key_prefix(&resource.storage_name(), target.namespace.as_deref());
    let (at_revision, after_key) = match query.continue_token.as_deref() {
        Some(token) => {
            let (revision, key) = decode_continue(token, &prefix)?;
            (Some(revision), Some(key))
        }
        None => (list_revision(state, query).await?, None),
    };
    let listed = read_list(
        state,
        &prefix,
        &selectors,
        query.limit,
        at_revision,
        after_key,
    )?;
    let mut metadata = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(token) = &listed.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(count) = listed.remaining_item_count {
        metadata["remainingItemCount"] = json!(count);
    }
    // Shared, not copied, unless the requested version is served by conversion.
    let served_items: Vec<Arc<Value>> = listed
        .items
        .iter()
        .map(|item| to_served(resource, item))
        .collect();
    let body = match form {
        ResponseForm::Table => {
            let objects: Vec<&Value> = listed.items.iter().map(|item| item.as_ref()).collect();
            table(
                resource,
                &objects,
                query.include_object.as_deref(),
                metadata,
                true,
            )
        }
        ResponseForm::PartialObjectMetadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "items": served_items.iter().map(|item| partial_object_metadata(item)).collect::<Vec<_>>(),
        }),
        ResponseForm::Json | ResponseForm::Yaml => json!({
            "kind": resource.list_kind(),
            "apiVersion": resource.api_version(),
            "metadata": metadata,
            "items": served_items.iter().map(|item| item.as_ref()).collect::<Vec<_>>(),
        }),
    };
    Ok(encode(form, StatusCode::OK, &body))
}
