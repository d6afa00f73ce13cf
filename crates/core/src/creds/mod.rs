//! Credentials: AWS profiles whose long-term keys live in the OS keychain,
//! the short-lived STS sessions made from them (AssumeRole chains with
//! ExternalId and MFA, GetSessionToken), the session cache, what a child
//! process acting in an environment's account receives, import from
//! `~/.aws`, and local secrets for buildspec references.
//!
//! This module owns every secret Slipway handles. It must never write one
//! to the database, a log, an error message, a file or a command line, and
//! never keep one anywhere but the keychain: without a reachable keychain it
//! fails with [`CredsError::KeychainUnavailable`] rather than fall back.
//! Secret values travel as [`SecretString`], whose `Debug` prints `***`.
//! It sits below `build`, `deploy` and `engine` and imports none of them.
//!
//! What the engine and the `command` deploy provider call: [`inject`] for
//! every process acting in an environment's [`Account`] (build, test and
//! `command` actions; the provider's deploy, verify and rollback commands),
//! and [`local_secrets`] for a build's secret references; [`account_session`]
//! for a client Slipway runs itself in an account (the deploy monitor's
//! CloudWatch alarms), with [`endpoint_from_env`] for where it sends. The
//! CLI's `creds` commands call [`session_env`] directly.

mod import;
mod inject;
mod interop;
mod keychain;
mod profile;
mod secrets;
mod session;
mod sts;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use import::{import, parse_aws_file, ImportReport, Imported, Skipped};
pub use inject::{account_session, inject, Account, AccountSession, InjectError};
pub use interop::{export_lines, process_json, rfc3339};
pub(crate) use profile::chain;
pub use profile::{
    add_keys, add_role, keys_from_input, remove, validate, Profile, DEFAULT_DURATION_SECONDS,
};
pub use secrets::{local_secrets, remove_secret, secret_names, set_secret};
pub use session::{
    cached_session_expiry, session, session_env, whoami, Identity, Injection, Session,
    REFRESH_MARGIN_MS,
};
pub use sts::{endpoint_from_env, sts_requests_sent};

use crate::store::StoreError;

/// Something the user can fix, with what to do in the message. No variant
/// ever carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("no OS keychain is reachable ({detail}). {hint}")]
    KeychainUnavailable { detail: String, hint: &'static str },
    #[error("the OS keychain refused: {detail}")]
    Keychain { detail: String },
    #[error("no profile named `{0}`: see `slipway creds list`")]
    UnknownProfile(String),
    #[error(
        "a profile named `{0}` already exists: remove it first with `slipway creds remove {0}`"
    )]
    DuplicateProfile(String),
    #[error("profile `{name}`: {reason}")]
    InvalidProfile { name: String, reason: String },
    #[error("profile `{name}` is the source of {}: remove or change those first", users.join(", "))]
    ProfileInUse { name: String, users: Vec<String> },
    #[error("profile `{0}` has no keys in the keychain: add them again with `slipway creds remove {0}` then `slipway creds add {0} --access-key-id …`")]
    MissingKeys(String),
    #[error("the source profiles loop: {0}")]
    ChainLoop(String),
    #[error("profile `{profile}` needs an MFA code for {serial}: pass --mfa-code or enter it when asked")]
    MfaRequired { profile: String, serial: String },
    #[error("an MFA code is 6 digits")]
    InvalidMfaCode,
    #[error("STS {operation} for profile `{profile}` failed: {message}")]
    Sts {
        profile: String,
        operation: &'static str,
        message: String,
    },
    #[error("a secret name is 1-256 letters, digits or / _ + = . @ - (got `{0}`)")]
    InvalidSecretName(String),
    #[error("no local secret named `{0}`: add it with `slipway secret set {0}`")]
    UnknownSecret(String),
    #[error("cannot read {path}: {message}")]
    ReadFile { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CredsError {
    /// A stable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            CredsError::KeychainUnavailable { .. } => "keychain_unavailable",
            CredsError::Keychain { .. } => "keychain",
            CredsError::UnknownProfile(_) => "unknown_profile",
            CredsError::DuplicateProfile(_) => "duplicate_profile",
            CredsError::InvalidProfile { .. } => "invalid_profile",
            CredsError::ProfileInUse { .. } => "profile_in_use",
            CredsError::MissingKeys(_) => "missing_keys",
            CredsError::ChainLoop(_) => "chain_loop",
            CredsError::MfaRequired { .. } => "mfa_required",
            CredsError::InvalidMfaCode => "invalid_mfa_code",
            CredsError::Sts { .. } => "sts",
            CredsError::InvalidSecretName(_) => "invalid_secret_name",
            CredsError::UnknownSecret(_) => "unknown_secret",
            CredsError::ReadFile { .. } => "read_file",
            CredsError::Store(_) => "store",
        }
    }
}

/// A secret value. `Debug` prints `***` and there is no `Display`, so a
/// secret cannot reach a log or an error by accident; reading it takes an
/// explicit [`SecretString::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> SecretString {
        SecretString(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A user's long-term access key pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

impl Keys {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("keys serialise")
    }

    fn from_json(json: &str) -> Option<Keys> {
        serde_json::from_str(json).ok()
    }
}

/// What a build's secret references may resolve to: local secrets by name.
pub type LocalSecrets = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let keys = Keys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SecretString::new("wJalrXUtnFEMI".into()),
        };
        assert!(!format!("{keys:?}").contains("wJalrXUtnFEMI"));
    }
}
