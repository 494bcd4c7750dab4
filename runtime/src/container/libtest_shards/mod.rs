//! Sharding a Rust test binary (libtest, the standard `#[test]` harness) over the pods
//! of an Indexed Job. libtest has no sharding option and a WASI pod has no shell to work
//! out a shard's filters from its completion index, so the node agent does it for a pod
//! that asks with the annotation `wasmkube.dev/libtest-shards: "N"`: it lists the binary's
//! tests (`--list --format terse`), keeps those whose position in that sorted list
//! modulo N is the pod's completion index (`batch.kubernetes.io/job-completion-index`),
//! and runs them (`run.rs`).
//!
//! Each test runs in an instance of its own. A test binary built for a WASI target is
//! built with `panic=abort` (those targets cannot unwind), and libtest there falls back to
//! aborting the whole binary at the first failing test: the rest of the shard would never
//! run and the panic message, still in libtest's capture buffer, would be lost. libtest
//! itself runs every test in a child process when tests abort on panic; a fresh instance
//! of the compiled component is the wasm counterpart, and costs well under a millisecond.
//! The node then writes the shard's log in libtest's own format (`report.rs`).

mod report;
mod run;

pub use run::run_shard;

use k8s_openapi::api::core::v1::Pod;

/// The annotation a pod asks for its container to be run as one shard of a libtest
/// binary with: the number of shards, the Job's `completions`.
pub const LIBTEST_SHARDS_ANNOTATION: &str = "wasmkube.dev/libtest-shards";

/// The annotation the Job controller gives each pod of an Indexed Job: its index.
pub const COMPLETION_INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

/// Which shard of how many a pod runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardAssignment {
    /// The pod's completion index, below `count`.
    pub index: usize,
    pub count: usize,
}

/// Why a pod that asked to be a shard cannot be one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardRequestError {
    #[error(
        "the annotation {LIBTEST_SHARDS_ANNOTATION} must be a whole number of shards from 1 up, not {0:?}"
    )]
    BadShardCount(String),
    #[error(
        "the pod has no {COMPLETION_INDEX_ANNOTATION} annotation: {LIBTEST_SHARDS_ANNOTATION} needs a pod of an Indexed Job (completionMode: Indexed)"
    )]
    NoCompletionIndex,
    #[error("the pod's {COMPLETION_INDEX_ANNOTATION} annotation is not a completion index: {0:?}")]
    BadCompletionIndex(String),
    #[error(
        "completion index {index} is not below the {count} shards of {LIBTEST_SHARDS_ANNOTATION}: the Job's completions and the shard count must be the same"
    )]
    IndexOutOfRange { index: usize, count: usize },
}

/// The shard a pod asks its containers to run as: None for a pod without the annotation
/// (its containers run as they are), an error for one whose request cannot be met.
pub fn requested_shard(pod: &Pod) -> Option<Result<ShardAssignment, ShardRequestError>> {
    let annotations = pod.metadata.annotations.as_ref()?;
    let count_text = annotations.get(LIBTEST_SHARDS_ANNOTATION)?;
    Some(shard_assignment(
        count_text,
        annotations
            .get(COMPLETION_INDEX_ANNOTATION)
            .map(String::as_str),
    ))
}

fn shard_assignment(
    count_text: &str,
    index_text: Option<&str>,
) -> Result<ShardAssignment, ShardRequestError> {
    let count = count_text
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|count| *count >= 1)
        .ok_or_else(|| ShardRequestError::BadShardCount(count_text.to_owned()))?;
    let index_text = index_text.ok_or(ShardRequestError::NoCompletionIndex)?;
    let index = index_text
        .parse::<usize>()
        .map_err(|_| ShardRequestError::BadCompletionIndex(index_text.to_owned()))?;
    if index >= count {
        return Err(ShardRequestError::IndexOutOfRange { index, count });
    }
    Ok(ShardAssignment { index, count })
}

/// The tests in what `--list --format terse` printed: its `NAME: test` lines, sorted
/// (libtest sorts them already; sorting again keeps every shard's view the same whatever
/// the binary printed), without benchmarks (`NAME: benchmark`) or anything else.
pub fn parse_test_list(listed: &str) -> Vec<String> {
    let mut tests: Vec<String> = listed
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    tests.sort();
    tests.dedup();
    tests
}

