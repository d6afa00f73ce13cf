//! Running one action: preparing its workspace from its input artifacts,
//! running its buildspec (build, test), commands (command) or waiting for a
//! decision (approval), and turning the outcome into the action's record:
//! status, exported variables, output artifacts and test-report counts.
//!
//! Inputs follow CodeBuild: the first input is the primary source
//! (`CODEBUILD_SRC_DIR`, the commands' working directory); every other input
//! is at `CODEBUILD_SRC_DIR_<name>`. No inputs means the source revision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Engine, EngineError, Namespaces, Plan, Status};
use crate::build::{self, ArtifactStore, BuildContext, BuildJob, BuildStatus};
use crate::events::{Event, LogChunk};
use crate::spec::buildspec::Buildspec;
use crate::spec::pipeline::{Action, ActionType, BuildspecSource, SOURCE_ARTIFACT};
use crate::store::{ArtifactRecord, ReportCounts, Store};

/// CodePipeline's default for a manual approval nobody answers.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What an execution has produced so far, and where its files live.
pub(super) struct Scope {
    execution_id: String,
    pipeline: String,
    commit: String,
    branch: Option<String>,
    dir: PathBuf,
    data_dir: PathBuf,
    namespaces: Namespaces,
    /// artifact name -> digest in the artifact store.
    artifacts: BTreeMap<String, String>,
    /// environment name -> (credential profile, region) for injection.
    accounts: BTreeMap<String, (Option<String>, Option<String>)>,
    /// The pipeline's environments, for deploy actions.
    environments: BTreeMap<String, crate::spec::pipeline::Environment>,
    message: String,
    variables: Vec<(String, String)>,
}

/// One action, ready to run: everything it needs, owned.
pub(super) struct ActionJob {
    execution_id: String,
    pipeline: String,
    commit: String,
    branch: Option<String>,
    stage: usize,
    action: Action,
    work_dir: PathBuf,
    log_path: PathBuf,
    data_dir: PathBuf,
    namespaces: Namespaces,
    inputs: Vec<(String, Option<String>)>,
    source_dir: PathBuf,
    /// The credential profile whose session the action gets, and the
    /// region its environment names.
    account: Option<String>,
    region: Option<String>,
    /// A deploy action's environment.
    environment: Option<crate::spec::pipeline::Environment>,
    message: String,
    variables: Vec<(String, String)>,
}

pub(super) struct ActionResult {
    pub status: Status,
    pub namespace: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub outputs: Vec<ArtifactRecord>,
    pub reports: Vec<ReportCounts>,
    pub error: Option<String>,
}

