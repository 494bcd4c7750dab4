//! Why a pod could not be placed, node by node, and the message kube-scheduler 1.33 makes
//! of it (`framework.FitError`): `0/3 nodes are available: 1 node(s) didn't match Pod's
//! node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1
//! Preemption is not helpful for scheduling, 2 No preemption victims found for incoming
//! pod..` — each reason with the number of nodes it ruled out, sorted as text, then what
//! the preemption plugin found, each part closed by a period of its own (hence the two at
//! the end, as `kubectl describe` shows them).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Why one node cannot take the pod, in kube-scheduler's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// NodeUnschedulable: the node is cordoned.
    Unschedulable,
    /// TaintToleration. Kubernetes stopped naming the taint in pod statuses, which anyone
    /// who may read the pod can see; the scheduler's log names it instead.
    UntoleratedTaint,
    /// NodeAffinity's filter: nodeSelector or required node affinity.
    NodeAffinity,
    /// Nodes that NodeAffinity's pre-filter left out, because the pod's required terms
    /// name nodes by `metadata.name` (as DaemonSet pods do).
    NodeAffinityPreFilter,
    TooManyPods,
    InsufficientCpu,
    InsufficientMemory,
    /// InterPodAffinity: the pod's required affinity.
    PodAffinity,
    /// InterPodAffinity: the pod's required anti-affinity.
    PodAntiAffinity,
    /// InterPodAffinity: the required anti-affinity of pods already there.
    ExistingPodsAntiAffinity,
    /// DefaultPreemption: the node failed in a way that evicting pods cannot change.
    PreemptionNotHelpful,
    /// DefaultPreemption: nothing of lower priority runs on the node.
    NoPreemptionVictims,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unschedulable => "node(s) were unschedulable",
            Reason::UntoleratedTaint => "node(s) had untolerated taint(s)",
            Reason::NodeAffinity => "node(s) didn't match Pod's node affinity/selector",
            Reason::NodeAffinityPreFilter => "node(s) didn't satisfy plugin(s) [NodeAffinity]",
            Reason::TooManyPods => "Too many pods",
            Reason::InsufficientCpu => "Insufficient cpu",
            Reason::InsufficientMemory => "Insufficient memory",
            Reason::PodAffinity => "node(s) didn't match pod affinity rules",
            Reason::PodAntiAffinity => "node(s) didn't match pod anti-affinity rules",
            Reason::ExistingPodsAntiAffinity => {
                "node(s) didn't satisfy existing pods anti-affinity rules"
            }
            Reason::PreemptionNotHelpful => "Preemption is not helpful for scheduling",
            Reason::NoPreemptionVictims => "No preemption victims found for incoming pod",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A plugin's verdict on one node: `Unschedulable` when evicting lower-priority pods
/// might change it, `UnschedulableAndUnresolvable` when nothing would.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub resolvable: bool,
    pub reasons: Vec<Reason>,
}

impl NodeStatus {
    pub fn unschedulable(reasons: Vec<Reason>) -> NodeStatus {
        NodeStatus {
            resolvable: true,
            reasons,
        }
    }

    pub fn unresolvable(reason: Reason) -> NodeStatus {
        NodeStatus {
            resolvable: false,
            reasons: vec![reason],
        }
    }
}

/// No node can take the pod: how many there were, and why each one could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    pub node_count: usize,
    /// The verdict on each node that was looked at.
    pub statuses: BTreeMap<String, NodeStatus>,
    /// The verdict on the nodes a pre-filter left out.
    pub absent: Option<NodeStatus>,
    /// A pre-filter that turned the pod away before any node was looked at.
    pub pre_filter_message: Option<String>,
    /// What the preemption plugin found.
    pub post_filter_message: Option<String>,
}

impl FitError {
    pub fn new(node_count: usize) -> FitError {
        FitError {
            node_count,
            statuses: BTreeMap::new(),
            absent: None,
            pre_filter_message: None,
            post_filter_message: None,
        }
    }

    /// The verdict on the named node.
    pub fn status_of(&self, node: &str) -> Option<&NodeStatus> {
        self.statuses.get(node).or(self.absent.as_ref())
    }

