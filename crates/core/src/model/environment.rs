//! A local environment as it serves now: what the Environments page shows
//! and `environment` events announce.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::closed_set;

/// A local environment as it serves now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EnvironmentLive {
    pub pipeline: String,
    pub environment: String,
    /// Where its router listens.
    pub listen: String,
    /// The sets with instances, the serving one first.
    pub sets: Vec<LiveSetInfo>,
    /// The deployment moving this environment now, if one is.
    pub progress: Option<DeployProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LiveSetInfo {
    /// `blue` or `green`.
    pub name: String,
    pub deployment_id: String,
    pub revision: String,
    /// Its share of new requests, in percent (0 for a standby set kept for
    /// termination-wait, or a set not routed to yet).
    pub percent: u32,
    pub instances: Vec<LiveInstance>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct LiveInstance {
    pub index: u32,
    pub port: u16,
    pub pid: Option<u32>,
    pub state: InstanceStatus,
    /// The health check's latest verdict; none before it decided.
    pub health: Option<HealthStatus>,
    /// Whether the router sends it new requests.
    pub in_service: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    Starting,
    Running,
    Restarting,
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Healthy,
    Unhealthy,
}

/// Where a running deployment is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DeployProgress {
    pub deployment_id: String,
    /// What it does now, in words ("batch 2 of 3", "20% on green", "baking").
    pub phase: String,
    /// What it does now, as a member of a closed set.
    pub step: ProgressStep,
    /// In-place deployments: the batch being deployed (1-based) and how many.
    pub batch: Option<u32>,
    pub batches: Option<u32>,
    /// New-set deployments: the new set's share of traffic over time.
    pub traffic: Vec<TrafficPoint>,
    /// When the bake (or a traffic step's hold) ends, in ms since the epoch.
    pub until: Option<i64>,
}

impl DeployProgress {
    /// The progress of a deployment that has only just begun.
    pub fn new(deployment_id: &str) -> DeployProgress {
        DeployProgress {
            deployment_id: deployment_id.into(),
            phase: String::new(),
            step: ProgressStep::Starting,
            batch: None,
            batches: None,
            traffic: Vec::new(),
            until: None,
        }
    }

    /// Says what the deployment does now: the step, and in words.
    pub fn set(&mut self, step: ProgressStep, phase: impl Into<String>) {
        self.step = step;
        self.phase = phase.into();
    }
}

closed_set! {
    /// What a running deployment does now.
    pub enum ProgressStep ("deployment progress step") {
        /// Starting the new set's instances.
        Starting = "starting",
        /// Deploying one batch of an in-place deployment.
        Batch = "batch",
        /// Moving traffic to the new set.
        Shifting = "shifting",
        /// Holding a traffic step before the next.
        Holding = "holding",
        /// Watching the new revision for the bake time.
        Baking = "baking",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TrafficPoint {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub percent: u32,
}

/// An environment as the Environments page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct EnvironmentInfo {
    pub pipeline: String,
    pub environment: String,
    pub provider: super::ProviderKind,
    /// Where its router listens (local provider).
    pub listen: Option<String>,
    pub instances: Option<u32>,
    /// The deployment whose revision it serves.
    pub current: Option<super::Deployment>,
    /// The newest deployment, whatever its status.
    pub latest: Option<super::Deployment>,
    /// What "Roll back" restores.
    pub rollback_target: Option<super::Deployment>,
    /// What serves now, instance by instance, and the progress of a
    /// deployment under way: when this process's engine serves it.
    pub live: Option<EnvironmentLive>,
    /// What serves now, read from AWS (AWS providers).
    pub serving: Option<Serving>,
}

/// What an AWS environment serves now, read from the account when asked:
/// the same shape for every provider, so every page shows it alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Serving {
    /// One line: "alias live → version 7", "stack UPDATE_COMPLETE".
    pub summary: String,
    /// What else the account says, in order (version, task definition,
    /// outputs, the revision the bucket holds…).
    pub facts: Vec<Fact>,
    /// Who takes the requests: a version or task set and its share.
    pub traffic: Vec<Share>,
    /// When it was read, in ms since the epoch.
    pub read_at: i64,
    /// Why the state could not be read (the call and AWS's error), if so.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Share {
    pub name: String,
    /// In percent, of 100.
    pub percent: f64,
}
