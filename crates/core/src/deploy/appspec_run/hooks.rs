//! Running an appspec's lifecycle hooks on one local instance, as the
//! CodeDeploy agent runs them: each script's `location` relative to the
//! revision root, run directly when executable and with `sh` otherwise, in
//! a process group of its own, bounded by its `timeout`, with CodeDeploy's
//! hook environment; ApplicationStop and the BlockTraffic events run the
//! PREVIOUS revision's scripts.
//!
//! Owns running scripts and recording each event's outcome. Must never
//! choose the order of events (the caller passes
//! `spec::appspec::lifecycle`'s), perform the events CodeDeploy performs
//! itself (Install, the traffic events), or decide what a failure leads to.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::Revision;
use crate::clock::{self, Clock, Millis};
use crate::platform::process::{is_text_busy, spawn_group};
use crate::spec::appspec::{HookScript, LifecycleEvent, MAX_HOOK_SECONDS};

/// How long a timed-out hook gets between SIGTERM and SIGKILL.
const HOOK_GRACE: Duration = Duration::from_secs(5);
/// The tail of an event's output kept in its outcome; the whole output is
/// in the hook log.
const EXCERPT_BYTES: u64 = 4096;

/// Who is deploying what, for the hook environment and the log.
#[derive(Clone)]
pub struct HookContext {
    pub deployment_id: String,
    pub application_name: String,
    pub deployment_group_name: String,
    pub deployment_group_id: String,
    /// The instance's port, passed as `PORT`.
    pub port: Option<u16>,
    /// The deployment's hook log; every event's output is appended to it.
    pub log: PathBuf,
    /// CodeDeploy's `ignoreApplicationStopFailures`: a failing ApplicationStop
    /// of the previous revision does not fail the deployment.
    pub ignore_application_stop_failures: bool,
    /// Further variables (e.g. the execution tag for orphan clean-up).
    pub env: Vec<(String, String)>,
    /// SIGTERM-to-SIGKILL grace for a timed-out script; `None` = 5 s.
    pub grace: Option<Duration>,
    /// What each event's start and end are read from.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for HookContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookContext")
            .field("deployment_id", &self.deployment_id)
            .field("application_name", &self.application_name)
            .field("deployment_group_name", &self.deployment_group_name)
            .field("deployment_group_id", &self.deployment_group_id)
            .field("port", &self.port)
            .field("log", &self.log)
            .field(
                "ignore_application_stop_failures",
                &self.ignore_application_stop_failures,
            )
            .field("env", &self.env)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

pub use crate::model::EventStatus;

/// One lifecycle event on one instance, for the deployment record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventOutcome {
    pub event: String,
    pub status: EventStatus,
    /// Unix milliseconds, like every record's timestamps.
    pub started_at: i64,
    pub ended_at: i64,
    /// The exit code of the last script run, when it exited.
    pub exit_code: Option<i32>,
    /// Why it failed or was skipped, in words.
    pub message: Option<String>,
    /// A failure that does not fail the deployment (ApplicationStop with
    /// `ignore_application_stop_failures`).
    pub failure_ignored: bool,
    /// The last few KiB of the event's output.
    pub log_excerpt: String,
}

impl EventOutcome {
    /// Whether this outcome fails the deployment.
    pub fn fails_deployment(&self) -> bool {
        self.status == EventStatus::Failed && !self.failure_ignored
    }
}

/// Runs `events` in the order given. Events CodeDeploy performs itself are
/// passed over (the caller performs and records them); after a failure the
/// remaining events are recorded `Skipped`, as CodeDeploy shows them.
pub async fn run_events(
    events: &[LifecycleEvent],
    revision: &Revision,
    previous: Option<&Revision>,
    ctx: &HookContext,
) -> Vec<EventOutcome> {
    let mut out = Vec::new();
    let mut failed = false;
    for event in events.iter().filter(|e| e.runs_hooks) {
        if failed {
            let now = ctx.clock.now();
            out.push(skipped(
                event.name,
                now,
                "an earlier lifecycle event failed".into(),
            ));
            continue;
        }
        let outcome = run_event(event, revision, previous, ctx).await;
        failed = outcome.fails_deployment();
        out.push(outcome);
    }
    out
}

/// Runs one event's scripts: the previous revision's for ApplicationStop
/// and the BlockTraffic events (skipped on a first deployment), the new
/// revision's otherwise.
pub async fn run_event(
    event: &LifecycleEvent,
    revision: &Revision,
    previous: Option<&Revision>,
    ctx: &HookContext,
) -> EventOutcome {
    let started_at = ctx.clock.now();
    let source = if event.uses_previous_revision {
        match previous {
            Some(p) => p,
            None => {
                return skipped(
                    event.name,
                    started_at,
                    "first deployment: there is no previous revision".into(),
                )
            }
        }
    } else {
        revision
    };
    let scripts = source.hooks_for(event.name);
    if scripts.is_empty() {
        return skipped(
            event.name,
            started_at,
            "the appspec has no scripts for this event".into(),
        );
    }
    let start_offset = std::fs::metadata(&ctx.log).map_or(0, |m| m.len());
    let mut exit_code = None;
    let mut failure = None;
    for script in scripts {
        log_line(
            &ctx.log,
            &format!(
                "=== {} {}: {} (timeout {}s)",
                clock::rfc3339(ctx.clock.now()),
                event.name,
                script.location,
                timeout_secs(script)
            ),
        );
        if script.runas.is_some() || script.sudo {
            log_line(
                &ctx.log,
                "note: runas/sudo are not applied; the local provider runs hooks as you",
            );
        }
        let (code, error) = run_script(event.name, script, &source.root, ctx).await;
        exit_code = code;
        if let Some(e) = error {
            log_line(&ctx.log, &format!("=== {}: failed: {e}", event.name));
            failure = Some(e);
            break;
        }
    }
    log_line(
        &ctx.log,
        &format!(
            "=== {} {}",
            event.name,
            if failure.is_some() {
                "Failed"
            } else {
                "Succeeded"
            }
        ),
    );
    let ignored = failure.is_some()
        && event.name == "ApplicationStop"
        && ctx.ignore_application_stop_failures;
    EventOutcome {
        event: event.name.to_string(),
        status: if failure.is_some() {
            EventStatus::Failed
        } else {
            EventStatus::Succeeded
        },
        started_at,
        ended_at: ctx.clock.now(),
        exit_code,
        message: match (&failure, ignored) {
            (Some(e), true) => Some(format!("{e} (ignored: ignore ApplicationStop failures)")),
            (f, _) => f.clone(),
        },
        failure_ignored: ignored,
        log_excerpt: excerpt(&ctx.log, start_offset),
    }
}

