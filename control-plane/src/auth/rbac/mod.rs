//! Role-based access control, as Kubernetes' RBAC authorizer: Roles and ClusterRoles
//! grant rules, RoleBindings (in their namespace) and ClusterRoleBindings (everywhere)
//! grant roles to users, groups and ServiceAccounts. A request is allowed when any rule
//! granted to its user covers it; otherwise RBAC has no opinion.
//!
//! Decisions read an in-memory index (`index.rs`) that follows the store's watch
//! (`follow.rs`), so no request reads storage. The default policy is in
//! `bootstrap_policy.rs`, its reconciliation on start in `reconcile.rs`.

mod bootstrap_policy;
mod escalation;
mod follow;
mod index;
mod reconcile;
mod rules;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use tokio::task::AbortHandle;

pub use bootstrap_policy::{bootstrap_cluster_role_bindings, bootstrap_cluster_roles};
pub use escalation::EscalationCheck;
pub use index::{UserRules, aggregate_errors};
pub use reconcile::ensure_bootstrap_policy;

use super::{Attributes, Authorizer, Decision, UserInfo};
use crate::store::{SharedStorage, StoreError};
use index::{PolicyIndex, PolicyKind};

/// The RBAC authorizer (`--authorization-mode=RBAC`). It allows or has no opinion; it
/// never denies.
pub struct RbacAuthorizer {
    index: Arc<RwLock<PolicyIndex>>,
    followers: Vec<AbortHandle>,
}

impl RbacAuthorizer {
    /// Lists every Role, ClusterRole, RoleBinding and ClusterRoleBinding in the store,
    /// then follows their changes in background tasks, so it must be called within a
    /// Tokio runtime. The policy is complete when this returns; later changes apply as
    /// the store's watch delivers them (milliseconds). The tasks end when the authorizer
    /// is dropped, and hold the store only weakly.
    pub fn start(storage: &SharedStorage) -> Result<Self, StoreError> {
        let index = Arc::new(RwLock::new(PolicyIndex::default()));
        let mut revisions = Vec::new();
        for kind in PolicyKind::ALL {
            revisions.push((kind, follow::load(storage.as_ref(), kind, &index)?));
        }
        let followers = revisions
            .into_iter()
            .map(|(kind, revision)| {
                tokio::spawn(follow::follow(
                    Arc::downgrade(storage),
                    kind,
                    Arc::clone(&index),
                    revision,
                ))
                .abort_handle()
            })
            .collect();
        Ok(Self { index, followers })
    }

    /// The rules RBAC grants `user` in `namespace`: those of the ClusterRoleBindings and
    /// of the namespace's RoleBindings that name the user.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> UserRules {
        self.read_index().rules_for(user, namespace)
    }

    fn read_index(&self) -> std::sync::RwLockReadGuard<'_, PolicyIndex> {
        // A panic while the index was written leaves it as it was between two events;
        // deciding on it is better than refusing every request.
        self.index
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Authorizer for RbacAuthorizer {
    fn authorize(&self, attributes: &Attributes) -> Decision {
        self.read_index().authorize(attributes)
    }
}

impl Drop for RbacAuthorizer {
    fn drop(&mut self) {
        for follower in &self.followers {
            follower.abort();
        }
    }
}
