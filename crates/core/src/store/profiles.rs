//! Credential profiles' metadata; their secrets live only in the OS keychain
//! (owned by the credentials work: see `crate::creds`).

/// 4: credential profiles (metadata only, never a secret).
pub(super) const MIGRATION: &str = "CREATE TABLE profiles (
        name TEXT PRIMARY KEY NOT NULL
    ) STRICT;";
