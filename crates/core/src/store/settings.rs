//! The person's settings: a few named values that change how Slipway
//! behaves (notifications, watching paused), kept with the records so the
//! desktop app, `serve` and the CLI agree.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// 6: settings.
pub(super) const MIGRATION: &str = "CREATE TABLE settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) STRICT;";

impl Store {
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// A yes/no setting; `false` when never set.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.setting(key).ok().flatten().as_deref(), Some("true"))
    }

    /// Sets a yes/no setting, as [`Store::flag`] reads it.
    pub fn set_flag(&self, key: &str, on: bool) -> Result<(), StoreError> {
        self.set_setting(key, if on { "true" } else { "false" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_is_absent_until_set_and_then_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        assert!(!store.flag("notify_success"));
        store.set_flag("notify_success", true).unwrap();
        assert!(store.flag("notify_success"));
        store.set_flag("notify_success", false).unwrap();
        assert!(!store.flag("notify_success"));
    }
}
