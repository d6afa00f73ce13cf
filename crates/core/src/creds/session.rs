//! Sessions: turning a profile into short-lived STS credentials, caching
//! them in the keychain until 5 minutes before they expire, and making sure
//! parallel callers needing the same profile cause one STS call.
//!
//! A keys profile's session comes from GetSessionToken (with MFA when it
//! names `mfa_serial`), so even a plain profile hands out short-lived
//! credentials. A role profile's comes from AssumeRole, signed by its
//! source: a keys source signs with its long-term keys, a role source with
//! its own (cached) session, so chains have any length. The MFA serial of a
//! hop is that of the profile being assumed.
//!
//! This module must never cache a session outside the keychain, nor hand
//! one profile's credentials to a caller that asked for another.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use super::keychain::{Item, Keychain};
use super::profile::{self, valid_session_name, Profile};
use super::sts::{self, AssumeRole, Mfa, Signer, DEFAULT_REGION};
use super::{CredsError, SecretString};
use crate::clock::{Clock, Millis};
use crate::store::Store;

/// A cached session is refreshed once it is this close to its expiry, so an
/// action never starts with credentials that die in its first minutes.
pub const REFRESH_MARGIN_MS: Millis = 5 * 60 * 1000;

/// Short-lived STS credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    /// Unix milliseconds.
    pub expiration: Millis,
}

impl Session {
    /// Whether it may still be handed out at `now`.
    pub fn usable_at(&self, now: Millis) -> bool {
        now < self.expiration - REFRESH_MARGIN_MS
    }

    fn signer(&self) -> Signer<'_> {
        Signer {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: Some(&self.session_token),
        }
    }
}

/// `whoami`: who STS says a profile's session is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// What an action's process receives: the variables to set, and the values
/// to mask in its log.
#[derive(Debug, Clone, Default)]
pub struct Injection {
    pub env: Vec<(String, String)>,
    pub secrets: Vec<String>,
    pub expiration: Millis,
}

