//! Kubernetes' InterPodAffinity plugin: required pod affinity and anti-affinity as
//! filters (the incoming pod's own terms, and placed pods' anti-affinity against it),
//! preferred terms as a score.
//!
//! Any topology key works as in Kubernetes: a term is about the nodes that share the
//! value of its key with the node a matching pod is on. A node without the key cannot
//! satisfy a required affinity term and is never excluded by an anti-affinity term; with
//! `kubernetes.io/hostname` (which every node agent sets) each node is its own topology.

mod filter;
mod score;

pub use filter::AffinityFilter;
pub use score::{AffinityScore, normalize};

use super::cache::ClusterCache;
use super::pod_info::NamespaceLabels;

/// A topology key and a node's value for it.
type TopologyPair<'a> = (&'a str, &'a str);

/// What the plugin reads of the cluster.
#[derive(Clone, Copy, Debug)]
pub struct ClusterView<'a> {
    pub cache: &'a ClusterCache,
    pub namespaces: &'a NamespaceLabels,
}

impl<'a> ClusterView<'a> {
    pub fn of(cache: &'a ClusterCache) -> ClusterView<'a> {
        ClusterView {
            cache,
            namespaces: cache.namespaces(),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::fit_error::Reason;
    use crate::scheduler::pod_info::{AffinityTerms, PodFacts};

    fn node(name: &str, zone: Option<&str>) -> Node {
        let mut labels = json!({"kubernetes.io/hostname": name});
        if let Some(zone) = zone {
            labels["topology.kubernetes.io/zone"] = json!(zone);
        }
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
            .expect("a node")
    }

    fn pod(name: &str, labels: Value, affinity: Value, node: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"nodeName": node, "containers": [], "affinity": affinity},
        }))
        .expect("a pod")
    }

    fn facts(pod: &Pod) -> PodFacts {
        PodFacts::with_affinity(pod, AffinityTerms::of(pod).expect("valid terms"))
    }

    fn term(app: &str, key: &str) -> Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    const HOSTNAME: &str = "kubernetes.io/hostname";
    const ZONE: &str = "topology.kubernetes.io/zone";

    /// Three nodes: a and b in zone east, c in zone west.
    fn cluster() -> ClusterCache {
        let mut cache = ClusterCache::default();
        cache.set_node(&node("a", Some("east")));
        cache.set_node(&node("b", Some("east")));
        cache.set_node(&node("c", Some("west")));
        cache
    }

    fn verdicts(incoming: &Pod, cache: &ClusterCache) -> Vec<Option<Reason>> {
        let incoming = facts(incoming);
        let empty = AffinityTerms::default();
        let filter = AffinityFilter::prepare(&incoming, ClusterView::of(cache), &empty);
        cache
            .nodes()
            .map(|(node, _)| {
                filter
                    .as_ref()
                    .and_then(|filter| filter.filter(node))
                    .map(|status| status.reasons[0])
            })
            .collect()
    }

    fn place(cache: &mut ClusterCache, pod: &Pod) {
        cache.observe_pod(pod);
    }

    #[test]
    fn required_anti_affinity_on_the_hostname_keeps_replicas_apart() {
        let mut cache = cluster();
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web", HOSTNAME)]}});
        place(
            &mut cache,
            &pod("web-1", json!({"app": "web"}), anti.clone(), Some("a")),
        );
        let second = pod("web-2", json!({"app": "web"}), anti, None);
        assert_eq!(
            verdicts(&second, &cache),
            [Some(Reason::PodAntiAffinity), None, None]
        );
    }

    #[test]
    fn a_placed_pods_anti_affinity_keeps_matching_pods_off_its_topology() {
        let mut cache = cluster();
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("batch", ZONE)]}});
        place(
            &mut cache,
            &pod("loner", json!({"app": "loner"}), anti, Some("a")),
        );
        let batch = pod("job", json!({"app": "batch"}), json!(null), None);
        assert_eq!(
            verdicts(&batch, &cache),
            [
                Some(Reason::ExistingPodsAntiAffinity),
                Some(Reason::ExistingPodsAntiAffinity),
                None
            ]
        );
        let other = pod("other", json!({"app": "web"}), json!(null), None);
        assert_eq!(verdicts(&other, &cache), [None, None, None]);
    }

    #[test]
    fn required_affinity_needs_a_matching_pod_in_the_topology_unless_it_is_the_first() {
        let mut cache = cluster();
        let with_db = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("db", ZONE)]}});
        let cache_pod = pod("cache", json!({"app": "cache"}), with_db.clone(), None);
        assert_eq!(
            verdicts(&cache_pod, &cache),
            [Some(Reason::PodAffinity); 3],
            "no db anywhere, and the pod is no db itself"
        );
        let first_db = pod("db-1", json!({"app": "db"}), with_db.clone(), None);
        assert_eq!(
            verdicts(&first_db, &cache),
            [None, None, None],
            "the first of a self-affine group may go anywhere"
        );
        place(
            &mut cache,
            &pod("db-0", json!({"app": "db"}), json!(null), Some("c")),
        );
        assert_eq!(
            verdicts(&cache_pod, &cache),
            [Some(Reason::PodAffinity), Some(Reason::PodAffinity), None]
        );
        let mut unlabelled = ClusterCache::default();
        unlabelled.set_node(&node("bare", None));
        place(
            &mut unlabelled,
            &pod("db-0", json!({"app": "db"}), json!(null), Some("bare")),
        );
        assert_eq!(
            verdicts(&cache_pod, &unlabelled),
            [Some(Reason::PodAffinity)],
            "a node without the topology key cannot satisfy the term"
        );
    }

    #[test]
    fn without_victims_the_anti_affinity_they_caused_is_gone() {
        let mut cache = cluster();
        let anti = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("web", HOSTNAME)]}});
        let placed = pod("web-1", json!({"app": "web"}), json!(null), Some("a"));
        place(&mut cache, &placed);
        let incoming = facts(&pod("web-2", json!({"app": "web"}), anti, None));
        let empty = AffinityTerms::default();
        let filter = AffinityFilter::prepare(&incoming, ClusterView::of(&cache), &empty)
            .expect("the pod has terms");
        let (node_a, state_a) = cache.nodes().next().expect("node a");
        assert!(filter.filter(node_a).is_some());
        let victims = state_a.pods.values().map(|placed| &*placed.facts);
        assert!(filter.without(node_a, victims).filter(node_a).is_none());
    }

    fn scores(incoming: &Pod, cache: &ClusterCache) -> Option<Vec<i64>> {
        let incoming = facts(incoming);
        let score = AffinityScore::prepare(&incoming, ClusterView::of(cache))?;
        let mut raw: Vec<i64> = cache.nodes().map(|(node, _)| score.score(node)).collect();
        normalize(&mut raw);
        Some(raw)
    }

    #[test]
    fn preferred_terms_score_by_topology_and_normalise_between_lowest_and_highest() {
        let mut cache = cluster();
        place(
            &mut cache,
            &pod("db-0", json!({"app": "db"}), json!(null), Some("a")),
        );
        place(
            &mut cache,
            &pod("web-0", json!({"app": "web"}), json!(null), Some("c")),
        );
        let plain = pod("plain", json!({}), json!(null), None);
        assert_eq!(scores(&plain, &cache), None, "nothing to score");
        let near_db_far_from_web = pod(
            "p",
            json!({}),
            json!({
                "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "podAffinityTerm": term("db", ZONE)},
                ]},
                "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 5, "podAffinityTerm": term("web", HOSTNAME)},
                ]},
            }),
            None,
        );
        // Raw: a and b earn 10 (zone east holds the db), c loses 5 (it holds web).
        assert_eq!(
            scores(&near_db_far_from_web, &cache),
            Some(vec![100, 100, 0])
        );
    }

    #[test]
    fn placed_pods_terms_attract_and_repel_the_incoming_pod() {
        let mut cache = cluster();
        let wants_web = json!({"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term("web", HOSTNAME)],
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 3, "podAffinityTerm": term("web", HOSTNAME)}],
        }});
        place(
            &mut cache,
            &pod("sidecar", json!({"app": "side"}), wants_web, Some("b")),
        );
        let shuns_web = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 2, "podAffinityTerm": term("web", HOSTNAME)},
        ]}});
        place(
            &mut cache,
            &pod("quiet", json!({"app": "quiet"}), shuns_web, Some("c")),
        );
        let web = pod("web", json!({"app": "web"}), json!(null), None);
        // Raw: a 0, b 1 + 3 = 4, c -2; spread over -2..4.
        assert_eq!(scores(&web, &cache), Some(vec![33, 100, 0]));
    }
}
