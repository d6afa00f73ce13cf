//! What the watcher tells its host: its events and its errors.

use std::path::PathBuf;

use serde::Serialize;

use crate::model::ExecutionTrigger;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(
        "cannot watch files: {0} (on Linux, raising fs.inotify.max_user_watches \
         or max_user_instances may help)"
    )]
    Notify(#[from] notify::Error),
    #[error("cannot create {path}: {source}")]
    WakeDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the watcher did, for a log or a UI (`slipway watch` prints one line
/// per event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum WatchEvent {
    /// The repository is watched (`again`: it came back after missing).
    Watching {
        repository: String,
        path: String,
        again: bool,
    },
    /// The repository is gone from its path; watched for its return.
    Missing { repository: String, path: String },
    /// No longer watched: removed or no longer trusted.
    Unwatched { repository: String },
    /// A trigger fired and the execution was created.
    Triggered {
        repository: String,
        pipeline: String,
        trigger: ExecutionTrigger,
        commit: String,
        execution: String,
    },
    /// A trigger fired but the engine refused the execution.
    TriggerFailed {
        repository: String,
        pipeline: String,
        trigger: ExecutionTrigger,
        commit: String,
        error: String,
    },
    /// A trigger fired while watching is paused: nothing ran.
    Paused {
        repository: String,
        pipeline: String,
        trigger: ExecutionTrigger,
        commit: String,
    },
    /// A pipeline file at a commit that moved a ref does not parse.
    InvalidPipeline {
        repository: String,
        file: String,
        commit: String,
        error: String,
    },
    /// Reading the repository failed (it stays watched).
    Error { repository: String, error: String },
}
