//! Waking a running engine from another process without polling: a CLI
//! command (approve, reject, stop) records its request in the database, then
//! touches a file under `<data dir>/wake/`; the engine watches that folder
//! with the OS's file notifications and re-reads the database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;

const WAKE_DIR: &str = "wake";

/// The poke that says the repository list changed (added, removed, trust).
pub const REPOSITORIES: &str = "repositories";

fn wake_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(WAKE_DIR)
}

/// Tells whichever engine runs `execution_id` to look at the database again.
pub fn poke(data_dir: &Path, execution_id: &str) -> std::io::Result<()> {
    let dir = wake_dir(data_dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(execution_id), b"")
}

/// The engine's side: notified on every poke. Keep it alive as long as the
/// engine runs (dropping it stops the OS watch).
pub struct WakeWatch {
    _watcher: notify::RecommendedWatcher,
    pub notify: Arc<Notify>,
}

pub fn watch(data_dir: &Path) -> notify::Result<WakeWatch> {
    let dir = wake_dir(data_dir);
    std::fs::create_dir_all(&dir).map_err(notify::Error::io)?;
    let notify = Arc::new(Notify::new());
    let target = notify.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            target.notify_waiters();
        }
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(WakeWatch {
        _watcher: watcher,
        notify,
    })
}
