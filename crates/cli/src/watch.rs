//! `slipway watch`: a foreground, headless engine. It becomes the data
//! directory's engine, watches every trusted repository, runs what their
//! commits, tags and schedules trigger, and prints one line per event until
//! Ctrl-C or SIGTERM, which stop it cleanly (exit 0).
//!
//! When another process (the desktop app, `slipway serve`, another `slipway
//! watch`) already is the engine, that process does the watching: this one
//! says so and exits 1, rather than watching twice and building each commit
//! twice.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use slipway_core::api::{Core, Event, ExecutionSummary};
use slipway_core::watch::{WatchEvent, Watcher};
use tokio::sync::broadcast::error::RecvError;

use crate::CliError;

/// How long Ctrl-C waits for running executions to record their stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(data_dir: Option<PathBuf>, args: WatchArgs) -> Result<(), CliError> {
    crate::init_logging("warn");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Watch)?;
    crate::runtime()?.block_on(watch(core, args.json))
}

async fn watch(core: Core, json: bool) -> Result<(), CliError> {
    // Installed first: a SIGTERM right after "ready" must stop us cleanly,
    // not kill us with the default action.
    let mut shutdown = Box::pin(shutdown_signal()?);
    let Some(hosted) = core.host_engine()? else {
        return Err(CliError::Failed(format!(
            "another Slipway process (the desktop app, `slipway serve` or `slipway watch`) \
             already runs the engine for {}, and it watches the repositories: \
             stop it first to watch here",
            core.data_dir().display()
        )));
    };
    let engine = hosted.engine.clone();
    let deployer = engine.deployer.clone();
    let mut executions = core.subscribe();
    tokio::spawn(hosted.serve());
    let watcher = Watcher::new(
        engine,
        core.store().clone(),
        core.clock().clone(),
        core.data_dir(),
    );
    let mut watch_events = watcher.subscribe();
    let opening = Instant::now();
    let handle = watcher
        .start()
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let mut printer = Printer {
        json,
        running: HashSet::new(),
        seen: HashSet::new(),
    };
    let mut watching = 0;
    while let Ok(event) = watch_events.try_recv() {
        watching += usize::from(matches!(event, WatchEvent::Watching { .. }));
        printer.watch_event(&event);
    }
    printer.ready(watching, opening.elapsed());
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            event = watch_events.recv() => match event {
                Ok(event) => printer.watch_event(&event),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            event = executions.recv() => match event {
                Ok(Event::Execution(summary)) => printer.execution(&summary),
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
        }
    }
    handle.stop().await;
    stop_running(&core, &mut printer, &mut executions).await;
    deployer.shut_down().await;
    printer.line(json!({"event": "stopped"}), "stopped".into());
    Ok(())
}

/// Asks the executions still running to stop and waits (a while) for their
/// final status, so they end `Stopped` rather than `Interrupted` later.
async fn stop_running(
    core: &Core,
    printer: &mut Printer,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
) {
    if printer.running.is_empty() {
        return;
    }
    let ids: Vec<String> = printer.running.iter().cloned().collect();
    for id in &ids {
        let _ = slipway_core::engine::request_stop(core.store(), core.data_dir(), id, true);
    }
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    while !printer.running.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(Event::Execution(summary))) => printer.execution(&summary),
            Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) | Err(_) => break,
        }
    }
}

struct Printer {
    json: bool,
    /// Executions seen started and not yet finished.
    running: HashSet<String>,
    /// Every execution seen.
    seen: HashSet<String>,
}

impl Printer {
    fn line(&self, value: serde_json::Value, text: String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }

    fn ready(&self, repositories: usize, took: Duration) {
        self.line(
            json!({"event": "ready", "repositories": repositories, "millis": took.as_millis() as u64}),
            format!(
                "ready: watching {repositories} repositories (opened in {} ms); Ctrl-C stops",
                took.as_millis()
            ),
        );
    }

    fn watch_event(&self, event: &WatchEvent) {
        let text = match event {
            WatchEvent::Watching {
                repository,
                path,
                again,
            } => {
                let again = if *again { " again" } else { "" };
                format!("watching {repository}{again} ({path})")
            }
            WatchEvent::Missing { repository, path } => {
                format!("missing  {repository}: nothing at {path}; waiting for it to return")
            }
            WatchEvent::Unwatched { repository } => format!("unwatched {repository}"),
            WatchEvent::Triggered {
                repository,
                pipeline,
                trigger,
                commit,
                execution,
            } => format!(
                "trigger  {repository}/{pipeline} {trigger} at {} -> {execution}",
                crate::output::short(commit)
            ),
            WatchEvent::TriggerFailed {
                repository,
                pipeline,
                trigger,
                commit,
                error,
            } => format!(
                "refused  {repository}/{pipeline} {trigger} at {}: {error}",
                crate::output::short(commit)
            ),
            WatchEvent::Paused {
                repository,
                pipeline,
                trigger,
                commit,
            } => format!(
                "paused   {repository}/{pipeline} {trigger} at {}: watching is paused, nothing ran",
                crate::output::short(commit)
            ),
            WatchEvent::InvalidPipeline {
                repository,
                file,
                commit,
                error,
            } => format!(
                "invalid  {repository} {file} at {}: {error}",
                crate::output::short(commit)
            ),
            WatchEvent::Error { repository, error } => format!("error    {repository}: {error}"),
        };
        let value = serde_json::to_value(event).unwrap_or_default();
        self.line(value, text);
    }

    fn execution(&mut self, s: &ExecutionSummary) {
        if !s.status.is_final() && self.running.insert(s.id.clone()) {
            self.line(
                json!({"event": "started", "execution": s.id, "pipeline": s.pipeline,
                       "trigger": s.trigger, "revision": s.revision}),
                format!(
                    "started  {} {} at {} ({})",
                    s.pipeline,
                    s.id,
                    crate::output::short(&s.revision),
                    s.trigger
                ),
            );
        }
        // A final status seen without its start (a fast Superseded) is
        // still reported, once.
        let first_sight = self.seen.insert(s.id.clone());
        if s.status.is_final() && (self.running.remove(&s.id) || first_sight) {
            let millis = s.ended_at.unwrap_or(s.started_at) - s.started_at;
            self.line(
                json!({"event": "finished", "execution": s.id, "pipeline": s.pipeline,
                       "status": s.status, "duration_ms": millis}),
                format!(
                    "finished {} {} {} in {:.1} s",
                    s.pipeline,
                    s.id,
                    s.status,
                    millis as f64 / 1000.0
                ),
            );
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM; both handlers are installed on return.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    let failed = |e: std::io::Error| CliError::Failed(format!("cannot handle signals: {e}"));
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(failed)?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(failed)?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        #[cfg(not(unix))]
        {
            let _ = failed;
            let _ = tokio::signal::ctrl_c().await;
        }
    })
}
