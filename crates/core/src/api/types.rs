//! Request and response types of the command table. Field names are a
//! contract with the UI and with users' scripts (`--json`): add, never rename.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::event::NotificationLevel;
pub use crate::repos::RepositoryInfo;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VersionResponse {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StatusResponse {
    pub version: String,
    /// The data directory this engine uses (database, workspaces, instances).
    pub data_dir: String,
    /// Which process answers: `desktop`, `serve` or `cli`.
    pub host: String,
    /// The operating system (`linux`, `macos`, `windows`).
    pub os: String,
    pub pid: u32,
    /// When this engine started, Unix milliseconds.
    pub started_at: i64,
    /// How long it has been up, milliseconds.
    pub uptime_ms: i64,
    /// The SQLite database holding every record.
    pub database: String,
    /// How many repositories were added.
    pub repositories: u32,
    /// Every command the table answers.
    pub commands: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct NotifyRequest {
    pub title: String,
    pub body: String,
    #[serde(default = "default_level")]
    #[ts(optional, as = "Option<NotificationLevel>")]
    pub level: NotificationLevel,
}

fn default_level() -> NotificationLevel {
    NotificationLevel::Info
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct NotifyResponse {
    /// How many listeners (windows, browser tabs, the tray) received it.
    pub delivered_to: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RepoAddRequest {
    /// The repository's work tree, or any folder inside it.
    pub path: String,
    /// Default: the work tree's folder name.
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// Trust it now, so its pipelines may run.
    #[serde(default)]
    #[ts(optional)]
    pub trust: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RepoListRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RepoListResponse {
    pub repositories: Vec<RepositoryInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RepoNameRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RepoTrustRequest {
    pub name: String,
    /// false withdraws trust; default true.
    #[serde(default)]
    #[ts(optional)]
    pub trusted: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExecutionsRequest {
    /// `REPO/PIPELINE` or `PIPELINE`; default every pipeline.
    #[serde(default)]
    #[ts(optional)]
    pub pipeline: Option<String>,
    /// Default 20.
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExecutionsResponse {
    pub executions: Vec<crate::store::ExecutionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExecutionRequest {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub id: String,
    /// The approval action; may be left out when only one is waiting.
    #[serde(default)]
    #[ts(optional)]
    pub action: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DecisionResponse {
    pub id: String,
    /// The approval action the decision was recorded for.
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct StopRequest {
    pub id: String,
    /// End running actions now instead of letting them finish.
    #[serde(default)]
    #[ts(optional)]
    pub abandon: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RunPipelineRequest {
    /// `REPO/PIPELINE`, or `PIPELINE` where one repository has it.
    pub pipeline: String,
    /// A branch, tag or commit; default the head of the current branch.
    #[serde(default)]
    #[ts(optional)]
    pub revision: Option<String>,
    /// Overrides of pipeline variables.
    #[serde(default)]
    #[ts(optional)]
    pub variables: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DeploymentsRequest {
    /// Only this environment's; default every environment.
    #[serde(default)]
    #[ts(optional)]
    pub environment: Option<String>,
    /// `REPO/PIPELINE` or `PIPELINE`; default every pipeline.
    #[serde(default)]
    #[ts(optional)]
    pub pipeline: Option<String>,
    /// Default 20.
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DeploymentsResponse {
    /// Newest first.
    pub deployments: Vec<crate::store::Deployment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub environment: String,
    /// `REPO/PIPELINE` or `PIPELINE`, when several pipelines have the environment.
    #[serde(default)]
    #[ts(optional)]
    pub pipeline: Option<String>,
    /// A successful deployment to restore; default the last successful
    /// revision before the current one.
    #[serde(default)]
    #[ts(optional)]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentsRequest {}

/// An environment as the Environments page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EnvironmentInfo {
    pub pipeline: String,
    pub environment: String,
    pub provider: String,
    /// Where its router listens (local provider).
    pub listen: Option<String>,
    pub instances: Option<u32>,
    /// The deployment whose revision it serves.
    pub current: Option<crate::store::Deployment>,
    /// The newest deployment, whatever its status.
    pub latest: Option<crate::store::Deployment>,
    /// What "Roll back" restores.
    pub rollback_target: Option<crate::store::Deployment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EnvironmentsResponse {
    pub environments: Vec<EnvironmentInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DemoRequest {
    /// Where the demo's staging router listens; default 18080.
    #[serde(default)]
    #[ts(optional)]
    pub staging_port: Option<u16>,
    /// Where the demo's production router listens; default 18081.
    #[serde(default)]
    #[ts(optional)]
    pub production_port: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct TrayMenuRequest {}
