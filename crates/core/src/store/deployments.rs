//! Deployments: one attempt to put one revision on one environment, with
//! its strategy, status, who started it, the deployment it undoes (for a
//! rollback) and its per-instance lifecycle events. Owned by the `deploy`
//! module; the engine records each change here before reporting it.

use rusqlite::{params, OptionalExtension, Row};

use super::{Store, StoreError};
use crate::clock::Millis;
pub use crate::model::deployment::{
    Deployment, DeploymentDetail, DeploymentEvent, DeploymentStatus, Initiator, ProviderRecord,
};

/// 5: deployments and their lifecycle events.
///
/// `spec` is the environment's definition (JSON) as the deployment used it,
/// so a restart or a rollback brings the revision back with the settings it
/// ran with, whatever the pipeline file says today. `seq` orders
/// deployments of the same millisecond.
/// 7: an environment's history newest first, whatever the pipeline filter
/// (with only the index above, a filter on a short pipeline name sorted
/// every row of the environment: 220 ms at 100,000 deployments).
pub(super) const HISTORY_INDEX: &str =
    "CREATE INDEX deployments_history ON deployments (environment, seq);";

/// 9: what an AWS provider made (JSON of [`ProviderRecord`]).
pub(super) const RECORDS: &str = "ALTER TABLE deployments ADD COLUMN record TEXT;";

pub(super) const MIGRATION: &str = "CREATE TABLE deployments (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT NOT NULL UNIQUE,
        pipeline     TEXT NOT NULL,
        environment  TEXT NOT NULL,
        provider     TEXT NOT NULL,
        revision     TEXT NOT NULL,
        message      TEXT NOT NULL DEFAULT '',
        artifact     TEXT,
        strategy     TEXT NOT NULL,
        status       TEXT NOT NULL,
        initiator    TEXT NOT NULL,
        rollback_of  TEXT,
        execution_id TEXT,
        stage        INTEGER,
        action       TEXT,
        spec         TEXT NOT NULL,
        log          TEXT,
        error        TEXT,
        started_at   INTEGER NOT NULL,
        ended_at     INTEGER
    ) STRICT;
    CREATE INDEX deployments_by_environment ON deployments (environment, pipeline, seq);
    CREATE TABLE deployment_events (
        deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
        instance      TEXT NOT NULL,
        event         TEXT NOT NULL,
        status        TEXT NOT NULL,
        started_at    INTEGER NOT NULL,
        ended_at      INTEGER NOT NULL,
        message       TEXT,
        log_excerpt   TEXT NOT NULL DEFAULT ''
    ) STRICT;
    CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id);";

/// What a new deployment record holds; `spec` is the environment's JSON.
pub struct NewDeployment<'a> {
    pub deployment: &'a Deployment,
    pub spec: &'a str,
}

const COLUMNS: &str =
    "id, pipeline, environment, provider, revision, message, artifact, strategy, \
     status, initiator, rollback_of, execution_id, stage, action, log, error, started_at, ended_at";

fn from_row(r: &Row) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get("id")?,
        pipeline: r.get("pipeline")?,
        environment: r.get("environment")?,
        provider: super::enum_col(r, "provider")?,
        revision: r.get("revision")?,
        message: r.get("message")?,
        artifact: r.get("artifact")?,
        strategy: r.get("strategy")?,
        status: super::enum_col(r, "status")?,
        initiator: super::enum_col(r, "initiator")?,
        rollback_of: r.get("rollback_of")?,
        execution_id: r.get("execution_id")?,
        stage: r.get("stage")?,
        action: r.get("action")?,
        log: r.get("log")?,
        error: r.get("error")?,
        started_at: r.get("started_at")?,
        ended_at: r.get("ended_at")?,
    })
}

