//! The engine's requests: run, retry, roll back ([`EngineRequest`]). Whoever
//! asks leaves the request in the database's mailbox; the engine takes it,
//! starts what it asks for and answers with what it started (an execution
//! or a deployment, said so by the type) or why it could not, with a stable
//! error code. When no process is the engine, the asking process carries
//! the request out itself, in an engine of its own held for that request
//! ([`LocalEngine::carry_out`]), and the mailbox row is still written:
//! a request from any of the surfaces people use (the window, the tray, the
//! CLI) leaves the same record. (What the watcher triggers goes to the
//! engine directly, through [`crate::watch::StartRuns`].)

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{wake, Engine, EngineError, HostedEngine, Resume};
use crate::clock::Millis;
use crate::model::{DeploymentId, EngineRequest, ErrorCode, ExecutionId, Host, Started};
use crate::store::{DeploymentDetail, EngineRequestRecord, ExecutionDetail, Store};

/// What a started request runs on: its outcome is `Err` with why when the
/// engine could not carry it to its end (its records say how it ended
/// otherwise).
pub type Work = JoinHandle<Result<(), String>>;

/// How long a request may wait for an engine to take it before the caller
/// is told none is running.
const TAKE_TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// Takes the requests other processes leave, for as long as the engine
    /// lives, and starts each in this engine.
    pub async fn serve_requests(self: Arc<Self>) {
        loop {
            let woken = self.wake.notify.notified();
            match self.store.take_engine_requests(self.now()) {
                Ok(requests) => {
                    for record in requests {
                        let answer = self.clone().begin(&record.request).map(|(s, _)| s);
                        self.answer(&record.id, &answer);
                    }
                }
                Err(err) => tracing::error!(%err, "cannot read engine requests"),
            }
            woken.await;
        }
    }

    /// Starts what `request` asks for. The record it starts (an execution
    /// or a deployment) is written before this returns; the work itself
    /// runs on in the returned task.
    pub fn begin(self: Arc<Self>, request: &EngineRequest) -> Result<(Started, Work), EngineError> {
        let (plan, resume) = match request {
            EngineRequest::Run(run) => (self.create(run)?, Resume::default()),
            EngineRequest::Retry(retry) => self.retry(&retry.execution)?,
            EngineRequest::Rollback(rollback) => {
                let prepared = self
                    .deployer
                    .prepare_rollback(
                        &rollback.environment,
                        rollback.pipeline.as_deref(),
                        rollback.to.as_deref(),
                    )
                    .map_err(|err| EngineError::Refused {
                        code: err.code(),
                        message: err.to_string(),
                    })?;
                let id = DeploymentId(prepared.deployment.id.clone());
                let deployer = self.deployer.clone();
                let work = tokio::spawn(async move {
                    deployer.perform(prepared).await;
                    Ok(())
                });
                return Ok((Started::Deployment(id), work));
            }
        };
        let id = ExecutionId(plan.id.clone());
        let work = tokio::spawn(async move {
            self.run_from(plan, resume).await.map(drop).map_err(|err| {
                tracing::error!(%err, "an execution could not finish");
                err.to_string()
            })
        });
        Ok((Started::Execution(id), work))
    }

    fn answer(&self, id: &str, answer: &Result<Started, EngineError>) {
        if let Err(err) = record_answer(&self.store, id, answer) {
            tracing::error!(%err, request = %id, "cannot record a taken request");
        }
        let _ = wake::poke(&self.data_dir, id);
    }
}

fn record_answer(
    store: &Store,
    id: &str,
    answer: &Result<Started, EngineError>,
) -> Result<(), crate::store::StoreError> {
    match answer {
        Ok(started) => store.answer_engine_request(id, Ok(started), None),
        Err(err) => store.answer_engine_request(id, Err(&err.to_string()), Some(err.code())),
    }
}

fn new_record(
    request: &EngineRequest,
    host: Host,
    taken: bool,
    now: Millis,
) -> EngineRequestRecord {
    EngineRequestRecord {
        id: uuid::Uuid::new_v4().to_string(),
        request: request.clone(),
        host: Some(host),
        requested_at: now,
        taken,
        started: None,
        error: None,
        error_code: None,
    }
}

/// Leaves `request` for the running engine (another process, or this
/// process's hosted one) and returns what it started.
pub async fn submit(
    store: &Store,
    data_dir: &Path,
    request: &EngineRequest,
    host: Host,
    now: Millis,
) -> Result<Started, EngineError> {
    let watch = wake::watch(data_dir).map_err(|e| {
        EngineError::Workspace(format!("cannot watch for the engine's answer: {e}"))
    })?;
    let record = new_record(request, host, false, now);
    store.add_engine_request(&record, now)?;
    let _ = wake::poke(data_dir, &record.id);
    let deadline = tokio::time::Instant::now() + TAKE_TIMEOUT;
    loop {
        let woken = watch.notify.notified();
        if let Some(r) = store.engine_request(&record.id)? {
            if let Some(started) = r.started {
                return Ok(started);
            }
            if let Some(message) = r.error {
                return Err(EngineError::Refused {
                    code: r.error_code.unwrap_or(ErrorCode::InvalidInput),
                    message,
                });
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

/// An engine this process started for its own requests because no other
/// process was the engine: it holds the lock until [`LocalEngine::settle`].
pub struct LocalEngine {
    engine: Arc<Engine>,
    work: Vec<Work>,
    /// Holds the data directory's engine lock until settled.
    _hosted: HostedEngine,
}

/// What a [`LocalEngine`] leaves behind when its work is done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// Local environments it deployed were serving (they stop with it).
    pub served_environments: bool,
    /// Why work it carried out could not reach its end, if any could not.
    pub failures: Vec<String>,
}

impl LocalEngine {
    /// The engine this process became ([`HostedEngine::start`]), used for
    /// requests it carries out itself rather than serving others'.
    pub fn new(hosted: HostedEngine) -> LocalEngine {
        LocalEngine {
            engine: hosted.engine.clone(),
            work: Vec::new(),
            _hosted: hosted,
        }
    }

    /// Carries `request` out here: the mailbox row is written (taken at
    /// once) and answered like any other, then the work runs on until
    /// [`LocalEngine::settle`].
    pub fn carry_out(
        &mut self,
        request: &EngineRequest,
        host: Host,
    ) -> Result<Started, EngineError> {
        let engine = &self.engine;
        let now = engine.now();
        let record = new_record(request, host, true, now);
        engine.store.add_engine_request(&record, now)?;
        let answer = match engine.clone().begin(request) {
            Ok((started, work)) => {
                // Held before anything else can fail, so `settle` waits for it.
                self.work.push(work);
                Ok(started)
            }
            Err(err) => Err(err),
        };
        if let Err(err) = record_answer(&engine.store, &record.id, &answer) {
            tracing::error!(%err, request = %record.id, "cannot record a carried-out request");
        }
        answer
    }

    /// Waits for everything carried out here to end, then stops the
    /// local environments it brought up and gives up the lock.
    pub async fn settle(self) -> Settled {
        let mut failures = Vec::new();
        for work in self.work {
            match work.await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push(why),
                Err(panicked) => failures.push(format!("the work ended abnormally: {panicked}")),
            }
        }
        let served_environments = self.engine.deployer.serves_any().await;
        self.engine.deployer.shut_down().await;
        Settled {
            served_environments,
            failures,
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
        let detail = store.deployment(id)?.ok_or_else(|| EngineError::Refused {
            code: ErrorCode::NotFound,
            message: format!("no deployment `{id}`"),
        })?;
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
