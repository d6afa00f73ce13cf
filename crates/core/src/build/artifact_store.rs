//! Content-addressed artifact storage under `<data_dir>/artifacts/`.
//!
//! Each file's bytes are one blob named by their sha256
//! (`blobs/<hex>`); an artifact is a manifest — the sorted list of
//! `kind mode size blob-digest path` lines — stored as `manifests/<hex>`,
//! whose own sha256 is the artifact's digest. Identical builds therefore
//! produce identical digests, and a file shared by many builds is stored
//! once.
//!
//! This module owns that layout: writing (atomically, via a temporary file
//! and a rename), materialising into a directory, and deleting what is no
//! longer referenced. It must never decide what to keep: `retain` is given
//! the digests that deployments may still roll back to. `retain` must not
//! run while a `put_dir` is in progress (the engine serialises them), or a
//! blob written for a manifest not yet stored could be deleted.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("`{0}` cannot be stored: artifact paths are relative, without `..` or newlines")]
    BadPath(String),
    #[error("no artifact with digest {0} is stored (it may have been removed by retention)")]
    Unknown(String),
    #[error("the manifest of artifact {0} is damaged")]
    Corrupt(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file to put into an artifact.
#[derive(Debug, Clone)]
pub struct ArtifactFile {
    /// Its path inside the artifact: relative, `/`-separated.
    pub path: String,
    pub source: PathBuf,
    /// Store the link itself (its target) instead of what it points to.
    pub symlink: bool,
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactRef {
    /// sha256 of the manifest, lowercase hex.
    pub digest: String,
    /// Total bytes of the files.
    pub size: u64,
    pub file_count: usize,
}

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub path: String,
    pub blob: String,
    pub size: u64,
    /// Unix permission bits (0o644 where the platform has none).
    pub mode: u32,
    pub symlink: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainReport {
    pub manifests_removed: usize,
    pub blobs_removed: usize,
    pub bytes_freed: u64,
}

#[derive(Debug, Clone)]
pub struct ArtifactStore {
    blobs: PathBuf,
    manifests: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ArtifactStore {
    /// Opens (creating if needed) the store of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<ArtifactStore, StoreError> {
        let root = data_dir.join("artifacts");
        let store = ArtifactStore {
            blobs: root.join("blobs"),
            manifests: root.join("manifests"),
        };
        for dir in [&store.blobs, &store.manifests] {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        Ok(store)
    }

    /// Stores `files` as one artifact. Paths must be unique.
    pub fn put_dir(&self, files: &[ArtifactFile]) -> Result<ArtifactRef, StoreError> {
        let mut entries = Vec::with_capacity(files.len());
        for f in files {
            check_path(&f.path)?;
            let (blob, size, mode) = if f.symlink {
                let target = std::fs::read_link(&f.source).map_err(io_err(&f.source))?;
                let bytes = target.to_string_lossy().into_owned().into_bytes();
                let (blob, size) = self.put_blob(&mut bytes.as_slice())?;
                (blob, size, 0o777)
            } else {
                let mut file = File::open(&f.source).map_err(io_err(&f.source))?;
                let mode = mode_of(&file);
                let (blob, size) = self.put_blob(&mut file)?;
                (blob, size, mode)
            };
            entries.push(ManifestEntry {
                path: f.path.clone(),
                blob,
                size,
                mode,
                symlink: f.symlink,
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let text = render_manifest(&entries);
        let (digest, _) = self.write_named(&self.manifests, &mut text.as_bytes())?;
        Ok(ArtifactRef {
            digest,
            size: entries.iter().map(|e| e.size).sum(),
            file_count: entries.len(),
        })
    }

    /// Stores every file below `dir` (links kept as links).
    pub fn put_tree(&self, dir: &Path) -> Result<ArtifactRef, StoreError> {
        let selection = super::files::Selection {
            base: dir.to_path_buf(),
            patterns: vec!["**/*".into()],
            keep_symlinks: true,
            ..Default::default()
        };
        let chosen = super::files::select(&selection).map_err(|e| StoreError::Io {
            path: dir.to_path_buf(),
            source: io::Error::other(e.to_string()),
        })?;
        let files: Vec<ArtifactFile> = chosen.into_iter().map(ArtifactFile::from).collect();
        self.put_dir(&files)
    }

    /// The entries of a stored artifact.
    pub fn manifest(&self, digest: &str) -> Result<Vec<ManifestEntry>, StoreError> {
        if !is_digest(digest) {
            return Err(StoreError::Unknown(digest.to_string()));
        }
        let path = self.manifests.join(digest);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Unknown(digest.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        parse_manifest(&text).ok_or_else(|| StoreError::Corrupt(digest.to_string()))
    }

    /// Writes the artifact's files into `dest` (created if missing; files
    /// already there with the same paths are replaced).
    pub fn materialize(&self, digest: &str, dest: &Path) -> Result<(), StoreError> {
        let entries = self.manifest(digest)?;
        std::fs::create_dir_all(dest).map_err(io_err(dest))?;
        for e in entries {
            check_path(&e.path).map_err(|_| StoreError::Corrupt(digest.to_string()))?;
            let target = dest.join(&e.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            let blob = self.blobs.join(&e.blob);
            if std::fs::symlink_metadata(&target).is_ok() {
                std::fs::remove_file(&target).map_err(io_err(&target))?;
            }
            if e.symlink {
                let link = std::fs::read_to_string(&blob).map_err(io_err(&blob))?;
                crate::platform::fs::symlink(Path::new(&link), &target).map_err(io_err(&target))?;
            } else {
                std::fs::copy(&blob, &target).map_err(io_err(&blob))?;
                crate::platform::fs::set_mode(&target, e.mode).map_err(io_err(&target))?;
            }
        }
        Ok(())
    }

    /// Deletes every artifact not in `keep`, and every blob no kept
    /// artifact refers to. Unknown digests in `keep` are ignored.
    pub fn retain(&self, keep: &[String]) -> Result<RetainReport, StoreError> {
        let keep: BTreeSet<&str> = keep.iter().map(String::as_str).collect();
        let mut report = RetainReport::default();
        let mut referenced = BTreeSet::new();
        for name in list(&self.manifests)? {
            if keep.contains(name.as_str()) {
                for e in self.manifest(&name)? {
                    referenced.insert(e.blob);
                }
            } else if is_digest(&name) {
                let path = self.manifests.join(&name);
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                report.manifests_removed += 1;
            }
        }
        for name in list(&self.blobs)? {
            if is_digest(&name) && !referenced.contains(&name) {
                let path = self.blobs.join(&name);
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                report.blobs_removed += 1;
                report.bytes_freed += size;
            }
        }
        Ok(report)
    }

    fn put_blob(&self, reader: &mut dyn Read) -> Result<(String, u64), StoreError> {
        self.write_named(&self.blobs, reader)
    }

    /// Streams `reader` into `dir/<sha256>`, via a temporary file so a
    /// reader never sees a half-written blob.
    fn write_named(&self, dir: &Path, reader: &mut dyn Read) -> Result<(String, u64), StoreError> {
        let tmp = dir.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut out = File::create(&tmp).map_err(io_err(&tmp))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            let mut size = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io_err(&tmp)(e)),
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io_err(&tmp))?;
                size += n as u64;
            }
            let digest = hex(&hasher.finalize());
            let path = dir.join(&digest);
            if path.exists() {
                std::fs::remove_file(&tmp).map_err(io_err(&tmp))?;
            } else {
                out.sync_all().map_err(io_err(&tmp))?;
                std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
            }
            Ok((digest, size))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn render_manifest(entries: &[ManifestEntry]) -> String {
    let mut text = String::from("slipway-artifact 1\n");
    for e in entries {
        let kind = if e.symlink { 'l' } else { 'f' };
        text.push_str(&format!(
            "{kind} {:o} {} {} {}\n",
            e.mode, e.size, e.blob, e.path
        ));
    }
    text
}

fn parse_manifest(text: &str) -> Option<Vec<ManifestEntry>> {
    let mut lines = text.lines();
    if lines.next()? != "slipway-artifact 1" {
        return None;
    }
    lines
        .map(|line| {
            let mut parts = line.splitn(5, ' ');
            let symlink = match parts.next()? {
                "f" => false,
                "l" => true,
                _ => return None,
            };
            let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
            let size = parts.next()?.parse().ok()?;
            let blob = parts.next()?.to_string();
            let path = parts.next()?.to_string();
            is_digest(&blob).then_some(ManifestEntry {
                path,
                blob,
                size,
                mode,
                symlink,
            })
        })
        .collect()
}

fn check_path(path: &str) -> Result<(), StoreError> {
    let ok = !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\n', '\r', '\\'])
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    ok.then_some(())
        .ok_or_else(|| StoreError::BadPath(path.to_string()))
}

fn is_digest(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn list(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

fn mode_of(file: &File) -> u32 {
    file.metadata()
        .ok()
        .and_then(|m| crate::platform::fs::mode(&m))
        .map_or(0o644, |m| m & 0o777)
}
