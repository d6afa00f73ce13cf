//! The `local` provider: an environment's instances as supervised local
//! processes behind its router, and the strategies that move a revision
//! onto them.
//!
//! An environment has at most two sets of instances, `blue` and `green`,
//! each instance in `<data>/environments/<env>/<set>/instances/<n>`. In
//! place (rolling, all at once), the serving set's instances are updated
//! batch by batch, each taken out of the router first. Blue/green, canary
//! and linear start the other set beside the serving one, move traffic by
//! weights, watch the bake, and keep the old set as `standby` for
//! `termination-wait` (a rollback then is one table switch).
//!
//! Owns instance lifecycles and the router's table for its environment.
//! Records (statuses, rollback deployments) are the deployer's.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::appspec_run::{self, HookContext, Revision};
use super::instance::{
    self, execution_tag, instance_dir, instance_tag, Health, HealthPolicy, Instance, InstanceConfig,
};
use super::monitor::{Failure, Watch};
use super::router::{BackendSet, Router};
use super::strategy::{self, TrafficStep};
use crate::build::ArtifactStore;
use crate::platform::orphans::EXECUTION_ENV;
use crate::spec::appspec::{
    lifecycle, ComputePlatform, DeploymentType, InstanceSet, LifecycleEvent,
};
use crate::spec::pipeline::{Environment, HealthCheck, Provider, RollbackOn, Strategy};
use crate::store::{DeploymentEvent, Store};

/// The two sets an environment alternates between.
pub const SETS: [&str; 2] = ["blue", "green"];
/// How long an instance taken out of the router keeps serving the requests
/// already sent to it before it is stopped (a load balancer's
/// deregistration delay, sized for a desktop).
const DRAIN: Duration = Duration::from_millis(500);
/// SIGTERM-to-SIGKILL grace for a service being stopped.
const GRACE: Duration = Duration::from_secs(5);
/// How many instance slots a restart looks for when it ends what a killed
/// engine left running.
const MAX_SLOTS: usize = 64;
/// CodeDeploy waits an hour by default; on a desktop the old set's memory
/// matters more, so five minutes.
pub const DEFAULT_TERMINATION_WAIT: Duration = Duration::from_secs(300);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A directory-safe name for an environment of a pipeline.
pub fn slug(pipeline: &str, environment: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    format!("{}.{}", clean(pipeline), clean(environment))
}

/// Ends every process a killed engine left for this environment.
pub fn kill_leftovers(data_dir: &Path, slug: &str) -> usize {
    let tags: Vec<String> = SETS
        .iter()
        .flat_map(|set| {
            (0..MAX_SLOTS).map(move |i| instance_tag(data_dir, &format!("{slug}/{set}"), i))
        })
        .collect();
    instance::kill_instances(&tags)
}

/// One instance place: its directory, port, running service and the
/// revision installed in it.
pub struct Slot {
    pub index: usize,
    pub set: &'static str,
    pub dir: PathBuf,
    pub port: u16,
    pub instance: Option<Instance>,
    pub revision: Option<Revision>,
}

impl Slot {
    fn label(&self) -> String {
        format!("{}/{}", self.set, self.index)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    async fn stop_service(&mut self) {
        if let Some(instance) = self.instance.take() {
            instance.stop().await;
        }
    }
}

/// A set of instances serving one revision.
pub struct LiveSet {
    pub name: &'static str,
    pub deployment_id: String,
    pub revision: String,
    pub digest: String,
    pub slots: Vec<Slot>,
}

impl LiveSet {
    fn backends(&self, weight: u32) -> BackendSet {
        BackendSet::new(self.name, weight, self.slots.iter().map(|s| s.port))
    }

    pub async fn stop(mut self) {
        join_all(self.slots.iter_mut().map(Slot::stop_service)).await;
    }
}

/// What an environment serves now, for the UI and the records.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveView {
    pub listen: SocketAddr,
    pub active: Option<(String, String)>,
    pub standby: Option<(String, String)>,
}

