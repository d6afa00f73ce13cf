//! Deployments as the store keeps them and `slipway deployments` lists them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::kinds::ProviderKind;
pub use super::status::{DeploymentStatus, EventStatus, Initiator};
use crate::clock::Millis;

/// One deployment, as `slipway deployments` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Deployment {
    pub id: String,
    /// `REPO/PIPELINE` whose file defines the environment.
    pub pipeline: String,
    pub environment: String,
    pub provider: ProviderKind,
    /// The commit deployed.
    pub revision: String,
    /// First line of its commit message.
    pub message: String,
    /// The artifact's digest in the artifact store (none for a command
    /// deployment without an input artifact).
    pub artifact: Option<String>,
    /// The strategy as written (`blue-green`, `canary 10% every 5s`, …).
    pub strategy: String,
    pub status: DeploymentStatus,
    pub initiator: Initiator,
    /// The deployment this one undoes, for a rollback.
    pub rollback_of: Option<String>,
    /// The execution whose deploy action made it.
    pub execution_id: Option<String>,
    pub stage: Option<u32>,
    pub action: Option<String>,
    /// The deployment's log file (hook output, strategy steps).
    pub log: Option<String>,
    /// Why it failed, was rolled back or stopped.
    pub error: Option<String>,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
}

/// One lifecycle event on one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeploymentEvent {
    /// `blue/0`, `green/2`, or `-` for the environment as a whole.
    pub instance: String,
    pub event: String,
    pub status: EventStatus,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub message: Option<String>,
    pub log_excerpt: String,
}

/// One deployment with its events, as `slipway deployment ID` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DeploymentDetail {
    #[serde(flatten)]
    #[ts(flatten)]
    pub deployment: Deployment,
    pub events: Vec<DeploymentEvent>,
}
