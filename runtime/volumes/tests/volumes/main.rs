//! The volumes crate against real files in temporary directories.

mod api_server_sources;
mod atomic_update;
mod config_map_secret;
mod downward_api;
mod empty_dir;
mod host_path;
mod mounts;
mod projected;
mod support;
