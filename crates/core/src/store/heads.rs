//! The branch and tag heads last seen in each watched repository (owned by
//! the watch work: see `crate::watch`). The watcher compares what git says
//! now with what is recorded here, so a restart neither loses a commit made
//! while no engine ran nor builds an old one again.

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
use crate::clock::Millis;

/// 3: last seen heads of watched repositories.
///
/// `repository_watch` says a repository's heads were recorded at least once
/// (an empty head list is then a fact, not "never looked"). A deleted ref
/// keeps its row with `deleted = 1` and its last commit: `git gc` can make a
/// ref vanish for an instant, and its return at the same commit must not
/// build it again. Rows go with their repository.
pub(super) const MIGRATION: &str = "CREATE TABLE repository_watch (
        repository TEXT PRIMARY KEY NOT NULL
                   REFERENCES repositories(name) ON DELETE CASCADE,
        since      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE repository_heads (
        repository TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
        reference  TEXT NOT NULL,
        commit_id  TEXT NOT NULL,
        deleted    INTEGER NOT NULL DEFAULT 0,
        seen_at    INTEGER NOT NULL,
        PRIMARY KEY (repository, reference)
    ) STRICT;";

/// A ref as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedHead {
    /// The commit it pointed at (its last commit, when deleted).
    pub commit: String,
    /// The ref was gone when last looked at.
    pub deleted: bool,
}

impl Store {
    /// The heads recorded for `repository` by full ref name, or `None` when
    /// it was never watched.
    pub fn heads(
        &self,
        repository: &str,
    ) -> Result<Option<BTreeMap<String, RecordedHead>>, StoreError> {
        let conn = self.conn();
        let watched: Option<i64> = conn
            .query_row(
                "SELECT since FROM repository_watch WHERE repository = ?1",
                [repository],
                |r| r.get(0),
            )
            .optional()?;
        if watched.is_none() {
            return Ok(None);
        }
        let mut stmt = conn.prepare(
            "SELECT reference, commit_id, deleted FROM repository_heads WHERE repository = ?1",
        )?;
        let rows = stmt.query_map([repository], |r| {
            Ok((
                r.get::<_, String>(0)?,
                RecordedHead {
                    commit: r.get(1)?,
                    deleted: r.get(2)?,
                },
            ))
        })?;
        Ok(Some(rows.collect::<Result<_, _>>()?))
    }

    /// Records what refs point at now: `Some(commit)` sets a ref, `None`
    /// marks it deleted (keeping its last commit). Marks the repository as
    /// watched, in one transaction.
    pub fn record_heads(
        &self,
        repository: &str,
        updates: &[(&str, Option<&str>)],
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO repository_watch (repository, since) VALUES (?1, ?2)
             ON CONFLICT(repository) DO NOTHING",
            params![repository, now],
        )?;
        for (reference, commit) in updates {
            match commit {
                Some(commit) => tx.execute(
                    "INSERT INTO repository_heads (repository, reference, commit_id, deleted, seen_at)
                     VALUES (?1, ?2, ?3, 0, ?4)
                     ON CONFLICT(repository, reference)
                     DO UPDATE SET commit_id = ?3, deleted = 0, seen_at = ?4",
                    params![repository, reference, commit, now],
                )?,
                None => tx.execute(
                    "UPDATE repository_heads SET deleted = 1, seen_at = ?3
                     WHERE repository = ?1 AND reference = ?2",
                    params![repository, reference, now],
                )?,
            };
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets what was seen in `repository`: watching it again starts from
    /// its heads as they are then, building nothing old.
    pub fn forget_heads(&self, repository: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM repository_heads WHERE repository = ?1",
            [repository],
        )?;
        conn.execute(
            "DELETE FROM repository_watch WHERE repository = ?1",
            [repository],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{NewRepository, Store};

    fn store_with(name: &str) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("slipway.db")).unwrap();
        store
            .add_repository(&NewRepository {
                name,
                path: "/nowhere",
                trusted: true,
                added_at: 1,
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn a_repository_never_watched_has_no_heads_and_an_empty_one_has_some() {
        let (_dir, store) = store_with("web");
        assert_eq!(store.heads("web").unwrap(), None);
        store.record_heads("web", &[], 5).unwrap();
        assert_eq!(store.heads("web").unwrap(), Some(Default::default()));
    }

    #[test]
    fn a_deleted_ref_keeps_its_last_commit_and_comes_back() {
        let (_dir, store) = store_with("web");
        store
            .record_heads("web", &[("refs/heads/main", Some("aaa"))], 1)
            .unwrap();
        store
            .record_heads("web", &[("refs/heads/main", None)], 2)
            .unwrap();
        let heads = store.heads("web").unwrap().unwrap();
        assert!(heads["refs/heads/main"].deleted);
        assert_eq!(heads["refs/heads/main"].commit, "aaa");
        store
            .record_heads("web", &[("refs/heads/main", Some("bbb"))], 3)
            .unwrap();
        let heads = store.heads("web").unwrap().unwrap();
        assert!(!heads["refs/heads/main"].deleted);
        assert_eq!(heads["refs/heads/main"].commit, "bbb");
    }

    #[test]
    fn removing_the_repository_or_forgetting_drops_its_heads() {
        let (_dir, store) = store_with("web");
        store
            .record_heads("web", &[("refs/heads/main", Some("aaa"))], 1)
            .unwrap();
        store.forget_heads("web").unwrap();
        assert_eq!(store.heads("web").unwrap(), None);
        store
            .record_heads("web", &[("refs/heads/main", Some("aaa"))], 1)
            .unwrap();
        store.remove_repository("web").unwrap();
        assert_eq!(store.heads("web").unwrap(), None);
    }
}
