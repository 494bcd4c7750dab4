//! The scheduler (kube-scheduler's core): an API client that watches nodes and pods,
//! takes the pods that name no node and leave `spec.schedulerName` to the default
//! scheduler, highest priority first, picks a node for each (see `algorithm`), and binds
//! the pod there through `pods/binding`. A pod no node can take gets `PodScheduled=False`
//! and a FailedScheduling event that says why, node by node, and is tried again when a
//! node is added or changes, when a pod goes away, and every 30 seconds.
//!
//! Decisions are made one at a time in one loop, so each sees the ones before it; the
//! bindings and reports run beside it. Everything the scheduler holds is rebuilt from the
//! watches: a restart loses nothing but the counts of repeated events.

mod algorithm;
mod binding;
mod cache;
mod node_affinity;
mod queue;
mod reporting;
mod resources;
mod taints;

use std::collections::HashSet;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::mpsc;

use binding::{BindOutcome, bind};
use cache::{ClusterCache, PodKey};
use queue::SchedulingQueue;
use reporting::{REASON_SCHEDULER_ERROR, REASON_UNSCHEDULABLE, Report, Reporter};

/// The scheduler's name: pods choose it (or leave `spec.schedulerName` to default to it),
/// and its events come from it.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// How often pods that no node could take are tried again even if nothing they depend on
/// seemed to change.
const UNSCHEDULABLE_RETRY_PERIOD: Duration = Duration::from_secs(30);

/// The pods the scheduler keeps track of: every pod that has not finished, bound ones for
/// what they take from their nodes, unbound ones to schedule (as kube-scheduler's pod
/// informer selects them).
const UNFINISHED_PODS: &str = "status.phase!=Succeeded,status.phase!=Failed";

/// What the binding tasks and backoff timers tell the scheduling loop.
#[derive(Debug)]
enum Message {
    Bound(PodKey),
    AlreadyBound(PodKey),
    Gone(PodKey),
    BindFailed(PodKey),
    BackoffExpired(PodKey),
}

fn is_bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .is_some_and(|node| !node.is_empty())
}

/// A pod the default scheduler should place: unbound, not being deleted, and not meant
/// for another scheduler.
fn needs_scheduling(pod: &Pod) -> bool {
    let scheduler = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.scheduler_name.as_deref())
        .unwrap_or(SCHEDULER_NAME);
    !is_bound(pod) && pod.metadata.deletion_timestamp.is_none() && scheduler == SCHEDULER_NAME
}

struct Scheduler {
    client: Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    cache: ClusterCache,
    queue: SchedulingQueue,
    reporter: Reporter,
    messages: mpsc::UnboundedSender<Message>,
    pods_listed: bool,
    nodes_listed: bool,
}

impl Scheduler {
    /// Nothing is decided before both lists are complete: a pod seen before the nodes, or
    /// before the pods already on them, would be judged against a cluster half known.
    fn ready_to_schedule(&self) -> bool {
        self.pods_listed && self.nodes_listed && self.queue.has_active()
    }

