//! The garbage collector (kube-controller-manager's `garbagecollector`): deletes objects
//! whose owners are gone, and carries out the API server's deletion propagation.
//!
//! - Background: an object whose owner references all name owners that no longer exist
//!   (checked by a live GET; an owner with another uid counts as gone) is deleted; an
//!   object with some owners left only loses the references to the missing ones.
//! - Foreground: an owner marked for deletion with the `foregroundDeletion` finalizer has
//!   its dependents deleted (a dependent that has dependents itself is deleted in
//!   foreground too); once no dependent with `blockOwnerDeletion` remains, the finalizer
//!   is removed and the API server lets the owner go.
//! - Orphan: an owner marked for deletion with the `orphan` finalizer has its reference
//!   removed from every dependent, then the finalizer removed.
//!
//! Which types to watch comes from discovery (every served resource with delete, list and
//! watch, except events, as Kubernetes' `GetDeletableResources`), rerun periodically so a
//! type that appears later is watched too. Each type is watched for metadata only
//! (`Api<PartialObjectMeta<DynamicObject>>`, the metadata watcher's non-deprecated form)
//! and feeds one graph of owners and dependents (`graph`).
//!
//! The work queue is kube-runtime's: each type runs an `applier` (the engine under
//! `Controller`) over its reflector store, so requests for the same object are
//! deduplicated, never reconciled twice at once, and retried after the shared
//! `RetryBackoff`. The appliers take their requests from the type's own watch (every
//! change is a reconcile, which the graph usually answers without an API call) and from a
//! channel through which the graph asks for objects of any type to be looked at again:
//! the dependents of an owner that went away, the owner waiting in foreground for a
//! dependent that went. `Controller` itself cannot be used, because feeding it requests
//! from outside its own watches needs kube-runtime's unstable features; one applier per
//! type, rather than one over all types, keeps each store keyed by kube-runtime's own
//! object references.

mod graph;
mod monitor;
mod reconcile;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::mpsc;
use kube::core::{ApiResource, DynamicObject, PartialObjectMeta};
use kube::discovery::{Discovery, Scope};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use tokio::task::JoinSet;

use crate::ControllerManagerOptions;
use crate::retry::RetryBackoff;
use graph::Graph;

/// The finalizer the API server adds for a Foreground deletion.
const FOREGROUND_DELETION_FINALIZER: &str = "foregroundDeletion";
/// The finalizer the API server adds for an Orphan deletion.
const ORPHAN_FINALIZER: &str = "orphan";

/// How often discovery is run again to find newly served types (Kubernetes' garbage
/// collector resyncs its monitors every 30 s).
const DISCOVERY_PERIOD: Duration = Duration::from_secs(30);
/// How soon a discovery that failed before anything was watched is tried again.
const DISCOVERY_RETRY: Duration = Duration::from_secs(1);

/// Objects are watched and read as metadata only.
type ObjectMetadata = PartialObjectMeta<DynamicObject>;

#[derive(Debug, thiserror::Error)]
pub enum GarbageCollectorError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
    #[error("an owner reference names {kind} in {api_version}, which the server does not serve")]
    UnknownOwnerKind { api_version: String, kind: String },
}

/// A type by API group and kind, which is how owner references name their owner's type.
type TypeKey = (String, String);

fn group_of(api_version: &str) -> &str {
    api_version
        .split_once('/')
        .map_or("", |(group, _version)| group)
}

/// A served resource type the collector watches, and the channel that asks its applier
/// to look at one of its objects again.
#[derive(Debug)]
struct WatchedType {
    resource: ApiResource,
    namespaced: bool,
    requests: mpsc::UnboundedSender<ObjectRef<ObjectMetadata>>,
}

impl WatchedType {
    fn key(&self) -> TypeKey {
        (self.resource.group.clone(), self.resource.kind.clone())
    }

