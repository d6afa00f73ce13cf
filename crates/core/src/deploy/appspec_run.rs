//! Installing a revision into a local instance the way the CodeDeploy agent
//! installs one on a host: the artifact's `appspec.yml` (or `.yaml`,
//! `.json`) says which files go where and which hooks run; without one, the
//! artifact itself is the app directory.
//!
//! This module owns reading a revision's appspec ([`Revision`]), the
//! `Install` step ([`install_files`]: `files` re-rooted inside the instance,
//! `file_exists_behavior`, `permissions` modes) and running lifecycle hooks
//! ([`hooks`]). It must never write outside the instance directory (absolute
//! destinations are re-rooted under `<instance>/root`, `..` is refused),
//! choose the lifecycle order (the orchestrator passes it from
//! `spec::appspec::lifecycle`), start the service or touch the router.

pub mod hooks;

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::spec::appspec::{self, Appspec, FileExistsBehavior, FileMapping, Permission};
use crate::spec::SpecError;

pub use hooks::{run_event, run_events, EventOutcome, EventStatus, HookContext};

/// The names the CodeDeploy agent looks for at the revision's root, in the
/// order it tries them.
pub const APPSPEC_NAMES: [&str; 3] = ["appspec.yml", "appspec.yaml", "appspec.json"];

/// Where re-rooted destinations go inside an instance: `/var/www/app`
/// becomes `<instance>/root/var/www/app`.
pub fn install_root(instance_dir: &Path) -> PathBuf {
    instance_dir.join("root")
}

/// The list of files the last install wrote, which the next install removes
/// first (the agent's clean-up file), so a redeployment never trips over
/// its own predecessor's files.
const INSTALLED_LIST: &str = "installed-files.txt";

