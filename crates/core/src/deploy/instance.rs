//! One instance of the `local` provider: a supervised copy of the
//! environment's `run` command, with its own directory under
//! `<data_dir>/environments/<env>/instances/<n>/`, its own 127.0.0.1 port
//! (passed as `PORT`) and its output appended to `service.log` there.
//!
//! This module owns starting, supervising (restart with backoff when the
//! process dies unexpectedly, a crash loop reported as an event) and stopping
//! (SIGTERM, then SIGKILL after a grace period) the service, plus the health
//! probes the deployment uses ([`health`]). It must never write outside the
//! instance directory, decide when to deploy, stop or roll back (that is the
//! orchestrator's policy), touch the router, or install revisions (see
//! `appspec_run`).
//!
//! Every process of an instance carries `SLIPWAY_INSTANCE=<data dir>:<env>/<n>` and an
//! execution tag of its own, so an engine that was killed can end its
//! leftovers with [`kill_instances`], and an execution's orphan clean-up never
//! ends a long-lived instance it happened to start.

pub mod health;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::clock::{self, Clock};
use crate::platform::orphans::{kill_orphans, EXECUTION_ENV};
use crate::platform::process::{exit_signal, spawn_group, ProcessGroup, SIGKILL};

pub use health::{probe, wait_healthy, Health, HealthPolicy, ProbeTarget};

/// The environment variable that names the instance a process belongs to.
pub const INSTANCE_ENV: &str = "SLIPWAY_INSTANCE";

/// First restart delay after an unexpected exit; doubled on every further
/// exit up to [`MAX_BACKOFF`]. Short enough that a one-off crash costs a
/// blink, long enough that a broken command does not eat a core.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A run that lasted this long was a working service that crashed, not a
/// crash loop: the backoff and the crash count start over.
const STABLE_RUN: Duration = Duration::from_secs(10);
/// Consecutive short-lived runs after which the instance reports a crash
/// loop (once, until it runs stably again). It keeps retrying at the
/// maximum backoff, as Kubernetes' CrashLoopBackOff does.
const CRASH_LOOP_AFTER: u32 = 5;
/// Events kept for a slow subscriber before it starts missing some.
const EVENT_BUFFER: usize = 256;

/// Where an instance lives: `<data_dir>/environments/<env>/instances/<n>`.
pub fn instance_dir(data_dir: &Path, environment: &str, index: usize) -> PathBuf {
    data_dir
        .join("environments")
        .join(environment)
        .join("instances")
        .join(index.to_string())
}

/// The tag carried by every process of an instance
/// (`<data dir>:<env>/<n>`): the data directory is part of it, so an engine
/// never ends the instances of another data directory's environment of the
/// same name.
pub fn instance_tag(data_dir: &Path, environment: &str, index: usize) -> String {
    format!("{}:{environment}/{index}", data_dir.display())
}

/// Ends (SIGKILL) every process tagged with one of these instance tags, as
/// a starting engine does for instances a killed engine left running.
/// Returns how many processes it ended.
pub fn kill_instances(tags: &[String]) -> usize {
    let tags: Vec<String> = tags.iter().map(|t| execution_tag(t)).collect();
    kill_orphans(&tags)
}

/// The `SLIPWAY_EXECUTION_ID` value every process of an instance carries
/// (hooks run for it should carry it too, so a restart can end them).
pub fn execution_tag(instance_tag: &str) -> String {
    format!("instance:{instance_tag}")
}

/// Asks a free port of the OS. Another process could take it before the
/// service binds it; the health check then fails and the deployment says so.
pub fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// What to run and where.
#[derive(Clone)]
pub struct InstanceConfig {
    pub environment: String,
    pub index: usize,
    pub data_dir: PathBuf,
    /// The environment's `run` command, run with `sh -c`.
    pub run: String,
    /// The directory `run` starts in: the installed revision's root (an
    /// `appspec_run` install), inside [`instance_dir`].
    pub workdir: PathBuf,
    /// `None` picks a free port.
    pub port: Option<u16>,
    /// Extra environment variables (`PORT` and the tags are always set).
    pub env: Vec<(String, String)>,
    /// How long SIGTERM is given before SIGKILL.
    pub grace: Duration,
    /// What the supervisor's lines in the service log are stamped with.
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InstanceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceConfig")
            .field("environment", &self.environment)
            .field("index", &self.index)
            .field("data_dir", &self.data_dir)
            .field("run", &self.run)
            .field("workdir", &self.workdir)
            .field("port", &self.port)
            .field("env", &self.env)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

/// What the orchestrator can observe of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum InstanceEvent {
    Started {
        pid: u32,
        /// 0 for the first start, then the restart count.
        restarts: u32,
    },
    /// The service ended without being asked to.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// A restart is scheduled after `delay_ms`.
    Restarting {
        attempt: u32,
        delay_ms: u64,
    },
    /// The service keeps dying shortly after starting.
    CrashLoop {
        exits: u32,
    },
    /// The service could not be started at all (the shell was missing, the
    /// directory vanished); retried like an exit.
    SpawnFailed {
        message: String,
    },
    HealthChanged {
        health: Health,
    },
    /// Stopped on request; `killed` when it ignored SIGTERM for the grace
    /// period and had to be killed.
    Stopped {
        killed: bool,
    },
}

