//! `slipway run`, `executions`, `execution`, `approve`, `reject`, `stop`
//! and `logs`: pipelines' executions from a terminal.

use std::collections::BTreeMap;
use std::path::PathBuf;

use slipway_core::api::{
    cmd, ApiError, Core, ExecutionDetail, ExecutionRequest, ExecutionsResponse, RunPipelineRequest,
};
use slipway_core::engine::{self, Status};

use crate::{output, CliError};

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// `REPO/PIPELINE`, or `PIPELINE` where one repository has it.
    pipeline: String,
    /// A branch, tag or commit (default: the head of the current branch).
    #[arg(long, value_name = "REV")]
    revision: Option<String>,
    /// Override a pipeline variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, String)>,
    /// Exit 0 only when the execution succeeded (1 otherwise).
    #[arg(long)]
    wait: bool,
    /// Print the final execution as JSON.
    #[arg(long)]
    json: bool,
    /// How many actions may run at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    max_parallel: Option<usize>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))?;
    if name.is_empty() {
        return Err(format!("`{text}` has no variable name"));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Runs a pipeline: in the running engine (the desktop app, `serve`,
/// `watch`) when one is, otherwise in this process, from start to end.
/// Approvals and stops from other terminals reach it through the database.
pub fn run(data_dir: Option<PathBuf>, args: RunArgs) -> Result<(), CliError> {
    let request = RunPipelineRequest {
        pipeline: args.pipeline,
        revision: args.revision,
        variables: Some(args.vars.into_iter().collect::<BTreeMap<_, _>>()),
    };
    drive(data_dir, args.max_parallel, args.wait, args.json, |core| {
        Box::pin(core.command::<cmd::Run>(request))
    })
}

#[derive(clap::Args, Debug)]
pub struct RetryArgs {
    /// A Failed, Stopped or Interrupted execution.
    id: String,
    /// Exit 0 only when the execution now succeeds (1 otherwise).
    #[arg(long)]
    wait: bool,
    #[arg(long)]
    json: bool,
}

/// Re-runs the failed stage's failed actions on the same revision and
/// artifacts, then the stages after it.
pub fn retry(data_dir: Option<PathBuf>, args: RetryArgs) -> Result<(), CliError> {
    let request = ExecutionRequest { id: args.id };
    drive(data_dir, None, args.wait, args.json, |core| {
        Box::pin(core.command::<cmd::Retry>(request))
    })
}

type Started<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ExecutionRequest, ApiError>> + Send + 'a>,
>;

/// Sends the request `start` makes through the core's one door. When this
/// process carried it out (no other process is the engine), waits for the
/// execution's end. When the running engine took it, `--wait` and `--json`
/// wait for the end, and without them the command returns once the
/// execution started.
fn drive(
    data_dir: Option<PathBuf>,
    max_parallel: Option<usize>,
    wait: bool,
    json: bool,
    start: impl for<'a> FnOnce(&'a Core) -> Started<'a>,
) -> Result<(), CliError> {
    crate::init_logging("warn");
    let core = crate::open_core(data_dir, slipway_core::api::Host::Cli)?;
    if let Some(n) = max_parallel {
        core.set_max_parallel(n);
    }
    let runtime = crate::runtime()?;
    let failed = |e: engine::EngineError| CliError::from(ApiError::from(e));
    let detail = runtime.block_on(async {
        let id = start(&core).await?.id;
        let store = core.store();
        if core.runs_here().await {
            if let Some(started) = store.execution(&id).map_err(ApiError::from)? {
                let s = &started.summary;
                eprintln!(
                    "execution {} of {} at {} ({})",
                    s.id,
                    s.pipeline,
                    output::short(&s.revision),
                    s.message
                );
            }
            let settled = core.settle().await.unwrap_or_default();
            if settled.served_environments {
                eprintln!(
                    "note: no Slipway engine is running, so the environments this run deployed stop with it; \
                     the desktop app or `slipway serve` keeps them up (and brings them back at their last good revision)"
                );
            }
            if let Some(why) = settled.failures.into_iter().next() {
                return Err(CliError::Failed(why));
            }
            let detail = store
                .execution(&id)
                .map_err(ApiError::from)?
                .ok_or_else(|| failed(engine::EngineError::NoSuchExecution(id.clone())))?;
            return Ok::<_, CliError>(Some(detail));
        }
        eprintln!("execution {id} started by the running engine");
        if !wait && !json {
            println!("{id}");
            return Ok(None);
        }
        Ok(Some(
            engine::wait_for_end(store, core.data_dir(), &id)
                .await
                .map_err(failed)?,
        ))
    })?;
    let Some(detail) = detail else {
        return Ok(());
    };
    if json {
        output::print_json(&serde_json::to_value(&detail).unwrap_or_default());
    } else {
        print_detail(&detail);
    }
    if wait && detail.summary.status != Status::Succeeded {
        return Err(CliError::Quiet(1));
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ExecutionsArgs {
    /// Only this pipeline's (`REPO/PIPELINE` or `PIPELINE`).
    pipeline: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

pub fn list(data_dir: Option<PathBuf>, args: ExecutionsArgs) -> Result<(), CliError> {
    let value = crate::call(
        data_dir,
        "executions",
        serde_json::json!({"pipeline": args.pipeline, "limit": args.limit}),
    )?;
    if args.json {
        output::print_json(&value["executions"]);
        return Ok(());
    }
    let list: ExecutionsResponse = output::parse(value)?;
    if list.executions.is_empty() {
        println!("No executions yet: start one with `slipway run REPO/PIPELINE`.");
    }
    for e in list.executions {
        println!(
            "{}  {:<11}  {}  {}  {}",
            e.id,
            e.status.as_str(),
            e.pipeline,
            output::short(&e.revision),
            e.trigger
        );
    }
    Ok(())
}

pub fn show(data_dir: Option<PathBuf>, id: String, json: bool) -> Result<(), CliError> {
    let value = crate::call(data_dir, "execution", serde_json::json!({"id": id}))?;
    output::show(value, json, print_detail)
}

fn print_detail(d: &ExecutionDetail) {
    let s = &d.summary;
    println!("{}  {}  {}", s.pipeline, s.status.as_str(), s.id);
    println!("revision {} {}", output::short(&s.revision), s.message);
    for stage in &d.stages {
        let status = stage.status.map(|s| s.as_str()).unwrap_or("-");
        println!("  {:<11} {}", status, stage.name);
        for a in &stage.actions {
            let status = a.status.map(|s| s.as_str()).unwrap_or("-");
            print!("    {:<11} {} ({})", status, a.name, a.kind);
            for r in &a.reports {
                print!(
                    "  [{}: {} passed, {} failed, {} skipped]",
                    r.group, r.passed, r.failed, r.skipped
                );
            }
            println!();
            if let Some(err) = &a.error {
                println!("                {err}");
            }
        }
    }
    if let Some(err) = &d.error {
        println!("error: {err}");
    }
}

#[derive(clap::Args, Debug)]
pub struct DecisionArgs {
    /// The execution waiting for approval.
    id: String,
    /// The approval action (needed only when several wait).
    #[arg(long)]
    action: Option<String>,
    #[arg(long)]
    comment: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn decide(
    data_dir: Option<PathBuf>,
    args: DecisionArgs,
    approve: bool,
) -> Result<(), CliError> {
    let value = crate::call(
        data_dir,
        if approve { "approve" } else { "reject" },
        serde_json::json!({"id": args.id, "action": args.action, "comment": args.comment}),
    )?;
    if args.json {
        output::print_json(&value);
    } else {
        println!(
            "{} {} of execution {}",
            if approve { "approved" } else { "rejected" },
            value["action"].as_str().unwrap_or(""),
            args.id
        );
    }
    Ok(())
}

pub fn stop(
    data_dir: Option<PathBuf>,
    id: String,
    abandon: bool,
    json: bool,
) -> Result<(), CliError> {
    let value = crate::call(
        data_dir,
        "stop",
        serde_json::json!({"id": id, "abandon": abandon}),
    )?;
    if json {
        output::print_json(&value);
        return Ok(());
    }
    println!(
        "stopping {id}{}",
        if abandon {
            " (abandoning running actions)"
        } else {
            " (running actions finish first)"
        }
    );
    Ok(())
}

pub fn logs(
    data_dir: Option<PathBuf>,
    id: String,
    action: Option<String>,
    follow: bool,
) -> Result<(), CliError> {
    let core = crate::open_core(data_dir, slipway_core::api::Host::Cli)?;
    let runtime = crate::runtime()?;
    let shown = runtime
        .block_on(async {
            let mut out = std::io::stdout();
            engine::logs::copy_logs(
                core.store(),
                core.data_dir(),
                &id,
                action.as_deref(),
                follow,
                &mut out,
            )
            .await
        })
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if shown == 0 {
        return Err(CliError::Failed(match action {
            Some(a) => format!("execution {id} has no log for action `{a}` (yet)"),
            None => format!("execution {id} has no logs yet"),
        }));
    }
    Ok(())
}
