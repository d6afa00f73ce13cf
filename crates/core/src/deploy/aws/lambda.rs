//! The `lambda` provider: a function's alias shifted between published
//! versions, as CodeDeploy's Lambda deployments do.
//!
//! A deployment uploads the revision's code (the `package:` zip, else the
//! artifact's files zipped), waits for the update, publishes a version and
//! moves the alias to it: all at once, or through
//! `RoutingConfig.AdditionalVersionWeights` step by step (canary, linear),
//! watching the environment's alarms while each step holds. The traffic
//! hooks run around the shift with the account's session, then the bake.
//! A failure while traffic is split puts the alias back on the version
//! that served before; a rollback points the alias at the restored
//! deployment's version with no weights (no artifact needed).
//!
//! A Lambda appspec in the revision ([`appspec`]) names the version to
//! shift to instead of an upload, and hook functions to invoke.
//!
//! Every call goes through [`aws::call`] (SDK tracing silenced, errors as
//! "Call failed: Code: message"), with the function and account added.

mod appspec;
mod package;
mod traffic;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, LastUpdateStatus};
use aws_sdk_lambda::Client;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::{call, failed, hook, watch, Aws};
use crate::creds::Account;
use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Context, Fut, Job, Provider};
use crate::deploy::strategy;
use crate::model::{Fact, Namespaces, ProviderRecord, Serving};
use crate::spec::pipeline::{Environment, Provider as ProviderSpec, Strategy};
use crate::store::Deployment;

/// How long a code update may stay `InProgress` before the deployment
/// gives up on it.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(600);
/// How often an `InProgress` update is read again.
const UPDATE_POLL: Duration = Duration::from_secs(1);

/// The `lambda` provider behind the provider interface.
pub struct LambdaProvider;

impl Provider for LambdaProvider {
    /// Canary and linear as they say; every other kind moves the alias at
    /// once (an alias has no instances to roll through).
    fn describe(&self, strategy: &Strategy) -> String {
        match strategy {
            Strategy::Canary { .. } | Strategy::Linear { .. } => strategy::describe(strategy),
            _ => "all-at-once".into(),
        }
    }

    /// A rollback points the alias at a version Lambda still keeps.
    fn rollback_needs_artifact(&self) -> bool {
        false
    }

    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(deploy(job))
    }

    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(roll_back(job))
    }

    fn serving<'a>(
        &'a self,
        ctx: &'a Context,
        spec: &'a Environment,
        current: Option<&'a Deployment>,
    ) -> Fut<'a, Option<Serving>> {
        Box::pin(serving(ctx, spec, current))
    }
}

/// One function's alias in the environment's account.
struct Alias<'a> {
    client: Client,
    function: &'a str,
    name: &'a str,
    /// "profile `prod`, eu-west-1", for messages.
    place: String,
}

/// What an alias points at.
#[derive(Debug, Clone)]
struct AliasState {
    version: String,
    weights: HashMap<String, f64>,
    revision: Option<String>,
}

impl<'a> Alias<'a> {
    fn new(aws: &Aws, function: &'a str, name: &'a str) -> Alias<'a> {
        Alias {
            client: Client::new(&aws.config("LAMBDA")),
            function,
            name,
            place: aws.place(),
        }
    }

    /// An AWS error with the function and account it concerns.
    fn context(&self, error: String) -> String {
        format!("{error} (function `{}`, {})", self.function, self.place)
    }

    /// The alias as it is, `None` when it does not exist.
    async fn read(&self) -> Result<Option<AliasState>, String> {
        let answer = self
            .client
            .get_alias()
            .function_name(self.function)
            .name(self.name)
            .send()
            .with_subscriber(NoSubscriber::default())
            .await;
        match answer {
            Ok(out) => Ok(Some(AliasState {
                version: out.function_version().unwrap_or_default().to_string(),
                weights: out
                    .routing_config()
                    .and_then(|r| r.additional_version_weights())
                    .cloned()
                    .unwrap_or_default(),
                revision: out.revision_id().map(str::to_string),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.context(format!("GetAlias failed: {}", super::api_error(&e)))),
        }
    }

    /// Points the alias at `version`, sending `extra` (a version and its
    /// weight) the share it names, or nobody else anything. `revision`
    /// (the alias's last known RevisionId) makes the call fail if someone
    /// else moved the alias meanwhile. Returns the new RevisionId.
    async fn point(
        &self,
        version: &str,
        extra: Option<(&str, f64)>,
        revision: Option<&str>,
    ) -> Result<Option<String>, String> {
        let weights: HashMap<String, f64> =
            extra.map(|(v, w)| (v.to_string(), w)).into_iter().collect();
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(weights))
            .build();
        let out = call(
            "UpdateAlias",
            self.client
                .update_alias()
                .function_name(self.function)
                .name(self.name)
                .function_version(version)
                .routing_config(routing)
                .set_revision_id(revision.map(str::to_string))
                .send(),
        )
        .await
        .map_err(|e| self.context(e))?;
        Ok(out.revision_id().map(str::to_string))
    }

    /// Creates the alias on `version` (an environment's first deployment).
    async fn create(&self, version: &str) -> Result<Option<String>, String> {
        let out = call(
            "CreateAlias",
            self.client
                .create_alias()
                .function_name(self.function)
                .name(self.name)
                .function_version(version)
                .description("managed by Slipway")
                .send(),
        )
        .await
        .map_err(|e| self.context(e))?;
        Ok(out.revision_id().map(str::to_string))
    }
}

