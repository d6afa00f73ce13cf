//! One build from start to end: CodeBuild's phase order and failure rules,
//! then what the build leaves behind. The mechanics live elsewhere (shells,
//! log, artifacts, reports, cache); this file is the sequence and the rules.
//!
//! Rules (checked against CodeBuild's documentation):
//! - install → pre_build → build → post_build. A failed install or
//!   pre_build ends the build; a failed build still runs post_build, with
//!   `CODEBUILD_BUILD_SUCCEEDING=0`. Artifacts and reports are collected
//!   whenever the build phase was reached (CodeBuild always attempts
//!   UPLOAD_ARTIFACTS after BUILD); the cache is saved only by a successful
//!   build, so a broken build never poisons the next one.
//! - `finally` runs after `commands` even when one failed (the rest of
//!   `commands` is skipped); a phase succeeds only if all of both did.
//! - `on-failure: CONTINUE` goes on to the next phase; the phase and the
//!   build still count as failed. `RETRY…` re-runs the phase while retries
//!   remain and its output matches the pattern; when they run out the
//!   default rules apply.
//! - Stop and timeout end the build at once: no `finally`, no later phase,
//!   no artifacts.

use std::time::Duration;

use regex::Regex;
use tokio::sync::oneshot;

use crate::spec::buildspec::{OnFailure, Phase, PhaseName};

use super::env::{self, BuildEnv};
use super::log::{self, Capture, LogSink};
use super::outcome::{BuildOutcome, BuildStatus, FailedCommand, PhaseOutcome};
use super::shell::{self, Ran, Session};
use super::{artifact_store::ArtifactStore, cache, files, reports};
use super::{BuildJob, Cut, Interrupt, StopSignal};

/// How long the log may take to drain after the last process is gone.
const LOG_DRAIN: Duration = Duration::from_secs(2);

/// Runs `job` to its end and reports how it went. The log is appended to
/// `job.log_path` as it is produced and published to `output` in batches.
/// Never panics on a failing build and never leaves a process of the build
/// running, even when it is stopped, times out, or this future is dropped.
pub async fn run(job: BuildJob, stop: StopSignal, mut output: impl LogSink) -> BuildOutcome {
    let started_at = job.clock.now();
    let nonce = nonce(&job);
    let (mut capture, live) = match log::start(&job.log_path, &nonce, &job.secrets) {
        Ok(started) => started,
        Err(e) => {
            let mut outcome = BuildOutcome::new(started_at);
            outcome.fail(format!(
                "cannot write the build log {}: {e}",
                job.log_path.display()
            ));
            return outcome;
        }
    };
    let (finished_tx, finished_rx) = oneshot::channel();
    let build = async {
        let mut build = Build {
            job: &job,
            capture: &mut capture,
            interrupt: Interrupt::new(stop, job.timeout),
            outcome: BuildOutcome::new(started_at),
            nonce: &nonce,
        };
        build.run().await;
        let mut outcome = build.outcome;
        let report = capture.finish(LOG_DRAIN).await;
        if let Some(e) = report.error {
            outcome.note(e);
        }
        let _ = finished_tx.send(());
        outcome
    };
    let (outcome, ()) = tokio::join!(build, log::forward(live, &mut output, finished_rx));
    outcome
}

struct Build<'a> {
    job: &'a BuildJob,
    capture: &'a mut Capture,
    interrupt: Interrupt,
    outcome: BuildOutcome,
    nonce: &'a str,
}

