//! Reading an execution's action logs, whole or followed as they grow. The
//! log files are the complete record (the event stream's batches are for
//! live views and may drop output for a slow listener); following watches
//! the log folder with the OS's file notifications instead of polling, and
//! ends once the execution has ended and everything it wrote was read.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use notify::{RecursiveMode, Watcher};
use tokio::sync::Notify;

use super::{wake, EngineError};
use crate::store::{ExecutionDetail, Store};

/// One action's log file.
pub struct ActionLog {
    pub stage: String,
    pub action: String,
    pub path: PathBuf,
}

/// The log files of `detail`'s actions (those that started), in pipeline
/// order; only `action`'s when named.
pub fn action_logs(
    data_dir: &Path,
    detail: &ExecutionDetail,
    action: Option<&str>,
) -> Vec<ActionLog> {
    let dir = data_dir
        .join("executions")
        .join(&detail.summary.id)
        .join("logs");
    let mut logs = Vec::new();
    for (idx, stage) in detail.stages.iter().enumerate() {
        for a in &stage.actions {
            if action.is_some_and(|n| n != a.name) {
                continue;
            }
            logs.push(ActionLog {
                stage: stage.name.clone(),
                action: a.name.clone(),
                path: dir.join(format!("{idx}-{}.log", a.name)),
            });
        }
    }
    logs
}

/// Copies the logs of execution `id` to `out`, then, when `follow`, keeps
/// copying what is appended until the execution ends. Headers name each
/// action when more than one log is shown.
pub async fn copy_logs(
    store: &Store,
    data_dir: &Path,
    id: &str,
    action: Option<&str>,
    follow: bool,
    out: &mut (impl Write + Send),
) -> Result<usize, EngineError> {
    let changed = Arc::new(Notify::new());
    // Both the logs growing and the execution changing wake us.
    let _watchers = if follow {
        let logs_dir = data_dir.join("executions").join(id).join("logs");
        std::fs::create_dir_all(&logs_dir).map_err(|e| EngineError::Workspace(e.to_string()))?;
        let target = changed.clone();
        let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
            target.notify_one();
        })
        .map_err(|e| EngineError::Workspace(format!("cannot follow the logs: {e}")))?;
        watcher
            .watch(&logs_dir, RecursiveMode::NonRecursive)
            .map_err(|e| EngineError::Workspace(format!("cannot follow the logs: {e}")))?;
        let wake = wake::watch(data_dir)
            .map_err(|e| EngineError::Workspace(format!("cannot follow the execution: {e}")))?;
        let forward = changed.clone();
        let wake_notify = wake.notify.clone();
        let relay = tokio::spawn(async move {
            loop {
                wake_notify.notified().await;
                forward.notify_one();
            }
        });
        Some((watcher, wake, AbortOnDrop(relay)))
    } else {
        None
    };
    let mut offsets: Vec<u64> = Vec::new();
    let mut current: Option<usize> = None;
    loop {
        let woken = changed.notified();
        let detail = store
            .execution(id)?
            .ok_or_else(|| EngineError::NoSuchExecution(id.to_string()))?;
        let finished = detail.summary.status.is_final();
        let logs = action_logs(data_dir, &detail, action);
        offsets.resize(logs.len(), 0);
        for (i, log) in logs.iter().enumerate() {
            let Ok(mut file) = std::fs::File::open(&log.path) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len <= offsets[i] {
                continue;
            }
            if action.is_none() && current != Some(i) {
                let _ = writeln!(out, "==> {} / {} <==", log.stage, log.action);
                current = Some(i);
            }
            let _ = file.seek(SeekFrom::Start(offsets[i]));
            let copied =
                std::io::copy(&mut (&mut file).take(len - offsets[i]), out).map_err(|e| {
                    EngineError::Workspace(format!("reading {}: {e}", log.path.display()))
                })?;
            offsets[i] += copied;
        }
        let _ = out.flush();
        if !follow || finished {
            return Ok(offsets.iter().filter(|o| **o > 0).count());
        }
        woken.await;
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