/// Deploys the job's revision (see the module's documentation).
async fn deploy(job: &Job<'_>) -> Result<(), Failure> {
    let ProviderSpec::Lambda {
        function,
        alias,
        package,
        hooks,
    } = &job.spec.provider
    else {
        return Err(Failure::of("not a `lambda` environment"));
    };
    let aws = Aws::of(job).await.map_err(Failure::of)?;
    let target = Alias::new(&aws, function, alias);
    let files = job.files().map_err(Failure::of)?;
    let appspec = appspec::read(&files).map_err(Failure::of)?;
    job.note(&format!(
        "deployment {} of {} to function `{function}` alias `{alias}` ({}, {})",
        job.record.id,
        short(&job.record.revision),
        target.place,
        job.record.strategy
    ));
    let version = match &appspec {
        Some(a) => {
            appspec::check(a, function, alias).map_err(Failure::of)?;
            job.note(&format!(
                "{} names version {}: shifting to it (no code uploaded)",
                a.file, a.function.target_version
            ));
            a.function.target_version.clone()
        }
        None => publish(job, &target, &files, package.as_deref()).await?,
    };
    job.check_stop()?;
    let before = target.read().await.map_err(failed)?;
    let previous = before.as_ref().map(|a| a.version.clone());
    if let Some(wanted) = appspec
        .as_ref()
        .and_then(|a| a.function.current_version.as_deref())
    {
        if previous.as_deref() != Some(wanted) {
            return Err(failed(format!(
                "the appspec's CurrentVersion is {wanted}, but alias `{alias}` serves {}",
                previous
                    .as_deref()
                    .map_or("nothing (it does not exist)".to_string(), |v| format!(
                        "version {v}"
                    ))
            )));
        }
    }
    job.made(&ProviderRecord::Lambda {
        function: function.clone(),
        alias: alias.clone(),
        version: version.clone(),
        previous: previous.clone(),
    });

    // Hooks see the version: `#{deploy.VERSION}` and SLIPWAY_LAMBDA_*.
    let (namespaces, variables) = hook_scope(job, function, alias, &version, previous.as_deref());
    let job = &Job {
        namespaces: &namespaces,
        variables: &variables,
        stop: job.stop.clone(),
        ..*job
    };
    let mut shift = Shift {
        alias: &target,
        new: &version,
        old: previous.clone(),
        revision: before.as_ref().and_then(|b| b.revision.clone()),
        moved: false,
        done: false,
    };
    let result = async {
        hook(job, "BeforeAllowTraffic", &hooks.before_allow_traffic).await?;
        if let Some(a) = &appspec {
            appspec::run_hooks(
                job,
                &target.client,
                a,
                "BeforeAllowTraffic",
                &version,
                previous.as_deref(),
            )
            .await?;
        }
        job.check_stop()?;
        shift.run(job, before.as_ref()).await?;
        hook(job, "AfterAllowTraffic", &hooks.after_allow_traffic).await?;
        if let Some(a) = &appspec {
            appspec::run_hooks(
                job,
                &target.client,
                a,
                "AfterAllowTraffic",
                &version,
                previous.as_deref(),
            )
            .await?;
        }
        bake(job, function).await
    }
    .await;
    if let Err(f) = &result {
        // Traffic never stays split; a stopped deployment goes back to
        // what served before. Other failures after the whole shift are
        // the deployer's to roll back.
        if shift.moved && (!shift.done || f.stopped) {
            shift.restore(job).await;
        }
    }
    result
}