impl Scope {
    pub fn new(plan: &Plan, data_dir: &Path, dir: PathBuf) -> Scope {
        let mut namespaces = Namespaces::default();
        namespaces.insert("variables", plan.variables.clone());
        let mut source = BTreeMap::from([
            ("COMMIT_ID".to_string(), plan.revision.commit.clone()),
            ("COMMIT_MESSAGE".to_string(), plan.revision.message.clone()),
            ("REPOSITORY_NAME".to_string(), plan.repository.name.clone()),
        ]);
        if let Some(branch) = &plan.revision.branch {
            source.insert("BRANCH_NAME".into(), branch.clone());
        }
        namespaces.insert("Source", source);
        namespaces.insert(
            "codepipeline",
            BTreeMap::from([("PipelineExecutionId".to_string(), plan.id.clone())]),
        );
        Scope {
            execution_id: plan.id.clone(),
            pipeline: format!("{}/{}", plan.repository.name, plan.pipeline.name),
            commit: plan.revision.commit.clone(),
            branch: plan.revision.branch.clone(),
            dir,
            data_dir: data_dir.to_path_buf(),
            namespaces,
            artifacts: BTreeMap::new(),
            accounts: plan
                .pipeline
                .environments
                .iter()
                .map(|e| (e.name.clone(), (e.account.clone(), e.region.clone())))
                .collect(),
            environments: plan
                .pipeline
                .environments
                .iter()
                .map(|e| (e.name.clone(), e.clone()))
                .collect(),
            message: plan.revision.message.clone(),
            variables: plan
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub fn job(&self, stage: usize, action: &Action) -> Result<ActionJob, EngineError> {
        let slug = format!("{stage}-{}", action.name);
        let inputs = action
            .inputs
            .iter()
            .map(|name| {
                let digest = (name != SOURCE_ARTIFACT)
                    .then(|| self.artifacts.get(name).cloned())
                    .flatten();
                (name.clone(), digest)
            })
            .collect();
        let (account, region) = action
            .environment
            .as_ref()
            .and_then(|env| self.accounts.get(env).cloned())
            .unwrap_or_default();
        let environment = action
            .environment
            .as_ref()
            .and_then(|env| self.environments.get(env).cloned());
        Ok(ActionJob {
            account,
            region,
            environment,
            message: self.message.clone(),
            variables: self.variables.clone(),
            execution_id: self.execution_id.clone(),
            pipeline: self.pipeline.clone(),
            commit: self.commit.clone(),
            branch: self.branch.clone(),
            stage,
            action: action.clone(),
            work_dir: self.dir.join("actions").join(&slug),
            log_path: self.dir.join("logs").join(format!("{slug}.log")),
            data_dir: self.data_dir.clone(),
            namespaces: self.namespaces.clone(),
            inputs,
            source_dir: self.dir.join("source"),
        })
    }

    /// Takes back what an earlier run of this execution produced: the
    /// namespaces its actions exported and its artifacts (for a retry).
    pub fn restore(&mut self, plan: &Plan, earlier: &crate::store::ExecutionDetail) {
        for artifact in &earlier.artifacts {
            self.artifacts
                .insert(artifact.name.clone(), artifact.digest.clone());
        }
        for (stage, record) in plan.pipeline.stages.iter().zip(&earlier.stages) {
            for action in &stage.actions {
                let Some(ns) = &action.namespace else {
                    continue;
                };
                if let Some(a) = record.actions.iter().find(|a| a.name == action.name) {
                    if a.status == Some(Status::Succeeded) {
                        self.namespaces.insert(ns, a.variables.clone());
                    }
                }
            }
        }
    }

    /// Records a finished action and makes its variables and artifacts
    /// available to the actions after it.
    pub fn absorb(
        &mut self,
        store: &Store,
        id: &str,
        result: &ActionResult,
    ) -> Result<(), EngineError> {
        for artifact in &result.outputs {
            store.put_artifact(id, artifact)?;
            self.artifacts
                .insert(artifact.name.clone(), artifact.digest.clone());
        }
        if let Some(ns) = &result.namespace {
            self.namespaces.insert(ns, result.variables.clone());
        }
        Ok(())
    }
}

impl Engine {
    pub(super) async fn run_action(
        self: Arc<Self>,
        job: ActionJob,
    ) -> Result<ActionResult, EngineError> {
        // Wait for a slot before marking the action started: `max-parallel`.
        let _slot = self.slots.clone().acquire_owned().await;
        let log = job.log_path.display().to_string();
        self.store.start_action(
            &job.execution_id,
            job.stage,
            &job.action.name,
            self.now(),
            Some(&log),
        )?;
        self.emit_execution(&job.execution_id);
        let mut result = match job.action.r#type {
            ActionType::Approval => self.run_approval(&job).await,
            ActionType::Deploy => {
                let _artifacts = self.artifacts_gate.read().await;
                self.run_deploy(&job).await
            }
            _ => {
                let _artifacts = self.artifacts_gate.read().await;
                self.run_build(&job).await
            }
        }
        .unwrap_or_else(|err| ActionResult::failed(&job, err));
        if let Some(Status::Stopped) = self.stop_requested(&job.execution_id)? {
            if result.status != Status::Succeeded {
                result.status = Status::Stopped;
            }
        }
        self.store.finish_action(
            &job.execution_id,
            job.stage,
            &job.action.name,
            result.status,
            self.now(),
            &result.variables,
            &result.reports,
            result.error.as_deref(),
        )?;
        self.emit_execution(&job.execution_id);
        Ok(result)
    }

    /// build, test and command actions all run through the buildspec runner:
    /// a command action is a one-phase buildspec of its commands.
    async fn run_build(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let buildspec = self.buildspec_of(job)?;
        let src = prepare_workspace(job)?;
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
        let mut secrets = Vec::new();
        if let Some(profile) = &job.account {
            // Only this profile's session, and nothing of any other.
            let injection =
                crate::creds::session_env(&self.store, profile, self.clock.as_ref(), None)
                    .await
                    .map_err(|e| format!("credentials of profile `{profile}`: {e}"))?;
            env.extend(injection.env);
            secrets.extend(injection.secrets);
        }
        if let Some(region) = &job.region {
            env.retain(|(k, _)| k != "AWS_REGION" && k != "AWS_DEFAULT_REGION");
            env.push(("AWS_REGION".into(), region.clone()));
            env.push(("AWS_DEFAULT_REGION".into(), region.clone()));
        }
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
        build_job.secrets.extend(secrets);
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

    /// A deploy action: one deployment of its input artifact (the source
    /// when it names none) to its environment.
    async fn run_deploy(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let environment = job.environment.clone().ok_or_else(|| {
            format!(
                "deploy action `{}` names no environment of this pipeline",
                job.action.name
            )
        })?;
        let src = prepare_workspace(job)?;
        // The deployed revision must outlive the execution's workspace: it
        // goes into the artifact store (a no-op for a built artifact).
        let store = ArtifactStore::open(&job.data_dir).map_err(|e| e.to_string())?;
        let digest = match job.inputs.first() {
            Some((_, Some(digest))) => digest.clone(),
            _ => {
                store
                    .put_tree(&src.primary)
                    .map_err(|e| format!("storing the revision to deploy: {e}"))?
                    .digest
            }
        };
        // `stop --abandon` ends the deployment's waits now.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopper = self.watch_for_abandon(job.execution_id.clone(), move || {
            let _ = stop_tx.send(true);
        });
        let outcome = self
            .deployer
            .deploy(crate::deploy::DeployRequest {
                pipeline: job.pipeline.clone(),
                environment,
                strategy: job.action.strategy.clone(),
                revision: job.commit.clone(),
                message: job.message.clone(),
                digest: Some(digest),
                execution_id: Some(job.execution_id.clone()),
                stage: Some(job.stage as u32),
                action: Some(job.action.name.clone()),
                log: job.log_path.clone(),
                workdir: Some(src.primary.clone()),
                namespaces: job.namespaces.clone(),
                variables: job.variables.clone(),
                stop: Some(stop_rx),
            })
            .await;
        stopper.abort();
        let mut result = ActionResult::empty(job);
        result.status = match outcome.status {
            crate::store::DeploymentStatus::Succeeded => Status::Succeeded,
            crate::store::DeploymentStatus::Stopped => Status::Stopped,
            _ => Status::Failed,
        };
        result.error = outcome.error.map(|e| {
            format!(
                "deployment {} {}: {e}",
                outcome.deployment_id, outcome.status
            )
        });
        result
            .variables
            .insert("DEPLOYMENT_ID".into(), outcome.deployment_id);
        Ok(result)
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
                // JSON is YAML: the commands go in quoted, whatever they hold.
                let doc = serde_json::json!({
                    "version": 0.2,
                    "phases": {"build": {"commands": commands}}
                });
                (doc.to_string(), format!("{} (commands)", job.action.name))
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

    /// Calls `abandon` once `stop --abandon` is asked for execution `id`
    /// (builds end now, a deployment stops waiting).
    fn watch_for_abandon(
        &self,
        id: String,
        abandon: impl FnOnce() + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let notify = self.wake.notify.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            loop {
                let woken = notify.notified();
                if let Ok(Some(true)) = store.stop_request(&id) {
                    abandon();
                    return;
                }
                woken.await;
            }
        })
    }

    async fn run_approval(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let message = job
            .action
            .message
            .as_deref()
            .map(|m| job.namespaces.substitute(m))
            .transpose()?
            .unwrap_or_else(|| format!("{} waits for approval", job.pipeline));
        self.emit(Event::Notification(crate::events::Notification {
            title: format!("Approval needed: {}", job.pipeline),
            body: message.clone(),
            level: crate::events::NotificationLevel::Warning,
            target: Some(format!("#/executions/{}", job.execution_id)),
        }));
        let timeout = job
            .action
            .timeout
            .map(|t| Duration::from_secs(t.seconds))
            .unwrap_or(APPROVAL_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut result = ActionResult::empty(job);
        loop {
            let woken = self.wake.notify.notified();
            if let Some(decision) = self
                .store
                .approval(&job.execution_id, job.stage, &job.action.name)
                .map_err(|e| e.to_string())?
            {
                if decision.decision == "Approved" {
                    result.status = Status::Succeeded;
                } else {
                    result.status = Status::Failed;
                    result.error = Some(format!(
                        "rejected by {}{}",
                        decision.decided_by,
                        if decision.comment.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", decision.comment)
                        }
                    ));
                }
                return Ok(result);
            }
            if self
                .store
                .stop_request(&job.execution_id)
                .ok()
                .flatten()
                .is_some()
            {
                result.status = Status::Stopped;
                return Ok(result);
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep_until(deadline) => {
                    result.status = Status::Failed;
                    result.error = Some(format!("no decision within {}s: the approval timed out", timeout.as_secs()));
                    return Ok(result);
                }
            }
        }
    }
}

