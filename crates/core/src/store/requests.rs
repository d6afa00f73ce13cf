//! Requests to the engine (run, retry, roll back), left in the database by
//! whoever asks: another process while the desktop app, `serve` or `watch`
//! is the engine, or this process when it carries the request out itself.
//! The database is the mailbox, so a request survives either side dying;
//! each row holds the request as one typed JSON column and, once taken,
//! what it started (an execution or a deployment) or why it could not.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::clock::Millis;
use crate::model::{EngineRequest, ErrorCode, Host, Started};

/// 8: `run_requests` (kind, target, revision and variables, whose meaning
/// depended on the kind) becomes `engine_requests`: one typed request and
/// one typed answer. Pending and answered rows are converted.
pub(super) const MIGRATION: &str = "CREATE TABLE engine_requests (
        id           TEXT PRIMARY KEY NOT NULL,
        request      TEXT NOT NULL,
        host         TEXT NOT NULL,
        requested_at INTEGER NOT NULL,
        taken_at     INTEGER,
        started      TEXT,
        error        TEXT,
        error_code   TEXT
    ) STRICT;
    INSERT INTO engine_requests (id, request, host, requested_at, taken_at, started, error)
    SELECT id,
        CASE kind
            WHEN 'retry' THEN json_object('kind', 'retry', 'execution', target)
            WHEN 'rollback' THEN json_object('kind', 'rollback', 'environment', target,
                'pipeline', json_extract(variables, '$.pipeline'), 'to', revision)
            ELSE json_object('kind', 'run', 'pipeline', target, 'revision', revision,
                'variables', json(variables), 'trigger', trigger, 'branch', NULL)
        END,
        'cli', requested_at, taken_at,
        CASE
            WHEN execution_id IS NULL THEN NULL
            WHEN kind = 'rollback' THEN json_object('deployment', execution_id)
            ELSE json_object('execution', execution_id)
        END,
        error
    FROM run_requests ORDER BY requested_at, rowid;
    DROP TABLE run_requests;";

/// Answered requests kept (the newest): the executions and deployments they
/// started are the history; the mailbox only has to say what was asked
/// lately, so it does not grow with every command ever run.
const KEEP_ANSWERED: u32 = 1_000;

/// One request as the mailbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRequestRecord {
    pub id: String,
    pub request: EngineRequest,
    /// Who asked: the desktop app (its window or its tray), `serve` (a
    /// browser), the CLI.
    pub host: Host,
    pub requested_at: Millis,
    /// Set once the engine took it…
    pub taken: bool,
    /// …with what it started…
    pub started: Option<Started>,
    /// …or why it could not, with the error's stable code.
    pub error: Option<String>,
    pub error_code: Option<ErrorCode>,
}

impl Store {
    /// Leaves `request` for the engine; `taken` when the asking process
    /// carries it out itself (the row is then the record of what was asked).
    pub fn add_engine_request(
        &self,
        record: &EngineRequestRecord,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO engine_requests (id, request, host, requested_at, taken_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                record.id,
                to_json(&record.request)?,
                record.host.as_str(),
                now,
                record.taken.then_some(now),
            ],
        )?;
        self.conn().execute(
            "DELETE FROM engine_requests WHERE taken_at IS NOT NULL AND rowid NOT IN
                 (SELECT rowid FROM engine_requests ORDER BY requested_at DESC, rowid DESC LIMIT ?1)",
            [KEEP_ANSWERED],
        )?;
        Ok(())
    }

    /// Marks every waiting request taken and returns them, oldest first.
    pub fn take_engine_requests(
        &self,
        now: Millis,
    ) -> Result<Vec<EngineRequestRecord>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let taken: Vec<EngineRequestRecord> = tx
            .prepare(
                "SELECT * FROM engine_requests WHERE taken_at IS NULL ORDER BY requested_at, rowid",
            )?
            .query_map([], from_row)?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE engine_requests SET taken_at = ?1 WHERE taken_at IS NULL",
            [now],
        )?;
        tx.commit()?;
        Ok(taken
            .into_iter()
            .map(|r| EngineRequestRecord { taken: true, ..r })
            .collect())
    }

    /// Records the answer: what the request started, or why it could not.
    pub fn answer_engine_request(
        &self,
        id: &str,
        answer: Result<&Started, &str>,
        code: Option<ErrorCode>,
    ) -> Result<(), StoreError> {
        let (started, error) = match answer {
            Ok(started) => (Some(to_json(started)?), None),
            Err(error) => (None, Some(error)),
        };
        let code = code.map(|c| to_json(&c)).transpose()?;
        self.conn().execute(
            "UPDATE engine_requests SET started = ?2, error = ?3, error_code = ?4 WHERE id = ?1",
            params![id, started, error, code],
        )?;
        Ok(())
    }

    pub fn engine_request(&self, id: &str) -> Result<Option<EngineRequestRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT * FROM engine_requests WHERE id = ?1",
                [id],
                from_row,
            )
            .optional()?)
    }

    /// The latest requests, newest first.
    pub fn engine_requests(&self, limit: u32) -> Result<Vec<EngineRequestRecord>, StoreError> {
        Ok(self
            .conn()
            .prepare(
                "SELECT * FROM engine_requests ORDER BY requested_at DESC, rowid DESC LIMIT ?1",
            )?
            .query_map([limit], from_row)?
            .collect::<Result<_, _>>()?)
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Encode(e.to_string()))
}

/// A JSON column that must parse as `T`; anything else is an error naming
/// the column, never a default.
fn json_col<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    col: &str,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(col)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                row.as_ref().column_index(col).unwrap_or(0),
                rusqlite::types::Type::Text,
                format!("column `{col}`: {e}").into(),
            )
        })
    })
    .transpose()
}

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EngineRequestRecord> {
    Ok(EngineRequestRecord {
        id: row.get("id")?,
        request: json_col(row, "request")?.ok_or(rusqlite::Error::InvalidColumnType(
            0,
            "request".into(),
            rusqlite::types::Type::Null,
        ))?,
        host: super::enum_col(row, "host")?,
        requested_at: row.get("requested_at")?,
        taken: row.get::<_, Option<i64>>("taken_at")?.is_some(),
        started: json_col(row, "started")?,
        error: row.get("error")?,
        error_code: json_col(row, "error_code")?,
    })
}
