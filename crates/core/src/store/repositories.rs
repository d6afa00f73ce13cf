//! Repositories the user added: where they are and whether their pipelines
//! may run (a repository's commands are code from that repository, so
//! nothing runs until the user trusts it).

use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Store, StoreError};
use crate::clock::Millis;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Repository {
    pub name: String,
    /// Absolute path of the work tree.
    pub path: String,
    pub trusted: bool,
    pub added_at: Millis,
}

pub struct NewRepository<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub trusted: bool,
    pub added_at: Millis,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Repository> {
    Ok(Repository {
        name: row.get("name")?,
        path: row.get("path")?,
        trusted: row.get("trusted")?,
        added_at: row.get("added_at")?,
    })
}

impl Store {
    pub fn add_repository(&self, new: &NewRepository<'_>) -> Result<Repository, StoreError> {
        let conn = self.conn();
        let inserted = conn.execute(
            "INSERT INTO repositories (name, path, trusted, added_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO NOTHING",
            params![new.name, new.path, new.trusted, new.added_at],
        )?;
        if inserted == 0 {
            return Err(StoreError::DuplicateRepository(new.name.to_string()));
        }
        Ok(Repository {
            name: new.name.to_string(),
            path: new.path.to_string(),
            trusted: new.trusted,
            added_at: new.added_at,
        })
    }

    /// Every repository, by name.
    pub fn repositories(&self) -> Result<Vec<Repository>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT * FROM repositories ORDER BY name")?;
        let rows = stmt.query_map([], from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn repository(&self, name: &str) -> Result<Option<Repository>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT * FROM repositories WHERE name = ?1",
                [name],
                from_row,
            )
            .optional()?)
    }

    /// The repository whose work tree is at `path`, if one was added.
    pub fn repository_at(&self, path: &str) -> Result<Option<Repository>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT * FROM repositories WHERE path = ?1",
                [path],
                from_row,
            )
            .optional()?)
    }

    /// Returns whether a repository of that name existed.
    pub fn remove_repository(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        Ok(conn.execute("DELETE FROM repositories WHERE name = ?1", [name])? > 0)
    }

    /// Returns the updated repository, or None when there is none of that name.
    pub fn set_trusted(&self, name: &str, trusted: bool) -> Result<Option<Repository>, StoreError> {
        {
            let conn = self.conn();
            conn.execute(
                "UPDATE repositories SET trusted = ?2 WHERE name = ?1",
                params![name, trusted],
            )?;
        }
        self.repository(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    #[test]
    fn repositories_are_kept_across_reopening_and_listed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            for name in ["web", "api"] {
                store
                    .add_repository(&NewRepository {
                        name,
                        path: &format!("/src/{name}"),
                        trusted: false,
                        added_at: 7,
                    })
                    .unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let names: Vec<_> = store
            .repositories()
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["api", "web"]);
        assert_eq!(
            store.repository_at("/src/web").unwrap().unwrap().name,
            "web"
        );
    }

    #[test]
    fn a_duplicate_name_is_refused_and_the_first_kept() {
        let (_dir, store) = store();
        let first = NewRepository {
            name: "web",
            path: "/a",
            trusted: true,
            added_at: 1,
        };
        store.add_repository(&first).unwrap();
        let err = store
            .add_repository(&NewRepository {
                path: "/b",
                ..first
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::DuplicateRepository(ref n) if n == "web"));
        assert_eq!(store.repository("web").unwrap().unwrap().path, "/a");
    }

    #[test]
    fn trust_and_removal() {
        let (_dir, store) = store();
        store
            .add_repository(&NewRepository {
                name: "web",
                path: "/a",
                trusted: false,
                added_at: 1,
            })
            .unwrap();
        assert!(store.set_trusted("web", true).unwrap().unwrap().trusted);
        assert!(store.set_trusted("nope", true).unwrap().is_none());
        assert!(store.remove_repository("web").unwrap());
        assert!(!store.remove_repository("web").unwrap());
    }
}
