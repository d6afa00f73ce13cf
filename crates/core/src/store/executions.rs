//! Executions with their stages, actions, artifacts and approvals. The engine
//! records each change here, committed, before it tells anyone about it.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension, Row};

use super::{Store, StoreError};
use crate::clock::Millis;
pub use crate::model::execution::{
    ActionRecord, ApprovalRecord, ArtifactRecord, ExecutionDetail, ExecutionSummary, ReportCounts,
    StageRecord,
};
use crate::model::{ActionType, ExecutionTrigger, Status, StopMode};

pub struct NewExecution<'a> {
    pub id: &'a str,
    pub repository: &'a str,
    pub pipeline: &'a str,
    pub revision: &'a str,
    pub branch: Option<&'a str>,
    pub message: &'a str,
    pub trigger: &'a ExecutionTrigger,
    pub variables: &'a BTreeMap<String, String>,
    /// The pipeline file's text at the revision, kept so a retry or a
    /// restarted engine runs exactly what was started.
    pub definition: &'a str,
    pub started_at: Millis,
    pub stages: Vec<NewStage<'a>>,
}

pub struct NewStage<'a> {
    pub name: &'a str,
    /// (name, type, run-order)
    pub actions: Vec<(&'a str, ActionType, u32)>,
}

fn status_col(row: &Row<'_>, col: &str) -> rusqlite::Result<Option<Status>> {
    super::opt_enum_col(row, col)
}

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<ExecutionSummary> {
    let repository: String = row.get("repository")?;
    let pipeline: String = row.get("pipeline")?;
    Ok(ExecutionSummary {
        id: row.get("id")?,
        pipeline: format!("{repository}/{pipeline}"),
        repository,
        status: super::enum_col(row, "status")?,
        revision: row.get("revision")?,
        branch: row.get("branch")?,
        message: row.get("message")?,
        trigger: super::enum_col(row, "trigger")?,
        started_at: row.get("started_at")?,
        ended_at: row.get("ended_at")?,
    })
}

