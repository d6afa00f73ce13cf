//! The event types of the one event stream. Every transport delivers the same `{name, payload}`
//! objects: Tauri as window events, `slipway serve` as server-sent events.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "name", content = "payload", rename_all = "snake_case")]
pub enum Event {
    /// Something a person should be told about now; the desktop app shows it
    /// as an OS notification, the browser as a toast.
    Notification(Notification),
    /// An execution started, changed status, or one of its stages or
    /// actions did: the summary as it is now (re-read details if needed).
    Execution(crate::model::ExecutionSummary),
    /// A batch of an action's log output (whole lines).
    Log(LogChunk),
    /// A deployment started, moved traffic, or ended: the record as it is now.
    Deployment(crate::model::Deployment),
    /// A local environment changed: a set started or stopped, traffic
    /// moved, an instance's state or health changed, a deployment's
    /// progress moved. The environment as it is now.
    Environment(crate::model::EnvironmentLive),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LogChunk {
    pub execution_id: String,
    pub stage: u32,
    pub action: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Notification {
    pub title: String,
    pub body: String,
    pub level: NotificationLevel,
    /// What it is about: clicking the notification (or the toast) opens
    /// the window on it.
    #[serde(default)]
    pub target: Option<NotificationTarget>,
}

/// What a notification is about. Each surface maps it to its own way of
/// showing it (the UI to a route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotificationTarget {
    /// An execution: its page.
    Execution { id: String },
    /// A pipeline's environment: the Environments page.
    Environment {
        /// `REPO/PIPELINE`.
        pipeline: String,
        environment: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    Info,
    Success,
    Warning,
    Failure,
}
