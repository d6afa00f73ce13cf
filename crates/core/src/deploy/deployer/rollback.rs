//! Rollbacks: automatic (after a failed deployment, and for a failed
//! stage's deployments) and by hand (`slipway rollback`), each a new
//! deployment of an earlier successful revision — a router switch inside
//! `termination-wait`, a redeployment of the kept artifact otherwise.

use std::path::Path;
use std::sync::Arc;

use super::{new_id, spec_json, DeployError, Deployer};
use crate::build::ArtifactStore;
use crate::deploy::command::CommandContext;
use crate::deploy::local::{self, Rollout};
use crate::deploy::strategy;
use crate::model::{EventStatus, Namespaces};
use crate::spec::pipeline::{Environment, Provider};
use crate::store::{Deployment, DeploymentEvent, DeploymentStatus, Initiator, NewDeployment};

/// A rollback ready to run: its record is written.
pub struct PreparedRollback {
    pub deployment: Deployment,
    target: Deployment,
    spec: Environment,
}

impl Deployer {
    /// After `failed` failed: back to the environment's last good revision,
    /// as a new deployment of initiator `auto-rollback`. `None` when there
    /// is nothing to go back to.
    pub(super) async fn auto_rollback(
        self: &Arc<Self>,
        failed: &Deployment,
    ) -> Result<Option<String>, String> {
        let Some(target) = self
            .store
            .last_good_deployment(&failed.pipeline, &failed.environment, None)
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let prepared = self
            .prepare(&target, failed, Initiator::AutoRollback)
            .map_err(|e| e.to_string())?;
        let id = prepared.deployment.id.clone();
        match self.perform(prepared).await {
            DeploymentStatus::Succeeded => Ok(Some(id)),
            other => Err(format!("rollback {id} ended {other}")),
        }
    }

    /// Resolves `slipway rollback ENV [--pipeline P] [--to ID]`, writes the
    /// rollback's record and returns it; [`Deployer::perform`] runs it.
    pub fn prepare_rollback(
        &self,
        environment: &str,
        pipeline: Option<&str>,
        to: Option<&str>,
    ) -> Result<PreparedRollback, DeployError> {
        let pipeline = self.resolve(environment, pipeline)?;
        let current = self
            .store
            .last_good_deployment(&pipeline, environment, None)?
            .ok_or_else(|| {
                DeployError::Refused(format!(
                    "{environment} has no successful deployment: there is nothing to roll back"
                ))
            })?;
        let target = match to {
            Some(id) => {
                let d = self
                    .store
                    .deployment(id)?
                    .ok_or_else(|| DeployError::NoDeployment(id.to_string()))?
                    .deployment;
                if d.environment != environment || d.pipeline != pipeline {
                    return Err(DeployError::Refused(format!(
                        "deployment {id} is of {}/{}, not of {pipeline}/{environment}",
                        d.pipeline, d.environment
                    )));
                }
                if d.status != DeploymentStatus::Succeeded {
                    return Err(DeployError::Refused(format!(
                        "deployment {id} ended {}: only a revision that deployed successfully can be restored",
                        d.status
                    )));
                }
                if d.id == current.id {
                    return Err(DeployError::Refused(format!(
                        "{environment} already serves deployment {id}"
                    )));
                }
                d
            }
            None => self
                .store
                .last_good_deployment(&pipeline, environment, Some(&current.id))?
                .ok_or_else(|| {
                    DeployError::Refused(format!(
                        "{environment} has no earlier successful revision than {} (deployment {}) to roll back to",
                        &current.revision[..current.revision.len().min(12)],
                        current.id
                    ))
                })?,
        };
        self.prepare(&target, &current, Initiator::User)
    }

