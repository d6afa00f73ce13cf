//! The file formats users bring: `.slipway/*.yml` pipelines, CodeBuild
//! `buildspec.yml` and CodeDeploy `appspec.yml`/`appspec.json`.
//!
//! This module owns parsing and validation into typed structs (what the
//! engine, build runner and deployer consume) and the located errors a
//! person can act on. It is pure: the only I/O is reading the file handed
//! to [`validate_file`] and listing a repository in [`discover`]. It must
//! never run a command, write a file or talk to AWS.

pub mod appspec;
pub mod buildspec;
mod error;
pub mod pipeline;
mod read;
pub mod yaml;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::{LoadError, SpecError};

/// Which format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Buildspec,
    Appspec,
    Pipeline,
}

impl Kind {
    /// The kind a file's name implies: `buildspec*.yml|yaml`,
    /// `appspec.yml|yaml|json`, or a `.yml|yaml` directly under `.slipway/`.
    pub fn from_path(path: &Path) -> Option<Kind> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        let in_slipway = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == ".slipway");
        if in_slipway && yaml {
            Some(Kind::Pipeline)
        } else if name.starts_with("buildspec") && yaml {
            Some(Kind::Buildspec)
        } else if matches!(
            name.as_str(),
            "appspec.yml" | "appspec.yaml" | "appspec.json"
        ) {
            Some(Kind::Appspec)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Buildspec => "buildspec",
            Kind::Appspec => "appspec",
            Kind::Pipeline => "pipeline",
        }
    }
}

/// The outcome of validating one file, as `slipway validate --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub file: String,
    /// `None` when the kind could not be inferred from the name.
    pub kind: Option<Kind>,
    pub ok: bool,
    pub errors: Vec<SpecError>,
}

/// Parses `text` as `kind`, returning only the errors (for callers that
/// want a verdict rather than the typed value).
pub fn check(text: &str, file_name: &str, kind: Kind) -> Vec<SpecError> {
    let result = match kind {
        Kind::Buildspec => buildspec::parse(text, file_name).map(drop),
        Kind::Appspec => appspec::parse(text, file_name).map(drop),
        Kind::Pipeline => pipeline::parse(text, file_name).map(drop),
    };
    result.err().unwrap_or_default()
}

/// Reads and validates one file. The kind comes from `kind` or else from
/// the file's name; an unreadable, oversized or unrecognised file is a
/// report with one error, never a panic.
pub fn validate_file(path: &Path, kind: Option<Kind>) -> FileReport {
    let file = path.display().to_string();
    let kind = kind.or_else(|| Kind::from_path(path));
    let whole_file_error = |message: String| FileReport {
        file: file.clone(),
        kind,
        ok: false,
        errors: vec![SpecError {
            file: file.clone(),
            line: 1,
            column: 1,
            path: String::new(),
            message,
        }],
    };
    let Some(kind) = kind else {
        return whole_file_error(
            "cannot tell the file's kind from its name; pass --kind buildspec|appspec|pipeline"
                .into(),
        );
    };
    let text = match read_limited(path) {
        Ok(text) => text,
        Err(message) => return whole_file_error(message),
    };
    let mut errors = check(&text, &file, kind);
    for e in &mut errors {
        e.file = file.clone();
    }
    FileReport {
        file,
        kind: Some(kind),
        ok: errors.is_empty(),
        errors,
    }
}

/// Reads at most one byte more than the loader accepts, so a huge file is
/// refused without being read whole.
fn read_limited(path: &Path) -> Result<String, String> {
    let f = fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let mut bytes = Vec::new();
    f.take(yaml::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() > yaml::MAX_INPUT_BYTES {
        return Err(LoadError::TooLarge {
            size: fs::metadata(path)
                .map(|m| m.len() as usize)
                .unwrap_or(bytes.len()),
            limit: yaml::MAX_INPUT_BYTES,
        }
        .to_string());
    }
    // A UTF-8 byte-order mark is legal in YAML files written on Windows.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Directories never searched: version control, dependencies, build output.
const SKIPPED_DIRS: [&str; 3] = [".git", "node_modules", "target"];

/// Every buildspec, appspec and pipeline file under `repo_root`, sorted by
/// path. Symlinks are not followed, so a link cycle cannot trap the walk.
pub fn discover(repo_root: &Path) -> Vec<(PathBuf, Kind)> {
    let mut found = Vec::new();
    let mut pending = vec![repo_root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                let skip = entry
                    .file_name()
                    .to_str()
                    .is_none_or(|n| SKIPPED_DIRS.contains(&n));
                if !skip {
                    pending.push(path);
                }
            } else if file_type.is_file() {
                if let Some(kind) = Kind::from_path(&path) {
                    found.push((path, kind));
                }
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::Kind;
    use std::path::Path;

    #[test]
    fn kinds_come_from_file_names() {
        let k = |p: &str| Kind::from_path(Path::new(p));
        assert_eq!(k("buildspec.yml"), Some(Kind::Buildspec));
        assert_eq!(k("ci/buildspec-test.yaml"), Some(Kind::Buildspec));
        assert_eq!(k("appspec.json"), Some(Kind::Appspec));
        assert_eq!(k("deploy/appspec.yaml"), Some(Kind::Appspec));
        assert_eq!(k("repo/.slipway/web.yml"), Some(Kind::Pipeline));
        assert_eq!(k(".slipway/buildspec.yml"), Some(Kind::Pipeline));
        assert_eq!(k("appspec-ec2.yml"), None);
        assert_eq!(k("README.md"), None);
        assert_eq!(k("buildspec.json"), None);
    }
}