/// Uploads the revision's code, waits for the update to finish and
/// publishes a version of it; returns the version.
async fn publish(
    job: &Job<'_>,
    target: &Alias<'_>,
    files: &std::path::Path,
    package: Option<&str>,
) -> Result<String, Failure> {
    let zip = package::bytes(files, package).map_err(Failure::of)?;
    let size = zip.len();
    let sha = aws_smithy_types::base64::encode(<sha2::Sha256 as sha2::Digest>::digest(&zip));
    let started = job.now();
    let uploaded = call(
        "UpdateFunctionCode",
        target
            .client
            .update_function_code()
            .function_name(target.function)
            .zip_file(Blob::new(zip))
            .send(),
    )
    .await
    .map_err(|e| target.context(e));
    job.event(
        target.function,
        "UpdateFunctionCode",
        started,
        &outcome("UpdateFunctionCode", &uploaded),
    );
    let uploaded = uploaded.map_err(failed)?;
    job.note(&format!(
        "uploaded {} ({size} bytes, CodeSha256 {sha})",
        package.unwrap_or("the artifact's files, zipped")
    ));
    wait_for_update(
        job,
        target,
        uploaded.last_update_status().cloned(),
        uploaded.last_update_status_reason().map(str::to_string),
    )
    .await?;
    let started = job.now();
    let published = call(
        "PublishVersion",
        target
            .client
            .publish_version()
            .function_name(target.function)
            .set_code_sha256(uploaded.code_sha256().map(str::to_string))
            .description(format!(
                "Slipway deployment {} of {}",
                job.record.id,
                short(&job.record.revision)
            ))
            .send(),
    )
    .await
    .map_err(|e| target.context(e))
    .and_then(|out| {
        out.version()
            .map(str::to_string)
            .ok_or_else(|| target.context("PublishVersion answered no version".into()))
    });
    job.event(
        target.function,
        "PublishVersion",
        started,
        &outcome("PublishVersion", &published),
    );
    let version = published.map_err(failed)?;
    job.note(&format!("published version {version}"));
    Ok(version)
}

/// Waits until the function's last update is `Successful` (Lambda applies
/// code asynchronously; publishing before then fails).
async fn wait_for_update(
    job: &Job<'_>,
    target: &Alias<'_>,
    mut status: Option<LastUpdateStatus>,
    mut reason: Option<String>,
) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + UPDATE_TIMEOUT;
    loop {
        match &status {
            None | Some(LastUpdateStatus::Successful) => return Ok(()),
            Some(LastUpdateStatus::Failed) => {
                return Err(failed(target.context(format!(
                    "the code update failed: {}",
                    reason.as_deref().unwrap_or("Lambda gave no reason")
                ))))
            }
            Some(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(failed(target.context(format!(
                "the code update was still in progress after {}s",
                UPDATE_TIMEOUT.as_secs()
            ))));
        }
        job.check_stop()?;
        tokio::time::sleep(UPDATE_POLL).await;
        let config = call(
            "GetFunctionConfiguration",
            target
                .client
                .get_function_configuration()
                .function_name(target.function)
                .send(),
        )
        .await
        .map_err(|e| failed(target.context(e)))?;
        status = config.last_update_status().cloned();
        reason = config.last_update_status_reason().map(str::to_string);
    }
}

/// The traffic shift of one deployment, and what it has done so far (to
/// undo a split that fails).
struct Shift<'a> {
    alias: &'a Alias<'a>,
    new: &'a str,
    /// The version that served before; `None` on the first deployment.
    old: Option<String>,
    revision: Option<String>,
    /// Some traffic reached the new version.
    moved: bool,
    /// All of it did.
    done: bool,
}

