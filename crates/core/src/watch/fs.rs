//! The one OS file watch behind every repository: a single notify watcher
//! (one inotify instance on Linux, whose default limit is 128 per user, so
//! one per repository would not scale to 200) whose paths are counted,
//! because two repositories can share a folder (their common parent) and
//! unwatching it for one must not blind the other.
//!
//! Events leave on a tokio channel; deciding what they mean is the
//! watcher's job, never this module's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Paths watched, counted, over one notify watcher.
pub(crate) struct Watches {
    watcher: RecommendedWatcher,
    counts: HashMap<PathBuf, usize>,
}

impl Watches {
    /// Starts the OS watch; every event's paths arrive on the returned
    /// receiver. Errors of the OS watch (a queue overflow) arrive as an empty
    /// path list: the receiver should then look at everything again.
    pub fn new() -> notify::Result<(Watches, mpsc::UnboundedReceiver<Vec<PathBuf>>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let paths = match event {
                Ok(event) if event.need_rescan() => Vec::new(),
                Ok(event) if event.kind.is_access() => return,
                Ok(event) => event.paths,
                Err(_) => Vec::new(),
            };
            let _ = tx.send(paths);
        })?;
        Ok((
            Watches {
                watcher,
                counts: HashMap::new(),
            },
            rx,
        ))
    }

    /// Watches `path` (once, however many ask).
    pub fn add(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        if let Some(n) = self.counts.get_mut(path) {
            *n += 1;
            return Ok(());
        }
        self.watcher.watch(path, mode)?;
        self.counts.insert(path.to_path_buf(), 1);
        Ok(())
    }

    /// Stops watching `path` once nobody else asks for it. A path that
    /// vanished was already dropped by the OS: that is not an error.
    pub fn remove(&mut self, path: &Path) {
        let Some(n) = self.counts.get_mut(path) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.counts.remove(path);
            let _ = self.watcher.unwatch(path);
        }
    }
}
