//! Requests to run or retry a pipeline, left in the database by a process
//! that is not the engine (a CLI command while the desktop app, `serve` or
//! `watch` runs) for the engine to take. The database is the mailbox, so a
//! request survives either side dying.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// Run `target` (`REPO/PIPELINE`).
    Run,
    /// Retry execution `target`.
    Retry,
    /// Roll back environment `target` (pipeline in `variables["pipeline"]`,
    /// `--to` in `revision`); the answer's `execution_id` is the rollback
    /// deployment's id.
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequestRecord {
    pub id: String,
    pub kind: RequestKind,
    pub target: String,
    pub revision: Option<String>,
    pub variables: BTreeMap<String, String>,
    pub trigger: String,
    /// Set once the engine took it: the execution it started…
    pub execution_id: Option<String>,
    /// …or why it could not.
    pub error: Option<String>,
    pub taken: bool,
}

impl Store {
    pub fn add_run_request(&self, r: &RunRequestRecord, now: Millis) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO run_requests (id, kind, target, revision, variables, trigger, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.id,
                match r.kind {
                    RequestKind::Run => "run",
                    RequestKind::Retry => "retry",
                    RequestKind::Rollback => "rollback",
                },
                r.target,
                r.revision,
                serde_json::to_string(&r.variables).unwrap_or_default(),
                r.trigger,
                now
            ],
        )?;
        Ok(())
    }

    /// Marks every waiting request taken and returns them, oldest first.
    pub fn take_run_requests(&self, now: Millis) -> Result<Vec<RunRequestRecord>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let taken: Vec<RunRequestRecord> = tx
            .prepare(
                "SELECT * FROM run_requests WHERE taken_at IS NULL ORDER BY requested_at, rowid",
            )?
            .query_map([], from_row)?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE run_requests SET taken_at = ?1 WHERE taken_at IS NULL",
            [now],
        )?;
        tx.commit()?;
        Ok(taken)
    }

    pub fn finish_run_request(
        &self,
        id: &str,
        execution_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE run_requests SET execution_id = ?2, error = ?3 WHERE id = ?1",
            params![id, execution_id, error],
        )?;
        Ok(())
    }

    pub fn run_request(&self, id: &str) -> Result<Option<RunRequestRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT * FROM run_requests WHERE id = ?1", [id], from_row)
            .optional()?)
    }
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRequestRecord> {
    let kind: String = row.get("kind")?;
    let variables: String = row.get("variables")?;
    Ok(RunRequestRecord {
        id: row.get("id")?,
        kind: match kind.as_str() {
            "retry" => RequestKind::Retry,
            "rollback" => RequestKind::Rollback,
            _ => RequestKind::Run,
        },
        target: row.get("target")?,
        revision: row.get("revision")?,
        variables: serde_json::from_str(&variables).unwrap_or_default(),
        trigger: row.get("trigger")?,
        execution_id: row.get("execution_id")?,
        error: row.get("error")?,
        taken: row.get::<_, Option<i64>>("taken_at")?.is_some(),
    })
}
