//! Versioned migrations. The schema version is SQLite's `user_version`;
//! each migration runs once, in order, inside one transaction with the
//! version bump, so a crash mid-migration leaves the previous schema intact.
//! Never edit a released migration: add a new one.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: repositories the user added.
    "CREATE TABLE repositories (
        name      TEXT PRIMARY KEY NOT NULL,
        path      TEXT NOT NULL,
        trusted   INTEGER NOT NULL DEFAULT 0,
        added_at  INTEGER NOT NULL
    ) STRICT;",
];

pub(super) fn run(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
