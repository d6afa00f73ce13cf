//! `slipway`: every Slipway operation from a terminal, headless and
//! scriptable (`--json`), plus `slipway serve`, the web UI and HTTP API.
//!
//! Exit codes: 0 success, 1 an operation failed, 2 bad usage.

mod output;
mod repo;
mod serve;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway_core::api::{Core, StatusResponse, SystemClock};

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
    /// Check pipeline files, buildspecs and appspecs; report every error.
    Validate(validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Status { json } => status(cli.data_dir, json),
        Command::Repo(command) => repo::run(cli.data_dir, command),
        Command::Serve(args) => serve::run(cli.data_dir, args),
        Command::Validate(args) => return ExitCode::from(validate::run(&args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
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
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Opens the engine on the data directory the flags and environment name.
pub fn open_core(data_dir: Option<PathBuf>, host: &'static str) -> Result<Core, CliError> {
    let dir = slipway_core::platform::data_dir(data_dir.as_deref())?;
    Ok(Core::open(&dir, host, Box::new(SystemClock))?)
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
    let core = open_core(data_dir, "cli")?;
    Ok(runtime()?.block_on(core.call(command, request))?)
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
