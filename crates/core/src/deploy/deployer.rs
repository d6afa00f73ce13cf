//! Deployments as records and the policy around them: which strategy runs,
//! what a failure leads to (automatic rollback), one-click rollback,
//! stage rollback, and bringing environments back when the engine starts.
//!
//! One deployment per environment at a time (a lock per environment); each
//! state change is committed to the store before it is reported.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use super::command::CommandContext;
use super::local::{self, LocalEnv, Rollout};
use super::monitor::Failure;
use super::strategy;
use crate::clock::{Clock, Millis};
use crate::events::{Event, Notification, NotificationLevel, NotificationTarget};
use crate::model::{Namespaces, ProviderKind};
use crate::spec::pipeline::{Environment, Provider, RollbackOn, Strategy};
use crate::store::{Deployment, DeploymentStatus, Initiator, NewDeployment, Store, StoreError};
use crate::wake;

mod rollback;

pub use rollback::PreparedRollback;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("no environment `{0}` has been deployed to yet (see `slipway deployments`)")]
    NoEnvironment(String),
    #[error(
        "`{name}` is an environment of several pipelines ({pipelines}); name one with --pipeline"
    )]
    Ambiguous { name: String, pipelines: String },
    #[error("no deployment `{0}` (see `slipway deployments ENV`)")]
    NoDeployment(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeployError {
    /// The stable code this error crosses boundaries with.
    pub fn code(&self) -> crate::model::ErrorCode {
        use crate::model::ErrorCode;
        match self {
            DeployError::NoEnvironment(_) | DeployError::NoDeployment(_) => ErrorCode::NotFound,
            DeployError::Ambiguous { .. } | DeployError::Refused(_) => ErrorCode::InvalidInput,
            DeployError::Store(inner) => inner.code(),
        }
    }
}

/// What to deploy, from a deploy action (or a rollback).
pub struct DeployRequest {
    pub pipeline: String,
    pub environment: Environment,
    /// The action's own strategy, over the environment's.
    pub strategy: Option<Strategy>,
    pub revision: String,
    pub message: String,
    pub digest: Option<String>,
    pub execution_id: Option<String>,
    pub stage: Option<u32>,
    pub action: Option<String>,
    pub log: PathBuf,
    /// Where the command provider's commands run (the input artifact).
    pub workdir: Option<PathBuf>,
    pub namespaces: Namespaces,
    /// Pipeline variables, passed to the service and hooks.
    pub variables: Vec<(String, String)>,
    /// Turns true when the execution is stopped with `--abandon`.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

#[derive(Debug, Clone)]
pub struct DeployOutcome {
    pub deployment_id: String,
    pub status: DeploymentStatus,
    pub error: Option<String>,
}

type EnvCell = Arc<tokio::sync::Mutex<Option<LocalEnv>>>;

/// The deployments of one engine.
pub struct Deployer {
    store: Arc<Store>,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    envs: Mutex<HashMap<String, EnvCell>>,
    /// The live view of every environment this engine serves, readable
    /// while a deployment holds the environment's cell.
    boards: Mutex<HashMap<String, Arc<local::Board>>>,
}

fn new_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("d-{}", &id[..12])
}

fn spec_json(spec: &Environment) -> String {
    serde_json::to_string(spec).unwrap_or_else(|_| "{}".into())
}

impl Deployer {
    pub fn new(
        store: Arc<Store>,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        events: broadcast::Sender<Event>,
    ) -> Deployer {
        Deployer {
            store,
            data_dir: data_dir.to_path_buf(),
            clock,
            events,
            envs: Mutex::new(HashMap::new()),
            boards: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn cell(&self, slug: &str) -> EnvCell {
        self.envs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(slug.to_string())
            .or_default()
            .clone()
    }

    /// Every environment cell, to visit without holding the map.
    fn cells(&self) -> Vec<EnvCell> {
        self.envs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Tells listeners here (events) and in other processes (a wake poke)
    /// that deployment `id` changed.
    fn emit(&self, id: &str) {
        if let Ok(Some(detail)) = self.store.deployment(id) {
            let _ = self.events.send(Event::Deployment(detail.deployment));
        }
        let _ = wake::poke(&self.data_dir, id);
    }

    /// Tells the person about `deployment`'s environment.
    fn notify(
        &self,
        deployment: &Deployment,
        title: String,
        body: String,
        level: NotificationLevel,
    ) {
        let _ = self.events.send(Event::Notification(Notification {
            title,
            body,
            level,
            target: Some(NotificationTarget::Environment {
                pipeline: deployment.pipeline.clone(),
                environment: deployment.environment.clone(),
            }),
        }));
    }

    fn log_path(&self, id: &str) -> PathBuf {
        self.data_dir.join("deployments").join(format!("{id}.log"))
    }

    /// Marks deployments a dead engine left `InProgress` as `Interrupted`
    /// and ends the instance processes it left running. Call before
    /// anything deploys (the engine holds its lock).
    pub fn recover(&self) -> Result<Vec<Deployment>, StoreError> {
        let cut = self.store.interrupt_deployments(self.now())?;
        let mut killed = 0;
        for (pipeline, environment) in self.store.deployment_environments()? {
            killed += local::kill_leftovers(&self.data_dir, &local::slug(&pipeline, &environment));
        }
        if killed > 0 {
            tracing::warn!(killed, "ended instances a stopped engine left running");
        }
        for d in &cut {
            tracing::warn!(deployment = %d.id, environment = %d.environment,
                "marked Interrupted: its engine stopped during the deployment");
            self.emit(&d.id);
        }
        Ok(cut)
    }

    /// Brings every local environment back to its last successful
    /// revision (its set starts fresh; hooks run as on a new instance).
    pub async fn restore_all(self: Arc<Self>) {
        let serving = match self.store.serving_deployments() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%e, "cannot read which revisions environments serve");
                return;
            }
        };
        let mut tasks = Vec::new();
        for d in serving
            .into_iter()
            .filter(|d| d.provider == ProviderKind::Local)
        {
            let this = self.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = this.restore(&d).await {
                    tracing::error!(environment = %d.environment, error = %e, "could not restore");
                    this.notify(
                        &d,
                        format!("{} could not be restored", d.environment),
                        e,
                        NotificationLevel::Failure,
                    );
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    async fn restore(&self, d: &Deployment) -> Result<(), String> {
        let spec = self.spec_of(&d.id).map_err(|e| e.to_string())?;
        let digest = d.artifact.clone().ok_or("no artifact recorded")?;
        let slug = local::slug(&d.pipeline, &d.environment);
        let log = self
            .data_dir
            .join("environments")
            .join(&slug)
            .join("restore.log");
        let rollout = Rollout::new(
            &spec,
            d,
            &digest,
            &self.data_dir,
            &log,
            Vec::new(),
            None,
            self.clock.clone(),
        )?;
        rollout.note(&format!(
            "restoring revision {} (deployment {})",
            &d.revision[..d.revision.len().min(12)],
            d.id
        ));
        let cell = self.cell(&slug);
        let mut guard = cell.lock().await;
        let env = self.opened(&mut guard, &spec, &d.pipeline, &slug).await?;
        let restored = env.deploy_new_set(&rollout, &[], Duration::ZERO).await;
        env.board.finish();
        restored.map_err(|f| f.message)?;
        env.stop_standby(Duration::ZERO).await;
        tracing::info!(environment = %d.environment, revision = %d.revision, "restored");
        Ok(())
    }

    /// Stops every environment this engine serves.
    pub async fn shut_down(&self) {
        let cells = self.cells();
        for cell in cells {
            if let Some(env) = cell.lock().await.take() {
                env.shut_down().await;
            }
        }
        self.boards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Whether this engine serves any local environment now.
    pub async fn serves_any(&self) -> bool {
        let cells = self.cells();
        for cell in cells {
            if cell.lock().await.is_some() {
                return true;
            }
        }
        false
    }

    /// What a local environment serves now, when this engine serves it.
    pub fn live(&self, pipeline: &str, environment: &str) -> Option<local::EnvironmentLive> {
        let boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
        boards
            .get(&local::slug(pipeline, environment))
            .map(|b| b.view())
    }

    /// Runs one deployment to its end, rolling back automatically when its
    /// environment says so.
    pub async fn deploy(self: &Arc<Self>, req: DeployRequest) -> DeployOutcome {
        let spec = &req.environment;
        let strategy = req
            .strategy
            .clone()
            .or_else(|| spec.strategy.clone())
            .unwrap_or_else(strategy::default_strategy);
        let id = new_id();
        let record = Deployment {
            id: id.clone(),
            pipeline: req.pipeline.clone(),
            environment: spec.name.clone(),
            provider: spec.provider.kind(),
            revision: req.revision.clone(),
            message: req.message.clone(),
            artifact: req.digest.clone(),
            strategy: match spec.provider {
                Provider::Local { .. } => strategy::describe(&strategy),
                Provider::Command { .. } => "commands".into(),
            },
            status: DeploymentStatus::InProgress,
            initiator: Initiator::Pipeline,
            rollback_of: None,
            execution_id: req.execution_id.clone(),
            stage: req.stage,
            action: req.action.clone(),
            log: Some(req.log.display().to_string()),
            error: None,
            started_at: self.now(),
            ended_at: None,
        };
        if let Err(e) = self.store.create_deployment(&NewDeployment {
            deployment: &record,
            spec: &spec_json(spec),
        }) {
            return DeployOutcome {
                deployment_id: id,
                status: DeploymentStatus::Failed,
                error: Some(e.to_string()),
            };
        }
        self.emit(&id);
        let result = match &spec.provider {
            Provider::Local { .. } => self.run_local(&record, &req, &strategy).await,
            Provider::Command { deploy, verify, .. } => {
                let ctx = self.command_context(&record, &req);
                match ctx.run("deploy", deploy).await {
                    Err(e) => Err(Failure::of(e)),
                    Ok(()) => ctx.run("verify", verify).await.map_err(|e| Failure {
                        cause: RollbackOn::Health,
                        message: e,
                        stopped: false,
                    }),
                }
            }
        };
        let failure = match result {
            Ok(()) => {
                self.finish(&id, DeploymentStatus::Succeeded, None);
                return DeployOutcome {
                    deployment_id: id,
                    status: DeploymentStatus::Succeeded,
                    error: None,
                };
            }
            Err(f) => f,
        };
        if failure.stopped {
            self.finish(&id, DeploymentStatus::Stopped, Some("stopped by a person"));
            return DeployOutcome {
                deployment_id: id,
                status: DeploymentStatus::Stopped,
                error: Some(
                    "stopped; traffic stays on (or went back to) the set that served before".into(),
                ),
            };
        }
        self.finish(&id, DeploymentStatus::Failed, Some(&failure.message));
        let mut error = failure.message.clone();
        let mut status = DeploymentStatus::Failed;
        if spec.auto_rollback.contains(&failure.cause) {
            match self.auto_rollback(&record).await {
                Ok(Some(rollback)) => {
                    let _ = self.store.mark_rolled_back(&id, self.now());
                    self.emit(&id);
                    status = DeploymentStatus::RolledBack;
                    error = format!("{error}; rolled back by {rollback}");
                    self.notify(
                        &record,
                        format!("{} rolled back", spec.name),
                        format!(
                            "{} failed ({}); deployment {rollback} restored the previous revision",
                            id, failure.message
                        ),
                        NotificationLevel::Warning,
                    );
                }
                Ok(None) => {
                    error = format!("{error}; no earlier successful revision to roll back to")
                }
                Err(e) => error = format!("{error}; the automatic rollback failed: {e}"),
            }
        }
        DeployOutcome {
            deployment_id: id,
            status,
            error: Some(error),
        }
    }

    fn finish(&self, id: &str, status: DeploymentStatus, error: Option<&str>) {
        if let Err(e) = self.store.finish_deployment(id, status, error, self.now()) {
            tracing::error!(%e, deployment = %id, "cannot record the end of a deployment");
        }
        self.emit(id);
    }

    fn command_context(&self, record: &Deployment, req: &DeployRequest) -> CommandContext {
        CommandContext {
            spec: req.environment.clone(),
            namespaces: req.namespaces.clone(),
            workdir: req
                .workdir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("deployments").join(&record.id)),
            log: req.log.clone(),
            data_dir: self.data_dir.clone(),
            deployment_id: record.id.clone(),
            env: req.variables.clone(),
            store: self.store.clone(),
            clock: self.clock.clone(),
        }
    }

    async fn run_local(
        self: &Arc<Self>,
        record: &Deployment,
        req: &DeployRequest,
        strategy: &Strategy,
    ) -> Result<(), Failure> {
        let spec = &req.environment;
        let digest = req.digest.clone().ok_or_else(|| {
            Failure::of(
                "a local deployment needs an input artifact (`inputs:` of the deploy action)",
            )
        })?;
        let mut rollout = Rollout::new(
            spec,
            record,
            &digest,
            &self.data_dir,
            &req.log,
            req.variables.clone(),
            Some(self.store.clone()),
            self.clock.clone(),
        )
        .map_err(Failure::of)?;
        rollout.stop = req.stop.clone();
        rollout.note(&format!(
            "deployment {} of {} to {} ({})",
            record.id,
            &record.revision[..record.revision.len().min(12)],
            spec.name,
            record.strategy
        ));
        self.run_rollout(&rollout, strategy, false).await
    }

    /// Runs a rollout on its environment (opening its router if this
    /// engine does not serve it yet). `fast` (a rollback) skips canary and
    /// linear steps and the bake.
    async fn run_rollout(
        self: &Arc<Self>,
        rollout: &Rollout,
        strategy: &Strategy,
        fast: bool,
    ) -> Result<(), Failure> {
        let spec = &rollout.spec;
        let cell = self.cell(&rollout.slug);
        let mut guard = cell.lock().await;
        let env = self
            .opened(&mut guard, spec, &rollout.pipeline, &rollout.slug)
            .await
            .map_err(Failure::of)?;
        // A rollback restores what served well before: no bake, no alarms
        // (an alarm still ringing for the bad revision would fail it).
        let bake = match fast {
            true => Duration::ZERO,
            false => spec.bake.map(|b| b.as_std()).unwrap_or_default(),
        };
        let result = if strategy::in_place(strategy) {
            match env.deploy_in_place(rollout, strategy).await {
                Ok(()) => env.bake_in_place(rollout, bake).await,
                Err(f) => Err(f),
            }
        } else {
            let steps = if fast {
                Vec::new()
            } else {
                strategy::traffic_steps(strategy)
            };
            env.deploy_new_set(rollout, &steps, bake).await
        };
        env.board.finish();
        if result.is_ok() && !strategy::in_place(strategy) {
            self.schedule_termination(&cell, env, spec);
        }
        result
    }

    /// The environment in `guard`, opening it (its router and its board)
    /// when this engine does not serve it yet.
    async fn opened<'a>(
        &self,
        guard: &'a mut Option<LocalEnv>,
        spec: &Environment,
        pipeline: &str,
        slug: &str,
    ) -> Result<&'a mut LocalEnv, String> {
        if guard.is_none() {
            let env = LocalEnv::open(
                spec,
                pipeline,
                slug,
                self.events.clone(),
                self.clock.clone(),
            )
            .await?;
            self.boards
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slug.to_string(), env.board.clone());
            *guard = Some(env);
        }
        Ok(guard.as_mut().expect("opened"))
    }

    /// Ends the standby set after `termination-wait`, unless something
    /// else has replaced it by then.
    fn schedule_termination(&self, cell: &EnvCell, env: &LocalEnv, spec: &Environment) {
        let Some(standby) = &env.standby else {
            return;
        };
        let id = standby.deployment_id.clone();
        let wait = spec
            .termination_wait
            .map(|d| d.as_std())
            .unwrap_or(local::DEFAULT_TERMINATION_WAIT);
        let cell = cell.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(env) = cell.lock().await.as_mut() {
                env.terminate_standby(&id).await;
            }
        });
    }

    fn spec_of(&self, id: &str) -> Result<Environment, DeployError> {
        let text = self
            .store
            .deployment_spec(id)?
            .ok_or_else(|| DeployError::NoDeployment(id.to_string()))?;
        serde_json::from_str(&text).map_err(|e| {
            DeployError::Refused(format!(
                "deployment {id} recorded an environment this Slipway cannot read: {e}"
            ))
        })
    }
}
