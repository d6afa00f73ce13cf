//! Build, test and `command` actions: each runs through the buildspec
//! runner (a `command` action is a one-phase buildspec of its commands),
//! with its pipeline's variables, its inputs' directories, its
//! environment's credentials (through `crate::creds::inject`) and local
//! secrets for the buildspec's references; its outcome becomes the
//! action's status, exported variables, output artifacts and test-report
//! counts.
//!
//! This module owns which buildspec an action runs and how a build's
//! outcome maps onto the action's record. It must never obtain or place
//! credentials itself (that is `crate::creds`'s), never run a command
//! outside the build runner, and never report success for an action whose
//! declared outputs the build did not produce.

use std::time::Duration;

use super::scope::{ActionJob, ActionResult};
use super::workspace;
use crate::build::{self, BuildContext, BuildJob, BuildStatus};
use crate::engine::{Engine, Status};
use crate::events::{Event, LogChunk};
use crate::spec::buildspec::Buildspec;
use crate::spec::pipeline::{ActionType, BuildspecSource};
use crate::store::{ArtifactRecord, ReportCounts};

impl Engine {
    /// build, test and command actions all run through the buildspec runner:
    /// a command action is a one-phase buildspec of its commands.
    pub(super) async fn run_build(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let buildspec = self.buildspec_of(job)?;
        let src = workspace::prepare(job)?;
        let mut env: Vec<(String, String)> = job
            .namespaces
            .namespace("variables")
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // Lets the next engine find this build's processes if this one dies.
        env.push((
            crate::platform::orphans::EXECUTION_ENV.to_string(),
            job.execution_id.clone(),
        ));
        for (name, dir) in &src.secondary {
            env.push((
                format!("CODEBUILD_SRC_DIR_{name}"),
                dir.display().to_string(),
            ));
        }
        let needs_secrets =
            !buildspec.env.parameter_store.is_empty() || !buildspec.env.secrets_manager.is_empty();
        let mut masks = Vec::new();
        crate::creds::inject(
            &self.store,
            self.clock.as_ref(),
            &job.account(),
            &mut env,
            &mut masks,
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut build_job = BuildJob::new(
            buildspec,
            src.primary.clone(),
            job.data_dir.clone(),
            job.log_path.clone(),
        );
        if needs_secrets {
            let local = crate::creds::local_secrets(&self.store)
                .map_err(|e| format!("local secrets for the buildspec's references: {e}"))?;
            build_job = build_job.with_local_secrets(local);
        }
        build_job.env = env;
        build_job.secrets.extend(masks);
        build_job.clock = self.clock.clone();
        build_job.cache_scope = format!("{}/{}", job.pipeline, job.action.name);
        if let Some(timeout) = job.action.timeout {
            build_job.timeout = Duration::from_secs(timeout.seconds);
        }
        build_job.context = BuildContext {
            build_id: format!("{}:{}", job.pipeline.replace('/', "-"), job.execution_id),
            build_number: 1,
            resolved_source_version: job.commit.clone(),
            source_version: job.branch.clone(),
            initiator: format!("codepipeline/{}", job.pipeline),
            start_time_ms: self.now(),
            ..BuildContext::default()
        };
        let (handle, stop) = build::stop_signal();
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(job.execution_id.clone())
            .or_default()
            .push(handle.clone());
        let watcher = self.watch_for_abandon(job.execution_id.clone(), move || handle.stop());
        let events = self.events.clone();
        let (execution_id, stage, action) =
            (job.execution_id.clone(), job.stage, job.action.name.clone());
        let sink = move |batch: &[u8]| {
            let _ = events.send(Event::Log(LogChunk {
                execution_id: execution_id.clone(),
                stage: stage as u32,
                action: action.clone(),
                text: String::from_utf8_lossy(batch).into_owned(),
            }));
        };
        let outcome = build::run(build_job, stop, sink).await;
        watcher.abort();
        let status = match outcome.status {
            BuildStatus::Succeeded => Status::Succeeded,
            BuildStatus::Stopped => Status::Stopped,
            BuildStatus::Failed | BuildStatus::TimedOut => Status::Failed,
        };
        let mut outputs = Vec::new();
        let mut missing = Vec::new();
        for (i, name) in job.action.outputs.iter().enumerate() {
            // The first output is the primary artifact; the others are the
            // secondary artifacts of the same identifier, as in CodePipeline.
            let found = outcome.artifacts.iter().find(|a| match &a.identifier {
                None => i == 0,
                Some(identifier) => identifier == name,
            });
            match found {
                Some(a) => outputs.push(ArtifactRecord {
                    name: name.clone(),
                    digest: a.artifact.digest.clone(),
                    size: a.artifact.size,
                    files: a.artifact.file_count as u64,
                    action: job.action.name.clone(),
                }),
                None => missing.push(name.clone()),
            }
        }
        let mut error = outcome.error.clone();
        let mut status = status;
        if status == Status::Succeeded && !missing.is_empty() {
            status = Status::Failed;
            error = Some(format!(
                "the buildspec produced no artifact for output {} (check its `artifacts` section)",
                missing.join(", ")
            ));
        }
        Ok(ActionResult {
            status,
            namespace: job.action.namespace.clone(),
            variables: outcome.exported_variables.clone(),
            outputs,
            reports: outcome
                .reports
                .iter()
                .map(|r| ReportCounts {
                    group: r.group.clone(),
                    passed: r.passed as u32,
                    failed: (r.failed + r.errors) as u32,
                    skipped: r.skipped as u32,
                })
                .collect(),
            error,
        })
    }

    /// The action's buildspec: a file of the source revision, an inline
    /// mapping, or (command actions) its commands as one build phase.
    fn buildspec_of(&self, job: &ActionJob) -> Result<Buildspec, String> {
        let (text, file) = match (&job.action.r#type, &job.action.buildspec) {
            (ActionType::Command, _) => {
                let commands = job
                    .action
                    .commands
                    .iter()
                    .map(|c| job.namespaces.substitute(c))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    crate::spec::buildspec::of_commands(&commands),
                    format!("{} (commands)", job.action.name),
                )
            }
            (_, Some(BuildspecSource::Inline(spec))) => return Ok((**spec).clone()),
            (_, Some(BuildspecSource::Path(path))) => {
                let full = job.source_dir.join(path);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    format!(
                        "cannot read the buildspec {path} at {}: {e}",
                        &job.commit[..12]
                    )
                })?;
                (text, path.clone())
            }
            (_, None) => {
                let full = job.source_dir.join("buildspec.yml");
                let text = std::fs::read_to_string(&full).map_err(|_| {
                    "no buildspec given and no buildspec.yml in the source".to_string()
                })?;
                (text, "buildspec.yml".to_string())
            }
        };
        crate::spec::buildspec::parse(&text, &file).map_err(|errors| {
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }
}
