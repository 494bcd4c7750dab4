//! The scheduler (kube-scheduler's core): an API client that watches nodes and pods,
//! takes the pods that name no node and leave `spec.schedulerName` to the default
//! scheduler, highest priority first, picks a node for each (see `algorithm`), and binds
//! the pod there through `pods/binding`. A pod no node can take gets `PodScheduled=False`
//! and a FailedScheduling event that says why, node by node, and is tried again when a
//! node is added or changes, when a pod goes away, and every 30 seconds.
//!
//! Decisions are made one at a time in one loop, so each sees the ones before it; the
//! watches (decoding their objects) and the bindings and reports run beside it, in tasks
//! of their own. Everything the scheduler holds is rebuilt from the watches: a restart
//! loses nothing but the counts of repeated events.
//!
//! The plugins are kube-scheduler's default profile, less volumes, host ports,
//! PodTopologySpread and ImageLocality: filters by cordon, taints, nodeSelector and node
//! affinity, resources and pod (anti-)affinity; scores by least-allocated and balanced
//! resources, preferred node affinity, PreferNoSchedule taints and preferred pod
//! (anti-)affinity. A pod that fits nowhere is not preempted for, but its message says
//! what preemption found, as Kubernetes words it.

mod algorithm;
mod binding;
mod cache;
mod fit_error;
mod inter_pod_affinity;
mod node_affinity;
mod pod_info;
mod queue;
mod reporting;
mod resources;
mod scores;
mod selector;
mod taints;

use std::collections::HashSet;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use algorithm::{IncomingPod, TieBreaker};
use binding::{BindOutcome, bind};
use cache::ClusterCache;
use pod_info::PodKey;
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
    namespaces: Store<Namespace>,
    cache: ClusterCache,
    queue: SchedulingQueue,
    reporter: Reporter,
    messages: mpsc::UnboundedSender<Message>,
    pods_listed: bool,
    nodes_listed: bool,
    namespaces_listed: bool,
    /// Where the next decision starts looking through the nodes, so that in clusters
    /// large enough to look at only some of them, every node gets its turn.
    next_start_node_index: usize,
    ties: TieBreaker,
}

impl Scheduler {
    /// Nothing is decided before the lists are complete: a pod seen before the nodes, or
    /// before the pods already on them (or the namespaces its affinity terms select),
    /// would be judged against a cluster half known.
    fn ready_to_schedule(&self) -> bool {
        self.pods_listed && self.nodes_listed && self.namespaces_listed && self.queue.has_active()
    }

