//! Watch over HTTP: a stream of `{"type": ..., "object": ...}` lines, with the initial
//! state when asked, selectors applied to both sides of every change, bookmarks, and a
//! 410 Gone error event for a resourceVersion that history no longer holds.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use super::ApiState;
use super::get_list::{list_revision, parse_revision, read_list, selectors};
use super::negotiate::{ResponseForm, response_form};
use super::query::Query;
use super::selectors::Selectors;
use super::status::{ApiError, ApiResult};
use super::table::{partial_object_metadata, table};
use super::target::ResourceTarget;
use crate::resources::{ResourceType, converted_for};
use crate::store::{Event, EventType, StoreError, WatchStream, key_prefix};

struct WatchSession {
    resource: &'static ResourceType,
    form: ResponseForm,
    include_object: Option<String>,
    selectors: Selectors,
    initial: VecDeque<Bytes>,
    stream: Option<WatchStream>,
    bookmarks: Option<tokio::time::Interval>,
    /// Kept for the whole watch rather than made for each event, since setting a timer
    /// and clearing it again, per event and watcher, is a noticeable part of a fan-out.
    deadline: Pin<Box<tokio::time::Sleep>>,
    columns_sent: bool,
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

impl WatchSession {
    fn render(&mut self, event_type: &str, object: &Value, object_json: Option<&Bytes>) -> Bytes {
        // A version served by conversion cannot reuse the stored encoding. Tables convert
        // their rows' objects themselves, since their cells are printed from the stored one.
        let served = match self.form {
            ResponseForm::Table => None,
            _ => converted_for(self.resource, object),
        };
        let (object, object_json) = match &served {
            Some(served) => (served, None),
            None => (object, object_json),
        };
        match self.form {
            ResponseForm::Table => {
                let revision = object
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or_default();
                let with_columns = !std::mem::replace(&mut self.columns_sent, true);
                line(
                    event_type,
                    &table(
                        self.resource,
                        &[object],
                        self.include_object.as_deref(),
                        json!({"resourceVersion": revision}),
                        with_columns,
                    ),
                )
            }
            ResponseForm::PartialObjectMetadata => {
                line(event_type, &partial_object_metadata(object))
            }
            ResponseForm::Json | ResponseForm::Yaml => match object_json {
                // The writer's encoding is reused: no per-watcher serialization.
                Some(encoded) => {
                    let mut text = Vec::with_capacity(encoded.len() + 32);
                    text.extend_from_slice(br#"{"type":""#);
                    text.extend_from_slice(event_type.as_bytes());
                    text.extend_from_slice(br#"","object":"#);
                    text.extend_from_slice(encoded);
                    text.extend_from_slice(b"}\n");
                    Bytes::from(text)
                }
                None => line(event_type, object),
            },
        }
    }

    fn bookmark(&self, revision: u64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.resource.kind, "apiVersion": self.resource.api_version(), "metadata": metadata}),
        )
    }

    /// What a watcher with selectors sees of a change: an object entering the selection is
    /// ADDED, one leaving it is DELETED.
    fn visible_type(&self, event: &Event) -> Option<&'static str> {
        if self.selectors.is_empty() {
            return Some(event.event_type.as_str());
        }
        let now = self.selectors.matches(&event.object);
        let before = event
            .previous
            .as_deref()
            .is_some_and(|previous| self.selectors.matches(previous));
        match (event.event_type, before, now) {
            (EventType::Added, _, true) => Some("ADDED"),
            (EventType::Modified, true, true) => Some("MODIFIED"),
            (EventType::Modified, false, true) => Some("ADDED"),
            (EventType::Modified, true, false) => Some("DELETED"),
            (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => Some("DELETED"),
            _ => None,
        }
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(chunk) = self.initial.pop_front() {
            return Some(chunk);
        }
        loop {
            let stream = self.stream.as_mut()?;
            let bookmark_tick = async {
                match self.bookmarks.as_mut() {
                    Some(interval) => interval.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = self.deadline.as_mut() => return None,
                _ = bookmark_tick => {
                    let position = self.stream.as_ref()?.position();
                    return Some(self.bookmark(position, false));
                }
                event = stream.next() => match event {
                    None => return None,
                    Some(Err(error)) => {
                        self.stream = None;
                        return Some(line("ERROR", &watch_error(error).to_status()));
                    }
                    Some(Ok(event)) => {
                        if let Some(event_type) = self.visible_type(&event) {
                            return Some(self.render(event_type, &event.object, Some(&event.object_json)));
                        }
                    }
                },
            }
        }
    }
}

fn watch_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Compacted { .. } => ApiError::gone(error.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

pub async fn watch(
    state: &Arc<ApiState>,
    headers: &HeaderMap,
    target: &ResourceTarget,
    query: &Query,
) -> ApiResult<Response> {
    let form = response_form(headers)?;
    let resource = target.resource;
    let selectors = selectors(resource, query)?;
    let prefix = key_prefix(&resource.storage_name(), target.namespace.as_deref());
    let timeout = query.timeout.unwrap_or(state.options.default_watch_timeout);
    let mut bookmarks = query.allow_watch_bookmarks.then(|| {
        let mut interval = tokio::time::interval(state.options.bookmark_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    if let Some(interval) = bookmarks.as_mut() {
        // The first tick of an interval is immediate; the first bookmark is one period in.
        interval.reset();
    }
    let mut session = WatchSession {
        resource,
        form,
        include_object: query.include_object.clone(),
        selectors,
        initial: VecDeque::new(),
        stream: None,
        bookmarks,
        deadline: Box::pin(tokio::time::sleep(timeout)),
        columns_sent: false,
    };
    // A watch from a given resourceVersion resumes after it. Without one (or from "0"),
    // and with sendInitialEvents, it starts with the current state as ADDED events.
    let resume_from = match query.resource_version.as_deref() {
        Some(version) if version != "0" && !query.send_initial_events => {
            Some(parse_revision(version)?)
        }
        _ => None,
    };
    let start_revision = match resume_from {
        Some(revision) => revision,
        None => {
            let at_revision = if query.send_initial_events {
                list_revision(state, query).await?
            } else {
                None
            };
            let listed = read_list(state, &prefix, &session.selectors, None, at_revision, None)?;
            for object in &listed.items {
                let chunk = session.render("ADDED", object, None);
                session.initial.push_back(chunk);
            }
            if query.send_initial_events && query.allow_watch_bookmarks {
                let chunk = session.bookmark(listed.revision, true);
                session.initial.push_back(chunk);
            }
            listed.revision
        }
    };
    match state.storage.watch(&prefix, start_revision) {
        Ok(stream) => session.stream = Some(stream),
        // Kubernetes answers a watch from a compacted revision with 200 and one ERROR event.
        Err(error @ StoreError::Compacted { .. }) => session
            .initial
            .push_back(line("ERROR", &watch_error(error).to_status())),
        Err(error) => return Err(ApiError::internal(error.to_string())),
    }
    let body = futures::stream::unfold(session, |mut session| async move {
        session
            .next_chunk()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), session))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .map_err(|error| ApiError::internal(error.to_string()))
}
