//! Profiles: adding, listing and removing them, and following a role
//! profile's `source_profile` links down to the keys that start its chain.
//!
//! Metadata goes to the database, keys to the keychain; this module must
//! never write a key anywhere else, nor accept one it cannot keep.

use super::keychain::{Item, Keychain};
use super::{CredsError, Keys, SecretString};
use crate::store::Store;

/// STS's own limits on DurationSeconds (AssumeRole: 15 min to 12 h).
pub const MIN_DURATION_SECONDS: i64 = 900;
pub const MAX_DURATION_SECONDS: i64 = 43_200;
pub use crate::store::{Profile, DEFAULT_DURATION_SECONDS};

/// Checks what a user typed before anything is stored.
pub fn validate(p: &Profile) -> Result<(), CredsError> {
    let bad = |reason: String| CredsError::InvalidProfile {
        name: p.name.clone(),
        reason,
    };
    if p.name.is_empty()
        || p.name.len() > 64
        || !p
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@+=".contains(&b))
    {
        return Err(bad(
            "a profile name is 1-64 letters, digits or - _ . @ + =".into()
        ));
    }
    if let Some(arn) = &p.role_arn {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6
            || parts[0] != "arn"
            || parts[2] != "iam"
            || !parts[5].starts_with("role/")
        {
            return Err(bad(format!(
                "`{arn}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            )));
        }
    }
    if p.role_arn.is_some() != p.source_profile.is_some() {
        return Err(bad(
            "a role profile needs both --role-arn and --source".into()
        ));
    }
    if let Some(d) = p.duration_seconds {
        if !(MIN_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&d) {
            return Err(bad(format!(
                "--duration {d} is outside STS's {MIN_DURATION_SECONDS}..{MAX_DURATION_SECONDS} seconds"
            )));
        }
    }
    if let Some(s) = &p.session_name {
        if !valid_session_name(s) {
            return Err(bad(format!(
                "session name `{s}` must be 2-64 letters, digits or + = , . @ -"
            )));
        }
    }
    if let Some(e) = &p.external_id {
        if e.len() < 2 || e.len() > 1224 {
            return Err(bad("an external id is 2-1224 characters".into()));
        }
    }
    Ok(())
}

/// STS's RoleSessionName pattern: `[\w+=,.@-]{2,64}`.
pub(crate) fn valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// Adds a profile holding a user's own keys: the keys go to the keychain
/// first, so a profile never exists without its keys.
pub fn add_keys(store: &Store, profile: &Profile, keys: &Keys) -> Result<(), CredsError> {
    validate(profile)?;
    if profile.is_role() {
        return Err(CredsError::InvalidProfile {
            name: profile.name.clone(),
            reason: "a profile with keys has no --role-arn".into(),
        });
    }
    if keys.access_key_id.is_empty() || keys.secret_access_key.expose().is_empty() {
        return Err(CredsError::InvalidProfile {
            name: profile.name.clone(),
            reason: "the access key id and the secret access key must not be empty".into(),
        });
    }
    if store.profile(&profile.name)?.is_some() {
        return Err(CredsError::DuplicateProfile(profile.name.clone()));
    }
    let keychain = Keychain::open(store)?;
    keychain.set(Item::Keys, &profile.name, &keys.to_json())?;
    keychain.delete(Item::Session, &profile.name)?;
    if !store.add_profile(profile)? {
        return Err(CredsError::DuplicateProfile(profile.name.clone()));
    }
    Ok(())
}

/// Adds a role profile; its source must exist and the chain must not loop.
pub fn add_role(store: &Store, profile: &Profile) -> Result<(), CredsError> {
    validate(profile)?;
    let Some(source) = &profile.source_profile else {
        return Err(CredsError::InvalidProfile {
            name: profile.name.clone(),
            reason: "a role profile needs --source".into(),
        });
    };
    if store.profile(source)?.is_none() {
        return Err(CredsError::UnknownProfile(source.clone()));
    }
    if !store.add_profile(profile)? {
        return Err(CredsError::DuplicateProfile(profile.name.clone()));
    }
    // A stale cached session from an earlier profile of that name must not
    // be served for this one.
    Keychain::open(store)?.delete(Item::Session, &profile.name)?;
    Ok(())
}

/// Removes a profile, its keys and its cached session. Refused while a role
/// profile still uses it as its source.
pub fn remove(store: &Store, name: &str) -> Result<(), CredsError> {
    if store.profile(name)?.is_none() {
        return Err(CredsError::UnknownProfile(name.to_string()));
    }
    let users = store.profiles_sourced_from(name)?;
    if !users.is_empty() {
        return Err(CredsError::ProfileInUse {
            name: name.to_string(),
            users,
        });
    }
    let keychain = Keychain::open(store)?;
    keychain.delete(Item::Keys, name)?;
    keychain.delete(Item::Session, name)?;
    store.remove_profile(name)?;
    Ok(())
}

/// The profiles from `name` down to the one holding keys: `[name, source,
/// …, root]`.
pub(crate) fn chain(store: &Store, name: &str) -> Result<Vec<Profile>, CredsError> {
    let mut out: Vec<Profile> = Vec::new();
    let mut next = Some(name.to_string());
    while let Some(n) = next {
        if out.iter().any(|p| p.name == n) {
            let names: Vec<String> = out.iter().map(|p| p.name.clone()).collect();
            return Err(CredsError::ChainLoop(names.join(" -> ") + " -> " + &n));
        }
        let p = store
            .profile(&n)?
            .ok_or_else(|| CredsError::UnknownProfile(n.clone()))?;
        next = p.source_profile.clone();
        out.push(p);
    }
    Ok(out)
}

/// The long-term keys of a keys profile.
pub(crate) fn keys(keychain: &Keychain, name: &str) -> Result<Keys, CredsError> {
    let json = keychain
        .get(Item::Keys, name)?
        .ok_or_else(|| CredsError::MissingKeys(name.to_string()))?;
    Keys::from_json(&json).ok_or_else(|| CredsError::Keychain {
        detail: format!("the keys of `{name}` in the keychain are not Slipway's format"),
    })
}

/// Builds `Keys` from what the user typed, trimming the newline a pipe adds.
pub fn keys_from_input(access_key_id: &str, secret: String) -> Keys {
    let secret = secret.trim_end_matches(['\r', '\n']).to_string();
    Keys {
        access_key_id: access_key_id.trim().to_string(),
        secret_access_key: SecretString::new(secret),
    }
}
