//! The action scope: what an execution has produced so far ([`Scope`]:
//! namespaces, artifacts, the revision), what each action gets from it
//! ([`ActionJob`]: its execution, stage, definition, namespaces, inputs,
//! environment, work directory and log), what it gives back
//! ([`ActionResult`]), and the stop every long-running action listens to
//! (`stop --abandon`).
//!
//! This module owns how an action's view of its execution is assembled and
//! how a finished action's variables and artifacts become visible to those
//! after it. It must never run anything itself, nor hand an action another
//! execution's namespaces, artifacts or directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{Engine, EngineError, Namespaces, Plan, Status};
use crate::spec::pipeline::{Action, Environment, SOURCE_ARTIFACT};
use crate::store::{ArtifactRecord, ExecutionDetail, ReportCounts, Store};

/// What an execution has produced so far, and where its files live.
pub(in crate::engine) struct Scope {
    execution_id: String,
    pipeline: String,
    commit: String,
    branch: Option<String>,
    dir: PathBuf,
    data_dir: PathBuf,
    namespaces: Namespaces,
    /// artifact name -> digest in the artifact store.
    artifacts: BTreeMap<String, String>,
    /// The pipeline's environments, for actions that name one.
    environments: BTreeMap<String, Environment>,
    message: String,
    variables: Vec<(String, String)>,
}

/// One action, ready to run: everything it needs, owned.
pub(in crate::engine) struct ActionJob {
    pub(super) execution_id: String,
    /// `<repository>/<pipeline>`.
    pub(super) pipeline: String,
    pub(super) commit: String,
    pub(super) branch: Option<String>,
    pub(super) stage: usize,
    pub(super) action: Action,
    pub(super) work_dir: PathBuf,
    pub(super) log_path: PathBuf,
    pub(super) data_dir: PathBuf,
    pub(super) namespaces: Namespaces,
    /// Input artifact name -> its digest (`None` for the source revision,
    /// or an artifact no earlier action produced).
    pub(super) inputs: Vec<(String, Option<String>)>,
    pub(super) source_dir: PathBuf,
    /// The environment the action names: a deploy action's target, and
    /// for any action the account whose credentials it gets.
    pub(super) environment: Option<Environment>,
    pub(super) message: String,
    pub(super) variables: Vec<(String, String)>,
}

/// How an action ended, and what it hands to the actions after it.
pub(in crate::engine) struct ActionResult {
    pub status: Status,
    pub namespace: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub outputs: Vec<ArtifactRecord>,
    pub reports: Vec<ReportCounts>,
    pub error: Option<String>,
}

