//! Where cluster-store images come from: the API server in a running node, or any other
//! implementation of [`ClusterImageSource`].

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::digest::Digest;
use crate::error::PullError;

/// A boxed future that can move between threads, so that [`ClusterImageSource`] can be
/// used as a trait object without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The cluster's built-in image store, seen from a node.
pub trait ClusterImageSource: Send + Sync {
    /// Resolves `NAME:TAG` to the digest of the module it names now.
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<Digest, PullError>>;

    /// Fetches the module with this digest. The cache verifies the bytes against the
    /// digest, so an implementation need not.
    fn fetch<'a>(&'a self, digest: &'a Digest) -> BoxFuture<'a, Result<Bytes, PullError>>;
}
