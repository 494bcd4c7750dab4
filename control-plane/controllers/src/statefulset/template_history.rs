//! The templates of a StatefulSet's live revisions, remembered by this controller.
//!
//! Kubernetes keeps every revision's template in a ControllerRevision, so that a pod below
//! a rolling update's partition can be re-created from the old template. This API server
//! does not serve ControllerRevisions, so the controller remembers the templates it has
//! seen, per StatefulSet, while it runs. After a restart of the controller manager in the
//! middle of a partitioned update the old template is unknown, and such a pod is
//! re-created from the new one.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::PodTemplateSpec;

#[derive(Default)]
pub struct TemplateHistory {
    /// StatefulSet uid → revision name → template.
    templates: Mutex<HashMap<String, HashMap<String, PodTemplateSpec>>>,
}

impl TemplateHistory {
    /// Remembers the update revision's template and forgets every revision of the set that
    /// is neither current nor update, as Kubernetes' history truncation would once no pod
    /// uses it.
    pub fn record(
        &self,
        set_uid: &str,
        current_revision: &str,
        update_revision: &str,
        template: &PodTemplateSpec,
    ) {
        let mut templates = self.lock();
        let revisions = templates.entry(set_uid.to_owned()).or_default();
        revisions.insert(update_revision.to_owned(), template.clone());
        revisions.retain(|name, _| name == current_revision || name == update_revision);
    }

    pub fn template(&self, set_uid: &str, revision: &str) -> Option<PodTemplateSpec> {
        self.lock().get(set_uid)?.get(revision).cloned()
    }

    /// Forgets a StatefulSet that is gone.
    pub fn forget(&self, set_uid: &str) {
        self.lock().remove(set_uid);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, PodTemplateSpec>>> {
        self.templates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "spec": {"containers": [{"name": "app", "image": image}]},
        }))
        .expect("a template")
    }

    #[test]
    fn the_current_and_update_templates_are_kept_and_older_ones_dropped() {
        let history = TemplateHistory::default();
        history.record("u1", "web-a", "web-a", &template("a"));
        history.record("u1", "web-a", "web-b", &template("b"));
        assert_eq!(history.template("u1", "web-a"), Some(template("a")));
        assert_eq!(history.template("u1", "web-b"), Some(template("b")));
        history.record("u1", "web-b", "web-c", &template("c"));
        assert_eq!(history.template("u1", "web-a"), None);
        assert_eq!(history.template("u1", "web-b"), Some(template("b")));
        history.forget("u1");
        assert_eq!(history.template("u1", "web-c"), None);
    }
}
