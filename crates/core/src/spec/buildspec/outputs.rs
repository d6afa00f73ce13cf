//! What a build leaves behind: `artifacts` (primary and secondary),
//! `reports` and `cache`. Grammar only; uploading and restoring belong to
//! the build runner.

use serde::Serialize;

use crate::spec::read::{KeyPath, Reader};
use crate::spec::yaml::Node;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Artifacts {
    /// Globs relative to `base_directory` (or the source root).
    pub files: Vec<String>,
    /// May hold shell expansions (`$(date +%F)`), resolved at upload time.
    pub name: Option<String>,
    pub discard_paths: bool,
    pub base_directory: Option<String>,
    pub exclude_paths: Vec<String>,
    pub enable_symlinks: bool,
    pub s3_prefix: Option<String>,
    /// Artifact identifier -> artifact.
    pub secondary: Vec<(String, Artifacts)>,
}

const ARTIFACT_KEYS: [&str; 8] = [
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
];

pub(super) fn read_artifacts(
    r: &mut Reader,
    node: &Node,
    path: &KeyPath,
    primary: bool,
) -> Option<Artifacts> {
    if node.is_null() {
        return None;
    }
    let mut f = r.mapping(node, path, "artifacts")?;
    let mut a = Artifacts::default();
    match f.get("files") {
        Some(n) => a.files = r.strings(n, &path.key("files"), "file globs", true),
        // CodeBuild requires `files` even when only secondary artifacts are
        // used; without it the build fails at upload time, so say it now.
        None => r.error(
            node,
            path,
            "missing `files`: CodeBuild requires the list of files to upload (use `'**/*'` for everything)",
        ),
    }
    if let Some(n) = f.get("name") {
        a.name = r.string(n, &path.key("name"), "an artifact name");
    }
    if let Some(n) = f.get("discard-paths") {
        a.discard_paths = r
            .bool(n, &path.key("discard-paths"), "discard-paths")
            .unwrap_or(false);
    }
    if let Some(n) = f.get("base-directory") {
        a.base_directory = r.string(n, &path.key("base-directory"), "a directory");
    }
    if let Some(n) = f.get("exclude-paths") {
        a.exclude_paths = r.strings(n, &path.key("exclude-paths"), "path globs", true);
    }
    if let Some(n) = f.get("enable-symlinks") {
        a.enable_symlinks = r
            .bool(n, &path.key("enable-symlinks"), "enable-symlinks")
            .unwrap_or(false);
    }
    if let Some(n) = f.get("s3-prefix") {
        a.s3_prefix = r.string(n, &path.key("s3-prefix"), "an S3 prefix");
    }
    // `type: zip` comes from early CodeBuild samples; CodeBuild ignores it
    // (the packaging is the project's setting), so it is tolerated.
    let _ = f.get("type");
    let known: &[&str] = if primary {
        &ARTIFACT_KEYS
    } else {
        &ARTIFACT_KEYS[..7]
    };
    if primary {
        if let Some(n) = f.get("secondary-artifacts") {
            let p = path.key("secondary-artifacts");
            if let Some(mut s) = r.mapping(n, &p, "secondary-artifacts") {
                for e in s.rest() {
                    let Some(id) = e.key.text() else { continue };
                    if let Some(art) = read_artifacts(r, &e.value, &p.key(id), false) {
                        a.secondary.push((id.to_string(), art));
                    }
                }
            }
        }
    }
    r.unknown_keys(&mut f, known, "artifacts");
    Some(a)
}

/// A report group: test or coverage results CodeBuild collects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportGroup {
    /// A report group name or ARN.
    pub name: String,
    pub files: Vec<String>,
    pub base_directory: Option<String>,
    pub discard_paths: bool,
    /// JUNITXML when unspecified.
    pub file_format: String,
}

