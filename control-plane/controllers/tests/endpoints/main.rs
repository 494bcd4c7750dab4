//! The Endpoints controller against a real API server with a hollow node: ready and
//! not-ready pods, named and numbered target ports, readiness changes, deleted pods,
//! headless Services, Services without a selector, and Endpoints that follow their
//! Service's deletion.

#[path = "../support/mod.rs"]
mod support;

mod following;
mod helpers;
mod lifecycle;
