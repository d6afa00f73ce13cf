//! SQLite, the one place Slipway's records live: schema, migrations and
//! queries. This is the only module that writes SQL. Every state change is
//! committed before it is reported to anyone, so a killed engine loses
//! nothing it has told a user about.
//!
//! The database runs in WAL mode so the desktop app, `slipway serve` and CLI
//! commands can read while one of them writes.

mod deployments;
mod executions;
mod heads;
mod migrate;
mod profiles;
mod repositories;
mod requests;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use deployments::{
    Deployment, DeploymentDetail, DeploymentEvent, DeploymentStatus, Initiator, NewDeployment,
};
pub use executions::{
    ActionRecord, ApprovalRecord, ArtifactRecord, ExecutionDetail, ExecutionSummary, NewExecution,
    NewStage, ReportCounts, StageRecord,
};
pub use profiles::{Profile, DEFAULT_DURATION_SECONDS};
pub use repositories::{NewRepository, Repository};
pub use requests::EngineRequestRecord;

/// Reads a column holding a closed set's spelling (a status, a kind, …).
/// A spelling the set does not know is an error naming the column and the
/// spelling, never a silent default: a row written by a newer Slipway, or
/// edited by hand, must not be mistaken for something it is not.
pub(crate) fn enum_col<T>(row: &rusqlite::Row<'_>, col: &str) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = crate::model::UnknownValue>,
{
    let text: String = row.get(col)?;
    parse_col(row, col, &text)
}

/// [`enum_col`] for a column that may be NULL.
pub(crate) fn opt_enum_col<T>(row: &rusqlite::Row<'_>, col: &str) -> rusqlite::Result<Option<T>>
where
    T: std::str::FromStr<Err = crate::model::UnknownValue>,
{
    let text: Option<String> = row.get(col)?;
    text.map(|t| parse_col(row, col, &t)).transpose()
}

/// A JSON column that must parse as `T`: anything else is an error naming
/// the column, never a default.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    col: &str,
) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    parse_json(row, col, &text)
}

/// [`json_col`] for a column that may be NULL.
pub(crate) fn opt_json_col<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    col: &str,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(col)?;
    text.map(|t| parse_json(row, col, &t)).transpose()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    col: &str,
    text: &str,
) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| conversion(row, col, e.to_string()))
}

fn conversion(row: &rusqlite::Row<'_>, col: &str, why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        row.as_ref().column_index(col).unwrap_or(0),
        rusqlite::types::Type::Text,
        format!("column `{col}`: {why}").into(),
    )
}

fn parse_col<T>(row: &rusqlite::Row<'_>, col: &str, text: &str) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = crate::model::UnknownValue>,
{
    text.parse()
        .map_err(|err: crate::model::UnknownValue| conversion(row, col, err.to_string()))
}

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "slipway.db";

/// How long a writer waits for another process's write to finish before
/// giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer Slipway (schema {found}, this one knows up to {known}); \
         upgrade Slipway, or point --data-dir elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("a repository named `{0}` already exists; pick another with --name")]
    DuplicateRepository(String),
    #[error("the database failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("a record could not be written as JSON: {0}")]
    Encode(String),
}

impl StoreError {
    /// The stable code this error crosses boundaries with.
    pub fn code(&self) -> crate::model::ErrorCode {
        match self {
            StoreError::DuplicateRepository(_) => crate::model::ErrorCode::AlreadyExists,
            _ => crate::model::ErrorCode::Io,
        }
    }
}

/// A handle on the database. Cheap operations run under one mutex: SQLite
/// serialises writers anyway, and our queries are short.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating and migrating as needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        // WAL with synchronous=NORMAL is durable across process crashes (the
        // case we guard against); only an OS crash can lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        migrate::run(&mut conn, path)?;
        Ok(Store {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection usable: every
        // write is a transaction that SQLite rolled back.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_is_idempotent_and_uses_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let mode: String = store
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_database_from_a_newer_slipway_is_refused_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE);
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Store::open(&path).err().expect("newer schema is refused");
        assert!(err.to_string().contains("newer Slipway"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 999, "the file is left as it was");
    }
}
