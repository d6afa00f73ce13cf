//! Repositories as git sees them, and what their changes start: which
//! commit a name means, the pipeline files at a commit, the exact tree of a
//! commit materialised for a build ([`snapshot`]: never the dirty work
//! tree), and the watcher that turns ref moves and cron fires into
//! executions ([`Watcher`]).
//!
//! This module owns: the OS watches on trusted repositories' git
//! directories, head resolution with git2, trigger matching (branch and tag
//! globs, changed-path filters, schedules). It must never write to a
//! repository, poll, or decide how an execution runs (the engine does).

mod events;
mod fs;
pub(crate) mod heads;
mod schedule;
pub mod snapshot;
pub mod triggers;
mod watcher;

pub use events::{WatchError, WatchEvent};
pub use watcher::{StartRuns, WatchHandle, Watcher, MAX_DELAY, QUIET};