/// One deployment's inputs, owned, so instances can be walked in parallel.
pub struct Rollout {
    pub deployment_id: String,
    pub pipeline: String,
    pub environment: String,
    pub slug: String,
    pub run: String,
    pub instances: usize,
    pub check: HealthCheck,
    pub policy: HealthPolicy,
    pub digest: String,
    pub revision: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub env: Vec<(String, String)>,
    pub spec: Environment,
    /// Where lifecycle events are recorded; `None` when restoring.
    pub store: Option<Arc<Store>>,
    /// Turns true when someone stops the deployment.
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

impl Rollout {
    /// Reads what the local provider needs from the environment.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &Environment,
        deployment_id: &str,
        pipeline: &str,
        digest: &str,
        revision: &str,
        data_dir: &Path,
        log: &Path,
        env: Vec<(String, String)>,
        store: Option<Arc<Store>>,
    ) -> Result<Rollout, String> {
        let Provider::Local { instances, run, .. } = &spec.provider else {
            return Err(format!("environment `{}` is not local", spec.name));
        };
        let run = run.clone().ok_or_else(|| {
            format!(
                "environment `{}` has no `run`: the local provider needs the command that starts the service (it gets PORT)",
                spec.name
            )
        })?;
        let (check, policy) = match &spec.health {
            Some(h) => (h.check.clone(), HealthPolicy::from_spec(h)),
            None => (
                HealthCheck::Listening,
                HealthPolicy {
                    interval: Duration::from_millis(200),
                    timeout: Duration::from_secs(2),
                    healthy_threshold: 1,
                    unhealthy_threshold: 3,
                    start_period: Duration::from_secs(30),
                },
            ),
        };
        Ok(Rollout {
            deployment_id: deployment_id.into(),
            pipeline: pipeline.into(),
            environment: spec.name.clone(),
            slug: slug(pipeline, &spec.name),
            run,
            instances: (*instances).max(1) as usize,
            check,
            policy,
            digest: digest.into(),
            revision: revision.into(),
            data_dir: data_dir.to_path_buf(),
            log: log.to_path_buf(),
            env,
            spec: spec.clone(),
            store,
            stop: None,
        })
    }

