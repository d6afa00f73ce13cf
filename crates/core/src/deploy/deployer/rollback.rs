//! Rollbacks: automatic (after a failed deployment, and for a failed
//! stage's deployments) and by hand (`slipway rollback`), each a new
//! deployment of an earlier successful revision — a router switch inside
//! `termination-wait`, a redeployment of the kept artifact otherwise.

use std::sync::Arc;

use super::{new_id, spec_json, DeployError, Deployer};
use crate::build::ArtifactStore;
use crate::deploy::local;
use crate::deploy::provider::Job;
use crate::deploy::strategy;
use crate::model::Namespaces;
use crate::spec::pipeline::Environment;
use crate::store::{Deployment, DeploymentStatus, Initiator, NewDeployment};

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
        let needs_artifact = self
            .provider(spec.provider.kind())
            .rollback_needs_artifact();
        if let (true, Some(digest)) = (needs_artifact, &target.artifact) {
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
        let mut namespaces = Namespaces::default();
        namespaces.insert("rollback", self.variables_of(&target));
        namespaces.insert("deploy", self.variables_of(&target));
        let strategy = spec
            .strategy
            .clone()
            .unwrap_or_else(strategy::default_strategy);
        let job = Job {
            ctx: &self.ctx,
            record: &deployment,
            spec: &spec,
            strategy: &strategy,
            digest: target.artifact.as_deref(),
            workdir: None,
            log: &log,
            namespaces: &namespaces,
            variables: &[],
            stop: None,
            restores: Some(&target),
        };
        let result = self.provider(spec.provider.kind()).roll_back(&job).await;
        let status = match &result {
            Ok(()) => DeploymentStatus::Succeeded,
            Err(_) => DeploymentStatus::Failed,
        };
        self.finish(&id, status, result.as_ref().err().map(String::as_str));
        status
    }

    /// The variables a deployment's execution exported, flattened, with
    /// `REVISION`, `DEPLOYMENT_ID`, `ARTIFACT` and `VERSION` (when no
    /// action exported one, the revision): `#{deploy.NAME}` of a deployment,
    /// `#{rollback.NAME}` of the one a rollback restores.
    pub(super) fn variables_of(
        &self,
        target: &Deployment,
    ) -> std::collections::BTreeMap<String, String> {
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
        // What a build exported as VERSION, else the revision itself.
        vars.entry("VERSION".into())
            .or_insert_with(|| target.revision.clone());
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