    fn on_node_event(&mut self, event: watcher::Event<Node>) {
        match event {
            watcher::Event::Apply(node) => {
                if self.cache.set_node(&node) {
                    self.queue.retry_unschedulable();
                }
            }
            watcher::Event::Delete(node) => self.cache.remove_node(&node.name_any()),
            watcher::Event::InitDone => {
                self.cache
                    .replace_nodes(self.nodes.state().iter().map(|node| &**node));
                self.nodes_listed = true;
                self.queue.retry_unschedulable();
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    /// Queues the pod if it needs a node, or takes it off the queue if it no longer does.
    fn queue_pod(&mut self, pod: &Pod) {
        let key = PodKey::of(pod);
        if !needs_scheduling(pod) {
            self.queue.remove(&key);
        } else if !self.cache.is_assumed(&key) {
            // An assumed pod's binding is on its way; what arrives meanwhile is an older
            // copy of it.
            self.queue.observe(pod);
        }
    }

    fn on_pod_event(&mut self, event: watcher::Event<Pod>) {
        match event {
            watcher::Event::Apply(pod) => {
                self.cache.observe_pod(&pod);
                self.queue_pod(&pod);
            }
            watcher::Event::Delete(pod) => {
                let key = PodKey::of(&pod);
                let took_room = is_bound(&pod) || self.cache.is_assumed(&key);
                self.cache.forget_pod(&key);
                self.queue.remove(&key);
                if let Some(uid) = pod.uid() {
                    self.reporter.send(Report::Forget { uid });
                }
                if took_room {
                    // What it took on its node (a finished pod leaves this watch too) is
                    // free again.
                    self.queue.retry_unschedulable();
                }
            }
            watcher::Event::InitDone => {
                let pods = self.pods.state();
                self.cache.replace_pods(pods.iter().map(|pod| &**pod));
                let listed: HashSet<PodKey> = pods.iter().map(|pod| PodKey::of(pod)).collect();
                self.queue.retain(|key| listed.contains(key));
                for pod in &pods {
                    self.queue_pod(pod);
                }
                self.pods_listed = true;
                self.queue.retry_unschedulable();
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
    }

    fn on_message(&mut self, message: Message) {
        match message {
            // The assumption stays until the pod watch shows the pod bound.
            Message::Bound(key) => self.queue.remove(&key),
            Message::AlreadyBound(key) | Message::Gone(key) => {
                self.cache.forget_assumption(&key);
                self.queue.remove(&key);
            }
            Message::BindFailed(key) => {
                self.cache.forget_assumption(&key);
                if let Some(delay) = self.queue.back_off(&key) {
                    let messages = self.messages.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = messages.send(Message::BackoffExpired(key));
                    });
                }
            }
            Message::BackoffExpired(key) => self.queue.backoff_expired(&key),
        }
    }

    /// Decides where the next pod goes, and starts its binding or reports why it stays.
    fn schedule_next(&mut self) {
        let Some(key) = self.queue.pop() else {
            return;
        };
        let reference = ObjectRef::new(&key.name).within(&key.namespace);
        let Some(pod) = self
            .pods
            .get(&reference)
            .filter(|pod| needs_scheduling(pod))
        else {
            self.queue.remove(&key);
            return;
        };
        let Some(spec) = pod.spec.as_ref() else {
            self.queue.remove(&key);
            return;
        };
        let requests = match resources::pod_requests(&pod) {
            Ok(requests) => requests,
            Err(error) => {
                self.queue.unschedulable(&key, Arc::clone(&pod));
                self.reporter.send(Report::Failed {
                    pod,
                    reason: REASON_SCHEDULER_ERROR,
                    message: error.to_string(),
                });
                return;
            }
        };
        match algorithm::select_node(spec, &requests, &self.cache) {
            Ok(node) => {
                self.cache.assume(key.clone(), &node, requests);
                tokio::spawn(bind_and_report(
                    self.client.clone(),
                    key,
                    pod,
                    node,
                    self.reporter.clone(),
                    self.messages.clone(),
                ));
            }
            Err(fit_error) => {
                tracing::debug!(pod = %key, reasons = ?fit_error.failures, "no node can take the pod");
                self.queue.unschedulable(&key, Arc::clone(&pod));
                self.reporter.send(Report::Failed {
                    pod,
                    reason: REASON_UNSCHEDULABLE,
                    message: fit_error.to_string(),
                });
            }
        }
    }
}

/// The binding cycle: binds the pod, reports it, and tells the loop how it went.
async fn bind_and_report(
    client: Client,
    key: PodKey,
    pod: Arc<Pod>,
    node: String,
    reporter: Reporter,
    messages: mpsc::UnboundedSender<Message>,
) {
    let message = match bind(&client, &key, pod.uid(), &node).await {
        Ok(BindOutcome::Bound) => {
            tracing::debug!(pod = %key, %node, "bound");
            reporter.send(Report::Scheduled { pod, node });
            Message::Bound(key)
        }
        Ok(BindOutcome::AlreadyBound) => Message::AlreadyBound(key),
        Ok(BindOutcome::Gone) => Message::Gone(key),
        Err(error) => {
            tracing::warn!(pod = %key, %node, %error, "binding failed");
            reporter.send(Report::Failed {
                pod,
                reason: REASON_SCHEDULER_ERROR,
                message: format!("running Bind plugin \"DefaultBinder\": {error}"),
            });
            Message::BindFailed(key)
        }
    };
    let _ = messages.send(message);
}

/// Runs the scheduler until the process ends.
pub async fn run(client: Client) {
    let (pods, pod_writer) = reflector::store();
    let (nodes, node_writer) = reflector::store();
    let pod_events = watcher(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default().fields(UNFINISHED_PODS),
    )
    .default_backoff()
    .reflect(pod_writer);
    let node_events = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer);
    let mut pod_events = pin!(pod_events);
    let mut node_events = pin!(node_events);
    let (messages, mut received) = mpsc::unbounded_channel();
    let mut scheduler = Scheduler {
        reporter: Reporter::start(client.clone()),
        client,
        pods,
        nodes,
        cache: ClusterCache::default(),
        queue: SchedulingQueue::default(),
        messages,
        pods_listed: false,
        nodes_listed: false,
    };
    let mut retry = tokio::time::interval(UNSCHEDULABLE_RETRY_PERIOD);
    loop {
        // Changes to the cluster come first, so that every decision sees all that is known.
        tokio::select! {
            biased;
            Some(event) = node_events.next() => match event {
                Ok(event) => scheduler.on_node_event(event),
                Err(error) => tracing::warn!(%error, "watching nodes failed; retrying"),
            },
            Some(event) = pod_events.next() => match event {
                Ok(event) => scheduler.on_pod_event(event),
                Err(error) => tracing::warn!(%error, "watching pods failed; retrying"),
            },
            Some(message) = received.recv() => scheduler.on_message(message),
            _ = retry.tick() => scheduler.queue.retry_unschedulable(),
            () = std::future::ready(()), if scheduler.ready_to_schedule() => {
                scheduler.schedule_next();
                // Lets the bindings and reports run between decisions, even on a
                // single-threaded runtime.
                tokio::task::yield_now().await;
            }
        }
    }
}