    /// Namespaces' labels matter to affinity terms with a namespace selector.
    fn on_namespace_event(&mut self, event: watcher::Event<Namespace>) {
        match event {
            watcher::Event::Apply(namespace) => {
                if self.cache.set_namespace(&namespace) {
                    self.queue.retry_unschedulable();
                }
            }
            watcher::Event::Delete(namespace) => {
                self.cache.remove_namespace(&namespace.name_any());
            }
            watcher::Event::InitDone => {
                self.cache.replace_namespaces(
                    self.namespaces.state().iter().map(|namespace| &**namespace),
                );
                self.namespaces_listed = true;
                self.queue.retry_unschedulable();
            }
            watcher::Event::Init | watcher::Event::InitApply(_) => {}
        }
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
        let incoming = match IncomingPod::of(&pod) {
            None => {
                self.queue.remove(&key);
                return;
            }
            Some(Err(error)) => {
                self.queue.unschedulable(&key, Arc::clone(&pod));
                self.reporter.send(Report::Failed {
                    pod,
                    reason: REASON_SCHEDULER_ERROR,
                    message: error.to_string(),
                });
                return;
            }
            Some(Ok(incoming)) => incoming,
        };
        let outcome = algorithm::schedule(
            &incoming,
            &self.cache,
            self.next_start_node_index,
            &mut self.ties,
        );
        let node_count = self.cache.node_count().max(1);
        self.next_start_node_index =
            (self.next_start_node_index + outcome.processed_nodes) % node_count;
        match outcome.result {
            Ok(node) => {
                let (requests, facts) = (incoming.requests, Arc::clone(&incoming.facts));
                self.cache.assume(key.clone(), &node, requests, facts);
                tokio::spawn(bind_and_report(
                    self.client.clone(),
                    key,
                    pod,
                    node,
                    self.reporter.clone(),
                    self.messages.clone(),
                ));
            }
            Err(error) => {
                tracing::debug!(pod = %key, %error, "no node can take the pod");
                self.queue.unschedulable(&key, Arc::clone(&pod));
                self.reporter.send(Report::Failed {
                    pod,
                    reason: REASON_UNSCHEDULABLE,
                    message: error.to_string(),
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

/// How many events a watch may hand over before the scheduler has taken them.
const WATCH_EVENT_BUFFER: usize = 4096;

/// How many decisions are made in a row before the loop lets other tasks run, which it
/// must do itself on a single-threaded runtime.
const DECISIONS_BETWEEN_YIELDS: u32 = 32;

type WatchEvents<K> = mpsc::Receiver<Result<watcher::Event<K>, watcher::Error>>;

/// Watches one kind in a task of its own, keeping `writer`'s store up to date, and hands
/// the events over in order. Decoding a watch's objects is most of what an event costs,
/// so it runs beside the decisions instead of between them.
fn watch_in_background<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
) -> WatchEvents<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Default,
{
    let (sender, receiver) = mpsc::channel(WATCH_EVENT_BUFFER);
    tokio::spawn(async move {
        let events = watcher(api, config).default_backoff().reflect(writer);
        let mut events = pin!(events);
        while let Some(event) = events.next().await {
            if sender.send(event).await.is_err() {
                return;
            }
        }
    });
    receiver
}

/// Runs the scheduler until the process ends.
pub async fn run(client: Client) {
    let (pods, pod_writer) = reflector::store();
    let (nodes, node_writer) = reflector::store();
    let (namespaces, namespace_writer) = reflector::store();
    let mut pod_events = watch_in_background(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default().fields(UNFINISHED_PODS),
        pod_writer,
    );
    let mut node_events = watch_in_background(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        node_writer,
    );
    let mut namespace_events = watch_in_background(
        Api::<Namespace>::all(client.clone()),
        watcher::Config::default(),
        namespace_writer,
    );
    let (messages, mut received) = mpsc::unbounded_channel();
    let mut scheduler = Scheduler {
        reporter: Reporter::start(client.clone()),
        client,
        pods,
        nodes,
        namespaces,
        cache: ClusterCache::default(),
        queue: SchedulingQueue::default(),
        messages,
        pods_listed: false,
        nodes_listed: false,
        namespaces_listed: false,
        next_start_node_index: 0,
        ties: TieBreaker::from_clock(),
    };
    let mut retry = tokio::time::interval(UNSCHEDULABLE_RETRY_PERIOD);
    let mut decisions_in_a_row = 0;
    loop {
        // Changes to the cluster come first, so that every decision sees all that is known.
        tokio::select! {
            biased;
            Some(event) = node_events.recv() => match event {
                Ok(event) => scheduler.on_node_event(event),
                Err(error) => tracing::warn!(%error, "watching nodes failed; retrying"),
            },
            Some(event) = namespace_events.recv() => match event {
                Ok(event) => scheduler.on_namespace_event(event),
                Err(error) => tracing::warn!(%error, "watching namespaces failed; retrying"),
            },
            Some(event) = pod_events.recv() => match event {
                Ok(event) => scheduler.on_pod_event(event),
                Err(error) => tracing::warn!(%error, "watching pods failed; retrying"),
            },
            Some(message) = received.recv() => scheduler.on_message(message),
            _ = retry.tick() => scheduler.queue.retry_unschedulable(),
            () = std::future::ready(()), if scheduler.ready_to_schedule() => {
                scheduler.schedule_next();
                decisions_in_a_row += 1;
                if decisions_in_a_row == DECISIONS_BETWEEN_YIELDS {
                    decisions_in_a_row = 0;
                    tokio::task::yield_now().await;
                }
            }
        }
    }
}
