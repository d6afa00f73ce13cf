//! The `ecs` provider: an ECS service deployed from the artifact's task
//! definition (`taskdef.json`, images filled in from `imagedefinitions.json`
//! or `imageDetail.json` as CodePipeline's ECS actions do).
//!
//! - `rolling` / `all-at-once`: UpdateService with the new revision (the
//!   strategy as minimum healthy / maximum percent), then a wait until the
//!   service is steady on it.
//! - `blue-green` / `canary` / `linear`: the service's EXTERNAL deployment
//!   controller. A task set for the new revision starts in the target group
//!   that gets no traffic, the listener's forward weights move to it step
//!   by step (alarms watched at each hold and during the bake), it becomes
//!   the primary task set, and the old one stays for `termination-wait`, so
//!   a rollback meanwhile is one weight change. A failed or stopped
//!   deployment puts the weights back and deletes its task set.
//!
//! A rollback restores the target deployment's record: its task set if it
//! still runs (weights back, primary again), else its task definition (by
//! ARN: no artifact needed). Traffic hooks and the bake are a new
//! revision's, not a rollback's.

mod service;
mod sets;
mod taskdef;
mod traffic;

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentControllerType, Service};

use super::Aws;
use crate::clock::Millis;
use crate::creds::Account;
use crate::deploy::local::DEFAULT_TERMINATION_WAIT;
use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Context, Fut, Job, Provider};
use crate::deploy::strategy::{self, TrafficStep};
use crate::model::{Fact, Namespaces, ProviderRecord, Serving, Share};
use crate::spec::pipeline::{Environment, Provider as Spec, TrafficHooks};
use crate::store::Deployment;

/// The `ecs` provider behind the provider interface.
pub struct EcsProvider;

/// Where an environment deploys, from its definition.
pub struct Place<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    /// The task definition's path in the artifact.
    pub task_definition: &'a str,
    pub listener: Option<&'a str>,
    /// Blue and green, in that order.
    pub groups: &'a [String],
    pub hooks: &'a TrafficHooks,
}

impl<'a> Place<'a> {
    fn of(spec: &'a Environment) -> Result<Place<'a>, String> {
        match &spec.provider {
            Spec::Ecs {
                cluster,
                service,
                task_definition,
                listener,
                target_groups,
                hooks,
            } => Ok(Place {
                cluster,
                service,
                task_definition,
                listener: listener.as_deref(),
                groups: target_groups,
                hooks,
            }),
            _ => Err(format!(
                "environment `{}` is not an `ecs` environment",
                spec.name
            )),
        }
    }

    /// The listener, for a strategy that moves traffic between task sets.
    fn listener(&self) -> Result<&'a str, String> {
        match self.listener {
            Some(l) if self.groups.len() == 2 => Ok(l),
            _ => Err(format!(
                "service `{}` deploys with task sets, which needs `listener` and `target-groups` \
                 (the ALB listener whose forward action is weighted, and its blue and green target groups)",
                self.service
            )),
        }
    }
}

/// The clients of one environment's account.
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
}

impl Clients {
    fn of(aws: &Aws) -> Clients {
        Clients {
            ecs: aws_sdk_ecs::Client::new(&aws.config("ECS")),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(
                &aws.config("ELASTIC_LOAD_BALANCING_V2"),
            ),
        }
    }

    async fn for_job(job: &Job<'_>) -> Result<Clients, String> {
        Ok(Clients::of(&Aws::of(job).await?))
    }
}

/// A task definition ARN's `family:revision`.
pub fn short(arn: &str) -> &str {
    arn.rsplit_once(":task-definition/")
        .map(|(_, name)| name)
        .unwrap_or(arn)
}

