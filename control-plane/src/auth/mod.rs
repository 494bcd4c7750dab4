//! Who is asking and whether they may: the API server's authentication (client
//! certificates, bearer tokens) and authorization (the node authorizer, then RBAC), in
//! Kubernetes' order: authenticate → authorize → the rest of the request.

pub mod attributes;
pub mod authenticate;
pub mod chain;
pub mod impersonation;
pub mod node_authorizer;
pub mod rbac;
pub mod request_info;
pub mod service_account_token;
pub mod token_file;
pub mod user;

pub use attributes::{Attributes, Decision, RequestScope};
pub use authenticate::{Authentication, Authenticator, TokenAuthenticator};
pub use chain::AuthorizerChain;
pub use user::UserInfo;

/// Decides a request's attributes, as a Kubernetes authorizer does. Authorizers are
/// chained: the first that allows or denies decides, and a request no authorizer allows
/// is forbidden.
pub trait Authorizer: Send + Sync {
    fn authorize(&self, attributes: &Attributes) -> Decision;
}
