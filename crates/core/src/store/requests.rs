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
        host         TEXT,
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
        NULL, requested_at, taken_at,
        CASE
            WHEN execution_id IS NULL THEN NULL
            WHEN kind = 'rollback' THEN json_object('deployment', execution_id)
            ELSE json_object('execution', execution_id)
        END,
        error
    FROM run_requests ORDER BY requested_at, rowid;
    DROP TABLE run_requests;";

/// One request as the mailbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRequestRecord {
    pub id: String,
    pub request: EngineRequest,
    /// Who asked: the desktop app (its window or its tray), `serve` (a
    /// browser), the CLI. Unknown for requests left before the mailbox
    /// recorded it.
    pub host: Option<Host>,
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
                record.host.map(Host::as_str),
                now,
                record.taken.then_some(now),
            ],
        )?;
        Ok(())
    }

    /// Marks every waiting request taken and returns them, oldest first.
    /// A row that no longer reads as a request (written by a newer Slipway,
    /// or by hand) is answered at once with why, so it neither blocks the
    /// requests behind it nor leaves its asker waiting.
    pub fn take_engine_requests(
        &self,
        now: Millis,
    ) -> Result<Vec<EngineRequestRecord>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: Vec<(String, rusqlite::Result<EngineRequestRecord>)> = tx
            .prepare(
                "SELECT * FROM engine_requests WHERE taken_at IS NULL ORDER BY requested_at, rowid",
            )?
            .query_map([], |row| Ok((row.get("id")?, from_row(row))))?
            .collect::<Result<_, _>>()?;
        let mut taken = Vec::new();
        for (id, parsed) in rows {
            tx.execute(
                "UPDATE engine_requests SET taken_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            match parsed {
                Ok(record) => taken.push(EngineRequestRecord {
                    taken: true,
                    ..record
                }),
                Err(err) => {
                    tx.execute(
                        "UPDATE engine_requests SET error = ?2, error_code = ?3 WHERE id = ?1",
                        params![
                            id,
                            format!("this Slipway cannot read the request: {err}"),
                            to_json(&ErrorCode::InvalidRequest)?
                        ],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(taken)
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

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EngineRequestRecord> {
    Ok(EngineRequestRecord {
        id: row.get("id")?,
        request: super::json_col(row, "request")?,
        host: super::opt_enum_col(row, "host")?,
        requested_at: row.get("requested_at")?,
        taken: row.get::<_, Option<i64>>("taken_at")?.is_some(),
        started: super::opt_json_col(row, "started")?,
        error: row.get("error")?,
        error_code: super::opt_json_col(row, "error_code")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RetryRequest, RollbackRequest};

    fn record(id: &str, request: EngineRequest) -> EngineRequestRecord {
        EngineRequestRecord {
            id: id.into(),
            request,
            host: Some(Host::Cli),
            requested_at: 0,
            taken: false,
            started: None,
            error: None,
            error_code: None,
        }
    }

    #[test]
    fn an_unreadable_request_is_answered_and_blocks_none_behind_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("slipway.db")).unwrap();
        // A row a newer Slipway might write: a kind this one does not know.
        store
            .conn()
            .execute(
                "INSERT INTO engine_requests (id, request, host, requested_at)
                 VALUES ('newer', '{\"kind\":\"deploy\"}', 'cli', 1)",
                [],
            )
            .unwrap();
        let retry = EngineRequest::Retry(RetryRequest {
            execution: "e-1".into(),
        });
        store
            .add_engine_request(&record("ok", retry.clone()), 2)
            .unwrap();

        let taken = store.take_engine_requests(3).unwrap();
        assert_eq!(taken.len(), 1, "{taken:?}");
        assert_eq!(taken[0].request, retry);
        assert!(taken[0].taken);
        assert!(store.engine_request("ok").unwrap().unwrap().taken);
        // The unreadable row is answered, so whoever asked is told why.
        let (error, code): (Option<String>, Option<String>) = store
            .conn()
            .query_row(
                "SELECT error, error_code FROM engine_requests WHERE id = 'newer'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(error.unwrap().contains("deploy"));
        assert_eq!(code.as_deref(), Some("\"invalid_request\""));
        assert!(store.take_engine_requests(4).unwrap().is_empty());

        let rollback = EngineRequest::Rollback(RollbackRequest {
            environment: "staging".into(),
            pipeline: None,
            to: None,
        });
        store.add_engine_request(&record("r", rollback), 5).unwrap();
        let started = Started::Deployment(crate::model::DeploymentId("d-1".into()));
        store
            .answer_engine_request("r", Ok(&started), None)
            .unwrap();
        assert_eq!(
            store.engine_request("r").unwrap().unwrap().started,
            Some(started)
        );
    }
}
