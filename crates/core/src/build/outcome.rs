//! What a build reports when it ends: its status (CodeBuild's names), each
//! phase's result, exported variables, artifacts and test reports. Plain
//! data for the engine to record; nothing here runs anything.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::Millis;
use crate::spec::buildspec::PhaseName;

use super::artifact_store::ArtifactRef;
use super::reports::ReportSummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BuildStatus {
    Succeeded,
    Failed,
    Stopped,
    TimedOut,
}

impl BuildStatus {
    /// CodeBuild's spelling, as in its logs (`SUCCEEDED`, `TIMED_OUT`…).
    pub fn as_codebuild(self) -> &'static str {
        match self {
            BuildStatus::Succeeded => "SUCCEEDED",
            BuildStatus::Failed => "FAILED",
            BuildStatus::Stopped => "STOPPED",
            BuildStatus::TimedOut => "TIMED_OUT",
        }
    }
}

pub type PhaseStatus = BuildStatus;

/// The command that failed a phase, with where the buildspec has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedCommand {
    pub text: String,
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseOutcome {
    pub name: PhaseName,
    pub status: PhaseStatus,
    pub started_at: Millis,
    pub ended_at: Millis,
    /// 1, plus one per `on-failure: RETRY` retry.
    pub attempts: u32,
    /// The failing command's exit code.
    pub exit_code: Option<i32>,
    pub failed_command: Option<FailedCommand>,
}

/// One stored artifact: the primary one (`identifier` None) or a secondary
/// one by its identifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectedArtifact {
    pub identifier: Option<String>,
    /// `artifacts.name` as written (shell expansions are not evaluated).
    pub name: Option<String>,
    pub artifact: ArtifactRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildOutcome {
    pub status: BuildStatus,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub phases: Vec<PhaseOutcome>,
    /// `env.exported-variables` as the build ended (unset ones left out).
    pub exported_variables: BTreeMap<String, String>,
    pub artifacts: Vec<CollectedArtifact>,
    pub reports: Vec<ReportSummary>,
    /// Why the build failed when no command did (a refused secret
    /// reference, no artifact files, an unwritable log…); every message
    /// also appears in the log.
    pub error: Option<String>,
}

impl BuildOutcome {
    pub(crate) fn new(started_at: Millis) -> BuildOutcome {
        BuildOutcome {
            status: BuildStatus::Succeeded,
            started_at,
            ended_at: started_at,
            phases: Vec::new(),
            exported_variables: BTreeMap::new(),
            artifacts: Vec::new(),
            reports: Vec::new(),
            error: None,
        }
    }

    /// Fails the build with `message` (the first message is kept as the
    /// error; a later one is appended).
    pub(crate) fn fail(&mut self, message: impl Into<String>) {
        let message = message.into();
        if self.status == BuildStatus::Succeeded {
            self.status = BuildStatus::Failed;
        }
        self.note(message);
    }

    pub(crate) fn note(&mut self, message: String) {
        match &mut self.error {
            Some(e) => {
                e.push_str("; ");
                e.push_str(&message);
            }
            None => self.error = Some(message),
        }
    }

    pub fn phase(&self, name: PhaseName) -> Option<&PhaseOutcome> {
        self.phases.iter().find(|p| p.name == name)
    }
}
