//! The service side: reading it, rolling updates (UpdateService with the
//! new task definition, then waiting until ECS says it is steady), and the
//! minimum healthy / maximum percent a strategy means.

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    DeploymentConfiguration, DeploymentControllerType, DeploymentRolloutState, Service,
};
use aws_sdk_ecs::Client;

use super::{pause, short, Place};
use crate::deploy::aws::{self, call};
use crate::deploy::monitor::Failure;
use crate::deploy::provider::Job;
use crate::deploy::strategy;
use crate::spec::pipeline::{MinimumHealthy, RollbackOn, Strategy};

/// How long a service (or a task set) may take to become steady, as the
/// AWS CLI's `services-stable` waiter allows it 10 minutes, and ECS's own
/// deployments often take longer.
pub const STEADY_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How often a deployment's progress is read.
pub const POLL: Duration = Duration::from_secs(5);

/// The service, from DescribeServices; a service ECS reports missing is
/// an error in the same words as an API error ("…: MISSING: …").
pub async fn describe(ecs: &Client, p: &Place<'_>) -> Result<Service, String> {
    let out = call(
        "DescribeServices",
        ecs.describe_services()
            .cluster(p.cluster)
            .services(p.service)
            .send(),
    )
    .await?;
    if let Some(s) = out
        .services()
        .iter()
        .find(|s| s.service_name() == Some(p.service) || s.service_arn() == Some(p.service))
    {
        if s.status() == Some("INACTIVE") {
            return Err(format!(
                "DescribeServices failed: INACTIVE: service `{}` of cluster `{}` was deleted",
                p.service, p.cluster
            ));
        }
        return Ok(s.clone());
    }
    let reason = out
        .failures()
        .first()
        .and_then(|f| f.reason())
        .unwrap_or("MISSING");
    Err(format!(
        "DescribeServices failed: {reason}: no service `{}` in cluster `{}`",
        p.service, p.cluster
    ))
}