impl Shift<'_> {
    /// Moves the alias to the new version by the strategy's steps, each
    /// recorded as `AllowTraffic N%` and held while alarms are watched.
    async fn run(&mut self, job: &Job<'_>, before: Option<&AliasState>) -> Result<(), Failure> {
        let what = self.alias.function;
        let Some(old) = self.old.clone() else {
            let started = job.now();
            let created = self.alias.create(self.new).await;
            job.event(what, "AllowTraffic 100%", started, &whole(&created));
            self.revision = created.map_err(failed)?;
            job.note(&format!(
                "created alias `{}` → version {} (the first deployment: no shift)",
                self.alias.name, self.new
            ));
            self.moved = true;
            self.done = true;
            return Ok(());
        };
        if old == self.new {
            // Lambda publishes no new version for unchanged code: the alias
            // already serves it (any weights left elsewhere are cleared).
            let started = job.now();
            let result = match before.is_some_and(|b| b.weights.is_empty()) {
                true => Ok(self.revision.clone()),
                false => {
                    self.alias
                        .point(self.new, None, self.revision.as_deref())
                        .await
                }
            };
            job.event(what, "AllowTraffic 100%", started, &whole(&result));
            self.revision = result.map_err(failed)?;
            job.note(&format!(
                "alias `{}` already serves version {}",
                self.alias.name, self.new
            ));
            self.done = true;
            return Ok(());
        }
        for step in traffic::steps(job.strategy) {
            job.check_stop()?;
            let started = job.now();
            let pointed = match traffic::weight(step.percent) {
                Some(w) => {
                    self.alias
                        .point(&old, Some((self.new, w)), self.revision.as_deref())
                        .await
                }
                None => {
                    self.alias
                        .point(self.new, None, self.revision.as_deref())
                        .await
                }
            };
            job.event(
                what,
                &format!("AllowTraffic {}%", step.percent),
                started,
                &whole(&pointed),
            );
            self.revision = pointed.map_err(failed)?;
            self.moved = true;
            self.done = step.percent >= 100;
            job.note(&format!(
                "alias `{}`: {}% of requests to version {}{}",
                self.alias.name,
                step.percent,
                self.new,
                if step.hold.is_zero() {
                    String::new()
                } else {
                    format!(", holding {}s", step.hold.as_secs())
                }
            ));
            watch(job, step.hold).await?;
        }
        Ok(())
    }

    /// Puts every request back on the old version (best effort: a failure
    /// is logged and recorded, the deployment's own failure stands).
    async fn restore(&self, job: &Job<'_>) {
        let Some(old) = &self.old else { return };
        let started = job.now();
        let result = self.alias.point(old, None, None).await;
        job.event(
            self.alias.function,
            "BlockTraffic",
            started,
            &whole(&result),
        );
        if result.is_ok() {
            job.note(&format!(
                "alias `{}` back on version {old} (all requests)",
                self.alias.name
            ));
        }
    }
}

/// The bake: the environment's alarms watched for `bake` once all traffic
/// is on the new version.
async fn bake(job: &Job<'_>, what: &str) -> Result<(), Failure> {
    let Some(bake) = job.spec.bake.map(|b| b.as_std()).filter(|b| !b.is_zero()) else {
        return Ok(());
    };
    let started = job.now();
    let result = watch(job, bake).await;
    job.event(
        what,
        "Bake",
        started,
        &result.as_ref().map(|_| ()).map_err(|f| f.message.clone()),
    );
    result
}

/// The job's namespaces and variables plus the deployment's version:
/// `#{deploy.VERSION}`, `PREVIOUS_VERSION`, `FUNCTION`, `ALIAS`, and the
/// same as `SLIPWAY_LAMBDA_*` variables for hooks and alarm commands.
fn hook_scope(
    job: &Job<'_>,
    function: &str,
    alias: &str,
    version: &str,
    previous: Option<&str>,
) -> (Namespaces, Vec<(String, String)>) {
    let mut values = vec![
        ("FUNCTION", function.to_string()),
        ("ALIAS", alias.to_string()),
        ("VERSION", version.to_string()),
    ];
    if let Some(p) = previous {
        values.push(("PREVIOUS_VERSION", p.to_string()));
    }
    let mut namespaces = job.namespaces.clone();
    // Over the deployer's `deploy` values (REVISION, DEPLOYMENT_ID, …):
    // on a Lambda environment VERSION is the published version.
    let mut deploy = namespaces.namespace("deploy").cloned().unwrap_or_default();
    deploy.extend(values.iter().map(|(k, v)| (k.to_string(), v.clone())));
    namespaces.insert("deploy", deploy);
    let mut variables = job.variables.to_vec();
    variables.extend(
        values
            .into_iter()
            .map(|(k, v)| (format!("SLIPWAY_LAMBDA_{k}"), v)),
    );
    (namespaces, variables)
}

