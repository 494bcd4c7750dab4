//! The container logs on real files: writing and rotating them, reading them back with
//! pods/log's options, following a live writer, and the node endpoint's route over real
//! HTTP on a loopback port.

mod following;
mod http;
mod reading;
mod support;
mod writing;
