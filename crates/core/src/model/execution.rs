//! Executions as the store keeps them and `slipway executions` lists them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::kinds::{ActionType, ApprovalDecision, ExecutionTrigger};
use super::status::Status;
use crate::clock::Millis;

/// What `slipway executions` lists, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExecutionSummary {
    pub id: String,
    /// `REPO/PIPELINE`.
    pub pipeline: String,
    pub repository: String,
    pub status: Status,
    /// The commit id the execution builds.
    pub revision: String,
    pub branch: Option<String>,
    /// First line of the commit message.
    pub message: String,
    pub trigger: ExecutionTrigger,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ExecutionDetail {
    #[serde(flatten)]
    #[ts(flatten)]
    pub summary: ExecutionSummary,
    /// Why the execution failed or was stopped, when it says more than a status.
    pub error: Option<String>,
    /// Pipeline variables after `--var` overrides.
    pub variables: BTreeMap<String, String>,
    pub stages: Vec<StageRecord>,
    pub artifacts: Vec<ArtifactRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StageRecord {
    pub name: String,
    /// None until the stage starts.
    pub status: Option<Status>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub actions: Vec<ActionRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ActionRecord {
    pub name: String,
    #[serde(rename = "type")]
    #[ts(rename = "type")]
    pub kind: ActionType,
    pub run_order: u32,
    /// None until the action starts.
    pub status: Option<Status>,
    /// 1 for the first run, 2 after a retry, …
    pub attempt: u32,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    /// Exported variables (`#{Namespace.NAME}`).
    pub variables: BTreeMap<String, String>,
    /// Test-report counts, one entry per report group.
    pub reports: Vec<ReportCounts>,
    pub error: Option<String>,
    pub approval: Option<ApprovalRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ReportCounts {
    pub group: String,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ArtifactRecord {
    pub name: String,
    /// sha256 of the artifact's manifest: its content address.
    pub digest: String,
    pub size: u64,
    pub files: u64,
    /// The action that produced it.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ApprovalRecord {
    pub decision: ApprovalDecision,
    pub comment: String,
    pub decided_by: String,
    pub decided_at: Millis,
}