/// Sleeps `how_long`, cut short by a stop (then `Err(stopped)`).
pub async fn pause(job: &Job<'_>, how_long: Duration) -> Result<(), Failure> {
    match job.stop.clone() {
        Some(mut stop) => {
            let stopped = async move {
                if stop.wait_for(|s| *s).await.is_err() {
                    // Nobody can stop it any more: just sleep.
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(how_long) => {}
                _ = stopped => {}
            }
        }
        None => tokio::time::sleep(how_long).await,
    }
    job.check_stop()
}

/// What a task-set deployment starts and how traffic gets to it.
struct Release {
    task_definition: String,
    images: Vec<(String, String)>,
    steps: Vec<TrafficStep>,
    /// A new revision bakes and runs the traffic hooks; a rollback does not.
    fresh: bool,
}

impl Release {
    fn record(&self, p: &Place<'_>, task_set: Option<String>) -> ProviderRecord {
        ProviderRecord::Ecs {
            cluster: p.cluster.to_string(),
            service: p.service.to_string(),
            task_definition: self.task_definition.clone(),
            images: self.images.clone(),
            task_set,
        }
    }
}

/// The job's namespaces and variables plus what the deployment is about:
/// `#{deploy.TASK_DEFINITION}`, `TASK_SET`, `TARGET_GROUP`, … and the same
/// as `SLIPWAY_ECS_*` variables, for hooks and alarm commands (a
/// BeforeAllowTraffic hook can test the new task set's target group).
fn scope(job: &Job<'_>, values: &[(&str, &str)]) -> (Namespaces, Vec<(String, String)>) {
    let mut namespaces = job.namespaces.clone();
    namespaces.insert(
        "deploy",
        values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let mut variables = job.variables.to_vec();
    variables.extend(
        values
            .iter()
            .map(|(k, v)| (format!("SLIPWAY_ECS_{k}"), v.to_string())),
    );
    (namespaces, variables)
}

fn termination_wait(spec: &Environment) -> Duration {
    spec.termination_wait
        .map(|d| d.as_std())
        .unwrap_or(DEFAULT_TERMINATION_WAIT)
}

/// The environment's bake: alarms watched for `bake` once all traffic is
/// on the new revision.
async fn bake(job: &Job<'_>) -> Result<(), Failure> {
    let bake = job.spec.bake.map(|b| b.as_std()).unwrap_or_default();
    if bake.is_zero() {
        return Ok(());
    }
    job.note(&format!("baking for {}s", bake.as_secs()));
    let started = job.now();
    let baked = super::watch(job, bake).await;
    job.event("-", "Bake", started, &baked.clone().map_err(|f| f.message));
    baked
}

impl EcsProvider {
    async fn deploy_job(&self, job: &Job<'_>) -> Result<(), Failure> {
        let p = Place::of(job.spec).map_err(Failure::of)?;
        let dir = job.files().map_err(Failure::of)?;
        let def = taskdef::read(&dir, p.task_definition).map_err(Failure::of)?;
        let input = def.input().map_err(Failure::of)?;
        let c = Clients::for_job(job).await.map_err(super::failed)?;
        let svc = service::describe(&c.ecs, &p).await.map_err(super::failed)?;
        let task_sets = !strategy::in_place(job.strategy);
        match (service::controller(&svc), task_sets) {
            (DeploymentControllerType::External, true) | (DeploymentControllerType::Ecs, false) => {}
            (DeploymentControllerType::Ecs, true) => {
                return Err(Failure::of(format!(
                    "a {} deployment moves traffic between task sets, which needs the EXTERNAL \
                     deployment controller; service `{}` has ECS's (rolling updates): use strategy \
                     rolling or all-at-once, or create the service with --deployment-controller type=EXTERNAL",
                    strategy::describe(job.strategy),
                    p.service
                )))
            }
            (DeploymentControllerType::External, false) => {
                return Err(Failure::of(format!(
                    "service `{}` has the EXTERNAL deployment controller (task sets): use strategy \
                     blue-green, canary or linear, with `listener` and `target-groups`",
                    p.service
                )))
            }
            (other, _) => {
                return Err(Failure::of(format!(
                    "service `{}` has the {} deployment controller: slipway deploys services with \
                     ECS's (rolling) or EXTERNAL (task sets)",
                    p.service,
                    other.as_str()
                )))
            }
        }
        if task_sets {
            p.listener().map_err(Failure::of)?;
        }

        let started = job.now();
        let registered = super::call("RegisterTaskDefinition", input.send_with(&c.ecs))
            .await
            .and_then(|out| {
                out.task_definition()
                    .and_then(|t| t.task_definition_arn())
                    .map(str::to_string)
                    .ok_or_else(|| "RegisterTaskDefinition answered no ARN".to_string())
            });
        job.event(
            "-",
            "RegisterTaskDefinition",
            started,
            &registered.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        let arn = registered.map_err(super::failed)?;
        job.note(&format!("registered {arn}"));
        let release = Release {
            task_definition: arn,
            images: def.images(),
            steps: strategy::traffic_steps(job.strategy),
            fresh: true,
        };
        job.made(&release.record(&p, None));

        if task_sets {
            self.task_sets(job, &c, &p, &svc, &release)
                .await
                .map(|_| ())
        } else {
            self.rolling(job, &c, &p, &svc, &release).await
        }
    }

    /// A rolling (or all-at-once) update to the release's revision.
    async fn rolling(
        &self,
        job: &Job<'_>,
        c: &Clients,
        p: &Place<'_>,
        svc: &Service,
        release: &Release,
    ) -> Result<(), Failure> {
        let previous = svc.task_definition().unwrap_or_default();
        let (namespaces, variables) = scope(
            job,
            &[
                ("CLUSTER", p.cluster),
                ("SERVICE", p.service),
                ("TASK_DEFINITION", &release.task_definition),
                ("PREVIOUS_TASK_DEFINITION", previous),
            ],
        );
        let job = &Job {
            namespaces: &namespaces,
            variables: &variables,
            stop: job.stop.clone(),
            ..*job
        };
        if release.fresh {
            super::hook(job, "BeforeAllowTraffic", &p.hooks.before_allow_traffic).await?;
        }
        let config = service::configuration(svc, job.strategy);
        job.note(&format!(
            "rolling update of {} to {} (minimum healthy {}%, maximum {}%)",
            p.service,
            short(&release.task_definition),
            config.minimum_healthy_percent.unwrap_or_default(),
            config.maximum_percent.unwrap_or_default()
        ));
        service::update(job, &c.ecs, p, &release.task_definition, Some(config))
            .await
            .map_err(super::failed)?;
        if let Err(f) =
            service::wait_steady(job, &c.ecs, p, &release.task_definition, release.fresh).await
        {
            // A stopped deployment goes back to what served; a failed one
            // is left to the deployer's rollback (or ECS's circuit breaker).
            if f.stopped {
                if let Some(previous) = svc.task_definition() {
                    job.note(&format!("stopped: back to {}", short(previous)));
                    if let Err(e) = service::update(job, &c.ecs, p, previous, None).await {
                        job.note(&format!("could not go back: {e}"));
                    }
                }
            }
            return Err(f);
        }
        if release.fresh {
            bake(job).await?;
            super::hook(job, "AfterAllowTraffic", &p.hooks.after_allow_traffic).await?;
        }
        Ok(())
    }

    /// A task-set deployment of the release: its set in the idle target
    /// group, traffic moved by the release's steps, then primary; the
    /// sets that served before are retired after `termination-wait`.
    /// Returns the new set's ARN.
    async fn task_sets(
        &self,
        job: &Job<'_>,
        c: &Clients,
        p: &Place<'_>,
        svc: &Service,
        release: &Release,
    ) -> Result<String, Failure> {
        let listener = p.listener().map_err(Failure::of)?;
        let mut actions = sets::listener_actions(c, listener)
            .await
            .map_err(super::failed)?;
        let weights = traffic::weights(&actions).map_err(Failure::of)?;
        let all = svc.task_sets();
        let primary = all.iter().find(|s| sets::is_primary(s));
        let (live, idle) =
            traffic::live_and_idle(&weights, p.groups, primary.and_then(sets::group_of))
                .map_err(Failure::of)?;
        let (live_side, idle_side) = (
            traffic::side(p.groups, &live),
            traffic::side(p.groups, &idle),
        );

        // What an earlier deployment left behind (an engine stopped mid-way,
        // a set kept for termination-wait) goes first: traffic all on the
        // live group, no set in the idle one.
        if traffic::share(&weights, &idle) > 0.0 {
            let back = traffic::split(p.groups, &idle, &live, 100);
            actions = sets::set_weights(c, listener, &actions, &back)
                .await
                .map_err(super::failed)?;
            job.note(&format!(
                "the {idle_side} target group had traffic left from an earlier deployment: all back on {live_side}"
            ));
        }
        for old in all
            .iter()
            .filter(|s| sets::group_of(s) == Some(idle.as_str()) && !sets::is_primary(s))
            .filter_map(|s| s.task_set_arn())
        {
            sets::delete(c, p, old).await.map_err(super::failed)?;
            job.note(&format!(
                "task set {old} in the idle {idle_side} target group deleted to make room"
            ));
        }
        let serving: Vec<String> = all
            .iter()
            .filter(|s| sets::group_of(s) == Some(live.as_str()))
            .filter_map(|s| s.task_set_arn().map(str::to_string))
            .collect();
        let template = primary
            .filter(|s| sets::group_of(s) == Some(live.as_str()))
            .or_else(|| {
                all.iter()
                    .find(|s| sets::group_of(s) == Some(live.as_str()))
            })
            .or(primary);

        let new = sets::create(job, c, p, svc, template, &release.task_definition, &idle)
            .await
            .map_err(super::failed)?;
        job.made(&release.record(p, Some(new.clone())));

        let shifted = self
            .shift(job, c, p, release, listener, &actions, (&live, &idle), &new)
            .await;
        if let Err(mut failure) = shifted {
            job.note(&format!(
                "{}: traffic goes back to the {live_side} target group",
                failure.message
            ));
            if let Err(e) = self.undo(c, p, listener, &live, &idle, &new).await {
                job.note(&format!("putting the traffic back failed: {e}"));
                failure.message =
                    format!("{}; putting the traffic back failed: {e}", failure.message);
            }
            return Err(failure);
        }
        sets::retire_later(job, c, p, serving, termination_wait(job.spec));
        Ok(new)
    }

    /// From a steady new set to all traffic on it, primary.
    #[allow(clippy::too_many_arguments)]
    async fn shift(
        &self,
        job: &Job<'_>,
        c: &Clients,
        p: &Place<'_>,
        release: &Release,
        listener: &str,
        actions: &[aws_sdk_elasticloadbalancingv2::types::Action],
        (live, idle): (&str, &str),
        new: &str,
    ) -> Result<(), Failure> {
        let (namespaces, variables) = scope(
            job,
            &[
                ("CLUSTER", p.cluster),
                ("SERVICE", p.service),
                ("TASK_DEFINITION", &release.task_definition),
                ("TASK_SET", new),
                ("TARGET_GROUP", idle),
                ("PREVIOUS_TARGET_GROUP", live),
            ],
        );
        let job = &Job {
            namespaces: &namespaces,
            variables: &variables,
            stop: job.stop.clone(),
            ..*job
        };
        let side = traffic::side(p.groups, idle);
        sets::wait_steady(job, c, p, new, side).await?;
        if release.fresh {
            super::hook(job, "BeforeAllowTraffic", &p.hooks.before_allow_traffic).await?;
        }
        let mut actions = actions.to_vec();
        let all = [TrafficStep {
            percent: 100,
            hold: Duration::ZERO,
        }];
        let steps = if release.steps.is_empty() {
            &all[..]
        } else {
            &release.steps[..]
        };
        for step in steps {
            job.check_stop()?;
            let started = job.now();
            let weights = traffic::split(p.groups, live, idle, step.percent);
            let moved = sets::set_weights(c, listener, &actions, &weights).await;
            job.event(
                side,
                &format!("AllowTraffic {}%", step.percent),
                started,
                &moved.as_ref().map(|_| ()).map_err(Clone::clone),
            );
            actions = moved.map_err(super::failed)?;
            job.note(&format!(
                "traffic: {}% on the {side} task set",
                step.percent
            ));
            if !step.hold.is_zero() {
                super::watch(job, step.hold).await?;
            }
        }
        if release.fresh {
            bake(job).await?;
            super::hook(job, "AfterAllowTraffic", &p.hooks.after_allow_traffic).await?;
        }
        sets::make_primary(job, c, p, new, side)
            .await
            .map_err(super::failed)
    }

    /// After a failure: all traffic back on `live`, the new set deleted.
    async fn undo(
        &self,
        c: &Clients,
        p: &Place<'_>,
        listener: &str,
        live: &str,
        idle: &str,
        new: &str,
    ) -> Result<(), String> {
        let actions = sets::listener_actions(c, listener).await?;
        sets::set_weights(
            c,
            listener,
            &actions,
            &traffic::split(p.groups, idle, live, 100),
        )
        .await?;
        sets::delete(c, p, new).await
    }

    async fn rollback_job(&self, job: &Job<'_>) -> Result<(), String> {
        let p = Place::of(job.spec)?;
        let target = job
            .restores
            .ok_or("a rollback names the deployment it restores")?;
        let Some(ProviderRecord::Ecs {
            task_definition,
            images,
            task_set,
            ..
        }) = job.restored_record()
        else {
            return Err(format!(
                "deployment {} recorded no task definition to go back to",
                target.id
            ));
        };
        job.note(&format!(
            "rollback to {} (deployment {})",
            short(&task_definition),
            target.id
        ));
        let c = Clients::for_job(job).await?;
        let svc = service::describe(&c.ecs, &p).await?;
        let release = Release {
            task_definition,
            images,
            steps: Vec::new(),
            fresh: false,
        };
        if service::controller(&svc) != DeploymentControllerType::External {
            job.made(&release.record(&p, None));
            return self
                .rolling(job, &c, &p, &svc, &release)
                .await
                .map_err(|f| f.message);
        }
        let listener = p.listener()?;
        if let Some(arn) = task_set.as_deref() {
            if let Some(set) = sets::describe(&c, &p, arn).await? {
                if let Some(group) =
                    sets::group_of(&set).filter(|g| p.groups.iter().any(|x| x == g))
                {
                    return self
                        .switch_back(job, &c, &p, &release, listener, arn, group)
                        .await;
                }
            }
            job.note(&format!(
                "task set {arn} of deployment {} is gone: a new one starts from {}",
                target.id,
                short(&release.task_definition)
            ));
        }
        self.task_sets(job, &c, &p, &svc, &release)
            .await
            .map(|_| ())
            .map_err(|f| f.message)
    }

    /// Inside `termination-wait`: the target's task set still runs, so all
    /// traffic goes back to its target group in one weight change and it
    /// is primary again; the other group's sets are retired later.
    #[allow(clippy::too_many_arguments)]
    async fn switch_back(
        &self,
        job: &Job<'_>,
        c: &Clients,
        p: &Place<'_>,
        release: &Release,
        listener: &str,
        arn: &str,
        group: &str,
    ) -> Result<(), String> {
        let side = traffic::side(p.groups, group);
        let other = p
            .groups
            .iter()
            .find(|g| *g != group)
            .cloned()
            .unwrap_or_default();
        let started: Millis = job.now();
        let actions = sets::listener_actions(c, listener).await?;
        let moved = sets::set_weights(
            c,
            listener,
            &actions,
            &traffic::split(p.groups, &other, group, 100),
        )
        .await
        .map(|_| ());
        job.event(side, "AllowTraffic 100%", started, &moved);
        moved?;
        job.note(&format!(
            "all traffic back on the {side} task set {arn} (kept for termination-wait)"
        ));
        sets::make_primary(job, c, p, arn, side).await?;
        job.made(&release.record(p, Some(arn.to_string())));
        let svc = service::describe(&c.ecs, p).await?;
        let others: Vec<String> = svc
            .task_sets()
            .iter()
            .filter(|s| s.task_set_arn() != Some(arn))
            .filter_map(|s| s.task_set_arn().map(str::to_string))
            .collect();
        sets::retire_later(job, c, p, others, termination_wait(job.spec));
        Ok(())
    }
}

impl Provider for EcsProvider {
    /// A rollback restores a registered task definition (or a task set
    /// still running): the artifact is not needed.
    fn rollback_needs_artifact(&self) -> bool {
        false
    }

    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(self.deploy_job(job))
    }

    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(self.rollback_job(job))
    }

    fn serving<'a>(
        &'a self,
        ctx: &'a Context,
        spec: &'a Environment,
        current: Option<&'a Deployment>,
    ) -> Fut<'a, Option<Serving>> {
        Box::pin(async move {
            let read_at = ctx.clock.now();
            Some(
                read_serving(ctx, spec, current)
                    .await
                    .unwrap_or_else(|e| Serving {
                        summary: "unknown".into(),
                        facts: Vec::new(),
                        traffic: Vec::new(),
                        read_at,
                        error: Some(e),
                    }),
            )
        })
    }
}

