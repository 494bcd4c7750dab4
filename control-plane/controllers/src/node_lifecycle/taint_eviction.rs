//! The taint eviction controller (component `taint-eviction-controller`): one reconcile
//! per Node, run when the Node or a pod bound to it changes and again when the next
//! toleration runs out. Pods go through the normal graceful deletion; on a node that is
//! gone nobody confirms it, which is fine: their controllers ignore terminating pods and
//! create replacements elsewhere, and an agent that comes back sees the deletion and stops
//! them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::json;

use super::NO_EXECUTE;
use super::tolerations::{CountingTaint, Eviction, eviction_time};
use crate::events::{EventRecorder, EventType};
use crate::retry::RetryBackoff;

/// Woken this much after a toleration runs out, so that the reconcile finds it run out.
const WAKE_UP_MARGIN: Duration = Duration::from_millis(20);
/// The longest wait for a toleration to run out before looking again; very long
/// tolerations must not overflow the timer.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum TaintEvictionError {
    #[error("kubernetes API error: {0}")]
    Api(#[from] kube::Error),
}

/// A taint as matched for its start time: key, value and effect.
type TaintIdentity = (String, Option<String>, String);

struct Context {
    client: Client,
    recorder: EventRecorder,
    backoff: RetryBackoff,
    /// Per node, the pods whose deletion is due later: if their taint goes first, the
    /// deletion is cancelled with an event, as Kubernetes announces it.
    scheduled: Mutex<HashMap<String, HashSet<String>>>,
    /// Per node, when each NoExecute taint without `timeAdded` (one written by hand, say)
    /// was first seen, which is when its tolerations start to count.
    first_seen: Mutex<HashMap<String, Vec<(TaintIdentity, Timestamp)>>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub async fn run(client: Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let context = Arc::new(Context {
        recorder: EventRecorder::new(client.clone(), "taint-eviction-controller"),
        client,
        backoff: RetryBackoff::default(),
        scheduled: Mutex::new(HashMap::new()),
        first_seen: Mutex::new(HashMap::new()),
    });
    Controller::new(nodes, watcher::Config::default())
        .watches(pods, watcher::Config::default(), |pod: Pod| {
            pod.spec
                .and_then(|spec| spec.node_name)
                .map(|node_name| ObjectRef::<Node>::new(&node_name))
        })
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "taint eviction reconcile failed");
            }
        })
        .await;
}

fn error_policy(node: Arc<Node>, error: &TaintEvictionError, context: Arc<Context>) -> Action {
    tracing::warn!(node = %node.name_any(), %error, "cannot evict the pods of a tainted node");
    context.backoff.requeue_after_failure(node.as_ref())
}