    /// Appends a line to the deployment's log.
    pub fn note(&self, text: &str) {
        if let Some(parent) = self.log.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(
                f,
                "[{}] {text}",
                chrono::Local::now().format("%H:%M:%S%.3f")
            );
        }
    }

    /// Records one lifecycle event of the deployment.
    pub fn record(&self, event: DeploymentEvent) {
        if let Some(store) = &self.store {
            if let Err(e) = store.add_deployment_event(&self.deployment_id, &event) {
                tracing::error!(%e, "cannot record a deployment event");
            }
        }
    }

    /// `Err(stopped)` once someone stopped the deployment.
    fn check_stop(&self) -> Result<(), Failure> {
        match &self.stop {
            Some(s) if *s.borrow() => Err(Failure::stopped()),
            _ => Ok(()),
        }
    }

    fn record_own(&self, instance: &str, event: &str, started: i64, result: &Result<(), String>) {
        self.record(DeploymentEvent {
            instance: instance.into(),
            event: event.into(),
            status: if result.is_ok() {
                "Succeeded"
            } else {
                "Failed"
            }
            .into(),
            started_at: started,
            ended_at: now_ms(),
            message: result.as_ref().err().cloned(),
            log_excerpt: String::new(),
        });
    }

    fn slot(&self, set: &'static str, index: usize, port: Option<u16>) -> Result<Slot, String> {
        let dir = instance_dir(&self.data_dir, &format!("{}/{set}", self.slug), index);
        let port = match port {
            Some(p) => p,
            None => instance::free_port().map_err(|e| format!("no free port: {e}"))?,
        };
        Ok(Slot {
            index,
            set,
            dir,
            port,
            instance: None,
            revision: None,
        })
    }

    /// Fresh slots for a new set (their directories emptied first).
    fn new_slots(&self, set: &'static str) -> Result<Vec<Slot>, Failure> {
        let root = self
            .data_dir
            .join("environments")
            .join(&self.slug)
            .join(set);
        let _ = std::fs::remove_dir_all(&root);
        (0..self.instances)
            .map(|i| self.slot(set, i, None))
            .collect::<Result<_, _>>()
            .map_err(Failure::of)
    }

    fn hook_context(&self, slot: &Slot) -> HookContext {
        let tag = instance_tag(
            &self.data_dir,
            &format!("{}/{}", self.slug, slot.set),
            slot.index,
        );
        let mut env = self.env.clone();
        env.push((EXECUTION_ENV.into(), execution_tag(&tag)));
        HookContext {
            deployment_id: self.deployment_id.clone(),
            application_name: self.pipeline.clone(),
            deployment_group_name: self.environment.clone(),
            deployment_group_id: self.slug.clone(),
            port: Some(slot.port),
            log: self.log.clone(),
            ignore_application_stop_failures: false,
            env,
            grace: None,
        }
    }

    /// Walks one instance through `events`. With `per_instance_traffic`
    /// (in place) BlockTraffic and AllowTraffic take the instance out of the
    /// router and put it back; otherwise traffic moves set by set, outside.
    async fn walk(
        &self,
        slot: &mut Slot,
        events: &[LifecycleEvent],
        router: Option<&Router>,
        per_instance_traffic: bool,
    ) -> Result<(), Failure> {
        let label = slot.label();
        let bundle = slot.dir.join("revisions").join(&self.deployment_id);
        let mut new: Option<Revision> = None;
        let ctx = self.hook_context(slot);
        for event in events {
            let started = now_ms();
            if event.runs_hooks {
                let previous = slot.revision.clone();
                let current = new
                    .clone()
                    .or_else(|| previous.clone())
                    .unwrap_or(Revision {
                        root: bundle.clone(),
                        appspec: None,
                    });
                let outcome =
                    appspec_run::run_event(event, &current, previous.as_ref(), &ctx).await;
                self.record(DeploymentEvent {
                    instance: label.clone(),
                    event: outcome.event.clone(),
                    status: format!("{:?}", outcome.status),
                    started_at: outcome.started_at,
                    ended_at: outcome.ended_at,
                    message: outcome.message.clone(),
                    log_excerpt: outcome.log_excerpt.clone(),
                });
                if outcome.fails_deployment() {
                    return Err(Failure::of(format!(
                        "{} failed on instance {label}: {}",
                        event.name,
                        outcome
                            .message
                            .clone()
                            .unwrap_or_else(|| "the hook failed".into())
                    )));
                }
                match event.name {
                    "ApplicationStop" => slot.stop_service().await,
                    "ApplicationStart" => {
                        let result = self.start_service(slot, new.as_ref());
                        self.record_own(&label, "StartService", started, &result);
                        result.map_err(Failure::of)?;
                    }
                    "ValidateService" => self.validate(slot).await?,
                    _ => {}
                }
                continue;
            }
            let result: Result<(), String> = match event.name {
                "BlockTraffic" if per_instance_traffic => {
                    if let Some(router) = router {
                        let _ = router.set_in_service(slot.addr(), false);
                        tokio::time::sleep(DRAIN).await;
                    }
                    Ok(())
                }
                "AllowTraffic" if per_instance_traffic => match router {
                    Some(router) => router
                        .set_in_service(slot.addr(), true)
                        .map_err(|e| e.to_string()),
                    None => Ok(()),
                },
                "DownloadBundle" => self.download(&bundle).and_then(|_| {
                    let revision = Revision::open(&bundle).map_err(|e| e.to_string())?;
                    new = Some(revision);
                    Ok(())
                }),
                "Install" => match &new {
                    Some(revision) => appspec_run::install_files(revision, &slot.dir)
                        .map(|report| {
                            for note in report.notes {
                                self.note(&format!("{label}: {note}"));
                            }
                        })
                        .map_err(|e| e.to_string()),
                    None => Err("Install before DownloadBundle".into()),
                },
                _ => continue,
            };
            self.record_own(&label, event.name, started, &result);
            result.map_err(|m| Failure::of(format!("{} on instance {label}: {m}", event.name)))?;
        }
        if let Some(revision) = new {
            slot.revision = Some(revision);
            prune_revisions(&slot.dir, &self.deployment_id, slot.revision.as_ref());
        }
        Ok(())
    }

    fn download(&self, bundle: &Path) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(bundle);
        let store = ArtifactStore::open(&self.data_dir).map_err(|e| e.to_string())?;
        store.materialize(&self.digest, bundle).map_err(|e| {
            format!(
                "the artifact {} is not in the artifact store: {e}",
                short(&self.digest)
            )
        })
    }

    fn start_service(&self, slot: &mut Slot, revision: Option<&Revision>) -> Result<(), String> {
        let workdir = revision
            .map(|r| r.root.clone())
            .ok_or("ApplicationStart before the revision was downloaded")?;
        let mut env = self.env.clone();
        env.extend([
            (
                "SLIPWAY_DEPLOYMENT_ID".to_string(),
                self.deployment_id.clone(),
            ),
            ("SLIPWAY_REVISION".to_string(), self.revision.clone()),
            ("SLIPWAY_ENVIRONMENT".to_string(), self.environment.clone()),
            (
                "SLIPWAY_INSTALL_ROOT".to_string(),
                appspec_run::install_root(&slot.dir).display().to_string(),
            ),
        ]);
        let instance = Instance::start(InstanceConfig {
            environment: format!("{}/{}", self.slug, slot.set),
            index: slot.index,
            data_dir: self.data_dir.clone(),
            run: self.run.clone(),
            workdir,
            port: Some(slot.port),
            env,
            grace: GRACE,
        })
        .map_err(|e| e.to_string())?;
        slot.instance = Some(instance);
        Ok(())
    }

    /// Waits until the new service passes its health check, then keeps
    /// checking it (the bake and the Environments page read the verdicts).
    async fn validate(&self, slot: &mut Slot) -> Result<(), Failure> {
        let label = slot.label();
        let started = now_ms();
        let Some(instance) = &slot.instance else {
            return Err(Failure::of(format!("instance {label} has no service")));
        };
        let health = instance.wait_healthy(&self.check, &self.policy).await;
        if health == Health::Healthy {
            self.record_own(&label, "HealthCheck", started, &Ok(()));
            instance.monitor_health(self.check.clone(), self.policy.clone());
            return Ok(());
        }
        let why = match instance::probe(&self.check, &instance.probe_target(), self.policy.timeout)
            .await
        {
            Err(e) => e.to_string(),
            Ok(()) => "it failed its checks in a row".to_string(),
        };
        let message = format!("instance {label} failed its health check: {why}");
        self.record_own(&label, "HealthCheck", started, &Err(message.clone()));
        Err(Failure {
            cause: RollbackOn::Health,
            message,
            stopped: false,
        })
    }

    fn watch<'a>(&'a self, router: &'a Router, slots: &[&Slot], set: Option<String>) -> Watch<'a> {
        let mut env = self.env.clone();
        env.push(("SLIPWAY_ENVIRONMENT".into(), self.environment.clone()));
        Watch {
            instances: slots
                .iter()
                .filter_map(|s| s.instance.as_ref().map(|i| (s.label(), i.events())))
                .collect(),
            router,
            set,
            alarms: &self.spec.alarms,
            dir: self.data_dir.join("environments").join(&self.slug),
            env: Arc::new(env),
            stop: self.stop.clone(),
        }
    }
}

