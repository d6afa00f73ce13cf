//! Task sets behind the listener: creating one for a revision in the idle
//! target group, waiting for it to be steady, moving the listener's
//! weights, making a set primary, and retiring the old set after
//! `termination-wait`.

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{LoadBalancer, Scale, ScaleUnit, Service, StabilityStatus, TaskSet};
use aws_sdk_elasticloadbalancingv2::types::Action;

use super::service::{POLL, STEADY_TIMEOUT};
use super::{pause, short, traffic, Clients, Place};
use crate::clock::Clock;
use crate::deploy::aws::{self, call};
use crate::deploy::monitor::Failure;
use crate::deploy::provider::Job;
use crate::spec::pipeline::RollbackOn;

/// The target group a task set registers its tasks with.
pub fn group_of(set: &TaskSet) -> Option<&str> {
    set.load_balancers()
        .iter()
        .find_map(|lb| lb.target_group_arn())
}

pub fn is_primary(set: &TaskSet) -> bool {
    set.status() == Some("PRIMARY")
}

/// The listener's default actions.
pub async fn listener_actions(c: &Clients, listener: &str) -> Result<Vec<Action>, String> {
    let out = call(
        "DescribeListeners",
        c.elb.describe_listeners().listener_arns(listener).send(),
    )
    .await?;
    out.listeners()
        .first()
        .map(|l| l.default_actions().to_vec())
        .ok_or_else(|| format!("DescribeListeners failed: no listener {listener}"))
}

/// Weights the listener's forward action by `weights`; the actions the
/// listener has after.
pub async fn set_weights(
    c: &Clients,
    listener: &str,
    actions: &[Action],
    weights: &[(String, i32)],
) -> Result<Vec<Action>, String> {
    let next = traffic::reweighted(actions, weights)?;
    let out = call(
        "ModifyListener",
        c.elb
            .modify_listener()
            .listener_arn(listener)
            .set_default_actions(Some(next.clone()))
            .send(),
    )
    .await?;
    Ok(out
        .listeners()
        .first()
        .map(|l| l.default_actions().to_vec())
        .filter(|a| !a.is_empty())
        .unwrap_or(next))
}