impl Store {
    /// Records a new execution, all its stages and actions, in one transaction.
    pub fn create_execution(&self, new: &NewExecution<'_>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO executions (id, seq, repository, pipeline, status, revision, branch, message,
                                     trigger, variables, definition, started_at)
             VALUES (?1, (SELECT IFNULL(MAX(seq), 0) + 1 FROM executions), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                new.id,
                new.repository,
                new.pipeline,
                Status::InProgress.as_str(),
                new.revision,
                new.branch,
                new.message,
                new.trigger.to_string(),
                serde_json::to_string(new.variables).unwrap_or_default(),
                new.definition,
                new.started_at
            ],
        )?;
        for (idx, stage) in new.stages.iter().enumerate() {
            tx.execute(
                "INSERT INTO stages (execution_id, idx, name) VALUES (?1, ?2, ?3)",
                params![new.id, idx as i64, stage.name],
            )?;
            for (name, kind, run_order) in &stage.actions {
                tx.execute(
                    "INSERT INTO actions (execution_id, stage_idx, name, type, run_order)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![new.id, idx as i64, name, kind.as_str(), run_order],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn set_execution_status(
        &self,
        id: &str,
        status: Status,
        ended_at: Option<Millis>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE executions SET status = ?2, ended_at = ?3, error = IFNULL(?4, error) WHERE id = ?1",
            params![id, status.as_str(), ended_at, error],
        )?;
        Ok(())
    }

    pub fn set_stage_status(
        &self,
        id: &str,
        stage: usize,
        status: Status,
        now: Millis,
    ) -> Result<(), StoreError> {
        let ended = status.is_final().then_some(now);
        self.conn().execute(
            "UPDATE stages SET status = ?3, started_at = IFNULL(started_at, ?4), ended_at = ?5
             WHERE execution_id = ?1 AND idx = ?2",
            params![id, stage as i64, status.as_str(), now, ended],
        )?;
        Ok(())
    }

    /// Marks an action started (a new attempt) and returns the attempt number.
    pub fn start_action(
        &self,
        id: &str,
        stage: usize,
        action: &str,
        now: Millis,
        log_path: Option<&str>,
    ) -> Result<u32, StoreError> {
        let conn = self.conn();
        // A retried approval waits for a new decision.
        conn.execute(
            "DELETE FROM approvals WHERE execution_id = ?1 AND stage_idx = ?2 AND action = ?3",
            params![id, stage as i64, action],
        )?;
        conn.execute(
            "UPDATE actions SET status = ?4, attempt = attempt + 1, started_at = ?5, ended_at = NULL,
                                error = NULL, log_path = ?6
             WHERE execution_id = ?1 AND stage_idx = ?2 AND name = ?3",
            params![id, stage as i64, action, Status::InProgress.as_str(), now, log_path],
        )?;
        Ok(conn.query_row(
            "SELECT attempt FROM actions WHERE execution_id = ?1 AND stage_idx = ?2 AND name = ?3",
            params![id, stage as i64, action],
            |r| r.get(0),
        )?)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finish_action(
        &self,
        id: &str,
        stage: usize,
        action: &str,
        status: Status,
        now: Millis,
        variables: &BTreeMap<String, String>,
        reports: &[ReportCounts],
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE actions SET status = ?4, ended_at = ?5, variables = ?6, reports = ?7, error = ?8
             WHERE execution_id = ?1 AND stage_idx = ?2 AND name = ?3",
            params![
                id,
                stage as i64,
                action,
                status.as_str(),
                now,
                serde_json::to_string(variables).unwrap_or_default(),
                serde_json::to_string(reports).unwrap_or_default(),
                error
            ],
        )?;
        Ok(())
    }

    pub fn put_artifact(&self, id: &str, artifact: &ArtifactRecord) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO artifacts (execution_id, name, digest, size, files, action)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                artifact.name,
                artifact.digest,
                artifact.size as i64,
                artifact.files as i64,
                artifact.action
            ],
        )?;
        Ok(())
    }

    pub fn record_approval(
        &self,
        id: &str,
        stage: usize,
        action: &str,
        approval: &ApprovalRecord,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO approvals (execution_id, stage_idx, action, decision, comment, decided_by, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                stage as i64,
                action,
                approval.decision.as_str(),
                approval.comment,
                approval.decided_by,
                approval.decided_at
            ],
        )?;
        Ok(())
    }

    /// Makes a finished execution `InProgress` again for a retry.
    pub fn reopen_execution(&self, id: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE executions SET status = 'InProgress', ended_at = NULL, error = NULL, stop_request = NULL
             WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    /// Asks the engine running `id` to stop: `wait` lets running actions
    /// finish, `abandon` ends them now. Returns false when the execution is
    /// unknown or already over.
    pub fn request_stop(&self, id: &str, abandon: bool) -> Result<bool, StoreError> {
        let mode = if abandon {
            StopMode::Abandon
        } else {
            StopMode::Wait
        };
        Ok(self.conn().execute(
            "UPDATE executions SET stop_request = ?2, status = 'Stopping'
             WHERE id = ?1 AND status IN ('InProgress', 'Stopping')",
            params![id, mode.as_str()],
        )? > 0)
    }

    /// `Some(true)` abandon, `Some(false)` stop and wait, None: keep going.
    pub fn stop_request(&self, id: &str) -> Result<Option<bool>, StoreError> {
        let mode: Option<StopMode> = self
            .conn()
            .query_row(
                "SELECT stop_request FROM executions WHERE id = ?1",
                [id],
                |r| super::opt_enum_col(r, "stop_request"),
            )
            .optional()?
            .flatten();
        Ok(mode.map(|m| m == StopMode::Abandon))
    }

    /// The decision recorded for an approval action, if any.
    pub fn approval(
        &self,
        id: &str,
        stage: usize,
        action: &str,
    ) -> Result<Option<ApprovalRecord>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT decision, comment, decided_by, decided_at FROM approvals
                 WHERE execution_id = ?1 AND stage_idx = ?2 AND action = ?3",
                params![id, stage as i64, action],
                |row| {
                    Ok(ApprovalRecord {
                        decision: super::enum_col(row, "decision")?,
                        comment: row.get(1)?,
                        decided_by: row.get(2)?,
                        decided_at: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The approval actions of `id` waiting for a decision now:
    /// (stage index, action name).
    pub fn pending_approvals(&self, id: &str) -> Result<Vec<(usize, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT a.stage_idx, a.name FROM actions a
             LEFT JOIN approvals p ON p.execution_id = a.execution_id AND p.stage_idx = a.stage_idx AND p.action = a.name
             WHERE a.execution_id = ?1 AND a.type = 'approval' AND a.status = 'InProgress' AND p.decision IS NULL",
        )?;
        let rows = stmt.query_map([id], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Executions, newest first, optionally of one `repository`/`pipeline`.
    pub fn executions(
        &self,
        repository: Option<&str>,
        pipeline: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ExecutionSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT * FROM executions
             WHERE (?1 IS NULL OR repository = ?1) AND (?2 IS NULL OR pipeline = ?2)
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![repository, pipeline, limit], summary_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The execution's pipeline definition, as recorded when it started.
    pub fn execution_definition(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT definition FROM executions WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Just the summary: what events carry, cheaper than the whole detail.
    pub fn execution_summary(&self, id: &str) -> Result<Option<ExecutionSummary>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT * FROM executions WHERE id = ?1",
                [id],
                summary_from_row,
            )
            .optional()?)
    }

    pub fn execution(&self, id: &str) -> Result<Option<ExecutionDetail>, StoreError> {
        let conn = self.conn();
        let Some((summary, error, variables)) = conn
            .query_row("SELECT * FROM executions WHERE id = ?1", [id], |row| {
                Ok((
                    summary_from_row(row)?,
                    row.get::<_, Option<String>>("error")?,
                    super::json_col::<BTreeMap<String, String>>(row, "variables")?,
                ))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let mut stages: Vec<StageRecord> = conn
            .prepare("SELECT * FROM stages WHERE execution_id = ?1 ORDER BY idx")?
            .query_map([id], |row| {
                Ok(StageRecord {
                    name: row.get("name")?,
                    status: status_col(row, "status")?,
                    started_at: row.get("started_at")?,
                    ended_at: row.get("ended_at")?,
                    actions: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare(
            "SELECT a.*, p.decision, p.comment, p.decided_by, p.decided_at
             FROM actions a LEFT JOIN approvals p
               ON p.execution_id = a.execution_id AND p.stage_idx = a.stage_idx AND p.action = a.name
             WHERE a.execution_id = ?1 ORDER BY a.stage_idx, a.run_order, a.rowid",
        )?;
        let rows = stmt.query_map([id], |row| {
            let decision = super::opt_enum_col(row, "decision")?;
            let approval = match decision {
                Some(decision) => Some(ApprovalRecord {
                    decision,
                    comment: row.get("comment")?,
                    decided_by: row.get("decided_by")?,
                    decided_at: row.get("decided_at")?,
                }),
                None => None,
            };
            Ok((
                row.get::<_, i64>("stage_idx")? as usize,
                ActionRecord {
                    name: row.get("name")?,
                    kind: super::enum_col(row, "type")?,
                    run_order: row.get("run_order")?,
                    status: status_col(row, "status")?,
                    attempt: row.get("attempt")?,
                    started_at: row.get("started_at")?,
                    ended_at: row.get("ended_at")?,
                    variables: super::json_col(row, "variables")?,
                    reports: super::json_col(row, "reports")?,
                    error: row.get("error")?,
                    approval,
                },
            ))
        })?;
        for row in rows {
            let (stage, action) = row?;
            if let Some(stage) = stages.get_mut(stage) {
                stage.actions.push(action);
            }
        }
        let artifacts = conn
            .prepare("SELECT * FROM artifacts WHERE execution_id = ?1 ORDER BY name")?
            .query_map([id], |row| {
                Ok(ArtifactRecord {
                    name: row.get("name")?,
                    digest: row.get("digest")?,
                    size: row.get::<_, i64>("size")? as u64,
                    files: row.get::<_, i64>("files")? as u64,
                    action: row.get("action")?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Some(ExecutionDetail {
            summary,
            error,
            variables,
            stages,
            artifacts,
        }))
    }

    /// What retention must keep: the ids of each pipeline's newest `recent`
    /// executions, of its newest `succeeded` successful ones (what a rollback
    /// returns to), and of every execution still running.
    pub fn executions_to_keep(
        &self,
        recent: u32,
        succeeded: u32,
    ) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM (
                 SELECT id, status,
                        ROW_NUMBER() OVER (PARTITION BY repository, pipeline ORDER BY seq DESC) AS nth,
                        ROW_NUMBER() OVER (PARTITION BY repository, pipeline, status = 'Succeeded' ORDER BY seq DESC) AS nth_of_kind
                 FROM executions)
             WHERE nth <= ?1 OR (status = 'Succeeded' AND nth_of_kind <= ?2)
                   OR status IN ('InProgress', 'Stopping')",
        )?;
        let rows = stmt.query_map(params![recent, succeeded], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The digests of every artifact the executions `ids` produced.
    pub fn artifact_digests(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT digest FROM artifacts WHERE execution_id = ?1")?;
        let mut digests = Vec::new();
        for id in ids {
            for d in stmt.query_map([id], |r| r.get::<_, String>(0))? {
                digests.push(d?);
            }
        }
        Ok(digests)
    }

    /// After a crash: every execution, stage and action left running becomes
    /// `Interrupted`. Returns the executions it marked.
    pub fn interrupt_unfinished(&self, now: Millis) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let running = ["InProgress", "Stopping"];
        let ids: Vec<String> = tx
            .prepare("SELECT id FROM executions WHERE status IN (?1, ?2) ORDER BY seq")?
            .query_map(params![running[0], running[1]], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for table in ["executions", "stages", "actions"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET status = 'Interrupted', ended_at = IFNULL(ended_at, ?3)
                     WHERE status IN (?1, ?2)"
                ),
                params![running[0], running[1], now],
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_one() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store
            .create_execution(&NewExecution {
                id: "e1",
                repository: "web",
                pipeline: "ci",
                revision: "abc",
                branch: Some("main"),
                message: "",
                trigger: &ExecutionTrigger::Push("main".into()),
                variables: &BTreeMap::new(),
                definition: "",
                started_at: 1,
                stages: vec![NewStage {
                    name: "Build",
                    actions: vec![("gate", ActionType::Approval, 1)],
                }],
            })
            .unwrap();
        let approval = ApprovalRecord {
            decision: crate::model::ApprovalDecision::Rejected,
            comment: String::new(),
            decided_by: "dana".into(),
            decided_at: 2,
        };
        store.record_approval("e1", 0, "gate", &approval).unwrap();
        (dir, store)
    }

    #[test]
    fn closed_sets_come_back_as_they_were_written() {
        let (_dir, store) = store_with_one();
        store.request_stop("e1", true).unwrap();
        assert_eq!(store.stop_request("e1").unwrap(), Some(true));
        let detail = store.execution("e1").unwrap().unwrap();
        assert_eq!(
            detail.summary.trigger,
            ExecutionTrigger::Push("main".into())
        );
        assert_eq!(detail.summary.status, Status::Stopping);
        assert_eq!(detail.stages[0].actions[0].kind, ActionType::Approval);
        let decision = detail.stages[0].actions[0]
            .approval
            .as_ref()
            .map(|a| a.decision);
        assert_eq!(decision, Some(crate::model::ApprovalDecision::Rejected));
        let approval = store.approval("e1", 0, "gate").unwrap().unwrap();
        assert_eq!(approval.decision, crate::model::ApprovalDecision::Rejected);
    }

    #[test]
    fn a_spelling_no_closed_set_has_is_an_error_never_a_default() {
        for (table, column, value) in [
            ("executions", "trigger", "webhook:main"),
            ("executions", "status", "Queued"),
            ("executions", "stop_request", "later"),
            ("actions", "type", "lambda"),
            ("approvals", "decision", "Maybe"),
        ] {
            let (_dir, store) = store_with_one();
            store
                .conn()
                .execute(&format!("UPDATE {table} SET {column} = ?1"), [value])
                .unwrap();
            let err = match column {
                "stop_request" => store.stop_request("e1").unwrap_err(),
                _ => store.execution("e1").unwrap_err(),
            };
            let text = err.to_string();
            assert!(text.contains(column) && text.contains(value), "{text}");
        }
    }
}
