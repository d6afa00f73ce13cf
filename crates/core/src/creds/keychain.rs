//! The OS keychain, through the `keyring` crate's real backends (macOS
//! Keychain, Windows Credential Manager, the Secret Service on Linux). This
//! module owns the names of Slipway's keychain items and turns "no keychain
//! here" into an error that says what to install or start.
//!
//! It must never fall back to memory or a file: a secret that cannot be
//! kept in the keychain is refused, not kept somewhere weaker. It must never
//! put a secret value into an error, a log line or the database.

use keyring::Entry;

use super::CredsError;
use crate::store::Store;

/// Every item's service attribute: what the user sees in their keychain app.
const SERVICE: &str = "slipway";

/// What a keychain item holds, which is also part of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    /// A profile's long-term access key pair (JSON).
    Keys,
    /// A profile's cached STS session and its expiry (JSON).
    Session,
    /// A local secret's value.
    Secret,
}

impl Item {
    fn word(self) -> &'static str {
        match self {
            Item::Keys => "keys",
            Item::Session => "session",
            Item::Secret => "secret",
        }
    }
}

/// The keychain items of one data directory. Items are named
/// `<scope>/<kind>/<name>` under the service `slipway`, where the scope is a
/// random id kept in that directory's database: two data directories (two
/// test runs, a user's and a test's) never see each other's items.
#[derive(Debug, Clone)]
pub(crate) struct Keychain {
    scope: String,
}

impl Keychain {
    pub fn open(store: &Store) -> Result<Keychain, CredsError> {
        let scope = store.keychain_scope(|| uuid::Uuid::new_v4().simple().to_string())?;
        Ok(Keychain { scope })
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn entry(&self, item: Item, name: &str) -> Result<Entry, CredsError> {
        let user = format!("{}/{}/{name}", self.scope, item.word());
        Entry::new(SERVICE, &user).map_err(|e| keychain_error(e, "open", item, name))
    }

    pub fn get(&self, item: Item, name: &str) -> Result<Option<String>, CredsError> {
        match self.entry(item, name)?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e, "read", item, name)),
        }
    }

    pub fn set(&self, item: Item, name: &str, value: &str) -> Result<(), CredsError> {
        self.entry(item, name)?
            .set_password(value)
            .map_err(|e| keychain_error(e, "write", item, name))
    }

    /// Deletes the item; deleting one that does not exist is not an error.
    pub fn delete(&self, item: Item, name: &str) -> Result<(), CredsError> {
        match self.entry(item, name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(e, "delete", item, name)),
        }
    }
}

/// keyring's errors name the platform's failure (a D-Bus error, an OSStatus)
/// and never the secret, so their text can be shown.
fn keychain_error(e: keyring::Error, doing: &str, item: Item, name: &str) -> CredsError {
    match e {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => {
            CredsError::KeychainUnavailable {
                detail: format!("{doing} {} of `{name}`: {inner}", item.word()),
                hint: crate::platform::keychain_hint(),
            }
        }
        other => CredsError::Keychain {
            detail: format!("{doing} {} of `{name}`: {other}", item.word()),
        },
    }
}
