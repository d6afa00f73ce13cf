//! slipway-core's `spec` module, compiled alone for fuzzing (the module is
//! pure and depends only on serde, thiserror and saphyr-parser).

#[path = "../../src/spec/mod.rs"]
pub mod spec;