impl Store {
    pub fn create_deployment(&self, new: &NewDeployment) -> Result<(), StoreError> {
        let d = new.deployment;
        self.conn().execute(
            "INSERT INTO deployments (id, pipeline, environment, provider, revision, message,
                 artifact, strategy, status, initiator, rollback_of, execution_id, stage, action,
                 spec, log, error, started_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            params![
                d.id,
                d.pipeline,
                d.environment,
                d.provider.as_str(),
                d.revision,
                d.message,
                d.artifact,
                d.strategy,
                d.status.as_str(),
                d.initiator.as_str(),
                d.rollback_of,
                d.execution_id,
                d.stage,
                d.action,
                new.spec,
                d.log,
                d.error,
                d.started_at,
                d.ended_at,
            ],
        )?;
        Ok(())
    }

    /// Ends a deployment. Only an `InProgress` one changes: a final status
    /// is never overwritten (a rollback marking its target `RolledBack`
    /// goes through [`Store::mark_rolled_back`]).
    pub fn finish_deployment(
        &self,
        id: &str,
        status: DeploymentStatus,
        error: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE deployments SET status = ?2, error = COALESCE(?3, error), ended_at = ?4
             WHERE id = ?1 AND status = 'InProgress'",
            params![id, status.as_str(), error, now],
        )?;
        Ok(())
    }

    /// A failed deployment that an automatic rollback undid.
    pub fn mark_rolled_back(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE deployments SET status = 'RolledBack', ended_at = COALESCE(ended_at, ?2)
             WHERE id = ?1 AND status IN ('InProgress', 'Failed')",
            params![id, now],
        )?;
        Ok(())
    }

    pub fn add_deployment_event(&self, id: &str, e: &DeploymentEvent) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO deployment_events (deployment_id, instance, event, status, started_at,
                 ended_at, message, log_excerpt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                e.instance,
                e.event,
                e.status.as_str(),
                e.started_at,
                e.ended_at,
                e.message,
                e.log_excerpt
            ],
        )?;
        Ok(())
    }

    /// Deployments to `environment`, newest first; of one pipeline when
    /// given (`REPO/PIPELINE`, or a pipeline name matching any repository).
    pub fn deployments(
        &self,
        environment: Option<&str>,
        pipeline: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Deployment>, StoreError> {
        let conn = self.conn();
        // Two statements, so an environment's history walks its index
        // rather than every deployment from the newest.
        let filter = "(?2 IS NULL OR pipeline = ?2 OR pipeline LIKE '%/' || ?2)";
        let sql = match environment {
            Some(_) => format!(
                "SELECT {COLUMNS} FROM deployments INDEXED BY deployments_history
                 WHERE environment = ?1 AND {filter}
                 ORDER BY seq DESC LIMIT ?3"
            ),
            None => format!(
                "SELECT {COLUMNS} FROM deployments WHERE ?1 IS NULL AND {filter}
                 ORDER BY seq DESC LIMIT ?3"
            ),
        };
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![environment, pipeline, limit], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn deployment(&self, id: &str) -> Result<Option<DeploymentDetail>, StoreError> {
        let conn = self.conn();
        let Some(deployment) = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM deployments WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = conn.prepare(
            "SELECT instance, event, status, started_at, ended_at, message, log_excerpt
             FROM deployment_events WHERE deployment_id = ?1 ORDER BY rowid",
        )?;
        let events = stmt
            .query_map([id], |r| {
                Ok(DeploymentEvent {
                    instance: r.get(0)?,
                    event: r.get(1)?,
                    status: super::enum_col(r, "status")?,
                    started_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    message: r.get(5)?,
                    log_excerpt: r.get(6)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let record = conn.query_row("SELECT record FROM deployments WHERE id = ?1", [id], |r| {
            super::opt_json_col(r, "record")
        })?;
        Ok(Some(DeploymentDetail {
            deployment,
            events,
            record,
        }))
    }

    /// Records what an AWS provider made for deployment `id`.
    pub fn set_deployment_record(
        &self,
        id: &str,
        record: &ProviderRecord,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Encode(e.to_string()))?;
        self.conn().execute(
            "UPDATE deployments SET record = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        Ok(())
    }

    /// The environment definition (JSON) a deployment ran with.
    pub fn deployment_spec(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT spec FROM deployments WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The newest successful deployment of `environment` of `pipeline`:
    /// what the environment serves. With `before`, the newest one older
    /// than that deployment and of another revision (what a rollback
    /// restores).
    pub fn last_good_deployment(
        &self,
        pipeline: &str,
        environment: &str,
        before: Option<&str>,
    ) -> Result<Option<Deployment>, StoreError> {
        let conn = self.conn();
        match before {
            None => conn
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM deployments
                         WHERE pipeline = ?1 AND environment = ?2 AND status = 'Succeeded'
                         ORDER BY seq DESC LIMIT 1"
                    ),
                    params![pipeline, environment],
                    from_row,
                )
                .optional(),
            Some(before) => conn
                .query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM deployments
                         WHERE pipeline = ?1 AND environment = ?2 AND status = 'Succeeded'
                           AND seq < (SELECT seq FROM deployments WHERE id = ?3)
                           AND (artifact IS NOT (SELECT artifact FROM deployments WHERE id = ?3)
                                OR revision != (SELECT revision FROM deployments WHERE id = ?3))
                         ORDER BY seq DESC LIMIT 1"
                    ),
                    params![pipeline, environment, before],
                    from_row,
                )
                .optional(),
        }
        .map_err(StoreError::from)
    }

    /// Every `(pipeline, environment)` that has a successful deployment,
    /// with the newest such deployment: what a starting engine restores.
    pub fn serving_deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM deployments WHERE seq IN (
                 SELECT MAX(seq) FROM deployments WHERE status = 'Succeeded'
                 GROUP BY pipeline, environment)
             ORDER BY pipeline, environment"
        ))?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every `(pipeline, environment)` ever deployed to.
    pub fn deployment_environments(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT DISTINCT pipeline, environment FROM deployments ORDER BY pipeline, environment",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks deployments a dead engine left `InProgress` as `Interrupted`;
    /// returns them.
    pub fn interrupt_deployments(&self, now: Millis) -> Result<Vec<Deployment>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let cut: Vec<Deployment> = tx
            .prepare(&format!(
                "SELECT {COLUMNS} FROM deployments WHERE status = 'InProgress' ORDER BY seq"
            ))?
            .query_map([], from_row)?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE deployments SET status = 'Interrupted', ended_at = ?1,
                 error = COALESCE(error, 'the engine stopped during the deployment')
             WHERE status = 'InProgress'",
            [now],
        )?;
        tx.commit()?;
        Ok(cut)
    }

    /// Deployments an execution's stage made, oldest first (what stage
    /// `on-failure: rollback` undoes).
    pub fn stage_deployments(
        &self,
        execution_id: &str,
        stage: u32,
    ) -> Result<Vec<Deployment>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM deployments WHERE execution_id = ?1 AND stage = ?2
               AND initiator = 'pipeline' ORDER BY seq"
        ))?;
        let rows = stmt.query_map(params![execution_id, stage], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The artifacts of each environment's newest `keep` successful
    /// deployments, and of any deployment in progress: what retention
    /// keeps so a rollback always finds its revision.
    pub fn deployment_digests_to_keep(&self, keep: u32) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT artifact FROM (
                 SELECT artifact, status,
                        ROW_NUMBER() OVER (PARTITION BY pipeline, environment, status = 'Succeeded'
                                           ORDER BY seq DESC) AS nth
                 FROM deployments WHERE artifact IS NOT NULL)
             WHERE (status = 'Succeeded' AND nth <= ?1) OR status = 'InProgress'",
        )?;
        let rows = stmt.query_map([keep], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, status: DeploymentStatus, artifact: &str) -> Deployment {
        Deployment {
            id: id.into(),
            pipeline: "app/web".into(),
            environment: "staging".into(),
            provider: crate::model::ProviderKind::Local,
            revision: format!("rev-{artifact}"),
            message: String::new(),
            artifact: Some(artifact.into()),
            strategy: "blue-green".into(),
            status,
            initiator: Initiator::Pipeline,
            rollback_of: None,
            execution_id: Some("e1".into()),
            stage: Some(2),
            action: Some("deploy".into()),
            log: None,
            error: None,
            started_at: 1,
            ended_at: None,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    fn add(store: &Store, d: &Deployment) {
        store
            .create_deployment(&NewDeployment {
                deployment: d,
                spec: "{}",
            })
            .unwrap();
    }

    #[test]
    fn the_rollback_target_is_the_newest_good_deployment_of_another_revision() {
        let (_d, store) = store();
        use DeploymentStatus::*;
        add(&store, &deployment("d1", Succeeded, "v1"));
        add(&store, &deployment("d2", Failed, "v2"));
        add(&store, &deployment("d3", Succeeded, "v2"));
        add(&store, &deployment("d4", Succeeded, "v2"));
        let current = store
            .last_good_deployment("app/web", "staging", None)
            .unwrap()
            .unwrap();
        assert_eq!(current.id, "d4");
        let target = store
            .last_good_deployment("app/web", "staging", Some("d4"))
            .unwrap()
            .unwrap();
        assert_eq!(
            target.id, "d1",
            "a redeploy of the same revision is skipped"
        );
        assert!(store
            .last_good_deployment("app/web", "staging", Some("d1"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn interrupted_deployments_keep_their_record_and_final_statuses_stay() {
        let (_d, store) = store();
        add(
            &store,
            &deployment("d1", DeploymentStatus::InProgress, "v1"),
        );
        add(&store, &deployment("d2", DeploymentStatus::Succeeded, "v0"));
        let cut = store.interrupt_deployments(9).unwrap();
        assert_eq!(cut.len(), 1);
        let d1 = store.deployment("d1").unwrap().unwrap().deployment;
        assert_eq!(d1.status, DeploymentStatus::Interrupted);
        assert_eq!(d1.ended_at, Some(9));
        store
            .finish_deployment("d1", DeploymentStatus::Succeeded, None, 10)
            .unwrap();
        let d1 = store.deployment("d1").unwrap().unwrap().deployment;
        assert_eq!(d1.status, DeploymentStatus::Interrupted);
    }

    #[test]
    fn retention_keeps_the_last_five_good_revisions_per_environment() {
        let (_d, store) = store();
        for i in 0..8 {
            add(
                &store,
                &deployment(
                    &format!("d{i}"),
                    DeploymentStatus::Succeeded,
                    &format!("a{i}"),
                ),
            );
        }
        add(&store, &deployment("f", DeploymentStatus::Failed, "bad"));
        let mut kept = store.deployment_digests_to_keep(5).unwrap();
        kept.sort();
        assert_eq!(kept, vec!["a3", "a4", "a5", "a6", "a7"]);
    }

    #[test]
    fn an_unknown_provider_or_event_status_is_an_error_never_a_default() {
        use crate::model::{EventStatus, ProviderKind};
        let (_d, store) = store();
        add(&store, &deployment("d1", DeploymentStatus::Succeeded, "v1"));
        let event = DeploymentEvent {
            instance: "blue/0".into(),
            event: "ValidateService".into(),
            status: EventStatus::Skipped,
            started_at: 1,
            ended_at: 2,
            message: None,
            log_excerpt: String::new(),
        };
        store.add_deployment_event("d1", &event).unwrap();
        let detail = store.deployment("d1").unwrap().unwrap();
        assert_eq!(detail.deployment.provider, ProviderKind::Local);
        assert_eq!(detail.events, vec![event]);

        store
            .conn()
            .execute("UPDATE deployment_events SET status = 'Pending'", [])
            .unwrap();
        let err = store.deployment("d1").unwrap_err().to_string();
        assert!(err.contains("status") && err.contains("Pending"), "{err}");
        store
            .conn()
            .execute("UPDATE deployments SET provider = 'kubernetes'", [])
            .unwrap();
        let err = store.deployments(None, None, 10).unwrap_err().to_string();
        assert!(
            err.contains("provider") && err.contains("kubernetes"),
            "{err}"
        );
    }
}
