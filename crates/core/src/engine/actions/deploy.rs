//! Deploy actions: one deployment of the action's input artifact (the
//! source revision when it names none) to its environment, handed to the
//! deployer, whose outcome becomes the action's status and its
//! `DEPLOYMENT_ID` variable.
//!
//! This module owns turning an action into a deploy request. It must never
//! deploy by itself (strategies, rollbacks and locks are the deployer's),
//! never obtain credentials (the `command` provider gets them from
//! `crate::creds`), and never hand the deployer a revision that lives only
//! in the execution's workspace.

use super::scope::{ActionJob, ActionResult};
use super::workspace;
use crate::build::ArtifactStore;
use crate::deploy::DeployRequest;
use crate::engine::{Engine, Status};
use crate::store::DeploymentStatus;

impl Engine {
    /// A deploy action: one deployment of its input artifact (the source
    /// when it names none) to its environment.
    pub(super) async fn run_deploy(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let environment = job.environment.clone().ok_or_else(|| {
            format!(
                "deploy action `{}` names no environment of this pipeline",
                job.action.name
            )
        })?;
        let src = workspace::prepare(job)?;
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
            .deploy(DeployRequest {
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
            DeploymentStatus::Succeeded => Status::Succeeded,
            DeploymentStatus::Stopped => Status::Stopped,
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
}