/// Keeps the revision just installed and the one before it (ApplicationStop
/// of the next deployment runs the previous revision's scripts).
fn prune_revisions(slot_dir: &Path, current: &str, installed: Option<&Revision>) {
    let keep_root = installed.map(|r| r.root.clone());
    let Ok(entries) = std::fs::read_dir(slot_dir.join("revisions")) else {
        return;
    };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() != current)
        .filter(|e| Some(e.path()) != keep_root)
        .map(|e| {
            let at = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (at, e.path())
        })
        .collect();
    others.sort();
    others.pop(); // the previous revision stays
    for (_, path) in others {
        let _ = std::fs::remove_dir_all(path);
    }
}

pub fn short(digest: &str) -> &str {
    let d = digest.strip_prefix("sha256:").unwrap_or(digest);
    &d[..d.len().min(12)]
}

/// One environment served by this engine: its router and its sets.
pub struct LocalEnv {
    pub slug: String,
    pub router: Router,
    pub active: Option<LiveSet>,
    /// The previous set, kept for `termination-wait` after a new-set
    /// deployment (weight 0).
    pub standby: Option<LiveSet>,
}

impl LocalEnv {
    /// Starts the environment's router on `listen` (an empty table until a
    /// set serves).
    pub async fn open(spec: &Environment, slug: &str) -> Result<LocalEnv, String> {
        let listen = match &spec.provider {
            Provider::Local {
                listen: Some(l), ..
            } => l.clone(),
            _ => "127.0.0.1:0".to_string(),
        };
        let addr: SocketAddr = listen
            .parse()
            .or_else(|_| {
                // `localhost:8080` and `:8080` mean the loopback address.
                let port = listen.rsplit(':').next().unwrap_or_default();
                format!("127.0.0.1:{port}").parse()
            })
            .map_err(|_| {
                format!(
                    "`listen: {listen}` of environment `{}` is not an address; write it like 127.0.0.1:8080",
                    spec.name
                )
            })?;
        let router = Router::start(addr)
            .await
            .map_err(|e| format!("environment `{}` cannot listen: {e}", spec.name))?;
        Ok(LocalEnv {
            slug: slug.into(),
            router,
            active: None,
            standby: None,
        })
    }

    pub fn view(&self) -> LiveView {
        let pair = |s: &Option<LiveSet>| {
            s.as_ref()
                .map(|s| (s.name.to_string(), s.deployment_id.clone()))
        };
        LiveView {
            listen: self.router.local_addr(),
            active: pair(&self.active),
            standby: pair(&self.standby),
        }
    }