/// What the service runs now, and who gets the listener's traffic.
async fn read_serving(
    ctx: &Context,
    spec: &Environment,
    current: Option<&Deployment>,
) -> Result<Serving, String> {
    let p = Place::of(spec)?;
    let aws = Aws::for_account(&ctx.store, ctx.clock.as_ref(), &Account::of(spec)).await?;
    let c = Clients::of(&aws);
    let svc = service::describe(&c.ecs, &p).await?;
    // An EXTERNAL service's task definition is its primary task set's.
    let current_td = svc.task_definition().or_else(|| {
        svc.task_sets()
            .iter()
            .find(|s| sets::is_primary(s))
            .and_then(|s| s.task_definition())
    });
    let running = current_td.map(short).unwrap_or("no task definition");
    let summary = format!(
        "{}: taskdef {running}, {}/{} running",
        p.service,
        svc.running_count(),
        svc.desired_count()
    );
    let mut facts = vec![
        Fact {
            label: "task definition".into(),
            value: current_td.unwrap_or("none").to_string(),
        },
        Fact {
            label: "tasks".into(),
            value: format!(
                "{} running, {} pending, {} desired",
                svc.running_count(),
                svc.pending_count(),
                svc.desired_count()
            ),
        },
        Fact {
            label: "deployment controller".into(),
            value: service::controller(&svc).as_str().to_string(),
        },
    ];
    if !svc.deployments().is_empty() {
        facts.push(Fact {
            label: "deployments".into(),
            value: svc
                .deployments()
                .iter()
                .map(|d| {
                    format!(
                        "{} {} {}/{}{}",
                        d.status().unwrap_or("?"),
                        d.task_definition().map(short).unwrap_or("?"),
                        d.running_count(),
                        d.desired_count(),
                        d.rollout_state()
                            .map(|s| format!(" {}", s.as_str()))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    if !svc.task_sets().is_empty() {
        facts.push(Fact {
            label: "task sets".into(),
            value: svc
                .task_sets()
                .iter()
                .map(|s| {
                    format!(
                        "{} {} ({}, scale {}%, {}/{} running)",
                        s.task_definition().map(short).unwrap_or("?"),
                        s.status().unwrap_or("?"),
                        sets::group_of(s)
                            .map(|g| traffic::side(p.groups, g))
                            .unwrap_or("no target group"),
                        s.scale().map(|x| x.value()).unwrap_or_default(),
                        s.running_count(),
                        s.computed_desired_count()
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    if let Some(Some(ProviderRecord::Ecs {
        task_definition, ..
    })) = current.map(|d| record_of(ctx, d))
    {
        if current_td != Some(task_definition.as_str()) {
            facts.push(Fact {
                label: "drift".into(),
                value: format!(
                    "the last successful deployment registered {}",
                    short(&task_definition)
                ),
            });
        }
    }
    let traffic = match p.listener {
        Some(listener) => {
            let weights = traffic::weights(&sets::listener_actions(&c, listener).await?)?;
            weights
                .iter()
                .map(|(group, _)| {
                    let side = traffic::side(p.groups, group);
                    let set = svc
                        .task_sets()
                        .iter()
                        .find(|s| sets::group_of(s) == Some(group.as_str()));
                    Share {
                        name: match set.and_then(|s| s.task_definition()) {
                            Some(td) => format!("{} ({side})", short(td)),
                            None => side.to_string(),
                        },
                        percent: traffic::share(&weights, group),
                    }
                })
                .collect()
        }
        None => {
            let total: i32 = svc.deployments().iter().map(|d| d.running_count()).sum();
            svc.deployments()
                .iter()
                .filter(|_| total > 0)
                .map(|d| Share {
                    name: d.task_definition().map(short).unwrap_or("?").to_string(),
                    percent: f64::from(d.running_count()) * 100.0 / f64::from(total),
                })
                .collect()
        }
    };
    Ok(Serving {
        summary,
        facts,
        traffic,
        read_at: ctx.clock.now(),
        error: None,
    })
}

/// What deployment `d` made, from the store.
fn record_of(ctx: &Context, d: &Deployment) -> Option<ProviderRecord> {
    ctx.store
        .deployment(&d.id)
        .ok()
        .flatten()
        .and_then(|detail| detail.record)
}