    /// Which pipeline's `environment` is meant.
    fn resolve(&self, environment: &str, pipeline: Option<&str>) -> Result<String, DeployError> {
        let mut found: Vec<String> = self
            .store
            .deployment_environments()?
            .into_iter()
            .filter(|(p, e)| {
                e == environment
                    && pipeline.is_none_or(|want| p == want || p.ends_with(&format!("/{want}")))
            })
            .map(|(p, _)| p)
            .collect();
        found.dedup();
        match found.len() {
            0 => Err(DeployError::NoEnvironment(match pipeline {
                Some(p) => format!("{environment}` of pipeline `{p}"),
                None => environment.to_string(),
            })),
            1 => Ok(found.remove(0)),
            _ => Err(DeployError::Ambiguous {
                name: environment.into(),
                pipelines: found.join(", "),
            }),
        }
    }

    /// Checks the target can be restored (its artifact is kept) and writes
    /// the rollback's record.
    fn prepare(
        &self,
        target: &Deployment,
        undoes: &Deployment,
        initiator: Initiator,
    ) -> Result<PreparedRollback, DeployError> {
        let spec = self.spec_of(&target.id)?;
        if let (Provider::Local { .. }, Some(digest)) = (&spec.provider, &target.artifact) {
            let kept = ArtifactStore::open(&self.data_dir)
                .and_then(|s| s.manifest(digest))
                .is_ok();
            if !kept {
                return Err(DeployError::Refused(format!(
                    "cannot roll back to {} (deployment {}): its artifact {} is no longer kept; \
                     run the pipeline at that revision to rebuild it",
                    &target.revision[..target.revision.len().min(12)],
                    target.id,
                    local::short(digest)
                )));
            }
        }
        let id = new_id();
        let deployment = Deployment {
            id: id.clone(),
            pipeline: target.pipeline.clone(),
            environment: target.environment.clone(),
            provider: target.provider,
            revision: target.revision.clone(),
            message: target.message.clone(),
            artifact: target.artifact.clone(),
            strategy: "rollback".into(),
            status: DeploymentStatus::InProgress,
            initiator,
            rollback_of: Some(undoes.id.clone()),
            execution_id: None,
            stage: None,
            action: None,
            log: Some(self.log_path(&id).display().to_string()),
            error: None,
            started_at: self.now(),
            ended_at: None,
        };
        self.store.create_deployment(&NewDeployment {
            deployment: &deployment,
            spec: &spec_json(&spec),
        })?;
        self.emit(&id);
        Ok(PreparedRollback {
            deployment,
            target: target.clone(),
            spec,
        })
    }

    /// Runs a prepared rollback to its end and returns its status. Inside
    /// `termination-wait` (the target's set still runs) it is one router
    /// switch; otherwise a redeployment of the target's artifact that
    /// skips canary and linear steps.
    pub async fn perform(self: &Arc<Self>, prepared: PreparedRollback) -> DeploymentStatus {
        let PreparedRollback {
            deployment,
            target,
            spec,
        } = prepared;
        let id = deployment.id.clone();
        let log = self.log_path(&id);
        let result = match &spec.provider {
            Provider::Local { .. } => self.rollback_local(&deployment, &target, &spec, &log).await,
            Provider::Command { rollback, .. } => {
                let mut namespaces = Namespaces::default();
                namespaces.insert("rollback", self.variables_of(&target));
                let req_env = spec.clone();
                let ctx = CommandContext {
                    spec: req_env,
                    namespaces,
                    workdir: self.data_dir.join("deployments").join(&id),
                    log: log.clone(),
                    data_dir: self.data_dir.clone(),
                    deployment_id: id.clone(),
                    env: Vec::new(),
                    store: self.store.clone(),
                    clock: self.clock.clone(),
                };
                if rollback.is_empty() {
                    Err(format!(
                        "environment `{}` has no `rollback` commands",
                        spec.name
                    ))
                } else {
                    ctx.run("rollback", rollback).await
                }
            }
        };
        let status = match &result {
            Ok(()) => DeploymentStatus::Succeeded,
            Err(_) => DeploymentStatus::Failed,
        };
        self.finish(&id, status, result.as_ref().err().map(String::as_str));
        status
    }

