//! Local secrets: named values a user keeps in the keychain so buildspec
//! `secrets-manager` and `parameter-store` references resolve on this
//! machine. Names (metadata) are in the database so they can be listed
//! without unlocking anything; values only in the keychain.
//!
//! This module must never return a value in an error, nor store one outside
//! the keychain.

use super::keychain::{Item, Keychain};
use super::{CredsError, LocalSecrets, SecretString};
use crate::clock::Millis;
use crate::store::Store;

/// The characters Secrets Manager and Parameter Store allow in names, so a
/// buildspec's reference can be used as the local name unchanged.
fn valid_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

/// Sets (or replaces) the secret `name`.
pub fn set_secret(
    store: &Store,
    name: &str,
    value: &SecretString,
    now: Millis,
) -> Result<(), CredsError> {
    if !valid_name(name) {
        return Err(CredsError::InvalidSecretName(name.to_string()));
    }
    Keychain::open(store)?.set(Item::Secret, name, value.expose())?;
    store.put_local_secret_name(name, now)?;
    Ok(())
}

/// Removes the secret `name` from the keychain and the list.
pub fn remove_secret(store: &Store, name: &str) -> Result<(), CredsError> {
    if !store.local_secret_names()?.iter().any(|(n, _)| n == name) {
        return Err(CredsError::UnknownSecret(name.to_string()));
    }
    Keychain::open(store)?.delete(Item::Secret, name)?;
    store.remove_local_secret_name(name)?;
    Ok(())
}

/// Every local secret's name and when it was last set.
pub fn secret_names(store: &Store) -> Result<Vec<(String, Millis)>, CredsError> {
    Ok(store.local_secret_names()?)
}

/// Every local secret with its value, for a build's references. A name
/// whose keychain item has gone (deleted in the keychain app) is an error
/// naming it, never an empty value.
pub fn local_secrets(store: &Store) -> Result<LocalSecrets, CredsError> {
    let names = store.local_secret_names()?;
    let mut out = LocalSecrets::new();
    if names.is_empty() {
        return Ok(out);
    }
    let keychain = Keychain::open(store)?;
    for (name, _) in names {
        let value = keychain
            .get(Item::Secret, &name)?
            .ok_or_else(|| CredsError::UnknownSecret(name.clone()))?;
        out.insert(name, value);
    }
    Ok(out)
}
