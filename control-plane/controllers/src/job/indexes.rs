//! Indexed Jobs: the completion index each pod carries, the compressed interval lists that
//! `status.completedIndexes` shows ("0-3,5"), and which indexes still need a pod
//! (kube-controller-manager's `indexed_job_utils.go`).

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec,
};

/// The annotation, and since PodIndexLabel the label, that holds a pod's completion index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// The variable every container of an Indexed Job's pod gets its index in.
const COMPLETION_INDEX_ENV_NAME: &str = "JOB_COMPLETION_INDEX";

/// A generated name is cut so that the API server's five random characters still fit in
/// a 63-character name (`names.MaxGeneratedNameLength`).
const MAXIMUM_GENERATED_NAME_LENGTH: usize = 58;

/// The pod's completion index, when its annotation holds a non-negative number.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(COMPLETION_INDEX_ANNOTATION)?
        .parse::<i32>()
        .ok()
        .filter(|index| *index >= 0)
}

/// The pod's completion index when it is one the Job asks for (below `completions`).
pub fn valid_completion_index(pod: &Pod, completions: i32) -> Option<i32> {
    completion_index(pod).filter(|index| *index < completions)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interval {
    first: i32,
    last: i32,
}

/// Sorted, non-overlapping, non-adjacent intervals of indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderedIntervals(Vec<Interval>);

impl OrderedIntervals {
    /// Reads a list as `status.completedIndexes` writes it, dropping what is corrupt or
    /// not below `completions`, as `parseIndexesFromString` does.
    pub fn parse(text: &str, completions: i32) -> OrderedIntervals {
        let mut result: Vec<Interval> = Vec::new();
        if text.is_empty() {
            return OrderedIntervals(result);
        }
        for part in text.split(',') {
            let mut limits = part.split('-');
            let Some(Ok(first)) = limits.next().map(str::parse::<i32>) else {
                continue;
            };
            if first >= completions {
                break;
            }
            let last = match limits.next() {
                Some(text) => match text.parse::<i32>() {
                    Ok(last) => last.min(completions - 1),
                    Err(_) => continue,
                },
                None => first,
            };
            match result.last_mut() {
                Some(previous) if previous.last == first - 1 => previous.last = last,
                _ => result.push(Interval { first, last }),
            }
        }
        OrderedIntervals(result)
    }

    /// These intervals with `indexes` (in increasing order) added.
    pub fn with_ordered_indexes(&self, indexes: impl IntoIterator<Item = i32>) -> Self {
        let added = OrderedIntervals(
            indexes
                .into_iter()
                .map(|index| Interval {
                    first: index,
                    last: index,
                })
                .collect(),
        );
        self.merge(&added)
    }

    /// The union of two interval lists.
    pub fn merge(&self, other: &OrderedIntervals) -> OrderedIntervals {
        let mut all: Vec<Interval> = self.0.iter().chain(other.0.iter()).copied().collect();
        all.sort_by_key(|interval| interval.first);
        let mut result: Vec<Interval> = Vec::with_capacity(all.len());
        for interval in all {
            match result.last_mut() {
                Some(previous) if interval.first <= previous.last.saturating_add(1) => {
                    previous.last = previous.last.max(interval.last);
                }
                _ => result.push(interval),
            }
        }
        OrderedIntervals(result)
    }

    /// How many indexes the intervals hold.
    pub fn total(&self) -> i32 {
        self.0
            .iter()
            .map(|interval| interval.last - interval.first + 1)
            .sum()
    }

    pub fn has(&self, index: i32) -> bool {
        self.0
            .iter()
            .any(|interval| interval.first <= index && index <= interval.last)
    }
}

/// Kubernetes' format: `0-3,5`, with a pair of neighbours written `6,7` rather than `6-7`.
impl fmt::Display for OrderedIntervals {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, interval) in self.0.iter().enumerate() {
            if position > 0 {
                formatter.write_str(",")?;
            }
            write!(formatter, "{}", interval.first)?;
            if interval.last == interval.first + 1 {
                write!(formatter, ",{}", interval.last)?;
            } else if interval.last > interval.first {
                write!(formatter, "-{}", interval.last)?;
            }
        }
        Ok(())
    }
}

/// The first `count` indexes below `completions` that neither succeeded nor have a pod in
/// `busy` (the active pods' indexes, and the terminating ones' when only failed pods may
/// be replaced).
pub fn first_pending_indexes(
    succeeded: &OrderedIntervals,
    busy: &BTreeSet<i32>,
    count: usize,
    completions: i32,
) -> Vec<i32> {
    let not_pending = succeeded.with_ordered_indexes(busy.iter().copied());
    // Walks the gaps between the intervals, so the work is bounded by the intervals and
    // `count`, not by `completions`.
    let mut result = Vec::with_capacity(count.min(1024));
    let mut candidate = 0;
    for interval in not_pending.0.iter().chain(std::iter::once(&Interval {
        first: completions,
        last: completions,
    })) {
        while candidate < completions.min(interval.first) && result.len() < count {
            result.push(candidate);
            candidate += 1;
        }
        candidate = candidate.max(interval.last.saturating_add(1));
        if result.len() >= count || candidate >= completions {
            break;
        }
    }
    result
}