    /// The metadata API for objects of this type, in `namespace` when the type is
    /// namespaced.
    fn metadata_api(&self, client: &Client, namespace: Option<&str>) -> Api<ObjectMetadata> {
        match namespace {
            Some(namespace) if self.namespaced => {
                Api::namespaced_with(client.clone(), namespace, &self.resource)
            }
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }

    /// The full-object API, for writes, whose answers the collector does not read.
    fn object_api(&self, client: &Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) if self.namespaced => {
                Api::namespaced_with(client.clone(), namespace, &self.resource)
            }
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }
}

/// One object: its type, where it is, and which incarnation (uid).
#[derive(Clone, Debug)]
struct NodeIdentity {
    watched: Arc<WatchedType>,
    namespace: Option<String>,
    name: String,
    uid: String,
}

impl NodeIdentity {
    fn object_ref(&self) -> ObjectRef<ObjectMetadata> {
        let reference = ObjectRef::new_with(&self.name, self.watched.resource.clone());
        match &self.namespace {
            Some(namespace) => reference.within(namespace),
            None => reference,
        }
    }
}

/// What every type's applier shares: the client, the graph, the watched types and the
/// retry back-off.
struct Collector {
    client: Client,
    graph: Mutex<Graph>,
    types: Mutex<HashMap<TypeKey, Arc<WatchedType>>>,
    backoff: RetryBackoff,
}

impl Collector {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn types(&self) -> MutexGuard<'_, HashMap<TypeKey, Arc<WatchedType>>> {
        self.types
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The watched type an owner reference's apiVersion and kind name.
    fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Arc<WatchedType>, GarbageCollectorError> {
        let key = (group_of(api_version).to_owned(), kind.to_owned());
        self.types()
            .get(&key)
            .cloned()
            .ok_or_else(|| GarbageCollectorError::UnknownOwnerKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            })
    }

    /// Asks the object's applier to look at it again.
    fn request(&self, identity: &NodeIdentity) {
        // A closed channel means the type's applier has stopped, which happens only when
        // the whole collector stops.
        let _ = identity
            .watched
            .requests
            .unbounded_send(identity.object_ref());
    }
}

/// The served types the collector can work on: deletable, listable and watchable, events
/// excepted (they are many and never owners), subresources excepted (discovery lists them
/// under their resource).
async fn discover(client: &Client) -> Result<Vec<(ApiResource, bool)>, kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut found = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            let is_events = resource.plural == "events"
                && (resource.group.is_empty() || resource.group == "events.k8s.io");
            let supported = ["delete", "list", "watch"]
                .iter()
                .all(|verb| capabilities.supports_operation(verb));
            if is_events || !supported {
                continue;
            }
            found.push((resource, capabilities.scope == Scope::Namespaced));
        }
    }
    Ok(found)
}

pub async fn run(client: Client, _options: Arc<ControllerManagerOptions>) {
    let collector = Arc::new(Collector {
        client: client.clone(),
        graph: Mutex::new(Graph::default()),
        types: Mutex::new(HashMap::new()),
        backoff: RetryBackoff::default(),
    });
    let mut monitors = JoinSet::new();
    loop {
        match discover(&client).await {
            Ok(found) => {
                for (resource, namespaced) in found {
                    let key = (resource.group.clone(), resource.kind.clone());
                    if collector.types().contains_key(&key) {
                        continue;
                    }
                    let (requests, requested) = mpsc::unbounded();
                    let watched = Arc::new(WatchedType {
                        resource,
                        namespaced,
                        requests,
                    });
                    collector.graph().watch_type(key.clone());
                    collector.types().insert(key, Arc::clone(&watched));
                    monitors.spawn(monitor::run(Arc::clone(&collector), watched, requested));
                }
            }
            Err(error) => {
                tracing::warn!(%error, "garbage collector: discovery failed");
            }
        }
        let period = if collector.types().is_empty() {
            DISCOVERY_RETRY
        } else {
            DISCOVERY_PERIOD
        };
        tokio::time::sleep(period).await;
    }
}
