//! shop: a small microservice shop whose every service is a wasm32-wasip2 command
//! component on plain `std::net` (no threads: each serves one connection at a time).
//! Each service is a binary of this crate and an image of its own; what they share (a
//! tiny HTTP/1.1 server and client, JSON, files in volumes) is this library.

pub mod http;
pub mod json;
pub mod model;
pub mod services;
pub mod storage;
