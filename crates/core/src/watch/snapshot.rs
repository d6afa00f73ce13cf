//! Source snapshots: an execution pins one commit and builds exactly that
//! commit's tree, written fresh into the execution's workspace with git2.
//! Uncommitted changes in the user's work tree never reach a build, and the
//! pipeline file is read from the same commit, so a pipeline change travels
//! with the code.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Where a repository keeps its pipeline files.
pub const PIPELINE_DIR: &str = ".slipway";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot open the repository at {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("`{rev}` names no commit in {path}: {reason}")]
    NoSuchRevision {
        rev: String,
        path: PathBuf,
        reason: String,
    },
    #[error("the repository at {0} has no commits yet")]
    NoCommits(PathBuf),
    #[error("reading commit {commit}: {reason}")]
    Read { commit: String, reason: String },
    #[error("writing the snapshot into {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One commit, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Revision {
    /// The full commit id.
    pub commit: String,
    /// The branch the revision was named by, or HEAD's branch.
    pub branch: Option<String>,
    /// The first line of the commit message.
    pub message: String,
    pub author: String,
}

/// A pipeline file found at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFile {
    /// Path inside the repository, e.g. `.slipway/web.yml`.
    pub path: String,
    /// The file's stem: the pipeline's name unless the file says `name:`.
    pub stem: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SnapshotStats {
    pub files: u64,
    pub bytes: u64,
}

fn open(repo_path: &Path) -> Result<Repository, SnapshotError> {
    Repository::open(repo_path).map_err(|e| SnapshotError::Open {
        path: repo_path.to_path_buf(),
        reason: e.message().to_string(),
    })
}

/// Resolves `rev` (a branch, tag, or commit id; default HEAD) to a commit.
pub fn resolve(repo_path: &Path, rev: Option<&str>) -> Result<Revision, SnapshotError> {
    let repo = open(repo_path)?;
    let (object, branch) = match rev {
        Some(rev) => {
            let (object, reference) =
                repo.revparse_ext(rev)
                    .map_err(|e| SnapshotError::NoSuchRevision {
                        rev: rev.to_string(),
                        path: repo_path.to_path_buf(),
                        reason: e.message().to_string(),
                    })?;
            let branch = reference
                .filter(|r| r.is_branch())
                .and_then(|r| r.shorthand().ok().map(str::to_string));
            (object, branch)
        }
        None => {
            let head = repo
                .head()
                .map_err(|_| SnapshotError::NoCommits(repo_path.to_path_buf()))?;
            let branch = head
                .is_branch()
                .then(|| head.shorthand().ok().map(str::to_string))
                .flatten();
            let object = head
                .peel(ObjectType::Commit)
                .map_err(|_| SnapshotError::NoCommits(repo_path.to_path_buf()))?;
            (object, branch)
        }
    };
    let commit = object
        .peel_to_commit()
        .map_err(|e| SnapshotError::NoSuchRevision {
            rev: rev.unwrap_or("HEAD").to_string(),
            path: repo_path.to_path_buf(),
            reason: e.message().to_string(),
        })?;
    let author = commit.author().name().unwrap_or("").to_string();
    let revision = Revision {
        commit: commit.id().to_string(),
        branch,
        message: commit.summary().ok().flatten().unwrap_or("").to_string(),
        author,
    };
    Ok(revision)
}

fn commit_tree<'r>(repo: &'r Repository, commit: &str) -> Result<git2::Tree<'r>, SnapshotError> {
    let read = |e: git2::Error| SnapshotError::Read {
        commit: commit.to_string(),
        reason: e.message().to_string(),
    };
    let oid = Oid::from_str(commit).map_err(read)?;
    repo.find_commit(oid).and_then(|c| c.tree()).map_err(read)
}

