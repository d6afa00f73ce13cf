//! The engine as a long-running process hosts it: the desktop app,
//! `slipway serve` and `slipway watch` become the data directory's engine
//! unless another process already is, and then serve the run requests that
//! other processes leave.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::{Engine, EngineError, EngineLock};
use crate::clock::Clock;
use crate::events::Event;
use crate::store::Store;

/// The engine a long-running process (the desktop app, `slipway serve`,
/// `slipway watch`) hosts: it holds the data directory's engine lock for as
/// long as it lives, and serves other processes' run requests.
pub struct HostedEngine {
    pub engine: Arc<Engine>,
    _lock: EngineLock,
}

impl HostedEngine {
    /// Becomes the data directory's engine, unless another process already
    /// is (then `Ok(None)`: this process is a client of that one).
    pub fn start(
        store: Arc<Store>,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<Event>,
        max_parallel: usize,
    ) -> Result<Option<HostedEngine>, EngineError> {
        let Some(lock) = super::lock::try_acquire(data_dir)? else {
            return Ok(None);
        };
        let engine = Engine::start(store, data_dir, clock, events, max_parallel, &lock)?;
        Ok(Some(HostedEngine {
            engine: Arc::new(engine),
            _lock: lock,
        }))
    }

    /// Serves run requests until the process ends; spawn it on the runtime.
    pub async fn serve(self) {
        let HostedEngine { engine, _lock } = self;
        // Every local environment comes back to its last good revision.
        tokio::spawn(engine.deployer.clone().restore_all());
        engine.serve_requests().await;
        drop(_lock);
    }
}