fn skipped(event: &str, at: Millis, why: String) -> EventOutcome {
    EventOutcome {
        event: event.to_string(),
        status: EventStatus::Skipped,
        started_at: at,
        ended_at: at,
        exit_code: None,
        message: Some(why),
        failure_ignored: false,
        log_excerpt: String::new(),
    }
}

fn timeout_secs(script: &HookScript) -> u64 {
    script.timeout.clamp(1, MAX_HOOK_SECONDS)
}

/// Runs one script; returns its exit code and, when it failed, why.
async fn run_script(
    event: &str,
    script: &HookScript,
    root: &Path,
    ctx: &HookContext,
) -> (Option<i32>, Option<String>) {
    let Some(path) = script_path(root, &script.location) else {
        return (
            None,
            Some(format!(
                "script `{}` is not in the revision (or leaves it with `..`)",
                script.location
            )),
        );
    };
    let executable = crate::platform::fs::is_executable(&path);
    let mut attempts = 0;
    loop {
        let mut cmd = if executable {
            tokio::process::Command::new(&path)
        } else {
            let mut c = tokio::process::Command::new("sh");
            c.arg(&path);
            c
        };
        match start_script(&mut cmd, event, root, ctx) {
            Err(e) if is_text_busy(&e) && attempts < TEXT_BUSY_RETRIES => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                return (
                    None,
                    Some(format!("could not start `{}`: {e}", script.location)),
                )
            }
            Ok(group) => return wait_script(group, script, ctx).await,
        }
    }
}

/// A script just written by another thread may still be open for writing
/// in a child forked meanwhile (ETXTBSY); that passes within moments.
const TEXT_BUSY_RETRIES: u32 = 10;

fn start_script(
    cmd: &mut tokio::process::Command,
    event: &str,
    root: &Path,
    ctx: &HookContext,
) -> std::io::Result<crate::platform::process::ProcessGroup> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&ctx.log)?;
    let (out, err) = (log.try_clone()?, log);
    cmd.current_dir(root)
        .envs(ctx.env.iter().map(|(k, v)| (k, v)))
        .env("LIFECYCLE_EVENT", event)
        .env("DEPLOYMENT_ID", &ctx.deployment_id)
        .env("APPLICATION_NAME", &ctx.application_name)
        .env("DEPLOYMENT_GROUP_NAME", &ctx.deployment_group_name)
        .env("DEPLOYMENT_GROUP_ID", &ctx.deployment_group_id)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if let Some(port) = ctx.port {
        cmd.env("PORT", port.to_string());
    }
    spawn_group(cmd)
}

async fn wait_script(
    mut group: crate::platform::process::ProcessGroup,
    script: &HookScript,
    ctx: &HookContext,
) -> (Option<i32>, Option<String>) {
    let secs = timeout_secs(script);
    let grace = ctx.grace.unwrap_or(HOOK_GRACE);
    match tokio::time::timeout(Duration::from_secs(secs), group.wait()).await {
        Ok(Ok(status)) => {
            // The service is the instance's supervised `run`; a process a
            // hook leaves behind would be watched by no one, so it ends
            // with its script.
            group.stop(grace).await;
            let code = status.code();
            if status.success() {
                (code, None)
            } else {
                (
                    code,
                    Some(format!("script `{}` exited with {status}", script.location)),
                )
            }
        }
        Ok(Err(e)) => (
            None,
            Some(format!("waiting for `{}`: {e}", script.location)),
        ),
        Err(_) => {
            group.stop(grace).await;
            (
                None,
                Some(format!(
                    "script `{}` ran longer than its timeout of {secs}s and was stopped",
                    script.location
                )),
            )
        }
    }
}

fn script_path(root: &Path, location: &str) -> Option<PathBuf> {
    let mut p = root.to_path_buf();
    for c in Path::new(&location.replace('\\', "/")).components() {
        match c {
            std::path::Component::Normal(part) => p.push(part),
            std::path::Component::CurDir | std::path::Component::RootDir => {}
            _ => return None,
        }
    }
    p.is_file().then_some(p)
}

fn log_line(log: &Path, line: &str) {
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

/// The last [`EXCERPT_BYTES`] the event wrote, read back from the log.
fn excerpt(log: &Path, from: u64) -> String {
    let Ok(mut f) = std::fs::File::open(log) else {
        return String::new();
    };
    let end = f.metadata().map_or(from, |m| m.len());
    let start = end.saturating_sub(EXCERPT_BYTES).max(from);
    if f.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(end - start).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