fn no_execute_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|spec| spec.taints.as_ref())
        .map(|taints| {
            taints
                .iter()
                .filter(|taint| taint.effect == NO_EXECUTE)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

async fn reconcile(node: Arc<Node>, context: Arc<Context>) -> Result<Action, TaintEvictionError> {
    let name = node.name_any();
    // Most nodes carry no NoExecute taint and have nothing scheduled: the cached node is
    // enough to know there is nothing to do. A taint the cache has not seen yet comes
    // with its own watch event and reconcile.
    let nothing_scheduled = !locked(&context.scheduled).contains_key(&name);
    let action = if no_execute_taints(&node).is_empty() && nothing_scheduled {
        Action::await_change()
    } else {
        evict_pods(&name, &context).await?
    };
    context.backoff.succeeded(node.as_ref());
    Ok(action)
}

impl Context {
    /// When each taint started to count: its `timeAdded`, or when it was first seen.
    fn taint_starts(&self, node_name: &str, taints: &[Taint], now: Timestamp) -> Vec<Timestamp> {
        let mut first_seen = locked(&self.first_seen);
        let known = first_seen.remove(node_name).unwrap_or_default();
        let mut seen_now = Vec::new();
        let starts = taints
            .iter()
            .map(|taint| {
                if let Some(time_added) = &taint.time_added {
                    return time_added.0;
                }
                let identity = (taint.key.clone(), taint.value.clone(), taint.effect.clone());
                let since = known
                    .iter()
                    .find(|(known, _)| *known == identity)
                    .map_or(now, |(_, since)| *since);
                seen_now.push((identity, since));
                since
            })
            .collect();
        if !seen_now.is_empty() {
            first_seen.insert(node_name.to_owned(), seen_now);
        }
        starts
    }
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

fn until(moment: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(moment.duration_since(now))
        .unwrap_or(Duration::ZERO)
        .min(LONGEST_WAIT)
}

/// Deletes the pods on the node whose tolerations have run out, remembers the ones due
/// later, and asks to be woken when the first of those is due.
async fn evict_pods(node_name: &str, context: &Context) -> Result<Action, TaintEvictionError> {
    let nodes: Api<Node> = Api::all(context.client.clone());
    let Some(node) = nodes.get_opt(node_name).await? else {
        locked(&context.scheduled).remove(node_name);
        locked(&context.first_seen).remove(node_name);
        return Ok(Action::await_change());
    };
    let taints = no_execute_taints(&node);
    let now = Timestamp::now();
    let taint_starts = context.taint_starts(node_name, &taints, now);
    let pods: Api<Pod> = Api::all(context.client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node_name}"));
    let pods = pods.list(&on_node).await?.items;
    let previously_scheduled = locked(&context.scheduled)
        .remove(node_name)
        .unwrap_or_default();
    let mut scheduled = HashSet::new();
    let mut next_due: Option<Timestamp> = None;
    let mut failure = None;
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let key = pod_key(&pod);
        // A pod that came to an already tainted node is given its full tolerations.
        let created = pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |time| time.0);
        let counting: Vec<CountingTaint<'_>> = taints
            .iter()
            .zip(&taint_starts)
            .map(|(taint, start)| CountingTaint {
                taint,
                since: (*start).max(created),
            })
            .collect();
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.tolerations.as_deref())
            .unwrap_or_default();
        match eviction_time(tolerations, &counting) {
            Eviction::Never => {
                if previously_scheduled.contains(&key) {
                    context
                        .recorder
                        .publish(
                            &pod,
                            EventType::Normal,
                            "TaintManagerEviction",
                            format!("Cancelling deletion of Pod {key}"),
                        )
                        .await;
                }
            }
            Eviction::At(due) if due <= now => {
                if let Err(error) = evict(&pod, &key, context).await {
                    failure.get_or_insert(error);
                }
            }
            Eviction::At(due) => {
                scheduled.insert(key);
                next_due = Some(next_due.map_or(due, |next| next.min(due)));
            }
        }
    }
    if !scheduled.is_empty() {
        locked(&context.scheduled).insert(node_name.to_owned(), scheduled);
    }
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(next_due.map_or_else(Action::await_change, |due| {
        Action::requeue(until(due, now) + WAKE_UP_MARGIN)
    }))
}

/// Marks the pod as a disruption target and deletes it gracefully
/// (`addConditionAndDeletePod`), announcing it first.
async fn evict(pod: &Pod, key: &str, context: &Context) -> Result<(), TaintEvictionError> {
    tracing::info!(pod = key, "deleting a pod on a NoExecute-tainted node");
    context
        .recorder
        .publish(
            pod,
            EventType::Normal,
            "TaintManagerEviction",
            format!("Marking for deletion Pod {key}"),
        )
        .await;
    let pods: Api<Pod> =
        Api::namespaced(context.client.clone(), &pod.namespace().unwrap_or_default());
    let existing = pod
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "DisruptionTarget")
        });
    let already_marked = existing.is_some_and(|condition| {
        condition.status == "True" && condition.reason.as_deref() == Some("DeletionByTaintManager")
    });
    if !already_marked {
        let transition = existing
            .filter(|condition| condition.status == "True")
            .and_then(|condition| condition.last_transition_time.clone())
            .map_or_else(Timestamp::now, |time| time.0);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
            "lastTransitionTime": Time(transition),
        }]}});
        match pods
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(condition),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if response.code == 404 => return Ok(()),
            Err(error) => return Err(error.into()),
        }
    }
    let graceful = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match pods.delete(&pod.name_any(), &graceful).await {
        Ok(_) => Ok(()),
        // Gone already, or replaced by another pod of the same name that is judged anew.
        Err(kube::Error::Api(response)) if matches!(response.code, 404 | 409) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