/// `<job>-<index>-`, shortened so that the generated name stays a valid name.
pub fn pod_generate_name_with_index(job_name: &str, index: i32) -> String {
    let suffix = format!("-{index}-");
    let prefix = format!("{job_name}{suffix}");
    if prefix.len() <= MAXIMUM_GENERATED_NAME_LENGTH {
        return prefix;
    }
    let mut keep = MAXIMUM_GENERATED_NAME_LENGTH.saturating_sub(suffix.len());
    while !job_name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &job_name[..keep])
}

/// Gives every container (init containers too) `JOB_COMPLETION_INDEX` from the pod's
/// completion-index label, as the Job controller does with PodIndexLabel (GA since 1.32);
/// a container that already sets the variable keeps its own.
pub fn add_completion_index_env(spec: &mut PodSpec) {
    let containers = spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut());
    for container in containers {
        add_completion_index_env_to(container);
    }
}

fn add_completion_index_env_to(container: &mut Container) {
    let env = container.env.get_or_insert_with(Vec::new);
    if env
        .iter()
        .any(|variable| variable.name == COMPLETION_INDEX_ENV_NAME)
    {
        return;
    }
    env.push(EnvVar {
        name: COMPLETION_INDEX_ENV_NAME.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.labels['{COMPLETION_INDEX_ANNOTATION}']"),
            }),
            ..Default::default()
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_print_as_kubernetes_prints_them() {
        let intervals = OrderedIntervals::default().with_ordered_indexes([0, 1, 2, 3, 5, 7, 8]);
        assert_eq!(intervals.to_string(), "0-3,5,7,8");
        assert_eq!(intervals.total(), 7);
        assert!(intervals.has(2) && intervals.has(8) && !intervals.has(4) && !intervals.has(6));
        let all = OrderedIntervals::default().with_ordered_indexes(0..8);
        assert_eq!(all.to_string(), "0-7");
        assert_eq!(OrderedIntervals::default().to_string(), "");
    }

    #[test]
    fn parsing_merges_neighbours_and_drops_what_is_out_of_range() {
        let parsed = OrderedIntervals::parse("0-2,3,5,x,7-20", 10);
        assert_eq!(parsed.to_string(), "0-3,5,7-9");
        assert_eq!(OrderedIntervals::parse("12,1", 10).total(), 0);
        let merged = parsed.merge(&OrderedIntervals::parse("4,6", 10));
        assert_eq!(merged.to_string(), "0-9");
    }

    #[test]
    fn pending_indexes_skip_succeeded_and_busy_ones() {
        let succeeded = OrderedIntervals::parse("0,1,4", 8);
        let busy = BTreeSet::from([2, 5]);
        assert_eq!(
            first_pending_indexes(&succeeded, &busy, 3, 8),
            vec![3, 6, 7]
        );
        assert_eq!(
            first_pending_indexes(&succeeded, &busy, 10, 8),
            vec![3, 6, 7]
        );
        assert!(first_pending_indexes(&succeeded, &busy, 0, 8).is_empty());
        // The walk is over the gaps: a huge completion count costs nothing.
        let first_five = OrderedIntervals::default().with_ordered_indexes(0..5);
        assert_eq!(
            first_pending_indexes(&first_five, &BTreeSet::from([6]), 3, i32::MAX),
            vec![5, 7, 8]
        );
    }

    #[test]
    fn generated_names_keep_the_index_when_the_job_name_is_long() {
        assert_eq!(pod_generate_name_with_index("pi", 3), "pi-3-");
        let long = "j".repeat(70);
        let name = pod_generate_name_with_index(&long, 12);
        assert_eq!(name.len(), MAXIMUM_GENERATED_NAME_LENGTH);
        assert!(name.ends_with("-12-"));
    }

    #[test]
    fn every_container_gets_the_index_variable_once() {
        let mut spec: PodSpec = serde_json::from_value(serde_json::json!({
            "initContainers": [{"name": "setup"}],
            "containers": [
                {"name": "app"},
                {"name": "own", "env": [{"name": "JOB_COMPLETION_INDEX", "value": "9"}]},
            ],
        }))
        .expect("a pod spec");
        add_completion_index_env(&mut spec);
        add_completion_index_env(&mut spec);
        let variables = |container: &Container| container.env.clone().unwrap_or_default();
        let init = &spec.init_containers.as_ref().expect("init containers")[0];
        assert_eq!(variables(init).len(), 1);
        assert_eq!(
            variables(&spec.containers[0])[0]
                .value_from
                .as_ref()
                .and_then(|source| source.field_ref.as_ref())
                .map(|field| field.field_path.as_str()),
            Some("metadata.labels['batch.kubernetes.io/job-completion-index']")
        );
        assert_eq!(
            variables(&spec.containers[1])[0].value.as_deref(),
            Some("9")
        );
    }
}
