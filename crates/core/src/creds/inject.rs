//! Credential injection: the variables and masks a child process gets for
//! the account it acts in. Every process Slipway starts on an environment's
//! behalf — a build, test or `command` action naming an environment, and
//! the `command` deploy provider's `deploy`, `verify` and `rollback` lists —
//! receives its credentials here and nowhere else.
//!
//! An [`Account`] is what an environment names: a credential profile and a
//! region. The child gets exactly that profile's session as
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, the
//! region (the environment's, else the profile chain's) as `AWS_REGION` and
//! `AWS_DEFAULT_REGION`, and each credential value as a mask for its log.
//! The injected variables replace any of the same name the caller already
//! had (the pipeline's variables cannot override them).
//!
//! This module must never hand a child another profile's session than the
//! one its account names, never inject a credential without masking it, and
//! never put a value anywhere but the child's environment and mask list. It
//! knows nothing of builds, deployments or the engine: callers pass their
//! own variable and mask lists.
//!
//! A client Slipway runs itself in an account (the deploy monitor's
//! CloudWatch reads) gets the same session and region, as SDK credentials,
//! from [`account_session`]: there is no second credential path.

use aws_sdk_sts::config::Credentials;

use super::session::{session_env, session_in_region, Injection, REFRESH_MARGIN_MS};
use super::CredsError;
use crate::clock::{Clock, Millis};
use crate::spec::pipeline::Environment;
use crate::store::Store;

/// The account a child process acts in: the credential profile whose
/// session it gets, and the region it works in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl Account {
    /// The account an environment names (`account:` and `region:`).
    pub fn of(environment: &Environment) -> Account {
        Account {
            profile: environment.account.clone(),
            region: environment.region.clone(),
        }
    }
}

/// A profile's session could not be had for a child: the child must not
/// run without it.
#[derive(Debug, thiserror::Error)]
#[error("credentials of profile `{profile}`: {source}")]
pub struct InjectError {
    pub profile: String,
    pub source: CredsError,
}

/// Adds to a child's `env` and `masks` what it gets for `account`: the
/// profile's session (cached or new; no MFA code can be asked for here) and
/// the region. An account naming neither leaves both lists as they are.
pub async fn inject(
    store: &Store,
    clock: &dyn Clock,
    account: &Account,
    env: &mut Vec<(String, String)>,
    masks: &mut Vec<String>,
) -> Result<(), InjectError> {
    let session = match &account.profile {
        Some(profile) => Some(session_env(store, profile, clock, None).await.map_err(
            |source| InjectError {
                profile: profile.clone(),
                source,
            },
        )?),
        None => None,
    };
    apply(session, account.region.as_deref(), env, masks);
    Ok(())
}

/// What a client Slipway runs itself in an account signs with (the deploy
/// monitor reading CloudWatch alarms): the same session and region a child
/// process acting in that account gets from [`inject`], as the AWS SDK's
/// credentials. `Debug` shows no secret (the SDK's `Credentials` redacts
/// them), and nothing here is ever written anywhere.
#[derive(Debug, Clone)]
pub struct AccountSession {
    pub profile: String,
    /// The account's region, else the profile chain's.
    pub region: String,
    pub credentials: Credentials,
    /// When the session ends (Unix milliseconds).
    pub expiration: Millis,
}

impl AccountSession {
    /// Whether it may still be used at `now` (the session cache's margin).
    pub fn usable_at(&self, now: Millis) -> bool {
        now < self.expiration - REFRESH_MARGIN_MS
    }
}

/// `account`'s session for a client Slipway runs itself (cached or new; no
/// MFA code can be asked for here); `None` when the account names no
/// profile. The one credential path is the same as [`inject`]'s.
pub async fn account_session(
    store: &Store,
    clock: &dyn Clock,
    account: &Account,
) -> Result<Option<AccountSession>, InjectError> {
    let Some(profile) = &account.profile else {
        return Ok(None);
    };
    let (s, chain_region) = session_in_region(store, profile, clock, None)
        .await
        .map_err(|source| InjectError {
            profile: profile.clone(),
            source,
        })?;
    Ok(Some(AccountSession {
        profile: profile.clone(),
        region: account.region.clone().unwrap_or(chain_region),
        credentials: Credentials::new(
            s.access_key_id.clone(),
            s.secret_access_key.expose(),
            Some(s.session_token.expose().to_string()),
            None,
            "slipway",
        ),
        expiration: s.expiration,
    }))
}

const REGION_VARS: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// Puts a session's variables (over any of the same name) and masks in,
/// then the account's region over the session's.
fn apply(
    session: Option<Injection>,
    region: Option<&str>,
    env: &mut Vec<(String, String)>,
    masks: &mut Vec<String>,
) {
    if let Some(injection) = session {
        env.retain(|(name, _)| !injection.env.iter().any(|(n, _)| n == name));
        env.extend(injection.env);
        masks.extend(injection.secrets);
    }
    if let Some(region) = region {
        env.retain(|(name, _)| !REGION_VARS.contains(&name.as_str()));
        for name in REGION_VARS {
            env.push((name.to_string(), region.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Injection {
        let pairs = [
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ];
        Injection {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secrets: vec!["ASIAEXAMPLE".into(), "secret".into(), "token".into()],
            expiration: 0,
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        env.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn no_account_changes_nothing() {
        let mut env = vec![("A".to_string(), "1".to_string())];
        let mut masks = Vec::new();
        apply(None, None, &mut env, &mut masks);
        assert_eq!(env, vec![("A".to_string(), "1".to_string())]);
        assert!(masks.is_empty());
    }

    #[test]
    fn the_session_replaces_variables_of_the_same_name_and_is_masked() {
        let mut env = vec![
            (
                "AWS_ACCESS_KEY_ID".to_string(),
                "from-the-pipeline".to_string(),
            ),
            ("KEEP".to_string(), "yes".to_string()),
        ];
        let mut masks = vec!["earlier".to_string()];
        apply(Some(session()), None, &mut env, &mut masks);
        assert_eq!(get(&env, "AWS_ACCESS_KEY_ID"), ["ASIAEXAMPLE"]);
        assert_eq!(get(&env, "AWS_REGION"), ["us-east-1"]);
        assert_eq!(get(&env, "KEEP"), ["yes"]);
        assert_eq!(masks, ["earlier", "ASIAEXAMPLE", "secret", "token"]);
    }

    #[test]
    fn the_accounts_region_wins_over_the_profiles() {
        let mut env = vec![("AWS_REGION".to_string(), "from-the-pipeline".to_string())];
        let mut masks = Vec::new();
        apply(Some(session()), Some("eu-west-1"), &mut env, &mut masks);
        assert_eq!(get(&env, "AWS_REGION"), ["eu-west-1"]);
        assert_eq!(get(&env, "AWS_DEFAULT_REGION"), ["eu-west-1"]);
    }

    #[test]
    fn a_region_alone_sets_only_the_region() {
        let mut env = vec![("AWS_DEFAULT_REGION".to_string(), "old".to_string())];
        let mut masks = Vec::new();
        apply(None, Some("ap-south-1"), &mut env, &mut masks);
        assert_eq!(
            env,
            vec![
                ("AWS_REGION".to_string(), "ap-south-1".to_string()),
                ("AWS_DEFAULT_REGION".to_string(), "ap-south-1".to_string()),
            ]
        );
        assert!(masks.is_empty());
    }
}