    /// Points the router at the active set alone (plus the standby at
    /// weight 0, so its counts and flags stay).
    fn route_active(&self) {
        let mut sets = Vec::new();
        if let Some(a) = &self.active {
            sets.push(a.backends(100));
        }
        if let Some(s) = &self.standby {
            sets.push(s.backends(0));
        }
        let _ = self.router.set_sets(sets);
    }

    /// Deploys in place: batch by batch on the serving set, or a fresh
    /// set when nothing serves (or the instance count changed).
    pub async fn deploy_in_place(
        &mut self,
        r: &Rollout,
        strategy: &Strategy,
    ) -> Result<(), Failure> {
        let usable = self
            .active
            .as_ref()
            .is_some_and(|a| a.slots.len() == r.instances);
        if !usable {
            r.note("no set of that size serves yet: starting a fresh set");
            return self.deploy_new_set(r, &[], Duration::ZERO).await;
        }
        // A standby set from an earlier blue/green is no longer a rollback
        // target once the serving set changes in place.
        if let Some(standby) = self.standby.take() {
            self.route_active();
            standby.stop().await;
        }
        let events = lifecycle(ComputePlatform::Server, DeploymentType::InPlace);
        let active = self.active.as_mut().expect("checked above");
        // From the first batch on, the set is (partly) the new revision: a
        // rollback must redeploy, never just "switch back".
        active.deployment_id = r.deployment_id.clone();
        active.revision = r.revision.clone();
        active.digest = r.digest.clone();
        let n = active.slots.len();
        for (b, batch) in strategy::batches(n, strategy).into_iter().enumerate() {
            r.check_stop()?;
            r.note(&format!(
                "batch {}: instance{} {}",
                b + 1,
                if batch.len() == 1 { "" } else { "s" },
                batch
                    .iter()
                    .map(|i| format!("{}/{i}", active.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let router = &self.router;
            let results = join_all(
                active
                    .slots
                    .iter_mut()
                    .filter(|s| batch.contains(&s.index))
                    .map(|slot| r.walk(slot, events, Some(router), true)),
            )
            .await;
            if let Some(Err(failure)) = results.into_iter().find(Result::is_err) {
                return Err(failure);
            }
        }
        Ok(())
    }

    /// Starts the other set with the new revision, moves traffic to it by
    /// `steps` while watching health and alarms, then bakes. On failure
    /// the traffic goes back to the old set (still running) and the new
    /// set is stopped. On success the old set becomes the standby, kept for
    /// `termination` (the caller schedules its end).
    pub async fn deploy_new_set(
        &mut self,
        r: &Rollout,
        steps: &[TrafficStep],
        bake: Duration,
    ) -> Result<(), Failure> {
        // A standby from the deployment before goes now: the set it used is
        // the one this deployment needs.
        if let Some(standby) = self.standby.take() {
            self.route_active();
            r.note(&format!(
                "the standby set {} (deployment {}) is stopped to make room",
                standby.name, standby.deployment_id
            ));
            standby.stop().await;
        }
        let name = match &self.active {
            Some(a) if a.name == SETS[0] => SETS[1],
            _ => SETS[0],
        };
        let mut slots = r.new_slots(name)?;
        let events = lifecycle(ComputePlatform::Server, DeploymentType::BlueGreen);
        let allow = events
            .iter()
            .position(|e| e.name == "AllowTraffic")
            .unwrap_or(events.len());
        let (replacement, _) = events.split_at(allow);
        r.note(&format!("starting set {name} ({} instances)", slots.len()));
        let results = join_all(
            slots
                .iter_mut()
                .map(|slot| r.walk(slot, replacement, None, false)),
        )
        .await;
        let mut new = LiveSet {
            name,
            deployment_id: r.deployment_id.clone(),
            revision: r.revision.clone(),
            digest: r.digest.clone(),
            slots,
        };
        if let Some(Err(failure)) = results.into_iter().find(Result::is_err) {
            new.stop().await;
            return Err(failure);
        }

        let mut result = self.shift(r, &new, steps, bake).await;
        if result.is_ok() {
            let after: Vec<LifecycleEvent> = events[allow + 1..]
                .iter()
                .copied()
                .filter(|e| e.set == InstanceSet::Replacement)
                .collect();
            for slot in new.slots.iter_mut() {
                if let Err(f) = r.walk(slot, &after, None, false).await {
                    result = Err(f);
                    break;
                }
            }
        }
        if let Err(failure) = result {
            r.note(&format!(
                "{}: traffic goes back to the old set",
                failure.message
            ));
            self.route_active();
            tokio::time::sleep(DRAIN).await;
            new.stop().await;
            return Err(failure);
        }
        let original: Vec<LifecycleEvent> = events
            .iter()
            .copied()
            .filter(|e| e.set == InstanceSet::Original)
            .collect();
        if let Some(old) = self.active.as_mut() {
            for slot in old.slots.iter_mut() {
                // The old set's own hooks; a failure is logged, not a reason
                // to undo a deployment that serves well.
                if let Err(f) = r.walk(slot, &original, None, false).await {
                    r.note(&format!("on the old set: {}", f.message));
                }
            }
        }
        self.standby = self.active.take();
        self.active = Some(new);
        self.route_active();
        Ok(())
    }

    /// Moves traffic to `new` step by step, watching each hold and the
    /// bake. Leaves the router at 100% on `new` when it succeeds.
    async fn shift(
        &self,
        r: &Rollout,
        new: &LiveSet,
        steps: &[TrafficStep],
        bake: Duration,
    ) -> Result<(), Failure> {
        let all = [TrafficStep {
            percent: 100,
            hold: Duration::ZERO,
        }];
        let steps = if self.active.is_none() || steps.is_empty() {
            &all[..]
        } else {
            steps
        };
        let slots: Vec<&Slot> = new.slots.iter().collect();
        let mut watch = r.watch(&self.router, &slots, Some(new.name.to_string()));
        for step in steps {
            r.check_stop()?;
            let started = now_ms();
            let mut sets = vec![new.backends(step.percent)];
            if let Some(old) = &self.active {
                sets.push(old.backends(100 - step.percent));
            }
            let routed = self.router.set_sets(sets).map_err(|e| e.to_string());
            r.note(&format!("traffic: {}% on set {}", step.percent, new.name));
            r.record_own(
                "-",
                &format!("AllowTraffic {}%", step.percent),
                started,
                &routed,
            );
            routed.map_err(Failure::of)?;
            if !step.hold.is_zero() {
                watch.run(step.hold).await?;
            }
        }
        if !bake.is_zero() {
            r.note(&format!("baking for {}s", bake.as_secs()));
            let started = now_ms();
            let baked = watch.run(bake).await;
            r.record_own("-", "Bake", started, &baked.clone().map_err(|f| f.message));
            baked?;
        }
        Ok(())
    }

    /// Bakes an in-place deployment: the router's total error rate and every
    /// instance's health.
    pub async fn bake_in_place(&self, r: &Rollout, bake: Duration) -> Result<(), Failure> {
        if bake.is_zero() {
            return Ok(());
        }
        let Some(active) = &self.active else {
            return Ok(());
        };
        let slots: Vec<&Slot> = active.slots.iter().collect();
        r.note(&format!("baking for {}s", bake.as_secs()));
        let started = now_ms();
        let baked = r.watch(&self.router, &slots, None).run(bake).await;
        r.record_own("-", "Bake", started, &baked.clone().map_err(|f| f.message));
        baked
    }

    /// Whether the standby set serves `digest` (a rollback to it is a
    /// switch).
    pub fn standby_serves(&self, digest: &str) -> bool {
        self.standby.as_ref().is_some_and(|s| s.digest == digest)
    }

    /// Swaps the standby and the active set: one router table switch.
    pub fn switch_to_standby(&mut self, deployment_id: &str) -> bool {
        let Some(mut standby) = self.standby.take() else {
            return false;
        };
        standby.deployment_id = deployment_id.into();
        self.standby = self.active.take();
        self.active = Some(standby);
        self.route_active();
        true
    }

    /// Ends the standby set if it is still the one of `deployment_id`
    /// (its termination-wait is over).
    pub async fn terminate_standby(&mut self, deployment_id: &str) {
        if self
            .standby
            .as_ref()
            .is_some_and(|s| s.deployment_id == deployment_id)
        {
            let standby = self.standby.take().expect("checked");
            self.route_active();
            tokio::time::sleep(DRAIN).await;
            standby.stop().await;
        }
    }

    /// Stops everything: the router, then every instance.
    pub async fn shut_down(self) {
        let LocalEnv {
            router,
            active,
            standby,
            ..
        } = self;
        router.stop().await;
        for set in [active, standby].into_iter().flatten() {
            set.stop().await;
        }
    }
}
