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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::sync::broadcast;

use super::appspec_run::Revision;
use super::instance::{self, instance_tag, Instance};
use super::monitor::Failure;
use super::router::{BackendSet, Router};
use super::strategy::{self, TrafficStep};
use crate::clock::Clock;
use crate::events::Event;
use crate::model::ProgressStep;
use crate::spec::appspec::{
    lifecycle, ComputePlatform, DeploymentType, InstanceSet, LifecycleEvent,
};
use crate::spec::pipeline::{Environment, Provider, Strategy};

mod board;
mod provider;
mod rollout;

pub use board::{Board, EnvironmentLive};
pub use provider::LocalProvider;
pub use rollout::Rollout;

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
    /// What the Environments page shows of it, kept current here.
    pub board: Arc<Board>,
}

impl LocalEnv {
    /// Starts the environment's router on `listen` (an empty table until a
    /// set serves); its board reads the time from `clock`.
    pub async fn open(
        spec: &Environment,
        pipeline: &str,
        slug: &str,
        events: broadcast::Sender<Event>,
        clock: Arc<dyn Clock>,
    ) -> Result<LocalEnv, String> {
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
        let board = Board::new(
            pipeline,
            &spec.name,
            router.local_addr(),
            router.reader(),
            events,
            clock,
        );
        Ok(LocalEnv {
            slug: slug.into(),
            router,
            active: None,
            standby: None,
            board,
        })
    }

    /// Tells the board which sets there are now (plus `starting`, a new
    /// set not serving yet).
    fn show(&self, starting: Option<&LiveSet>) {
        let sets: Vec<&LiveSet> = [self.active.as_ref(), starting, self.standby.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        self.board.show(&sets);
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
        self.show(None);
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
        self.stop_standby(Duration::ZERO).await;
        let events = lifecycle(ComputePlatform::Server, DeploymentType::InPlace);
        let active = self.active.as_mut().expect("checked above");
        // From the first batch on, the set is (partly) the new revision: a
        // rollback must redeploy, never just "switch back".
        active.deployment_id = r.deployment_id.clone();
        active.revision = r.revision.clone();
        active.digest = r.digest.clone();
        let n = active.slots.len();
        let batches = strategy::batches(n, strategy);
        let count = batches.len() as u32;
        for (b, batch) in batches.into_iter().enumerate() {
            r.check_stop()?;
            self.board.progress(&r.deployment_id, |p| {
                p.set(ProgressStep::Batch, format!("batch {} of {count}", b + 1));
                p.batch = Some(b as u32 + 1);
                p.batches = Some(count);
            });
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
            // The batch's instances are new processes now.
            self.board.show(&[&*active]);
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
        if let Some((name, id)) = self.stop_standby(Duration::ZERO).await {
            r.note(&format!(
                "the standby set {name} (deployment {id}) is stopped to make room"
            ));
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
        let now = r.now();
        self.board.progress(&r.deployment_id, |p| {
            p.set(ProgressStep::Starting, format!("starting set {name}"));
            p.traffic.push(board::TrafficPoint {
                at: now,
                percent: 0,
            });
        });
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
        self.show(Some(&new));
        if let Some(Err(failure)) = results.into_iter().find(Result::is_err) {
            new.stop().await;
            self.show(None);
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
            self.show(None);
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
            let started = r.now();
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
            self.board.traffic(&r.deployment_id, new.name, step.percent);
            if !step.hold.is_zero() {
                let until = r.now() + step.hold.as_millis() as i64;
                self.board.progress(&r.deployment_id, |p| {
                    p.step = ProgressStep::Holding;
                    p.until = Some(until);
                });
                watch.run(step.hold).await?;
            }
        }
        if !bake.is_zero() {
            r.note(&format!("baking for {}s", bake.as_secs()));
            let started = r.now();
            self.baking(r, bake);
            let baked = watch.run(bake).await;
            r.record_own("-", "Bake", started, &baked.clone().map_err(|f| f.message));
            baked?;
        }
        Ok(())
    }

    fn baking(&self, r: &Rollout, bake: Duration) {
        let until = r.now() + bake.as_millis() as i64;
        self.board.progress(&r.deployment_id, |p| {
            p.set(ProgressStep::Baking, "baking");
            p.until = Some(until);
        });
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
        let started = r.now();
        self.baking(r, bake);
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
            self.stop_standby(DRAIN).await;
        }
    }

    /// Takes the standby set out of the router and stops it after `drain`
    /// (for requests already sent to it), without waiting out its
    /// termination-wait. Returns its name and deployment, if there was one.
    pub async fn stop_standby(&mut self, drain: Duration) -> Option<(&'static str, String)> {
        let standby = self.standby.take()?;
        self.route_active();
        tokio::time::sleep(drain).await;
        let stopped = (standby.name, standby.deployment_id.clone());
        standby.stop().await;
        Some(stopped)
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
