//! Per-container log files with rotation, and reading them back as pods/log does.
//!
//! The node agent creates a [`ContainerLogWriter`] for each run of a container from a
//! [`LogRoot`] and sends the guest's stdout and stderr to it. The files follow the
//! kubelet's layout and the CRI log format, so that they read like any node's
//! /var/log/pods. [`LogRoot::read`] serves them back with the options of pods/log, and
//! [`routes`] serves that on the node endpoint, where the API server proxies pods/log.

mod layout;
mod query;
mod read;
mod record;
mod registry;
mod root;
mod routes;
mod writer;

pub use layout::{NameError, PodLogDir};
pub use query::{LogQuery, QueryError};
pub use read::LogError;
pub use record::LogStream;
pub use root::{LogRoot, OpenError};
pub use routes::routes;
pub use writer::{ContainerLogWriter, LogRotation};
