//! Choosing files by CodeBuild's globs: `artifacts.files`, `exclude-paths`,
//! report `files` and cache `paths`, each relative to a base directory.
//!
//! Semantics, as CodeBuild's: `*` stays within one directory, `**` crosses
//! directories, so `**/*` is "every file below the base"; a plain path that
//! names a directory takes everything below it; `discard-paths` keeps only
//! file names; symbolic links are followed to files unless
//! `enable-symlinks` asks to keep them as links (links to directories are
//! never followed, so a loop cannot run forever).
//!
//! This module owns matching only. It must never copy, store or delete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::spec::buildspec::Artifacts;

use super::artifact_store::{ArtifactFile, ArtifactStore};
use super::outcome::CollectedArtifact;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("base-directory {0} does not exist")]
    BaseMissing(PathBuf),
    #[error("`{pattern}` is not a valid glob: {message}")]
    BadGlob { pattern: String, message: String },
    #[error("no matching artifact paths found for {0}")]
    NoMatch(String),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] super::artifact_store::StoreError),
}

/// What to choose under `base`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub base: PathBuf,
    pub patterns: Vec<String>,
    pub excludes: Vec<String>,
    pub discard_paths: bool,
    /// Keep symbolic links as links instead of following them.
    pub keep_symlinks: bool,
}

/// One chosen file: where it is, and its path in the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub source: PathBuf,
    /// Relative, `/`-separated.
    pub path: String,
    pub symlink: bool,
}

impl From<Selected> for ArtifactFile {
    fn from(s: Selected) -> ArtifactFile {
        ArtifactFile {
            path: s.path,
            source: s.source,
            symlink: s.symlink,
        }
    }
}

/// The files `selection` chooses, sorted by result path. With
/// `discard_paths`, two files of the same name collapse to the later one in
/// path order, as CodeBuild's upload overwrites.
pub fn select(selection: &Selection) -> Result<Vec<Selected>, FilesError> {
    let base = &selection.base;
    if !base.is_dir() {
        return Err(FilesError::BaseMissing(base.clone()));
    }
    let includes = glob_set(base, &selection.patterns)?;
    let excludes = glob_set(base, &selection.excludes)?;
    let mut found = BTreeMap::new();
    let mut stack = vec![(base.clone(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|source| FilesError::Io {
            path: dir.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| FilesError::Io {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let rel_path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let kind = entry.file_type().map_err(|source| FilesError::Io {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                stack.push((path, rel_path));
                continue;
            }
            let symlink = kind.is_symlink();
            if symlink && !selection.keep_symlinks && !path.is_file() {
                continue;
            }
            if !includes.is_match(&rel_path) || excludes.is_match(&rel_path) {
                continue;
            }
            let dest = if selection.discard_paths {
                name
            } else {
                rel_path.clone()
            };
            found.insert(
                (dest.clone(), rel_path),
                Selected {
                    source: path,
                    path: dest,
                    symlink: symlink && selection.keep_symlinks,
                },
            );
        }
    }
    let mut by_dest: BTreeMap<String, Selected> = BTreeMap::new();
    for (_, s) in found {
        by_dest.insert(s.path.clone(), s);
    }
    Ok(by_dest.into_values().collect())
}

fn glob_set(base: &Path, patterns: &[String]) -> Result<GlobSet, FilesError> {
    let mut builder = GlobSetBuilder::new();
    for raw in patterns {
        let mut pattern = raw.trim().trim_start_matches("./").to_string();
        if pattern.ends_with('/') {
            pattern.push_str("**/*");
        } else if !pattern.contains(['*', '?', '[', '{']) && base.join(&pattern).is_dir() {
            pattern.push_str("/**/*");
        }
        let glob = GlobBuilder::new(&pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| FilesError::BadGlob {
                pattern: raw.clone(),
                message: e.kind().to_string(),
            })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| FilesError::BadGlob {
        pattern: patterns.join(", "),
        message: e.to_string(),
    })
}

/// Collects one artifact (primary or secondary) of a finished build into
/// the store.
pub(crate) fn collect_artifact(
    store: &ArtifactStore,
    src_dir: &Path,
    identifier: Option<String>,
    artifacts: &Artifacts,
) -> Result<CollectedArtifact, FilesError> {
    let selection = Selection {
        base: match &artifacts.base_directory {
            Some(b) => src_dir.join(b),
            None => src_dir.to_path_buf(),
        },
        patterns: artifacts.files.clone(),
        excludes: artifacts.exclude_paths.clone(),
        discard_paths: artifacts.discard_paths,
        keep_symlinks: artifacts.enable_symlinks,
    };
    let chosen = select(&selection)?;
    if chosen.is_empty() {
        return Err(FilesError::NoMatch(artifacts.files.join(", ")));
    }
    let files: Vec<ArtifactFile> = chosen.into_iter().map(ArtifactFile::from).collect();
    let artifact = store.put_dir(&files)?;
    Ok(CollectedArtifact {
        identifier,
        name: artifacts.name.clone(),
        artifact,
    })
}
