//! slipway-core: everything Slipway does that is not a window, a terminal or
//! an HTTP socket. The desktop shell (`src-tauri/`) and the CLI
//! (`crates/cli`) are thin transports over [`api`]; this crate must never
//! depend on Tauri, an HTTP server or terminal handling.

pub mod api;
pub mod build;
pub mod creds;
pub mod deploy;
pub mod engine;
pub mod platform;
pub mod repos;
pub mod spec;
pub mod store;
pub mod watch;

#[cfg(test)]
pub(crate) mod testing;