const REPORT_FORMATS: [&str; 10] = [
    "JUNITXML",
    "CUCUMBERJSON",
    "TESTNGXML",
    "VISUALSTUDIOTRX",
    "NUNITXML",
    "NUNIT3XML",
    "CLOVERXML",
    "COBERTURAXML",
    "JACOCOXML",
    "SIMPLECOV",
];

pub(super) fn read_reports(r: &mut Reader, node: &Node, path: &KeyPath) -> Vec<ReportGroup> {
    let Some(mut f) = r.mapping(node, path, "reports") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in f.rest() {
        let Some(name) = e.key.text() else { continue };
        let p = path.key(name);
        let Some(mut g) = r.mapping(&e.value, &p, "a report group") else {
            continue;
        };
        let mut group = ReportGroup {
            name: name.to_string(),
            files: Vec::new(),
            base_directory: None,
            discard_paths: false,
            file_format: "JUNITXML".to_string(),
        };
        match g.get("files") {
            Some(n) => group.files = r.strings(n, &p.key("files"), "file globs", true),
            None => r.error(
                &e.value,
                &p,
                "missing `files`: a report group needs the report files to read",
            ),
        }
        if let Some(n) = g.get("base-directory") {
            group.base_directory = r.string(n, &p.key("base-directory"), "a directory");
        }
        if let Some(n) = g.get("discard-paths") {
            group.discard_paths = r
                .bool(n, &p.key("discard-paths"), "discard-paths")
                .unwrap_or(false);
        }
        if let Some(n) = g.get("file-format") {
            // CodeBuild matches the format case-insensitively: AWS's own
            // templates write `VisualStudioTrx`.
            let fp = p.key("file-format");
            if let Some(v) = r.string(n, &fp, "a report file format") {
                let upper = v.to_ascii_uppercase();
                if REPORT_FORMATS.contains(&upper.as_str()) {
                    group.file_format = upper;
                } else {
                    r.choice(n, &fp, &REPORT_FORMATS, "report file format");
                }
            }
        }
        r.unknown_keys(
            &mut g,
            &["files", "base-directory", "discard-paths", "file-format"],
            "a report group",
        );
        out.push(group);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheAction {
    Restore,
    Save,
    /// Restore before the build and save after it (the default).
    RestoreAndSave,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cache {
    /// Must match exactly to restore.
    pub key: Option<String>,
    /// Tried in order as prefixes when `key` misses; CodeBuild allows 5.
    pub fallback_keys: Vec<String>,
    pub action: CacheAction,
    pub paths: Vec<String>,
}

pub(super) fn read_cache(r: &mut Reader, node: &Node, path: &KeyPath) -> Option<Cache> {
    let mut f = r.mapping(node, path, "cache")?;
    let mut c = Cache {
        key: None,
        fallback_keys: Vec::new(),
        action: CacheAction::RestoreAndSave,
        paths: Vec::new(),
    };
    if let Some(n) = f.get("key") {
        c.key = r.string(n, &path.key("key"), "a cache key");
    }
    if let Some(n) = f.get("fallback-keys") {
        let p = path.key("fallback-keys");
        c.fallback_keys = r.strings(n, &p, "cache keys", true);
        if c.fallback_keys.len() > 5 {
            r.error(
                n,
                &p,
                format!(
                    "{} fallback keys given; CodeBuild allows at most 5",
                    c.fallback_keys.len()
                ),
            );
        }
    }
    if let Some(n) = f.get("action") {
        c.action = match r
            .choice(n, &path.key("action"), &["restore", "save"], "cache action")
            .as_deref()
        {
            Some("restore") => CacheAction::Restore,
            Some("save") => CacheAction::Save,
            _ => CacheAction::RestoreAndSave,
        };
    }
    if let Some(n) = f.get("paths") {
        c.paths = r.strings(n, &path.key("paths"), "paths", true);
    }
    r.unknown_keys(
        &mut f,
        &["key", "fallback-keys", "action", "paths"],
        "cache",
    );
    Some(c)
}