impl Scope {
    pub(in crate::engine) fn new(plan: &Plan, data_dir: &Path, dir: PathBuf) -> Scope {
        let mut namespaces = Namespaces::default();
        namespaces.insert("variables", plan.variables.clone());
        let mut source = BTreeMap::from([
            ("COMMIT_ID".to_string(), plan.revision.commit.clone()),
            ("COMMIT_MESSAGE".to_string(), plan.revision.message.clone()),
            ("REPOSITORY_NAME".to_string(), plan.repository.name.clone()),
        ]);
        if let Some(branch) = &plan.revision.branch {
            source.insert("BRANCH_NAME".into(), branch.clone());
        }
        namespaces.insert("Source", source);
        namespaces.insert(
            "codepipeline",
            BTreeMap::from([("PipelineExecutionId".to_string(), plan.id.clone())]),
        );
        Scope {
            execution_id: plan.id.clone(),
            pipeline: format!("{}/{}", plan.repository.name, plan.pipeline.name),
            commit: plan.revision.commit.clone(),
            branch: plan.revision.branch.clone(),
            dir,
            data_dir: data_dir.to_path_buf(),
            namespaces,
            artifacts: BTreeMap::new(),
            environments: plan
                .pipeline
                .environments
                .iter()
                .map(|e| (e.name.clone(), e.clone()))
                .collect(),
            message: plan.revision.message.clone(),
            variables: plan
                .variables
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    pub(in crate::engine) fn job(
        &self,
        stage: usize,
        action: &Action,
    ) -> Result<ActionJob, EngineError> {
        let slug = format!("{stage}-{}", action.name);
        let inputs = action
            .inputs
            .iter()
            .map(|name| {
                let digest = (name != SOURCE_ARTIFACT)
                    .then(|| self.artifacts.get(name).cloned())
                    .flatten();
                (name.clone(), digest)
            })
            .collect();
        let environment = action
            .environment
            .as_ref()
            .and_then(|env| self.environments.get(env).cloned());
        Ok(ActionJob {
            environment,
            message: self.message.clone(),
            variables: self.variables.clone(),
            execution_id: self.execution_id.clone(),
            pipeline: self.pipeline.clone(),
            commit: self.commit.clone(),
            branch: self.branch.clone(),
            stage,
            action: action.clone(),
            work_dir: self.dir.join("actions").join(&slug),
            log_path: self.dir.join("logs").join(format!("{slug}.log")),
            data_dir: self.data_dir.clone(),
            namespaces: self.namespaces.clone(),
            inputs,
            source_dir: self.dir.join("source"),
        })
    }

    /// Takes back what an earlier run of this execution produced: the
    /// namespaces its actions exported and its artifacts (for a retry).
    pub(in crate::engine) fn restore(&mut self, plan: &Plan, earlier: &ExecutionDetail) {
        for artifact in &earlier.artifacts {
            self.artifacts
                .insert(artifact.name.clone(), artifact.digest.clone());
        }
        for (stage, record) in plan.pipeline.stages.iter().zip(&earlier.stages) {
            for action in &stage.actions {
                let Some(ns) = &action.namespace else {
                    continue;
                };
                if let Some(a) = record.actions.iter().find(|a| a.name == action.name) {
                    if a.status == Some(Status::Succeeded) {
                        self.namespaces.insert(ns, a.variables.clone());
                    }
                }
            }
        }
    }

    /// Records a finished action and makes its variables and artifacts
    /// available to the actions after it.
    pub(in crate::engine) fn absorb(
        &mut self,
        store: &Store,
        id: &str,
        result: &ActionResult,
    ) -> Result<(), EngineError> {
        for artifact in &result.outputs {
            store.put_artifact(id, artifact)?;
            self.artifacts
                .insert(artifact.name.clone(), artifact.digest.clone());
        }
        if let Some(ns) = &result.namespace {
            self.namespaces.insert(ns, result.variables.clone());
        }
        Ok(())
    }
}

impl ActionJob {
    /// The account whose credentials the action's processes get: its
    /// environment's, or none.
    pub(super) fn account(&self) -> crate::creds::Account {
        self.environment
            .as_ref()
            .map(crate::creds::Account::of)
            .unwrap_or_default()
    }
}

impl ActionResult {
    /// Failed with nothing produced: what an action starts from.
    pub(super) fn empty(job: &ActionJob) -> ActionResult {
        ActionResult {
            status: Status::Failed,
            namespace: job.action.namespace.clone(),
            variables: BTreeMap::new(),
            outputs: Vec::new(),
            reports: Vec::new(),
            error: None,
        }
    }

    pub(super) fn failed(job: &ActionJob, error: String) -> ActionResult {
        let mut result = ActionResult::empty(job);
        result.error = Some(error);
        result
    }
}

impl Engine {
    /// Calls `abandon` once `stop --abandon` is asked for execution `id`
    /// (builds end now, a deployment stops waiting).
    pub(super) fn watch_for_abandon(
        &self,
        id: String,
        abandon: impl FnOnce() + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let notify = self.wake.notify.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            loop {
                let woken = notify.notified();
                if let Ok(Some(true)) = store.stop_request(&id) {
                    abandon();
                    return;
                }
                woken.await;
            }
        })
    }
}
