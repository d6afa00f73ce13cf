//! Running one action: the dispatcher. It waits for a slot (`max-parallel`),
//! marks the action started, hands it to what runs its type — the buildspec
//! runner for build, test and command actions ([`build`]), the deployer for
//! deploy actions ([`deploy`]), a wait for a person for approvals
//! ([`approval`]) — and records how it ended.
//!
//! What every action gets and gives back is in [`scope`]; its inputs are
//! laid out by [`workspace`]. This module owns the order of an action's
//! life (slot, started, run, stopped-or-not, finished) and nothing else: it
//! must never hold type-specific logic, and never record an action as
//! finished before its outcome is known.

mod approval;
mod build;
mod deploy;
mod scope;
mod workspace;

use std::sync::Arc;

pub(in crate::engine) use scope::{ActionJob, ActionResult, Scope};

use super::{Engine, EngineError, Status};
use crate::spec::pipeline::ActionType;

impl Engine {
    pub(in crate::engine) async fn run_action(
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
}
