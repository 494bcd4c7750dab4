//! The Indexed Job that runs a test binary sharded: one pod per completion index, each
//! asking the node (`wasmkube.dev/libtest-shards`) to run its share of the tests.

use k8s_openapi::api::batch::v1::Job;
use serde_json::json;

/// The annotation that makes the node run a pod's container as one libtest shard.
pub const LIBTEST_SHARDS_ANNOTATION: &str = "wasmkube.dev/libtest-shards";

/// What the Job is made of.
pub struct TestJobSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub shards: u32,
    pub env: &'a [(String, String)],
    pub test_arguments: &'a [String],
    pub active_deadline_seconds: u64,
    pub memory: Option<&'a str>,
    pub cpu: Option<&'a str>,
}

/// The Job: Indexed, every shard at once, no retries (a failing test fails the Job at
/// once, as `backoffLimit: 0` does), stopped at the deadline.
pub fn test_job(spec: &TestJobSpec<'_>) -> Result<Job, serde_json::Error> {
    let env: Vec<_> = spec
        .env
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    let mut limits = serde_json::Map::new();
    if let Some(memory) = spec.memory {
        limits.insert("memory".to_owned(), json!(memory));
    }
    if let Some(cpu) = spec.cpu {
        limits.insert("cpu".to_owned(), json!(cpu));
    }
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": spec.name, "labels": {"app.kubernetes.io/managed-by": "wasmkube-test"}},
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.shards,
            "parallelism": spec.shards,
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.active_deadline_seconds,
            "template": {
                "metadata": {"annotations": {LIBTEST_SHARDS_ANNOTATION: spec.shards.to_string()}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "tests",
                        "image": spec.image,
                        "args": spec.test_arguments,
                        "env": env,
                        "resources": {"limits": limits},
                    }],
                },
            },
        },
    }))
}

/// A Job name from a test binary's file name: cargo's hash suffix (`ci-5543ff9273606d5b`)
/// dropped, and what a DNS label cannot hold replaced by `-`.
pub fn job_name_for_file(stem: &str) -> String {
    let without_hash = match stem.rsplit_once('-') {
        Some((name, hash))
            if hash.len() == 16 && hash.bytes().all(|byte| byte.is_ascii_hexdigit()) =>
        {
            name
        }
        _ => stem,
    };
    let name: String = without_hash
        .to_ascii_lowercase()
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-');
    // Room is left for the pods' `-INDEX-xxxxx` suffix within 63 characters.
    let name: String = name.chars().take(40).collect();
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "tests".to_owned()
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cargo_test_binary_gives_its_crate_name() {
        assert_eq!(job_name_for_file("ci-5543ff9273606d5b"), "ci");
        assert_eq!(job_name_for_file("My_Crate-5543ff9273606d5b"), "my-crate");
        assert_eq!(job_name_for_file("suite"), "suite");
        assert_eq!(job_name_for_file("__"), "tests");
    }

    #[test]
    fn the_job_is_indexed_with_the_shard_annotation() {
        let env = [("CI_EXAMPLE_BREAK".to_owned(), "discount".to_owned())];
        let job = test_job(&TestJobSpec {
            name: "ci",
            image: "ci-tests:1.0",
            shards: 4,
            env: &env,
            test_arguments: &[],
            active_deadline_seconds: 300,
            memory: Some("64Mi"),
            cpu: None,
        })
        .expect("a valid Job");
        let spec = job.spec.expect("a spec");
        assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
        assert_eq!(
            (spec.completions, spec.parallelism, spec.backoff_limit),
            (Some(4), Some(4), Some(0))
        );
        let annotations = spec
            .template
            .metadata
            .and_then(|metadata| metadata.annotations);
        assert_eq!(
            annotations.and_then(|annotations| annotations.get(LIBTEST_SHARDS_ANNOTATION).cloned()),
            Some("4".to_owned())
        );
        let container = &spec.template.spec.expect("a pod spec").containers[0];
        assert_eq!(container.env.as_ref().map(Vec::len), Some(1));
    }
}
