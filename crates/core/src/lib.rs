//! slipway-core: everything Slipway does that is not a window, a terminal or
//! a transport. The desktop shell (`src-tauri/`) and the CLI (`crates/cli`,
//! including `slipway serve`) are thin transports over [`api`]; this crate
//! must never depend on Tauri or terminal handling, nor serve its command
//! table itself. The one HTTP server it runs is part of the product: the
//! `local` deploy provider's traffic router ([`deploy::router`]).

pub mod api;
pub mod build;
pub mod clock;
pub mod creds;
pub mod demo;
pub mod deploy;
pub mod engine;
pub mod events;
pub mod model;
pub mod platform;
pub mod repos;
pub mod spec;
pub mod store;
pub mod wake;
pub mod watch;

#[cfg(test)]
pub(crate) mod testing;
