//! What any process may ask of an execution, whether or not it is the
//! engine: stop it, or decide an approval it waits on. The request is
//! recorded in the database, then the engine is woken to act on it.

use std::path::Path;

use super::{wake, EngineError};
use crate::clock::Millis;
use crate::store::Store;

/// Asks the engine running `id` (in this process or another) to stop it.
pub fn request_stop(
    store: &Store,
    data_dir: &Path,
    id: &str,
    abandon: bool,
) -> Result<(), EngineError> {
    if store.execution(id)?.is_none() {
        return Err(EngineError::NoSuchExecution(id.to_string()));
    }
    if !store.request_stop(id, abandon)? {
        return Err(EngineError::Finished(id.to_string()));
    }
    let _ = wake::poke(data_dir, id);
    Ok(())
}

/// Records an approval decision for the waiting approval action `action`
/// (or the only one waiting) and wakes the engine running it.
pub fn decide_approval(
    store: &Store,
    data_dir: &Path,
    id: &str,
    action: Option<&str>,
    approve: bool,
    comment: &str,
    now: Millis,
) -> Result<String, EngineError> {
    let detail = store
        .execution(id)?
        .ok_or_else(|| EngineError::NoSuchExecution(id.to_string()))?;
    if detail.summary.status.is_final() {
        return Err(EngineError::Finished(id.to_string()));
    }
    let waiting = store.pending_approvals(id)?;
    let found = waiting
        .iter()
        .find(|(_, name)| action.is_none_or(|a| a == name))
        .cloned();
    let Some((stage, name)) = found.filter(|_| action.is_some() || waiting.len() == 1) else {
        return Err(EngineError::NoPendingApproval {
            id: id.to_string(),
            action: action.unwrap_or("(any)").to_string(),
            waiting: if waiting.is_empty() {
                "none".into()
            } else {
                waiting
                    .iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    };
    store.record_approval(
        id,
        stage,
        &name,
        &crate::store::ApprovalRecord {
            decision: if approve {
                crate::model::ApprovalDecision::Approved
            } else {
                crate::model::ApprovalDecision::Rejected
            },
            comment: comment.to_string(),
            decided_by: crate::platform::user_name(),
            decided_at: now,
        },
    )?;
    let _ = wake::poke(data_dir, id);
    Ok(name)
}
