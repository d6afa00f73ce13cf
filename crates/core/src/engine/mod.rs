//! Executions: the stage/action state machine, run orders, approvals,
//! variables, stop and crash recovery. The engine records every change in
//! the store (committed) before it emits the event that reports it.
//!
//! What it must never do: run anything of an untrusted repository, build
//! from the user's dirty work tree, or lose a record because its process
//! died (see [`Engine::recover`]).

mod actions;
mod control;
mod host;
mod lock;
pub mod log_pages;
pub mod logs;
mod modes;
mod plan;
mod requests;
pub mod retention;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, Semaphore};

use crate::build::StopHandle;
use crate::clock::{Clock, Millis};
use crate::events::Event;
use crate::store::{ExecutionDetail, NewExecution, NewStage, Store, StoreError};

pub use crate::model::{Namespaces, RunRequest, Status};
pub use crate::wake;
pub use control::{decide_approval, request_stop};
pub use host::HostedEngine;
pub use lock::{acquire as acquire_lock, EngineLock, LockError};
pub use plan::Plan;
pub use requests::{submit, wait_for_deployment, wait_for_end, LocalEngine, Settled};

#[cfg(test)]
mod tests;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no pipeline `{0}`: name it as REPO/PIPELINE (see `slipway repo list`)")]
    NoSuchPipeline(String),
    #[error("`{name}` is ambiguous: it is in {repos}; name it as REPO/PIPELINE")]
    Ambiguous { name: String, repos: String },
    #[error(
        "repository `{0}` is not trusted, so its pipelines do not run: \
         `slipway repo trust {0}` if you trust its code"
    )]
    Untrusted(String),
    #[error("repository `{name}` is missing: nothing is at {path} any more")]
    Missing { name: String, path: String },
    #[error("{0}")]
    Source(#[from] crate::watch::snapshot::SnapshotError),
    #[error("{file} is not a valid pipeline:\n{errors}")]
    InvalidPipeline { file: String, errors: String },
    #[error("`{pipeline}` cannot run yet: {reason}")]
    Unsupported { pipeline: String, reason: String },
    #[error("no execution `{0}` (see `slipway executions`)")]
    NoSuchExecution(String),
    #[error("execution `{id}` has no approval `{action}` waiting (waiting: {waiting})")]
    NoPendingApproval {
        id: String,
        action: String,
        waiting: String,
    },
    /// The engine (maybe another process's) refused the request.
    #[error("{message}")]
    Refused {
        code: crate::model::ErrorCode,
        message: String,
    },
    #[error(
        "the request was left for the running engine, but no engine took it in 30 s: \
         is the desktop app, `slipway serve` or `slipway watch` still running?"
    )]
    NoEngine,
    #[error("execution `{0}` is already over")]
    Finished(String),
    #[error("execution `{id}` is {status}: only a Failed, Stopped or Interrupted execution can be retried")]
    NotRetryable { id: String, status: Status },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare the execution's workspace: {0}")]
    Workspace(String),
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl EngineError {
    /// The stable code this error crosses boundaries with.
    pub fn code(&self) -> crate::model::ErrorCode {
        use crate::model::ErrorCode;
        use EngineError as E;
        match self {
            E::Store(inner) => inner.code(),
            E::NoSuchPipeline(_) | E::NoSuchExecution(_) | E::NoPendingApproval { .. } => {
                ErrorCode::NotFound
            }
            E::Ambiguous { .. } | E::InvalidPipeline { .. } | E::Unsupported { .. } => {
                ErrorCode::InvalidInput
            }
            E::Untrusted(_) => ErrorCode::Untrusted,
            E::Missing { .. } => ErrorCode::NotARepository,
            E::Finished(_) => ErrorCode::AlreadyFinished,
            E::NotRetryable { .. } => ErrorCode::InvalidInput,
            E::Source(_) | E::Workspace(_) | E::Lock(_) => ErrorCode::Io,
            E::Refused { code, .. } => *code,
            E::NoEngine => ErrorCode::NoEngine,
        }
    }
}

/// Where a retried execution picks up.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// The first stage to run.
    pub stage: usize,
    /// Actions of that stage that already succeeded: not run again.
    pub done: Vec<String>,
    /// The execution as it ended, for its variables and artifacts.
    pub earlier: Option<ExecutionDetail>,
}

