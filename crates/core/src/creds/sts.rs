//! The STS client boundary: AssumeRole, GetSessionToken and
//! GetCallerIdentity through aws-sdk-sts, with the endpoint taken from the
//! standard `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` variables.
//!
//! Every request Slipway sends to STS passes through here and is counted
//! ([`sts_requests_sent`]). The SDK's own tracing is silenced while a
//! request runs: at debug/trace level it prints the resolved identity
//! (access key ids) and request headers (the session token's signature
//! scope), which must not reach Slipway's logs whatever `SLIPWAY_LOG` says. This module must never read the user's
//! `~/.aws` files or environment credentials: it signs only with what the
//! caller hands it, so an action gets exactly its own profile's account.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sts::error::DisplayErrorContext;
use aws_sdk_sts::Client;
use tracing::instrument::WithSubscriber;
use tracing::subscriber::NoSubscriber;

use super::session::{Identity, Session};
use super::{CredsError, SecretString};

/// STS's global endpoint lives in us-east-1; used when no profile in a
/// chain names a region.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// How many STS requests this process has sent: the session cache's
/// success is measured by this staying low.
pub fn sts_requests_sent() -> u64 {
    REQUESTS.load(Ordering::SeqCst)
}

/// What a request is signed with: long-term keys or a session.
pub(crate) struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a SecretString,
    pub session_token: Option<&'a SecretString>,
}

/// SerialNumber and TokenCode, already checked to be a 6-digit code.
pub(crate) struct Mfa<'a> {
    pub serial: &'a str,
    pub code: &'a str,
}

/// The endpoint the standard variables name for a service, if any:
/// `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `STS`, `CLOUDWATCH`), else
/// `AWS_ENDPOINT_URL`; none when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is
/// true. The service-specific one wins, as in the AWS SDKs and CLI. Every
/// AWS client Slipway builds takes its endpoint from here (its SDK configs
/// are built by hand, not by aws-config's loader, so no `~/.aws` file is
/// read).
pub fn endpoint_from_env(service: &str) -> Option<String> {
    let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .map(|v| v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    if ignore {
        return None;
    }
    [
        format!("AWS_ENDPOINT_URL_{service}"),
        "AWS_ENDPOINT_URL".into(),
    ]
    .iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|v| !v.is_empty())
}

fn client(signer: &Signer<'_>, region: &str) -> Client {
    let credentials = Credentials::new(
        signer.access_key_id,
        signer.secret_access_key.expose(),
        signer.session_token.map(|t| t.expose().to_string()),
        None,
        "slipway",
    );
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(credentials);
    if let Some(url) = endpoint_from_env("STS") {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

fn sts_error<E>(profile: &str, operation: &'static str, e: E) -> CredsError
where
    E: std::error::Error,
{
    // STS's error responses and the SDK's dispatch errors name the request
    // and the endpoint, never the signing secret.
    CredsError::Sts {
        profile: profile.to_string(),
        operation,
        message: DisplayErrorContext(e).to_string(),
    }
}

fn session_from(
    profile: &str,
    operation: &'static str,
    c: Option<&aws_sdk_sts::types::Credentials>,
) -> Result<Session, CredsError> {
    let c = c.ok_or_else(|| CredsError::Sts {
        profile: profile.to_string(),
        operation,
        message: "the response held no credentials".into(),
    })?;
    Ok(Session {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: SecretString::new(c.secret_access_key().to_string()),
        session_token: SecretString::new(c.session_token().to_string()),
        expiration: c.expiration().to_millis().unwrap_or(0),
    })
}

pub(crate) struct AssumeRole<'a> {
    pub profile: &'a str,
    pub region: &'a str,
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub external_id: Option<&'a str>,
    pub duration_seconds: i64,
    pub mfa: Option<Mfa<'a>>,
}

pub(crate) async fn assume_role(
    signer: &Signer<'_>,
    req: &AssumeRole<'_>,
) -> Result<Session, CredsError> {
    REQUESTS.fetch_add(1, Ordering::SeqCst);
    tracing::debug!(
        profile = req.profile,
        role_arn = req.role_arn,
        "STS AssumeRole"
    );
    let out = client(signer, req.region)
        .assume_role()
        .role_arn(req.role_arn)
        .role_session_name(req.session_name)
        .duration_seconds(req.duration_seconds as i32)
        .set_external_id(req.external_id.map(str::to_string))
        .set_serial_number(req.mfa.as_ref().map(|m| m.serial.to_string()))
        .set_token_code(req.mfa.as_ref().map(|m| m.code.to_string()))
        .send()
        .with_subscriber(NoSubscriber::default())
        .await
        .map_err(|e| sts_error(req.profile, "AssumeRole", e))?;
    session_from(req.profile, "AssumeRole", out.credentials())
}

pub(crate) async fn get_session_token(
    signer: &Signer<'_>,
    profile: &str,
    region: &str,
    duration_seconds: i64,
    mfa: Option<Mfa<'_>>,
) -> Result<Session, CredsError> {
    REQUESTS.fetch_add(1, Ordering::SeqCst);
    let out = client(signer, region)
        .get_session_token()
        .duration_seconds(duration_seconds as i32)
        .set_serial_number(mfa.as_ref().map(|m| m.serial.to_string()))
        .set_token_code(mfa.as_ref().map(|m| m.code.to_string()))
        .send()
        .with_subscriber(NoSubscriber::default())
        .await
        .map_err(|e| sts_error(profile, "GetSessionToken", e))?;
    session_from(profile, "GetSessionToken", out.credentials())
}

pub(crate) async fn caller_identity(
    signer: &Signer<'_>,
    profile: &str,
    region: &str,
) -> Result<Identity, CredsError> {
    REQUESTS.fetch_add(1, Ordering::SeqCst);
    let out = client(signer, region)
        .get_caller_identity()
        .send()
        .with_subscriber(NoSubscriber::default())
        .await
        .map_err(|e| sts_error(profile, "GetCallerIdentity", e))?;
    Ok(Identity {
        account: out.account().unwrap_or_default().to_string(),
        arn: out.arn().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}