/// The `.slipway/*.yml` and `*.yaml` files at `commit`, by path.
pub fn pipeline_files(repo_path: &Path, commit: &str) -> Result<Vec<PipelineFile>, SnapshotError> {
    let repo = open(repo_path)?;
    let tree = commit_tree(&repo, commit)?;
    let Ok(entry) = tree.get_path(Path::new(PIPELINE_DIR)) else {
        return Ok(Vec::new());
    };
    let read = |e: git2::Error| SnapshotError::Read {
        commit: commit.to_string(),
        reason: e.message().to_string(),
    };
    let dir = entry.to_object(&repo).map_err(read)?;
    let Some(dir) = dir.as_tree() else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in dir.iter() {
        let Ok(name) = entry.name() else { continue };
        let Some(stem) = name
            .strip_suffix(".yml")
            .or_else(|| name.strip_suffix(".yaml"))
        else {
            continue;
        };
        let object = entry.to_object(&repo).map_err(read)?;
        let Some(blob) = object.as_blob() else {
            continue;
        };
        files.push(PipelineFile {
            path: format!("{PIPELINE_DIR}/{name}"),
            stem: stem.to_string(),
            text: String::from_utf8_lossy(blob.content()).into_owned(),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// One file at `commit`, or None when the commit has no such file.
pub fn read_file(
    repo_path: &Path,
    commit: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, SnapshotError> {
    let repo = open(repo_path)?;
    let tree = commit_tree(&repo, commit)?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(None);
    };
    let object = entry.to_object(&repo).map_err(|e| SnapshotError::Read {
        commit: commit.to_string(),
        reason: e.message().to_string(),
    })?;
    Ok(object.as_blob().map(|b| b.content().to_vec()))
}

/// Writes the tree of `commit` into `dest` (which must not hold anything
/// else): files with their executable bit, symlinks as symlinks. Submodules
/// are left empty, as a plain checkout leaves them.
pub fn materialize(
    repo_path: &Path,
    commit: &str,
    dest: &Path,
) -> Result<SnapshotStats, SnapshotError> {
    let repo = open(repo_path)?;
    let tree = commit_tree(&repo, commit)?;
    let write_err = |path: &Path, source| SnapshotError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dest).map_err(|e| write_err(dest, e))?;
    let mut stats = SnapshotStats::default();
    let mut failure: Option<SnapshotError> = None;
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = entry.name() else {
            return TreeWalkResult::Skip;
        };
        let relative = Path::new(dir).join(name);
        // A tree entry can never climb out of the destination.
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return TreeWalkResult::Skip;
        }
        let target = dest.join(&relative);
        let result = (|| -> Result<(), SnapshotError> {
            match entry.kind() {
                Some(ObjectType::Tree) => {
                    std::fs::create_dir_all(&target).map_err(|e| write_err(&target, e))?;
                }
                Some(ObjectType::Blob) => {
                    let object = entry.to_object(&repo).map_err(|e| SnapshotError::Read {
                        commit: commit.to_string(),
                        reason: e.message().to_string(),
                    })?;
                    let content = object.as_blob().map(|b| b.content()).unwrap_or_default();
                    write_entry(&target, content, entry.filemode())
                        .map_err(|e| write_err(&target, e))?;
                    stats.files += 1;
                    stats.bytes += content.len() as u64;
                }
                // Submodule commits: an empty folder, as `git clone` leaves it.
                _ => {
                    std::fs::create_dir_all(&target).map_err(|e| write_err(&target, e))?;
                }
            }
            Ok(())
        })();
        match result {
            Ok(()) => TreeWalkResult::Ok,
            Err(e) => {
                failure = Some(e);
                TreeWalkResult::Abort
            }
        }
    })
    .map_err(|e| {
        failure.take().unwrap_or(SnapshotError::Read {
            commit: commit.to_string(),
            reason: e.message().to_string(),
        })
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}

const MODE_SYMLINK: i32 = 0o120000;
const MODE_EXECUTABLE: i32 = 0o100755;

fn write_entry(target: &Path, content: &[u8], mode: i32) -> std::io::Result<()> {
    if mode == MODE_SYMLINK {
        let link = String::from_utf8_lossy(content).into_owned();
        return crate::platform::fs::symlink(Path::new(&link), target);
    }
    let mut file = std::fs::File::create(target)?;
    file.write_all(content)?;
    if mode == MODE_EXECUTABLE {
        crate::platform::fs::set_executable(&file)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::GitRepo;

    #[test]
    fn a_snapshot_is_the_commit_not_the_dirty_work_tree() {
        let repo = GitRepo::new();
        repo.write("src/app.sh", "echo committed\n");
        repo.write_executable("run.sh", "#!/bin/sh\n./src/app.sh\n");
        let first = repo.commit("first");
        repo.write("src/app.sh", "echo uncommitted\n");
        repo.write("scratch.txt", "not added\n");

        let dest = repo.dir().join("workspace");
        let stats = materialize(repo.path(), &first, &dest).unwrap();
        assert_eq!(stats.files, 2);
        assert_eq!(
            std::fs::read_to_string(dest.join("src/app.sh")).unwrap(),
            "echo committed\n"
        );
        assert!(!dest.join("scratch.txt").exists());
        assert!(!dest.join(".git").exists());
        let meta = std::fs::metadata(dest.join("run.sh")).unwrap();
        if let Some(mode) = crate::platform::fs::mode(&meta) {
            assert_eq!(mode & 0o111, 0o111, "the executable bit is kept");
        }
    }

    #[test]
    fn pipeline_files_come_from_the_named_commit() {
        let repo = GitRepo::new();
        repo.write(".slipway/web.yml", "version: 1\n");
        let first = repo.commit("add web pipeline");
        repo.write(".slipway/api.yaml", "version: 1\n");
        repo.write(".slipway/notes.txt", "ignored\n");
        let second = repo.commit("add api pipeline");

        let stems = |c: &str| -> Vec<String> {
            pipeline_files(repo.path(), c)
                .unwrap()
                .into_iter()
                .map(|f| f.stem)
                .collect()
        };
        assert_eq!(stems(&first), ["web"]);
        assert_eq!(stems(&second), ["api", "web"]);
    }

    #[test]
    fn revisions_resolve_by_branch_tag_and_id_with_head_by_default() {
        let repo = GitRepo::new();
        repo.write("a", "1");
        let first = repo.commit("first commit");
        repo.tag("v1");
        repo.write("a", "2");
        let second = repo.commit("second commit\n\nbody");

        let head = resolve(repo.path(), None).unwrap();
        assert_eq!(head.commit, second);
        assert_eq!(head.message, "second commit");
        assert_eq!(head.branch.as_deref(), Some("main"));
        assert_eq!(resolve(repo.path(), Some("v1")).unwrap().commit, first);
        assert_eq!(
            resolve(repo.path(), Some(&first[..8])).unwrap().commit,
            first
        );
        let err = resolve(repo.path(), Some("nope")).unwrap_err();
        assert!(err.to_string().contains("`nope` names no commit"), "{err}");
    }

    #[test]
    fn an_empty_repository_says_it_has_no_commits() {
        let repo = GitRepo::new();
        let err = resolve(repo.path(), None).unwrap_err();
        assert!(matches!(err, SnapshotError::NoCommits(_)), "{err}");
    }
}
