//! Statuses of executions, stages and actions, spelled exactly as
//! PIPELINE-FORMAT.md (and CodePipeline) spell them: users' scripts match
//! on these strings.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub enum Status {
    InProgress,
    Succeeded,
    Failed,
    Stopping,
    Stopped,
    Superseded,
    /// Cut by a crash or a kill of the engine.
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::InProgress,
        Status::Succeeded,
        Status::Failed,
        Status::Stopping,
        Status::Stopped,
        Status::Superseded,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Stopping => "Stopping",
            Status::Stopped => "Stopped",
            Status::Superseded => "Superseded",
            Status::Interrupted => "Interrupted",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A status nothing will change any more.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::InProgress | Status::Stopping)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_round_trips_through_its_spelling_and_json() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(Status::parse("inprogress"), None);
    }
}
