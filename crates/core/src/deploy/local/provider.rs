//! The `local` provider behind the provider interface: one [`LocalEnv`]
//! per environment this engine serves (its router, its sets, its board),
//! each behind a lock so one deployment moves it at a time; bringing
//! environments back when the engine starts and ending them when it stops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Board, EnvironmentLive, LocalEnv, Rollout};
use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Context, Fut, Job, Provider};
use crate::deploy::strategy;
use crate::model::EventStatus;
use crate::spec::pipeline::{Environment, Strategy};
use crate::store::{Deployment, DeploymentEvent};

type EnvCell = Arc<tokio::sync::Mutex<Option<LocalEnv>>>;

/// The local environments of one engine.
pub struct LocalProvider {
    ctx: Context,
    envs: Mutex<HashMap<String, EnvCell>>,
    /// The live view of every environment this engine serves, readable
    /// while a deployment holds the environment's cell.
    boards: Mutex<HashMap<String, Arc<Board>>>,
}

impl LocalProvider {
    pub fn new(ctx: Context) -> LocalProvider {
        LocalProvider {
            ctx,
            envs: Mutex::new(HashMap::new()),
            boards: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, slug: &str) -> EnvCell {
        self.envs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(slug.to_string())
            .or_default()
            .clone()
    }

    /// Every environment cell, to visit without holding the map.
    fn cells(&self) -> Vec<EnvCell> {
        self.envs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Brings `d`'s environment back to its revision (its set starts
    /// fresh; hooks run as on a new instance).
    pub async fn restore(&self, d: &Deployment, spec: &Environment) -> Result<(), String> {
        let digest = d.artifact.clone().ok_or("no artifact recorded")?;
        let slug = super::slug(&d.pipeline, &d.environment);
        let log = self
            .ctx
            .data_dir
            .join("environments")
            .join(&slug)
            .join("restore.log");
        let rollout = Rollout::new(
            spec,
            d,
            &digest,
            &self.ctx.data_dir,
            &log,
            Vec::new(),
            None,
            self.ctx.clock.clone(),
        )?;
        rollout.note(&format!(
            "restoring revision {} (deployment {})",
            &d.revision[..d.revision.len().min(12)],
            d.id
        ));
        let cell = self.cell(&slug);
        let mut guard = cell.lock().await;
        let env = self.opened(&mut guard, spec, &d.pipeline, &slug).await?;
        let restored = env.deploy_new_set(&rollout, &[], Duration::ZERO).await;
        env.board.finish();
        restored.map_err(|f| f.message)?;
        env.stop_standby(Duration::ZERO).await;
        tracing::info!(environment = %d.environment, revision = %d.revision, "restored");
        Ok(())
    }

    /// Stops every environment this engine serves.
    pub async fn shut_down(&self) {
        for cell in self.cells() {
            if let Some(env) = cell.lock().await.take() {
                env.shut_down().await;
            }
        }
        self.boards
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Whether this engine serves any local environment now.
    pub async fn serves_any(&self) -> bool {
        for cell in self.cells() {
            if cell.lock().await.is_some() {
                return true;
            }
        }
        false
    }

    /// What a local environment serves now, when this engine serves it.
    pub fn live(&self, pipeline: &str, environment: &str) -> Option<EnvironmentLive> {
        let boards = self.boards.lock().unwrap_or_else(|p| p.into_inner());
        boards
            .get(&super::slug(pipeline, environment))
            .map(|b| b.view())
    }

    fn rollout(&self, job: &Job<'_>, digest: &str) -> Result<Rollout, String> {
        let mut rollout = Rollout::new(
            job.spec,
            job.record,
            digest,
            &self.ctx.data_dir,
            job.log,
            job.variables.to_vec(),
            Some(self.ctx.store.clone()),
            self.ctx.clock.clone(),
        )?;
        rollout.stop = job.stop.clone();
        Ok(rollout)
    }

    async fn deploy_job(&self, job: &Job<'_>) -> Result<(), Failure> {
        let digest = job.digest.ok_or_else(|| {
            Failure::of(
                "a local deployment needs an input artifact (`inputs:` of the deploy action)",
            )
        })?;
        let rollout = self.rollout(job, digest).map_err(Failure::of)?;
        rollout.note(&format!(
            "deployment {} of {} to {} ({})",
            job.record.id,
            &job.record.revision[..job.record.revision.len().min(12)],
            job.spec.name,
            job.record.strategy
        ));
        self.run_rollout(&rollout, job.strategy, false).await
    }

    /// Runs a rollout on its environment (opening its router if this
    /// engine does not serve it yet). `fast` (a rollback) skips canary and
    /// linear steps and the bake.
    async fn run_rollout(
        &self,
        rollout: &Rollout,
        strategy: &Strategy,
        fast: bool,
    ) -> Result<(), Failure> {
        let spec = &rollout.spec;
        let cell = self.cell(&rollout.slug);
        let mut guard = cell.lock().await;
        let env = self
            .opened(&mut guard, spec, &rollout.pipeline, &rollout.slug)
            .await
            .map_err(Failure::of)?;
        // A rollback restores what served well before: no bake, no alarms
        // (an alarm still ringing for the bad revision would fail it).
        let bake = match fast {
            true => Duration::ZERO,
            false => spec.bake.map(|b| b.as_std()).unwrap_or_default(),
        };
        let result = if strategy::in_place(strategy) {
            match env.deploy_in_place(rollout, strategy).await {
                Ok(()) => env.bake_in_place(rollout, bake).await,
                Err(f) => Err(f),
            }
        } else {
            let steps = if fast {
                Vec::new()
            } else {
                strategy::traffic_steps(strategy)
            };
            env.deploy_new_set(rollout, &steps, bake).await
        };
        env.board.finish();
        if result.is_ok() && !strategy::in_place(strategy) {
            self.schedule_termination(&cell, env, spec);
        }
        result
    }

    /// The environment in `guard`, opening it (its router and its board)
    /// when this engine does not serve it yet.
    async fn opened<'a>(
        &self,
        guard: &'a mut Option<LocalEnv>,
        spec: &Environment,
        pipeline: &str,
        slug: &str,
    ) -> Result<&'a mut LocalEnv, String> {
        if guard.is_none() {
            let env = LocalEnv::open(
                spec,
                pipeline,
                slug,
                self.ctx.events.clone(),
                self.ctx.clock.clone(),
            )
            .await?;
            self.boards
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slug.to_string(), env.board.clone());
            *guard = Some(env);
        }
        Ok(guard.as_mut().expect("opened"))
    }

