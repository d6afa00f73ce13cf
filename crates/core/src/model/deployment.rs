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
    /// What an AWS provider made in the account (the version it published,
    /// the objects it wrote, the change set's changes, the task definition
    /// it registered): what a rollback to this deployment restores.
    pub record: Option<ProviderRecord>,
}

/// What a deployment made where it deployed, per AWS provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ProviderRecord {
    Lambda {
        function: String,
        alias: String,
        /// The version published for this revision.
        version: String,
        /// The version the alias pointed at before.
        previous: Option<String>,
    },
    S3 {
        bucket: String,
        prefix: String,
        /// Every object of the revision, by key (sorted).
        objects: Vec<S3Object>,
        /// Keys written (new or changed) and removed by this deployment.
        changed: Vec<String>,
        removed: Vec<String>,
        /// The CloudFront invalidation made, when `invalidate` names one.
        invalidation: Option<Invalidation>,
    },
    #[serde(rename = "cloudformation")]
    CloudFormation {
        stack: String,
        stack_id: Option<String>,
        change_set: Option<String>,
        changes: Vec<StackChange>,
        /// The parameters the stack got, `#{…}` resolved: what a rollback
        /// deploys again.
        parameters: Vec<(String, String)>,
        /// The stack's final status, and the failing resource's reason.
        status: Option<String>,
        reason: Option<String>,
    },
    Ecs {
        cluster: String,
        service: String,
        /// The task definition revision registered (its ARN).
        task_definition: String,
        /// The images filled in, by container name.
        images: Vec<(String, String)>,
        /// The task set made for this revision (task-set strategies).
        task_set: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct S3Object {
    pub key: String,
    /// The file's SHA-256, hex: what "changed" compares.
    pub sha256: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: Option<String>,
    /// The object's ETag as S3 gave it when the deployment wrote or found
    /// it: a later deployment that lists the same ETag knows the object is
    /// still this file, without reading it. Engine-only (not in the UI's
    /// bindings); records made before it existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(skip)]
    pub etag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Invalidation {
    pub distribution: String,
    pub id: String,
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct StackChange {
    /// Add, Modify, Remove, …
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// True, False or Conditional (Modify only).
    pub replacement: Option<String>,
}
