//! The build cache: `cache.paths` saved after a successful build and
//! restored before the next build of the same pipeline, under
//! `<data_dir>/cache/<scope>/<entry>/` (`key` file + `files/` tree).
//!
//! Keys as CodeBuild: `key` must match exactly; when it misses,
//! `fallback-keys` are tried in order as prefixes, the newest matching
//! entry winning; without a key there is one cache per scope. `action`
//! `restore` only restores, `save` only saves.
//!
//! This module owns the cache directory. It must never fail a build: a
//! cache that cannot be read or written is reported in the log and the
//! build goes on (CodeBuild treats the cache the same way).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::clock::Millis;
use crate::spec::buildspec::{Cache, CacheAction};

use super::files::{select, Selection};

/// Restores the best matching cache entry into `src_dir`; returns the line
/// for the log.
pub(crate) fn restore(data_dir: &Path, scope: &str, cache: &Cache, src_dir: &Path) -> String {
    if cache.action == CacheAction::Save {
        return "Cache: action is save; not restoring".into();
    }
    let dir = scope_dir(data_dir, scope);
    let Some((entry, key)) = find(&dir, cache) else {
        return "Cache: no cache entry matches; starting without one".into();
    };
    match copy_tree(&entry.join("files"), src_dir) {
        Ok(n) => format!("Cache: restored {n} files from key {key}"),
        Err(e) => format!("Cache: could not restore key {key}: {e}"),
    }
}

/// Saves the files `cache.paths` chooses under `src_dir`; returns the line
/// for the log.
pub(crate) fn save(data_dir: &Path, scope: &str, cache: &Cache, src_dir: &Path) -> String {
    if cache.action == CacheAction::Restore {
        return "Cache: action is restore; not saving".into();
    }
    let (relative, absolute): (Vec<&String>, Vec<&String>) =
        cache.paths.iter().partition(|p| !p.starts_with('/'));
    let mut note = String::new();
    if !absolute.is_empty() {
        // Paths outside the source (`/root/.m2/**/*`) are this machine's own
        // directories, which persist between builds anyway.
        note = format!(
            " ({} absolute paths left in place: they persist on this machine)",
            absolute.len()
        );
    }
    let key = cache.key.clone().unwrap_or_default();
    let dir = scope_dir(data_dir, scope);
    let entry = dir.join(entry_name(&key));
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let result = (|| -> Result<usize, String> {
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("files")).map_err(|e| e.to_string())?;
        std::fs::write(tmp.join("key"), &key).map_err(|e| e.to_string())?;
        let chosen = select(&Selection {
            base: src_dir.to_path_buf(),
            patterns: relative.into_iter().cloned().collect(),
            ..Selection::default()
        })
        .map_err(|e| e.to_string())?;
        for f in &chosen {
            let dest = tmp.join("files").join(&f.path);
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::copy(&f.source, &dest).map_err(|e| format!("{}: {e}", f.path))?;
        }
        // Replace the old entry whole, so a reader never sees a mix.
        let _ = std::fs::remove_dir_all(&entry);
        std::fs::rename(&tmp, &entry).map_err(|e| e.to_string())?;
        Ok(chosen.len())
    })();
    match result {
        Ok(n) => format!("Cache: saved {n} files under key {}{note}", shown(&key)),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            format!("Cache: could not save: {e}")
        }
    }
}

fn find(dir: &Path, cache: &Cache) -> Option<(PathBuf, String)> {
    let key = cache.key.clone().unwrap_or_default();
    let exact = dir.join(entry_name(&key));
    if exact.join("files").is_dir() {
        return Some((exact, shown(&key)));
    }
    let entries: Vec<(PathBuf, String, Millis)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| {
            let key_file = e.path().join("key");
            let key = std::fs::read_to_string(&key_file).ok()?;
            let time = crate::clock::modified(&std::fs::metadata(&key_file).ok()?);
            Some((e.path(), key, time))
        })
        .collect();
    for prefix in &cache.fallback_keys {
        let newest = entries
            .iter()
            .filter(|(_, k, _)| k.starts_with(prefix.as_str()))
            .max_by_key(|(_, _, t)| *t);
        if let Some((path, k, _)) = newest {
            return Some((path.clone(), shown(k)));
        }
    }
    None
}

fn copy_tree(from: &Path, to: &Path) -> Result<usize, String> {
    let chosen = select(&Selection {
        base: from.to_path_buf(),
        patterns: vec!["**/*".into()],
        ..Selection::default()
    })
    .map_err(|e| e.to_string())?;
    for f in &chosen {
        let dest = to.join(&f.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::copy(&f.source, &dest).map_err(|e| format!("{}: {e}", f.path))?;
    }
    Ok(chosen.len())
}

fn scope_dir(data_dir: &Path, scope: &str) -> PathBuf {
    let safe: String = scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    data_dir.join("cache").join(safe)
}

/// Keys may hold any text; entries are named by the key's hash.
fn entry_name(key: &str) -> String {
    if key.is_empty() {
        return "default".into();
    }
    let digest = Sha256::digest(key.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn shown(key: &str) -> String {
    if key.is_empty() {
        "(none)".into()
    } else {
        key.to_string()
    }
}