/// The tests of one shard: those whose position in the sorted list, modulo the shard
/// count, is the shard's index. Dealing tests out in turn keeps neighbouring tests (often
/// of one module, with similar costs) on different shards.
pub fn tests_of_shard(tests: &[String], shard: ShardAssignment) -> Vec<String> {
    tests
        .iter()
        .enumerate()
        .filter(|(position, _)| position % shard.count == shard.index)
        .map(|(_, name)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(count: usize) -> Vec<String> {
        (0..count)
            .map(|number| format!("tests::t{number:02}"))
            .collect()
    }

    #[test]
    fn the_shards_together_hold_every_test_once() {
        let tests = names(27);
        let count = 4;
        let mut seen: Vec<String> = (0..count)
            .flat_map(|index| tests_of_shard(&tests, ShardAssignment { index, count }))
            .collect();
        seen.sort();
        assert_eq!(seen, tests);
        let sizes: Vec<usize> = (0..count)
            .map(|index| tests_of_shard(&tests, ShardAssignment { index, count }).len())
            .collect();
        assert_eq!(sizes, [7, 7, 7, 6]);
    }

    #[test]
    fn tests_are_dealt_out_in_turn() {
        let tests = names(6);
        let shard = tests_of_shard(&tests, ShardAssignment { index: 1, count: 4 });
        assert_eq!(shard, ["tests::t01", "tests::t05"]);
    }

    #[test]
    fn more_shards_than_tests_leaves_some_empty() {
        let tests = names(2);
        assert!(tests_of_shard(&tests, ShardAssignment { index: 3, count: 4 }).is_empty());
    }

    #[test]
    fn one_shard_runs_everything() {
        let tests = names(5);
        assert_eq!(
            tests_of_shard(&tests, ShardAssignment { index: 0, count: 1 }),
            tests
        );
    }

    #[test]
    fn the_terse_list_keeps_tests_only_and_sorts_them() {
        let listed = "tax::tests::oregon: test\n\
                      cart::tests::empty: test\n\
                      benches::checkout: benchmark\n\
                      \n\
                      2 tests, 1 benchmark\n\
                      cart::tests::empty: test\n";
        assert_eq!(
            parse_test_list(listed),
            ["cart::tests::empty", "tax::tests::oregon"]
        );
    }

    #[test]
    fn a_name_with_a_colon_and_space_is_kept_whole() {
        assert_eq!(parse_test_list("odd: name: test\r\n"), ["odd: name"]);
    }

    #[test]
    fn the_assignment_comes_from_the_two_annotations() {
        assert_eq!(
            shard_assignment("4", Some("2")),
            Ok(ShardAssignment { index: 2, count: 4 })
        );
        assert_eq!(
            shard_assignment("four", Some("2")),
            Err(ShardRequestError::BadShardCount("four".to_owned()))
        );
        assert_eq!(
            shard_assignment("0", Some("0")),
            Err(ShardRequestError::BadShardCount("0".to_owned()))
        );
        assert_eq!(
            shard_assignment("4", None),
            Err(ShardRequestError::NoCompletionIndex)
        );
        assert_eq!(
            shard_assignment("4", Some("-1")),
            Err(ShardRequestError::BadCompletionIndex("-1".to_owned()))
        );
        assert_eq!(
            shard_assignment("4", Some("4")),
            Err(ShardRequestError::IndexOutOfRange { index: 4, count: 4 })
        );
    }

    #[test]
    fn a_pod_without_the_annotation_is_not_a_shard() {
        let mut pod = Pod::default();
        assert_eq!(requested_shard(&pod), None);
        pod.metadata.annotations = Some(
            [
                (LIBTEST_SHARDS_ANNOTATION.to_owned(), "3".to_owned()),
                (COMPLETION_INDEX_ANNOTATION.to_owned(), "1".to_owned()),
            ]
            .into(),
        );
        assert_eq!(
            requested_shard(&pod),
            Some(Ok(ShardAssignment { index: 1, count: 3 }))
        );
    }
}