    /// Each reason with how many nodes it ruled out, as `2 Insufficient cpu`, sorted as
    /// text (so `10 …` comes before `2 …`, as in Go's `sort.Strings`).
    fn histogram(&self) -> Vec<String> {
        let mut counts: HashMap<Reason, usize> = HashMap::new();
        for status in self.statuses.values() {
            for reason in &status.reasons {
                *counts.entry(*reason).or_default() += 1;
            }
        }
        let absent_nodes = self.node_count.saturating_sub(self.statuses.len());
        if let Some(absent) = &self.absent
            && absent_nodes > 0
        {
            for reason in &absent.reasons {
                *counts.entry(*reason).or_default() += absent_nodes;
            }
        }
        let mut reasons: Vec<String> = counts
            .into_iter()
            .map(|(reason, nodes)| format!("{nodes} {reason}"))
            .collect();
        reasons.sort();
        reasons
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "0/{} nodes are available:", self.node_count)?;
        match &self.pre_filter_message {
            // A pre-filter's verdict stands for every node; counting it per node as well
            // would say the same twice.
            Some(message) => write!(formatter, " {message}.")?,
            None => {
                let reasons = self.histogram();
                if !reasons.is_empty() {
                    write!(formatter, " {}.", reasons.join(", "))?;
                }
            }
        }
        if let Some(message) = &self.post_filter_message {
            write!(formatter, " {message}.")?;
        }
        Ok(())
    }
}

/// Why a pod was not placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// kube-scheduler's `ErrNoNodesAvailable`.
    #[error("no nodes available to schedule pods")]
    NoNodes,
    #[error("{0}")]
    Unfit(FitError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(entries: &[(&str, NodeStatus)]) -> BTreeMap<String, NodeStatus> {
        entries
            .iter()
            .map(|(node, status)| ((*node).to_owned(), status.clone()))
            .collect()
    }

    #[test]
    fn reasons_are_counted_per_node_and_sorted_as_text() {
        let mut error = FitError::new(12);
        let mut entries = vec![(
            "a",
            NodeStatus::unschedulable(vec![Reason::InsufficientCpu, Reason::InsufficientMemory]),
        )];
        let names: Vec<String> = (0..10).map(|index| format!("t{index}")).collect();
        for name in &names {
            entries.push((name, NodeStatus::unresolvable(Reason::UntoleratedTaint)));
        }
        entries.push((
            "z",
            NodeStatus::unschedulable(vec![Reason::InsufficientCpu]),
        ));
        error.statuses = statuses(&entries);
        assert_eq!(
            error.to_string(),
            "0/12 nodes are available: 1 Insufficient memory, 10 node(s) had untolerated taint(s), 2 Insufficient cpu."
        );
    }

    #[test]
    fn nodes_a_pre_filter_left_out_share_its_verdict() {
        let mut error = FitError::new(46);
        error.statuses = statuses(&[("n1", NodeStatus::unschedulable(vec![Reason::TooManyPods]))]);
        error.absent = Some(NodeStatus::unresolvable(Reason::NodeAffinityPreFilter));
        assert_eq!(
            error.to_string(),
            "0/46 nodes are available: 1 Too many pods, 45 node(s) didn't satisfy plugin(s) [NodeAffinity]."
        );
    }

    #[test]
    fn the_preemption_part_ends_with_its_own_period() {
        let mut error = FitError::new(1);
        error.statuses = statuses(&[(
            "n1",
            NodeStatus::unschedulable(vec![Reason::InsufficientCpu]),
        )]);
        error.post_filter_message = Some(
            "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
                .to_owned(),
        );
        assert_eq!(
            error.to_string(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.."
        );
    }

    #[test]
    fn a_pre_filter_message_replaces_the_counts() {
        let mut error = FitError::new(3);
        error.pre_filter_message = Some("pod affinity terms conflict".to_owned());
        error.absent = Some(NodeStatus::unresolvable(Reason::NodeAffinity));
        assert_eq!(
            error.to_string(),
            "0/3 nodes are available: pod affinity terms conflict."
        );
        assert_eq!(
            ScheduleError::NoNodes.to_string(),
            "no nodes available to schedule pods"
        );
    }
}
