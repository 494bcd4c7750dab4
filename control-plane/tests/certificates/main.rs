//! certificates.k8s.io against a real control plane: CertificateSigningRequests created
//! by the users who make them in a cluster (a bootstrap token, a node, an admin), the
//! approver and the signer at work, and the join token's bootstrap token Secret with the
//! authenticator that accepts it.

mod bootstrap_token;
mod signing;
mod support;
