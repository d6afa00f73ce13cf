//! Versioned migrations. The schema version is SQLite's `user_version`;
//! each migration runs once, in order, inside one transaction with the
//! version bump, so a crash mid-migration leaves the previous schema intact.
//! Never edit a released migration: add a new one.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// In order; each module's migration is its own const, so work on one
/// module's tables never edits another's. Append, never reorder.
const MIGRATIONS: &[&str] = &[
    REPOSITORIES,
    EXECUTIONS,
    super::heads::MIGRATION,
    super::profiles::MIGRATION,
    super::deployments::MIGRATION,
    super::settings::MIGRATION,
    super::deployments::HISTORY_INDEX,
    super::requests::MIGRATION,
    super::deployments::RECORDS,
];

/// 1: repositories the user added.
const REPOSITORIES: &str = "CREATE TABLE repositories (
        name      TEXT PRIMARY KEY NOT NULL,
        path      TEXT NOT NULL,
        trusted   INTEGER NOT NULL DEFAULT 0,
        added_at  INTEGER NOT NULL
    ) STRICT;";

/// 2: executions, their stages and actions, artifacts, approvals, requests.
const EXECUTIONS: &str = "CREATE TABLE executions (
        id          TEXT PRIMARY KEY NOT NULL,
        seq         INTEGER NOT NULL UNIQUE,
        repository  TEXT NOT NULL,
        pipeline    TEXT NOT NULL,
        status      TEXT NOT NULL,
        revision    TEXT NOT NULL,
        branch      TEXT,
        message     TEXT NOT NULL DEFAULT '',
        trigger     TEXT NOT NULL,
        variables   TEXT NOT NULL DEFAULT '{}',
        definition  TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        error       TEXT,
        stop_request TEXT
    ) STRICT;
    CREATE INDEX executions_by_pipeline ON executions (repository, pipeline, seq);
    CREATE TABLE stages (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,
        name         TEXT NOT NULL,
        status       TEXT,
        started_at   INTEGER,
        ended_at     INTEGER,
        PRIMARY KEY (execution_id, idx)
    ) STRICT;
    CREATE TABLE actions (
        execution_id TEXT NOT NULL,
        stage_idx    INTEGER NOT NULL,
        name         TEXT NOT NULL,
        type         TEXT NOT NULL,
        run_order    INTEGER NOT NULL,
        status       TEXT,
        attempt      INTEGER NOT NULL DEFAULT 0,
        started_at   INTEGER,
        ended_at     INTEGER,
        variables    TEXT NOT NULL DEFAULT '{}',
        reports      TEXT NOT NULL DEFAULT '[]',
        error        TEXT,
        log_path     TEXT,
        PRIMARY KEY (execution_id, stage_idx, name),
        FOREIGN KEY (execution_id, stage_idx) REFERENCES stages (execution_id, idx) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE artifacts (
        execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
        name         TEXT NOT NULL,
        digest       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        files        INTEGER NOT NULL,
        action       TEXT NOT NULL,
        PRIMARY KEY (execution_id, name)
    ) STRICT;
    CREATE TABLE approvals (
        execution_id TEXT NOT NULL,
        stage_idx    INTEGER NOT NULL,
        action       TEXT NOT NULL,
        decision     TEXT NOT NULL,
        comment      TEXT NOT NULL DEFAULT '',
        decided_by   TEXT NOT NULL,
        decided_at   INTEGER NOT NULL,
        PRIMARY KEY (execution_id, stage_idx, action),
        FOREIGN KEY (execution_id, stage_idx, action) REFERENCES actions (execution_id, stage_idx, name) ON DELETE CASCADE
    ) STRICT;
    CREATE TABLE run_requests (
        id           TEXT PRIMARY KEY NOT NULL,
        kind         TEXT NOT NULL,
        target       TEXT NOT NULL,
        revision     TEXT,
        variables    TEXT NOT NULL DEFAULT '{}',
        trigger      TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        taken_at     INTEGER,
        execution_id TEXT,
        error        TEXT
    ) STRICT;";

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
