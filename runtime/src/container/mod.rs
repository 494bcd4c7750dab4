//! What a container is given besides its binary: its environment and argv.

pub mod downward;
pub mod environment;
pub mod libtest_shards;
pub mod service_links;