/// CreateTaskSet for `task_definition` in `group`, at 100% of the
/// service's desired count, configured like `template` (the set serving
/// now: launch type or capacity providers, platform version, network
/// configuration, its load balancer's container and port) or, with no
/// set yet, like the service, its container and port the task
/// definition's first that maps one.
pub async fn create(
    job: &Job<'_>,
    c: &Clients,
    p: &Place<'_>,
    service: &Service,
    template: Option<&TaskSet>,
    task_definition: &str,
    group: &str,
) -> Result<String, String> {
    let (container, port) = match template.and_then(|t| t.load_balancers().first()) {
        Some(lb) if lb.container_name().is_some() => {
            (lb.container_name().map(str::to_string), lb.container_port())
        }
        _ => container_port(c, task_definition).await?,
    };
    let lb = LoadBalancer::builder()
        .target_group_arn(group)
        .set_container_name(container)
        .set_container_port(port)
        .build();
    let mut req = c
        .ecs
        .create_task_set()
        .cluster(p.cluster)
        .service(p.service)
        .task_definition(task_definition)
        .external_id(&job.record.id)
        .client_token(&job.record.id)
        .load_balancers(lb)
        .scale(
            Scale::builder()
                .unit(ScaleUnit::Percent)
                .value(100.0)
                .build(),
        );
    let (network, launch, providers, platform) = match template {
        Some(t) => (
            t.network_configuration().cloned(),
            t.launch_type().cloned(),
            t.capacity_provider_strategy().to_vec(),
            t.platform_version().map(str::to_string),
        ),
        None => (
            service.network_configuration().cloned(),
            service.launch_type().cloned(),
            service.capacity_provider_strategy().to_vec(),
            service.platform_version().map(str::to_string),
        ),
    };
    req = req.set_network_configuration(network.filter(|n| n.awsvpc_configuration().is_some()));
    req = if providers.is_empty() {
        req.set_launch_type(launch)
    } else {
        req.set_capacity_provider_strategy(Some(providers))
    };
    req = req.set_platform_version(platform);
    let started = job.now();
    let side = traffic::side(p.groups, group);
    let result = call("CreateTaskSet", req.send()).await.and_then(|out| {
        out.task_set()
            .and_then(|t| t.task_set_arn())
            .map(str::to_string)
            .ok_or_else(|| "CreateTaskSet answered no task set".to_string())
    });
    job.event(
        side,
        "CreateTaskSet",
        started,
        &result.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    if let Ok(arn) = &result {
        job.note(&format!(
            "task set {arn} of {} created in the {side} target group",
            short(task_definition)
        ));
    }
    result
}

/// The container and port a task definition's target group sends to: the
/// first essential container that maps a port, else the first that does.
async fn container_port(
    c: &Clients,
    task_definition: &str,
) -> Result<(Option<String>, Option<i32>), String> {
    let out = call(
        "DescribeTaskDefinition",
        c.ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send(),
    )
    .await?;
    let containers = out
        .task_definition()
        .map(|t| t.container_definitions())
        .unwrap_or_default();
    let mapped = |essential_only: bool| {
        containers.iter().find(|c| {
            !c.port_mappings().is_empty() && (!essential_only || c.essential() != Some(false))
        })
    };
    let chosen = mapped(true).or_else(|| mapped(false)).ok_or_else(|| {
        format!(
            "no container of {} maps a port for the target group to send traffic to",
            short(task_definition)
        )
    })?;
    Ok((
        chosen.name().map(str::to_string),
        chosen.port_mappings()[0].container_port(),
    ))
}

/// Waits until task set `arn` is steady (its tasks running): a health
/// failure when it is not within [`STEADY_TIMEOUT`].
pub async fn wait_steady(
    job: &Job<'_>,
    c: &Clients,
    p: &Place<'_>,
    arn: &str,
    side: &str,
) -> Result<(), Failure> {
    let started = job.now();
    let deadline = Instant::now() + STEADY_TIMEOUT;
    loop {
        let set = describe(c, p, arn).await.map_err(aws::failed)?;
        let done = match &set {
            None => Err(format!("task set {arn} is gone")),
            Some(s)
                if s.stability_status() == Some(&StabilityStatus::SteadyState)
                    && s.running_count() >= s.computed_desired_count() =>
            {
                Ok(())
            }
            Some(s) if Instant::now() >= deadline => Err(format!(
                "task set {arn} was not steady within {} minutes ({} of {} tasks running)",
                STEADY_TIMEOUT.as_secs() / 60,
                s.running_count(),
                s.computed_desired_count()
            )),
            Some(_) => {
                if let Err(f) = pause(job, POLL).await {
                    job.event(side, "Steady", started, &Err(f.message.clone()));
                    return Err(f);
                }
                continue;
            }
        };
        job.event(side, "Steady", started, &done);
        return done.map_err(|message| Failure {
            cause: RollbackOn::Health,
            message,
            stopped: false,
        });
    }
}

/// Task set `arn` of the service, if it still exists (and is not being
/// drained away).
pub async fn describe(c: &Clients, p: &Place<'_>, arn: &str) -> Result<Option<TaskSet>, String> {
    describe_with(&c.ecs, p.cluster, p.service, arn).await
}

async fn describe_with(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    arn: &str,
) -> Result<Option<TaskSet>, String> {
    let out = call(
        "DescribeTaskSets",
        ecs.describe_task_sets()
            .cluster(cluster)
            .service(service)
            .task_sets(arn)
            .send(),
    )
    .await?;
    Ok(out
        .task_sets()
        .iter()
        .find(|t| t.task_set_arn() == Some(arn) && t.status() != Some("DRAINING"))
        .cloned())
}

/// UpdateServicePrimaryTaskSet, recorded as an event.
pub async fn make_primary(
    job: &Job<'_>,
    c: &Clients,
    p: &Place<'_>,
    arn: &str,
    side: &str,
) -> Result<(), String> {
    let started = job.now();
    let result = call(
        "UpdateServicePrimaryTaskSet",
        c.ecs
            .update_service_primary_task_set()
            .cluster(p.cluster)
            .service(p.service)
            .primary_task_set(arn)
            .send(),
    )
    .await
    .map(|_| ());
    job.event(side, "PrimaryTaskSet", started, &result);
    result
}

/// DeleteTaskSet (forced: the set no longer takes traffic, whatever its
/// scale).
pub async fn delete(c: &Clients, p: &Place<'_>, arn: &str) -> Result<(), String> {
    delete_with(&c.ecs, p.cluster, p.service, arn).await
}

async fn delete_with(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    arn: &str,
) -> Result<(), String> {
    call(
        "DeleteTaskSet",
        ecs.delete_task_set()
            .cluster(cluster)
            .service(service)
            .task_set(arn)
            .force(true)
            .send(),
    )
    .await
    .map(|_| ())
}

/// Retires `sets` (the ones that served before) after `termination-wait`,
/// on a task of its own, so a rollback meanwhile is one weight change: a
/// set is deleted only if it is still not primary and its target group
/// still gets none of the listener's traffic. If the engine stops first,
/// the next deployment removes what is left in the idle group.
pub fn retire_later(job: &Job<'_>, c: &Clients, p: &Place<'_>, sets: Vec<String>, wait: Duration) {
    if sets.is_empty() {
        return;
    }
    job.note(&format!(
        "the task set(s) that served before stay {}s (termination-wait): {}",
        wait.as_secs(),
        sets.join(", ")
    ));
    let ecs = c.ecs.clone();
    let elb = c.elb.clone();
    let cluster = p.cluster.to_string();
    let service = p.service.to_string();
    let listener = p.listener.map(str::to_string);
    let log = job.log.to_path_buf();
    let clock = job.ctx.clock.clone();
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let clients = Clients { ecs, elb };
        for arn in sets {
            let text = match retire(&clients, &cluster, &service, listener.as_deref(), &arn).await {
                Ok(Some(why)) => format!("task set {arn} kept: {why}"),
                Ok(None) => format!("task set {arn} deleted (termination-wait is over)"),
                Err(e) => format!("task set {arn} not deleted: {e}"),
            };
            tracing::info!(%text, "termination-wait");
            note(&log, clock.as_ref(), &text);
        }
    });
}

/// Deletes `arn` unless it serves again; `Some(why)` when it was kept.
async fn retire(
    c: &Clients,
    cluster: &str,
    service: &str,
    listener: Option<&str>,
    arn: &str,
) -> Result<Option<String>, String> {
    let Some(set) = describe_with(&c.ecs, cluster, service, arn).await? else {
        return Ok(Some("it is gone already".into()));
    };
    if is_primary(&set) {
        return Ok(Some("it is the primary task set again".into()));
    }
    if let (Some(listener), Some(group)) = (listener, group_of(&set)) {
        let weights = traffic::weights(&listener_actions(c, listener).await?)?;
        if traffic::share(&weights, group) > 0.0 {
            return Ok(Some("its target group takes traffic again".into()));
        }
    }
    delete_with(&c.ecs, cluster, service, arn).await?;
    Ok(None)
}

/// A line in a deployment's log, after the deployment itself ended.
fn note(log: &Path, clock: &dyn Clock, text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(
            f,
            "[{}] {text}",
            crate::clock::local(clock.now()).format("%H:%M:%S%.3f")
        );
    }
}