/// Which deployment controller the service has (ECS when it names none).
pub fn controller(s: &Service) -> DeploymentControllerType {
    s.deployment_controller()
        .map(|c| c.r#type().clone())
        .unwrap_or(DeploymentControllerType::Ecs)
}

/// `(minimumHealthyPercent, maximumPercent)` for an in-place strategy on
/// `desired` tasks. All at once: 0/100 (every task replaced together).
/// Rolling: the strategy's minimum healthy count `m` as ECS counts it
/// (`ceil(desired × min% / 100)`), at most all but one task so the
/// deployment can progress, and a maximum of `200 − min%`, so ECS starts a
/// batch of `desired − m` new tasks before stopping as many old ones: the
/// strategy's batches, never fewer than `m` serving.
pub fn percents(strategy: &Strategy, desired: i32) -> (i32, i32) {
    let minimum = match strategy {
        Strategy::Rolling { minimum_healthy } => minimum_healthy,
        _ => return (0, 100),
    };
    let min = if desired <= 0 {
        match minimum {
            MinimumHealthy::Percent(p) => p.0.round().clamp(0.0, 100.0) as i32,
            _ => 0,
        }
    } else {
        let n = desired as usize;
        let m = strategy::minimum_healthy(n, minimum).min(n - 1);
        (100 * m / n) as i32
    };
    (min, 200 - min)
}

/// The service's deployment configuration with the strategy's percents
/// (its circuit breaker and alarms kept).
pub fn configuration(s: &Service, strategy: &Strategy) -> DeploymentConfiguration {
    let (min, max) = percents(strategy, s.desired_count());
    let mut c = s
        .deployment_configuration()
        .cloned()
        .unwrap_or_else(|| DeploymentConfiguration::builder().build());
    c.minimum_healthy_percent = Some(min);
    c.maximum_percent = Some(max);
    c
}

/// Whether the service is steady on `arn`, as the `services-stable`
/// waiter sees it (one deployment, as many tasks running as desired); an
/// error once ECS gave up on the deployment (its circuit breaker failed
/// it, or something else changed the service's task definition).
pub fn steady(s: &Service, arn: &str) -> Result<bool, String> {
    if let Some(d) = s.deployments().iter().find(|d| {
        d.task_definition() == Some(arn)
            && d.rollout_state() == Some(&DeploymentRolloutState::Failed)
    }) {
        return Err(format!(
            "ECS failed the deployment of {}: {}",
            short(arn),
            d.rollout_state_reason().unwrap_or("no reason given")
        ));
    }
    if let Some(now) = s.task_definition().filter(|t| *t != arn) {
        return Err(format!(
            "the service runs {} instead of {}: ECS rolled the deployment back (its circuit breaker), \
             or something else updated the service",
            short(now),
            short(arn)
        ));
    }
    Ok(s.deployments().len() <= 1 && s.running_count() == s.desired_count())
}

/// UpdateService to `arn` with `config`, recorded as an event.
pub async fn update(
    job: &Job<'_>,
    ecs: &Client,
    p: &Place<'_>,
    arn: &str,
    config: Option<DeploymentConfiguration>,
) -> Result<(), String> {
    let started = job.now();
    let result = call(
        "UpdateService",
        ecs.update_service()
            .cluster(p.cluster)
            .service(p.service)
            .task_definition(arn)
            .set_deployment_configuration(config)
            .send(),
    )
    .await
    .map(|_| ());
    job.event("-", "UpdateService", started, &result);
    if result.is_ok() {
        job.note(&format!("service {} updated to {}", p.service, short(arn)));
    }
    result
}

/// Waits until the service is steady on `arn` ([`steady`]): a health
/// failure when ECS fails it or it is not steady within
/// [`STEADY_TIMEOUT`]; a stop ends the wait. With `alarms` (a new
/// revision, taking traffic as its tasks start) the environment's alarms
/// are watched meanwhile; a rollback's wait watches none.
pub async fn wait_steady(
    job: &Job<'_>,
    ecs: &Client,
    p: &Place<'_>,
    arn: &str,
    alarms: bool,
) -> Result<(), Failure> {
    let started = job.now();
    let deadline = Instant::now() + STEADY_TIMEOUT;
    let health = |message: String| Failure {
        cause: RollbackOn::Health,
        message,
        stopped: false,
    };
    loop {
        let s = describe(ecs, p).await.map_err(aws::failed)?;
        let verdict = steady(&s, arn);
        let done = match verdict {
            Ok(true) => Ok(()),
            Ok(false) if Instant::now() >= deadline => Err(format!(
                "service {} was not steady on {} within {} minutes ({} of {} tasks running, {} deployments)",
                p.service,
                short(arn),
                STEADY_TIMEOUT.as_secs() / 60,
                s.running_count(),
                s.desired_count(),
                s.deployments().len()
            )),
            Ok(false) => {
                let waited = match alarms {
                    true => aws::watch(job, POLL).await,
                    false => pause(job, POLL).await,
                };
                if let Err(f) = waited {
                    job.event("-", "Steady", started, &Err(f.message.clone()));
                    return Err(f);
                }
                continue;
            }
            Err(e) => Err(e),
        };
        job.event("-", "Steady", started, &done);
        if done.is_ok() {
            job.note(&format!(
                "service {} steady: {}/{} tasks running {}",
                p.service,
                s.running_count(),
                s.desired_count(),
                short(arn)
            ));
        }
        return done.map_err(health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::Deployment;

    fn service(td: &str, running: i32, deployments: Vec<Deployment>) -> Service {
        Service::builder()
            .task_definition(td)
            .desired_count(2)
            .running_count(running)
            .set_deployments(Some(deployments))
            .build()
    }

    fn deployment(td: &str, state: DeploymentRolloutState) -> Deployment {
        Deployment::builder()
            .task_definition(td)
            .rollout_state(state)
            .rollout_state_reason("tasks failed to start")
            .build()
    }

    #[test]
    fn strategies_become_deployment_percents() {
        assert_eq!(percents(&Strategy::AllAtOnce, 4), (0, 100));
        let one = strategy::default_strategy();
        assert_eq!(percents(&one, 4), (75, 125));
        // 2 of 3 kept: ECS's ceil(3 × 0.66) = 2, at most floor(3 × 1.34) = 4.
        assert_eq!(percents(&one, 3), (66, 134));
        assert_eq!(percents(&one, 1), (0, 200));
        let half = Strategy::from_name("half-at-a-time").unwrap();
        assert_eq!(percents(&half, 4), (50, 150));
        // 75% of 3 rounds up to all 3, which would never progress: 2.
        let rolling = Strategy::from_name("rolling").unwrap();
        assert_eq!(percents(&rolling, 3), (66, 134));
        assert_eq!(percents(&rolling, 0), (75, 125));
    }

    #[test]
    fn steady_means_one_deployment_and_every_task_running() {
        let arn = "arn:aws:ecs:eu-west-1:1:task-definition/orders:8";
        let old = "arn:aws:ecs:eu-west-1:1:task-definition/orders:7";
        let rolling = service(
            arn,
            2,
            vec![
                deployment(arn, DeploymentRolloutState::InProgress),
                deployment(old, DeploymentRolloutState::Completed),
            ],
        );
        assert_eq!(steady(&rolling, arn), Ok(false));
        let starting = service(
            arn,
            1,
            vec![deployment(arn, DeploymentRolloutState::InProgress)],
        );
        assert_eq!(steady(&starting, arn), Ok(false));
        let done = service(
            arn,
            2,
            vec![deployment(arn, DeploymentRolloutState::Completed)],
        );
        assert_eq!(steady(&done, arn), Ok(true));
        let failed = service(
            arn,
            0,
            vec![deployment(arn, DeploymentRolloutState::Failed)],
        );
        let err = steady(&failed, arn).unwrap_err();
        assert!(
            err.contains("orders:8") && err.contains("tasks failed to start"),
            "{err}"
        );
        let replaced = service(
            old,
            2,
            vec![deployment(old, DeploymentRolloutState::Completed)],
        );
        let err = steady(&replaced, arn).unwrap_err();
        assert!(err.contains("runs orders:7 instead of orders:8"), "{err}");
    }
}
