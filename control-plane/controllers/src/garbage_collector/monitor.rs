//! One watched type: its metadata watch feeds a reflector store and the graph, and an
//! applier reconciles its objects, asked by their own changes and by the graph.

use std::sync::Arc;

use futures::channel::mpsc;
use futures::{StreamExt, TryStreamExt, stream};
use kube::Api;
use kube::runtime::controller::{Action, ReconcileRequest, trigger_self};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{Lookup, ObjectRef};
use kube::runtime::{WatchStreamExt, applier, watcher};

use super::{Collector, GarbageCollectorError, ObjectMetadata, WatchedType, reconcile};

/// What a reconcile of one type gets: the shared collector and the type.
pub(super) struct TypeContext {
    pub(super) collector: Arc<Collector>,
    pub(super) watched: Arc<WatchedType>,
}

impl TypeContext {
    pub(super) fn object_ref(&self, object: &ObjectMetadata) -> ObjectRef<ObjectMetadata> {
        object.to_object_ref(self.watched.resource.clone())
    }
}

fn error_policy(
    object: Arc<ObjectMetadata>,
    error: &GarbageCollectorError,
    context: Arc<TypeContext>,
) -> Action {
    let object_ref = context.object_ref(&object);
    tracing::warn!(%error, object = %object_ref, "garbage collection failed; retrying");
    context
        .collector
        .backoff
        .requeue_after_failure_for(&object_ref)
}

pub(super) async fn run(
    collector: Arc<Collector>,
    watched: Arc<WatchedType>,
    requested: mpsc::UnboundedReceiver<ObjectRef<ObjectMetadata>>,
) {
    let api: Api<ObjectMetadata> = Api::all_with(collector.client.clone(), &watched.resource);
    let writer = Writer::new(watched.resource.clone());
    let store = writer.as_reader();
    let observer = Arc::clone(&collector);
    let observed = Arc::clone(&watched);
    // The store is written before the graph, and the graph before the object's own
    // request is made, so a reconcile always finds both up to date with its trigger.
    let applied = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .inspect_ok(move |event| {
            let again = observer.graph().observe(&observed, event);
            for identity in &again {
                observer.request(identity);
            }
        })
        .applied_objects();
    let queue = stream::select(
        trigger_self(applied, watched.resource.clone()).boxed(),
        requested
            .map(|object_ref| Ok(ReconcileRequest::from(object_ref)))
            .boxed(),
    );
    let context = Arc::new(TypeContext { collector, watched });
    applier(
        |object, context| Box::pin(reconcile::reconcile(object, context)),
        error_policy,
        context,
        store,
        queue,
        kube::runtime::Config::default(),
    )
    .for_each(|result| async move {
        if let Err(error) = result {
            // Failed reconciles were logged by the error policy; what remains is an
            // object gone before its turn came, or a watch error the watcher retries.
            tracing::debug!(%error, "garbage collector");
        }
    })
    .await;
}