impl ActionResult {
    fn empty(job: &ActionJob) -> ActionResult {
        ActionResult {
            status: Status::Failed,
            namespace: job.action.namespace.clone(),
            variables: BTreeMap::new(),
            outputs: Vec::new(),
            reports: Vec::new(),
            error: None,
        }
    }

    fn failed(job: &ActionJob, error: String) -> ActionResult {
        let mut result = ActionResult::empty(job);
        result.error = Some(error);
        result
    }
}

struct Workspace {
    primary: PathBuf,
    secondary: Vec<(String, PathBuf)>,
}

/// Lays out the action's inputs: a fresh copy of each, so no action sees
/// what another one changed.
fn prepare_workspace(job: &ActionJob) -> Result<Workspace, String> {
    let _ = std::fs::remove_dir_all(&job.work_dir);
    let store = ArtifactStore::open(&job.data_dir).map_err(|e| e.to_string())?;
    let lay = |name: &str, digest: &Option<String>, dest: &Path| -> Result<(), String> {
        match digest {
            None if name == SOURCE_ARTIFACT => copy_tree(&job.source_dir, dest)
                .map_err(|e| format!("copying the source into {}: {e}", dest.display())),
            None => Err(format!(
                "input artifact `{name}` was not produced by an earlier action"
            )),
            Some(digest) => store
                .materialize(digest, dest)
                .map_err(|e| format!("input artifact `{name}`: {e}")),
        }
    };
    let primary = job.work_dir.join("src");
    let mut secondary = Vec::new();
    let inputs = if job.inputs.is_empty() {
        vec![(SOURCE_ARTIFACT.to_string(), None)]
    } else {
        job.inputs.clone()
    };
    for (i, (name, digest)) in inputs.iter().enumerate() {
        if i == 0 {
            lay(name, digest, &primary)?;
        } else {
            let dest = job.work_dir.join("inputs").join(name);
            lay(name, digest, &dest)?;
            secondary.push((name.clone(), dest));
        }
    }
    Ok(Workspace { primary, secondary })
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            crate::platform::fs::symlink(&target, &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}