/// The running engine of one data directory.
pub struct Engine {
    store: Arc<Store>,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    /// Bounds how many actions run at once across all executions.
    slots: Arc<Semaphore>,
    /// Coordinates executions of one pipeline by its execution mode.
    lanes: modes::Lanes,
    /// Orders executions for the modes: a later execution is newer.
    sequence: std::sync::atomic::AtomicU64,
    /// Builds hold it shared while they store or read artifacts; retention
    /// runs only when it can hold it alone.
    artifacts_gate: Arc<tokio::sync::RwLock<()>>,
    /// Stop handles of the builds running now, per execution.
    running: Mutex<HashMap<String, Vec<StopHandle>>>,
    wake: wake::WakeWatch,
    /// Deployments, and the local environments this engine serves.
    pub deployer: Arc<crate::deploy::Deployer>,
}

/// Default `max-parallel`: one action per CPU.
pub fn default_max_parallel() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

impl Engine {
    /// Starts an engine. The caller holds the [`EngineLock`], so executions
    /// left `InProgress` belong to an engine that died: they are marked
    /// `Interrupted` here, before anything new runs.
    pub fn start(
        store: Arc<Store>,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<Event>,
        max_parallel: usize,
        _lock: &EngineLock,
    ) -> Result<Engine, EngineError> {
        let wake = wake::watch(data_dir)
            .map_err(|e| EngineError::Workspace(format!("cannot watch for requests: {e}")))?;
        let deployer = Arc::new(crate::deploy::Deployer::new(
            store.clone(),
            data_dir,
            clock.clone(),
            events.clone(),
        ));
        let engine = Engine {
            deployer,
            store,
            data_dir: data_dir.to_path_buf(),
            clock,
            events,
            slots: Arc::new(Semaphore::new(max_parallel.max(1))),
            lanes: modes::Lanes::default(),
            artifacts_gate: Arc::new(tokio::sync::RwLock::new(())),
            sequence: std::sync::atomic::AtomicU64::new(0),
            running: Mutex::new(HashMap::new()),
            wake,
        };
        engine.recover()?;
        Ok(engine)
    }

