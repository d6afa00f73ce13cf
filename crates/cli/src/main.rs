//! `slipway`: every Slipway operation from a terminal, headless and
//! scriptable (`--json`), plus `slipway serve`, the web UI and HTTP API.
//!
//! Exit codes: 0 success, 1 an operation failed, 2 bad usage.

mod creds;
mod deployments;
mod executions;
mod output;
mod repo;
mod serve;
mod validate;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway_core::api::{Core, Host, StatusResponse, SystemClock};

#[derive(Parser, Debug)]
#[command(
    name = "slipway",
    version,
    about = "Slipway: your CI/CD pipelines, deployments and AWS credentials, on your machine",
    propagate_version = true
)]
struct Cli {
    /// Where Slipway keeps its data (database, workspaces, instances).
    /// Shared with the desktop app. Default: the OS data directory
    /// (on Linux $XDG_DATA_HOME/slipway).
    #[arg(long, global = true, env = slipway_core::platform::HOME_ENV, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show what this Slipway is and where it keeps its data.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add, list, trust and remove the repositories Slipway watches.
    #[command(subcommand)]
    Repo(repo::RepoCommand),
    /// Serve the web UI and the HTTP API on 127.0.0.1 (token-protected).
    Serve(serve::ServeArgs),
    /// Watch every trusted repository and run what its commits trigger.
    Watch(watch::WatchArgs),
    /// AWS credential profiles: keychain-held keys, STS sessions.
    #[command(subcommand)]
    Creds(creds::CredsCommand),
    /// Local secrets for buildspec `secrets-manager` / `parameter-store` references.
    #[command(subcommand)]
    Secret(creds::SecretCommand),
    /// Run a pipeline on a revision, in the foreground until it ends.
    Run(executions::RunArgs),
    /// Re-run a failed execution's failed actions, on the same revision and artifacts.
    Retry(executions::RetryArgs),
    /// List executions, newest first.
    Executions(executions::ExecutionsArgs),
    /// Show one execution: stages, actions, variables, reports.
    Execution {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a waiting approval action.
    Approve(executions::DecisionArgs),
    /// Reject a waiting approval action.
    Reject(executions::DecisionArgs),
    /// Stop an execution (running actions finish, unless --abandon).
    Stop {
        id: String,
        /// End running actions now.
        #[arg(long)]
        abandon: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print an execution's logs.
    Logs {
        id: String,
        /// Only this action's log.
        #[arg(long)]
        action: Option<String>,
        /// Keep printing what is written until the execution ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Check pipeline files, buildspecs and appspecs; report every error.
    Validate(validate::ValidateArgs),
    /// List an environment's deployments, newest first.
    Deployments(deployments::DeploymentsArgs),
    /// Show one deployment with its lifecycle events.
    Deployment {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Roll an environment back to its previous good revision (or --to one).
    Rollback(deployments::RollbackArgs),
    /// Show or change settings: success notifications, watching paused.
    Settings {
        /// Notify when an execution succeeds (failures always notify).
        #[arg(long, value_name = "true|false")]
        notify_success: Option<bool>,
        /// Pause (true) or resume (false) what commits, tags and schedules trigger.
        #[arg(long, value_name = "true|false")]
        watching_paused: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// Create the demo repository: a small web service and its release pipeline.
    Demo {
        /// The staging router's port.
        #[arg(long, default_value_t = slipway_core::demo::STAGING_PORT)]
        staging_port: u16,
        /// The production router's port.
        #[arg(long, default_value_t = slipway_core::demo::PRODUCTION_PORT)]
        production_port: u16,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `slipway deployments … | head`: a closed pipe ends a listing command
    // quietly, as it ends any Unix tool, instead of a panic in println!.
    // Only those: commands that host an engine serve HTTP (the router,
    // `serve`), where a peer closing a socket must never end the process.
    let lists = matches!(
        cli.command,
        Command::Status { .. }
            | Command::Repo(_)
            | Command::Executions(_)
            | Command::Execution { .. }
            | Command::Logs { .. }
            | Command::Deployments(_)
            | Command::Deployment { .. }
            | Command::Settings { .. }
            | Command::Validate(_)
    );
    #[cfg(unix)]
    if lists {
        // SAFETY: restoring a signal's default disposition before any
        // thread starts has no memory-safety preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    #[cfg(not(unix))]
    let _ = lists;
    let json = wants_json();
    let result = match cli.command {
        Command::Status { json } => status(cli.data_dir, json),
        Command::Repo(command) => repo::run(cli.data_dir, command),
        Command::Serve(args) => serve::run(cli.data_dir, args),
        Command::Watch(args) => watch::run(cli.data_dir, args),
        Command::Creds(command) => creds::run(cli.data_dir, command),
        Command::Secret(command) => creds::run_secret(cli.data_dir, command),
        Command::Run(args) => executions::run(cli.data_dir, args),
        Command::Retry(args) => executions::retry(cli.data_dir, args),
        Command::Executions(args) => executions::list(cli.data_dir, args),
        Command::Execution { id, json } => executions::show(cli.data_dir, id, json),
        Command::Approve(args) => executions::decide(cli.data_dir, args, true),
        Command::Reject(args) => executions::decide(cli.data_dir, args, false),
        Command::Stop { id, abandon, json } => executions::stop(cli.data_dir, id, abandon, json),
        Command::Logs { id, action, follow } => executions::logs(cli.data_dir, id, action, follow),
        Command::Validate(args) => return ExitCode::from(validate::run(&args)),
        Command::Deployments(args) => deployments::list(cli.data_dir, args),
        Command::Deployment { id, json } => deployments::show(cli.data_dir, id, json),
        Command::Rollback(args) => deployments::rollback(cli.data_dir, args),
        Command::Settings {
            notify_success,
            watching_paused,
            json,
        } => settings(cli.data_dir, notify_success, watching_paused, json),
        Command::Demo {
            staging_port,
            production_port,
            json,
        } => demo(cli.data_dir, staging_port, production_port, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Quiet(code)) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err}");
            // A script that asked for JSON gets its error as JSON too, with
            // the stable code it can branch on.
            if json {
                output::print_json(&serde_json::json!({
                    "error": {"code": err.code(), "message": err.to_string()}
                }));
            }
            ExitCode::from(err.exit_code())
        }
    }
}

/// Whether the command was asked for JSON output (`--json`).
/// Each subcommand owns its `--json` flag, so the words typed are read
/// rather than every variant matched again; clap has already refused the
/// flag where a command does not take it (up to a `--`).
fn wants_json() -> bool {
    // What follows `--` belongs to another program (`creds exec … -- CMD`).
    std::env::args()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// An operation that failed: what to tell the person, and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    DataDir(#[from] slipway_core::platform::DataDirError),
    #[error(transparent)]
    Open(#[from] slipway_core::api::OpenError),
    #[error(transparent)]
    Api(#[from] slipway_core::api::ApiError),
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Usage(String),
    /// Everything was already said: exit with this code.
    #[error("")]
    Quiet(u8),
}

impl CliError {
    /// The stable code `--json` prints with the message.
    fn code(&self) -> slipway_core::api::ErrorCode {
        use slipway_core::api::ErrorCode;
        match self {
            CliError::Api(err) => err.code,
            CliError::Open(slipway_core::api::OpenError::Store(err)) => err.code(),
            CliError::DataDir(_) | CliError::Open(_) => ErrorCode::Io,
            CliError::Usage(_) => ErrorCode::InvalidInput,
            CliError::Failed(_) | CliError::Quiet(_) => ErrorCode::Failed,
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Quiet(code) => *code,
            _ => 1,
        }
    }
}

/// Opens the engine on the data directory the flags and environment name.
pub fn open_core(data_dir: Option<PathBuf>, host: Host) -> Result<Core, CliError> {
    let dir = slipway_core::platform::data_dir(data_dir.as_deref())?;
    Ok(Core::open(&dir, host, std::sync::Arc::new(SystemClock))?)
}

/// Logs to stderr at `default` unless SLIPWAY_LOG says otherwise.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))
}

/// Runs one command of the core's table in this process, as the desktop app
/// and `slipway serve` do for their callers.
pub fn call(
    data_dir: Option<PathBuf>,
    command: &str,
    request: serde_json::Value,
) -> Result<serde_json::Value, CliError> {
    let core = open_core(data_dir, Host::Cli)?;
    Ok(runtime()?.block_on(core.call(command, request))?)
}

fn demo(
    data_dir: Option<PathBuf>,
    staging: u16,
    production: u16,
    json: bool,
) -> Result<(), CliError> {
    let value = call(
        data_dir,
        "demo",
        serde_json::json!({"staging_port": staging, "production_port": production}),
    )?;
    output::show(value, json, |value: &serde_json::Value| {
        println!(
            "created the demo repository `{}` at {}",
            value["name"].as_str().unwrap_or_default(),
            value["path"].as_str().unwrap_or_default()
        );
        println!(
            "run it: slipway run {}/release   (staging on http://127.0.0.1:{staging}, production on http://127.0.0.1:{production})",
            slipway_core::demo::NAME
        );
        println!("keep its environments up with the desktop app or `slipway serve`; commit to its main branch to release again");
    })
}

fn settings(
    data_dir: Option<PathBuf>,
    notify_success: Option<bool>,
    watching_paused: Option<bool>,
    json: bool,
) -> Result<(), CliError> {
    let value = call(
        data_dir,
        "settings",
        serde_json::json!({"notify_success": notify_success, "watching_paused": watching_paused}),
    )?;
    output::show(value, json, |value: &serde_json::Value| {
        println!("notify-success   {}", value["notify_success"]);
        println!("watching-paused  {}", value["watching_paused"]);
    })
}

fn status(data_dir: Option<PathBuf>, json: bool) -> Result<(), CliError> {
    let value = call(data_dir, "status", serde_json::Value::Null)?;
    if json {
        output::print_json(&value);
        return Ok(());
    }
    let status: StatusResponse = output::parse(value)?;
    println!("slipway {}", status.version);
    println!("data dir      {}", status.data_dir);
    println!("database      {}", status.database);
    println!("repositories  {}", status.repositories);
    Ok(())
}
