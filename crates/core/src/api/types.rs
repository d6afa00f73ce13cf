//! Request and response types of the command table. Field names are a
//! contract with the UI and with users' scripts (`--json`): add, never rename.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::event::NotificationLevel;

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
