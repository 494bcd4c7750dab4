//! The images crate against real files, a real cache directory and real HTTP servers on
//! 127.0.0.1, in one test binary.

mod api_server_source;
mod file_images;
mod pull_policies;
mod reference_parsing;
mod support;
mod web_downloads;
