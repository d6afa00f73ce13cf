//! One deployment's work on instances: the inputs it needs, owned (so
//! instances are walked in parallel), CodeDeploy's lifecycle events walked
//! on one instance, the service started and health-checked, and what the
//! deployment records and logs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{short, slug, Slot, DRAIN, GRACE};
use crate::build::ArtifactStore;
use crate::clock::{self, Clock, Millis};

use crate::deploy::appspec_run::{self, HookContext, Revision};
use crate::deploy::instance::{
    self, execution_tag, instance_dir, instance_tag, Health, HealthPolicy, Instance, InstanceConfig,
};
use crate::deploy::monitor::{Failure, Watch};
use crate::deploy::router::Router;
use crate::model::EventStatus;
use crate::platform::orphans::EXECUTION_ENV;
use crate::spec::appspec::LifecycleEvent;
use crate::spec::pipeline::{Environment, HealthCheck, Provider, RollbackOn};
use crate::store::{Deployment, DeploymentEvent, Store};

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
    /// What lifecycle events, health checks and log lines are timed by.
    pub clock: Arc<dyn Clock>,
}

impl Rollout {
    /// Reads what the local provider needs from the environment, for the
    /// deployment record `of` (its id, pipeline and revision) putting the
    /// artifact `digest` on it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &Environment,
        of: &Deployment,
        digest: &str,
        data_dir: &Path,
        log: &Path,
        env: Vec<(String, String)>,
        store: Option<Arc<Store>>,
        clock: Arc<dyn Clock>,
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
            deployment_id: of.id.clone(),
            pipeline: of.pipeline.clone(),
            environment: spec.name.clone(),
            slug: slug(&of.pipeline, &spec.name),
            run,
            instances: (*instances).max(1) as usize,
            check,
            policy,
            digest: digest.into(),
            revision: of.revision.clone(),
            data_dir: data_dir.to_path_buf(),
            log: log.to_path_buf(),
            env,
            spec: spec.clone(),
            store,
            stop: None,
            clock,
        })
    }

    /// Appends a line to the deployment's log.
    pub fn note(&self, text: &str) {
        crate::deploy::provider::append_log(&self.log, self.clock.as_ref(), text);
    }

    /// Records one lifecycle event of the deployment.
    pub fn record(&self, event: DeploymentEvent) {
        if let Some(store) = &self.store {
            if let Err(e) = store.add_deployment_event(&self.deployment_id, &event) {
                tracing::error!(%e, "cannot record a deployment event");
            }
        }
    }

    /// Now, by the deployment's clock.
    pub(super) fn now(&self) -> Millis {
        self.clock.now()
    }

    /// `Err(stopped)` once someone stopped the deployment.
    pub(super) fn check_stop(&self) -> Result<(), Failure> {
        match &self.stop {
            Some(s) if *s.borrow() => Err(Failure::stopped()),
            _ => Ok(()),
        }
    }

    pub(super) fn record_own(
        &self,
        instance: &str,
        event: &str,
        started: Millis,
        result: &Result<(), String>,
    ) {
        self.record(DeploymentEvent {
            instance: instance.into(),
            event: event.into(),
            status: if result.is_ok() {
                EventStatus::Succeeded
            } else {
                EventStatus::Failed
            },
            started_at: started,
            ended_at: self.now(),
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
    pub(super) fn new_slots(&self, set: &'static str) -> Result<Vec<Slot>, Failure> {
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
            ignore_application_stop_failures: self.spec.ignore_application_stop_failures,
            env,
            grace: None,
            clock: self.clock.clone(),
        }
    }

    /// Walks one instance through `events`. With `per_instance_traffic`
    /// (in place) BlockTraffic and AllowTraffic take the instance out of the
    /// router and put it back; otherwise traffic moves set by set, outside.
    pub(super) async fn walk(
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
            let started = self.now();
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
                    status: outcome.status,
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
            clock: self.clock.clone(),
        })
        .map_err(|e| e.to_string())?;
        slot.instance = Some(instance);
        Ok(())
    }

    /// Waits until the new service passes its health check, then keeps
    /// checking it (the bake and the Environments page read the verdicts).
    async fn validate(&self, slot: &mut Slot) -> Result<(), Failure> {
        let label = slot.label();
        let started = self.now();
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

    pub(super) fn watch<'a>(
        &'a self,
        router: &'a Router,
        slots: &[&Slot],
        set: Option<String>,
    ) -> Watch<'a> {
        let mut env = self.env.clone();
        env.push(("SLIPWAY_ENVIRONMENT".into(), self.environment.clone()));
        let cloudwatch = super::super::monitor::cloudwatch_of(
            &self.spec,
            self.store.clone(),
            self.clock.clone(),
        );
        Watch {
            instances: slots
                .iter()
                .filter_map(|s| s.instance.as_ref().map(|i| (s.label(), i.events())))
                .collect(),
            router: Some(router),
            set,
            alarms: &self.spec.alarms,
            dir: self.data_dir.join("environments").join(&self.slug),
            env: Arc::new(env),
            stop: self.stop.clone(),
            cloudwatch,
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
    let mut others: Vec<(Millis, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() != current)
        .filter(|e| Some(e.path()) != keep_root)
        .map(|e| {
            let at = e.metadata().map_or(0, |m| clock::modified(&m));
            (at, e.path())
        })
        .collect();
    others.sort();
    others.pop(); // the previous revision stays
    for (_, path) in others {
        let _ = std::fs::remove_dir_all(path);
    }
}
