//! Credential profiles' metadata, the names of local secrets, and the
//! keychain scope of this data directory. Their secrets live only in the OS
//! keychain (owned by `crate::creds`): no column here may ever hold a key, a
//! session token or a secret value.

use rusqlite::{params, OptionalExtension, Row};

use super::{Store, StoreError};
use crate::clock::Millis;
use crate::model::ProfileKind;
use serde::{Deserialize, Serialize};

/// 4: credential profiles (metadata only, never a secret), local secrets'
/// names, and the random scope that names this data directory's keychain
/// items.
pub(super) const MIGRATION: &str = "CREATE TABLE profiles (
        name              TEXT PRIMARY KEY NOT NULL,
        source_profile    TEXT REFERENCES profiles (name),
        role_arn          TEXT,
        region            TEXT,
        mfa_serial        TEXT,
        external_id       TEXT,
        duration_seconds  INTEGER,
        session_name      TEXT,
        added_at          INTEGER NOT NULL,
        CHECK ((role_arn IS NULL) = (source_profile IS NULL))
    ) STRICT;
    CREATE TABLE local_secrets (
        name        TEXT PRIMARY KEY NOT NULL,
        updated_at  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE keychain_scope (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        scope  TEXT NOT NULL
    ) STRICT;";

/// When a profile names no duration: STS's default for AssumeRole.
pub const DEFAULT_DURATION_SECONDS: i64 = 3_600;

/// A profile: either a user's own long-term keys (`role_arn` is `None`; the
/// keys are in the keychain) or a role assumed from `source_profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Profile {
    pub name: String,
    pub source_profile: Option<String>,
    pub role_arn: Option<String>,
    pub region: Option<String>,
    pub mfa_serial: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: Option<i64>,
    pub session_name: Option<String>,
    pub added_at: Millis,
}

impl Profile {
    pub fn is_role(&self) -> bool {
        self.role_arn.is_some()
    }

    /// Keys or a role.
    pub fn kind(&self) -> ProfileKind {
        if self.is_role() {
            ProfileKind::Role
        } else {
            ProfileKind::Keys
        }
    }

    /// The account a role profile acts in, read from its ARN.
    pub fn role_account(&self) -> Option<&str> {
        self.role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
    }

    pub fn duration(&self) -> i64 {
        self.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS)
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        name: row.get("name")?,
        source_profile: row.get("source_profile")?,
        role_arn: row.get("role_arn")?,
        region: row.get("region")?,
        mfa_serial: row.get("mfa_serial")?,
        external_id: row.get("external_id")?,
        duration_seconds: row.get("duration_seconds")?,
        session_name: row.get("session_name")?,
        added_at: row.get("added_at")?,
    })
}

impl Store {
    /// Adds `profile`; `false` when a profile of that name already exists.
    pub fn add_profile(&self, p: &Profile) -> Result<bool, StoreError> {
        let inserted = self.conn().execute(
            "INSERT INTO profiles (name, source_profile, role_arn, region, mfa_serial,
                 external_id, duration_seconds, session_name, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT(name) DO NOTHING",
            params![
                p.name,
                p.source_profile,
                p.role_arn,
                p.region,
                p.mfa_serial,
                p.external_id,
                p.duration_seconds,
                p.session_name,
                p.added_at
            ],
        )?;
        Ok(inserted == 1)
    }

    /// Every profile, by name.
    pub fn profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM profiles ORDER BY name")?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn profile(&self, name: &str) -> Result<Option<Profile>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM profiles WHERE name = ?1", [name], from_row)
            .optional()?)
    }

    /// Names of the profiles that assume a role from `name`.
    pub fn profiles_sourced_from(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name FROM profiles WHERE source_profile = ?1 ORDER BY name")?;
        let rows = stmt.query_map([name], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `false` when there was no such profile.
    pub fn remove_profile(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM profiles WHERE name = ?1", [name])?
            == 1)
    }

    /// Records that a local secret named `name` exists (its value is in the
    /// keychain).
    pub fn put_local_secret_name(&self, name: &str, at: Millis) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO local_secrets (name, updated_at) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET updated_at = excluded.updated_at",
            params![name, at],
        )?;
        Ok(())
    }

    /// Local secrets' names and when each was last set, by name.
    pub fn local_secret_names(&self) -> Result<Vec<(String, Millis)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, updated_at FROM local_secrets ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_local_secret_name(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM local_secrets WHERE name = ?1", [name])?
            == 1)
    }

    /// This data directory's keychain scope, created from `fresh` the first
    /// time. Kept in the database (not derived from the path) so moving the
    /// data directory keeps its keychain items.
    pub fn keychain_scope(&self, fresh: impl FnOnce() -> String) -> Result<String, StoreError> {
        let conn = self.conn();
        if let Some(scope) = conn
            .query_row("SELECT scope FROM keychain_scope WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?
        {
            return Ok(scope);
        }
        conn.execute(
            "INSERT INTO keychain_scope (id, scope) VALUES (1, ?1) ON CONFLICT(id) DO NOTHING",
            [fresh()],
        )?;
        Ok(
            conn.query_row("SELECT scope FROM keychain_scope WHERE id = 1", [], |r| {
                r.get(0)
            })?,
        )
    }
}
