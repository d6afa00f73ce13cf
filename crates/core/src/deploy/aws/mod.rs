//! What the AWS providers share: the account's session as SDK
//! configuration, AWS errors in words, traffic hooks run with the session,
//! and the alarm watch while traffic moves and during the bake.
//!
//! Every AWS client is built from [`Aws::config`]: the environment's
//! `account` session (from [`creds::account_session`], the one credential
//! path), its region, and the endpoint the standard variables name for the
//! service (`AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`). No
//! `~/.aws` file is read.
//!
//! Nothing here may put a credential in a message or a log: errors carry
//! the call, the API's error code and its message, and the SDK's own
//! tracing (which prints access key ids and signatures at debug level) is
//! silenced while a call runs ([`quiet`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::command::CommandContext;
use super::monitor::{self, Failure, Watch};
use super::provider::Job;
use crate::creds::{self, Account, AccountSession};
use crate::model::Namespaces;
use crate::spec::pipeline::RollbackOn;

pub mod cloudformation;
pub mod ecs;
pub mod lambda;
pub mod s3;

/// The most one API call may take, retries included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// An environment's account, as SDK configuration.
pub struct Aws {
    pub session: AccountSession,
}

impl Aws {
    /// The session of the job's environment's account.
    pub async fn of(job: &Job<'_>) -> Result<Aws, String> {
        Aws::for_account(
            &job.ctx.store,
            job.ctx.clock.as_ref(),
            &Account::of(job.spec),
        )
        .await
    }

    pub async fn for_account(
        store: &crate::store::Store,
        clock: &dyn crate::clock::Clock,
        account: &Account,
    ) -> Result<Aws, String> {
        let session = creds::account_session(store, clock, account)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the environment names no `account` (the profile whose session deploys)")?;
        Ok(Aws { session })
    }

    /// Configuration for `service`'s client (`LAMBDA`, `S3`, … as in
    /// `AWS_ENDPOINT_URL_<SERVICE>`).
    pub fn config(&self, service: &str) -> SdkConfig {
        let mut b = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.session.region.clone()))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    self.session.credentials.clone(),
                ),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(CALL_TIMEOUT)
                    .build(),
            );
        if let Some(url) = creds::endpoint_from_env(service) {
            b = b.endpoint_url(url);
        }
        b.build()
    }

    /// Where calls go, for messages: "profile `prod`, eu-west-1".
    pub fn place(&self) -> String {
        format!(
            "profile `{}`, {}",
            self.session.profile, self.session.region
        )
    }
}

/// Runs an SDK call with the SDK's own tracing silenced, and turns its
/// error into words naming `call` (the API operation).
pub async fn call<T, E, F>(call: &str, f: F) -> Result<T, String>
where
    F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    f.with_subscriber(NoSubscriber::default())
        .await
        .map_err(|e| format!("{call} failed: {}", api_error(&e)))
}

/// A failed call in words: the API's error code and message when it
/// answered with one, else what kept the answer away. Never the request
/// (its signature) nor the raw response.
pub fn api_error<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => return format!("{code}: {message}"),
        (Some(code), None) => return code.to_string(),
        _ => {}
    }
    match e {
        SdkError::TimeoutError(_) => format!("no answer within {}s", CALL_TIMEOUT.as_secs()),
        SdkError::DispatchFailure(d) => match d.as_connector_error() {
            Some(c) => format!("cannot reach AWS: {}", chain(c)),
            None => "the request was not sent".into(),
        },
        SdkError::ServiceError(s) => {
            format!("HTTP {} with no AWS error code", s.raw().status().as_u16())
        }
        SdkError::ResponseError(r) => {
            format!("an unreadable answer (HTTP {})", r.raw().status().as_u16())
        }
        _ => chain(e),
    }
}

/// An error and its sources, each by its `Display` (no `Debug` dump).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Runs one of the environment's traffic hooks (`before-allow-traffic`,
/// `after-allow-traffic`) in the revision's files, with the account's
/// session injected as the standard AWS_* variables; records it as a
/// lifecycle event named `event` (BeforeAllowTraffic, AfterAllowTraffic).
pub async fn hook(job: &Job<'_>, event: &str, commands: &[String]) -> Result<(), Failure> {
    if commands.is_empty() {
        return Ok(());
    }
    let started = job.now();
    let workdir = job.files().map_err(Failure::of)?;
    let result = CommandContext::of(job, workdir).run(event, commands).await;
    job.event("hooks", event, started, &result);
    result.map_err(Failure::of)
}

/// Watches the environment's alarms (`cloudwatch:` and `command:`) for
/// `how_long`: the first alarm ends it. A stop ends it too.
pub async fn watch(job: &Job<'_>, how_long: Duration) -> Result<(), Failure> {
    if how_long.is_zero() {
        return job.check_stop();
    }
    let mut env = job.variables.to_vec();
    env.push(("SLIPWAY_ENVIRONMENT".into(), job.spec.name.clone()));
    env.push(("SLIPWAY_DEPLOYMENT_ID".into(), job.record.id.clone()));
    let mut watch = Watch {
        instances: Vec::new(),
        router: None,
        set: None,
        alarms: &job.spec.alarms,
        dir: job.files().unwrap_or_else(|_| job.ctx.data_dir.clone()),
        env: Arc::new(env),
        stop: job.stop.clone(),
        cloudwatch: monitor::cloudwatch_of(
            job.spec,
            Some(job.ctx.store.clone()),
            job.ctx.clock.clone(),
        ),
    };
    watch.run(how_long).await
}

/// A failure the provider's calls reported: `auto-rollback: failure`.
pub fn failed(message: impl Into<String>) -> Failure {
    Failure {
        cause: RollbackOn::Failure,
        message: message.into(),
        stopped: false,
    }
}

/// `text` with `#{…}` resolved from the job's namespaces.
pub fn substitute(namespaces: &Namespaces, text: &str) -> Result<String, String> {
    namespaces.substitute(text).map_err(|e| e.to_string())
}