    async fn rollback_local(
        self: &Arc<Self>,
        deployment: &Deployment,
        target: &Deployment,
        spec: &Environment,
        log: &Path,
    ) -> Result<(), String> {
        let digest = target
            .artifact
            .clone()
            .ok_or("the target recorded no artifact")?;
        // The rollback's own record carries the target's revision.
        let mut rollout = Rollout::new(
            spec,
            deployment,
            &digest,
            &self.data_dir,
            log,
            Vec::new(),
            Some(self.store.clone()),
            self.clock.clone(),
        )?;
        // A rollback must be able to restore: a revision whose ApplicationStop
        // script fails (CodeDeploy's well-known trap) would otherwise block
        // its own undoing as well. The failure is still logged and recorded.
        rollout.spec.ignore_application_stop_failures = true;
        rollout.note(&format!(
            "rollback {} to {} (deployment {}); ApplicationStop failures are logged, not fatal",
            deployment.id,
            &target.revision[..target.revision.len().min(12)],
            target.id
        ));
        let cell = self.cell(&rollout.slug);
        {
            let mut guard = cell.lock().await;
            if let Some(env) = guard.as_mut() {
                let started = self.now();
                let switched = if env.active.as_ref().is_some_and(|a| a.digest == digest) {
                    // A failed new set never took the traffic for good: the
                    // old set already serves again.
                    if let Some(active) = env.active.as_mut() {
                        active.deployment_id = deployment.id.clone();
                    }
                    Some("traffic is back on the set that served before")
                } else if env.standby_serves(&digest) {
                    env.switch_to_standby(&deployment.id);
                    self.schedule_termination(&cell, env, spec);
                    Some("switched the router to the standby set (inside termination-wait)")
                } else {
                    None
                };
                if let Some(how) = switched {
                    rollout.note(how);
                    rollout.record(DeploymentEvent {
                        instance: "-".into(),
                        event: "AllowTraffic 100%".into(),
                        status: EventStatus::Succeeded,
                        started_at: started,
                        ended_at: self.now(),
                        message: Some(how.into()),
                        log_excerpt: String::new(),
                    });
                    return Ok(());
                }
            }
        }
        let strategy = spec
            .strategy
            .clone()
            .unwrap_or_else(strategy::default_strategy);
        self.run_rollout(&rollout, &strategy, true)
            .await
            .map_err(|f| f.message)
    }

    /// The variables a deployment's execution exported, flattened, with
    /// `REVISION`, `DEPLOYMENT_ID` and `ARTIFACT`: `#{rollback.NAME}`.
    fn variables_of(&self, target: &Deployment) -> std::collections::BTreeMap<String, String> {
        let mut vars = std::collections::BTreeMap::new();
        if let Some(exec) = &target.execution_id {
            if let Ok(Some(detail)) = self.store.execution(exec) {
                for (k, v) in &detail.variables {
                    vars.insert(k.clone(), v.clone());
                }
                for stage in &detail.stages {
                    for action in &stage.actions {
                        for (k, v) in &action.variables {
                            vars.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
        vars.insert("REVISION".into(), target.revision.clone());
        vars.insert("DEPLOYMENT_ID".into(), target.id.clone());
        if let Some(a) = &target.artifact {
            vars.insert("ARTIFACT".into(), a.clone());
        }
        vars
    }

    /// Stage `on-failure: rollback`: undoes the successful deployments the
    /// stage made (each environment back to the revision before), as
    /// `auto-rollback` deployments. Returns their ids.
    pub async fn rollback_stage(self: &Arc<Self>, execution_id: &str, stage: u32) -> Vec<String> {
        let made = match self.store.stage_deployments(execution_id, stage) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(%e, "cannot read the stage's deployments");
                return Vec::new();
            }
        };
        let mut ids = Vec::new();
        for d in made
            .iter()
            .filter(|d| d.status == DeploymentStatus::Succeeded)
        {
            let target =
                match self
                    .store
                    .last_good_deployment(&d.pipeline, &d.environment, Some(&d.id))
                {
                    Ok(Some(t)) => t,
                    _ => continue,
                };
            match self.prepare(&target, d, Initiator::AutoRollback) {
                Ok(prepared) => {
                    ids.push(prepared.deployment.id.clone());
                    self.perform(prepared).await;
                }
                Err(e) => tracing::error!(%e, deployment = %d.id, "stage rollback refused"),
            }
        }
        ids
    }
}
