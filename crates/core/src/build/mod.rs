//! The buildspec runner: one parsed buildspec, run in a source directory
//! the way AWS CodeBuild runs it (per CodeBuild's documentation), on the
//! user's machine.
//!
//! It owns phases and their failure rules, the build's environment, its
//! shells and their process groups, timeouts and stop, the log (streamed to
//! a file, masked, batched to a [`LogSink`]), and what a build leaves
//! behind: artifacts (into the content-addressed [`ArtifactStore`]), test
//! reports and the cache. It must never touch the store (SQLite), know
//! about pipelines beyond the names it is given, or resolve credentials:
//! the engine hands it a [`BuildJob`] and records the [`BuildOutcome`].
//!
//! ```text
//! let (handle, stop) = slipway_core::build::stop_signal();
//! let outcome = build::run(job, stop, |batch: &[u8]| events.send(batch.to_vec())).await;
//! ```

mod artifact_store;
mod cache;
mod env;
mod files;
mod log;
mod outcome;
mod reports;
mod run;
mod shell;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::{Clock, Millis, SystemClock};
use crate::spec::buildspec::Buildspec;

pub use artifact_store::{
    ArtifactFile, ArtifactRef, ArtifactStore, ManifestEntry, RetainReport, StoreError,
};
pub use files::{select, FilesError, Selected, Selection};
pub use log::{LogSink, NoSink, BATCH_BYTES, BATCH_INTERVAL, MAX_LINE};
pub use outcome::{
    BuildOutcome, BuildStatus, CollectedArtifact, FailedCommand, PhaseOutcome, PhaseStatus,
};
pub use reports::{parse_junit, ReportSummary, TestCounts};
pub use run::run;

/// CodeBuild's default build timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long processes get between SIGTERM and SIGKILL when a build is
/// stopped, times out, or ends with processes still running.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);

/// Everything one build needs. Build it with [`BuildJob::new`] and set the
/// fields that differ from the defaults.
pub struct BuildJob {
    pub buildspec: Buildspec,
    /// The source snapshot the commands run in (`CODEBUILD_SRC_DIR`).
    pub src_dir: PathBuf,
    /// Pipeline variables and, later, credentials: applied after
    /// `env.variables`; `CODEBUILD_*` names among them are refused.
    pub env: Vec<(String, String)>,
    pub context: BuildContext,
    /// The whole build, from the first phase to the last artifact.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Appended to (created with its directory if missing).
    pub log_path: PathBuf,
    /// Values replaced by `***` wherever they appear in the log, and never
    /// exported.
    pub secrets: Vec<String>,
    /// Local secrets by name, for buildspec `secrets-manager` and
    /// `parameter-store` references. Set it with
    /// [`BuildJob::with_local_secrets`], which also masks every value.
    pub local_secrets: std::collections::BTreeMap<String, String>,
    /// Slipway's data directory: artifacts go to `artifacts/`, caches to
    /// `cache/<cache_scope>/`.
    pub data_dir: PathBuf,
    /// Whose cache this build uses: the pipeline (and action) name.
    pub cache_scope: String,
    pub clock: Arc<dyn Clock>,
}

impl BuildJob {
    pub fn new(
        buildspec: Buildspec,
        src_dir: PathBuf,
        data_dir: PathBuf,
        log_path: PathBuf,
    ) -> BuildJob {
        BuildJob {
            buildspec,
            src_dir,
            env: Vec::new(),
            context: BuildContext::default(),
            timeout: DEFAULT_TIMEOUT,
            kill_grace: DEFAULT_KILL_GRACE,
            log_path,
            secrets: Vec::new(),
            local_secrets: std::collections::BTreeMap::new(),
            data_dir,
            cache_scope: "default".into(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What CodeBuild tells a build about itself through `CODEBUILD_*`
/// variables. Optional values are only set when given.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// `project:uuid`.
    pub build_id: String,
    pub build_number: u64,
    /// The commit the source snapshot holds.
    pub resolved_source_version: String,
    /// What was asked for (a branch, tag or commit); the resolved version
    /// when not given.
    pub source_version: Option<String>,
    /// `codepipeline/<pipeline>` or the user's name.
    pub initiator: String,
    pub start_time_ms: Millis,
    pub source_repo_url: Option<String>,
    /// `branch/<name>` or `tag/<name>`.
    pub webhook_trigger: Option<String>,
    pub webhook_head_ref: Option<String>,
    pub webhook_prev_commit: Option<String>,
    /// Sets `AWS_REGION` and `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
}

/// Asks a running build to stop. CodeBuild's stop does not let the current
/// command finish: the build's processes get SIGTERM, then SIGKILL.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

/// The build's side of a [`StopHandle`].
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

/// A connected stop handle and signal.
pub fn stop_signal() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(false);
    (StopHandle(Arc::new(tx)), StopSignal(rx))
}

impl StopHandle {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl StopSignal {
    /// A signal that never fires.
    pub fn never() -> StopSignal {
        stop_signal().1
    }

    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is asked for; never if the handle is dropped
    /// without asking.
    pub async fn stopped(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Why a build was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    Stopped,
    TimedOut,
}

/// A stop request or the build's deadline, whichever comes first; once
/// fired it stays fired.
pub(crate) struct Interrupt {
    stop: StopSignal,
    deadline: tokio::time::Instant,
    pub cut: Option<Cut>,
}

impl Interrupt {
    pub fn new(stop: StopSignal, timeout: Duration) -> Interrupt {
        Interrupt {
            stop,
            deadline: tokio::time::Instant::now() + timeout,
            cut: None,
        }
    }

    /// Cancel-safe: used inside `select!` loops.
    pub async fn wait(&mut self) {
        if self.cut.is_some() {
            return;
        }
        tokio::select! {
            () = self.stop.stopped() => self.cut = Some(Cut::Stopped),
            () = tokio::time::sleep_until(self.deadline) => self.cut = Some(Cut::TimedOut),
        }
    }

    /// Checks without waiting (between commands).
    pub fn poll(&mut self) -> Option<Cut> {
        if self.cut.is_none() {
            if self.stop.is_stopped() {
                self.cut = Some(Cut::Stopped);
            } else if tokio::time::Instant::now() >= self.deadline {
                self.cut = Some(Cut::TimedOut);
            }
        }
        self.cut
    }
}
