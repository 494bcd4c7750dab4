//! The HTTP/1.1 the services speak, on plain `std::net`: a server that serves one
//! connection at a time and a client that makes one request per connection.

pub mod client;
pub mod form;
pub mod request;
pub mod response;
pub mod server;
