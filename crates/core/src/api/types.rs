//! Request and response types of the command table. Field names are a
//! contract with the UI and with users' scripts (`--json`): add, never rename.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::events::NotificationLevel;
pub use crate::model::{Host, ProfileKind, ProviderKind};
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
    /// Which process answers.
    pub host: Host,
    /// The operating system (`linux`, `macos`, `windows`).
    pub os: String,
    pub pid: u32,
    /// When this engine started, Unix milliseconds.
    pub started_at: i64,
    /// How long it has been up, milliseconds.
    pub uptime_ms: i64,
    /// From the engine's start to the first `status` call, milliseconds:
    /// in the desktop app, the window's time to show the UI and ask.
    pub first_status_after_ms: i64,
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
pub struct PipelinesRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PipelinesResponse {
    /// Every valid pipeline of every repository, by repository then name.
    pub pipelines: Vec<PipelineOverview>,
    /// What kept a repository's pipelines from being listed: an invalid
    /// file, a missing work tree, a repository without commits.
    pub problems: Vec<PipelineProblem>,
}

/// A pipeline as its file says at the repository's HEAD, with how its
/// latest execution went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PipelineOverview {
    /// `REPO/PIPELINE`: what `run` takes.
    pub key: String,
    pub repository: String,
    pub name: String,
    /// Path inside the repository, e.g. `.slipway/web.yml`.
    pub file: String,
    /// Whether the repository is trusted, so "Release change" may run it.
    pub trusted: bool,
    /// The stage names the file declares (the source stage is implicit).
    pub stages: Vec<String>,
    /// Human-readable triggers: `push main`, `tag v*`, `schedule 0 3 * * *`;
    /// empty for manual-only pipelines.
    pub triggers: Vec<String>,
    pub latest: Option<LatestExecution>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LatestExecution {
    #[serde(flatten)]
    pub summary: crate::store::ExecutionSummary,
    /// The stage strip: each stage of the execution as it is now.
    pub stages: Vec<StageStatus>,
    /// An approval action is waiting for a decision.
    pub pending_approval: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StageStatus {
    pub name: String,
    /// None until the stage starts.
    pub status: Option<crate::engine::Status>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PipelineProblem {
    pub repository: String,
    /// The pipeline file, when one file is at fault.
    pub file: Option<String>,
    /// What is wrong, with file:line:column where a file is at fault.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ActionLogRequest {
    /// The execution id.
    pub id: String,
    /// The stage's index in the execution (as in log events).
    pub stage: u32,
    pub action: String,
    /// Read forward from this byte (a `next_offset` from an earlier page).
    #[serde(default)]
    #[ts(optional)]
    pub offset: Option<u64>,
    /// Or read the whole lines just before this byte (an earlier page's
    /// `offset`), to page backwards. With neither: the tail of the log.
    #[serde(default)]
    #[ts(optional)]
    pub before: Option<u64>,
    /// Most bytes to return; default 256 KiB, at most 4 MiB. A page ends
    /// at a line end unless one line is longer than this.
    #[serde(default)]
    #[ts(optional)]
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ActionLogResponse {
    /// The page's whole lines (secrets were masked when they were written).
    pub text: String,
    /// The byte offset `text` starts at.
    pub offset: u64,
    /// The byte offset just past `text`: where the next page starts.
    pub next_offset: u64,
    /// The log file's size now; 0 when the action has not written yet.
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfilesRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProfilesResponse {
    pub profiles: Vec<ProfileInfo>,
    /// Why session expiries are unknown (no keychain reachable), if so.
    pub keychain_error: Option<String>,
}

/// A credential profile's metadata. Never a key, token or secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProfileInfo {
    pub name: String,
    /// Long-term keys in the keychain, or a role assumed from its source.
    pub kind: ProfileKind,
    /// The account a role acts in, from its ARN; None for keys profiles.
    pub account: Option<String>,
    pub role_arn: Option<String>,
    /// The profiles this one is assumed through, from itself to the keys:
    /// `[name, source, …, root]`.
    pub chain: Vec<String>,
    pub region: Option<String>,
    pub mfa_serial: Option<String>,
    pub duration_seconds: i64,
    /// When the cached STS session ends (Unix ms); None when none is cached.
    pub session_expires_at: Option<i64>,
    /// The chain cannot be followed (a source profile is gone, or loops).
    pub chain_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfileNameRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfileVerifyRequest {
    pub name: String,
    /// The current 6-digit code of the profile's MFA device, when asked for
    /// (error code `mfa_required`).
    #[serde(default)]
    #[ts(optional)]
    pub mfa_code: Option<String>,
}

/// Who STS says a profile's session is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProfileIdentity {
    pub name: String,
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfilesImportRequest {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProfilesImportResponse {
    /// `name (keys)` / `name (role)` for each profile imported.
    pub imported: Vec<String>,
    /// `name: reason` for each profile left out.
    pub skipped: Vec<String>,
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
    /// What the environment serves now, read from AWS: when one
    /// environment's deployments were asked for and its provider can tell.
    pub serving: Option<crate::model::Serving>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    pub id: String,
}

/// Rolls an environment back: the engine request itself.
pub use crate::model::RollbackRequest;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentsRequest {}

pub use crate::model::EnvironmentInfo;

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

/// A new profile. The secret access key goes from the UI to the keychain
/// and is never sent back by any command.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ProfileAddRequest {
    pub name: String,
    #[serde(default)]
    #[ts(optional)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub source_profile: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub role_arn: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub external_id: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub mfa_serial: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub region: Option<String>,
    #[serde(default)]
    #[ts(optional)]
    pub duration_seconds: Option<i64>,
    /// The role session's name (RoleSessionName); default `slipway-<login>`.
    #[serde(default)]
    #[ts(optional)]
    pub session_name: Option<String>,
}

/// Written by hand so that the secret access key never reaches a log.
impl std::fmt::Debug for ProfileAddRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileAddRequest")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("source_profile", &self.source_profile)
            .field("role_arn", &self.role_arn)
            .field("external_id", &self.external_id)
            .field("mfa_serial", &self.mfa_serial)
            .field("region", &self.region)
            .field("duration_seconds", &self.duration_seconds)
            .field("session_name", &self.session_name)
            .finish()
    }
}
