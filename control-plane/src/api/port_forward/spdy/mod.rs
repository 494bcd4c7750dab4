//! Port forwarding over SPDY/3.1, the protocol kubectl port-forward has always spoken
//! (directly after an `Upgrade: SPDY/3.1`, or tunneled through a WebSocket).

mod dictionary;
pub(in crate::api) mod frame;
mod header_block;
mod session;

pub use session::serve;
