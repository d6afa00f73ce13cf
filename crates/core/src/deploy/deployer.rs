//! Deployments as records and the policy around them: which strategy runs,
//! what a failure leads to (automatic rollback), one-click rollback,
//! stage rollback, and bringing environments back when the engine starts.
//!
//! One deployment per environment at a time (a lock per environment); each
//! state change is committed to the store before it is reported.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::broadcast;

use super::aws::{cloudformation::CloudFormationProvider, ecs::EcsProvider};
use super::aws::{lambda::LambdaProvider, s3::S3Provider};
use super::command::CommandProvider;
use super::local::{self, LocalProvider};
use super::provider::{Context, Job, Provider};
use super::strategy;
use crate::clock::{Clock, Millis};
use crate::events::{Event, Notification, NotificationLevel, NotificationTarget};
use crate::model::{Namespaces, ProviderKind};
use crate::spec::pipeline::{Environment, Strategy};
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

/// The deployments of one engine.
pub struct Deployer {
    store: Arc<Store>,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<Event>,
    ctx: Context,
    local: LocalProvider,
    command: CommandProvider,
    lambda: LambdaProvider,
    s3: S3Provider,
    cloudformation: CloudFormationProvider,
    ecs: EcsProvider,
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
        let ctx = Context {
            store: store.clone(),
            clock: clock.clone(),
            data_dir: data_dir.to_path_buf(),
            events: events.clone(),
        };
        Deployer {
            store,
            data_dir: data_dir.to_path_buf(),
            clock,
            events,
            local: LocalProvider::new(ctx.clone()),
            command: CommandProvider,
            lambda: LambdaProvider,
            s3: S3Provider,
            cloudformation: CloudFormationProvider,
            ecs: EcsProvider,
            ctx,
        }
    }

    /// The provider that carries out `kind`'s deployments: the one place
    /// the deployer tells providers apart.
    pub fn provider(&self, kind: ProviderKind) -> &dyn Provider {
        match kind {
            ProviderKind::Local => &self.local,
            ProviderKind::Command => &self.command,
            ProviderKind::Lambda => &self.lambda,
            ProviderKind::S3 => &self.s3,
            ProviderKind::CloudFormation => &self.cloudformation,
            ProviderKind::Ecs => &self.ecs,
        }
    }

    /// What the providers share.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn now(&self) -> Millis {
        self.clock.now()
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
        self.local.restore(d, &spec).await
    }

    /// Stops every environment this engine serves.
    pub async fn shut_down(&self) {
        self.local.shut_down().await
    }

    /// Whether this engine serves any local environment now.
    pub async fn serves_any(&self) -> bool {
        self.local.serves_any().await
    }

    /// What a local environment serves now, when this engine serves it.
    pub fn live(&self, pipeline: &str, environment: &str) -> Option<local::EnvironmentLive> {
        self.local.live(pipeline, environment)
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
            strategy: self.provider(spec.provider.kind()).describe(&strategy),
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
        let mut namespaces = req.namespaces.clone();
        namespaces.insert("deploy", self.variables_of(&record));
        let job = Job {
            ctx: &self.ctx,
            record: &record,
            spec,
            strategy: &strategy,
            digest: req.digest.as_deref(),
            workdir: req.workdir.as_deref(),
            log: &req.log,
            namespaces: &namespaces,
            variables: &req.variables,
            stop: req.stop.clone(),
            restores: None,
        };
        let result = self.provider(spec.provider.kind()).deploy(&job).await;
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