#[derive(Debug, thiserror::Error)]
pub enum AppspecRunError {
    #[error("{file} is not a valid appspec:\n{}", join(errors))]
    InvalidAppspec {
        file: PathBuf,
        errors: Vec<SpecError>,
    },
    #[error("{file} is an {platform} appspec; the local provider installs EC2/on-premises (server) appspecs only")]
    WrongPlatform { file: PathBuf, platform: String },
    #[error("destination `{destination}` leaves the instance directory (`..` or a relative path); write an absolute path without `..`")]
    DestinationEscapes { destination: String },
    #[error("source `{source_path}` is not in the revision (or leaves it with `..`); fix `files` in the appspec")]
    MissingSource { source_path: String },
    #[error("{path} already exists and file_exists_behavior is DISALLOW; set OVERWRITE or RETAIN in the appspec, or remove the file")]
    FileExists { path: PathBuf },
    #[error("{path} is a file where the appspec needs a directory")]
    NotADirectory { path: PathBuf },
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn join(errors: &[SpecError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> AppspecRunError {
    let path = path.to_path_buf();
    move |source| AppspecRunError::Io {
        action,
        path,
        source,
    }
}

/// A revision unpacked in a directory, with its appspec if it has one.
#[derive(Debug, Clone)]
pub struct Revision {
    pub root: PathBuf,
    pub appspec: Option<Appspec>,
}

impl Revision {
    /// Reads the appspec at `root`, if any. Only server appspecs are
    /// accepted: ECS and Lambda ones describe services Slipway does not run.
    pub fn open(root: &Path) -> Result<Revision, AppspecRunError> {
        let Some(file) = APPSPEC_NAMES
            .iter()
            .map(|n| root.join(n))
            .find(|p| p.is_file())
        else {
            return Ok(Revision {
                root: root.to_path_buf(),
                appspec: None,
            });
        };
        let text = std::fs::read_to_string(&file).map_err(io_err("read", &file))?;
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let spec =
            appspec::parse(&text, &name).map_err(|errors| AppspecRunError::InvalidAppspec {
                file: file.clone(),
                errors,
            })?;
        if !matches!(spec, Appspec::Server { .. }) {
            let platform = format!("{:?}", spec.platform()).to_lowercase();
            return Err(AppspecRunError::WrongPlatform { file, platform });
        }
        Ok(Revision {
            root: root.to_path_buf(),
            appspec: Some(spec),
        })
    }

    /// The scripts the appspec attaches to `event`, in file order.
    pub fn hooks_for(&self, event: &str) -> &[appspec::HookScript] {
        match &self.appspec {
            Some(Appspec::Server { hooks, .. }) => hooks
                .iter()
                .find(|(name, _)| name == event)
                .map_or(&[], |(_, scripts)| scripts.as_slice()),
            _ => &[],
        }
    }
}

/// What an install did, for the deployment's log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallReport {
    /// Files written, absolute.
    pub installed: Vec<PathBuf>,
    /// Existing files left alone (RETAIN).
    pub retained: Vec<PathBuf>,
    /// Things the appspec asked for that a desktop cannot honour.
    pub notes: Vec<String>,
}

/// Maps an appspec destination into the instance: absolute paths are
/// re-rooted under [`install_root`]; `..` and relative paths are refused.
pub fn reroot(instance_dir: &Path, destination: &str) -> Result<PathBuf, AppspecRunError> {
    let escapes = || AppspecRunError::DestinationEscapes {
        destination: destination.to_string(),
    };
    // Windows appspecs write `C:\inetpub\...`; the drive becomes a folder.
    let normalized = destination.replace('\\', "/");
    let (drive, rest) = match normalized.split_once(":/") {
        Some((d, r)) if d.len() == 1 => (Some(d.to_ascii_lowercase()), format!("/{r}")),
        _ => (None, normalized.clone()),
    };
    if !rest.starts_with('/') {
        return Err(escapes());
    }
    let mut out = install_root(instance_dir);
    if let Some(d) = drive {
        out.push(d);
    }
    for c in Path::new(&rest).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    Ok(out)
}

/// The `Install` event: removes what the previous install wrote, then
/// copies each `files` mapping into the instance. Conflicts are checked
/// before anything is written, so a DISALLOW failure leaves the instance as
/// it was after the clean-up. A revision without an appspec installs
/// nothing here: it runs from its own directory.
pub fn install_files(
    revision: &Revision,
    instance_dir: &Path,
) -> Result<InstallReport, AppspecRunError> {
    let mut report = InstallReport::default();
    let Some(Appspec::Server {
        files,
        permissions,
        file_exists_behavior,
        ..
    }) = &revision.appspec
    else {
        return Ok(report);
    };
    remove_previous_install(instance_dir)?;
    let mut plan: Vec<(PathBuf, PathBuf)> = Vec::new();
    for mapping in files {
        plan_mapping(&revision.root, instance_dir, mapping, &mut plan)?;
    }
    let mut to_copy = Vec::new();
    for (from, to) in plan {
        if std::fs::symlink_metadata(&to).is_ok() {
            match file_exists_behavior {
                FileExistsBehavior::Disallow => {
                    return Err(AppspecRunError::FileExists { path: to })
                }
                FileExistsBehavior::Retain => {
                    report.retained.push(to);
                    continue;
                }
                FileExistsBehavior::Overwrite => {}
            }
        }
        to_copy.push((from, to));
    }
    for (from, to) in to_copy {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| match e.kind() {
                io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => {
                    AppspecRunError::NotADirectory {
                        path: parent.to_path_buf(),
                    }
                }
                _ => io_err("create", parent)(e),
            })?;
        }
        if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
            return Err(AppspecRunError::FileExists { path: to });
        }
        // Replace rather than write through: the old file may be a symlink
        // pointing outside the instance.
        let _ = std::fs::remove_file(&to);
        std::fs::copy(&from, &to).map_err(io_err("copy to", &to))?;
        report.installed.push(to);
    }
    let list: String = report
        .installed
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    let list_path = instance_dir.join(INSTALLED_LIST);
    std::fs::write(&list_path, list).map_err(io_err("write", &list_path))?;
    for p in permissions {
        apply_permission(instance_dir, p, &mut report)?;
    }
    Ok(report)
}

