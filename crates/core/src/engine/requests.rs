//! Running a pipeline from a process that is not the engine: the request is
//! left in the database, the engine is woken, and the caller waits (without
//! polling) for the engine to say which execution it started, and, if asked,
//! for that execution to end.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{wake, Engine, EngineError, Resume, RunRequest};
use crate::clock::Millis;
use crate::store::{DeploymentDetail, ExecutionDetail, RequestKind, RunRequestRecord, Store};

/// How long a request may wait for an engine to take it before the caller
/// is told none is running.
const TAKE_TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// Takes the run and retry requests other processes leave, for as long
    /// as the engine lives. Runs each in this engine.
    pub async fn serve_requests(self: Arc<Self>) {
        loop {
            let woken = self.wake.notify.notified();
            match self.store.take_run_requests(self.now()) {
                Ok(requests) => {
                    for request in requests {
                        self.clone().take(request);
                    }
                }
                Err(err) => tracing::error!(%err, "cannot read run requests"),
            }
            woken.await;
        }
    }

    fn take(self: Arc<Self>, request: RunRequestRecord) {
        if request.kind == RequestKind::Rollback {
            return self.take_rollback(request);
        }
        let begun = match request.kind {
            RequestKind::Retry => self.retry(&request.target),
            _ => self
                .create(&RunRequest {
                    pipeline: request.target.clone(),
                    revision: request.revision.clone(),
                    variables: request.variables.clone(),
                    trigger: request.trigger.clone(),
                    branch: None,
                })
                .map(|plan| (plan, Resume::default())),
        };
        let (execution, error) = match &begun {
            Ok((plan, _)) => (Some(plan.id.as_str()), None),
            Err(err) => (None, Some(err.to_string())),
        };
        self.answer(&request, execution, error.as_deref());
        if let Ok((plan, resume)) = begun {
            tokio::spawn(async move {
                if let Err(err) = self.run_from(plan, resume).await {
                    tracing::error!(%err, "an execution could not finish");
                }
            });
        }
    }

    /// A rollback request: the record is written (or the refusal given)
    /// before the answer; the rollback itself runs on.
    fn take_rollback(self: Arc<Self>, request: RunRequestRecord) {
        let prepared = self.deployer.prepare_rollback(
            &request.target,
            request.variables.get("pipeline").map(String::as_str),
            request.revision.as_deref(),
        );
        match prepared {
            Ok(prepared) => {
                self.answer(&request, Some(&prepared.deployment.id.clone()), None);
                let deployer = self.deployer.clone();
                tokio::spawn(async move { deployer.perform(prepared).await });
            }
            Err(err) => self.answer(&request, None, Some(&err.to_string())),
        }
    }

    fn answer(&self, request: &RunRequestRecord, id: Option<&str>, error: Option<&str>) {
        if let Err(err) = self.store.finish_run_request(&request.id, id, error) {
            tracing::error!(%err, request = %request.id, "cannot record a taken request");
        }
        let _ = wake::poke(&self.data_dir, &request.id);
    }
}

/// Leaves a run, retry or rollback request for the running engine and
/// returns the id of the execution (or rollback deployment) it started.
pub async fn submit(
    store: &Store,
    data_dir: &Path,
    kind: RequestKind,
    request: &RunRequest,
    now: Millis,
) -> Result<String, EngineError> {
    let watch = wake::watch(data_dir).map_err(|e| {
        EngineError::Workspace(format!("cannot watch for the engine's answer: {e}"))
    })?;
    let record = RunRequestRecord {
        id: uuid::Uuid::new_v4().to_string(),
        kind,
        target: request.pipeline.clone(),
        revision: request.revision.clone(),
        variables: request.variables.clone(),
        trigger: request.trigger.clone(),
        execution_id: None,
        error: None,
        taken: false,
    };
    store.add_run_request(&record, now)?;
    let _ = wake::poke(data_dir, &record.id);
    let deadline = tokio::time::Instant::now() + TAKE_TIMEOUT;
    loop {
        let woken = watch.notify.notified();
        if let Some(r) = store.run_request(&record.id)? {
            if let Some(id) = r.execution_id {
                return Ok(id);
            }
            if let Some(error) = r.error {
                return Err(EngineError::Rejected(error));
            }
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep_until(deadline) => {
                return Err(EngineError::NoEngine);
            }
        }
    }
}

/// Waits, without polling, until execution `id` ends; returns its record.
pub async fn wait_for_end(
    store: &Store,
    data_dir: &Path,
    id: &str,
) -> Result<ExecutionDetail, EngineError> {
    wait_until(data_dir, || {
        let detail = store
            .execution(id)?
            .ok_or_else(|| EngineError::NoSuchExecution(id.to_string()))?;
        Ok(detail.summary.status.is_final().then_some(detail))
    })
    .await
}

/// Waits, without polling, until deployment `id` ends; returns its record.
pub async fn wait_for_deployment(
    store: &Store,
    data_dir: &Path,
    id: &str,
) -> Result<DeploymentDetail, EngineError> {
    wait_until(data_dir, || {
        let detail = store
            .deployment(id)?
            .ok_or_else(|| EngineError::Rejected(format!("no deployment `{id}`")))?;
        Ok(detail.deployment.status.is_final().then_some(detail))
    })
    .await
}

/// Re-checks `done` each time the engine pokes the wake folder, until it
/// returns a value.
async fn wait_until<T>(
    data_dir: &Path,
    mut done: impl FnMut() -> Result<Option<T>, EngineError>,
) -> Result<T, EngineError> {
    let watch = wake::watch(data_dir)
        .map_err(|e| EngineError::Workspace(format!("cannot watch for the engine's news: {e}")))?;
    loop {
        let woken = watch.notify.notified();
        if let Some(value) = done()? {
            return Ok(value);
        }
        woken.await;
    }
}