/// The supervisor's current view of the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Starting,
    Running { pid: u32 },
    Restarting,
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("could not prepare the instance directory {path}: {source}")]
    Directory { path: PathBuf, source: io::Error },
    #[error("the instance's working directory {0} is outside its instance directory; install the revision inside it")]
    WorkdirOutside(PathBuf),
    #[error("no free port on 127.0.0.1 for the instance: {0}")]
    NoPort(io::Error),
}

/// A running, supervised instance. Dropping it kills its processes at once;
/// [`Instance::stop`] stops them politely.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    port: u16,
    tag: String,
    events: broadcast::Sender<InstanceEvent>,
    state: watch::Receiver<InstanceState>,
    /// The latest health verdict (none before the first check decides).
    health: Arc<watch::Sender<Option<Health>>>,
    stop: watch::Sender<bool>,
    supervisor: Option<JoinHandle<bool>>,
}

impl Instance {
    /// Creates the instance directory and starts the service under
    /// supervision. Subscribe with [`Instance::events`] right away to see
    /// the first `Started`; [`Instance::state`] always has the latest.
    /// Must be called inside a Tokio runtime (the supervisor is a task).
    pub fn start(config: InstanceConfig) -> Result<Instance, InstanceError> {
        let dir = instance_dir(&config.data_dir, &config.environment, config.index);
        let dir_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| InstanceError::Directory { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(dir_err(&dir))?;
        if !config.workdir.starts_with(&dir) {
            return Err(InstanceError::WorkdirOutside(config.workdir));
        }
        std::fs::create_dir_all(&config.workdir).map_err(dir_err(&config.workdir))?;
        let log_path = dir.join("service.log");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(dir_err(&log_path))?;
        let port = match config.port {
            Some(p) => p,
            None => free_port().map_err(InstanceError::NoPort)?,
        };
        let tag = instance_tag(&config.data_dir, &config.environment, config.index);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        let (state_tx, state) = watch::channel(InstanceState::Starting);
        let (stop, stop_rx) = watch::channel(false);
        let supervisor = Supervisor {
            config,
            port,
            tag: tag.clone(),
            log,
            events: events.clone(),
            state: state_tx,
            stop: stop_rx,
        };
        let supervisor = Some(tokio::spawn(supervisor.run()));
        Ok(Instance {
            dir,
            port,
            tag,
            events,
            state,
            health: Arc::new(watch::channel(None).0),
            stop,
            supervisor,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `<data dir>:<env>/<n>`, as [`kill_instances`] takes it.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("service.log")
    }

    pub fn events(&self) -> broadcast::Receiver<InstanceEvent> {
        self.events.subscribe()
    }

    pub fn state(&self) -> InstanceState {
        *self.state.borrow()
    }

    /// Follows the supervisor's state (ends when the instance does).
    pub fn state_watch(&self) -> watch::Receiver<InstanceState> {
        self.state.clone()
    }

    /// Follows the health verdicts of [`Instance::wait_healthy`] and
    /// [`Instance::monitor_health`].
    pub fn health_watch(&self) -> watch::Receiver<Option<Health>> {
        self.health.subscribe()
    }

    /// Waits until the supervisor reports a state `pred` accepts, or
    /// `deadline` passes (then returns the last state seen).
    pub async fn wait_for_state(
        &self,
        deadline: Duration,
        pred: impl Fn(&InstanceState) -> bool,
    ) -> InstanceState {
        let mut rx = self.state.clone();
        let _ = tokio::time::timeout(deadline, rx.wait_for(|s| pred(s))).await;
        let s = *rx.borrow();
        s
    }

    /// What [`health::probe`] needs to check this instance.
    pub fn probe_target(&self) -> ProbeTarget {
        ProbeTarget {
            port: self.port,
            dir: self.dir.clone(),
        }
    }

    /// Checks the instance until the thresholds decide, publishing the
    /// verdict as a `HealthChanged` event.
    pub async fn wait_healthy(
        &self,
        check: &crate::spec::pipeline::HealthCheck,
        policy: &HealthPolicy,
    ) -> Health {
        let health = wait_healthy(check, &self.probe_target(), policy).await;
        self.health.send_replace(Some(health));
        let _ = self.events.send(InstanceEvent::HealthChanged { health });
        health
    }

    /// Keeps checking the instance (during a bake, say) and publishes a
    /// `HealthChanged` event each time the thresholds change the verdict.
    /// Runs until the instance is stopped or dropped (or the task aborted).
    pub fn monitor_health(
        &self,
        check: crate::spec::pipeline::HealthCheck,
        policy: HealthPolicy,
    ) -> JoinHandle<()> {
        let target = self.probe_target();
        let events = self.events.clone();
        let verdicts = self.health.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            let mut counts = health::Thresholds::new(&policy);
            let mut current = None;
            loop {
                let ok = probe(&check, &target, policy.timeout).await.is_ok();
                if let Some(verdict) = counts.record(ok) {
                    if current != Some(verdict) {
                        current = Some(verdict);
                        verdicts.send_replace(current);
                        let _ = events.send(InstanceEvent::HealthChanged { health: verdict });
                    }
                }
                // Ends with the instance: stopped, or dropped.
                tokio::select! {
                    _ = tokio::time::sleep(policy.interval) => {}
                    _ = stop_requested(&mut stop) => return,
                }
            }
        })
    }

    /// Stops the service: SIGTERM to its whole process group, SIGKILL after
    /// the grace period. Returns whether it had to be killed. Not reported
    /// as a crash and never followed by a restart.
    pub async fn stop(mut self) -> bool {
        let _ = self.stop.send(true);
        match self.supervisor.take() {
            Some(task) => task.await.unwrap_or(false),
            None => false,
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Aborting the task drops its ProcessGroup, which kills the group.
        if let Some(task) = self.supervisor.take() {
            task.abort();
        }
    }
}

struct Supervisor {
    config: InstanceConfig,
    port: u16,
    tag: String,
    log: File,
    events: broadcast::Sender<InstanceEvent>,
    state: watch::Sender<InstanceState>,
    stop: watch::Receiver<bool>,
}

impl Supervisor {
    /// Supervises until asked to stop; returns whether the service had to
    /// be killed.
    async fn run(mut self) -> bool {
        let mut restarts = 0u32;
        let mut short_runs = 0u32;
        let mut backoff = FIRST_BACKOFF;
        let mut reported_loop = false;
        loop {
            if *self.stop.borrow() {
                break;
            }
            match self.spawn() {
                Ok(mut group) => {
                    let pid = group.id().unwrap_or_default();
                    self.note(&format!("started pid {pid} on port {}", self.port));
                    self.state.send_replace(InstanceState::Running { pid });
                    let _ = self.events.send(InstanceEvent::Started { pid, restarts });
                    let began = tokio::time::Instant::now();
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        status = group.wait() => {
                            let (code, signal) = match status {
                                Ok(s) => (s.code(), exit_signal(&s)),
                                Err(_) => (None, None),
                            };
                            // Whatever the root left behind would hold the
                            // port the restart needs.
                            group.kill_now();
                            group.stop(Duration::ZERO).await;
                            self.note(&format!("exited (code {code:?}, signal {signal:?})"));
                            let _ = self.events.send(InstanceEvent::Exited { code, signal });
                            if began.elapsed() >= STABLE_RUN {
                                short_runs = 0;
                                backoff = FIRST_BACKOFF;
                                reported_loop = false;
                            } else {
                                short_runs += 1;
                            }
                        }
                        _ = stop_requested(&mut stop) => {
                            let status = group.stop(self.config.grace).await;
                            let killed = status
                                .as_ref()
                                .and_then(exit_signal)
                                .is_some_and(|s| s == SIGKILL);
                            self.note(&format!("stopped{}", if killed { " (killed after the grace period)" } else { "" }));
                            self.state.send_replace(InstanceState::Stopped);
                            let _ = self.events.send(InstanceEvent::Stopped { killed });
                            return killed;
                        }
                    }
                }
                Err(e) => {
                    let message = format!("could not start `{}`: {e}", self.config.run);
                    self.note(&message);
                    let _ = self.events.send(InstanceEvent::SpawnFailed { message });
                    short_runs += 1;
                }
            }
            if short_runs >= CRASH_LOOP_AFTER && !reported_loop {
                reported_loop = true;
                self.note(&format!("crash loop: {short_runs} exits in a row"));
                let _ = self
                    .events
                    .send(InstanceEvent::CrashLoop { exits: short_runs });
            }
            restarts += 1;
            self.state.send_replace(InstanceState::Restarting);
            let _ = self.events.send(InstanceEvent::Restarting {
                attempt: restarts,
                delay_ms: backoff.as_millis() as u64,
            });
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop_requested(&mut stop) => break,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.state.send_replace(InstanceState::Stopped);
        let _ = self.events.send(InstanceEvent::Stopped { killed: false });
        false
    }

    fn spawn(&mut self) -> io::Result<ProcessGroup> {
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&self.config.run)
            .current_dir(&self.config.workdir)
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .env("PORT", self.port.to_string())
            .env(INSTANCE_ENV, &self.tag)
            .env(EXECUTION_ENV, execution_tag(&self.tag))
            .stdin(Stdio::null())
            // The kernel appends straight to the log: no copy of the
            // output is ever held in Slipway's memory.
            .stdout(Stdio::from(self.log.try_clone()?))
            .stderr(Stdio::from(self.log.try_clone()?));
        spawn_group(&mut cmd)
    }

    /// A supervisor line in the service log, so the log tells the story.
    fn note(&mut self, what: &str) {
        let at = clock::rfc3339(self.config.clock.now());
        let _ = writeln!(self.log, "--- slipway {at}: {what}");
    }
}

/// Resolves once a stop was requested (or the [`Instance`] is gone).
async fn stop_requested(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}