fn remove_previous_install(instance_dir: &Path) -> Result<(), AppspecRunError> {
    let list_path = instance_dir.join(INSTALLED_LIST);
    let Ok(list) = std::fs::read_to_string(&list_path) else {
        return Ok(());
    };
    let root = install_root(instance_dir);
    for line in list.lines().filter(|l| !l.is_empty()) {
        let path = PathBuf::from(line);
        // The list is ours, but a file under the data dir can be edited:
        // never delete outside the install root.
        if path.starts_with(&root) && !path.components().any(|c| c == Component::ParentDir) {
            let _ = std::fs::remove_file(&path);
        }
    }
    std::fs::remove_file(&list_path).map_err(io_err("remove", &list_path))
}

/// Adds (revision file, instance file) pairs for one mapping: a directory
/// source copies its contents into the destination, a file source goes into
/// the destination directory under its own name, as the agent does.
fn plan_mapping(
    revision_root: &Path,
    instance_dir: &Path,
    mapping: &FileMapping,
    plan: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), AppspecRunError> {
    let missing = || AppspecRunError::MissingSource {
        source_path: mapping.source.clone(),
    };
    let mut source = revision_root.to_path_buf();
    for c in Path::new(&mapping.source.replace('\\', "/")).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => source.push(part),
            _ => return Err(missing()),
        }
    }
    let dest = reroot(instance_dir, &mapping.destination)?;
    let meta = std::fs::symlink_metadata(&source).map_err(|_| missing())?;
    if meta.is_dir() {
        walk(&source, &mut |file| {
            let rel = file.strip_prefix(&source).unwrap_or(file);
            plan.push((file.to_path_buf(), dest.join(rel)));
        })
        .map_err(io_err("read", &source))?;
    } else {
        let name = source.file_name().ok_or_else(missing)?;
        plan.push((source.clone(), dest.join(name)));
    }
    Ok(())
}

/// Calls `f` for every file (not directory) under `dir`, in name order.
/// Symlinked directories are not followed: a revision cannot make the
/// install read outside itself.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let kind = e.file_type()?;
        if kind.is_dir() {
            walk(&path, f)?;
        } else if kind.is_file() {
            f(&path);
        }
    }
    Ok(())
}

fn apply_permission(
    instance_dir: &Path,
    p: &Permission,
    report: &mut InstallReport,
) -> Result<(), AppspecRunError> {
    let object = reroot(instance_dir, &p.object)?;
    if p.owner.is_some() || p.group.is_some() || !p.acls.is_empty() || !p.context.is_empty() {
        report.notes.push(format!(
            "{}: owner, group, ACLs and SELinux context are not applied: the local provider runs as you, without root",
            p.object
        ));
    }
    let Some(mode) = p.mode.as_deref() else {
        return Ok(());
    };
    let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
    let matcher = |patterns: &[&str]| {
        let mut b = globset::GlobSetBuilder::new();
        for pat in patterns {
            if let Ok(g) = globset::Glob::new(pat) {
                b.add(g);
            }
        }
        b.build().unwrap_or_else(|_| globset::GlobSet::empty())
    };
    let include = matcher(&[p.pattern.as_str()]);
    let except: Vec<&str> = p.except.iter().map(String::as_str).collect();
    let except = matcher(&except);
    let wants = |is_dir: bool| {
        p.types
            .iter()
            .any(|t| t == if is_dir { "directory" } else { "file" })
    };
    let Ok(meta) = std::fs::symlink_metadata(&object) else {
        report
            .notes
            .push(format!("{}: not installed, mode not applied", p.object));
        return Ok(());
    };
    let mut targets = Vec::new();
    if meta.is_dir() {
        collect_matching(&object, &mut |path, is_dir| {
            let name = path.file_name().map(Path::new).unwrap_or(path);
            if wants(is_dir) && include.is_match(name) && !except.is_match(name) {
                targets.push(path.to_path_buf());
            }
        })
        .map_err(io_err("read", &object))?;
    } else if wants(false) {
        targets.push(object);
    }
    for t in targets {
        crate::platform::fs::set_mode(&t, mode).map_err(io_err("set the mode of", &t))?;
    }
    Ok(())
}

fn collect_matching(dir: &Path, f: &mut dyn FnMut(&Path, bool)) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let kind = e.file_type()?;
        let path = e.path();
        if kind.is_dir() {
            f(&path, true);
            collect_matching(&path, f)?;
        } else if kind.is_file() {
            f(&path, false);
        }
    }
    Ok(())
}
