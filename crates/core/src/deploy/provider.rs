//! The provider interface: what the deployer asks of every provider, so
//! that records, automatic and one-click rollback, history and the
//! Environments page are the same whatever carries a deployment out. The
//! deployer picks the provider of an environment once
//! ([`super::Deployer::provider`]) and never looks at which it is again.
//!
//! A provider carries out one [`Job`]: a deployment of a revision (its
//! strategy's steps, its hooks, watching health and alarms while traffic
//! moves and during the bake) or a rollback to an earlier successful
//! deployment (no steps, no bake). It records its lifecycle events and, for
//! AWS providers, what it made ([`ProviderRecord`]) through the job, and
//! says what serves now when asked.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use super::monitor::Failure;
use crate::build::ArtifactStore;
use crate::clock::{self, Clock, Millis};
use crate::events::Event;
use crate::model::{EventStatus, Namespaces, ProviderRecord, Serving};
use crate::spec::pipeline::{Environment, Strategy};
use crate::store::{Deployment, DeploymentEvent, Store};

/// A provider's asynchronous answer.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What every provider may use: the engine's records, clock and events.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
    pub data_dir: PathBuf,
    pub events: broadcast::Sender<Event>,
}

/// One deployment or rollback, as its provider carries it out.
pub struct Job<'a> {
    pub ctx: &'a Context,
    /// The deployment being made (its record is written, `InProgress`).
    pub record: &'a Deployment,
    /// The environment as this deployment runs it.
    pub spec: &'a Environment,
    pub strategy: &'a Strategy,
    /// The revision's files in the artifact store.
    pub digest: Option<&'a str>,
    /// Where the revision's files already are on disk (a deploy action's
    /// input artifact); none for a rollback: [`Job::files`] puts them there.
    pub workdir: Option<&'a Path>,
    pub log: &'a Path,
    /// `#{…}` namespaces for hooks and parameters (`deploy`, `rollback`, …).
    pub namespaces: &'a Namespaces,
    /// Pipeline variables, passed to hooks.
    pub variables: &'a [(String, String)],
    /// Turns true when the deployment is stopped (`stop --abandon`).
    pub stop: Option<watch::Receiver<bool>>,
    /// A rollback: the earlier successful deployment whose revision this
    /// restores (its record says what it made). Steps and bake are skipped.
    pub restores: Option<&'a Deployment>,
}

/// What every provider does.
pub trait Provider: Send + Sync {
    /// The strategy in a few words, for the deployment's record.
    fn describe(&self, strategy: &Strategy) -> String {
        super::strategy::describe(strategy)
    }

    /// Whether a rollback needs the target's artifact still kept.
    fn rollback_needs_artifact(&self) -> bool {
        true
    }

    /// Deploys the job's revision: `Ok` once it serves for good.
    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>>;

    /// Restores `job.restores`'s revision.
    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>>;

    /// What the environment serves now, read from where it runs; `None`
    /// when the provider cannot tell (the local provider's live view comes
    /// from its boards instead).
    fn serving<'a>(
        &'a self,
        _ctx: &'a Context,
        _spec: &'a Environment,
        _current: Option<&'a Deployment>,
    ) -> Fut<'a, Option<Serving>> {
        Box::pin(async { None })
    }
}

/// Appends `text` to the deployment log at `log`, after the local time.
pub fn append_log(log: &Path, clock: &dyn Clock, text: &str) {
    use std::io::Write;
    if let Some(parent) = log.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = writeln!(
            f,
            "[{}] {text}",
            clock::local(clock.now()).format("%H:%M:%S%.3f")
        );
    }
}

impl Job<'_> {
    pub fn now(&self) -> Millis {
        self.ctx.clock.now()
    }

    /// A line in the deployment's log.
    pub fn note(&self, text: &str) {
        append_log(self.log, self.ctx.clock.as_ref(), text);
    }

    /// Records one lifecycle event (`what` did `event` from `started` to
    /// now) and logs it; `result`'s error is its message.
    pub fn event(&self, what: &str, event: &str, started: Millis, result: &Result<(), String>) {
        let (status, message) = match result {
            Ok(()) => (EventStatus::Succeeded, None),
            Err(e) => (EventStatus::Failed, Some(e.clone())),
        };
        match &message {
            Some(m) => self.note(&format!("{what}: {event} failed: {m}")),
            None => self.note(&format!("{what}: {event}")),
        }
        let row = DeploymentEvent {
            instance: what.into(),
            event: event.into(),
            status,
            started_at: started,
            ended_at: self.now(),
            message,
            log_excerpt: String::new(),
        };
        if let Err(e) = self.ctx.store.add_deployment_event(&self.record.id, &row) {
            tracing::error!(%e, "cannot record a deployment event");
        }
        self.emit();
    }

    /// Records what the provider made, for history and rollback.
    pub fn made(&self, record: &ProviderRecord) {
        if let Err(e) = self
            .ctx
            .store
            .set_deployment_record(&self.record.id, record)
        {
            tracing::error!(%e, "cannot record what a deployment made");
        }
        self.emit();
    }

    /// What the deployment being restored made (a rollback's target).
    pub fn restored_record(&self) -> Option<ProviderRecord> {
        let target = self.restores?;
        self.ctx
            .store
            .deployment(&target.id)
            .ok()
            .flatten()
            .and_then(|d| d.record)
    }

    /// `Err(stopped)` once someone stopped the deployment.
    pub fn check_stop(&self) -> Result<(), Failure> {
        match &self.stop {
            Some(s) if *s.borrow() => Err(Failure::stopped()),
            _ => Ok(()),
        }
    }

    /// The revision's files on disk: the deploy action's input artifact,
    /// else (a rollback) the kept artifact, materialised once under the
    /// deployment's own folder.
    pub fn files(&self) -> Result<PathBuf, String> {
        if let Some(dir) = self.workdir {
            return Ok(dir.to_path_buf());
        }
        let digest = self
            .digest
            .ok_or("this deployment recorded no artifact to deploy from")?;
        let dir = self
            .ctx
            .data_dir
            .join("deployments")
            .join(&self.record.id)
            .join("artifact");
        if !dir.exists() {
            ArtifactStore::open(&self.ctx.data_dir)
                .and_then(|s| s.materialize(digest, &dir))
                .map_err(|e| format!("cannot unpack artifact {digest}: {e}"))?;
        }
        Ok(dir)
    }

    /// Tells listeners the deployment changed.
    fn emit(&self) {
        if let Ok(Some(detail)) = self.ctx.store.deployment(&self.record.id) {
            let _ = self.ctx.events.send(Event::Deployment(detail.deployment));
        }
        let _ = crate::wake::poke(&self.ctx.data_dir, &self.record.id);
    }
}