    /// Ends the standby set after `termination-wait`, unless something
    /// else has replaced it by then.
    fn schedule_termination(&self, cell: &EnvCell, env: &LocalEnv, spec: &Environment) {
        let Some(standby) = &env.standby else {
            return;
        };
        let id = standby.deployment_id.clone();
        let wait = spec
            .termination_wait
            .map(|d| d.as_std())
            .unwrap_or(super::DEFAULT_TERMINATION_WAIT);
        let cell = cell.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(env) = cell.lock().await.as_mut() {
                env.terminate_standby(&id).await;
            }
        });
    }

    /// Inside `termination-wait` (the target's set still runs) a rollback
    /// is one router switch; otherwise a redeployment of the target's
    /// artifact that skips canary and linear steps.
    async fn rollback_job(&self, job: &Job<'_>) -> Result<(), String> {
        let target = job.restores.ok_or("a rollback names what it restores")?;
        let digest = target
            .artifact
            .clone()
            .ok_or("the target recorded no artifact")?;
        let deployment = job.record;
        // The rollback's own record carries the target's revision.
        let mut rollout = self.rollout(job, &digest)?;
        // A rollback must be able to restore: a revision whose ApplicationStop
        // script fails (CodeDeploy's well-known trap) would otherwise block
        // its own undoing as well. The failure is still logged and recorded.
        rollout.spec.ignore_application_stop_failures = true;
        rollout.note(&format!(
            "rollback {} to {} (deployment {}); ApplicationStop failures are logged, not fatal",
            deployment.id,
            &target.revision[..target.revision.len().min(12)],
            target.id
        ));
        let cell = self.cell(&rollout.slug);
        {
            let mut guard = cell.lock().await;
            if let Some(env) = guard.as_mut() {
                let started = job.now();
                let switched = if env.active.as_ref().is_some_and(|a| a.digest == digest) {
                    // A failed new set never took the traffic for good: the
                    // old set already serves again.
                    if let Some(active) = env.active.as_mut() {
                        active.deployment_id = deployment.id.clone();
                    }
                    Some("traffic is back on the set that served before")
                } else if env.standby_serves(&digest) {
                    env.switch_to_standby(&deployment.id);
                    self.schedule_termination(&cell, env, job.spec);
                    Some("switched the router to the standby set (inside termination-wait)")
                } else {
                    None
                };
                if let Some(how) = switched {
                    rollout.note(how);
                    rollout.record(DeploymentEvent {
                        instance: "-".into(),
                        event: "AllowTraffic 100%".into(),
                        status: EventStatus::Succeeded,
                        started_at: started,
                        ended_at: job.now(),
                        message: Some(how.into()),
                        log_excerpt: String::new(),
                    });
                    return Ok(());
                }
            }
        }
        self.run_rollout(&rollout, job.strategy, true)
            .await
            .map_err(|f| f.message)
    }
}

impl Provider for LocalProvider {
    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(self.deploy_job(job))
    }

    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(self.rollback_job(job))
    }
}
