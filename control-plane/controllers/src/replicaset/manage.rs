//! Making a ReplicaSet's pod count right (`manageReplicas`): missing pods are created in
//! slow-start batches, extra pods deleted least valuable first, each with the event
//! Kubernetes writes.

use std::future::Future;

use futures::future::join_all;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};

use super::Context;
use super::deletion_order::pods_to_delete;
use crate::events::EventType;
use crate::{owners, pods};

/// At most this many pods are created or deleted by one sync (`--replicaset-burst`'s
/// built-in value, `BurstReplicas`).
const BURST_REPLICAS: usize = 500;

/// The first batch of creates has one pod; each batch that succeeds doubles the next.
const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// Why the pod count could not be made right. Its message is the API server's, which
/// Kubernetes puts into the ReplicaSet's ReplicaFailure condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManageFailure {
    /// `FailedCreate` or `FailedDelete`, the condition's reason.
    pub reason: &'static str,
    pub message: String,
}

/// Creates or deletes pods until `owned` (the ReplicaSet's active pods) has
/// `spec.replicas` pods. `related` are the pods of the ReplicaSet's siblings too, which
/// the deletion order looks at.
pub async fn manage_replicas(
    context: &Context,
    replica_set: &ReplicaSet,
    owned: &[Pod],
    related: &[Pod],
) -> Result<(), ManageFailure> {
    let wanted = usize::try_from(super::desired_replicas(replica_set)).unwrap_or(0);
    if owned.len() < wanted {
        let missing = (wanted - owned.len()).min(BURST_REPLICAS);
        tracing::debug!(replica_set = %replica_set.name_any(), need = wanted, creating = missing, "too few replicas");
        slow_start_batch(missing, SLOW_START_INITIAL_BATCH_SIZE, || {
            create_pod(context, replica_set)
        })
        .await
        .map(|_| ())
    } else if owned.len() > wanted {
        let extra = (owned.len() - wanted).min(BURST_REPLICAS);
        tracing::debug!(replica_set = %replica_set.name_any(), need = wanted, deleting = extra, "too many replicas");
        let victims = pods_to_delete(owned.to_vec(), related, extra, Timestamp::now());
        let results = join_all(
            victims
                .iter()
                .map(|pod| delete_pod(context, replica_set, pod)),
        )
        .await;
        results.into_iter().collect()
    } else {
        Ok(())
    }
}

/// Runs `operation` `count` times, in batches of `initial_batch_size`, then twice that,
/// and so on, all calls of a batch at once. The first batch with a failure ends it, so
/// that a create that cannot succeed (a quota, a webhook) is tried a few times rather than
/// hundreds. Answers how many calls succeeded, or the first failure.
pub async fn slow_start_batch<Operation, Attempt, Failure>(
    count: usize,
    initial_batch_size: usize,
    mut operation: Operation,
) -> Result<usize, Failure>
where
    Operation: FnMut() -> Attempt,
    Attempt: Future<Output = Result<(), Failure>>,
{
    let mut remaining = count;
    let mut successes = 0;
    let mut batch_size = remaining.min(initial_batch_size);
    while batch_size > 0 {
        let attempts: Vec<Attempt> = (0..batch_size).map(|_| operation()).collect();
        let mut first_failure = None;
        for result in join_all(attempts).await {
            match result {
                Ok(()) => successes += 1,
                Err(failure) => {
                    first_failure.get_or_insert(failure);
                }
            }
        }
        if let Some(failure) = first_failure {
            return Err(failure);
        }
        remaining -= batch_size;
        batch_size = (2 * batch_size).min(remaining);
    }
    Ok(successes)
}

async fn create_pod(context: &Context, replica_set: &ReplicaSet) -> Result<(), ManageFailure> {
    let Some(template) = replica_set
        .spec
        .as_ref()
        .and_then(|spec| spec.template.as_ref())
    else {
        return Err(ManageFailure {
            reason: "FailedCreate",
            message: "the ReplicaSet has no pod template".to_owned(),
        });
    };
    let namespace = replica_set.namespace().unwrap_or_default();
    let pod = pods::pod_from_template(
        template,
        &namespace,
        None,
        &format!("{}-", replica_set.name_any()),
        owners::controller_reference(replica_set),
    );
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    match api.create(&PostParams::default(), &pod).await {
        Ok(created) => {
            context
                .events
                .publish(
                    replica_set,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created pod: {}", created.name_any()),
                )
                .await;
            Ok(())
        }
        Err(error) => {
            let message = api_error_message(&error);
            context
                .events
                .publish(
                    replica_set,
                    EventType::Warning,
                    "FailedCreate",
                    format!("Error creating: {message}"),
                )
                .await;
            Err(ManageFailure {
                reason: "FailedCreate",
                message,
            })
        }
    }
}

async fn delete_pod(
    context: &Context,
    replica_set: &ReplicaSet,
    pod: &Pod,
) -> Result<(), ManageFailure> {
    let name = pod.name_any();
    let api: Api<Pod> =
        Api::namespaced(context.client.clone(), &pod.namespace().unwrap_or_default());
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {
            context
                .events
                .publish(
                    replica_set,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                )
                .await;
            Ok(())
        }
        // Someone else deleted it, which is what was wanted.
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(()),
        Err(error) => {
            let message = api_error_message(&error);
            context
                .events
                .publish(
                    replica_set,
                    EventType::Warning,
                    "FailedDelete",
                    format!("Error deleting: {message}"),
                )
                .await;
            Err(ManageFailure {
                reason: "FailedDelete",
                message: format!("unable to delete pods: {message}"),
            })
        }
    }
}

/// The API server's own message for a refused request (what client-go prints for a
/// StatusError), or the transport error.
pub(crate) fn api_error_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn count_calls(count: usize, failing_after: usize) -> (usize, Result<usize, usize>) {
        let calls = AtomicUsize::new(0);
        let result = slow_start_batch(count, 1, || {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if call > failing_after {
                    Err(call)
                } else {
                    Ok(())
                }
            }
        })
        .await;
        (calls.load(Ordering::SeqCst), result)
    }

    #[tokio::test]
    async fn batches_double_while_they_succeed() {
        assert_eq!(count_calls(10, usize::MAX).await, (10, Ok(10)));
        assert_eq!(count_calls(0, usize::MAX).await, (0, Ok(0)));
    }

    #[tokio::test]
    async fn a_failure_stops_at_the_end_of_its_batch() {
        // One call, then two, then a batch of four whose first call fails: seven calls.
        let (calls, result) = count_calls(100, 3).await;
        assert_eq!(calls, 7);
        assert_eq!(result, Err(4));
        // The very first create failing ends it after one call.
        assert_eq!(count_calls(100, 0).await, (1, Err(1)));
    }
}
