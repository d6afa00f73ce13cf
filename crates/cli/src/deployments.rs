//! `slipway deployments`, `deployment` and `rollback`: environments'
//! deployment history and the one-command rollback.

use std::path::PathBuf;

use slipway_core::api::{
    cmd, Deployment, DeploymentDetail, DeploymentStatus, DeploymentsResponse, RollbackRequest,
};
use slipway_core::engine;
use slipway_core::model::{ProviderRecord, Serving};

use crate::{output, CliError};

#[derive(clap::Args, Debug)]
pub struct DeploymentsArgs {
    /// The environment (as its pipeline file names it).
    environment: String,
    /// Only this pipeline's (`REPO/PIPELINE` or `PIPELINE`).
    #[arg(long)]
    pipeline: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

pub fn list(data_dir: Option<PathBuf>, args: DeploymentsArgs) -> Result<(), CliError> {
    let value = crate::call(
        data_dir,
        "deployments",
        serde_json::json!({
            "environment": args.environment,
            "pipeline": args.pipeline,
            "limit": args.limit
        }),
    )?;
    if args.json {
        // The list stays a list; the deployment that serves (the newest
        // successful one) carries what the account says serves now.
        let mut list = value["deployments"].clone();
        if let (Some(rows), false) = (list.as_array_mut(), value["serving"].is_null()) {
            if let Some(current) = rows.iter_mut().find(|d| d["status"] == "Succeeded") {
                current["serving"] = value["serving"].clone();
            }
        }
        output::print_json(&list);
        return Ok(());
    }
    let list: DeploymentsResponse = output::parse(value)?;
    if let Some(s) = &list.serving {
        print_serving(s);
    }
    if list.deployments.is_empty() {
        println!(
            "No deployments to {} yet: a pipeline's deploy action makes them.",
            args.environment
        );
    }
    for d in &list.deployments {
        print_row(d);
    }
    Ok(())
}

/// What an AWS environment serves now, as its account says.
fn print_serving(s: &Serving) {
    if let Some(e) = &s.error {
        println!("Serving now: cannot be read: {e}");
        return;
    }
    println!("Serving now: {}", s.summary);
    for share in &s.traffic {
        println!("  {:>5}%  {}", share.percent, share.name);
    }
    for fact in &s.facts {
        println!("  {}: {}", fact.label, fact.value);
    }
    println!();
}

fn print_row(d: &Deployment) {
    let duration = d
        .ended_at
        .map(|end| format!("{:.1}s", (end - d.started_at) as f64 / 1000.0))
        .unwrap_or_else(|| "-".into());
    println!(
        "{}  {:<11}  {}  {:<13}  {:<8}  {}{}",
        d.id,
        d.status.to_string(),
        output::short(&d.revision),
        d.initiator.as_str(),
        duration,
        d.strategy,
        d.rollback_of
            .as_ref()
            .map(|r| format!("  (rollback of {r})"))
            .unwrap_or_default()
    );
}

pub fn show(data_dir: Option<PathBuf>, id: String, json: bool) -> Result<(), CliError> {
    let value = crate::call(data_dir, "deployment", serde_json::json!({"id": id}))?;
    output::show(value, json, print_detail)
}

fn print_detail(detail: &DeploymentDetail) {
    let d = &detail.deployment;
    println!(
        "{}  {}  {} of {} ({})",
        d.id, d.status, d.environment, d.pipeline, d.provider
    );
    println!("revision {} {}", output::short(&d.revision), d.message);
    println!(
        "strategy {}, by {}{}",
        d.strategy,
        d.initiator.as_str(),
        d.rollback_of
            .as_ref()
            .map(|r| format!(", rollback of {r}"))
            .unwrap_or_default()
    );
    if let Some(e) = &d.execution_id {
        println!(
            "execution {e}, stage {}, action {}",
            d.stage.unwrap_or_default(),
            d.action.as_deref().unwrap_or("-")
        );
    }
    for e in &detail.events {
        println!(
            "  {:<9} {:<8} {}{}",
            e.status,
            e.instance,
            e.event,
            e.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
    }
    if let Some(record) = &detail.record {
        print_record(record);
    }
    if let Some(log) = &d.log {
        println!("log {log}");
    }
    if let Some(err) = &d.error {
        println!("error: {err}");
    }
}

/// What an AWS provider made, in a few lines.
fn print_record(record: &ProviderRecord) {
    match record {
        ProviderRecord::Lambda {
            function,
            alias,
            version,
            previous,
        } => println!(
            "made: {function} version {version} behind alias {alias}{}",
            previous
                .as_ref()
                .map(|p| format!(" (was version {p})"))
                .unwrap_or_default()
        ),
        ProviderRecord::S3 {
            bucket,
            prefix,
            objects,
            changed,
            removed,
            invalidation,
        } => {
            println!(
                "made: s3://{bucket}/{prefix}: {} objects, {} written, {} removed",
                objects.len(),
                changed.len(),
                removed.len()
            );
            if let Some(i) = invalidation {
                println!(
                    "  invalidation {} on {}: {}",
                    i.id,
                    i.distribution,
                    i.paths.join(" ")
                );
            }
        }
        ProviderRecord::CloudFormation {
            stack,
            change_set,
            changes,
            status,
            reason,
            ..
        } => {
            println!(
                "made: stack {stack}{}{}",
                change_set
                    .as_ref()
                    .map(|c| format!(", change set {c}"))
                    .unwrap_or_default(),
                status
                    .as_ref()
                    .map(|s| format!(", {s}"))
                    .unwrap_or_default()
            );
            for c in changes {
                println!(
                    "  {:<7} {} ({}){}",
                    c.action,
                    c.logical_id,
                    c.resource_type,
                    c.replacement
                        .as_ref()
                        .map(|r| format!(", replacement {r}"))
                        .unwrap_or_default()
                );
            }
            if let Some(r) = reason {
                println!("  reason: {r}");
            }
        }
        ProviderRecord::Ecs {
            service,
            task_definition,
            images,
            task_set,
            ..
        } => {
            println!("made: {service} on {task_definition}");
            for (container, image) in images {
                println!("  {container}: {image}");
            }
            if let Some(t) = task_set {
                println!("  task set {t}");
            }
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The environment to roll back.
    environment: String,
    /// The pipeline whose environment it is (when several have one of that name).
    #[arg(long)]
    pipeline: Option<String>,
    /// Restore this successful deployment's revision (default: the last
    /// successful revision before the current one).
    #[arg(long, value_name = "DEPLOYMENT_ID")]
    to: Option<String>,
    /// Wait for the rollback to end; exit 1 unless it succeeded.
    #[arg(long)]
    wait: bool,
    /// Print the rollback deployment as JSON (at its end with --wait).
    #[arg(long)]
    json: bool,
}

/// Rolls back through the core's one door: in the running engine (the
/// desktop app, `serve`, `watch`), or, when none runs, in this process.
pub fn rollback(data_dir: Option<PathBuf>, args: RollbackArgs) -> Result<(), CliError> {
    crate::init_logging("warn");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Cli)?;
    let runtime = crate::runtime()?;
    let failed = |e: String| CliError::Failed(e);
    let request = RollbackRequest {
        environment: args.environment,
        pipeline: args.pipeline,
        to: args.to,
    };
    runtime.block_on(async {
        let id = core.command::<cmd::Rollback>(request).await?.id;
        let store = core.store();
        let read = |id: &str| {
            store
                .deployment(id)
                .map_err(|e| failed(e.to_string()))?
                .ok_or_else(|| failed(format!("no deployment `{id}`")))
        };
        if core.runs_here().await {
            let started = read(&id)?;
            eprintln!(
                "rollback {id}: {} back to {}",
                started.deployment.environment,
                output::short(&started.deployment.revision)
            );
            let settled = core.settle().await.unwrap_or_default();
            if let Some(why) = settled.failures.first() {
                return Err(failed(why.clone()));
            }
            if settled.served_environments {
                eprintln!(
                    "note: no Slipway engine is running, so the environment stops with this command; \
                     the desktop app or `slipway serve` brings it back at this revision"
                );
            }
            return report(&read(&id)?, args.json, args.wait);
        }
        eprintln!("rollback {id} started by the running engine");
        if !args.wait && !args.json {
            println!("{id}");
            return Ok(());
        }
        let detail = if args.wait {
            engine::wait_for_deployment(store, core.data_dir(), &id)
                .await
                .map_err(|e| failed(e.to_string()))?
        } else {
            read(&id)?
        };
        report(&detail, args.json, args.wait)
    })
}

fn report(detail: &DeploymentDetail, json: bool, wait: bool) -> Result<(), CliError> {
    if json {
        output::print_json(&serde_json::to_value(detail).unwrap_or_default());
    } else {
        print_detail(detail);
    }
    if wait && detail.deployment.status != DeploymentStatus::Succeeded {
        return Err(CliError::Quiet(1));
    }
    Ok(())
}