/// The environment for an action acting as `profile`: exactly
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION` and `AWS_DEFAULT_REGION`, from that profile's session
/// (cached or new). `mfa` is a 6-digit code, needed only when the chain
/// names an MFA device and no usable session is cached.
pub async fn session_env(
    store: &Store,
    profile: &str,
    clock: &dyn Clock,
    mfa: Option<&str>,
) -> Result<Injection, CredsError> {
    let (s, region) = session_in_region(store, profile, clock, mfa).await?;
    Ok(Injection {
        env: vec![
            ("AWS_ACCESS_KEY_ID".into(), s.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                s.secret_access_key.expose().to_string(),
            ),
            (
                "AWS_SESSION_TOKEN".into(),
                s.session_token.expose().to_string(),
            ),
            ("AWS_REGION".into(), region.clone()),
            ("AWS_DEFAULT_REGION".into(), region),
        ],
        secrets: vec![
            s.access_key_id.clone(),
            s.secret_access_key.expose().to_string(),
            s.session_token.expose().to_string(),
        ],
        expiration: s.expiration,
    })
}

/// `profile`'s session (as [`session`] gives it) and the region its chain
/// names: what both a child process ([`session_env`]) and a client Slipway
/// runs itself in that account ([`super::account_session`]) act with.
pub(super) async fn session_in_region(
    store: &Store,
    profile: &str,
    clock: &dyn Clock,
    mfa: Option<&str>,
) -> Result<(Session, String), CredsError> {
    let chain = profile::chain(store, profile)?;
    let region = region_of(&chain).to_string();
    let s = session(store, profile, clock, mfa).await?;
    Ok((s, region))
}

/// `profile`'s session: the cached one while usable, else a new one.
pub async fn session(
    store: &Store,
    profile: &str,
    clock: &dyn Clock,
    mfa: Option<&str>,
) -> Result<Session, CredsError> {
    if let Some(code) = mfa {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CredsError::InvalidMfaCode);
        }
    }
    let keychain = Keychain::open(store)?;
    let chain = profile::chain(store, profile)?;
    let cx = Resolve {
        keychain: &keychain,
        clock,
        mfa,
        user: default_session_name(),
    };
    cx.session(&chain).await
}

/// When `profile`'s cached session ends, if one is cached: what a profile
/// list shows. Only the expiry leaves this function; the session's keys
/// stay in the keychain.
pub fn cached_session_expiry(store: &Store, profile: &str) -> Result<Option<Millis>, CredsError> {
    let keychain = Keychain::open(store)?;
    Ok(keychain
        .get(Item::Session, profile)?
        .and_then(|json| serde_json::from_str::<Session>(&json).ok())
        .map(|s| s.expiration))
}

/// GetCallerIdentity signed with `profile`'s session.
pub async fn whoami(
    store: &Store,
    profile: &str,
    clock: &dyn Clock,
    mfa: Option<&str>,
) -> Result<Identity, CredsError> {
    let chain = profile::chain(store, profile)?;
    let s = session(store, profile, clock, mfa).await?;
    sts::caller_identity(&s.signer(), profile, region_of(&chain)).await
}

/// The first region named from the profile down its chain.
fn region_of(chain: &[Profile]) -> &str {
    chain
        .iter()
        .find_map(|p| p.region.as_deref())
        .unwrap_or(DEFAULT_REGION)
}

/// RoleSessionName when a profile names none: `slipway-<login>`, so
/// CloudTrail says which person acted.
fn default_session_name() -> String {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "user".into());
    let clean: String = login
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
        .collect();
    let name = format!("slipway-{clean}");
    let name: String = name.chars().take(64).collect();
    if valid_session_name(&name) {
        name
    } else {
        "slipway".into()
    }
}

/// One lock per (keychain scope, profile) in this process: whoever holds it
/// is the only one who may call STS for that profile, and the others then
/// find its session in the cache.
fn flight(scope_key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static FLIGHTS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut map = FLIGHTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(scope_key.to_string()).or_default().clone()
}

struct Resolve<'a> {
    keychain: &'a Keychain,
    clock: &'a dyn Clock,
    mfa: Option<&'a str>,
    user: String,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, CredsError>> + Send + 'a>>;

impl<'a> Resolve<'a> {
    /// The session of `chain[0]`; `chain[1..]` are its sources.
    fn session<'b>(&'b self, chain: &'b [Profile]) -> Boxed<'b, Session> {
        Box::pin(async move {
            let p = &chain[0];
            let lock = flight(&format!("{}/{}", self.keychain.scope(), p.name));
            let _held = lock.lock().await;
            if let Some(cached) = self.cached(&p.name)? {
                if cached.usable_at(self.clock.now()) {
                    return Ok(cached);
                }
            }
            let mfa = self.mfa_for(p)?;
            let region = region_of(chain);
            let fresh = match &p.role_arn {
                None => {
                    let keys = profile::keys(self.keychain, &p.name)?;
                    let signer = Signer {
                        access_key_id: &keys.access_key_id,
                        secret_access_key: &keys.secret_access_key,
                        session_token: None,
                    };
                    sts::get_session_token(&signer, &p.name, region, p.duration(), mfa).await?
                }
                Some(role_arn) => {
                    let source = &chain[1..];
                    let req = AssumeRole {
                        profile: &p.name,
                        region,
                        role_arn,
                        session_name: p.session_name.as_deref().unwrap_or(&self.user),
                        external_id: p.external_id.as_deref(),
                        duration_seconds: p.duration(),
                        mfa,
                    };
                    if source[0].is_role() {
                        let s = self.session(source).await?;
                        sts::assume_role(&s.signer(), &req).await?
                    } else {
                        let keys = profile::keys(self.keychain, &source[0].name)?;
                        let signer = Signer {
                            access_key_id: &keys.access_key_id,
                            secret_access_key: &keys.secret_access_key,
                            session_token: None,
                        };
                        sts::assume_role(&signer, &req).await?
                    }
                }
            };
            self.keychain.set(
                Item::Session,
                &p.name,
                &serde_json::to_string(&fresh).expect("session serialises"),
            )?;
            Ok(fresh)
        })
    }

    fn cached(&self, name: &str) -> Result<Option<Session>, CredsError> {
        // An unreadable cache entry (an older format) is simply refreshed.
        Ok(self
            .keychain
            .get(Item::Session, name)?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    fn mfa_for<'p>(&'p self, p: &'p Profile) -> Result<Option<Mfa<'p>>, CredsError> {
        let Some(serial) = p.mfa_serial.as_deref() else {
            return Ok(None);
        };
        let code = self.mfa.ok_or_else(|| CredsError::MfaRequired {
            profile: p.name.clone(),
            serial: serial.to_string(),
        })?;
        Ok(Some(Mfa { serial, code }))
    }
}
