//! Repositories: adding a local git repository (checked with git2, named by
//! its folder unless told otherwise), trusting it, listing it with whether it
//! is still where it was. Trust is recorded, never assumed: a repository's
//! pipelines run its own commands.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::clock::Millis;
use crate::store::{NewRepository, Repository, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{path} does not exist")]
    NoSuchPath { path: PathBuf },
    #[error("{path} is not a git repository (no .git found there or above): {reason}")]
    NotARepository { path: PathBuf, reason: String },
    #[error("{path} is a bare repository: Slipway needs a work tree")]
    Bare { path: PathBuf },
    #[error("`{0}` is not a usable repository name: use letters, digits, `-`, `_` or `.`")]
    BadName(String),
    #[error("no repository named `{0}` (see `slipway repo list`)")]
    NotFound(String),
    #[error("{path} is already added as `{name}`")]
    AlreadyAdded { path: String, name: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A repository as the user sees it: its record plus what is true of it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RepositoryInfo {
    pub name: String,
    pub path: String,
    pub trusted: bool,
    pub added_at: Millis,
    /// The work tree is gone (moved or deleted) or no longer a git repository.
    pub missing: bool,
}

impl RepositoryInfo {
    fn of(repo: Repository) -> RepositoryInfo {
        let missing = git2::Repository::open(&repo.path).is_err();
        RepositoryInfo {
            name: repo.name,
            path: repo.path,
            trusted: repo.trusted,
            added_at: repo.added_at,
            missing,
        }
    }
}

/// Names appear in `REPO/PIPELINE` addresses and URLs: keep them plain.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Adds the repository whose work tree contains `path`.
pub fn add(
    store: &Store,
    path: &Path,
    name: Option<&str>,
    trusted: bool,
    now: Millis,
) -> Result<RepositoryInfo, RepoError> {
    if !path.exists() {
        return Err(RepoError::NoSuchPath {
            path: path.to_path_buf(),
        });
    }
    let repo = git2::Repository::discover(path).map_err(|e| RepoError::NotARepository {
        path: path.to_path_buf(),
        reason: e.message().to_string(),
    })?;
    let workdir = repo.workdir().ok_or_else(|| RepoError::Bare {
        path: path.to_path_buf(),
    })?;
    let workdir = workdir
        .canonicalize()
        .unwrap_or_else(|_| workdir.to_path_buf());
    let workdir_str = workdir.to_string_lossy().trim_end_matches('/').to_string();
    let default_name = workdir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repository".into());
    let name = name.map(str::to_string).unwrap_or(default_name);
    if !valid_name(&name) {
        return Err(RepoError::BadName(name));
    }
    if let Some(existing) = store.repository_at(&workdir_str)? {
        return Err(RepoError::AlreadyAdded {
            path: workdir_str,
            name: existing.name,
        });
    }
    let added = store.add_repository(&NewRepository {
        name: &name,
        path: &workdir_str,
        trusted,
        added_at: now,
    })?;
    if trusted {
        record_baseline(store, &name, &repo, now);
    }
    Ok(RepositoryInfo::of(added))
}

/// Records the repository's heads as they are now, when trust begins: the
/// watcher then builds every commit made after this moment, even one made
/// before it got round to watching the repository (the watcher otherwise
/// takes the heads it first sees as the starting point).
fn record_baseline(store: &Store, name: &str, repo: &git2::Repository, now: Millis) {
    if matches!(store.heads(name), Ok(Some(_))) {
        return;
    }
    let heads = match crate::watch::heads::read(repo) {
        Ok(heads) => heads,
        Err(err) => {
            tracing::warn!(repository = name, %err, "cannot read the heads to start watching from");
            return;
        }
    };
    let updates: Vec<(&str, Option<&str>)> = heads
        .iter()
        .map(|(r, c)| (r.as_str(), Some(c.as_str())))
        .collect();
    if let Err(err) = store.record_heads(name, &updates, now) {
        tracing::warn!(repository = name, %err, "cannot record the heads to start watching from");
    }
}

pub fn list(store: &Store) -> Result<Vec<RepositoryInfo>, RepoError> {
    Ok(store
        .repositories()?
        .into_iter()
        .map(RepositoryInfo::of)
        .collect())
}

pub fn remove(store: &Store, name: &str) -> Result<RepositoryInfo, RepoError> {
    let repo = store
        .repository(name)?
        .ok_or_else(|| RepoError::NotFound(name.to_string()))?;
    store.remove_repository(name)?;
    Ok(RepositoryInfo::of(repo))
}

/// Trusts (or distrusts) a repository. Trusting it records its current
/// heads, at `now`, as the baseline the watcher starts from.
pub fn set_trusted(
    store: &Store,
    name: &str,
    trusted: bool,
    now: Millis,
) -> Result<RepositoryInfo, RepoError> {
    let repo = store
        .set_trusted(name, trusted)?
        .ok_or_else(|| RepoError::NotFound(name.to_string()))?;
    if trusted {
        if let Ok(git) = git2::Repository::open(&repo.path) {
            record_baseline(store, name, &git, now);
        }
    }
    Ok(RepositoryInfo::of(repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_repo(dir: &Path) -> PathBuf {
        let path = dir.join("web-app");
        git2::Repository::init(&path).unwrap();
        path
    }

    fn store(dir: &Path) -> Store {
        Store::open(&dir.join("db")).unwrap()
    }

    #[test]
    fn a_repository_is_named_by_its_folder_and_untrusted_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = git_repo(dir.path());
        std::fs::create_dir(path.join("src")).unwrap();
        let store = store(dir.path());
        // Adding from a subfolder finds the work tree's root.
        let repo = add(&store, &path.join("src"), None, false, 5).unwrap();
        assert_eq!(repo.name, "web-app");
        assert_eq!(repo.path, path.canonicalize().unwrap().to_string_lossy());
        assert!(!repo.trusted);
        assert!(!repo.missing);
    }

    #[test]
    fn the_same_work_tree_cannot_be_added_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = git_repo(dir.path());
        let store = store(dir.path());
        add(&store, &path, Some("web"), true, 5).unwrap();
        let err = add(&store, &path, Some("other"), true, 5).unwrap_err();
        assert!(err.to_string().contains("already added as `web`"), "{err}");
    }

    #[test]
    fn plain_folders_and_bad_names_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        // tempdirs live under /tmp, which is not inside a repository.
        let err = add(&store, &plain, None, false, 0).unwrap_err();
        assert!(matches!(err, RepoError::NotARepository { .. }), "{err}");
        let err = add(&store, &dir.path().join("nowhere"), None, false, 0).unwrap_err();
        assert!(err.to_string().ends_with("does not exist"), "{err}");
        let path = git_repo(dir.path());
        let err = add(&store, &path, Some("a/b"), false, 0).unwrap_err();
        assert!(matches!(err, RepoError::BadName(_)), "{err}");
    }

    #[test]
    fn a_deleted_work_tree_is_listed_as_missing_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = git_repo(dir.path());
        let store = store(dir.path());
        add(&store, &path, None, true, 0).unwrap();
        std::fs::remove_dir_all(&path).unwrap();
        let listed = list(&store).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].missing);
    }
}
