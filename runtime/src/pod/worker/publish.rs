//! What a pod worker tells the API server: the pod's status, and at the end of a
//! graceful deletion, that the pod is gone.

use k8s_openapi::api::core::v1::{Pod, PodCondition};
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::{Value, json};
use wasmkube_volumes::remove_pod_volumes;

use super::PodWorker;
use crate::pod::container_record::ContainerRecord;
use crate::pod::status::pod_conditions;

impl PodWorker {
    fn status(&mut self) -> Value {
        let mut phase = self.phase();
        if self.failure.is_some() {
            phase = "Failed";
        }
        self.conditions = pod_conditions(
            &self.init,
            &self.app,
            phase,
            self.initialized,
            &self.conditions,
        );
        // Conditions of types the node does not own (DisruptionTarget from the eviction
        // controllers, readiness gates) are kept: a merge patch replaces the whole list.
        let mut conditions = self.conditions.clone();
        conditions.extend(
            self.api_conditions()
                .iter()
                .filter(|theirs| {
                    !self
                        .conditions
                        .iter()
                        .any(|ours| ours.type_ == theirs.type_)
                })
                .cloned(),
        );
        let uid = &self.uid;
        let statuses = |records: &[ContainerRecord], init: bool| -> Vec<Value> {
            records
                .iter()
                .map(|record| {
                    // A regular init container is ready once it succeeded; a sidecar like
                    // an app container.
                    let ready = if init && !record.sidecar {
                        record.succeeded()
                    } else {
                        record.is_ready()
                    };
                    serde_json::to_value(record.status(uid, ready)).unwrap_or(Value::Null)
                })
                .collect()
        };
        let node_ip = &self.context.node_ip;
        let mut status = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": node_ip,
            "hostIPs": [{"ip": node_ip}],
            "startTime": self.start_time,
            "containerStatuses": statuses(&self.app, false),
            "reason": null,
            "message": null,
        });
        if let Some(network) = self.pod_network() {
            let ip = network.ip.to_string();
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        if !self.init.is_empty() {
            status["initContainerStatuses"] = Value::Array(statuses(&self.init, true));
        }
        if let Some((reason, message)) = &self.failure {
            status["reason"] = json!(reason);
            status["message"] = json!(message);
        }
        status
    }

    fn api_conditions(&self) -> &[PodCondition] {
        self.pod
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_deref())
            .unwrap_or_default()
    }

    /// After a newer version of the pod arrived: if someone else changed a condition the
    /// node owns (the node controller marks pods not Ready when it loses the node), what
    /// was last sent no longer stands and the next publish sends it again, as the
    /// kubelet's status manager re-syncs.
    pub(super) fn resend_if_conditions_were_overwritten(&mut self) {
        let overwritten = self.conditions.iter().any(|ours| {
            self.api_conditions()
                .iter()
                .find(|theirs| theirs.type_ == ours.type_)
                .is_some_and(|theirs| theirs.status != ours.status)
        });
        if overwritten {
            self.published = None;
        }
    }

    /// Sends the status if it changed since it was last sent; false if sending failed.
    pub(super) async fn publish(&mut self) -> bool {
        let status = self.status();
        if self.published.as_ref() == Some(&status) {
            return true;
        }
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), self.namespace());
        let patch = Patch::Merge(json!({"status": status}));
        match pods
            .patch_status(self.name(), &PatchParams::default(), &patch)
            .await
        {
            Ok(_) => {
                self.published = Some(status);
                true
            }
            Err(kube::Error::Api(response)) if response.code == 404 => true,
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "cannot update the pod's status");
                false
            }
        }
    }

    /// The pod is being deleted: its containers stop (gracefully, see `termination.rs`),
    /// the final status is published, and the pod object is removed for good with a
    /// grace period of zero.
    pub(super) async fn finish_deletion(&mut self) {
        self.stop_gracefully().await;
        self.publish().await;
        let pods: Api<Pod> = Api::namespaced(self.context.client.clone(), self.namespace());
        let parameters = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match pods.delete(self.name(), &parameters).await {
            Ok(_) => {}
            Err(kube::Error::Api(response)) if matches!(response.code, 404 | 409) => {}
            Err(error) => {
                tracing::warn!(pod = %self.name(), %error, "cannot remove the deleted pod")
            }
        }
        self.clean_up();
    }

    pub(super) fn clean_up(&self) {
        let metadata = &self.pod.metadata;
        if let Err(error) = remove_pod_volumes(&self.context.volume_host, &self.uid) {
            tracing::warn!(pod = %self.name(), %error, "cannot remove the pod's volumes");
        }
        if let Err(error) = self.context.logs.remove_pod_logs(
            self.namespace(),
            metadata.name.as_deref().unwrap_or_default(),
            &self.uid,
        ) {
            tracing::warn!(pod = %self.name(), %error, "cannot remove the pod's logs");
        }
    }
}
