//! What the tray shows: the overall state (idle, running, failed, approval
//! waiting) and the menu's entries — pending approvals, the latest
//! executions, "Roll back ENV to REVISION" for each environment with an
//! earlier good revision — computed from the records. The desktop shell
//! renders it and sends the chosen entry's action back; it decides nothing.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::engine::Status;
use crate::store::{Store, StoreError};

/// How many recent executions the menu lists.
const RECENT: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TrayState {
    Idle,
    Running,
    /// The newest execution of some pipeline failed.
    Failed,
    /// Someone's approval is waited for.
    ApprovalWaiting,
}

/// What choosing an entry does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrayAction {
    /// Open the window on this execution.
    OpenExecution {
        id: String,
    },
    /// Roll `environment` back (after a confirmation) to deployment `to`.
    Rollback {
        pipeline: String,
        environment: String,
        to: String,
    },
    /// Commits trigger nothing until resumed.
    PauseWatching,
    ResumeWatching,
    Open,
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrayEntry {
    /// Stable for one action: the menu item's id.
    pub id: String,
    pub label: String,
    pub action: TrayAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TrayMenu {
    pub state: TrayState,
    /// The icon's tooltip: the state in words.
    pub tooltip: String,
    pub entries: Vec<TrayEntry>,
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}

/// The tray as the records say it is now.
pub fn menu(store: &Store) -> Result<TrayMenu, StoreError> {
    let recent = store.executions(None, None, 50)?;
    let mut entries = Vec::new();
    let mut waiting = 0;
    for e in recent.iter().filter(|e| e.status == Status::InProgress) {
        for (_, action) in store.pending_approvals(&e.id)? {
            waiting += 1;
            entries.push(TrayEntry {
                id: format!("approval:{}:{action}", e.id),
                label: format!("Approval waiting: {} ({action})", e.pipeline),
                action: TrayAction::OpenExecution { id: e.id.clone() },
            });
        }
    }
    for e in recent.iter().take(RECENT as usize) {
        entries.push(TrayEntry {
            id: format!("execution:{}", e.id),
            label: format!(
                "{} {} — {}",
                e.pipeline,
                short(&e.revision),
                e.status.as_str()
            ),
            action: TrayAction::OpenExecution { id: e.id.clone() },
        });
    }
    for (pipeline, environment) in store.deployment_environments()? {
        let Some(current) = store.last_good_deployment(&pipeline, &environment, None)? else {
            continue;
        };
        let Some(target) =
            store.last_good_deployment(&pipeline, &environment, Some(&current.id))?
        else {
            continue;
        };
        entries.push(TrayEntry {
            id: format!("rollback:{pipeline}:{environment}:{}", target.id),
            label: format!("Roll back {environment} to {}", short(&target.revision)),
            action: TrayAction::Rollback {
                pipeline,
                environment,
                to: target.id,
            },
        });
    }
    let paused = store.flag(super::settings::WATCHING_PAUSED);
    entries.push(if paused {
        TrayEntry {
            id: "watching:resume".into(),
            label: "Resume watching".into(),
            action: TrayAction::ResumeWatching,
        }
    } else {
        TrayEntry {
            id: "watching:pause".into(),
            label: "Pause watching".into(),
            action: TrayAction::PauseWatching,
        }
    });
    entries.push(TrayEntry {
        id: "open".into(),
        label: "Open Slipway".into(),
        action: TrayAction::Open,
    });
    entries.push(TrayEntry {
        id: "quit".into(),
        label: "Quit".into(),
        action: TrayAction::Quit,
    });
    // The newest execution of each pipeline decides "failed".
    let mut seen = std::collections::BTreeSet::new();
    let failed = recent
        .iter()
        .filter(|e| seen.insert(e.pipeline.clone()))
        .any(|e| matches!(e.status, Status::Failed | Status::Interrupted));
    let running = recent.iter().any(|e| e.status == Status::InProgress);
    let (state, tooltip) = if waiting > 0 {
        (
            TrayState::ApprovalWaiting,
            format!(
                "Slipway: {waiting} approval{} waiting",
                if waiting == 1 { "" } else { "s" }
            ),
        )
    } else if paused {
        (TrayState::Idle, "Slipway: watching paused".to_string())
    } else if running {
        (TrayState::Running, "Slipway: running".to_string())
    } else if failed {
        (TrayState::Failed, "Slipway: a pipeline failed".to_string())
    } else {
        (TrayState::Idle, "Slipway: idle".to_string())
    };
    Ok(TrayMenu {
        state,
        tooltip,
        entries,
    })
}

/// What the tray does once a "Roll back" entry is confirmed: the same typed
/// rollback request the window and the CLI send.
pub async fn roll_back(
    core: &super::Core,
    pipeline: String,
    environment: String,
    to: String,
) -> Result<super::DeploymentRequest, super::ApiError> {
    core.command::<super::cmd::Rollback>(super::RollbackRequest {
        environment,
        pipeline: Some(pipeline),
        to: Some(to),
    })
    .await
}

/// What the tray's Pause and Resume watching do: the settings command.
pub async fn set_watching_paused(
    core: &super::Core,
    paused: bool,
) -> Result<super::settings::Settings, super::ApiError> {
    core.command::<super::cmd::Settings>(super::settings::SettingsRequest {
        watching_paused: Some(paused),
        ..Default::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Deployment, DeploymentStatus, Initiator, NewDeployment};

    fn deployed(store: &Store, id: &str, revision: &str) {
        let d = Deployment {
            id: id.into(),
            pipeline: "shop/web".into(),
            environment: "staging".into(),
            provider: crate::model::ProviderKind::Local,
            revision: revision.into(),
            message: String::new(),
            artifact: Some(format!("digest-{revision}")),
            strategy: "blue-green".into(),
            status: DeploymentStatus::Succeeded,
            initiator: Initiator::Pipeline,
            rollback_of: None,
            execution_id: None,
            stage: None,
            action: None,
            log: None,
            error: None,
            started_at: 1,
            ended_at: Some(2),
        };
        store
            .create_deployment(&NewDeployment {
                deployment: &d,
                spec: "{}",
            })
            .unwrap();
    }

    #[test]
    fn an_environment_with_an_earlier_good_revision_offers_its_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let menu_now = menu(&store).unwrap();
        assert_eq!(menu_now.state, TrayState::Idle);
        let ids: Vec<&str> = menu_now.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["watching:pause", "open", "quit"]);
        store
            .set_flag(crate::api::settings::WATCHING_PAUSED, true)
            .unwrap();
        let paused = menu(&store).unwrap();
        assert_eq!(paused.entries[0].action, TrayAction::ResumeWatching);
        assert_eq!(paused.tooltip, "Slipway: watching paused");
        deployed(&store, "d1", "1111111aaaa");
        assert!(
            !menu(&store)
                .unwrap()
                .entries
                .iter()
                .any(|e| e.id.starts_with("rollback:")),
            "one revision: nothing to roll back to"
        );
        deployed(&store, "d2", "2222222bbbb");
        let entries = menu(&store).unwrap().entries;
        let rollback = entries
            .iter()
            .find(|e| e.id.starts_with("rollback:"))
            .unwrap();
        assert_eq!(rollback.label, "Roll back staging to 1111111");
        assert_eq!(
            rollback.action,
            TrayAction::Rollback {
                pipeline: "shop/web".into(),
                environment: "staging".into(),
                to: "d1".into()
            }
        );
    }
}
