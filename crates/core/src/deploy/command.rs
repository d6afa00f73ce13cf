//! The `command` provider: the user's own deploy tooling (aws cli, cdk,
//! sam, kubectl, terraform…). `deploy`, then `verify`; a failed verify
//! leads to `rollback` (the deployer decides). Commands run through the
//! build runner — process groups, masking, the deployment's log — with the
//! environment's STS session injected as the standard AWS_* variables by
//! `crate::creds::inject`, the one place a child process gets credentials.
//!
//! This module must never obtain a session or set an AWS_* variable itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::monitor::Failure;
use super::provider::{Fut, Job, Provider};
use crate::build::{self, BuildJob, BuildStatus};
use crate::clock::Clock;
use crate::creds;
use crate::model::Namespaces;
use crate::spec::pipeline::{Environment, Provider as Provider_, RollbackOn, Strategy};
use crate::store::Store;

/// The `command` provider behind the provider interface.
pub struct CommandProvider;

impl CommandProvider {
    fn context(job: &Job<'_>) -> CommandContext {
        CommandContext {
            spec: job.spec.clone(),
            namespaces: job.namespaces.clone(),
            workdir: job
                .workdir
                .map(Path::to_path_buf)
                .unwrap_or_else(|| job.ctx.data_dir.join("deployments").join(&job.record.id)),
            log: job.log.to_path_buf(),
            data_dir: job.ctx.data_dir.clone(),
            deployment_id: job.record.id.clone(),
            env: job.variables.to_vec(),
            store: job.ctx.store.clone(),
            clock: job.ctx.clock.clone(),
        }
    }
}

impl Provider for CommandProvider {
    fn describe(&self, _strategy: &Strategy) -> String {
        "commands".into()
    }

    fn rollback_needs_artifact(&self) -> bool {
        false
    }

    /// `deploy`, then `verify`: a failed verify is a health failure.
    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async move {
            let Provider_::Command { deploy, verify, .. } = &job.spec.provider else {
                return Err(Failure::of("not a `command` environment"));
            };
            let ctx = Self::context(job);
            ctx.run("deploy", deploy).await.map_err(Failure::of)?;
            ctx.run("verify", verify).await.map_err(|e| Failure {
                cause: RollbackOn::Health,
                message: e,
                stopped: false,
            })
        })
    }

    /// The `rollback` commands, with `#{rollback.…}` naming the target.
    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async move {
            let Provider_::Command { rollback, .. } = &job.spec.provider else {
                return Err("not a `command` environment".into());
            };
            if rollback.is_empty() {
                return Err(format!(
                    "environment `{}` has no `rollback` commands",
                    job.spec.name
                ));
            }
            Self::context(job).run("rollback", rollback).await
        })
    }
}

/// The most one command list may take.
const TIMEOUT: Duration = Duration::from_secs(3600);

/// Where and with what the commands run.
pub struct CommandContext {
    pub spec: Environment,
    pub namespaces: Namespaces,
    /// The working directory: the deploy action's input artifact.
    pub workdir: PathBuf,
    pub log: PathBuf,
    pub data_dir: PathBuf,
    pub deployment_id: String,
    pub env: Vec<(String, String)>,
    pub store: Arc<Store>,
    pub clock: Arc<dyn Clock>,
}

impl CommandContext {
    /// Commands of `job`'s environment, run in `workdir`.
    pub fn of(job: &Job<'_>, workdir: PathBuf) -> CommandContext {
        CommandContext {
            spec: job.spec.clone(),
            namespaces: job.namespaces.clone(),
            workdir,
            log: job.log.to_path_buf(),
            data_dir: job.ctx.data_dir.clone(),
            deployment_id: job.record.id.clone(),
            env: job.variables.to_vec(),
            store: job.ctx.store.clone(),
            clock: job.ctx.clock.clone(),
        }
    }

    /// Runs one of the environment's command lists (`deploy`, `verify`,
    /// `rollback`): `Ok` when every command exits 0.
    pub async fn run(&self, phase: &str, commands: &[String]) -> Result<(), String> {
        if commands.is_empty() {
            return Ok(());
        }
        let commands = commands
            .iter()
            .map(|c| self.namespaces.substitute(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{phase}: {e}"))?;
        let doc = crate::spec::buildspec::of_commands(&commands);
        let buildspec = crate::spec::buildspec::parse(&doc, &format!("{phase} commands")).map_err(
            |errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        )?;
        let mut env = self.env.clone();
        env.push(("SLIPWAY_DEPLOYMENT_ID".into(), self.deployment_id.clone()));
        env.push(("SLIPWAY_ENVIRONMENT".into(), self.spec.name.clone()));
        let mut masks = Vec::new();
        creds::inject(
            &self.store,
            self.clock.as_ref(),
            &creds::Account::of(&self.spec),
            &mut env,
            &mut masks,
        )
        .await
        .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(&self.workdir)
            .map_err(|e| format!("{phase}: cannot create {}: {e}", self.workdir.display()))?;
        let mut job = BuildJob::new(
            buildspec,
            self.workdir.clone(),
            self.data_dir.clone(),
            self.log.clone(),
        );
        job.env = env;
        job.secrets = masks;
        job.clock = self.clock.clone();
        job.timeout = TIMEOUT;
        job.cache_scope = format!("deploy/{}", self.spec.name);
        let (_handle, stop) = build::stop_signal();
        let outcome = build::run(job, stop, |_: &[u8]| {}).await;
        match outcome.status {
            BuildStatus::Succeeded => Ok(()),
            _ => Err(format!(
                "{phase} failed: {}",
                outcome
                    .error
                    .unwrap_or_else(|| "a command exited non-zero".into())
            )),
        }
    }
}
