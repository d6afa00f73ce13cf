//! Statuses of executions, stages, actions, deployments and deployment
//! events, and who starts a deployment, spelled exactly as the pipeline
//! format (and CodePipeline, CodeDeploy) spell them: users' scripts match
//! on these strings.

use super::closed_set;

closed_set! {
    /// An execution's, a stage's or an action's status.
    pub enum Status ("execution status") {
        InProgress = "InProgress",
        Succeeded = "Succeeded",
        Failed = "Failed",
        Stopping = "Stopping",
        Stopped = "Stopped",
        Superseded = "Superseded",
        /// Cut by a crash or a kill of the engine.
        Interrupted = "Interrupted",
    }
}

impl Status {
    /// A status nothing will change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::InProgress | Status::Stopping)
    }
}

closed_set! {
    /// A deployment's status.
    pub enum DeploymentStatus ("deployment status") {
        InProgress = "InProgress",
        Succeeded = "Succeeded",
        Failed = "Failed",
        Stopped = "Stopped",
        /// A failed deployment that an automatic rollback undid.
        RolledBack = "RolledBack",
        /// Cut by a crash or a kill of the engine.
        Interrupted = "Interrupted",
    }
}

impl DeploymentStatus {
    pub fn is_final(self) -> bool {
        self != DeploymentStatus::InProgress
    }
}

closed_set! {
    /// How one lifecycle event of a deployment went, on one instance.
    pub enum EventStatus ("deployment event status") {
        Succeeded = "Succeeded",
        Failed = "Failed",
        /// Not run: an earlier event failed.
        Skipped = "Skipped",
    }
}

closed_set! {
    /// Who started a deployment.
    pub enum Initiator ("deployment initiator") {
        /// A deploy action of a pipeline execution.
        Pipeline = "pipeline",
        /// A person: `slipway rollback`, the Roll back button.
        User = "user",
        /// Slipway, undoing a failed deployment (or a failed stage's).
        AutoRollback = "auto-rollback",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_spelling_and_json() {
        for &status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        let err = Status::parse("inprogress").unwrap_err();
        assert!(err.to_string().contains("`inprogress`"), "{err}");
        assert!(err.to_string().contains("InProgress"), "{err}");
        for &s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()), Ok(s));
        }
        assert_eq!(
            serde_json::to_string(&Initiator::AutoRollback).unwrap(),
            "\"auto-rollback\""
        );
        assert!(DeploymentStatus::parse("Queued").is_err());
        for &s in EventStatus::ALL {
            assert_eq!(EventStatus::parse(s.as_str()), Ok(s));
        }
        assert!(EventStatus::parse("Pending").is_err());
    }
}