/// Points the alias at the restored deployment's version, all requests.
async fn roll_back(job: &Job<'_>) -> Result<(), String> {
    let target = job.restores.ok_or("a rollback names what it restores")?;
    let Some(ProviderRecord::Lambda {
        function,
        alias,
        version,
        ..
    }) = job.restored_record()
    else {
        return Err(format!(
            "deployment {} recorded no Lambda version to restore",
            target.id
        ));
    };
    let aws = Aws::of(job).await?;
    let lambda = Alias::new(&aws, &function, &alias);
    job.note(&format!(
        "rollback {} to version {version} of `{function}` (deployment {}, revision {})",
        job.record.id,
        target.id,
        short(&target.revision)
    ));
    let before = lambda.read().await?;
    let started = job.now();
    let result = match &before {
        Some(_) => lambda.point(&version, None, None).await,
        None => lambda.create(&version).await,
    };
    job.event(&function, "AllowTraffic 100%", started, &whole(&result));
    result?;
    job.note(&format!(
        "alias `{alias}` → version {version} (all requests)"
    ));
    job.made(&ProviderRecord::Lambda {
        function: function.clone(),
        alias: alias.clone(),
        version,
        previous: before.map(|b| b.version),
    });
    Ok(())
}

/// What the alias serves now, read from the account.
async fn serving(
    ctx: &Context,
    spec: &Environment,
    current: Option<&Deployment>,
) -> Option<Serving> {
    let ProviderSpec::Lambda {
        function, alias, ..
    } = &spec.provider
    else {
        return None;
    };
    let read_at = ctx.clock.now();
    let mut facts = vec![fact("function", function), fact("alias", alias)];
    let unknown = |facts: Vec<Fact>, error: String| Serving {
        summary: "unknown".into(),
        facts,
        traffic: Vec::new(),
        read_at,
        error: Some(error),
    };
    let aws = match Aws::for_account(&ctx.store, ctx.clock.as_ref(), &Account::of(spec)).await {
        Ok(aws) => aws,
        Err(e) => return Some(unknown(facts, e)),
    };
    let lambda = Alias::new(&aws, function, alias);
    let state = match lambda.read().await {
        Ok(Some(state)) => state,
        Ok(None) => {
            return Some(Serving {
                summary: format!("no alias {alias} yet"),
                facts,
                traffic: Vec::new(),
                read_at,
                error: None,
            })
        }
        Err(e) => return Some(unknown(facts, e)),
    };
    facts.push(fact("version", &state.version));
    // The served version's code, in one more call; left out if unreadable.
    if let Ok(config) = call(
        "GetFunctionConfiguration",
        lambda
            .client
            .get_function_configuration()
            .function_name(function)
            .qualifier(&state.version)
            .send(),
    )
    .await
    {
        if let Some(m) = config.last_modified() {
            facts.push(fact("last modified", m));
        }
        if let Some(sha) = config.code_sha256() {
            facts.push(fact("code sha256", sha));
        }
    }
    // Moved outside Slipway since its last successful deployment?
    let recorded = current.and_then(|d| {
        let detail = ctx.store.deployment(&d.id).ok().flatten()?;
        match detail.record? {
            ProviderRecord::Lambda { version, .. } => Some((d.id.clone(), version)),
            _ => None,
        }
    });
    if let Some((id, version)) = recorded.filter(|(_, v)| *v != state.version) {
        facts.push(fact(
            "recorded",
            &format!("deployment {id} made version {version}; the alias serves another"),
        ));
    }
    Some(Serving {
        summary: traffic::summary(alias, &state.version, &state.weights),
        traffic: traffic::shares(&state.version, &state.weights),
        facts,
        read_at,
        error: None,
    })
}

/// A call's result as the lifecycle event `event`'s: its error without
/// the "`event` failed: " that the event's own line already says.
fn outcome<T>(event: &str, result: &Result<T, String>) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err(e
            .strip_prefix(&format!("{event} failed: "))
            .unwrap_or(e)
            .to_string()),
    }
}

/// A result as a lifecycle event's, its error whole.
fn whole<T>(result: &Result<T, String>) -> Result<(), String> {
    result.as_ref().map(|_| ()).map_err(Clone::clone)
}

fn fact(label: &str, value: &str) -> Fact {
    Fact {
        label: label.into(),
        value: value.into(),
    }
}

/// A revision's first 12 characters, as lists show it.
fn short(revision: &str) -> &str {
    &revision[..revision.len().min(12)]
}