impl Build<'_> {
    async fn run(&mut self) {
        let job = self.job;
        let spec = &job.buildspec;
        self.say(&format!(
            "Running build {} on this machine (Slipway)",
            job.context.build_id
        ));
        self.say(&format!("CODEBUILD_SRC_DIR={}", job.src_dir.display()));
        if let Err(e) = env::check_secret_references(&spec.env, &job.local_secrets) {
            return self.fail_early(e);
        }
        let inherited: Vec<(String, String)> = std::env::vars().collect();
        let path_var = inherited
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone());
        let program = match shell::pick(spec.env.shell.as_deref(), path_var.as_deref()) {
            Ok(p) => p,
            Err(e) => return self.fail_early(e),
        };
        let src = job.src_dir.to_string_lossy().into_owned();
        let BuildEnv { vars, warnings } = env::assemble(
            inherited,
            &spec.env,
            &job.local_secrets,
            &job.env,
            &job.context,
            &src,
        );
        for w in warnings {
            self.say(&w);
        }
        if spec.run_as.is_some() || spec.phases.iter().any(|p| p.run_as.is_some()) {
            self.say("run-as is not supported on this machine: commands run as the current user");
        }
        if let Some(install) = spec.phase(PhaseName::Install) {
            for (runtime, version) in &install.runtime_versions {
                self.say(&format!(
                    "runtime-versions: {runtime} {version} is not installed by Slipway; \
                     the build uses the {runtime} on this machine's PATH"
                ));
            }
        }
        let scratch = std::env::temp_dir().join(format!("slipway-build-{}", self.nonce));
        if let Err(e) = std::fs::create_dir_all(&scratch) {
            return self.fail_early(format!("cannot create {}: {e}", scratch.display()));
        }
        let mut session = Session::new(
            program,
            vars,
            job.src_dir.clone(),
            scratch.clone(),
            self.nonce.to_string(),
            spec.version.one_shell(),
            job.kill_grace,
        );
        if let Some(c) = &spec.cache {
            let line = cache::restore(&job.data_dir, &job.cache_scope, c, &job.src_dir);
            self.say(&line);
        }
        let reached_build = self.phases(&mut session).await;
        let cut = self.interrupt.cut;
        if cut.is_none() && !spec.env.exported_variables.is_empty() {
            self.export(&mut session).await;
        }
        session.close(cut.is_some()).await;
        let _ = std::fs::remove_dir_all(&scratch);
        match cut {
            Some(Cut::Stopped) => self.outcome.status = BuildStatus::Stopped,
            Some(Cut::TimedOut) => {
                self.outcome.status = BuildStatus::TimedOut;
                self.say(&format!(
                    "Build timed out after {} s",
                    job.timeout.as_secs_f64()
                ));
            }
            None if reached_build => self.leave_behind(),
            None => {}
        }
        self.outcome.ended_at = job.clock.now();
        self.say(&format!(
            "Phase complete: BUILD_FINISHED State: {}",
            self.outcome.status.as_codebuild()
        ));
    }

    /// Runs the phases; returns whether the build phase was reached (so
    /// artifacts are due).
    async fn phases(&mut self, session: &mut Session) -> bool {
        let spec = &self.job.buildspec;
        for name in PhaseName::ALL {
            let Some(phase) = spec.phase(name) else {
                continue;
            };
            let result = self.phase(phase, session).await;
            let status = result.status;
            self.outcome.phases.push(result);
            match status {
                BuildStatus::Succeeded => {}
                BuildStatus::Stopped | BuildStatus::TimedOut => return false,
                BuildStatus::Failed => {
                    if self.outcome.status == BuildStatus::Succeeded {
                        self.outcome.status = BuildStatus::Failed;
                        session
                            .set_var(
                                "CODEBUILD_BUILD_SUCCEEDING",
                                "0",
                                self.capture,
                                &mut self.interrupt,
                            )
                            .await;
                    }
                    let go_on = phase.on_failure == OnFailure::Continue
                        || matches!(name, PhaseName::Build | PhaseName::PostBuild);
                    if !go_on {
                        return false;
                    }
                }
            }
        }
        true
    }

    async fn phase(&mut self, phase: &Phase, session: &mut Session) -> PhaseOutcome {
        let label = phase_label(phase.name);
        let (retries, pattern) = match &phase.on_failure {
            OnFailure::Retry { count, pattern } => {
                let retries = count.unwrap_or(OnFailure::DEFAULT_RETRIES);
                match pattern.as_deref().map(Regex::new).transpose() {
                    Ok(re) => (retries, re),
                    Err(e) => {
                        self.say(&format!(
                            "on-failure pattern is not a valid regex ({e}); not retrying"
                        ));
                        (0, None)
                    }
                }
            }
            _ => (0, None),
        };
        let started_at = self.job.clock.now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            if let Ok(mut tail) = self.capture.tail.lock() {
                tail.reset(pattern.is_some());
            }
            self.say(&format!("Entering phase {label}"));
            let (status, failed) = self.commands(phase, session).await;
            let outcome = PhaseOutcome {
                name: phase.name,
                status,
                started_at,
                ended_at: self.job.clock.now(),
                attempts,
                exit_code: failed.as_ref().map(|(_, code)| *code),
                failed_command: failed.as_ref().map(|(c, _)| c.clone()),
            };
            self.say(&format!(
                "Phase complete: {label} State: {}",
                status.as_codebuild()
            ));
            if let Some((cmd, code)) = &failed {
                self.say(&format!(
                    "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while \
                     executing command: {}. Reason: exit status {code}",
                    cmd.text
                ));
            }
            if status != BuildStatus::Failed || attempts > retries {
                return outcome;
            }
            let output = self
                .capture
                .tail
                .lock()
                .map(|t| t.text())
                .unwrap_or_default();
            if let Some(re) = &pattern {
                if !re.is_match(&output) {
                    self.say(&format!(
                        "Not retrying {label}: its output does not match {}",
                        re.as_str()
                    ));
                    return outcome;
                }
            }
            self.say(&format!(
                "Retrying phase {label} (retry {attempts} of {retries})"
            ));
        }
    }

    /// `commands`, then `finally`; the first failure skips the rest of its
    /// list. Returns the phase status and the failing command.
    async fn commands(
        &mut self,
        phase: &Phase,
        session: &mut Session,
    ) -> (BuildStatus, Option<(FailedCommand, i32)>) {
        let mut failed = None;
        for list in [&phase.commands, &phase.finally] {
            for cmd in list {
                if let Some(cut) = self.interrupt.poll() {
                    return (cut_status(cut), failed);
                }
                self.say(&format!("Running command {}", cmd.text));
                match session
                    .run(&cmd.text, self.capture, &mut self.interrupt)
                    .await
                {
                    Ran::Exited(0) => {}
                    Ran::Exited(code) => {
                        self.say(&format!(
                            "Command did not exit successfully {} exit status {code}",
                            cmd.text
                        ));
                        if failed.is_none() {
                            failed = Some((
                                FailedCommand {
                                    text: cmd.text.clone(),
                                    line: cmd.line,
                                    column: cmd.column,
                                },
                                code,
                            ));
                        }
                        break;
                    }
                    Ran::Interrupted => {
                        let cut = self.interrupt.cut.unwrap_or(Cut::Stopped);
                        self.say(&match cut {
                            Cut::Stopped => format!("Stopping the build during: {}", cmd.text),
                            Cut::TimedOut => format!("Build timed out during: {}", cmd.text),
                        });
                        return (cut_status(cut), failed);
                    }
                }
            }
        }
        let status = if failed.is_some() {
            BuildStatus::Failed
        } else {
            BuildStatus::Succeeded
        };
        (status, failed)
    }

    async fn export(&mut self, session: &mut Session) {
        let names = &self.job.buildspec.env.exported_variables;
        let values = session
            .read_vars(names, self.capture, &mut self.interrupt)
            .await;
        for (name, value) in values {
            if name.starts_with("AWS_") {
                self.say(&format!(
                    "Not exporting {name}: AWS_ variables cannot be exported"
                ));
            } else if self
                .job
                .secrets
                .iter()
                .any(|s| !s.is_empty() && value.contains(s.as_str()))
            {
                self.say(&format!("Not exporting {name}: its value holds a secret"));
            } else {
                self.outcome.exported_variables.insert(name, value);
            }
        }
    }

    /// Artifacts, reports and cache, once every process has ended.
    fn leave_behind(&mut self) {
        let job = self.job;
        let spec = &job.buildspec;
        if let Some(artifacts) = &spec.artifacts {
            self.say("Entering phase UPLOAD_ARTIFACTS");
            match ArtifactStore::open(&job.data_dir) {
                Ok(store) => {
                    let mut all = vec![(None, artifacts)];
                    all.extend(
                        artifacts
                            .secondary
                            .iter()
                            .map(|(id, a)| (Some(id.clone()), a)),
                    );
                    for (identifier, a) in all {
                        match files::collect_artifact(&store, &job.src_dir, identifier.clone(), a) {
                            Ok(collected) => {
                                self.say(&format!(
                                    "Stored artifact {}: {} files, {} bytes, sha256 {}",
                                    identifier.as_deref().unwrap_or("(primary)"),
                                    collected.artifact.file_count,
                                    collected.artifact.size,
                                    collected.artifact.digest
                                ));
                                self.outcome.artifacts.push(collected);
                            }
                            Err(e) => {
                                let message = match &identifier {
                                    Some(id) => format!("secondary artifact {id}: {e}"),
                                    None => format!("artifacts: {e}"),
                                };
                                self.say(&message);
                                self.outcome.fail(message);
                            }
                        }
                    }
                }
                Err(e) => {
                    let message = format!("cannot open the artifact store: {e}");
                    self.say(&message);
                    self.outcome.fail(message);
                }
            }
        }
        for group in &spec.reports {
            let summary = reports::collect(&job.src_dir, group);
            self.say(&summary.log_line());
            self.outcome.reports.push(summary);
        }
        if let Some(c) = &spec.cache {
            if self.outcome.status == BuildStatus::Succeeded {
                let line = cache::save(&job.data_dir, &job.cache_scope, c, &job.src_dir);
                self.say(&line);
            }
        }
    }

    fn fail_early(&mut self, message: String) {
        self.say(&message);
        self.outcome.fail(message);
        self.outcome.ended_at = self.job.clock.now();
        self.say("Phase complete: BUILD_FINISHED State: FAILED");
    }

    /// One `[Container] <time> <text>` line in the log.
    fn say(&mut self, text: &str) {
        let stamp = timestamp(self.job.clock.now());
        for line in text.lines() {
            self.capture.line(&format!("[Container] {stamp} {line}"));
        }
    }
}

fn cut_status(cut: Cut) -> BuildStatus {
    match cut {
        Cut::Stopped => BuildStatus::Stopped,
        Cut::TimedOut => BuildStatus::TimedOut,
    }
}

fn phase_label(name: PhaseName) -> &'static str {
    match name {
        PhaseName::Install => "INSTALL",
        PhaseName::PreBuild => "PRE_BUILD",
        PhaseName::Build => "BUILD",
        PhaseName::PostBuild => "POST_BUILD",
    }
}

/// A value no build output will contain by chance, to mark the runner's
/// records in the output stream.
fn nonce(job: &BuildJob) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(job.context.build_id.as_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(uuid::Uuid::new_v4().as_bytes());
    h.update(format!("{:p}", job as *const BuildJob).as_bytes());
    h.update(job.log_path.to_string_lossy().as_bytes());
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `2026/11/27 07:00:00.123` in UTC, CodeBuild's log time format.
pub(crate) fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// algorithm), to avoid a date crate for one log format.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_use_codebuilds_format() {
        assert_eq!(super::timestamp(0), "1970/01/01 00:00:00.000");
        assert_eq!(
            super::timestamp(1_795_762_800_123),
            "2026/11/27 07:00:00.123"
        );
    }
}
