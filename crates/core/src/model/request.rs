//! What a running engine is asked to do. The surfaces people use (the
//! window, the tray, the CLI) ask with one of these, the same way; it
//! travels through the database's mailbox as one typed JSON column, so it
//! survives either side dying. (The watcher hands its run requests to the
//! engine directly.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Run a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    /// `REPO/PIPELINE`, or `PIPELINE` where that names one pipeline.
    pub pipeline: String,
    /// A branch, tag or commit; default: the head of the current branch.
    #[serde(default)]
    pub revision: Option<String>,
    /// `--var NAME=VALUE` overrides of pipeline variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub trigger: super::kinds::ExecutionTrigger,
    /// The branch the revision was pushed to, when a commit id names it.
    #[serde(default)]
    pub branch: Option<String>,
}

/// Retry a failed, stopped or interrupted execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryRequest {
    pub execution: String,
}

/// Roll an environment back: a new deployment of an earlier revision.
/// The `rollback` command's request too: every surface sends this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
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

/// One request to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EngineRequest {
    Run(RunRequest),
    Retry(RetryRequest),
    Rollback(RollbackRequest),
}

/// An execution's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExecutionId(pub String);

/// A deployment's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(pub String);

/// What the engine started for a request: a run or a retry starts an
/// execution, a rollback a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Started {
    Execution(ExecutionId),
    Deployment(DeploymentId),
}

impl Started {
    /// The execution a run or a retry started.
    pub fn execution(self) -> Option<ExecutionId> {
        match self {
            Started::Execution(id) => Some(id),
            Started::Deployment(_) => None,
        }
    }

    /// The deployment a rollback started.
    pub fn deployment(self) -> Option<DeploymentId> {
        match self {
            Started::Deployment(id) => Some(id),
            Started::Execution(_) => None,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Started::Execution(ExecutionId(id)) | Started::Deployment(DeploymentId(id)) => id,
        }
    }
}

impl std::fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_keep_their_shape_as_json() {
        let request = EngineRequest::Rollback(RollbackRequest {
            environment: "production".into(),
            pipeline: Some("shop/release".into()),
            to: None,
        });
        let json = serde_json::to_value(&request).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "rollback", "environment": "production",
                               "pipeline": "shop/release", "to": null})
        );
        assert_eq!(
            serde_json::from_value::<EngineRequest>(json).unwrap(),
            request
        );
        let started = Started::Deployment(DeploymentId("d1".into()));
        assert_eq!(
            serde_json::to_value(&started).unwrap(),
            serde_json::json!({"deployment": "d1"})
        );
        assert!(serde_json::from_str::<EngineRequest>(r#"{"kind":"deploy"}"#).is_err());
    }
}
