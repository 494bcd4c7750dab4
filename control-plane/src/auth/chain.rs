//! The authorizer chain, as kube-apiserver's `--authorization-mode=Node,RBAC` with the
//! system:masters group in front: the first authorizer that allows or denies decides, and
//! what none allows is forbidden.

use std::sync::Arc;

use super::user::MASTERS_GROUP;
use super::{Attributes, Authorizer, Decision};

#[derive(Default)]
pub struct AuthorizerChain {
    authorizers: Vec<Arc<dyn Authorizer>>,
}

impl AuthorizerChain {
    pub fn with(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizers.push(authorizer);
        self
    }
}

impl Authorizer for AuthorizerChain {
    fn authorize(&self, attributes: &Attributes) -> Decision {
        if attributes.user.in_group(MASTERS_GROUP) {
            return Decision::Allow;
        }
        let mut reasons = Vec::new();
        for authorizer in &self.authorizers {
            match authorizer.authorize(attributes) {
                Decision::NoOpinion(reason) => {
                    if !reason.is_empty() {
                        reasons.push(reason);
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(reasons.join(", "))
    }
}