    /// Marks what a dead engine left running as `Interrupted`, and ends the
    /// processes its builds left behind.
    pub fn recover(&self) -> Result<Vec<String>, EngineError> {
        let ids = self.store.interrupt_unfinished(self.clock.now())?;
        let killed = crate::platform::orphans::kill_orphans(&ids);
        if killed > 0 {
            tracing::warn!(killed, "ended processes left by interrupted executions");
        }
        for id in &ids {
            tracing::warn!(execution = %id, "marked Interrupted: its engine stopped while it ran");
            self.emit_execution(id);
        }
        self.deployer.recover()?;
        Ok(ids)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn next_seq(&self) -> u64 {
        self.sequence
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    fn execution_dir(&self, id: &str) -> PathBuf {
        self.data_dir.join("executions").join(id)
    }

    fn emit(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Tells listeners in this process (events) and in others (a wake poke)
    /// that execution `id` changed.
    fn emit_execution(&self, id: &str) {
        if let Ok(Some(summary)) = self.store.execution_summary(id) {
            self.emit(Event::Execution(summary));
        }
        let _ = wake::poke(&self.data_dir, id);
    }

    /// Plans an execution and records it with all its stages and actions;
    /// it runs when [`Engine::run`] is called with the returned plan.
    pub fn create(&self, request: &RunRequest) -> Result<Plan, EngineError> {
        let mut plan = plan::plan(&self.store, request)?;
        plan.seq = self.next_seq();
        plan.arrival = self
            .lanes
            .lane(&plan.key())
            .join(plan.pipeline.execution_mode, plan.seq)
            .map(Arc::new);
        let id = plan.id.clone();
        let stages = plan
            .pipeline
            .stages
            .iter()
            .map(|s| NewStage {
                name: &s.name,
                actions: s
                    .actions
                    .iter()
                    .map(|a| (a.name.as_str(), a.r#type, a.run_order as u32))
                    .collect(),
            })
            .collect();
        self.store.create_execution(&NewExecution {
            id: &id,
            repository: &plan.repository.name,
            pipeline: &plan.pipeline.name,
            revision: &plan.revision.commit,
            branch: plan.revision.branch.as_deref(),
            message: &plan.revision.message,
            trigger: &request.trigger,
            variables: &plan.variables,
            definition: &plan.definition,
            started_at: self.now(),
            stages,
        })?;
        self.emit_execution(&id);
        Ok(plan)
    }

    /// Creates an execution and runs it in the background on the current
    /// tokio runtime; returns its id at once. What triggers use.
    pub fn start_run(self: &Arc<Self>, request: &RunRequest) -> Result<String, EngineError> {
        let (started, _work) = self
            .clone()
            .begin(&crate::model::EngineRequest::Run(request.clone()))?;
        Ok(started.id().to_string())
    }

    /// Runs a created execution to its end and returns its final record.
    pub async fn run(self: &Arc<Self>, plan: Plan) -> Result<ExecutionDetail, EngineError> {
        self.run_from(plan, Resume::default()).await
    }

    /// Prepares a retry of a failed, stopped or interrupted execution: the
    /// same revision, pipeline definition, variables and artifacts; the
    /// failed stage's failed actions run again, then the stages after it.
    pub fn retry(&self, id: &str) -> Result<(Plan, Resume), EngineError> {
        let detail = self
            .store
            .execution(id)?
            .ok_or_else(|| EngineError::NoSuchExecution(id.to_string()))?;
        let status = detail.summary.status;
        if !matches!(
            status,
            Status::Failed | Status::Stopped | Status::Interrupted
        ) {
            return Err(EngineError::NotRetryable {
                id: id.to_string(),
                status,
            });
        }
        let definition = self.store.execution_definition(id)?.unwrap_or_default();
        let mut plan = plan::replan(&self.store, &detail, definition)?;
        plan.seq = self.next_seq();
        let Some(stage) = detail.stages.iter().position(|s| {
            matches!(
                s.status,
                Some(Status::Failed | Status::Stopped | Status::Interrupted)
            )
        }) else {
            return Err(EngineError::NotRetryable {
                id: id.to_string(),
                status,
            });
        };
        let done = detail.stages[stage]
            .actions
            .iter()
            .filter(|a| a.status == Some(Status::Succeeded))
            .map(|a| a.name.clone())
            .collect();
        self.store.reopen_execution(id)?;
        self.emit_execution(id);
        Ok((
            plan,
            Resume {
                stage,
                done,
                earlier: Some(detail),
            },
        ))
    }

    /// Runs an execution from where `resume` says, to its end.
    pub async fn run_from(
        self: &Arc<Self>,
        plan: Plan,
        resume: Resume,
    ) -> Result<ExecutionDetail, EngineError> {
        let id = plan.id.clone();
        let mode = plan.pipeline.execution_mode;
        let lane = self.lanes.lane(&plan.key());
        // Queued: the turn is held until the final status is recorded.
        let turn = lane.turn(mode, plan.seq).await;
        let (status, error) = match self.run_stages(&plan, resume, &lane).await {
            Ok(status) => (status, None),
            Err(err) => (Status::Failed, Some(err.to_string())),
        };
        self.store
            .set_execution_status(&id, status, Some(self.now()), error.as_deref())?;
        drop(turn);
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.emit_execution(&id);
        self.notify_end(&plan, status, error.as_deref());
        self.sweep_when_idle();
        self.store
            .execution(&id)?
            .ok_or(EngineError::NoSuchExecution(id))
    }

    async fn run_stages(
        self: &Arc<Self>,
        plan: &Plan,
        resume: Resume,
        lane: &Arc<modes::PipelineLane>,
    ) -> Result<Status, EngineError> {
        let id = &plan.id;
        let dir = self.execution_dir(id);
        let source = dir.join("source");
        if !source.exists() {
            crate::watch::snapshot::materialize(
                Path::new(&plan.repository.path),
                &plan.revision.commit,
                &source,
            )?;
        }
        let mut scope = actions::Scope::new(plan, &self.data_dir, dir);
        if let Some(earlier) = &resume.earlier {
            scope.restore(plan, earlier);
        }
        let (seq, mode) = (plan.seq, plan.pipeline.execution_mode);
        for (stage_idx, stage) in plan.pipeline.stages.iter().enumerate().skip(resume.stage) {
            let Some(_slot) = lane.enter_stage(mode, stage_idx, seq).await else {
                return Ok(Status::Superseded);
            };
            if let Some(stopped) = self.stop_requested(id)? {
                return Ok(stopped);
            }
            self.store
                .set_stage_status(id, stage_idx, Status::InProgress, self.now())?;
            self.emit_execution(id);
            let mut orders: Vec<u64> = stage.actions.iter().map(|a| a.run_order).collect();
            orders.sort_unstable();
            orders.dedup();
            let mut stage_status = Status::Succeeded;
            for order in orders {
                if let Some(stopped) = self.stop_requested(id)? {
                    stage_status = stopped;
                    break;
                }
                let group: Vec<_> = stage
                    .actions
                    .iter()
                    .filter(|a| a.run_order == order)
                    .filter(|a| stage_idx != resume.stage || !resume.done.contains(&a.name))
                    .collect();
                // Equal run orders run together; the stage fails once all of
                // them have ended, as CodePipeline's does.
                let mut tasks = Vec::new();
                for action in group {
                    let engine = self.clone();
                    let job = scope.job(stage_idx, action)?;
                    tasks.push(tokio::spawn(async move { engine.run_action(job).await }));
                }
                for task in tasks {
                    let result = task.await.map_err(|e| {
                        EngineError::Workspace(format!("an action's task failed: {e}"))
                    })??;
                    scope.absorb(&self.store, id, &result)?;
                    match result.status {
                        Status::Succeeded => {}
                        Status::Stopped => stage_status = Status::Stopped,
                        _ if stage_status == Status::Succeeded => stage_status = Status::Failed,
                        _ => {}
                    }
                }
                if stage_status != Status::Succeeded {
                    break;
                }
            }
            if stage_status == Status::Failed
                && stage.on_failure == crate::spec::pipeline::StageFailure::Rollback
            {
                let undone = self.deployer.rollback_stage(id, stage_idx as u32).await;
                if !undone.is_empty() {
                    tracing::info!(execution = %id, stage = %stage.name, rollbacks = ?undone,
                        "the failed stage's deployments were rolled back");
                }
            }
            self.store
                .set_stage_status(id, stage_idx, stage_status, self.now())?;
            self.emit_execution(id);
            if stage_status != Status::Succeeded {
                return Ok(stage_status);
            }
        }
        Ok(self.stop_requested(id)?.unwrap_or(Status::Succeeded))
    }

    /// Tells the person (tray, window, browser) how an execution ended.
    fn notify_end(&self, plan: &Plan, status: Status, error: Option<&str>) {
        use crate::events::{Notification, NotificationLevel};
        // Success is news only to those who ask for it (off by default).
        if status == Status::Succeeded && !self.store.flag(crate::model::settings::NOTIFY_SUCCESS) {
            return;
        }
        let level = match status {
            Status::Succeeded => NotificationLevel::Success,
            Status::Failed | Status::Interrupted => NotificationLevel::Failure,
            _ => NotificationLevel::Info,
        };
        let mut body = format!(
            "{} {}",
            &plan.revision.commit[..plan.revision.commit.len().min(8)],
            plan.revision.message
        );
        if let Some(error) = error {
            body.push_str(&format!(": {error}"));
        }
        self.emit(Event::Notification(Notification {
            title: format!("{} {}", plan.key(), status.as_str()),
            body,
            level,
            target: Some(crate::events::NotificationTarget::Execution {
                id: plan.id.clone(),
            }),
        }));
    }

    /// Applies the retention policy if no build is using artifacts now (the
    /// next execution to end tries again otherwise).
    fn sweep_when_idle(&self) {
        let Ok(exclusive) = self.artifacts_gate.clone().try_write_owned() else {
            return;
        };
        let store = self.store.clone();
        let data_dir = self.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            match retention::sweep(&store, &data_dir) {
                Ok(swept) if swept != retention::Swept::default() => {
                    tracing::info!(?swept, "retention removed old artifacts and workspaces")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "retention could not finish"),
            }
            drop(exclusive);
        });
    }

    /// `Some(Stopped)` once someone asked this execution to stop.
    fn stop_requested(&self, id: &str) -> Result<Option<Status>, EngineError> {
        Ok(self.store.stop_request(id)?.map(|_| Status::Stopped))
    }
}

/// The watcher hands what it triggers to the engine through this.
impl crate::watch::StartRuns for Engine {
    fn start_run(self: Arc<Self>, request: &RunRequest) -> Result<String, String> {
        Engine::start_run(&self, request).map_err(|e| e.to_string())
    }
}
