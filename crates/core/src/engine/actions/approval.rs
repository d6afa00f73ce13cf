//! Approval actions: announce that a person must decide, then wait for the
//! decision recorded in the store (approved, or rejected with who and why),
//! a stop of the execution, or the action's timeout (CodePipeline's seven
//! days when it names none).
//!
//! This module owns how a decision, a stop or the timeout ends the wait.
//! It must never record a decision itself (people decide, through
//! `decide_approval`), never run a process, and never treat the absence of
//! a decision as approval.

use std::time::Duration;

use super::scope::{ActionJob, ActionResult};
use crate::engine::{Engine, Status};
use crate::events::{Event, Notification, NotificationLevel, NotificationTarget};
use crate::model::ApprovalDecision;

/// CodePipeline's default for a manual approval nobody answers.
const APPROVAL_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

impl Engine {
    pub(super) async fn run_approval(&self, job: &ActionJob) -> Result<ActionResult, String> {
        let message = job
            .action
            .message
            .as_deref()
            .map(|m| job.namespaces.substitute(m))
            .transpose()?
            .unwrap_or_else(|| format!("{} waits for approval", job.pipeline));
        self.emit(Event::Notification(Notification {
            title: format!("Approval needed: {}", job.pipeline),
            body: message.clone(),
            level: NotificationLevel::Warning,
            target: Some(NotificationTarget::Execution {
                id: job.execution_id.clone(),
            }),
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
                if decision.decision == ApprovalDecision::Approved {
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
