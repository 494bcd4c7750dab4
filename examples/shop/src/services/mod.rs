//! The services, one module each; each binary in `src/bin/` starts one of them.

pub mod ambassador;
pub mod cart;
pub mod catalogue;
pub mod front_end;
pub mod logger;
pub mod orders;
